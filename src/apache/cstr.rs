//! Conversions between C strings owned by Apache and Rust strings.

use std::ffi::{CStr, CString, c_char};

/// Borrows a NUL-terminated string as bytes; `None` for a null pointer.
///
/// # Safety
/// `p` must be null or point to a NUL-terminated string that outlives `'a`.
pub unsafe fn bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: the caller guarantees a live NUL-terminated string.
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// A lossy UTF-8 copy of a C string; empty for null.
///
/// # Safety
/// As for [`bytes`].
pub unsafe fn string(p: *const c_char) -> String {
    // SAFETY: forwarded from the caller.
    unsafe { bytes(p) }.map(wsgi_core::text::lossy).unwrap_or_default()
}

/// Runs `f` with `s` as a NUL-terminated string, from a stack buffer when
/// it is short (table keys are), so a lookup allocates nothing. `None` if
/// `s` contains a NUL.
pub fn with_cstr<R>(s: &str, f: impl FnOnce(*const c_char) -> R) -> Option<R> {
    const SHORT: usize = 64;
    let b = s.as_bytes();
    if b.contains(&0) {
        return None;
    }
    if b.len() < SHORT {
        let mut buf = [0u8; SHORT];
        buf[..b.len()].copy_from_slice(b);
        Some(f(buf.as_ptr().cast()))
    } else {
        let c = CString::new(b).ok()?;
        Some(f(c.as_ptr()))
    }
}
