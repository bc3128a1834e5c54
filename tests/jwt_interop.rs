//! Interoperability with independent implementations: the `jsonwebtoken` crate (both
//! directions, HS256 and EdDSA) and, across languages, PyJWT (`tests/interop/pyjwt_check.py`).

mod util;

use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use jwt_game_server::jwt::{LOGIN_TOKEN_TYPE, RESULT_TOKEN_TYPE};
use jwt_game_server::{Keys, NoClaims, Signer, TokenSpec, Verifier};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use util::*;

const ISS: &str = "auth.example";
const AUD: &str = "game-server";

/// Claims as the independent implementation sees them.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Claims {
    pid: Value,
    sid: Value,
    iss: String,
    aud: Value,
    iat: u64,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nick: Option<String>,
}

/// Extra claims our verifier hands to the game.
#[derive(Debug, Deserialize)]
struct Extra {
    nick: Option<String>,
}

fn spec() -> TokenSpec {
    TokenSpec::default().issuer(ISS).audience(AUD)
}

fn foreign_claims() -> Claims {
    Claims {
        pid: json!("alice"),
        sid: json!("room-1"),
        iss: ISS.into(),
        aud: json!([AUD, "other"]),
        iat: NOW - 5,
        exp: NOW + 600,
        jti: Some("jwt-crate-1".into()),
        nick: Some("Zoë".into()),
    }
}

/// PKCS#8 v1 DER of an Ed25519 seed (RFC 8410), as `jsonwebtoken` expects for signing.
/// A jsonwebtoken header for `alg` naming the HS256 test key.
fn hs_header(alg: jsonwebtoken::Algorithm) -> Header {
    Header {
        kid: Some(HS_KID.into()),
        ..Header::new(alg)
    }
}

/// `foreign_claims()` signed by the jsonwebtoken crate with the HS test secret under `header`.
fn hs_token(header: Header) -> String {
    jsonwebtoken::encode(
        &header,
        &foreign_claims(),
        &EncodingKey::from_secret(HS_SECRET),
    )
    .unwrap()
}

fn ed_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = unhex("302e020100300506032b657004220420");
    der.extend_from_slice(seed);
    der
}

fn our_claims() -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("pid".into(), json!("bob"));
    claims.insert("sid".into(), json!("room-7"));
    claims.insert("iss".into(), json!(ISS));
    claims.insert("aud".into(), json!(AUD));
    claims
}

/// `jsonwebtoken` validation of `alg`, with `exp` required but not compared to the wall
/// clock (the caller compares it to [`NOW`]).
fn validation(alg: jsonwebtoken::Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v.set_issuer(&[ISS]);
    v.set_audience(&[AUD]);
    v
}

// ---------------------------------------------------------------------------------------------
// jsonwebtoken → ours.
// ---------------------------------------------------------------------------------------------

#[test]
fn hs256_token_from_jsonwebtoken_verifies() {
    let token = hs_token(hs_header(jsonwebtoken::Algorithm::HS256));
    let verifier = Verifier::<Extra>::new(both_keys(), spec()).unwrap();
    let verified = verifier.verify(&token, NOW).unwrap();
    assert_eq!(verified.player(), "alice");
    assert_eq!(verified.session(), "room-1");
    assert_eq!(verified.issued_at(), Some(NOW - 5));
    assert_eq!(verified.expires_at(), NOW + 600);
    assert_eq!(verified.token_id(), Some("jwt-crate-1"));
    assert_eq!(verified.key_id(), Some(HS_KID));
    assert_eq!(verified.claims().nick.as_deref(), Some("Zoë"));
}

#[test]
fn hs256_token_from_jsonwebtoken_without_typ_or_kid_verifies_with_a_lone_key() {
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = None;
    let token = hs_token(header);
    let keys = Keys::new().with_hs256(None, HS_SECRET).unwrap();
    let verifier = Verifier::<NoClaims>::new(keys, spec()).unwrap();
    assert_eq!(verifier.verify(&token, NOW).unwrap().player(), "alice");
}

