//! Python strings for the environ: latin-1 decoding without a detour
//! through Rust strings, and the keys (the same few dozen names on every
//! request) made once per thread and interpreter.
//!
//! A cached key also keeps its hash, so inserting it into the environ does
//! not hash it again. Strings are immutable, so sharing one between
//! requests cannot be observed by an application.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Keys cached per thread and interpreter; names past this many (headers
/// a client made up) are decoded each time instead.
const MAX_KEYS: usize = 256;

/// FNV-1a: the keys are short and the cache small and bounded, so a
/// keyed hash (which costs more than the lookup saves) buys nothing.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// The strings of one interpreter, in the order they were first asked
/// for. Requests ask for nearly the same names in the same order, so the
/// entry after the last one found is tried first: one comparison instead
/// of a hash lookup.
#[derive(Default)]
struct Cache {
    entries: Vec<(Box<[u8]>, usize)>,
    index: HashMap<Box<[u8]>, usize, BuildHasherDefault<Fnv>>,
    next: usize,
}

impl Cache {
    /// The string object for `name` (its address), if cached.
    fn find(&mut self, name: &[u8]) -> Option<usize> {
        let at = match self.entries.get(self.next) {
            Some((n, _)) if **n == *name => self.next,
            _ => *self.index.get(name)?,
        };
        self.next = at + 1;
        Some(self.entries[at].1)
    }

    fn has_room(&self) -> bool {
        self.entries.len() < MAX_KEYS
    }

    fn add(&mut self, name: &[u8], string: usize) {
        self.index.insert(name.into(), self.entries.len());
        self.entries.push((name.into(), string));
        self.next = self.entries.len();
    }
}

thread_local! {
    /// One cache per interpreter (by address; a process has few). The
    /// cache holds one reference to each string and never gives it back:
    /// interpreters live as long as the process, and a reference released
    /// after finalisation would crash it.
    static KEYS: RefCell<Vec<(usize, Cache)>> = const { RefCell::new(Vec::new()) };
}

/// Decodes bytes as latin-1, as WSGI requires for native strings.
pub fn latin1<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    let len =
        isize::try_from(bytes.len()).map_err(|_| pyo3::exceptions::PyOverflowError::new_err("string too long"))?;
    // SAFETY: the GIL is held; PyUnicode_DecodeLatin1 reads `len` bytes
    // and returns a new reference to a str, or null with an exception set.
    unsafe {
        let s = ffi::PyUnicode_DecodeLatin1(bytes.as_ptr().cast(), len, std::ptr::null());
        Ok(Bound::from_owned_ptr_or_err(py, s)?.cast_into_unchecked())
    }
}

/// The environ key `name` as a string of the current interpreter.
pub fn interned<'py>(py: Python<'py>, name: &[u8]) -> PyResult<Bound<'py, PyString>> {
    // SAFETY: the GIL is held, so there is a current interpreter.
    let interp = unsafe { ffi::PyInterpreterState_Get() } as usize;
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        let at = match keys.iter().position(|(i, _)| *i == interp) {
            Some(at) => at,
            None => {
                keys.push((interp, Cache::default()));
                keys.len() - 1
            }
        };
        let cache = &mut keys[at].1;
        if let Some(p) = cache.find(name) {
            // SAFETY: `p` is a str of this interpreter that the cache keeps
            // alive; a new reference is taken for the caller.
            return Ok(unsafe { Bound::from_borrowed_ptr(py, p as *mut ffi::PyObject).cast_into_unchecked() });
        }
        let s = latin1(py, name)?;
        if cache.has_room() {
            cache.add(name, s.clone().into_ptr() as usize);
        }
        Ok(s)
    })
}
