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

use super::wire::say_goodbye;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
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
    conns: HashMap<RawFd, (u32, UnixStream)>,
    next_tag: u32,
}

pub struct Dispatch {
    ep: OwnedFd,
    listener: RawFd,
    wake: RawFd,
    /// Set when the process stops taking requests.
    stopping: &'static AtomicBool,
    /// `socket-timeout`, for every accepted connection: a peer that
    /// connects and stays silent must not hold a thread.
    timeout: std::time::Duration,
    kept: parking_lot::Mutex<Kept>,
}

fn ctl(ep: RawFd, op: i32, fd: RawFd, events: i32, key: u64) -> std::io::Result<()> {
    let mut event = libc::epoll_event { events: events as u32, u64: key };
    // SAFETY: registers a descriptor of this process in our epoll set; the
    // event record is plain data.
    if unsafe { libc::epoll_ctl(ep, op, fd, &mut event) } == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

impl Dispatch {
    /// Watches the shared non-blocking `listener` (one connection wakes one
    /// process of the group: EPOLLEXCLUSIVE) and the `wake` pipe.
    pub fn new(
        listener: RawFd,
        wake: RawFd,
        stopping: &'static AtomicBool,
        timeout: std::time::Duration,
    ) -> std::io::Result<Self> {
        // SAFETY: epoll_create1 returns a new descriptor or -1.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a descriptor we just created and own alone.
        let ep = unsafe { OwnedFd::from_raw_fd(ep) };
        ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, listener, libc::EPOLLIN | libc::EPOLLEXCLUSIVE, LISTENER)?;
        ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, wake, libc::EPOLLIN | libc::EPOLLONESHOT, WAKE)?;
        Ok(Self { ep, listener, wake, stopping, timeout, kept: parking_lot::Mutex::default() })
    }

    /// Waits for the next request, or the order to stop. A stopping
    /// process accepts nothing more: what waits in the listen queue is for
    /// its successor.
    pub fn next(&self) -> Work {
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        loop {
            // SAFETY: waits on our epoll set for one event.
            if unsafe { libc::epoll_wait(self.ep.as_raw_fd(), &mut event, 1, -1) } <= 0 {
                continue;
            }
            if event.u64 == WAKE {
                // Armed again while readable, the pipe wakes the next
                // waiting worker thread, and so on until every one has stopped.
                let _ =
                    ctl(self.ep.as_raw_fd(), libc::EPOLL_CTL_MOD, self.wake, libc::EPOLLIN | libc::EPOLLONESHOT, WAKE);
                return Work::Stop;
            }
            if self.stopping.load(Ordering::SeqCst) {
                return Work::Stop;
            }
            match event.u64 {
                LISTENER => {
                    if let Some(stream) = self.accept() {
                        return Work::Serve { stream, watched: false };
                    }
                }
                key => {
                    if let Some(stream) = self.take(key) {
                        return Work::Serve { stream, watched: true };
                    }
                }
            }
        }
    }

    fn accept(&self) -> Option<UnixStream> {
        // SAFETY: accepts on the shared non-blocking listener; EAGAIN means
        // another worker thread or process took the connection.
        let fd =
            unsafe { libc::accept4(self.listener, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC) };
        if fd < 0 {
            let err = std::io::Error::last_os_error();
            if !matches!(err.raw_os_error(), Some(libc::EAGAIN | libc::EINTR | libc::ECONNABORTED)) {
                // Out of descriptors or memory: the listener stays readable,
                // so back off instead of spinning.
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            return None;
        }
        // SAFETY: `fd` is a new connected socket we now own.
        let stream = unsafe { UnixStream::from_raw_fd(fd) };
        let _ = stream.set_read_timeout(Some(self.timeout));
        let _ = stream.set_write_timeout(Some(self.timeout));
        Some(stream)
    }

    fn take(&self, key: u64) -> Option<UnixStream> {
        let (tag, fd) = ((key >> 32) as u32, key as u32 as RawFd);
        let mut kept = self.kept.lock();
        match kept.conns.get(&fd) {
            Some((t, _)) if *t == tag => kept.conns.remove(&fd).map(|(_, s)| s),
            _ => None,
        }
    }

    /// Keeps `stream` for the Apache child's next request on it; `watched`
    /// as given by [`Dispatch::next`] (armed again, or added).
    pub fn keep(&self, stream: UnixStream, watched: bool) {
        let fd = stream.as_raw_fd();
        let tag = {
            let mut kept = self.kept.lock();
            let tag = kept.next_tag;
            kept.next_tag = tag.wrapping_add(1);
            kept.conns.insert(fd, (tag, stream));
            tag
        };
        // Kept first, watched after: its event can only find it there.
        let key = (u64::from(tag) << 32) | u64::from(fd as u32);
        let events = libc::EPOLLIN | libc::EPOLLONESHOT;
        let ep = self.ep.as_raw_fd();
        let op = if watched { libc::EPOLL_CTL_MOD } else { libc::EPOLL_CTL_ADD };
        if ctl(ep, op, fd, events, key).is_err()
            && let Some(stream) = self.take(key)
        {
            say_goodbye(stream);
        }
    }

    /// Says `Goodbye` on every kept connection (the process is busy, or
    /// stopping).
    pub fn release_all(&self) {
        let conns = std::mem::take(&mut self.kept.lock().conns);
        for (_, (_, stream)) in conns {
            say_goodbye(stream);
        }
    }
}
