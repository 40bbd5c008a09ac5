//! What every process forked from the Apache parent for daemon mode does
//! first: let go of Apache's listeners, the other groups' sockets and the
//! parent's signal handlers, and name itself for `ps`.

use super::Registry;
use crate::apache::server::Server;
use crate::ffi;

/// Closes what belongs to Apache or to other groups, and restores the
/// default signal dispositions the parent changed. Call before any thread.
pub fn from_apache(registry: &Registry, keep_group: usize) {
    // SAFETY: closing inherited descriptors this process must not use and
    // resetting signal handlers; no other thread exists yet.
    unsafe {
        ffi::ap_close_listeners();
        for (i, g) in registry.groups.iter().enumerate() {
            if i != keep_group {
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

/// Asks the kernel to send `sig` to this process when its parent exits,
/// so nothing outlives a killed supervisor. A change of user clears it:
/// call it after `setuid`.
pub fn die_with_parent(sig: i32) {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong) };
}

/// Overwrites the process's argument area so `ps` shows `title`.
pub fn set_title(s: Server<'_>, title: &str) {
    // The kernel's argument area starts at the original argv[0] and is as
    // long as /proc/self/cmdline (Apache's rewritten argv is shorter).
    let Ok(area) = std::fs::read("/proc/self/cmdline") else { return };
    // SAFETY: process->argv[0] is the original argv[0], the start of that
    // area; we write only within its `area.len()` bytes.
    unsafe {
        let process = (*s.as_ptr()).process;
        if (*process).argc == 0 || (*process).argv.is_null() {
            return;
        }
        let start = *(*process).argv as *mut u8;
        let bytes = title.as_bytes();
        let n = bytes.len().min(area.len().saturating_sub(1));
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), start, n);
        std::ptr::write_bytes(start.add(n), 0, area.len() - n);
        let comm = std::ffi::CString::new(&bytes[..bytes.len().min(15)]).unwrap_or_default();
        libc::prctl(libc::PR_SET_NAME, comm.as_ptr());
    }
}
