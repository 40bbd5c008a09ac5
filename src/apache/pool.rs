//! APR pools: Rust values owned by them, and per-process userdata.

use crate::ffi;
use std::ffi::{CStr, c_void};
use std::marker::PhantomData;

/// A pool that lives for `'p`.
#[derive(Clone, Copy)]
pub struct Pool<'p> {
    raw: *mut ffi::apr_pool_t,
    _pool: PhantomData<&'p ffi::apr_pool_t>,
}

extern "C" fn drop_value<T>(data: *mut c_void) -> ffi::apr_status_t {
    // SAFETY: registered by `alloc` for exactly this pointer and type; the
    // pool runs each cleanup once.
    unsafe { std::ptr::drop_in_place(data.cast::<T>()) };
    0
}

extern "C" fn no_cleanup(_: *mut c_void) -> ffi::apr_status_t {
    0
}

impl<'p> Pool<'p> {
    /// # Safety
    /// `p` must be a live pool that is not destroyed or cleared before `'p` ends.
    pub unsafe fn from_raw(p: *mut ffi::apr_pool_t) -> Self {
        Self { raw: p, _pool: PhantomData }
    }

    pub fn as_ptr(&self) -> *mut ffi::apr_pool_t {
        self.raw
    }

    /// Moves `value` into the pool; it is dropped when the pool is cleared.
    pub fn alloc<T>(&self, value: T) -> *mut T {
        // SAFETY: apr_palloc returns memory aligned for any C type (8 bytes
        // on this platform, checked below), sized for T; it is written
        // before the cleanup that drops it is registered.
        unsafe {
            assert!(std::mem::align_of::<T>() <= 8);
            let p = ffi::apr_palloc(self.raw, std::mem::size_of::<T>().max(1)).cast::<T>();
            p.write(value);
            ffi::apr_pool_cleanup_register(self.raw, p.cast(), Some(drop_value::<T>), Some(no_cleanup));
            p
        }
    }

    /// Reads the userdata stored under `key`.
    pub fn userdata(&self, key: &CStr) -> *mut c_void {
        let mut data: *mut c_void = std::ptr::null_mut();
        // SAFETY: apr_pool_userdata_get writes one pointer to `data`.
        unsafe { ffi::apr_pool_userdata_get(&mut data, key.as_ptr(), self.raw) };
        data
    }

    /// Stores a pointer under a static `key`, without a cleanup.
    pub fn set_userdata(&self, key: &'static CStr, data: *mut c_void) {
        // SAFETY: the key is 'static, as apr_pool_userdata_setn requires.
        unsafe { ffi::apr_pool_userdata_setn(data, key.as_ptr(), None, self.raw) };
    }

    /// Copies `s` into the pool as a NUL-terminated string (embedded NULs end it).
    pub fn pstrdup(&self, s: &str) -> *const std::ffi::c_char {
        let bytes = s.as_bytes();
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        self.copy(&bytes[..len])
    }

    /// Copies `bytes` into the pool, NUL-terminated, for Apache to keep.
    pub fn copy(&self, bytes: &[u8]) -> *mut std::ffi::c_char {
        // SAFETY: apr_pstrmemdup copies `bytes.len()` bytes of a live slice
        // into the pool and NUL-terminates the copy.
        unsafe { ffi::apr_pstrmemdup(self.raw, bytes.as_ptr().cast(), bytes.len()) }
    }
}
