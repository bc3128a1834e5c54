//! PURE: `POST /internal/auth/validate-token` — lets other back-end services ask this server
//! whether a login token is valid, with the internal API key as bearer.
//!
//! Request: `Authorization: Bearer <internal key>`, body `{"token": "<jwt>"}`.
//! Answers: 200 `{"valid": true, "playerId", "sessionId", "tenant"?, "permissions", "tokenId"?,
//! "issuedAt"?, "expiresAt": RFC 3339, "remainingTime": seconds}`; 200 `{"valid": false,
//! "error": code, "message": text}` for a refused token; 400 for a body that is not
//! `{"token": string}`; 401 `{"error": "unauthorized"}` for a missing or wrong internal key.

use crate::http::{HttpRequest, HttpResponse};
use crate::jwt::Verifier;
use serde::de::DeserializeOwned;
use serde_json::json;

/// The path of the endpoint.
pub(crate) const PATH: &str = "/internal/auth/validate-token";

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let da = ring::digest::digest(&ring::digest::SHA256, a);
    let db = ring::digest::digest(&ring::digest::SHA256, b);
    da.as_ref()
        .iter()
        .zip(db.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Formats Unix seconds as RFC 3339 UTC (`1970-01-01T00:00:00Z`).
pub(crate) fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm), valid for all u64 seconds we accept.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Answers a validate-token request at `now` (Unix seconds).
pub(crate) fn answer<C: DeserializeOwned>(
    req: &HttpRequest<'_>,
    internal_key: &str,
    verifier: &Verifier<C>,
    now: u64,
) -> HttpResponse {
    if req.method != "POST" {
        return HttpResponse::json(405, &json!({"error": "method_not_allowed"}));
    }
    let presented = req.bearer();
    if !presented.is_some_and(|k| same_secret(k.as_bytes(), internal_key.as_bytes())) {
        return HttpResponse::json(401, &json!({"error": "unauthorized"}));
    }
    let token = serde_json::from_slice::<serde_json::Value>(req.body)
        .ok()
        .and_then(|v| v.get("token").and_then(|t| t.as_str().map(str::to_owned)));
    let Some(token) = token else {
        return HttpResponse::json(
            400,
            &json!({"error": "bad_request", "message": "body must be {\"token\": string}"}),
        );
    };
    match verifier.verify(&token, now) {
        Ok(v) => HttpResponse::json(
            200,
            &json!({
                "valid": true,
                "playerId": v.player(),
                "sessionId": v.session(),
                "tenant": v.tenant(),
                "permissions": v.permissions(),
                "tokenId": v.token_id(),
                "issuedAt": v.issued_at(),
                "expiresAt": rfc3339(v.expires_at()),
                "remainingTime": v.expires_at().saturating_sub(now),
            }),
        ),
        Err(e) => HttpResponse::json(
            200,
            &json!({"valid": false, "error": e.code(), "message": e.message()}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{NoClaims, Signer, TokenSpec};

    const NOW: u64 = 1_700_000_000;

    fn request<'a>(auth: &'a str, body: &'a [u8]) -> HttpRequest<'a> {
        HttpRequest {
            method: "POST",
            path: PATH,
            query: "",
            headers: vec![("Authorization", auth.as_bytes())],
            body,
        }
    }

    fn setup() -> (Signer, Verifier<NoClaims>) {
        let s = Signer::hs256("k", b"0123456789abcdef0123456789abcdef").unwrap();
        let v = Verifier::new(s.verification_keys(), TokenSpec::default()).unwrap();
        (s, v)
    }

    fn body(r: &HttpResponse) -> serde_json::Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn valid_token_is_described_with_expiry_and_remaining_time() {
        let (s, v) = setup();
        let mut c = serde_json::Map::new();
        c.insert("pid".into(), "alice".into());
        c.insert("sid".into(), 7.into());
        let jwt = s.sign("JWT", c, NOW, 120);
        let b = format!(r#"{{"token":"{jwt}"}}"#);
        let r = answer(
            &request("Bearer internal", b.as_bytes()),
            "internal",
            &v,
            NOW + 20,
        );
        assert_eq!(r.status, 200);
        let j = body(&r);
        assert_eq!(j["valid"], true);
        assert_eq!(
            (j["playerId"].as_str(), j["sessionId"].as_str()),
            (Some("alice"), Some("7"))
        );
        assert_eq!(j["expiresAt"], "2023-11-14T22:15:20Z");
        assert_eq!(j["remainingTime"], 100);
    }

    #[test]
    fn refused_token_answers_valid_false_with_its_code() {
        let (_, v) = setup();
        let r = answer(
            &request("Bearer internal", br#"{"token":"a.b.c"}"#),
            "internal",
            &v,
            NOW,
        );
        assert_eq!(r.status, 200);
        let j = body(&r);
        assert_eq!(
            (j["valid"].as_bool(), j["error"].as_str()),
            (Some(false), Some("token_malformed"))
        );
    }

    #[test]
    fn wrong_or_missing_internal_key_is_401_and_bad_body_is_400() {
        let (_, v) = setup();
        let ok_body = br#"{"token":"a.b.c"}"#;
        assert_eq!(
            answer(&request("Bearer nope", ok_body), "internal", &v, NOW).status,
            401
        );
        assert_eq!(
            answer(&request("Basic internal", ok_body), "internal", &v, NOW).status,
            401
        );
        assert_eq!(
            answer(&request("Bearer internal", b"[1]"), "internal", &v, NOW).status,
            400
        );
        assert_eq!(
            answer(&request("Bearer internal", b"{"), "internal", &v, NOW).status,
            400
        );
        let mut get = request("Bearer internal", ok_body);
        get.method = "GET";
        assert_eq!(answer(&get, "internal", &v, NOW).status, 405);
    }
}
