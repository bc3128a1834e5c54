//! Verification: compact JWS → verified claims, with every rule of DESIGN §5.
//!
//! The rules and their order are documented on [`Verifier`].

use crate::jwt::claims::{self, ClaimNames, ClaimsScan};
use crate::jwt::json::{self, Id, MaybeText};
use crate::jwt::keys::Key;
use crate::jwt::{Algorithm, Keys, LOGIN_TOKEN_TYPE, RESULT_TOKEN_TYPE, TokenSpec, base64url};
use crate::{AuthError, ConfigError};
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::OnceLock;

/// Extra claims type for callers that want none (deserialises from anything, keeps nothing).
pub type NoClaims = serde::de::IgnoredAny;

/// A byte range in [`Verified`]'s text.
type Span = (u32, u32);

/// A login token that verified: the ids the server needs plus the caller's extra claims `C`.
///
/// Owns everything, so it can outlive the token: one allocation holds the ids, `jti`, `kid`
/// and the permissions claim's JSON text; [`Verified::permissions`] makes its strings on first
/// use (so a caller that never asks allocates nothing more).
#[derive(Clone)]
pub struct Verified<C> {
    /// player, session, tenant, jti, kid and the permissions JSON, one after the other.
    text: Box<str>,
    player: Span,
    session: Span,
    tenant: Option<Span>,
    jti: Option<Span>,
    kid: Option<Span>,
    /// The permissions claim's JSON text (validated), made into `permissions` on first use.
    permissions_json: Option<Span>,
    permissions: OnceLock<Vec<String>>,
    exp: u64,
    iat: Option<u64>,
    claims: C,
}

impl<C> Verified<C> {
    fn span(&self, (a, b): Span) -> &str {
        &self.text[a as usize..b as usize]
    }

    /// The player id (a JSON string, or a non-negative integer as decimal text).
    pub fn player(&self) -> &str {
        self.span(self.player)
    }
    /// The session id (string or integer, as text).
    pub fn session(&self) -> &str {
        self.span(self.session)
    }
    /// The tenant, when a tenant claim is configured.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.map(|s| self.span(s))
    }
    /// The permissions, when a permissions claim is configured.
    ///
    /// Kept as the claim's JSON text until first asked for: the strings are made (and
    /// allocated) by the first call.
    pub fn permissions(&self) -> &[String] {
        self.permissions
            .get_or_init(|| match self.permissions_json {
                // The scanner validated the text as an array of strings.
                Some(s) => claims::string_list(self.span(s)),
                None => Vec::new(),
            })
    }

    /// `exp`, seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.exp
    }
    /// `iat`, when present.
    pub fn issued_at(&self) -> Option<u64> {
        self.iat
    }
    /// `jti`, when present.
    pub fn token_id(&self) -> Option<&str> {
        self.jti.map(|s| self.span(s))
    }
    /// The header `kid`, when present.
    pub fn key_id(&self) -> Option<&str> {
        self.kid.map(|s| self.span(s))
    }
    /// The caller's extra claims.
    pub fn claims(&self) -> &C {
        &self.claims
    }
    /// Takes the extra claims.
    pub fn into_claims(self) -> C {
        self.claims
    }
}

impl<C: fmt::Debug> fmt::Debug for Verified<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("player", &self.player())
            .field("session", &self.session())
            .field("tenant", &self.tenant())
            .field("permissions", &self.permissions())
            .field("expires_at", &self.exp)
            .field("issued_at", &self.iat)
            .field("token_id", &self.token_id())
            .field("key_id", &self.key_id())
            .field("claims", &self.claims)
            .finish()
    }
}

