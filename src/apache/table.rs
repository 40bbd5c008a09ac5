//! Reading and writing `apr_table_t`.

use crate::ffi;
use std::ffi::{CString, c_char};

/// A borrowed APR table.
#[derive(Clone, Copy)]
pub struct Table {
    raw: *mut ffi::apr_table_t,
    pool: *mut ffi::apr_pool_t,
}

impl Table {
    /// # Safety
    /// `raw` must be a live table allocated from `pool`, outliving the use.
    pub unsafe fn new(raw: *mut ffi::apr_table_t, pool: *mut ffi::apr_pool_t) -> Self {
        Self { raw, pool }
    }

    pub fn get(&self, key: &str) -> Option<&[u8]> {
        let key = CString::new(key).ok()?;
        // SAFETY: the table is live (constructor contract); the value
        // returned is pool memory that outlives this borrow.
        unsafe { super::cstr::bytes(ffi::apr_table_get(self.raw, key.as_ptr())) }
    }

    /// Sets `key` (replacing earlier values), copying both into the pool.
    pub fn set(&self, key: &str, value: &str) {
        let k = super::cstr::pstrdup(self.pool, key);
        let v = super::cstr::pstrdup(self.pool, value);
        // SAFETY: key and value are pool strings that live as long as the table.
        unsafe { ffi::apr_table_setn(self.raw, k, v) };
    }

    pub fn unset(&self, key: &str) {
        if let Ok(key) = CString::new(key) {
            // SAFETY: apr_table_unset copies nothing and keeps no pointer.
            unsafe { ffi::apr_table_unset(self.raw, key.as_ptr()) };
        }
    }

    /// Every entry, in table order, as raw bytes.
    pub fn entries(&self) -> wsgi_core::vars::Vars {
        // SAFETY: an apr_table_t begins with its apr_array_header_t (the
        // `apr_table_elts` macro is this cast); entries are `nelts`
        // apr_table_entry_t records whose keys and values are NUL-terminated
        // pool strings (a value may be null).
        unsafe {
            let arr = self.raw as *const ffi::apr_array_header_t;
            if arr.is_null() {
                return Default::default();
            }
            let n = (*arr).nelts.max(0) as usize;
            let elts = (*arr).elts.cast::<ffi::apr_table_entry_t>();
            // Room for a typical request's variables, so pushing rarely grows.
            let mut vars = wsgi_core::vars::Vars::with_capacity(n + 16, 4096);
            for i in 0..n {
                let e = &*elts.add(i);
                if let Some(k) = super::cstr::bytes(e.key as *const c_char) {
                    vars.push(k, super::cstr::bytes(e.val as *const c_char).unwrap_or_default());
                }
            }
            vars
        }
    }
}
