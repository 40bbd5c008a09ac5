//! How a daemon process's worker threads find their next request: a new
//! connection on the group's listen socket, or the next request on a
//! connection an Apache child kept from an earlier one (which saves a
//! connect, an accept and two closes per request).
//!
//! Every worker thread of the process waits on one epoll set, so a
//! request wakes one idle worker thread. A kept connection belongs to this process, and a
//! process whose worker threads are all busy must not hold requests that another
//! process of the group could serve (the listen queue, which all share,
//! never does): the worker thread that takes the last idle place says `Goodbye`
//! on every kept connection, and the Apache children send their next
//! requests through the listen queue again.

use super::os::{Context, OsError};
use super::wire::say_goodbye;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{SockFlag, accept4};
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Event keys of the listener and of the wake pipe; a kept connection's
/// key is its tag and descriptor.
const LISTENER: u64 = u64::MAX;
const WAKE: u64 = u64::MAX - 1;

/// What a worker thread does next.
pub enum Work {
    /// Serve the request that arrives on this connection; `watched` when
    /// it is in the epoll set already (a kept one), not newly accepted.
    Serve { stream: UnixStream, watched: bool },
    /// The process is stopping.
    Stop,
}

/// Connections kept between requests, by descriptor, each with the tag
/// of its registration: an event of a connection since closed, whose
/// descriptor number came back for another, is not taken for the new one.
#[derive(Default)]
struct Kept {
    /// Shared with the thread registering it until its `epoll_ctl` is done,
    /// which then needs no lock: the descriptor stays open meanwhile, so
    /// the call cannot reach another connection that reused its number.
    conns: HashMap<RawFd, (u32, Arc<UnixStream>)>,
    next_tag: u32,
}

/// The stream alone, once the thread that registered it has let it go
/// (at once, but for the moment of one `epoll_ctl`).
fn sole(mut stream: Arc<UnixStream>) -> UnixStream {
    loop {
        match Arc::try_unwrap(stream) {
            Ok(s) => return s,
            Err(shared) => {
                stream = shared;
                std::thread::yield_now();
            }
        }
    }
}

pub struct Dispatch {
    ep: Epoll,
    listener: OwnedFd,
    /// The read end of the pipe that wakes every worker to stop.
    wake: OwnedFd,
    /// Set when the process stops taking requests.
    stopping: &'static AtomicBool,
    /// `socket-timeout`, for every accepted connection: a peer that
    /// connects and stays silent must not hold a thread.
    timeout: std::time::Duration,
    kept: parking_lot::Mutex<Kept>,
}

/// Readable, then disarmed until armed again: one event wakes one worker.
const ONCE: EpollFlags = EpollFlags::EPOLLIN.union(EpollFlags::EPOLLONESHOT);

impl Dispatch {
    /// Watches the shared non-blocking `listener` (one connection wakes one
    /// process of the group: EPOLLEXCLUSIVE) and the `wake` pipe.
    pub fn new(
        listener: OwnedFd,
        wake: OwnedFd,
        stopping: &'static AtomicBool,
        timeout: std::time::Duration,
    ) -> std::io::Result<Self> {
        let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        ep.add(&listener, EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLEXCLUSIVE, LISTENER))?;
        ep.add(&wake, EpollEvent::new(ONCE, WAKE))?;
        Ok(Self { ep, listener, wake, stopping, timeout, kept: parking_lot::Mutex::default() })
    }

    /// Waits for the next request, or the order to stop. A stopping
    /// process accepts nothing more: what waits in the listen queue is for
    /// its successor.
    pub fn next(&self) -> Result<Work, OsError> {
        let mut events = [EpollEvent::empty()];
        loop {
            match self.ep.wait(&mut events, EpollTimeout::NONE) {
                Ok(0) | Err(Errno::EINTR) => continue,
                result => result.context("Unable to wait for requests (epoll)")?,
            };
            let key = events[0].data();
            if key == WAKE {
                // Armed again while readable, the pipe wakes the next
                // waiting worker, and so on until every one has stopped.
                self.ep
                    .modify(&self.wake, &mut EpollEvent::new(ONCE, WAKE))
                    .context("Unable to wake the next worker thread to stop (epoll)")?;
                return Ok(Work::Stop);
            }
            if self.stopping.load(Ordering::SeqCst) {
                return Ok(Work::Stop);
            }
            match key {
                LISTENER => {
                    if let Some(stream) = self.accept() {
                        return Ok(Work::Serve { stream, watched: false });
                    }
                }
                key => {
                    if let Some(stream) = self.take(key) {
                        return Ok(Work::Serve { stream, watched: true });
                    }
                }
            }
        }
    }

    fn accept(&self) -> Option<UnixStream> {
        // The listener is shared and non-blocking: EAGAIN means another
        // worker or process took the connection.
        let fd = match accept4(self.listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            Ok(fd) => fd,
            Err(e) => {
                if !matches!(e, Errno::EAGAIN | Errno::EINTR | Errno::ECONNABORTED) {
                    // Out of descriptors or memory: the listener stays
                    // readable, so back off instead of spinning.
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                return None;
            }
        };
        // SAFETY: `fd` is a new connected socket we now own.
        let stream = unsafe { UnixStream::from_raw_fd(fd) };
        let _ = stream.set_read_timeout(Some(self.timeout));
        let _ = stream.set_write_timeout(Some(self.timeout));
        Some(stream)
    }

    fn take(&self, key: u64) -> Option<UnixStream> {
        let (tag, fd) = ((key >> 32) as u32, key as u32 as RawFd);
        let stream = {
            let mut kept = self.kept.lock();
            match kept.conns.get(&fd) {
                Some((t, _)) if *t == tag => kept.conns.remove(&fd).map(|(_, s)| s),
                _ => None,
            }
        };
        stream.map(sole)
    }

    /// Keeps `stream` for the Apache child's next request on it; `watched`
    /// as given by [`Dispatch::next`] (armed again, or added).
    pub fn keep(&self, stream: UnixStream, watched: bool) {
        let fd = stream.as_raw_fd();
        let stream = Arc::new(stream);
        // Kept first, watched after: its event can only find it there.
        let key = {
            let mut kept = self.kept.lock();
            let tag = kept.next_tag;
            kept.next_tag = tag.wrapping_add(1);
            kept.conns.insert(fd, (tag, stream.clone()));
            (u64::from(tag) << 32) | u64::from(fd as u32)
        };
        // Outside the lock: the next request may be waiting already, and
        // the thread its event wakes must not wait for this call.
        let mut event = EpollEvent::new(ONCE, key);
        let watching =
            if watched { self.ep.modify(stream.as_fd(), &mut event) } else { self.ep.add(stream.as_fd(), event) };
        drop(stream);
        if watching.is_err()
            && let Some(stream) = self.take(key)
        {
            // Not watched, it could carry no request: the Apache child is
            // told to send its next one through the listen queue.
            say_goodbye(&stream);
        }
    }

    /// Says `Goodbye` on every kept connection (the process is busy, or
    /// stopping).
    pub fn release_all(&self) {
        let conns = std::mem::take(&mut self.kept.lock().conns);
        // Closed when the last holder lets go (a registering thread may
        // hold one for a moment).
        for (_, (_, stream)) in conns {
            say_goodbye(&stream);
        }
    }
}
