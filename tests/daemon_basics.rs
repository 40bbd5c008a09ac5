//! Daemon mode, the basics: the Quick Configuration Guide's "Delegation To
//! Daemon Process" virtual host as written, the environ flags a daemon group
//! gives its applications, requests relayed through a daemon (bodies both
//! ways, logging, errors, limits), a daemon dying mid-request, and scripts
//! preloaded when a daemon starts.

mod common;

use std::time::Duration;

use common::apps::{self, py_str};
use common::daemon::{self, INFO_APP, daemon_pids, pid_of, wait_for_daemons, worker_pids};
use common::*;

/// The guide's hello world at `/`; `/__info` answers like INFO_APP (the
/// guide mounts one script at `/`, so the diagnostics live in it).
const GUIDE_APP: &str = include_str!("apps/daemon_basics/guide.py");

// ---------------------------------------------------------------------------
// 1. The Quick Configuration Guide's daemon virtual host, unchanged.

#[test]
fn guide_daemon_virtual_host_runs_two_named_daemon_processes() {
    let apache = ApacheBuilder::new()
        .file("www/wsgi-scripts/myapp.wsgi", GUIDE_APP)
        .file("www/documents/robots.txt", "User-agent: *\nDisallow: /\n")
        .file("www/documents/favicon.ico", b"\x00\x00\x01\x00icon")
        .file("www/documents/media/site.css", "body { color: black }\n")
        .conf(
            "<VirtualHost *:{port}>
    ServerName www.example.com
    ServerAlias example.com
    ServerAdmin webmaster@example.com
    DocumentRoot {root}/www/documents
    Alias /robots.txt {root}/www/documents/robots.txt
    Alias /favicon.ico {root}/www/documents/favicon.ico
    Alias /media/ {root}/www/documents/media/
    <Directory {root}/www/documents>
    Order allow,deny
    Allow from all
    </Directory>
    WSGIDaemonProcess example.com processes=2 threads=15 display-name=%{GROUP}
    WSGIProcessGroup example.com
    WSGIScriptAlias / {root}/www/wsgi-scripts/myapp.wsgi
    <Directory {root}/www/wsgi-scripts>
    Order allow,deny
    Allow from all
    </Directory>
</VirtualHost>",
        )
        .start();
    let get = |path: &str| apache.request("GET", path, &[("Host", "www.example.com")], b"");

    let hello = get("/");
    assert_eq!(hello.status, 200, "{hello:?}\n{}", apache.error_log());
    assert_eq!(hello.body, b"Hello World!", "{hello:?}");
    assert_eq!(hello.header("Content-Type"), Some("text/plain"));
    assert_eq!(hello.header("Content-Length"), Some("12"));
    let alias = apache.request("GET", "/", &[("Host", "example.com")], b"");
    assert_eq!(alias.body, b"Hello World!", "{alias:?}");

    // Static files stay with Apache.
    let robots = get("/robots.txt");
    assert_eq!((robots.status, robots.text().as_str()), (200, "User-agent: *\nDisallow: /\n"), "{robots:?}");
    let css = get("/media/site.css");
    assert_eq!((css.status, css.text().as_str()), (200, "body { color: black }\n"), "{css:?}");

    // `ps` shows exactly two daemons titled (wsgi:example.com), started
    // by the Apache parent (directly or through a manager process).
    let daemons = wait_for_daemons(&apache, "(wsgi:example.com)", 2, Duration::from_secs(5));
    assert_eq!(daemons.len(), 2, "daemons {daemons:?}; children: {:?}", titles(&apache));
    let workers = worker_pids(&apache);
    assert!(!workers.is_empty(), "no Apache worker processes: {:?}", titles(&apache));

    // The application runs in one of them, not in an Apache worker.
    for _ in 0..4 {
        let env = apps::environ(&get("/__info"));
        let pid = pid_of(&env);
        assert!(daemons.contains(&pid), "app pid {pid} not a daemon {daemons:?}; workers {workers:?}");
        assert!(!workers.contains(&pid), "app pid {pid} is an Apache worker {workers:?}");
        assert!(daemon::descends_from(pid, apache.parent_pid()), "daemon {pid} does not descend from Apache's parent");
        assert_eq!(env["mod_wsgi.process_group"], py_str("example.com"));
        assert_eq!(env["wsgi.multiprocess"], "True");
        assert_eq!(env["wsgi.multithread"], "True");
        assert_eq!(env["wsgi.run_once"], "False");
        assert_eq!(env["SCRIPT_NAME"], py_str(""));
        assert_eq!(env["PATH_INFO"], py_str("/__info"));
        assert_eq!(env["SERVER_NAME"], py_str("www.example.com"));
    }
    apache.assert_no_crash();
}

