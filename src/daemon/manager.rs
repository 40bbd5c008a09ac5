//! The manager of one daemon process group: forked from the Apache parent
//! (so it has no Python and no threads), it forks the group's daemon
//! processes and keeps their number right.
//!
//! - A process that dies is replaced at once (the Apache parent would only
//!   notice within its one-second maintenance cycle), and the death is
//!   logged with its signal or exit code.
//! - A process that dies before it is ready (a bad python-home, an import
//!   script that exits) is started again after a growing delay, and the
//!   group's status page tells Apache children so, so requests get a 503
//!   naming the cause instead of waiting on a process that cannot start.
//! - A process that retires (touched script, maximum-requests, a limit)
//!   writes its pid to the control pipe; the manager starts its
//!   replacement immediately, while the old one drains its requests. New
//!   connections wait in the shared listen queue meanwhile, so none fail.
//! - SIGTERM/SIGINT/SIGHUP (from the Apache parent on stop or restart)
//!   stop every process, killing those that outlive shutdown-timeout.

use super::os::{self, Context, OsError};
use super::{Registry, detach, process};
use crate::apache::log;
use crate::apache::server::Server;
use crate::common::log::{LogLevel, with_pid};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{ForkResult, Pid};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wsgi_core::status_page::ProcState;
use wsgi_core::supervision::{Control, StartBackoff};
use wsgi_core::telemetry::StopReason;

/// One of the group's daemon processes, as its manager tracks it.
struct Process {
    pid: libc::pid_t,
    retiring: bool,
    /// It said it takes requests.
    ready: bool,
}

/// The manager's descriptors; a process it forks keeps only `reply`.
struct Own {
    /// The control pipe's read end, and the write end the processes use.
    control: OwnedFd,
    reply: OwnedFd,
    signals: SignalFd,
}

struct Manager {
    registry: Arc<Registry>,
    index: usize,
    server: Server<'static>,
    /// Taken by each forked process.
    own: Option<Own>,
    processes: Vec<Process>,
    backoff: StartBackoff,
    /// When each process waiting out a start-up failure is started again.
    pending: Vec<Instant>,
}

