//! Per-process figures in shared memory, for the `wsgi-status` page: each
//! process (an Apache child in embedded mode, or a daemon) writes its own
//! [`Slot`] as it serves requests, a daemon group's manager writes its
//! processes' states and restarts, Apache children write which requests
//! wait for a daemon, and the Apache child answering the page reads it
//! all without asking any daemon. Like `status.rs`, every mapping is
//! made by the Apache parent before it forks.
//!
//! Writers use relaxed atomic adds: the page reads figures, not a
//! consistent transaction, and a request must not wait for it.

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use parking_lot::RwLock;
use std::cell::Cell;
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use wsgi_core::status_page::ProcState;
use wsgi_core::telemetry::{LATENCY_BUCKETS, StopReason, latency_bucket, status_class};

/// Requests per process whose start is kept, for "longest running".
const TRACKED: usize = 32;
/// The recent window is the last complete one of these plus the current.
pub const WINDOW_SECONDS: u64 = 10;

const RELAXED: Ordering = Ordering::Relaxed;

fn now_us() -> u64 {
    crate::common::now_micros().max(0) as u64
}

#[repr(C)]
struct Window {
    /// Which window (seconds since the epoch / WINDOW_SECONDS) the counts are of.
    epoch: AtomicU64,
    counts: [AtomicU64; LATENCY_BUCKETS],
}

/// One process's figures.
#[repr(C)]
pub struct Slot {
    /// 0: free; -1: reserved by a manager about to fork.
    pid: AtomicI32,
    state: AtomicU8,
    stop_reason: AtomicU8,
    threads: AtomicU32,
    started_ms: AtomicU64,
    requests: AtomicU64,
    busy: AtomicU32,
    latency_sum_us: AtomicU64,
    latency: [AtomicU64; LATENCY_BUCKETS],
    statuses: [AtomicU64; 5],
    windows: [Window; 2],
    /// When each request tracked now began (µs since the epoch; 0: none).
    running: [AtomicU64; TRACKED],
}

const RESERVED: i32 = -1;

fn state_code(s: ProcState) -> u8 {
    match s {
        ProcState::Starting => 0,
        ProcState::Ready => 1,
        ProcState::Retiring => 2,
    }
}

impl Slot {
    /// Makes the slot `pid`'s, all figures at zero.
    fn reset(&self, pid: i32, threads: u32, state: ProcState) {
        self.state.store(state_code(state), RELAXED);
        self.stop_reason.store(0, RELAXED);
        self.threads.store(threads, RELAXED);
        self.started_ms.store(now_us() / 1000, RELAXED);
        self.requests.store(0, RELAXED);
        self.busy.store(0, RELAXED);
        self.latency_sum_us.store(0, RELAXED);
        for c in self.latency.iter().chain(&self.statuses).chain(&self.running) {
            c.store(0, RELAXED);
        }
        for w in &self.windows {
            w.epoch.store(0, RELAXED);
        }
        self.pid.store(pid, Ordering::Release);
    }

    pub fn pid(&self) -> i32 {
        self.pid.load(Ordering::Acquire)
    }

    pub fn set_state(&self, s: ProcState) {
        self.state.store(state_code(s), RELAXED);
    }

    /// Why the process stops (the first reason given wins).
    pub fn set_stop_reason(&self, r: StopReason) {
        let _ = self.stop_reason.compare_exchange(0, r.code(), RELAXED, RELAXED);
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        StopReason::from_code(self.stop_reason.load(RELAXED))
    }

    /// A request starts at `now`: returns the tracking entry it took, if
    /// any, looking first at `hint` (the entry this thread took last time).
    /// Entries are read before they are claimed, so that a thread does not
    /// take other threads' cache lines for entries in use.
    fn begin(&self, now: u64, hint: usize) -> Option<usize> {
        self.busy.fetch_add(1, RELAXED);
        (0..TRACKED).map(|i| (hint + i) % TRACKED).find(|&i| {
            let r = &self.running[i];
            r.load(RELAXED) == 0 && r.compare_exchange(0, now, RELAXED, RELAXED).is_ok()
        })
    }

