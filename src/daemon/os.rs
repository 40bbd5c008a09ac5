//! Failed system calls of daemon mode, as a typed error that names what
//! failed, and the one call whose `nix` wrapper loses what is needed.

use nix::errno::Errno;

/// A system call that failed: what it was for, and the system's reason.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct OsError {
    pub what: &'static str,
    #[source]
    pub source: std::io::Error,
}

/// Names the failure of a `nix` call.
pub trait Context<T> {
    fn context(self, what: &'static str) -> Result<T, OsError>;
}

impl<T> Context<T> for nix::Result<T> {
    fn context(self, what: &'static str) -> Result<T, OsError> {
        self.map_err(|e| OsError { what, source: e.into() })
    }
}

/// Reaps a child (`pid`, or any when `None`), without waiting when
/// `nohang`: its pid and raw wait status, or `None` when no child has
/// ended (or none is left). `nix`'s `waitpid` fails on a child killed by a
/// real-time signal (which `Signal` cannot name) after reaping it, so the
/// pid would be lost.
pub fn reap(pid: Option<nix::unistd::Pid>, nohang: bool) -> Result<Option<(libc::pid_t, i32)>, OsError> {
    let mut status = 0;
    let flags = if nohang { libc::WNOHANG } else { 0 };
    loop {
        // SAFETY: waitpid writes one int, the status of a child of this process.
        let r = unsafe { libc::waitpid(pid.map_or(-1, |p| p.as_raw()), &mut status, flags) };
        match Errno::result(r) {
            Ok(0) => return Ok(None),
            Ok(pid) => return Ok(Some((pid, status))),
            Err(Errno::EINTR) => continue,
            Err(Errno::ECHILD) => return Ok(None),
            Err(e) => return Err(OsError { what: "Unable to reap a child process", source: e.into() }),
        }
    }
}
