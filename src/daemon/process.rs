//! A daemon process, from the fork in its group's manager to its
//! exit: become the configured user, start Python, serve requests on
//! worker threads, and stop cleanly on SIGTERM or when it retires.

use super::Group;
use super::Registry;
use super::daemon_side::{self, GroupFacts};
use super::detach;
use super::dispatch::{Dispatch, Work};
use super::os::{Context, OsError};
use super::wire::{Conn, say_goodbye};
use crate::apache::log;
use crate::apache::server::Server;
use crate::common::log::{LogLevel, with_pid};
use crate::ffi;
use crate::python::runtime::{self, ProcessIdentity};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wsgi_core::config::Account;
use wsgi_core::supervision::Control;
use wsgi_core::telemetry::StopReason;

/// Requests being served right now, for a graceful stop.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// Requests served since the process started (for maximum-requests).
static SERVED: AtomicU64 = AtomicU64::new(0);
/// Set once the process stops taking new requests.
static STOPPING: AtomicBool = AtomicBool::new(false);
/// Set once the process takes requests (start-up succeeded).
static STARTED: AtomicBool = AtomicBool::new(false);
/// Set once a request found its script changed (or its reload_required()
/// said so): requests this process takes after that go to its successor.
static SCRIPT_CHANGED: AtomicBool = AtomicBool::new(false);

/// How a daemon process tells its manager and its own threads that it retires.
struct Retirement {
    control: OwnedFd,
    /// The write end of the pipe that wakes every worker thread.
    wake: OwnedFd,
    group: String,
    server: Server<'static>,
}

static RETIREMENT: OnceLock<Retirement> = OnceLock::new();

/// Stops taking requests and asks the manager for a replacement; in-flight
/// requests finish, then the process exits. Only the first call acts.
pub fn retire(reason: &str) {
    let Some(r) = RETIREMENT.get() else { return };
    if STOPPING.swap(true, Ordering::SeqCst) {
        return;
    }
    let pid = std::process::id();
    log::server(
        LogLevel::Info,
        r.server,
        &with_pid(format_args!("Process '{}' retiring ({reason}); a replacement is starting.", r.group)),
    );
    tell_manager(&r.control, Control::Retiring(pid as i32));
    wake_workers(&r.wake);
}

/// Retires because a script must be loaded again: no later request runs
/// the old script here, even one a thread has already taken (the one a
/// script's reload_required() said True for is asked only once).
pub fn retire_for_changed_script() {
    SCRIPT_CHANGED.store(true, Ordering::SeqCst);
    super::metrics::stopping(StopReason::ScriptReload);
    retire("script file changed");
}

pub fn script_changed() -> bool {
    SCRIPT_CHANGED.load(Ordering::SeqCst)
}

/// One byte to the wake pipe wakes every worker thread.
fn wake_workers(wake: &OwnedFd) {
    if let Err(e) = nix::unistd::write(wake, b"x") {
        log::process(
            crate::common::log::LogLevel::Error,
            &with_pid(format!("cannot wake the worker threads to stop: {e}.")),
        );
    }
}

fn tell_manager(control: &OwnedFd, message: Control) {
    let bytes = message.encode();
    // Writes of Control::LEN bytes to a pipe are atomic; `control` is this
    // process's end of its manager's control pipe.
    let n = nix::unistd::write(control, &bytes).unwrap_or(0);
    if n != bytes.len() {
        log::process(
            crate::common::log::LogLevel::Warning,
            &with_pid(format_args!("cannot tell the daemon manager {message:?}: {}.", std::io::Error::last_os_error())),
        );
    }
}

/// Start-up is over: the manager is told the process takes requests.
pub(super) fn ready() {
    STARTED.store(true, Ordering::SeqCst);
    if let Some(r) = RETIREMENT.get() {
        tell_manager(&r.control, Control::Ready(std::process::id() as i32));
    }
}

/// Counts a finished request; retires at `maximum-requests`.
pub fn request_done(maximum: u32) {
    let n = SERVED.fetch_add(1, Ordering::SeqCst) + 1;
    if maximum > 0 && n >= u64::from(maximum) {
        super::metrics::stopping(StopReason::MaximumRequests);
        retire("maximum requests reached");
    }
}

/// Never returns: the process ends with `_exit`.
pub fn run(registry: Arc<Registry>, index: usize, s: Server<'static>, control: Option<OwnedFd>) -> ! {
    let code = match serve(&registry, index, s, control) {
        Ok(()) => 0,
        Err(msg) => {
            if !STARTED.load(Ordering::SeqCst) {
                // Apache children tell clients why the group cannot serve.
                registry.groups[index].status.set_reason(&msg);
            }
            log::server(LogLevel::Error, s, &with_pid(msg));
            1
        }
    };
    // SAFETY: ends the process without running Apache's exit handlers,
    // which belong to the parent.
    unsafe { libc::_exit(code) }
}

