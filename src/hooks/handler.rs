//! The `wsgi-script` handler: checks the request as mod_wsgi does, builds
//! the environ from Apache's CGI variables, and runs the application here
//! (embedded mode) or hands it to a daemon process group.

use super::translate::notes;
use crate::apache::log;
use crate::apache::request::{FileKind, Request};
use crate::apache::request_io::ApacheIo;
use crate::apache::server::ServerRecord;
use crate::common::io::Outcome;
use crate::common::log::{LogLevel, with_pid};
use crate::daemon::{self, Registry, child_side};
use crate::ffi;
use crate::python::call::{self, WsgiCall};
use crate::python::environ::{self, EnvironFlags, Vars};
use std::ffi::CStr;
use std::sync::Arc;
use wsgi_core::config::DirConfig;
use wsgi_core::delegation::{self, Restrictions, Target};
use wsgi_core::names;
use wsgi_core::request_body;
use wsgi_core::request_environ::{self, CgiFacts, Fixup};
use wsgi_core::script_file::{self, ScriptFacts};

pub extern "C" fn handler(r: *mut ffi::request_rec) -> i32 {
    super::guard("handler", ffi::HTTP_INTERNAL_SERVER_ERROR as i32, || {
        // SAFETY: Apache passes the live request, for this call.
        let req = unsafe { Request::from_raw(r) };
        handle(req)
    })
}

/// Logs `msg` against the request (prefixed as mod_wsgi does) and returns `status`.
fn refuse(req: Request<'_>, status: u32, msg: &str) -> i32 {
    log::request(LogLevel::Error, req, &with_pid(msg));
    status as i32
}

/// `WSGIHandlerScript` for the request's handler: the script and its
/// options go in the request's notes, as a WSGIScriptAlias's do.
fn take_handler_script(req: Request<'_>, handler: &str) -> bool {
    let Some(script) = req.dir_config().handler_scripts.get(handler) else { return false };
    req.notes().set(notes::HANDLER_SCRIPT, &script.path);
    notes::set_options(
        req,
        script.process_group.as_ref(),
        script.application_group.as_ref(),
        Some("handle_request"),
        script.pass_authorization,
    );
    true
}

fn handle(req: Request<'_>) -> i32 {
    let Some(h) = req.handler() else { return ffi::DECLINED };
    let handler_script = !script_file::is_wsgi_handler(&h) && take_handler_script(req, &h);
    if !script_file::is_wsgi_handler(&h) && !handler_script {
        return ffi::DECLINED;
    }
    if let Err(status) = super::dispatch_script::apply(req) {
        return status;
    }
    let kind = req.file_kind();
    let facts = ScriptFacts {
        handler_script,
        aliased: req.note(notes::FORCED_TYPE).as_deref() == Some("wsgi-script"),
        exec_cgi: req.exec_cgi_allowed(),
        regular_file: matches!(kind, FileKind::Regular),
        directory: matches!(kind, FileKind::Directory),
    };
    if let Err(refusal) = script_file::check(facts) {
        return refuse(req, refusal.status().into(), &format!("{refusal}: {}", req.filename()));
    }
    let (dir, server) = (req.dir_config(), req.server().record());
    let target = match delegation(req, dir, server) {
        Ok(t) => t,
        Err(status) => return status,
    };
    if let Some(status) = check_transfer_encoding(req, dir) {
        return status;
    }
    // As mod_wsgi, before the body is set up: Apache answers 413 itself
    // (and logs AH01588) while discarding an over-long body.
    let (_, limit) = req.body_limits();
    if request_body::over_limit(req.headers_in().get("Content-Length"), limit) {
        req.discard_body();
        return ffi::OK as i32;
    }
    let status = req.setup_client_block(dir.chunked_request.unwrap_or(false));
    if status != ffi::OK as i32 {
        return status;
    }
    let group_name = target.as_ref().map(|(reg, i)| reg.groups[*i].spec.name().to_string()).unwrap_or_default();
    let (vars, flags) = request_vars(req, dir, &group_name);
    match target {
        None => {
            let case_sensitive = server.cfg.case_sensitivity.unwrap_or(true);
            let mtime = (!handler_script).then(|| req.file_mtime());
            let mut call = WsgiCall::from_vars(vars, flags, mtime, case_sensitive);
            if dir.pass_apache_request == Some(true) {
                call.apache_request = Some(req.as_ptr() as usize);
            }
            // SAFETY: call::run takes the I/O back before it returns.
            let io = unsafe { crate::python::io::unbound(Box::new(ApacheIo::new(req))) };
            match call::run(call, io) {
                Outcome::Sent => ffi::OK as i32,
                Outcome::Failed(code) => code as i32,
                Outcome::Restart => ffi::HTTP_INTERNAL_SERVER_ERROR as i32,
            }
        }
        Some((reg, i)) => {
            let g = &reg.groups[i];
            let target = child_side::Target {
                group: g.spec.name(),
                socket: &g.socket,
                secret: &reg.secret,
                connect_timeout: g.spec.config.connect_timeout,
                socket_timeout: Some(g.spec.socket_timeout),
                response_timeout: g.spec.config.response_timeout(),
                request_timeout: g.spec.config.request_timeout,
                flush_delay: g.spec.config.response_flush_delay,
                status: &g.status,
                error_override: dir.error_override.unwrap_or(false),
            };
            child_side::run(req, &target, &vars)
        }
    }
}

