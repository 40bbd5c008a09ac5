//! Every `WSGI*` directive: parsed from its raw argument text, validated,
//! stored in a typed per-server or per-directory record, and merged.
//!
//! Apache hands each directive line to [`apply`] together with the context it
//! appeared in. Errors name the directive; Apache adds the file and line.

mod apply;
mod choices;
mod context;
mod daemon;
mod error;
mod groups;
mod notices;
mod proxies;
mod python;
mod registry;
mod scripts;
mod tokenize;
mod values;

pub use apply::{DIRECTIVES, Directive, apply, directive_names};
pub use choices::{AcceptMutex, MapHeadToGet, ReloadMechanism};
pub use context::Scope;
pub use daemon::{
    Account, DEFAULT_HEADER_BUFFER_SIZE, DEFAULT_LISTEN_BACKLOG, DEFAULT_RESPONSE_BUFFER_SIZE, DaemonProcess,
    MAX_THREADS,
};
pub use error::ConfigError;
pub use groups::{AppGroup, CallableObject, ProcessGroup};
pub use notices::{Notice, directive_notice, startup_notices};
pub use proxies::{TrustedProxy, header_env_name};
pub use python::{DEFAULT_RESTRICT_SIGNAL, DEFAULT_RESTRICT_STDIN, DEFAULT_RESTRICT_STDOUT, HashSeed, PythonSettings};
pub use registry::{DaemonRegistry, ServerIdentity, check_unique_daemon_names};
pub use scripts::{HandlerScript, ScriptFile};
pub use tokenize::tokenize;

use std::collections::BTreeMap;

/// Where a directive line appeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Outside any `<VirtualHost>` and outside any section.
    MainServer,
    /// Inside a `<VirtualHost>`, outside any section.
    VirtualHost,
    /// Inside `<Directory>`, `<Location>` or `<Files>`.
    Directory,
    /// In a `.htaccess` file.
    HtAccess,
}

/// How a `WSGIScriptAlias*` picks the requests it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasPattern {
    /// `WSGIScriptAlias /url`: a URL-path prefix, matched on segments.
    Prefix(String),
    /// `WSGIScriptAliasMatch regex`: an Apache (PCRE) regular expression.
    Regex(String),
}

/// One `WSGIScriptAlias` or `WSGIScriptAliasMatch` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptAlias {
    pub pattern: AliasPattern,
    /// The script file or directory; for a regex, may hold `$1`-style
    /// references. Kept as written: like mod_wsgi, a relative path is not
    /// resolved against ServerRoot.
    pub target: String,
    pub process_group: Option<ProcessGroup>,
    pub application_group: Option<AppGroup>,
    pub callable_object: Option<CallableObject>,
    pub pass_authorization: Option<bool>,
}

/// One `WSGIImportScript` line (or the preload a `WSGIScriptAlias` with
/// both groups implies, see [`ScriptAlias::preload`]). The process group is
/// `Global` or `Named`, the application group `Global` or `Named`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportScript {
    pub path: String,
    pub process_group: ProcessGroup,
    pub application_group: AppGroup,
}