fn titles(apache: &Apache) -> Vec<(i32, String)> {
    apache.child_pids().into_iter().map(|p| (p, daemon::title(p))).collect()
}

// ---------------------------------------------------------------------------
// One server for the rest of this file: one group per concern.

const LIMITED_APP: &str = include_str!("apps/daemon_basics/limited.py");

/// `?read` (default): one read(); `?readline`: readline() until b'';
/// `?iter`: iteration; `?chunks`: read(1000) until b''. Answers the bytes
/// (or, with `repr`, the list of pieces) and X-Pieces.
const INPUT_APP: &str = include_str!("apps/daemon_basics/input.py");

/// 160 chunks of 64 KiB (10 MiB), chunk i made of b'%08d' % i, no
/// Content-Length: the response is streamed.
const STREAM_APP: &str = include_str!("apps/daemon_basics/stream.py");

const STREAM_CHUNKS: usize = 160;

fn expected_stream() -> Vec<u8> {
    let mut out = Vec::with_capacity(STREAM_CHUNKS * 65536);
    for i in 0..STREAM_CHUNKS {
        out.extend(format!("{i:08}").as_bytes().repeat(8192));
    }
    out
}

const ERRORS_APP: &str = include_str!("apps/daemon_basics/errors.py");

const RAISES_APP: &str = include_str!("apps/daemon_basics/raises.py");

fn server() -> &'static Apache {
    shared!(Apache, {
        ApacheBuilder::new()
            .file("scripts/info.wsgi", INFO_APP)
            .file("scripts/hello.wsgi", apps::HELLO_WORLD)
            .file("scripts/input.wsgi", INPUT_APP)
            .file("scripts/stream.wsgi", STREAM_APP)
            .file("scripts/errors.wsgi", ERRORS_APP)
            .file("scripts/raises.wsgi", RAISES_APP)
            .file("scripts/limited.wsgi", LIMITED_APP)
            .writable_dir("state")
            .conf(
                "WSGIDaemonProcess requests processes=2 threads=4 display-name=%{GROUP}
WSGIDaemonProcess flags-default display-name=%{GROUP}
WSGIDaemonProcess flags-one-process processes=1 display-name=%{GROUP}
WSGIDaemonProcess flags-one-thread threads=1 display-name=%{GROUP}
WSGIDaemonProcess flags-both processes=3 threads=2 display-name=%{GROUP}
WSGIDaemonProcess flags-run-once threads=1 maximum-requests=1 display-name=%{GROUP}
WSGIDaemonProcess flags-run-twice threads=1 maximum-requests=2 display-name=%{GROUP}
WSGIDaemonProcess dies processes=1 threads=2 display-name=%{GROUP}
WSGIScriptAlias /flags/default {root}/scripts/info.wsgi process-group=flags-default
WSGIScriptAlias /flags/one-process {root}/scripts/info.wsgi process-group=flags-one-process
WSGIScriptAlias /flags/one-thread {root}/scripts/info.wsgi process-group=flags-one-thread
WSGIScriptAlias /flags/both {root}/scripts/info.wsgi process-group=flags-both
WSGIScriptAlias /flags/run-once {root}/scripts/info.wsgi process-group=flags-run-once
WSGIScriptAlias /flags/run-twice {root}/scripts/info.wsgi process-group=flags-run-twice
WSGIScriptAlias /embedded {root}/scripts/info.wsgi
WSGIScriptAlias /dies {root}/scripts/info.wsgi process-group=dies
WSGIScriptAlias /info {root}/scripts/info.wsgi process-group=requests
WSGIScriptAlias /hello {root}/scripts/hello.wsgi process-group=requests
WSGIScriptAlias /input {root}/scripts/input.wsgi process-group=requests
WSGIScriptAlias /stream {root}/scripts/stream.wsgi process-group=requests
WSGIScriptAlias /errors {root}/scripts/errors.wsgi process-group=requests
WSGIScriptAlias /raises {root}/scripts/raises.wsgi process-group=requests
WSGIScriptAlias /limited {root}/scripts/limited.wsgi process-group=requests
<Location /info>
    SetEnv TEST_VALUE daemon-setenv-value
</Location>
<Location /limited>
    SetEnv STATE_DIR {root}/state
    LimitRequestBody 10
</Location>",
            )
            .start()
    })
}

