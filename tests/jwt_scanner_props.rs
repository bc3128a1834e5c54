//! Property tests of the claims scanner against serde_json: random claims objects (written by
//! hand: escapes, whitespace, duplicates, wrong types, nesting), optionally mutated, signed and
//! verified. The verifier must refuse exactly the texts serde_json refuses (plus duplicate
//! claims), apply every claim rule in the documented order, and report the same values
//! (ids, times, permissions, and with `C = serde_json::Value` the whole claims set).

use jwt_game_server::{AuthError, NoClaims, Signer, TokenSpec, Verifier};
use proptest::prelude::*;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::time::Duration;

const NOW: u64 = 1_700_000_000;
const LEEWAY: u64 = 30;
const MAX_LIFETIME: u64 = 3600;
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#;

fn signer() -> Signer {
    Signer::hs256("k1", b"scanner-props-secret-0123456789abcdef").expect("secret")
}

fn spec() -> TokenSpec {
    TokenSpec::default()
        .issuer("iss-a")
        .audience("aud-a")
        .permissions_claim("perms")
        .require_permission("play")
        .require_claim("room")
        .leeway(Duration::from_secs(LEEWAY))
        .max_lifetime(Some(Duration::from_secs(MAX_LIFETIME)))
}

// ---------------------------------------------------------------------------------------
// Generators: JSON text written by hand.

/// Characters strings are made of: plain, JSON-special, control, non-ASCII, non-BMP.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::sample::select(b"abcxyz-_09 ./:".to_vec()).prop_map(char::from),
        1 => proptest::sample::select(vec!['"', '\\', '/', '\n', '\t', '\u{1}', '\u{1f}', '\u{7f}']),
        1 => proptest::sample::select(vec!['é', 'ß', '\u{2028}', '\u{ffff}', '😀', '\u{10ffff}']),
    ]
}

/// `s` as a JSON string: required escapes, plus random optional ones (`\uXXXX`, `\/`).
fn encode_str(s: &str, escape_bits: u64) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        let optional = escape_bits >> (i % 64) & 1 == 1;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' if optional => out.push_str("\\u000a"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '/' if optional => out.push_str("\\/"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c if optional => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(out, "\\u{:04X}", u).unwrap();
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_str() -> impl Strategy<Value = String> {
    (proptest::collection::vec(any_char(), 0..12), any::<u64>())
        .prop_map(|(cs, bits)| encode_str(&cs.into_iter().collect::<String>(), bits))
}

/// Numbers of every shape, with exponents of at most two digits (serde_json refuses numbers
/// beyond f64, which the verifier's scanner does not look at; the texts stay comparable).
fn json_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..100).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("18446744073709551616".to_owned()),
        Just("-0".to_owned()),
        (any::<i32>(), 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
        (any::<i16>(), -99i32..100).prop_map(|(a, e)| format!("{a}e{e}")),
        (1u8..10, 0u8..100).prop_map(|(a, e)| format!("{a}.5E+{e}")),
    ]
}

/// Whitespace between tokens (mostly none).
fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![6 => Just(""), 1 => Just(" "), 1 => Just("\n\t"), 1 => Just("\r ")]
}

fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        json_str(),
        json_number(),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("null".to_owned()),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            (proptest::collection::vec((inner.clone(), ws()), 0..5)).prop_map(|items| {
                let parts: Vec<String> = items
                    .into_iter()
                    .map(|(v, w)| format!("{w}{v}{w}"))
                    .collect();
                format!("[{}]", parts.join(","))
            }),
            (proptest::collection::vec((json_str(), inner, ws()), 0..5)).prop_map(|items| {
                let parts: Vec<String> = items
                    .into_iter()
                    .map(|(k, v, w)| format!("{w}{k}{w}:{w}{v}"))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }),
        ]
    })
}

