//! A safe view of the `request_rec` being handled.

use super::cstr;
use super::pool::Pool;
use super::server::{Server, module_config};
use super::table::Table;
use crate::ffi;
use std::ffi::c_char;
use std::marker::PhantomData;
use wsgi_core::config::DirConfig;

/// What `r->finfo` says about the mapped file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Missing,
    Regular,
    Directory,
    Other,
}

/// The request a hook was called with, alive for `'r`.
#[derive(Clone, Copy)]
pub struct Request<'r> {
    raw: *mut ffi::request_rec,
    _request: PhantomData<&'r ffi::request_rec>,
}

impl<'r> Request<'r> {
    /// # Safety
    /// `r` must be the live request passed to the current hook, whose
    /// configuration vectors hold this module's records; `'r` must end
    /// before the hook returns.
    pub unsafe fn from_raw(r: *mut ffi::request_rec) -> Self {
        Self { raw: r, _request: PhantomData }
    }

    /// The `request_rec`, for code that hands it on as an address
    /// (`WSGIPassApacheRequest`) or to the shim.
    pub fn as_ptr(&self) -> *mut ffi::request_rec {
        self.raw
    }

    pub(super) fn rec(&self) -> &'r ffi::request_rec {
        // SAFETY: constructor contract: the request outlives 'r.
        unsafe { &*self.raw }
    }

    pub fn pool(&self) -> Pool<'r> {
        // SAFETY: the request pool lives as long as the request.
        unsafe { Pool::from_raw(self.rec().pool) }
    }

    pub fn server(&self) -> Server<'r> {
        // SAFETY: the request's server record outlives the request.
        unsafe { Server::from_raw(self.rec().server) }
    }

    /// This module's settings for the request's directory (merged by
    /// merge_dir_config).
    pub fn dir_config(&self) -> &'r DirConfig {
        // SAFETY: the per-dir vector holds the record made by our
        // create/merge_dir_config (constructor contract); it lives as long
        // as the request.
        unsafe { &*module_config::<DirConfig>(self.rec().per_dir_config) }
    }

    pub(super) fn connection(&self) -> *mut ffi::conn_rec {
        self.rec().connection
    }

    fn text(&self, p: *const c_char) -> String {
        // SAFETY: request strings are pool-allocated and outlive the request.
        unsafe { cstr::string(p) }
    }

    pub fn handler(&self) -> Option<String> {
        let h = self.rec().handler;
        (!h.is_null()).then(|| self.text(h))
    }

    /// Whether the request's handler is `name` (no copy: asked of every request).
    pub fn handler_is(&self, name: &std::ffi::CStr) -> bool {
        let h = self.rec().handler;
        // SAFETY: a non-null handler is a NUL-terminated string that lives
        // as long as the request.
        !h.is_null() && unsafe { std::ffi::CStr::from_ptr(h) } == name
    }

    /// The query string, if any.
    pub fn args(&self) -> Option<String> {
        let a = self.rec().args;
        (!a.is_null()).then(|| self.text(a))
    }

    pub fn uri(&self) -> String {
        self.text(self.rec().uri)
    }

    pub fn filename(&self) -> String {
        self.text(self.rec().filename)
    }

    pub fn file_kind(&self) -> FileKind {
        match self.rec().finfo.filetype {
            ffi::apr_filetype_e_APR_NOFILE => FileKind::Missing,
            ffi::apr_filetype_e_APR_REG => FileKind::Regular,
            ffi::apr_filetype_e_APR_DIR => FileKind::Directory,
            _ => FileKind::Other,
        }
    }

    /// The mapped file's owner and group.
    pub fn file_owner(&self) -> (u32, u32) {
        (self.rec().finfo.user, self.rec().finfo.group)
    }

    /// The mapped file's modification time, in APR microseconds.
    pub fn file_mtime(&self) -> i64 {
        self.rec().finfo.mtime
    }

    /// `Options ExecCGI` in effect for this request.
    pub fn exec_cgi_allowed(&self) -> bool {
        // SAFETY: ap_allow_options only reads the request's per-dir config.
        unsafe { ffi::ap_allow_options(self.raw) as u32 & ffi::OPT_EXECCGI != 0 }
    }

    fn table(&self, t: *mut ffi::apr_table_t) -> Table<'r> {
        // SAFETY: the request's tables are allocated from its pool.
        unsafe { Table::from_raw(t, self.pool()) }
    }

    pub fn notes(&self) -> Table<'r> {
        self.table(self.rec().notes)
    }

    pub fn subprocess_env(&self) -> Table<'r> {
        self.table(self.rec().subprocess_env)
    }

    pub fn headers_in(&self) -> Table<'r> {
        self.table(self.rec().headers_in)
    }

    /// Fills `subprocess_env` with Apache's CGI and common variables.
    pub fn add_cgi_vars(&self) {
        // SAFETY: both functions only write the request's own env table.
        unsafe {
            ffi::ap_add_common_vars(self.raw);
            ffi::ap_add_cgi_vars(self.raw);
        }
    }

    /// Maps the URI to a file, as `translate_name` does for Alias.
    pub fn set_filename(&self, name: &str) {
        let p = self.pool().pstrdup(name);
        // SAFETY: the new value is a pool string; Apache owns the field.
        unsafe { (*self.raw).filename = p as *mut c_char };
    }

    /// Sets the handler to a static name.
    pub fn set_handler(&self, name: &'static std::ffi::CStr) {
        // SAFETY: a 'static string outlives the request.
        unsafe { (*self.raw).handler = name.as_ptr() };
    }

    /// `s`, WSGI text (every char up to U+00FF), as latin-1 bytes in the
    /// request pool, NUL-terminated: what goes on the wire. A char above
    /// U+00FF (start_response refuses those) becomes '?'; a NUL ends it.
    fn latin1(&self, s: &str) -> *const c_char {
        let bytes: Vec<u8> =
            s.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).take_while(|&b| b != 0).collect();
        self.pool().copy(&bytes)
    }

    /// Adds a response header given as WSGI text (sent as latin-1), to
    /// `err_headers_out` when `keep_on_error`, else to `headers_out`.
    pub fn add_response_header(&self, name: &str, value: &str, keep_on_error: bool) {
        let table = if keep_on_error { self.rec().err_headers_out } else { self.rec().headers_out };
        let (k, v) = (self.latin1(name), self.latin1(value));
        // SAFETY: key and value are pool strings that live as long as the table.
        unsafe { ffi::apr_table_addn(table, k, v) };
    }

    /// Has Apache serve local URL `location` (latin-1 WSGI text) in place
    /// of this request's response, as a GET without a body (the body, if
    /// any, is already read), as mod_cgi and mod_wsgi do for a `Location`.
    pub fn internal_redirect(&self, location: &str) {
        self.headers_in().unset("Content-Length");
        let loc = self.latin1(location);
        // SAFETY: a 'static method name and a pool string; the handler has
        // not sent anything for this request.
        unsafe {
            (*self.raw).method = c"GET".as_ptr();
            (*self.raw).method_number = ffi::M_GET as i32;
            ffi::ap_internal_redirect_handler(loc, self.raw);
        }
    }

    /// Sets the status; `line` is WSGI text, sent as latin-1.
    pub fn set_status(&self, code: i32, line: &str) {
        let p = self.latin1(line);
        // SAFETY: fields owned by Apache; the line is a pool string.
        unsafe {
            (*self.raw).status = code;
            (*self.raw).status_line = p;
        }
    }

    /// Sets the Content-Type; `value` is WSGI text, sent as latin-1.
    pub fn set_content_type(&self, value: &str) {
        let p = self.latin1(value);
        // SAFETY: ap_set_content_type keeps the pool string.
        unsafe { ffi::ap_set_content_type(self.raw, p) };
    }

    pub fn set_content_length(&self, len: u64) {
        // SAFETY: sets r->clength and the header from the request's pool.
        unsafe { ffi::ap_set_content_length(self.raw, len as ffi::apr_off_t) };
    }

    /// Prepares the input filters; `chunked_ok` accepts a chunked body.
    pub fn setup_client_block(&self, chunked_ok: bool) -> i32 {
        let policy = if chunked_ok { ffi::REQUEST_CHUNKED_DECHUNK } else { ffi::REQUEST_CHUNKED_ERROR };
        // SAFETY: reads the request's headers and sets its body state.
        unsafe { ffi::ap_setup_client_block(self.raw, policy as i32) }
    }

    /// The declared body length still to be read, and `LimitRequestBody`.
    pub fn body_limits(&self) -> (i64, u64) {
        // SAFETY: plain reads of the request and its per-dir config.
        unsafe { (self.rec().remaining, ffi::ap_get_limit_req_body(self.raw) as u64) }
    }

    pub fn discard_body(&self) {
        // SAFETY: reads and drops the body through the input filters.
        unsafe { ffi::ap_discard_request_body(self.raw) };
    }

    /// The `mpm` answer for `AP_MPMQ_*` queries.
    pub fn mpm_query(code: u32) -> i32 {
        let mut v = 0;
        // SAFETY: writes one int.
        unsafe { ffi::ap_mpm_query(code as i32, &mut v) };
        v
    }

    /// When the request line arrived, in APR microseconds since the epoch.
    pub fn request_time(&self) -> i64 {
        self.rec().request_time
    }

    /// `M_GET` (which Apache also uses for HEAD).
    pub fn is_get_or_head(&self) -> bool {
        self.rec().method_number == ffi::M_GET as i32
    }

    /// The request's log id (`%L`), generated now when no module did yet.
    pub fn log_id(&self) -> Option<String> {
        if self.rec().log_id.is_null() {
            // SAFETY: the hook writes a pool string into the request's own
            // log_id field, as mod_wsgi and mod_unique_id do.
            unsafe { ffi::ap_run_generate_log_id(self.rec().connection, self.raw, &mut (*self.raw).log_id) };
        }
        let id = self.rec().log_id;
        (!id.is_null()).then(|| self.text(id))
    }

    fn conn(&self) -> &'r ffi::conn_rec {
        // SAFETY: a live request's connection outlives it.
        unsafe { &*self.rec().connection }
    }

    /// The connection's log id, when some module generated one.
    pub fn connection_log_id(&self) -> Option<String> {
        let id = self.conn().log_id;
        (!id.is_null()).then(|| self.text(id))
    }

    /// The client's address and port as Apache logs them (`%a`): the
    /// user agent's, which mod_remoteip may have set from a proxy header.
    pub fn client(&self) -> (String, u16) {
        let r = self.rec();
        let port = if r.useragent_addr.is_null() {
            0
        } else {
            // SAFETY: the address lives in the request's or connection's pool.
            unsafe { (*r.useragent_addr).port }
        };
        (self.text(r.useragent_ip), port)
    }

    /// The address the connection was accepted on: host as configured by
    /// `Listen` (empty for a wildcard), and port.
    pub fn listener(&self) -> (String, u16) {
        let addr = self.conn().local_addr;
        if addr.is_null() {
            return (String::new(), 0);
        }
        // SAFETY: the connection's local address lives in its pool.
        let addr = unsafe { &*addr };
        (self.text(addr.hostname), addr.port)
    }

    /// Whether the first output filter works on the content (a resource or
    /// content-set filter such as mod_deflate), as WSGIMapHEADToGET Auto asks.
    pub fn has_content_output_filter(&self) -> bool {
        let f = self.rec().output_filters;
        // SAFETY: the filter chain and its records live in the request's
        // and server's pools.
        unsafe { !f.is_null() && !(*f).frec.is_null() && (*(*f).frec).ftype < ffi::ap_filter_type_AP_FTYPE_PROTOCOL }
    }

    /// The client connection is known to be gone.
    pub fn aborted(&self) -> bool {
        self.conn().aborted != 0
    }

    /// Closes the connection after this response instead of keeping it
    /// alive (for a response whose body is shorter than it announced).
    pub fn close_connection(&self) {
        // SAFETY: Apache reads the field after the handler returns.
        unsafe { (*self.rec().connection).keepalive = ffi::ap_conn_keepalive_e_AP_CONN_CLOSE };
    }

    /// For a chunked response, keeps Apache from sending the last (empty)
    /// chunk, so that a client can tell the body was cut short.
    pub fn suppress_last_chunk(&self) {
        if self.rec().chunked != 0 {
            // SAFETY: Apache reads the flag when it finishes the request.
            unsafe { (*self.raw).eos_sent = 1 };
        }
    }

    pub fn note(&self, key: &str) -> Option<String> {
        self.notes().get(key).map(wsgi_core::text::lossy)
    }
}
