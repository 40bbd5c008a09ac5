//! Which scripts each process group loads at start, from every server's
//! `WSGIImportScript` lines and from `WSGIScriptAlias` lines that name both
//! `process-group=` and `application-group=`.

use super::config::ServerRecord;
use crate::apache::server::Server;
use crate::python::preload::Preload;
use wsgi_core::config::{AliasPattern, AppGroup, ProcessGroup, ServerConfig};

/// Every server's record: the main server's first, then each vhost's.
pub fn server_configs<'a>(main: Server) -> Vec<&'a ServerConfig> {
    let mut out = Vec::new();
    let mut next = Some(main);
    while let Some(s) = next {
        // SAFETY: records made by create/merge_server_config, living as
        // long as the configuration.
        out.push(unsafe { &(*s.config::<ServerRecord>()).cfg });
        next = s.next();
    }
    out
}

fn fixed_process_group(g: &ProcessGroup) -> Option<String> {
    match g {
        ProcessGroup::Global => Some(String::new()),
        ProcessGroup::Named(n) => Some(n.clone()),
        ProcessGroup::Env(_) => None,
    }
}

fn fixed_app_group(g: &AppGroup) -> Option<String> {
    match g {
        AppGroup::Global => Some(String::new()),
        AppGroup::Named(n) => Some(n.clone()),
        _ => None,
    }
}

/// The scripts process group `group` (`""`: Apache children) loads at start.
pub fn for_group(configs: &[&ServerConfig], group: &str) -> Vec<Preload> {
    let mut out: Vec<Preload> = Vec::new();
    let mut add = |pg: Option<String>, ag: Option<String>, path: &str| {
        if let (Some(pg), Some(ag)) = (pg, ag) {
            let p = Preload { path: path.to_string(), application_group: ag };
            if pg == group && !out.contains(&p) {
                out.push(p);
            }
        }
    };
    for cfg in configs {
        for s in &cfg.import_scripts {
            add(fixed_process_group(&s.process_group), fixed_app_group(&s.application_group), &s.path);
        }
        for a in &cfg.aliases {
            if let (AliasPattern::Prefix(_), Some(pg), Some(ag)) = (&a.pattern, &a.process_group, &a.application_group)
            {
                add(fixed_process_group(pg), fixed_app_group(ag), &a.target);
            }
        }
    }
    out
}
