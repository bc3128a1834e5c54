//! Error types: [`AuthError`] (why a token was refused, with a stable machine code),
//! [`ConfigError`] (which builder option or key is wrong) and [`Error`] (starting a server).

use std::fmt;

/// Why a token (or a connection's authentication) was refused.
///
/// Every variant has a stable machine code ([`AuthError::code`]) that goes on the wire as the
/// JSON `error` field of an HTTP 401/403 body or as the reason of a WebSocket close 1008, and a
/// short human message ([`AuthError::message`]). The table of codes lives in the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthError {
    /// No token was presented (no `Authorization: Bearer`, no `?token=`, no first message).
    TokenMissing,
    /// The token is longer than the configured maximum; nothing was decoded.
    TokenTooLarge,
    /// The token is not a well-formed compact JWS with JSON object header and claims
    /// (segments, base64url, JSON, duplicate names, wrong claim types, `crit`, `b64`).
    TokenMalformed,
    /// The header's `alg` is not the algorithm of the selected key (`none` included).
    InvalidAlgorithm,
    /// No configured key matches the header's `kid`.
    UnknownKey,
    /// The signature does not verify.
    SignatureInvalid,
    /// `exp` (plus leeway) is in the past.
    TokenExpired,
    /// `nbf` or `iat` (minus leeway) is in the future.
    TokenNotYetValid,
    /// `exp - iat` exceeds the configured maximum lifetime, or `iat` is missing while a
    /// maximum lifetime is configured.
    LifetimeExceeded,
    /// `iss` is missing or not one of the accepted issuers.
    InvalidIssuer,
    /// `aud` is missing or names none of the accepted audiences.
    InvalidAudience,
    /// A required claim (player id, session id, tenant, or one set as required) is absent.
    MissingClaim,
    /// The header `typ` is not a login token type (a result token can never log in).
    WrongTokenType,
    /// The permissions claim lacks a required permission.
    InsufficientPermissions,
    /// The token's tenant is not served here.
    WrongTenant,
    /// The token id (`jti`) was already used.
    TokenReplayed,
    /// No token arrived as first message within the auth timeout.
    AuthTimeout,
}

impl AuthError {
    /// Every variant, in table order.
    pub const ALL: [Self; 17] = [
        Self::TokenMissing,
        Self::TokenTooLarge,
        Self::TokenMalformed,
        Self::InvalidAlgorithm,
        Self::UnknownKey,
        Self::SignatureInvalid,
        Self::TokenExpired,
        Self::TokenNotYetValid,
        Self::LifetimeExceeded,
        Self::InvalidIssuer,
        Self::InvalidAudience,
        Self::MissingClaim,
        Self::WrongTokenType,
        Self::InsufficientPermissions,
        Self::WrongTenant,
        Self::TokenReplayed,
        Self::AuthTimeout,
    ];

    /// The stable machine code, e.g. `"token_expired"`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::TokenMissing => "token_missing",
            Self::TokenTooLarge => "token_too_large",
            Self::TokenMalformed => "token_malformed",
            Self::InvalidAlgorithm => "invalid_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::SignatureInvalid => "signature_invalid",
            Self::TokenExpired => "token_expired",
            Self::TokenNotYetValid => "token_not_yet_valid",
            Self::LifetimeExceeded => "lifetime_exceeded",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidAudience => "invalid_audience",
            Self::MissingClaim => "missing_claim",
            Self::WrongTokenType => "wrong_token_type",
            Self::InsufficientPermissions => "insufficient_permissions",
            Self::WrongTenant => "wrong_tenant",
            Self::TokenReplayed => "token_replayed",
            Self::AuthTimeout => "auth_timeout",
        }
    }

    /// A short human-readable message.
    pub const fn message(self) -> &'static str {
        match self {
            Self::TokenMissing => "no token was presented",
            Self::TokenTooLarge => "the token exceeds the maximum size",
            Self::TokenMalformed => "the token is not a well-formed JWT",
            Self::InvalidAlgorithm => "the token's algorithm is not allowed for its key",
            Self::UnknownKey => "no key matches the token's key id",
            Self::SignatureInvalid => "the token's signature is invalid",
            Self::TokenExpired => "the token has expired",
            Self::TokenNotYetValid => "the token is not valid yet",
            Self::LifetimeExceeded => "the token's lifetime exceeds the maximum",
            Self::InvalidIssuer => "the token's issuer is not accepted",
            Self::InvalidAudience => "the token's audience is not accepted",
            Self::MissingClaim => "the token lacks a required claim",
            Self::WrongTokenType => "the token's type cannot be used to log in",
            Self::InsufficientPermissions => "the token lacks a required permission",
            Self::WrongTenant => "the token's tenant is not served here",
            Self::TokenReplayed => "the token was already used",
            Self::AuthTimeout => "no token arrived in time",
        }
    }

    /// The HTTP status for a refusal before the WebSocket upgrade: 403 for
    /// [`AuthError::InsufficientPermissions`] and [`AuthError::WrongTenant`], 401 otherwise.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::InsufficientPermissions | Self::WrongTenant => 403,
            _ => 401,
        }
    }

    /// Looks a variant up by its machine code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for AuthError {}

/// A configuration problem: names the option (or key) that is wrong and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    option: String,
    reason: String,
}

impl ConfigError {
    /// A new error about `option` (e.g. `"workers"`, `"keys[1]"`).
    pub fn new(option: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            option: option.into(),
            reason: reason.into(),
        }
    }

    /// The option or key that is wrong.
    pub fn option(&self) -> &str {
        &self.option
    }

    /// Why it is wrong.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.option, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// An error starting or running a server.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    Config(ConfigError),
    /// A socket, thread or poll could not be created.
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => e.fmt(f),
            Self::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Io(e) => Some(e),
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}