#[test]
fn eddsa_token_from_jsonwebtoken_verifies() {
    let header = Header {
        kid: Some(ED_KID.into()),
        ..Header::new(jsonwebtoken::Algorithm::EdDSA)
    };
    let key = EncodingKey::from_ed_der(&ed_pkcs8(&ED_SEED));
    let token = jsonwebtoken::encode(&header, &foreign_claims(), &key).unwrap();
    let verifier = Verifier::<Extra>::new(both_keys(), spec()).unwrap();
    let verified = verifier.verify(&token, NOW).unwrap();
    assert_eq!(verified.player(), "alice");
    assert_eq!(verified.key_id(), Some(ED_KID));
    assert_eq!(verified.claims().nick.as_deref(), Some("Zoë"));
}

#[test]
fn integer_ids_from_jsonwebtoken_are_normalised() {
    let claims = Claims {
        pid: json!(1_234_567_890_123u64),
        sid: json!(0),
        ..foreign_claims()
    };
    let header = Header {
        kid: Some(ED_KID.into()),
        ..Header::new(jsonwebtoken::Algorithm::EdDSA)
    };
    let key = EncodingKey::from_ed_der(&ed_pkcs8(&ED_SEED));
    let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let verified = verifier(spec()).verify(&token, NOW).unwrap();
    assert_eq!(verified.player(), "1234567890123");
    assert_eq!(verified.session(), "0");
}

#[test]
fn expired_jsonwebtoken_token_is_rejected_with_token_expired() {
    let token = hs_token(hs_header(jsonwebtoken::Algorithm::HS256));
    let err = verifier(spec()).verify(&token, NOW + 631).unwrap_err();
    assert_eq!(err.code(), "token_expired");
}

#[test]
fn jsonwebtoken_hs384_token_is_rejected_with_invalid_algorithm() {
    let token = hs_token(hs_header(jsonwebtoken::Algorithm::HS384));
    assert_eq!(
        err_code(verifier(spec()).verify(&token, NOW)),
        "invalid_algorithm"
    );
}

// ---------------------------------------------------------------------------------------------
// Ours → jsonwebtoken.
// ---------------------------------------------------------------------------------------------

fn decode_with_jsonwebtoken(
    token: &str,
    key: &DecodingKey,
    alg: jsonwebtoken::Algorithm,
) -> Claims {
    let data = jsonwebtoken::decode::<Claims>(token, key, &validation(alg)).unwrap();
    data.claims
}

#[test]
fn our_hs256_login_token_verifies_under_jsonwebtoken() {
    let signer = Signer::hs256("srv-hs", HS_SECRET).unwrap();
    let token = signer.sign(LOGIN_TOKEN_TYPE, our_claims(), NOW, 900);
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    assert_eq!(header.typ.as_deref(), Some(LOGIN_TOKEN_TYPE));
    assert_eq!(header.kid.as_deref(), Some("srv-hs"));
    let claims = decode_with_jsonwebtoken(
        &token,
        &DecodingKey::from_secret(HS_SECRET),
        jsonwebtoken::Algorithm::HS256,
    );
    assert_eq!(claims.pid, "bob");
    assert_eq!(claims.sid, "room-7");
    assert_eq!((claims.iat, claims.exp), (NOW, NOW + 900));
    assert!(claims.jti.is_some_and(|j| !j.is_empty()));
}

