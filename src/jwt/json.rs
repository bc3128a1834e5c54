//! Borrowing JSON pieces for the JWS header and the claims set: strings borrowed from the
//! decoded bytes where they contain no escapes, duplicate-name detection (after unescaping),
//! ids, numeric dates, and a nesting-depth check that runs before any parsing.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// Largest accepted numeric date and the like: 2^53 (beyond it JSON numbers lose precision in
/// many implementations).
pub(crate) const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// Longest accepted id string (player, session, tenant), in bytes.
pub(crate) const MAX_ID_BYTES: usize = 256;

/// A JSON string, borrowed when it has no escapes.
pub(crate) struct Text<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A header member that should be a string but may be anything (`alg`, `typ`): a wrong type
/// is reported by the caller with its own error code, not as malformed JSON.
pub(crate) enum MaybeText<'de> {
    /// A string.
    Text(Cow<'de, str>),
    /// Any other JSON value.
    Other,
}

impl<'de> MaybeText<'de> {
    /// The string, if it is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t),
            Self::Other => None,
        }
    }
}

impl<'de> Deserialize<'de> for MaybeText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeText::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeText::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeText::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeText::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeText::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeText::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeText::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeText::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeText::Other)
            }
        }
        d.deserialize_any(V)
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

impl<'de> Deserialize<'de> for Header<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Header<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JOSE header object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut h = Header::default();
                let mut names = Names::new();
                while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
                    let role = match &*name {
                        "alg" => 1,
                        "typ" => 2,
                        "kid" => 3,
                        // Critical extensions are not supported: any `crit`, even empty, is refused.
                        "crit" => return Err(de::Error::custom("crit is not supported")),
                        "b64" => 4,
                        // jku, x5u, jwk, x5c and the rest are never followed: skipped.
                        _ => 0,
                    };
                    if !names.insert(name) {
                        return Err(de::Error::custom("duplicate header member"));
                    }
                    match role {
                        1 => h.alg = Some(map.next_value()?),
                        2 => h.typ = Some(map.next_value()?),
                        3 => h.kid = Some(map.next_value::<Text<'de>>()?.0),
                        4 => {
                            // RFC 7797 unencoded payloads are not supported.
                            if !map.next_value::<bool>()? {
                                return Err(de::Error::custom("b64:false is not supported"));
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(h)
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses a decoded header (must be a JSON object, nothing after it).
pub(crate) fn parse_header(json: &str) -> Result<Header<'_>, serde_json::Error> {
    serde_json::from_str(json)
}

/// A player, session or tenant id: a non-empty string of at most 256 bytes, or a
/// non-negative integer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Id<'de> {
    Text(Cow<'de, str>),
    Number(u64),
}

impl<'de> Id<'de> {
    fn text<E: de::Error>(v: Cow<'de, str>) -> Result<Self, E> {
        if v.is_empty() || v.len() > MAX_ID_BYTES {
            Err(E::custom("an id string must have 1 to 256 bytes"))
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

impl<'de> Deserialize<'de> for Id<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Id<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a non-negative integer")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Id<'de>, E> {
                Id::text(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id<'de>, E> {
                Id::text(Cow::Owned(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id<'de>, E> {
                Ok(Id::Number(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A NumericDate (`exp`, `nbf`, `iat`): a JSON integer from 0 to 2^53, written without
/// fraction or exponent. Negative, fractional (`1.5`, also `1.0`), exponent (`1e9`) and larger
/// values are malformed.
pub(crate) struct NumericDate(pub(crate) u64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer from 0 to 2^53")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                if v <= MAX_SAFE_INTEGER {
                    Ok(NumericDate(v))
                } else {
                    Err(E::custom("numeric date out of range"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `aud`: a string or an array of strings; yields whether it names one of `audiences`.
pub(crate) struct AudSeed<'s>(pub(crate) &'s [String]);

impl<'de> DeserializeSeed<'de> for AudSeed<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AudSeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(self.0.iter().any(|a| a == v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(Text(v)) = seq.next_element::<Text<'de>>()? {
            found = found || self.0.iter().any(|a| *a == v);
        }
        Ok(found)
    }
}

/// Deepest accepted nesting of arrays and objects, the outermost object included (the same
/// bound as serde_json's recursion limit).
pub(crate) const MAX_DEPTH: usize = 128;

/// True if `json` nests arrays and objects at most [`MAX_DEPTH`] deep.
///
/// Checked before parsing because serde_json skips ignored values without a depth limit. A
/// vectorisable count of `[` and `{` settles ordinary tokens; only when there are more of them
/// than the limit does a string-aware scan measure the actual depth. Invalid JSON is left to
/// the parser.
pub(crate) fn depth_ok(json: &[u8]) -> bool {
    // `[` is 0x5B and `{` is 0x7B: one compare after setting bit 5 finds both. Counted in
    // 255-byte blocks with a byte-sized sum so that the loop vectorises.
    let opens: usize = json
        .chunks(255)
        .map(|block| {
            let n: u8 = block
                .iter()
                .map(|&b| u8::from(b | 0x20 == b'{'))
                .fold(0, u8::wrapping_add);
            usize::from(n)
        })
        .sum();
    if opens <= MAX_DEPTH {
        return true;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn ids_are_strings_or_non_negative_integers() {
        let id = |j: &'static str| serde_json::from_str::<Id<'static>>(j);
        assert_eq!(id(r#""p1""#).unwrap(), Id::Text(Cow::Borrowed("p1")));
        assert_eq!(id("42").unwrap(), Id::Number(42));
        for bad in [
            r#""""#,
            "-1",
            "1.5",
            "true",
            "null",
            r#"["a"]"#,
            r#"{"a":1}"#,
        ] {
            assert!(id(bad).is_err(), "{bad}");
        }
        let long = format!(r#""{}""#, "x".repeat(257));
        assert!(serde_json::from_str::<Id<'_>>(&long).is_err());
        let max = format!(r#""{}""#, "x".repeat(256));
        assert!(serde_json::from_str::<Id<'_>>(&max).is_ok());
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
        let date = |j: &str| serde_json::from_str::<NumericDate>(j).map(|d| d.0);
        assert_eq!(date("0").unwrap(), 0);
        assert_eq!(date("9007199254740992").unwrap(), MAX_SAFE_INTEGER);
        for bad in [
            "9007199254740993",
            "18446744073709551616",
            "-1",
            "-0",
            "1.5",
            "1.0",
            "1e9",
            r#""1""#,
            "true",
            "null",
            "[1]",
        ] {
            assert!(date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn depth_check_counts_only_structure_outside_strings() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(depth_ok(deep(128).as_bytes()));
        assert!(!depth_ok(deep(129).as_bytes()));
        assert!(!depth_ok(deep(5000).as_bytes()));
        let in_string = format!(r#"{{"a":"{}"}}"#, "[".repeat(500));
        assert!(depth_ok(in_string.as_bytes()));
        let escaped_quote = format!(r#"{{"a":"\"{}"}}"#, "[".repeat(500));
        assert!(depth_ok(escaped_quote.as_bytes()));
        let wide = format!("[{}]", vec!["[]"; 500].join(","));
        assert!(depth_ok(wide.as_bytes()));
    }
}