/// Never returns: the process ends with `_exit`.
pub fn run(registry: Arc<Registry>, index: usize, s: Server<'static>) -> ! {
    let name = registry.groups[index].spec.name().to_string();
    let started = detach::from_apache(&registry, index)
        .and_then(|()| detach::die_with_parent(Signal::SIGTERM))
        .and_then(|()| detach::set_title(s, &format!("(wsgi-manager:{name})")));
    let code = match started.and_then(|()| Manager::new(registry, index, s)).and_then(|m| m.serve()) {
        Ok(()) => 0,
        Err(msg) => {
            log::server(LogLevel::Error, s, &with_pid(msg));
            1
        }
    };
    // SAFETY: ends the process without Apache's exit handlers, which
    // belong to the parent.
    unsafe { libc::_exit(code) }
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

impl Manager {
    fn new(registry: Arc<Registry>, index: usize, server: Server<'static>) -> Result<Self, OsError> {
        let (read, write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("Unable to create the daemon control pipe")?;
        let signals = signal_fd()?;
        Ok(Self {
            registry,
            index,
            server,
            own: Some(Own { control: read, reply: write, signals }),
            processes: Vec::new(),
            backoff: StartBackoff::default(),
            pending: Vec::new(),
        })
    }

    fn name(&self) -> &str {
        self.registry.groups[self.index].spec.name()
    }

    fn log(&self, level: LogLevel, msg: &str) {
        log::server(level, self.server, &with_pid(msg));
    }

    fn status(&self) -> &super::status::Status {
        &self.registry.groups[self.index].status
    }

    /// Tells Apache children how many processes take requests.
    fn publish_ready(&self) {
        let n = self.processes.iter().filter(|w| w.ready && !w.retiring).count();
        self.status().set_ready(n as u32);
    }

    /// Starts a process; its pid, or 0 when the fork failed.
    fn spawn(&mut self) -> libc::pid_t {
        // A process that cannot start writes why; see `reap` for the others.
        self.status().set_reason("");
        let figures = self.status().metrics.reserve(self.registry.groups[self.index].spec.config.threads);
        // SAFETY: this process is single-threaded, so the child may run
        // Rust code after fork; process::run never returns.
        match unsafe { nix::unistd::fork() } {
            Err(_) => {
                if let Some(i) = figures {
                    self.status().metrics.assign(i, 0);
                }
                self.log(
                    LogLevel::Error,
                    &os_err(&format!("Unable to fork a process for daemon group '{}'", self.name())),
                );
                0
            }
            Ok(ForkResult::Child) => {
                // The child closes its copies of the manager's descriptors.
                let reply = self.own.take().map(|own| own.reply);
                self.status().metrics.adopt(figures);
                process::run(self.registry.clone(), self.index, self.server, reply)
            }
            Ok(ForkResult::Parent { child }) => {
                let pid = child.as_raw();
                if let Some(i) = figures {
                    self.status().metrics.assign(i, pid);
                }
                self.log(LogLevel::Info, &format!("Starting process '{}' (pid {pid}).", self.name()));
                self.processes.push(Process { pid, retiring: false, ready: false });
                pid
            }
        }
    }

    /// Starts the processes whose delay after a start-up failure is over;
    /// returns how long until the next one is due.
    fn spawn_due(&mut self) -> Option<Duration> {
        let now = Instant::now();
        let due = self.pending.iter().filter(|&&t| t <= now).count();
        self.pending.retain(|&t| t > now);
        for _ in 0..due {
            self.spawn();
        }
        self.pending.iter().min().map(|&t| t.saturating_duration_since(now))
    }

    fn serve(mut self) -> Result<(), OsError> {
        let wanted = self.registry.groups[self.index].spec.config.processes.max(1);
        for _ in 0..wanted {
            self.spawn();
        }
        loop {
            let timeout = self
                .spawn_due()
                .map_or(PollTimeout::NONE, |d| PollTimeout::try_from(d.as_millis() + 1).unwrap_or(PollTimeout::MAX));
            let Some(own) = &self.own else { return Ok(()) };
            let mut fds = [
                PollFd::new(own.signals.as_fd(), PollFlags::POLLIN),
                PollFd::new(own.control.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, timeout) {
                Err(Errno::EINTR) => continue,
                result => result.context("Unable to wait for the daemon processes")?,
            };
            let readable = |fd: &PollFd| fd.revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
            let (signalled, told) = (readable(&fds[0]), readable(&fds[1]));
            if told {
                self.read_control()?;
            }
            if signalled && let Some(sig) = self.read_signal()? {
                if sig == Signal::SIGCHLD as i32 {
                    self.reap(true)?;
                } else {
                    return self.stop();
                }
            }
        }
    }

    /// The signal that made the signalfd readable, if one is still pending.
    fn read_signal(&self) -> Result<Option<i32>, OsError> {
        let Some(own) = &self.own else { return Ok(None) };
        let info = own.signals.read_signal().context("Unable to read the daemon manager's signals")?;
        Ok(info.map(|i| i.ssi_signo as i32))
    }

    /// Workers say when they are ready, and when they retire (their
    /// replacement starts now).
    fn read_control(&mut self) -> Result<(), OsError> {
        let Some(own) = &self.own else { return Ok(()) };
        let mut buf = [0u8; Control::LEN * 64];
        // Messages are written whole (Control::LEN bytes, atomic on a pipe).
        let n = match nix::unistd::read(&own.control, &mut buf) {
            Err(Errno::EINTR | Errno::EAGAIN) => 0,
            result => result.context("Unable to read the daemon control pipe")?,
        };
        for message in Control::decode_all(&buf[..n]) {
            match message {
                Control::Ready(pid) => {
                    if let Some(w) = self.processes.iter_mut().find(|w| w.pid == pid) {
                        w.ready = true;
                    }
                    self.set_state(pid, ProcState::Ready);
                    if self.backoff.failures() > 0 {
                        self.log(LogLevel::Warning, &format!("Process '{}' (pid {pid}) started.", self.name()));
                    }
                    self.backoff.started();
                    self.status().set_failing(0, Duration::ZERO);
                }
                Control::Retiring(pid) => {
                    self.set_state(pid, ProcState::Retiring);
                    if self.processes.iter().any(|w| w.pid == pid && !w.retiring) {
                        self.record_retiring(pid);
                    }
                    if let Some(w) = self.processes.iter_mut().find(|w| w.pid == pid && !w.retiring) {
                        w.retiring = true;
                        self.spawn();
                    }
                }
            }
        }
        self.publish_ready();
        Ok(())
    }

    /// Collects exited processes; unexpected deaths are replaced if `respawn`.
    fn reap(&mut self, respawn: bool) -> Result<(), OsError> {
        loop {
            let Some((pid, status)) = os::reap(None, true)? else { return Ok(()) };
            let Some(i) = self.processes.iter().position(|w| w.pid == pid) else { continue };
            let process = self.processes.remove(i);
            if respawn && !process.retiring {
                self.record_end(&process, status);
            }
            self.status().metrics.release(pid);
            self.publish_ready();
            if process.retiring || !respawn {
                continue;
            }
            let how = describe(status);
            if process.ready {
                let new = self.spawn();
                self.log(
                    LogLevel::Error,
                    &format!(
                        "Process '{}' (pid {pid}) has died ({how}); started pid {new} to replace it.",
                        self.name()
                    ),
                );
            } else {
                let delay = self.backoff.failed();
                if self.status().reason().is_empty() {
                    self.status().set_reason(&format!("process {pid} {how} before it was ready."));
                }
                self.status().set_failing(self.backoff.failures(), delay);
                self.pending.push(Instant::now() + delay);
                self.log(
                    LogLevel::Error,
                    &format!(
                        "Process '{}' (pid {pid}) exited during start-up ({how}; failure {} in a row, see the lines above for why); next attempt in {}s.",
                        self.name(),
                        self.backoff.failures(),
                        delay.as_secs()
                    ),
                );
            }
        }
    }

    fn set_state(&self, pid: libc::pid_t, state: ProcState) {
        if let Some(slot) = self.status().metrics.slot_of(pid) {
            slot.set_state(state);
        }
    }

    /// Shows on the status page that `pid` retires, with the reason it gave.
    fn record_retiring(&self, pid: libc::pid_t) {
        let metrics = &self.status().metrics;
        let reason = metrics.slot_of(pid).and_then(|s| s.stop_reason()).unwrap_or(StopReason::GracefulSignal);
        metrics.record_restart(pid, reason, "");
    }

    /// Shows on the status page why `process`, which did not retire, ended
    /// (wait status `status`): the reason it gave, else how it died.
    fn record_end(&self, process: &Process, status: i32) {
        let metrics = &self.status().metrics;
        let given = metrics.slot_of(process.pid).and_then(|s| s.stop_reason());
        let clean = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        let how = if clean { String::new() } else { describe(status) };
        let reason = match given {
            Some(r) => r,
            None if !process.ready => StopReason::StartupFailed,
            None if clean => StopReason::ShutdownSignal,
            None => StopReason::Crashed,
        };
        metrics.record_restart(process.pid, reason, &how);
    }

    /// Stops every process: SIGTERM, then SIGKILL after shutdown-timeout.
    fn stop(&mut self) -> Result<(), OsError> {
        for w in &self.processes {
            // Unreaped, a child can always be signalled.
            kill(Pid::from_raw(w.pid), Signal::SIGTERM).context("Unable to stop a daemon process")?;
        }
        let grace = self.registry.groups[self.index].spec.config.shutdown_timeout + Duration::from_millis(500);
        let deadline = Instant::now() + grace;
        while !self.processes.is_empty() && Instant::now() < deadline {
            self.reap(false)?;
            std::thread::sleep(Duration::from_millis(10));
        }
        for w in &self.processes {
            self.log(
                LogLevel::Warning,
                &format!("Process '{}' (pid {}) did not stop in time, killing it.", self.name(), w.pid),
            );
            kill(Pid::from_raw(w.pid), Signal::SIGKILL).context("Unable to kill a daemon process")?;
            os::reap(Some(Pid::from_raw(w.pid)), false)?;
        }
        Ok(())
    }
}

/// "signal 9 (SIGKILL)" or "exit code 1", from a wait status.
fn describe(status: i32) -> String {
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        match nix::sys::signal::Signal::try_from(sig) {
            Ok(name) => format!("killed by signal {sig} ({name})"),
            Err(_) => format!("killed by signal {sig}"),
        }
    } else if libc::WIFEXITED(status) {
        format!("exit code {}", libc::WEXITSTATUS(status))
    } else {
        format!("wait status {status}")
    }
}

/// A signalfd for the signals the manager handles, which are blocked.
fn signal_fd() -> Result<SignalFd, OsError> {
    let mut set = SigSet::empty();
    for sig in [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(sig);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).context("Unable to block the daemon manager's signals")?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).context("Unable to create signalfd")
}
