//! Reading `server_rec` and per-module configuration vectors.

use crate::ffi;
use std::ffi::c_void;

/// This module's entry in a configuration vector (`ap_get_module_config`).
///
/// # Safety
/// `vector` must be a live `ap_conf_vector_t` that Apache built for the
/// loaded modules, which include this one.
pub unsafe fn module_config<T>(vector: *mut ffi::ap_conf_vector_t) -> *mut T {
    // SAFETY: a config vector is an array of one pointer per module,
    // indexed by module_index (what ap_get_module_config expands to).
    unsafe { *(vector as *mut *mut c_void).add(crate::module::index() as usize) as *mut T }
}

/// A borrowed `server_rec`.
#[derive(Clone, Copy)]
pub struct Server(pub *mut ffi::server_rec);

impl Server {
    pub fn hostname(&self) -> String {
        // SAFETY: server records live for the configuration's lifetime.
        unsafe { super::cstr::string((*self.0).server_hostname) }
    }

    pub fn is_virtual(&self) -> bool {
        // SAFETY: as above.
        unsafe { (*self.0).is_virtual != 0 }
    }

    pub fn next(&self) -> Option<Server> {
        // SAFETY: as above; `next` links the vhost list.
        let n = unsafe { (*self.0).next };
        (!n.is_null()).then_some(Server(n))
    }

    /// This module's per-server record.
    pub fn config<T>(&self) -> *mut T {
        // SAFETY: module_config is the server's live config vector.
        unsafe { module_config::<T>((*self.0).module_config) }
    }
}
