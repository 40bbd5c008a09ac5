//! Rust values owned by APR pools, and per-process userdata.

use crate::ffi;
use std::ffi::{CStr, c_void};

extern "C" fn drop_value<T>(data: *mut c_void) -> ffi::apr_status_t {
    // SAFETY: registered by `alloc` for exactly this pointer and type; the
    // pool runs each cleanup once.
    unsafe { std::ptr::drop_in_place(data.cast::<T>()) };
    0
}

extern "C" fn no_cleanup(_: *mut c_void) -> ffi::apr_status_t {
    0
}

/// Moves `value` into `pool`; it is dropped when the pool is cleared.
pub fn alloc<T>(pool: *mut ffi::apr_pool_t, value: T) -> *mut T {
    // SAFETY: apr_palloc returns memory aligned for any C type (8 bytes on
    // this platform, checked below), sized for T; it is written before the
    // cleanup that drops it is registered.
    unsafe {
        assert!(std::mem::align_of::<T>() <= 8);
        let p = ffi::apr_palloc(pool, std::mem::size_of::<T>().max(1)).cast::<T>();
        p.write(value);
        ffi::apr_pool_cleanup_register(pool, p.cast(), Some(drop_value::<T>), Some(no_cleanup));
        p
    }
}

/// Reads process-lifetime userdata stored under `key`.
pub fn userdata(pool: *mut ffi::apr_pool_t, key: &CStr) -> *mut c_void {
    let mut data: *mut c_void = std::ptr::null_mut();
    // SAFETY: apr_pool_userdata_get writes one pointer to `data`.
    unsafe { ffi::apr_pool_userdata_get(&mut data, key.as_ptr(), pool) };
    data
}

/// Stores a pointer under a static `key`, without a cleanup.
pub fn set_userdata(pool: *mut ffi::apr_pool_t, key: &'static CStr, data: *mut c_void) {
    // SAFETY: the key is 'static, as apr_pool_userdata_setn requires.
    unsafe { ffi::apr_pool_userdata_setn(data, key.as_ptr(), None, pool) };
}