#[test]
fn our_eddsa_login_token_verifies_under_jsonwebtoken() {
    let signer = Signer::ed25519_from_seed("srv-ed", &ED_SEED).unwrap();
    let token = signer.sign(LOGIN_TOKEN_TYPE, our_claims(), NOW, 900);
    let key = DecodingKey::from_ed_der(&ed_public(&ED_SEED));
    let claims = decode_with_jsonwebtoken(&token, &key, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(claims.pid, "bob");
    assert_eq!((claims.iat, claims.exp), (NOW, NOW + 900));
}

#[test]
fn our_result_token_verifies_under_jsonwebtoken_with_our_public_jwk() {
    let signer = Signer::ed25519_from_seed("srv-ed", &ED_SEED).unwrap();
    let mut claims = our_claims();
    claims.insert("result".into(), json!({"rank": 1}));
    let token = signer.sign(RESULT_TOKEN_TYPE, claims, NOW, 86_400);
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().typ.as_deref(),
        Some(RESULT_TOKEN_TYPE)
    );
    // Our public JWK must be a JWK that an independent parser understands.
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(signer.public_jwk().expect("Ed25519 public JWK")).unwrap();
    let key = DecodingKey::from_jwk(&jwk).unwrap();
    let data =
        jsonwebtoken::decode::<Value>(&token, &key, &validation(jsonwebtoken::Algorithm::EdDSA))
            .unwrap();
    assert_eq!(data.claims["result"]["rank"], 1);
    assert_eq!(data.claims["exp"], NOW + 86_400);
}

#[test]
fn our_sign_raw_login_token_verifies_under_jsonwebtoken() {
    let signer = Signer::hs256("raw", HS_SECRET).unwrap();
    let payload = json!({"pid":"p","sid":"s","iss":ISS,"aud":AUD,"iat":NOW,"exp":NOW+60});
    let token = signer.sign_raw(
        br#"{"alg":"HS256","typ":"JWT"}"#,
        payload.to_string().as_bytes(),
    );
    let claims = decode_with_jsonwebtoken(
        &token,
        &DecodingKey::from_secret(HS_SECRET),
        jsonwebtoken::Algorithm::HS256,
    );
    assert_eq!(claims.pid, "p");
}

#[test]
fn jsonwebtoken_refuses_our_token_under_another_key() {
    let signer = Signer::ed25519_from_seed("srv-ed", &ED_SEED).unwrap();
    let token = signer.sign(LOGIN_TOKEN_TYPE, our_claims(), NOW, 900);
    let key = DecodingKey::from_ed_der(&ed_public(&OTHER_ED_SEED));
    let result =
        jsonwebtoken::decode::<Claims>(&token, &key, &validation(jsonwebtoken::Algorithm::EdDSA));
    assert!(result.is_err());
}

// ---------------------------------------------------------------------------------------------
// PyJWT (cross-language).
// ---------------------------------------------------------------------------------------------

const PY_SEED: [u8; 32] = [0x5a; 32];

/// True when running under CI (`CI` set to anything but empty, `0` or `false`).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Skips (outside CI) or fails (in CI) because PyJWT cannot run.
fn skip_or_fail(why: &str) {
    assert!(
        !in_ci(),
        "CI is set but the PyJWT interop check cannot run: {why} \
         (pip install pyjwt cryptography)"
    );
    eprintln!("skipping PyJWT interop: {why}");
}

/// A fresh directory under Cargo's per-target temp dir.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .trim()
        .to_owned()
}

