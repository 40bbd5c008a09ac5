//! A daemon process group as the process manager needs it, resolved from
//! its `WSGIDaemonProcess` line (parsing and validation are in core).

use crate::python::preload::Preload;
use std::time::Duration;
use wsgi_core::config::DaemonProcess;

#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub config: DaemonProcess,
    /// `ServerName` of the virtual host that defined it; `None` at server scope.
    pub server_name: Option<String>,
    /// `socket-timeout`, or Apache's `Timeout` when it is 0.
    pub socket_timeout: Duration,
    /// Scripts loaded when each process starts.
    pub preload: Vec<Preload>,
}

impl GroupSpec {
    pub fn new(config: &DaemonProcess, server_name: Option<String>, apache_timeout: Duration) -> Self {
        let socket_timeout = if config.socket_timeout.is_zero() { apache_timeout } else { config.socket_timeout };
        Self { config: config.clone(), server_name, socket_timeout, preload: Vec::new() }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }
}
