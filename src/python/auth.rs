//! The functions of access and auth scripts (`WSGIAccessScript`,
//! `WSGIAuthUserScript`, `WSGIAuthGroupScript`): `allow_access`,
//! `check_password`, `get_realm_hash` and `groups_for_user`, called in the
//! Apache child (never a daemon) in the script's application group, with a
//! cut-down environ. The script is loaded as WSGI scripts are, and loaded
//! again when its file changes.
//!
//! What the functions return is checked strictly: anything but the
//! documented answers is an error the caller turns into a 500, never a
//! guess that could let a request through.

use super::call::{file_mtime, traceback_lines};
use super::environ::{self, Vars};
use super::errors;
use super::interpreter_setup::COMPAT_VERSION;
use super::interpreters;
use super::io::{SharedIo, TakeBack, with_io};
use super::script::{self, Obtained, Script, ScriptError};
use super::strings::latin1;
use crate::common::io::RequestIo;
use crate::common::log::{LogLevel, with_pid};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyString, PyTuple};
use std::sync::Arc;

/// Which function to call, with its arguments (as Apache has them).
#[derive(Debug, Clone)]
pub enum Question {
    /// `allow_access(environ, host)`.
    AllowAccess { host: Option<Vec<u8>> },
    /// `check_password(environ, user, password)` (Basic).
    CheckPassword { user: Vec<u8>, password: Vec<u8> },
    /// `get_realm_hash(environ, user, realm)` (Digest).
    GetRealmHash { user: Vec<u8>, realm: Vec<u8> },
    /// `groups_for_user(environ, user)`.
    GroupsForUser { user: Vec<u8> },
    /// `WSGIDispatchScript`'s `process_group(environ)`,
    /// `application_group(environ)` or `callable_object(environ)`; each is
    /// optional.
    Dispatch(&'static str),
}

impl Question {
    pub fn function(&self) -> &'static str {
        match self {
            Question::AllowAccess { .. } => "allow_access",
            Question::CheckPassword { .. } => "check_password",
            Question::GetRealmHash { .. } => "get_realm_hash",
            Question::GroupsForUser { .. } => "groups_for_user",
            Question::Dispatch(function) => function,
        }
    }

    /// mod_wsgi's name for the script, in its messages.
    fn role(&self) -> &'static str {
        match self {
            Question::AllowAccess { .. } => "host access",
            Question::CheckPassword { .. } | Question::GetRealmHash { .. } => "user authentication",
            Question::GroupsForUser { .. } => "group authentication",
            Question::Dispatch(_) => "dispatch",
        }
    }

    /// mod_wsgi's name for what the function provides.
    fn provides(&self) -> &'static str {
        match self {
            Question::AllowAccess { .. } => "host validator",
            Question::CheckPassword { .. } => "'Basic' auth provider",
            Question::GetRealmHash { .. } => "'Digest' auth provider",
            Question::GroupsForUser { .. } => "group provider",
            Question::Dispatch(_) => "dispatch function",
        }
    }

    /// What the function may return, for the error about anything else.
    fn expected(&self) -> &'static str {
        match self {
            Question::AllowAccess { .. } => "True, False or None",
            Question::CheckPassword { .. } => "True, False, None or the user name as a non-empty str",
            Question::GetRealmHash { .. } => "None or the MD5 hex digest of 'user:realm:password' as str or bytes",
            Question::GroupsForUser { .. } => "an iterable of group names, each a str or bytes",
            Question::Dispatch(_) => "None or a str",
        }
    }
}

/// One call of a script function.
pub struct ScriptCall {
    pub script: String,
    pub module_name: String,
    pub application_group: String,
    /// `WSGIScriptReloading`: load the file again when it changed.
    pub reload: bool,
    /// The environ's CGI-style variables.
    pub vars: Vars,
    pub question: Question,
}

/// What `check_password` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    Granted,
    /// Granted, with this name (UTF-8) for the user from now on.
    GrantedAs(Vec<u8>),
    Denied,
    NoSuchUser,
}

/// A function's answer, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `Some(allowed)`, or `None` to leave it to the other rules.
    Access(Option<bool>),
    Password(Password),
    /// The MD5 hex digest, or `None` for no such user.
    RealmHash(Option<Vec<u8>>),
    Groups(Vec<Vec<u8>>),
    /// A dispatch function's choice; `None`: leave the request's own.
    Name(Option<String>),
}