    /// A request that started at `start_us` ended at `now` with `status`.
    fn end(&self, tracked: Option<usize>, start_us: u64, now: u64, status: u16) {
        if let Some(r) = tracked.and_then(|i| self.running.get(i)) {
            r.store(0, RELAXED);
        }
        let _ = self.busy.fetch_update(RELAXED, RELAXED, |b| Some(b.saturating_sub(1)));
        let took = now.saturating_sub(start_us);
        let bucket = latency_bucket(took);
        self.requests.fetch_add(1, RELAXED);
        self.latency[bucket].fetch_add(1, RELAXED);
        self.latency_sum_us.fetch_add(took, RELAXED);
        self.statuses[status_class(status)].fetch_add(1, RELAXED);
        let epoch = now / 1_000_000 / WINDOW_SECONDS;
        let w = &self.windows[(epoch % 2) as usize];
        let seen = w.epoch.load(RELAXED);
        // The first request of a new window clears the old counts; one
        // counted meanwhile by another thread may be lost, which a
        // status page can afford.
        if seen != epoch && w.epoch.compare_exchange(seen, epoch, RELAXED, RELAXED).is_ok() {
            for c in &w.counts {
                c.store(0, RELAXED);
            }
        }
        w.counts[bucket].fetch_add(1, RELAXED);
    }

    /// The figures the page shows.
    pub fn read(&self) -> wsgi_core::status_page::Proc {
        let now = now_us();
        let epoch = now / 1_000_000 / WINDOW_SECONDS;
        let mut recent = [0u64; LATENCY_BUCKETS];
        let mut recent_seconds = (now / 1_000_000 % WINDOW_SECONDS) as f64 + (now % 1_000_000) as f64 / 1e6;
        for (e, whole) in [(epoch, false), (epoch.wrapping_sub(1), true)] {
            let w = &self.windows[(e % 2) as usize];
            if w.epoch.load(RELAXED) == e {
                for (r, c) in recent.iter_mut().zip(&w.counts) {
                    *r += c.load(RELAXED);
                }
            }
            if whole {
                recent_seconds += WINDOW_SECONDS as f64;
            }
        }
        let started_ms = self.started_ms.load(RELAXED);
        // A process younger than the window has not been up that long.
        let up = (now / 1000).saturating_sub(started_ms) as f64 / 1e3;
        recent_seconds = recent_seconds.min(up.max(0.001));
        let oldest = self.running.iter().map(|r| r.load(RELAXED)).filter(|&t| t > 0).min();
        wsgi_core::status_page::Proc {
            pid: self.pid(),
            started_ms,
            state: match self.state.load(RELAXED) {
                1 => ProcState::Ready,
                2 => ProcState::Retiring,
                _ => ProcState::Starting,
            },
            requests: self.requests.load(RELAXED),
            busy: self.busy.load(RELAXED),
            threads: self.threads.load(RELAXED),
            rss_bytes: None,
            cpu_seconds: None,
            latency: std::array::from_fn(|i| self.latency[i].load(RELAXED)),
            latency_sum_us: self.latency_sum_us.load(RELAXED),
            statuses: std::array::from_fn(|i| self.statuses[i].load(RELAXED)),
            recent,
            recent_seconds,
            oldest_request_us: oldest.map(|t| now.saturating_sub(t)),
        }
    }
}

/// Shared, zero-filled memory holding a `T` (all atomics) and `len` - 1
/// more after it.
struct Shared<T> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: the memory holds atomics only and stays mapped while `Shared` lives.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn new(len: usize) -> std::io::Result<Self> {
        let bytes = NonZeroUsize::new(std::mem::size_of::<T>() * len.max(1)).ok_or(std::io::ErrorKind::InvalidInput)?;
        // SAFETY: a new anonymous mapping, shared with the processes forked
        // later; zero-filled, which is a valid `T` (atomics at 0) each.
        let ptr =
            unsafe { mmap_anonymous(None, bytes, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_SHARED)? };
        Ok(Self { ptr: ptr.cast(), len: len.max(1) })
    }

    fn all(&self) -> &[T] {
        // SAFETY: mapped in `new` for `len` items and unmapped only on drop.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of that size, not used after.
        let _ = unsafe { munmap(self.ptr.cast(), std::mem::size_of::<T>() * self.len) };
    }
}

