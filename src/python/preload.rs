//! Loading scripts when a process starts, before any request:
//! `WSGIImportScript`, and `WSGIScriptAlias` lines that name both a
//! process group and an application group (as mod_wsgi preloads them).

use super::call::{file_mtime, traceback_lines};
use super::interpreters;
use super::io::log_process;
use super::script::{self, Script, ScriptError};
use crate::common::log::{LogLevel, with_pid};

pub use wsgi_core::preloads::Preload;

/// Loads each script into its interpreter, logging failures (the process
/// keeps going: a request will try again and report it). True when every
/// script loaded.
pub fn run(process_group: &str, scripts: &[Preload], case_sensitive: bool) -> bool {
    let mut all_loaded = true;
    for p in scripts {
        let entered = match interpreters::enter(&p.application_group, super::interpreter_setup::setup) {
            Ok(e) => e,
            Err(e) => {
                log_process(LogLevel::Error, &with_pid(format_args!("{e}.")));
                all_loaded = false;
                continue;
            }
        };
        super::attached::run(|py| {
            let module_name = wsgi_core::names::script_module_name(&p.path, case_sensitive);
            let s = Script {
                path: &p.path,
                module_name: &module_name,
                mtime: file_mtime(&p.path),
                reload: true,
                restart_on_change: false,
            };
            match script::module(py, &s) {
                Ok(_) => log_process(
                    LogLevel::Info,
                    &script::load_line(process_group, &p.application_group, "Loading Python script file", &p.path),
                ),
                Err(e) => {
                    all_loaded = false;
                    log_process(LogLevel::Error, &with_pid(&e));
                    if let ScriptError::Load { err, .. } = &e {
                        for line in traceback_lines(py, err) {
                            log_process(LogLevel::Error, &line);
                        }
                    }
                }
            }
        });
        drop(entered);
    }
    all_loaded
}
