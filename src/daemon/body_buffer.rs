//! The Apache child's buffers for request body bytes on their way to a
//! daemon process (the answer to one `ReadBody`). A few are kept and
//! shared by the child's threads, as many as requests were reading at
//! once; the others are unmapped when their request is done. Each thread
//! keeping its own, or `malloc` giving back one per request, leaves
//! 256 KiB resident per thread that ever read a body (glibc keeps it in
//! the thread's arena).

use super::daemon_side::PIPELINE_CHUNK;
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::Mutex;

/// The most a buffer holds: the most a daemon process asks for at once.
pub const SIZE: usize = PIPELINE_CHUNK;

/// How many buffers a child keeps for later requests.
const KEPT: usize = 4;

static POOL: Mutex<Vec<Mapping>> = Mutex::new(Vec::new());

/// `SIZE` bytes of private anonymous memory, unmapped when dropped.
struct Mapping(NonNull<u8>);

// SAFETY: the mapping is plain memory owned by this value alone; moving
// that ownership to another thread is sound.
unsafe impl Send for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `BodyBuffer::take` mapped, once.
        let _ = unsafe { munmap(self.0.cast(), SIZE) };
    }
}

/// A body buffer in use; back to the pool (or unmapped) when dropped.
pub struct BodyBuffer(Option<Mapping>);

impl BodyBuffer {
    /// A kept buffer, or a new one (its pages are the kernel's zeroed
    /// ones, faulted in as they are written).
    pub fn take() -> std::io::Result<Self> {
        if let Some(m) = POOL.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(Self(Some(m)));
        }
        let size = NonZeroUsize::new(SIZE).ok_or_else(|| std::io::Error::other("empty body buffer"))?;
        // SAFETY: a fresh private mapping; the kernel picks the address and
        // the result is checked before use.
        let p =
            unsafe { mmap_anonymous(None, size, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_PRIVATE) }?;
        Ok(Self(Some(Mapping(p.cast()))))
    }

    /// The whole buffer.
    pub fn bytes(&mut self) -> &mut [u8] {
        match &self.0 {
            // SAFETY: `SIZE` bytes mapped readable and writable, owned by
            // this buffer and borrowed mutably through it only.
            Some(m) => unsafe { std::slice::from_raw_parts_mut(m.0.as_ptr(), SIZE) },
            None => &mut [],
        }
    }
}

impl Drop for BodyBuffer {
    fn drop(&mut self) {
        if let (Some(m), Ok(mut pool)) = (self.0.take(), POOL.lock())
            && pool.len() < KEPT
        {
            pool.push(m);
        }
    }
}