fn alive(pid: i32) -> bool {
    // Signal 0 only checks that the process exists.
    pid > 0
        && matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Ok(()) | Err(nix::errno::Errno::EPERM)
        )
}

/// The slots of one group's processes (or of the Apache children).
pub struct Table {
    slots: Shared<Slot>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Table({} slots)", self.slots.len)
    }
}

impl Table {
    pub fn new(len: usize) -> std::io::Result<Self> {
        Ok(Self { slots: Shared::new(len)? })
    }

    pub fn slots(&self) -> &[Slot] {
        self.slots.all()
    }

    /// A free slot (or one whose process is gone), taken for `pid`
    /// (`RESERVED` while a manager forks).
    fn take(&self, pid: i32, threads: u32, state: ProcState) -> Option<&Slot> {
        let slots = self.slots();
        let found = slots.iter().find(|s| s.pid.compare_exchange(0, RESERVED, Ordering::AcqRel, RELAXED).is_ok());
        let found = found.or_else(|| {
            slots.iter().find(|s| {
                let p = s.pid();
                p > 0 && !alive(p) && s.pid.compare_exchange(p, RESERVED, Ordering::AcqRel, RELAXED).is_ok()
            })
        })?;
        found.reset(pid, threads, state);
        Some(found)
    }

    /// The processes with a slot, and their figures.
    pub fn live(&self) -> impl Iterator<Item = &Slot> {
        self.slots().iter().filter(|s| alive(s.pid()))
    }
}

/// The slot this process writes its figures to.
static MINE: AtomicPtr<Slot> = AtomicPtr::new(std::ptr::null_mut());

fn mine() -> Option<&'static Slot> {
    // SAFETY: set from a table this process keeps mapped until it exits
    // (the registry, or the embedded table, is never dropped in it).
    unsafe { MINE.load(Ordering::Acquire).as_ref() }
}

thread_local! {
    /// The tracking entry of the request this thread runs.
    static TRACKED_ENTRY: Cell<Option<usize>> = const { Cell::new(None) };
    /// The entry this thread took last, where it looks first next time;
    /// threads start spread out.
    static LAST_ENTRY: Cell<usize> = Cell::new(NEXT_THREAD.fetch_add(1, RELAXED) % TRACKED);
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

fn begin(now: i64) {
    if let Some(s) = mine() {
        let entry = s.begin(now.max(1) as u64, LAST_ENTRY.get());
        if let Some(e) = entry {
            LAST_ENTRY.set(e);
        }
        TRACKED_ENTRY.set(entry);
    }
}

fn end(f: &crate::python::metrics::Finished, now: i64) {
    if let Some(s) = mine() {
        let start = if f.request_start > 0 { f.request_start } else { now };
        s.end(TRACKED_ENTRY.with(Cell::take), start.max(0) as u64, now.max(0) as u64, f.status);
    }
}

/// Makes requests counted; called in the parent before anything forks.
pub fn install_observer() {
    crate::python::metrics::set_observer(crate::python::metrics::Observer { begin, end });
}

/// Why this process stops: for `process_stopping`, and for its manager,
/// which shows it on the status page.
pub fn stopping(reason: StopReason) {
    crate::python::events::set_shutdown_reason(reason);
    if let Some(s) = mine() {
        s.set_stop_reason(reason);
        if reason != StopReason::ShutdownSignal {
            s.set_state(ProcState::Retiring);
        }
    }
}

// ---------------------------------------------------------------- embedded mode

static EMBEDDED: RwLock<Option<Arc<Table>>> = RwLock::new(None);

/// The Apache children's table, made by the parent for each configuration
/// generation (`slots`: the MPM's process limit).
pub fn make_embedded_table(slots: usize) -> std::io::Result<()> {
    *EMBEDDED.write() = Some(Arc::new(Table::new(slots)?));
    Ok(())
}

pub fn embedded_table() -> Option<Arc<Table>> {
    EMBEDDED.read().clone()
}

/// An Apache child that runs Python takes its slot.
pub fn embedded_child(threads: u32) {
    let pid = std::process::id() as i32;
    if let Some(t) = embedded_table()
        && let Some(s) = t.take(pid, threads, ProcState::Ready)
    {
        MINE.store((s as *const Slot).cast_mut(), Ordering::Release);
    }
}

/// An Apache child that exits gives its slot back.
pub fn embedded_child_exit() {
    if let Some(s) = mine() {
        let _ = s.pid.compare_exchange(std::process::id() as i32, 0, Ordering::AcqRel, RELAXED);
    }
}

// ---------------------------------------------------------------- daemon groups

/// Requests waiting for a daemon thread, by when they were queued.
const WAIT_SLOTS: usize = 256;
/// Restarts kept for the page.
pub const RESTARTS_KEPT: usize = 24;
const DETAIL: usize = 48;

#[repr(C)]
struct RestartEntry {
    at_ms: AtomicU64,
    pid: AtomicI32,
    reason: AtomicU8,
    detail_len: AtomicU8,
    detail: [AtomicU8; DETAIL],
}

#[repr(C)]
struct GroupPage {
    /// `mod_wsgi.queue_start` (µs) of each request not yet taken; 0: free.
    waiting: [AtomicU64; WAIT_SLOTS],
    /// Restarts recorded so far; entry `n % RESTARTS_KEPT` is the n-th.
    restarts_seen: AtomicU64,
    restarts: [RestartEntry; RESTARTS_KEPT],
    /// By `StopReason::code()`.
    totals: [AtomicU64; 32],
}

/// A request an Apache child sent to a daemon group, counted as waiting
/// until a daemon thread takes it (or the child is done with it).
pub struct Waiting<'a> {
    group: &'a GroupMetrics,
    queued_us: u64,
    /// Where it is counted (none when the table was full).
    at: Option<usize>,
}

