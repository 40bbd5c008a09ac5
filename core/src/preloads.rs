//! Which scripts each process group loads at start, as mod_wsgi selects
//! them: every server's `WSGIImportScript` lines, then the
//! `WSGIScriptAlias` lines that name both a process group and an
//! application group (see [`crate::config::ScriptAlias::preload`]).

use crate::config::{AppGroup, ProcessGroup, ServerConfig};

/// One script to load, and the interpreter to load it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preload {
    pub path: String,
    /// The application group: `""` is the main interpreter.
    pub application_group: String,
}

/// The group a preload names: `""` for `%{GLOBAL}` (the Apache children);
/// `None` for a group known only per request.
fn fixed_name(process_group: &ProcessGroup) -> Option<&str> {
    match process_group {
        ProcessGroup::Global => Some(""),
        other => other.daemon_name(),
    }
}

fn app_group_name(g: &AppGroup) -> String {
    match g {
        AppGroup::Named(n) => n.clone(),
        _ => String::new(),
    }
}

/// The scripts process group `group` (`""`: Apache children) loads at
/// start, from every server's record (the main server's first), each once.
pub fn for_group(configs: &[&ServerConfig], group: &str) -> Vec<Preload> {
    let mut out: Vec<Preload> = Vec::new();
    let scripts = configs
        .iter()
        .flat_map(|c| c.import_scripts.iter().cloned().chain(c.aliases.iter().filter_map(|a| a.preload())));
    for s in scripts {
        if fixed_name(&s.process_group) != Some(group) {
            continue;
        }
        let p = Preload { path: s.path.clone(), application_group: app_group_name(&s.application_group) };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_server as server;

    fn preload(path: &str, app: &str) -> Preload {
        Preload { path: path.into(), application_group: app.into() }
    }

    #[test]
    fn import_scripts_go_to_their_group() {
        let s = server(&[
            ("WSGIDaemonProcess", "d"),
            ("WSGIImportScript", "/a.wsgi process-group=d application-group=%{GLOBAL}"),
            ("WSGIImportScript", "/b.wsgi process-group=%{GLOBAL} application-group=app"),
        ]);
        assert_eq!(for_group(&[&s], "d"), [preload("/a.wsgi", "")]);
        assert_eq!(for_group(&[&s], ""), [preload("/b.wsgi", "app")]);
        assert_eq!(for_group(&[&s], "other"), []);
    }

    #[test]
    fn aliases_naming_both_groups_preload() {
        let s = server(&[
            ("WSGIDaemonProcess", "d"),
            ("WSGIScriptAlias", "/x /x.wsgi process-group=d application-group=%{GLOBAL}"),
            ("WSGIScriptAlias", "/y /y.wsgi process-group=d"),
            ("WSGIScriptAlias", "/z /z.wsgi application-group=%{GLOBAL}"),
        ]);
        assert_eq!(for_group(&[&s], "d"), [preload("/x.wsgi", "")]);
        assert_eq!(for_group(&[&s], ""), []);
    }

    #[test]
    fn each_script_once_across_servers_main_first() {
        let main = server(&[
            ("WSGIDaemonProcess", "d"),
            ("WSGIImportScript", "/a.wsgi process-group=d application-group=one"),
        ]);
        let mut vhost = main.clone();
        vhost.import_scripts.extend(
            server(&[
                ("WSGIDaemonProcess", "d"),
                ("WSGIImportScript", "/b.wsgi process-group=d application-group=one"),
                ("WSGIImportScript", "/a.wsgi process-group=d application-group=two"),
            ])
            .import_scripts,
        );
        assert_eq!(
            for_group(&[&main, &vhost], "d"),
            [preload("/a.wsgi", "one"), preload("/b.wsgi", "one"), preload("/a.wsgi", "two")]
        );
    }
}
