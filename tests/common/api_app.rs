//! The mod_wsgi Python API test application (`tests/apps/api.wsgi`) on a
//! server with one Apache child, in embedded mode or in a daemon group.

use std::collections::BTreeMap;

use super::{ApacheBuilder, Module, Response};

pub const API: &str = include_str!("../apps/api.wsgi");

/// One Apache child: per-process figures are then the server's.
pub const ONE_CHILD: &str =
    "StartServers 1\nServerLimit 1\nThreadsPerChild 8\nMaxRequestWorkers 8\nMinSpareThreads 1\nMaxSpareThreads 8";

/// Where the application runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Embedded,
    Daemon,
}

pub const PLACES: [Place; 2] = [Place::Embedded, Place::Daemon];

/// The API app at /api, in embedded mode or in daemon group `api`
/// (`daemon_options` added to its line); `extra` is more configuration.
pub fn builder(module: Module, place: Place, daemon_options: &str, extra: &str) -> ApacheBuilder {
    let b = ApacheBuilder::new()
        .embedded_only()
        .module(module)
        .conf(ONE_CHILD)
        .writable_dir("out")
        .file("wsgi/api.wsgi", API)
        .conf(extra);
    match place {
        Place::Embedded => b.conf("WSGIScriptAlias /api {root}/wsgi/api.wsgi"),
        Place::Daemon => b.conf(&format!(
            "WSGIDaemonProcess api processes=1 threads=4 {daemon_options}\n\
             WSGIScriptAlias /api {{root}}/wsgi/api.wsgi process-group=api application-group=%{{GLOBAL}}"
        )),
    }
}

/// The app's `key=value` lines.
pub fn kv(resp: &Response) -> BTreeMap<String, String> {
    resp.text().lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}