impl<'a> Waiting<'a> {
    pub fn enter(group: &'a GroupMetrics, queued_us: u64) -> Self {
        Waiting { group, queued_us, at: group.enter_queue(queued_us) }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        // Mostly a daemon thread cleared it already.
        if let Some(at) = self.at {
            let _ = self.group.page().waiting[at].compare_exchange(self.queued_us, 0, RELAXED, RELAXED);
        }
    }
}

/// The group of this daemon process, for [`picked_up`].
static MY_GROUP: AtomicPtr<GroupMetrics> = AtomicPtr::new(std::ptr::null_mut());

/// A daemon thread took the request queued at `queue_start` (µs, from
/// `mod_wsgi.queue_start`; 0: unknown): it no longer waits.
pub fn picked_up(queue_start: i64) {
    // SAFETY: set by `adopt` from the registry, which this process keeps.
    let Some(group) = (unsafe { MY_GROUP.load(Ordering::Acquire).as_ref() }) else { return };
    if queue_start > 0 {
        group.leave_queue(queue_start as u64);
    }
}

/// A daemon group's shared figures: its processes, the requests waiting
/// for them, and its restarts.
pub struct GroupMetrics {
    pub procs: Table,
    page: Shared<GroupPage>,
}

impl std::fmt::Debug for GroupMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GroupMetrics({:?})", self.procs)
    }
}

fn wait_start(key: u64) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize % WAIT_SLOTS
}

impl GroupMetrics {
    /// For a group of `processes` (replacements overlap the processes
    /// they replace, hence the room).
    pub fn new(processes: u32) -> std::io::Result<Self> {
        Ok(Self { procs: Table::new(processes as usize * 2 + 2)?, page: Shared::new(1)? })
    }

    fn page(&self) -> &GroupPage {
        &self.page.all()[0]
    }

    /// An Apache child queues a request stamped `queued_us`: where it is
    /// counted, none when the table is full (it then goes uncounted).
    fn enter_queue(&self, queued_us: u64) -> Option<usize> {
        let w = &self.page().waiting;
        let start = wait_start(queued_us);
        (0..WAIT_SLOTS)
            .map(|i| (start + i) % WAIT_SLOTS)
            .find(|&i| w[i].compare_exchange(0, queued_us, RELAXED, RELAXED).is_ok())
    }

    /// A daemon thread took the request stamped `queued_us`.
    fn leave_queue(&self, queued_us: u64) {
        let w = &self.page().waiting;
        let start = wait_start(queued_us);
        for i in 0..WAIT_SLOTS {
            if w[(start + i) % WAIT_SLOTS].compare_exchange(queued_us, 0, RELAXED, RELAXED).is_ok() {
                return;
            }
        }
    }

