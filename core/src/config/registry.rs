//! Rules that span servers, which one `ServerConfig` cannot check alone:
//! daemon group names are unique across the whole configuration, and a
//! group defined in a `<VirtualHost>` can only be used from servers with
//! the same `ServerName` (mod_wsgi's "not accessible"/"not matchable").
//!
//! The Apache side keeps one [`DaemonRegistry`] for a configuration pass
//! (cleared at pre-config), calls [`DaemonRegistry::register`] after each
//! `WSGIDaemonProcess` line and [`DaemonRegistry::check_reference`] for each
//! `WSGIImportScript` (and each [`super::ScriptAlias::preload`]), so errors
//! carry the line number, as in mod_wsgi. [`check_unique_daemon_names`] is
//! the same uniqueness rule for a list gathered after parsing.

use super::{ConfigError, DaemonProcess, ProcessGroup};

/// The server a directive belongs to, as far as these rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerIdentity<'a> {
    /// `ServerName` as known when the line is read (`None` if not set yet).
    pub server_name: Option<&'a str>,
    /// Inside a `<VirtualHost>`.
    pub is_virtual: bool,
}

impl ServerIdentity<'static> {
    /// The main server, outside any `<VirtualHost>`.
    pub const MAIN: Self = Self { server_name: None, is_virtual: false };
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    server_name: Option<String>,
    is_virtual: bool,
}

/// Every daemon process group defined so far, with where it was defined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonRegistry {
    entries: Vec<Entry>,
}

impl DaemonRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `daemon`, defined in `server`; a name seen before anywhere
    /// is an error.
    pub fn register(&mut self, daemon: &DaemonProcess, server: ServerIdentity) -> Result<(), ConfigError> {
        if self.entries.iter().any(|e| e.name == daemon.name) {
            return Err(duplicate(&daemon.name));
        }
        self.entries.push(Entry {
            name: daemon.name.clone(),
            server_name: server.server_name.map(String::from),
            is_virtual: server.is_virtual,
        });
        Ok(())
    }

    /// Names registered so far, in definition order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// Whether `group`, used by `directive` in server `from`, names a daemon
    /// group that exists and may be used there. Embedded mode (`%{GLOBAL}`)
    /// and groups expanded per request pass: they are checked per request.
    pub fn check_reference(
        &self,
        directive: &str,
        group: &ProcessGroup,
        from: ServerIdentity,
    ) -> Result<(), ConfigError> {
        let Some(name) = group.daemon_name() else {
            return Ok(());
        };
        let Some(entry) = self.entries.iter().find(|e| e.name == name) else {
            return Err(ConfigError::new(
                directive,
                format!(
                    "daemon process group '{name}' is not defined: \
                     define it with WSGIDaemonProcess before this line"
                ),
            ));
        };
        if !entry.is_virtual {
            return Ok(());
        }
        match (from.server_name, entry.server_name.as_deref()) {
            (Some(here), Some(there)) if here != there => Err(ConfigError::new(
                directive,
                format!(
                    "daemon process group '{name}' belongs to virtual host '{there}' and \
                     cannot be used from '{here}': define it outside <VirtualHost> or in \
                     a virtual host with the same ServerName"
                ),
            )),
            (None, Some(_)) | (Some(_), None) => Err(ConfigError::new(
                directive,
                format!(
                    "daemon process group '{name}' was defined in a <VirtualHost> that cannot \
                     be matched to this server: give both the same ServerName (before these \
                     lines), or define the group outside <VirtualHost>"
                ),
            )),
            _ => Ok(()),
        }
    }
}

fn duplicate(name: &str) -> ConfigError {
    ConfigError::new(
        "WSGIDaemonProcess",
        format!(
            "a daemon process group named '{name}' is already defined: names must be \
             unique across the whole server, including every <VirtualHost>"
        ),
    )
}

