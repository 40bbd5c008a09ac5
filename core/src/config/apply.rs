//! Dispatches one directive line to the record it sets, after checking the
//! context it appeared in.

use std::ffi::CStr;

use super::choices::{self, AcceptMutex, MapHeadToGet, ReloadMechanism};
use super::context::{self, Scope};
use super::daemon::python_home;
use super::proxies;
use super::scripts;
use super::values::{Field, one_arg};
use super::{
    AppGroup, CallableObject, ConfigError, Context, DaemonProcess, DirConfig, ProcessGroup, ServerConfig, tokenize,
};

/// A directive: its name, where it may be written, its help text.
#[derive(Debug, Clone, Copy)]
pub struct Directive {
    pub name: &'static CStr,
    pub scope: Scope,
    pub help: &'static CStr,
}

/// Every directive this module registers with Apache, where it may appear,
/// and the help text Apache shows for it: the one list the command table
/// is built from (src/commands.rs), so no directive exists without a parser.
pub const DIRECTIVES: &[Directive] = &[
    Directive { name: c"WSGIScriptAlias", scope: Scope::Server, help: c"Map location to target WSGI script file." },
    Directive {
        name: c"WSGIScriptAliasMatch",
        scope: Scope::Server,
        help: c"Map location pattern to target WSGI script file.",
    },
    Directive {
        name: c"WSGIDaemonProcess",
        scope: Scope::Server,
        help: c"Specify details of daemon processes to start.",
    },
    Directive { name: c"WSGIImportScript", scope: Scope::Server, help: c"Location of WSGI import script." },
    Directive {
        name: c"WSGISocketPrefix",
        scope: Scope::MainServer,
        help: c"Path prefix for the daemon process sockets.",
    },
    Directive {
        name: c"WSGISocketRotation",
        scope: Scope::MainServer,
        help: c"Enable/Disable rotation of daemon process sockets.",
    },
    Directive {
        name: c"WSGIAcceptMutex",
        scope: Scope::MainServer,
        help: c"Set accept mutex type for daemon processes.",
    },
    Directive {
        name: c"WSGIVerboseDebugging",
        scope: Scope::MainServer,
        help: c"Enable/Disable verbose debugging messages.",
    },
    Directive {
        name: c"WSGIDontWriteBytecode",
        scope: Scope::MainServer,
        help: c"Enable/Disable writing of byte code.",
    },
    Directive { name: c"WSGIPythonWarnings", scope: Scope::MainServer, help: c"Control Python warning messages." },
    Directive {
        name: c"WSGIPythonOptimize",
        scope: Scope::MainServer,
        help: c"Set level of Python compiler optimisations.",
    },
    Directive {
        name: c"WSGIPythonHome",
        scope: Scope::MainServer,
        help: c"Python prefix/exec_prefix absolute path names.",
    },
    Directive { name: c"WSGIPythonPath", scope: Scope::MainServer, help: c"Python module search path." },
    Directive { name: c"WSGIPythonEggs", scope: Scope::MainServer, help: c"Python eggs cache directory." },
    Directive { name: c"WSGIPythonHashSeed", scope: Scope::MainServer, help: c"Python hash seed." },
    Directive {
        name: c"WSGIDestroyInterpreter",
        scope: Scope::MainServer,
        help: c"Enable/Disable destruction of Python interpreter.",
    },
    Directive {
        name: c"WSGIRestrictEmbedded",
        scope: Scope::MainServer,
        help: c"Enable/Disable use of embedded mode.",
    },
    Directive {
        name: c"WSGIRestrictStdin",
        scope: Scope::MainServer,
        help: c"Enable/Disable restrictions on use of STDIN.",
    },
    Directive {
        name: c"WSGIRestrictStdout",
        scope: Scope::MainServer,
        help: c"Enable/Disable restrictions on use of STDOUT.",
    },
    Directive {
        name: c"WSGIRestrictSignal",
        scope: Scope::MainServer,
        help: c"Enable/Disable restrictions on use of signal().",
    },
    Directive {
        name: c"WSGICaseSensitivity",
        scope: Scope::MainServer,
        help: c"Define whether file system is case sensitive.",
    },
    Directive {
        name: c"WSGILazyInitialization",
        scope: Scope::MainServer,
        help: c"Enable/Disable lazy Python initialisation.",
    },
    Directive {
        name: c"WSGIServerMetrics",
        scope: Scope::MainServer,
        help: c"Enable/Disable access to server metrics.",
    },
    Directive {
        name: c"WSGINewRelicConfigFile",
        scope: Scope::MainServer,
        help: c"New Relic agent configuration file (no effect here).",
    },
    Directive {
        name: c"WSGINewRelicEnvironment",
        scope: Scope::MainServer,
        help: c"New Relic agent environment (no effect here).",
    },
    Directive {
        name: c"WSGISwitchInterval",
        scope: Scope::MainServer,
        help: c"Python GIL switch interval in seconds.",
    },
    Directive {
        name: c"WSGIRestrictProcess",
        scope: Scope::ServerOrSection,
        help: c"Limit selectable WSGI process groups.",
    },
    Directive { name: c"WSGIProcessGroup", scope: Scope::ServerOrSection, help: c"Name of the WSGI process group." },
    Directive { name: c"WSGIApplicationGroup", scope: Scope::ServerOrSection, help: c"Application interpreter group." },
    Directive {
        name: c"WSGIHandlerScript",
        scope: Scope::ServerOrSection,
        help: c"Location of WSGI handler script file.",
    },
    Directive {
        name: c"WSGIDispatchScript",
        scope: Scope::ServerOrSection,
        help: c"Location of WSGI dispatch script.",
    },
    Directive {
        name: c"WSGICallableObject",
        scope: Scope::Anywhere,
        help: c"Name of entry point in WSGI script file.",
    },
    Directive { name: c"WSGIPassAuthorization", scope: Scope::Anywhere, help: c"Enable/Disable WSGI authorization." },
    Directive {
        name: c"WSGIScriptReloading",
        scope: Scope::Anywhere,
        help: c"Enable/Disable script reloading mechanism.",
    },
    Directive {
        name: c"WSGIReloadMechanism",
        scope: Scope::Anywhere,
        help: c"Reload mechanism used when script changes.",
    },
    Directive {
        name: c"WSGIErrorOverride",
        scope: Scope::Anywhere,
        help: c"Enable/Disable overriding of error pages.",
    },
    Directive {
        name: c"WSGIChunkedRequest",
        scope: Scope::Anywhere,
        help: c"Enable/Disable support for chunked requests.",
    },
    Directive { name: c"WSGIMapHEADToGET", scope: Scope::Anywhere, help: c"Enable/Disable mapping of HEAD to GET." },
    Directive {
        name: c"WSGIIgnoreActivity",
        scope: Scope::Anywhere,
        help: c"Enable/Disable reset of inactivity timeout.",
    },
    Directive {
        name: c"WSGITrustedProxyHeaders",
        scope: Scope::Anywhere,
        help: c"Specify a list of trusted proxy headers.",
    },
    Directive { name: c"WSGITrustedProxies", scope: Scope::Anywhere, help: c"Specify a list of trusted proxies." },
    Directive {
        name: c"WSGIEnableSendfile",
        scope: Scope::Anywhere,
        help: c"Enable/Disable support for kernel sendfile.",
    },
    Directive {
        name: c"WSGIPassApacheRequest",
        scope: Scope::Anywhere,
        help: c"Enable/Disable Apache request object.",
    },
    Directive {
        name: c"WSGIAccessScript",
        scope: Scope::SectionOrHtAccess,
        help: c"Location of WSGI host access script file.",
    },
    Directive {
        name: c"WSGIAuthUserScript",
        scope: Scope::SectionOrHtAccess,
        help: c"Location of WSGI user auth script file.",
    },
    Directive {
        name: c"WSGIAuthGroupScript",
        scope: Scope::SectionOrHtAccess,
        help: c"Location of WSGI group auth script file.",
    },
    Directive {
        name: c"WSGIGroupAuthoritative",
        scope: Scope::SectionOrHtAccess,
        help: c"Enable/Disable as being authoritative on groups.",
    },
];

