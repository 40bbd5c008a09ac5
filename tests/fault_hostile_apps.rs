//! Fault suite (issue 19): hostile applications.
//!
//! - Applications that break the WSGI contract, in embedded and daemon
//!   mode: a str in the body, `None` in the iterable or as the result, CR or
//!   LF in a header value, a header name or the status line, a header value
//!   that is not latin-1. Each gets a 500 and an error-log line naming the
//!   exception, nothing the application meant to send reaches the client (no
//!   injected header, no body), and no process dies. `None` from a
//!   generator after a first item cannot be a 500 any more: the 200 is cut
//!   short visibly (no last chunk, connection closed) and logged.
//! - Applications that end their daemon process mid-request: `os._exit(1)`
//!   and a segfault (`ctypes.string_at(0)`). Each gets a 502 (or 500) and an
//!   error-log line, the death is logged with its exit code or signal, and
//!   a replacement serves within 1 s.
//!
//! tests/embedded_errors.rs checks the exact log lines of the str body,
//! CR/LF and non-latin-1 cases against mod_wsgi's (and scripts/test.sh
//! reruns it in daemon mode); tests/daemon_basics.rs a daemon dying
//! mid-request once. Here every case runs in both modes on one server,
//! checking the raw response bytes and the processes.

mod common;
mod faults;

use std::time::{Duration, Instant};

use common::daemon::{daemon_pids, wait_for_daemons, worker_pids};
use common::*;
use faults::{HOSTILE_APP, STABLE_EVENT_MPM, exchange, responses};

/// The group hostile applications run in (they must not kill it), and the
/// one whose process they kill (one process, so the next request must
/// wait for the replacement).
const GROUP: &str = "hostile";
const DYING: &str = "dying";

/// Apache's own children, once both group managers have taken their
/// titles (until then a manager just forked looks like one of them).
fn apache_children(apache: &Apache) -> Vec<i32> {
    let titled =
        |g: &str| apache.child_pids().iter().any(|&p| common::daemon::title(p) == format!("(wsgi-manager:{g})"));
    assert!(wait_until(Duration::from_secs(5), || titled(GROUP) && titled(DYING)), "{}", apache.error_log());
    worker_pids(apache)
}

fn server() -> Apache {
    ApacheBuilder::new()
        .embedded_only()
        .file("app/hostile.wsgi", HOSTILE_APP)
        .conf(STABLE_EVENT_MPM)
        .conf(&format!(
            "WSGIDaemonProcess {GROUP} processes=2 threads=4 display-name=%{{GROUP}}\n\
             WSGIDaemonProcess {DYING} processes=1 threads=4 display-name=%{{GROUP}}\n\
             WSGIScriptAlias /embedded {{root}}/app/hostile.wsgi\n\
             WSGIScriptAlias /daemon {{root}}/app/hostile.wsgi process-group={GROUP}\n\
             WSGIScriptAlias /dying {{root}}/app/hostile.wsgi process-group={DYING}"
        ))
        .start()
}

/// (PATH_INFO, the exception line the error log must show).
const CASES: &[(&str, &str)] = &[
    ("/str_body", "TypeError: sequence of byte string values expected, value of type str found"),
    ("/none_item", "TypeError: sequence of byte string values expected, value of type NoneType found"),
    ("/none_body", "TypeError: 'NoneType' object is not iterable"),
    ("/crlf_value", "ValueError: carriage return/line feed character present in header value"),
    ("/lf_value", "ValueError: carriage return/line feed character present in header value"),
    ("/crlf_name", "ValueError: "),
    ("/crlf_status", "ValueError: "),
    ("/not_latin1", "ValueError: unicode object contains non latin-1 characters"),
];

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    common::http::contains(haystack, needle.as_bytes())
}

