//! Figures about requests and processes: why a process stops (as the
//! `process_stopping` event and the status page name it), mod_wsgi 4.9's
//! time buckets for `request_metrics()`, and the latency histogram the
//! status page keeps per process.

use crate::lifecycle::Reason;

/// Why a daemon process stopped or was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StopReason {
    /// SIGTERM/SIGINT/SIGHUP: Apache stopping or restarting.
    ShutdownSignal = 1,
    /// SIGUSR1/SIGUSR2 sent to the process.
    GracefulSignal,
    MaximumRequests,
    RestartInterval,
    InactivityTimeout,
    RequestTimeout,
    StartupTimeout,
    DeadlockTimeout,
    CpuTimeLimit,
    /// The WSGI script was touched (or its `reload_required()` said so).
    ScriptReload,
    /// Killed by a signal or exited with an error, unasked.
    Crashed,
    /// Exited before it took requests (a bad python-home, a failing import script).
    StartupFailed,
}

impl StopReason {
    pub const ALL: [StopReason; 12] = [
        StopReason::ShutdownSignal,
        StopReason::GracefulSignal,
        StopReason::MaximumRequests,
        StopReason::RestartInterval,
        StopReason::InactivityTimeout,
        StopReason::RequestTimeout,
        StopReason::StartupTimeout,
        StopReason::DeadlockTimeout,
        StopReason::CpuTimeLimit,
        StopReason::ScriptReload,
        StopReason::Crashed,
        StopReason::StartupFailed,
    ];

    /// The `shutdown_reason` of `process_stopping`, as mod_wsgi 6 names it;
    /// also the `reason` label of the status page's restart counter.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::ShutdownSignal => "shutdown_signal",
            StopReason::GracefulSignal => "graceful_signal",
            StopReason::MaximumRequests => "maximum_requests",
            StopReason::RestartInterval => "restart_interval",
            StopReason::InactivityTimeout => "inactivity_timeout",
            StopReason::RequestTimeout => "request_timeout",
            StopReason::StartupTimeout => "startup_timeout",
            StopReason::DeadlockTimeout => "deadlock_timeout",
            StopReason::CpuTimeLimit => "cpu_time_limit",
            StopReason::ScriptReload => "script_reload",
            StopReason::Crashed => "crashed",
            StopReason::StartupFailed => "startup_failed",
        }
    }

    /// For people reading the status page.
    pub fn label(self) -> &'static str {
        match self {
            StopReason::ShutdownSignal => "stop signal",
            StopReason::GracefulSignal => "graceful-restart signal",
            StopReason::MaximumRequests => "maximum-requests",
            StopReason::RestartInterval => "restart-interval",
            StopReason::InactivityTimeout => "inactivity-timeout",
            StopReason::RequestTimeout => "request-timeout",
            StopReason::StartupTimeout => "startup-timeout",
            StopReason::DeadlockTimeout => "deadlock-timeout",
            StopReason::CpuTimeLimit => "cpu-time-limit",
            StopReason::ScriptReload => "touched script",
            StopReason::Crashed => "crash",
            StopReason::StartupFailed => "failed to start",
        }
    }

    /// The code kept in shared memory (never 0, which means none).
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<StopReason> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl From<Reason> for StopReason {
    fn from(r: Reason) -> Self {
        match r {
            Reason::RestartInterval => StopReason::RestartInterval,
            Reason::Inactivity => StopReason::InactivityTimeout,
            Reason::CpuTime => StopReason::CpuTimeLimit,
            Reason::RequestTimeout => StopReason::RequestTimeout,
            Reason::Deadlock => StopReason::DeadlockTimeout,
            Reason::Startup => StopReason::StartupTimeout,
        }
    }
}

/// How many buckets mod_wsgi 4.9's `request_metrics()` lists per phase.
pub const MOD_WSGI_BUCKETS: usize = 16;

