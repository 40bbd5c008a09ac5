//! The timeout of a request's client socket, which bounds each write of
//! the response to a client that does not read (and each read of the body).

use super::request::Request;
use crate::ffi;
use std::time::Duration;

/// The client socket's timeout changed for one response; the one it had
/// comes back on drop, for the next request on a kept-alive connection.
pub struct ClientTimeout {
    socket: *mut ffi::apr_socket_t,
    previous: ffi::apr_interval_time_t,
}

impl ClientTimeout {
    /// Sets the timeout of `req`'s client socket to `timeout` until the
    /// returned value drops; `None` if the connection has no socket.
    pub fn set(req: Request, timeout: Duration) -> Option<Self> {
        // SAFETY: the connection of the live request; the core module keeps
        // its socket there for as long as the connection lasts.
        let socket = unsafe { ffi::ap_get_conn_socket(req.connection()) };
        if socket.is_null() {
            return None;
        }
        let mut previous: ffi::apr_interval_time_t = 0;
        let micros = ffi::apr_interval_time_t::try_from(timeout.as_micros()).unwrap_or(ffi::apr_interval_time_t::MAX);
        // SAFETY: `socket` is the connection's live socket; both calls only
        // read or set its timeout field.
        unsafe {
            if ffi::apr_socket_timeout_get(socket, &mut previous) != 0 {
                return None;
            }
            ffi::apr_socket_timeout_set(socket, micros);
        }
        Some(Self { socket, previous })
    }
}

impl Drop for ClientTimeout {
    fn drop(&mut self) {
        // SAFETY: the request (hence its connection and socket) outlives
        // this value, which lives in the request's handler.
        unsafe { ffi::apr_socket_timeout_set(self.socket, self.previous) };
    }
}
