//! Strict base64url (RFC 4648 §5, no padding, canonical trailing bits).
