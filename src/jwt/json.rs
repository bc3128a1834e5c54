//! JSON pieces for the JWS header and the claims set: the header parse (on the
//! [`scan`](crate::jwt::scan) scanner), duplicate-name detection (after unescaping) and ids.

use crate::jwt::scan::{Cursor, Kind, Malformed, Scan};
use std::borrow::Cow;
use std::collections::HashSet;

/// Largest accepted numeric date and the like: 2^53 (beyond it JSON numbers lose precision in
/// many implementations).
pub(crate) const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// Longest accepted id string (player, session, tenant), in bytes.
pub(crate) const MAX_ID_BYTES: usize = 256;

/// A header member that should be a string but may be anything (`alg`, `typ`): a wrong type
/// is reported by the caller with its own error code, not as malformed JSON.
pub(crate) enum MaybeText<'de> {
    /// A string.
    Text(Cow<'de, str>),
    /// Any other JSON value.
    Other,
}

impl MaybeText<'_> {
    /// The string, if it is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t),
            Self::Other => None,
        }
    }
}

impl<'de> From<Kind<'de>> for MaybeText<'de> {
    fn from(k: Kind<'de>) -> Self {
        match k {
            Kind::Str(s) => Self::Text(s.text()),
            _ => Self::Other,
        }
    }
}

/// Member names kept inline by [`Names`].
const NAMES_INLINE: usize = 8;

/// Member names seen so far in one object, for duplicate detection. The first names are kept
/// inline (no allocation for ordinary tokens); past that, a hash set keeps the check linear.
pub(crate) struct Names<'de> {
    inline: [Cow<'de, str>; NAMES_INLINE],
    len: usize,
    spill: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> Names<'de> {
    pub(crate) fn new() -> Self {
        Self {
            inline: [const { Cow::Borrowed("") }; NAMES_INLINE],
            len: 0,
            spill: None,
        }
    }

    /// Adds `name`; false if it was already there.
    pub(crate) fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if let Some(set) = &mut self.spill {
            return set.insert(name);
        }
        if self.inline[..self.len].contains(&name) {
            return false;
        }
        if self.len < NAMES_INLINE {
            self.inline[self.len] = name;
            self.len += 1;
        } else {
            let mut set: HashSet<Cow<'de, str>> =
                self.inline.iter_mut().map(std::mem::take).collect();
            set.insert(name);
            self.spill = Some(set);
        }
        true
    }

    /// True if `name` was inserted.
    #[cfg(test)]
    pub(crate) fn contains(&self, name: &str) -> bool {
        match &self.spill {
            Some(set) => set.contains(name),
            None => self.inline[..self.len].iter().any(|n| n == name),
        }
    }
}

/// The header members the verifier reads.
#[derive(Default)]
pub(crate) struct Header<'de> {
    pub(crate) alg: Option<MaybeText<'de>>,
    pub(crate) typ: Option<MaybeText<'de>>,
    pub(crate) kid: Option<Cow<'de, str>>,
}

/// Parses a decoded header: one JSON object (whitespace around it allowed), no duplicate
/// members, no `crit` (critical extensions are not supported, even an empty list), `b64` only
/// `true` (RFC 7797 unencoded payloads are not supported), `kid` a string. `jku`, `x5u`,
/// `jwk`, `x5c` and the rest are validated and skipped, never followed.
pub(crate) fn parse_header(json: &str) -> Scan<Header<'_>> {
    let mut cur = Cursor::new(json);
    let mut h = Header::default();
    let mut names = Names::new();
    cur.expect(b'{')?;
    if !cur.eat(b'}') {
        loop {
            let name = cur.string()?.text();
            cur.expect(b':')?;
            if name == "crit" || !names.insert(name.clone()) {
                return Err(Malformed);
            }
            let value = cur.value(1)?;
            match &*name {
                "alg" => h.alg = Some(value.into()),
                "typ" => h.typ = Some(value.into()),
                "kid" => match value {
                    Kind::Str(s) => h.kid = Some(s.text()),
                    _ => return Err(Malformed),
                },
                "b64" if value != Kind::True => return Err(Malformed),
                _ => {}
            }
            if !cur.comma_or(b'}')? {
                break;
            }
        }
    }
    cur.end()?;
    Ok(h)
}

/// A player, session or tenant id: a non-empty string of at most 256 bytes, or a
/// non-negative integer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Id<'de> {
    Text(Cow<'de, str>),
    Number(u64),
}

impl<'de> Id<'de> {
    /// An id string: 1 to 256 bytes.
    #[inline]
    pub(crate) fn text(v: Cow<'de, str>) -> Scan<Self> {
        if v.is_empty() || v.len() > MAX_ID_BYTES {
            Err(Malformed)
        } else {
            Ok(Id::Text(v))
        }
    }

    /// Appends the id's text (integers in decimal) to `out`.
    pub(crate) fn push_to(&self, out: &mut String) {
        match self {
            Self::Text(t) => out.push_str(t),
            Self::Number(n) => push_decimal(*n, out),
        }
    }

