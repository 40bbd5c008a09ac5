//! Reading and writing `apr_table_t`.

use super::pool::Pool;
use crate::ffi;
use std::ffi::{CStr, c_char};

/// An APR table that lives for `'t`.
#[derive(Clone, Copy)]
pub struct Table<'t> {
    raw: *mut ffi::apr_table_t,
    pool: Pool<'t>,
}

impl<'t> Table<'t> {
    /// # Safety
    /// `raw` must be a live table allocated from `pool`, living as long.
    pub(super) unsafe fn from_raw(raw: *mut ffi::apr_table_t, pool: Pool<'t>) -> Self {
        Self { raw, pool }
    }

    pub fn get(&self, key: &str) -> Option<&'t [u8]> {
        // SAFETY: the table is live (constructor contract); the value
        // returned is pool memory that outlives this borrow.
        super::cstr::with_cstr(key, |k| unsafe { super::cstr::bytes(ffi::apr_table_get(self.raw, k)) }).flatten()
    }

    /// Sets `key` (replacing earlier values), copying both into the pool.
    pub fn set(&self, key: &str, value: &str) {
        let k = self.pool.pstrdup(key);
        let v = self.pool.pstrdup(value);
        // SAFETY: key and value are pool strings that live as long as the table.
        unsafe { ffi::apr_table_setn(self.raw, k, v) };
    }

    /// Sets `key`, a name of ours. `fresh` says the table holds no such
    /// name yet (the caller checked with [`Table::has_prefix`]): the entry
    /// is then appended without a search of the whole table.
    pub fn set_own(&self, key: &'static CStr, value: &str, fresh: bool) {
        let v = self.pool.pstrdup(value);
        // SAFETY: the key is static and the value a pool string, both
        // outliving the table.
        unsafe {
            if fresh {
                ffi::apr_table_addn(self.raw, key.as_ptr(), v);
            } else {
                ffi::apr_table_setn(self.raw, key.as_ptr(), v);
            }
        }
    }

    pub fn unset(&self, key: &str) {
        // SAFETY: apr_table_unset copies nothing and keeps no pointer.
        super::cstr::with_cstr(key, |k| unsafe { ffi::apr_table_unset(self.raw, k) });
    }

    /// Every entry, in table order, as raw bytes borrowed from the pool.
    pub(super) fn raw_entries(&self) -> impl Iterator<Item = (&'t [u8], &'t [u8])> + 't {
        // SAFETY: an apr_table_t begins with its apr_array_header_t (the
        // `apr_table_elts` macro is this cast); entries are `nelts`
        // apr_table_entry_t records whose keys and values are NUL-terminated
        // pool strings (a value may be null), alive as long as the table.
        let (n, elts) = unsafe {
            let arr = self.raw as *const ffi::apr_array_header_t;
            if arr.is_null() {
                (0, std::ptr::null())
            } else {
                ((*arr).nelts.max(0) as usize, (*arr).elts.cast::<ffi::apr_table_entry_t>().cast_const())
            }
        };
        (0..n).filter_map(move |i| {
            // SAFETY: `i < nelts`, as above.
            unsafe {
                let e = &*elts.add(i);
                let k = super::cstr::bytes(e.key as *const c_char)?;
                Some((k, super::cstr::bytes(e.val as *const c_char).unwrap_or_default()))
            }
        })
    }

    /// Every entry, in table order, as raw bytes.
    pub fn entries(&self) -> wsgi_core::vars::Vars {
        self.raw_entries().collect()
    }

    /// Whether any name in the table starts with `prefix`.
    pub fn has_prefix(&self, prefix: &[u8]) -> bool {
        self.raw_entries().any(|(k, _)| k.starts_with(prefix))
    }
}
