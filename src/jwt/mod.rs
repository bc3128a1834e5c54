//! JSON Web Tokens, hand-rolled on ring + base64 + serde_json. PURE: no clock, no I/O.
//!
//! - [`Keys`]: the keys that verify login tokens, selected by `kid`, each bound to one [`Algorithm`].
//! - [`TokenSpec`]: which tokens to accept (issuer, audience, leeway, lifetime, claim names).
//! - [`Verifier`]: `verify(token, now)` → [`Verified`] claims or an [`AuthError`](crate::AuthError).
//! - [`Signer`]: signs result tokens (and admission tickets) as compact JWS.

mod base64url;
mod claims;
mod extra;
mod json;
mod keys;
mod scan;
mod sign;
mod spec;
#[cfg(test)]
mod tests;
mod verify;

pub use keys::{Algorithm, Keys};
pub use sign::Signer;
pub use spec::TokenSpec;
pub use verify::{NoClaims, Verified, Verifier};

/// The header `typ` of result tokens. A [`Verifier`] for login tokens refuses it with
/// [`AuthError::WrongTokenType`](crate::AuthError::WrongTokenType).
pub const RESULT_TOKEN_TYPE: &str = "jgs-result+jwt";

/// The header `typ` of login tokens (also accepted: no `typ` at all).
pub const LOGIN_TOKEN_TYPE: &str = "JWT";
