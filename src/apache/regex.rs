//! Apache's own regular expressions (PCRE), so `WSGIScriptAliasMatch`
//! patterns mean exactly what they mean to mod_alias and mod_wsgi.

use super::pool::Pool;
use crate::ffi;
use std::ffi::CString;

/// A compiled pattern owned by a configuration pool.
#[derive(Clone, Copy)]
pub struct Regex(*mut ffi::ap_regex_t);

// SAFETY: a compiled ap_regex_t is immutable after ap_pregcomp; regexec
// only reads it, from any thread.
unsafe impl Send for Regex {}
// SAFETY: as above.
unsafe impl Sync for Regex {}

impl Regex {
    /// Compiles `pattern` into `pool`; `None` when it is not valid.
    pub fn compile(pool: Pool<'_>, pattern: &str) -> Option<Self> {
        let c = CString::new(pattern).ok()?;
        // SAFETY: ap_pregcomp copies what it needs and registers the
        // compiled pattern's cleanup on `pool`.
        let raw = unsafe { ffi::ap_pregcomp(pool.as_ptr(), c.as_ptr(), 0) };
        (!raw.is_null()).then_some(Self(raw))
    }

    /// Matches `subject`; on success returns the matched prefix length and
    /// `template` with `$0`..`$9` substituted, both built in `pool`.
    pub fn substitute(&self, pool: Pool<'_>, subject: &str, template: &str) -> Option<(usize, String)> {
        const N: usize = ffi::AP_MAX_REG_MATCH as usize;
        let subj = CString::new(subject).ok()?;
        let tmpl = CString::new(template).ok()?;
        let mut m = [ffi::ap_regmatch_t { rm_so: -1, rm_eo: -1 }; N];
        // SAFETY: the pattern is live (pool-owned); `m` has room for N
        // matches, and ap_pregsub reads only the subject and those matches.
        unsafe {
            if ffi::ap_regexec(self.0, subj.as_ptr(), N, m.as_mut_ptr(), 0) != 0 {
                return None;
            }
            let out = ffi::ap_pregsub(pool.as_ptr(), tmpl.as_ptr(), subj.as_ptr(), N, m.as_mut_ptr());
            let text = super::cstr::bytes(out)?;
            Some((m[0].rm_eo.max(0) as usize, String::from_utf8_lossy(text).into_owned()))
        }
    }
}