    /// (requests waiting, the longest wait in µs).
    pub fn queue(&self) -> (u32, Option<u64>) {
        let now = now_us();
        let mut n = 0;
        let mut oldest: Option<u64> = None;
        for w in &self.page().waiting {
            let t = w.load(RELAXED);
            if t > 0 {
                n += 1;
                oldest = Some(oldest.map_or(t, |o| o.min(t)));
            }
        }
        (n, oldest.map(|t| now.saturating_sub(t)))
    }

    /// The manager: process `pid` stopped for `reason` (`detail`: how).
    pub fn record_restart(&self, pid: i32, reason: StopReason, detail: &str) {
        let p = self.page();
        let n = p.restarts_seen.load(RELAXED);
        let e = &p.restarts[(n % RESTARTS_KEPT as u64) as usize];
        e.at_ms.store(now_us() / 1000, RELAXED);
        e.pid.store(pid, RELAXED);
        e.reason.store(reason.code(), RELAXED);
        let bytes = &detail.as_bytes()[..detail.len().min(DETAIL)];
        for (slot, b) in e.detail.iter().zip(bytes) {
            slot.store(*b, RELAXED);
        }
        e.detail_len.store(bytes.len() as u8, RELAXED);
        p.restarts_seen.store(n + 1, Ordering::Release);
        if let Some(t) = p.totals.get(reason.code() as usize) {
            t.fetch_add(1, RELAXED);
        }
    }

    /// The restarts kept, latest first.
    pub fn restarts(&self) -> Vec<wsgi_core::status_page::Restart> {
        let p = self.page();
        let n = p.restarts_seen.load(Ordering::Acquire);
        let kept = n.min(RESTARTS_KEPT as u64);
        (1..=kept)
            .filter_map(|back| {
                let e = &p.restarts[((n - back) % RESTARTS_KEPT as u64) as usize];
                let len = (e.detail_len.load(RELAXED) as usize).min(DETAIL);
                let detail: Vec<u8> = e.detail[..len].iter().map(|b| b.load(RELAXED)).collect();
                Some(wsgi_core::status_page::Restart {
                    at_ms: e.at_ms.load(RELAXED),
                    pid: e.pid.load(RELAXED),
                    reason: StopReason::from_code(e.reason.load(RELAXED))?,
                    detail: String::from_utf8_lossy(&detail).into_owned(),
                })
            })
            .collect()
    }

    /// Restarts since the server started, for every reason.
    pub fn restart_totals(&self) -> Vec<(StopReason, u64)> {
        let p = self.page();
        StopReason::ALL.iter().map(|&r| (r, p.totals.get(r.code() as usize).map_or(0, |t| t.load(RELAXED)))).collect()
    }

    /// The manager, before it forks a process: a slot for it, or `None`
    /// when the table is full (the process then goes uncounted).
    pub fn reserve(&self, threads: u32) -> Option<usize> {
        let s = self.procs.take(RESERVED, threads, ProcState::Starting)?;
        self.procs.slots().iter().position(|x| std::ptr::eq(x, s))
    }

    /// The manager: slot `index` is process `pid`'s.
    pub fn assign(&self, index: usize, pid: i32) {
        if let Some(s) = self.procs.slots().get(index) {
            s.pid.store(pid, Ordering::Release);
        }
    }

    /// The new process, right after the fork: its figures go to `index`.
    pub fn adopt(&self, index: Option<usize>) {
        if let Some(s) = index.and_then(|i| self.procs.slots().get(i)) {
            s.pid.store(std::process::id() as i32, Ordering::Release);
            MINE.store((s as *const Slot).cast_mut(), Ordering::Release);
        }
        MY_GROUP.store((self as *const GroupMetrics).cast_mut(), Ordering::Release);
    }

    /// The slot of process `pid`, for its manager.
    pub fn slot_of(&self, pid: i32) -> Option<&Slot> {
        self.procs.slots().iter().find(|s| s.pid() == pid)
    }

    /// The manager reaped `pid`: its slot is free again.
    pub fn release(&self, pid: i32) {
        if let Some(s) = self.slot_of(pid) {
            let _ = s.pid.compare_exchange(pid, 0, Ordering::AcqRel, RELAXED);
        }
    }
}
