//! Running Rust code "attached" in whatever interpreter is current.
//!
//! pyo3 counts a thread as attached only inside `Python::attach` or inside
//! a call from Python into a pyo3 function. `Python::attach` cannot be used
//! here: it goes through `PyGILState_Ensure`, which deadlocks or picks the
//! wrong interpreter while a sub-interpreter's thread state is current.
//! Outside pyo3's count, a dropped `Py<T>` is not released at once (with
//! the cfg in .cargo/config.toml it leaks). So the WSGI work runs inside a
//! call from the interpreter into [`trampoline`], where pyo3's own entry
//! code marks the thread attached.

use pyo3::ffi;
use pyo3::prelude::*;
use std::ffi::{CStr, c_void};

const CAPSULE_NAME: &CStr = c"mod_wsgi_rs.attached_job";

type Job<'a> = &'a mut dyn FnMut(Python<'_>);

#[pyfunction]
fn trampoline(py: Python<'_>, capsule: &Bound<'_, PyAny>) {
    // SAFETY: PyCapsule_GetPointer checks the object is a capsule carrying
    // our name, which only `run` creates; it then points at a live `Job` on
    // the stack of `run`, which is blocked in this very call.
    unsafe {
        let p = ffi::PyCapsule_GetPointer(capsule.as_ptr(), CAPSULE_NAME.as_ptr());
        if p.is_null() {
            ffi::PyErr_Clear();
            return;
        }
        let job = &mut *(p as *mut Job<'_>);
        job(py);
    }
}

/// Runs `f` attached in the current interpreter.
///
/// The caller must hold the GIL through a thread state of the interpreter
/// it wants (see `interpreters::enter`). `None` means `f` did not complete
/// (it panicked; the panic was reported to the error log by Python).
pub fn run<R>(f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    let mut result: Option<R> = None;
    let mut f = Some(f);
    let mut call = |py: Python<'_>| {
        if let Some(f) = f.take() {
            result = Some(f(py));
        }
    };
    let mut job: Job<'_> = &mut call;
    // SAFETY: the caller holds the GIL (contract above). Only `Bound`
    // values and raw pointers are used here: both release their references
    // immediately, so nothing is deferred to pyo3's pool.
    unsafe {
        let py = Python::assume_attached();
        let Ok(func) = wrap_pyfunction!(trampoline, py) else {
            ffi::PyErr_Clear();
            return None;
        };
        let capsule = ffi::PyCapsule_New(&mut job as *mut Job<'_> as *mut c_void, CAPSULE_NAME.as_ptr(), None);
        if capsule.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        let out = ffi::PyObject_CallOneArg(func.as_ptr(), capsule);
        ffi::Py_DECREF(capsule);
        if out.is_null() {
            ffi::PyErr_Print();
        } else {
            ffi::Py_DECREF(out);
        }
    }
    result
}
