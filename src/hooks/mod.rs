//! Every function Apache calls into. Each one runs its body under
//! [`guard`], so a Rust panic becomes an error result, never an unwind
//! across the C boundary, and turns the raw pointers it is given into
//! `apache/` wrappers once, at its entry.

pub mod auth;
pub mod child;
pub mod config;
pub mod dispatch_script;
pub mod handler;
pub mod post_config;
pub mod servers;
pub mod status;
pub mod translate;

use crate::ffi;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`, turning a panic into `on_panic` (after logging it).
pub fn guard<T>(what: &str, on_panic: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(e) => {
            let why = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            crate::apache::log::process(
                crate::common::log::LogLevel::Critical,
                &format!("mod_wsgi-rs: internal error in {what}: {why}"),
            );
            on_panic
        }
    }
}

const P_ALIAS: [*const std::ffi::c_char; 2] = [c"mod_alias.c".as_ptr(), std::ptr::null()];
const N_USERDIR: [*const std::ffi::c_char; 3] =
    [c"mod_userdir.c".as_ptr(), c"mod_vhost_alias.c".as_ptr(), std::ptr::null()];

struct HookOrder([*const std::ffi::c_char; 2], [*const std::ffi::c_char; 3]);
// SAFETY: the arrays hold pointers to 'static string literals only.
unsafe impl Sync for HookOrder {}
static ORDER: HookOrder = HookOrder(P_ALIAS, N_USERDIR);

/// `register_hooks`: called once per configuration pass.
pub extern "C" fn register(pool: *mut ffi::apr_pool_t) {
    guard("register_hooks", (), || {
        // SAFETY: registering hooks with 'static function pointers and
        // 'static, NULL-terminated predecessor/successor lists.
        unsafe {
            ffi::ap_hook_post_config(
                Some(post_config::post_config),
                std::ptr::null(),
                std::ptr::null(),
                ffi::APR_HOOK_MIDDLE as i32,
            );
            ffi::ap_hook_child_init(
                Some(child::child_init),
                std::ptr::null(),
                std::ptr::null(),
                ffi::APR_HOOK_MIDDLE as i32,
            );
            ffi::ap_hook_translate_name(
                Some(translate::translate_name),
                ORDER.0.as_ptr(),
                ORDER.1.as_ptr(),
                ffi::APR_HOOK_MIDDLE as i32,
            );
            ffi::ap_hook_handler(
                Some(handler::handler),
                std::ptr::null(),
                std::ptr::null(),
                ffi::APR_HOOK_MIDDLE as i32,
            );
            ffi::ap_hook_handler(
                Some(status::handler),
                std::ptr::null(),
                std::ptr::null(),
                ffi::APR_HOOK_MIDDLE as i32,
            );
        }
        // SAFETY: Apache passes the pool of the configuration being read.
        auth::register(unsafe { crate::apache::pool::Pool::from_raw(pool) });
    })
}