/// A claim name as written: the verifier's names (sometimes spelled with escapes) and others.
fn name() -> impl Strategy<Value = String> {
    let known = proptest::sample::select(vec![
        "exp", "nbf", "iat", "iss", "aud", "jti", "pid", "sid", "perms", "room",
    ]);
    prop_oneof![
        6 => (known, any::<u64>()).prop_map(|(n, bits)| {
            encode_str(n, if bits % 4 == 0 { bits } else { 0 })
        }),
        2 => proptest::sample::select(vec!["x", "gameSlug", "a b", "é", "playerInfo"])
            .prop_map(|n| encode_str(n, 0)),
        1 => json_str(),
    ]
}

/// A value for a claim: mostly of the right kind for the verifier's claims, sometimes not.
fn claim_value() -> impl Strategy<Value = String> {
    let time = prop_oneof![
        (NOW - 4000..NOW + 4000).prop_map(|t| t.to_string()),
        Just((1u64 << 53).to_string()),
        Just(((1u64 << 53) + 1).to_string()),
    ];
    let text = proptest::sample::select(vec![
        r#""iss-a""#,
        r#""iss-\u0061""#,
        r#""aud-a""#,
        r#""p1""#,
        r#""""#,
        r#""play""#,
    ])
    .prop_map(str::to_owned);
    let list = proptest::collection::vec(
        proptest::sample::select(vec![
            r#""play""#,
            r#""aud-a""#,
            r#""pl\u0061y""#,
            r#""x""#,
            "1",
        ]),
        0..4,
    )
    .prop_map(|v| format!("[{}]", v.join(",")));
    prop_oneof![3 => time, 3 => text, 2 => list, 1 => (0u64..5).prop_map(|n| n.to_string()), 2 => json_value()]
}

/// A member of a nearly valid claims set: usually right, sometimes another value, sometimes
/// absent.
fn nearly(name: &'static str, right: String) -> impl Strategy<Value = Option<String>> {
    let key = move |bits: u64| encode_str(name, if bits % 5 == 0 { bits } else { 0 });
    prop_oneof![
        12 => any::<u64>().prop_map(move |b| Some(format!("{}:{}", key(b), right))),
        2 => (any::<u64>(), claim_value()).prop_map(move |(b, v)| Some(format!("{}:{v}", key(b)))),
        1 => Just(None),
    ]
}

