//! Python's lifetime in one process: initialised after the fork (in each
//! Apache child, or each daemon process), finalised when the process ends.

use super::interpreter_setup::InterpreterSettings;
use super::interpreters;
use crate::common::log::with_pid;
use pyo3::ffi;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use wsgi_core::config::{HashSeed, PythonSettings};

static STARTED: AtomicBool = AtomicBool::new(false);
/// `WSGIDestroyInterpreter`: whether `finalize` ends Python.
static DESTROY: AtomicBool = AtomicBool::new(true);

/// The interpreter whose libpython this module links (`PYO3_PYTHON`, set
/// in .cargo/config.toml): `sys.executable` when no home is configured.
const LINKED_PYTHON: &CStr = match CStr::from_bytes_with_nul(concat!(env!("PYO3_PYTHON"), "\0").as_bytes()) {
    Ok(path) => path,
    Err(_) => panic!("PYO3_PYTHON contains a NUL byte"),
};

/// Which process this is, as the `mod_wsgi` module describes it.
#[derive(Debug, Clone, Default)]
pub struct ProcessIdentity {
    /// The daemon group; `""` in an Apache child.
    pub process_group: String,
    pub maximum_processes: u32,
    pub threads_per_process: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(
        "Python home '{0}' (WSGIPythonHome, or a daemon's python-home=) is not a Python installation or virtual environment for Python 3.11 (no lib/python3.11 and no pyvenv.cfg); fix or remove it"
    )]
    BadHome(String),
    #[error("Python could not be initialised: {0}")]
    Failed(String),
}

fn check_home(home: &str) -> Result<(), InitError> {
    let p = std::path::Path::new(home);
    if p.join("lib/python3.11").is_dir() || p.join("pyvenv.cfg").is_file() {
        Ok(())
    } else {
        Err(InitError::BadHome(home.to_string()))
    }
}

fn check(status: ffi::PyStatus) -> Result<(), InitError> {
    // SAFETY: PyStatus_Exception only inspects the value; err_msg, when
    // set, is a static C string.
    unsafe {
        if ffi::PyStatus_Exception(status) != 0 {
            let msg = if status.err_msg.is_null() {
                "unknown error".to_string()
            } else {
                std::ffi::CStr::from_ptr(status.err_msg).to_string_lossy().into_owned()
            };
            return Err(InitError::Failed(msg));
        }
    }
    Ok(())
}

/// Initialises Python in this process with `settings` (the same steps in
/// an Apache child and in a daemon process) and releases the GIL.
pub fn initialize(settings: &PythonSettings, process: ProcessIdentity) -> Result<(), InitError> {
    if STARTED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    DESTROY.store(settings.destroy_interpreter, Ordering::SeqCst);
    if let Some(home) = &settings.home {
        check_home(home)?;
    }
    super::metrics::init(process.threads_per_process, !process.process_group.is_empty(), settings.server_metrics);
    super::interpreter_setup::configure(InterpreterSettings::new(settings, process));
    super::io::log_process(crate::common::log::LogLevel::Info, &with_pid("Initializing Python."));
    for (key, value) in &settings.env {
        // SAFETY: called before the process starts any thread of its own
        // (child_init, or a daemon process before its worker threads).
        unsafe { std::env::set_var(key, value) };
    }
    if settings.hash_seed.is_some() {
        // The directive decides; as in mod_wsgi, the variable is not left
        // for subprocesses to inherit.
        // SAFETY: as above, no other thread exists yet.
        unsafe { std::env::remove_var("PYTHONHASHSEED") };
    }
    // SAFETY: PyConfig is plain data initialised by PyConfig_InitPythonConfig
    // and cleared after use; strings are copied by PyConfig_SetBytesString
    // and PyWideStringList_Append.
    unsafe {
        let mut config: ffi::PyConfig = std::mem::zeroed();
        ffi::PyConfig_InitPythonConfig(&mut config);
        let result = fill_config(&mut config, settings).and_then(|()| check(ffi::Py_InitializeFromConfig(&config)));
        ffi::PyConfig_Clear(&mut config);
        result?;
        let tstate = ffi::PyThreadState_Get();
        let interp = ffi::PyThreadState_GetInterpreter(tstate);
        super::io::log_process(crate::common::log::LogLevel::Info, &with_pid("Attach interpreter ''."));
        super::interpreter_setup::setup("");
        if let Some(interval) = settings.switch_interval {
            set_switch_interval(interval);
        }
        ffi::PyEval_SaveThread();
        interpreters::set_main(interp, tstate);
    }
    Ok(())
}

