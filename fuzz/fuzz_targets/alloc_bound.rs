//! A global allocator that counts the bytes this thread asks for, so a
//! target can assert that decoding allocates in proportion to its input.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct Counting;

thread_local! {
    static ASKED: Cell<usize> = const { Cell::new(0) };
}

fn note(bytes: usize) {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = ASKED.try_with(|a| a.set(a.get().saturating_add(bytes)));
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` and returns its result with the bytes it asked to allocate.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ASKED.with(Cell::get);
    let r = f();
    (r, ASKED.with(Cell::get) - before)
}

/// The most a decoder may allocate for a frame of `frame_bytes` bytes: a
/// list of (key, value) slices, 32 bytes each on 64-bit, for at least 8
/// bytes of length prefixes each on the wire.
pub fn decode_budget(frame_bytes: usize) -> usize {
    frame_bytes * std::mem::size_of::<(&[u8], &[u8])>() / 8
}