// ---------------------------------------------------------------------------
// 1 (continued). wsgi.multiprocess / wsgi.multithread per group.

#[test]
fn environ_flags_follow_the_group_options() {
    let s = server();
    // (path, group, multiprocess, multithread, run_once): wsgi.multiprocess
    // is True only when processes= is given (even processes=1), and
    // wsgi.run_once only for one thread serving one request, as in mod_wsgi.
    for (path, group, multiprocess, multithread, run_once) in [
        ("/flags/default", "flags-default", "False", "True", "False"),
        ("/flags/one-process", "flags-one-process", "True", "True", "False"),
        ("/flags/one-thread", "flags-one-thread", "False", "False", "False"),
        ("/flags/both", "flags-both", "True", "True", "False"),
        ("/flags/run-once", "flags-run-once", "False", "False", "True"),
        ("/flags/run-twice", "flags-run-twice", "False", "False", "False"),
    ] {
        let mark = s.log_mark();
        let resp = s.get(path);
        s.assert_status(&resp, 200, mark);
        let env = apps::environ(&resp);
        assert_eq!(env["mod_wsgi.process_group"], py_str(group), "{path}");
        assert_eq!(env["wsgi.multiprocess"], multiprocess, "{path}: wsgi.multiprocess");
        assert_eq!(env["wsgi.multithread"], multithread, "{path}: wsgi.multithread");
        assert_eq!(env["wsgi.run_once"], run_once, "{path}: wsgi.run_once");
        let title = format!("(wsgi:{group})");
        let daemons = daemon_pids(s, &title);
        assert!(daemons.contains(&pid_of(&env)), "{path}: pid {} not in {title} {daemons:?}", pid_of(&env));
    }
    // processes=3 really starts three.
    let both = wait_for_daemons(s, "(wsgi:flags-both)", 3, Duration::from_secs(5));
    assert_eq!(both.len(), 3, "{both:?}");
    // Embedded mode on the same server: no process group, an Apache worker.
    let env = apps::environ(&s.get("/embedded"));
    assert_eq!(env["mod_wsgi.process_group"], py_str(""));
    assert!(worker_pids(s).contains(&pid_of(&env)), "embedded pid {} not a worker", pid_of(&env));
}

// ---------------------------------------------------------------------------
// 2. Requests relayed through a daemon.

