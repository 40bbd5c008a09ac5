//! Where a request runs, as mod_wsgi decides it: embedded in the Apache
//! child, or in which daemon process group (`WSGIProcessGroup` or an
//! alias's `process-group=`, `WSGIRestrictEmbedded`, `WSGIRestrictProcess`,
//! the virtual host that defined the group, `script-user=`/`script-group=`).

use crate::config::ProcessGroup;
use crate::daemon_scope::{Scoped, Visibility, visibility};

/// The process group a request asked for: the one in its notes (from a
/// `WSGIScriptAlias`, `WSGIHandlerScript` or `WSGIDispatchScript`) wins
/// over the directory's `WSGIProcessGroup`; the default is `%{GLOBAL}`.
pub fn requested_group(note: Option<&str>, configured: Option<&ProcessGroup>) -> ProcessGroup {
    match note {
        Some(text) => ProcessGroup::parse(text),
        None => configured.cloned().unwrap_or(ProcessGroup::Global),
    }
}

/// The group's name for this request (`""`: embedded mode); `%{ENV:name}`
/// reads `env`, an unset variable meaning embedded mode.
pub fn group_name(group: ProcessGroup, env: impl FnOnce(&str) -> Option<String>) -> String {
    match group {
        ProcessGroup::Global => String::new(),
        ProcessGroup::Env(var) => env(&var).unwrap_or_default(),
        ProcessGroup::Named(n) => n,
    }
}

/// What the request's server and directory allow.
#[derive(Debug, Clone, Copy, Default)]
pub struct Restrictions<'a> {
    /// `WSGIRestrictEmbedded On`.
    pub embedded: bool,
    /// `WSGIRestrictProcess`: the only groups the directory may use.
    pub processes: Option<&'a [String]>,
}

/// Where a request runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Embedded,
    /// A daemon group, by its index in the list of groups.
    Daemon(usize),
}

/// Why a request may not run where it asked; mod_wsgi's words, to which
/// the script's file name is added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Embedded mode of mod_wsgi disabled by runtime configuration (WSGIRestrictEmbedded On)")]
    EmbeddedDisabled,
    #[error("No WSGI daemon process called '{0}' has been configured")]
    Unknown(String),
    #[error("Daemon process called '{0}' cannot be accessed by this WSGI application (WSGIRestrictProcess)")]
    Restricted(String),
    #[error("Daemon process called '{name}' is defined in another virtual host and cannot be used by '{host}'")]
    OtherHost { name: String, host: String },
}

impl Refusal {
    /// The response status: each is a configuration error, 500.
    pub fn status(&self) -> u16 {
        500
    }
}

/// Where a request for group `name` (`""`: embedded) in host `host` runs,
/// given the groups defined (none when no daemon runs).
pub fn decide<G: Scoped>(name: &str, host: &str, allowed: Restrictions<'_>, groups: &[G]) -> Result<Target, Refusal> {
    if name.is_empty() {
        return if allowed.embedded { Err(Refusal::EmbeddedDisabled) } else { Ok(Target::Embedded) };
    }
    // With no daemon at all, mod_wsgi names the group unknown first.
    if groups.is_empty() {
        return Err(Refusal::Unknown(name.to_string()));
    }
    if let Some(list) = allowed.processes
        && !list.iter().any(|a| a == name)
    {
        return Err(Refusal::Restricted(name.to_string()));
    }
    match visibility(groups, name, host) {
        Visibility::Visible(i) => Ok(Target::Daemon(i)),
        Visibility::OtherHost => Err(Refusal::OtherHost { name: name.to_string(), host: host.to_string() }),
        Visibility::Unknown => Err(Refusal::Unknown(name.to_string())),
    }
}

/// Whether an Apache child needs Python: not when every application runs
/// in a daemon (`WSGIRestrictEmbedded On`) and no server has an access or
/// auth script (those run in the child).
pub fn child_needs_python(restrict_embedded: bool, auth_scripts: bool) -> bool {
    !restrict_embedded || auth_scripts
}

/// The owner every script delegated to a group must have
/// (`script-user=` or `script-group=`, resolved to an id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOwner {
    User { uid: u32, name: String },
    Group { gid: u32, name: String },
}

