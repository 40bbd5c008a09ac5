//! The Apache parent's side of daemon mode: after each configuration pass
//! it creates each group's socket, forks the group's manager (which forks
//! the processes), re-forks a manager that dies (Apache's "other child"
//! callbacks), and stops them all when the configuration is torn down
//! (stop, restart, graceful).

use super::spec::GroupSpec;
use super::{Group, Listener, Registry, set_registry};
use crate::apache::log;
use crate::apache::pool::Pool;
use crate::apache::server::Server;
use crate::common::log::{LogLevel, with_pid};
use crate::ffi;
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::socket::{Backlog, setsockopt, sockopt};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};
use std::ffi::{CString, c_void};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::{Duration, Instant};

/// How long a manager may take to stop beyond its group's shutdown-timeout.
const STOP_MARGIN: Duration = Duration::from_secs(1);

/// State of the supervisor for one configuration generation, owned by pconf.
struct Supervisor {
    registry: Arc<Registry>,
    slots: Vec<Slot>,
    server: Server<'static>,
    pool: *mut ffi::apr_pool_t,
    stopping: bool,
}

/// One daemon process of one group.
struct Slot {
    sup: *mut Supervisor,
    group: usize,
    proc_: ffi::apr_proc_t,
}

fn random_secret() -> std::io::Result<[u8; wsgi_core::protocol::SECRET_LEN]> {
    use std::io::Read;
    let mut s = [0; wsgi_core::protocol::SECRET_LEN];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut s)?;
    Ok(s)
}

/// The secret kept for the life of the Apache parent (its process pool),
/// made on first use.
fn lasting_secret(s: Server<'_>) -> Result<[u8; wsgi_core::protocol::SECRET_LEN], String> {
    const KEY: &std::ffi::CStr = c"mod_wsgi_rs.lasting_secret";
    let pool = s.process_pool();
    let kept = pool.userdata(KEY) as *const [u8; wsgi_core::protocol::SECRET_LEN];
    if !kept.is_null() {
        // SAFETY: stored below, in the same pool, by an earlier generation.
        return Ok(unsafe { *kept });
    }
    let secret = random_secret().map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    pool.set_userdata(KEY, pool.alloc(secret).cast());
    Ok(secret)
}

fn socket_prefix(pconf: *mut ffi::apr_pool_t, configured: Option<&str>) -> String {
    let c = CString::new(configured.unwrap_or("wsgi")).unwrap_or_default();
    // SAFETY: both functions return a pool string (or null on failure).
    let p = unsafe {
        match configured {
            Some(_) => ffi::ap_server_root_relative(pconf, c.as_ptr()),
            None => ffi::ap_runtime_dir_relative(pconf, c.as_ptr()),
        }
    };
    // SAFETY: a pool string outliving this call, or null.
    unsafe { crate::apache::cstr::string(p) }
}

fn child_uid() -> libc::uid_t {
    // SAFETY: a plain read of a struct Apache fills in while configuring.
    unsafe { ffi::ap_unixd_config.user_id }
}

/// The uid that may connect: `socket-user=`, else Apache's `User`.
fn socket_owner(config: &wsgi_core::config::DaemonProcess) -> Result<libc::uid_t, String> {
    match &config.socket_user {
        None => Ok(child_uid()),
        Some(a) => super::accounts::uid(a)
            .map(|u| u.as_raw())
            .ok_or_else(|| format!("WSGIDaemonProcess {}: socket-user '{a}' does not exist", config.name)),
    }
}

/// The listen queue's length: as configured, at least 1; past SOMAXCONN
/// the kernel's limit (`net.core.somaxconn`), as `listen` makes any larger
/// value.
fn backlog(configured: u32) -> Result<Backlog, Errno> {
    match i32::try_from(configured) {
        Ok(n) if n <= libc::SOMAXCONN => Backlog::new(n.max(1)),
        _ => Ok(Backlog::MAXALLOWABLE),
    }
}

