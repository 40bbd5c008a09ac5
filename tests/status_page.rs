//! The `wsgi-status` page: embedded mode and each daemon group with their
//! processes, busy threads, waiting requests, latencies and restarts, in
//! HTML, JSON and Prometheus text (checked by `promtool check metrics`),
//! answered from shared memory while a daemon is busy, hung or failing to
//! start; and the HTML page as headless Chromium shows it.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const APP: &str = include_str!("apps/status_page/app.py");

const STATUS: &str = "<Location /wsgi-status>\n    SetHandler wsgi-status\n</Location>";

/// Ours: Debian's mod_wsgi has no status page.
fn builder(daemon_options: &str) -> ApacheBuilder {
    ApacheBuilder::new()
        .module(Module::Ours)
        .embedded_only()
        .writable_dir("out")
        .file("wsgi/app.wsgi", APP)
        .conf(
            "StartServers 1\nServerLimit 1\nThreadsPerChild 8\nMaxRequestWorkers 8\nMinSpareThreads 1\nMaxSpareThreads 8",
        )
        .conf("WSGIScriptAlias /e {root}/wsgi/app.wsgi")
        .conf(&format!(
            "WSGIDaemonProcess g display-name=%{{GROUP}} {daemon_options}\n\
             WSGIScriptAlias /d {{root}}/wsgi/app.wsgi process-group=g application-group=%{{GLOBAL}}"
        ))
        .conf(STATUS)
}

fn pid_at(apache: &Apache, path: &str) -> i32 {
    let resp = apache.get(path);
    assert_eq!(resp.status, 200, "{resp:?}");
    resp.text().trim().parse().unwrap_or(0)
}

// ------------------------------------------------------------- reading the JSON

type Json = serde_json::Value;

/// Walks the status page's JSON, naming what is missing when it fails.
trait Walk {
    fn at(&self, key: &str) -> &Json;
    fn list(&self) -> &[Json];
    fn num(&self) -> f64;
    fn str(&self) -> &str;
}

impl Walk for Json {
    fn at(&self, key: &str) -> &Json {
        self.get(key).unwrap_or_else(|| panic!("no {key} in {self:?}"))
    }

    fn list(&self) -> &[Json] {
        self.as_array().unwrap_or_else(|| panic!("not a list: {self:?}"))
    }

    fn num(&self) -> f64 {
        self.as_f64().unwrap_or_else(|| panic!("not a number: {self:?}"))
    }

    fn str(&self) -> &str {
        self.as_str().unwrap_or_else(|| panic!("not a string: {self:?}"))
    }
}

fn status_json(apache: &Apache) -> Json {
    let resp = apache.get("/wsgi-status?format=json");
    assert_eq!(resp.status, 200, "{resp:?}\n{}", apache.error_log());
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    serde_json::from_str(&resp.text()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", resp.text()))
}

fn group<'a>(status: &'a Json, name: &str) -> &'a Json {
    status
        .at("groups")
        .list()
        .iter()
        .find(|g| g.at("name").str() == name)
        .unwrap_or_else(|| panic!("no group {name:?}"))
}

fn process(group: &Json, pid: i32) -> &Json {
    group
        .at("process_list")
        .list()
        .iter()
        .find(|p| p.at("pid").num() as i32 == pid)
        .unwrap_or_else(|| panic!("pid {pid} not listed: {group:?}"))
}

/// `promtool check metrics` on `text`: (passed, what it said).
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: scripts/setup.sh installs it (Debian package prometheus)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

