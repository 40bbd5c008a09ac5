//! What one request's I/O cost: reads and writes counted and timed by a
//! wrapper around its [`RequestIo`], and the time its thread waited to get
//! the GIL back after releasing it for I/O (measured only when someone
//! will read it: event subscribers or `request_metrics()`).

use crate::common::io::{IoError, Outcome, RequestIo};
use crate::common::log::LogLevel;
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Counters of one request, written under the request's I/O lock.
#[derive(Default)]
pub struct Meter {
    /// Whether reads and writes are timed too (someone will read it).
    pub timed: std::sync::atomic::AtomicBool,
    pub input_bytes: AtomicU64,
    pub input_reads: AtomicU64,
    pub input_us: AtomicU64,
    pub output_bytes: AtomicU64,
    pub output_writes: AtomicU64,
    pub output_us: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn micros_since(t: Instant) -> u64 {
    t.elapsed().as_micros() as u64
}

impl Metered {
    /// The start of an I/O call, when timing.
    fn clock(&self) -> Option<Instant> {
        self.meter.timed.load(Ordering::Relaxed).then(Instant::now)
    }

    fn timed(&self, counter: &AtomicU64, since: Option<Instant>) {
        if let Some(t) = since {
            add(counter, micros_since(t));
        }
    }
}

impl Meter {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A request's I/O, counted into a [`Meter`].
pub struct Metered {
    inner: Box<dyn RequestIo>,
    meter: Arc<Meter>,
}

impl Metered {
    pub fn new(inner: Box<dyn RequestIo>, meter: Arc<Meter>) -> Self {
        Self { inner, meter }
    }
}

impl RequestIo for Metered {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        let t = self.clock();
        let r = self.inner.read(buf);
        self.timed(&self.meter.input_us, t);
        add(&self.meter.input_reads, 1);
        if let Ok(n) = r {
            add(&self.meter.input_bytes, n as u64);
        }
        r
    }

    fn send_headers(&mut self, status: &str, headers: &[(String, String)]) -> Result<(), IoError> {
        let t = self.clock();
        let r = self.inner.send_headers(status, headers);
        self.timed(&self.meter.output_us, t);
        r
    }

    fn write(&mut self, data: &[u8]) -> Result<(), IoError> {
        let t = self.clock();
        let r = self.inner.write(data);
        self.timed(&self.meter.output_us, t);
        add(&self.meter.output_writes, 1);
        add(&self.meter.output_bytes, data.len() as u64);
        r
    }

    fn queue(&mut self, data: &[u8]) -> Result<bool, IoError> {
        let r = self.inner.queue(data);
        if let Ok(true) = r {
            add(&self.meter.output_writes, 1);
            add(&self.meter.output_bytes, data.len() as u64);
        }
        r
    }

    fn writes_without_waiting(&mut self, len: usize) -> bool {
        self.inner.writes_without_waiting(len)
    }

    fn send_file(&mut self, fd: i32, offset: u64, len: u64) -> Result<bool, IoError> {
        let t = self.clock();
        let r = self.inner.send_file(fd, offset, len);
        self.timed(&self.meter.output_us, t);
        if let Ok(true) = r {
            add(&self.meter.output_writes, 1);
            add(&self.meter.output_bytes, len);
        }
        r
    }

    fn abort(&mut self) {
        self.inner.abort();
    }

    fn answered(&self) -> bool {
        self.inner.answered()
    }

    fn ssl_is_https(&mut self) -> bool {
        self.inner.ssl_is_https()
    }

    fn ssl_var_lookup(&mut self, name: &[u8]) -> Option<Vec<u8>> {
        self.inner.ssl_var_lookup(name)
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        self.inner.log(level, message);
    }

    fn finish(&mut self, outcome: Outcome) {
        let t = self.clock();
        self.inner.finish(outcome);
        self.timed(&self.meter.output_us, t);
    }
}

thread_local! {
    /// (measuring, microseconds waited, waits) for this thread's request.
    static GIL_WAIT: Cell<(bool, u64, u64)> = const { Cell::new((false, 0, 0)) };
}

/// Starts counting this thread's GIL waits from zero (or stops counting).
pub fn measure_gil(on: bool) {
    GIL_WAIT.with(|g| g.set((on, 0, 0)));
}

pub fn measuring_gil() -> bool {
    GIL_WAIT.with(|g| g.get().0)
}

/// Adds one wait for the GIL that began at `released`.
pub fn gil_waited(released: Instant) {
    GIL_WAIT.with(|g| {
        let (on, us, n) = g.get();
        if on {
            g.set((on, us + micros_since(released), n + 1));
        }
    });
}

/// (microseconds, count) of GIL waits measured on this thread.
pub fn gil_waits() -> (u64, u64) {
    GIL_WAIT.with(|g| {
        let (_, us, n) = g.get();
        (us, n)
    })
}
