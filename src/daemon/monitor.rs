//! Watching a daemon process: what its requests are doing, and a thread
//! that recycles the process when a limit from its `WSGIDaemonProcess`
//! line is broken (the rules are `wsgi_core::lifecycle`).

use crate::apache::log;
use crate::apache::server::Server;
use crate::common::log::{LogLevel, with_pid};
use crate::python::interpreters;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wsgi_core::lifecycle::{self, Limits, Sample, Verdict};

/// How often limits are checked, and the GIL probed.
const TICK: Duration = Duration::from_millis(250);

/// Request timings of this process, in microseconds since it started.
pub struct Activity {
    started: Instant,
    /// When each worker thread's current request began; 0 when idle.
    slots: Box<[AtomicU64]>,
    last_end: AtomicU64,
    gil_seen: AtomicU64,
}

static ACTIVITY: OnceLock<Activity> = OnceLock::new();

/// Set once an application has loaded and answered (or been preloaded).
static LOADED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records that the application loaded, for `startup-timeout`.
pub fn application_loaded() {
    LOADED.store(true, Ordering::SeqCst);
}

fn now_us(a: &Activity) -> u64 {
    a.started.elapsed().as_micros() as u64 + 1
}

/// Prepares the record for `threads` worker threads.
pub fn init(threads: usize) {
    let _ = ACTIVITY.set(Activity {
        started: Instant::now(),
        slots: (0..threads).map(|_| AtomicU64::new(0)).collect(),
        last_end: AtomicU64::new(0),
        gil_seen: AtomicU64::new(0),
    });
}

pub fn request_started(slot: usize) {
    if let Some(a) = ACTIVITY.get()
        && let Some(s) = a.slots.get(slot)
    {
        s.store(now_us(a), Ordering::SeqCst);
    }
}

thread_local! {
    /// The running request is under `WSGIIgnoreActivity On`.
    static IGNORED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The request this thread runs does not count as activity for
/// `inactivity-timeout` (`WSGIIgnoreActivity On`, a health check).
pub fn ignore_this_request() {
    IGNORED.with(|i| i.set(true));
}

pub fn request_finished(slot: usize) {
    let ignored = IGNORED.with(|i| i.replace(false));
    if let Some(a) = ACTIVITY.get()
        && let Some(s) = a.slots.get(slot)
    {
        s.store(0, Ordering::SeqCst);
        if !ignored {
            a.last_end.store(now_us(a), Ordering::SeqCst);
        }
    }
}

fn sample(a: &Activity) -> Sample {
    let now = now_us(a);
    let since = |t: u64| Duration::from_micros(now.saturating_sub(t));
    let oldest = a.slots.iter().map(|s| s.load(Ordering::SeqCst)).filter(|&t| t > 0).min();
    Sample {
        uptime: a.started.elapsed(),
        idle_for: if oldest.is_none() { Some(since(a.last_end.load(Ordering::SeqCst))) } else { None },
        cpu_time: cpu_time(),
        oldest_request: oldest.map(since),
        gil_unseen_for: since(a.gil_seen.load(Ordering::SeqCst)),
        nothing_loaded: !LOADED.load(Ordering::SeqCst),
    }
}

/// User and system time of the process (zero if it cannot be read, which
/// only a bad argument would cause).
fn cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    use nix::sys::time::TimeValLike;
    let Ok(u) = getrusage(UsageWho::RUSAGE_SELF) else { return Duration::ZERO };
    Duration::from_micros((u.user_time().num_microseconds() + u.system_time().num_microseconds()).max(0) as u64)
}

/// The process's limits, from its group's configuration.
pub fn limits(c: &wsgi_core::config::DaemonProcess) -> Limits {
    Limits {
        restart_interval: c.restart_interval,
        inactivity_timeout: c.inactivity_timeout,
        cpu_time_limit: c.cpu_time_limit,
        request_timeout: c.request_timeout,
        deadlock_timeout: c.deadlock_timeout,
        startup_timeout: c.startup_timeout,
        interrupt_timeout: c.interrupt_timeout,
    }
}

/// The GIL probe thread, stopped before Python is finalised.
pub struct Probe {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Probe {
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

/// Starts the threads that probe the GIL and judge the limits.
pub fn start(limits: Limits, group: String, server: Server<'static>) -> std::io::Result<Probe> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let probe = std::thread::Builder::new().name("wsgi-gil-probe".into()).spawn(move || {
        while !stopped.load(Ordering::SeqCst) {
            // Taking and releasing the main interpreter's GIL proves it is
            // not held forever by a stuck extension.
            if let (Ok(entered), Some(a)) =
                (interpreters::enter("", crate::python::interpreter_setup::setup), ACTIVITY.get())
            {
                drop(entered);
                a.gil_seen.store(now_us(a), Ordering::SeqCst);
            }
            std::thread::sleep(TICK);
        }
    })?;
    std::thread::Builder::new().name("wsgi-monitor".into()).spawn(move || {
        let Some(a) = ACTIVITY.get() else { return };
        a.gil_seen.store(now_us(a), Ordering::SeqCst);
        loop {
            std::thread::sleep(TICK);
            let mut now = sample(a);
            if !limits.interrupt_timeout.is_zero() && !limits.request_timeout.is_zero() {
                let since = crate::python::timeout::interrupt_overdue(limits.request_timeout);
                now.oldest_request = lifecycle::oldest_request_interrupting(&limits, since);
            }
            match lifecycle::judge(&limits, &now) {
                Verdict::Keep => {}
                Verdict::Retire(reason) => {
                    super::metrics::stopping(reason.into());
                    super::process::retire(&reason.to_string())
                }
                Verdict::Kill(reason) => {
                    super::metrics::stopping(reason.into());
                    log::server(
                        LogLevel::Error,
                        server,
                        &with_pid(format_args!("Daemon process '{group}' stopping at once: {reason}.")),
                    );
                    // SAFETY: ends the process; Python cannot be finalised
                    // while a thread holds the GIL forever.
                    unsafe { libc::_exit(1) };
                }
            }
        }
    })?;
    Ok(Probe { stop, thread: probe })
}
