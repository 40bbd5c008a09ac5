//! What every process forked from the Apache parent for daemon mode does
//! first: let go of Apache's listeners, the other groups' sockets and the
//! parent's signal handlers, and name itself for `ps`.

use super::Registry;
use super::os::{Context, OsError};
use crate::apache::server::Server;
use crate::ffi;
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, pthread_sigmask, signal};

/// Closes what belongs to Apache or to other groups, and restores the
/// default signal dispositions the parent changed. Call before any thread.
pub fn from_apache(registry: &Registry, keep_group: usize) -> Result<(), OsError> {
    // SAFETY: closes the inherited listeners of Apache, which this process
    // must not use; no other thread exists yet.
    unsafe { ffi::ap_close_listeners() };
    for (i, g) in registry.groups.iter().enumerate() {
        if i != keep_group {
            g.listener.close();
        }
    }
    use Signal::{SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGPIPE, SIGTERM, SIGUSR1, SIGUSR2};
    let defaults = [SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM].map(|s| (s, SigHandler::SigDfl));
    for (sig, handler) in defaults.into_iter().chain([(SIGPIPE, SigHandler::SigIgn)]) {
        // SAFETY: installs the default disposition or SIG_IGN, no handler
        // function; no other thread exists yet.
        unsafe { signal(sig, handler) }.context("Unable to reset the signal handlers inherited from Apache")?;
    }
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .context("Unable to unblock the signals blocked by Apache")
}

/// Asks the kernel to send `sig` to this process when its parent exits,
/// so nothing outlives a killed supervisor. A change of user clears it:
/// call it after `setuid`.
pub fn die_with_parent(sig: Signal) -> Result<(), OsError> {
    nix::sys::prctl::set_pdeathsig(sig).context("Unable to ask for a signal when the parent process exits")
}

/// Overwrites the process's argument area so `ps` shows `title`.
pub fn set_title(s: Server<'_>, title: &str) -> Result<(), OsError> {
    // The kernel's argument area starts at the original argv[0] and is as
    // long as /proc/self/cmdline (Apache's rewritten argv is shorter).
    let Ok(area) = std::fs::read("/proc/self/cmdline") else { return Ok(()) };
    let bytes = title.as_bytes();
    // SAFETY: process->argv[0] is the original argv[0], the start of that
    // area; we write only within its `area.len()` bytes.
    unsafe {
        let process = (*s.as_ptr()).process;
        if (*process).argc == 0 || (*process).argv.is_null() {
            return Ok(());
        }
        let start = *(*process).argv as *mut u8;
        let n = bytes.len().min(area.len().saturating_sub(1));
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), start, n);
        std::ptr::write_bytes(start.add(n), 0, area.len() - n);
    }
    let comm = std::ffi::CString::new(&bytes[..bytes.len().min(15)]).unwrap_or_default();
    nix::sys::prctl::set_name(&comm).context("Unable to name the process")
}