/// Writes `settings` into a `config` made by `PyConfig_InitPythonConfig`.
///
/// # Safety
/// `config` must be initialised and not yet used to start Python.
unsafe fn fill_config(config: &mut ffi::PyConfig, settings: &PythonSettings) -> Result<(), InitError> {
    // Apache owns the signals.
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    config.optimization_level = i32::from(settings.optimize);
    config.write_bytecode = i32::from(!settings.dont_write_bytecode);
    match settings.hash_seed {
        None => {}
        Some(HashSeed::Random) => config.use_hash_seed = 0,
        Some(HashSeed::Fixed(seed)) => {
            config.use_hash_seed = 1;
            config.hash_seed = seed.into();
        }
    }
    // SAFETY: `config` is initialised (the caller's promise); every pointer
    // passed is a NUL-terminated string that outlives the call, which
    // copies it.
    unsafe {
        for w in &settings.warnings {
            let wide = wide_string(w);
            check(ffi::PyWideStringList_Append(&mut config.warnoptions, wide.as_ptr()))?;
        }
        let mut argv = [c"mod_wsgi".as_ptr()];
        check(ffi::PyConfig_SetBytesArgv(config, 1, argv.as_mut_ptr()))?;
        match &settings.home {
            Some(home) => {
                let c = |s: &str| CString::new(s).map_err(|_| InitError::BadHome(home.clone()));
                if std::path::Path::new(home).join("pyvenv.cfg").is_file() {
                    // A virtual environment: let Python find it from its interpreter path.
                    let exe = c(&format!("{home}/bin/python"))?;
                    check(ffi::PyConfig_SetBytesString(config, &mut config.program_name, exe.as_ptr()))?;
                } else {
                    let home = c(home)?;
                    check(ffi::PyConfig_SetBytesString(config, &mut config.home, home.as_ptr()))?;
                }
            }
            None => {
                // Else Python searches PATH for argv[0] ("mod_wsgi") and
                // guesses the prefix from the working directory ("/" in an
                // Apache child). Not mod_wsgi's "python3" from PATH, which
                // may be another Python than the one linked.
                check(ffi::PyConfig_SetBytesString(config, &mut config.program_name, LINKED_PYTHON.as_ptr()))?;
            }
        }
    }
    Ok(())
}

/// `s` as a NUL-terminated `wchar_t` string (UTF-32 on Linux).
fn wide_string(s: &str) -> Vec<libc::wchar_t> {
    s.chars().map(|c| c as libc::wchar_t).chain(std::iter::once(0)).collect()
}

/// `sys.setswitchinterval()` for the whole process (the GIL is shared by
/// every interpreter); the main interpreter's GIL is held.
fn set_switch_interval(interval: std::time::Duration) {
    super::attached::run(|py| {
        use pyo3::types::PyAnyMethods;
        let set = py.import("sys").and_then(|sys| sys.call_method1("setswitchinterval", (interval.as_secs_f64(),)));
        if let Err(e) = set {
            super::io::log_process(
                crate::common::log::LogLevel::Error,
                &with_pid(format_args!("cannot set the switch interval: {e}.")),
            );
        }
    });
}