fn listen(path: &PathBuf, config: &wsgi_core::config::DaemonProcess) -> Result<OwnedFd, String> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| format!("cannot create socket '{}': {e}", path.display()))?;
    // Only the Apache children's user may connect; the daemons accept on
    // the inherited descriptor and need no access to the file.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(path, Some(socket_owner(config)?), None)
            .map_err(|e| format!("cannot chown socket '{}': {e}", path.display()))?;
    }
    let socket_err =
        |what: &str, e: Errno| format!("cannot {what} socket '{}': {}", path.display(), std::io::Error::from(e));
    // Accepted connections inherit the listener's buffer sizes: the daemon
    // receives requests through the one and sends responses through the
    // other (0: the system's).
    if config.receive_buffer_size > 0 {
        setsockopt(&listener, sockopt::RcvBuf, &(config.receive_buffer_size as usize))
            .map_err(|e| socket_err("set the receive buffer size of", e))?;
    }
    if config.send_buffer_size > 0 {
        setsockopt(&listener, sockopt::SndBuf, &(config.send_buffer_size as usize))
            .map_err(|e| socket_err("set the send buffer size of", e))?;
    }
    backlog(config.listen_backlog)
        .and_then(|b| nix::sys::socket::listen(&listener, b))
        .map_err(|e| socket_err("set the listen queue of", e))?;
    // Non-blocking is shared by every process holding it; all of them poll
    // before accept.
    listener.set_nonblocking(true).map_err(|e| format!("cannot make socket '{}' non-blocking: {e}", path.display()))?;
    Ok(listener.into())
}

/// Creates sockets and forks every group's processes. Called from
/// post_config in the parent, once per real configuration pass.
pub fn start(
    pool: Pool<'static>,
    s: Server<'static>,
    specs: Vec<GroupSpec>,
    main_cfg: &wsgi_core::config::ServerConfig,
) -> Result<(), String> {
    let pconf = pool.as_ptr();
    set_registry(None);
    if specs.is_empty() {
        return Ok(());
    }
    let case_sensitive = main_cfg.case_sensitivity.unwrap_or(true);
    let prefix = socket_prefix(pconf, main_cfg.socket_prefix.as_deref());
    // WSGISocketRotation On (the default): each generation has its own
    // sockets and secret. Off: the same ones across graceful restarts, so
    // the old generation's children, still serving kept-alive connections,
    // reach the new daemons.
    let (secret, generation) = if main_cfg.socket_rotation.unwrap_or(true) {
        let secret = random_secret().map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
        // SAFETY: ap_state_query only reads server state.
        (secret, unsafe { ffi::ap_state_query(ffi::AP_SQ_CONFIG_GEN as i32) }.to_string())
    } else {
        (lasting_secret(s)?, format!("u{}", child_uid()))
    };
    let mut groups = Vec::with_capacity(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let socket = PathBuf::from(format!("{prefix}.{}.{generation}.{i}.sock", std::process::id()));
        if socket.as_os_str().len() >= 108 {
            return Err(format!(
                "WSGIDaemonProcess {}: socket path '{}' is too long; set WSGISocketPrefix to a shorter path",
                spec.name(),
                socket.display()
            ));
        }
        let listener = Listener::new(listen(&socket, &spec.config)?);
        let status = super::status::Status::new(spec.config.processes)
            .map_err(|e| format!("WSGIDaemonProcess {}: cannot map its status page: {e}", spec.name()))?;
        groups.push(Group { spec, socket, listener, status });
    }
    let registry = Arc::new(Registry { secret, groups, case_sensitive });
    set_registry(Some(registry.clone()));

    let sup = pool.alloc(Supervisor {
        registry: registry.clone(),
        slots: Vec::new(),
        server: s,
        pool: pconf,
        stopping: false,
    });
    // SAFETY: `sup` lives in pconf until the cleanup registered below runs;
    // the parent is single-threaded, so no other reference exists.
    let sup_ref = unsafe { &mut *sup };
    sup_ref.slots =
        (0..registry.groups.len()).map(|g| Slot { sup, group: g, proc_: ffi::apr_proc_t::default() }).collect();
    // SAFETY: `sup` lives in pconf and stays valid until this cleanup has
    // run; the other-child registrations made later only unregister
    // themselves when the pool is cleared, before `sup` is freed.
    unsafe { ffi::apr_pool_cleanup_register(pconf, sup.cast(), Some(stop_all), Some(no_cleanup)) };
    if crate::apache::scoreboard::exists() {
        for slot in sup_ref.slots.iter_mut() {
            spawn(slot);
        }
    } else {
        // As mod_wsgi does: Apache makes its scoreboard after post_config,
        // just before the MPM starts; daemons forked now could never read
        // it (server_metrics()). A last pre_mpm hook forks them instead.
        // On a graceful restart it exists already and pre_mpm does not run.
        DEFERRED.store(sup, Ordering::Release);
        // SAFETY: registers a 'static function for this configuration
        // generation, as mod_wsgi registers its own.
        unsafe {
            ffi::ap_hook_pre_mpm(
                Some(start_deferred),
                std::ptr::null(),
                std::ptr::null(),
                ffi::APR_HOOK_REALLY_LAST as i32,
            )
        };
    }
    Ok(())
}

