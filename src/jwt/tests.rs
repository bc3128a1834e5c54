//! Verifier tests: the RFC vectors, sign → verify round trips and one test per rule.

use crate::AuthError as E;
use crate::jwt::{Keys, NoClaims, RESULT_TOKEN_TYPE, Signer, TokenSpec, Verifier, base64url};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::time::Duration;

mod claims;

/// RFC 7515 A.1 (/work/shared/test-vectors/rfc-jws.json).
const RFC7515_K: &str =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
const RFC7515_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// RFC 8037 A.1 public key.
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

pub(super) const NOW: u64 = 1_700_000_000;
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

pub(super) fn hs() -> Signer {
    Signer::hs256("k1", SECRET).unwrap()
}

pub(super) fn verifier(spec: TokenSpec) -> Verifier {
    Verifier::new(hs().verification_keys(), spec).unwrap()
}

pub(super) fn good_claims() -> Value {
    json!({"pid": "player-1", "sid": "session-1", "iat": NOW, "exp": NOW + 600})
}

/// A token with exactly this header and payload JSON, signed by `signer`.
pub(super) fn raw(signer: &Signer, header: &str, payload: &str) -> String {
    signer.sign_raw(header.as_bytes(), payload.as_bytes())
}

pub(super) fn token(payload: &Value) -> String {
    raw(
        &hs(),
        r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#,
        &payload.to_string(),
    )
}

pub(super) fn with(f: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut c = good_claims();
    f(c.as_object_mut().unwrap());
    token(&c)
}

pub(super) fn err(v: &Verifier, t: &str) -> E {
    v.verify(t, NOW).unwrap_err()
}

#[test]
fn rfc7515_a1_hs256_example_verifies() {
    let k = base64url::decode(RFC7515_K.as_bytes()).unwrap();
    let keys = Keys::new().with_hs256(None, &k).unwrap();
    #[derive(Deserialize, Debug)]
    struct Root {
        #[serde(rename = "http://example.com/is_root")]
        is_root: bool,
    }
    // With the extra claim as player id: a boolean is not an id, so the claims were parsed.
    let spec = TokenSpec::default()
        .max_lifetime(None)
        .issuer("joe")
        .player_claim("http://example.com/is_root");
    let v: Verifier<Root> = Verifier::new(keys.clone(), spec).unwrap();
    assert_eq!(
        v.verify(RFC7515_TOKEN, 1_300_819_000).unwrap_err(),
        E::TokenMalformed
    );

    // Signature and claims with a spec whose ids the example lacks: only the id is missing.
    let v: Verifier<Root> = Verifier::new(
        keys.clone(),
        TokenSpec::default().max_lifetime(None).issuer("joe"),
    )
    .unwrap();
    assert_eq!(
        v.verify(RFC7515_TOKEN, 1_300_819_000).unwrap_err(),
        E::MissingClaim
    );
    assert_eq!(
        v.verify(RFC7515_TOKEN, 1_300_819_411).unwrap_err(),
        E::TokenExpired
    );

    // Re-sign the same header with the ids added, to see the whole path succeed.
    let signer = Signer::hs256("x", &k).unwrap();
    let t = raw(
        &signer,
        "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}",
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true,\"pid\":1,\"sid\":2}",
    );
    let ok = v.verify(&t, 1_300_819_000).unwrap();
    assert!(ok.claims().is_root);
    assert_eq!(ok.expires_at(), 1_300_819_380);

    // And the published signature itself is correct for the key.
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k),
        RFC7515_TOKEN.rsplit_once('.').unwrap().0.as_bytes(),
    );
    assert_eq!(
        base64url::encode(mac.as_ref()),
        RFC7515_TOKEN.rsplit_once('.').unwrap().1
    );
}

#[test]
fn rfc8037_a4_signature_verifies_with_the_published_key() {
    let jws = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    let x = base64url::decode(RFC8037_X.as_bytes()).unwrap();
    let keys = Keys::new().with_ed25519(None, &x).unwrap();
    let v: Verifier = Verifier::new(keys, TokenSpec::default()).unwrap();
    // The payload is not JSON: malformed, but only after the header and key checks passed.
    assert_eq!(v.verify(jws, 0).unwrap_err(), E::TokenMalformed);
    let (input, sig) = jws.rsplit_once('.').unwrap();
    let key = &v.keys().entries()[0];
    let sig = base64url::decode(sig.as_bytes()).unwrap();
    assert!(key.verify(input.as_bytes(), &sig).is_ok());
}

