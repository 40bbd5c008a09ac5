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
    #[error("control character present in reason phrase")]
    StatusControl,
    #[error("header name is empty")]
    EmptyName,
    #[error("space character present in header name")]
    SpaceInName,
    #[error("control character present in header name")]
    ControlInName,
    #[error("carriage return/line feed character present in header value")]
    NewlineInValue,
    /// Stricter than mod_wsgi, which lets such names through to Apache
    /// (see docs/differences.md).
    #[error("header name '{0}' contains a character that is not allowed in an HTTP header name")]
    BadName(String),
}

/// A control character as C's `iscntrl` sees it in mod_wsgi (a signed
/// `char`, so bytes from 0x80 up are not).
fn is_control(c: char) -> bool {
    (c as u32) < 0x20 || c == '\x7f'
}

/// Checks `"NNN reason"` and returns the code, with mod_wsgi's rules: three
/// digits and no fourth, a space, no control character.
pub fn parse_status(status: &str) -> Result<u16, HeaderError> {
    let b = status.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || b.get(3).is_some_and(u8::is_ascii_digit) {
        return Err(HeaderError::StatusNotNumeric);
    }
    if b.get(3) != Some(&b' ') {
        return Err(HeaderError::StatusNoSpace);
    }
    if status.chars().any(is_control) {
        return Err(HeaderError::StatusControl);
    }
    Ok(u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0'))
}

/// The bytes of an HTTP token (RFC 9110): letters, digits and
/// ``!#$%&'*+-.^_`|~``. A table, as every header of every response is checked.
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        b += 1;
    }
    t
};

/// Checks one header from the application: mod_wsgi's checks (the first
/// offending character of the name decides the message), then the name
/// must be an HTTP token.
pub fn check_header(name: &str, value: &str) -> Result<(), HeaderError> {
    if name.is_empty() {
        return Err(HeaderError::EmptyName);
    }
    let mut token = true;
    // Bytes, not characters: those of a multi-byte character are 0x80 or
    // more, neither control nor space (as for a signed `char` in C).
    for &b in name.as_bytes() {
        if b < 0x20 || b == 0x7f {
            return Err(HeaderError::ControlInName);
        }
        if b == b' ' {
            return Err(HeaderError::SpaceInName);
        }
        token &= TOKEN[usize::from(b)];
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(HeaderError::NewlineInValue);
    }
    if !token {
        return Err(HeaderError::BadName(name.to_string()));
    }
    Ok(())
}

/// What the Apache child does instead of sending a daemon's response,
/// as mod_wsgi (like mod_cgi) does in daemon mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diversion<'a> {
    /// Status 200 with a `Location` naming a local URL (starting with
    /// `/`): Apache serves that URL itself by an internal redirect.
    InternalRedirect(&'a str),
    /// `WSGIErrorOverride On` and an error status (400 and up): the body is
    /// dropped and Apache answers with its own error document.
    ErrorDocument(u16),
}

/// The diversion for a daemon response with `status` and `headers`, if any.
pub fn diversion<'a>(status: u16, headers: &[(&'a str, &'a str)], error_override: bool) -> Option<Diversion<'a>> {
    if status == 200 {
        let location = headers.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case("location")).map(|(_, v)| *v);
        return location.filter(|l| l.starts_with('/')).map(Diversion::InternalRedirect);
    }
    (error_override && (400..600).contains(&status)).then_some(Diversion::ErrorDocument(status))
}

