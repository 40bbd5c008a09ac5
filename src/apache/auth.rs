//! What the access, authentication and authorization hooks need from
//! httpd: provider registration, the request's user and the facts the
//! scripts' environ is made of, and the request's error log as the I/O of
//! a script call that has no response to write.

use super::cstr;
use super::log;
use super::pool::Pool;
use super::request::Request;
use crate::common::io::{IoError, RequestIo};
use crate::common::log::LogLevel;
use crate::ffi;
use std::ffi::{CStr, c_char};
use wsgi_core::auth::RequestFacts;
use wsgi_core::vars::Vars;

/// `AUTHN_PROVIDER_GROUP` and friends are `b"...\0"` arrays in the bindings.
fn c_name(bytes: &'static [u8]) -> &'static CStr {
    CStr::from_bytes_with_nul(bytes).unwrap_or(c"")
}

/// Registers `provider` as the authentication provider `name`
/// (`AuthBasicProvider name`, `AuthDigestProvider name`).
pub fn register_authn_provider(pool: Pool<'_>, name: &'static CStr, provider: &'static ffi::authn_provider) {
    // SAFETY: group, name and version are 'static strings and the provider
    // a 'static record, as Apache keeps the pointers (in `pool`'s hash).
    unsafe {
        ffi::ap_register_auth_provider(
            pool.as_ptr(),
            c_name(ffi::AUTHN_PROVIDER_GROUP).as_ptr(),
            name.as_ptr(),
            c_name(ffi::AUTHN_PROVIDER_VERSION).as_ptr(),
            (provider as *const ffi::authn_provider).cast(),
            ffi::AP_AUTH_INTERNAL_PER_CONF as i32,
        );
    }
}

/// Registers `provider` as the authorization provider `name` (`Require name ...`).
pub fn register_authz_provider(pool: Pool<'_>, name: &'static CStr, provider: &'static ffi::authz_provider) {
    // SAFETY: as in `register_authn_provider`.
    unsafe {
        ffi::ap_register_auth_provider(
            pool.as_ptr(),
            c_name(ffi::AUTHZ_PROVIDER_GROUP).as_ptr(),
            name.as_ptr(),
            c_name(ffi::AUTHZ_PROVIDER_VERSION).as_ptr(),
            (provider as *const ffi::authz_provider).cast(),
            ffi::AP_AUTH_INTERNAL_PER_CONF as i32,
        );
    }
}

impl<'r> Request<'r> {
    /// The authenticated user (`r->user`), if any.
    pub fn user(&self) -> Option<&'r [u8]> {
        // SAFETY: a pool string of the live request, or null.
        unsafe { cstr::bytes(self.rec().user) }
    }

    /// Replaces the authenticated user (a provider's canonical name for it).
    pub fn set_user(&self, user: &[u8]) {
        let p = self.pool().copy(user);
        // SAFETY: a pool string; Apache owns the field and reads it later.
        unsafe { (*self.as_ptr()).user = p };
    }

    /// `Satisfy Any` applies here (mod_access_compat).
    pub fn satisfies_any(&self) -> bool {
        // SAFETY: reads the request's per-dir config.
        unsafe { ffi::ap_satisfies(self.as_ptr()) == ffi::SATISFY_ANY as i32 }
    }

    /// Some `Require` or `AuthType` asks for a user here.
    pub fn some_auth_required(&self) -> bool {
        // SAFETY: reads the request's per-dir config.
        unsafe { ffi::ap_some_auth_required(self.as_ptr()) != 0 }
    }

    /// The client's host name when `HostnameLookups` found one.
    fn remote_host(&self) -> Option<&'r [u8]> {
        // SAFETY: reads the connection's cached lookup (REMOTE_HOST never
        // starts a DNS query unless HostnameLookups asks for it); the result
        // is a connection pool string or null.
        unsafe {
            cstr::bytes(ffi::ap_get_remote_host(
                self.connection(),
                self.rec().per_dir_config.cast(),
                ffi::REMOTE_HOST as i32,
                std::ptr::null_mut(),
            ))
        }
    }

    fn useragent_ip(&self) -> Option<&'r [u8]> {
        // SAFETY: a pool string of the live request, or null.
        unsafe { cstr::bytes(self.rec().useragent_ip) }
    }

    /// The `host` argument of `allow_access`: the client's host name, or
    /// its address when no name was looked up.
    pub fn client_host(&self) -> Option<Vec<u8>> {
        self.remote_host().or_else(|| self.useragent_ip()).map(<[u8]>::to_vec)
    }

    /// The request's server name (`Host`, or ServerName) and its port,
    /// for `%{SERVER}` and `%{HOST}` in `application-group=`.
    pub fn server_names(&self) -> (String, Option<String>, u16) {
        // SAFETY: plain reads of the live request.
        let (hostname, port) = unsafe {
            (cstr::bytes(self.rec().hostname).map(wsgi_core::text::lossy), ffi::ap_get_server_port(self.as_ptr()))
        };
        (self.server().hostname(), hostname, port)
    }

    /// mod_ssl's `ssl_is_https` for this connection; false without mod_ssl.
    pub fn ssl_is_https(&self) -> bool {
        type IsHttps = unsafe extern "C" fn(*mut ffi::conn_rec) -> i32;
        // SAFETY: mod_ssl registers "ssl_is_https" with exactly this
        // signature (APR_DECLARE_OPTIONAL_FN in mod_ssl.h); the connection
        // is live.
        unsafe {
            match ffi::apr_dynamic_fn_retrieve(c"ssl_is_https".as_ptr()) {
                Some(f) => std::mem::transmute::<unsafe extern "C" fn(), IsHttps>(f)(self.connection()) != 0,
                None => false,
            }
        }
    }

    /// mod_ssl's `ssl_var_lookup` for this request; `None` without mod_ssl
    /// or when the variable is unset.
    pub fn ssl_var(&self, name: &[u8]) -> Option<Vec<u8>> {
        type VarLookup = unsafe extern "C" fn(
            *mut ffi::apr_pool_t,
            *mut ffi::server_rec,
            *mut ffi::conn_rec,
            *mut ffi::request_rec,
            *mut c_char,
        ) -> *mut c_char;
        let name = self.pool().copy(name);
        // SAFETY: mod_ssl registers "ssl_var_lookup" with exactly this
        // signature; every argument is the live request's (the name a pool
        // copy it may not keep beyond the pool); the result is a pool string
        // or null.
        unsafe {
            let f = ffi::apr_dynamic_fn_retrieve(c"ssl_var_lookup".as_ptr())?;
            let f = std::mem::transmute::<unsafe extern "C" fn(), VarLookup>(f);
            let r = self.rec();
            cstr::bytes(f(r.pool, r.server, r.connection, self.as_ptr(), name)).map(<[u8]>::to_vec)
        }
    }

    /// The CGI-style variables of the access and auth scripts' environ.
    pub fn script_environ(&self) -> Vars {
        let r = self.rec();
        let pool = self.pool();
        let headers = self.headers_in();
        // SAFETY: every pointer read is a NUL-terminated string (or null)
        // of the request, its connection or its server, all outliving the
        // borrow of `self`; the functions called only read them and return
        // pool strings (ap_escape_html2, ap_psignature copy into the pool).
        unsafe {
            let c = &*r.connection;
            let s = &*r.server;
            let path_info = cstr::bytes(r.path_info).unwrap_or_default();
            let uri = cstr::bytes(r.uri).unwrap_or_default();
            let script_name_len = if path_info.is_empty() || r.uri.is_null() {
                uri.len()
            } else {
                usize::try_from(ffi::ap_find_path_info(r.uri, r.path_info)).unwrap_or(uri.len())
            };
            wsgi_core::auth::environ_vars(&RequestFacts {
                headers: headers.raw_entries().collect(),
                server_signature: cstr::bytes(ffi::ap_psignature(c"".as_ptr(), self.as_ptr())),
                server_software: cstr::bytes(ffi::ap_get_server_banner()),
                server_name: cstr::bytes(ffi::ap_escape_html2(
                    pool.as_ptr(),
                    ffi::ap_get_server_name(self.as_ptr()),
                    0,
                )),
                server_addr: cstr::bytes(c.local_ip),
                server_port: ffi::ap_get_server_port(self.as_ptr()),
                remote_host: self.remote_host(),
                remote_addr: self.useragent_ip(),
                document_root: cstr::bytes(ffi::ap_document_root(self.as_ptr())),
                server_admin: cstr::bytes(s.server_admin),
                remote_port: if c.client_addr.is_null() { 0 } else { (*c.client_addr).port },
                protocol: cstr::bytes(r.protocol).unwrap_or_default(),
                method: cstr::bytes(r.method).unwrap_or_default(),
                query_string: cstr::bytes(r.args),
                request_line: cstr::bytes(r.the_request),
                uri,
                path_info,
                script_name_len,
            })
        }
    }
}

