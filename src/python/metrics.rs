//! The process's request figures behind `mod_wsgi.process_metrics()`,
//! `request_metrics()` and `server_metrics()` (one set per process, shared
//! by its interpreters, as in mod_wsgi), and the observer through which
//! the server side hears of each request (for its status page).

use crate::common::server_facts::Scoreboard;
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use wsgi_core::telemetry::{MOD_WSGI_BUCKETS, mod_wsgi_bucket, status_class};

/// One finished request. Times are microseconds since the epoch; the
/// queue and daemon ones are 0 in embedded mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct Finished {
    pub request_start: i64,
    pub queue_start: i64,
    pub daemon_start: i64,
    pub application_start: i64,
    pub application_finish: i64,
    /// 0 when the application never called `start_response`.
    pub status: u16,
    pub thread_id: u64,
    pub input_bytes: u64,
    pub input_reads: u64,
    pub input_us: u64,
    pub output_bytes: u64,
    pub output_writes: u64,
    pub output_us: u64,
    pub gil_wait_us: u64,
    pub gil_wait_count: u64,
}

/// The phases mod_wsgi times, in the order of its `request_metrics()` keys.
const PHASES: [&str; 5] = ["server_time", "queue_time", "daemon_time", "application_time", "request_time"];

impl Finished {
    /// Seconds spent in each of [`PHASES`], as mod_wsgi 4.9 splits them.
    fn phases(&self) -> [f64; 5] {
        let s = |a: i64, b: i64| (b - a).max(0) as f64 / 1e6;
        let (server, queue, daemon) = if self.queue_start != 0 {
            (
                s(self.request_start, self.queue_start),
                s(self.queue_start, self.daemon_start),
                s(self.daemon_start, self.application_start),
            )
        } else {
            (s(self.request_start, self.application_start), 0.0, 0.0)
        };
        let application = s(self.application_start, self.application_finish);
        [server, queue, daemon, application, s(self.request_start, self.application_finish)]
    }
}

/// What `request_metrics()` adds up between two calls.
struct Interval {
    start_us: i64,
    start_busy: f64,
    start_count: u64,
    start_cpu: (f64, f64),
    requests: u64,
    totals: [f64; 5],
    buckets: [[u64; MOD_WSGI_BUCKETS]; 5],
    completed: Vec<u64>,
    statuses: [u64; 5],
    input_bytes: u64,
    input_reads: u64,
    output_bytes: u64,
    output_writes: u64,
    gil_wait_us: u64,
    gil_wait_count: u64,
}

/// Requests running now, by when they began (µs since the epoch; 0:
/// free), for the busy time of requests still running.
const TRACKED: usize = 256;
/// Requests served, by `mod_wsgi.thread_id` - 1 (threads past this are
/// counted in the process total only).
const THREADS: usize = 512;

static RUNNING: [AtomicI64; TRACKED] = [const { AtomicI64::new(0) }; TRACKED];
static ACTIVE: AtomicU64 = AtomicU64::new(0);
static TOTAL: AtomicU64 = AtomicU64::new(0);
/// Microseconds spent in requests that have finished.
static FINISHED_BUSY: AtomicU64 = AtomicU64::new(0);
static PER_THREAD: [AtomicU64; THREADS] = [const { AtomicU64::new(0) }; THREADS];
/// `request_metrics()`'s figures since its last call, while it counts.
static INTERVAL: Mutex<Option<Interval>> = Mutex::new(None);

thread_local! {
    /// (when this thread's request began, its RUNNING entry or TRACKED).
    static STARTED: std::cell::Cell<(i64, usize)> = const { std::cell::Cell::new((0, TRACKED)) };
}

/// Thread-seconds spent in requests up to `now`, and requests served:
/// mod_wsgi's utilisation clock, kept without a lock on the request path.
fn busy(now: i64) -> (f64, u64) {
    let running: i64 =
        RUNNING.iter().map(|r| r.load(Ordering::Relaxed)).filter(|&t| t > 0).map(|t| (now - t).max(0)).sum();
    let us = FINISHED_BUSY.load(Ordering::Relaxed) as f64 + running as f64;
    (us / 1e6, TOTAL.load(Ordering::Relaxed))
}

/// Facts fixed when Python starts in the process.
#[derive(Debug, Clone, Copy)]
struct Facts {
    start_us: i64,
    threads_max: u32,
    daemon: bool,
    server_metrics: bool,
}

static FACTS: OnceLock<Facts> = OnceLock::new();

