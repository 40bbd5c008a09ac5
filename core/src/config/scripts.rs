//! Directives naming a script plus `name=value` options:
//! `WSGIScriptAlias[Match]`, `WSGIImportScript`, `WSGIHandlerScript`,
//! `WSGIDispatchScript`, `WSGIAccessScript`, `WSGIAuthUserScript` and
//! `WSGIAuthGroupScript`.

use super::groups::AppGroupForms;
use super::tokenize::{next_word, options};
use super::values::Field;
use super::{AliasPattern, AppGroup, CallableObject, ConfigError, ImportScript, ProcessGroup, ScriptAlias};

/// `WSGIHandlerScript name path [options]`: the script serving requests
/// whose Apache handler is `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerScript {
    pub path: String,
    pub process_group: Option<ProcessGroup>,
    pub application_group: Option<AppGroup>,
    pub pass_authorization: Option<bool>,
}

/// `WSGIDispatchScript`, `WSGIAccessScript`, `WSGIAuthUserScript`,
/// `WSGIAuthGroupScript`: a script run in the Apache child (never a
/// daemon), in `application_group`, `%{GLOBAL}` when not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFile {
    pub path: String,
    /// Only `Global`, `Server`, `Host` or `Named`: mod_wsgi expands these
    /// scripts' groups without a request path or environment.
    pub application_group: Option<AppGroup>,
}

/// The options of one line, each option at most once and known to `allowed`.
fn checked_options(directive: &str, rest: &str, allowed: &[&str]) -> Result<Vec<(String, String)>, ConfigError> {
    let list = allowed.join(", ");
    let opts = options(rest).map_err(|word| {
        ConfigError::new(directive, format!("expected an option written as name=value ({list}), found '{word}'"))
    })?;
    for (i, (name, _)) in opts.iter().enumerate() {
        if !allowed.contains(&name.as_str()) {
            return Err(ConfigError::new(directive, format!("unknown option '{name}': the options are {list}")));
        }
        if opts[..i].iter().any(|(n, _)| n == name) {
            return Err(ConfigError::new(directive, format!("option '{name}' is given more than once: keep one")));
        }
    }
    Ok(opts)
}

fn app_group(f: Field, value: &str, forms: AppGroupForms) -> Result<AppGroup, ConfigError> {
    AppGroup::from_config_with(value, forms).map_err(|why| invalid_or_empty(f, value, &why))
}

fn process_group(f: Field, value: &str) -> Result<ProcessGroup, ConfigError> {
    ProcessGroup::from_config(value).map_err(|why| invalid_or_empty(f, value, &why))
}

/// The error for a group or callable value rejected with `why`.
fn invalid_or_empty(f: Field, value: &str, why: &str) -> ConfigError {
    match why.strip_prefix("must not be empty: ") {
        Some(expected) => f.missing(expected),
        None => f.invalid(value, why),
    }
}

/// `WSGIScriptAlias url target [options]` or `WSGIScriptAliasMatch regex
/// target [options]`. A relative target is kept as written: mod_wsgi does
/// not resolve it against ServerRoot either.
pub(crate) fn script_alias(directive: &str, raw: &str, regex: bool) -> Result<ScriptAlias, ConfigError> {
    let (url, rest) = next_word(raw);
    let (target, rest) = next_word(rest);
    if url.is_empty() || target.is_empty() {
        let what = if regex { "a regular expression" } else { "a URL path" };
        return Err(ConfigError::new(directive, format!("needs {what} and a script file or directory path")));
    }
    let opts = checked_options(
        directive,
        rest,
        &["process-group", "application-group", "callable-object", "pass-authorization"],
    )?;
    let pattern = if regex { AliasPattern::Regex(url) } else { AliasPattern::Prefix(url) };
    let mut alias = ScriptAlias {
        pattern,
        target,
        process_group: None,
        application_group: None,
        callable_object: None,
        pass_authorization: None,
    };
    for (name, value) in &opts {
        let f = Field::option(directive, name);
        match name.as_str() {
            "process-group" => alias.process_group = Some(process_group(f, value)?),
            "application-group" => alias.application_group = Some(app_group(f, value, AppGroupForms::All)?),
            "callable-object" => {
                alias.callable_object =
                    Some(CallableObject::from_config(value).map_err(|why| invalid_or_empty(f, value, &why))?)
            }
            _ => alias.pass_authorization = Some(f.on_off(value)?),
        }
    }
    Ok(alias)
}

