//! Logging through Apache's error log with this module's index, so that
//! `LogLevel wsgi:info` selects these messages.

use crate::ffi;
use std::ffi::CString;

/// Apache log levels used by the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Crit,
    Error,
    Warning,
    Info,
    Debug,
}

impl Level {
    fn raw(self) -> i32 {
        (match self {
            Level::Crit => ffi::APLOG_CRIT,
            Level::Error => ffi::APLOG_ERR,
            Level::Warning => ffi::APLOG_WARNING,
            Level::Info => ffi::APLOG_INFO,
            Level::Debug => ffi::APLOG_DEBUG,
        }) as i32
    }
}

impl From<crate::python::io::LogLevel> for Level {
    fn from(l: crate::python::io::LogLevel) -> Self {
        use crate::python::io::LogLevel as L;
        match l {
            L::Critical => Level::Crit,
            L::Error => Level::Error,
            L::Warning => Level::Warning,
            L::Info => Level::Info,
            L::Debug => Level::Debug,
        }
    }
}

/// The main server, for messages that belong to no request: with a null
/// server Apache would filter them at its default level, not `LogLevel`.
static MAIN_SERVER: std::sync::atomic::AtomicPtr<ffi::server_rec> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// Records the main server of this process's configuration.
pub fn set_main_server(s: *mut ffi::server_rec) {
    MAIN_SERVER.store(s, std::sync::atomic::Ordering::Release);
}

/// Logs a message that belongs to no request, to the main server's log.
pub fn process(level: crate::python::io::LogLevel, msg: &str) {
    server(level.into(), MAIN_SERVER.load(std::sync::atomic::Ordering::Acquire), msg);
}

fn c_message(msg: &str) -> CString {
    CString::new(msg.replace('\0', "\\0")).unwrap_or_default()
}

/// Logs against a server (the main server when `s` is null).
pub fn server(level: Level, s: *const ffi::server_rec, msg: &str) {
    let text = c_message(msg);
    // SAFETY: the format is a literal "%s" consuming one NUL-terminated
    // argument that lives across the call; a null server is accepted by
    // ap_log_error_ and means the main server.
    unsafe {
        ffi::ap_log_error_(
            c"mod_wsgi.c".as_ptr(),
            0,
            crate::module::index(),
            level.raw(),
            0,
            s,
            c"%s".as_ptr(),
            text.as_ptr(),
        );
    }
}

/// Logs against a request, so the line carries the client address.
pub fn request(level: Level, r: *const ffi::request_rec, msg: &str) {
    let text = c_message(msg);
    // SAFETY: as in `server`; `r` is the live request being handled.
    unsafe {
        ffi::ap_log_rerror_(
            c"mod_wsgi.c".as_ptr(),
            0,
            crate::module::index(),
            level.raw(),
            0,
            r,
            c"%s".as_ptr(),
            text.as_ptr(),
        );
    }
}

/// Logs a line a daemon process wrote during a request, against the
/// request's server, tagged `[remote ip:port]` as mod_wsgi's daemons tag
/// them (Apache tags lines of its own requests `[client ip:port]`).
pub fn remote(level: Level, r: crate::apache::request::Request, msg: &str) {
    let (ip, port) = r.client();
    server(level, r.server().0, &format!("[remote {ip}:{port}] {msg}"));
}