/// Verifies login tokens against a key set and a spec. Cheap to share (`Send + Sync`).
///
/// # Order of the checks
///
/// Cheap checks run first, so a flood of garbage costs little, and the signature is checked
/// last, after every other rule. The caller's extra claims `C` are read in the same pass over
/// the claims JSON as the verifier's claims (step 8). A token that breaks several rules gets
/// the error of the first one in this list:
///
/// 1. length ≤ `max_token_bytes` → [`AuthError::TokenTooLarge`] (nothing decoded yet);
/// 2. exactly three non-empty `.`-separated segments → [`AuthError::TokenMalformed`];
/// 3. header: strict base64url, UTF-8, nesting at most 127 deep, one JSON object without
///    duplicate members, no `crit` (even empty), no `b64` other than `true`, `kid` a string →
///    `TokenMalformed`; `jku`, `x5u`, `jwk`, `x5c` are ignored, never followed;
/// 4. `typ`: a login verifier accepts no `typ` or `JWT`, a result verifier only
///    [`RESULT_TOKEN_TYPE`] (both ASCII case-insensitive) → [`AuthError::WrongTokenType`];
/// 5. `alg` a string naming `EdDSA` or `HS256` exactly (so `none`, `None`, `RS256`, a missing or
///    non-string `alg`…) → [`AuthError::InvalidAlgorithm`];
/// 6. key selection by `kid` → [`AuthError::UnknownKey`]; then `alg` must equal the key's
///    algorithm → `InvalidAlgorithm`;
/// 7. signature segment: strict base64url → `TokenMalformed`; exactly 64 (EdDSA) or 32 (HS256)
///    bytes → [`AuthError::SignatureInvalid`];
/// 8. payload: strict base64url, UTF-8, strict JSON (RFC 8259: no raw control characters in
///    strings, valid escapes, UTF-16 surrogates paired, the number grammar), nesting at most
///    127 deep, serde_json's limit (counted by a scanner that never recurses, so a
///    nested-array bomb costs no stack), one JSON object without duplicate
///    claims (compared after unescaping); `exp`, `nbf`, `iat` integers in 0..=2^53 without
///    fraction or exponent (`1.5` and `1.0` are refused);
///    `iss`, `jti` strings; `aud` a string or array of strings; ids a non-empty string of at
///    most 256 bytes or a non-negative integer; permissions an array of strings; the extra
///    claims `C` deserialise (a wrong type, or a field that `C` requires is absent) →
///    `TokenMalformed` (for [`AuthError::MissingClaim`] instead, make the field an `Option`
///    and name it in [`TokenSpec::require_claim`]);
/// 9. `exp` absent → [`AuthError::MissingClaim`]; `now > exp + leeway` →
///    [`AuthError::TokenExpired`]; `now + leeway < nbf` or `iat > now + leeway` →
///    [`AuthError::TokenNotYetValid`]; with a maximum lifetime, `iat` absent or
///    `exp - iat > max` → [`AuthError::LifetimeExceeded`];
/// 10. issuers configured and `iss` absent or not listed → [`AuthError::InvalidIssuer`];
///     audiences configured and `aud` absent or naming none → [`AuthError::InvalidAudience`];
/// 11. player, session, tenant (when configured) or a required claim absent → `MissingClaim`;
///     a required permission absent → [`AuthError::InsufficientPermissions`];
/// 12. the signature (ring; HMAC compared in constant time) → `SignatureInvalid`.
///
/// A header whose bytes equal one of the usual encodings for a configured key
/// (`{"alg","typ","kid"}` in any order, with or without `typ`/`kid` where allowed) is
/// recognised without decoding: the table is built by running the full header check on each
/// candidate, so both paths give the same answer. Such a token is also split without searching
/// for its dots (the signature's length is known from the key); any token that does not fit
/// that shape, or fails before its payload decodes, takes the general path, which gives the
/// exact error.
///
/// [`RESULT_TOKEN_TYPE`]: crate::jwt::RESULT_TOKEN_TYPE
pub struct Verifier<C = NoClaims> {
    keys: Keys,
    spec: TokenSpec,
    /// Result tokens instead of login tokens.
    results: bool,
    leeway: u64,
    max_lifetime: Option<u64>,
    /// The claim names of `spec`, prepared for lookup.
    names: ClaimNames,
    /// Known header segments (base64url) and what they mean.
    pub(super) headers: Vec<(Box<[u8]>, HeaderInfo)>,
    _c: std::marker::PhantomData<fn() -> C>,
}