fn serve(registry: &Registry, index: usize, s: Server<'static>, control: Option<OwnedFd>) -> Result<(), String> {
    let group = &registry.groups[index];
    let spec = &group.spec.config;
    let control = control.ok_or("The daemon manager's control pipe was not passed on.")?;
    unblock_all_signals().map_err(|e| e.to_string())?;
    log::set_main_server(s);
    let manager = nix::unistd::getppid();
    if let Some(title) = &spec.display_name {
        detach::set_title(s, title).map_err(|e| e.to_string())?;
    }
    if spec.cpu_priority != 0 {
        // Before the switch of user: only root may raise a priority.
        // SAFETY: setpriority on this process; the value is in -20..=20.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, spec.cpu_priority) } != 0 {
            return Err(format!(
                "Unable to set cpu-priority={} for daemon process '{}': {}.",
                spec.cpu_priority,
                spec.name,
                std::io::Error::last_os_error()
            ));
        }
    }
    become_user(group)?;
    // After the switch of user, which clears the setting.
    detach::die_with_parent(Signal::SIGTERM).map_err(|e| e.to_string())?;
    if nix::unistd::getppid() != manager {
        return Err(format!("The manager of daemon process '{}' exited during start-up.", spec.name));
    }
    if let Some(mask) = spec.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    let home = spec.home.clone().or_else(user_home).unwrap_or_else(|| "/".into());
    std::env::set_current_dir(&home).map_err(|e| {
        format!("Unable to change working directory to '{home}' for daemon process '{}': {e}.", spec.name)
    })?;
    // Before Python and the worker threads, whose memory it bounds.
    super::resources::limit(spec, s);

    crate::python::io::set_process_logger(log::process);
    let server_cfg = &s.record().cfg;
    let process = ProcessIdentity {
        process_group: spec.name.clone(),
        maximum_processes: spec.processes,
        threads_per_process: spec.threads.max(1),
    };
    runtime::initialize(&server_cfg.python_settings(Some(spec)), process)
        .map_err(|e| format!("Daemon process '{}': {e}.", spec.name))?;
    let (wake_r, wake_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| format!("Unable to create pipe: {}.", std::io::Error::from(e)))?;
    let retirement =
        RETIREMENT.get_or_init(|| Retirement { control, wake: wake_w, group: spec.name.clone(), server: s });
    if spec.threads == 0 {
        return super::service::run(group, registry.case_sensitive, s);
    }
    let preloads = preloads(group);
    if crate::python::preload::run(&spec.name, &preloads, registry.case_sensitive) && !preloads.is_empty() {
        super::monitor::application_loaded();
    }

    crate::python::environ::set_run_once(spec.threads == 1 && spec.maximum_requests == 1);
    let facts = Arc::new(GroupFacts {
        name: spec.name.clone(),
        secret: registry.secret,
        multiprocess: spec.multiprocess(),
        multithread: spec.threads.max(1) > 1,
        maximum_requests: spec.maximum_requests,
        queue_timeout: spec.queue_timeout,
        header_buffer_size: spec.header_buffer_size as usize,
        case_sensitive: registry.case_sensitive,
        chroot: spec.chroot.clone(),
    });
    let signals = StopSignals::block().map_err(|e| e.to_string())?;
    super::monitor::init(spec.threads.max(1) as usize);
    if !spec.interrupt_timeout.is_zero() {
        crate::python::timeout::enable();
    }
    let listener = group.listener.take().ok_or("The daemon process's listening socket is closed.")?;
    let dispatch = Arc::new(
        Dispatch::new(listener, wake_r, &STOPPING, group.spec.socket_timeout)
            .map_err(|e| format!("Unable to watch the socket of daemon process '{}' (epoll): {e}.", spec.name))?,
    );
    let threads = spec.threads.max(1) as usize;
    let stack_size = spec.stack_size.map(|n| n as usize).or_else(super::resources::default_stack_size);
    let mut workers = Vec::new();
    for n in 0..threads {
        let facts = facts.clone();
        let dispatch = dispatch.clone();
        let mut builder = std::thread::Builder::new().name(format!("wsgi-{n}"));
        if let Some(size) = stack_size {
            builder = builder.stack_size(size);
        }
        let t = builder
            .spawn(move || work(n, threads, &dispatch, &facts))
            .map_err(|e| format!("Unable to start worker thread for daemon process '{}': {e}.", spec.name))?;
        workers.push(t);
    }
    let probe = super::monitor::start(super::monitor::limits(spec), spec.name.clone(), s)
        .map_err(|e| format!("Unable to start the monitor thread of daemon process '{}': {e}.", spec.name))?;
    ready();

    // How long running requests may take before shutdown-timeout starts.
    // SIGHUP and SIGUSR2 go to subscribe_signals callbacks when there are any.
    let stop = loop {
        match wait_for_stop(&signals) {
            Some(sig @ (libc::SIGHUP | libc::SIGUSR2)) if crate::python::events::deliver_signal(sig) => continue,
            other => break other,
        }
    };
    let drain = match stop {
        Some(sig @ (libc::SIGUSR1 | libc::SIGUSR2)) => {
            super::metrics::stopping(StopReason::GracefulSignal);
            let name = if sig == libc::SIGUSR1 { "SIGUSR1" } else { "SIGUSR2" };
            retire(&format!("graceful restart requested ({name})"));
            if spec.eviction_timeout.is_zero() { spec.graceful_timeout } else { spec.eviction_timeout }
        }
        Some(sig) => {
            super::metrics::stopping(StopReason::ShutdownSignal);
            log::server(
                LogLevel::Info,
                s,
                &with_pid(format_args!("Shutdown requested for daemon process '{}' (signal {sig}).", spec.name)),
            );
            STOPPING.store(true, Ordering::SeqCst);
            wake_workers(&retirement.wake);
            Duration::ZERO
        }
        None => spec.graceful_timeout,
    };
    wait_for_requests(Instant::now() + drain);
    // Shutdown is under way: shutdown-timeout bounds what is left, the
    // running requests and then Python's exit (as in mod_wsgi).
    let deadline = Instant::now() + spec.shutdown_timeout;
    if !wait_for_requests(deadline) {
        return Err(format!(
            "Daemon process '{}' still had requests running after shutdown-timeout ({}s); exiting without running exit functions.",
            spec.name,
            spec.shutdown_timeout.as_secs()
        ));
    }
    for t in workers {
        let _ = t.join();
    }
    // No thread may take the GIL once finalisation starts.
    probe.stop();
    runtime::finalize(deadline.saturating_duration_since(Instant::now()));
    Ok(())
}