/// The I/O of a script call made for the access or auth phases: no body
/// to read and no response to write, only the request's error log (the
/// script's `wsgi.errors`).
pub struct LogOnlyIo<'r> {
    req: Request<'r>,
}

impl<'r> LogOnlyIo<'r> {
    pub fn new(req: Request<'r>) -> Self {
        Self { req }
    }
}

// SAFETY: used only during the hook call that made it, and every use goes
// through the call's one Mutex (see SharedIo); the request is never touched
// by two threads at once. The script call takes it back before the hook
// returns.
unsafe impl Send for LogOnlyIo<'_> {}

impl RequestIo for LogOnlyIo<'_> {
    fn read(&mut self, _buf: &mut [u8]) -> Result<usize, IoError> {
        Err(IoError::Read("no request body is read in the access and auth phases".into()))
    }

    fn send_headers(&mut self, _status: &str, _headers: &[(String, String)]) -> Result<(), IoError> {
        Err(IoError::Finished)
    }

    fn write(&mut self, _data: &[u8]) -> Result<(), IoError> {
        Err(IoError::Finished)
    }

    fn ssl_is_https(&mut self) -> bool {
        self.req.ssl_is_https()
    }

    fn ssl_var_lookup(&mut self, name: &[u8]) -> Option<Vec<u8>> {
        self.req.ssl_var(name)
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        log::request(level, self.req, message);
    }
}
