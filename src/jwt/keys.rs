//! Key sets: keys selected by `kid`, each bound to exactly one algorithm.

use crate::jwt::base64url;
use crate::{AuthError, ConfigError};
use ring::{hmac, signature};
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

/// A JWS algorithm this crate accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 signatures (RFC 8037).
    EdDSA,
    /// HMAC with SHA-256.
    HS256,
}

impl Algorithm {
    /// The header `alg` value: `"EdDSA"` or `"HS256"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::HS256 => "HS256",
        }
    }

    /// The algorithm named by a header `alg` value (exact, case-sensitive match).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDSA),
            "HS256" => Some(Self::HS256),
            _ => None,
        }
    }

    /// The signature length in bytes (64 for Ed25519, 32 for HMAC-SHA-256).
    pub const fn signature_len(self) -> usize {
        match self {
            Self::EdDSA => 64,
            Self::HS256 => 32,
        }
    }
}

/// Shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash output size).
pub(crate) const MIN_HS256_SECRET: usize = 32;

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), followed by the 32-byte key.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The field prime p = 2^255 - 19, little-endian.
const FIELD_P: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// The y coordinates (sign bit cleared, little-endian) of the points of order 1, 2, 4 and 8.
/// Each is refused with either sign bit.
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    // order 1 (the identity): y = 1
    {
        let mut y = [0; 32];
        y[0] = 1;
        y
    },
    // order 2: y = p - 1
    {
        let mut y = FIELD_P;
        y[0] = 0xec;
        y
    },
    // order 4: y = 0
    [0; 32],
    // order 8
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    // order 8
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
];

/// Checks an Ed25519 public key: 32 bytes, canonical (y < p) and not of small order.
pub(crate) fn check_ed25519_public(key: &[u8]) -> Result<[u8; 32], &'static str> {
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| "an Ed25519 public key has 32 bytes")?;
    let mut y = key;
    y[31] &= 0x7f;
    // Little-endian comparison y >= p, from the most significant byte down.
    let non_canonical = y.iter().rev().cmp(FIELD_P.iter().rev()) != std::cmp::Ordering::Less;
    if non_canonical {
        return Err("non-canonical Ed25519 public key (y >= p)");
    }
    if SMALL_ORDER_Y.contains(&y) {
        return Err("Ed25519 public key of small order");
    }
    Ok(key)
}

/// What one key verifies with.
#[derive(Clone)]
pub(crate) enum KeyMaterial {
    /// An Ed25519 public key (checked at load).
    Ed25519([u8; 32]),
    /// An HMAC-SHA-256 key.
    Hs256(hmac::Key),
}

/// One configured key.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) kid: Option<Arc<str>>,
    pub(crate) material: KeyMaterial,
}

impl Key {
    /// The key's algorithm.
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self.material {
            KeyMaterial::Ed25519(_) => Algorithm::EdDSA,
            KeyMaterial::Hs256(_) => Algorithm::HS256,
        }
    }

    /// Checks `sig` (already of the algorithm's length) over `signing_input`.
    pub(crate) fn verify(&self, signing_input: &[u8], sig: &[u8]) -> Result<(), AuthError> {
        let ok = match &self.material {
            KeyMaterial::Ed25519(pk) => signature::UnparsedPublicKey::new(&signature::ED25519, pk)
                .verify(signing_input, sig)
                .is_ok(),
            // Constant-time comparison inside ring.
            KeyMaterial::Hs256(k) => hmac::verify(k, signing_input, sig).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(AuthError::SignatureInvalid)
        }
    }
}

/// The keys that verify login tokens. Selected by the header's `kid`; a token without `kid`
/// uses the key without `kid` (or the only key). Each key has exactly one algorithm.
///
/// A token that names a `kid` needs a key with exactly that `kid`.
#[derive(Clone, Default)]
pub struct Keys {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names and algorithms only: never key material.
        let list: Vec<(Option<&str>, &str)> = self
            .keys
            .iter()
            .map(|k| (k.kid.as_deref(), k.algorithm().as_str()))
            .collect();
        f.debug_struct("Keys").field("keys", &list).finish()
    }
}

impl Keys {
    /// An empty key set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an Ed25519 public key (32 bytes). Refuses small-order and non-canonical points
    /// and duplicate `kid`s.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key.
    pub fn with_ed25519(self, kid: Option<&str>, public_key: &[u8]) -> Result<Self, ConfigError> {
        let pk = check_ed25519_public(public_key)
            .map_err(|reason| ConfigError::new(key_name(kid), reason))?;
        self.push(kid, KeyMaterial::Ed25519(pk))
    }