/// Per-server settings (main server or one virtual host).
///
/// Options that exist once per Apache instance (`WSGIPython*`,
/// `WSGIRestrict*`, `WSGISocketPrefix`, ...) are only accepted in the main
/// server and are read from there. `None` means "not set": the default
/// is the Apache side's to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerConfig {
    pub aliases: Vec<ScriptAlias>,
    /// This server's `WSGIDaemonProcess` groups; after merging, a virtual
    /// host's list also holds the main server's.
    pub daemons: Vec<DaemonProcess>,
    pub import_scripts: Vec<ImportScript>,
    /// As written; a relative prefix is relative to ServerRoot (the Apache
    /// side resolves it with `ap_server_root_relative`).
    pub socket_prefix: Option<String>,
    pub socket_rotation: Option<bool>,
    pub accept_mutex: Option<AcceptMutex>,
    /// `prefix` or `prefix:exec_prefix`, each absolute.
    pub python_home: Option<String>,
    /// `dir:dir:...` as written.
    pub python_path: Option<String>,
    pub python_eggs: Option<String>,
    /// 0, 1 or 2.
    pub python_optimize: Option<u8>,
    pub python_hash_seed: Option<HashSeed>,
    /// `-W` filters, in order; the directive may repeat.
    pub python_warnings: Vec<String>,
    pub dont_write_bytecode: Option<bool>,
    pub restrict_embedded: Option<bool>,
    pub restrict_stdin: Option<bool>,
    pub restrict_stdout: Option<bool>,
    pub restrict_signal: Option<bool>,
    pub case_sensitivity: Option<bool>,
    pub lazy_initialization: Option<bool>,
    pub destroy_interpreter: Option<bool>,
    pub verbose_debugging: Option<bool>,
    pub server_metrics: Option<bool>,
    /// `WSGINewRelicConfigFile` / `WSGINewRelicEnvironment` (mod_wsgi 4.x
    /// and 5.0): accepted so those configurations load; see `notices`.
    pub newrelic_config_file: Option<String>,
    pub newrelic_environment: Option<String>,
    /// A `WSGIAccessScript`/`WSGIAuth*Script` appears in this server's
    /// configuration (not a directive): Apache children need Python for
    /// them even under `WSGIRestrictEmbedded On`.
    pub auth_scripts: bool,
    /// What the directives read in this server owe a start-up line for
    /// (see `notices`), with where each was written.
    pub notices: Vec<Notice>,
    /// `WSGISwitchInterval` (mod_wsgi 6): `sys.setswitchinterval()`.
    pub switch_interval: Option<std::time::Duration>,
}

/// Per-directory settings: `<Directory>`, `<Location>`, `<Files>`,
/// `.htaccess`, and the server-level defaults they merge onto.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirConfig {
    pub process_group: Option<ProcessGroup>,
    pub application_group: Option<AppGroup>,
    pub callable_object: Option<CallableObject>,
    /// Daemon group names a `%{ENV:...}` process group may pick; `""` is
    /// `%{GLOBAL}` (embedded mode).
    pub restrict_process: Option<Vec<String>>,
    pub pass_authorization: Option<bool>,
    pub pass_apache_request: Option<bool>,
    pub script_reloading: Option<bool>,
    pub reload_mechanism: Option<ReloadMechanism>,
    pub chunked_request: Option<bool>,
    pub map_head_to_get: Option<MapHeadToGet>,
    pub enable_sendfile: Option<bool>,
    pub error_override: Option<bool>,
    pub ignore_activity: Option<bool>,
    /// Header names as written; see [`header_env_name`] for the CGI form.
    pub trusted_proxy_headers: Option<Vec<String>>,
    pub trusted_proxies: Option<Vec<TrustedProxy>>,
    /// `WSGIHandlerScript`, by Apache handler name.
    pub handler_scripts: BTreeMap<String, HandlerScript>,
    pub dispatch_script: Option<ScriptFile>,
    pub access_script: Option<ScriptFile>,
    pub auth_user_script: Option<ScriptFile>,
    pub auth_group_script: Option<ScriptFile>,
    pub group_authoritative: Option<bool>,
}

