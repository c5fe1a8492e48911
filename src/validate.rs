//! Field-level checks shared by every input path (API, admin UI, CLI), with PocketBase's
//! error codes and messages.

use crate::error::FieldError;

/// PocketBase's (bcrypt-era) upper bound; kept so clients see the same limits.
pub const PASSWORD_MAX: usize = 71;
pub const PASSWORD_MIN: usize = 8;

/// A pragmatic address check: one `@`, a sane local part and a dotted or single-label
/// domain, no whitespace or control characters. Deliverability is the mailer's business.
pub fn email(value: &str) -> Option<FieldError> {
    if value.is_empty() {
        return Some(FieldError::required());
    }
    let invalid = || {
        Some(FieldError::new(
            "validation_is_email",
            "Must be a valid email address.",
        ))
    };
    if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid();
    }
    let Some((local, domain)) = value.split_once('@') else {
        return invalid();
    };
    let domain_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local.contains(['@', '"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']']);
    if domain_ok && local_ok {
        None
    } else {
        invalid()
    }
}

pub fn password(value: &str) -> Option<FieldError> {
    let len = value.chars().count();
    if len == 0 {
        Some(FieldError::required())
    } else if len < PASSWORD_MIN {
        Some(FieldError::new(
            "validation_min_text_constraint",
            &format!("Must be at least {PASSWORD_MIN} character(s)."),
        ))
    } else if value.len() > PASSWORD_MAX {
        Some(FieldError::new(
            "validation_max_text_constraint",
            &format!("Must be less than {PASSWORD_MAX} character(s)."),
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "first.last+tag@example.com",
            "x@localhost",
            "ü@exämple.de",
        ] {
            assert_eq!(email(ok), None, "{ok}");
        }
        for bad in [
            "", "plain", "@x.com", "a@", "a b@c.d", "a@@b.c", "a@b..c", ".a@b.c", "a@-b.c",
        ] {
            assert!(email(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert_eq!(password("12345678"), None);
        assert_eq!(
            password("").map(|e| e.code),
            Some("validation_required".into())
        );
        assert_eq!(
            password("1234567").map(|e| e.code),
            Some("validation_min_text_constraint".into())
        );
        assert!(password(&"x".repeat(72)).is_some());
    }
}
