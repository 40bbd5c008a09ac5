//! `post_config`: in the parent, after each real configuration pass, the
//! daemon process groups are started (the first pass is a dry run).

use super::config::ServerRecord;
use crate::apache::log;
use crate::apache::server::Server;
use crate::common::log::LogLevel;
use crate::daemon::{spec::GroupSpec, supervisor};
use crate::ffi;

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
        add_version_components(pconf);
        let main = Server(s);
        // SAFETY: records made by create/merge_server_config.
        let main_cfg = unsafe { &(*main.config::<ServerRecord>()).cfg };
        super::status::post_config(s, main_cfg);
        // SAFETY: the main server record is live; `timeout` is plain data.
        let timeout = std::time::Duration::from_micros(unsafe { (*s).timeout }.max(0) as u64);
        let mut said = Vec::new();
        for cfg in super::preloads::server_configs(main) {
            // A virtual host's record repeats the main server's notices.
            for notice in wsgi_core::config::startup_notices(cfg) {
                if !said.contains(&notice) {
                    let level = if notice.warning { LogLevel::Warning } else { LogLevel::Info };
                    log::server(level, s, &format!("mod_wsgi: {}.", notice.text));
                    said.push(notice);
                }
            }
        }
        let mut specs: Vec<GroupSpec> = main_cfg.daemons.iter().map(|d| GroupSpec::new(d, None, timeout)).collect();
        let mut vhost = main.next();
        while let Some(v) = vhost {
            // SAFETY: as above.
            let cfg = unsafe { &(*v.config::<ServerRecord>()).cfg };
            for d in &cfg.daemons {
                // A vhost's merged record repeats the server-scope groups.
                if !main_cfg.daemons.iter().any(|g| g.name == d.name) && !specs.iter().any(|g| g.name() == d.name) {
                    specs.push(GroupSpec::new(d, Some(v.hostname()), timeout));
                }
            }
            vhost = v.next();
        }
        let configs = super::preloads::server_configs(main);
        for spec in &mut specs {
            spec.preload = super::preloads::for_group(&configs, &spec.config.name);
        }
        match supervisor::start(pconf, s, specs, main_cfg) {
            Ok(()) => ffi::OK as i32,
            Err(msg) => {
                log::server(LogLevel::Critical, s, &format!("mod_wsgi: {msg}"));
                ffi::HTTP_INTERNAL_SERVER_ERROR as i32
            }
        }
    })
}

/// `mod_wsgi/4.9.4 Python/3.11` in the `Server` header under
/// `ServerTokens Full`, as mod_wsgi adds them.
fn add_version_components(pconf: *mut ffi::apr_pool_t) {
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
        unsafe { ffi::ap_add_version_component(pconf, c.as_ptr()) };
    }
}
