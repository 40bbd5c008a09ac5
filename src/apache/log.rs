//! Logging through Apache's error log with this module's index, so that
//! `LogLevel wsgi:info` selects these messages.

use super::request::Request;
use super::server::Server;
use crate::common::log::LogLevel;
use crate::ffi;
use std::ffi::CString;

/// Apache's number for `level`.
fn apache_level(level: LogLevel) -> i32 {
    (match level {
        LogLevel::Critical => ffi::APLOG_CRIT,
        LogLevel::Error => ffi::APLOG_ERR,
        LogLevel::Warning => ffi::APLOG_WARNING,
        LogLevel::Info => ffi::APLOG_INFO,
        LogLevel::Debug => ffi::APLOG_DEBUG,
    }) as i32
}

/// The main server, for messages that belong to no request: with a null
/// server Apache would filter them at its default level, not `LogLevel`.
static MAIN_SERVER: std::sync::atomic::AtomicPtr<ffi::server_rec> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// Records the main server of this process's configuration.
pub fn set_main_server(s: Server<'static>) {
    MAIN_SERVER.store(s.as_ptr(), std::sync::atomic::Ordering::Release);
}

/// Logs a message that belongs to no request, to the main server's log.
pub fn process(level: LogLevel, msg: &str) {
    emit(level, MAIN_SERVER.load(std::sync::atomic::Ordering::Acquire), msg);
}

fn c_message(msg: &str) -> CString {
    CString::new(msg.replace('\0', "\\0")).unwrap_or_default()
}

/// Logs against a server.
pub fn server(level: LogLevel, s: Server<'_>, msg: &str) {
    emit(level, s.as_ptr(), msg);
}

/// Logs against `s`, or with no server (Apache's default level) when null.
fn emit(level: LogLevel, s: *const ffi::server_rec, msg: &str) {
    let text = c_message(msg);
    // SAFETY: the format is a literal "%s" consuming one NUL-terminated
    // argument that lives across the call; a null server is accepted by
    // ap_log_error_ and means the main server.
    unsafe {
        ffi::ap_log_error_(
            c"mod_wsgi.c".as_ptr(),
            0,
            crate::module::index(),
            apache_level(level),
            0,
            s,
            c"%s".as_ptr(),
            text.as_ptr(),
        );
    }
}

/// Logs against a request, so the line carries the client address.
pub fn request(level: LogLevel, r: Request<'_>, msg: &str) {
    let text = c_message(msg);
    // SAFETY: as in `emit`; `r` is the live request being handled.
    unsafe {
        ffi::ap_log_rerror_(
            c"mod_wsgi.c".as_ptr(),
            0,
            crate::module::index(),
            apache_level(level),
            0,
            r.as_ptr(),
            c"%s".as_ptr(),
            text.as_ptr(),
        );
    }
}

/// Logs a line a daemon process wrote during a request, against the
/// request's server, tagged `[remote ip:port]` as mod_wsgi's daemons tag
/// them (Apache tags lines of its own requests `[client ip:port]`).
pub fn remote(level: LogLevel, r: Request<'_>, msg: &str) {
    let (ip, port) = r.client();
    server(level, r.server(), &format!("[remote {ip}:{port}] {msg}"));
}