impl<C> fmt::Debug for Verifier<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys)
            .field("spec", &self.spec)
            .field("results", &self.results)
            .finish()
    }
}

/// Why [`Verifier::verify_fast`] did not verify a token.
enum Fast {
    /// The token broke a rule after its three segments were known: the exact error.
    Final(AuthError),
    /// The token does not have the usual shape, or failed before its segments were known.
    Retry,
}

/// The outcome of the header checks.
#[derive(Clone, Copy)]
pub(super) struct HeaderInfo {
    key: usize,
    /// The header named the key's `kid`.
    has_kid: bool,
}

impl<C: DeserializeOwned> Verifier<C> {
    /// A verifier for login tokens.
    ///
    /// # Errors
    /// A [`ConfigError`] if `keys` is empty or the spec is inconsistent
    /// (see [`TokenSpec::validate`]).
    pub fn new(keys: Keys, spec: TokenSpec) -> Result<Self, ConfigError> {
        Self::build(keys, spec, false)
    }

    /// A verifier for result tokens (header `typ` = [`RESULT_TOKEN_TYPE`](crate::jwt::RESULT_TOKEN_TYPE)
    /// required instead of refused).
    ///
    /// # Errors
    /// As [`Verifier::new`].
    pub fn for_results(keys: Keys, spec: TokenSpec) -> Result<Self, ConfigError> {
        Self::build(keys, spec, true)
    }