/// The supervisor whose daemons wait for the scoreboard; set and taken in
/// the same configuration generation.
static DEFERRED: AtomicPtr<Supervisor> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn start_deferred(_pool: *mut ffi::apr_pool_t, _kind: ffi::ap_scoreboard_e) -> i32 {
    crate::hooks::guard("starting daemon processes", ffi::OK as i32, || {
        let sup = DEFERRED.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: set by `start` to the supervisor living in pconf, which is
        // not cleared before the MPM runs (stop_all takes it back first).
        if let Some(sup) = unsafe { sup.as_mut() } {
            for slot in sup.slots.iter_mut() {
                spawn(slot);
            }
        }
        ffi::OK as i32
    })
}

fn spawn(slot: &mut Slot) {
    // SAFETY: the slot's supervisor outlives it (both in pconf).
    let sup = unsafe { &*slot.sup };
    let group = &sup.registry.groups[slot.group];
    // SAFETY: the parent has no other threads, so the child may keep
    // running Rust code after fork; it never returns (process::run exits).
    match unsafe { nix::unistd::fork() } {
        Err(_) => log::server(
            LogLevel::Error,
            sup.server,
            &with_pid(format_args!(
                "Unable to fork daemon process for group '{}': {}.",
                group.spec.name(),
                std::io::Error::last_os_error()
            )),
        ),
        Ok(ForkResult::Child) => super::manager::run(sup.registry.clone(), slot.group, sup.server),
        Ok(ForkResult::Parent { child }) => {
            let pid = child.as_raw();
            slot.proc_.pid = pid;
            log::server(
                LogLevel::Info,
                sup.server,
                &with_pid(format_args!(
                    "Starting manager of daemon process group '{}' (processes={}, threads={}).",
                    group.spec.name(),
                    group.spec.config.processes,
                    group.spec.config.threads
                )),
            );
            // SAFETY: `slot` lives in pconf as long as the registration.
            unsafe {
                ffi::apr_proc_other_child_register(
                    &mut slot.proc_,
                    Some(maintenance),
                    (slot as *mut Slot).cast(),
                    std::ptr::null_mut(),
                    sup.pool,
                )
            };
        }
    }
}

fn mpm_stopping() -> bool {
    let mut state = 0;
    // SAFETY: writes one int.
    unsafe { ffi::ap_mpm_query(ffi::AP_MPMQ_MPM_STATE as i32, &mut state) };
    state == ffi::AP_MPMQ_STOPPING as i32
}

