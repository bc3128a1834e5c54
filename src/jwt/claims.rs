//! The claims set in one pass of the [`scan`](crate::jwt::scan) scanner, which the caller's
//! extra claims `C` drive.
//!
//! [`parse_claims`] hands `C` a deserializer ([`extra`](crate::jwt::extra)) over a
//! [`ClaimsScan`]: each time `C` asks for the next member, the scanner reads its name, checks it
//! for duplicates (compared after unescaping) and, for a claim the verifier reads (`exp`,
//! `iss`, the ids…), reads and type-checks its value into [`Claims`] at once. Any other value
//! is read only when `C` asks for it, and validated while `C` reads it (or skipped, validated,
//! when `C` ignores it). A `C` that does not read the claims as a map at all
//! ([`NoClaims`](crate::NoClaims)) costs nothing: the scanner then reads the whole set by
//! itself. Nothing is allocated for an ordinary token (the permissions are kept as their JSON
//! text).

use crate::jwt::TokenSpec;
use crate::jwt::extra;
use crate::jwt::json::{Id, MAX_SAFE_INTEGER};
use crate::jwt::scan::{Cursor, JStr, Kind, Malformed, Scan};
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::collections::HashSet;

/// The claims the verifier reads, borrowed from the decoded payload.
#[derive(Default)]
pub(crate) struct Claims<'de> {
    pub(crate) exp: Option<u64>,
    pub(crate) nbf: Option<u64>,
    pub(crate) iat: Option<u64>,
    pub(crate) iss: Option<Cow<'de, str>>,
    /// `Some(true)` if `aud` names a configured audience.
    pub(crate) aud: Option<bool>,
    pub(crate) jti: Option<Cow<'de, str>>,
    pub(crate) player: Option<Id<'de>>,
    pub(crate) session: Option<Id<'de>>,
    pub(crate) tenant: Option<Id<'de>>,
    /// The permissions claim's JSON text (an array of strings).
    pub(crate) permissions: Option<&'de str>,
    /// A permission of [`TokenSpec::require_permission`] is absent.
    pub(crate) missing_permission: bool,
    /// Some claim of [`TokenSpec::require_claim`] is absent.
    pub(crate) missing_required: bool,
}

/// What a claim name means to the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Exp,
    Nbf,
    Iat,
    Iss,
    Aud,
    Jti,
    Player,
    Session,
    Tenant,
    Permissions,
    Other,
}

/// The claim names the verifier reads under a spec, prepared for fast lookup.
#[derive(Debug, Clone)]
pub(crate) struct ClaimNames {
    /// Names of 3 bytes (the registered ones, and ids such as `pid`) as little-endian
    /// integers.
    three: Vec<(u32, Role)>,
    /// The other names.
    long: Vec<(Box<[u8]>, Role)>,
}

/// A 3-byte name as a little-endian integer.
#[inline]
fn three(k: &[u8]) -> u32 {
    u32::from(k[0]) | (u32::from(k[1]) << 8) | (u32::from(k[2]) << 16)
}

impl ClaimNames {
    /// The names `spec` gives a role (the registered ones, ids, tenant, permissions).
    pub(crate) fn new(spec: &TokenSpec) -> Self {
        let mut all: Vec<(&str, Role)> = vec![
            ("exp", Role::Exp),
            ("nbf", Role::Nbf),
            ("iat", Role::Iat),
            ("iss", Role::Iss),
            ("aud", Role::Aud),
            ("jti", Role::Jti),
            (&spec.player_claim, Role::Player),
            (&spec.session_claim, Role::Session),
        ];
        if let Some(t) = &spec.tenant_claim {
            all.push((t, Role::Tenant));
        }
        if let Some(p) = &spec.permissions_claim {
            all.push((p, Role::Permissions));
        }
        let mut names = Self {
            three: Vec::new(),
            long: Vec::new(),
        };
        for (name, role) in all {
            let name = name.as_bytes();
            // The first role given to a name wins (a valid spec gives each name one role).
            if names.role(name) != Role::Other {
                continue;
            }
            if name.len() == 3 {
                names.three.push((three(name), role));
            } else {
                names.long.push((name.into(), role));
            }
        }
        names
    }

