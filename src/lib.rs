//! mod_wsgi-rs: an Apache httpd 2.4 module that hosts Python WSGI
//! applications, configured with mod_wsgi's `WSGI*` directives.
//!
//! Layout:
//! - `module.rs`: the exported `wsgi_module` record Apache loads.
//! - `hooks/`: every entry point Apache calls, each behind `catch_unwind`.
//! - `apache/`: the safe layer over httpd/APR (requests, pools, logging).
//! - `python/`: the interpreter runtime and the WSGI protocol.
//! - `common/`: what apache/, python/ and daemon/ share (request I/O
//!   contract, log level, server facts).
//! - `daemon/`: process groups: supervision, daemon processes, the socket proxy.
//! - `ffi.rs`: the raw httpd/APR bindings and C helpers of the
//!   `mod_wsgi-sys` crate in `sys/`.
//! - the pure logic (config parsing, names, header rules) is the `wsgi-core` crate in `core/`.

mod apache;
mod commands;
mod common;
mod daemon;
mod ffi;
mod hooks;
mod module;
mod python;

pub use module::wsgi_module;
