//! Shared helpers for the JWT integration tests.
//!
//! The builders here assemble header and payload JSON *by hand* (any bytes, duplicate keys,
//! odd whitespace) and sign with ring directly, so a test can produce a token that is
//! malformed but correctly signed: the verifier must then refuse it for the malformation,
//! not for the signature.
#![allow(dead_code, unreachable_pub, missing_docs)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jwt_game_server::{AuthError, Keys, NoClaims, TokenSpec, Verified, Verifier};
use ring::signature::{Ed25519KeyPair, KeyPair as _};

/// The fixed "current time" of every test (2023-11-14T22:13:20Z); never the wall clock.
pub const NOW: u64 = 1_700_000_000;

/// An HS256 secret of 43 bytes.
pub const HS_SECRET: &[u8] = b"integration-test-secret-0123456789abcdefghi";
/// The `kid` of the HS256 test key.
pub const HS_KID: &str = "hs1";

/// The seed of the Ed25519 test key.
pub const ED_SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x61,
];
/// The `kid` of the Ed25519 test key.
pub const ED_KID: &str = "ed1";

/// The seed of an Ed25519 key that the verifier does not know (the attacker's).
pub const OTHER_ED_SEED: [u8; 32] = [0x42; 32];

/// The order of the Ed25519 base point, little-endian.
pub const ED25519_L_LE: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// Base64url without padding (the JWS encoding).
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Standard base64 with padding (for PEM bodies).
pub fn b64_std(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// Decodes base64url without padding; panics on bad input (test constants only).
pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text)
        .expect("test constant is base64url")
}

/// Decodes hex; panics on bad input (test constants only).
pub fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("test constant is hex"))
        .collect()
}

/// HMAC-SHA256 of `data` under `secret`.
pub fn hmac_sha256(secret: &[u8], data: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::sign(&key, data).as_ref().to_vec()
}

/// The Ed25519 key pair of `seed`.
pub fn ed_pair(seed: &[u8; 32]) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(seed).expect("32-byte seed")
}

/// The Ed25519 public key of `seed`.
pub fn ed_public(seed: &[u8; 32]) -> [u8; 32] {
    let pair = ed_pair(seed);
    pair.public_key().as_ref().try_into().expect("32 bytes")
}

/// Ed25519 signature of `data` under `seed`.
pub fn ed_sign(seed: &[u8; 32], data: &[u8]) -> Vec<u8> {
    ed_pair(seed).sign(data).as_ref().to_vec()
}

/// `header_seg.payload_seg.<HMAC over exactly those two segment strings>`.
///
/// The segments are used as given, so they may be non-canonical, padded, contain whitespace…
pub fn sign_segments_hs(secret: &[u8], header_seg: &str, payload_seg: &str) -> String {
    let input = format!("{header_seg}.{payload_seg}");
    let sig = hmac_sha256(secret, input.as_bytes());
    format!("{input}.{}", b64(sig))
}

/// `header_seg.payload_seg.<Ed25519 over exactly those two segment strings>`.
pub fn sign_segments_ed(seed: &[u8; 32], header_seg: &str, payload_seg: &str) -> String {
    let input = format!("{header_seg}.{payload_seg}");
    let sig = ed_sign(seed, input.as_bytes());
    format!("{input}.{}", b64(sig))
}

/// An HS256-signed token from raw header and payload JSON text (any bytes, used verbatim).
pub fn hs_token(secret: &[u8], header_json: &str, payload_json: &str) -> String {
    sign_segments_hs(secret, &b64(header_json), &b64(payload_json))
}

/// An Ed25519-signed token from raw header and payload JSON text (used verbatim).
pub fn ed_token(seed: &[u8; 32], header_json: &str, payload_json: &str) -> String {
    sign_segments_ed(seed, &b64(header_json), &b64(payload_json))
}

/// The usual HS256 header with the test `kid`.
pub fn hs_header() -> String {
    format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{HS_KID}"}}"#)
}

/// The usual EdDSA header with the test `kid`.
pub fn ed_header() -> String {
    format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{ED_KID}"}}"#)
}

/// Valid login claims at [`NOW`]: `pid` alice, `sid` room-1, issued 10 s ago, 5 min left.
pub fn good_claims() -> String {
    format!(
        r#"{{"pid":"alice","sid":"room-1","iat":{},"exp":{}}}"#,
        NOW - 10,
        NOW + 300
    )
}