    /// The length of the id's text.
    pub(crate) fn text_len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Number(n) => n.checked_ilog10().unwrap_or(0) as usize + 1,
        }
    }
}

/// Appends `n` in decimal.
fn push_decimal(mut n: u64, out: &mut String) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::TokenSpec;
    use crate::jwt::claims::ClaimNames;

    #[test]
    fn duplicate_header_members_crit_and_b64_are_refused() {
        assert!(parse_header(r#"{"alg":"HS256","alg":"HS256"}"#).is_err());
        assert!(parse_header(r#"{"alg":"HS256","\u0061lg":"HS256"}"#).is_err());
        assert!(parse_header(r#"{"alg":"HS256","crit":[]}"#).is_err());
        assert!(parse_header(r#"{"alg":"HS256","crit":["exp"]}"#).is_err());
        assert!(parse_header(r#"{"alg":"HS256","b64":false}"#).is_err());
        assert!(parse_header(r#"{"alg":"HS256","b64":"false"}"#).is_err());
        assert!(parse_header(r#"{"alg":"HS256","b64":true}"#).is_ok());
        assert!(parse_header(r#"{"alg":"HS256","kid":7}"#).is_err());
        assert!(parse_header(r#"["alg"]"#).is_err());
        assert!(parse_header(r#"{"alg":"HS256"} x"#).is_err());
        let h = parse_header(r#"{"alg":"HS\u003256","jku":"https://x","jwk":{"k":1},"typ":null}"#)
            .unwrap();
        assert_eq!(h.alg.unwrap().as_str(), Some("HS256"));
        assert!(h.typ.unwrap().as_str().is_none());
        assert!(h.kid.is_none());
    }

    #[test]
    fn names_find_duplicates_inline_and_after_spilling() {
        let mut names = Names::new();
        let all: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
        for n in &all {
            assert!(names.insert(Cow::Borrowed(n)));
        }
        for n in &all {
            assert!(names.contains(n));
            assert!(!names.insert(Cow::Owned(n.clone())));
        }
        assert!(!names.contains("c40"));
        let mut few = Names::new();
        assert!(few.insert(Cow::Borrowed("a")));
        assert!(!few.insert(Cow::Owned("a".into())));
        assert!(few.contains("a") && !few.contains("b"));
    }

    fn id(value: &str) -> Option<Id<'static>> {
        let json = format!(r#"{{"pid":{value}}}"#);
        let spec = TokenSpec::default();
        let c = crate::jwt::claims::scan_claims(&json, &spec, &ClaimNames::new(&spec)).ok()?;
        match c.player? {
            Id::Text(t) => Some(Id::Text(Cow::Owned(t.into_owned()))),
            Id::Number(n) => Some(Id::Number(n)),
        }
    }

    fn date(value: &str) -> Option<u64> {
        let json = format!(r#"{{"exp":{value}}}"#);
        let spec = TokenSpec::default();
        crate::jwt::claims::scan_claims(&json, &spec, &ClaimNames::new(&spec))
            .ok()?
            .exp
    }

    #[test]
    fn ids_are_strings_or_non_negative_integers() {
        assert_eq!(id(r#""p1""#), Some(Id::Text(Cow::Borrowed("p1"))));
        assert_eq!(id(r#""p1""#), Some(Id::Text(Cow::Borrowed("p1"))));
        assert_eq!(id("42"), Some(Id::Number(42)));
        assert_eq!(id("18446744073709551615"), Some(Id::Number(u64::MAX)));
        for bad in [
            r#""""#,
            "-1",
            "-0",
            "1.5",
            "1e2",
            "18446744073709551616",
            "true",
            "null",
            r#"["a"]"#,
            r#"{"a":1}"#,
        ] {
            assert_eq!(id(bad), None, "{bad}");
        }
        assert_eq!(id(&format!(r#""{}""#, "x".repeat(257))), None);
        assert!(id(&format!(r#""{}""#, "x".repeat(256))).is_some());
        // The length counts the unescaped text.
        assert!(id(&format!(r#""{}x""#, "x".repeat(255))).is_some());
        assert_eq!(id(&format!(r#""{}x""#, "x".repeat(256))), None);
    }

    #[test]
    fn id_normalisation_writes_decimal_text() {
        for (n, s) in [
            (0u64, "0"),
            (7, "7"),
            (10, "10"),
            (u64::MAX, "18446744073709551615"),
        ] {
            let id = Id::Number(n);
            let mut out = String::new();
            id.push_to(&mut out);
            assert_eq!(out, s);
            assert_eq!(id.text_len(), s.len());
        }
    }

    #[test]
    fn numeric_dates_must_be_safe_integers() {
        assert_eq!(date("0"), Some(0));
        assert_eq!(date("9007199254740992"), Some(MAX_SAFE_INTEGER));
        for bad in [
            "9007199254740993",
            "18446744073709551616",
            "-1",
            "-0",
            "1.5",
            "1.0",
            "1e9",
            "01",
            r#""1""#,
            "true",
            "null",
            "[1]",
        ] {
            assert_eq!(date(bad), None, "{bad}");
        }
    }
}
