//! Application groups (issue 4): each group is its own Python interpreter in
//! each Apache child; `%{RESOURCE}`, `%{SERVER}`, `%{GLOBAL}` and
//! `%{ENV:name}` name them; interpreters are created on first use, stay
//! consistent under concurrent load, and are torn down cleanly (their
//! `atexit` functions run) when a child stops.
//!
//! Which interpreter a request runs in is read with `_xxsubinterpreters`
//! (shipped with Debian's Python 3.11, importable in every interpreter):
//! `get_current()` is the running interpreter's id and `get_main()` the main
//! interpreter's (0). That is the most direct observable there is: equal ids
//! mean the same interpreter, and `%{GLOBAL}` must show `get_current() ==
//! get_main()`. Sharing is also checked the way an application would see it,
//! through a module put into `sys.modules` and through the module globals of
//! the other scripts loaded in the same interpreter.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// A probe answering with `key=value` lines (read them with [`kv`]): the
/// group and interpreter it runs in, a value shared through `sys.modules`
/// (set with `?set=value`), the `MARK`s of every script module loaded in its
/// interpreter, and its own module-global hit counter. `{mark}` names the
/// script.
const PROBE: &str = include_str!("apps/app_groups/probe.py");

fn probe(mark: &str) -> String {
    PROBE.replace("{mark}", mark)
}

/// Parses `key=value` lines; panics (showing the response) unless a 200.
fn kv(resp: &Response) -> BTreeMap<String, String> {
    assert_eq!(resp.status, 200, "probe failed:\n{resp:?}");
    resp.text().lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// One child process, so every request sees the same interpreters.
const ONE_CHILD: &str = "StartServers 1\nServerLimit 1\nThreadsPerChild 25\nMaxRequestWorkers 25\n\
                         MinSpareThreads 1\nMaxSpareThreads 50";

/// One server for the tests that only send requests.
fn server() -> &'static Apache {
    shared!(Apache, {
        let mut b = ApacheBuilder::new().mpm(Mpm::Event).conf(ONE_CHILD).env("WSGI_PROC_GROUP", "from-process-env");
        for name in [
            "iso_a",
            "iso_b",
            "res",
            "srv",
            "glob_a",
            "glob_b",
            "envset",
            "envrw",
            "envproc",
            "together/a",
            "together/b",
        ] {
            b = b.file(&format!("wsgi/{name}.wsgi"), probe(&name.replace('/', "_")));
        }
        b.conf(
            r#"
WSGIScriptAlias /iso/a {root}/wsgi/iso_a.wsgi
WSGIScriptAlias /iso/b {root}/wsgi/iso_b.wsgi
<Location /iso/a>
    WSGIApplicationGroup iso-a
</Location>
<Location /iso/b>
    WSGIApplicationGroup iso-b
</Location>

WSGIScriptAlias /same/a {root}/wsgi/together/a.wsgi
WSGIScriptAlias /same/b {root}/wsgi/together/b.wsgi
<Directory {root}/wsgi/together>
    WSGIApplicationGroup together
</Directory>

WSGIScriptAlias /res {root}/wsgi/res.wsgi

WSGIScriptAlias /srv {root}/wsgi/srv.wsgi
<Location /srv>
    WSGIApplicationGroup %{SERVER}
</Location>

WSGIScriptAlias /glob/a {root}/wsgi/glob_a.wsgi
WSGIScriptAlias /glob/b {root}/wsgi/glob_b.wsgi
<Location /glob>
    WSGIApplicationGroup %{GLOBAL}
</Location>

WSGIScriptAlias /envset {root}/wsgi/envset.wsgi
<Location /envset>
    SetEnv WSGI_GROUP_NAME from-setenv
    WSGIApplicationGroup %{ENV:WSGI_GROUP_NAME}
</Location>

RewriteEngine On
RewriteRule ^/envrw - [E=WSGI_RW_GROUP:from-rewrite]
WSGIScriptAlias /envrw {root}/wsgi/envrw.wsgi
<Location /envrw>
    WSGIApplicationGroup %{ENV:WSGI_RW_GROUP}
</Location>

WSGIScriptAlias /envproc {root}/wsgi/envproc.wsgi
<Location /envproc>
    WSGIApplicationGroup %{ENV:WSGI_PROC_GROUP}
</Location>
"#,
        )
        .start()
    })
}