    /// Adds an Ed25519 public key from PEM (`-----BEGIN PUBLIC KEY-----`, SPKI).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key.
    pub fn with_ed25519_pem(self, kid: Option<&str>, pem: &str) -> Result<Self, ConfigError> {
        let der = pem_body(pem, "PUBLIC KEY").map_err(|r| ConfigError::new(key_name(kid), r))?;
        let raw = der
            .strip_prefix(&ED25519_SPKI_PREFIX[..])
            .filter(|k| k.len() == 32)
            .ok_or_else(|| {
                ConfigError::new(key_name(kid), "not an Ed25519 SubjectPublicKeyInfo")
            })?;
        self.with_ed25519(kid, raw)
    }

    /// Adds an HS256 secret (at least 32 bytes).
    ///
    /// # Errors
    /// A [`ConfigError`] if the secret is shorter than 32 bytes or the `kid` is taken.
    pub fn with_hs256(self, kid: Option<&str>, secret: &[u8]) -> Result<Self, ConfigError> {
        if secret.len() < MIN_HS256_SECRET {
            return Err(ConfigError::new(
                key_name(kid),
                format!(
                    "an HS256 secret needs at least {MIN_HS256_SECRET} bytes (got {})",
                    secret.len()
                ),
            ));
        }
        self.push(
            kid,
            KeyMaterial::Hs256(hmac::Key::new(hmac::HMAC_SHA256, secret)),
        )
    }

    /// Parses a JWKS document (`{"keys":[…]}`) or a single JWK: `kty:"OKP", crv:"Ed25519", x`
    /// and `kty:"oct", k`, with optional `kid`, `alg`, `use`. Private members are ignored.
    ///
    /// `alg`, when present, must be the algorithm of the key type (`EdDSA` for `OKP`, `HS256`
    /// for `oct`); `use`, when present, must be `sig`. Other key types are refused.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the bad key (`keys[i]`).
    pub fn from_jwks_str(json: &str) -> Result<Self, ConfigError> {
        let doc: Value = serde_json::from_str(json)
            .map_err(|e| ConfigError::new("keys", format!("not JSON: {e}")))?;
        let Value::Object(obj) = doc else {
            return Err(ConfigError::new(
                "keys",
                "a JWKS or JWK must be a JSON object",
            ));
        };
        let mut keys = Self::new();
        match obj.get("keys") {
            Some(Value::Array(list)) => {
                for (i, jwk) in list.iter().enumerate() {
                    let name = format!("keys[{i}]");
                    let Value::Object(jwk) = jwk else {
                        return Err(ConfigError::new(name, "a JWK must be a JSON object"));
                    };
                    keys = keys.push_jwk(jwk, &name)?;
                }
            }
            Some(_) => return Err(ConfigError::new("keys", "`keys` must be an array")),
            None => keys = keys.push_jwk(&obj, "keys[0]")?,
        }
        Ok(keys)
    }

