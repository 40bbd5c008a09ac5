//! The values of `WSGIApplicationGroup`, `WSGIProcessGroup` and
//! `WSGICallableObject`, with their `%{...}` forms.
//!
//! `parse` never fails: it reads values back from request notes, where
//! mod_wsgi treats anything unrecognised as a plain name. The `from_config`
//! constructors are the strict form used for directive text, where an
//! unknown `%{...}` is almost certainly a typo and is rejected.

/// `WSGIApplicationGroup`: which interpreter runs the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppGroup {
    /// `%{GLOBAL}`: the main interpreter; the group name is `""`.
    Global,
    /// `%{SERVER}`: `host[:port]` of the server (`ServerName`).
    Server,
    /// `%{RESOURCE}` (the default): `host[:port]|SCRIPT_NAME`.
    Resource,
    /// `%{HOST}`: `host[:port]` from the request's `Host` header, falling
    /// back to the server name (mod_wsgi 4.x accepts it though its manual
    /// does not list it).
    Host,
    /// `%{ENV:name}`: looked up per request.
    Env(String),
    Named(String),
}

/// `WSGIProcessGroup`: embedded mode or a named daemon group.
///
/// mod_wsgi 4.9 also expands `%{SERVER}`, `%{RESOURCE}` and `%{HOST}` here
/// (undocumented); mod_wsgi-rs refuses them in configuration with a clear
/// error rather than treat them as group names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessGroup {
    /// `%{GLOBAL}` (the default): embedded mode, the group name is `""`.
    Global,
    Env(String),
    Named(String),
}

/// `WSGICallableObject`: the name of the callable in the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallableObject {
    Env(String),
    Named(String),
}

fn env_name(value: &str) -> Option<&str> {
    value.strip_prefix("%{ENV:").and_then(|v| v.strip_suffix('}'))
}

/// Which `%{...}` forms a directive accepts for an application group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppGroupForms {
    /// Everything: `WSGIApplicationGroup`, `WSGIScriptAlias`, `WSGIHandlerScript`.
    All,
    /// `%{GLOBAL}`, `%{SERVER}`, `%{HOST}` or a name: the auth and dispatch
    /// scripts, which mod_wsgi expands without a request path or env.
    ServerOnly,
    /// `%{GLOBAL}` or a name: `WSGIImportScript`, loaded before any request.
    GlobalOnly,
}

impl AppGroupForms {
    fn describe(self) -> &'static str {
        match self {
            Self::All => "use %{GLOBAL}, %{SERVER}, %{RESOURCE}, %{HOST}, %{ENV:variable} or a plain name",
            Self::ServerOnly => "use %{GLOBAL}, %{SERVER}, %{HOST} or a plain name",
            Self::GlobalOnly => "use %{GLOBAL} or a plain name",
        }
    }
}

/// Checks the `%{...}` shape common to all three values: a value that
/// starts with `%{` must be a known form (`recognised`) that this
/// directive accepts (`allowed`), and `%{ENV:}` needs a variable name.
fn check_form(value: &str, recognised: bool, allowed: bool, describe: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("must not be empty: {describe}"));
    }
    if env_name(value) == Some("") {
        return Err("%{ENV:} needs a variable name, as in %{ENV:NAME}".to_string());
    }
    if value.starts_with("%{") && !recognised {
        return Err(format!("not a known expansion; {describe}"));
    }
    if !allowed {
        return Err(format!("not allowed for this directive; {describe}"));
    }
    Ok(())
}

impl AppGroup {
    pub fn parse(value: &str) -> Self {
        match value {
            "%{GLOBAL}" => Self::Global,
            "%{SERVER}" => Self::Server,
            "%{RESOURCE}" => Self::Resource,
            "%{HOST}" => Self::Host,
            v => match env_name(v) {
                Some(name) => Self::Env(name.to_string()),
                None => Self::Named(v.to_string()),
            },
        }
    }

    /// The strict form for directive text; the error says what to write.
    pub fn from_config(value: &str) -> Result<Self, String> {
        Self::from_config_with(value, AppGroupForms::All)
    }

