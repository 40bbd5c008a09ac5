//! What is logged once at start-up about directives that are accepted but
//! whose purpose does not exist in this implementation, so that an
//! administrator never believes a setting is on when it has no effect.

use super::ServerConfig;

/// One start-up line; `warning` when the administrator asked for
/// something that will not happen, else informational.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub warning: bool,
    pub text: String,
}

fn info(text: impl Into<String>) -> Notice {
    Notice { warning: false, text: text.into() }
}

fn warning(text: impl Into<String>) -> Notice {
    Notice { warning: true, text: text.into() }
}

const NEW_RELIC: &str = "there is no built-in New Relic agent; initialise the agent in the WSGI script \
     (import newrelic.agent; newrelic.agent.initialize(config_file, environment))";

/// A notice owed wherever directive `name` is written (a per-directory
/// directive, which the server-wide notices do not see).
pub fn directive_notice(name: &str) -> Option<Notice> {
    match name {
        "WSGIReloadMechanism" => Some(info(
            "WSGIReloadMechanism has no effect: as in mod_wsgi 3 and later, a changed script is reloaded \
             as a module in embedded mode and restarts the process in daemon mode",
        )),
        _ => None,
    }
}

/// The notices for the main server's configuration (every group included),
/// and those recorded while reading it.
pub fn startup_notices(cfg: &ServerConfig) -> Vec<Notice> {
    let mut out = cfg.notices.clone();
    if cfg.accept_mutex.is_some() {
        out.push(info(
            "WSGIAcceptMutex has no effect: daemon processes wait for connections with epoll and need no accept mutex",
        ));
    }
    if cfg.lazy_initialization == Some(false) {
        out.push(warning(
            "WSGILazyInitialization Off has no effect: Python is initialised in each process after the fork, \
             never in the Apache parent (which stays free of Python and its threads)",
        ));
    }
    if cfg.verbose_debugging == Some(true) {
        out.push(info("WSGIVerboseDebugging has no effect: use LogLevel wsgi:debug for the module's debug lines"));
    }
    if cfg.newrelic_config_file.is_some() || cfg.newrelic_environment.is_some() {
        out.push(warning(format!("WSGINewRelicConfigFile and WSGINewRelicEnvironment have no effect: {NEW_RELIC}")));
    }
    for d in &cfg.daemons {
        if d.options.iter().any(|(k, _)| k == "response-buffer-size") {
            out.push(info(format!(
                "response-buffer-size= of WSGIDaemonProcess {} has no effect: Apache children pass a daemon's \
                 response on as it comes, holding at most one 64 KiB frame",
                d.name
            )));
        }
        if d.newrelic_config_file.is_some() || d.newrelic_environment.is_some() {
            out.push(warning(format!(
                "newrelic-config-file= and newrelic-environment= of WSGIDaemonProcess {} have no effect: {NEW_RELIC}",
                d.name
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AcceptMutex, DaemonProcess};

    #[test]
    fn per_directory_directives_without_effect_are_named() {
        assert!(directive_notice("WSGIReloadMechanism").is_some_and(|n| !n.warning));
        assert_eq!(directive_notice("WSGIScriptAlias"), None);
    }

    #[test]
    fn nothing_to_say_about_a_plain_configuration() {
        assert_eq!(startup_notices(&ServerConfig::default()), []);
        let on = ServerConfig { lazy_initialization: Some(true), verbose_debugging: Some(false), ..Default::default() };
        assert_eq!(startup_notices(&on), []);
    }

    #[test]
    fn each_moot_setting_is_named() {
        let cfg = ServerConfig {
            accept_mutex: Some(AcceptMutex::Flock),
            lazy_initialization: Some(false),
            verbose_debugging: Some(true),
            newrelic_config_file: Some("/etc/nr.ini".into()),
            daemons: vec![DaemonProcess::parse("site newrelic-environment=prod").unwrap()],
            ..Default::default()
        };
        let notes = startup_notices(&cfg);
        let named = |s: &str| notes.iter().any(|n| n.text.contains(s));
        for name in ["WSGIAcceptMutex", "WSGILazyInitialization Off", "WSGIVerboseDebugging", "WSGINewRelicConfigFile"]
        {
            assert!(named(name), "{name}: {notes:#?}");
        }
        assert!(named("WSGIDaemonProcess site"), "{notes:#?}");
        assert_eq!(notes.iter().filter(|n| n.warning).count(), 3, "{notes:#?}");
    }
}