    /// What the claim `name` (unescaped) means to the verifier.
    #[inline]
    fn role(&self, name: &[u8]) -> Role {
        if name.len() == 3 {
            let k = three(name);
            for &(n, r) in &self.three {
                if n == k {
                    return r;
                }
            }
        } else {
            for (n, r) in &self.long {
                if n.len() == name.len() && **n == *name {
                    return *r;
                }
            }
        }
        Role::Other
    }
}

/// Names of [`Role::Other`] compared one by one for duplicates; past that, a hash set keeps
/// the check linear.
const OTHERS_INLINE: usize = 8;

/// The names of the members the verifier does not read, for duplicate detection.
struct Others<'de> {
    /// The first ones.
    inline: [Option<JStr<'de>>; OTHERS_INLINE],
    len: usize,
    /// All of them, once there are more than [`OTHERS_INLINE`].
    set: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> Others<'de> {
    fn new() -> Self {
        Self {
            inline: [None; OTHERS_INLINE],
            len: 0,
            set: None,
        }
    }

    /// True if a name equal to `name` was inserted.
    #[inline]
    fn contains(&self, name: JStr<'de>) -> bool {
        match &self.set {
            Some(set) => set.contains(&name.text()),
            None => self.inline[..self.len]
                .iter()
                .flatten()
                .any(|n| same(*n, name)),
        }
    }

    /// Inserts `name`; false if it is a duplicate.
    #[inline]
    fn insert(&mut self, name: JStr<'de>) -> bool {
        if let Some(set) = &mut self.set {
            return set.insert(name.text());
        }
        if self.contains(name) {
            return false;
        }
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = Some(name);
            self.len += 1;
        } else {
            let mut set: HashSet<Cow<'de, str>> =
                self.inline.iter().flatten().map(|n| n.text()).collect();
            set.insert(name.text());
            self.set = Some(set);
        }
        true
    }
}

/// True if two strings have the same value.
#[inline]
fn same(a: JStr<'_>, b: JStr<'_>) -> bool {
    if a.escaped || b.escaped {
        a.text() == b.text()
    } else {
        a.raw == b.raw
    }
}

/// Which of `n` required permissions were found.
struct Found {
    bits: u64,
    /// For more than 64.
    many: Vec<bool>,
}

impl Found {
    fn new(n: usize) -> Self {
        Self {
            bits: 0,
            many: if n > 64 { vec![false; n] } else { Vec::new() },
        }
    }

    fn set(&mut self, k: usize) {
        match self.many.get_mut(k) {
            Some(f) => *f = true,
            None => self.bits |= 1 << k,
        }
    }

    fn all(&self, n: usize) -> bool {
        if n > 64 {
            self.many.iter().all(|&f| f)
        } else {
            self.bits.count_ones() as usize == n
        }
    }
}