/// The scripts to load at start, named as this process sees them: inside
/// its `chroot=` jail, where those outside it cannot be loaded.
pub(super) fn preloads(group: &Group) -> Vec<crate::python::preload::Preload> {
    let Some(root) = &group.spec.config.chroot else { return group.spec.preload.clone() };
    let mut inside = Vec::new();
    for p in &group.spec.preload {
        match wsgi_core::paths::inside_jail(&p.path, root) {
            Some(path) => inside.push(crate::python::preload::Preload { path: path.to_string(), ..p.clone() }),
            None => log::process(
                crate::common::log::LogLevel::Error,
                &with_pid(format_args!("WSGI script '{}' not located within chroot directory '{root}'.", p.path)),
            ),
        }
    }
    inside
}

/// Waits until no request runs, or `deadline`; whether none runs.
fn wait_for_requests(deadline: Instant) -> bool {
    while ACTIVE.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    ACTIVE.load(Ordering::SeqCst) == 0
}

/// Resets this thread's mask (inherited from the manager).
fn unblock_all_signals() -> Result<(), OsError> {
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .context("Unable to unblock the signals blocked by the daemon manager")
}

fn lookup_user(a: &Account) -> Result<nix::unistd::User, String> {
    super::accounts::user(a).ok_or_else(|| format!("Unable to find user '{a}'."))
}

fn lookup_group(a: &Account) -> Result<nix::unistd::Gid, String> {
    super::accounts::gid(a).ok_or_else(|| format!("Unable to find group '{a}'."))
}

