//! Which tokens to accept: the validation spec.

use crate::ConfigError;
use std::time::Duration;

/// The claims the verifier reads itself; the id, tenant and permissions claims may not use them.
const REGISTERED: [&str; 6] = ["exp", "nbf", "iat", "iss", "aud", "jti"];

/// Longest claim name accepted in a spec.
const MAX_CLAIM_NAME: usize = 256;

/// Describes which login tokens to accept and where their ids live.
///
/// Defaults: no issuer or audience check, leeway 30 s, maximum lifetime 24 h (`exp - iat`;
/// `iat` then required), player id in `pid`, session id in `sid`, no tenant, no permissions,
/// tokens up to 8 KiB.
///
/// # Examples
///
/// ```
/// use jwt_game_server::TokenSpec;
/// use std::time::Duration;
///
/// let spec = TokenSpec::default()
///     .issuer("https://auth.example.com")
///     .audience("poker")
///     .player_claim("playerId")
///     .session_claim("roomId")
///     .tenant_claim("operatorId")
///     .leeway(Duration::from_secs(10));
/// assert_eq!(spec.leeway_value(), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub(crate) issuers: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) leeway: Duration,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) player_claim: String,
    pub(crate) session_claim: String,
    pub(crate) tenant_claim: Option<String>,
    pub(crate) permissions_claim: Option<String>,
    pub(crate) required_permissions: Vec<String>,
    pub(crate) required_claims: Vec<String>,
    pub(crate) max_token_bytes: usize,
}

impl Default for TokenSpec {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: Duration::from_secs(30),
            max_lifetime: Some(Duration::from_secs(24 * 60 * 60)),
            player_claim: "pid".to_owned(),
            session_claim: "sid".to_owned(),
            tenant_claim: None,
            permissions_claim: None,
            required_permissions: Vec::new(),
            required_claims: Vec::new(),
            max_token_bytes: 8192,
        }
    }
}

impl TokenSpec {
    /// Accepts tokens whose `iss` is `issuer` (call again to accept several).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` (string or array) contains `audience` (call again for several).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 30 s). Whole seconds count;
    /// a fraction of a second is dropped.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Maximum `exp - iat`; `None` accepts any lifetime (a server refuses that: its archive
    /// needs a bound).
    pub fn max_lifetime(mut self, max: Option<Duration>) -> Self {
        self.max_lifetime = max;
        self
    }

    /// The claim that holds the player id (default `pid`).
    pub fn player_claim(mut self, name: impl Into<String>) -> Self {
        self.player_claim = name.into();
        self
    }

    /// The claim that holds the session id (default `sid`).
    pub fn session_claim(mut self, name: impl Into<String>) -> Self {
        self.session_claim = name.into();
        self
    }

    /// The claim that holds the tenant (e.g. `operatorId`); required when set.
    pub fn tenant_claim(mut self, name: impl Into<String>) -> Self {
        self.tenant_claim = Some(name.into());
        self
    }

    /// The claim that holds the permissions array (e.g. `permissions`).
    pub fn permissions_claim(mut self, name: impl Into<String>) -> Self {
        self.permissions_claim = Some(name.into());
        self
    }

    /// A permission every token must carry (needs [`TokenSpec::permissions_claim`]).
    pub fn require_permission(mut self, permission: impl Into<String>) -> Self {
        self.required_permissions.push(permission.into());
        self
    }

    /// A claim every token must carry.
    pub fn require_claim(mut self, name: impl Into<String>) -> Self {
        self.required_claims.push(name.into());
        self
    }

    /// Longest accepted token in bytes (default 8192); checked before any decoding.
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// The configured leeway.
    pub fn leeway_value(&self) -> Duration {
        self.leeway
    }

    /// The configured maximum lifetime.
    pub fn max_lifetime_value(&self) -> Option<Duration> {
        self.max_lifetime
    }

    /// The configured maximum token size.
    pub fn max_token_bytes_value(&self) -> usize {
        self.max_token_bytes
    }

    /// The accepted issuers (empty: any issuer, or none).
    pub fn issuers(&self) -> &[String] {
        &self.issuers
    }

