//! Configuration records: creation, merging, and the one directive handler
//! behind every `WSGI*` line. Parsing itself is `wsgi_core::config`.

use crate::apache::pool::Pool;
use crate::apache::regex::Regex;
use crate::apache::server::{Server, ServerRecord};
use crate::ffi;
use std::ffi::{CStr, c_char, c_void};
use wsgi_core::config::{self, AliasPattern, Context, DaemonRegistry, DirConfig, ServerConfig, ServerIdentity};

pub extern "C" fn create_dir_config(p: *mut ffi::apr_pool_t, _dir: *mut c_char) -> *mut c_void {
    super::guard("create_dir_config", std::ptr::null_mut(), || {
        // SAFETY: Apache passes the pool the record lives in.
        unsafe { Pool::from_raw(p) }.alloc(DirConfig::default()).cast()
    })
}

pub extern "C" fn merge_dir_config(p: *mut ffi::apr_pool_t, base: *mut c_void, add: *mut c_void) -> *mut c_void {
    super::guard("merge_dir_config", std::ptr::null_mut(), || {
        // SAFETY: Apache passes the pool the merged record lives in, and
        // two records made by create_dir_config.
        let (pool, base, add) =
            unsafe { (Pool::from_raw(p), &*(base as *const DirConfig), &*(add as *const DirConfig)) };
        pool.alloc(DirConfig::merge(base, add)).cast()
    })
}

pub extern "C" fn create_server_config(p: *mut ffi::apr_pool_t, _s: *mut ffi::server_rec) -> *mut c_void {
    super::guard("create_server_config", std::ptr::null_mut(), || {
        // SAFETY: Apache passes the pool the record lives in.
        unsafe { Pool::from_raw(p) }.alloc(ServerRecord::default()).cast()
    })
}

pub extern "C" fn merge_server_config(p: *mut ffi::apr_pool_t, base: *mut c_void, add: *mut c_void) -> *mut c_void {
    super::guard("merge_server_config", std::ptr::null_mut(), || {
        // SAFETY: Apache passes the pool the merged record lives in, and
        // two records made by create_server_config.
        let (pool, base, add) =
            unsafe { (Pool::from_raw(p), &*(base as *const ServerRecord), &*(add as *const ServerRecord)) };
        let merged = ServerRecord {
            cfg: ServerConfig::merge(&base.cfg, &add.cfg),
            alias_regex: add.alias_regex.iter().chain(&base.alias_regex).copied().collect(),
        };
        pool.alloc(merged).cast()
    })
}

