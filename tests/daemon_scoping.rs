//! Daemon mode, who runs what: the user, group and working directory of a
//! daemon group; which groups a virtual host may select (its own, those
//! defined at server scope, never another host's); per-request selection
//! through `%{ENV:...}` (SetEnv, RewriteRule [E=...]); WSGIRestrictProcess;
//! and the configuration errors that refuse a daemon group at configtest.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::apps::{self, py_str};
use common::daemon::{self, INFO_APP, User, daemon_pids, ensure_system_user, pid_of};
use common::*;

struct Fixture {
    apache: Apache,
    user1: User,
    user2: User,
}

/// Two name-based virtual hosts on the test port, one.test and two.test,
/// each with its own daemon groups, and a group at server scope. Every
/// path of a host runs the same INFO_APP; `<Location>` picks the group.
fn fixture() -> &'static Fixture {
    shared!(Fixture, {
        let user1 = ensure_system_user("wsgitest1");
        let user2 = ensure_system_user("wsgitest2");
        let apache = ApacheBuilder::new()
            .file("scripts/info.wsgi", INFO_APP)
            .file("home-one/.keep", "")
            .conf(
                "WSGIDaemonProcess shared display-name=%{GROUP}
<VirtualHost *:{port}>
    ServerName one.test
    WSGIDaemonProcess one user=wsgitest1 group=wsgitest2 display-name=%{GROUP}
    WSGIDaemonProcess one-home user=wsgitest1 home={root}/home-one display-name=%{GROUP}
    WSGIScriptAlias / {root}/scripts/info.wsgi
    WSGIProcessGroup one
    <Location /home>
        WSGIProcessGroup one-home
    </Location>
    <Location /shared>
        WSGIProcessGroup shared
    </Location>
    <Location /steal>
        WSGIProcessGroup two
    </Location>
    <Location /unknown>
        WSGIProcessGroup no-such-group
    </Location>
    <Location /by-setenv>
        SetEnv PROCESS_GROUP shared
        WSGIProcessGroup %{ENV:PROCESS_GROUP}
    </Location>
    <Location /by-setenv-steal>
        SetEnv PROCESS_GROUP two
        WSGIProcessGroup %{ENV:PROCESS_GROUP}
    </Location>
    RewriteEngine On
    RewriteRule ^/by-rewrite - [E=PROCESS_GROUP:one-home]
    <Location /by-rewrite>
        WSGIProcessGroup %{ENV:PROCESS_GROUP}
    </Location>
    <Location /restricted>
        WSGIRestrictProcess shared
        WSGIProcessGroup one
    </Location>
    <Location /restricted-allowed>
        WSGIRestrictProcess one shared
        WSGIProcessGroup shared
    </Location>
    <Location /restricted-env>
        WSGIRestrictProcess shared
        SetEnv PROCESS_GROUP one-home
        WSGIProcessGroup %{ENV:PROCESS_GROUP}
    </Location>
</VirtualHost>
<VirtualHost *:{port}>
    ServerName two.test
    WSGIDaemonProcess two user=wsgitest2 display-name=%{GROUP}
    WSGIScriptAlias / {root}/scripts/info.wsgi
    WSGIProcessGroup two
    <Location /shared>
        WSGIProcessGroup shared
    </Location>
    <Location /steal>
        WSGIProcessGroup one
    </Location>
</VirtualHost>",
            )
            .start();
        Fixture { apache, user1, user2 }
    })
}

/// GET `path` on virtual host `host`.
fn get(host: &str, path: &str) -> Response {
    fixture().apache.request("GET", path, &[("Host", host)], b"")
}

/// GET that must succeed; its INFO_APP environ.
fn info(host: &str, path: &str) -> BTreeMap<String, String> {
    let s = &fixture().apache;
    let mark = s.log_mark();
    let resp = get(host, path);
    s.assert_status(&resp, 200, mark);
    apps::environ(&resp)
}

/// Asserts `env` came from a daemon of `group`.
fn assert_group(env: &BTreeMap<String, String>, group: &str) {
    let s = &fixture().apache;
    assert_eq!(env["mod_wsgi.process_group"], py_str(group), "{env:#?}");
    let title = format!("(wsgi:{group})");
    let pids = daemon_pids(s, &title);
    assert!(pids.contains(&pid_of(env)), "pid {} is not one of the {title} daemons {pids:?}", pid_of(env));
}

/// GET that must fail with 500; returns the error log it wrote.
fn refused(host: &str, path: &str) -> String {
    let s = &fixture().apache;
    let mark = s.log_mark();
    let resp = get(host, path);
    s.assert_status(&resp, 500, mark);
    // Give the line time to land (it is written before the response, but
    // the log file is shared with other requests).
    s.wait_for_log_since(mark, ":error]", Duration::from_secs(2));
    s.log_since(mark)
}

fn script(s: &Apache) -> String {
    s.root().join("scripts/info.wsgi").display().to_string()
}

// ---------------------------------------------------------------------------
// Users, groups, working directories.

