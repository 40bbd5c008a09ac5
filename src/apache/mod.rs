//! The safe layer over httpd and APR. Raw pointers enter only through the
//! `unsafe fn from_raw` of [`server::Server`], [`request::Request`] and
//! [`pool::Pool`], each called once where Apache hands one over (a hook's
//! entry in `hooks/`); what they point to is read and written only here,
//! each `unsafe` block with the reason it holds. A leaf: it imports
//! nothing from `hooks/`, `python/` or `daemon/` (what it shares with
//! them is in `common/`).

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
