//! Options that shape the process an application runs in: the environment
//! Python starts with (`WSGIPythonEggs`, `python-eggs`, `lang`, `locale`),
//! `supplementary-groups`, `socket-user`, and `WSGICaseSensitivity`, which
//! names the script's module.

mod common;

use common::*;

const FACTS_APP: &str = include_str!("apps/process_options/facts.py");

fn fact(body: &str, key: &str) -> String {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        .to_string()
}

fn md5_hex(text: &str) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import hashlib,sys; print(hashlib.md5(sys.argv[1].encode()).hexdigest())", text])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn gid_of(group: &str) -> String {
    let out = std::process::Command::new("getent").args(["group", group]).output().expect("getent");
    String::from_utf8_lossy(&out.stdout).split(':').nth(2).unwrap_or_default().to_string()
}

#[test]
fn daemon_environment_and_groups_follow_the_options() {
    let apache = ApacheBuilder::new()
        .writable_dir("eggs")
        .file("scripts/facts.wsgi", FACTS_APP)
        .conf(
            "WSGIDaemonProcess opts lang=C.UTF-8 locale=C.UTF-8 python-eggs={root}/eggs supplementary-groups=staff receive-buffer-size=65536 send-buffer-size=131072
WSGIScriptAlias /facts {root}/scripts/facts.wsgi process-group=opts",
        )
        .start();
    let mark = apache.log_mark();
    let resp = apache.get("/facts");
    apache.assert_status(&resp, 200, mark);
    let body = resp.text();
    assert_eq!(fact(&body, "PYTHON_EGG_CACHE"), format!("{}/eggs", apache.root().display()));
    assert_eq!(fact(&body, "LANG"), "C.UTF-8");
    assert_eq!(fact(&body, "LC_ALL"), "C.UTF-8");
    let staff = gid_of("staff");
    assert!(!staff.is_empty(), "group staff is missing");
    assert!(fact(&body, "groups").split(',').any(|g| g == staff), "staff ({staff}) not among the groups: {body}");
}

#[test]
fn embedded_python_eggs_and_case_insensitive_module_names() {
    let apache = ApacheBuilder::new()
        .embedded_only()
        .writable_dir("eggs")
        .file("scripts/Facts.wsgi", FACTS_APP)
        .conf("WSGIPythonEggs {root}/eggs\nWSGICaseSensitivity Off\nWSGIScriptAlias /facts {root}/scripts/Facts.wsgi")
        .start();
    let mark = apache.log_mark();
    let resp = apache.get("/facts");
    apache.assert_status(&resp, 200, mark);
    let body = resp.text();
    assert_eq!(fact(&body, "PYTHON_EGG_CACHE"), format!("{}/eggs", apache.root().display()));
    // As mod_wsgi: the path is lower-cased before it is hashed.
    let path = apache.root().join("scripts/Facts.wsgi").display().to_string().to_lowercase();
    assert_eq!(fact(&body, "module"), format!("_mod_wsgi_{}", md5_hex(&path)));
}

#[test]
fn socket_user_decides_who_may_connect() {
    // The socket belongs to `nobody`, so the Apache children (www-data)
    // cannot connect: 503, and the log says what to change.
    let apache = ApacheBuilder::new()
        .file("scripts/facts.wsgi", FACTS_APP)
        .conf("WSGIDaemonProcess locked socket-user=nobody\nWSGIScriptAlias /facts {root}/scripts/facts.wsgi process-group=locked")
        .start();
    let mark = apache.log_mark();
    let resp = apache.get("/facts");
    apache.assert_status(&resp, 503, mark);
    assert!(
        apache.wait_for_log_since(mark, "set WSGISocketPrefix", std::time::Duration::from_secs(5)),
        "{}",
        apache.log_since(mark)
    );
}

/// The nice value (field 19 of /proc/PID/stat) of the process answering.
const NICE_APP: &str = include_str!("apps/process_options/nice.py");

#[test]
fn cpu_priority_sets_the_daemon_processes_nice_value() {
    let apache = ApacheBuilder::new()
        .file("scripts/nice.wsgi", NICE_APP)
        .conf(
            "WSGIDaemonProcess lower cpu-priority=7\n\
             WSGIDaemonProcess higher cpu-priority=-5\n\
             WSGIScriptAlias /lower {root}/scripts/nice.wsgi process-group=lower\n\
             WSGIScriptAlias /higher {root}/scripts/nice.wsgi process-group=higher\n\
             WSGIScriptAlias /embedded {root}/scripts/nice.wsgi",
        )
        .start();
    for (path, nice) in [("/lower", "7"), ("/higher", "-5"), ("/embedded", "0")] {
        let mark = apache.log_mark();
        let resp = apache.get(path);
        apache.assert_status(&resp, 200, mark);
        assert_eq!(resp.text(), nice, "{path}");
    }
}

/// `script-user=`/`script-group=`: a script with another owner is refused
/// with a 403 (and a log line saying why), as in mod_wsgi.
#[test]
fn script_user_and_script_group_refuse_scripts_owned_by_others() {
    let apache = ApacheBuilder::new()
        .file("scripts/facts.wsgi", FACTS_APP)
        .conf(
            "WSGIDaemonProcess by-root script-user=root\n\
             WSGIDaemonProcess by-nobody script-user=nobody\n\
             WSGIDaemonProcess by-root-group script-group=#0\n\
             WSGIDaemonProcess by-staff script-group=staff\n\
             WSGIScriptAlias /root {root}/scripts/facts.wsgi process-group=by-root\n\
             WSGIScriptAlias /nobody {root}/scripts/facts.wsgi process-group=by-nobody\n\
             WSGIScriptAlias /root-group {root}/scripts/facts.wsgi process-group=by-root-group\n\
             WSGIScriptAlias /staff {root}/scripts/facts.wsgi process-group=by-staff",
        )
        .start();
    // The test writes the fixtures as root.
    assert!(process::is_root(), "this test writes its fixtures as root");
    for (path, status) in [("/root", 200), ("/nobody", 403), ("/root-group", 200), ("/staff", 403)] {
        let mark = apache.log_mark();
        let resp = apache.get(path);
        apache.assert_status(&resp, status, mark);
        if status == 403 && apache.module() == Module::Ours {
            let log = apache.log_since(mark);
            assert!(log.contains("may not run there"), "{path}: {log}");
        }
    }
}

#[test]
fn an_unknown_script_user_is_a_configuration_error() {
    let builder = ApacheBuilder::new().conf("WSGIDaemonProcess ghost script-user=no-such-user-here");
    let (ok, out) = builder.configtest();
    // mod_wsgi refuses it too, with Apache's "bad user name".
    assert!(!ok, "{out}");
    if Module::default_for_tests() == Module::Ours {
        assert!(out.contains("script-user 'no-such-user-here'"), "{out}");
    }
}
