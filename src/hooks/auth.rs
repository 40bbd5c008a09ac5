//! Apache's access control phases in Python, as mod_wsgi offers them:
//! - the `access_checker` hook runs `WSGIAccessScript`'s `allow_access`;
//! - authentication provider `wsgi` (`AuthBasicProvider wsgi`,
//!   `AuthDigestProvider wsgi`) runs `WSGIAuthUserScript`'s
//!   `check_password` or `get_realm_hash`;
//! - authorization provider `wsgi-group` (`Require wsgi-group a b`) runs
//!   `WSGIAuthGroupScript`'s `groups_for_user`.
//!
//! They run in the Apache child whatever the request's process group,
//! for static files as for WSGI applications. A script that cannot answer
//! (missing, broken, raising, returning something else) makes the request
//! a 500; the script call has logged why.

use crate::apache::auth::{LogOnlyIo, register_authn_provider, register_authz_provider};
use crate::apache::log;
use crate::apache::pool::Pool;
use crate::apache::request::Request;
use crate::common::log::{LogLevel, with_pid};
use crate::ffi;
use crate::python::auth::{self as script, Answer, Password, Question, ScriptCall};
use std::ffi::{c_char, c_void};
use wsgi_core::auth::{GroupVerdict, group_verdict};
use wsgi_core::config::{DirConfig, ScriptFile};
use wsgi_core::names::{self, RequestNames};

static AUTHN: ffi::authn_provider =
    ffi::authn_provider { check_password: Some(check_password), get_realm_hash: Some(get_realm_hash) };

static AUTHZ: ffi::authz_provider =
    ffi::authz_provider { check_authorization: Some(check_authorization), parse_require_line: None };

/// Registers the providers and the access hook (from `register_hooks`).
pub fn register(pool: Pool<'_>) {
    register_authn_provider(pool, c"wsgi", &AUTHN);
    register_authz_provider(pool, c"wsgi-group", &AUTHZ);
    // The plain access_checker hook, as mod_wsgi: under `Satisfy Any` an
    // allowing script then lets the request through without a user.
    // SAFETY: registering a 'static function without ordering constraints.
    unsafe {
        ffi::ap_hook_access_checker(
            Some(access_checker),
            std::ptr::null(),
            std::ptr::null(),
            ffi::APR_HOOK_MIDDLE as i32,
        )
    };
}

fn error(req: Request<'_>, msg: &str) {
    log::request(LogLevel::Error, req, &with_pid(msg));
}

/// The call asking `question` of `file`, for this request.
fn script_call(req: Request<'_>, dir: &DirConfig, file: &ScriptFile, question: Question) -> ScriptCall {
    let (server, hostname, port) = req.server_names();
    let port = port.to_string();
    let request_names =
        RequestNames { server_hostname: &server, request_hostname: hostname.as_deref(), port: &port, script_name: "" };
    let case_sensitive = req.server().record().cfg.case_sensitivity.unwrap_or(true);
    let mut vars = req.script_environ();
    // SAFETY: a static string of the shim.
    let version = unsafe { crate::apache::cstr::string(ffi::wsgi_shim_server_version()) };
    vars.push(crate::python::environ::APACHE_VERSION_KEY.as_bytes(), version.as_bytes());
    ScriptCall {
        script: file.path.clone(),
        module_name: names::script_module_name(&file.path, case_sensitive),
        application_group: names::expand_script_group(file.application_group.as_ref(), &request_names),
        reload: dir.script_reloading.unwrap_or(true),
        vars,
        question,
    }
}

/// Asks `question` of `file`; `None` when the script gave no answer (logged).
pub(super) fn run(req: Request<'_>, dir: &DirConfig, file: &ScriptFile, question: Question) -> Option<Answer> {
    let call = script_call(req, dir, file, question);
    // SAFETY: script::call takes the I/O back before it returns.
    let io = unsafe { crate::python::io::unbound(Box::new(LogOnlyIo::new(req))) };
    script::call(&call, io).ok()
}

/// A C string argument from Apache, as bytes (empty for null).
///
/// # Safety
/// `p` must be null or a NUL-terminated string alive for the hook call.
unsafe fn arg<'a>(p: *const c_char) -> &'a [u8] {
    // SAFETY: forwarded from the caller.
    unsafe { crate::apache::cstr::bytes(p) }.unwrap_or_default()
}

extern "C" fn access_checker(r: *mut ffi::request_rec) -> i32 {
    super::guard("access_checker", ffi::HTTP_INTERNAL_SERVER_ERROR as i32, || {
        // SAFETY: Apache passes the live request, for this call.
        let req = unsafe { Request::from_raw(r) };
        let dir = req.dir_config();
        let Some(file) = &dir.access_script else { return ffi::DECLINED };
        match run(req, dir, file, Question::AllowAccess { host: req.client_host() }) {
            Some(Answer::Access(None)) => ffi::DECLINED,
            Some(Answer::Access(Some(true))) => ffi::OK as i32,
            Some(Answer::Access(Some(false))) => {
                // Under `Satisfy Any` a user may still get in: not an error yet.
                if !req.satisfies_any() || !req.some_auth_required() {
                    error(req, &format!("Client denied by server configuration: '{}'.", req.filename()));
                }
                ffi::HTTP_FORBIDDEN as i32
            }
            Some(_) | None => ffi::HTTP_INTERNAL_SERVER_ERROR as i32,
        }
    })
}