#[test]
fn ed25519_and_hs256_round_trips() {
    for signer in [Signer::generate_ed25519("ed").unwrap(), hs()] {
        let v: Verifier = Verifier::new(signer.verification_keys(), TokenSpec::default()).unwrap();
        let mut claims = Map::new();
        claims.insert("pid".into(), 42.into());
        claims.insert("sid".into(), "room-7".into());
        let t = signer.sign("JWT", claims, NOW, 300);
        let ok = v.verify(&t, NOW + 1).unwrap();
        assert_eq!(ok.player(), "42");
        assert_eq!(ok.session(), "room-7");
        assert_eq!(ok.issued_at(), Some(NOW));
        assert_eq!(ok.expires_at(), NOW + 300);
        assert_eq!(ok.key_id(), Some(signer.kid()));
        assert_eq!(ok.token_id().unwrap().len(), 22);
        assert_eq!(ok.tenant(), None);
        assert!(ok.permissions().is_empty());
    }
}

#[test]
fn size_and_segment_rules() {
    let v = verifier(TokenSpec::default().max_token_bytes(300));
    let t = token(&good_claims());
    assert!(v.verify(&t, NOW).is_ok());
    let big = with(|c| {
        c.insert("pad".into(), "x".repeat(300).into());
    });
    assert_eq!(err(&v, &big), E::TokenTooLarge);
    assert_eq!(err(&v, &"!".repeat(301)), E::TokenTooLarge);
    let (h, rest) = t.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    for bad in [
        String::new(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}."),
        format!("{h}.{p}.{s}.{s}"),
        format!(".{p}.{s}"),
        format!("{h}..{s}"),
        format!("{h}.{p}."),
        format!("{h}.{p}.{s}=="),
        format!("{h}=.{p}.{s}"),
        format!("{h} .{p}.{s}"),
        format!("{h}.{p}\n.{s}"),
        format!("{h}.{}+.{s}", &p[..p.len() - 1]),
    ] {
        assert_eq!(err(&v, &bad), E::TokenMalformed, "{bad}");
    }
}

#[test]
fn base64_trailing_bits_must_be_canonical() {
    let v = verifier(TokenSpec::default());
    let t = token(&good_claims());
    let (input, s) = t.rsplit_once('.').unwrap();
    // 32 bytes → 43 characters; the last carries 2 zero padding bits.
    let last = s.as_bytes()[42];
    let tweaked = match last {
        b'A' => 'B',
        b'E' => 'F',
        _ => (last + 1) as char,
    };
    let bad = format!("{input}.{}{tweaked}", &s[..42]);
    assert_eq!(err(&v, &bad), E::TokenMalformed);
}