/// Why a script gave no answer. Each is logged (once, naming the script and
/// the function) by [`call`] before it returns.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{source}; {function}() of WSGI script '{script}' was not called.")]
    Interpreter {
        script: String,
        function: &'static str,
        #[source]
        source: interpreters::EnterError,
    },
    #[error("Target WSGI {role} script '{script}' cannot be loaded as Python module, so {function}() was not called.")]
    Load { role: &'static str, script: String, function: &'static str },
    #[error("Target WSGI {role} script '{script}' does not provide {provides} {function}().")]
    NoFunction { role: &'static str, provides: &'static str, script: String, function: &'static str },
    #[error("Exception occurred in {function}() of WSGI script '{script}'.")]
    Raised { script: String, function: &'static str },
    #[error("{function}() of WSGI script '{script}' returned {found}; it must return {expected}.")]
    WrongType { script: String, function: &'static str, found: String, expected: &'static str },
    #[error("Internal error calling {function}() of WSGI script '{script}'.")]
    Internal { script: String, function: &'static str },
}

/// Calls the script's function, logging through `io` (the script's
/// `wsgi.errors` too) what went wrong, if anything.
pub fn call(c: &ScriptCall, io: Box<dyn RequestIo>) -> Result<Answer, AuthError> {
    let io: SharedIo = Arc::new(Mutex::new(Some(io)));
    let _take_back = TakeBack(&io);
    let function = c.question.function();
    let result = match interpreters::enter(&c.application_group, super::interpreter_setup::setup) {
        Ok(_entered) => super::attached::run(|py| in_interpreter(py, c, &io))
            .unwrap_or_else(|| Err(AuthError::Internal { script: c.script.clone(), function })),
        Err(source) => {
            let e = AuthError::Interpreter { script: c.script.clone(), function, source };
            if let Some(io) = io.lock().as_mut() {
                io.log(LogLevel::Error, &with_pid(&e));
            }
            Err(e)
        }
    };
    // A wsgi.errors the script kept must not reach a finished request.
    io.lock().take();
    result
}

fn log(py: Python<'_>, io: &SharedIo, level: LogLevel, msg: &str) {
    let _ = with_io(py, io, |io| {
        io.log(level, msg);
        Ok(())
    });
}

/// Logs `e` (and the traceback of `err`, if any) and returns it.
fn fail(py: Python<'_>, io: &SharedIo, e: AuthError, err: Option<&PyErr>) -> AuthError {
    log(py, io, LogLevel::Error, &with_pid(&e));
    if let Some(err) = err {
        for line in traceback_lines(py, err) {
            log(py, io, LogLevel::Error, &line);
        }
    }
    e
}

fn in_interpreter(py: Python<'_>, c: &ScriptCall, io: &SharedIo) -> Result<Answer, AuthError> {
    let function = c.question.function();
    let script = Script {
        path: &c.script,
        module_name: &c.module_name,
        mtime: file_mtime(&c.script),
        reload: c.reload,
        restart_on_change: false,
    };
    let module = match script::module(py, &script) {
        Ok((module, how)) => {
            let what = match how {
                Obtained::Cached => None,
                Obtained::Loaded => Some("Loading Python script file"),
                Obtained::Reloaded => Some("Reloading Python script file"),
            };
            if let Some(what) = what {
                log(py, io, LogLevel::Info, &script::load_line("", &c.application_group, what, &c.script));
            }
            module
        }
        Err(ScriptError::Load { err, .. }) => {
            let e = AuthError::Load { role: c.question.role(), script: c.script.clone(), function };
            return Err(fail(py, io, e, Some(&err)));
        }
        // Not asked for (restart_on_change is off); no answer either way.
        Err(ScriptError::NoCallable { .. } | ScriptError::Changed { .. }) => {
            return Err(fail(py, io, AuthError::Internal { script: c.script.clone(), function }, None));
        }
    };
    let Ok(func) = module.getattr(function) else {
        if matches!(c.question, Question::Dispatch(_)) {
            return Ok(Answer::Name(None));
        }
        let e = AuthError::NoFunction {
            role: c.question.role(),
            provides: c.question.provides(),
            script: c.script.clone(),
            function,
        };
        return Err(fail(py, io, e, None));
    };
    let errors = errors::request_stream(py, io.clone())
        .map_err(|err| fail(py, io, AuthError::Raised { script: c.script.clone(), function }, Some(&err)))?;
    let outcome = invoke(py, c, io, &func, &errors.wrapper);
    // What the script wrote without a newline is logged now.
    errors::finish(py, errors);
    let raised = |err: PyErr| fail(py, io, AuthError::Raised { script: c.script.clone(), function }, Some(&err));
    let result = outcome.map_err(raised)?;
    match answer(&c.question, &result) {
        Ok(a) => Ok(a),
        Err(Bad::Raised(err)) => Err(raised(err)),
        Err(Bad::Type(found)) => {
            let e = AuthError::WrongType { script: c.script.clone(), function, found, expected: c.question.expected() };
            Err(fail(py, io, e, None))
        }
    }
}

/// The environ (mod_wsgi's cut-down one) and the call itself.
fn invoke<'py>(
    py: Python<'py>,
    c: &ScriptCall,
    io: &SharedIo,
    func: &Bound<'py, PyAny>,
    errors: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let env = PyDict::new(py);
    for (name, value) in c.vars.iter() {
        env.set_item(PyString::new(py, &String::from_utf8_lossy(name)), environ::var_value(py, name, value)?)?;
    }
    env.set_item("mod_wsgi.version", PyTuple::new(py, [COMPAT_VERSION.0, COMPAT_VERSION.1, COMPAT_VERSION.2])?)?;
    env.set_item("mod_wsgi.process_group", "")?;
    env.set_item("mod_wsgi.application_group", &c.application_group)?;
    env.set_item("mod_wsgi.script_reloading", i32::from(c.reload))?;
    env.set_item("wsgi.errors", errors)?;
    env.set_item("mod_ssl.is_https", Bound::new(py, SslHelper { io: io.clone(), lookup: false })?)?;
    env.set_item("mod_ssl.var_lookup", Bound::new(py, SslHelper { io: io.clone(), lookup: true })?)?;
    match &c.question {
        Question::AllowAccess { host } => {
            let host = match host {
                Some(h) => latin1(py, h)?.into_any(),
                None => py.None().into_bound(py),
            };
            func.call1((env, host))
        }
        Question::CheckPassword { user, password } => func.call1((env, latin1(py, user)?, latin1(py, password)?)),
        Question::GetRealmHash { user, realm } => func.call1((env, latin1(py, user)?, latin1(py, realm)?)),
        Question::GroupsForUser { user } => func.call1((env, latin1(py, user)?)),
        Question::Dispatch(_) => func.call1((env,)),
    }
}

/// Why a result is no answer.
enum Bad {
    /// Python raised while the result was read (iterating it).
    Raised(PyErr),
    /// Described as in "returned {found}".
    Type(String),
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

fn a_value_of_type(v: &Bound<'_, PyAny>) -> String {
    format!("a value of type {}", type_name(v))
}

/// `s` as latin-1 bytes, if every char fits.
fn latin1_bytes(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// Reads a function's result as the answer it must be.
fn answer(question: &Question, result: &Bound<'_, PyAny>) -> Result<Answer, Bad> {
    let as_bool = || result.cast::<PyBool>().ok().map(|b| b.is_true());
    match question {
        Question::AllowAccess { .. } => {
            if result.is_none() {
                return Ok(Answer::Access(None));
            }
            as_bool().map(|b| Answer::Access(Some(b))).ok_or_else(|| Bad::Type(a_value_of_type(result)))
        }
        Question::CheckPassword { .. } => {
            if result.is_none() {
                return Ok(Answer::Password(Password::NoSuchUser));
            }
            if let Some(b) = as_bool() {
                return Ok(Answer::Password(if b { Password::Granted } else { Password::Denied }));
            }
            let Ok(name) = result.cast::<PyString>() else { return Err(Bad::Type(a_value_of_type(result))) };
            let name = name.to_str().map_err(Bad::Raised)?;
            // A NUL would cut the name short in Apache: "admin\0x" is not "admin".
            if name.is_empty() || name.contains('\0') {
                return Err(Bad::Type(format!("the user name {name:?}")));
            }
            Ok(Answer::Password(Password::GrantedAs(name.as_bytes().to_vec())))
        }
        Question::GetRealmHash { .. } => {
            if result.is_none() {
                return Ok(Answer::RealmHash(None));
            }
            if let Ok(b) = result.cast::<PyBytes>() {
                return Ok(Answer::RealmHash(Some(b.as_bytes().to_vec())));
            }
            let Ok(s) = result.cast::<PyString>() else { return Err(Bad::Type(a_value_of_type(result))) };
            let s = s.to_str().map_err(Bad::Raised)?;
            latin1_bytes(s)
                .map(|b| Answer::RealmHash(Some(b)))
                .ok_or_else(|| Bad::Type("a str with characters beyond latin-1".into()))
        }
        Question::GroupsForUser { .. } => {
            // A str is iterable too, one group per character: surely a mistake.
            if result.is_instance_of::<PyString>() || result.is_instance_of::<PyBytes>() {
                return Err(Bad::Type(format!("a single {}", type_name(result))));
            }
            let Ok(items) = result.try_iter() else { return Err(Bad::Type(a_value_of_type(result))) };
            let mut groups = Vec::new();
            for item in items {
                let item = item.map_err(Bad::Raised)?;
                if let Ok(b) = item.cast::<PyBytes>() {
                    groups.push(b.as_bytes().to_vec());
                } else if let Ok(s) = item.cast::<PyString>() {
                    let s = s.to_str().map_err(Bad::Raised)?;
                    let b = latin1_bytes(s)
                        .ok_or_else(|| Bad::Type(format!("the group name {s:?}, with characters beyond latin-1")))?;
                    groups.push(b);
                } else {
                    return Err(Bad::Type(format!("a group name of type {}", type_name(&item))));
                }
            }
            Ok(Answer::Groups(groups))
        }
        Question::Dispatch(_) => {
            if result.is_none() {
                return Ok(Answer::Name(None));
            }
            let Ok(s) = result.cast::<PyString>() else { return Err(Bad::Type(a_value_of_type(result))) };
            Ok(Answer::Name(Some(s.to_str().map_err(Bad::Raised)?.to_string())))
        }
    }
}

/// `environ['mod_ssl.is_https']()` and `environ['mod_ssl.var_lookup'](name)`,
/// as mod_wsgi gives these scripts: they ask mod_ssl about the request
/// while the script runs, and raise once it has returned.
#[pyclass(module = "mod_wsgi")]
struct SslHelper {
    io: SharedIo,
    /// `var_lookup` (else `is_https`).
    lookup: bool,
}

fn expired(_: crate::common::io::IoError) -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err("request object has expired")
}

#[pymethods]
impl SslHelper {
    #[pyo3(signature = (*args))]
    fn __call__<'py>(&self, py: Python<'py>, args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        use pyo3::exceptions::PyTypeError;
        if !self.lookup {
            if !args.is_empty() {
                return Err(PyTypeError::new_err("ssl_is_https() takes no arguments"));
            }
            let on = with_io(py, &self.io, |io| Ok(io.ssl_is_https())).map_err(expired)?;
            return Ok(i32::from(on).into_pyobject(py)?.into_any());
        }
        if args.len() != 1 {
            return Err(PyTypeError::new_err("ssl_var_lookup() takes exactly one argument"));
        }
        let item = args.get_item(0)?;
        let name = if let Ok(b) = item.cast::<PyBytes>() {
            b.as_bytes().to_vec()
        } else if let Ok(s) = item.cast::<PyString>() {
            latin1_bytes(s.to_str()?).ok_or_else(|| {
                PyTypeError::new_err("byte string value expected, value containing non 'latin-1' characters found")
            })?
        } else {
            let found = type_name(&item);
            return Err(PyTypeError::new_err(format!("byte string value expected, value of type {found} found")));
        };
        match with_io(py, &self.io, move |io| Ok(io.ssl_var_lookup(&name))).map_err(expired)? {
            Some(v) => Ok(latin1(py, &v)?.into_any()),
            None => Ok(py.None().into_bound(py)),
        }
    }
}
