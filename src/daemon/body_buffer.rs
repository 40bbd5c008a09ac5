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

static POOL: Mutex<Vec<Region>> = Mutex::new(Vec::new());

/// `SIZE` bytes of private anonymous memory, mapped by `BodyBuffer::take`.
#[derive(Clone, Copy)]
struct Region(NonNull<u8>);

// SAFETY: the region is plain memory, used by one `BodyBuffer` at a time
// (or lying in the pool); handing it to another thread is sound.
unsafe impl Send for Region {}

/// A body buffer in use; back to the pool (or unmapped) when dropped.
pub struct BodyBuffer(Region);

impl BodyBuffer {
    /// A kept buffer, or a new one (its pages are the kernel's zeroed
    /// ones, faulted in as they are written).
    pub fn take() -> std::io::Result<Self> {
        if let Some(r) = POOL.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(Self(r));
        }
        let size = NonZeroUsize::new(SIZE).ok_or_else(|| std::io::Error::other("empty body buffer"))?;
        // SAFETY: a fresh private mapping; the kernel picks the address and
        // the result is checked before use.
        let p =
            unsafe { mmap_anonymous(None, size, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_PRIVATE) }?;
        Ok(Self(Region(p.cast())))
    }

    /// The whole buffer.
    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `SIZE` bytes mapped readable and writable, used by this
        // buffer alone and borrowed mutably through it only.
        unsafe { std::slice::from_raw_parts_mut(self.0.0.as_ptr(), SIZE) }
    }
}

impl Drop for BodyBuffer {
    fn drop(&mut self) {
        if let Ok(mut pool) = POOL.lock()
            && pool.len() < KEPT
        {
            pool.push(self.0);
            return;
        }
        // SAFETY: unmaps exactly what `take` mapped, once: the region is
        // not in the pool and this buffer is its only user.
        let _ = unsafe { munmap(self.0.0.cast(), SIZE) };
    }
}