#[test]
fn one_mib_post_body_is_echoed_exactly() {
    let s = server();
    let body: Vec<u8> = (0..1024 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let mark = s.log_mark();
    let resp = s.post("/input?read", "application/octet-stream", &body);
    s.assert_status(&resp, 200, mark);
    assert_eq!(resp.header("X-Pieces"), Some("1"));
    assert_eq!(resp.header("Content-Length"), Some("1048576"));
    assert!(resp.body == body, "echoed body differs ({} bytes back)", resp.body.len());
    assert!(daemon_pids(s, "(wsgi:requests)").contains(&resp.header("X-Pid").unwrap().parse().unwrap()));

    // read(1000) in a loop sees the same bytes, in 1000-byte pieces
    // (every read but the last is full, as with mod_wsgi 4.9.4: 1049).
    let resp = s.post("/input?chunks", "application/octet-stream", &body);
    s.assert_status(&resp, 200, mark);
    assert_eq!(resp.header("X-Pieces"), Some("1049"), "ceil(1048576 / 1000) reads");
    assert!(resp.body == body, "read(1000) body differs ({} bytes back)", resp.body.len());

    // A chunked request body needs WSGIChunkedRequest; without it: 411.
    let resp = s.request("POST", "/input?read", &[("Transfer-Encoding", "chunked")], &common::http::chunked(b"abc", 2));
    assert_eq!(resp.status, 411, "{resp:?}");
}

#[test]
fn readline_and_iteration_split_lines() {
    let s = server();
    let body = b"first line\nsecond\n\nno newline at end";
    let expected = r#"[b'first line\n', b'second\n', b'\n', b'no newline at end']"#;
    for mode in ["readline", "iter"] {
        let mark = s.log_mark();
        let resp = s.post(&format!("/input?{mode}&repr"), "text/plain", body);
        s.assert_status(&resp, 200, mark);
        assert_eq!(resp.text(), expected, "{mode}");
        assert_eq!(resp.header("X-Pieces"), Some("4"), "{mode}");
    }
    // An empty body: read() gives b'', readline() ends at once.
    let resp = s.post("/input?readline&repr", "text/plain", b"");
    assert_eq!(resp.text(), "[]");
}

#[test]
fn ten_mib_streamed_response_arrives_intact() {
    let s = server();
    let mark = s.log_mark();
    let mut conn = s.connect();
    let resp = conn.get("/stream");
    s.assert_status(&resp, 200, mark);
    assert_eq!(resp.header("Content-Length"), None, "a generator's response is streamed");
    assert_eq!(resp.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(resp.body.len(), STREAM_CHUNKS * 65536);
    assert!(resp.body == expected_stream(), "streamed body differs");
    // The connection stays usable after it.
    let hello = conn.get("/hello");
    assert_eq!(hello.body, b"Hello World!", "{hello:?}");
}

#[test]
fn wsgi_errors_lines_reach_the_error_log() {
    let s = server();
    let token = unique_token("daemon-errors");
    let mark = s.log_mark();
    let resp = s.get(&format!("/errors?{token}"));
    s.assert_status(&resp, 200, mark);
    assert_eq!(resp.text(), "logged");
    for line in ["first line", "second line", "third line"] {
        let needle = format!("{token} {line}");
        assert!(
            s.wait_for_log_since(mark, &needle, Duration::from_secs(5)),
            "{needle:?} not in the log:\n{}",
            s.log_since(mark)
        );
    }
    let log = s.log_since(mark);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&token)).collect();
    assert_eq!(lines.len(), 3, "one log line per written line:\n{log}");
}

#[test]
fn exception_gives_500_and_a_traceback() {
    let s = server();
    let token = unique_token("raise");
    let mark = s.log_mark();
    let resp = s.get(&format!("/raises?{token}"));
    s.assert_status(&resp, 500, mark);
    let path = s.root().join("scripts/raises.wsgi").display().to_string();
    for needle in [
        format!("Exception occurred processing WSGI script '{path}'."),
        "Traceback (most recent call last):".to_string(),
        format!("File \"{path}\", line 3, in application"),
        format!("RuntimeError: daemon boom {token}"),
    ] {
        assert!(
            s.wait_for_log_since(mark, &needle, Duration::from_secs(5)),
            "{needle:?} not in the log:\n{}",
            s.log_since(mark)
        );
    }
    // The daemon survived it.
    assert_eq!(s.get("/hello").body, b"Hello World!");
}

#[test]
fn setenv_values_and_request_variables_reach_the_daemon() {
    let s = server();
    let mark = s.log_mark();
    let resp = s.request("GET", "/info/some/path?a=1&b=2", &[("X-Custom-Header", "custom value")], b"");
    s.assert_status(&resp, 200, mark);
    let env = apps::environ(&resp);
    assert_eq!(env["TEST_VALUE"], py_str("daemon-setenv-value"));
    assert_eq!(env["mod_wsgi.process_group"], py_str("requests"));
    assert_eq!(env["SCRIPT_NAME"], py_str("/info"));
    assert_eq!(env["PATH_INFO"], py_str("/some/path"));
    assert_eq!(env["QUERY_STRING"], py_str("a=1&b=2"));
    assert_eq!(env["REQUEST_METHOD"], py_str("GET"));
    assert_eq!(env["HTTP_X_CUSTOM_HEADER"], py_str("custom value"));
    assert_eq!(env["REMOTE_ADDR"], py_str("127.0.0.1"));
    assert_eq!(env["SERVER_PORT"], py_str(&s.port().to_string()));
    assert_eq!(env["wsgi.url_scheme"], py_str("http"));
    assert_eq!(env["wsgi.version"], "(1, 0)");
    assert_eq!(env["wsgi.multiprocess"], "True");
    assert_eq!(env["wsgi.multithread"], "True");
    assert!(daemon_pids(s, "(wsgi:requests)").contains(&pid_of(&env)));
}

