//! The pure logic of mod_wsgi-rs: everything that can be decided without
//! Apache or Python, so it can be unit-tested and fuzzed on its own.
//!
//! - [`auth`]: the environ of access and auth scripts, `Require wsgi-group`.
//! - [`config`]: every `WSGI*` directive parsed, validated and merged.
//! - [`names`]: application/process group expansion and script module names.
//! - [`alias`]: `WSGIScriptAlias` URL prefix matching.
//! - [`delegation`]: where a request runs: embedded or which daemon group.
//! - [`daemon_scope`]: the daemon groups a configuration defines, by virtual host.
//! - [`preloads`]: the scripts each process group loads at start.
//! - [`request_body`]: `Transfer-Encoding` and `Content-Length` rules.
//! - [`script_file`]: the handler names and file checks of a WSGI request.
//! - [`request_environ`]: mod_wsgi's changes to the CGI variables, group and callable choice.
//! - [`headers`]: the status line and header rules applied to responses.
//! - [`lifecycle`]: when a daemon process must be recycled.
//! - [`supervision`]: a daemon group's manager: control messages, start-up backoff.
//! - [`protocol`]: the frames exchanged with daemon processes.
//! - [`response_flush`]: when an Apache child flushes a daemon's response.
//! - [`vars`]: a request's CGI-style variables, names and values apart.
//! - [`paths`]: what mod_wsgi does to `SCRIPT_NAME` and `PATH_INFO`.
//! - [`proxy_headers`]: trusted proxy headers applied to a request's variables.
//! - [`text`]: bytes from the server as Rust text.
//! - [`telemetry`]: stop reasons, request time buckets and latency quantiles.
//! - [`status_page`]: the `wsgi-status` page in HTML, JSON and Prometheus text.
//! - [`spares`]: per-request things kept for later requests, shared by a process's threads.

pub mod alias;
pub mod auth;
pub mod config;
pub mod daemon_scope;
pub mod delegation;
pub mod headers;
pub mod lifecycle;
pub mod names;
pub mod paths;
pub mod preloads;
pub mod protocol;
pub mod proxy_headers;
pub mod request_body;
pub mod request_environ;
pub mod response_flush;
pub mod script_file;
pub mod spares;
pub mod status_page;
pub mod supervision;
pub mod telemetry;
pub mod text;
pub mod vars;
