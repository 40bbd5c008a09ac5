//! Shared memory for large response bodies in daemon mode. The daemon
//! copies a chunk into a window that both processes map and sends only
//! where it is (`DataAt`); the Apache child passes it to the client from
//! there and answers `Release`. A body byte is copied once on the way
//! instead of into the socket, out of it, and on.

use super::wire::{Conn, WireError};
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};
use nix::sys::stat::{SFlag, fstat};
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use wsgi_core::protocol::Frame;
use wsgi_core::spares::Spares;

/// A window is this many slots of `SLOT` bytes; a `DataAt` uses one slot.
pub const SLOT: usize = 64 * 1024;
pub const SLOTS: usize = 8;
pub const SIZE: usize = SLOT * SLOTS;

/// A response that has sent this much sends its further large writes
/// through the window: mapping it costs the child more than a small body.
const AFTER: u64 = 128 * 1024;
/// Writes smaller than this go in `Data` frames even then.
const MIN_WRITE: usize = 16 * 1024;

/// A shared mapping of `len` bytes, unmapped when dropped.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(fd: &OwnedFd, len: usize, prot: ProtFlags, flags: MapFlags) -> io::Result<Self> {
        let size = NonZeroUsize::new(len).ok_or_else(|| io::Error::other("empty window"))?;
        // SAFETY: a fresh shared mapping of `len` bytes of `fd`; the kernel
        // picks the address, and the result is checked before use.
        let p = unsafe { mmap(None, size, prot, MapFlags::MAP_SHARED | flags, fd, 0) }?;
        Ok(Self { ptr: p.cast(), len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped, once. It cannot fail:
        // the range is a whole mapping of this process.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// The daemon's window: a memfd sealed at `SIZE` bytes, mapped for writing.
struct Ring {
    fd: OwnedFd,
    map: Mapping,
}

// SAFETY: a Ring owns its mapping; it is used by one thread at a time
// (the request's I/O is behind a Mutex) and only the owner writes to it.
unsafe impl Send for Ring {}

impl Ring {
    fn create() -> io::Result<Self> {
        let fd = memfd_create(c"mod_wsgi-window", MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)?;
        // The seals mean the size can never change, so the Apache child's
        // mapping can never run past the end of the file (which would be
        // SIGBUS).
        let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
        nix::unistd::ftruncate(&fd, SIZE as libc::off_t)?;
        fcntl(&fd, FcntlArg::F_ADD_SEALS(seals))?;
        let map = Mapping::new(&fd, SIZE, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::empty())?;
        Ok(Self { fd, map })
    }

    fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Copies `data` (at most `SLOT` bytes) into slot `i`.
    fn write(&mut self, i: usize, data: &[u8]) {
        let len = data.len().min(SLOT);
        // SAFETY: slot `i` lies inside the mapping (i < SLOTS), the copy is
        // at most a slot long, and `data` is our own memory, not the map.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.map.ptr.as_ptr().add((i % SLOTS) * SLOT), len) };
    }
}

/// Rings kept between requests once every slot of them has been
/// released: as many as responses used one at once.
static SPARE: Spares<Ring, 16> = Spares::new();

/// The daemon's side of one request's window: the ring (taken from the
/// thread on first use), the next slot, and the slots in flight.
#[derive(Default)]
pub struct Sender {
    ring: Option<Ring>,
    /// No ring could be made: `Data` frames only.
    unavailable: bool,
    /// The child has the descriptor.
    announced: bool,
    next_slot: usize,
    /// Slots the child has not released yet.
    in_flight: usize,
}

impl Sender {
    /// Whether a write of `len` bytes, after `sent` bytes of body, goes
    /// through the window.
    pub fn takes(&mut self, len: usize, sent: u64) -> bool {
        if len < MIN_WRITE || sent < AFTER || self.unavailable {
            return false;
        }
        if self.ring.is_none() {
            self.ring = SPARE.take().or_else(|| Ring::create().ok());
            self.unavailable = self.ring.is_none();
        }
        self.ring.is_some()
    }

    /// Whether `len` bytes fit in free slots now, counting the `Release`s
    /// that have already arrived (no waiting).
    pub fn has_room(&mut self, conn: &mut Conn, len: usize) -> bool {
        let slots = len.div_ceil(SLOT);
        if self.in_flight + slots > SLOTS {
            self.released(conn.releases_arrived());
        }
        self.in_flight + slots <= SLOTS
    }

    /// The child released `n` slots.
    pub fn released(&mut self, n: usize) {
        self.in_flight -= n.min(self.in_flight);
    }

    /// Sends `chunk` (at most a slot) through the window: waits for the
    /// oldest slot when all are in flight, copies, and says where it is.
    pub fn send(&mut self, conn: &mut Conn, chunk: &[u8]) -> Result<(), WireError> {
        let Some(ring) = self.ring.as_mut() else { return Err(WireError::Unexpected("window")) };
        if !self.announced {
            conn.send_with_fd(&Frame::Window { size: SIZE as u32 }, ring.fd())?;
            self.announced = true;
        }
        if self.in_flight == SLOTS {
            conn.await_releases(1)?;
            self.in_flight -= 1;
        }
        ring.write(self.next_slot, chunk);
        let offset = (self.next_slot * SLOT) as u32;
        conn.send_now(&Frame::DataAt { offset, len: chunk.len() as u32 })?;
        self.next_slot = (self.next_slot + 1) % SLOTS;
        self.in_flight += 1;
        Ok(())
    }

    /// After the request's last frame: waits until the child has sent on
    /// what is in the window, so the ring may serve the next request; false
    /// if the connection ended first (the ring is then dropped instead).
    pub fn finish(&mut self, conn: &mut Conn) -> bool {
        if self.in_flight > 0 && conn.await_releases(self.in_flight).is_ok() {
            self.in_flight = 0;
        }
        self.in_flight == 0
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        // Reused only when the child can no longer be reading it.
        if self.in_flight == 0
            && let Some(ring) = self.ring.take()
        {
            SPARE.give_back(ring);
        }
    }
}

/// Why the Apache child refused a daemon's window.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("window of an unexpected size")]
    Size,
    #[error("window is not a sealed memory file")]
    NotSealed,
    #[error("window could not be mapped: {0}")]
    Map(#[from] io::Error),
}

/// The Apache child's read-only view of a daemon's window.
pub struct View {
    map: Mapping,
}

// SAFETY: the view is only read (by the kernel, when the bytes are
// written to the client) by the thread relaying its request.
unsafe impl Send for View {}

impl View {
    /// Maps the window the daemon sent. The daemon runs application code,
    /// so the file must be sealed against shrinking first: a mapping past
    /// the end of a shrunk file would fault this process.
    pub fn map(fd: &OwnedFd, size: u32) -> Result<Self, WindowError> {
        let size = size as usize;
        if size != SIZE {
            return Err(WindowError::Size);
        }
        let sealed = fcntl(fd, FcntlArg::F_GET_SEALS)
            .is_ok_and(|seals| SealFlag::from_bits_retain(seals).contains(SealFlag::F_SEAL_SHRINK));
        let file = fstat(fd).is_ok_and(|st| {
            SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFREG
                && st.st_size as u64 >= size as u64
        });
        if !sealed || !file {
            return Err(WindowError::NotSealed);
        }
        Ok(Self { map: Mapping::new(fd, size, ProtFlags::PROT_READ, MapFlags::MAP_POPULATE)? })
    }

    /// Where `len` bytes from `offset` are, if they lie inside the window.
    /// A pointer, not a slice: the daemon may write to the memory at any
    /// time, so it is only handed to the server's I/O, never read here.
    pub fn at(&self, offset: u32, len: u32) -> Option<*const u8> {
        let (offset, len) = (offset as usize, len as usize);
        let end = offset.checked_add(len)?;
        // SAFETY: offset is within the mapping (end <= its length).
        (end <= self.map.len).then(|| unsafe { self.map.ptr.as_ptr().add(offset).cast_const() })
    }
}
