//! What a daemon process may use: its data and address space, capped as
//! mod_wsgi caps them for `memory-limit=` (`RLIMIT_DATA`) and
//! `virtual-memory-limit=` (`RLIMIT_AS`), so an allocation past them fails,
//! a `MemoryError` in Python; and its threads' stack size.

use crate::apache::log;
use crate::apache::server::Server;
use crate::common::log::{LogLevel, with_pid};
use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit, setrlimit};
use wsgi_core::config::DaemonProcess;

/// Applies the group's limits to this process, as mod_wsgi does:
/// `memory-limit=` as `RLIMIT_DATA`, `virtual-memory-limit=` as
/// `RLIMIT_AS`. A failure is logged and the process runs without it.
pub fn limit(spec: &DaemonProcess, s: Server<'_>) {
    for (bytes, resource, what) in [
        (spec.memory_limit, Resource::RLIMIT_DATA, "memory"),
        (spec.virtual_memory_limit, Resource::RLIMIT_AS, "virtual memory"),
    ] {
        if bytes == 0 {
            continue;
        }
        if let Err(e) = setrlimit(resource, bytes, bytes) {
            log::server(
                LogLevel::Warning,
                s,
                &with_pid(format!(
                    "Unable to set {what} limit of {bytes} for daemon process '{}'; \
                     daemon will run without the configured limit: {e}.",
                    spec.name
                )),
            );
        }
    }
}

/// The stack size of a thread made without `stack-size=`: as for mod_wsgi's
/// threads (the C library's default), the soft `RLIMIT_STACK` when finite,
/// rather than Rust's smaller default.
pub fn default_stack_size() -> Option<usize> {
    let (soft, _) = getrlimit(Resource::RLIMIT_STACK).ok()?;
    (soft != RLIM_INFINITY).then(|| usize::try_from(soft).ok()).flatten()
}
