//! Which scripts each process group loads at start, from every server's
//! `WSGIImportScript` lines and from `WSGIScriptAlias` lines that name both
//! `process-group=` and `application-group=` (core decides which qualify).

use crate::apache::server::Server;
use crate::python::preload::Preload;
use wsgi_core::config::{AppGroup, ProcessGroup, ServerConfig};

/// Every server's record: the main server's first, then each vhost's.
pub fn server_configs<'a>(main: Server<'a>) -> Vec<&'a ServerConfig> {
    let mut out = Vec::new();
    let mut next = Some(main);
    while let Some(s) = next {
        out.push(&s.record().cfg);
        next = s.next();
    }
    out
}

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

/// The scripts process group `group` (`""`: Apache children) loads at start.
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