    fn build(keys: Keys, spec: TokenSpec, results: bool) -> Result<Self, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::new("keys", "at least one key is required"));
        }
        spec.validate()?;
        let mut v = Self {
            leeway: spec.leeway.as_secs(),
            max_lifetime: spec.max_lifetime.map(|d| d.as_secs()),
            names: ClaimNames::new(&spec),
            keys,
            spec,
            results,
            headers: Vec::new(),
            _c: std::marker::PhantomData,
        };
        v.headers = v.known_headers();
        Ok(v)
    }

    /// The header `typ` this verifier requires (login tokens may also omit it).
    fn token_type(&self) -> &'static str {
        if self.results {
            RESULT_TOKEN_TYPE
        } else {
            LOGIN_TOKEN_TYPE
        }
    }

    /// The header encodings recognised without decoding: every order of `alg`, `typ` and `kid`
    /// (each present or not) for the first few keys, kept when the full check accepts them.
    fn known_headers(&self) -> Vec<(Box<[u8]>, HeaderInfo)> {
        const FAST_KEYS: usize = 4;
        let typ = format!(r#""typ":{}"#, serde_json::Value::from(self.token_type()));
        let mut out = Vec::new();
        for key in self.keys.entries().iter().take(FAST_KEYS) {
            let alg = format!(r#""alg":"{}""#, key.algorithm().as_str());
            let kid = key
                .kid
                .as_deref()
                .map(|k| format!(r#""kid":{}"#, serde_json::Value::from(k)));
            let mut members = vec![alg, typ.clone()];
            members.extend(kid);
            // All subsets that contain `alg`, in every order.
            let n = members.len();
            for mask in 0..(1u32 << n) {
                if mask & 1 == 0 {
                    continue;
                }
                let chosen: Vec<&str> = (0..n)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| members[i].as_str())
                    .collect();
                for order in permutations(&chosen) {
                    let json = format!("{{{}}}", order.join(","));
                    if let Ok(info) = self.check_header(json.as_bytes()) {
                        let seg = base64url::encode(json.as_bytes()).into_bytes();
                        out.push((seg.into_boxed_slice(), info));
                    }
                }
            }
        }
        out
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch).
    ///
    /// # Errors
    /// The [`AuthError`] of the first rule the token breaks (see [`Verifier`] for the rules and their order).
    pub fn verify(&self, token: &str, now: u64) -> Result<Verified<C>, AuthError> {
        if token.len() > self.spec.max_token_bytes {
            return Err(AuthError::TokenTooLarge);
        }
        match self.verify_fast(token, now) {
            Ok(v) => Ok(v),
            Err(Fast::Final(e)) => Err(e),
            Err(Fast::Retry) => self.verify_exact(token, now),
        }
    }

    /// The usual token without searching for its dots: a known header encoding, then a `.`
    /// where the key's signature length puts the last one. [`Fast::Retry`] if the token does
    /// not have that shape or fails before its payload is decoded; [`Verifier::verify_exact`]
    /// then gives the exact error. Once the payload decodes it has no `.` (strict base64url),
    /// so the token has exactly these three segments, and the result is the exact one.
    #[inline]
    fn verify_fast(&self, token: &str, now: u64) -> Result<Verified<C>, Fast> {
        let t = token.as_bytes();
        let (h_len, info) = self
            .headers
            .iter()
            .find_map(|(seg, info)| {
                (t.get(seg.len()) == Some(&b'.') && t.starts_with(seg))
                    .then_some((seg.len(), *info))
            })
            .ok_or(Fast::Retry)?;
        let key = &self.keys.entries()[info.key];
        let sig_len = key.algorithm().signature_len();
        let dot = t
            .len()
            .checked_sub(base64url::encoded_len(sig_len) + 1)
            .ok_or(Fast::Retry)?;
        if dot <= h_len + 1 || t[dot] != b'.' {
            return Err(Fast::Retry);
        }
        let mut sig = [0u8; 64];
        base64url::decode_into(&t[dot + 1..], &mut sig).map_err(|_| Fast::Retry)?;
        decoded::<512, _, _>(&t[h_len + 1..dot], Fast::Retry, |payload| {
            self.finish(payload, now, key, info, &t[..dot], &sig[..sig_len])
                .map_err(Fast::Final)
        })
    }

    /// [`Verifier::verify`] for any token: the segments split at the first two dots, every
    /// rule in order.
    fn verify_exact(&self, token: &str, now: u64) -> Result<Verified<C>, AuthError> {
        let jws = self.jws_layer(token)?;
        let key = &self.keys.entries()[jws.info.key];
        decoded::<512, _, _>(jws.payload, AuthError::TokenMalformed, |payload| {
            self.finish(
                payload,
                now,
                key,
                jws.info,
                jws.signing_input,
                jws.signature(),
            )
        })
    }

    /// Steps 2–7 for any token: segments split at the first two dots, the header checked
    /// (or recognised), the key selected, the signature decoded to its exact length.
    fn jws_layer<'t>(&self, token: &'t str) -> Result<Jws<'t>, AuthError> {
        let (h, p, s) = split(token)?;
        let info = match self.headers.iter().find(|(seg, _)| **seg == *h) {
            Some((_, info)) => *info,
            None => decoded::<256, _, _>(h, AuthError::TokenMalformed, |header| {
                self.check_header(header)
            })?,
        };
        let sig_len = self.keys.entries()[info.key].algorithm().signature_len();
        if base64url::decoded_len(s.len()) != Some(sig_len) {
            return Err(if base64url::is_valid(s) {
                AuthError::SignatureInvalid
            } else {
                AuthError::TokenMalformed
            });
        }
        let mut sig = [0u8; 64];
        base64url::decode_into(s, &mut sig).map_err(|_| AuthError::TokenMalformed)?;
        Ok(Jws {
            info,
            signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
            payload: p,
            sig,
            sig_len,
        })
    }

    /// Checks only the JWS layer — size, segments, strict base64url, the header rules
    /// (`typ`, `alg`, `kid`, `crit`, `b64`) and the signature — and returns the decoded
    /// payload, which need not be JSON. No claim is read, so no time, issuer or id rule
    /// applies: use [`Verifier::verify`] to admit a player. This is the check for signed
    /// documents that are not login tokens (e.g. the RFC 7515 A.1 and RFC 8037 A.4 examples).
    ///
    /// # Errors
    /// The [`AuthError`] of the first JWS rule the token breaks.
    pub fn verify_signature(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        if token.len() > self.spec.max_token_bytes {
            return Err(AuthError::TokenTooLarge);
        }
        let jws = self.jws_layer(token)?;
        let payload = base64url::decode(jws.payload).map_err(|_| AuthError::TokenMalformed)?;
        let key = &self.keys.entries()[jws.info.key];
        key.verify(jws.signing_input, jws.signature())?;
        Ok(payload)
    }

    /// The spec this verifier enforces.
    pub fn spec(&self) -> &TokenSpec {
        &self.spec
    }

    /// The keys this verifier uses.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// True for a verifier made by [`Verifier::for_results`].
    pub fn is_for_results(&self) -> bool {
        self.results
    }

    /// Steps 3–6: the decoded header.
    fn check_header(&self, header: &[u8]) -> Result<HeaderInfo, AuthError> {
        let header = std::str::from_utf8(header).map_err(|_| AuthError::TokenMalformed)?;
        let h = json::parse_header(header).map_err(|_| AuthError::TokenMalformed)?;
        let typ_ok = match &h.typ {
            None => !self.results,
            Some(typ) => typ
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(self.token_type())),
        };
        if !typ_ok {
            return Err(AuthError::WrongTokenType);
        }
        let alg = h
            .alg
            .as_ref()
            .and_then(MaybeText::as_str)
            .and_then(Algorithm::from_name)
            .ok_or(AuthError::InvalidAlgorithm)?;
        let key = self.keys.select(h.kid.as_deref())?;
        if self.keys.entries()[key].algorithm() != alg {
            return Err(AuthError::InvalidAlgorithm);
        }
        Ok(HeaderInfo {
            key,
            has_kid: h.kid.is_some(),
        })
    }

    /// Steps 8–12: the decoded payload, the signature and the result.
    fn finish(
        &self,
        payload: &[u8],
        now: u64,
        key: &Key,
        info: HeaderInfo,
        signing_input: &[u8],
        sig: &[u8],
    ) -> Result<Verified<C>, AuthError> {
        use AuthError as E;
        let payload = std::str::from_utf8(payload).map_err(|_| E::TokenMalformed)?;
        let mut scan = ClaimsScan::new(payload, &self.spec, &self.names);
        let claims = claims::parse_claims::<C>(&mut scan).map_err(|_| E::TokenMalformed)?;
        let c = scan.claims();

        let leeway = self.leeway;
        let exp = c.exp.ok_or(E::MissingClaim)?;
        if now > exp.saturating_add(leeway) {
            return Err(E::TokenExpired);
        }
        let latest = now.saturating_add(leeway);
        if c.nbf.is_some_and(|nbf| latest < nbf) || c.iat.is_some_and(|iat| iat > latest) {
            return Err(E::TokenNotYetValid);
        }
        if let Some(max) = self.max_lifetime {
            let iat = c.iat.ok_or(E::LifetimeExceeded)?;
            if exp.saturating_sub(iat) > max {
                return Err(E::LifetimeExceeded);
            }
        }
        if !self.spec.issuers.is_empty()
            && !c
                .iss
                .as_deref()
                .is_some_and(|iss| self.spec.issuers.iter().any(|i| i == iss))
        {
            return Err(E::InvalidIssuer);
        }
        if !self.spec.audiences.is_empty() && c.aud != Some(true) {
            return Err(E::InvalidAudience);
        }
        let player = c.player.as_ref().ok_or(E::MissingClaim)?;
        let session = c.session.as_ref().ok_or(E::MissingClaim)?;
        let tenant = match &self.spec.tenant_claim {
            Some(_) => Some(c.tenant.as_ref().ok_or(E::MissingClaim)?),
            None => None,
        };
        if c.missing_required {
            return Err(E::MissingClaim);
        }
        if c.missing_permission {
            return Err(E::InsufficientPermissions);
        }

        key.verify(signing_input, sig)?;

        let kid = if info.has_kid {
            key.kid.as_deref()
        } else {
            None
        };
        let jti = c.jti.as_deref();
        let len = player.text_len()
            + session.text_len()
            + tenant.map_or(0, Id::text_len)
            + jti.map_or(0, str::len)
            + kid.map_or(0, str::len)
            + c.permissions.map_or(0, str::len);
        let mut text = String::with_capacity(len);
        let player = span(&mut text, |t| player.push_to(t));
        let session = span(&mut text, |t| session.push_to(t));
        let tenant = tenant.map(|id| span(&mut text, |t| id.push_to(t)));
        let jti = jti.map(|j| span(&mut text, |t| t.push_str(j)));
        let kid = kid.map(|k| span(&mut text, |t| t.push_str(k)));
        let permissions_json = c.permissions.map(|p| span(&mut text, |t| t.push_str(p)));
        Ok(Verified {
            text: text.into_boxed_str(),
            player,
            session,
            tenant,
            jti,
            kid,
            permissions_json,
            permissions: OnceLock::new(),
            exp,
            iat: c.iat,
            claims,
        })
    }
}

