//! Authentication: password hashing, signed tokens, CSRF tokens and the superusers they
//! protect, and the OAuth2 providers. No HTTP server types here; handlers in `api/` and
//! `ui/` call into it.

pub mod account;
pub mod apple_names;
pub mod avatar;
pub mod csrf;
pub mod external;
pub mod installer;
pub mod mfa;
pub mod oauth2;
pub mod otp;
pub mod records;
pub mod signin;
pub mod superusers;
pub mod token;
