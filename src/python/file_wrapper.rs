//! `wsgi.file_wrapper` (also `mod_wsgi.FileWrapper`): wraps a file-like
//! object as an iterable of blocks. When the application returns one over
//! a regular file, [`plan`] says which part of the file to send so that the
//! server can send it without reading it through Python.

use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

#[pyclass(module = "mod_wsgi", subclass)]
pub struct FileWrapper {
    filelike: Option<Py<PyAny>>,
    #[pyo3(get)]
    blksize: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize=8192))]
    fn new(filelike: Py<PyAny>, blksize: usize) -> Self {
        Self { filelike: Some(filelike), blksize }
    }

    #[getter]
    fn filelike(&self, py: Python<'_>) -> Py<PyAny> {
        self.filelike.as_ref().map_or_else(|| py.None(), |f| f.clone_ref(py))
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(filelike) = &self.filelike else {
            return Err(PyKeyError::new_err("file wrapper no filelike attribute"));
        };
        let read = filelike
            .bind(py)
            .getattr("read")
            .map_err(|_| PyKeyError::new_err("file like object has no read() method"))?;
        let block = read.call1((self.blksize,))?;
        match block.cast::<PyBytes>() {
            Ok(b) if b.as_bytes().is_empty() => Ok(None),
            Ok(_) => Ok(Some(block)),
            Err(_) => Err(PyTypeError::new_err("file like object yielded non string type")),
        }
    }

    /// Closes the file-like object (errors from its `close()` are
    /// ignored, as mod_wsgi does) and lets go of it.
    fn close(&mut self, py: Python<'_>) {
        if let Some(f) = self.filelike.take() {
            let f = f.bind(py);
            if let Ok(close) = f.getattr("close") {
                let _ = close.call0();
            }
        }
    }
}

/// A part of a regular file to send as the response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilePlan {
    pub fd: i32,
    /// Where the file-like object is (`tell()`), which is where sending starts.
    pub offset: u64,
    /// Bytes from `offset` to the end of the file.
    pub available: u64,
    /// The descriptor's own offset, to put back after sending.
    pub fd_offset: i64,
}

/// When `result` is a file wrapper over a regular file with `fileno()` and
/// `tell()`, where the file is and how much of it is left. `None`: send it
/// as any other iterable.
pub fn plan(result: &Bound<'_, PyAny>) -> Option<FilePlan> {
    let wrapper = result.cast::<FileWrapper>().ok()?;
    let filelike = wrapper.try_borrow().ok()?.filelike.as_ref()?.clone_ref(result.py());
    let filelike = filelike.bind(result.py());
    // SAFETY: the GIL is held; PyObject_AsFileDescriptor accepts an int or
    // an object with fileno(), and sets an exception (cleared here) on -1.
    let fd = unsafe {
        let fd = pyo3::ffi::PyObject_AsFileDescriptor(filelike.as_ptr());
        if fd < 0 {
            pyo3::ffi::PyErr_Clear();
            return None;
        }
        fd
    };
    // SAFETY: fstat writes into the zeroed struct; lseek only reads the
    // descriptor's position. Neither keeps the descriptor.
    let (size, fd_offset) = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 || (st.st_mode & libc::S_IFMT) != libc::S_IFREG {
            return None;
        }
        let pos = libc::lseek(fd, 0, libc::SEEK_CUR);
        if pos < 0 {
            return None;
        }
        (u64::try_from(st.st_size).ok()?, pos)
    };
    let offset: u64 = filelike.call_method0("tell").ok()?.extract().ok()?;
    Some(FilePlan { fd, offset, available: size.saturating_sub(offset), fd_offset })
}

/// Puts the descriptor's offset back where [`plan`] found it (reading the
/// file through the server may have moved it).
pub fn restore_offset(plan: &FilePlan) {
    // SAFETY: repositions a descriptor the application still holds open.
    unsafe { libc::lseek(plan.fd, plan.fd_offset, libc::SEEK_SET) };
}