/// Records what this process is; called once, as Python starts.
pub fn init(threads_max: u32, daemon: bool, server_metrics: bool) {
    let _ = FACTS.set(Facts {
        start_us: crate::common::now_micros(),
        threads_max: threads_max.max(1),
        daemon,
        server_metrics,
    });
}

fn facts() -> Facts {
    FACTS.get().copied().unwrap_or(Facts { start_us: 0, threads_max: 1, daemon: false, server_metrics: false })
}

/// How a request is seen by the server side (the status page); both run
/// on the request's thread, given the time (µs since the epoch).
#[derive(Clone, Copy)]
pub struct Observer {
    pub begin: fn(i64),
    pub end: fn(&Finished, i64),
}

static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Set by the server side before any process forks.
pub fn set_observer(o: Observer) {
    let _ = OBSERVER.set(o);
}

/// A request starts on this thread.
pub fn begin() {
    let now = crate::common::now_micros();
    let first = super::environ::thread_id() as usize % TRACKED;
    let entry = (0..TRACKED)
        .map(|i| (first + i) % TRACKED)
        .find(|&i| RUNNING[i].compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed).is_ok())
        .unwrap_or(TRACKED);
    STARTED.with(|s| s.set((now, entry)));
    ACTIVE.fetch_add(1, Ordering::Relaxed);
    if let Some(o) = OBSERVER.get() {
        (o.begin)(now);
    }
}

/// A request ended on this thread.
pub fn end(f: &Finished) {
    let now = crate::common::now_micros();
    let (started, entry) = STARTED.with(|s| s.replace((0, TRACKED)));
    // Added before the entry is cleared: a reader in between counts the
    // request twice rather than not at all.
    FINISHED_BUSY.fetch_add((now - started).max(0) as u64, Ordering::Relaxed);
    if let Some(r) = RUNNING.get(entry) {
        r.store(0, Ordering::Relaxed);
    }
    TOTAL.fetch_add(1, Ordering::Relaxed);
    let _ = ACTIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |a| Some(a.saturating_sub(1)));
    if let Some(n) = (f.thread_id as usize).checked_sub(1).and_then(|i| PER_THREAD.get(i)) {
        n.fetch_add(1, Ordering::Relaxed);
    }
    if RECORDING.load(Ordering::Relaxed)
        && let Some(iv) = INTERVAL.lock().as_mut()
    {
        iv.add(f, facts().daemon);
    }
    if let Some(o) = OBSERVER.get() {
        (o.end)(f, now);
    }
}

impl Interval {
    fn new(now_us: i64, busy: f64, count: u64) -> Self {
        Interval {
            start_us: now_us,
            start_busy: busy,
            start_count: count,
            start_cpu: process_cpu(),
            requests: 0,
            totals: [0.0; 5],
            buckets: [[0; MOD_WSGI_BUCKETS]; 5],
            completed: Vec::new(),
            statuses: [0; 5],
            input_bytes: 0,
            input_reads: 0,
            output_bytes: 0,
            output_writes: 0,
            gil_wait_us: 0,
            gil_wait_count: 0,
        }
    }

    fn add(&mut self, f: &Finished, daemon: bool) {
        self.requests += 1;
        for (i, t) in f.phases().into_iter().enumerate() {
            self.totals[i] += t;
            // mod_wsgi counts the queue and daemon phases in daemons only.
            if daemon || !(1..=2).contains(&i) {
                self.buckets[i][mod_wsgi_bucket(t)] += 1;
            }
        }
        if f.thread_id > 0 {
            let i = (f.thread_id - 1) as usize;
            if self.completed.len() <= i {
                self.completed.resize(i + 1, 0);
            }
            self.completed[i] += 1;
        }
        self.statuses[status_class(f.status)] += 1;
        self.input_bytes += f.input_bytes;
        self.input_reads += f.input_reads;
        self.output_bytes += f.output_bytes;
        self.output_writes += f.output_writes;
        self.gil_wait_us += f.gil_wait_us;
        self.gil_wait_count += f.gil_wait_count;
    }
}

/// Set once `request_metrics()` counts (so figures only it needs, such as
/// GIL waits, are measured).
static RECORDING: AtomicBool = AtomicBool::new(false);

/// Whether `request_metrics()` is counting.
pub fn recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

/// `mod_wsgi.start_recording_metrics()` (mod_wsgi 6): counts from now on,
/// so that the first `request_metrics()` already has an interval. Calls
/// after the first change nothing.
pub fn start_recording() {
    let now = crate::common::now_micros();
    let mut interval = INTERVAL.lock();
    if interval.is_none() {
        let (busy, total) = busy(now);
        *interval = Some(Interval::new(now, busy, total));
    }
    RECORDING.store(true, Ordering::Relaxed);
}

