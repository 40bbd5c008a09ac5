//! `child_init`: Python starts here, in each Apache child, never in the
//! parent (which must stay free of Python and threads).

use crate::apache::{log, server::Server};
use crate::common::log::{LogLevel, with_pid};
use crate::ffi;
use crate::python::runtime::{self, ProcessIdentity};

pub extern "C" fn child_init(pool: *mut ffi::apr_pool_t, s: *mut ffi::server_rec) {
    super::guard("child_init", (), || {
        // SAFETY: Apache passes the main server, whose records live as long
        // as this child.
        let main: Server<'static> = unsafe { Server::from_raw(s) };
        let cfg = &main.record().cfg;
        // Apache children reach daemons by socket path, never by accepting.
        if let Some(reg) = crate::daemon::registry() {
            for g in &reg.groups {
                g.listener.close();
            }
        }
        log::set_main_server(main);
        crate::python::io::set_process_logger(log::process);
        let configs = super::servers::server_configs(main);
        let auth_scripts = configs.iter().any(|c| c.auth_scripts);
        if !wsgi_core::delegation::child_needs_python(cfg.restrict_embedded == Some(true), auth_scripts) {
            return;
        }
        let process = ProcessIdentity {
            process_group: String::new(),
            maximum_processes: mpm_limit(ffi::AP_MPMQ_MAX_DAEMONS),
            threads_per_process: mpm_limit(ffi::AP_MPMQ_MAX_THREADS),
        };
        let threads = process.threads_per_process;
        if let Err(e) = runtime::initialize(&cfg.python_settings(None), process) {
            log::server(LogLevel::Critical, main, &with_pid(format_args!("{e}.")));
            return;
        }
        crate::daemon::metrics::embedded_child(threads);
        crate::python::preload::run(
            "",
            &wsgi_core::preloads::for_group(&configs, ""),
            cfg.case_sensitivity.unwrap_or(true),
        );
        // SAFETY: the cleanup is a plain function and runs when the child's
        // pool is destroyed, after its threads have stopped.
        unsafe { ffi::apr_pool_cleanup_register(pool, std::ptr::null(), Some(finalize), Some(no_cleanup)) };
    })
}

/// How long Python may take to shut down in an Apache child (non-daemon
/// threads, exit functions) before the child exits without it: Apache
/// waits for its children on stop and graceful restart.
const EXIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

extern "C" fn finalize(_: *mut std::ffi::c_void) -> ffi::apr_status_t {
    super::guard("child exit", 0, || {
        crate::daemon::metrics::embedded_child_exit();
        runtime::finalize(EXIT_LIMIT);
        0
    })
}

extern "C" fn no_cleanup(_: *mut std::ffi::c_void) -> ffi::apr_status_t {
    0
}

/// An `AP_MPMQ_*` limit, at least 1.
fn mpm_limit(code: u32) -> u32 {
    crate::apache::request::Request::mpm_query(code).max(1) as u32
}
