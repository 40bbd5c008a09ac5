//! Dispatches one directive line to the record it sets, after checking the
//! context it appeared in.

use super::choices::{self, AcceptMutex, MapHeadToGet, ReloadMechanism};
use super::context::{self, Scope};
use super::daemon::python_home;
use super::proxies;
use super::scripts;
use super::values::{Field, one_arg};
use super::{
    AppGroup, CallableObject, ConfigError, Context, DaemonProcess, DirConfig, ProcessGroup, ServerConfig, tokenize,
};

/// Every directive this crate knows, with where it may appear.
const DIRECTIVES: &[(&str, Scope)] = &[
    ("WSGIScriptAlias", Scope::Server),
    ("WSGIScriptAliasMatch", Scope::Server),
    ("WSGIDaemonProcess", Scope::Server),
    ("WSGIImportScript", Scope::Server),
    ("WSGISocketPrefix", Scope::MainServer),
    ("WSGISocketRotation", Scope::MainServer),
    ("WSGIAcceptMutex", Scope::MainServer),
    ("WSGIVerboseDebugging", Scope::MainServer),
    ("WSGIDontWriteBytecode", Scope::MainServer),
    ("WSGIPythonWarnings", Scope::MainServer),
    ("WSGIPythonOptimize", Scope::MainServer),
    ("WSGIPythonHome", Scope::MainServer),
    ("WSGIPythonPath", Scope::MainServer),
    ("WSGIPythonEggs", Scope::MainServer),
    ("WSGIPythonHashSeed", Scope::MainServer),
    ("WSGIDestroyInterpreter", Scope::MainServer),
    ("WSGIRestrictEmbedded", Scope::MainServer),
    ("WSGIRestrictStdin", Scope::MainServer),
    ("WSGIRestrictStdout", Scope::MainServer),
    ("WSGIRestrictSignal", Scope::MainServer),
    ("WSGICaseSensitivity", Scope::MainServer),
    ("WSGILazyInitialization", Scope::MainServer),
    ("WSGIServerMetrics", Scope::MainServer),
    ("WSGINewRelicConfigFile", Scope::MainServer),
    ("WSGINewRelicEnvironment", Scope::MainServer),
    ("WSGISwitchInterval", Scope::MainServer),
    ("WSGIRestrictProcess", Scope::ServerOrSection),
    ("WSGIProcessGroup", Scope::ServerOrSection),
    ("WSGIApplicationGroup", Scope::ServerOrSection),
    ("WSGIHandlerScript", Scope::ServerOrSection),
    ("WSGIDispatchScript", Scope::ServerOrSection),
    ("WSGICallableObject", Scope::Anywhere),
    ("WSGIPassAuthorization", Scope::Anywhere),
    ("WSGIScriptReloading", Scope::Anywhere),
    ("WSGIReloadMechanism", Scope::Anywhere),
    ("WSGIErrorOverride", Scope::Anywhere),
    ("WSGIChunkedRequest", Scope::Anywhere),
    ("WSGIMapHEADToGET", Scope::Anywhere),
    ("WSGIIgnoreActivity", Scope::Anywhere),
    ("WSGITrustedProxyHeaders", Scope::Anywhere),
    ("WSGITrustedProxies", Scope::Anywhere),
    ("WSGIEnableSendfile", Scope::Anywhere),
    ("WSGIPassApacheRequest", Scope::Anywhere),
    ("WSGIAccessScript", Scope::SectionOrHtAccess),
    ("WSGIAuthUserScript", Scope::SectionOrHtAccess),
    ("WSGIAuthGroupScript", Scope::SectionOrHtAccess),
    ("WSGIGroupAuthoritative", Scope::SectionOrHtAccess),
];

/// The names of every directive [`apply`] accepts, for checking the Apache
/// command table against.
pub fn directive_names() -> impl Iterator<Item = &'static str> {
    DIRECTIVES.iter().map(|(name, _)| *name)
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
    let Some(&(_, scope)) = DIRECTIVES.iter().find(|(n, _)| *n == name) else {
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