/// Whether a header of a diverted response still goes to the client with
/// the redirected answer: not those that describe the dropped body or
/// name the redirect itself.
pub fn kept_on_redirect(name: &str) -> bool {
    !["location", "content-type", "content-length", "content-encoding", "transfer-encoding", "status"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status("200 OK"), Ok(200));
        assert_eq!(parse_status("404 Not Found"), Ok(404));
        assert_eq!(parse_status("999 Weird"), Ok(999));
        assert_eq!(parse_status("200 "), Ok(200), "an empty reason phrase is allowed");
        assert_eq!(parse_status("200"), Err(HeaderError::StatusNoSpace));
        assert_eq!(parse_status("200OK"), Err(HeaderError::StatusNoSpace));
        assert_eq!(parse_status("OK"), Err(HeaderError::StatusNotNumeric));
        assert_eq!(parse_status("abc OK"), Err(HeaderError::StatusNotNumeric));
        assert_eq!(parse_status("20 OK"), Err(HeaderError::StatusNotNumeric));
        assert_eq!(parse_status("2000 OK"), Err(HeaderError::StatusNotNumeric));
        assert_eq!(parse_status("200 OK\r\nX: y"), Err(HeaderError::StatusControl));
        assert_eq!(parse_status("200 O\tK"), Err(HeaderError::StatusControl));
        assert_eq!(parse_status("200 caf\u{e9}"), Ok(200));
    }

    #[test]
    fn headers() {
        assert!(check_header("Content-Type", "text/plain").is_ok());
        assert!(check_header("Status", "200").is_ok(), "mod_wsgi passes a Status header through");
        assert!(check_header("X-Latin", "caf\u{e9}").is_ok());
        assert!(check_header("X-Tab", "a\tb").is_ok(), "mod_wsgi only refuses CR and LF in values");
        assert_eq!(check_header("Bad Name", "v"), Err(HeaderError::SpaceInName));
        assert_eq!(check_header("X", "a\r\nInjected: 1"), Err(HeaderError::NewlineInValue));
        assert_eq!(check_header("X\n", "v"), Err(HeaderError::ControlInName));
        assert_eq!(check_header("X-Bad\r\nX-Inj", "v"), Err(HeaderError::ControlInName));
        assert_eq!(check_header("X Bad\r\n", "v"), Err(HeaderError::SpaceInName), "the first offending character");
        assert_eq!(check_header("X:Y", "v"), Err(HeaderError::BadName("X:Y".into())));
        assert_eq!(check_header("", "v"), Err(HeaderError::EmptyName));
        assert_eq!(check_header("X-Caf\u{e9}", "v"), Err(HeaderError::BadName("X-Caf\u{e9}".into())));
        assert!(check_header("!#$%&'*+-.^_`|~09azAZ", "v").is_ok(), "every token character");
        for bad in ['(', ')', ',', '/', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '{', '}', '"'] {
            let name = format!("X{bad}");
            assert_eq!(check_header(&name, "v"), Err(HeaderError::BadName(name.clone())));
        }
    }

    #[test]
    fn a_local_location_with_200_is_an_internal_redirect() {
        let h = [("Content-Type", "text/plain"), ("Location", "/files/report.pdf")];
        assert_eq!(diversion(200, &h, false), Some(Diversion::InternalRedirect("/files/report.pdf")));
        assert_eq!(diversion(200, &[("location", "/x")], true), Some(Diversion::InternalRedirect("/x")));
        // A full URL, another status, or no Location: sent as it is.
        assert_eq!(diversion(200, &[("Location", "http://example.com/x")], false), None);
        assert_eq!(diversion(302, &[("Location", "/x")], false), None);
        assert_eq!(diversion(200, &[("Content-Type", "text/plain")], false), None);
    }

    #[test]
    fn error_override_diverts_error_statuses_only() {
        assert_eq!(diversion(404, &[], true), Some(Diversion::ErrorDocument(404)));
        assert_eq!(diversion(500, &[("Location", "/x")], true), Some(Diversion::ErrorDocument(500)));
        assert_eq!(diversion(404, &[], false), None);
        assert_eq!(diversion(302, &[], true), None);
        assert_eq!(diversion(399, &[], true), None);
    }

    #[test]
    fn headers_kept_on_redirect() {
        assert!(kept_on_redirect("Cache-Control"));
        assert!(kept_on_redirect("Set-Cookie"));
        assert!(kept_on_redirect("Content-Disposition"));
        for dropped in ["Location", "content-type", "Content-Length", "Content-Encoding", "Transfer-Encoding"] {
            assert!(!kept_on_redirect(dropped), "{dropped}");
        }
    }
}