/// Reads the value of a claim with `role` into `c` (the cursor is before the value).
#[inline(always)]
fn read_value<'de>(
    cur: &mut Cursor<'de>,
    role: Role,
    spec: &TokenSpec,
    c: &mut Claims<'de>,
) -> Scan<()> {
    match role {
        Role::Other => {
            cur.value(1)?;
        }
        Role::Exp | Role::Nbf | Role::Iat => {
            // A NumericDate: an integer from 0 to 2^53 without sign, fraction or exponent.
            let v = match cur.value(1)? {
                Kind::Num(Some(v)) if v <= MAX_SAFE_INTEGER => v,
                _ => return Err(Malformed),
            };
            *match role {
                Role::Exp => &mut c.exp,
                Role::Nbf => &mut c.nbf,
                _ => &mut c.iat,
            } = Some(v);
        }
        Role::Iss | Role::Jti => {
            let Kind::Str(s) = cur.value(1)? else {
                return Err(Malformed);
            };
            *if role == Role::Iss {
                &mut c.iss
            } else {
                &mut c.jti
            } = Some(s.text());
        }
        Role::Player | Role::Session | Role::Tenant => {
            let id = match cur.value(1)? {
                Kind::Str(s) => Id::text(s.text())?,
                Kind::Num(Some(n)) => Id::Number(n),
                _ => return Err(Malformed),
            };
            *match role {
                Role::Player => &mut c.player,
                Role::Session => &mut c.session,
                _ => &mut c.tenant,
            } = Some(id);
        }
        Role::Aud => {
            // A string or an array of strings; found if one of them is a configured audience.
            let listed = |s: JStr<'_>| {
                let s = s.text();
                spec.audiences.iter().any(|a| *a == s)
            };
            let mut found = false;
            if cur.eat(b'[') {
                if !cur.eat(b']') {
                    loop {
                        found |= listed(cur.string()?);
                        if !cur.comma_or(b']')? {
                            break;
                        }
                    }
                }
            } else if let Kind::Str(s) = cur.value(1)? {
                found = listed(s);
            } else {
                return Err(Malformed);
            }
            c.aud = Some(found);
        }
        Role::Permissions => {
            // An array of strings, kept as its JSON text; the required ones are looked up.
            cur.ws_peek();
            let start = cur.pos();
            if !cur.eat(b'[') {
                return Err(Malformed);
            }
            let required = &spec.required_permissions;
            let mut found = Found::new(required.len());
            if !cur.eat(b']') {
                loop {
                    let p = cur.string()?;
                    if !required.is_empty() {
                        let p = p.text();
                        for (k, r) in required.iter().enumerate() {
                            if *r == p {
                                found.set(k);
                            }
                        }
                    }
                    if !cur.comma_or(b']')? {
                        break;
                    }
                }
            }
            c.permissions = Some(cur.since(start));
            c.missing_permission = !found.all(required.len());
        }
    }
    Ok(())
}

/// Where a [`ClaimsScan`] is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the object.
    Start,
    /// After a member (or its name, when its value is left to the caller).
    Member,
    /// After the object: all rules of the claims set checked.
    Done,
}

/// A member name read by [`ClaimsScan::next_member`].
#[derive(Clone, Copy)]
pub(crate) struct Name<'de> {
    pub(crate) name: JStr<'de>,
    /// The value's JSON text when the verifier has read it already (a claim it reads);
    /// `None` when the value is next at the cursor, for the caller to read or skip.
    pub(crate) value: Option<&'de str>,
}

/// The claims object being scanned under a spec.
pub(crate) struct ClaimsScan<'de, 'a> {
    /// The scanner, inside the object.
    pub(crate) cur: Cursor<'de>,
    spec: &'a TokenSpec,
    names: &'a ClaimNames,
    claims: Claims<'de>,
    /// One bit per role other than `Other`: duplicates of the claims the verifier reads.
    seen: u16,
    others: Others<'de>,
    at: At,
}

impl<'de, 'a> ClaimsScan<'de, 'a> {
    /// A scan of `json` under `spec`, whose names are `names`.
    pub(crate) fn new(json: &'de str, spec: &'a TokenSpec, names: &'a ClaimNames) -> Self {
        Self {
            cur: Cursor::new(json),
            spec,
            names,
            claims: Claims::default(),
            seen: 0,
            others: Others::new(),
            at: At::Start,
        }
    }

    /// True once the whole object has been read and checked.
    pub(crate) fn done(&self) -> bool {
        self.at == At::Done
    }

