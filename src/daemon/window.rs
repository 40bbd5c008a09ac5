//! Shared memory for large response bodies in daemon mode. The daemon
//! copies a chunk into a window that both processes map and sends only
//! where it is (`DataAt`); the Apache child passes it to the client from
//! there and answers `Release`. A body byte is copied once on the way
//! instead of into the socket, out of it, and on.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

/// A window is this many slots of `SLOT` bytes; a `DataAt` uses one slot.
pub const SLOT: usize = 64 * 1024;
pub const SLOTS: usize = 8;
pub const SIZE: usize = SLOT * SLOTS;

/// A shared mapping of `len` bytes, unmapped when dropped.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(fd: RawFd, len: usize, prot: i32, flags: i32) -> io::Result<Self> {
        // SAFETY: a fresh shared mapping of `len` bytes of `fd`; the kernel
        // picks the address, and the result is checked before use.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED | flags, fd, 0) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        NonNull::new(p.cast()).map(|ptr| Self { ptr, len }).ok_or_else(|| io::Error::other("mmap returned null"))
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped, once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The daemon's window: a memfd sealed at `SIZE` bytes, mapped for writing.
pub struct Ring {
    fd: OwnedFd,
    map: Mapping,
}

// SAFETY: a Ring owns its mapping; it is used by one thread at a time
// (the request's I/O is behind a Mutex) and only the owner writes to it.
unsafe impl Send for Ring {}

impl Ring {
    pub fn create() -> io::Result<Self> {
        // SAFETY: memfd_create with a static name; the result is checked
        // and owned at once.
        let fd =
            unsafe { libc::memfd_create(c"mod_wsgi-window".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
        // SAFETY: plain calls on our own descriptor. The seals mean the
        // size can never change, so the Apache child's mapping can never
        // run past the end of the file (which would be SIGBUS).
        let ok = unsafe {
            libc::ftruncate(fd.as_raw_fd(), SIZE as libc::off_t) == 0
                && libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) == 0
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
        let map = Mapping::new(fd.as_raw_fd(), SIZE, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        Ok(Self { fd, map })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Copies `data` (at most `SLOT` bytes) into slot `i`.
    pub fn write(&mut self, i: usize, data: &[u8]) {
        let len = data.len().min(SLOT);
        // SAFETY: slot `i` lies inside the mapping (i < SLOTS), the copy is
        // at most a slot long, and `data` is our own memory, not the map.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.map.ptr.as_ptr().add((i % SLOTS) * SLOT), len) };
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
        // SAFETY: F_GET_SEALS and fstat only read facts about `fd`.
        let (seals, st_size) = unsafe {
            let seals = libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS);
            let mut st: libc::stat = std::mem::zeroed();
            let ok = libc::fstat(fd.as_raw_fd(), &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFREG;
            (if ok { seals } else { -1 }, st.st_size)
        };
        if seals < 0 || seals & libc::F_SEAL_SHRINK == 0 || (st_size as u64) < size as u64 {
            return Err(WindowError::NotSealed);
        }
        Ok(Self { map: Mapping::new(fd.as_raw_fd(), size, libc::PROT_READ, libc::MAP_POPULATE)? })
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