/// The bucket of a phase that took `seconds`, as mod_wsgi 4.9.4 counts
/// them: up to 5 ms, 10 ms, 20 ms, ... doubling; everything past the
/// 14th bound lands in bucket 14, so the last one stays 0.
pub fn mod_wsgi_bucket(seconds: f64) -> usize {
    let mut threshold = 0.005;
    for index in 0..14 {
        if seconds <= threshold {
            return index;
        }
        threshold *= 2.0;
    }
    14
}

/// Upper bounds (microseconds) of the status page's latency buckets;
/// a last bucket holds everything slower.
pub const LATENCY_BOUNDS_US: [u64; 15] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000, 30_000_000, 60_000_000,
];
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_US.len() + 1;

/// The latency bucket of a request that took `us` microseconds.
pub fn latency_bucket(us: u64) -> usize {
    LATENCY_BOUNDS_US.iter().position(|&b| us <= b).unwrap_or(LATENCY_BOUNDS_US.len())
}

/// The `q` quantile (0..=1) of the latencies counted in `counts` (one
/// per [`latency_bucket`]), in microseconds, interpolated within its
/// bucket; `None` when nothing was counted. The open last bucket gives
/// its lower bound.
pub fn latency_quantile(counts: &[u64; LATENCY_BUCKETS], q: f64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
    let mut seen = 0u64;
    for (i, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if (seen + n) as f64 >= rank {
            let low = if i == 0 { 0 } else { LATENCY_BOUNDS_US[i - 1] };
            let Some(&high) = LATENCY_BOUNDS_US.get(i) else { return Some(low) };
            let within = (rank - seen as f64) / n as f64;
            return Some(low + ((high - low) as f64 * within).round() as u64);
        }
        seen += n;
    }
    LATENCY_BOUNDS_US.last().copied()
}

/// The class of an HTTP status (0 for 1xx ... 4 for 5xx); a request that
/// never set one counts as a 5xx, as mod_wsgi counts it.
pub fn status_class(status: u16) -> usize {
    match status {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_round_trip_through_their_codes() {
        for r in StopReason::ALL {
            assert_eq!(StopReason::from_code(r.code()), Some(r));
            assert_ne!(r.code(), 0);
        }
        assert_eq!(StopReason::from_code(0), None);
        assert_eq!(StopReason::from(Reason::Inactivity).name(), "inactivity_timeout");
        assert_eq!(StopReason::ScriptReload.name(), "script_reload");
    }

    #[test]
    fn mod_wsgi_buckets_double_from_five_milliseconds() {
        assert_eq!(mod_wsgi_bucket(0.0), 0);
        assert_eq!(mod_wsgi_bucket(0.005), 0);
        assert_eq!(mod_wsgi_bucket(0.0051), 1);
        assert_eq!(mod_wsgi_bucket(0.02), 2);
        assert_eq!(mod_wsgi_bucket(0.5), 7);
        // 0.005 * 2^13 = 40.96 s is the last bound.
        assert_eq!(mod_wsgi_bucket(40.96), 13);
        assert_eq!(mod_wsgi_bucket(41.0), 14);
        assert_eq!(mod_wsgi_bucket(1e9), 14);
    }

    #[test]
    fn latency_buckets_and_quantiles() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(1_000), 0);
        assert_eq!(latency_bucket(1_001), 1);
        assert_eq!(latency_bucket(u64::MAX), LATENCY_BUCKETS - 1);
        let mut c = [0u64; LATENCY_BUCKETS];
        assert_eq!(latency_quantile(&c, 0.5), None);
        c[0] = 90;
        c[latency_bucket(200_000)] = 10;
        assert!(latency_quantile(&c, 0.5).unwrap() <= 1_000);
        let p99 = latency_quantile(&c, 0.99).unwrap();
        assert!((100_000..=250_000).contains(&p99), "{p99}");
        c[LATENCY_BUCKETS - 1] = 1000;
        assert_eq!(latency_quantile(&c, 1.0), Some(60_000_000));
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(101), 0);
        assert_eq!(status_class(204), 1);
        assert_eq!(status_class(304), 2);
        assert_eq!(status_class(404), 3);
        assert_eq!(status_class(503), 4);
        assert_eq!(status_class(0), 4);
    }
}
