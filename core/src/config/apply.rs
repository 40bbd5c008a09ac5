//! Dispatches one directive line to the record it sets.

use super::{
    AliasPattern, AppGroup, CallableObject, ConfigError, Context, DirConfig, ProcessGroup,
    ScriptAlias, ServerConfig, tokenize,
};

/// Parses `raw_args` of directive `name`, seen in `ctx`, into `server` or `dir`.
pub fn apply(
    name: &str,
    raw_args: &str,
    ctx: Context,
    server: &mut ServerConfig,
    dir: &mut DirConfig,
) -> Result<(), ConfigError> {
    let args = tokenize(raw_args);
    let one = || -> Result<&str, ConfigError> {
        match args.as_slice() {
            [v] => Ok(v.as_str()),
            _ => Err(ConfigError::new(name, "takes one argument")),
        }
    };
    let on_off = || -> Result<bool, ConfigError> {
        match one()?.to_ascii_lowercase().as_str() {
            "on" => Ok(true),
            "off" => Ok(false),
            _ => Err(ConfigError::new(name, "must be On or Off")),
        }
    };
    let _ = ctx;
    match name {
        "WSGIScriptAlias" | "WSGIScriptAliasMatch" => {
            let [url, target, ..] = args.as_slice() else {
                return Err(ConfigError::new(
                    name,
                    "takes a URL path and a file or directory path",
                ));
            };
            let pattern = if name == "WSGIScriptAlias" {
                AliasPattern::Prefix(url.clone())
            } else {
                AliasPattern::Regex(url.clone())
            };
            server.aliases.push(ScriptAlias {
                pattern,
                target: target.clone(),
                process_group: None,
                application_group: None,
                callable_object: None,
                pass_authorization: None,
            });
        }
        "WSGIApplicationGroup" => dir.application_group = Some(AppGroup::parse(one()?)),
        "WSGIProcessGroup" => dir.process_group = Some(ProcessGroup::parse(one()?)),
        "WSGICallableObject" => dir.callable_object = Some(CallableObject::parse(one()?)),
        "WSGIPassAuthorization" => dir.pass_authorization = Some(on_off()?),
        "WSGIScriptReloading" => dir.script_reloading = Some(on_off()?),
        "WSGIChunkedRequest" => dir.chunked_request = Some(on_off()?),
        _ => {}
    }
    Ok(())
}
