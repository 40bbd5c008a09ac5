//! A daemon process group as the process manager needs it, resolved from
//! its `WSGIDaemonProcess` line (the parsing and validation are in core).

use std::time::Duration;
use wsgi_core::config::DaemonProcess;

#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub name: String,
    /// `ServerName` of the virtual host that defined it; `None` at server scope.
    pub server_name: Option<String>,
    pub processes: u32,
    /// `processes=` given explicitly (even 1): `wsgi.multiprocess` is True.
    pub multiprocess: bool,
    pub threads: u32,
    pub user: Option<String>,
    pub group: Option<String>,
    pub umask: Option<u32>,
    pub home: Option<String>,
    pub python_home: Option<String>,
    pub python_path: Vec<String>,
    pub display_name: Option<String>,
    pub listen_backlog: i32,
    pub connect_timeout: Duration,
    pub socket_timeout: Option<Duration>,
    pub shutdown_timeout: Duration,
    /// Scripts loaded when each process starts.
    pub preload: Vec<crate::python::preload::Preload>,
}

impl GroupSpec {
    pub fn from_config(d: &DaemonProcess, server_name: Option<String>) -> Self {
        let opt = |key: &str| d.options.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let num = |key: &str| opt(key).and_then(|v| v.parse::<u64>().ok());
        let processes = num("processes");
        Self {
            name: d.name.clone(),
            server_name,
            processes: processes.unwrap_or(1).max(1) as u32,
            multiprocess: processes.is_some(),
            threads: num("threads").unwrap_or(15).max(1) as u32,
            user: opt("user"),
            group: opt("group"),
            umask: opt("umask").and_then(|v| u32::from_str_radix(&v, 8).ok()),
            home: opt("home"),
            python_home: opt("python-home"),
            python_path: opt("python-path")
                .map(|p| p.split(':').filter(|s| !s.is_empty()).map(String::from).collect())
                .unwrap_or_default(),
            display_name: opt("display-name").map(|n| if n == "%{GROUP}" { format!("(wsgi:{})", d.name) } else { n }),
            listen_backlog: num("listen-backlog").unwrap_or(100) as i32,
            connect_timeout: Duration::from_secs(num("connect-timeout").unwrap_or(15)),
            socket_timeout: Some(Duration::from_secs(num("socket-timeout").unwrap_or(60))),
            shutdown_timeout: Duration::from_secs(num("shutdown-timeout").unwrap_or(5)),
            preload: Vec::new(),
        }
    }
}