/// A claims object as JSON text (before any mutation): a nearly valid claims set plus other
/// members (which may repeat a name), in any order.
fn claims_text() -> impl Strategy<Value = String> {
    let base = (
        nearly("exp", (NOW + 60).to_string()),
        nearly("iat", NOW.to_string()),
        nearly("nbf", (NOW - 5).to_string()),
        nearly("iss", r#""iss-a""#.to_owned()),
        nearly("aud", r#""aud-a""#.to_owned()),
        nearly("pid", r#""p1""#.to_owned()),
        nearly("sid", "7".to_owned()),
        nearly("perms", r#"["play"]"#.to_owned()),
        nearly("room", "{}".to_owned()),
        nearly("jti", r#""j\n1""#.to_owned()),
    );
    let other_name = prop_oneof![1 => name(), 6 => json_str()];
    let others = proptest::collection::vec(
        (other_name, claim_value()).prop_map(|(k, v)| Some(format!("{k}:{v}"))),
        0..6,
    );
    (base, others, ws())
        .prop_flat_map(|((a, b, c, d, e, f, g, h, i, j), others, w)| {
            let mut all: Vec<String> = [a, b, c, d, e, f, g, h, i, j]
                .into_iter()
                .chain(others)
                .flatten()
                .collect();
            all.sort();
            (Just(all).prop_shuffle(), Just(w))
        })
        .prop_map(|(members, w)| format!("{w}{{{}}}{w}", members.join(&format!("{w},{w}"))))
}

/// One edit of the text (or none).
#[derive(Debug, Clone)]
enum Edit {
    None,
    Replace(usize, char),
    Insert(usize, char),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let c = proptest::sample::select(vec![
        '"', '\\', ',', ':', '{', '}', '[', ']', '0', 'e', '-', 'u', ' ', '\u{1}',
    ]);
    prop_oneof![
        12 => Just(Edit::None),
        1 => (any::<usize>(), c.clone()).prop_map(|(i, c)| Edit::Replace(i, c)),
        1 => (any::<usize>(), c).prop_map(|(i, c)| Edit::Insert(i, c)),
        1 => any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(text: &str, e: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    match *e {
        Edit::None => {}
        Edit::Replace(i, c) if !chars.is_empty() => out[i % chars.len()] = c,
        Edit::Insert(i, c) => out.insert(i % (chars.len() + 1), c),
        Edit::Delete(i) if !chars.is_empty() => {
            out.remove(i % chars.len());
        }
        _ => {}
    }
    out.into_iter().collect()
}

// ---------------------------------------------------------------------------------------
// The model: serde_json's reading of the text and the verifier's rules, in order.

/// The top-level member names, unescaped by serde_json, in order.
struct TopNames(Vec<String>);

impl<'de> serde::Deserialize<'de> for TopNames {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TopNames;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopNames, A::Error> {
                let mut names = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    names.push(k);
                }
                Ok(TopNames(names))
            }
        }
        d.deserialize_map(V)
    }
}

/// What the verifier must report for the claims text `text`.
#[derive(Debug, PartialEq)]
struct Outcome {
    player: String,
    session: String,
    exp: u64,
    iat: Option<u64>,
    jti: Option<String>,
    permissions: Vec<String>,
}

fn id(v: &Value) -> Option<Option<String>> {
    match v {
        Value::String(s) if !s.is_empty() && s.len() <= 256 => Some(Some(s.clone())),
        Value::Number(n) => n.as_u64().map(|n| Some(n.to_string())),
        _ => None,
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|e| e.as_str().map(str::to_owned))
        .collect()
}

/// The model verifier: `Err` with the expected error, or the expected values.
fn model(text: &str) -> Result<(Outcome, Value), AuthError> {
    use AuthError as E;
    let value: Value = serde_json::from_str(text).map_err(|_| E::TokenMalformed)?;
    let obj = value.as_object().ok_or(E::TokenMalformed)?;
    let TopNames(names) = serde_json::from_str(text).map_err(|_| E::TokenMalformed)?;
    if names.iter().collect::<HashSet<_>>().len() != names.len() {
        return Err(E::TokenMalformed);
    }
    let date = |k: &str| -> Result<Option<u64>, AuthError> {
        match obj.get(k) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= 1 << 53 => Ok(Some(n)),
                _ => Err(E::TokenMalformed),
            },
        }
    };
    let text_claim = |k: &str| -> Result<Option<String>, AuthError> {
        match obj.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(E::TokenMalformed),
        }
    };
    let (exp, nbf, iat) = (date("exp")?, date("nbf")?, date("iat")?);
    let (iss, jti) = (text_claim("iss")?, text_claim("jti")?);
    let aud = match obj.get("aud") {
        None => None,
        Some(Value::String(s)) => Some(s == "aud-a"),
        Some(v) => Some(
            strings(v)
                .ok_or(E::TokenMalformed)?
                .iter()
                .any(|a| a == "aud-a"),
        ),
    };
    let player = obj
        .get("pid")
        .map(id)
        .map(|i| i.ok_or(E::TokenMalformed))
        .transpose()?;
    let session = obj
        .get("sid")
        .map(id)
        .map(|i| i.ok_or(E::TokenMalformed))
        .transpose()?;
    let perms = obj
        .get("perms")
        .map(|v| strings(v).ok_or(E::TokenMalformed))
        .transpose()?;

    let exp = exp.ok_or(E::MissingClaim)?;
    if NOW > exp + LEEWAY {
        return Err(E::TokenExpired);
    }
    if nbf.is_some_and(|n| NOW + LEEWAY < n) || iat.is_some_and(|i| i > NOW + LEEWAY) {
        return Err(E::TokenNotYetValid);
    }
    let i = iat.ok_or(E::LifetimeExceeded)?;
    if exp.saturating_sub(i) > MAX_LIFETIME {
        return Err(E::LifetimeExceeded);
    }
    if iss.as_deref() != Some("iss-a") {
        return Err(E::InvalidIssuer);
    }
    if aud != Some(true) {
        return Err(E::InvalidAudience);
    }
    let (Some(player), Some(session)) = (player.flatten(), session.flatten()) else {
        return Err(E::MissingClaim);
    };
    if !obj.contains_key("room") {
        return Err(E::MissingClaim);
    }
    let permissions = perms.unwrap_or_default();
    if !permissions.iter().any(|p| p == "play") {
        return Err(E::InsufficientPermissions);
    }
    let outcome = Outcome {
        player,
        session,
        exp,
        iat,
        jti,
        permissions,
    };
    Ok((outcome, value))
}

/// Checks both verifiers against the model for the claims text `text`.
fn check(text: &str) -> Result<(), TestCaseError> {
    let token = signer().sign_raw(HEADER.as_bytes(), text.as_bytes());
    let keys = signer().verification_keys();
    let with_value: Verifier<Value> = Verifier::new(keys.clone(), spec()).expect("spec");
    let without: Verifier<NoClaims> = Verifier::new(keys, spec()).expect("spec");
    let expected = model(text);
    let got = with_value.verify(&token, NOW);
    let got_none = without.verify(&token, NOW);
    match (&expected, &got) {
        (Err(e), Err(g)) => prop_assert_eq!(e, g, "text: {}", text),
        (Ok((want, value)), Ok(v)) => {
            let have = Outcome {
                player: v.player().to_owned(),
                session: v.session().to_owned(),
                exp: v.expires_at(),
                iat: v.issued_at(),
                jti: v.token_id().map(str::to_owned),
                permissions: v.permissions().to_vec(),
            };
            prop_assert_eq!(want, &have, "text: {}", text);
            prop_assert_eq!(value, v.claims(), "text: {}", text);
            prop_assert_eq!(v.key_id(), Some("k1"));
        }
        _ => prop_assert!(
            false,
            "text {text}: model {expected:?}, verifier {:?}",
            got.err()
        ),
    }
    // The verifier's rules do not depend on `C`: without extra claims the outcome is the same
    // (serde_json refuses numbers beyond f64 when it makes a `Value`; the verifier's own
    // scanner only checks their grammar, as serde_json does for values it skips).
    if has_huge_exponent(text) {
        return Ok(());
    }
    prop_assert_eq!(
        got.as_ref().map(|v| v.player().to_owned()).map_err(|e| *e),
        got_none
            .as_ref()
            .map(|v| v.player().to_owned())
            .map_err(|e| *e),
        "text: {}",
        text
    );
    Ok(())
}

/// True if `text` has an exponent of three or more digits somewhere (a number that may be
/// beyond f64).
fn has_huge_exponent(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len()).any(|i| {
        let mut j = i + 1;
        if !matches!(b[i], b'e' | b'E') {
            return false;
        }
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        b.get(j..j + 3)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs a property on a thread with a large stack: the nested strategies above need more
/// than a test thread's default stack in unoptimised builds.
fn run<S: Strategy<Value: 'static>, M: FnOnce() -> S + Send + 'static>(
    strategy: M,
    test: fn(S::Value) -> Result<(), TestCaseError>,
) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let mut runner = proptest::test_runner::TestRunner::new(config());
            if let Err(e) = runner.run(&strategy(), test) {
                panic!("{e}");
            }
        })
        .expect("thread")
        .join()
        .expect("property holds");
}