fn get_kv(apache: &Apache, path: &str) -> BTreeMap<String, String> {
    let mark = apache.log_mark();
    let resp = apache.get(path);
    apache.assert_status(&resp, 200, mark);
    kv(&resp)
}

fn get_kv_host(apache: &Apache, path: &str, host: &str) -> BTreeMap<String, String> {
    let mark = apache.log_mark();
    let resp = apache.request("GET", path, &[("Host", host)], &[]);
    apache.assert_status(&resp, 200, mark);
    kv(&resp)
}

#[test]
fn different_groups_do_not_share_globals_or_sys_modules() {
    let s = server();
    let token = unique_token("iso");
    let a = get_kv(s, &format!("/iso/a?set={token}"));
    assert_eq!(a["group"], "iso-a");
    assert_eq!(a["environ_group"], "iso-a");
    assert_eq!(a["shared"], token);
    let b = get_kv(s, "/iso/b");
    assert_eq!(b["group"], "iso-b");
    assert_eq!(b["pid"], a["pid"], "one child serves both");
    assert_ne!(b["interp"], a["interp"], "two groups, two interpreters: {a:?}\n{b:?}");
    assert_ne!(a["interp"], a["main_interp"], "a named group is a sub-interpreter: {a:?}");
    assert_ne!(b["interp"], b["main_interp"], "a named group is a sub-interpreter: {b:?}");
    assert_ne!(b["shared"], token, "group iso-b sees iso-a's sys.modules entry: {b:?}");
    assert_eq!(b["marks"], "iso_b", "group iso-b sees script modules of another group: {b:?}");

    // iso-a kept its own state: the isolation above is not a reset.
    let a2 = get_kv(s, "/iso/a");
    assert_eq!(a2["interp"], a["interp"]);
    assert_eq!(a2["shared"], token, "iso-a lost its sys.modules entry: {a2:?}");
    assert_eq!(a2["marks"], "iso_a", "{a2:?}");
    let hits = |m: &BTreeMap<String, String>| m["hits"].parse::<u64>().unwrap();
    assert_eq!(hits(&a2), hits(&a) + 1, "iso-a's module globals persist: {a:?}\n{a2:?}");
}

#[test]
fn scripts_in_the_same_named_group_share_an_interpreter() {
    let s = server();
    let token = unique_token("together");
    let a = get_kv(s, &format!("/same/a?set={token}"));
    assert_eq!(a["group"], "together");
    let b = get_kv(s, "/same/b");
    assert_eq!(b["group"], "together");
    assert_eq!(b["interp"], a["interp"], "one group, one interpreter: {a:?}\n{b:?}");
    assert_ne!(b["interp"], b["main_interp"]);
    assert_eq!(b["shared"], token, "b does not see a's sys.modules entry: {b:?}");
    assert_eq!(b["marks"], "together_a,together_b", "b sees a's module globals (its MARK): {b:?}");
}

#[test]
fn resource_group_is_host_port_and_script_name() {
    let s = server();
    let port = s.port();
    let r = get_kv(s, "/res");
    assert_eq!(r["group"], format!("127.0.0.1:{port}|/res"), "{r:?}");
    assert_eq!(r["environ_group"], r["group"]);
    assert_eq!(r["SERVER_PORT"], port.to_string());
    assert_eq!(r["SCRIPT_NAME"], "/res");
    assert_ne!(r["interp"], r["main_interp"], "%{{RESOURCE}} is a sub-interpreter");

    // The port is the one the request names (UseCanonicalName Off): the
    // default ports are left out, as the environ's SERVER_PORT shows.
    for (host, port_seen, group) in [
        ("127.0.0.1:80", "80", "127.0.0.1|/res".to_string()),
        ("127.0.0.1:443", "443", "127.0.0.1|/res".to_string()),
        ("elsewhere.example:4321", "4321", "127.0.0.1:4321|/res".to_string()),
    ] {
        let r = get_kv_host(s, "/res", host);
        // SERVER_NAME is the Host's name (UseCanonicalName Off), but the
        // group takes the name from ServerName, as mod_wsgi does.
        assert_eq!(r["SERVER_PORT"], port_seen, "Host: {host}: {r:?}");
        assert_eq!(r["group"], group, "Host: {host}: {r:?}");
    }
}

