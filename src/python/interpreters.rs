//! Application groups as interpreters, and the thread states that enter them.
//!
//! The discipline (pyo3's `Python::attach` is `PyGILState_Ensure`, which
//! deadlocks, or lands in the wrong interpreter, once a thread's first
//! thread state belonged to a sub-interpreter):
//! - each group except `""` (`%{GLOBAL}`) is a sub-interpreter created with
//!   `Py_NewInterpreter` on first use;
//! - each (interpreter, OS thread) pair has one thread state, created once
//!   and reused;
//! - on every thread the main interpreter's thread state is created first,
//!   so that `PyGILState_*` (used by C extensions and by `%{GLOBAL}`) always
//!   finds the main interpreter's;
//! - entering is `PyEval_RestoreThread`, leaving is `PyEval_SaveThread`.

use crate::common::log::with_pid;
use pyo3::ffi;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicPtr, Ordering};

use parking_lot::Mutex;

/// The main interpreter, set once Python is initialised in this process.
static MAIN: AtomicPtr<ffi::PyInterpreterState> = AtomicPtr::new(std::ptr::null_mut());

/// Sub-interpreters by application group name, stored as addresses.
static GROUPS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

/// Serialises interpreter creation; always taken before the GIL.
static CREATING: Mutex<()> = Mutex::new(());

/// Every main-interpreter thread state made for a request thread (by
/// address), so teardown can delete them: a thread that imported
/// `threading` first is its main thread until its state is deleted, and
/// `threading._shutdown` waits for that.
static REQUEST_STATES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// A callback run in each new interpreter before it is used (sys.path, ...).
pub type Setup = fn(group: &str);

thread_local! {
    /// This thread's thread state for each interpreter (by address).
    static THREAD_STATES: RefCell<HashMap<usize, usize>> = RefCell::new(HashMap::new());
}

/// Records the main interpreter and the thread state of the thread that
/// initialised Python (its state is currently released).
pub fn set_main(interp: *mut ffi::PyInterpreterState, tstate: *mut ffi::PyThreadState) {
    MAIN.store(interp, Ordering::Release);
    THREAD_STATES.with(|m| m.borrow_mut().insert(interp as usize, tstate as usize));
}

pub fn main_interpreter() -> Option<*mut ffi::PyInterpreterState> {
    let p = MAIN.load(Ordering::Acquire);
    (!p.is_null()).then_some(p)
}

/// This thread's thread state for `interp`, created on first use (after
/// the main interpreter's, so PyGILState keeps pointing at the main one).
fn thread_state(interp: *mut ffi::PyInterpreterState) -> *mut ffi::PyThreadState {
    THREAD_STATES.with(|m| {
        let mut m = m.borrow_mut();
        if let Some(&t) = m.get(&(interp as usize)) {
            return t as *mut ffi::PyThreadState;
        }
        if let Some(main) = main_interpreter()
            && main != interp
            && !m.contains_key(&(main as usize))
        {
            // SAFETY: the GIL need not be held to create a thread state; the
            // first one created on a thread becomes PyGILState's.
            let t = unsafe { ffi::PyThreadState_New(main) };
            m.insert(main as usize, t as usize);
            REQUEST_STATES.lock().push(t as usize);
        }
        // SAFETY: as above; `interp` is a live interpreter of this process.
        let t = unsafe { ffi::PyThreadState_New(interp) };
        m.insert(interp as usize, t as usize);
        if Some(interp) == main_interpreter() {
            REQUEST_STATES.lock().push(t as usize);
        }
        t
    })
}

/// The GIL held in one interpreter; leaving releases it.
pub struct Entered {
    global: Option<ffi::PyGILState_STATE>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        // SAFETY: pairs with the acquisition in `enter`, on the same thread.
        unsafe {
            match self.global {
                Some(state) => ffi::PyGILState_Release(state),
                None => {
                    ffi::PyEval_SaveThread();
                }
            }
        }
    }
}

/// Why an interpreter could not be entered.
#[derive(Debug, thiserror::Error)]
pub enum EnterError {
    #[error("Python is not initialised in this process")]
    NotInitialised,
    #[error("cannot create a Python interpreter for application group '{0}'")]
    CreateFailed(String),
}

