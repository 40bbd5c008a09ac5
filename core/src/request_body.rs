//! mod_wsgi's rules for a request body, checked before it is read:
//! `Transfer-Encoding` (only `chunked`, and only with
//! `WSGIChunkedRequest On`) and a `Content-Length` over `LimitRequestBody`.

/// Why a request body is refused; mod_wsgi's words, to which the script's
/// file name is added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyRefusal {
    #[error("Unexpected value for Transfer-Encoding of '{0}' supplied. Only 'chunked' supported.")]
    UnsupportedEncoding(String),
    #[error(
        "Received request requiring chunked transfer encoding, but optional support for chunked transfer encoding has not been enabled."
    )]
    ChunkedDisabled,
}

impl BodyRefusal {
    /// 501 for an encoding mod_wsgi does not know, 411 when chunked bodies
    /// are not enabled.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnsupportedEncoding(_) => 501,
            Self::ChunkedDisabled => 411,
        }
    }
}

/// Checks the request's `Transfer-Encoding` header (if any) against
/// `WSGIChunkedRequest` (`chunked_enabled`).
pub fn check_transfer_encoding(te: Option<&str>, chunked_enabled: bool) -> Result<(), BodyRefusal> {
    let Some(te) = te else { return Ok(()) };
    if !te.eq_ignore_ascii_case("chunked") {
        return Err(BodyRefusal::UnsupportedEncoding(te.to_string()));
    }
    if !chunked_enabled {
        return Err(BodyRefusal::ChunkedDisabled);
    }
    Ok(())
}

/// Whether the declared `Content-Length` exceeds `LimitRequestBody`
/// (`limit`, 0: none). Apache then answers 413 itself while discarding the
/// body; a missing or unreadable length is left to Apache's body reading.
pub fn over_limit(content_length: Option<&[u8]>, limit: u64) -> bool {
    let declared = content_length.and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    limit > 0 && declared.is_some_and(|len| len > limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_transfer_encoding_is_fine() {
        assert_eq!(check_transfer_encoding(None, false), Ok(()));
    }

    #[test]
    fn chunked_needs_wsgi_chunked_request_on() {
        assert_eq!(check_transfer_encoding(Some("chunked"), true), Ok(()));
        assert_eq!(check_transfer_encoding(Some("Chunked"), true), Ok(()));
        let refused = check_transfer_encoding(Some("chunked"), false);
        assert_eq!(refused, Err(BodyRefusal::ChunkedDisabled));
        assert_eq!(BodyRefusal::ChunkedDisabled.status(), 411);
    }

    #[test]
    fn other_encodings_are_not_implemented() {
        for enabled in [false, true] {
            let refused = check_transfer_encoding(Some("gzip"), enabled);
            assert_eq!(refused, Err(BodyRefusal::UnsupportedEncoding("gzip".into())));
        }
        let r = BodyRefusal::UnsupportedEncoding("gzip".into());
        assert_eq!(r.status(), 501);
        assert_eq!(
            r.to_string(),
            "Unexpected value for Transfer-Encoding of 'gzip' supplied. Only 'chunked' supported."
        );
    }

    #[test]
    fn declared_length_over_the_limit() {
        assert!(over_limit(Some(b"11"), 10));
        assert!(over_limit(Some(b" 11 "), 10));
        assert!(!over_limit(Some(b"10"), 10));
        assert!(!over_limit(Some(b"11"), 0));
        assert!(!over_limit(None, 10));
        assert!(!over_limit(Some(b"many"), 10));
    }
}
