//! `threads=0`: mod_wsgi's managed-process mode. The process serves no
//! requests; its `WSGIImportScript` scripts run a never-ending task on a
//! thread of their own. When they return, the process is replaced; when
//! the process is told to stop, `SystemExit` is raised in them so they can
//! clean up (shutdown-timeout bounds how long they take).

use super::process::{self, StopSignals};
use crate::apache::log;
use crate::apache::server::Server;
use crate::common::log::{LogLevel, with_pid};
use crate::python::{preload, runtime};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Runs the group's import scripts until they end or the process stops.
pub fn run(group: &super::Group, case_sensitive: bool, s: Server<'static>) -> Result<(), String> {
    let spec = &group.spec.config;
    let signals = StopSignals::block().map_err(|e| e.to_string())?;
    let ident = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let service = {
        let (ident, done) = (ident.clone(), done.clone());
        let (name, scripts) = (spec.name.clone(), process::preloads(group));
        std::thread::Builder::new()
            .name("wsgi-service".into())
            .spawn(move || {
                // The thread's `threading.get_ident()`.
                ident.store(nix::sys::pthread::pthread_self() as u64, Ordering::SeqCst);
                preload::run(&name, &scripts, case_sensitive);
                done.store(true, Ordering::SeqCst);
            })
            .map_err(|e| format!("Unable to start the service thread of daemon process '{}': {e}.", spec.name))?
    };
    process::ready();
    let stopped_by = loop {
        if done.load(Ordering::SeqCst) {
            break None;
        }
        if let Some(sig) = signals.wait(Duration::from_millis(50)) {
            break Some(sig);
        }
    };
    let deadline = Instant::now() + spec.shutdown_timeout;
    match stopped_by {
        None => process::retire("its import scripts returned (threads=0)"),
        Some(sig) => {
            log::server(
                LogLevel::Info,
                s,
                &with_pid(format_args!(
                    "Stopping service process '{}' (signal {sig}): raising SystemExit in its script.",
                    spec.name
                )),
            );
            runtime::raise_system_exit_in(ident.load(Ordering::SeqCst));
            while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    if !done.load(Ordering::SeqCst) {
        return Err(format!(
            "The import script of service process '{}' did not end within shutdown-timeout ({}s) of SystemExit; exiting without running exit functions.",
            spec.name,
            spec.shutdown_timeout.as_secs()
        ));
    }
    let _ = service.join();
    runtime::finalize(deadline.saturating_duration_since(Instant::now()));
    Ok(())
}