    pub(crate) fn from_config_with(value: &str, forms: AppGroupForms) -> Result<Self, String> {
        let group = Self::parse(value);
        let allowed = matches!(
            (&group, forms),
            (Self::Named(_) | Self::Global, _)
                | (_, AppGroupForms::All)
                | (Self::Server | Self::Host, AppGroupForms::ServerOnly)
        );
        let recognised = !matches!(group, Self::Named(_));
        check_form(value, recognised, allowed, forms.describe())?;
        Ok(group)
    }
}

impl ProcessGroup {
    pub fn parse(value: &str) -> Self {
        match value {
            "%{GLOBAL}" => Self::Global,
            v => match env_name(v) {
                Some(name) => Self::Env(name.to_string()),
                None => Self::Named(v.to_string()),
            },
        }
    }

    /// The strict form for directive text; the error says what to write.
    pub fn from_config(value: &str) -> Result<Self, String> {
        const FORMS: &str = "use %{GLOBAL}, %{ENV:variable} or a daemon process group name";
        let group = Self::parse(value);
        let server_form = matches!(value, "%{SERVER}" | "%{RESOURCE}" | "%{HOST}");
        let recognised = !matches!(group, Self::Named(_)) || server_form;
        check_form(value, recognised, !server_form, FORMS)?;
        Ok(group)
    }

    /// For `WSGIImportScript`, which runs at process start: only embedded
    /// mode or a daemon group named outright make sense there.
    pub(crate) fn from_config_fixed(value: &str) -> Result<Self, String> {
        const FORMS: &str = "use %{GLOBAL} or a daemon process group name";
        let group = Self::parse(value);
        let recognised = !matches!(group, Self::Named(_));
        let allowed = matches!(group, Self::Global | Self::Named(_));
        check_form(value, recognised, allowed, FORMS)?;
        Ok(group)
    }

    /// The daemon group named outright, if any (not embedded, not expanded).
    pub fn daemon_name(&self) -> Option<&str> {
        match self {
            Self::Named(n) => Some(n),
            _ => None,
        }
    }
}

impl CallableObject {
    pub fn parse(value: &str) -> Self {
        match env_name(value) {
            Some(name) => Self::Env(name.to_string()),
            None => Self::Named(value.to_string()),
        }
    }

    /// The strict form for directive text; the error says what to write.
    pub fn from_config(value: &str) -> Result<Self, String> {
        const FORMS: &str = "use %{ENV:variable} or the name of a callable in the script";
        let callable = Self::parse(value);
        let recognised = matches!(callable, Self::Env(_));
        check_form(value, recognised, true, FORMS)?;
        Ok(callable)
    }
}

// The configuration text of each value; `parse` reads it back.
impl std::fmt::Display for AppGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Global => f.write_str("%{GLOBAL}"),
            Self::Server => f.write_str("%{SERVER}"),
            Self::Resource => f.write_str("%{RESOURCE}"),
            Self::Host => f.write_str("%{HOST}"),
            Self::Env(n) => write!(f, "%{{ENV:{n}}}"),
            Self::Named(n) => f.write_str(n),
        }
    }
}

impl std::fmt::Display for ProcessGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Global => f.write_str("%{GLOBAL}"),
            Self::Env(n) => write!(f, "%{{ENV:{n}}}"),
            Self::Named(n) => f.write_str(n),
        }
    }
}