/// Switches to the group's user and group when Apache started as root,
/// entering its `chroot=` jail on the way (accounts are looked up first,
/// outside the jail, as the jail need not hold them).
fn become_user(group: &Group) -> Result<(), String> {
    use nix::unistd::{Gid, Uid, setgid, setuid};
    let spec = &group.spec.config;
    if !Uid::effective().is_root() {
        if spec.chroot.is_some() {
            return Err(format!(
                "chroot= of daemon process '{}' needs Apache started as root; remove it or start Apache as root.",
                spec.name
            ));
        }
        if spec.user.is_some() || spec.group.is_some() {
            log::process(
                crate::common::log::LogLevel::Warning,
                &with_pid(format_args!(
                    "user=/group= of daemon process '{}' ignored: Apache was not started as root.",
                    spec.name
                )),
            );
        }
        return Ok(());
    }
    // SAFETY: plain reads of the struct Apache filled in from User/Group.
    let (apache_uid, apache_gid) = unsafe { (ffi::ap_unixd_config.user_id, ffi::ap_unixd_config.group_id) };
    let user = match &spec.user {
        Some(u) => lookup_user(u)?,
        None => nix::unistd::User::from_uid(Uid::from_raw(apache_uid))
            .ok()
            .flatten()
            .ok_or_else(|| format!("Unable to find the user Apache runs as (uid {apache_uid})."))?,
    };
    if user.uid.is_root() {
        return Err(format!(
            "Daemon process '{}' would run as root; refusing. Set user= to an unprivileged account.",
            spec.name
        ));
    }
    let gid = match &spec.group {
        Some(g) => lookup_group(g)?,
        None => Gid::from_raw(apache_gid),
    };
    let name = std::ffi::CString::new(user.name.clone()).map_err(|e| e.to_string())?;
    let mut groups = nix::unistd::getgrouplist(&name, gid)
        .map_err(|e| format!("Unable to read the groups of '{}': {e}.", user.name))?;
    for g in &spec.supplementary_groups {
        groups.push(lookup_group(g)?);
    }
    if let Some(root) = &spec.chroot {
        nix::unistd::chroot(root.as_str()).and_then(|()| nix::unistd::chdir("/")).map_err(|e| {
            format!("Unable to change root directory to '{root}' for daemon process '{}': {e}.", spec.name)
        })?;
    }
    setgid(gid).map_err(|e| format!("Unable to change to gid {gid}: {e}."))?;
    nix::unistd::setgroups(&groups)
        .map_err(|e| format!("Unable to set the groups of daemon process '{}': {e}.", spec.name))?;
    setuid(user.uid).map_err(|e| format!("Unable to change to uid {}: {e}.", user.uid))?;
    // SAFETY: setting environment variables before any thread exists.
    unsafe {
        std::env::set_var("HOME", &user.dir);
        std::env::set_var("USER", &user.name);
    }
    Ok(())
}

fn user_home() -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::effective())
        .ok()
        .flatten()
        .map(|u| u.dir.to_string_lossy().into_owned())
}

/// The signals that stop a daemon process, blocked in the thread that
/// makes this value (and in the threads it starts later), so that only
/// [`StopSignals::wait`] receives them.
pub(super) struct StopSignals(SigSet);

impl StopSignals {
    pub(super) fn block() -> Result<Self, OsError> {
        let mut set = SigSet::empty();
        for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGUSR1, Signal::SIGUSR2] {
            set.add(sig);
        }
        set.thread_block().context("Unable to block the daemon process's stop signals")?;
        Ok(Self(set))
    }

    /// A stop signal received within `tick`, if any (`nix` has no
    /// `sigtimedwait`; a timeout or an interruption is no signal).
    pub(super) fn wait(&self, tick: Duration) -> Option<i32> {
        let tick = libc::timespec { tv_sec: tick.as_secs() as libc::time_t, tv_nsec: tick.subsec_nanos() as i64 };
        // SAFETY: the set holds signals blocked in every thread of the
        // process; no siginfo is asked for.
        let sig = unsafe { libc::sigtimedwait(self.0.as_ref(), std::ptr::null_mut(), &tick) };
        (sig > 0).then_some(sig)
    }
}

/// Waits for a stop signal (returned) or for the process to retire (`None`).
fn wait_for_stop(signals: &StopSignals) -> Option<i32> {
    loop {
        if STOPPING.load(Ordering::SeqCst) {
            return None;
        }
        if let Some(sig) = signals.wait(Duration::from_millis(50)) {
            return Some(sig);
        }
    }
}

/// A worker thread: serves requests until the process stops.
fn work(slot: usize, threads: usize, dispatch: &Dispatch, facts: &GroupFacts) {
    loop {
        let (stream, watched) = match dispatch.next() {
            Ok(Work::Serve { stream, watched }) => (stream, watched),
            Ok(Work::Stop) => break,
            Err(e) => {
                log::process(
                    crate::common::log::LogLevel::Error,
                    &with_pid(format!("worker thread {slot} stops: {e}.")),
                );
                break;
            }
        };
        let mut conn = Some(Conn::new(stream));
        while let Some(c) = conn.take() {
            if ACTIVE.fetch_add(1, Ordering::SeqCst) + 1 >= threads {
                // No idle worker thread left: requests sent on kept connections
                // would wait here while another process may be idle.
                dispatch.release_all();
            }
            super::monitor::request_started(slot);
            let kept = daemon_side::serve(c, facts);
            super::monitor::request_finished(slot);
            ACTIVE.fetch_sub(1, Ordering::SeqCst);
            match kept {
                Some(kept) if STOPPING.load(Ordering::SeqCst) => say_goodbye(&kept.stream),
                // The next request has begun to arrive: no event will
                // say so, as its bytes are already read.
                Some(kept) if kept.has_early_bytes() => conn = Some(Conn::resume(kept)),
                Some(kept) => dispatch.keep(kept.stream, watched),
                None => {}
            }
        }
    }
    dispatch.release_all();
}
