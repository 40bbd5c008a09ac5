//! Rules for the status line and headers a WSGI application returns.

use thiserror::Error;

/// What is wrong with a status or header from the application.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error("status line '{0}' is not a 3 digit status code followed by a space and a reason")]
    BadStatus(String),
    #[error("response header name '{0}' is not a valid HTTP token")]
    BadName(String),
    #[error("response header '{name}' has a value containing a newline")]
    NewlineInValue { name: String },
    #[error("response header '{name}' is not allowed: {why}")]
    Forbidden { name: String, why: &'static str },
}

/// Checks `"NNN reason"` and returns the code.
pub fn parse_status(status: &str) -> Result<u16, HeaderError> {
    let b = status.as_bytes();
    let ok = b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' && !status.contains(['\r', '\n']);
    if !ok {
        return Err(HeaderError::BadStatus(status.to_string()));
    }
    let code: u16 = status[..3].parse().map_err(|_| HeaderError::BadStatus(status.to_string()))?;
    if !(100..=999).contains(&code) {
        return Err(HeaderError::BadStatus(status.to_string()));
    }
    Ok(code)
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Checks one header from the application.
pub fn check_header(name: &str, value: &str) -> Result<(), HeaderError> {
    if name.is_empty() || !name.bytes().all(is_token_char) {
        return Err(HeaderError::BadName(name.to_string()));
    }
    if value.contains(['\r', '\n']) {
        return Err(HeaderError::NewlineInValue { name: name.to_string() });
    }
    if name.eq_ignore_ascii_case("status") {
        return Err(HeaderError::Forbidden { name: name.to_string(), why: "the status is passed to start_response" });
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
        assert!(parse_status("200").is_err());
        assert!(parse_status("20 OK").is_err());
        assert!(parse_status("OK 200").is_err());
        assert!(parse_status("200 OK\r\nX: y").is_err());
    }

    #[test]
    fn headers() {
        assert!(check_header("Content-Type", "text/plain").is_ok());
        assert!(check_header("Bad Name", "v").is_err());
        assert!(check_header("X", "a\r\nInjected: 1").is_err());
        assert!(check_header("Status", "200").is_err());
    }
}
