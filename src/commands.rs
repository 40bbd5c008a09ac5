//! Apache's command table, built at compile time from core's list of
//! directives (`wsgi_core::config::DIRECTIVES`): every directive is parsed
//! by the one handler, `hooks::config::wsgi_rs_directive`.

use crate::ffi;
use crate::hooks::config::wsgi_rs_directive;
use wsgi_core::config::{DIRECTIVES, Scope};

const LEN: usize = DIRECTIVES.len() + 1;

/// Where Apache lets a directive appear, before our own check of the
/// context (which names the directive and the place in its message).
const fn overrides(scope: Scope) -> i32 {
    (match scope {
        Scope::MainServer | Scope::Server => ffi::RSRC_CONF,
        Scope::ServerOrSection => ffi::ACCESS_CONF | ffi::RSRC_CONF,
        Scope::Anywhere => ffi::OR_FILEINFO,
        Scope::SectionOrHtAccess => ffi::OR_AUTHCFG,
    }) as i32
}

const fn table() -> [ffi::command_rec; LEN] {
    let end = ffi::command_rec {
        name: std::ptr::null(),
        func: ffi::cmd_func { raw_args: None },
        cmd_data: std::ptr::null_mut(),
        req_override: 0,
        args_how: ffi::cmd_how_RAW_ARGS,
        errmsg: std::ptr::null(),
    };
    let mut t = [end; LEN];
    let mut i = 0;
    while i < DIRECTIVES.len() {
        let d = &DIRECTIVES[i];
        t[i] = ffi::command_rec {
            name: d.name.as_ptr(),
            func: ffi::cmd_func { raw_args: Some(wsgi_rs_directive) },
            cmd_data: std::ptr::null_mut(),
            req_override: overrides(d.scope),
            args_how: ffi::cmd_how_RAW_ARGS,
            errmsg: d.help.as_ptr(),
        };
        i += 1;
    }
    t
}

/// The table, ended by an entry with no name as Apache expects.
pub struct Commands(pub [ffi::command_rec; LEN]);

// SAFETY: the table is never written; its pointers are to 'static strings
// and a function.
unsafe impl Sync for Commands {}

pub static COMMANDS: Commands = Commands(table());
