//! Verification: compact JWS → verified claims, with every rule of DESIGN §5.

use crate::jwt::{Keys, TokenSpec};
use crate::{AuthError, ConfigError};
use serde::de::DeserializeOwned;

/// Extra claims type for callers that want none (deserialises from anything, keeps nothing).
pub type NoClaims = serde::de::IgnoredAny;

/// A login token that verified: the ids the server needs plus the caller's extra claims `C`.
#[derive(Debug, Clone)]
pub struct Verified<C> {
    /// Placeholder until the JWT core lands.
    _c: C,
}

impl<C> Verified<C> {
    /// The player id (a JSON string, or a non-negative integer as decimal text).
    pub fn player(&self) -> &str {
        todo!()
    }
    /// The session id (string or integer, as text).
    pub fn session(&self) -> &str {
        todo!()
    }
    /// The tenant, when a tenant claim is configured.
    pub fn tenant(&self) -> Option<&str> {
        todo!()
    }
    /// The permissions, when a permissions claim is configured.
    pub fn permissions(&self) -> &[String] {
        todo!()
    }
    /// `exp`, seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        todo!()
    }
    /// `iat`, when present.
    pub fn issued_at(&self) -> Option<u64> {
        todo!()
    }
    /// `jti`, when present.
    pub fn token_id(&self) -> Option<&str> {
        todo!()
    }
    /// The header `kid`, when present.
    pub fn key_id(&self) -> Option<&str> {
        todo!()
    }
    /// The caller's extra claims.
    pub fn claims(&self) -> &C {
        &self._c
    }
    /// Takes the extra claims.
    pub fn into_claims(self) -> C {
        self._c
    }
}

/// Verifies login tokens against a key set and a spec. Cheap to share (`Send + Sync`).
#[derive(Debug)]
pub struct Verifier<C = NoClaims> {
    _c: std::marker::PhantomData<fn() -> C>,
}

impl<C: DeserializeOwned> Verifier<C> {
    /// A verifier for login tokens.
    ///
    /// # Errors
    /// A [`ConfigError`] if `keys` is empty or the spec is inconsistent.
    pub fn new(keys: Keys, spec: TokenSpec) -> Result<Self, ConfigError> {
        let _ = (keys, spec);
        todo!()
    }

    /// A verifier for result tokens (header `typ` = [`RESULT_TOKEN_TYPE`](crate::jwt::RESULT_TOKEN_TYPE)
    /// required instead of refused).
    ///
    /// # Errors
    /// As [`Verifier::new`].
    pub fn for_results(keys: Keys, spec: TokenSpec) -> Result<Self, ConfigError> {
        let _ = (keys, spec);
        todo!()
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch).
    ///
    /// # Errors
    /// The [`AuthError`] of the first rule the token breaks.
    pub fn verify(&self, token: &str, now: u64) -> Result<Verified<C>, AuthError> {
        let _ = (token, now);
        todo!()
    }

    /// The spec this verifier enforces.
    pub fn spec(&self) -> &TokenSpec {
        todo!()
    }

    /// The keys this verifier uses.
    pub fn keys(&self) -> &Keys {
        todo!()
    }
}