/// Apache's callback when a registered daemon process changes state.
extern "C" fn maintenance(reason: i32, data: *mut c_void, status: i32) {
    crate::hooks::guard("daemon supervision", (), || {
        // SAFETY: `data` is the Slot registered in `spawn`, still in pconf.
        let slot = unsafe { &mut *(data as *mut Slot) };
        // SAFETY: the supervisor outlives its slots.
        let sup = unsafe { &*slot.sup };
        match reason as u32 {
            ffi::APR_OC_REASON_DEATH | ffi::APR_OC_REASON_LOST => {
                // SAFETY: unregisters this very registration.
                unsafe { ffi::apr_proc_other_child_unregister(data) };
                let name = sup.registry.groups[slot.group].spec.name();
                if sup.stopping || mpm_stopping() {
                    return;
                }
                log::server(
                    LogLevel::Info,
                    sup.server,
                    &format!(
                        "mod_wsgi (pid={}): Process '{name}' has died (wait status {status}), deregister and restart it.",
                        slot.proc_.pid
                    ),
                );
                spawn(slot);
            }
            ffi::APR_OC_REASON_RESTART => {
                // SAFETY: as above; stop_all ends the process.
                unsafe { ffi::apr_proc_other_child_unregister(data) };
            }
            _ => {}
        }
    })
}

/// pconf cleanup: stop every daemon and remove the sockets.
extern "C" fn stop_all(data: *mut c_void) -> ffi::apr_status_t {
    crate::hooks::guard("stopping daemon processes", 0, || {
        // SAFETY: `data` is the Supervisor registered in `start`.
        let sup = unsafe { &mut *(data as *mut Supervisor) };
        sup.stopping = true;
        let _ = DEFERRED.compare_exchange(sup, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Relaxed);
        let pids: Vec<Pid> = sup.slots.iter().map(|s| s.proc_.pid).filter(|&p| p > 0).map(Pid::from_raw).collect();
        for &pid in &pids {
            signal_manager(sup, pid, Signal::SIGTERM);
        }
        let longest = sup.registry.groups.iter().map(|g| g.spec.config.shutdown_timeout).max().unwrap_or_default();
        let deadline = Instant::now() + longest + STOP_MARGIN;
        let mut left = pids;
        while !left.is_empty() && Instant::now() < deadline {
            // Reaped now, or earlier (by Apache): gone either way.
            left.retain(|&pid| matches!(waitpid(pid, Some(WaitPidFlag::WNOHANG)), Ok(WaitStatus::StillAlive)));
            std::thread::sleep(Duration::from_millis(20));
        }
        for &pid in &left {
            log::server(
                LogLevel::Warning,
                sup.server,
                &with_pid("Daemon process manager did not stop in time, killing it."),
            );
            if signal_manager(sup, pid, Signal::SIGKILL)
                && let Err(e) = super::os::reap(Some(pid), false)
            {
                log::server(
                    LogLevel::Warning,
                    sup.server,
                    &with_pid(format!("daemon process manager (pid {pid}): {e}.")),
                );
            }
        }
        for group in &sup.registry.groups {
            let _ = std::fs::remove_file(&group.socket);
            group.listener.close();
        }
        set_registry(None);
        0
    })
}

/// Sends `sig` to the manager `pid`; whether it still exists to receive it.
fn signal_manager(sup: &Supervisor, pid: Pid, sig: Signal) -> bool {
    match kill(pid, sig) {
        Ok(()) => true,
        // Reaped already, by Apache's maintenance of other children.
        Err(Errno::ESRCH) => false,
        Err(e) => {
            log::server(
                LogLevel::Warning,
                sup.server,
                &with_pid(format!("Unable to send {sig} to the daemon process manager (pid {pid}): {e}.")),
            );
            false
        }
    }
}

extern "C" fn no_cleanup(_: *mut c_void) -> ffi::apr_status_t {
    0
}
