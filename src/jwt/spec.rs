//! Which tokens to accept: the validation spec.

use std::time::Duration;

/// Describes which login tokens to accept and where their ids live.
///
/// Defaults: no issuer or audience check, leeway 30 s, maximum lifetime 24 h (`exp - iat`;
/// `iat` then required), player id in `pid`, session id in `sid`, no tenant, no permissions,
/// tokens up to 8 KiB.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    // filled in by the JWT core
}

impl Default for TokenSpec {
    fn default() -> Self {
        todo!()
    }
}

impl TokenSpec {
    /// Accepts tokens whose `iss` is `issuer` (call again to accept several).
    pub fn issuer(self, issuer: impl Into<String>) -> Self {
        let _ = issuer.into();
        todo!()
    }

    /// Accepts tokens whose `aud` (string or array) contains `audience` (call again for several).
    pub fn audience(self, audience: impl Into<String>) -> Self {
        let _ = audience.into();
        todo!()
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 30 s).
    pub fn leeway(self, leeway: Duration) -> Self {
        let _ = leeway;
        todo!()
    }

    /// Maximum `exp - iat`; `None` accepts any lifetime (a server refuses that: its archive
    /// needs a bound).
    pub fn max_lifetime(self, max: Option<Duration>) -> Self {
        let _ = max;
        todo!()
    }

    /// The claim that holds the player id (default `pid`).
    pub fn player_claim(self, name: impl Into<String>) -> Self {
        let _ = name.into();
        todo!()
    }

    /// The claim that holds the session id (default `sid`).
    pub fn session_claim(self, name: impl Into<String>) -> Self {
        let _ = name.into();
        todo!()
    }

    /// The claim that holds the tenant (e.g. `operatorId`); required when set.
    pub fn tenant_claim(self, name: impl Into<String>) -> Self {
        let _ = name.into();
        todo!()
    }

    /// The claim that holds the permissions array (e.g. `permissions`).
    pub fn permissions_claim(self, name: impl Into<String>) -> Self {
        let _ = name.into();
        todo!()
    }

    /// A permission every token must carry (needs [`TokenSpec::permissions_claim`]).
    pub fn require_permission(self, permission: impl Into<String>) -> Self {
        let _ = permission.into();
        todo!()
    }

    /// A claim every token must carry.
    pub fn require_claim(self, name: impl Into<String>) -> Self {
        let _ = name.into();
        todo!()
    }

    /// Longest accepted token in bytes (default 8192); checked before any decoding.
    pub fn max_token_bytes(self, max: usize) -> Self {
        let _ = max;
        todo!()
    }

    /// The configured leeway.
    pub fn leeway_value(&self) -> Duration {
        todo!()
    }

    /// The configured maximum lifetime.
    pub fn max_lifetime_value(&self) -> Option<Duration> {
        todo!()
    }

    /// The configured maximum token size.
    pub fn max_token_bytes_value(&self) -> usize {
        todo!()
    }
}