#[test]
fn server_group_is_host_and_port() {
    let s = server();
    let port = s.port();
    let r = get_kv(s, "/srv");
    assert_eq!(r["group"], format!("127.0.0.1:{port}"), "{r:?}");
    assert_eq!(r["environ_group"], r["group"]);
    assert_ne!(r["interp"], r["main_interp"]);
    let r = get_kv_host(s, "/srv", "127.0.0.1:80");
    assert_eq!(r["group"], "127.0.0.1", "{r:?}");
}

#[test]
fn global_group_is_the_main_interpreter() {
    let s = server();
    let token = unique_token("global");
    let a = get_kv(s, &format!("/glob/a?set={token}"));
    assert_eq!(a["group"], "", "mod_wsgi.application_group in %{{GLOBAL}}: {a:?}");
    assert_eq!(a["environ_group"], "", "{a:?}");
    assert_eq!(a["interp"], a["main_interp"], "%{{GLOBAL}} runs in the main interpreter: {a:?}");
    assert_eq!(a["main_interp"], "0");
    let b = get_kv(s, "/glob/b");
    assert_eq!(b["interp"], "0");
    assert_eq!(b["shared"], token, "two %{{GLOBAL}} scripts share sys.modules: {b:?}");
    assert!(b["marks"].split(',').any(|m| m == "glob_a"), "{b:?}");
    // ... and nothing of a sub-interpreter leaks into it.
    assert!(!b["marks"].split(',').any(|m| m.starts_with("iso_") || m == "res"), "{b:?}");
}

#[test]
fn env_group_from_set_env() {
    let r = get_kv(server(), "/envset");
    assert_eq!(r["group"], "from-setenv", "{r:?}");
    assert_eq!(r["environ_group"], "from-setenv", "{r:?}");
    assert_ne!(r["interp"], r["main_interp"]);
}

#[test]
fn env_group_from_rewrite_rule() {
    let r = get_kv(server(), "/envrw");
    assert_eq!(r["group"], "from-rewrite", "{r:?}");
    assert_eq!(r["environ_group"], "from-rewrite", "{r:?}");
}

#[test]
fn env_group_from_the_server_process_environment() {
    let r = get_kv(server(), "/envproc");
    assert_eq!(r["group"], "from-process-env", "{r:?}");
}

#[test]
fn env_groups_are_distinct_interpreters() {
    let s = server();
    let interps: BTreeSet<String> =
        ["/envset", "/envrw", "/envproc", "/iso/a", "/res"].iter().map(|p| get_kv(s, p)["interp"].clone()).collect();
    assert_eq!(interps.len(), 5, "{interps:?}");
}

// ---------------------------------------------------------------------------
// Info-level lifecycle lines, compared with Debian's mod_wsgi.

/// The `[wsgi:...]` lines written after `mark`, with the timestamp, pid,
/// thread id and client port replaced by placeholders.
fn wsgi_lines(apache: &Apache, mark: usize) -> Vec<String> {
    let port = apache.port().to_string();
    let root = apache.root().display().to_string();
    apache
        .log_since(mark)
        .lines()
        .filter(|l| l.contains("[wsgi:"))
        .map(|l| {
            let l = l.split_once("] ").map_or(l, |(_, rest)| rest); // timestamp
            let mut out = String::new();
            let mut rest = l;
            // [pid N:tid M] -> [pid PID:tid TID]; (pid=N -> (pid=PID
            while let Some(i) = rest.find("pid") {
                out.push_str(&rest[..i]);
                let tail = &rest[i..];
                if let Some(t) = tail.strip_prefix("pid ") {
                    let end = t.find(']').unwrap_or(t.len());
                    out.push_str("pid PID:tid TID");
                    rest = &t[end..];
                } else if let Some(t) = tail.strip_prefix("pid=") {
                    let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
                    out.push_str("pid=PID");
                    rest = &t[end..];
                } else {
                    out.push_str("pid");
                    rest = &tail[3..];
                }
            }
            out.push_str(rest);
            let out = match out.find("[client 127.0.0.1:") {
                Some(i) => {
                    let after = &out[i + "[client 127.0.0.1:".len()..];
                    let end = after.find(']').unwrap_or(0);
                    format!("{}[client 127.0.0.1:PORT{}", &out[..i], &after[end..])
                }
                None => out,
            };
            out.replace(&port, "{port}").replace(&root, "{root}")
        })
        .collect()
}