/// Raises `SystemExit` in the Python code running on the thread whose
/// `threading.get_ident()` is `ident` (in the main interpreter), the next
/// time it runs bytecode; whether that thread was found.
pub fn raise_system_exit_in(ident: u64) -> bool {
    let Ok(_entered) = interpreters::enter("", super::interpreter_setup::setup) else { return false };
    // SAFETY: the GIL is held in the main interpreter; SystemExit is a
    // static type object that SetAsyncExc increments.
    unsafe { ffi::PyThreadState_SetAsyncExc(ident as std::ffi::c_long, ffi::PyExc_SystemExit) == 1 }
}

/// Ends every sub-interpreter, then Python itself (non-daemon threads are
/// joined and atexit handlers run, as at the end of a Python program).
/// Called from the process's exit path, once no request is running. When
/// that takes longer than `limit` (a thread that never ends, an exit
/// function that hangs), the process exits without waiting further.
pub fn finalize(limit: std::time::Duration) {
    if !STARTED.load(Ordering::SeqCst) {
        return;
    }
    if !DESTROY.load(Ordering::SeqCst) {
        // WSGIDestroyInterpreter Off: the process exits with Python as it
        // is (no exit functions), as mod_wsgi does.
        return;
    }
    let Some(main_t) = interpreters::main_thread_state() else {
        return;
    };
    exit_after(limit);
    // While Python is whole and threads the subscribers own can still be
    // told to stop (finalisation waits for non-daemon threads).
    super::events::process_stopping();
    // SAFETY: this thread's main thread state takes the GIL. The request
    // threads have stopped, so their thread states are deleted first: that
    // releases the lock `threading` keeps for a thread it took for its main
    // thread (the thread that first imported it), which
    // `threading._shutdown` would otherwise wait for forever. Each
    // sub-interpreter is entered by swapping in this thread's state for it
    // (the GIL is shared in 3.11); Py_EndInterpreter needs that state to be
    // the interpreter's only one, so the states of other threads are
    // cleared and deleted first. It returns with the GIL still held and no
    // state current, so the main state is swapped back. Py_FinalizeEx then
    // joins non-daemon threads and runs the main interpreter's atexit
    // handlers.
    unsafe {
        ffi::PyEval_RestoreThread(main_t);
        for t in interpreters::take_request_states() {
            if t != main_t {
                ffi::PyThreadState_Clear(t);
                ffi::PyThreadState_Delete(t);
            }
        }
        for (_, interp) in interpreters::take_all_groups() {
            let t = interpreters::thread_state_for_teardown(interp);
            ffi::PyThreadState_Swap(t);
            let mut other = ffi::PyInterpreterState_ThreadHead(interp);
            while !other.is_null() {
                let next = ffi::PyThreadState_Next(other);
                if other != t {
                    ffi::PyThreadState_Clear(other);
                    ffi::PyThreadState_Delete(other);
                }
                other = next;
            }
            ffi::Py_EndInterpreter(t);
            ffi::PyThreadState_Swap(main_t);
        }
        ffi::Py_FinalizeEx();
    }
}

/// Ends the process `limit` from now unless it has exited by then.
fn exit_after(limit: std::time::Duration) {
    let spawned = std::thread::Builder::new().name("wsgi-exit-limit".into()).spawn(move || {
        std::thread::sleep(limit);
        super::io::log_process(
            crate::common::log::LogLevel::Error,
            &with_pid(format_args!("Python did not finish shutting down within {:.1}s (a non-daemon thread still running, or an exit function that does not return); exiting without waiting for it.", limit.as_secs_f64())),
        );
        // SAFETY: ends the process at once; nothing else may run after the
        // limit, and Apache's own exit handlers belong to its parent.
        unsafe { libc::_exit(1) }
    });
    if let Err(e) = spawned {
        super::io::log_process(
            crate::common::log::LogLevel::Warning,
            &with_pid(format_args!("cannot bound the time Python takes to shut down: {e}.")),
        );
    }
}