/// The uniqueness rule over a list gathered after parsing. Pass each
/// server's own groups (the records as parsed, before `ServerConfig::merge`,
/// which copies the main server's groups into every virtual host).
pub fn check_unique_daemon_names(all: &[&DaemonProcess]) -> Result<(), ConfigError> {
    for (i, d) in all.iter().enumerate() {
        if all[..i].iter().any(|e| e.name == d.name) {
            return Err(duplicate(&d.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{DaemonRegistry, ServerIdentity, check_unique_daemon_names};
    use crate::config::{DaemonProcess, ProcessGroup};

    fn vhost(name: Option<&str>) -> ServerIdentity<'_> {
        ServerIdentity { server_name: name, is_virtual: true }
    }

    fn named(n: &str) -> ProcessGroup {
        ProcessGroup::Named(n.into())
    }

    #[test]
    fn names_are_unique_across_servers() {
        let mut r = DaemonRegistry::new();
        let a = DaemonProcess::with_defaults("a");
        r.register(&a, ServerIdentity::MAIN).unwrap();
        let e = r.register(&a, vhost(Some("x.org"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "WSGIDaemonProcess: a daemon process group named 'a' is already defined: names \
             must be unique across the whole server, including every <VirtualHost>"
        );
        r.register(&DaemonProcess::with_defaults("b"), vhost(None)).unwrap();
        assert_eq!(r.names().collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn unique_names_over_a_list() {
        let a = DaemonProcess::with_defaults("a");
        let b = DaemonProcess::with_defaults("b");
        assert!(check_unique_daemon_names(&[&a, &b]).is_ok());
        assert!(check_unique_daemon_names(&[]).is_ok());
        let e = check_unique_daemon_names(&[&a, &b, &a]).unwrap_err();
        assert!(e.to_string().contains("named 'a' is already defined"));
    }

    #[test]
    fn references_need_a_defined_group() {
        let r = DaemonRegistry::new();
        let e = r.check_reference("WSGIImportScript", &named("x"), ServerIdentity::MAIN).unwrap_err();
        assert_eq!(
            e.to_string(),
            "WSGIImportScript: daemon process group 'x' is not defined: define it with \
             WSGIDaemonProcess before this line"
        );
        // Embedded mode and per-request expansions are not checked here.
        for g in [ProcessGroup::Global, ProcessGroup::Env("X".into())] {
            assert!(r.check_reference("D", &g, ServerIdentity::MAIN).is_ok());
        }
    }

    #[test]
    fn main_server_groups_are_usable_everywhere() {
        let mut r = DaemonRegistry::new();
        r.register(&DaemonProcess::with_defaults("m"), ServerIdentity::MAIN).unwrap();
        assert!(r.check_reference("D", &named("m"), vhost(Some("a"))).is_ok());
        assert!(r.check_reference("D", &named("m"), vhost(None)).is_ok());
    }

    #[test]
    fn vhost_groups_need_the_same_server_name() {
        let mut r = DaemonRegistry::new();
        r.register(&DaemonProcess::with_defaults("v"), vhost(Some("a.org"))).unwrap();
        assert!(r.check_reference("D", &named("v"), vhost(Some("a.org"))).is_ok());
        let e = r.check_reference("D", &named("v"), vhost(Some("b.org"))).unwrap_err();
        assert!(e.to_string().contains("belongs to virtual host 'a.org'"));
        let main_named = ServerIdentity { server_name: Some("b.org"), is_virtual: false };
        assert!(r.check_reference("D", &named("v"), main_named).is_err());
        let e = r.check_reference("D", &named("v"), ServerIdentity::MAIN).unwrap_err();
        assert!(e.to_string().contains("cannot be matched"));

        let mut r = DaemonRegistry::new();
        r.register(&DaemonProcess::with_defaults("w"), vhost(None)).unwrap();
        assert!(r.check_reference("D", &named("w"), vhost(Some("a"))).is_err());
        assert!(r.check_reference("D", &named("w"), vhost(None)).is_ok());
    }
}
