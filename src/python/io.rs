//! The WSGI layer's hold on a request's I/O (the contract itself,
//! [`RequestIo`], is in `common::io`): shared by the objects handed to the
//! application, used with the GIL released, taken back when the call ends;
//! and where messages that belong to no request go.

use crate::common::io::{IoError, RequestIo};
use crate::common::log::LogLevel;
use parking_lot::Mutex;
use std::sync::{Arc, OnceLock};

/// The request's I/O shared by the objects handed to the application
/// (`wsgi.input`, `wsgi.errors`, `start_response`). Lock it only with the
/// GIL released: a thread that holds the GIL and waits for this lock would
/// stall the holder's return. Empty once the request has finished.
pub type SharedIo = Arc<Mutex<Option<Box<dyn RequestIo>>>>;

/// `io` without its lifetime, for the WSGI layer, which keeps it in
/// objects handed to the application (`'static` Python objects).
///
/// # Safety
/// Every use must end before `'r` does: hand it only to
/// [`super::call::run`] or [`super::auth::call`], which take it back from
/// those objects (with [`TakeBack`]) before they return or unwind.
pub unsafe fn unbound<'r>(io: Box<dyn RequestIo + 'r>) -> Box<dyn RequestIo> {
    // SAFETY: the same fat pointer with a longer lifetime bound; the
    // caller ends every use within 'r.
    unsafe { std::mem::transmute::<Box<dyn RequestIo + 'r>, Box<dyn RequestIo>>(io) }
}

/// Empties a request's [`SharedIo`] when dropped, so that no object the
/// application kept reaches the request after the call, even one that
/// unwinds (see [`unbound`]).
pub struct TakeBack<'a>(pub &'a SharedIo);

impl Drop for TakeBack<'_> {
    fn drop(&mut self) {
        self.0.lock().take();
    }
}

/// Runs `f`, which must not block, on the request's I/O, keeping the GIL
/// when the I/O is free (it is busy only while an application thread uses
/// it); otherwise as [`with_io`]. A GIL hand-over costs more than a small
/// response.
pub fn with_io_now<R: Send>(
    py: pyo3::Python<'_>,
    io: &SharedIo,
    f: impl FnOnce(&mut dyn RequestIo) -> Result<R, IoError> + Send,
) -> Result<R, IoError> {
    match io.try_lock() {
        Some(mut guard) => match guard.as_mut() {
            Some(io) => f(io.as_mut()),
            None => Err(IoError::Finished),
        },
        None => with_io(py, io, f),
    }
}

/// Runs `f` on the request's I/O with the GIL released.
pub fn with_io<R: Send>(
    py: pyo3::Python<'_>,
    io: &SharedIo,
    f: impl FnOnce(&mut dyn RequestIo) -> Result<R, IoError> + Send,
) -> Result<R, IoError> {
    if !super::meter::measuring_gil() {
        return py.detach(|| match io.lock().as_mut() {
            Some(io) => f(io.as_mut()),
            None => Err(IoError::Finished),
        });
    }
    let (result, released) = py.detach(|| {
        let r = match io.lock().as_mut() {
            Some(io) => f(io.as_mut()),
            None => Err(IoError::Finished),
        };
        (r, std::time::Instant::now())
    });
    super::meter::gil_waited(released);
    result
}

/// Where messages with no request go: the server's error log, once the
/// embedding side has said how to reach it.
static PROCESS_LOGGER: OnceLock<fn(LogLevel, &str)> = OnceLock::new();

pub fn set_process_logger(f: fn(LogLevel, &str)) {
    let _ = PROCESS_LOGGER.set(f);
}

/// Logs a message that belongs to no request.
pub fn log_process(level: LogLevel, message: &str) {
    match PROCESS_LOGGER.get() {
        Some(f) => f(level, message),
        None => eprintln!("{message}"),
    }
}
