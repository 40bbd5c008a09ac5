//! Rules for the status line and headers a WSGI application returns. The
//! messages are mod_wsgi's, since applications and their tests see them as
//! the text of the exception `start_response` raises.

use thiserror::Error;

/// What is wrong with a status or header from the application.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error("status code is not a 3 digit integer")]
    StatusNotNumeric,
    #[error("no space following status code")]
    StatusNoSpace,
    #[error("carriage return/line feed character present in status line")]
    StatusNewline,
    #[error("space character present in header name")]
    SpaceInName,
    #[error("carriage return/line feed character present in header name")]
    NewlineInName,
    #[error("carriage return/line feed character present in header value")]
    NewlineInValue,
    /// Stricter than mod_wsgi, which lets such names through to Apache
    /// (see docs/differences.md).
    #[error("header name '{0}' contains a character that is not allowed in an HTTP header name")]
    BadName(String),
}

/// Checks `"NNN reason"` and returns the code.
pub fn parse_status(status: &str) -> Result<u16, HeaderError> {
    let b = status.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) {
        return Err(HeaderError::StatusNotNumeric);
    }
    if b.get(3) != Some(&b' ') {
        return Err(HeaderError::StatusNoSpace);
    }
    if status.contains(['\r', '\n']) {
        return Err(HeaderError::StatusNewline);
    }
    Ok(u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0'))
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Checks one header from the application.
pub fn check_header(name: &str, value: &str) -> Result<(), HeaderError> {
    if name.contains(['\r', '\n']) {
        return Err(HeaderError::NewlineInName);
    }
    if name.contains(' ') {
        return Err(HeaderError::SpaceInName);
    }
    if value.contains(['\r', '\n']) {
        return Err(HeaderError::NewlineInValue);
    }
    if name.is_empty() || !name.bytes().all(is_token_char) {
        return Err(HeaderError::BadName(name.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status("200 OK"), Ok(200));
        assert_eq!(parse_status("404 Not Found"), Ok(404));
        assert_eq!(parse_status("999 Weird"), Ok(999));
        assert_eq!(parse_status("200"), Err(HeaderError::StatusNoSpace));
        assert_eq!(parse_status("200OK"), Err(HeaderError::StatusNoSpace));
        assert_eq!(parse_status("OK"), Err(HeaderError::StatusNotNumeric));
        assert_eq!(parse_status("abc OK"), Err(HeaderError::StatusNotNumeric));
        assert_eq!(parse_status("20 OK"), Err(HeaderError::StatusNotNumeric));
        assert_eq!(parse_status("200 OK\r\nX: y"), Err(HeaderError::StatusNewline));
    }

    #[test]
    fn headers() {
        assert!(check_header("Content-Type", "text/plain").is_ok());
        assert!(check_header("Status", "200").is_ok(), "mod_wsgi passes a Status header through");
        assert_eq!(check_header("Bad Name", "v"), Err(HeaderError::SpaceInName));
        assert_eq!(check_header("X", "a\r\nInjected: 1"), Err(HeaderError::NewlineInValue));
        assert_eq!(check_header("X\n", "v"), Err(HeaderError::NewlineInName));
        assert_eq!(check_header("X:Y", "v"), Err(HeaderError::BadName("X:Y".into())));
        assert_eq!(check_header("", "v"), Err(HeaderError::BadName(String::new())));
    }
}