#[test]
fn lists_embedded_and_daemon_processes_in_three_formats() {
    let apache = builder("processes=2 threads=3").start();
    let embedded = pid_at(&apache, "/e");
    let mut daemons = std::collections::BTreeSet::new();
    for _ in 0..12 {
        daemons.insert(pid_at(&apache, "/d"));
    }
    assert_eq!(apache.get("/d/fail").status, 503);
    let listed = common::daemon::wait_for_daemons(&apache, "(wsgi:g)", 2, Duration::from_secs(10));
    let status = status_json(&apache);
    assert!(status.at("server").str().contains("mod_wsgi/4.9.4"), "{status:?}");
    let e = group(&status, "");
    assert_eq!(e.at("mode").str(), "embedded");
    let child = process(e, embedded);
    assert_eq!(child.at("requests").num(), 1.0, "{child:?}");
    assert_eq!(child.at("threads").num(), 8.0);
    assert_eq!(child.at("state").str(), "ready");
    let g = group(&status, "g");
    assert_eq!(g.at("mode").str(), "daemon");
    assert_eq!((g.at("processes").num(), g.at("threads").num()), (2.0, 3.0));
    let pids: Vec<i32> = g.at("process_list").list().iter().map(|p| p.at("pid").num() as i32).collect();
    let mut sorted = pids.clone();
    sorted.sort();
    assert_eq!(sorted, listed, "the group's processes");
    let served: f64 = pids.iter().map(|&p| process(g, p).at("requests").num()).sum();
    assert_eq!(served, 13.0, "{g:?}");
    for &p in &pids {
        let p = process(g, p);
        assert_eq!(p.at("state").str(), "ready");
        assert!(p.at("rss_bytes").num() > 1e6, "{p:?}");
        assert!(p.at("cpu_seconds").num() >= 0.0);
        assert_eq!(p.at("threads").num(), 3.0);
    }
    let statuses: f64 = pids.iter().map(|&p| process(g, p).at("statuses").list()[4].num()).sum();
    assert_eq!(statuses, 1.0, "one 5xx");
    assert!(g.at("requests_per_second").num() > 0.0);
    assert!(g.at("latency_seconds").at("p50").num() > 0.0);

    // HTML, refreshing itself.
    let resp = apache.get("/wsgi-status");
    assert_eq!(resp.header("Content-Type"), Some("text/html; charset=utf-8"));
    let html = resp.text();
    assert!(html.contains("<meta http-equiv=\"refresh\""), "{html}");
    assert!(html.contains("Daemon process group &#39;g&#39;"), "{html}");
    assert!(html.contains("Embedded mode"), "{html}");
    for p in &pids {
        assert!(html.contains(&format!("<td>{p}</td>")), "{p} missing");
    }

    // Prometheus text that promtool accepts, with per-process samples.
    let resp = apache.get("/wsgi-status?format=prometheus");
    assert!(resp.header("Content-Type").is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    let text = resp.text();
    let (ok, said) = promtool(&text);
    assert!(ok, "promtool check metrics: {said}\n{text}");
    for &p in &pids {
        let n = process(g, p).at("requests").num() as u64;
        let sample = format!("mod_wsgi_process_requests_total{{mode=\"daemon\",group=\"g\",pid=\"{p}\"}} {n}");
        assert!(text.contains(&sample), "{sample}\n{text}");
    }
    assert!(text.contains("mod_wsgi_request_duration_seconds_count{mode=\"daemon\",group=\"g\"} 13"), "{text}");
    assert!(text.contains("mod_wsgi_responses_total{mode=\"daemon\",group=\"g\",class=\"5xx\"} 1"), "{text}");
    // Prometheus sample, for the notes.
    let sample_path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wsgi-status.prom");
    let _ = std::fs::write(&sample_path, &text);
    println!("Prometheus sample: {}", sample_path.display());

    assert_eq!(apache.get("/wsgi-status?format=yaml").status, 400);
    assert_eq!(apache.post("/wsgi-status", "text/plain", b"x").status, 405);
}

#[test]
fn apaches_access_rules_protect_it() {
    let apache = ApacheBuilder::new()
        .module(Module::Ours)
        .embedded_only()
        .conf("<Location /wsgi-status>\n    SetHandler wsgi-status\n    Require ip 192.0.2.1\n</Location>")
        .conf("<Location /open-status>\n    SetHandler wsgi-status\n</Location>")
        .start();
    assert_eq!(apache.get("/wsgi-status").status, 403);
    assert_eq!(apache.get("/open-status?format=json").status, 200);
}

/// Runs `path` on `apache` on a thread of its own.
fn in_background(apache: &Apache, path: &str) -> std::thread::JoinHandle<u16> {
    let port = apache.port();
    let path = path.to_string();
    std::thread::spawn(move || {
        let mut conn = Conn::open(port).unwrap();
        conn.try_request("GET", &path, &[], b"").map(|r| r.status).unwrap_or(0)
    })
}

#[test]
fn shows_busy_threads_and_waiting_requests() {
    let apache = builder("processes=1 threads=1").start();
    let pid = pid_at(&apache, "/d");
    let slow = in_background(&apache, "/d/slow?3");
    assert!(
        wait_until(Duration::from_secs(5), || process(group(&status_json(&apache), "g"), pid).at("threads_busy").num()
            == 1.0),
        "never busy"
    );
    let waiting = in_background(&apache, "/d/pid");
    let mut seen = None;
    wait_until(Duration::from_secs(5), || {
        let s = status_json(&apache);
        let g = group(&s, "g");
        let found = g.at("waiting").num() == 1.0 && g.at("longest_wait_seconds") != &Json::Null;
        seen = Some(g.clone());
        found
    });
    let g = seen.unwrap();
    assert_eq!(g.at("waiting").num(), 1.0, "{g:?}");
    assert!(g.at("longest_wait_seconds").num() > 0.0, "{g:?}");
    let p = process(&g, pid);
    assert_eq!(p.at("threads_busy").num(), 1.0);
    assert!(p.at("oldest_request_seconds").num() > 0.0, "{p:?}");
    let text = apache.get("/wsgi-status?format=prometheus").text();
    assert!(text.contains("mod_wsgi_requests_waiting{mode=\"daemon\",group=\"g\"} 1"), "{text}");
    assert!(
        text.contains(&format!(
            "mod_wsgi_process_threads{{mode=\"daemon\",group=\"g\",pid=\"{pid}\",state=\"busy\"}} 1"
        ))
    );
    assert_eq!(slow.join().unwrap(), 200);
    assert_eq!(waiting.join().unwrap(), 200);
    let g = group(&status_json(&apache), "g").clone();
    assert_eq!(g.at("waiting").num(), 0.0, "{g:?}");
    assert_eq!(process(&g, pid).at("threads_busy").num(), 0.0);
}

#[test]
fn lists_restarts_with_their_reasons() {
    let apache = builder("processes=1 threads=2 maximum-requests=3").start();
    let first = pid_at(&apache, "/d");
    pid_at(&apache, "/d");
    pid_at(&apache, "/d");
    let second = pid_at(&apache, "/d");
    assert_ne!(first, second, "maximum-requests");
    let script = apache.root().join("wsgi/app.wsgi");
    let later = std::time::SystemTime::now() + Duration::from_secs(2);
    std::fs::File::options().write(true).open(&script).and_then(|f| f.set_modified(later)).unwrap();
    let third = pid_at(&apache, "/d");
    assert_ne!(third, second, "touched script");
    // Killed once it is ready (before, it would be a failed start).
    assert!(wait_until(Duration::from_secs(5), || {
        process(group(&status_json(&apache), "g"), third).at("state").str() == "ready"
    }));
    process::kill(third, libc::SIGKILL);
    let mut status = Json::Null;
    assert!(
        wait_until(Duration::from_secs(10), || {
            status = status_json(&apache);
            group(&status, "g").at("restarts").list().len() >= 3
        }),
        "{status:?}"
    );
    let g = group(&status, "g");
    let restarts: Vec<(i32, String, String)> = g
        .at("restarts")
        .list()
        .iter()
        .map(|r| (r.at("pid").num() as i32, r.at("reason").str().to_string(), r.at("detail").str().to_string()))
        .collect();
    assert_eq!(restarts[0], (third, "crashed".into(), "killed by signal 9 (SIGKILL)".into()), "{restarts:?}");
    assert_eq!(restarts[1], (second, "script_reload".into(), String::new()));
    assert_eq!(restarts[2], (first, "maximum_requests".into(), String::new()));
    for reason in ["crashed", "script_reload", "maximum_requests"] {
        assert_eq!(g.at("restart_totals").at(reason).num(), 1.0, "{reason}");
    }
    let text = apache.get("/wsgi-status?format=prometheus").text();
    assert!(
        text.contains("mod_wsgi_process_restarts_total{mode=\"daemon\",group=\"g\",reason=\"crashed\"} 1"),
        "{text}"
    );
    let html = apache.get("/wsgi-status").text();
    assert!(
        html.contains("touched script") && html.contains("maximum-requests") && html.contains("killed by signal 9"),
        "{html}"
    );
    let (ok, said) = promtool(&text);
    assert!(ok, "{said}");
}

/// A limit of `WSGIDaemonProcess` that recycles a process is named too.
#[test]
fn lists_a_limit_as_the_reason_of_a_restart() {
    let apache = builder("processes=1 threads=2 inactivity-timeout=1").start();
    let pid = pid_at(&apache, "/d");
    let mut status = Json::Null;
    assert!(
        wait_until(Duration::from_secs(10), || {
            status = status_json(&apache);
            !group(&status, "g").at("restarts").list().is_empty()
        }),
        "{status:?}"
    );
    let r = &group(&status, "g").at("restarts").list()[0];
    assert_eq!((r.at("pid").num() as i32, r.at("reason").str()), (pid, "inactivity_timeout"), "{r:?}");
    assert!(apache.get("/wsgi-status").text().contains("inactivity-timeout"));
}

/// The page is read from shared memory: a stopped (hung) daemon and a
/// group whose processes cannot start do not hold it up.
#[test]
fn answers_while_a_daemon_is_hung_or_cannot_start() {
    let apache = builder("processes=1 threads=2")
        .file("wsgi/other.wsgi", APP)
        .conf(
            "WSGIDaemonProcess broken python-home=/nonexistent/python\n\
             WSGIScriptAlias /broken {root}/wsgi/other.wsgi process-group=broken application-group=%{GLOBAL}",
        )
        .start();
    let pid = pid_at(&apache, "/d");
    process::kill(pid, libc::SIGSTOP);
    let started = Instant::now();
    let status = status_json(&apache);
    let took = started.elapsed();
    process::kill(pid, libc::SIGCONT);
    assert!(took < Duration::from_secs(2), "{took:?}");
    let p = process(group(&status, "g"), pid);
    assert_eq!(p.at("requests").num(), 1.0);
    assert!(p.at("rss_bytes").num() > 0.0);
    let mut status = status;
    wait_until(Duration::from_secs(10), || {
        status = status_json(&apache);
        group(&status, "broken").at("unavailable") != &Json::Null
    });
    let broken = group(&status, "broken");
    let why = broken.at("unavailable").str();
    assert!(why.contains("failures in a row") && why.contains("/nonexistent/python"), "{why}");
    assert!(broken.at("restart_totals").at("startup_failed").num() >= 1.0, "{broken:?}");
    let html = apache.get("/wsgi-status").text();
    assert!(html.contains("No process can take requests"), "{html}");
    assert_eq!(pid_at(&apache, "/d"), pid, "the stopped daemon went on");
}

fn chromium(args: &[&str]) -> std::process::Output {
    Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"])
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("chromium not found: scripts/setup.sh installs it (Debian package chromium)")
}

/// The HTML page in a real browser while the daemon is busy: what it
/// renders (the DOM after load) and a screenshot for people.
#[test]
fn headless_chromium_shows_a_busy_daemon() {
    let apache = builder("processes=1 threads=2").start();
    let pid = pid_at(&apache, "/d");
    for _ in 0..20 {
        pid_at(&apache, "/d");
        pid_at(&apache, "/e");
    }
    // Busy until released: a browser on a loaded machine may take seconds.
    let slow = in_background(&apache, "/d/hold");
    assert!(wait_until(Duration::from_secs(5), || process(group(&status_json(&apache), "g"), pid)
        .at("threads_busy")
        .num()
        == 1.0));
    let url = format!("{}/wsgi-status", apache.base_url());
    let out = chromium(&["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dom.contains("Daemon process group 'g'"), "{dom}");
    assert!(dom.contains(&format!("<td>{pid}</td>")), "{dom}");
    assert!(dom.contains("1/2</td>"), "one of two threads busy:\n{dom}");
    assert!(dom.contains("<b>1/2</b><span>threads busy</span>"), "{dom}");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wsgi-status.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(&[&format!("--screenshot={}", shot.display()), "--window-size=1280,900", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).unwrap_or_default();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "{} bytes", png.len());
    println!("screenshot: {}", shot.display());
    std::fs::write(apache.root().join("out/release"), "").unwrap();
    assert_eq!(slow.join().unwrap(), 200);
}