impl ServerConfig {
    /// A virtual host's record merged onto the main server's: lists add
    /// (the vhost's first), scalars take the vhost's value where set.
    pub fn merge(base: &Self, add: &Self) -> Self {
        fn cat<T: Clone>(first: &[T], then: &[T]) -> Vec<T> {
            first.iter().chain(then).cloned().collect()
        }
        Self {
            aliases: cat(&add.aliases, &base.aliases),
            daemons: cat(&add.daemons, &base.daemons),
            import_scripts: cat(&add.import_scripts, &base.import_scripts),
            socket_prefix: add.socket_prefix.clone().or_else(|| base.socket_prefix.clone()),
            socket_rotation: add.socket_rotation.or(base.socket_rotation),
            accept_mutex: add.accept_mutex.or(base.accept_mutex),
            python_home: add.python_home.clone().or_else(|| base.python_home.clone()),
            python_path: add.python_path.clone().or_else(|| base.python_path.clone()),
            python_eggs: add.python_eggs.clone().or_else(|| base.python_eggs.clone()),
            python_optimize: add.python_optimize.or(base.python_optimize),
            python_hash_seed: add.python_hash_seed.or(base.python_hash_seed),
            python_warnings: cat(&base.python_warnings, &add.python_warnings),
            dont_write_bytecode: add.dont_write_bytecode.or(base.dont_write_bytecode),
            restrict_embedded: add.restrict_embedded.or(base.restrict_embedded),
            restrict_stdin: add.restrict_stdin.or(base.restrict_stdin),
            restrict_stdout: add.restrict_stdout.or(base.restrict_stdout),
            restrict_signal: add.restrict_signal.or(base.restrict_signal),
            case_sensitivity: add.case_sensitivity.or(base.case_sensitivity),
            lazy_initialization: add.lazy_initialization.or(base.lazy_initialization),
            destroy_interpreter: add.destroy_interpreter.or(base.destroy_interpreter),
            verbose_debugging: add.verbose_debugging.or(base.verbose_debugging),
            server_metrics: add.server_metrics.or(base.server_metrics),
            newrelic_config_file: add.newrelic_config_file.clone().or_else(|| base.newrelic_config_file.clone()),
            newrelic_environment: add.newrelic_environment.clone().or_else(|| base.newrelic_environment.clone()),
            switch_interval: add.switch_interval.or(base.switch_interval),
            auth_scripts: add.auth_scripts || base.auth_scripts,
            notices: cat(&base.notices, &add.notices),
        }
    }
}

impl DirConfig {
    /// A more specific section merged onto a less specific one: each
    /// setting the section made wins, lists included (they replace, as in
    /// mod_wsgi, rather than add).
    pub fn merge(base: &Self, add: &Self) -> Self {
        fn pick<T: Clone>(add: &Option<T>, base: &Option<T>) -> Option<T> {
            add.clone().or_else(|| base.clone())
        }
        Self {
            process_group: pick(&add.process_group, &base.process_group),
            application_group: pick(&add.application_group, &base.application_group),
            callable_object: pick(&add.callable_object, &base.callable_object),
            restrict_process: pick(&add.restrict_process, &base.restrict_process),
            pass_authorization: pick(&add.pass_authorization, &base.pass_authorization),
            pass_apache_request: pick(&add.pass_apache_request, &base.pass_apache_request),
            script_reloading: pick(&add.script_reloading, &base.script_reloading),
            reload_mechanism: pick(&add.reload_mechanism, &base.reload_mechanism),
            chunked_request: pick(&add.chunked_request, &base.chunked_request),
            map_head_to_get: pick(&add.map_head_to_get, &base.map_head_to_get),
            enable_sendfile: pick(&add.enable_sendfile, &base.enable_sendfile),
            error_override: pick(&add.error_override, &base.error_override),
            ignore_activity: pick(&add.ignore_activity, &base.ignore_activity),
            trusted_proxy_headers: pick(&add.trusted_proxy_headers, &base.trusted_proxy_headers),
            trusted_proxies: pick(&add.trusted_proxies, &base.trusted_proxies),
            // Per handler name, the more specific section wins.
            handler_scripts: base
                .handler_scripts
                .iter()
                .chain(&add.handler_scripts)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            dispatch_script: pick(&add.dispatch_script, &base.dispatch_script),
            access_script: pick(&add.access_script, &base.access_script),
            auth_user_script: pick(&add.auth_user_script, &base.auth_user_script),
            auth_group_script: pick(&add.auth_group_script, &base.auth_group_script),
            group_authoritative: pick(&add.group_authoritative, &base.group_authoritative),
        }
    }
}

#[cfg(test)]
mod merge_tests;

/// A main server's record from directive lines, for unit tests.
#[cfg(test)]
pub(crate) fn test_server(lines: &[(&str, &str)]) -> ServerConfig {
    let mut s = ServerConfig::default();
    let mut d = DirConfig::default();
    for (name, args) in lines {
        apply(name, args, Context::MainServer, &mut s, &mut d).unwrap();
    }
    s
}