/// Takes the GIL in the interpreter of application group `group`,
/// creating the interpreter (and running `setup` in it) on first use.
pub fn enter(group: &str, setup: Setup) -> Result<Entered, EnterError> {
    let main = main_interpreter().ok_or(EnterError::NotInitialised)?;
    if group.is_empty() {
        let _ = thread_state(main);
        // SAFETY: this thread's first thread state is the main
        // interpreter's, which PyGILState_Ensure finds and takes.
        let state = unsafe { ffi::PyGILState_Ensure() };
        return Ok(Entered { global: Some(state) });
    }
    let known = GROUPS.lock().as_ref().and_then(|g| g.get(group).copied());
    let interp = match known {
        Some(i) => i as *mut ffi::PyInterpreterState,
        None => return create(group, main, setup),
    };
    let t = thread_state(interp);
    // SAFETY: `t` belongs to this thread and is not current (we never
    // nest entries), so restoring it takes the GIL in `interp`.
    unsafe { ffi::PyEval_RestoreThread(t) };
    Ok(Entered { global: None })
}

fn create(group: &str, main: *mut ffi::PyInterpreterState, setup: Setup) -> Result<Entered, EnterError> {
    let _creating = CREATING.lock();
    if let Some(i) = GROUPS.lock().as_ref().and_then(|g| g.get(group).copied()) {
        drop(_creating);
        let t = thread_state(i as *mut ffi::PyInterpreterState);
        // SAFETY: as in `enter`.
        unsafe { ffi::PyEval_RestoreThread(t) };
        return Ok(Entered { global: None });
    }
    super::io::log_process(
        crate::common::log::LogLevel::Info,
        &with_pid(format_args!("Create interpreter '{group}'.")),
    );
    let main_t = thread_state(main);
    // SAFETY: take the GIL with this thread's main thread state, then
    // Py_NewInterpreter makes a new interpreter whose thread state (for
    // this thread) becomes current; the main one stays saved for reuse.
    let new_t = unsafe {
        ffi::PyEval_RestoreThread(main_t);
        ffi::Py_NewInterpreter()
    };
    if new_t.is_null() {
        // SAFETY: on failure the main thread state is still current.
        unsafe { ffi::PyEval_SaveThread() };
        return Err(EnterError::CreateFailed(group.to_string()));
    }
    // SAFETY: new_t is the live, current thread state just created.
    let interp = unsafe { ffi::PyThreadState_GetInterpreter(new_t) };
    THREAD_STATES.with(|m| m.borrow_mut().insert(interp as usize, new_t as usize));
    // Published only once set up: `setup` may release the GIL, and a thread
    // that found the group would run a script in a bare interpreter.
    setup(group);
    GROUPS.lock().get_or_insert_with(HashMap::new).insert(group.to_string(), interp as usize);
    Ok(Entered { global: None })
}

/// The application groups that have a sub-interpreter now.
pub fn group_names() -> Vec<String> {
    GROUPS.lock().as_ref().map(|g| g.keys().cloned().collect()).unwrap_or_default()
}

/// Every sub-interpreter, for teardown.
pub fn take_all_groups() -> Vec<(String, *mut ffi::PyInterpreterState)> {
    GROUPS.lock().take().unwrap_or_default().into_iter().map(|(k, v)| (k, v as *mut ffi::PyInterpreterState)).collect()
}

/// This thread's thread state for a sub-interpreter being torn down.
pub fn thread_state_for_teardown(interp: *mut ffi::PyInterpreterState) -> *mut ffi::PyThreadState {
    thread_state(interp)
}

/// The main-interpreter thread states of request threads, for teardown
/// once those threads have stopped.
pub fn take_request_states() -> Vec<*mut ffi::PyThreadState> {
    std::mem::take(&mut *REQUEST_STATES.lock()).into_iter().map(|t| t as *mut ffi::PyThreadState).collect()
}

/// This thread's main-interpreter thread state.
pub fn main_thread_state() -> Option<*mut ffi::PyThreadState> {
    main_interpreter().map(thread_state)
}
