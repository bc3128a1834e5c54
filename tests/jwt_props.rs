//! Property tests: mutated or truncated valid tokens never verify and never panic; arbitrary
//! input never panics.

mod util;

use jwt_game_server::{AuthError, NoClaims, TokenSpec, Verifier};
use proptest::prelude::*;
use serde_json::Value;
use util::*;

/// One edit of a token's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flip bit `bit` of the byte at `at` (bit 7 makes non-ASCII).
    Flip { at: usize, bit: u8 },
    /// Insert `byte` before position `at`.
    Insert { at: usize, byte: u8 },
    /// Delete the byte at `at`.
    Delete { at: usize },
    /// Replace the byte at `at` with `byte`.
    Replace { at: usize, byte: u8 },
    /// Insert a (possibly multi-byte) character before `at`.
    InsertChar { at: usize, c: char },
}

/// Bytes a mutation inserts: mostly those a token is made of, sometimes anything.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => proptest::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n".to_vec()
        ),
        1 => any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Positions are drawn large and reduced modulo the current length when applied.
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), interesting_byte()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        (any::<usize>(), interesting_byte()).prop_map(|(at, byte)| Mutation::Replace { at, byte }),
        (any::<usize>(), any::<char>()).prop_map(|(at, c)| Mutation::InsertChar { at, c }),
    ]
}

