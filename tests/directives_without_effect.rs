//! Directives accepted whose purpose does not exist here: the server
//! starts and serves as before, and says once at start-up, naming each,
//! why it has no effect (never silently).

mod common;

use common::*;

#[test]
fn moot_directives_load_and_are_named_at_start_up() {
    let apache = ApacheBuilder::new()
        .file("scripts/hello.wsgi", apps::HELLO_WORLD)
        .conf(
            "WSGIAcceptMutex flock\n\
             WSGIVerboseDebugging On\n\
             WSGILazyInitialization Off\n\
             WSGINewRelicConfigFile /etc/newrelic.ini\n\
             WSGINewRelicEnvironment production\n\
             WSGIDaemonProcess agent newrelic-config-file=/etc/newrelic.ini newrelic-environment=staging \
             response-buffer-size=131072\n\
             WSGIScriptAlias /hello {root}/scripts/hello.wsgi process-group=agent\n\
             <Location /hello>\n    WSGIReloadMechanism Process\n</Location>",
        )
        .start();
    let mark = apache.log_mark();
    let resp = apache.get("/hello");
    apache.assert_status(&resp, 200, mark);
    let log = apache.error_log();
    for (level, name) in [
        ("wsgi:info", "WSGIAcceptMutex has no effect"),
        ("wsgi:info", "WSGIVerboseDebugging has no effect"),
        ("wsgi:warn", "WSGILazyInitialization Off has no effect"),
        ("wsgi:warn", "WSGINewRelicConfigFile and WSGINewRelicEnvironment have no effect"),
        ("wsgi:warn", "newrelic-config-file= and newrelic-environment= of WSGIDaemonProcess agent have no effect"),
        ("wsgi:info", "response-buffer-size= of WSGIDaemonProcess agent has no effect"),
        ("wsgi:info", "WSGIReloadMechanism has no effect"),
    ] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(name)).collect();
        assert_eq!(lines.len(), 1, "{name}: once at start-up:\n{log}");
        assert!(lines[0].contains(level), "{name} at {level}: {}", lines[0]);
        if name.starts_with("WSGI")
            && !name.contains("New")
            && !name.contains("Mutex")
            && !name.contains("Verbose")
            && !name.contains("Lazy")
        {
            // Written inside a section: the line names where.
            assert!(lines[0].contains("httpd.conf:"), "{name}: no file and line in {}", lines[0]);
        }
    }
}

/// The command table comes from core's list: a directive written where it
/// may not be is refused at configtest by Apache or by our own check, with
/// the directive's name and the place.
#[test]
fn directives_outside_their_contexts_are_configtest_errors() {
    for (conf, needle) in [
        ("<Location /x>\n    WSGIPythonHome /usr\n</Location>", "WSGIPythonHome"),
        ("<VirtualHost 127.0.0.1:1>\n    WSGIPythonHome /usr\n</VirtualHost>", "WSGIPythonHome"),
        ("<Location /x>\n    WSGIDaemonProcess misplaced\n</Location>", "WSGIDaemonProcess"),
    ] {
        let (ok, out) = ApacheBuilder::new().conf(conf).configtest();
        assert!(!ok, "{conf}: accepted:\n{out}");
        assert!(out.contains(needle) && out.contains("httpd.conf"), "{conf}: {out}");
    }
}