impl std::fmt::Display for CallableObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env(n) => write!(f, "%{{ENV:{n}}}"),
            Self::Named(n) => f.write_str(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AppGroup, AppGroupForms, CallableObject, ProcessGroup};

    #[test]
    fn app_group_forms_round_trip() {
        for text in ["%{GLOBAL}", "%{SERVER}", "%{RESOURCE}", "%{HOST}", "%{ENV:APP}", "my-app"] {
            let g = AppGroup::from_config(text).unwrap();
            assert_eq!(g.to_string(), text);
            assert_eq!(AppGroup::parse(text), g);
        }
        assert_eq!(AppGroup::parse("%{HOST}"), AppGroup::Host);
        assert_eq!(AppGroup::parse("%{ENV:X}"), AppGroup::Env("X".into()));
    }

    #[test]
    fn app_group_rejects_typos_and_empty_env() {
        let e = AppGroup::from_config("%{GLOBALL}").unwrap_err();
        assert!(e.starts_with("not a known expansion; use %{GLOBAL}"), "{e}");
        assert!(AppGroup::from_config("%{ENV:}").unwrap_err().contains("needs a variable name"));
        assert!(AppGroup::from_config("%{ENV:X").is_err());
        assert!(AppGroup::from_config("").is_err());
        // Lenient parse keeps mod_wsgi's reading: unknown forms are names.
        assert_eq!(AppGroup::parse("%{GLOBALL}"), AppGroup::Named("%{GLOBALL}".into()));
    }

    #[test]
    fn restricted_app_group_forms() {
        let s = AppGroupForms::ServerOnly;
        assert_eq!(AppGroup::from_config_with("%{SERVER}", s), Ok(AppGroup::Server));
        assert_eq!(AppGroup::from_config_with("%{HOST}", s), Ok(AppGroup::Host));
        assert!(AppGroup::from_config_with("%{RESOURCE}", s).is_err());
        assert!(AppGroup::from_config_with("%{ENV:X}", s).is_err());
        let g = AppGroupForms::GlobalOnly;
        assert_eq!(AppGroup::from_config_with("%{GLOBAL}", g), Ok(AppGroup::Global));
        assert_eq!(AppGroup::from_config_with("x", g), Ok(AppGroup::Named("x".into())));
        let e = AppGroup::from_config_with("%{SERVER}", g).unwrap_err();
        assert_eq!(e, "not allowed for this directive; use %{GLOBAL} or a plain name");
    }

    #[test]
    fn process_group_refuses_server_forms() {
        for text in ["%{SERVER}", "%{RESOURCE}", "%{HOST}"] {
            assert_eq!(
                ProcessGroup::from_config(text),
                Err("not allowed for this directive; use %{GLOBAL}, %{ENV:variable} \
                     or a daemon process group name"
                    .to_string())
            );
        }
    }

    #[test]
    fn process_group_forms() {
        for (text, want) in [
            ("%{GLOBAL}", ProcessGroup::Global),
            ("%{ENV:PG}", ProcessGroup::Env("PG".into())),
            ("daemon", ProcessGroup::Named("daemon".into())),
        ] {
            assert_eq!(ProcessGroup::from_config(text), Ok(want.clone()));
            assert_eq!(want.to_string(), text);
        }
        assert!(ProcessGroup::from_config("%{ENV:}").is_err());
        assert!(ProcessGroup::from_config("%{BOGUS}").is_err());
        assert!(ProcessGroup::from_config("").is_err());
        assert_eq!(ProcessGroup::Named("d".into()).daemon_name(), Some("d"));
        assert_eq!(ProcessGroup::Global.daemon_name(), None);
    }

    #[test]
    fn fixed_process_group_for_import_scripts() {
        assert_eq!(ProcessGroup::from_config_fixed("%{GLOBAL}"), Ok(ProcessGroup::Global));
        assert_eq!(ProcessGroup::from_config_fixed("d"), Ok(ProcessGroup::Named("d".into())));
        assert!(ProcessGroup::from_config_fixed("%{SERVER}").is_err());
        assert!(ProcessGroup::from_config_fixed("%{ENV:X}").is_err());
    }

    #[test]
    fn callable_object_forms() {
        assert_eq!(CallableObject::from_config("app"), Ok(CallableObject::Named("app".into())));
        assert_eq!(CallableObject::from_config("%{ENV:C}"), Ok(CallableObject::Env("C".into())));
        assert!(CallableObject::from_config("%{GLOBAL}").is_err());
        assert!(CallableObject::from_config("%{ENV:}").is_err());
        assert!(CallableObject::from_config("").is_err());
        assert_eq!(CallableObject::Env("C".into()).to_string(), "%{ENV:C}");
    }
}