fn lifecycle_lines(module: Module) -> (Vec<String>, Vec<String>) {
    let apache = ApacheBuilder::new()
        .module(module)
        .conf(ONE_CHILD)
        .file("wsgi/life.wsgi", apps::HELLO_WORLD)
        .conf("WSGIScriptAlias /life {root}/wsgi/life.wsgi")
        .start();
    // The port accepts (into the listen backlog) before the child has run
    // child_init; both modules end it with this line.
    assert!(
        apache.wait_for_log("Attach interpreter ''.", Duration::from_secs(10)),
        "{module:?}: no \"Attach interpreter ''\" at child start:\n{}",
        apache.error_log()
    );
    let mark = apache.log_mark();
    apache.assert_status(&apache.get("/life"), 200, mark);
    let first = wsgi_lines(&apache, mark);
    let mark = apache.log_mark();
    apache.assert_status(&apache.get("/life"), 200, mark);
    let second = wsgi_lines(&apache, mark);
    (first, second)
}

/// What Debian's mod_wsgi 4.9 logs on the first request to a script in a
/// new `%{RESOURCE}` group (docs/mod_wsgi-4.9-observed.md, section 15).
const EXPECTED_FIRST_REQUEST_LINES: &[&str] = &[
    "[wsgi:info] [pid PID:tid TID] mod_wsgi (pid=PID): Create interpreter '127.0.0.1:{port}|/life'.",
    "[wsgi:info] [pid PID:tid TID] [client 127.0.0.1:PORT] mod_wsgi (pid=PID, process='', \
     application='127.0.0.1:{port}|/life'): Loading Python script file '{root}/wsgi/life.wsgi'.",
];

#[test]
fn interpreter_creation_and_script_loading_are_logged_like_mod_wsgi() {
    let (first, second) = lifecycle_lines(Module::Ours);
    assert_eq!(first, EXPECTED_FIRST_REQUEST_LINES, "first request");
    assert_eq!(second, Vec::<String>::new(), "a second request logs nothing");
}

/// The reference the test above matches: Debian's module, same config.
#[test]
fn interpreter_creation_and_script_loading_lines_of_debian_mod_wsgi() {
    let (first, second) = lifecycle_lines(Module::Debian);
    assert_eq!(first, EXPECTED_FIRST_REQUEST_LINES, "first request");
    assert_eq!(second, Vec::<String>::new(), "a second request logs nothing");
}

/// The group names of Debian's module for the same requests (a reference
/// for the `%{RESOURCE}`/`%{SERVER}` tests above).
#[test]
fn group_names_match_debian_mod_wsgi() {
    let config = |module: Module| {
        ApacheBuilder::new()
            .module(module)
            .conf(ONE_CHILD)
            .file("wsgi/res.wsgi", probe("res"))
            .file("wsgi/srv.wsgi", probe("srv"))
            .conf(
                "WSGIScriptAlias /res {root}/wsgi/res.wsgi\nWSGIScriptAlias /srv {root}/wsgi/srv.wsgi\n\
                 <Location /srv>\n    WSGIApplicationGroup %{SERVER}\n</Location>",
            )
            .start()
    };
    let names = |apache: &Apache| -> Vec<String> {
        let port = apache.port().to_string();
        let mut out = Vec::new();
        for path in ["/res", "/srv"] {
            for host in [format!("127.0.0.1:{port}"), "127.0.0.1:80".into(), "x:443".into(), "x:4321".into()] {
                let r = get_kv_host(apache, path, &host);
                out.push(format!("{path} Host: {host} -> {}", r["group"]).replace(&port, "{port}"));
            }
        }
        out
    };
    let ours = names(&config(Module::Ours));
    let debian = names(&config(Module::Debian));
    assert_eq!(ours, debian);
}

// ---------------------------------------------------------------------------
// Concurrency.

/// A probe for the load test: the group and interpreter, after a little
/// work that releases the GIL (so threads interleave inside Python).
const LOAD_APP: &str = include_str!("apps/app_groups/load.py");

const CRASH_SIGNS: &[&str] = &["exit signal", "Fatal Python error", "Segmentation", "panicked", "deadlock"];

fn assert_no_crash_lines(log: &str) {
    for sign in CRASH_SIGNS {
        assert!(!log.contains(sign), "error_log contains {sign:?}:\n{log}");
    }
}