#[test]
fn daemon_runs_as_configured_user_and_group() {
    let f = fixture();
    let env = info("one.test", "/");
    assert_group(&env, "one");
    assert_eq!(env["proc.uid"], f.user1.uid.to_string(), "user=wsgitest1");
    assert_eq!(env["proc.euid"], f.user1.uid.to_string(), "user=wsgitest1");
    let gid2 = daemon::group_id("wsgitest2").expect("group wsgitest2");
    assert_eq!(env["proc.gid"], gid2.to_string(), "group=wsgitest2");
    assert_eq!(env["proc.egid"], gid2.to_string(), "group=wsgitest2");
    // The process's real credentials, as the kernel reports them.
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid_of(&env))).unwrap();
    let field = |name: &str| status.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    let uid = f.user1.uid;
    assert_eq!(field("Uid:").split_whitespace().skip(1).collect::<Vec<_>>(), vec![uid.to_string(); 4], "{status}");
    assert_eq!(field("Gid:").split_whitespace().skip(1).collect::<Vec<_>>(), vec![gid2.to_string(); 4], "{status}");

    // user= without group=: Apache's Group (www-data).
    let env = info("two.test", "/");
    assert_group(&env, "two");
    assert_eq!(env["proc.uid"], f.user2.uid.to_string(), "user=wsgitest2");
    let www_data = daemon::group_id("www-data").unwrap();
    assert_eq!(env["proc.gid"], www_data.to_string(), "no group=: Apache's Group");

    // Neither: Apache's User and Group.
    let env = info("one.test", "/shared");
    assert_group(&env, "shared");
    let (www_uid, _, _) = daemon::passwd("www-data").unwrap();
    assert_eq!((env["proc.uid"].as_str(), env["proc.gid"].as_str()), (&*www_uid.to_string(), &*www_data.to_string()));
}

#[test]
fn working_directory_is_home_option_else_the_users_home() {
    let f = fixture();
    let env = info("one.test", "/home");
    assert_group(&env, "one-home");
    assert_eq!(env["proc.uid"], f.user1.uid.to_string());
    let home = f.apache.root().join("home-one").display().to_string();
    assert_eq!(env["proc.cwd"], py_str(&home), "home= sets the working directory");

    let env = info("one.test", "/");
    assert_group(&env, "one");
    assert_eq!(env["proc.cwd"], py_str(&f.user1.home.display().to_string()), "wsgitest1's home directory");

    let env = info("two.test", "/");
    assert_eq!(env["proc.cwd"], py_str(&f.user2.home.display().to_string()), "wsgitest2's home directory");

    let env = info("one.test", "/shared");
    let (_, _, www_home) = daemon::passwd("www-data").unwrap();
    assert_eq!(env["proc.cwd"], py_str(&www_home.display().to_string()), "www-data's home directory");
}

// ---------------------------------------------------------------------------
// Which groups a virtual host may select.

#[test]
fn each_virtual_host_uses_its_own_group() {
    let one = info("one.test", "/");
    assert_group(&one, "one");
    assert_eq!(one["SERVER_NAME"], py_str("one.test"));
    let two = info("two.test", "/");
    assert_group(&two, "two");
    assert_eq!(two["SERVER_NAME"], py_str("two.test"));
    assert_ne!(pid_of(&one), pid_of(&two));
}

#[test]
fn server_scope_group_is_usable_from_every_virtual_host() {
    let a = info("one.test", "/shared");
    assert_group(&a, "shared");
    let b = info("two.test", "/shared");
    assert_group(&b, "shared");
    assert_eq!(pid_of(&a), pid_of(&b), "one process (processes=1) serves both hosts");
}

#[test]
fn another_virtual_hosts_group_is_refused() {
    let s = &fixture().apache;
    // mod_wsgi 4.9.4: "Daemon process called 'two' cannot be accessed by
    // this WSGI application: <script>".
    for (host, path, group) in [("one.test", "/steal", "two"), ("two.test", "/steal", "one")] {
        let log = refused(host, path);
        assert!(
            log.lines().any(|l| l.contains(":error]") && l.contains(&format!("'{group}'")) && l.contains(&script(s))),
            "{host}{path}: no error line naming '{group}' and the script:\n{log}"
        );
    }
}

#[test]
fn unknown_group_is_refused_with_a_log_line() {
    let s = &fixture().apache;
    // The same text as mod_wsgi 4.9.4.
    let log = refused("one.test", "/unknown");
    assert!(
        log.contains(&format!("No WSGI daemon process called 'no-such-group' has been configured: {}", script(s))),
        "{log}"
    );
}

// ---------------------------------------------------------------------------
// %{ENV:...} selection.

#[test]
fn env_selection_through_setenv() {
    let env = info("one.test", "/by-setenv");
    assert_group(&env, "shared");
    assert_eq!(env["PROCESS_GROUP"], py_str("shared"));
    // %{ENV} cannot reach another host's group either.
    let log = refused("one.test", "/by-setenv-steal");
    assert!(log.lines().any(|l| l.contains(":error]") && l.contains("'two'")), "{log}");
}

