//! A daemon process, from the fork in its group's manager to its
//! exit: become the configured user, start Python, serve requests on
//! worker threads, and stop cleanly on SIGTERM or when it retires.

use super::Group;
use super::Registry;
use super::daemon_side::{self, GroupFacts};
use super::detach;
use super::dispatch::{Dispatch, Work};
use super::wire::{Conn, say_goodbye};
use crate::apache::log;
use crate::apache::server::Server;
use crate::common::log::{LogLevel, with_pid};
use crate::ffi;
use crate::python::runtime::{self, ProcessIdentity};
use std::os::fd::RawFd;
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
    control: RawFd,
    wake: RawFd,
    group: String,
    server: Server<'static>,
}

// SAFETY: the server record is only read (for logging) and lives for the
// whole process; the descriptors are plain integers.
unsafe impl Send for Retirement {}
// SAFETY: as above.
unsafe impl Sync for Retirement {}

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
    tell_manager(r.control, Control::Retiring(pid as i32));
    // SAFETY: one byte to our own pipe wakes every worker thread.
    unsafe { libc::write(r.wake, b"x".as_ptr().cast(), 1) };
}

/// Retires because a script must be loaded again: no later request runs
/// the old script here, even one a thread has already taken (the one a
/// script's reload_required() said True for is asked only once).
pub fn retire_for_changed_script() {
    SCRIPT_CHANGED.store(true, Ordering::SeqCst);
    retire("script file changed");
}

pub fn script_changed() -> bool {
    SCRIPT_CHANGED.load(Ordering::SeqCst)
}

fn tell_manager(control: RawFd, message: Control) {
    let bytes = message.encode();
    // SAFETY: writes of Control::LEN bytes to a pipe are atomic; `control`
    // is this process's end of its manager's control pipe.
    let n = unsafe { libc::write(control, bytes.as_ptr().cast(), bytes.len()) };
    if n != bytes.len() as isize {
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
        tell_manager(r.control, Control::Ready(std::process::id() as i32));
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
pub fn run(registry: Arc<Registry>, index: usize, s: Server<'static>, control: RawFd) -> ! {
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

fn serve(registry: &Registry, index: usize, s: Server<'static>, control: RawFd) -> Result<(), String> {
    let group = &registry.groups[index];
    let spec = &group.spec.config;
    unblock_all_signals();
    log::set_main_server(s);
    // SAFETY: getppid has no preconditions.
    let manager = unsafe { libc::getppid() };
    if let Some(title) = &spec.display_name {
        detach::set_title(s, title);
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
    detach::die_with_parent(libc::SIGTERM);
    // SAFETY: as above.
    if unsafe { libc::getppid() } != manager {
        return Err(format!("The manager of daemon process '{}' exited during start-up.", spec.name));
    }
    if let Some(mask) = spec.umask {
        // SAFETY: umask has no preconditions.
        unsafe { libc::umask(mask as libc::mode_t) };
    }
    let home = spec.home.clone().or_else(user_home).unwrap_or_else(|| "/".into());
    std::env::set_current_dir(&home).map_err(|e| {
        format!("Unable to change working directory to '{home}' for daemon process '{}': {e}.", spec.name)
    })?;

    crate::python::io::set_process_logger(log::process);
    let server_cfg = &s.record().cfg;
    let process = ProcessIdentity {
        process_group: spec.name.clone(),
        maximum_processes: spec.processes,
        threads_per_process: spec.threads.max(1),
    };
    runtime::initialize(&server_cfg.python_settings(Some(spec)), process)
        .map_err(|e| format!("Daemon process '{}': {e}.", spec.name))?;
    let (wake_r, wake_w) = pipe()?;
    let _ = RETIREMENT.set(Retirement { control, wake: wake_w, group: spec.name.clone(), server: s });
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
    let signals = StopSignals::block();
    super::monitor::init(spec.threads.max(1) as usize);
    if !spec.interrupt_timeout.is_zero() {
        crate::python::timeout::enable();
    }
    let dispatch = Arc::new(
        Dispatch::new(group.listener, wake_r, &STOPPING, group.spec.socket_timeout)
            .map_err(|e| format!("Unable to watch the socket of daemon process '{}' (epoll): {e}.", spec.name))?,
    );
    let threads = spec.threads.max(1) as usize;
    let mut workers = Vec::new();
    for n in 0..threads {
        let facts = facts.clone();
        let dispatch = dispatch.clone();
        let mut builder = std::thread::Builder::new().name(format!("wsgi-{n}"));
        if let Some(size) = spec.stack_size {
            builder = builder.stack_size(size as usize);
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
            // SAFETY: writing one byte to our own pipe wakes every worker thread.
            unsafe { libc::write(wake_w, b"x".as_ptr().cast(), 1) };
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

fn unblock_all_signals() {
    // SAFETY: resets this thread's mask (inherited from the manager).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
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

fn pipe() -> Result<(RawFd, RawFd), String> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("Unable to create pipe: {}.", std::io::Error::last_os_error()));
    }
    Ok((fds[0], fds[1]))
}

/// The signals that stop a daemon process, blocked in the thread that
/// makes this value (and in the threads it starts later), so that only
/// [`StopSignals::wait`] receives them.
pub(super) struct StopSignals(libc::sigset_t);

impl StopSignals {
    pub(super) fn block() -> Self {
        // SAFETY: builds a signal set and applies it to the calling thread.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2] {
                libc::sigaddset(&mut set, sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Self(set)
        }
    }

    /// A stop signal received within `tick`, if any.
    pub(super) fn wait(&self, tick: Duration) -> Option<i32> {
        let tick = libc::timespec { tv_sec: tick.as_secs() as libc::time_t, tv_nsec: tick.subsec_nanos() as i64 };
        // SAFETY: the set holds signals blocked in every thread of the process.
        let sig = unsafe { libc::sigtimedwait(&self.0, std::ptr::null_mut(), &tick) };
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
    while let Work::Serve { stream, watched } = dispatch.next() {
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
                Some(kept) if STOPPING.load(Ordering::SeqCst) => say_goodbye(kept.stream),
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