    /// Reads [`Keys::from_jwks_str`] from a file.
    ///
    /// # Errors
    /// A [`ConfigError`] if the file cannot be read or parsed.
    pub fn from_jwks_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("keys", format!("{}: {e}", path.display())))?;
        Self::from_jwks_str(&text)
    }

    /// Adds every key of `other`.
    ///
    /// # Errors
    /// A [`ConfigError`] on a duplicate `kid`.
    pub fn merge(mut self, other: Self) -> Result<Self, ConfigError> {
        for key in other.keys {
            self = self.push(key.kid.as_deref(), key.material)?;
        }
        Ok(self)
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key ids and algorithms, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, Algorithm)> + '_ {
        self.keys.iter().map(|k| (k.kid.as_deref(), k.algorithm()))
    }

    /// The public part as a JWKS document (Ed25519 keys only; HS256 secrets are never published).
    pub fn public_jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter_map(|k| match &k.material {
                KeyMaterial::Ed25519(pk) => Some(public_jwk_value(k.kid.as_deref(), pk)),
                KeyMaterial::Hs256(_) => None,
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// A set of one key (for [`Signer::verification_keys`](crate::Signer::verification_keys)).
    pub(crate) fn single(kid: Option<&str>, material: KeyMaterial) -> Self {
        Self {
            keys: vec![Key {
                kid: kid.map(Arc::from),
                material,
            }],
        }
    }

    /// All keys (for the verifier).
    pub(crate) fn entries(&self) -> &[Key] {
        &self.keys
    }

    /// Selects the key for a header `kid` (see the type docs).
    pub(crate) fn select(&self, kid: Option<&str>) -> Result<usize, AuthError> {
        match kid {
            Some(kid) => self.keys.iter().position(|k| k.kid.as_deref() == Some(kid)),
            None => self
                .keys
                .iter()
                .position(|k| k.kid.is_none())
                .or(if self.keys.len() == 1 { Some(0) } else { None }),
        }
        .ok_or(AuthError::UnknownKey)
    }

    fn push(mut self, kid: Option<&str>, material: KeyMaterial) -> Result<Self, ConfigError> {
        if self.keys.iter().any(|k| k.kid.as_deref() == kid) {
            return Err(ConfigError::new(
                key_name(kid),
                "duplicate key id (each kid, and the missing kid, may appear once)",
            ));
        }
        self.keys.push(Key {
            kid: kid.map(Arc::from),
            material,
        });
        Ok(self)
    }

    fn push_jwk(self, jwk: &Map<String, Value>, name: &str) -> Result<Self, ConfigError> {
        let err = |reason: String| ConfigError::new(name, reason);
        let kid = match jwk.get("kid") {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(err("`kid` must be a string".into())),
        };
        jwk_use_sig(jwk).map_err(err)?;
        let kty = jwk_str(jwk, "kty").map_err(err)?;
        let alg = match jwk.get("alg") {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(err("`alg` must be a string".into())),
        };
        let expect = |want: Algorithm| match alg {
            Some(a) if a != want.as_str() => Err(err(format!(
                "`alg` {a:?} does not match kty {kty:?} (expected {:?})",
                want.as_str()
            ))),
            _ => Ok(()),
        };
        match kty {
            "OKP" => {
                expect(Algorithm::EdDSA)?;
                let crv = jwk_str(jwk, "crv").map_err(err)?;
                if crv != "Ed25519" {
                    return Err(err(format!("unsupported OKP curve {crv:?}")));
                }
                let x = jwk_b64(jwk, "x").map_err(err)?;
                let pk = check_ed25519_public(&x).map_err(|r| err(r.into()))?;
                self.push(kid, KeyMaterial::Ed25519(pk))
                    .map_err(|e| err(e.reason().into()))
            }
            "oct" => {
                expect(Algorithm::HS256)?;
                let k = jwk_b64(jwk, "k").map_err(err)?;
                self.with_hs256(kid, &k).map_err(|e| err(e.reason().into()))
            }
            other => Err(err(format!(
                "unsupported kty {other:?} (only OKP/Ed25519 and oct)"
            ))),
        }
    }
}

/// How a key is named in errors.
fn key_name(kid: Option<&str>) -> String {
    match kid {
        Some(k) => format!("keys[kid={k}]"),
        None => "keys[no kid]".to_owned(),
    }
}

/// A required string member of a JWK.
/// Checks a JWK's optional `use` member: it must be `"sig"` when present.
pub(crate) fn jwk_use_sig(jwk: &Map<String, Value>) -> Result<(), String> {
    match jwk.get("use") {
        None => Ok(()),
        Some(Value::String(s)) if s == "sig" => Ok(()),
        Some(_) => Err("`use` must be \"sig\"".into()),
    }
}

pub(crate) fn jwk_str<'a>(jwk: &'a Map<String, Value>, member: &str) -> Result<&'a str, String> {
    match jwk.get(member) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("`{member}` must be a string")),
        None => Err(format!("`{member}` is missing")),
    }
}

/// A required base64url member of a JWK, decoded.
pub(crate) fn jwk_b64(jwk: &Map<String, Value>, member: &str) -> Result<Vec<u8>, String> {
    base64url::decode(jwk_str(jwk, member)?.as_bytes())
        .map_err(|_| format!("`{member}` is not base64url without padding"))
}

/// The public JWK of an Ed25519 key.
pub(crate) fn public_jwk_value(kid: Option<&str>, pk: &[u8; 32]) -> Value {
    let mut m = Map::new();
    m.insert("kty".into(), "OKP".into());
    m.insert("crv".into(), "Ed25519".into());
    m.insert("x".into(), base64url::encode(pk).into());
    if let Some(kid) = kid {
        m.insert("kid".into(), kid.into());
    }
    m.insert("alg".into(), "EdDSA".into());
    m.insert("use".into(), "sig".into());
    Value::Object(m)
}

/// The DER inside a PEM block with the given label.
pub(crate) fn pem_body(pem: &str, label: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .ok_or_else(|| format!("no `{begin}` line"))?
        + begin.len();
    let stop = pem[start..]
        .find(&end)
        .ok_or_else(|| format!("no `{end}` line"))?
        + start;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("bad base64 in PEM: {e}"))
}

#[cfg(test)]
mod tests;