fn apply(token: &str, mutations: &[Mutation], truncate: Option<usize>) -> String {
    let mut bytes = token.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Flip { at, bit } if len > 0 => bytes[at % len] ^= 1 << bit,
            Mutation::Insert { at, byte } => bytes.insert(at % (len + 1), byte),
            Mutation::Delete { at } if len > 0 => {
                bytes.remove(at % len);
            }
            Mutation::Replace { at, byte } if len > 0 => bytes[at % len] = byte,
            Mutation::InsertChar { at, c } => {
                let mut buf = [0u8; 4];
                let at = at % (len + 1);
                bytes.splice(at..at, c.encode_utf8(&mut buf).bytes());
            }
            _ => {}
        }
    }
    if let Some(keep) = truncate {
        bytes.truncate(keep % (bytes.len() + 1));
    }
    // A flipped high bit may leave invalid UTF-8; `verify` takes `&str`, so such bytes become
    // U+FFFD, which is just as foreign to a token.
    String::from_utf8_lossy(&bytes).into_owned()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn valid_hs() -> String {
    hs(&claims_with(r#""nick":"Zoë","lvl":3"#))
}

fn valid_ed() -> String {
    ed(&claims_with(r#""nick":"Zoë","lvl":3"#))
}

#[test]
fn the_unmutated_tokens_verify() {
    assert!(check(&valid_hs()).is_ok());
    assert!(check(&valid_ed()).is_ok());
}

#[test]
fn every_proper_prefix_of_a_valid_token_is_rejected() {
    let verifier = default_verifier();
    for token in [valid_hs(), valid_ed()] {
        for end in 0..token.len() {
            assert!(
                verifier.verify(&token[..end], NOW).is_err(),
                "prefix of length {end} verified"
            );
        }
    }
}

#[test]
fn every_suffix_extension_of_a_valid_token_is_rejected() {
    let verifier = default_verifier();
    for token in [valid_hs(), valid_ed()] {
        for extra in ["A", "=", ".", " ", "\n", "\0", "é", ".A"] {
            let longer = format!("{token}{extra}");
            assert!(
                verifier.verify(&longer, NOW).is_err(),
                "{longer:?} verified"
            );
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_hs256_token_never_verifies(
        mutations in proptest::collection::vec(mutation(), 1..4),
        truncate in proptest::option::weighted(0.2, any::<usize>()),
    ) {
        let token = valid_hs();
        let mutated = apply(&token, &mutations, truncate);
        prop_assume!(mutated != token);
        prop_assert!(check(&mutated).is_err(), "mutated token verified: {mutated:?}");
    }

    #[test]
    fn mutated_eddsa_token_never_verifies(
        mutations in proptest::collection::vec(mutation(), 1..4),
        truncate in proptest::option::weighted(0.2, any::<usize>()),
    ) {
        let token = valid_ed();
        let mutated = apply(&token, &mutations, truncate);
        prop_assume!(mutated != token);
        prop_assert!(check(&mutated).is_err(), "mutated token verified: {mutated:?}");
    }

    #[test]
    fn truncated_token_never_verifies(keep in any::<usize>(), eddsa in any::<bool>()) {
        let token = if eddsa { valid_ed() } else { valid_hs() };
        let truncated = apply(&token, &[], Some(keep));
        prop_assume!(truncated != token);
        prop_assert!(check(&truncated).is_err());
    }

    #[test]
    fn arbitrary_strings_never_verify_and_never_panic(s in any::<String>()) {
        prop_assert!(check(&s).is_err());
    }

    #[test]
    fn token_shaped_strings_never_verify_and_never_panic(
        s in "[A-Za-z0-9_=+/-]{0,80}\\.[A-Za-z0-9_=+/-]{0,200}\\.[A-Za-z0-9_=+/-]{0,90}"
    ) {
        prop_assert!(check(&s).is_err());
    }

    #[test]
    fn signed_payload_that_is_not_a_json_object_is_token_malformed(payload in any::<String>()) {
        // Correctly signed, so only the payload can be wrong.
        let is_object = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&payload).is_ok();
        prop_assume!(!is_object);
        let token = hs_token(HS_SECRET, &hs_header(), &payload);
        prop_assert_eq!(check(&token).map(|_| ()), Err(AuthError::TokenMalformed));
    }

    #[test]
    fn signed_random_json_claims_never_panic(
        exp in prop_oneof![
            Just("null".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
            "\"[0-9]{0,12}\"",
        ],
        pid in prop_oneof![
            Just("true".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            "\"[a-z]{0,8}\"",
            Just("[]".to_owned()),
        ],
        extra in "[\\[\\]{}\":,a-z0-9 ]{0,60}",
    ) {
        let payload = format!(r#"{{"pid":{pid},"sid":"s","iat":{},"exp":{exp},"x":{extra}}}"#, NOW);
        let token = hs_token(HS_SECRET, &hs_header(), &payload);
        let spec = TokenSpec::default().max_lifetime(None);
        let result = verifier(spec).verify(&token, NOW);
        // Anything may happen but a panic; and an accepted token has a sane expiry.
        if let Ok(v) = result {
            prop_assert!(v.expires_at() + 30 >= NOW);
        }
    }

    #[test]
    fn claims_seen_by_the_callers_type_match_the_verifiers_view(
        members in claim_members(),
    ) {
        // Differential: a verifier handing the caller a `Value` and one handing nothing must
        // agree on every token, and the `Value` must be exactly the claims set.
        let payload = format!("{{{}}}", members.iter().map(|(n, v)| format!("\"{n}\":{v}")).collect::<Vec<_>>().join(","));
        let token = hs(&payload);
        let spec = || TokenSpec::default().audience("game").issuer("auth");
        let plain = Verifier::<NoClaims>::new(both_keys(), spec()).unwrap();
        let value = Verifier::<Value>::new(both_keys(), spec()).unwrap();
        let a = plain.verify(&token, NOW).map(|_| ());
        let b = value.verify(&token, NOW);
        prop_assert_eq!(a, b.as_ref().map(|_| ()).map_err(|e| *e), "payload {}", payload);
        let mut names: Vec<String> = members.iter().map(|(n, _)| n.replace("\\u0065", "e")).collect();
        names.sort();
        let has_duplicates = names.windows(2).any(|w| w[0] == w[1]);
        if has_duplicates {
            prop_assert_eq!(a, Err(AuthError::TokenMalformed), "payload {}", payload);
        }
        if let Ok(v) = b {
            let expected: Value = serde_json::from_str(&payload).unwrap();
            prop_assert_eq!(v.into_claims(), expected);
        }
    }
}

/// The usual claims in a random order, plus up to four random members (possibly duplicates,
/// possibly of the wrong type).
fn claim_members() -> impl Strategy<Value = Vec<(String, String)>> {
    let base = vec![
        ("pid".to_owned(), r#""alice""#.to_owned()),
        ("sid".to_owned(), "7".to_owned()),
        ("iat".to_owned(), (NOW - 10).to_string()),
        ("exp".to_owned(), (NOW + 300).to_string()),
        ("aud".to_owned(), r#"["x","game"]"#.to_owned()),
        ("iss".to_owned(), r#""auth""#.to_owned()),
    ];
    let name = proptest::sample::select(vec![
        "exp",
        "iat",
        "nbf",
        "iss",
        "aud",
        "jti",
        "pid",
        "sid",
        "x",
        "y",
        "z",
        "\\u0065xp",
    ]);
    let value = proptest::sample::select(vec![
        "1700000300",
        "1699999990",
        "1700000031",
        r#""auth""#,
        r#""game""#,
        r#"["game"]"#,
        r#""g\u0061me""#,
        "42",
        "-1",
        "1.5",
        "null",
        "true",
        "{}",
        "[]",
        r#"{"k":[1,{"m":null}]}"#,
        r#""""#,
        r#""caf\u00e9""#,
    ]);
    let extra = proptest::collection::vec((name, value), 0..4);
    (Just(base).prop_shuffle(), extra).prop_map(|(mut base, extra)| {
        for (n, v) in extra {
            base.push((n.to_owned(), v.to_owned()));
        }
        base
    })
}