/// Appends with `f` and returns the span of what it appended.
fn span(text: &mut String, f: impl FnOnce(&mut String)) -> Span {
    let start = text.len() as u32;
    f(text);
    (start, text.len() as u32)
}

/// The header, payload and signature segments of a compact JWS.
type Segments<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Splits a compact JWS at its first two dots into three segments, none empty (`str::find`
/// uses memchr).
fn split(t: &str) -> Result<Segments<'_>, AuthError> {
    let malformed = AuthError::TokenMalformed;
    let (h, rest) = t.split_at(t.find('.').ok_or(malformed)?);
    let rest = &rest[1..];
    let (p, s) = rest.split_at(rest.find('.').ok_or(malformed)?);
    let s = &s[1..];
    // A third `.` (a fourth segment) is inside `s`, where strict base64url decoding refuses it.
    if h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(malformed);
    }
    Ok((h.as_bytes(), p.as_bytes(), s.as_bytes()))
}

/// Every order of `items`.
fn permutations<'a>(items: &[&'a str]) -> Vec<Vec<&'a str>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

/// Decodes a base64url segment into a stack buffer (`N` bytes, or `4 * N` for larger segments,
/// or the heap when larger still) and hands the bytes to `f`; `invalid` if the segment is not
/// strict base64url.
fn decoded<const N: usize, T, E>(
    segment: &[u8],
    invalid: E,
    f: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<T, E> {
    let Some(n) = base64url::decoded_len(segment.len()) else {
        return Err(invalid);
    };
    let run = |buf: &mut [u8]| match base64url::decode_into(segment, buf) {
        Ok(_) => f(&buf[..n]),
        Err(_) => Err(invalid),
    };
    if n <= N {
        run(&mut [0u8; N])
    } else if n <= 4 * N {
        run([[0u8; N]; 4].as_flattened_mut())
    } else {
        run(&mut vec![0; n])
    }
}

#[cfg(test)]
mod tests;

/// A token's JWS layer after steps 2–7: what the claims step and the signature check need.
struct Jws<'t> {
    info: HeaderInfo,
    signing_input: &'t [u8],
    payload: &'t [u8],
    sig: [u8; 64],
    sig_len: usize,
}

impl Jws<'_> {
    /// The decoded signature, at its algorithm's exact length.
    fn signature(&self) -> &[u8] {
        &self.sig[..self.sig_len]
    }
}