/// mod_wsgi's rules for a request body sent with Transfer-Encoding
/// (see `wsgi_core::request_body`): the refusal's status, logged.
fn check_transfer_encoding(req: Request<'_>, dir: &DirConfig) -> Option<i32> {
    let te = req.headers_in().get("Transfer-Encoding").map(|v| String::from_utf8_lossy(v).into_owned());
    let refusal = request_body::check_transfer_encoding(te.as_deref(), dir.chunked_request.unwrap_or(false)).err()?;
    Some(refuse(req, refusal.status().into(), &format!("{refusal}: {}", req.filename())))
}

/// A value from request notes, then subprocess_env, then the process
/// environment, as `%{ENV:name}` is resolved by mod_wsgi.
fn env_lookup(req: Request<'_>, name: &str) -> Option<String> {
    req.note(name)
        .or_else(|| req.subprocess_env().get(name).map(wsgi_core::text::lossy))
        .or_else(|| std::env::var(name).ok())
}

/// Where a request runs: `None` for embedded mode, or a daemon group (by
/// index into the registry).
type Delegation = Option<(Arc<Registry>, usize)>;

/// Where the request runs (core decides; see `wsgi_core::delegation`).
fn delegation(req: Request<'_>, dir: &DirConfig, server: &ServerRecord) -> Result<Delegation, i32> {
    let group = delegation::requested_group(req.note(notes::PROCESS_GROUP).as_deref(), dir.process_group.as_ref());
    let name = delegation::group_name(group, |var| env_lookup(req, var));
    let filename = req.filename();
    let allowed = Restrictions {
        embedded: server.cfg.restrict_embedded == Some(true),
        processes: dir.restrict_process.as_deref(),
    };
    let reg = daemon::registry();
    let groups = reg.as_ref().map_or(&[][..], |r| &r.groups[..]);
    let index = match delegation::decide(&name, &req.server().hostname(), allowed, groups) {
        Ok(Target::Embedded) => return Ok(None),
        Ok(Target::Daemon(i)) => i,
        Err(refusal) => return Err(refuse(req, refusal.status().into(), &format!("{refusal}: {filename}"))),
    };
    // A daemon target is an index into the registry's groups, so it is there.
    let Some(reg) = reg else { return Err(ffi::HTTP_INTERNAL_SERVER_ERROR as i32) };
    if let Some(owner) = &reg.groups[index].spec.script_owner {
        let (uid, gid) = req.file_owner();
        if let Some(why) = owner.refuses(uid, gid) {
            return Err(refuse(
                req,
                ffi::HTTP_FORBIDDEN,
                &format!("WSGI script '{filename}' {why} of daemon process group '{name}'; it may not run there."),
            ));
        }
    }
    Ok(Some((reg, index)))
}

