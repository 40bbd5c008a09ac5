//! What `apache/`, `python/` and `daemon/` share without importing from
//! one another: the request I/O contract, the log level, the server facts
//! Apache gives and Python describes, and the clock.

pub mod io;
pub mod log;
pub mod server_facts;

/// Microseconds since the epoch, as mod_wsgi's `*_start` values.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