#[test]
fn pyjwt_verifies_our_tokens_and_we_verify_pyjwt_tokens() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = manifest.join("tests/interop/pyjwt_check.py");
    assert!(script.is_file(), "{} exists", script.display());

    let probe = Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output();
    match probe {
        Err(e) => return skip_or_fail(&format!("python3 not runnable: {e}")),
        Ok(out) if !out.status.success() => {
            return skip_or_fail(&format!(
                "PyJWT or cryptography missing: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
        }
        Ok(_) => {}
    }

    let dir = fresh_dir("pyjwt-interop");
    let ttl = 600;
    let hs_signer = Signer::hs256(HS_KID, HS_SECRET).unwrap();
    let ed_signer = Signer::ed25519_from_seed(ED_KID, &ED_SEED).unwrap();
    let mut claims = our_claims();
    claims.insert("pid".into(), json!("carol"));
    claims.insert("sid".into(), json!("room-42"));
    let expected = json!({
        "now": NOW, "ttl": ttl, "pid": "carol", "sid": "room-42", "iss": ISS, "aud": AUD,
        "hs_kid": HS_KID, "ed_kid": ED_KID, "py_seed_hex": hex(&PY_SEED),
    });
    let files = [
        ("expected.json", expected.to_string()),
        ("hs256.secret.hex", hex(HS_SECRET)),
        (
            "rs_ed_public.jwk",
            ed_signer.public_jwk().expect("public JWK").to_string(),
        ),
        (
            "rs_hs256.jwt",
            hs_signer.sign(LOGIN_TOKEN_TYPE, claims.clone(), NOW, ttl),
        ),
        (
            "rs_eddsa.jwt",
            ed_signer.sign(LOGIN_TOKEN_TYPE, claims.clone(), NOW, ttl),
        ),
        (
            "rs_result.jwt",
            ed_signer.sign(RESULT_TOKEN_TYPE, claims, NOW, ttl),
        ),
    ];
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
    }

    let out = Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .current_dir(manifest)
        .output()
        .expect("python3 runs");
    if out.status.code() == Some(77) {
        let _ = std::fs::remove_dir_all(&dir);
        return skip_or_fail("pyjwt_check.py reports a missing module");
    }
    assert!(
        out.status.success(),
        "pyjwt_check.py failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // PyJWT → ours: the HS256 token under our shared secret, the EdDSA ones under the JWKS
    // PyJWT published.
    let py_keys = Keys::from_jwks_str(&read(&dir, "py_jwks.json")).unwrap();
    let keys = both_keys().merge(py_keys).unwrap();
    let verifier = Verifier::<NoClaims>::new(keys, spec()).unwrap();

    let hs = verifier.verify(&read(&dir, "py_hs256.jwt"), NOW).unwrap();
    assert_eq!((hs.player(), hs.session()), ("carol", "room-42"));
    assert_eq!(hs.key_id(), Some(HS_KID));
    assert_eq!(hs.token_id(), Some("py-1"));
    assert_eq!((hs.issued_at(), hs.expires_at()), (Some(NOW), NOW + ttl));

    let ed = verifier.verify(&read(&dir, "py_eddsa.jwt"), NOW).unwrap();
    assert_eq!(ed.player(), "carol");
    assert_eq!(ed.key_id(), Some("py-ed"));

    let ints = verifier.verify(&read(&dir, "py_int_ids.jwt"), NOW).unwrap();
    assert_eq!((ints.player(), ints.session()), ("4242", "7"));

    // PyJWT's unsigned token (`alg: none`, empty signature segment): refused before the
    // header is even read, because a segment is empty.
    let py_none = read(&dir, "py_none.jwt");
    assert!(
        py_none.ends_with('.'),
        "PyJWT's none token has no signature: {py_none}"
    );
    assert_eq!(err_code(verifier.verify(&py_none, NOW)), "token_malformed");
    // With a signature segment attached it gets as far as the algorithm check.
    let with_sig = format!("{py_none}{}", b64([0u8; 32]));
    assert_eq!(
        err_code(verifier.verify(&with_sig, NOW)),
        "invalid_algorithm"
    );

    // PyJWT's public key is its own: it must not verify under our Ed25519 key id.
    let py_ed = read(&dir, "py_eddsa.jwt");
    let [_, p, s] = segments(&py_ed);
    let relabelled = format!(
        "{}.{p}.{s}",
        b64(r#"{"alg":"EdDSA","typ":"JWT","kid":"ed1"}"#)
    );
    assert_eq!(
        err_code(verifier.verify(&relabelled, NOW)),
        "signature_invalid"
    );

    std::fs::remove_dir_all(&dir).unwrap();
}
