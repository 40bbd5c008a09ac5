//! What a daemon process may use: its address space, capped as mod_wsgi
//! caps it for `virtual-memory-limit=` (`RLIMIT_AS`, so an allocation past
//! it fails, a `MemoryError` in Python), and its threads' stack size.

use crate::apache::log;
use crate::apache::server::Server;
use crate::common::log::{LogLevel, with_pid};
use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit, setrlimit};
use wsgi_core::config::DaemonProcess;

/// Applies the group's limit to this process; a failure is logged and the
/// process runs without it, as mod_wsgi does.
pub fn limit(spec: &DaemonProcess, s: Server<'_>) {
    let bytes = spec.virtual_memory_limit;
    if bytes == 0 {
        return;
    }
    if let Err(e) = setrlimit(Resource::RLIMIT_AS, bytes, bytes) {
        log::server(
            LogLevel::Warning,
            s,
            &with_pid(format!(
                "Unable to set virtual memory limit of {bytes} for daemon process '{}'; \
                 daemon will run without the configured limit: {e}.",
                spec.name
            )),
        );
    }
}

/// The stack size of a thread made without `stack-size=`: as for mod_wsgi's
/// threads (the C library's default), the soft `RLIMIT_STACK` when finite,
/// rather than Rust's smaller default.
pub fn default_stack_size() -> Option<usize> {
    let (soft, _) = getrlimit(Resource::RLIMIT_STACK).ok()?;
    (soft != RLIM_INFINITY).then(|| usize::try_from(soft).ok()).flatten()
}