/// Valid login claims with extra members spliced in before the closing brace
/// (`extra` must start with a comma-less member list, e.g. `"iss":"x"`).
pub fn claims_with(extra: &str) -> String {
    format!(
        r#"{{"pid":"alice","sid":"room-1","iat":{},"exp":{},{extra}}}"#,
        NOW - 10,
        NOW + 300
    )
}

/// A valid HS256 login token with `payload_json` as claims.
pub fn hs(payload_json: &str) -> String {
    hs_token(HS_SECRET, &hs_header(), payload_json)
}

/// A valid EdDSA login token with `payload_json` as claims.
pub fn ed(payload_json: &str) -> String {
    ed_token(&ED_SEED, &ed_header(), payload_json)
}

/// The HS256 test key set (one key, `kid` [`HS_KID`]).
pub fn hs_keys() -> Keys {
    Keys::new()
        .with_hs256(Some(HS_KID), HS_SECRET)
        .expect("valid HS256 key")
}

/// The Ed25519 test key set (one key, `kid` [`ED_KID`]).
pub fn ed_keys() -> Keys {
    Keys::new()
        .with_ed25519(Some(ED_KID), &ed_public(&ED_SEED))
        .expect("valid Ed25519 key")
}

/// Both test keys.
pub fn both_keys() -> Keys {
    Keys::new()
        .with_hs256(Some(HS_KID), HS_SECRET)
        .and_then(|k| k.with_ed25519(Some(ED_KID), &ed_public(&ED_SEED)))
        .expect("valid keys")
}

/// A verifier over [`both_keys`] with `spec`.
pub fn verifier(spec: TokenSpec) -> Verifier {
    Verifier::new(both_keys(), spec).expect("valid verifier")
}

/// A verifier over [`both_keys`] with the default spec.
pub fn default_verifier() -> Verifier {
    verifier(TokenSpec::default())
}

/// Verifies `token` at [`NOW`] with the default spec and both test keys.
pub fn check(token: &str) -> Result<Verified<NoClaims>, AuthError> {
    default_verifier().verify(token, NOW)
}

/// The machine code of the error `result` must be (panics, naming the token, if it verified).
pub fn err_code<C>(result: Result<Verified<C>, AuthError>) -> &'static str {
    match result {
        Ok(_) => panic!("token verified but an error was expected"),
        Err(e) => e.code(),
    }
}

/// Splits a compact token into its three segments (panics if it has not three).
pub fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "token has three segments");
    [parts[0], parts[1], parts[2]]
}

/// Replaces the signature segment of `token` by base64url of `sig`.
pub fn with_signature(token: &str, sig: &[u8]) -> String {
    let [h, p, _] = segments(token);
    format!("{h}.{p}.{}", b64(sig))
}

/// The same bytes as `segment` encodes, but with a non-zero unused trailing bit in the last
/// character (a lenient decoder yields the same bytes). Needs `segment.len() % 4` of 2 or 3.
pub fn non_canonical(segment: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let unused_bits = match segment.len() % 4 {
        2 => 4,
        3 => 2,
        n => panic!("segment length ≡ {n} (mod 4) has no unused bits"),
    };
    let last = *segment.as_bytes().last().expect("non-empty segment");
    let index = ALPHABET
        .iter()
        .position(|&c| c == last)
        .expect("base64url character");
    assert_eq!(index & ((1 << unused_bits) - 1), 0, "input is canonical");
    let mut out = segment[..segment.len() - 1].to_owned();
    out.push(ALPHABET[index | 1] as char);
    out
}

/// Adds the group order L to the S half of an Ed25519 signature (little-endian), giving an
/// S ≥ L that encodes the "same" scalar mod L: a malleated signature a strict verifier refuses.
pub fn add_l_to_s(sig: &[u8]) -> Vec<u8> {
    assert_eq!(sig.len(), 64);
    let mut out = sig.to_vec();
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(out[32 + i]) + u16::from(ED25519_L_LE[i]) + carry;
        out[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + L fits in 256 bits");
    out
}

/// An SPKI PEM document for an Ed25519 public key.
pub fn ed_public_pem(public_key: &[u8]) -> String {
    let mut der = unhex("302a300506032b6570032100");
    der.extend_from_slice(public_key);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64_std(der)
    )
}
