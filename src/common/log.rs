//! The severity every part of the module logs with, and mod_wsgi's
//! prefix for its own lines.

/// Severity of a message for the error log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Critical,
    Error,
    Warning,
    Info,
    Debug,
}

/// `msg` after mod_wsgi's `mod_wsgi (pid=N): ` prefix, as its lines start.
pub fn with_pid(msg: impl std::fmt::Display) -> String {
    format!("mod_wsgi (pid={}): {msg}", std::process::id())
}
