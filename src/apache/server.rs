//! A server record (`server_rec`: the main server or a virtual host) and
//! this module's configuration records in it.

use super::regex::Regex;
use crate::ffi;
use std::ffi::c_void;
use std::marker::PhantomData;
use wsgi_core::config::ServerConfig;

/// The per-server record: the parsed settings plus what only Apache can
/// hold, the compiled `WSGIScriptAliasMatch` patterns (one per alias).
#[derive(Clone, Default)]
pub struct ServerRecord {
    pub cfg: ServerConfig,
    pub alias_regex: Vec<Option<Regex>>,
}

/// This module's entry in a configuration vector (`ap_get_module_config`).
///
/// # Safety
/// `vector` must be a live `ap_conf_vector_t` that Apache built for the
/// loaded modules, which include this one.
pub(super) unsafe fn module_config<T>(vector: *mut ffi::ap_conf_vector_t) -> *mut T {
    // SAFETY: a config vector is an array of one pointer per module,
    // indexed by module_index (what ap_get_module_config expands to).
    unsafe { *(vector as *mut *mut c_void).add(crate::module::index() as usize) as *mut T }
}

/// A server record that lives for `'a`.
#[derive(Clone, Copy)]
pub struct Server<'a> {
    raw: *mut ffi::server_rec,
    _record: PhantomData<&'a ffi::server_rec>,
}

// SAFETY: server records are only read once the configuration is read
// (Apache's own threads read them concurrently too); the one writer,
// `record_mut`, runs while directives are parsed, single-threaded.
unsafe impl Send for Server<'_> {}
// SAFETY: as above.
unsafe impl Sync for Server<'_> {}

impl<'a> Server<'a> {
    /// # Safety
    /// `s` must be a server record Apache made, whose module configuration
    /// vector holds this module's record, alive for `'a`.
    pub unsafe fn from_raw(s: *mut ffi::server_rec) -> Self {
        Self { raw: s, _record: PhantomData }
    }

    pub fn as_ptr(&self) -> *mut ffi::server_rec {
        self.raw
    }

    fn rec(&self) -> &'a ffi::server_rec {
        // SAFETY: constructor contract: the record lives for 'a.
        unsafe { &*self.raw }
    }

    pub fn hostname(&self) -> String {
        // SAFETY: a string of the server record, or null.
        unsafe { super::cstr::string(self.rec().server_hostname) }
    }

    pub fn is_virtual(&self) -> bool {
        self.rec().is_virtual != 0
    }

    /// The next virtual host after this one.
    pub fn next(&self) -> Option<Server<'a>> {
        let n = self.rec().next;
        // SAFETY: `next` links the configuration's records, which live as
        // long as this one.
        (!n.is_null()).then(|| unsafe { Server::from_raw(n) })
    }

    /// `Timeout`.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.rec().timeout.max(0) as u64)
    }

    /// The process's pool, which lives as long as the process (Apache's
    /// parent keeps it across restarts).
    pub fn process_pool(&self) -> super::pool::Pool<'static> {
        // SAFETY: the server's process record and its pool are made at
        // start-up and never destroyed before the process exits.
        unsafe { super::pool::Pool::from_raw((*self.rec().process).pool) }
    }

    /// This module's record for the server.
    pub fn record(&self) -> &'a ServerRecord {
        // SAFETY: constructor contract: the vector holds the record made
        // by create/merge_server_config, as long-lived as the server.
        unsafe { &*module_config::<ServerRecord>(self.rec().module_config) }
    }

    /// This module's record for the server, to change it.
    ///
    /// # Safety
    /// Only while directives are read (single-threaded), with no other
    /// borrow of the record alive.
    pub unsafe fn record_mut(&self) -> &'a mut ServerRecord {
        // SAFETY: as in `record`; the caller rules out other borrows.
        unsafe { &mut *module_config::<ServerRecord>(self.rec().module_config) }
    }
}
