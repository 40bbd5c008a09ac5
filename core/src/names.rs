//! Names derived from configuration and requests.

use md5::{Digest, Md5};

/// The Python module name a WSGI script is loaded as: `_mod_wsgi_` and the
/// MD5 of its path, as mod_wsgi names it (lower-cased first when the file
/// system is declared case-insensitive).
pub fn script_module_name(path: &str, case_sensitive: bool) -> String {
    let digest =
        if case_sensitive { Md5::digest(path.as_bytes()) } else { Md5::digest(path.to_lowercase().as_bytes()) };
    let mut name = String::with_capacity(10 + 32);
    name.push_str("_mod_wsgi_");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in digest {
        name.push(char::from(HEX[usize::from(b >> 4)]));
        name.push(char::from(HEX[usize::from(b & 15)]));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::script_module_name;

    #[test]
    fn module_name_is_md5_of_path() {
        // md5("/x.wsgi"), computed independently with Python's hashlib.
        assert_eq!(script_module_name("/x.wsgi", true), "_mod_wsgi_40e56669aa3e7350d23d4d6b24d328f9");
        assert_eq!(script_module_name("/X.WSGI", false), "_mod_wsgi_40e56669aa3e7350d23d4d6b24d328f9");
    }
}

/// What `%{...}` expansions need to know about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestNames<'a> {
    /// The server's `ServerName`.
    pub server_hostname: &'a str,
    /// The request's `Host` (without port), if it sent one.
    pub request_hostname: Option<&'a str>,
    /// The port the request arrived on.
    pub port: &'a str,
    pub script_name: &'a str,
}

impl RequestNames<'_> {
    /// `host`, with `:port` unless the port is 80 or 443, as mod_wsgi does;
    /// room is left for `extra` more bytes.
    fn with_port(&self, host: &str, extra: usize) -> String {
        let mut name = String::with_capacity(host.len() + 1 + self.port.len() + extra);
        name.push_str(host);
        if !(self.port.is_empty() || self.port == "80" || self.port == "443") {
            name.push(':');
            name.push_str(self.port);
        }
        name
    }

    fn server(&self) -> String {
        self.with_port(self.server_hostname, 0)
    }

    /// `%{HOST}` falls back to the server name when there is no Host header.
    fn host(&self) -> String {
        match self.request_hostname {
            Some(h) if !h.is_empty() => self.with_port(h, 0),
            _ => self.server(),
        }
    }

    fn resource(&self) -> String {
        let mut name = self.with_port(self.server_hostname, 1 + self.script_name.len());
        name.push('|');
        name.push_str(self.script_name);
        name
    }
}

/// The application group name for a request, as mod_wsgi expands
/// `WSGIApplicationGroup`: `%{GLOBAL}` is `""`; `%{SERVER}` is the host,
/// with `:port` unless the port is 80 or 443; `%{RESOURCE}` appends
/// `|SCRIPT_NAME`; `%{HOST}` uses the request's Host; `%{ENV:x}` asks `env`.
///
/// As in mod_wsgi, a variable holding another `%{...}` form (other than
/// `%{ENV:...}`) is expanded in turn, and an unset variable leaves the
/// text `%{ENV:x}` itself as the name.
pub fn expand_app_group(
    group: &crate::config::AppGroup,
    names: &RequestNames,
    env: impl Fn(&str) -> Option<String>,
) -> String {
    expand_app(group, names, &env)
}

// Not generic, so the one level of re-expansion does not recurse on types.
fn expand_app(group: &crate::config::AppGroup, names: &RequestNames, env: &dyn Fn(&str) -> Option<String>) -> String {
    use crate::config::AppGroup;
    match group {
        AppGroup::Global => String::new(),
        AppGroup::Server => names.server(),
        AppGroup::Resource => names.resource(),
        AppGroup::Host => names.host(),
        AppGroup::Env(name) => match env(name) {
            Some(v) if v.starts_with('%') && !v.starts_with("%{ENV:") => {
                expand_app(&AppGroup::parse(&v), names, &|_| None)
            }
            Some(v) => v,
            None => group.to_string(),
        },
        AppGroup::Named(n) => n.clone(),
    }
}

/// [`expand_app_group`] for callers without the request's Host header
/// (`%{HOST}` then falls back to the server name).
pub fn expand_application_group(
    group: &crate::config::AppGroup,
    host: &str,
    port: &str,
    script_name: &str,
    env: impl Fn(&str) -> Option<String>,
) -> String {
    let names = RequestNames { server_hostname: host, request_hostname: None, port, script_name };
    expand_app_group(group, &names, env)
}

