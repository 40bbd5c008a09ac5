//! `post_config`: in the parent, after each real configuration pass, the
//! daemon process groups are started (the first pass is a dry run).

use crate::apache::log;
use crate::apache::pool::Pool;
use crate::apache::server::Server;
use crate::common::log::LogLevel;
use crate::daemon::{spec::GroupSpec, supervisor};
use crate::ffi;
use wsgi_core::config::DaemonProcess;
use wsgi_core::daemon_scope;

pub extern "C" fn post_config(
    pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    _ptemp: *mut ffi::apr_pool_t,
    s: *mut ffi::server_rec,
) -> i32 {
    super::guard("post_config", ffi::HTTP_INTERNAL_SERVER_ERROR as i32, || {
        // SAFETY: ap_state_query only reads server state.
        let state = unsafe { ffi::ap_state_query(ffi::AP_SQ_MAIN_STATE as i32) };
        if state == ffi::AP_SQ_MS_CREATE_PRE_CONFIG as i32 {
            return ffi::OK as i32;
        }
        // SAFETY: Apache passes the configuration pool and the main server
        // made in it. What keeps them (the supervisor) lives in that pool,
        // and its cleanup stops the daemon processes when the pool is
        // cleared; a forked process keeps its copy of both until it exits.
        let (pconf, main): (Pool<'static>, Server<'static>) = unsafe { (Pool::from_raw(pconf), Server::from_raw(s)) };
        add_version_components(pconf);
        let main_cfg = &main.record().cfg;
        super::status::post_config(main, main_cfg);
        let timeout = main.timeout();
        let configs = super::servers::server_configs(main);
        let mut said = Vec::new();
        for cfg in &configs {
            // A virtual host's record repeats the main server's notices.
            for notice in wsgi_core::config::startup_notices(cfg) {
                if !said.contains(&notice) {
                    let level = if notice.warning { LogLevel::Warning } else { LogLevel::Info };
                    log::server(level, main, &format!("mod_wsgi: {}.", notice.text));
                    said.push(notice);
                }
            }
        }
        let specs: Vec<GroupSpec> = daemon_scope::defined_groups(&main_cfg.daemons, vhost_daemons(main))
            .into_iter()
            .map(|(d, host)| {
                let mut spec = GroupSpec::new(d, host, timeout);
                spec.preload = wsgi_core::preloads::for_group(&configs, &spec.config.name);
                spec
            })
            .collect();
        match supervisor::start(pconf, main, specs, main_cfg) {
            Ok(()) => ffi::OK as i32,
            Err(msg) => {
                log::server(LogLevel::Critical, main, &format!("mod_wsgi: {msg}"));
                ffi::HTTP_INTERNAL_SERVER_ERROR as i32
            }
        }
    })
}

/// Each virtual host's `ServerName` and daemon groups (its merged record's).
fn vhost_daemons<'a>(main: Server<'a>) -> Vec<(String, &'a [DaemonProcess])> {
    let mut out = Vec::new();
    let mut vhost = main.next();
    while let Some(v) = vhost {
        out.push((v.hostname(), &v.record().cfg.daemons[..]));
        vhost = v.next();
    }
    out
}

/// `mod_wsgi/4.9.4 Python/3.11` in the `Server` header under
/// `ServerTokens Full`, as mod_wsgi adds them.
fn add_version_components(pconf: Pool<'_>) {
    use crate::python::interpreter_setup::COMPAT_VERSION;
    let (major, minor, patch) = COMPAT_VERSION;
    // SAFETY: Py_GetVersion returns a static string and needs no
    // initialised interpreter (this is the parent, which has none).
    let python = unsafe { std::ffi::CStr::from_ptr(pyo3::ffi::Py_GetVersion()) }.to_string_lossy();
    let python: String = python.split(['.', ' ']).take(2).collect::<Vec<_>>().join(".");
    for component in [format!("mod_wsgi/{major}.{minor}.{patch}"), format!("Python/{python}")] {
        let Ok(c) = std::ffi::CString::new(component) else { continue };
        // SAFETY: called from post_config, as Apache requires; the string
        // is copied into pconf.
        unsafe { ffi::ap_add_version_component(pconf.as_ptr(), c.as_ptr()) };
    }
}
