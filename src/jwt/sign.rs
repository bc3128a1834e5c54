//! Signing compact JWS: result tokens and admission tickets.

use crate::ConfigError;
use crate::jwt::keys::{self, KeyMaterial, MIN_HS256_SECRET};
use crate::jwt::{Algorithm, Keys, base64url};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Map, Value};
use std::path::Path;

/// Bytes of randomness in a `jti`.
const JTI_BYTES: usize = 16;

/// The private key.
enum SigningKey {
    /// An Ed25519 key pair and the seed it came from (for [`Signer::private_jwk`]).
    Ed25519 {
        pair: Ed25519KeyPair,
        seed: [u8; 32],
    },
    /// An HMAC-SHA-256 key and its secret (for [`Signer::private_jwk`]).
    Hs256 { key: hmac::Key, secret: Vec<u8> },
}

/// Signs tokens with one key (Ed25519 or HS256) under one `kid`.
///
/// # Examples
///
/// ```
/// use jwt_game_server::{Signer, TokenSpec, Verifier, NoClaims};
///
/// let signer = Signer::generate_ed25519("results-1").unwrap();
/// let mut claims = serde_json::Map::new();
/// claims.insert("pid".into(), "p1".into());
/// claims.insert("sid".into(), "s1".into());
/// let token = signer.sign("JWT", claims, 1_700_000_000, 60);
///
/// let verifier = Verifier::<NoClaims>::new(signer.verification_keys(), TokenSpec::default()).unwrap();
/// let ok = verifier.verify(&token, 1_700_000_010).unwrap();
/// assert_eq!(ok.player(), "p1");
/// assert_eq!(ok.key_id(), Some("results-1"));
/// ```
pub struct Signer {
    kid: String,
    key: SigningKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm().as_str())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A fresh random Ed25519 key.
    ///
    /// # Errors
    /// A [`ConfigError`] if the system RNG fails.
    pub fn generate_ed25519(kid: &str) -> Result<Self, ConfigError> {
        let mut seed = [0u8; 32];
        SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| ConfigError::new("result_signer", "the system RNG failed"))?;
        Self::ed25519_from_seed(kid, &seed)
    }

    /// An Ed25519 key from its 32-byte seed.
    ///
    /// # Errors
    /// A [`ConfigError`] if the seed is not 32 bytes.
    pub fn ed25519_from_seed(kid: &str, seed: &[u8]) -> Result<Self, ConfigError> {
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| ConfigError::new("result_signer", "an Ed25519 seed has 32 bytes"))?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|e| ConfigError::new("result_signer", e.to_string()))?;
        Ok(Self::new(kid, SigningKey::Ed25519 { pair, seed }))
    }

    /// An Ed25519 key from PKCS#8 DER (v1 or v2).
    ///
    /// # Errors
    /// A [`ConfigError`] if ring refuses the document.
    pub fn ed25519_from_pkcs8(kid: &str, der: &[u8]) -> Result<Self, ConfigError> {
        let err = |r: String| ConfigError::new("result_signer", r);
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| err(format!("PKCS#8: {e}")))?;
        let seed = pkcs8_seed(der).ok_or_else(|| err("PKCS#8: no Ed25519 seed found".into()))?;
        let signer = Self::ed25519_from_seed(kid, &seed)?;
        if signer.public_key_bytes() != Some(pair.public_key().as_ref()) {
            return Err(err("PKCS#8: public key does not match the seed".into()));
        }
        Ok(signer)
    }

    /// An Ed25519 key from a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    /// A [`ConfigError`] if the PEM or the key is bad.
    pub fn ed25519_from_pkcs8_pem(kid: &str, pem: &str) -> Result<Self, ConfigError> {
        let der =
            keys::pem_body(pem, "PRIVATE KEY").map_err(|r| ConfigError::new("result_signer", r))?;
        Self::ed25519_from_pkcs8(kid, &der)
    }

    /// An HS256 key (secret of at least 32 bytes).
    ///
    /// # Errors
    /// A [`ConfigError`] if the secret is shorter than 32 bytes.
    pub fn hs256(kid: &str, secret: &[u8]) -> Result<Self, ConfigError> {
        if secret.len() < MIN_HS256_SECRET {
            return Err(ConfigError::new(
                "result_signer",
                format!("an HS256 secret needs at least {MIN_HS256_SECRET} bytes"),
            ));
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        Ok(Self::new(
            kid,
            SigningKey::Hs256 {
                key,
                secret: secret.to_vec(),
            },
        ))
    }

    /// A key from a private JWK: `kty:"OKP", crv:"Ed25519", d, x` or `kty:"oct", k`
    /// (`kid` required).
    ///
    /// For `OKP`, `x` (when present) must be the public key of `d`. `alg`, when present, must
    /// match the key type; `use`, when present, must be `sig`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming what is wrong.
    pub fn from_jwk_str(json: &str) -> Result<Self, ConfigError> {
        let err = |r: String| ConfigError::new("result_signer", r);
        let jwk: Map<String, Value> =
            serde_json::from_str(json).map_err(|e| err(format!("not a JSON object: {e}")))?;
        let kid = keys::jwk_str(&jwk, "kid").map_err(err)?;
        keys::jwk_use_sig(&jwk).map_err(err)?;
        let kty = keys::jwk_str(&jwk, "kty").map_err(err)?;
        let want = match kty {
            "OKP" => Algorithm::EdDSA,
            "oct" => Algorithm::HS256,
            other => return Err(err(format!("unsupported kty {other:?}"))),
        };
        if let Some(alg) = jwk.get("alg") {
            if alg.as_str() != Some(want.as_str()) {
                return Err(err(format!(
                    "`alg` must be {:?} for kty {kty:?}",
                    want.as_str()
                )));
            }
        }
        if want == Algorithm::HS256 {
            return Self::hs256(kid, &keys::jwk_b64(&jwk, "k").map_err(err)?);
        }
        let crv = keys::jwk_str(&jwk, "crv").map_err(err)?;
        if crv != "Ed25519" {
            return Err(err(format!("unsupported OKP curve {crv:?}")));
        }
        let d = keys::jwk_b64(&jwk, "d").map_err(err)?;
        let signer = Self::ed25519_from_seed(kid, &d)?;
        if jwk.contains_key("x") {
            let x = keys::jwk_b64(&jwk, "x").map_err(err)?;
            if signer.public_key_bytes() != Some(&x[..]) {
                return Err(err("`x` is not the public key of `d`".into()));
            }
        }
        Ok(signer)
    }

    /// Reads [`Signer::from_jwk_str`] from a file.
    ///
    /// # Errors
    /// A [`ConfigError`] if the file cannot be read or parsed.
    pub fn from_jwk_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("result_signer", format!("{}: {e}", path.display())))?;
        Self::from_jwk_str(&text)
    }

    fn new(kid: &str, key: SigningKey) -> Self {
        Self {
            kid: kid.to_owned(),
            key,
            rng: SystemRandom::new(),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            SigningKey::Ed25519 { .. } => Algorithm::EdDSA,
            SigningKey::Hs256 { .. } => Algorithm::HS256,
        }
    }

    /// The key id put in every header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The 32-byte Ed25519 public key (`None` for HS256).
    pub fn public_key_bytes(&self) -> Option<&[u8]> {
        match &self.key {
            SigningKey::Ed25519 { pair, .. } => Some(pair.public_key().as_ref()),
            SigningKey::Hs256 { .. } => None,
        }
    }

    /// Signs `claims` with header `{"alg","typ","kid"}`; sets `iat` = `now`, `exp` = `now + ttl`
    /// and a fresh random `jti` (overriding any the caller put in).
    ///
    /// # Panics
    /// If the system RNG fails (it does not on supported platforms).
    pub fn sign(
        &self,
        typ: &str,
        mut claims: serde_json::Map<String, serde_json::Value>,
        now: u64,
        ttl: u64,
    ) -> String {
        let mut jti = [0u8; JTI_BYTES];
        self.rng
            .fill(&mut jti)
            .expect("the system RNG failed while signing");
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), now.saturating_add(ttl).into());
        claims.insert("jti".into(), base64url::encode(&jti).into());
        let header = format!(
            r#"{{"alg":"{}","typ":{},"kid":{}}}"#,
            self.algorithm().as_str(),
            Value::from(typ),
            Value::from(self.kid.as_str()),
        );
        let payload = Value::Object(claims).to_string();
        self.sign_raw(header.as_bytes(), payload.as_bytes())
    }

    /// Signs raw header and payload bytes as they are (for test vectors and tools).
    pub fn sign_raw(&self, header_json: &[u8], payload: &[u8]) -> String {
        let sig_len = self.algorithm().signature_len();
        let mut out = String::with_capacity(
            base64url::encoded_len(header_json.len())
                + base64url::encoded_len(payload.len())
                + base64url::encoded_len(sig_len)
                + 2,
        );
        base64url::encode_to(header_json, &mut out);
        out.push('.');
        base64url::encode_to(payload, &mut out);
        match &self.key {
            SigningKey::Ed25519 { pair, .. } => {
                let sig = pair.sign(out.as_bytes());
                out.push('.');
                base64url::encode_to(sig.as_ref(), &mut out);
            }
            SigningKey::Hs256 { key, .. } => {
                let tag = hmac::sign(key, out.as_bytes());
                out.push('.');
                base64url::encode_to(tag.as_ref(), &mut out);
            }
        }
        out
    }

    /// The keys that verify this signer's tokens (public key for Ed25519, secret for HS256).
    pub fn verification_keys(&self) -> Keys {
        let material = match &self.key {
            SigningKey::Ed25519 { pair, .. } => {
                let mut pk = [0u8; 32];
                pk.copy_from_slice(pair.public_key().as_ref());
                KeyMaterial::Ed25519(pk)
            }
            SigningKey::Hs256 { key, .. } => KeyMaterial::Hs256(key.clone()),
        };
        Keys::single(Some(&self.kid), material)
    }

    /// The private JWK (with `d` or `k`), for key files written by tools.
    pub fn private_jwk(&self) -> serde_json::Value {
        match &self.key {
            SigningKey::Ed25519 { pair, seed } => {
                let mut pk = [0u8; 32];
                pk.copy_from_slice(pair.public_key().as_ref());
                let mut jwk = keys::public_jwk_value(Some(&self.kid), &pk);
                if let Value::Object(m) = &mut jwk {
                    m.insert("d".into(), base64url::encode(seed).into());
                }
                jwk
            }
            SigningKey::Hs256 { secret, .. } => serde_json::json!({
                "kty": "oct",
                "k": base64url::encode(secret),
                "kid": self.kid,
                "alg": "HS256",
                "use": "sig",
            }),
        }
    }

    /// The public JWK (Ed25519 only).
    pub fn public_jwk(&self) -> Option<serde_json::Value> {
        let pk: &[u8; 32] = self.public_key_bytes()?.try_into().ok()?;
        Some(keys::public_jwk_value(Some(&self.kid), pk))
    }
}