#[test]
fn head_request_gets_headers_without_body() {
    let s = server();
    let mark = s.log_mark();
    let mut conn = s.connect();
    let head = conn.request("HEAD", "/hello", &[], b"");
    s.assert_status(&head, 200, mark);
    assert_eq!(head.header("Content-Length"), Some("12"), "{head:?}");
    assert_eq!(head.header("Content-Type"), Some("text/plain"), "{head:?}");
    assert!(head.body.is_empty());
    // Nothing stray follows the HEAD response on the connection.
    let next = conn.get("/hello");
    assert_eq!(next.body, b"Hello World!", "{next:?}");
}

#[test]
fn limit_request_body_refuses_before_the_daemon_runs_the_app() {
    let s = server();
    let state = s.root().join("state");
    // Within the limit: the app runs.
    let small = unique_token("small");
    let mark = s.log_mark();
    let resp = s.post(&format!("/limited?{small}"), "text/plain", b"12345");
    s.assert_status(&resp, 200, mark);
    assert_eq!(resp.text(), "read 5 bytes");
    assert!(state.join(format!("called-{small}")).exists(), "the app did not run for a small body");

    let big = unique_token("big");
    let mark = s.log_mark();
    let resp = s.post(&format!("/limited?{big}"), "text/plain", &[b'x'; 100]);
    s.assert_status(&resp, 413, mark);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!state.join(format!("called-{big}")).exists(), "the app ran for a body over LimitRequestBody");
}

// ---------------------------------------------------------------------------
// 6. A daemon process dying mid-request. mod_wsgi 4.9.4 answers 500 and
// logs "Truncated or oversized response headers received from daemon
// process 'dies'"; here a 502 (the gateway's upstream failed) is wanted.

#[test]
fn daemon_dying_mid_request_gives_502_and_is_replaced() {
    let s = server();
    let before = wait_for_daemons(s, "(wsgi:dies)", 1, Duration::from_secs(5));
    assert_eq!(before.len(), 1, "{before:?}");
    let first = apps::environ(&s.get("/dies"));
    assert_eq!(pid_of(&first), before[0]);

    let mark = s.log_mark();
    let resp = s.get("/dies/die");
    s.assert_status(&resp, 502, mark);
    assert!(
        s.wait_for_log_since(mark, "died", Duration::from_secs(5)),
        "no log line saying the daemon died:\n{}",
        s.log_since(mark)
    );
    let log = s.log_since(mark);
    assert!(
        log.lines().any(|l| l.contains("'dies'") && l.contains("died") && l.contains(":error]")),
        "no error line naming the group 'dies' and its death:\n{log}"
    );

    // The next request succeeds, in a new process.
    let mark = s.log_mark();
    let resp = s.get("/dies");
    s.assert_status(&resp, 200, mark);
    let after = pid_of(&apps::environ(&resp));
    assert_ne!(after, before[0], "served by the dead process's pid");
    let now = wait_for_daemons(s, "(wsgi:dies)", 1, Duration::from_secs(5));
    assert_eq!(now, vec![after], "one (wsgi:dies) daemon, the one that answered");
}

// ---------------------------------------------------------------------------
// 7. Scripts loaded when a daemon process starts. mod_wsgi 4.9.4 logs
// "mod_wsgi (pid=N, process='pre', application=''): Loading Python script
// file '...'." for each at daemon start.

/// Records each import in `{state}/NAME.loads` (one pid a line), and
/// answers "<pid that imported the module> <pid serving the request>".
fn preloaded_app(state: &std::path::Path, name: &str) -> String {
    format!(
        r#"import os
LOADED_IN = os.getpid()
with open('{state}/{name}.loads', 'a') as f:
    f.write('%d\n' % LOADED_IN)

def application(environ, start_response):
    body = ('%s %s' % (LOADED_IN, os.getpid())).encode()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
"#,
        state = state.display()
    )
}