/// The daemon groups defined so far in this configuration pass; it lives in
/// pconf, which Apache clears before every pass.
fn daemon_registry(pconf: Pool<'_>) -> &'static mut DaemonRegistry {
    const KEY: &CStr = c"mod_wsgi_rs.daemon_registry";
    let mut p = pconf.userdata(KEY) as *mut DaemonRegistry;
    if p.is_null() {
        p = pconf.alloc(DaemonRegistry::new());
        pconf.set_userdata(KEY, p.cast());
    }
    // SAFETY: pool memory valid until pconf is cleared, which happens only
    // between configuration passes, when no directive is being parsed.
    unsafe { &mut *p }
}

/// The rules one server's record cannot check: unique daemon names, and
/// groups referenced where they are visible (mod_wsgi checks both while
/// reading the line, so the error carries its line number).
fn check_across_servers(
    server: Server<'_>,
    pconf: Pool<'_>,
    name: &str,
    cfg: &ServerConfig,
) -> Result<(), config::ConfigError> {
    let hostname = server.hostname();
    let identity = ServerIdentity {
        server_name: (!hostname.is_empty()).then_some(hostname.as_str()),
        is_virtual: server.is_virtual(),
    };
    let registry = daemon_registry(pconf);
    match name {
        "WSGIDaemonProcess" => cfg.daemons.last().map_or(Ok(()), |d| {
            registry.register(d, identity)?;
            check_accounts(d)
        }),
        "WSGIImportScript" => {
            cfg.import_scripts.last().map_or(Ok(()), |s| registry.check_reference(name, &s.process_group, identity))
        }
        "WSGIScriptAlias" | "WSGIScriptAliasMatch" => cfg
            .aliases
            .last()
            .and_then(|a| a.preload())
            .map_or(Ok(()), |s| registry.check_reference(name, &s.process_group, identity)),
        _ => Ok(()),
    }
}

/// `user=`, `group=`, `script-user=` and `script-group=` must name existing
/// accounts, and `user=` never root.
fn check_accounts(d: &config::DaemonProcess) -> Result<(), config::ConfigError> {
    use crate::daemon::accounts;
    let err = |msg: String| Err(config::ConfigError::new("WSGIDaemonProcess", msg));
    if let Some(user @ config::Account::Name(name)) = &d.user {
        match accounts::user(user) {
            Some(u) if u.uid.is_root() => {
                return err(format!("daemon process group '{}' may not run as user '{name}', which is root", d.name));
            }
            Some(_) => {}
            None => return err(format!("user '{name}' of daemon process group '{}' does not exist", d.name)),
        }
    }
    if let Some(group @ config::Account::Name(name)) = &d.group
        && accounts::gid(group).is_none()
    {
        return err(format!("group '{name}' of daemon process group '{}' does not exist", d.name));
    }
    if let Some(user @ config::Account::Name(name)) = &d.script_user
        && accounts::uid(user).is_none()
    {
        return err(format!("script-user '{name}' of daemon process group '{}' does not exist", d.name));
    }
    if let Some(group @ config::Account::Name(name)) = &d.script_group
        && accounts::gid(group).is_none()
    {
        return err(format!("script-group '{name}' of daemon process group '{}' does not exist", d.name));
    }
    Ok(())
}

/// "file:line" of the directive being parsed.
fn where_written(cmd: &ffi::cmd_parms) -> String {
    if cmd.directive.is_null() {
        return String::new();
    }
    // SAFETY: the directive node being parsed and its pool-owned file name.
    let (file, line) = unsafe { (crate::apache::cstr::string((*cmd.directive).filename), (*cmd.directive).line_num) };
    format!("{file}:{line}")
}

/// Where the directive being parsed sits.
fn context_of(cmd: &ffi::cmd_parms, server: Server<'_>) -> Context {
    // A .htaccess file is read with `override` set from AllowOverride,
    // which never includes ACCESS_CONF or RSRC_CONF.
    if cmd.override_ & (ffi::ACCESS_CONF | ffi::RSRC_CONF) as i32 == 0 {
        return Context::HtAccess;
    }
    // <AuthnProviderAlias> has no path, and only ACCESS_CONF: a section
    // whose settings reach the provider it names.
    if !cmd.path.is_null() || cmd.override_ & ffi::RSRC_CONF as i32 == 0 {
        return Context::Directory;
    }
    if server.is_virtual() { Context::VirtualHost } else { Context::MainServer }
}

/// The handler of every `WSGI*` directive (the C table points here).
#[unsafe(no_mangle)]
pub extern "C" fn wsgi_rs_directive(
    cmd: *mut ffi::cmd_parms,
    mconfig: *mut c_void,
    args: *const c_char,
) -> *const c_char {
    super::guard("directive handler", c"mod_wsgi-rs: internal error parsing directive".as_ptr(), || {
        // SAFETY: Apache passes its live cmd_parms, the per-dir record of
        // the current section, and the NUL-terminated rest of the line.
        let (cmd, name, args) = unsafe {
            let cmd = &*cmd;
            (cmd, CStr::from_ptr((*cmd.cmd).name).to_string_lossy(), CStr::from_ptr(args).to_string_lossy())
        };
        // SAFETY: the server being configured and the configuration pool;
        // directives are read single-threaded, and nothing else borrows the
        // server's record or the section's per-dir record (made by
        // create_dir_config) while this one is applied.
        let (server, pool, record, dir) = unsafe {
            let server = Server::from_raw(cmd.server);
            (server, Pool::from_raw(cmd.pool), server.record_mut(), &mut *(mconfig as *mut DirConfig))
        };
        let context = context_of(cmd, server);
        let before = record.cfg.aliases.len();
        let checked = config::apply(&name, &args, context, &mut record.cfg, dir)
            .and_then(|()| check_across_servers(server, pool, &name, &record.cfg));
        if let Err(e) = checked {
            return pool.pstrdup(&e.to_string());
        }
        // Logged by post_config, once the error log is open. Not from a
        // .htaccess file: it is read while requests are served, when the
        // server's record is shared and must not change.
        if let Some(mut notice) = config::directive_notice(&name).filter(|_| context != Context::HtAccess) {
            notice.text = format!("{} ({})", notice.text, where_written(cmd));
            record.cfg.notices.push(notice);
        }
        for alias in &record.cfg.aliases[before..] {
            let compiled = match &alias.pattern {
                AliasPattern::Prefix(_) => None,
                AliasPattern::Regex(re) => match Regex::compile(pool, re) {
                    Some(r) => Some(r),
                    None => {
                        let msg = format!("{name}: regular expression '{re}' could not be compiled");
                        return pool.pstrdup(&msg);
                    }
                },
            };
            record.alias_regex.push(compiled);
        }
        std::ptr::null()
    })
}