#[test]
fn env_selection_through_rewrite_rule() {
    let f = fixture();
    let env = info("one.test", "/by-rewrite");
    assert_group(&env, "one-home");
    assert_eq!(env["PROCESS_GROUP"], py_str("one-home"));
    assert_eq!(env["proc.cwd"], py_str(&f.apache.root().join("home-one").display().to_string()));
}

// ---------------------------------------------------------------------------
// WSGIRestrictProcess.

#[test]
fn restrict_process_refuses_groups_not_listed() {
    let s = &fixture().apache;
    // mod_wsgi 4.9.4: "Daemon process called 'one' cannot be accessed by
    // this WSGI application as not a member of allowed groups: <script>".
    let log = refused("one.test", "/restricted");
    assert!(
        log.lines().any(|l| l.contains(":error]") && l.contains("'one'") && l.contains(&script(s))),
        "no error line naming 'one' and the script:\n{log}"
    );
    let log = refused("one.test", "/restricted-env");
    assert!(log.lines().any(|l| l.contains(":error]") && l.contains("'one-home'")), "{log}");
    // A listed group is served.
    let env = info("one.test", "/restricted-allowed");
    assert_group(&env, "shared");
}

// ---------------------------------------------------------------------------
// Configuration errors.

/// The 1-based line of the `nth` (1-based) line of `conf` containing `needle`.
fn line_of(conf: &str, needle: &str, nth: usize) -> usize {
    conf.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(nth - 1)
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} #{nth} not in:\n{conf}"))
}

/// Runs configtest on `conf`; it must fail. Returns (output, httpd.conf text, its path).
fn configtest_fails(conf: &str) -> (String, String, String) {
    let builder = ApacheBuilder::new().conf(conf);
    let (ok, out) = builder.configtest();
    let path = builder.root().join("httpd.conf");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!ok, "configtest accepted:\n{conf}\noutput:\n{out}");
    (out, text, path.display().to_string())
}

#[test]
fn duplicate_daemon_name_fails_configtest_naming_directive_and_line() {
    for conf in [
        "WSGIDaemonProcess dup-name threads=2\nWSGIDaemonProcess dup-name threads=3",
        "WSGIDaemonProcess dup-name\n<VirtualHost *:{port}>\n    ServerName dup.test\n    WSGIDaemonProcess dup-name\n</VirtualHost>",
        "<VirtualHost *:{port}>\n    ServerName a.test\n    WSGIDaemonProcess dup-name\n</VirtualHost>\n<VirtualHost *:{port}>\n    ServerName b.test\n    WSGIDaemonProcess dup-name\n</VirtualHost>",
    ] {
        let (out, text, path) = configtest_fails(conf);
        let line = line_of(&text, "WSGIDaemonProcess dup-name", 2);
        assert!(out.contains(&format!("Syntax error on line {line} of {path}")), "line {line} not named:\n{out}");
        assert!(out.contains("WSGIDaemonProcess"), "directive not named:\n{out}");
        assert!(out.contains("'dup-name'"), "group not named:\n{out}");
    }
}

#[test]
fn root_user_is_refused_at_configtest() {
    for option in ["user=root", "user=#0"] {
        let (out, text, path) = configtest_fails(&format!("WSGIDaemonProcess as-root {option}"));
        let line = line_of(&text, "WSGIDaemonProcess as-root", 1);
        assert!(out.contains(&format!("Syntax error on line {line} of {path}")), "{option}:\n{out}");
        assert!(out.contains("WSGIDaemonProcess"), "{option}:\n{out}");
        assert!(out.contains("'user'") && out.contains("root"), "{option}: option not named:\n{out}");
    }
}

#[test]
fn bad_process_count_is_refused_naming_the_option() {
    for (option, value) in [("processes", "abc"), ("processes", "0"), ("processes", "-1"), ("threads", "abc")] {
        let (out, text, path) = configtest_fails(&format!("WSGIDaemonProcess counted {option}={value}"));
        let line = line_of(&text, "WSGIDaemonProcess counted", 1);
        assert!(out.contains(&format!("Syntax error on line {line} of {path}")), "{option}={value}:\n{out}");
        assert!(out.contains("WSGIDaemonProcess"), "{option}={value}:\n{out}");
        assert!(out.contains(&format!("'{option}'")), "{option}={value}: option not named:\n{out}");
        assert!(out.contains(&format!("'{value}'")), "{option}={value}: value not named:\n{out}");
    }
}

#[test]
fn unknown_user_is_refused_before_start() {
    // mod_wsgi leaves this to Apache's own user lookup (AH00543); either
    // way the server must not start with a group it cannot run.
    let builder = ApacheBuilder::new().conf("WSGIDaemonProcess nouser user=no-such-user-wsgi");
    let (ok, out) = builder.configtest();
    assert!(!ok, "configtest accepted an unknown user:\n{out}");
    assert!(out.contains("no-such-user-wsgi"), "{out}");
}
