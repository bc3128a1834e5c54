//! Key sets: keys selected by `kid`, each bound to exactly one algorithm.

use crate::ConfigError;
use std::path::Path;

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
}

/// The keys that verify login tokens. Selected by the header's `kid`; a token without `kid`
/// uses the key without `kid` (or the only key). Each key has exactly one algorithm.
#[derive(Clone, Default)]
pub struct Keys {
    // filled in by the JWT core
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
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
        let _ = (kid, public_key);
        todo!()
    }

    /// Adds an Ed25519 public key from PEM (`-----BEGIN PUBLIC KEY-----`, SPKI).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key.
    pub fn with_ed25519_pem(self, kid: Option<&str>, pem: &str) -> Result<Self, ConfigError> {
        let _ = (kid, pem);
        todo!()
    }

    /// Adds an HS256 secret (at least 32 bytes).
    ///
    /// # Errors
    /// A [`ConfigError`] if the secret is shorter than 32 bytes or the `kid` is taken.
    pub fn with_hs256(self, kid: Option<&str>, secret: &[u8]) -> Result<Self, ConfigError> {
        let _ = (kid, secret);
        todo!()
    }

    /// Parses a JWKS document (`{"keys":[…]}`) or a single JWK: `kty:"OKP", crv:"Ed25519", x`
    /// and `kty:"oct", k`, with optional `kid`, `alg`, `use`. Private members are ignored.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the bad key (`keys[i]`).
    pub fn from_jwks_str(json: &str) -> Result<Self, ConfigError> {
        let _ = json;
        todo!()
    }

    /// Reads [`Keys::from_jwks_str`] from a file.
    ///
    /// # Errors
    /// A [`ConfigError`] if the file cannot be read or parsed.
    pub fn from_jwks_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let _ = path;
        todo!()
    }

    /// Adds every key of `other`.
    ///
    /// # Errors
    /// A [`ConfigError`] on a duplicate `kid`.
    pub fn merge(self, other: Self) -> Result<Self, ConfigError> {
        let _ = other;
        todo!()
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        todo!()
    }

    /// True if there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The public part as a JWKS document (Ed25519 keys only; HS256 secrets are never published).
    pub fn public_jwks(&self) -> serde_json::Value {
        todo!()
    }
}
