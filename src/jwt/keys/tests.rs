//! Key loading: small-order refusal, JWKS, PEM, duplicate kids, selection.

use super::*;

include!("../../../tests/data/ed25519_bad_keys.rs");

/// RFC 8037 A.1 public key.
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn small_order_ed25519_keys_are_refused() {
    for v in SMALL_ORDER {
        let e = Keys::new().with_ed25519(None, &hex(v)).unwrap_err();
        assert!(e.reason().contains("small order"), "{v}: {e}");
    }
    // The sign-flipped twins of the order-1 and order-2 points (x = 0, "negative").
    for v in [
        "0100000000000000000000000000000000000000000000000000000000000080",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ] {
        assert!(Keys::new().with_ed25519(None, &hex(v)).is_err(), "{v}");
    }
}

#[test]
fn non_canonical_ed25519_keys_are_refused() {
    for v in NON_CANONICAL {
        let e = Keys::new().with_ed25519(None, &hex(v)).unwrap_err();
        assert!(e.reason().contains("non-canonical"), "{v}: {e}");
    }
    let mut max = [0xffu8; 32];
    max[31] = 0x7f;
    assert!(Keys::new().with_ed25519(None, &max).is_err());
}

#[test]
fn a_real_ed25519_key_loads() {
    let x = base64url::decode(RFC8037_X.as_bytes()).unwrap();
    let keys = Keys::new().with_ed25519(Some("a"), &x).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(Keys::new().with_ed25519(None, &x[..31]).is_err());
}

#[test]
fn short_hs256_secrets_are_refused() {
    assert!(Keys::new().with_hs256(None, &[7; 31]).is_err());
    assert!(Keys::new().with_hs256(None, &[7; 32]).is_ok());
}

#[test]
fn duplicate_kids_are_refused() {
    let k = Keys::new().with_hs256(Some("a"), &[1; 32]).unwrap();
    assert!(k.clone().with_hs256(Some("a"), &[2; 32]).is_err());
    let k = k.with_hs256(None, &[2; 32]).unwrap();
    assert!(k.clone().with_hs256(None, &[3; 32]).is_err());
    let other = Keys::new().with_hs256(Some("a"), &[4; 32]).unwrap();
    assert!(k.merge(other).is_err());
}

#[test]
fn selection_by_kid() {
    let k = Keys::new()
        .with_hs256(Some("a"), &[1; 32])
        .unwrap()
        .with_hs256(Some("b"), &[2; 32])
        .unwrap();
    assert_eq!(k.select(Some("b")), Ok(1));
    assert_eq!(k.select(Some("c")), Err(AuthError::UnknownKey));
    assert_eq!(k.select(None), Err(AuthError::UnknownKey));
    let k = k.with_hs256(None, &[3; 32]).unwrap();
    assert_eq!(k.select(None), Ok(2));
    let single = Keys::new().with_hs256(Some("only"), &[1; 32]).unwrap();
    assert_eq!(single.select(None), Ok(0));
    assert_eq!(single.select(Some("other")), Err(AuthError::UnknownKey));
}

#[test]
fn jwks_loads_okp_and_oct_keys() {
    let jwks = format!(
        r#"{{"keys":[
            {{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}","kid":"ed","alg":"EdDSA","use":"sig"}},
            {{"kty":"oct","k":"{}","kid":"hs"}}
        ]}}"#,
        base64url::encode(&[9; 32])
    );
    let keys = Keys::from_jwks_str(&jwks).unwrap();
    let list: Vec<_> = keys.iter().collect();
    assert_eq!(
        list,
        [
            (Some("ed"), Algorithm::EdDSA),
            (Some("hs"), Algorithm::HS256)
        ]
    );
    let public = keys.public_jwks();
    assert_eq!(public["keys"].as_array().unwrap().len(), 1);
    assert_eq!(public["keys"][0]["x"], RFC8037_X);
    assert_eq!(public["keys"][0]["kid"], "ed");
    // Round trip through the published document.
    let again = Keys::from_jwks_str(&public.to_string()).unwrap();
    assert_eq!(again.len(), 1);
}

#[test]
fn jwks_errors_name_the_key() {
    let cases = [
        format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}","alg":"HS256"}}]}}"#),
        format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}","use":"enc"}}]}}"#),
        format!(r#"{{"keys":[{{"kty":"OKP","crv":"X25519","x":"{RFC8037_X}"}}]}}"#),
        r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#.to_owned(),
        r#"{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}"#.to_owned(),
        format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}="}}]}}"#),
        r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#
            .to_owned(),
    ];
    for c in &cases {
        let e = Keys::from_jwks_str(c).unwrap_err();
        assert_eq!(e.option(), "keys[0]", "{c}: {e}");
    }
    let dup = format!(
        r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}","kid":"a"}},{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}","kid":"a"}}]}}"#
    );
    assert_eq!(Keys::from_jwks_str(&dup).unwrap_err().option(), "keys[1]");
}

#[test]
fn single_jwk_is_accepted() {
    let jwk = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}","d":"ignored"}}"#);
    assert_eq!(Keys::from_jwks_str(&jwk).unwrap().len(), 1);
}

#[test]
fn pem_public_key_loads() {
    use base64::Engine as _;
    let mut der = ED25519_SPKI_PREFIX.to_vec();
    der.extend(base64url::decode(RFC8037_X.as_bytes()).unwrap());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n{}\n-----END PUBLIC KEY-----\n",
        &b64[..32],
        &b64[32..]
    );
    assert_eq!(Keys::new().with_ed25519_pem(None, &pem).unwrap().len(), 1);
    let bad = pem.replace("MCow", "MCox");
    assert!(Keys::new().with_ed25519_pem(None, &bad).is_err());
    assert!(Keys::new().with_ed25519_pem(None, "garbage").is_err());
}