/// User and system CPU seconds of the whole process.
fn process_cpu() -> (f64, f64) {
    // SAFETY: getrusage fills a plain struct.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(u.ru_utime), tv(u.ru_stime))
}

/// User and system CPU seconds of the calling thread.
pub fn thread_cpu() -> (f64, f64) {
    // SAFETY: as in process_cpu, for this thread only.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut u);
        u
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(u.ru_utime), tv(u.ru_stime))
}

/// (resident now, peak resident), in bytes.
fn memory() -> (u64, u64) {
    // SAFETY: sysconf and getrusage have no preconditions.
    let (page, peak_kb) = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        (libc::sysconf(libc::_SC_PAGESIZE).max(1) as u64, u.ru_maxrss.max(0) as u64)
    };
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let rss = statm.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (rss * page, peak_kb * 1024)
}

fn secs(us: i64) -> f64 {
    us as f64 / 1e6
}

/// `mod_wsgi.request_metrics()`: the figures since the previous call. The
/// first call (without `start_recording_metrics()` before it) starts the
/// count and returns `{}`, as mod_wsgi 4.9 does.
#[pyfunction]
pub fn request_metrics(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let f = facts();
    let now = crate::common::now_micros();
    let (iv, busy, count) = {
        let mut interval = INTERVAL.lock();
        let (busy, count) = busy(now);
        match interval.replace(Interval::new(now, busy, count)) {
            Some(iv) => (iv, busy, count),
            None => {
                RECORDING.store(true, Ordering::Relaxed);
                return Ok(PyDict::new(py));
            }
        }
    };
    let d = PyDict::new(py);
    let period = secs(now - iv.start_us);
    let rate = |v: f64| if period > 0.0 { v / period } else { 0.0 };
    d.set_item("pid", std::process::id())?;
    d.set_item("start_time", secs(iv.start_us))?;
    d.set_item("stop_time", secs(now))?;
    d.set_item("sample_period", period)?;
    let cpu = process_cpu();
    let (user, system) = (rate(cpu.0 - iv.start_cpu.0), rate(cpu.1 - iv.start_cpu.1));
    d.set_item("cpu_user_time", user)?;
    d.set_item("cpu_system_time", system)?;
    d.set_item("cpu_time", user + system)?;
    d.set_item("cpu_user_utilization", user)?;
    d.set_item("cpu_system_utilization", system)?;
    d.set_item("cpu_utilization", user + system)?;
    let (rss, peak) = memory();
    d.set_item("memory_max_rss", peak)?;
    d.set_item("memory_rss", rss)?;
    let threads = f.threads_max as usize;
    d.set_item("request_threads_maximum", threads)?;
    d.set_item("request_threads_started", super::environ::threads_started())?;
    d.set_item("capacity_utilization", rate(busy - iv.start_busy) / threads as f64)?;
    let requests = count - iv.start_count;
    d.set_item("request_count", requests)?;
    d.set_item("request_throughput", rate(requests as f64))?;
    for (i, phase) in PHASES.iter().enumerate() {
        let daemon_only = (1..=2).contains(&i);
        d.set_item(format!("{phase}_buckets"), iv.buckets[i].to_vec())?;
        let mean = if iv.requests > 0 { iv.totals[i] / iv.requests as f64 } else { 0.0 };
        if daemon_only && !f.daemon {
            d.set_item(*phase, py.None())?;
        } else {
            d.set_item(*phase, mean)?;
        }
    }
    let mut completed = iv.completed.clone();
    completed.resize(completed.len().max(threads), 0);
    d.set_item("request_threads_active", completed.iter().filter(|&&n| n > 0).count())?;
    d.set_item("request_threads_buckets", completed.clone())?;
    d.set_item("request_threads_completed", completed)?;
    for (i, n) in iv.statuses.iter().enumerate() {
        d.set_item(format!("status_{}xx", i + 1), n)?;
    }
    d.set_item("input_bytes", iv.input_bytes)?;
    d.set_item("input_reads", iv.input_reads)?;
    d.set_item("output_bytes", iv.output_bytes)?;
    d.set_item("output_writes", iv.output_writes)?;
    let gil = if iv.requests > 0 { iv.gil_wait_us as f64 / 1e6 / iv.requests as f64 } else { 0.0 };
    d.set_item("gil_wait_time", gil)?;
    d.set_item("gil_wait_count", iv.gil_wait_count)?;
    Ok(d)
}

