//! Signing compact JWS: result tokens and admission tickets.

use crate::ConfigError;
use crate::jwt::{Algorithm, Keys};
use std::path::Path;

/// Signs tokens with one key (Ed25519 or HS256) under one `kid`.
pub struct Signer {
    // filled in by the JWT core
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

impl Signer {
    /// A fresh random Ed25519 key.
    ///
    /// # Errors
    /// A [`ConfigError`] if the system RNG fails.
    pub fn generate_ed25519(kid: &str) -> Result<Self, ConfigError> {
        let _ = kid;
        todo!()
    }

    /// An Ed25519 key from its 32-byte seed.
    ///
    /// # Errors
    /// A [`ConfigError`] if the seed is not 32 bytes.
    pub fn ed25519_from_seed(kid: &str, seed: &[u8]) -> Result<Self, ConfigError> {
        let _ = (kid, seed);
        todo!()
    }

    /// An Ed25519 key from PKCS#8 DER (v1 or v2).
    ///
    /// # Errors
    /// A [`ConfigError`] if ring refuses the document.
    pub fn ed25519_from_pkcs8(kid: &str, der: &[u8]) -> Result<Self, ConfigError> {
        let _ = (kid, der);
        todo!()
    }

    /// An HS256 key (secret of at least 32 bytes).
    ///
    /// # Errors
    /// A [`ConfigError`] if the secret is shorter than 32 bytes.
    pub fn hs256(kid: &str, secret: &[u8]) -> Result<Self, ConfigError> {
        let _ = (kid, secret);
        todo!()
    }

    /// A key from a private JWK: `kty:"OKP", crv:"Ed25519", d, x` or `kty:"oct", k`
    /// (`kid` required).
    ///
    /// # Errors
    /// A [`ConfigError`] naming what is wrong.
    pub fn from_jwk_str(json: &str) -> Result<Self, ConfigError> {
        let _ = json;
        todo!()
    }

    /// Reads [`Signer::from_jwk_str`] from a file.
    ///
    /// # Errors
    /// A [`ConfigError`] if the file cannot be read or parsed.
    pub fn from_jwk_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let _ = path;
        todo!()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        todo!()
    }

    /// The key id put in every header.
    pub fn kid(&self) -> &str {
        todo!()
    }

    /// Signs `claims` with header `{"alg","typ","kid"}`; sets `iat` = `now`, `exp` = `now + ttl`
    /// and a fresh random `jti` (overriding any the caller put in).
    pub fn sign(
        &self,
        typ: &str,
        claims: serde_json::Map<String, serde_json::Value>,
        now: u64,
        ttl: u64,
    ) -> String {
        let _ = (typ, claims, now, ttl);
        todo!()
    }

    /// Signs raw header and payload bytes as they are (for test vectors and tools).
    pub fn sign_raw(&self, header_json: &[u8], payload: &[u8]) -> String {
        let _ = (header_json, payload);
        todo!()
    }

    /// The keys that verify this signer's tokens (public key for Ed25519, secret for HS256).
    pub fn verification_keys(&self) -> Keys {
        todo!()
    }

    /// The private JWK (with `d` or `k`), for key files written by tools.
    pub fn private_jwk(&self) -> serde_json::Value {
        todo!()
    }

    /// The public JWK (Ed25519 only).
    pub fn public_jwk(&self) -> Option<serde_json::Value> {
        todo!()
    }
}
