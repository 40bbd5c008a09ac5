//! Daemon process groups and the virtual hosts they belong to: which groups
//! a configuration defines (a host's merged record repeats the server-scope
//! ones), and which of them a request in a host may use.

use crate::config::DaemonProcess;

/// A daemon group as scoping needs it: its name and the `ServerName` of
/// the virtual host that defined it (`None` at server scope).
pub trait Scoped {
    fn group_name(&self) -> &str;
    fn server_name(&self) -> Option<&str>;
}

/// Where group `name` stands for a request in host `host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Usable: the group's index in the list.
    Visible(usize),
    /// Defined, but by another virtual host.
    OtherHost,
    /// Not defined anywhere.
    Unknown,
}

/// Group `name` as seen from host `host`: a group defined at server scope,
/// or in a host with the same `ServerName`, is usable, as in mod_wsgi.
pub fn visibility<G: Scoped>(groups: &[G], name: &str, host: &str) -> Visibility {
    let usable = |g: &G| g.group_name() == name && g.server_name().is_none_or(|s| s == host);
    match groups.iter().position(usable) {
        Some(i) => Visibility::Visible(i),
        None if groups.iter().any(|g| g.group_name() == name) => Visibility::OtherHost,
        None => Visibility::Unknown,
    }
}

/// Every group the configuration defines, once, with the host that
/// defined it: the main server's groups, then each virtual host's own
/// (`vhosts`: each host's `ServerName` and merged groups, in order). A
/// group a host's record repeats from server scope, or from an earlier
/// host, is counted once.
pub fn defined_groups<'a>(
    main: &'a [DaemonProcess],
    vhosts: impl IntoIterator<Item = (String, &'a [DaemonProcess])>,
) -> Vec<(&'a DaemonProcess, Option<String>)> {
    let mut out: Vec<(&DaemonProcess, Option<String>)> = main.iter().map(|d| (d, None)).collect();
    for (host, daemons) in vhosts {
        for d in daemons {
            if !out.iter().any(|(g, _)| g.name == d.name) {
                out.push((d, Some(host.clone())));
            }
        }
    }
    out
}

/// A group in unit tests: its name and host.
#[cfg(test)]
pub(crate) type TestGroup = (&'static str, Option<&'static str>);

#[cfg(test)]
impl Scoped for TestGroup {
    fn group_name(&self) -> &str {
        self.0
    }
    fn server_name(&self) -> Option<&str> {
        self.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_scope_groups_are_visible_from_every_host() {
        let groups = [("a", None)];
        assert_eq!(visibility(&groups, "a", "one.example"), Visibility::Visible(0));
        assert_eq!(visibility(&groups, "a", "two.example"), Visibility::Visible(0));
    }

    #[test]
    fn a_host_group_is_visible_only_from_hosts_of_its_server_name() {
        let groups = [("a", None), ("b", Some("one.example"))];
        assert_eq!(visibility(&groups, "b", "one.example"), Visibility::Visible(1));
        assert_eq!(visibility(&groups, "b", "two.example"), Visibility::OtherHost);
    }

    #[test]
    fn an_undefined_group_is_unknown() {
        assert_eq!(visibility(&[("a", None)], "c", "one.example"), Visibility::Unknown);
        assert_eq!(visibility::<TestGroup>(&[], "c", "one.example"), Visibility::Unknown);
    }

    fn daemons(names: &[&str]) -> Vec<DaemonProcess> {
        names.iter().map(|n| DaemonProcess::with_defaults(n)).collect()
    }

    #[test]
    fn host_records_repeating_server_groups_count_them_once() {
        let main = daemons(&["a"]);
        let mut one = main.clone();
        one.extend(daemons(&["b"]));
        let two = main.clone();
        let got = defined_groups(&main, [("one.example".to_string(), &one[..]), ("two.example".to_string(), &two[..])]);
        let got: Vec<_> = got.iter().map(|(d, host)| (d.name.as_str(), host.as_deref())).collect();
        assert_eq!(got, [("a", None), ("b", Some("one.example"))]);
    }

    #[test]
    fn a_group_two_hosts_share_belongs_to_the_first() {
        let b = daemons(&["b"]);
        let got = defined_groups(&[], [("one.example".to_string(), &b[..]), ("two.example".to_string(), &b[..])]);
        let got: Vec<_> = got.iter().map(|(d, host)| (d.name.as_str(), host.as_deref())).collect();
        assert_eq!(got, [("b", Some("one.example"))]);
    }
}