    /// Reads the next member's name, and its value when the verifier reads that claim;
    /// `None` after the last member (the object is then checked to its end). The previous
    /// member's value must have been read.
    #[inline(always)]
    pub(crate) fn next_member(&mut self) -> Scan<Option<Name<'de>>> {
        let cur = &mut self.cur;
        let more = match self.at {
            At::Start => {
                cur.expect(b'{')?;
                !cur.eat(b'}')
            }
            At::Member => cur.comma_or(b'}')?,
            At::Done => return Ok(None),
        };
        if !more {
            self.finish_object()?;
            return Ok(None);
        }
        self.at = At::Member;
        let name = cur.string()?;
        cur.expect(b':')?;
        let role = self.names.role(name.text().as_bytes());
        if role == Role::Other {
            if !self.others.insert(name) {
                return Err(Malformed);
            }
            return Ok(Some(Name { name, value: None }));
        }
        let bit = 1u16 << role as u16;
        if self.seen & bit != 0 {
            return Err(Malformed);
        }
        self.seen |= bit;
        cur.ws_peek();
        let start = cur.pos();
        read_value(cur, role, self.spec, &mut self.claims)?;
        Ok(Some(Name {
            name,
            value: Some(cur.since(start)),
        }))
    }

    /// Skips (and validates) the value of a member the verifier does not read.
    #[inline]
    pub(crate) fn skip_value(&mut self) -> Scan<()> {
        self.cur.value(1).map(|_| ())
    }

    /// Reads (and checks) the rest of the object.
    pub(crate) fn finish(&mut self) -> Scan<()> {
        while let Some(m) = self.next_member()? {
            if m.value.is_none() {
                self.skip_value()?;
            }
        }
        Ok(())
    }

    /// After the object's `}`: nothing else may follow; the rules that need every member.
    fn finish_object(&mut self) -> Scan<()> {
        self.cur.end()?;
        self.at = At::Done;
        let spec = self.spec;
        let c = &mut self.claims;
        if c.permissions.is_none() {
            c.missing_permission = !spec.required_permissions.is_empty();
        }
        c.missing_required = spec.required_claims.iter().any(|r| {
            let present = match self.names.role(r.as_bytes()) {
                Role::Other => self.others.contains(JStr {
                    raw: r,
                    escaped: false,
                }),
                role => self.seen & (1u16 << role as u16) != 0,
            };
            !present
        });
        Ok(())
    }

    /// The claims read, once [`ClaimsScan::done`].
    pub(crate) fn claims(&self) -> &Claims<'de> {
        &self.claims
    }
}

/// Reads the claims set of `scan` and the caller's claims `C` (see the module docs); the
/// verifier's claims are then in [`ClaimsScan::claims`]. The JSON must be one object
/// (whitespace around it allowed).
pub(crate) fn parse_claims<C: DeserializeOwned>(scan: &mut ClaimsScan<'_, '_>) -> Scan<C> {
    let poison = extra::Poison::new(false);
    let c = extra::deserialize::<C>(scan, &poison).map_err(|_| Malformed)?;
    if poison.get() {
        return Err(Malformed);
    }
    if !scan.done() {
        // `C` did not read the claims as a map: the verifier reads them alone.
        scan.finish()?;
    }
    Ok(c)
}

/// Scans the claims set under `spec` for the verifier alone.
#[cfg(test)]
pub(crate) fn scan_claims<'de>(
    json: &'de str,
    spec: &TokenSpec,
    names: &ClaimNames,
) -> Scan<Claims<'de>> {
    let mut scan = ClaimsScan::new(json, spec, names);
    scan.finish()?;
    Ok(scan.claims)
}

/// The strings of a JSON array of strings that the scanner has validated (a permissions
/// claim's text).
pub(crate) fn string_list(json: &str) -> Vec<String> {
    let mut cur = Cursor::new(json);
    let mut out = Vec::new();
    if cur.expect(b'[').is_ok() && !cur.eat(b']') {
        while let Ok(s) = cur.string() {
            out.push(s.text().into_owned());
            if cur.comma_or(b']') != Ok(true) {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
