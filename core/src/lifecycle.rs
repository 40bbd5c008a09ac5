//! When a daemon process must be recycled, from a sample of its state and
//! the limits its `WSGIDaemonProcess` line sets. A limit of zero is off.

use std::time::Duration;

/// The recycling limits of one daemon process group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub restart_interval: Duration,
    pub inactivity_timeout: Duration,
    pub cpu_time_limit: Duration,
    pub request_timeout: Duration,
    pub deadlock_timeout: Duration,
    pub startup_timeout: Duration,
    /// `interrupt-timeout`: requests past `request_timeout` are interrupted
    /// first (see [`oldest_request_interrupting`]); zero recycles at once.
    pub interrupt_timeout: Duration,
}

/// What a process looks like right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    pub uptime: Duration,
    /// How long since the last request ended, when none is running.
    pub idle_for: Option<Duration>,
    pub cpu_time: Duration,
    /// How long the longest-running request has been running.
    pub oldest_request: Option<Duration>,
    /// How long since a thread last managed to take the GIL.
    pub gil_unseen_for: Duration,
    /// No application has loaded (and answered) in this process yet.
    pub nothing_loaded: bool,
}

/// Why a process is being recycled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    RestartInterval,
    Inactivity,
    CpuTime,
    RequestTimeout,
    Deadlock,
    Startup,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::RestartInterval => "restart-interval reached",
            Reason::Inactivity => "inactivity-timeout reached",
            Reason::CpuTime => "cpu-time-limit exceeded",
            Reason::RequestTimeout => "request-timeout exceeded by a running request",
            Reason::Deadlock => "deadlock-timeout expired: the Python GIL could not be acquired",
            Reason::Startup => "startup-timeout expired before the application loaded",
        })
    }
}

/// What to do with the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Stop taking requests, let running ones finish, then exit.
    Retire(Reason),
    /// Exit now: nothing running can be trusted to finish (a stuck GIL).
    Kill(Reason),
}

fn over(value: Duration, limit: Duration) -> bool {
    !limit.is_zero() && value >= limit
}

/// With `interrupt-timeout`, what [`Sample::oldest_request`] must say: the
/// requests past `request-timeout` are interrupted instead, and one counts
/// (as a request at the limit) only while it still runs `interrupt_timeout`
/// after it was interrupted. `since_interrupt`: how long ago the
/// longest-ago interrupted request still running was.
pub fn oldest_request_interrupting(l: &Limits, since_interrupt: Option<Duration>) -> Option<Duration> {
    since_interrupt.filter(|d| *d >= l.interrupt_timeout).map(|_| l.request_timeout)
}

/// The first limit the sample breaks, most urgent first.
pub fn judge(l: &Limits, s: &Sample) -> Verdict {
    if over(s.gil_unseen_for, l.deadlock_timeout) {
        return Verdict::Kill(Reason::Deadlock);
    }
    if s.oldest_request.is_some_and(|d| over(d, l.request_timeout)) {
        return Verdict::Retire(Reason::RequestTimeout);
    }
    if over(s.cpu_time, l.cpu_time_limit) {
        return Verdict::Retire(Reason::CpuTime);
    }
    if s.nothing_loaded && over(s.uptime, l.startup_timeout) {
        return Verdict::Retire(Reason::Startup);
    }
    if over(s.uptime, l.restart_interval) {
        return Verdict::Retire(Reason::RestartInterval);
    }
    if s.idle_for.is_some_and(|d| over(d, l.inactivity_timeout)) {
        return Verdict::Retire(Reason::Inactivity);
    }
    Verdict::Keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_request_counts_once_interrupt_timeout_is_over() {
        let l = Limits { request_timeout: S(5), interrupt_timeout: S(10), ..Default::default() };
        assert_eq!(oldest_request_interrupting(&l, None), None);
        assert_eq!(oldest_request_interrupting(&l, Some(S(9))), None);
        let oldest = oldest_request_interrupting(&l, Some(S(10)));
        assert_eq!(
            judge(&l, &Sample { oldest_request: oldest, ..Default::default() }),
            Verdict::Retire(Reason::RequestTimeout)
        );
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn no_limits_keep_everything() {
        let s = Sample {
            uptime: S(1_000_000),
            idle_for: Some(S(1_000)),
            cpu_time: S(9_999),
            oldest_request: Some(S(999)),
            gil_unseen_for: S(999),
            nothing_loaded: true,
        };
        assert_eq!(judge(&Limits::default(), &s), Verdict::Keep);
    }

    #[test]
    fn each_limit_fires_alone() {
        let base = Sample::default();
        let cases = [
            (
                Limits { restart_interval: S(10), ..Default::default() },
                Sample { uptime: S(10), ..base },
                Verdict::Retire(Reason::RestartInterval),
            ),
            (
                Limits { inactivity_timeout: S(5), ..Default::default() },
                Sample { idle_for: Some(S(6)), ..base },
                Verdict::Retire(Reason::Inactivity),
            ),
            (
                Limits { cpu_time_limit: S(2), ..Default::default() },
                Sample { cpu_time: S(2), ..base },
                Verdict::Retire(Reason::CpuTime),
            ),
            (
                Limits { request_timeout: S(3), ..Default::default() },
                Sample { oldest_request: Some(S(3)), ..base },
                Verdict::Retire(Reason::RequestTimeout),
            ),
            (
                Limits { deadlock_timeout: S(30), ..Default::default() },
                Sample { gil_unseen_for: S(31), ..base },
                Verdict::Kill(Reason::Deadlock),
            ),
            (
                Limits { startup_timeout: S(5), ..Default::default() },
                Sample { uptime: S(5), nothing_loaded: true, ..base },
                Verdict::Retire(Reason::Startup),
            ),
        ];
        for (limits, sample, want) in cases {
            assert_eq!(judge(&limits, &sample), want, "{limits:?}");
        }
    }

    #[test]
    fn below_limits_keep() {
        let l = Limits {
            restart_interval: S(10),
            inactivity_timeout: S(5),
            request_timeout: S(3),
            cpu_time_limit: S(2),
            ..Default::default()
        };
        let s = Sample {
            uptime: S(9),
            idle_for: Some(S(4)),
            oldest_request: Some(S(2)),
            cpu_time: S(1),
            ..Default::default()
        };
        assert_eq!(judge(&l, &s), Verdict::Keep);
        // A busy process is never idle, however long ago a request ended.
        let busy = Sample { idle_for: None, oldest_request: Some(S(1)), ..s };
        assert_eq!(judge(&l, &busy), Verdict::Keep);
    }

    #[test]
    fn a_loaded_application_is_not_held_to_startup_timeout() {
        let l = Limits { startup_timeout: S(5), ..Default::default() };
        assert_eq!(judge(&l, &Sample { uptime: S(60), nothing_loaded: false, ..Default::default() }), Verdict::Keep);
    }

    #[test]
    fn deadlock_wins_over_everything() {
        let l = Limits { deadlock_timeout: S(1), restart_interval: S(1), ..Default::default() };
        let s = Sample { uptime: S(5), gil_unseen_for: S(5), ..Default::default() };
        assert_eq!(judge(&l, &s), Verdict::Kill(Reason::Deadlock));
    }
}
