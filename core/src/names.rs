//! Names derived from configuration and requests.

use md5::{Digest, Md5};

/// The Python module name a WSGI script is loaded as: `_mod_wsgi_` and the
/// MD5 of its path, as mod_wsgi names it (lower-cased first when the file
/// system is declared case-insensitive).
pub fn script_module_name(path: &str, case_sensitive: bool) -> String {
    let digest = if case_sensitive {
        Md5::digest(path.as_bytes())
    } else {
        Md5::digest(path.to_lowercase().as_bytes())
    };
    let mut name = String::with_capacity(10 + 32);
    name.push_str("_mod_wsgi_");
    for b in digest {
        name.push_str(&format!("{b:02x}"));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::script_module_name;

    #[test]
    fn module_name_is_md5_of_path() {
        // md5("/x.wsgi"), computed independently with Python's hashlib.
        assert_eq!(
            script_module_name("/x.wsgi", true),
            "_mod_wsgi_40e56669aa3e7350d23d4d6b24d328f9"
        );
        assert_eq!(
            script_module_name("/X.WSGI", false),
            "_mod_wsgi_40e56669aa3e7350d23d4d6b24d328f9"
        );
    }
}

/// The application group name for a request, as mod_wsgi expands
/// `WSGIApplicationGroup`: `%{GLOBAL}` is `""`; `%{SERVER}` is the host,
/// with `:port` unless the port is 80 or 443; `%{RESOURCE}` appends
/// `|SCRIPT_NAME`; `%{ENV:x}` asks `env`.
pub fn expand_application_group(
    group: &crate::config::AppGroup,
    host: &str,
    port: &str,
    script_name: &str,
    env: impl Fn(&str) -> Option<String>,
) -> String {
    use crate::config::AppGroup;
    let server = || {
        if port.is_empty() || port == "80" || port == "443" {
            host.to_string()
        } else {
            format!("{host}:{port}")
        }
    };
    match group {
        AppGroup::Global => String::new(),
        AppGroup::Server => server(),
        AppGroup::Resource => format!("{}|{}", server(), script_name),
        AppGroup::Env(name) => env(name).unwrap_or_default(),
        AppGroup::Named(n) => n.clone(),
    }
}