/// The 32-byte seed in an Ed25519 PKCS#8 document (RFC 8410, v1 or v2):
/// `SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING { OCTET STRING seed }, … }`.
fn pkcs8_seed(der: &[u8]) -> Option<[u8; 32]> {
    let (tag, body, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _, rest) = tlv(body)?;
    if tag != 0x02 {
        return None;
    }
    let (tag, _, rest) = tlv(rest)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, private_key, _) = tlv(rest)?;
    if tag != 0x04 {
        return None;
    }
    let (tag, seed, rest) = tlv(private_key)?;
    if tag != 0x04 || !rest.is_empty() {
        return None;
    }
    seed.try_into().ok()
}

/// One DER tag-length-value: `(tag, value, rest)`.
fn tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, d) = d.split_first()?;
    let (&first, d) = d.split_first()?;
    let (len, d) = match first {
        0..=0x7f => (usize::from(first), d),
        0x81 => (usize::from(*d.first()?), &d[1..]),
        0x82 => (
            usize::from(*d.first()?) << 8 | usize::from(*d.get(1)?),
            d.get(2..)?,
        ),
        _ => return None,
    };
    let value = d.get(..len)?;
    Some((tag, value, &d[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 A.1 private key and A.4 JWS (/work/shared/test-vectors/rfc-jws.json).
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const RFC8037_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

    fn rfc8037_signer() -> Signer {
        let jwk = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","d":"{RFC8037_D}","x":"{RFC8037_X}","kid":"rfc"}}"#
        );
        Signer::from_jwk_str(&jwk).unwrap()
    }

    #[test]
    fn rfc8037_a4_signature_is_reproduced() {
        let s = rfc8037_signer();
        let jws = s.sign_raw(br#"{"alg":"EdDSA"}"#, b"Example of Ed25519 signing");
        assert_eq!(jws, RFC8037_JWS);
        assert_eq!(s.public_jwk().unwrap()["x"], RFC8037_X);
    }

    #[test]
    fn jwk_with_a_wrong_x_is_refused() {
        let other = base64url::encode(&[0x11; 32]);
        let jwk = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","d":"{RFC8037_D}","x":"{other}","kid":"rfc"}}"#
        );
        assert!(Signer::from_jwk_str(&jwk).is_err());
        let no_kid = format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{RFC8037_D}"}}"#);
        assert!(Signer::from_jwk_str(&no_kid).is_err());
    }

    #[test]
    fn pkcs8_v1_and_v2_load_and_keep_the_seed() {
        let seed = base64url::decode(RFC8037_D.as_bytes()).unwrap();
        // v1 (RFC 8410 §7): 16-byte prefix + seed.
        let mut v1 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        v1.extend(&seed);
        let s1 = Signer::ed25519_from_pkcs8("a", &v1).unwrap();
        assert_eq!(s1.private_jwk()["d"], RFC8037_D);
        assert_eq!(s1.private_jwk()["x"], RFC8037_X);
        // v2 as ring generates it.
        let v2 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let s2 = Signer::ed25519_from_pkcs8("b", v2.as_ref()).unwrap();
        let again = Signer::from_jwk_str(&s2.private_jwk().to_string()).unwrap();
        assert_eq!(again.public_key_bytes(), s2.public_key_bytes());
        assert!(Signer::ed25519_from_pkcs8("c", &v1[..40]).is_err());
    }

    #[test]
    fn hs256_jwk_round_trips_and_short_secrets_are_refused() {
        assert!(Signer::hs256("k", &[1; 31]).is_err());
        let s = Signer::hs256("k", &[1; 32]).unwrap();
        assert!(s.public_jwk().is_none());
        let again = Signer::from_jwk_str(&s.private_jwk().to_string()).unwrap();
        assert_eq!(again.algorithm(), Algorithm::HS256);
        assert_eq!(
            again.sign_raw(b"{}", b"{}"),
            s.sign_raw(b"{}", b"{}"),
            "same secret, same MAC"
        );
    }

    #[test]
    fn sign_sets_iat_exp_and_a_fresh_jti() {
        let s = Signer::generate_ed25519("g").unwrap();
        let mut claims = Map::new();
        claims.insert("jti".into(), "mine".into());
        claims.insert("iat".into(), 1.into());
        let t1 = s.sign("jgs-result+jwt", claims.clone(), 100, 50);
        let t2 = s.sign("jgs-result+jwt", claims, 100, 50);
        let parts: Vec<&str> = t1.split('.').collect();
        let header: Value =
            serde_json::from_slice(&base64url::decode(parts[0].as_bytes()).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg":"EdDSA","typ":"jgs-result+jwt","kid":"g"})
        );
        let body: Value =
            serde_json::from_slice(&base64url::decode(parts[1].as_bytes()).unwrap()).unwrap();
        assert_eq!(body["iat"], 100);
        assert_eq!(body["exp"], 150);
        let jti = body["jti"].as_str().unwrap();
        assert_eq!(base64url::decode(jti.as_bytes()).unwrap().len(), JTI_BYTES);
        assert_ne!(t1, t2, "jti differs");
    }

    #[test]
    fn debug_never_shows_key_material() {
        let s = Signer::hs256("dbg", b"super-secret-super-secret-super-secret").unwrap();
        let d = format!("{s:?} {:?}", s.verification_keys());
        assert!(!d.contains("super") && d.contains("dbg"), "{d}");
    }
}