#[test]
fn header_rules() {
    let v = verifier(TokenSpec::default());
    let s = hs();
    let p = good_claims().to_string();
    let case = |h: &str| err(&v, &raw(&s, h, &p));
    for alg in [
        "none", "None", "NONE", "RS256", "ES256", "hs256", "EdDSA", "",
    ] {
        assert_eq!(
            case(&format!(r#"{{"alg":"{alg}"}}"#)),
            E::InvalidAlgorithm,
            "{alg}"
        );
    }
    assert_eq!(case(r#"{"alg":null}"#), E::InvalidAlgorithm);
    assert_eq!(case(r#"{"alg":["HS256"]}"#), E::InvalidAlgorithm);
    assert_eq!(case(r#"{"typ":"JWT"}"#), E::InvalidAlgorithm);
    assert_eq!(case(r#"{"alg":"HS256","kid":"nope"}"#), E::UnknownKey);
    assert_eq!(case(r#"{"alg":"HS256","kid":1}"#), E::TokenMalformed);
    assert_eq!(case(r#"{"alg":"HS256","alg":"HS256"}"#), E::TokenMalformed);
    assert_eq!(case(r#"{"alg":"HS256","crit":[]}"#), E::TokenMalformed);
    assert_eq!(
        case(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#),
        E::TokenMalformed
    );
    assert_eq!(case(r#"{"alg":"HS256","b64":false}"#), E::TokenMalformed);
    assert_eq!(case(r#"["HS256"]"#), E::TokenMalformed);
    assert_eq!(case(r#"{"alg":"HS256"}{}"#), E::TokenMalformed);
    // Ignored, never followed.
    let ok = r#"{"alg":"HS256","jku":"https://evil","x5u":"https://evil","jwk":{"kty":"oct","k":"AA"},"x5c":["AA"],"b64":true}"#;
    assert!(v.verify(&raw(&s, ok, &p), NOW).is_ok());
    // typ: absent or JWT in any case for login tokens.
    for typ in [r#""JWT""#, r#""jwt""#, r#""Jwt""#] {
        let h = format!(r#"{{"alg":"HS256","typ":{typ}}}"#);
        assert!(v.verify(&raw(&s, &h, &p), NOW).is_ok(), "{typ}");
    }
    for typ in [r#""jgs-result+jwt""#, r#""at+jwt""#, "null", "1"] {
        let h = format!(r#"{{"alg":"HS256","typ":{typ}}}"#);
        assert_eq!(case(&h), E::WrongTokenType, "{typ}");
    }
    // Invalid UTF-8 in the header.
    let bad = format!(
        "{}.{}.{}",
        base64url::encode(b"{\"alg\":\"HS256\",\"x\":\"\xff\"}"),
        base64url::encode(p.as_bytes()),
        base64url::encode(&[0; 32])
    );
    assert_eq!(err(&v, &bad), E::TokenMalformed);
}

#[test]
fn result_tokens_never_log_in_and_login_tokens_are_not_results() {
    let signer = Signer::generate_ed25519("srv").unwrap();
    let mut c = Map::new();
    c.insert("pid".into(), "p".into());
    c.insert("sid".into(), "s".into());
    let result = signer.sign(RESULT_TOKEN_TYPE, c.clone(), NOW, 60);
    let login = signer.sign("JWT", c, NOW, 60);
    let keys = signer.verification_keys();
    let v: Verifier = Verifier::new(keys.clone(), TokenSpec::default()).unwrap();
    assert_eq!(v.verify(&result, NOW).unwrap_err(), E::WrongTokenType);
    assert!(v.verify(&login, NOW).is_ok());
    let r: Verifier = Verifier::for_results(keys, TokenSpec::default()).unwrap();
    assert!(r.is_for_results());
    assert!(r.verify(&result, NOW).is_ok());
    assert_eq!(r.verify(&login, NOW).unwrap_err(), E::WrongTokenType);
    // A login verifier with different keys still says wrong_token_type, not unknown_key.
    assert_eq!(
        verifier(TokenSpec::default())
            .verify(&result, NOW)
            .unwrap_err(),
        E::WrongTokenType
    );
}

#[test]
fn algorithm_confusion_with_the_public_key_as_hmac_secret_fails() {
    let ed = Signer::generate_ed25519("k").unwrap();
    let v: Verifier = Verifier::new(ed.verification_keys(), TokenSpec::default()).unwrap();
    let attacker = Signer::hs256("k", ed.public_key_bytes().unwrap()).unwrap();
    let forged = raw(
        &attacker,
        r#"{"alg":"HS256","kid":"k"}"#,
        &good_claims().to_string(),
    );
    assert_eq!(v.verify(&forged, NOW).unwrap_err(), E::InvalidAlgorithm);
    let forged = raw(
        &attacker,
        r#"{"alg":"EdDSA","kid":"k"}"#,
        &good_claims().to_string(),
    );
    assert_eq!(v.verify(&forged, NOW).unwrap_err(), E::SignatureInvalid);
}

#[test]
fn signature_rules() {
    let v = verifier(TokenSpec::default());
    let t = token(&good_claims());
    let (input, s) = t.rsplit_once('.').unwrap();
    assert_eq!(
        err(&v, &format!("{input}.{}", &s[..40])),
        E::SignatureInvalid
    );
    assert_eq!(err(&v, &format!("{input}.{s}AAA")), E::SignatureInvalid);
    assert_eq!(
        err(&v, &format!("{input}.{}", base64url::encode(&[0; 32]))),
        E::SignatureInvalid
    );
    let other = Signer::hs256("k1", &[9; 32]).unwrap();
    let forged = raw(
        &other,
        r#"{"alg":"HS256","kid":"k1"}"#,
        &good_claims().to_string(),
    );
    assert_eq!(err(&v, &forged), E::SignatureInvalid);
    // Payload changed after signing.
    let (h, rest) = t.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    let mut c = good_claims();
    c["pid"] = json!("admin");
    let swapped = format!("{h}.{}.{s}", base64url::encode(c.to_string().as_bytes()));
    assert_eq!(err(&v, &swapped), E::SignatureInvalid);
}

#[test]
fn ed25519_s_at_least_l_is_refused() {
    let ed = Signer::generate_ed25519("k").unwrap();
    let v: Verifier = Verifier::new(ed.verification_keys(), TokenSpec::default()).unwrap();
    let t = raw(
        &ed,
        r#"{"alg":"EdDSA","kid":"k"}"#,
        &good_claims().to_string(),
    );
    assert!(v.verify(&t, NOW).is_ok());
    let (input, s) = t.rsplit_once('.').unwrap();
    let mut sig = base64url::decode(s.as_bytes()).unwrap();
    // S += L (little-endian), the classic malleability; ring refuses S >= L.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    let t2 = format!("{input}.{}", base64url::encode(&sig));
    assert_eq!(v.verify(&t2, NOW).unwrap_err(), E::SignatureInvalid);
}

#[test]
fn key_selection_by_kid_across_a_key_set() {
    let a = Signer::hs256("a", &[1; 32]).unwrap();
    let b = Signer::generate_ed25519("b").unwrap();
    let keys = a.verification_keys().merge(b.verification_keys()).unwrap();
    let v: Verifier = Verifier::new(keys, TokenSpec::default()).unwrap();
    let c = good_claims().to_string();
    assert!(
        v.verify(&raw(&a, r#"{"alg":"HS256","kid":"a"}"#, &c), NOW)
            .is_ok()
    );
    assert!(
        v.verify(&raw(&b, r#"{"alg":"EdDSA","kid":"b"}"#, &c), NOW)
            .is_ok()
    );
    assert_eq!(
        v.verify(&raw(&a, r#"{"alg":"HS256","kid":"b"}"#, &c), NOW)
            .unwrap_err(),
        E::InvalidAlgorithm
    );
    assert_eq!(
        v.verify(&raw(&a, r#"{"alg":"HS256"}"#, &c), NOW)
            .unwrap_err(),
        E::UnknownKey
    );
    let ok = v
        .verify(&raw(&b, r#"{"alg":"EdDSA","kid":"b"}"#, &c), NOW)
        .unwrap();
    assert_eq!(ok.key_id(), Some("b"));
    // A single key answers a token without kid; key_id() reports the header (none).
    let single: Verifier = Verifier::new(a.verification_keys(), TokenSpec::default()).unwrap();
    let ok = single
        .verify(&raw(&a, r#"{"alg":"HS256"}"#, &c), NOW)
        .unwrap();
    assert_eq!(ok.key_id(), None);
}

#[test]
fn inconsistent_configuration_is_refused() {
    assert!(Verifier::<NoClaims>::new(Keys::new(), TokenSpec::default()).is_err());
    assert!(
        Verifier::<NoClaims>::new(
            hs().verification_keys(),
            TokenSpec::default().player_claim("sid")
        )
        .is_err()
    );
}

#[test]
fn verifier_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Verifier<NoClaims>>();
    check::<Signer>();
    check::<Keys>();
}

#[test]
fn known_header_encodings_and_the_full_parse_agree() {
    let v = verifier(TokenSpec::default());
    assert!(!v.headers.is_empty());
    let s = hs();
    let p = good_claims().to_string();
    for h in [
        r#"{"kid":"k1","typ":"JWT","alg":"HS256"}"#,
        r#"{"kid":"k1", "typ":"JWT","alg":"HS256"}"#,
        r#"{"typ":"JWT","alg":"HS256"}"#,
        r#"{"alg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"jwt"}"#,
    ] {
        let ok = v.verify(&raw(&s, h, &p), NOW).unwrap();
        assert_eq!(ok.key_id(), h.contains("kid").then_some("k1"), "{h}");
    }
    for (h, e) in [
        (
            r#"{"kid":"k1","typ":"JWT","alg":"EdDSA"}"#,
            E::InvalidAlgorithm,
        ),
        (r#"{"kid":"k2","typ":"JWT","alg":"HS256"}"#, E::UnknownKey),
        (
            r#"{"kid":"k1","typ":"JWS","alg":"HS256"}"#,
            E::WrongTokenType,
        ),
    ] {
        assert_eq!(v.verify(&raw(&s, h, &p), NOW).unwrap_err(), e, "{h}");
    }
    // A results verifier knows only headers with the result type.
    let r: Verifier =
        Verifier::for_results(hs().verification_keys(), TokenSpec::default()).unwrap();
    let h = format!(r#"{{"alg":"HS256","typ":"{RESULT_TOKEN_TYPE}","kid":"k1"}}"#);
    assert!(r.verify(&raw(&s, &h, &p), NOW).is_ok());
    assert_eq!(
        r.verify(&raw(&s, r#"{"alg":"HS256","kid":"k1"}"#, &p), NOW)
            .unwrap_err(),
        E::WrongTokenType
    );
}
