//! Daemon mode: process groups that the Apache parent forks and watches,
//! the socket protocol between Apache children and them, and both ends of
//! a request.
//!
//! - `spec.rs`: a group's settings, resolved from its `WSGIDaemonProcess`.
//! - `supervisor.rs`: the Apache parent's side: sockets, one manager per
//!   group, re-fork, stop.
//! - `manager.rs`: a group's manager: forks and replaces its processes.
//! - `process.rs`: a daemon process from fork to exit, and retiring.
//! - `service.rs`: `threads=0`, a process that runs its import scripts
//!   and serves no requests.
//! - `detach.rs`: what every forked process sheds from Apache first.
//! - `os.rs`: failed system calls as a typed error.
//! - `accounts.rs`: the user and group names or `#id`s of the options.
//! - `resources.rs`: `virtual-memory-limit=` (RLIMIT_AS) and the threads' stack size.
//! - `monitor.rs`: request timings and the recycling limits.
//! - `status.rs`: what Apache children know of a group's processes
//!   (shared memory: how many are ready, why start-up fails).
//! - `metrics.rs`: per-process figures in shared memory for the
//!   `wsgi-status` page (also the Apache children's, in embedded mode).
//! - `dispatch.rs`: which worker thread serves what: new connections, and kept
//!   ones when their next request arrives.
//! - `child_side.rs`: an Apache child's side of one request.
//! - `daemon_side.rs`: a daemon process's side of one request.
//! - `wire.rs`: framed connections (the frames are `wsgi_core::protocol`).
//! - `window.rs`: the shared memory large response bodies travel through.
//! - `body_buffer.rs`: the Apache child's buffers for request body bytes.

pub mod accounts;
pub mod body_buffer;
pub mod child_side;
pub mod daemon_side;
pub mod detach;
pub mod dispatch;
pub mod manager;
pub mod metrics;
pub mod monitor;
pub mod os;
pub mod process;
pub mod resources;
pub mod service;
pub mod spec;
pub mod status;
pub mod supervisor;
pub mod window;
pub mod wire;

use parking_lot::RwLock;
use spec::GroupSpec;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use wsgi_core::protocol::SECRET_LEN;

/// One configured group and where it listens.
#[derive(Debug)]
pub struct Group {
    pub spec: GroupSpec,
    pub socket: PathBuf,
    /// The listening socket: open in the parent and the group's daemons,
    /// closed in Apache children (they connect by path).
    pub listener: Listener,
    pub status: status::Status,
}

/// A group's listening socket. Every process forked from the parent
/// inherits the registry, and with it this process's copy of the socket,
/// which it closes or takes to own: the registry is shared, so the
/// descriptor is held in an atomic and handed out once.
#[derive(Debug)]
pub struct Listener(AtomicI32);

impl Listener {
    pub fn new(fd: OwnedFd) -> Self {
        Self(AtomicI32::new(fd.into_raw_fd()))
    }

    /// This process's copy, to own; `None` once taken or closed.
    pub fn take(&self) -> Option<OwnedFd> {
        let fd = self.0.swap(-1, Ordering::AcqRel);
        // SAFETY: `fd` was this value's own descriptor, and it now holds -1,
        // so ownership passes exactly once.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Closes this process's copy (if still open).
    pub fn close(&self) {
        drop(self.take());
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.close();
    }
}

/// Every group of this configuration generation, and the secret that
/// proves a request comes from this server's Apache children.
#[derive(Debug)]
pub struct Registry {
    pub secret: [u8; SECRET_LEN],
    pub groups: Vec<Group>,
    /// `WSGICaseSensitivity`, which names script modules.
    pub case_sensitive: bool,
}

/// Set by the parent after each configuration pass, before any fork, so
/// children and daemons inherit it. Holds owned data only (no pool memory).
static REGISTRY: RwLock<Option<Arc<Registry>>> = RwLock::new(None);

pub fn registry() -> Option<Arc<Registry>> {
    REGISTRY.read().clone()
}

fn set_registry(r: Option<Arc<Registry>>) {
    *REGISTRY.write() = r;
}

/// Which host may use a group: core's scoping rules read it (see
/// `wsgi_core::daemon_scope`).
impl wsgi_core::daemon_scope::Scoped for Group {
    fn group_name(&self) -> &str {
        self.spec.name()
    }
    fn server_name(&self) -> Option<&str> {
        self.spec.server_name.as_deref()
    }
}
