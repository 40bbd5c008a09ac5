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
use wsgi_core::spares::Spares;

/// The most a buffer holds: the most a daemon process asks for at once.
pub const SIZE: usize = PIPELINE_CHUNK;

/// The buffers a child keeps for later requests; one given back when all
/// four slots are full is unmapped.
static POOL: Spares<Region, 4> = Spares::new();

/// `SIZE` bytes of private anonymous memory, unmapped when dropped.
struct Region(NonNull<u8>);

// SAFETY: the region is plain memory, used by one `BodyBuffer` at a time
// (or lying in the pool); handing it to another thread is sound.
unsafe impl Send for Region {}

impl Region {
    /// A new region: its pages are the kernel's zeroed ones, faulted in as
    /// they are written.
    fn map() -> std::io::Result<Self> {
        let size = NonZeroUsize::new(SIZE).ok_or_else(|| std::io::Error::other("empty body buffer"))?;
        // SAFETY: a fresh private mapping; the kernel picks the address and
        // the result is checked before use.
        let p =
            unsafe { mmap_anonymous(None, size, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_PRIVATE) }?;
        Ok(Self(p.cast()))
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `map` mapped, once: a region is owned
        // by one buffer or one pool slot, and dropped by it alone.
        let _ = unsafe { munmap(self.0.cast(), SIZE) };
    }
}

/// A body buffer in use; back to the pool when dropped.
pub struct BodyBuffer(Option<Region>);

impl BodyBuffer {
    /// A kept buffer, or a new one.
    pub fn take() -> std::io::Result<Self> {
        let region = match POOL.take() {
            Some(r) => r,
            None => Region::map()?,
        };
        Ok(Self(Some(region)))
    }

    /// The whole buffer.
    pub fn bytes(&mut self) -> &mut [u8] {
        match &self.0 {
            // SAFETY: `SIZE` bytes mapped readable and writable, used by
            // this buffer alone and borrowed mutably through it only.
            Some(r) => unsafe { std::slice::from_raw_parts_mut(r.0.as_ptr(), SIZE) },
            None => &mut [],
        }
    }
}

impl Drop for BodyBuffer {
    fn drop(&mut self) {
        if let Some(region) = self.0.take() {
            POOL.give_back(region);
        }
    }
}