#[test]
fn applications_breaking_the_wsgi_contract_get_500_in_both_modes() {
    let apache = server();
    let title = format!("(wsgi:{GROUP})");
    let daemons = wait_for_daemons(&apache, &title, 2, Duration::from_secs(10));
    assert_eq!(daemons.len(), 2, "{daemons:?}\n{}", apache.error_log());
    for prefix in ["/embedded", "/daemon"] {
        for _ in 0..4 {
            let mark = apache.log_mark();
            apache.assert_status(&apache.get(&format!("{prefix}/ok")), 200, mark);
        }
    }
    let workers = apache_children(&apache);
    let script = apache.root().join("app/hostile.wsgi").display().to_string();

    let mut wrong = Vec::new();
    for prefix in ["/embedded", "/daemon"] {
        for (case, exception) in CASES {
            let path = format!("{prefix}{case}");
            let mark = apache.log_mark();
            let (bytes, _) = exchange(apache.port(), get(&path), false, Duration::from_secs(10));
            let got = responses(&bytes);
            let status = got.first().map(|r| r.status);
            // The log lines may follow the answer.
            let logged = apache.wait_for_log_since(mark, exception, Duration::from_secs(2));
            let log = apache.log_since(mark);
            let head = log.lines().find(|l| l.contains("Exception occurred processing WSGI script"));
            eprintln!(
                "hostile application {path:<22} -> {:<32} log: {}",
                String::from_utf8_lossy(bytes.split(|&b| b == b'\r').next().unwrap_or_default()),
                log.lines().find(|l| l.contains(exception)).map_or("(none)", |l| l.rsplit("] ").next().unwrap_or(l))
            );
            let injected = contains(&bytes, "injected") || contains(&bytes, "body after");
            let error_line = head.is_some_and(|l| l.contains(":error]") && l.contains(&script));
            if status != Some(500) || injected || !logged || !error_line || got.len() != 1 {
                wrong.push(format!(
                    "{path}: status {status:?}, injected {injected}, exception logged {logged}, error line {error_line}\n\
                     {}\nerror_log:\n{log}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
        }
    }
    // A generator's bad item comes after the status went out.
    for prefix in ["/embedded", "/daemon"] {
        let path = format!("{prefix}/none_in_generator");
        let mark = apache.log_mark();
        let (bytes, _) = exchange(apache.port(), get(&path), false, Duration::from_secs(10));
        let text = String::from_utf8_lossy(&bytes);
        let logged = apache.wait_for_log_since(mark, CASES[1].1, Duration::from_secs(2));
        let closed_short = text.starts_with("HTTP/1.1 200 OK\r\n")
            && text.contains("Transfer-Encoding: chunked")
            && text.ends_with("first \r\n")
            && responses(&bytes).is_empty();
        eprintln!("hostile application {path:<22} -> {:?} (cut short and closed: {closed_short})", text.lines().next());
        if !closed_short || !logged || contains(&bytes, "last") {
            wrong.push(format!("{path}: logged {logged}\n{text}\nerror_log:\n{}", apache.log_since(mark)));
        }
    }
    let workers_after = worker_pids(&apache);
    let daemons_after = daemon_pids(&apache, &title);
    eprintln!(
        "hostile applications: Apache children {workers:?} -> {workers_after:?}, daemons {daemons:?} -> {daemons_after:?}"
    );
    assert!(wrong.is_empty(), "{} cases answered wrongly:\n{}", wrong.len(), wrong.join("\n\n"));
    assert_eq!(workers_after, workers, "Apache children changed:\n{}", apache.error_log());
    assert_eq!(daemons_after, daemons, "daemon processes changed:\n{}", apache.error_log());
    for prefix in ["/embedded", "/daemon"] {
        let mark = apache.log_mark();
        apache.assert_status(&apache.get(&format!("{prefix}/ok")), 200, mark);
    }
    let log = apache.error_log();
    assert!(!log.contains("has died"), "a daemon died:\n{log}");
    apache.assert_no_crash();
}

/// `/dying/ok`: (status, pid of the answering process).
fn ok_pid(apache: &Apache) -> Result<i32, String> {
    let resp = apache.try_request("GET", "/dying/ok", &[], b"").map_err(|e| e.to_string())?;
    if resp.status != 200 {
        return Err(format!("{} {:?}", resp.status, resp.text()));
    }
    resp.text().trim().strip_prefix("ok ").and_then(|p| p.parse().ok()).ok_or_else(|| format!("{resp:?}"))
}

#[test]
fn a_daemon_process_ended_by_its_application_is_replaced_within_one_second() {
    let apache = server();
    let title = format!("(wsgi:{DYING})");
    let workers = apache_children(&apache);
    // (case, what the death line says, what the manager's log line shows)
    for (case, how) in [("/exit", "exit code 1"), ("/segfault", "signal 11")] {
        let before = wait_for_daemons(&apache, &title, 1, Duration::from_secs(10));
        assert_eq!(before.len(), 1, "{before:?}\n{}", apache.error_log());
        let victim = before[0];
        // It has served (a process that dies at start-up may be restarted
        // after a delay; this one ran fine until the request).
        assert_eq!(ok_pid(&apache), Ok(victim));
        let mark = apache.log_mark();
        let resp = apache.get(&format!("/dying{case}"));
        let died_at = Instant::now();
        // A new process, then an answer from it.
        let mut appeared = None;
        wait_until(Duration::from_secs(3), || {
            appeared = daemon_pids(&apache, &title).into_iter().find(|&p| p != victim).map(|p| (died_at.elapsed(), p));
            appeared.is_some()
        });
        let mut served = None;
        let mut errors = Vec::new();
        while died_at.elapsed() < Duration::from_secs(3) && served.is_none() {
            match ok_pid(&apache) {
                Ok(pid) if pid != victim => served = Some((died_at.elapsed(), pid)),
                Ok(_) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => errors.push(format!("at {} ms: {e}", died_at.elapsed().as_millis())),
            }
        }
        apache.wait_for_log_since(mark, how, Duration::from_secs(2));
        let log = apache.log_since(mark);
        let death = faults::death_line(&log, victim, 11, how);
        let proxy_line = log.lines().find(|l| l.contains(":error]") && l.contains(&format!("'{DYING}'")));
        eprintln!(
            "application {case} in daemon mode: {} for the client; new process (ms, pid) {:?}, serving {:?}; \
             errors meanwhile {errors:?}\n  death line: {death:?}\n  error line: {proxy_line:?}",
            resp.status,
            appeared.map(|(d, pid)| (d.as_millis(), pid)),
            served.map(|(d, pid)| (d.as_millis(), pid)),
        );
        assert!(matches!(resp.status, 500 | 502), "{case}: {resp:?}\n{log}");
        assert!(!process::alive(victim), "{case}: the process {victim} is alive");
        let (started, _) = appeared.unwrap_or_else(|| panic!("{case}: no new process within 3 s\n{log}"));
        assert!(started < Duration::from_secs(1), "{case}: the new process started after {started:?}\n{log}");
        let (took, replacement) = served.unwrap_or_else(|| panic!("{case}: no replacement served within 3 s\n{log}"));
        assert!(took < Duration::from_secs(1), "{case}: the replacement {replacement} served after {took:?}\n{log}");
        assert!(errors.is_empty(), "{case}: requests failed while the process was replaced: {errors:?}\n{log}");
        assert!(proxy_line.is_some(), "{case}: no error line about the request to '{DYING}':\n{log}");
        assert!(death.is_some_and(|l| l.contains(how)), "{case}: no log line saying {victim} died ({how}):\n{log}");
    }
    // Apache's own children were not touched.
    assert_eq!(worker_pids(&apache), workers, "Apache children changed:\n{}", apache.error_log());
    apache.assert_no_crash();
}
