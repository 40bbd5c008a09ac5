//! The module record that `LoadModule wsgi_module ...` looks up.
//!
//! It must be defined in Rust: a symbol from the cc-built shim library is
//! not exported by a Rust cdylib. It is `static mut` because Apache writes
//! `module_index`, `next` and `dynamic_load_handle` into it.

use crate::ffi;
use crate::hooks;

/// Apache derives the log tag (`wsgi`, as in `LogLevel wsgi:info`) from this name.
const MODULE_NAME: &std::ffi::CStr = c"mod_wsgi.c";

#[unsafe(no_mangle)]
#[used]
#[allow(non_upper_case_globals)]
pub static mut wsgi_module: ffi::module = ffi::module {
    version: ffi::MODULE_MAGIC_NUMBER_MAJOR as i32,
    minor_version: ffi::MODULE_MAGIC_NUMBER_MINOR as i32,
    module_index: -1,
    name: MODULE_NAME.as_ptr(),
    dynamic_load_handle: std::ptr::null_mut(),
    next: std::ptr::null_mut(),
    magic: ffi::MODULE_MAGIC_COOKIE as u64,
    rewrite_args: None,
    create_dir_config: Some(hooks::config::create_dir_config),
    merge_dir_config: Some(hooks::config::merge_dir_config),
    create_server_config: Some(hooks::config::create_server_config),
    merge_server_config: Some(hooks::config::merge_server_config),
    cmds: crate::commands::COMMANDS.0.as_ptr(),
    register_hooks: Some(hooks::register),
    flags: 0,
};

/// This module's index, for config vectors and for the logger.
pub fn index() -> i32 {
    // SAFETY: Apache writes module_index once while loading the module,
    // before any hook or directive handler can run; reads are plain loads.
    unsafe { wsgi_module.module_index }
}