#[test]
fn sixty_four_clients_over_four_groups_for_twenty_seconds() {
    // Two children of 32 threads: 64 workers, and every worker thread serves
    // every group, so each thread holds thread states of four interpreters.
    let apache = ApacheBuilder::new()
        .mpm(Mpm::Event)
        .log_level("warn wsgi:info")
        .conf(
            "StartServers 2\nServerLimit 2\nThreadsPerChild 32\nMaxRequestWorkers 64\n\
             MinSpareThreads 1\nMaxSpareThreads 128\nMaxConnectionsPerChild 0",
        )
        .file("wsgi/load.wsgi", LOAD_APP)
        .conf(
            r#"
WSGIScriptAlias /load/global {root}/wsgi/load.wsgi
WSGIScriptAlias /load/one {root}/wsgi/load.wsgi
WSGIScriptAlias /load/two {root}/wsgi/load.wsgi
WSGIScriptAlias /load/three {root}/wsgi/load.wsgi
<Location /load/global>
    WSGIApplicationGroup %{GLOBAL}
</Location>
<Location /load/one>
    WSGIApplicationGroup load-one
</Location>
<Location /load/two>
    WSGIApplicationGroup load-two
</Location>
<Location /load/three>
    WSGIApplicationGroup load-three
</Location>
"#,
        )
        .start();
    let groups: [(&str, &str); 4] =
        [("/load/global", ""), ("/load/one", "load-one"), ("/load/two", "load-two"), ("/load/three", "load-three")];
    const CLIENTS: usize = 64;
    const DURATION: Duration = Duration::from_secs(20);

    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    // (pid, group) -> interpreter ids seen: must be exactly one each.
    let interps = Arc::new(Mutex::new(HashMap::<(String, String), BTreeSet<String>>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let port = apache.port();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let failures = failures.clone();
            let interps = interps.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut done = 0u64;
                let mut conn: Option<Conn> = None;
                let mut i = client;
                while start.elapsed() < DURATION && !stop.load(Ordering::Relaxed) {
                    let (path, group) = groups[i % groups.len()];
                    i += 1;
                    let c = match conn.as_mut() {
                        Some(c) => c,
                        None => match Conn::open(port) {
                            Ok(c) => conn.insert(c),
                            Err(e) => {
                                failures.lock().unwrap().push(format!("client {client}: connect: {e}"));
                                break;
                            }
                        },
                    };
                    let sent = Instant::now();
                    match c.try_request("GET", path, &[], &[]) {
                        Ok(resp) => {
                            let body = resp.text();
                            let fields: BTreeMap<&str, &str> = body.lines().filter_map(|l| l.split_once('=')).collect();
                            if resp.status != 200 || fields.get("group") != Some(&group) {
                                failures.lock().unwrap().push(format!(
                                    "client {client}: {path}: expected 200 for group {group:?}, got {} {body:?}",
                                    resp.status
                                ));
                                stop.store(true, Ordering::Relaxed);
                                break;
                            }
                            let key = (fields["pid"].to_string(), group.to_string());
                            interps.lock().unwrap().entry(key).or_default().insert(fields["interp"].to_string());
                            done += 1;
                            if resp.header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
                                conn = None;
                            }
                        }
                        Err(e) => {
                            // A keep-alive connection the server closed
                            // between requests is retried on a new one; a
                            // request that hangs is a failure (deadlock).
                            let hung = sent.elapsed() >= common::http::READ_TIMEOUT - Duration::from_secs(1);
                            if hung || e.kind() != std::io::ErrorKind::UnexpectedEof {
                                failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("client {client}: {path}: {e} after {:?}", sent.elapsed()));
                                stop.store(true, Ordering::Relaxed);
                                break;
                            }
                            conn = None;
                        }
                    }
                }
                done
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let elapsed = start.elapsed();
    let failures = failures.lock().unwrap().clone();
    let log = apache.error_log();
    assert!(
        failures.is_empty(),
        "{} failures after {total} good requests, first ones:\n{}\nerror_log:\n{log}",
        failures.len(),
        failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
    eprintln!("{total} requests in {elapsed:?} from {CLIENTS} clients over 4 groups");
    assert!(elapsed < DURATION + Duration::from_secs(35), "the load loop took {elapsed:?}");
    assert!(total >= CLIENTS as u64 * 4, "only {total} requests in {elapsed:?}");
    let interps = interps.lock().unwrap();
    for ((pid, group), ids) in interps.iter() {
        assert_eq!(ids.len(), 1, "pid {pid}, group {group:?} ran in several interpreters: {ids:?}");
        let id = ids.iter().next().unwrap();
        assert_eq!(group.is_empty(), id == "0", "pid {pid}, group {group:?} ran in interpreter {id}");
    }
    for pid in interps.keys().map(|(p, _)| p).collect::<BTreeSet<_>>() {
        let ids: BTreeSet<_> = interps.iter().filter(|((p, _), _)| p == pid).flat_map(|(_, ids)| ids).collect();
        let groups = interps.keys().filter(|(p, _)| p == pid).count();
        assert_eq!(ids.len(), groups, "pid {pid}: two groups share an interpreter: {interps:?}");
    }
    assert_no_crash_lines(&log);
    let stopped = stop_server(&apache);
    assert_no_crash_lines(&stopped);
    assert!(!stopped.contains("still did not exit"), "a child hung on stop:\n{stopped}");
}

// ---------------------------------------------------------------------------
// Shutdown.

/// Registers an atexit function that writes `{state}/atexit-<name>` (the
/// name from the group; `global` for the main interpreter), naming the
/// interpreter and process.
const ATEXIT_APP: &str = include_str!("apps/app_groups/atexit.py");

/// A directory outside the server root (which is removed with the server)
/// that the Apache user may write to.
fn state_dir() -> PathBuf {
    let dir = Path::new("/tmp/mod_wsgi_rs-tests").join(unique_token("app_groups-state"));
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

fn atexit_server(state: &Path) -> Apache {
    let app = ATEXIT_APP.replace("{state}", &state.display().to_string());
    ApacheBuilder::new()
        .mpm(Mpm::Event)
        .conf(ONE_CHILD)
        .file("wsgi/atexit.wsgi", app)
        .conf(
            r#"
WSGIScriptAlias /ax/one {root}/wsgi/atexit.wsgi
WSGIScriptAlias /ax/two {root}/wsgi/atexit.wsgi
WSGIScriptAlias /ax/global {root}/wsgi/atexit.wsgi
<Location /ax/one>
    WSGIApplicationGroup ax-one
</Location>
<Location /ax/two>
    WSGIApplicationGroup ax-two
</Location>
<Location /ax/global>
    WSGIApplicationGroup %{GLOBAL}
</Location>
"#,
        )
        .start()
}

/// `apache2 -k stop` and wait (up to 30 s) for every process of the server
/// to end; returns the whole error log (the root is still there).
fn stop_server(apache: &Apache) -> String {
    let parent = apache.parent_pid();
    let children = apache.child_pids();
    let mut cmd = Command::new("/usr/sbin/apache2");
    cmd.arg("-f").arg(apache.conf_path()).args(["-k", "stop"]);
    cmd.env_clear().env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").env("LANG", "C");
    for (key, value) in std::env::vars() {
        if key.starts_with("MOD_WSGI_RS_") {
            cmd.env(key, value);
        }
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "apache2 -k stop: {}", String::from_utf8_lossy(&out.stderr));
    let all_gone = wait_until(Duration::from_secs(30), || {
        !common::process::alive(parent) && children.iter().all(|&p| !common::process::alive(p))
    });
    let log = apache.error_log();
    assert!(all_gone, "the server did not stop within 30 s:\n{log}");
    log
}

fn atexit_files(state: &Path) -> BTreeSet<String> {
    fs::read_dir(state)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn stop_ends_every_interpreter_and_runs_their_atexit_functions() {
    let state = state_dir();
    let apache = atexit_server(&state);
    let mut pids = BTreeSet::new();
    for (path, name) in [("/ax/one", "ax-one"), ("/ax/two", "ax-two"), ("/ax/global", "global")] {
        let mark = apache.log_mark();
        let resp = apache.get(path);
        apache.assert_status(&resp, 200, mark);
        let text = resp.text();
        let fields: Vec<&str> = text.split(' ').collect();
        assert_eq!(fields[0], name, "{text}");
        pids.insert(fields[2].to_string());
    }
    assert_eq!(pids.len(), 1, "one child: {pids:?}");
    let pid = pids.into_iter().next().unwrap();
    let started = Instant::now();
    let log = stop_server(&apache);
    let took = started.elapsed();
    assert_no_crash_lines(&log);
    assert!(!log.contains("still did not exit"), "the child hung on stop (killed by the parent):\n{log}");
    let expected: BTreeSet<String> =
        ["ax-one", "ax-two", "global"].iter().map(|n| format!("atexit-{n}-{pid}")).collect();
    assert_eq!(atexit_files(&state), expected, "atexit functions that ran (stop took {took:?}):\n{log}");
    let _ = fs::remove_dir_all(&state);
}

#[test]
fn graceful_restart_ends_the_old_interpreters_and_serves_again() {
    let state = state_dir();
    let apache = atexit_server(&state);
    let mut old_pid = String::new();
    for path in ["/ax/one", "/ax/two", "/ax/global"] {
        let mark = apache.log_mark();
        let resp = apache.get(path);
        apache.assert_status(&resp, 200, mark);
        old_pid = resp.text().rsplit(' ').next().unwrap().to_string();
    }
    let mark = apache.log_mark();
    apache.restart_graceful();
    let expected: BTreeSet<String> =
        ["ax-one", "ax-two", "global"].iter().map(|n| format!("atexit-{n}-{old_pid}")).collect();
    let ran = wait_until(Duration::from_secs(20), || atexit_files(&state).is_superset(&expected));
    assert!(ran, "atexit files after graceful: {:?}\n{}", atexit_files(&state), apache.log_since(mark));
    for (path, name) in [("/ax/one", "ax-one"), ("/ax/global", "global")] {
        let m = apache.log_mark();
        let resp = apache.get(path);
        apache.assert_status(&resp, 200, m);
        let text = resp.text();
        assert!(text.starts_with(&format!("{name} ")), "{text}");
        assert!(!text.ends_with(&format!(" {old_pid}")), "served by the old child: {text}");
    }
    let log = stop_server(&apache);
    assert_no_crash_lines(&log);
    assert!(!log.contains("still did not exit"), "a child hung:\n{log}");
    let _ = fs::remove_dir_all(&state);
}

// ---------------------------------------------------------------------------
// Memory cost of one more application group.

fn vm_rss_kib(pid: i32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// RSS of the single prefork child: after a first group (warm-up), after
/// one more group, and after four more; returns (warm, +1, +5) in KiB.
fn rss_per_group(module: Module) -> (u64, u64, u64) {
    let mut b = ApacheBuilder::new()
        .module(module)
        .mpm(Mpm::Prefork)
        .log_level("warn")
        .conf("StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\nMaxRequestWorkers 1");
    for i in 0..6 {
        b = b.file(&format!("wsgi/rss{i}.wsgi"), apps::HELLO_WORLD);
        b = b.conf(&format!(
            "WSGIScriptAlias /rss{i} {{root}}/wsgi/rss{i}.wsgi\n<Location /rss{i}>\n    WSGIApplicationGroup rss-{i}\n</Location>"
        ));
    }
    let apache = b.start();
    let children = apache.child_pids();
    assert_eq!(children.len(), 1, "{children:?}");
    let child = children[0];
    let settle = || std::thread::sleep(Duration::from_millis(300));
    let hit = |i: usize| {
        let mark = apache.log_mark();
        let resp = apache.get(&format!("/rss{i}"));
        apache.assert_status(&resp, 200, mark);
    };
    hit(0);
    hit(0);
    settle();
    let warm = vm_rss_kib(child);
    hit(1);
    hit(1);
    settle();
    let one = vm_rss_kib(child);
    for i in 2..6 {
        hit(i);
    }
    settle();
    let five = vm_rss_kib(child);
    assert_eq!(apache.child_pids(), vec![child], "the child was replaced; the numbers mean nothing");
    (warm, one, five)
}

#[test]
fn memory_cost_of_one_more_application_group() {
    for module in [Module::Ours, Module::Debian] {
        let (warm, one, five) = rss_per_group(module);
        let first = one as i64 - warm as i64;
        let average = (five as i64 - one as i64) / 4;
        eprintln!(
            "{module:?}: child VmRSS {warm} KiB with one group, {one} KiB with two (+{first} KiB), \
             {five} KiB with six (+{average} KiB per group on average)"
        );
        assert!(first < 64 * 1024 && average < 64 * 1024, "{module:?}: more than 64 MiB per group");
    }
}
