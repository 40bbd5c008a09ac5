//! What Apache children know of a group's processes without asking them:
//! one page of shared memory per group, mapped by the Apache parent
//! before it forks anything, so children, the manager and the daemons
//! all see it. The manager writes how many processes are ready and
//! whether start-up keeps failing; a daemon that cannot start writes why.
//! The figures of the `wsgi-status` page ride along (`metrics.rs`).

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const REASON_MAX: usize = 400;

#[repr(C)]
struct Page {
    ready: AtomicU32,
    /// Start-up failures since a process was last ready.
    failures: AtomicU32,
    /// When the manager starts the next attempt (milliseconds since the epoch).
    retry_at_ms: AtomicU64,
    reason_len: AtomicU32,
    reason: [AtomicU8; REASON_MAX],
}

/// A group's shared status page.
#[derive(Debug)]
pub struct Status {
    page: NonNull<Page>,
    /// Per-process figures, waiting requests and restarts.
    pub metrics: super::metrics::GroupMetrics,
}

// SAFETY: the page holds atomics only, and stays mapped while `Status` lives.
unsafe impl Send for Status {}
// SAFETY: as above.
unsafe impl Sync for Status {}

/// Why requests cannot reach a group now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub failures: u32,
    pub retry_in: Duration,
    pub reason: String,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Status {
    /// For a group of `processes` processes.
    pub fn new(processes: u32) -> std::io::Result<Self> {
        let len = NonZeroUsize::new(std::mem::size_of::<Page>()).ok_or(std::io::ErrorKind::InvalidInput)?;
        // SAFETY: a new anonymous mapping, shared with the processes forked
        // later; zero-filled, which is a valid `Page` (all atomics at 0).
        let ptr =
            unsafe { mmap_anonymous(None, len, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_SHARED)? };
        Ok(Self { page: ptr.cast(), metrics: super::metrics::GroupMetrics::new(processes)? })
    }

    fn page(&self) -> &Page {
        // SAFETY: mapped in `new` and unmapped only on drop.
        unsafe { self.page.as_ref() }
    }

    /// The manager: `n` processes take requests.
    pub fn set_ready(&self, n: u32) {
        self.page().ready.store(n, Ordering::Release);
    }

    /// The manager: start-up failed `failures` times in a row; the next
    /// attempt is `retry_in` from now (0 failures: starting normally).
    pub fn set_failing(&self, failures: u32, retry_in: Duration) {
        let p = self.page();
        p.retry_at_ms.store(now_ms() + retry_in.as_millis() as u64, Ordering::Relaxed);
        p.failures.store(failures, Ordering::Release);
    }

    /// A daemon that cannot start: the message it logged.
    pub fn set_reason(&self, text: &str) {
        let p = self.page();
        let bytes = &text.as_bytes()[..text.len().min(REASON_MAX)];
        p.reason_len.store(0, Ordering::Release);
        for (slot, b) in p.reason.iter().zip(bytes) {
            slot.store(*b, Ordering::Relaxed);
        }
        p.reason_len.store(bytes.len() as u32, Ordering::Release);
    }

    /// Why the last process could not start, as written by `set_reason`.
    pub fn reason(&self) -> String {
        let p = self.page();
        let len = (p.reason_len.load(Ordering::Acquire) as usize).min(REASON_MAX);
        let bytes: Vec<u8> = p.reason[..len].iter().map(|b| b.load(Ordering::Relaxed)).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Some, while no process is ready because start-up keeps failing.
    pub fn unavailable(&self) -> Option<Unavailable> {
        let p = self.page();
        let failures = p.failures.load(Ordering::Acquire);
        if failures == 0 || p.ready.load(Ordering::Acquire) > 0 {
            return None;
        }
        let retry_in = Duration::from_millis(p.retry_at_ms.load(Ordering::Relaxed).saturating_sub(now_ms()));
        Some(Unavailable { failures, retry_in, reason: self.reason() })
    }
}

impl Drop for Status {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of that size, not used after.
        let _ = unsafe { munmap(self.page.cast(), std::mem::size_of::<Page>()) };
    }
}
