//! The values of `WSGIApplicationGroup`, `WSGIProcessGroup` and
//! `WSGICallableObject`, with their `%{...}` forms.

/// `WSGIApplicationGroup`: which interpreter runs the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppGroup {
    /// `%{GLOBAL}`: the main interpreter; the group name is `""`.
    Global,
    /// `%{SERVER}`: `host[:port]`.
    Server,
    /// `%{RESOURCE}` (the default): `host[:port]|SCRIPT_NAME`.
    Resource,
    /// `%{ENV:name}`: looked up per request.
    Env(String),
    Named(String),
}

/// `WSGIProcessGroup`: embedded mode or a named daemon group.
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
    value
        .strip_prefix("%{ENV:")
        .and_then(|v| v.strip_suffix('}'))
}

impl AppGroup {
    pub fn parse(value: &str) -> Self {
        match value {
            "%{GLOBAL}" => Self::Global,
            "%{SERVER}" => Self::Server,
            "%{RESOURCE}" => Self::Resource,
            v => match env_name(v) {
                Some(name) => Self::Env(name.to_string()),
                None => Self::Named(v.to_string()),
            },
        }
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
}

impl CallableObject {
    pub fn parse(value: &str) -> Self {
        match env_name(value) {
            Some(name) => Self::Env(name.to_string()),
            None => Self::Named(value.to_string()),
        }
    }
}

// The configuration text of each value; `parse` reads it back.
impl std::fmt::Display for AppGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Global => f.write_str("%{GLOBAL}"),
            Self::Server => f.write_str("%{SERVER}"),
            Self::Resource => f.write_str("%{RESOURCE}"),
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
