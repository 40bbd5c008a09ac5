//! Python: the runtime in each process, interpreters per application
//! group, and the WSGI protocol. Nothing here knows about Apache types; the
//! request arrives as a [`call::WsgiCall`] and talks back through
//! [`crate::common::io::RequestIo`], which embedded mode and daemon mode each implement.

pub mod attached;
pub mod auth;
pub mod call;
pub mod environ;
pub mod errors;
pub mod events;
pub mod file_wrapper;
pub mod input;
pub mod interpreter_setup;
pub mod interpreters;
pub mod io;
pub mod meter;
pub mod metrics;
pub mod preload;
pub mod restrict;
pub mod runtime;
pub mod script;
pub mod start_response;
pub mod strings;
pub mod timeout;