    /// The accepted audiences (empty: no audience check).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The claim that holds the player id.
    pub fn player_claim_name(&self) -> &str {
        &self.player_claim
    }

    /// The claim that holds the session id.
    pub fn session_claim_name(&self) -> &str {
        &self.session_claim
    }

    /// The claim that holds the tenant, when configured.
    pub fn tenant_claim_name(&self) -> Option<&str> {
        self.tenant_claim.as_deref()
    }

    /// The claim that holds the permissions, when configured.
    pub fn permissions_claim_name(&self) -> Option<&str> {
        self.permissions_claim.as_deref()
    }

    /// Checks that the spec is consistent: claim names non-empty, distinct and not one of the
    /// registered claims the verifier reads itself (`exp`, `nbf`, `iat`, `iss`, `aud`, `jti`),
    /// required permissions only with a permissions claim, a non-zero size cap.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the option (`tokens.player_claim`, …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut named: Vec<(&str, &str)> = vec![
            ("tokens.player_claim", &self.player_claim),
            ("tokens.session_claim", &self.session_claim),
        ];
        if let Some(t) = &self.tenant_claim {
            named.push(("tokens.tenant_claim", t));
        }
        if let Some(p) = &self.permissions_claim {
            named.push(("tokens.permissions_claim", p));
        }
        for (i, &(option, name)) in named.iter().enumerate() {
            if name.is_empty() || name.len() > MAX_CLAIM_NAME {
                return Err(ConfigError::new(
                    option,
                    "a claim name must have 1 to 256 bytes",
                ));
            }
            if REGISTERED.contains(&name) {
                return Err(ConfigError::new(
                    option,
                    format!("`{name}` is a registered claim the verifier reads itself"),
                ));
            }
            if let Some((other, _)) = named[..i].iter().find(|(_, n)| *n == name) {
                return Err(ConfigError::new(
                    option,
                    format!("`{name}` is already used by {other}"),
                ));
            }
        }
        if !self.required_permissions.is_empty() && self.permissions_claim.is_none() {
            return Err(ConfigError::new(
                "tokens.require_permission",
                "needs a permissions claim (TokenSpec::permissions_claim)",
            ));
        }
        if let Some(c) = self.required_claims.iter().find(|c| c.is_empty()) {
            return Err(ConfigError::new(
                "tokens.require_claim",
                format!("an empty claim name ({c:?}) cannot be required"),
            ));
        }
        if self.max_token_bytes == 0 {
            return Err(ConfigError::new(
                "tokens.max_token_bytes",
                "must be greater than 0",
            ));
        }
        if self.max_lifetime == Some(Duration::ZERO) {
            return Err(ConfigError::new(
                "tokens.max_lifetime",
                "must be greater than 0 (or None)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_docs() {
        let s = TokenSpec::default();
        assert_eq!(s.leeway_value(), Duration::from_secs(30));
        assert_eq!(s.max_lifetime_value(), Some(Duration::from_secs(86_400)));
        assert_eq!(s.max_token_bytes_value(), 8192);
        assert_eq!(s.player_claim_name(), "pid");
        assert_eq!(s.session_claim_name(), "sid");
        assert!(s.issuers().is_empty() && s.audiences().is_empty());
        assert!(s.validate().is_ok());
    }

    #[test]
    fn colliding_claim_names_are_refused() {
        let e = TokenSpec::default()
            .session_claim("pid")
            .validate()
            .unwrap_err();
        assert_eq!(e.option(), "tokens.session_claim");
        let e = TokenSpec::default()
            .player_claim("exp")
            .validate()
            .unwrap_err();
        assert_eq!(e.option(), "tokens.player_claim");
        let e = TokenSpec::default()
            .tenant_claim("")
            .validate()
            .unwrap_err();
        assert_eq!(e.option(), "tokens.tenant_claim");
    }

    #[test]
    fn required_permission_needs_a_permissions_claim() {
        let s = TokenSpec::default().require_permission("play");
        assert_eq!(
            s.validate().unwrap_err().option(),
            "tokens.require_permission"
        );
        assert!(s.permissions_claim("perms").validate().is_ok());
    }
}