/// Apache's CGI variables plus what mod_wsgi adds, and the environ flags.
fn request_vars(req: Request<'_>, dir: &DirConfig, process_group: &str) -> (Vars, EnvironFlags) {
    req.add_cgi_vars();
    let env = req.subprocess_env();
    let pass_authorization =
        request_environ::pass_authorization(req.note(notes::PASS_AUTHORIZATION).as_deref(), dir.pass_authorization);
    let headers = req.headers_in();
    let facts = CgiFacts {
        authorization: headers.get("Authorization"),
        pass_authorization,
        has_path_info: env.get("PATH_INFO").is_some(),
        script_name: env.get("SCRIPT_NAME"),
    };
    for fixup in request_environ::cgi_fixups(&facts) {
        match fixup {
            Fixup::Unset(name) => env.unset(name),
            Fixup::Set(name, value) => env.set(name, &value),
        }
    }
    let text = |k: &str| env.get(k).map(wsgi_core::text::lossy).unwrap_or_default();
    let script_name = text("SCRIPT_NAME");
    let port = text("SERVER_PORT");

    let app_group = request_environ::application_group(
        req.note(notes::APPLICATION_GROUP).as_deref(),
        dir.application_group.as_ref(),
    );
    let application_group =
        names::expand_application_group(&app_group, &req.server().hostname(), &port, &script_name, |n| {
            env_lookup(req, n)
        });
    let callable = request_environ::callable_name(
        req.note(notes::CALLABLE_OBJECT).as_deref(),
        dir.callable_object.as_ref(),
        |n| env_lookup(req, n),
    );
    let reload = dir.script_reloading.unwrap_or(true);
    // In subprocess_env, as mod_wsgi puts them (a log format can show them).
    let fresh = !env.has_prefix(b"mod_wsgi.");
    let set = |key: &'static CStr, value: &str| env.set_own(key, value, fresh);
    set(c"mod_wsgi.process_group", process_group);
    set(c"mod_wsgi.application_group", &application_group);
    set(c"mod_wsgi.callable_object", &callable);
    set(c"mod_wsgi.request_handler", &req.handler().unwrap_or_default());
    set(c"mod_wsgi.script_reloading", if reload { "1" } else { "0" });
    request_facts(req, dir, &set);
    if request_environ::maps_head_to_get(dir.map_head_to_get, req.is_get_or_head(), req.has_content_output_filter()) {
        env.set("REQUEST_METHOD", "GET");
    }

    let threaded = Request::mpm_query(ffi::AP_MPMQ_MAX_THREADS) > 1;
    let forked = Request::mpm_query(ffi::AP_MPMQ_MAX_DAEMONS) > 1;
    let mut vars = env.entries();
    wsgi_core::paths::normalise(&mut vars);
    apply_trusted_proxy_headers(&mut vars, dir);
    // After the proxy headers: a trusted scheme header wins over Apache's TLS.
    let https = vars.get(b"HTTPS").is_some_and(wsgi_core::vars::is_https);
    // SAFETY: a static string of the shim.
    let version = unsafe { crate::apache::cstr::string(ffi::wsgi_shim_server_version()) };
    vars.push(environ::APACHE_VERSION_KEY.as_bytes(), version.as_bytes());
    (vars, EnvironFlags { https, multithread: threaded, multiprocess: forked })
}

/// `WSGITrustedProxyHeaders` from `WSGITrustedProxies`, as mod_wsgi
/// applies them: after `SCRIPT_NAME`/`PATH_INFO` are saved, before the
/// variables go to the application (here or in a daemon, the same).
fn apply_trusted_proxy_headers(vars: &mut Vars, dir: &DirConfig) {
    if let Some(headers) = &dir.trusted_proxy_headers {
        wsgi_core::proxy_headers::apply(vars, headers, dir.trusted_proxies.as_deref());
    }
}

/// The rest of the `mod_wsgi.*` variables mod_wsgi 4.9 sets.
fn request_facts(req: Request<'_>, dir: &DirConfig, set: &dyn Fn(&'static CStr, &str)) {
    let flag = |on: Option<bool>| if on == Some(true) { "1" } else { "0" };
    let (listen_host, listen_port) = req.listener();
    set(c"mod_wsgi.handler_script", &req.note(notes::HANDLER_SCRIPT).unwrap_or_default());
    set(c"mod_wsgi.listener_host", &listen_host);
    set(c"mod_wsgi.listener_port", &listen_port.to_string());
    set(c"mod_wsgi.enable_sendfile", flag(dir.enable_sendfile));
    set(c"mod_wsgi.ignore_activity", flag(dir.ignore_activity));
    set(c"mod_wsgi.request_start", &req.request_time().to_string());
    if let Some(id) = req.log_id() {
        set(c"mod_wsgi.request_id", &id);
    }
    if let Some(id) = req.connection_log_id() {
        set(c"mod_wsgi.connection_id", &id);
    }
}