fn loads(apache: &Apache, name: &str) -> Vec<String> {
    std::fs::read_to_string(apache.root().join(format!("state/{name}.loads")))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn import_script_and_script_alias_with_both_groups_preload_at_daemon_start() {
    let builder = ApacheBuilder::new().writable_dir("state");
    let state = builder.root().join("state");
    let apache = builder
        .file("scripts/imported.wsgi", preloaded_app(&state, "imported"))
        .file("scripts/aliased.wsgi", preloaded_app(&state, "aliased"))
        .file("scripts/lazy.wsgi", preloaded_app(&state, "lazy"))
        .conf(
            "WSGIDaemonProcess pre processes=1 threads=2 display-name=%{GROUP}
WSGIImportScript {root}/scripts/imported.wsgi process-group=pre application-group=%{GLOBAL}
WSGIScriptAlias /aliased {root}/scripts/aliased.wsgi process-group=pre application-group=%{GLOBAL}
WSGIScriptAlias /imported {root}/scripts/imported.wsgi
<Location /imported>
    WSGIProcessGroup pre
    WSGIApplicationGroup %{GLOBAL}
</Location>
WSGIScriptAlias /lazy {root}/scripts/lazy.wsgi process-group=pre",
        )
        .start();
    let root = apache.root().display().to_string();
    let loading = |name: &str| format!("Loading Python script file '{root}/scripts/{name}.wsgi'.");

    // Before any request, the daemon ran both scripts (and only those)...
    let daemons = wait_for_daemons(&apache, "(wsgi:pre)", 1, Duration::from_secs(5));
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    let ran = wait_until(Duration::from_secs(10), || {
        loads(&apache, "imported").len() == 1 && loads(&apache, "aliased").len() == 1
    });
    assert!(
        ran,
        "scripts not run at daemon start: imported.wsgi by {:?}, aliased.wsgi by {:?}\nerror_log:\n{}",
        loads(&apache, "imported"),
        loads(&apache, "aliased"),
        apache.error_log()
    );
    for name in ["imported", "aliased"] {
        assert_eq!(loads(&apache, name), vec![daemons[0].to_string()], "{name}.wsgi run by the daemon");
    }
    assert_eq!(loads(&apache, "lazy"), Vec::<String>::new(), "lazy.wsgi (no application-group=) was preloaded");
    // Give the info lines saying so time to arrive; they are checked last.
    wait_until(Duration::from_secs(5), || {
        let log = apache.error_log();
        log.contains(&loading("imported")) && log.contains(&loading("aliased"))
    });
    let start_log = apache.error_log();

    // Requests use the preloaded modules: nothing is loaded again.
    let mark = apache.log_mark();
    for path in ["/aliased", "/imported", "/aliased"] {
        let resp = apache.get(path);
        apache.assert_status(&resp, 200, mark);
        let text = resp.text();
        let (loaded_in, serving) = text.split_once(' ').unwrap();
        assert_eq!(serving, daemons[0].to_string(), "{path}: served by the daemon");
        assert_eq!(loaded_in, serving, "{path}: module loaded in the serving process");
    }
    let since = apache.log_since(mark);
    assert!(!since.contains("Loading Python script file"), "a preloaded script was loaded again:\n{since}");
    for name in ["imported", "aliased"] {
        assert_eq!(loads(&apache, name).len(), 1, "{name}.wsgi imported again by a request");
    }

    // The other script loads on its first request, once.
    let mark = apache.log_mark();
    apache.assert_status(&apache.get("/lazy"), 200, mark);
    apache.assert_status(&apache.get("/lazy"), 200, mark);
    let since = apache.log_since(mark);
    assert_eq!(since.matches(&loading("lazy")).count(), 1, "lazy.wsgi loads once, on demand:\n{since}");
    assert_eq!(loads(&apache, "lazy"), vec![daemons[0].to_string()]);
    // The daemon said it loaded them, at info level, before any request.
    for name in ["imported", "aliased"] {
        let line = start_log.lines().find(|l| l.contains(&loading(name)));
        let line = line.unwrap_or_else(|| panic!("no {:?} line before the first request:\n{start_log}", loading(name)));
        assert!(line.contains("process='pre'"), "{line}");
        assert!(line.contains(&format!("pid={}", daemons[0])), "loaded by the daemon {daemons:?}: {line}");
    }
    assert!(!start_log.contains(&loading("lazy")), "lazy.wsgi was loaded at start:\n{start_log}");
    apache.assert_no_crash();
}
