//! Bytes from the server (variables, notes, file names) as Rust text.

/// `bytes` as a `String`, invalid UTF-8 replaced. Nearly all is ASCII, for
/// which checking first is several times cheaper than the lossy decoder.
pub fn lossy(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::lossy;

    #[test]
    fn valid_text_is_kept_and_invalid_bytes_replaced() {
        assert_eq!(lossy(b"/app/x"), "/app/x");
        assert_eq!(lossy("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(lossy(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(lossy(b""), "");
    }
}
