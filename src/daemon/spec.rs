//! A daemon process group as the process manager needs it, resolved from
//! its `WSGIDaemonProcess` line (parsing and validation are in core).

use crate::python::preload::Preload;
use std::time::Duration;
use wsgi_core::config::DaemonProcess;
use wsgi_core::delegation::ScriptOwner;

#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub config: DaemonProcess,
    /// `ServerName` of the virtual host that defined it; `None` at server scope.
    pub server_name: Option<String>,
    /// `socket-timeout`, or Apache's `Timeout` when it is 0.
    pub socket_timeout: Duration,
    /// Scripts loaded when each process starts.
    pub preload: Vec<Preload>,
    /// `script-user=` / `script-group=`, resolved: who must own a script.
    pub script_owner: Option<ScriptOwner>,
}

/// `script-user=` / `script-group=` resolved to an id (`None` when unset,
/// or when the account is unknown).
fn script_owner(config: &DaemonProcess) -> Option<ScriptOwner> {
    if let Some(a) = &config.script_user {
        let uid = super::accounts::uid(a)?.as_raw();
        return Some(ScriptOwner::User { uid, name: a.to_string() });
    }
    let a = config.script_group.as_ref()?;
    Some(ScriptOwner::Group { gid: super::accounts::gid(a)?.as_raw(), name: a.to_string() })
}

impl GroupSpec {
    pub fn new(config: &DaemonProcess, server_name: Option<String>, apache_timeout: Duration) -> Self {
        let socket_timeout = if config.socket_timeout.is_zero() { apache_timeout } else { config.socket_timeout };
        let script_owner = script_owner(config);
        Self { config: config.clone(), server_name, socket_timeout, preload: Vec::new(), script_owner }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }
}
