//! A daemon process, from the fork in the Apache parent to its exit:
//! shed Apache's listeners and signal handlers, become the configured
//! user, start Python, serve requests on worker threads, and stop cleanly
//! on SIGTERM/SIGINT.

use super::worker::{self, GroupFacts};
use super::{Group, Registry};
use crate::apache::log::{self, Level};
use crate::ffi;
use crate::python::interpreter_setup::{self, InterpreterSettings};
use crate::python::runtime::{self, Settings};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wsgi_core::config::Account;

/// Requests being served right now, for a graceful stop.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Never returns: the process ends with `_exit`.
pub fn run(registry: Arc<Registry>, index: usize, s: *mut ffi::server_rec) -> ! {
    let code = match serve(&registry, index, s) {
        Ok(()) => 0,
        Err(msg) => {
            log::server(Level::Error, s, &format!("mod_wsgi (pid={}): {msg}", std::process::id()));
            1
        }
    };
    // SAFETY: ends the process without running Apache's exit handlers,
    // which belong to the parent.
    unsafe { libc::_exit(code) }
}

fn serve(registry: &Registry, index: usize, s: *mut ffi::server_rec) -> Result<(), String> {
    let group = &registry.groups[index];
    let spec = &group.spec.config;
    detach_from_apache(registry, index);
    if let Some(title) = &spec.display_name {
        set_title(s, title);
    }
    become_user(group)?;
    if let Some(mask) = spec.umask {
        // SAFETY: umask has no preconditions.
        unsafe { libc::umask(mask as libc::mode_t) };
    }
    let home = spec.home.clone().or_else(user_home).unwrap_or_else(|| "/".into());
    std::env::set_current_dir(&home).map_err(|e| {
        format!("Unable to change working directory to '{home}' for daemon process '{}': {e}.", spec.name)
    })?;

    crate::python::io::set_process_logger(log::process);
    interpreter_setup::configure(InterpreterSettings {
        python_path: spec.python_path.clone(),
        restrict_stdin: true,
        restrict_stdout: false,
        restrict_signal: true,
        process_group: spec.name.clone(),
        maximum_processes: spec.processes,
        threads_per_process: spec.threads.max(1),
    });
    runtime::initialize(Settings { home: spec.python_home.clone(), ..Settings::default() })
        .map_err(|e| format!("Daemon process '{}': {e}.", spec.name))?;

    crate::python::preload::run(&spec.name, &group.spec.preload);
    let facts = Arc::new(GroupFacts {
        name: spec.name.clone(),
        secret: registry.secret,
        multiprocess: spec.multiprocess(),
        multithread: spec.threads.max(1) > 1,
    });
    let (wake_r, wake_w) = pipe()?;
    let signals = block_signals();
    let mut workers = Vec::new();
    for n in 0..spec.threads.max(1) {
        let facts = facts.clone();
        let listener = group.listener;
        let t = std::thread::Builder::new()
            .name(format!("wsgi-{n}"))
            .spawn(move || accept_loop(listener, wake_r, &facts))
            .map_err(|e| format!("Unable to start worker thread for daemon process '{}': {e}.", spec.name))?;
        workers.push(t);
    }
    log::server(
        Level::Info,
        s,
        &format!(
            "mod_wsgi (pid={}): Daemon process '{}' ready with {} threads.",
            std::process::id(),
            spec.name,
            spec.threads
        ),
    );

    let sig = wait_for_signal(&signals);
    log::server(
        Level::Info,
        s,
        &format!(
            "mod_wsgi (pid={}): Shutdown requested for daemon process '{}' (signal {sig}).",
            std::process::id(),
            spec.name
        ),
    );
    // Every worker polls this pipe; one byte wakes them all, forever.
    // SAFETY: writing one byte to our own pipe.
    unsafe { libc::write(wake_w, b"x".as_ptr().cast(), 1) };
    let deadline = Instant::now() + spec.shutdown_timeout;
    while ACTIVE.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if ACTIVE.load(Ordering::SeqCst) > 0 {
        return Err(format!(
            "Daemon process '{}' still busy after shutdown-timeout; exiting without running exit functions.",
            spec.name
        ));
    }
    for t in workers {
        let _ = t.join();
    }
    runtime::finalize();
    Ok(())
}