/// Random claims objects, sometimes edited into invalid JSON.
#[test]
fn scanner_agrees_with_serde_json_and_the_rules() {
    run(
        || (claims_text(), edit()),
        |(text, e)| check(&apply(&text, &e)),
    );
}

/// Any JSON value as the claims set (only an object is accepted).
#[test]
fn scanner_agrees_on_any_json_value() {
    run(|| (json_value(), edit()), |(v, e)| check(&apply(&v, &e)));
}

/// A fully valid claims set with the ids and extra members written in many ways.
#[test]
fn valid_claims_verify_with_the_same_values() {
    let strategy = || {
        let extra = proptest::collection::vec((name(), json_value()), 0..20);
        (json_str(), any::<u64>(), extra, ws())
    };
    run(strategy, |(pid, sid, extra, w)| {
        let mut members = vec![
            format!(r#""exp":{}"#, NOW + 60),
            format!(r#""iat":{}"#, NOW),
            r#""iss":"iss-a""#.to_owned(),
            r#""aud":["x","aud-a"]"#.to_owned(),
            r#""perms":["chat","play"]"#.to_owned(),
            r#""room":{}"#.to_owned(),
            format!(r#""pid":{pid}"#),
            format!(r#""sid":{sid}"#),
        ];
        members.extend(extra.into_iter().map(|(k, v)| format!("{k}{w}:{w}{v}")));
        check(&format!("{{{}}}", members.join(&format!("{w},{w}"))))
    });
}

/// Nesting: 127 levels (the claims object included) are accepted, 128 are not (serde_json's
/// recursion limit).
#[test]
fn nesting_depth_limit_matches_serde_json() {
    for depth in [2usize, 3, 126, 127, 128, 129, 500] {
        let inner = format!("{}{}", "[".repeat(depth - 1), "]".repeat(depth - 1));
        let text = format!(r#"{{"x":{inner},"exp":{}}}"#, NOW + 60);
        let token = signer().sign_raw(HEADER.as_bytes(), text.as_bytes());
        let v: Verifier<NoClaims> =
            Verifier::new(signer().verification_keys(), TokenSpec::default()).expect("spec");
        let got = v.verify(&token, NOW).err();
        // With `C = Value` the nesting is walked in place (recursion bounded by the limit).
        let with_value: Verifier<Value> =
            Verifier::new(signer().verification_keys(), TokenSpec::default()).expect("spec");
        assert_eq!(with_value.verify(&token, NOW).err(), got, "depth {depth}");
        let json_ok = serde_json::from_str::<Value>(&text).is_ok();
        assert_eq!(json_ok, depth <= 127, "depth {depth}");
        // Valid nesting gets past the JSON to the missing `iat` (lifetime rule).
        let want = if json_ok {
            AuthError::LifetimeExceeded
        } else {
            AuthError::TokenMalformed
        };
        assert_eq!(got, Some(want), "depth {depth}");
    }
}

/// Many members: duplicate detection past the inline names.
#[test]
fn duplicates_are_found_among_many_members() {
    let v: Verifier<NoClaims> =
        Verifier::new(signer().verification_keys(), TokenSpec::default()).expect("spec");
    let base = format!(r#""exp":{},"iat":{},"pid":1,"sid":2"#, NOW + 60, NOW);
    for n in [1usize, 7, 8, 9, 12, 13, 40] {
        let others: Vec<String> = (0..n).map(|i| format!(r#""c{i}":{i}"#)).collect();
        let ok = format!("{{{base},{}}}", others.join(","));
        let t = signer().sign_raw(HEADER.as_bytes(), ok.as_bytes());
        assert!(v.verify(&t, NOW).is_ok(), "{n} members");
        for dup in [0, n / 2, n - 1] {
            // The same name again, every character escaped.
            let spelled: String = format!("c{dup}")
                .chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect();
            let bad = format!(r#"{{{base},{},"{spelled}":0}}"#, others.join(","));
            let t = signer().sign_raw(HEADER.as_bytes(), bad.as_bytes());
            assert_eq!(
                v.verify(&t, NOW).err(),
                Some(AuthError::TokenMalformed),
                "{bad}"
            );
            let plain = format!(r#"{{{base},{},"c{dup}":0}}"#, others.join(","));
            let t = signer().sign_raw(HEADER.as_bytes(), plain.as_bytes());
            assert_eq!(
                v.verify(&t, NOW).err(),
                Some(AuthError::TokenMalformed),
                "{plain}"
            );
        }
    }
}
