//! The `wsgi-script` handler: checks the request as mod_wsgi does, builds
//! the environ from Apache's CGI variables, and runs the application.

use super::translate::{HANDLER, notes};
use crate::apache::log::{self, Level};
use crate::apache::request::{FileKind, Request};
use crate::apache::request_io::ApacheIo;
use crate::ffi;
use crate::python::call::{self, Outcome, WsgiCall};
use crate::python::environ::EnvironFlags;
use wsgi_core::config::{AppGroup, CallableObject, DirConfig};
use wsgi_core::names;

pub extern "C" fn handler(r: *mut ffi::request_rec) -> i32 {
    super::guard("handler", ffi::HTTP_INTERNAL_SERVER_ERROR as i32, || {
        // SAFETY: Apache passes the live request.
        let req = unsafe { Request::new(r) };
        handle(req)
    })
}

fn is_ours(handler: &str) -> bool {
    handler == HANDLER.to_str().unwrap_or_default() || handler == "application/x-httpd-wsgi"
}

fn handle(req: Request) -> i32 {
    let Some(h) = req.handler() else {
        return ffi::DECLINED as i32;
    };
    if !is_ours(&h) {
        return ffi::DECLINED as i32;
    }
    let pid = std::process::id();
    let filename = req.filename();
    let aliased = req.note(notes::FORCED_TYPE).as_deref() == Some("wsgi-script");
    if !aliased && !req.exec_cgi_allowed() {
        log::request(
            Level::Error,
            req.raw(),
            &format!("mod_wsgi (pid={pid}): Options ExecCGI is off in this directory: {filename}"),
        );
        return ffi::HTTP_FORBIDDEN as i32;
    }
    match req.file_kind() {
        FileKind::Regular => {}
        FileKind::Directory => {
            log::request(
                Level::Error,
                req.raw(),
                &format!(
                    "mod_wsgi (pid={pid}): Attempt to invoke directory as WSGI application: {filename}"
                ),
            );
            return ffi::HTTP_FORBIDDEN as i32;
        }
        _ => {
            log::request(
                Level::Error,
                req.raw(),
                &format!(
                    "mod_wsgi (pid={pid}): Target WSGI script not found or unable to stat: {filename}"
                ),
            );
            return ffi::HTTP_NOT_FOUND as i32;
        }
    }
    // SAFETY: the per-dir record for this request was built by our merge.
    let dir =
        unsafe { &*crate::apache::server::module_config::<DirConfig>((*req.raw()).per_dir_config) };
    let status = req.setup_client_block(dir.chunked_request.unwrap_or(false));
    if status != ffi::OK as i32 {
        return status;
    }
    let (remaining, limit) = req.body_limits();
    if limit > 0 && remaining > 0 && limit < remaining as u64 {
        // Apache answers 413 itself while discarding an over-long body.
        req.discard_body();
        return ffi::OK as i32;
    }
    let call = build_call(req, dir, &filename);
    match call::run(call, Box::new(ApacheIo::new(req))) {
        Outcome::Sent => ffi::OK as i32,
        Outcome::Failed(code) => code as i32,
    }
}

/// A value from request notes, then subprocess_env, then the process
/// environment, as `%{ENV:name}` is resolved by mod_wsgi.
fn env_lookup(req: Request, name: &str) -> Option<String> {
    req.note(name)
        .or_else(|| {
            req.subprocess_env()
                .get(name)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
        .or_else(|| std::env::var(name).ok())
}

fn build_call(req: Request, dir: &DirConfig, filename: &str) -> WsgiCall {
    req.add_cgi_vars();
    let env = req.subprocess_env();
    env.unset("HTTP_PROXY");
    let pass_auth = match req.note(notes::PASS_AUTHORIZATION).as_deref() {
        Some(v) => v == "1",
        None => dir.pass_authorization.unwrap_or(false),
    };
    if pass_auth && let Some(auth) = req.headers_in().get("Authorization") {
        env.set("HTTP_AUTHORIZATION", &String::from_utf8_lossy(auth));
    }
    if env.get("PATH_INFO").is_none() {
        env.set("PATH_INFO", "");
    }
    if env.get("SCRIPT_NAME") == Some(b"/") {
        env.set("SCRIPT_NAME", "");
    }
    let script_name = env
        .get("SCRIPT_NAME")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    let server = req.server();
    let port = env
        .get("SERVER_PORT")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    let https = env
        .get("HTTPS")
        .is_some_and(|v| matches!(v, b"1" | b"on" | b"On" | b"ON"));

    let app_group = match req.note(notes::APPLICATION_GROUP) {
        Some(text) => AppGroup::parse(&text),
        None => dir.application_group.clone().unwrap_or(AppGroup::Resource),
    };
    let application_group =
        names::expand_application_group(&app_group, &server.hostname(), &port, &script_name, |n| {
            env_lookup(req, n)
        });
    let callable = match req.note(notes::CALLABLE_OBJECT) {
        Some(text) => CallableObject::parse(&text),
        None => dir
            .callable_object
            .clone()
            .unwrap_or(CallableObject::Named("application".into())),
    };
    let callable = match callable {
        CallableObject::Named(n) => n,
        CallableObject::Env(var) => env_lookup(req, &var).unwrap_or_else(|| "application".into()),
    };
    let reload = dir.script_reloading.unwrap_or(true);
    env.set("mod_wsgi.process_group", "");
    env.set("mod_wsgi.application_group", &application_group);
    env.set("mod_wsgi.callable_object", &callable);
    env.set(
        "mod_wsgi.request_handler",
        &req.handler().unwrap_or_default(),
    );
    env.set("mod_wsgi.script_reloading", if reload { "1" } else { "0" });

    let threaded = Request::mpm_query(ffi::AP_MPMQ_MAX_THREADS) > 1;
    let forked = Request::mpm_query(ffi::AP_MPMQ_MAX_DAEMONS) > 1;
    WsgiCall {
        script_path: filename.to_string(),
        module_name: names::script_module_name(filename, true),
        mtime: req.file_mtime(),
        reload,
        application_group,
        callable,
        vars: env.entries(),
        flags: EnvironFlags {
            https,
            multithread: threaded,
            multiprocess: forked,
        },
    }
}