/// The names of every directive [`apply`] accepts, for checking the Apache
/// command table against.
pub fn directive_names() -> impl Iterator<Item = &'static str> {
    DIRECTIVES.iter().filter_map(|d| d.name.to_str().ok())
}

/// Parses `raw_args` of directive `name`, seen in `ctx`, into `server` or `dir`.
///
/// Settings of the per-directory kind go to `dir` in every context: at
/// server level Apache hands over the server's default per-directory record,
/// which every section then merges onto.
pub fn apply(
    name: &str,
    raw_args: &str,
    ctx: Context,
    server: &mut ServerConfig,
    dir: &mut DirConfig,
) -> Result<(), ConfigError> {
    let Some(scope) = DIRECTIVES.iter().find(|d| d.name.to_bytes() == name.as_bytes()).map(|d| d.scope) else {
        return Err(ConfigError::new(name, "unknown directive: check its spelling"));
    };
    context::check(name, scope, ctx)?;
    let args = tokenize(raw_args);
    let f = Field::directive(name);
    let one = || one_arg(name, &args);
    let flag = || one().and_then(|v| f.on_off(v));
    match name {
        "WSGIScriptAlias" => server.aliases.push(scripts::script_alias(name, raw_args, false)?),
        "WSGIScriptAliasMatch" => server.aliases.push(scripts::script_alias(name, raw_args, true)?),
        "WSGIDaemonProcess" => {
            let daemon = DaemonProcess::parse(raw_args)?;
            // Only this server's groups are visible here; the registry
            // checks across servers (see registry.rs).
            if server.daemons.iter().any(|d| d.name == daemon.name) {
                return Err(ConfigError::new(
                    name,
                    format!(
                        "a daemon process group named '{}' is already defined: names must \
                         be unique across the whole server, including every <VirtualHost>",
                        daemon.name
                    ),
                ));
            }
            server.daemons.push(daemon);
        }
        "WSGIImportScript" => server.import_scripts.push(scripts::import_script(raw_args)?),
        "WSGISocketPrefix" => server.socket_prefix = Some(one()?.to_string()),
        "WSGISocketRotation" => server.socket_rotation = Some(flag()?),
        "WSGIAcceptMutex" => server.accept_mutex = Some(AcceptMutex::parse(f, one()?)?),
        "WSGIVerboseDebugging" => server.verbose_debugging = Some(flag()?),
        "WSGIDontWriteBytecode" => server.dont_write_bytecode = Some(flag()?),
        "WSGIPythonWarnings" => server.python_warnings.push(choices::python_warnings(f, one()?)?),
        "WSGIPythonOptimize" => server.python_optimize = Some(choices::python_optimize(f, one()?)?),
        "WSGIPythonHome" => server.python_home = Some(python_home(f, one()?)?),
        "WSGIPythonPath" => {
            let path = one()?;
            if path.split(':').all(str::is_empty) {
                return Err(f.invalid(path, "one or more directories separated by ':'"));
            }
            server.python_path = Some(path.to_string());
        }
        "WSGIPythonEggs" => server.python_eggs = Some(one()?.to_string()),
        "WSGIPythonHashSeed" => server.python_hash_seed = Some(choices::python_hash_seed(f, one()?)?),
        "WSGIDestroyInterpreter" => server.destroy_interpreter = Some(flag()?),
        "WSGIRestrictEmbedded" => server.restrict_embedded = Some(flag()?),
        "WSGIRestrictStdin" => server.restrict_stdin = Some(flag()?),
        "WSGIRestrictStdout" => server.restrict_stdout = Some(flag()?),
        "WSGIRestrictSignal" => server.restrict_signal = Some(flag()?),
        "WSGICaseSensitivity" => server.case_sensitivity = Some(flag()?),
        "WSGILazyInitialization" => server.lazy_initialization = Some(flag()?),
        "WSGINewRelicConfigFile" => server.newrelic_config_file = Some(one()?.to_string()),
        "WSGINewRelicEnvironment" => server.newrelic_environment = Some(one()?.to_string()),
        "WSGISwitchInterval" => server.switch_interval = Some(f.positive_seconds(one()?)?),
        "WSGIServerMetrics" => server.server_metrics = Some(flag()?),
        "WSGIRestrictProcess" => dir.restrict_process = Some(restrict_process(f, &args)?),
        "WSGIProcessGroup" => {
            let v = one()?;
            dir.process_group = Some(ProcessGroup::from_config(v).map_err(|why| f.invalid(v, &why))?);
        }
        "WSGIApplicationGroup" => {
            let v = one()?;
            dir.application_group = Some(AppGroup::from_config(v).map_err(|why| f.invalid(v, &why))?);
        }
        "WSGIHandlerScript" => {
            let (handler, script) = scripts::handler_script(raw_args)?;
            dir.handler_scripts.insert(handler, script);
        }
        "WSGIDispatchScript" => dir.dispatch_script = Some(scripts::script_file(name, raw_args)?),
        "WSGIPassApacheRequest" => dir.pass_apache_request = Some(flag()?),
        "WSGICallableObject" => {
            let v = one()?;
            dir.callable_object = Some(CallableObject::from_config(v).map_err(|why| f.invalid(v, &why))?);
        }
        "WSGIPassAuthorization" => dir.pass_authorization = Some(flag()?),
        "WSGIScriptReloading" => dir.script_reloading = Some(flag()?),
        "WSGIReloadMechanism" => dir.reload_mechanism = Some(ReloadMechanism::parse(f, one()?)?),
        "WSGIErrorOverride" => dir.error_override = Some(flag()?),
        "WSGIChunkedRequest" => dir.chunked_request = Some(flag()?),
        "WSGIMapHEADToGET" => dir.map_head_to_get = Some(MapHeadToGet::parse(f, one()?)?),
        "WSGIIgnoreActivity" => dir.ignore_activity = Some(flag()?),
        // Several lines in one section add up, as in mod_wsgi.
        "WSGITrustedProxyHeaders" => {
            dir.trusted_proxy_headers.get_or_insert_with(Vec::new).extend(proxies::trusted_proxy_headers(f, &args)?)
        }
        "WSGITrustedProxies" => {
            dir.trusted_proxies.get_or_insert_with(Vec::new).extend(proxies::trusted_proxies(f, &args)?)
        }
        "WSGIEnableSendfile" => dir.enable_sendfile = Some(flag()?),
        "WSGIAccessScript" | "WSGIAuthUserScript" | "WSGIAuthGroupScript" => {
            let script = Some(scripts::script_file(name, raw_args)?);
            match name {
                "WSGIAccessScript" => dir.access_script = script,
                "WSGIAuthUserScript" => dir.auth_user_script = script,
                _ => dir.auth_group_script = script,
            }
            // They run in Apache children, whatever WSGIRestrictEmbedded
            // says. A .htaccess file is read while requests are served:
            // the server's record is shared then and must not change.
            if ctx != Context::HtAccess {
                server.auth_scripts = true;
            }
        }
        "WSGIGroupAuthoritative" => dir.group_authoritative = Some(flag()?),
        _ => {
            return Err(ConfigError::new(name, "is listed but has no parser: this is a bug in mod_wsgi-rs"));
        }
    }
    Ok(())
}

/// `WSGIRestrictProcess group ...`: `%{GLOBAL}` (embedded mode) is stored
/// as `""`, the name mod_wsgi gives it.
fn restrict_process(f: Field, args: &[String]) -> Result<Vec<String>, ConfigError> {
    const EXPECTED: &str = "list one or more daemon process group names, or %{GLOBAL}";
    if args.is_empty() {
        return Err(f.missing(EXPECTED));
    }
    args.iter()
        .map(|a| match a.as_str() {
            "%{GLOBAL}" => Ok(String::new()),
            "" => Err(f.missing(EXPECTED)),
            v if v.starts_with("%{") => Err(f.invalid(v, EXPECTED)),
            v => Ok(v.to_string()),
        })
        .collect()
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
