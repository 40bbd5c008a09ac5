//! The safe layer over httpd and APR. Nothing outside this folder and
//! `hooks/` touches raw httpd types; `unsafe` lives here, each block with
//! the reason it holds.

pub mod auth;
pub mod client_timeout;
pub mod cstr;
pub mod log;
pub mod pool;
pub mod regex;
pub mod request;
pub mod request_io;
pub mod scoreboard;
pub mod server;
pub mod table;