/// `mod_wsgi.process_metrics()`: the process since it started.
#[pyfunction]
pub fn process_metrics(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let f = facts();
    let now = crate::common::now_micros();
    let (busy, total) = busy(now);
    let active = ACTIVE.load(Ordering::Relaxed);
    let d = PyDict::new(py);
    d.set_item("pid", std::process::id())?;
    d.set_item("request_busy_time", busy)?;
    d.set_item("request_count", total)?;
    let (rss, peak) = memory();
    d.set_item("memory_max_rss", peak)?;
    d.set_item("memory_rss", rss)?;
    let (user, system) = process_cpu();
    d.set_item("cpu_user_time", user)?;
    d.set_item("cpu_system_time", system)?;
    d.set_item("cpu_time", user + system)?;
    d.set_item("restart_time", secs(f.start_us))?;
    d.set_item("current_time", secs(now))?;
    d.set_item("running_time", (now - f.start_us).max(0) / 1_000_000)?;
    let started = super::environ::threads_started();
    d.set_item("request_threads", started)?;
    d.set_item("active_requests", active)?;
    let threads = PyList::empty(py);
    for id in 1..=started {
        let t = PyDict::new(py);
        t.set_item("thread_id", id)?;
        t.set_item("request_count", PER_THREAD.get(id as usize - 1).map_or(0, |n| n.load(Ordering::Relaxed)))?;
        threads.append(t)?;
    }
    d.set_item("threads", threads)?;
    Ok(d)
}

static SCOREBOARD: OnceLock<fn() -> Option<Scoreboard>> = OnceLock::new();

/// Set by the server side before any process forks.
pub fn set_scoreboard_reader(read: fn() -> Option<Scoreboard>) {
    let _ = SCOREBOARD.set(read);
}

/// Set once `server_metrics()` found no scoreboard, so its cost is paid once.
static NO_SCOREBOARD: AtomicBool = AtomicBool::new(false);

/// `mod_wsgi.server_metrics()`: the scoreboard, when `WSGIServerMetrics
/// On` (Apache children) or `server-metrics=On` (a daemon) allows it.
#[pyfunction]
pub fn server_metrics(py: Python<'_>) -> PyResult<Py<PyAny>> {
    if !facts().server_metrics || NO_SCOREBOARD.load(Ordering::Relaxed) {
        return Ok(py.None());
    }
    let Some(board) = SCOREBOARD.get().and_then(|read| py.detach(read)) else {
        NO_SCOREBOARD.store(true, Ordering::Relaxed);
        return Ok(py.None());
    };
    let now = crate::common::now_micros();
    let d = PyDict::new(py);
    d.set_item("server_limit", board.server_limit)?;
    d.set_item("thread_limit", board.thread_limit)?;
    d.set_item("running_generation", board.running_generation)?;
    d.set_item("restart_time", secs(board.restart_time_us))?;
    d.set_item("current_time", secs(now))?;
    d.set_item("running_time", (now - board.restart_time_us).max(0) / 1_000_000)?;
    let processes = PyList::empty(py);
    for (i, p) in board.processes.iter().enumerate() {
        let pd = PyDict::new(py);
        pd.set_item("process_num", i)?;
        pd.set_item("pid", p.pid)?;
        pd.set_item("generation", p.generation)?;
        pd.set_item("quiescing", p.quiescing)?;
        let workers = PyList::empty(py);
        for w in &p.workers {
            let wd = PyDict::new(py);
            wd.set_item("thread_num", w.thread_num)?;
            wd.set_item("generation", w.generation)?;
            wd.set_item("status", w.status.to_string())?;
            wd.set_item("access_count", w.access_count)?;
            wd.set_item("bytes_served", w.bytes_served)?;
            wd.set_item("start_time", secs(w.start_time_us))?;
            wd.set_item("stop_time", secs(w.stop_time_us))?;
            wd.set_item("last_used", secs(w.last_used_us))?;
            wd.set_item("client", &w.client)?;
            wd.set_item("request", &w.request)?;
            wd.set_item("vhost", &w.vhost)?;
            workers.append(wd)?;
        }
        pd.set_item("workers", workers)?;
        processes.append(pd)?;
    }
    d.set_item("processes", processes)?;
    Ok(d.into_any().unbind())
}

/// `mod_wsgi.start_recording_metrics()`.
#[pyfunction]
pub fn start_recording_metrics() {
    start_recording();
}