/// The daemon process group name for a request, as mod_wsgi expands
/// `WSGIProcessGroup`: `""` is embedded mode; `%{ENV:x}` as for
/// application groups.
pub fn expand_process_group(
    group: &crate::config::ProcessGroup,
    names: &RequestNames,
    env: impl Fn(&str) -> Option<String>,
) -> String {
    use crate::config::ProcessGroup;
    match group {
        ProcessGroup::Global => String::new(),
        ProcessGroup::Env(name) => match env(name) {
            // mod_wsgi expands %{GLOBAL}, %{SERVER}, %{RESOURCE} and %{HOST}
            // found in the variable, the same way as for application groups.
            Some(v) if v.starts_with('%') && !v.starts_with("%{ENV:") => {
                expand_app(&crate::config::AppGroup::parse(&v), names, &|_| None)
            }
            Some(v) => v,
            None => group.to_string(),
        },
        ProcessGroup::Named(n) => n.clone(),
    }
}

/// The interpreter of a dispatch or auth script (mod_wsgi's
/// `wsgi_server_group`): `%{GLOBAL}`, `%{SERVER}`, `%{HOST}` expand, anything
/// else is taken as written. `None` (option not given) is `%{GLOBAL}`.
pub fn expand_script_group(group: Option<&crate::config::AppGroup>, names: &RequestNames) -> String {
    use crate::config::AppGroup;
    match group {
        None | Some(AppGroup::Global) => String::new(),
        Some(AppGroup::Server) => names.server(),
        Some(AppGroup::Host) => names.host(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod expand_tests {
    use super::*;
    use crate::config::{AppGroup, ProcessGroup};

    fn names(port: &'static str) -> RequestNames<'static> {
        RequestNames {
            server_hostname: "example.com",
            request_hostname: Some("alias.example.com"),
            port,
            script_name: "/app",
        }
    }

    #[test]
    fn application_group_forms() {
        let none = |_: &str| None;
        let n = names("8080");
        assert_eq!(expand_app_group(&AppGroup::Global, &n, none), "");
        assert_eq!(expand_app_group(&AppGroup::Server, &n, none), "example.com:8080");
        assert_eq!(expand_app_group(&AppGroup::Resource, &n, none), "example.com:8080|/app");
        assert_eq!(expand_app_group(&AppGroup::Host, &n, none), "alias.example.com:8080");
        assert_eq!(expand_app_group(&AppGroup::Resource, &names("443"), none), "example.com|/app");
        assert_eq!(expand_app_group(&AppGroup::Named("x".into()), &n, none), "x");
    }

    #[test]
    fn host_falls_back_to_server_name() {
        let n = RequestNames { request_hostname: None, ..names("80") };
        assert_eq!(expand_app_group(&AppGroup::Host, &n, |_| None), "example.com");
    }

    #[test]
    fn env_values_expand_once_and_unset_stays_literal() {
        let n = names("80");
        let env = |k: &str| match k {
            "A" => Some("grp".to_string()),
            "B" => Some("%{SERVER}".to_string()),
            "C" => Some("%{ENV:A}".to_string()),
            _ => None,
        };
        assert_eq!(expand_app_group(&AppGroup::Env("A".into()), &n, env), "grp");
        assert_eq!(expand_app_group(&AppGroup::Env("B".into()), &n, env), "example.com");
        // mod_wsgi does not follow one variable to another.
        assert_eq!(expand_app_group(&AppGroup::Env("C".into()), &n, env), "%{ENV:A}");
        assert_eq!(expand_app_group(&AppGroup::Env("NOPE".into()), &n, env), "%{ENV:NOPE}");
        assert_eq!(expand_process_group(&ProcessGroup::Env("A".into()), &n, env), "grp");
        assert_eq!(expand_process_group(&ProcessGroup::Env("B".into()), &n, env), "example.com");
        assert_eq!(expand_process_group(&ProcessGroup::Env("NOPE".into()), &n, env), "%{ENV:NOPE}");
    }

    #[test]
    fn process_group_forms() {
        let n = names("8080");
        let none = |_: &str| None;
        assert_eq!(expand_process_group(&ProcessGroup::Global, &n, none), "");
        assert_eq!(expand_process_group(&ProcessGroup::Named("d".into()), &n, none), "d");
    }

    #[test]
    fn script_groups() {
        let n = names("80");
        assert_eq!(expand_script_group(None, &n), "");
        assert_eq!(expand_script_group(Some(&AppGroup::Server), &n), "example.com");
        assert_eq!(expand_script_group(Some(&AppGroup::Host), &n), "alias.example.com");
        assert_eq!(expand_script_group(Some(&AppGroup::Named("g".into())), &n), "g");
    }

    #[test]
    fn old_entry_point_still_works() {
        assert_eq!(expand_application_group(&AppGroup::Resource, "h", "81", "/s", |_| None), "h:81|/s");
        assert_eq!(expand_application_group(&AppGroup::Host, "h", "", "/s", |_| None), "h");
    }
}
