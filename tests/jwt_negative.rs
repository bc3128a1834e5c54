//! Named negative cases: every rule of DESIGN.md §5, each asserting the exact error code.
//!
//! Unless a test says otherwise, a token here is correctly signed (by the helpers in
//! `util`, which sign exactly the segment text they are given) and has exactly one defect,
//! so the code asserted is the one for that defect.

mod util;

use jwt_game_server::jwt::RESULT_TOKEN_TYPE;
use jwt_game_server::{Keys, NoClaims, Signer, TokenSpec, Verifier};
use std::time::Duration;
use util::*;

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/// Asserts that `token` fails with `code` under the default spec and both test keys.
#[track_caller]
fn assert_rejected(token: &str, code: &str) {
    assert_eq!(err_code(check(token)), code, "token: {token}");
}

/// Asserts that `token` fails with `code` under `spec` and both test keys.
#[track_caller]
fn assert_rejected_with(spec: TokenSpec, token: &str, code: &str) {
    assert_eq!(
        err_code(verifier(spec).verify(token, NOW)),
        code,
        "token: {token}"
    );
}

/// Asserts that `token` verifies under `spec` and both test keys.
#[track_caller]
fn assert_accepted_with(spec: TokenSpec, token: &str) {
    if let Err(e) = verifier(spec).verify(token, NOW) {
        panic!("expected the token to verify, got {e}: {token}");
    }
}

/// `json` with spaces inserted after the opening brace so that its base64url length is
/// `≡ m (mod 4)` (`m` is 0, 2 or 3).
fn spaced_to_mod(json: &str, m: usize) -> String {
    assert!(json.starts_with('{'));
    let mut out = json.to_owned();
    for _ in 0..4 {
        if b64(&out).len() % 4 == m {
            return out;
        }
        out.insert(1, ' ');
    }
    panic!("no spacing of {json} gives length ≡ {m} (mod 4)");
}

/// `segment` with `=` padding up to a multiple of four characters (needs some to add).
fn padded(segment: &str) -> String {
    let pad = (4 - segment.len() % 4) % 4;
    assert!(pad > 0, "segment is already a multiple of four");
    format!("{segment}{}", "=".repeat(pad))
}

/// An HS256 token whose header and payload segments are given as text (signed as given).
fn hs_segments(header_seg: &str, payload_seg: &str) -> String {
    sign_segments_hs(HS_SECRET, header_seg, payload_seg)
}

/// The default claims with `exp` replaced by the raw JSON `exp`.
fn claims_with_exp(exp: &str) -> String {
    format!(
        r#"{{"pid":"alice","sid":"room-1","iat":{},"exp":{exp}}}"#,
        NOW - 10
    )
}