/// The user script of this request, or `None` (logged: `AuthBasicProvider
/// wsgi` without `WSGIAuthUserScript` is a configuration error).
fn user_script<'r>(req: Request<'r>) -> Option<(&'r DirConfig, &'r ScriptFile)> {
    let dir = req.dir_config();
    match &dir.auth_user_script {
        Some(file) => Some((dir, file)),
        None => {
            error(req, "Location of WSGI user authentication script not provided.");
            None
        }
    }
}

unsafe extern "C" fn check_password(
    r: *mut ffi::request_rec,
    user: *const c_char,
    password: *const c_char,
) -> ffi::authn_status {
    super::guard("check_password", ffi::authn_status_AUTH_GENERAL_ERROR, || {
        // SAFETY: Apache passes the live request and two strings of it, for this call.
        let (req, user, password) = unsafe { (Request::from_raw(r), arg(user), arg(password)) };
        let Some((dir, file)) = user_script(req) else { return ffi::authn_status_AUTH_GENERAL_ERROR };
        let question = Question::CheckPassword { user: user.to_vec(), password: password.to_vec() };
        match run(req, dir, file, question) {
            Some(Answer::Password(Password::Granted)) => ffi::authn_status_AUTH_GRANTED,
            Some(Answer::Password(Password::GrantedAs(name))) => {
                req.set_user(&name);
                ffi::authn_status_AUTH_GRANTED
            }
            Some(Answer::Password(Password::Denied)) => ffi::authn_status_AUTH_DENIED,
            Some(Answer::Password(Password::NoSuchUser)) => ffi::authn_status_AUTH_USER_NOT_FOUND,
            Some(_) | None => ffi::authn_status_AUTH_GENERAL_ERROR,
        }
    })
}

unsafe extern "C" fn get_realm_hash(
    r: *mut ffi::request_rec,
    user: *const c_char,
    realm: *const c_char,
    rethash: *mut *mut c_char,
) -> ffi::authn_status {
    super::guard("get_realm_hash", ffi::authn_status_AUTH_GENERAL_ERROR, || {
        // SAFETY: Apache passes the live request and two strings of it, for this call.
        let (req, user, realm) = unsafe { (Request::from_raw(r), arg(user), arg(realm)) };
        let Some((dir, file)) = user_script(req) else { return ffi::authn_status_AUTH_GENERAL_ERROR };
        let question = Question::GetRealmHash { user: user.to_vec(), realm: realm.to_vec() };
        match run(req, dir, file, question) {
            Some(Answer::RealmHash(Some(hash))) if !rethash.is_null() => {
                // SAFETY: mod_auth_digest passes where the hash goes; the
                // string is in the request pool, as it expects.
                unsafe { *rethash = req.pool().copy(&hash) };
                ffi::authn_status_AUTH_USER_FOUND
            }
            Some(Answer::RealmHash(None)) => ffi::authn_status_AUTH_USER_NOT_FOUND,
            Some(_) | None => ffi::authn_status_AUTH_GENERAL_ERROR,
        }
    })
}

unsafe extern "C" fn check_authorization(
    r: *mut ffi::request_rec,
    require_args: *const c_char,
    _parsed: *const c_void,
) -> ffi::authz_status {
    super::guard("check_authorization", ffi::authz_status_AUTHZ_GENERAL_ERROR, || {
        // SAFETY: Apache passes the live request and the Require line's
        // arguments, for this call.
        let (req, require_args) = unsafe { (Request::from_raw(r), wsgi_core::text::lossy(arg(require_args))) };
        // Without a user yet, Apache asks again after authentication; a
        // denial now would be a 403 where a wrong password must be a 401.
        let Some(user) = req.user().map(<[u8]>::to_vec) else { return ffi::authz_status_AUTHZ_DENIED_NO_USER };
        let dir = req.dir_config();
        let Some(file) = &dir.auth_group_script else {
            error(req, "Location of WSGI group authorization script not provided.");
            return ffi::authz_status_AUTHZ_GENERAL_ERROR;
        };
        let groups = match run(req, dir, file, Question::GroupsForUser { user: user.clone() }) {
            Some(Answer::Groups(g)) => g,
            Some(_) | None => return ffi::authz_status_AUTHZ_GENERAL_ERROR,
        };
        let authoritative = dir.group_authoritative.unwrap_or(true);
        let user = wsgi_core::text::lossy(&user);
        let failed = |why: &str| {
            error(req, &format!("Authorization of user '{user}' to access '{}' failed. {why}", req.uri()));
            ffi::authz_status_AUTHZ_DENIED
        };
        match group_verdict(&groups, &require_args, authoritative) {
            GroupVerdict::Granted => ffi::authz_status_AUTHZ_GRANTED,
            GroupVerdict::NoGroups => failed("User is not a member of any groups."),
            GroupVerdict::NotMember => failed("User is not a member of designated groups."),
            GroupVerdict::PassedOn => ffi::authz_status_AUTHZ_NEUTRAL,
        }
    })
}