impl ScriptAlias {
    /// The script mod_wsgi preloads at process start because of this alias:
    /// when both groups are given, neither is expanded per request, and
    /// (for `WSGIScriptAliasMatch`) the target has no `$n` substitution.
    /// mod_wsgi also requires such a daemon group to be defined already;
    /// see [`super::DaemonRegistry::check_reference`].
    pub fn preload(&self) -> Option<ImportScript> {
        let process_group = match &self.process_group {
            Some(g @ (ProcessGroup::Global | ProcessGroup::Named(_))) => g.clone(),
            _ => return None,
        };
        let application_group = match &self.application_group {
            Some(g @ (AppGroup::Global | AppGroup::Named(_))) => g.clone(),
            _ => return None,
        };
        if matches!(self.pattern, AliasPattern::Regex(_)) && self.target.contains('$') {
            return None;
        }
        Some(ImportScript { path: self.target.clone(), process_group, application_group })
    }
}

/// `WSGIImportScript path process-group=X application-group=Y`, both
/// options required.
pub(crate) fn import_script(raw: &str) -> Result<ImportScript, ConfigError> {
    const D: &str = "WSGIImportScript";
    let (path, rest) = next_word(raw);
    if path.is_empty() {
        return Err(ConfigError::new(
            D,
            "needs the script path, as in: WSGIImportScript /path/app.wsgi \
             process-group=%{GLOBAL} application-group=%{GLOBAL}",
        ));
    }
    let opts = checked_options(D, rest, &["process-group", "application-group"])?;
    let value = |name: &str| {
        opts.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).ok_or_else(|| {
            ConfigError::new(D, format!("missing option '{name}': give {name}=%{{GLOBAL}} or a group name"))
        })
    };
    let pg = value("process-group")?;
    let ag = value("application-group")?;
    let process_group = ProcessGroup::from_config_fixed(pg)
        .map_err(|why| invalid_or_empty(Field::option(D, "process-group"), pg, &why))?;
    let application_group = app_group(Field::option(D, "application-group"), ag, AppGroupForms::GlobalOnly)?;
    Ok(ImportScript { path, process_group, application_group })
}

/// `WSGIHandlerScript name path [process-group=] [application-group=]
/// [pass-authorization=]`.
pub(crate) fn handler_script(raw: &str) -> Result<(String, HandlerScript), ConfigError> {
    const D: &str = "WSGIHandlerScript";
    let (name, rest) = next_word(raw);
    let (path, rest) = next_word(rest);
    if name.is_empty() || path.is_empty() {
        return Err(ConfigError::new(
            D,
            "needs a handler name and a script path, as in: WSGIHandlerScript my-handler /path/handler.wsgi",
        ));
    }
    let opts = checked_options(D, rest, &["process-group", "application-group", "pass-authorization"])?;
    let mut script = HandlerScript { path, process_group: None, application_group: None, pass_authorization: None };
    for (option, value) in &opts {
        let f = Field::option(D, option);
        match option.as_str() {
            "process-group" => script.process_group = Some(process_group(f, value)?),
            "application-group" => script.application_group = Some(app_group(f, value, AppGroupForms::All)?),
            _ => script.pass_authorization = Some(f.on_off(value)?),
        }
    }
    Ok((name, script))
}

/// The dispatch and auth scripts: `path [application-group=NAME]`.
pub(crate) fn script_file(directive: &str, raw: &str) -> Result<ScriptFile, ConfigError> {
    let (path, rest) = next_word(raw);
    if path.is_empty() {
        return Err(ConfigError::new(
            directive,
            format!("needs the script path, as in: {directive} /path/script.wsgi"),
        ));
    }
    let opts = checked_options(directive, rest, &["application-group"])?;
    let application_group = match opts.first() {
        Some((name, value)) => Some(app_group(Field::option(directive, name), value, AppGroupForms::ServerOnly)?),
        None => None,
    };
    Ok(ScriptFile { path, application_group })
}

#[cfg(test)]
#[path = "scripts_tests.rs"]
mod tests;