impl ScriptOwner {
    /// Why a file owned by `uid`:`gid` may not run, if it may not (the
    /// request is then refused with 403).
    pub fn refuses(&self, uid: u32, gid: u32) -> Option<String> {
        match self {
            ScriptOwner::User { uid: want, name } if *want != uid => {
                Some(format!("is owned by uid {uid}, not by script-user '{name}'"))
            }
            ScriptOwner::Group { gid: want, name } if *want != gid => {
                Some(format!("has gid {gid}, not script-group '{name}'"))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon_scope::TestGroup;

    const HOST: &str = "one.example";
    const GROUPS: [TestGroup; 2] = [("a", None), ("b", Some("two.example"))];

    fn none() -> Restrictions<'static> {
        Restrictions::default()
    }

    #[test]
    fn a_note_wins_over_the_directive_and_global_is_the_default() {
        let configured = ProcessGroup::Named("dir".into());
        assert_eq!(requested_group(Some("alias"), Some(&configured)), ProcessGroup::Named("alias".into()));
        assert_eq!(requested_group(None, Some(&configured)), configured);
        assert_eq!(requested_group(None, None), ProcessGroup::Global);
        assert_eq!(requested_group(Some("%{GLOBAL}"), Some(&configured)), ProcessGroup::Global);
    }

    #[test]
    fn env_groups_read_the_request_and_unset_means_embedded() {
        assert_eq!(group_name(ProcessGroup::Env("G".into()), |n| (n == "G").then(|| "a".into())), "a");
        assert_eq!(group_name(ProcessGroup::Env("G".into()), |_| None), "");
        assert_eq!(group_name(ProcessGroup::Global, |_| Some("x".into())), "");
        assert_eq!(group_name(ProcessGroup::Named("n".into()), |_| None), "n");
    }

    #[test]
    fn embedded_unless_restricted() {
        assert_eq!(decide("", HOST, none(), &GROUPS), Ok(Target::Embedded));
        assert_eq!(decide::<TestGroup>("", HOST, none(), &[]), Ok(Target::Embedded));
        let r = Restrictions { embedded: true, ..none() };
        assert_eq!(decide("", HOST, r, &GROUPS), Err(Refusal::EmbeddedDisabled));
    }

    #[test]
    fn restrict_embedded_does_not_touch_daemon_requests() {
        let r = Restrictions { embedded: true, ..none() };
        assert_eq!(decide("a", HOST, r, &GROUPS), Ok(Target::Daemon(0)));
    }

    #[test]
    fn a_daemon_group_by_index() {
        assert_eq!(decide("a", HOST, none(), &GROUPS), Ok(Target::Daemon(0)));
        assert_eq!(decide("b", "two.example", none(), &GROUPS), Ok(Target::Daemon(1)));
    }

    #[test]
    fn unknown_groups_are_refused() {
        assert_eq!(decide("c", HOST, none(), &GROUPS), Err(Refusal::Unknown("c".into())));
        assert_eq!(decide::<TestGroup>("a", HOST, none(), &[]), Err(Refusal::Unknown("a".into())));
    }

    #[test]
    fn restrict_process_limits_the_groups() {
        let list = ["a".to_string()];
        let r = Restrictions { processes: Some(&list), ..none() };
        assert_eq!(decide("a", HOST, r, &GROUPS), Ok(Target::Daemon(0)));
        assert_eq!(decide("b", "two.example", r, &GROUPS), Err(Refusal::Restricted("b".into())));
        // Checked before whether the group exists.
        assert_eq!(decide("c", HOST, r, &GROUPS), Err(Refusal::Restricted("c".into())));
        // With no daemon at all the group is unknown.
        assert_eq!(decide::<TestGroup>("c", HOST, r, &[]), Err(Refusal::Unknown("c".into())));
    }

    #[test]
    fn another_hosts_group_is_refused() {
        let want = Refusal::OtherHost { name: "b".into(), host: HOST.into() };
        assert_eq!(decide("b", HOST, none(), &GROUPS), Err(want.clone()));
        assert_eq!(
            want.to_string(),
            "Daemon process called 'b' is defined in another virtual host and cannot be used by 'one.example'"
        );
    }

    #[test]
    fn refusals_are_500_with_mod_wsgis_words() {
        for r in [Refusal::EmbeddedDisabled, Refusal::Unknown("x".into()), Refusal::Restricted("x".into())] {
            assert_eq!(r.status(), 500);
        }
        assert_eq!(Refusal::Unknown("x".into()).to_string(), "No WSGI daemon process called 'x' has been configured");
    }

    #[test]
    fn a_child_needs_python_for_embedded_mode_or_auth_scripts() {
        assert!(child_needs_python(false, false));
        assert!(child_needs_python(true, true));
        assert!(!child_needs_python(true, false));
    }

    #[test]
    fn script_owner_checks_the_files_owner() {
        let user = ScriptOwner::User { uid: 5, name: "app".into() };
        assert_eq!(user.refuses(5, 1), None);
        assert_eq!(user.refuses(6, 1).as_deref(), Some("is owned by uid 6, not by script-user 'app'"));
        let group = ScriptOwner::Group { gid: 7, name: "web".into() };
        assert_eq!(group.refuses(1, 7), None);
        assert_eq!(group.refuses(1, 8).as_deref(), Some("has gid 8, not script-group 'web'"));
    }
}