/// Closes what belongs to Apache or to other groups, and restores the
/// default signal dispositions the parent changed.
fn detach_from_apache(registry: &Registry, index: usize) {
    // SAFETY: closing inherited descriptors this process must not use and
    // resetting signal handlers; no other thread exists yet.
    unsafe {
        ffi::ap_close_listeners();
        for (i, g) in registry.groups.iter().enumerate() {
            if i != index {
                libc::close(g.listener);
            }
        }
        for sig in
            [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2, libc::SIGCHLD, libc::SIGALRM]
        {
            libc::signal(sig, libc::SIG_DFL);
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Overwrites the process's argument area so `ps` shows `title`.
fn set_title(s: *mut ffi::server_rec, title: &str) {
    // The kernel's argument area starts at the original argv[0] and is as
    // long as /proc/self/cmdline (Apache's rewritten argv is shorter).
    let Ok(area) = std::fs::read("/proc/self/cmdline") else { return };
    // SAFETY: process->argv[0] is the original argv[0], the start of that
    // area; we write only within its `area.len()` bytes.
    unsafe {
        let process = (*s).process;
        if (*process).argc == 0 || (*process).argv.is_null() {
            return;
        }
        let start = *(*process).argv as *mut u8;
        let room = area.len().saturating_sub(1);
        let bytes = title.as_bytes();
        let n = bytes.len().min(room);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), start, n);
        std::ptr::write_bytes(start.add(n), 0, area.len() - n);
        let comm = std::ffi::CString::new(&bytes[..bytes.len().min(15)]).unwrap_or_default();
        libc::prctl(libc::PR_SET_NAME, comm.as_ptr());
    }
}

fn lookup_user(a: &Account) -> Result<nix::unistd::User, String> {
    let found = match a {
        Account::Id(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(*uid)),
        Account::Name(n) => nix::unistd::User::from_name(n),
    };
    found.ok().flatten().ok_or_else(|| format!("Unable to find user '{a}'."))
}

fn lookup_group(a: &Account) -> Result<nix::unistd::Gid, String> {
    match a {
        Account::Id(gid) => Ok(nix::unistd::Gid::from_raw(*gid)),
        Account::Name(n) => nix::unistd::Group::from_name(n)
            .ok()
            .flatten()
            .map(|g| g.gid)
            .ok_or_else(|| format!("Unable to find group '{a}'.")),
    }
}

/// Switches to the group's user and group when Apache started as root.
fn become_user(group: &Group) -> Result<(), String> {
    use nix::unistd::{Gid, Uid, initgroups, setgid, setuid};
    if !Uid::effective().is_root() {
        return Ok(());
    }
    let spec = &group.spec.config;
    // SAFETY: plain reads of the struct Apache filled in from User/Group.
    let (apache_uid, apache_gid) = unsafe {
        let c = &raw const ffi::ap_unixd_config;
        let c = &*c;
        (c.user_id, c.group_id)
    };
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
    setgid(gid).map_err(|e| format!("Unable to change to gid {gid}: {e}."))?;
    initgroups(&name, gid).map_err(|e| format!("Unable to set groups for '{}': {e}.", user.name))?;
    setuid(user.uid).map_err(|e| format!("Unable to change to uid {}: {e}.", user.uid))?;
    // SAFETY: setting an environment variable before any thread exists.
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
    // SAFETY: pipe writes two descriptors into `fds`.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!("Unable to create pipe: {}.", std::io::Error::last_os_error()));
    }
    Ok((fds[0], fds[1]))
}

/// Blocks the stop signals in this thread (and the workers it starts), so
/// only `wait_for_signal` receives them.
fn block_signals() -> libc::sigset_t {
    // SAFETY: builds a signal set and applies it to the calling thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_for_signal(set: &libc::sigset_t) -> i32 {
    let mut sig = 0;
    // SAFETY: `set` holds signals blocked in every thread of the process.
    while unsafe { libc::sigwait(set, &mut sig) } != 0 {}
    sig
}

fn accept_loop(listener: RawFd, wake: RawFd, facts: &GroupFacts) {
    let mut fds = [
        libc::pollfd { fd: listener, events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: wake, events: libc::POLLIN, revents: 0 },
    ];
    loop {
        // SAFETY: polls two descriptors this process owns.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            continue;
        }
        if fds[1].revents != 0 {
            return;
        }
        // SAFETY: accepts on the shared non-blocking listener; EAGAIN means
        // another worker or process took the connection.
        let conn = unsafe { libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC) };
        if conn < 0 {
            continue;
        }
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        // SAFETY: `conn` is a new connected socket we now own.
        let stream = unsafe { UnixStream::from_raw_fd(conn) };
        worker::serve(stream, facts);
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}