/// Claims with the given times (`None` leaves the claim out) and the default ids.
fn claims_at(iat: Option<u64>, nbf: Option<u64>, exp: u64) -> String {
    let mut out = String::from(r#"{"pid":"alice","sid":"room-1""#);
    if let Some(iat) = iat {
        out.push_str(&format!(r#","iat":{iat}"#));
    }
    if let Some(nbf) = nbf {
        out.push_str(&format!(r#","nbf":{nbf}"#));
    }
    out.push_str(&format!(r#","exp":{exp}}}"#));
    out
}

/// An HS256 token whose signature segment contains `c` (`-` or `_`): varies a nonce claim.
fn hs_token_whose_signature_contains(c: char) -> String {
    (0..10_000)
        .map(|n| hs(&claims_with(&format!(r#""n":{n}"#))))
        .find(|t| segments(t)[2].contains(c))
        .expect("some nonce yields the character")
}

fn iss_spec() -> TokenSpec {
    TokenSpec::default().issuer("game-auth")
}

fn aud_spec() -> TokenSpec {
    TokenSpec::default().audience("game-server")
}

// ---------------------------------------------------------------------------------------------
// Sanity: the untouched tokens verify, so every rejection below is due to its defect.
// ---------------------------------------------------------------------------------------------

#[test]
fn baseline_hs256_and_eddsa_tokens_verify() {
    assert_eq!(check(&hs(&good_claims())).unwrap().player(), "alice");
    assert_eq!(check(&ed(&good_claims())).unwrap().session(), "room-1");
    let unpadded = spaced_to_mod(&hs_header(), 3);
    assert!(check(&hs_token(HS_SECRET, &unpadded, &good_claims())).is_ok());
}

// ---------------------------------------------------------------------------------------------
// `alg`.
// ---------------------------------------------------------------------------------------------

#[test]
fn alg_none_lowercase_is_rejected_with_invalid_algorithm() {
    let token = hs_token(HS_SECRET, r#"{"alg":"none","kid":"hs1"}"#, &good_claims());
    assert_rejected(&token, "invalid_algorithm");
}

#[test]
fn alg_none_capitalised_is_rejected_with_invalid_algorithm() {
    let token = hs_token(HS_SECRET, r#"{"alg":"None","kid":"hs1"}"#, &good_claims());
    assert_rejected(&token, "invalid_algorithm");
}

#[test]
fn alg_none_uppercase_is_rejected_with_invalid_algorithm() {
    let token = hs_token(HS_SECRET, r#"{"alg":"NONE","kid":"hs1"}"#, &good_claims());
    assert_rejected(&token, "invalid_algorithm");
}

#[test]
fn alg_none_with_empty_signature_is_rejected_with_token_malformed() {
    // The classic unsigned token: `header.payload.` against a single key without kid. Empty
    // segments are refused before the header is read (verify module docs, step 2).
    let keys = Keys::new().with_hs256(None, HS_SECRET).unwrap();
    let verifier = Verifier::<NoClaims>::new(keys, TokenSpec::default()).unwrap();
    let token = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(good_claims()));
    assert_eq!(err_code(verifier.verify(&token, NOW)), "token_malformed");
}

#[test]
fn alg_none_without_kid_against_a_single_ed25519_key_is_rejected_with_invalid_algorithm() {
    let keys = Keys::new()
        .with_ed25519(None, &ed_public(&ED_SEED))
        .unwrap();
    let verifier = Verifier::<NoClaims>::new(keys, TokenSpec::default()).unwrap();
    let token = ed_token(&ED_SEED, r#"{"alg":"none"}"#, &good_claims());
    assert_eq!(err_code(verifier.verify(&token, NOW)), "invalid_algorithm");
}

#[test]
fn hs256_signed_with_the_ed25519_public_key_as_secret_is_rejected_with_invalid_algorithm() {
    // The classic key confusion: the attacker knows the public key and uses its bytes as the
    // HMAC secret, naming the Ed25519 key's kid.
    let public = ed_public(&ED_SEED);
    let token = hs_token(&public, r#"{"alg":"HS256","kid":"ed1"}"#, &good_claims());
    assert_rejected(&token, "invalid_algorithm");
}

#[test]
fn hs256_with_public_key_secret_and_no_kid_against_a_lone_ed25519_key_is_invalid_algorithm() {
    let public = ed_public(&ED_SEED);
    let keys = Keys::new().with_ed25519(None, &public).unwrap();
    let verifier = Verifier::<NoClaims>::new(keys, TokenSpec::default()).unwrap();
    let token = hs_token(&public, r#"{"alg":"HS256","typ":"JWT"}"#, &good_claims());
    assert_eq!(err_code(verifier.verify(&token, NOW)), "invalid_algorithm");
}

#[test]
fn hs256_with_the_public_key_text_or_pem_as_secret_is_rejected_with_invalid_algorithm() {
    let public = ed_public(&ED_SEED);
    for secret in [b64(public), ed_public_pem(&public)] {
        let token = hs_token(
            secret.as_bytes(),
            r#"{"alg":"HS256","kid":"ed1"}"#,
            &good_claims(),
        );
        assert_rejected(&token, "invalid_algorithm");
    }
}

#[test]
fn eddsa_header_against_an_hs256_key_is_rejected_with_invalid_algorithm() {
    let token = ed_token(&ED_SEED, r#"{"alg":"EdDSA","kid":"hs1"}"#, &good_claims());
    assert_rejected(&token, "invalid_algorithm");
}

#[test]
fn rs256_is_rejected_with_invalid_algorithm() {
    let token = hs_token(HS_SECRET, r#"{"alg":"RS256","kid":"hs1"}"#, &good_claims());
    assert_rejected(&token, "invalid_algorithm");
}

#[test]
fn es256_is_rejected_with_invalid_algorithm() {
    let token = ed_token(&ED_SEED, r#"{"alg":"ES256","kid":"ed1"}"#, &good_claims());
    assert_rejected(&token, "invalid_algorithm");
}

#[test]
fn other_hmac_algorithms_are_rejected_with_invalid_algorithm() {
    for alg in ["HS384", "HS512", "PS256", "Ed25519", "ED25519"] {
        let header = format!(r#"{{"alg":"{alg}","kid":"hs1"}}"#);
        assert_rejected(
            &hs_token(HS_SECRET, &header, &good_claims()),
            "invalid_algorithm",
        );
    }
}

#[test]
fn alg_in_the_wrong_case_is_rejected_with_invalid_algorithm() {
    let hs = hs_token(HS_SECRET, r#"{"alg":"hs256","kid":"hs1"}"#, &good_claims());
    assert_rejected(&hs, "invalid_algorithm");
    let ed = ed_token(&ED_SEED, r#"{"alg":"eddsa","kid":"ed1"}"#, &good_claims());
    assert_rejected(&ed, "invalid_algorithm");
}

#[test]
fn alg_with_trailing_space_is_rejected_with_invalid_algorithm() {
    let token = hs_token(HS_SECRET, r#"{"alg":"HS256 ","kid":"hs1"}"#, &good_claims());
    assert_rejected(&token, "invalid_algorithm");
}

#[test]
fn alg_missing_is_rejected_with_invalid_algorithm() {
    let token = hs_token(HS_SECRET, r#"{"typ":"JWT","kid":"hs1"}"#, &good_claims());
    assert_rejected(&token, "invalid_algorithm");
}

#[test]
fn alg_not_a_string_is_rejected_with_invalid_algorithm() {
    for alg in ["256", "null", "true", r#"["HS256"]"#, r#"{"name":"HS256"}"#] {
        let header = format!(r#"{{"alg":{alg},"kid":"hs1"}}"#);
        assert_rejected(
            &hs_token(HS_SECRET, &header, &good_claims()),
            "invalid_algorithm",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Strict base64url.
// ---------------------------------------------------------------------------------------------

#[test]
fn padding_in_the_header_segment_is_rejected_with_token_malformed() {
    let header = b64(spaced_to_mod(&hs_header(), 2));
    let token = hs_segments(&padded(&header), &b64(good_claims()));
    assert_rejected(&token, "token_malformed");
}

#[test]
fn padding_in_the_payload_segment_is_rejected_with_token_malformed() {
    let payload = b64(spaced_to_mod(&good_claims(), 3));
    let token = hs_segments(&b64(hs_header()), &padded(&payload));
    assert_rejected(&token, "token_malformed");
}

#[test]
fn padding_in_the_hs256_signature_segment_is_rejected_with_token_malformed() {
    let token = hs(&good_claims());
    let [h, p, s] = segments(&token);
    assert_rejected(&format!("{h}.{p}.{}", padded(s)), "token_malformed");
}

#[test]
fn padding_in_the_eddsa_signature_segment_is_rejected_with_token_malformed() {
    let token = ed(&good_claims());
    let [h, p, s] = segments(&token);
    assert_rejected(&format!("{h}.{p}.{}", padded(s)), "token_malformed");
}

#[test]
fn plus_from_the_standard_alphabet_in_the_payload_is_rejected_with_token_malformed() {
    let payload = b64(claims_with(r#""x":"~~~~~~~~""#));
    assert!(payload.contains('-'));
    let token = hs_segments(&b64(hs_header()), &payload.replace('-', "+"));
    assert_rejected(&token, "token_malformed");
}

#[test]
fn slash_from_the_standard_alphabet_in_the_payload_is_rejected_with_token_malformed() {
    let payload = b64(claims_with(r#""x":"????????""#));
    assert!(payload.contains('_'));
    let token = hs_segments(&b64(hs_header()), &payload.replace('_', "/"));
    assert_rejected(&token, "token_malformed");
}

#[test]
fn standard_alphabet_in_the_header_is_rejected_with_token_malformed() {
    let header = b64(r#"{"alg":"HS256","kid":"hs1","x":"~~~~~~??????"}"#);
    assert!(header.contains('-') && header.contains('_'));
    let token = hs_segments(
        &header.replace('-', "+").replace('_', "/"),
        &b64(good_claims()),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn plus_in_the_signature_segment_is_rejected_with_token_malformed() {
    let token = hs_token_whose_signature_contains('-');
    let [h, p, s] = segments(&token);
    assert_rejected(
        &format!("{h}.{p}.{}", s.replace('-', "+")),
        "token_malformed",
    );
}

#[test]
fn slash_in_the_signature_segment_is_rejected_with_token_malformed() {
    let token = hs_token_whose_signature_contains('_');
    let [h, p, s] = segments(&token);
    assert_rejected(
        &format!("{h}.{p}.{}", s.replace('_', "/")),
        "token_malformed",
    );
}

#[test]
fn space_inside_the_payload_segment_is_rejected_with_token_malformed() {
    let payload = b64(good_claims());
    let token = hs_segments(
        &b64(hs_header()),
        &format!("{} {}", &payload[..8], &payload[8..]),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn newline_inside_the_header_segment_is_rejected_with_token_malformed() {
    let header = b64(hs_header());
    let token = hs_segments(
        &format!("{}\n{}", &header[..4], &header[4..]),
        &b64(good_claims()),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn crlf_inside_the_signature_segment_is_rejected_with_token_malformed() {
    let token = ed(&good_claims());
    let [h, p, s] = segments(&token);
    assert_rejected(
        &format!("{h}.{p}.{}\r\n{}", &s[..40], &s[40..]),
        "token_malformed",
    );
}

#[test]
fn whitespace_around_the_token_is_rejected_with_token_malformed() {
    let token = hs(&good_claims());
    for t in [
        format!(" {token}"),
        format!("{token}\n"),
        format!("{token} "),
        format!("\t{token}"),
    ] {
        assert_rejected(&t, "token_malformed");
    }
}

#[test]
fn characters_outside_base64url_are_rejected_with_token_malformed() {
    let token = hs(&good_claims());
    let [h, p, s] = segments(&token);
    for bad in ["*", "%", "é", "\0", "!"] {
        let token = hs_segments(h, &format!("{}{bad}{}", &p[..12], &p[12..]));
        assert_rejected(&token, "token_malformed");
        assert_rejected(&format!("{h}.{p}.{}{bad}", &s[..42]), "token_malformed");
    }
}

#[test]
fn non_canonical_trailing_bits_in_the_header_are_rejected_with_token_malformed() {
    for m in [2, 3] {
        let header = b64(spaced_to_mod(&hs_header(), m));
        let token = hs_segments(&non_canonical(&header), &b64(good_claims()));
        assert_rejected(&token, "token_malformed");
    }
}

#[test]
fn non_canonical_trailing_bits_in_the_payload_are_rejected_with_token_malformed() {
    for m in [2, 3] {
        let payload = b64(spaced_to_mod(&good_claims(), m));
        let token = hs_segments(&b64(hs_header()), &non_canonical(&payload));
        assert_rejected(&token, "token_malformed");
    }
}

#[test]
fn non_canonical_trailing_bits_in_the_hs256_signature_are_rejected_with_token_malformed() {
    // 32 bytes → 43 characters, 2 unused bits: a lenient decoder yields the valid MAC.
    let token = hs(&good_claims());
    let [h, p, s] = segments(&token);
    assert_rejected(&format!("{h}.{p}.{}", non_canonical(s)), "token_malformed");
}

#[test]
fn non_canonical_trailing_bits_in_the_eddsa_signature_are_rejected_with_token_malformed() {
    // 64 bytes → 86 characters, 4 unused bits: a lenient decoder yields the valid signature.
    let token = ed(&good_claims());
    let [h, p, s] = segments(&token);
    assert_rejected(&format!("{h}.{p}.{}", non_canonical(s)), "token_malformed");
}

#[test]
fn payload_segment_of_length_one_mod_four_is_rejected_with_token_malformed() {
    let payload = b64(spaced_to_mod(&good_claims(), 0));
    let token = hs_segments(&b64(hs_header()), &format!("{payload}A"));
    assert_rejected(&token, "token_malformed");
}

#[test]
fn header_segment_of_length_one_mod_four_is_rejected_with_token_malformed() {
    let header = b64(spaced_to_mod(&hs_header(), 0));
    let token = hs_segments(&format!("{header}e"), &b64(good_claims()));
    assert_rejected(&token, "token_malformed");
}

#[test]
fn signature_segment_of_length_one_mod_four_is_rejected_with_token_malformed() {
    let token = hs(&good_claims());
    let [h, p, s] = segments(&token);
    assert_eq!(s.len(), 43);
    assert_rejected(&format!("{h}.{p}.{s}AA"), "token_malformed");
}

// ---------------------------------------------------------------------------------------------
// Segments.
// ---------------------------------------------------------------------------------------------

#[test]
fn two_segments_are_rejected_with_token_malformed() {
    let token = hs(&good_claims());
    let [h, p, _] = segments(&token);
    assert_rejected(&format!("{h}.{p}"), "token_malformed");
}

#[test]
fn four_segments_are_rejected_with_token_malformed() {
    let token = hs(&good_claims());
    let [_, _, s] = segments(&token);
    assert_rejected(&format!("{token}.{s}"), "token_malformed");
    assert_rejected(&format!("{token}."), "token_malformed");
}

#[test]
fn five_segments_jwe_shape_is_rejected_with_token_malformed() {
    let token = hs(&good_claims());
    let [h, p, s] = segments(&token);
    assert_rejected(&format!("{h}.{p}.{s}.{p}.{s}"), "token_malformed");
}

#[test]
fn one_segment_is_rejected_with_token_malformed() {
    assert_rejected(&b64(good_claims()), "token_malformed");
}

#[test]
fn empty_header_segment_is_rejected_with_token_malformed() {
    assert_rejected(&hs_segments("", &b64(good_claims())), "token_malformed");
}

#[test]
fn empty_payload_segment_is_rejected_with_token_malformed() {
    assert_rejected(&hs_segments(&b64(hs_header()), ""), "token_malformed");
}

#[test]
fn empty_signature_segment_is_rejected_with_token_malformed() {
    let token = hs(&good_claims());
    let [h, p, _] = segments(&token);
    assert_rejected(&format!("{h}.{p}."), "token_malformed");
}

#[test]
fn only_dots_are_rejected_with_token_malformed() {
    assert_rejected("..", "token_malformed");
    assert_rejected("...", "token_malformed");
}

// ---------------------------------------------------------------------------------------------
// Header JSON.
// ---------------------------------------------------------------------------------------------

#[test]
fn header_that_is_an_array_is_rejected_with_token_malformed() {
    let token = hs_token(HS_SECRET, r#"["alg","HS256"]"#, &good_claims());
    assert_rejected(&token, "token_malformed");
}

#[test]
fn header_that_is_a_string_is_rejected_with_token_malformed() {
    let token = hs_token(HS_SECRET, r#""HS256""#, &good_claims());
    assert_rejected(&token, "token_malformed");
}

#[test]
fn header_that_is_a_number_or_null_is_rejected_with_token_malformed() {
    for header in ["256", "null", "true"] {
        assert_rejected(
            &hs_token(HS_SECRET, header, &good_claims()),
            "token_malformed",
        );
    }
}

#[test]
fn header_that_is_not_json_is_rejected_with_token_malformed() {
    for header in [
        r#"{"alg":"HS256","kid":"hs1""#,
        r#"{"alg":"HS256","kid":"hs1"} x"#,
        r#"{"alg":"HS256","kid":"hs1"}{}"#,
        r#"{alg:"HS256",kid:"hs1"}"#,
        "\u{feff}{\"alg\":\"HS256\",\"kid\":\"hs1\"}",
    ] {
        assert_rejected(
            &hs_token(HS_SECRET, header, &good_claims()),
            "token_malformed",
        );
    }
}

#[test]
fn header_that_is_not_utf8_is_rejected_with_token_malformed() {
    let mut header = br#"{"alg":"HS256","kid":"hs1","x":""#.to_vec();
    header.extend_from_slice(&[0xff, 0xfe]);
    header.extend_from_slice(br#""}"#);
    assert_rejected(
        &hs_segments(&b64(header), &b64(good_claims())),
        "token_malformed",
    );
}

#[test]
fn duplicate_alg_in_the_header_is_rejected_with_token_malformed() {
    let token = hs_token(
        HS_SECRET,
        r#"{"alg":"HS256","alg":"HS256","kid":"hs1"}"#,
        &good_claims(),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn duplicate_alg_none_then_hs256_is_rejected_with_token_malformed() {
    let token = hs_token(
        HS_SECRET,
        r#"{"alg":"none","kid":"hs1","alg":"HS256"}"#,
        &good_claims(),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn duplicate_kid_in_the_header_is_rejected_with_token_malformed() {
    let token = hs_token(
        HS_SECRET,
        r#"{"alg":"HS256","kid":"hs1","kid":"ed1"}"#,
        &good_claims(),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn duplicate_typ_in_the_header_is_rejected_with_token_malformed() {
    let header =
        format!(r#"{{"alg":"HS256","typ":"JWT","kid":"hs1","typ":"{RESULT_TOKEN_TYPE}"}}"#);
    assert_rejected(
        &hs_token(HS_SECRET, &header, &good_claims()),
        "token_malformed",
    );
}

#[test]
fn duplicate_header_name_spelled_with_an_escape_is_rejected_with_token_malformed() {
    // `\u0061lg` is `alg`: the same member name after JSON decoding.
    let token = hs_token(
        HS_SECRET,
        r#"{"alg":"HS256","\u0061lg":"none","kid":"hs1"}"#,
        &good_claims(),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn duplicate_unknown_header_name_is_rejected_with_token_malformed() {
    let token = hs_token(
        HS_SECRET,
        r#"{"alg":"HS256","kid":"hs1","x":1,"x":2}"#,
        &good_claims(),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn crit_naming_exp_is_rejected_with_token_malformed() {
    let token = hs_token(
        HS_SECRET,
        r#"{"alg":"HS256","kid":"hs1","crit":["exp"],"exp":1}"#,
        &good_claims(),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn crit_empty_array_is_rejected_with_token_malformed() {
    let token = hs_token(
        HS_SECRET,
        r#"{"alg":"HS256","kid":"hs1","crit":[]}"#,
        &good_claims(),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn crit_of_the_wrong_type_is_rejected_with_token_malformed() {
    for crit in [r#""exp""#, "null", "{}", "[1]"] {
        let header = format!(r#"{{"alg":"HS256","kid":"hs1","crit":{crit}}}"#);
        assert_rejected(
            &hs_token(HS_SECRET, &header, &good_claims()),
            "token_malformed",
        );
    }
}

#[test]
fn b64_false_is_rejected_with_token_malformed() {
    let token = hs_token(
        HS_SECRET,
        r#"{"alg":"HS256","kid":"hs1","b64":false,"crit":["b64"]}"#,
        &good_claims(),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn b64_false_without_crit_is_rejected_with_token_malformed() {
    let token = hs_token(
        HS_SECRET,
        r#"{"alg":"HS256","kid":"hs1","b64":false}"#,
        &good_claims(),
    );
    assert_rejected(&token, "token_malformed");
}

#[test]
fn embedded_jwk_header_is_not_followed_and_is_rejected_with_signature_invalid() {
    // The attacker signs with their own key and ships its public half in `jwk`.
    let attacker = b64(ed_public(&OTHER_ED_SEED));
    let header = format!(
        r#"{{"alg":"EdDSA","kid":"ed1","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{attacker}"}}}}"#
    );
    assert_rejected(
        &ed_token(&OTHER_ED_SEED, &header, &good_claims()),
        "signature_invalid",
    );
}

#[test]
fn jku_and_x5u_headers_are_not_followed_and_are_rejected_with_signature_invalid() {
    for member in [
        r#""jku":"https://evil.example/jwks.json""#,
        r#""x5u":"https://evil.example/cert.pem""#,
    ] {
        let header = format!(r#"{{"alg":"EdDSA","kid":"ed1",{member}}}"#);
        assert_rejected(
            &ed_token(&OTHER_ED_SEED, &header, &good_claims()),
            "signature_invalid",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// `typ`.
// ---------------------------------------------------------------------------------------------

#[test]
fn result_token_type_used_to_log_in_is_rejected_with_wrong_token_type() {
    let header = format!(r#"{{"alg":"HS256","typ":"{RESULT_TOKEN_TYPE}","kid":"hs1"}}"#);
    assert_rejected(
        &hs_token(HS_SECRET, &header, &good_claims()),
        "wrong_token_type",
    );
}

#[test]
fn result_token_from_the_signer_used_to_log_in_is_rejected_with_wrong_token_type() {
    let signer = Signer::ed25519_from_seed(ED_KID, &ED_SEED).unwrap();
    let mut claims = serde_json::Map::new();
    claims.insert("pid".into(), "alice".into());
    claims.insert("sid".into(), "room-1".into());
    let token = signer.sign(RESULT_TOKEN_TYPE, claims, NOW, 60);
    assert_rejected(&token, "wrong_token_type");
}

#[test]
fn unknown_typ_is_rejected_with_wrong_token_type() {
    for typ in ["at+jwt", "JWS", "jgs-result", ""] {
        let header = format!(r#"{{"alg":"HS256","typ":"{typ}","kid":"hs1"}}"#);
        assert_rejected(
            &hs_token(HS_SECRET, &header, &good_claims()),
            "wrong_token_type",
        );
    }
}

#[test]
fn typ_not_a_string_is_rejected_with_wrong_token_type() {
    for typ in ["null", "1", r#"["JWT"]"#] {
        let header = format!(r#"{{"alg":"HS256","typ":{typ},"kid":"hs1"}}"#);
        assert_rejected(
            &hs_token(HS_SECRET, &header, &good_claims()),
            "wrong_token_type",
        );
    }
}

#[test]
fn typ_is_compared_ignoring_ascii_case() {
    let token = hs_token(
        HS_SECRET,
        r#"{"alg":"HS256","typ":"jwt","kid":"hs1"}"#,
        &good_claims(),
    );
    assert_eq!(check(&token).unwrap().player(), "alice");
    let header = format!(
        r#"{{"alg":"HS256","typ":"{}","kid":"hs1"}}"#,
        RESULT_TOKEN_TYPE.to_ascii_uppercase()
    );
    assert_rejected(
        &hs_token(HS_SECRET, &header, &good_claims()),
        "wrong_token_type",
    );
}

#[test]
fn result_token_type_is_checked_before_the_algorithm() {
    // Even an `alg: none` result token is refused as a result token first (docs, step 4).
    let header = format!(r#"{{"alg":"none","typ":"{RESULT_TOKEN_TYPE}"}}"#);
    assert_rejected(
        &hs_token(HS_SECRET, &header, &good_claims()),
        "wrong_token_type",
    );
}

// ---------------------------------------------------------------------------------------------
// Payload JSON.
// ---------------------------------------------------------------------------------------------

#[test]
fn payload_that_is_not_an_object_is_rejected_with_token_malformed() {
    for payload in [
        r#"["pid","alice"]"#,
        r#""alice""#,
        "1700000300",
        "null",
        "true",
    ] {
        assert_rejected(&hs(payload), "token_malformed");
    }
}

#[test]
fn payload_that_is_not_json_is_rejected_with_token_malformed() {
    let good = good_claims();
    for payload in [
        good[..good.len() - 1].to_owned(),
        format!("{good} x"),
        format!("{good}{good}"),
        String::new() + "Example of Ed25519 signing",
        good.replace('"', "'"),
    ] {
        assert_rejected(&hs(&payload), "token_malformed");
    }
}

#[test]
fn payload_that_is_not_utf8_is_rejected_with_token_malformed() {
    let mut payload = br#"{"pid":"al"#.to_vec();
    payload.extend_from_slice(&[0xc3, 0x28]);
    payload.extend_from_slice(
        format!(r#"ice","sid":"s","iat":{},"exp":{}}}"#, NOW, NOW + 60).as_bytes(),
    );
    assert_rejected(
        &hs_segments(&b64(hs_header()), &b64(payload)),
        "token_malformed",
    );
}

#[test]
fn duplicate_exp_claims_are_rejected_with_token_malformed() {
    let payload = format!(
        r#"{{"pid":"alice","sid":"room-1","iat":{},"exp":{},"exp":{}}}"#,
        NOW - 10,
        NOW - 1000,
        NOW + 300
    );
    assert_rejected(&hs(&payload), "token_malformed");
}

#[test]
fn duplicate_pid_claims_are_rejected_with_token_malformed() {
    assert_rejected(&hs(&claims_with(r#""pid":"mallory""#)), "token_malformed");
}

#[test]
fn duplicate_sid_claims_are_rejected_with_token_malformed() {
    assert_rejected(&ed(&claims_with(r#""sid":"room-2""#)), "token_malformed");
}

#[test]
fn duplicate_claim_spelled_with_an_escape_is_rejected_with_token_malformed() {
    // `\u0065xp` is `exp`.
    assert_rejected(&hs(&claims_with(r#""\u0065xp":1"#)), "token_malformed");
}

#[test]
fn duplicate_unknown_claims_are_rejected_with_token_malformed() {
    assert_rejected(&hs(&claims_with(r#""x":1,"x":2"#)), "token_malformed");
}

#[test]
fn duplicate_issuer_claims_are_rejected_with_token_malformed() {
    let token = hs(&claims_with(r#""iss":"evil","iss":"game-auth""#));
    assert_rejected_with(iss_spec(), &token, "token_malformed");
}

#[test]
fn nested_array_bomb_in_a_claim_is_rejected_with_token_malformed() {
    let bomb = format!("{}{}", "[".repeat(3000), "]".repeat(3000));
    let token = hs(&claims_with(&format!(r#""x":{bomb}"#)));
    assert!(token.len() <= 16 * 1024);
    assert_rejected_with(
        TokenSpec::default().max_token_bytes(16 * 1024),
        &token,
        "token_malformed",
    );
}

#[test]
fn nested_array_bomb_under_the_default_cap_is_rejected_with_token_malformed() {
    let bomb = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
    let token = hs(&claims_with(&format!(r#""x":{bomb}"#)));
    assert!(token.len() <= 8192);
    assert_rejected(&token, "token_malformed");
}

#[test]
fn unclosed_nested_array_bomb_is_rejected_with_token_malformed() {
    let token = hs(&claims_with(&format!(r#""x":{}"#, "[".repeat(3000))));
    assert!(token.len() <= 8192);
    assert_rejected(&token, "token_malformed");
}

#[test]
fn nested_object_bomb_in_a_claim_is_rejected_with_token_malformed() {
    let bomb = format!("{}1{}", r#"{"a":"#.repeat(600), "}".repeat(600));
    let token = ed(&claims_with(&format!(r#""x":{bomb}"#)));
    assert!(token.len() <= 8192);
    assert_rejected(&token, "token_malformed");
}

#[test]
fn nested_array_bomb_in_the_header_is_rejected_with_token_malformed() {
    let header = format!(
        r#"{{"alg":"HS256","kid":"hs1","x":{}{}}}"#,
        "[".repeat(2000),
        "]".repeat(2000)
    );
    assert_rejected(
        &hs_token(HS_SECRET, &header, &good_claims()),
        "token_malformed",
    );
}

// ---------------------------------------------------------------------------------------------
// Size cap.
// ---------------------------------------------------------------------------------------------

#[test]
fn token_over_the_default_cap_is_rejected_with_token_too_large() {
    let token = hs(&claims_with(&format!(r#""x":"{}""#, "a".repeat(6200))));
    assert!(token.len() > 8192);
    assert_rejected(&token, "token_too_large");
}

#[test]
fn garbage_over_the_cap_is_rejected_with_token_too_large_before_decoding() {
    assert_rejected(&"!".repeat(100_000), "token_too_large");
    assert_rejected(&".".repeat(9000), "token_too_large");
}

#[test]
fn token_one_byte_over_a_configured_cap_is_rejected_with_token_too_large() {
    let token = hs(&good_claims());
    assert_accepted_with(TokenSpec::default().max_token_bytes(token.len()), &token);
    assert_rejected_with(
        TokenSpec::default().max_token_bytes(token.len() - 1),
        &token,
        "token_too_large",
    );
}

// ---------------------------------------------------------------------------------------------
// `exp`.
// ---------------------------------------------------------------------------------------------

#[test]
fn exp_missing_is_rejected_with_missing_claim() {
    let payload = format!(r#"{{"pid":"alice","sid":"room-1","iat":{}}}"#, NOW - 10);
    assert_rejected_with(
        TokenSpec::default().max_lifetime(None),
        &hs(&payload),
        "missing_claim",
    );
}

#[test]
fn exp_as_a_string_is_rejected_with_token_malformed() {
    assert_rejected(
        &hs(&claims_with_exp(&format!("\"{}\"", NOW + 300))),
        "token_malformed",
    );
}

#[test]
fn exp_as_a_bool_is_rejected_with_token_malformed() {
    assert_rejected(&hs(&claims_with_exp("true")), "token_malformed");
}

#[test]
fn exp_as_null_is_rejected_with_token_malformed() {
    assert_rejected(&hs(&claims_with_exp("null")), "token_malformed");
}

#[test]
fn exp_as_an_array_is_rejected_with_token_malformed() {
    assert_rejected(
        &hs(&claims_with_exp(&format!("[{}]", NOW + 300))),
        "token_malformed",
    );
}

#[test]
fn exp_as_an_object_is_rejected_with_token_malformed() {
    assert_rejected(
        &hs(&claims_with_exp(&format!(r#"{{"t":{}}}"#, NOW + 300))),
        "token_malformed",
    );
}

#[test]
fn exp_negative_is_rejected_with_token_malformed() {
    assert_rejected(&hs(&claims_with_exp("-1")), "token_malformed");
}

#[test]
fn exp_huge_float_is_rejected_with_token_malformed() {
    assert_rejected(&hs(&claims_with_exp("1e300")), "token_malformed");
}

#[test]
fn exp_beyond_u64_is_rejected_with_token_malformed() {
    assert_rejected(
        &hs(&claims_with_exp("18446744073709551616")),
        "token_malformed",
    );
}

#[test]
fn exp_fractional_is_rejected_with_token_malformed() {
    assert_rejected(
        &hs(&claims_with_exp(&format!("{}.5", NOW + 300))),
        "token_malformed",
    );
}

#[test]
fn exp_zero_is_rejected_with_token_expired() {
    let spec = TokenSpec::default().max_lifetime(None);
    assert_rejected_with(spec, &hs(&claims_at(None, None, 0)), "token_expired");
}

#[test]
fn exp_u64_max_is_rejected_with_token_malformed() {
    // Numeric dates are integers up to 2^53 (verify module docs, step 8).
    assert_rejected(
        &hs(&claims_at(Some(NOW), None, u64::MAX)),
        "token_malformed",
    );
}

#[test]
fn exp_just_beyond_2_pow_53_is_rejected_with_token_malformed() {
    let spec = TokenSpec::default().max_lifetime(None);
    let token = hs(&claims_at(Some(NOW), None, (1 << 53) + 1));
    assert_rejected_with(spec.clone(), &token, "token_malformed");
    assert_accepted_with(spec, &hs(&claims_at(Some(NOW), None, 1 << 53)));
}

#[test]
fn exp_with_an_exponent_or_a_zero_fraction_is_rejected_with_token_malformed() {
    for exp in ["1.7e9", "1700000300.0", "1700000300e0", "17000003E2"] {
        assert_rejected(&hs(&claims_with_exp(exp)), "token_malformed");
    }
}

// ---------------------------------------------------------------------------------------------
// `nbf`, `iat`, leeway.
// ---------------------------------------------------------------------------------------------

#[test]
fn exp_exactly_leeway_in_the_past_is_accepted() {
    assert_accepted_with(
        TokenSpec::default(),
        &hs(&claims_at(Some(NOW - 100), None, NOW - 30)),
    );
}

#[test]
fn exp_one_second_beyond_leeway_is_rejected_with_token_expired() {
    assert_rejected(
        &hs(&claims_at(Some(NOW - 100), None, NOW - 31)),
        "token_expired",
    );
}

#[test]
fn nbf_exactly_leeway_in_the_future_is_accepted() {
    assert_accepted_with(
        TokenSpec::default(),
        &hs(&claims_at(Some(NOW), Some(NOW + 30), NOW + 300)),
    );
}

#[test]
fn nbf_one_second_beyond_leeway_is_rejected_with_token_not_yet_valid() {
    assert_rejected(
        &hs(&claims_at(Some(NOW), Some(NOW + 31), NOW + 300)),
        "token_not_yet_valid",
    );
}

#[test]
fn iat_exactly_leeway_in_the_future_is_accepted() {
    assert_accepted_with(
        TokenSpec::default(),
        &ed(&claims_at(Some(NOW + 30), None, NOW + 300)),
    );
}

#[test]
fn iat_in_the_future_beyond_leeway_is_rejected_with_token_not_yet_valid() {
    assert_rejected(
        &ed(&claims_at(Some(NOW + 31), None, NOW + 300)),
        "token_not_yet_valid",
    );
}

#[test]
fn zero_leeway_rejects_exp_one_second_ago_with_token_expired() {
    let spec = TokenSpec::default().leeway(Duration::ZERO);
    assert_rejected_with(
        spec,
        &hs(&claims_at(Some(NOW - 100), None, NOW - 1)),
        "token_expired",
    );
}

#[test]
fn zero_leeway_rejects_nbf_one_second_ahead_with_token_not_yet_valid() {
    let spec = TokenSpec::default().leeway(Duration::ZERO);
    let token = hs(&claims_at(Some(NOW), Some(NOW + 1), NOW + 300));
    assert_rejected_with(spec, &token, "token_not_yet_valid");
}

#[test]
fn custom_leeway_edges_are_exact() {
    let spec = || TokenSpec::default().leeway(Duration::from_secs(5));
    assert_accepted_with(spec(), &hs(&claims_at(Some(NOW - 100), None, NOW - 5)));
    assert_rejected_with(
        spec(),
        &hs(&claims_at(Some(NOW - 100), None, NOW - 6)),
        "token_expired",
    );
    assert_accepted_with(spec(), &hs(&claims_at(Some(NOW), Some(NOW + 5), NOW + 60)));
    assert_rejected_with(
        spec(),
        &hs(&claims_at(Some(NOW), Some(NOW + 6), NOW + 60)),
        "token_not_yet_valid",
    );
}

#[test]
fn nbf_of_the_wrong_type_is_rejected_with_token_malformed() {
    for nbf in [r#""1700000000""#, "null", "-5", "1.5", "true"] {
        let payload = claims_with(&format!(r#""nbf":{nbf}"#));
        assert_rejected(&hs(&payload), "token_malformed");
    }
}

#[test]
fn iat_of_the_wrong_type_is_rejected_with_token_malformed() {
    for iat in [r#""1700000000""#, "null", "-5", "1e300", "[]"] {
        let payload = format!(
            r#"{{"pid":"alice","sid":"room-1","iat":{iat},"exp":{}}}"#,
            NOW + 300
        );
        assert_rejected(&hs(&payload), "token_malformed");
    }
}

// ---------------------------------------------------------------------------------------------
// Lifetime.
// ---------------------------------------------------------------------------------------------

#[test]
fn lifetime_over_the_maximum_is_rejected_with_lifetime_exceeded() {
    let spec = TokenSpec::default().max_lifetime(Some(Duration::from_secs(3600)));
    assert_rejected_with(
        spec,
        &hs(&claims_at(Some(NOW), None, NOW + 3601)),
        "lifetime_exceeded",
    );
}

#[test]
fn lifetime_equal_to_the_maximum_is_accepted() {
    let spec = TokenSpec::default().max_lifetime(Some(Duration::from_secs(3600)));
    assert_accepted_with(spec, &hs(&claims_at(Some(NOW), None, NOW + 3600)));
}

#[test]
fn lifetime_over_the_default_day_is_rejected_with_lifetime_exceeded() {
    assert_rejected(
        &hs(&claims_at(Some(NOW), None, NOW + 86_401)),
        "lifetime_exceeded",
    );
}

#[test]
fn missing_iat_with_a_max_lifetime_is_rejected_with_lifetime_exceeded() {
    assert_rejected(&hs(&claims_at(None, None, NOW + 60)), "lifetime_exceeded");
}

#[test]
fn missing_iat_without_a_max_lifetime_is_accepted() {
    assert_accepted_with(
        TokenSpec::default().max_lifetime(None),
        &hs(&claims_at(None, None, NOW + 60)),
    );
}

// ---------------------------------------------------------------------------------------------
// `iss`, `aud`.
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_issuer_is_rejected_with_invalid_issuer() {
    assert_rejected_with(
        iss_spec(),
        &hs(&claims_with(r#""iss":"evil""#)),
        "invalid_issuer",
    );
}

#[test]
fn issuer_in_another_case_is_rejected_with_invalid_issuer() {
    assert_rejected_with(
        iss_spec(),
        &hs(&claims_with(r#""iss":"Game-Auth""#)),
        "invalid_issuer",
    );
}

#[test]
fn missing_issuer_is_rejected_with_invalid_issuer() {
    assert_rejected_with(iss_spec(), &hs(&good_claims()), "invalid_issuer");
}

#[test]
fn issuer_not_a_string_is_rejected_with_token_malformed() {
    for iss in ["42", "null", r#"["game-auth"]"#, "true"] {
        let token = hs(&claims_with(&format!(r#""iss":{iss}"#)));
        assert_rejected_with(iss_spec(), &token, "token_malformed");
    }
}

#[test]
fn any_of_several_issuers_is_accepted() {
    let spec = || iss_spec().issuer("backup-auth");
    assert_accepted_with(spec(), &hs(&claims_with(r#""iss":"game-auth""#)));
    assert_accepted_with(spec(), &hs(&claims_with(r#""iss":"backup-auth""#)));
    assert_rejected_with(
        spec(),
        &hs(&claims_with(r#""iss":"third""#)),
        "invalid_issuer",
    );
}

#[test]
fn wrong_audience_is_rejected_with_invalid_audience() {
    assert_rejected_with(
        aud_spec(),
        &hs(&claims_with(r#""aud":"other-server""#)),
        "invalid_audience",
    );
}

#[test]
fn audience_array_without_a_match_is_rejected_with_invalid_audience() {
    let token = hs(&claims_with(r#""aud":["a","b","game-server-2"]"#));
    assert_rejected_with(aud_spec(), &token, "invalid_audience");
}

#[test]
fn empty_audience_array_is_rejected_with_invalid_audience() {
    assert_rejected_with(
        aud_spec(),
        &hs(&claims_with(r#""aud":[]"#)),
        "invalid_audience",
    );
}

#[test]
fn audience_array_with_a_match_is_accepted() {
    assert_accepted_with(
        aud_spec(),
        &hs(&claims_with(r#""aud":["a","game-server","b"]"#)),
    );
    assert_accepted_with(aud_spec(), &hs(&claims_with(r#""aud":"game-server""#)));
}

#[test]
fn missing_audience_is_rejected_with_invalid_audience() {
    assert_rejected_with(aud_spec(), &ed(&good_claims()), "invalid_audience");
}

#[test]
fn audience_of_the_wrong_type_is_rejected_with_token_malformed() {
    for aud in ["42", "null", "[1]", r#"{"game-server":true}"#] {
        let token = hs(&claims_with(&format!(r#""aud":{aud}"#)));
        assert_rejected_with(aud_spec(), &token, "token_malformed");
    }
}

// ---------------------------------------------------------------------------------------------
// Player, session, tenant, permissions, required claims.
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_player_id_is_rejected_with_missing_claim() {
    let payload = format!(r#"{{"sid":"room-1","iat":{},"exp":{}}}"#, NOW, NOW + 60);
    assert_rejected(&hs(&payload), "missing_claim");
}

#[test]
fn missing_session_id_is_rejected_with_missing_claim() {
    let payload = format!(r#"{{"pid":"alice","iat":{},"exp":{}}}"#, NOW, NOW + 60);
    assert_rejected(&ed(&payload), "missing_claim");
}

#[test]
fn missing_custom_player_claim_is_rejected_with_missing_claim() {
    // The token has `pid`, but the spec reads the player from `playerId`.
    let spec = TokenSpec::default().player_claim("playerId");
    assert_rejected_with(spec, &hs(&good_claims()), "missing_claim");
}

#[test]
fn player_id_as_a_bool_is_rejected_with_token_malformed() {
    assert_rejected(
        &hs(&good_claims().replace(r#""alice""#, "true")),
        "token_malformed",
    );
}

#[test]
fn player_id_as_a_float_is_rejected_with_token_malformed() {
    assert_rejected(
        &hs(&good_claims().replace(r#""alice""#, "42.5")),
        "token_malformed",
    );
}

#[test]
fn player_id_negative_is_rejected_with_token_malformed() {
    assert_rejected(
        &hs(&good_claims().replace(r#""alice""#, "-42")),
        "token_malformed",
    );
}

#[test]
fn player_id_as_an_array_or_object_is_rejected_with_token_malformed() {
    for pid in [r#"["alice"]"#, r#"{"id":"alice"}"#] {
        assert_rejected(
            &hs(&good_claims().replace(r#""alice""#, pid)),
            "token_malformed",
        );
    }
}

#[test]
fn session_id_as_a_float_or_bool_is_rejected_with_token_malformed() {
    for sid in ["1.0", "false", "-1"] {
        assert_rejected(
            &hs(&good_claims().replace(r#""room-1""#, sid)),
            "token_malformed",
        );
    }
}

#[test]
fn empty_player_id_is_rejected_with_token_malformed() {
    assert_rejected(
        &hs(&good_claims().replace(r#""alice""#, r#""""#)),
        "token_malformed",
    );
}

#[test]
fn player_id_over_256_bytes_is_rejected_with_token_malformed() {
    let long = format!("\"{}\"", "p".repeat(257));
    assert_rejected(
        &hs(&good_claims().replace(r#""alice""#, &long)),
        "token_malformed",
    );
    let max = format!("\"{}\"", "p".repeat(256));
    assert_eq!(
        check(&hs(&good_claims().replace(r#""alice""#, &max)))
            .unwrap()
            .player()
            .len(),
        256
    );
}

#[test]
fn player_id_null_is_rejected_with_token_malformed() {
    assert_rejected(
        &hs(&good_claims().replace(r#""alice""#, "null")),
        "token_malformed",
    );
}

#[test]
fn integer_player_id_is_normalised_to_decimal_text() {
    let verified = check(&hs(&good_claims().replace(r#""alice""#, "42"))).unwrap();
    assert_eq!(verified.player(), "42");
}

#[test]
fn missing_tenant_is_rejected_with_missing_claim() {
    let spec = TokenSpec::default().tenant_claim("operatorId");
    assert_rejected_with(spec, &hs(&good_claims()), "missing_claim");
}

#[test]
fn tenant_of_the_wrong_type_is_rejected_with_token_malformed() {
    let spec = || TokenSpec::default().tenant_claim("operatorId");
    for tenant in ["true", "1.5", "[]"] {
        let token = hs(&claims_with(&format!(r#""operatorId":{tenant}"#)));
        assert_rejected_with(spec(), &token, "token_malformed");
    }
}

#[test]
fn missing_required_permission_is_rejected_with_insufficient_permissions() {
    let spec = TokenSpec::default()
        .permissions_claim("permissions")
        .require_permission("admin");
    let token = hs(&claims_with(r#""permissions":["play","chat"]"#));
    assert_rejected_with(spec, &token, "insufficient_permissions");
}

#[test]
fn empty_permissions_are_rejected_with_insufficient_permissions() {
    let spec = TokenSpec::default()
        .permissions_claim("permissions")
        .require_permission("play");
    assert_rejected_with(
        spec,
        &hs(&claims_with(r#""permissions":[]"#)),
        "insufficient_permissions",
    );
}

#[test]
fn absent_permissions_claim_is_rejected_with_insufficient_permissions() {
    let spec = TokenSpec::default()
        .permissions_claim("permissions")
        .require_permission("play");
    assert_rejected_with(spec, &hs(&good_claims()), "insufficient_permissions");
}

#[test]
fn present_required_permission_is_accepted() {
    let spec = TokenSpec::default()
        .permissions_claim("permissions")
        .require_permission("play");
    assert_accepted_with(spec, &hs(&claims_with(r#""permissions":["chat","play"]"#)));
}

#[test]
fn permissions_of_the_wrong_type_are_rejected_with_token_malformed() {
    let spec = || TokenSpec::default().permissions_claim("permissions");
    for perms in [r#""play""#, "[1,2]", "true", r#"{"play":true}"#] {
        let token = hs(&claims_with(&format!(r#""permissions":{perms}"#)));
        assert_rejected_with(spec(), &token, "token_malformed");
    }
}

#[test]
fn missing_required_claim_is_rejected_with_missing_claim() {
    let spec = TokenSpec::default().require_claim("region");
    assert_rejected_with(spec, &hs(&good_claims()), "missing_claim");
}

#[test]
fn present_required_claim_is_accepted() {
    let spec = TokenSpec::default().require_claim("region");
    assert_accepted_with(spec, &hs(&claims_with(r#""region":"eu""#)));
}

// ---------------------------------------------------------------------------------------------
// Key selection.
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_kid_is_rejected_with_unknown_key() {
    let token = hs_token(HS_SECRET, r#"{"alg":"HS256","kid":"hs9"}"#, &good_claims());
    assert_rejected(&token, "unknown_key");
}

#[test]
fn unknown_kid_on_an_eddsa_token_is_rejected_with_unknown_key() {
    let token = ed_token(&ED_SEED, r#"{"alg":"EdDSA","kid":"ED1"}"#, &good_claims());
    assert_rejected(&token, "unknown_key");
}

#[test]
fn missing_kid_with_several_keys_is_rejected_with_unknown_key() {
    let token = hs_token(HS_SECRET, r#"{"alg":"HS256"}"#, &good_claims());
    assert_rejected(&token, "unknown_key");
}

#[test]
fn kid_not_a_string_is_rejected_with_token_malformed() {
    for kid in ["1", "null", r#"["hs1"]"#] {
        let header = format!(r#"{{"alg":"HS256","kid":{kid}}}"#);
        assert_rejected(
            &hs_token(HS_SECRET, &header, &good_claims()),
            "token_malformed",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Signatures.
// ---------------------------------------------------------------------------------------------

#[test]
fn tampered_hs256_payload_is_rejected_with_signature_invalid() {
    let token = hs(&good_claims());
    let [h, _, s] = segments(&token);
    let forged = b64(good_claims().replace("alice", "mallory"));
    assert_rejected(&format!("{h}.{forged}.{s}"), "signature_invalid");
}

#[test]
fn tampered_eddsa_payload_is_rejected_with_signature_invalid() {
    let token = ed(&good_claims());
    let [h, _, s] = segments(&token);
    let forged = b64(good_claims().replace("room-1", "room-2"));
    assert_rejected(&format!("{h}.{forged}.{s}"), "signature_invalid");
}

#[test]
fn tampered_header_is_rejected_with_signature_invalid() {
    let token = hs(&good_claims());
    let [_, p, s] = segments(&token);
    let forged = b64(r#"{"alg":"HS256","kid":"hs1"}"#);
    assert_rejected(&format!("{forged}.{p}.{s}"), "signature_invalid");
}

#[test]
fn flipped_hs256_signature_bit_is_rejected_with_signature_invalid() {
    let token = hs(&good_claims());
    let mut sig = unb64(segments(&token)[2]);
    sig[31] ^= 0x80;
    assert_rejected(&with_signature(&token, &sig), "signature_invalid");
}

#[test]
fn flipped_eddsa_signature_bit_is_rejected_with_signature_invalid() {
    let token = ed(&good_claims());
    for byte in [0, 31, 32, 63] {
        let mut sig = unb64(segments(&token)[2]);
        sig[byte] ^= 0x01;
        assert_rejected(&with_signature(&token, &sig), "signature_invalid");
    }
}

#[test]
fn hs256_signature_of_the_wrong_length_is_rejected_with_signature_invalid() {
    let token = hs(&good_claims());
    let sig = unb64(segments(&token)[2]);
    assert_rejected(&with_signature(&token, &sig[..31]), "signature_invalid");
    assert_rejected(&with_signature(&token, &sig[..16]), "signature_invalid");
    assert_rejected(
        &with_signature(&token, &[sig.as_slice(), &[0]].concat()),
        "signature_invalid",
    );
    assert_rejected(
        &with_signature(&token, &[sig.as_slice(), &sig].concat()),
        "signature_invalid",
    );
}

#[test]
fn eddsa_signature_of_the_wrong_length_is_rejected_with_signature_invalid() {
    let token = ed(&good_claims());
    let sig = unb64(segments(&token)[2]);
    assert_rejected(&with_signature(&token, &sig[..63]), "signature_invalid");
    assert_rejected(&with_signature(&token, &sig[..32]), "signature_invalid");
    assert_rejected(
        &with_signature(&token, &[sig.as_slice(), &[0]].concat()),
        "signature_invalid",
    );
}

#[test]
fn eddsa_signature_with_s_plus_l_is_rejected_with_signature_invalid() {
    // S' = S + L verifies under a lax check ([S']B = [S]B) but is non-canonical (S' ≥ L).
    let token = ed(&good_claims());
    let sig = unb64(segments(&token)[2]);
    assert_rejected(
        &with_signature(&token, &add_l_to_s(&sig)),
        "signature_invalid",
    );
}

#[test]
fn eddsa_signature_by_another_key_is_rejected_with_signature_invalid() {
    assert_rejected(
        &ed_token(&OTHER_ED_SEED, &ed_header(), &good_claims()),
        "signature_invalid",
    );
}

#[test]
fn hs256_signature_by_another_secret_is_rejected_with_signature_invalid() {
    let token = hs_token(
        b"another-secret-of-at-least-32-bytes!!",
        &hs_header(),
        &good_claims(),
    );
    assert_rejected(&token, "signature_invalid");
}

#[test]
fn signature_of_another_token_is_rejected_with_signature_invalid() {
    let a = ed(&good_claims());
    let b = ed(&claims_with(r#""x":1"#));
    let [h, p, _] = segments(&a);
    let [_, _, s] = segments(&b);
    assert_rejected(&format!("{h}.{p}.{s}"), "signature_invalid");
}

#[test]
fn all_zero_eddsa_signature_is_rejected_with_signature_invalid() {
    let token = ed(&good_claims());
    assert_rejected(&with_signature(&token, &[0u8; 64]), "signature_invalid");
}

// ---------------------------------------------------------------------------------------------
// Key loading (ConfigError).
// ---------------------------------------------------------------------------------------------

include!("data/ed25519_bad_keys.rs");

#[test]
fn small_order_ed25519_keys_are_refused_by_with_ed25519() {
    for hex in SMALL_ORDER {
        let result = Keys::new().with_ed25519(Some("bad"), &unhex(hex));
        assert!(result.is_err(), "small-order key {hex} was accepted");
    }
}

#[test]
fn non_canonical_ed25519_keys_are_refused_by_with_ed25519() {
    for hex in NON_CANONICAL {
        let result = Keys::new().with_ed25519(None, &unhex(hex));
        assert!(result.is_err(), "non-canonical key {hex} was accepted");
    }
}

#[test]
fn small_order_ed25519_keys_are_refused_in_a_jwks_document() {
    for hex in SMALL_ORDER.iter().chain(&NON_CANONICAL) {
        let good = b64(ed_public(&ED_SEED));
        let bad = b64(unhex(hex));
        let jwks = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"good","x":"{good}"}},{{"kty":"OKP","crv":"Ed25519","kid":"bad","x":"{bad}"}}]}}"#
        );
        let err = Keys::from_jwks_str(&jwks).expect_err(hex);
        assert!(err.option().contains('1'), "error names keys[1]: {err}");
    }
}

#[test]
fn small_order_ed25519_key_is_refused_as_a_single_jwk() {
    for hex in SMALL_ORDER {
        let jwk = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
            b64(unhex(hex))
        );
        assert!(
            Keys::from_jwks_str(&jwk).is_err(),
            "small-order JWK {hex} was accepted"
        );
    }
}

#[test]
fn small_order_ed25519_keys_are_refused_in_pem() {
    for hex in SMALL_ORDER {
        let pem = ed_public_pem(&unhex(hex));
        assert!(
            Keys::new().with_ed25519_pem(None, &pem).is_err(),
            "small-order PEM {hex}"
        );
    }
}

#[test]
fn ed25519_key_of_the_wrong_length_is_refused() {
    let public = ed_public(&ED_SEED);
    assert!(Keys::new().with_ed25519(None, &public[..31]).is_err());
    assert!(
        Keys::new()
            .with_ed25519(None, &[public.as_slice(), &[0]].concat())
            .is_err()
    );
}

#[test]
fn hs256_secret_of_31_bytes_is_refused_by_keys() {
    assert!(Keys::new().with_hs256(None, &[7u8; 31]).is_err());
    assert!(Keys::new().with_hs256(None, &[7u8; 32]).is_ok());
}

#[test]
fn hs256_secret_of_31_bytes_is_refused_by_the_signer() {
    assert!(Signer::hs256("k", &[7u8; 31]).is_err());
    assert!(Signer::hs256("k", &[7u8; 32]).is_ok());
}

#[test]
fn hs256_secret_of_31_bytes_is_refused_in_a_jwks_document() {
    let jwk = format!(
        r#"{{"keys":[{{"kty":"oct","kid":"s","k":"{}"}}]}}"#,
        b64([7u8; 31])
    );
    assert!(Keys::from_jwks_str(&jwk).is_err());
    let jwk = format!(r#"{{"kty":"oct","kid":"s","k":"{}"}}"#, b64([7u8; 31]));
    assert!(Signer::from_jwk_str(&jwk).is_err());
}

#[test]
fn duplicate_kid_is_refused_by_the_builder() {
    let keys = Keys::new().with_hs256(Some("k"), HS_SECRET).unwrap();
    assert!(
        keys.clone()
            .with_ed25519(Some("k"), &ed_public(&ED_SEED))
            .is_err()
    );
    assert!(keys.with_hs256(Some("k"), &[9u8; 32]).is_err());
}

#[test]
fn duplicate_kid_is_refused_in_a_jwks_document() {
    let x = b64(ed_public(&ED_SEED));
    let k = b64(HS_SECRET);
    let jwks = format!(
        r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k","x":"{x}"}},{{"kty":"oct","kid":"k","k":"{k}"}}]}}"#
    );
    assert!(Keys::from_jwks_str(&jwks).is_err());
}

#[test]
fn duplicate_kid_is_refused_by_merge() {
    assert!(hs_keys().merge(hs_keys()).is_err());
    assert!(hs_keys().merge(ed_keys()).is_ok());
}

#[test]
fn jwk_whose_alg_contradicts_its_kty_is_refused() {
    let x = b64(ed_public(&ED_SEED));
    let k = b64(HS_SECRET);
    let ed_as_hs = format!(r#"{{"kty":"OKP","crv":"Ed25519","alg":"HS256","x":"{x}"}}"#);
    let oct_as_ed = format!(r#"{{"kty":"oct","alg":"EdDSA","k":"{k}"}}"#);
    assert!(Keys::from_jwks_str(&ed_as_hs).is_err());
    assert!(Keys::from_jwks_str(&oct_as_ed).is_err());
}

#[test]
fn jwks_that_is_not_json_is_refused() {
    for doc in ["", "{", "[]", r#"{"keys":{}}"#, r#"{"keys":[1]}"#] {
        assert!(Keys::from_jwks_str(doc).is_err(), "accepted {doc:?}");
    }
}

#[test]
fn unsupported_jwk_key_types_are_refused() {
    let rsa = r#"{"kty":"RSA","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}"#;
    let ec = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    let x25519 =
        r#"{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}"#;
    for jwk in [rsa, ec, x25519] {
        assert!(Keys::from_jwks_str(jwk).is_err(), "accepted {jwk}");
    }
}

#[test]
fn jwk_for_encryption_is_refused() {
    let jwk = format!(r#"{{"kty":"oct","use":"enc","k":"{}"}}"#, b64(HS_SECRET));
    assert!(Keys::from_jwks_str(&jwk).is_err());
}

#[test]
fn require_permission_without_a_permissions_claim_is_a_config_error() {
    let spec = TokenSpec::default().require_permission("play");
    assert!(Verifier::<NoClaims>::new(hs_keys(), spec).is_err());
}

#[test]
fn registered_claim_as_player_claim_is_a_config_error() {
    for name in ["exp", "iss", "aud", "jti"] {
        let spec = TokenSpec::default().player_claim(name);
        assert!(
            Verifier::<NoClaims>::new(hs_keys(), spec).is_err(),
            "{name}"
        );
    }
}

#[test]
fn same_claim_for_player_and_session_is_a_config_error() {
    let spec = TokenSpec::default().player_claim("id").session_claim("id");
    assert!(Verifier::<NoClaims>::new(hs_keys(), spec).is_err());
}

#[test]
fn ed25519_seed_of_the_wrong_length_is_refused() {
    assert!(Signer::ed25519_from_seed("k", &[1u8; 31]).is_err());
    assert!(Signer::ed25519_from_seed("k", &[1u8; 33]).is_err());
}

#[test]
fn private_jwk_without_kid_is_refused() {
    let jwk = format!(r#"{{"kty":"oct","k":"{}"}}"#, b64(HS_SECRET));
    assert!(Signer::from_jwk_str(&jwk).is_err());
}

#[test]
fn garbage_pkcs8_is_refused() {
    assert!(Signer::ed25519_from_pkcs8("k", b"not a key").is_err());
}

// ---------------------------------------------------------------------------------------------
// The caller's extra claims `C`.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, serde::Deserialize)]
struct Level {
    #[allow(dead_code)]
    level: u32,
}

#[test]
fn extra_claim_of_the_wrong_type_is_rejected_with_token_malformed() {
    let verifier = Verifier::<Level>::new(both_keys(), TokenSpec::default()).unwrap();
    let token = hs(&claims_with(r#""level":"high""#));
    assert_eq!(err_code(verifier.verify(&token, NOW)), "token_malformed");
}

#[test]
fn extra_claim_required_by_the_callers_type_is_rejected_with_token_malformed_when_absent() {
    let verifier = Verifier::<Level>::new(both_keys(), TokenSpec::default()).unwrap();
    assert_eq!(
        err_code(verifier.verify(&hs(&good_claims()), NOW)),
        "token_malformed"
    );
}

#[test]
fn duplicate_claims_are_rejected_with_token_malformed_whatever_the_callers_type() {
    let token = hs(&claims_with(r#""level":1,"level":2"#));
    let dup_exp = hs(&claims_with(&format!(r#""exp":{}"#, NOW + 1)));
    let value = Verifier::<serde_json::Value>::new(both_keys(), TokenSpec::default()).unwrap();
    let level = Verifier::<Level>::new(both_keys(), TokenSpec::default()).unwrap();
    for t in [&token, &dup_exp] {
        assert_eq!(err_code(value.verify(t, NOW)), "token_malformed");
        assert_eq!(err_code(level.verify(t, NOW)), "token_malformed");
    }
}

#[test]
fn forged_token_whose_extra_claims_parse_is_still_rejected_with_signature_invalid() {
    let verifier = Verifier::<Level>::new(both_keys(), TokenSpec::default()).unwrap();
    let token = hs(&claims_with(r#""level":1"#));
    let [h, _, s] = segments(&token);
    let forged = b64(claims_with(r#""level":99"#));
    assert_eq!(
        err_code(verifier.verify(&format!("{h}.{forged}.{s}"), NOW)),
        "signature_invalid"
    );
}

#[test]
fn nested_bomb_is_rejected_with_token_malformed_whatever_the_callers_type() {
    let bomb = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
    let token = hs(&claims_with(&format!(r#""x":{bomb}"#)));
    let value = Verifier::<serde_json::Value>::new(both_keys(), TokenSpec::default()).unwrap();
    assert_eq!(err_code(value.verify(&token, NOW)), "token_malformed");
}

#[test]
fn moderate_nesting_is_accepted() {
    let nest = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let token = hs(&claims_with(&format!(r#""x":{nest}"#)));
    assert!(check(&token).is_ok());
}
