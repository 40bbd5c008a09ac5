//! mod_wsgi's events, recorded by a subscriber in embedded and daemon
//! mode and compared with what Debian's mod_wsgi 4.9.4 sends: which events,
//! in which order, with which keyword arguments of which types; a
//! subscriber replacing the application; `process_stopping` and its
//! reasons; and (mod_wsgi 6) `subscribe_signals` and `RequestTimeout`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use common::api_app::{PLACES, Place, builder, kv};
use common::*;

fn server(module: Module, place: Place, daemon_options: &str) -> Apache {
    builder(module, place, &format!("display-name=%{{GROUP}} {daemon_options}"), "").start()
}

/// The events recorded for requests to `path`: (name, key -> type).
fn events(apache: &Apache, path: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let r = kv(&apache.get(&format!("/api/events?{path}")));
    let n: usize = r.get("count").and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("{r:?}"));
    (0..n)
        .map(|i| {
            let (name, keys) = r[&i.to_string()].split_once(' ').unwrap_or((&r[&i.to_string()], ""));
            let keys = keys.split(',').filter_map(|kv| kv.split_once(':')).map(|(k, t)| (k.into(), t.into())).collect();
            // Every event of one request carries the same request_id.
            assert_eq!(r[&format!("{i}.request_id")], "True", "{r:?}");
            (name.to_string(), keys)
        })
        .collect()
}

/// Keys we send beyond Debian's 4.9.4, by event (mod_wsgi 6's additions).
fn added(event: &str) -> BTreeSet<&'static str> {
    match event {
        "request_finished" => BTreeSet::from([
            "application_start",
            "cpu_time",
            "daemon_start",
            "gil_wait_count",
            "gil_wait_time",
            "queue_start",
            "request_start",
            "status",
            "thread_id",
        ]),
        _ => BTreeSet::new(),
    }
}

#[test]
fn events_and_their_arguments_are_debians() {
    for place in PLACES {
        let ours = server(Module::Ours, place, "");
        let debian = server(Module::Debian, place, "");
        for apache in [&ours, &debian] {
            assert_eq!(apache.get("/api/pid").status, 200);
            assert_eq!(apache.get("/api/raise").status, 500);
        }
        for (path, expected) in [
            ("/pid", &["request_started", "response_started", "request_finished"][..]),
            ("/raise", &["request_started", "request_exception", "request_finished"][..]),
        ] {
            let (o, d) = (events(&ours, path), events(&debian, path));
            let names = |e: &[(String, BTreeMap<String, String>)]| e.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
            assert_eq!(names(&o), expected, "{place:?} {path}: ours");
            assert_eq!(names(&o), names(&d), "{place:?} {path}: ours vs Debian");
            for ((name, ok), (_, dk)) in o.iter().zip(&d) {
                for (k, t) in dk {
                    assert_eq!(ok.get(k), Some(t), "{place:?} {path} {name}: Debian's {k}:{t}\nours: {ok:?}");
                }
                // Debian's request_finished sometimes lacks its CPU times
                // (when it could not read the thread's); ours has them.
                let sometimes = ["cpu_user_time", "cpu_system_time"];
                let extra: BTreeSet<&str> = ok
                    .keys()
                    .filter(|k| !dk.contains_key(*k) && !sometimes.contains(&k.as_str()))
                    .map(String::as_str)
                    .collect();
                assert_eq!(extra, added(name), "{place:?} {path} {name}");
                if name == "request_finished" {
                    assert!(sometimes.iter().all(|k| ok.get(*k).is_some_and(|t| t == "float")), "{ok:?}");
                }
            }
        }
        // request_finished's status (mod_wsgi 6): 200, or 0 when the
        // application never called start_response.
        let r = kv(&ours.get("/api/events?/pid"));
        assert_eq!(r["2.status"], "200", "{r:?}");
        // The body, "pid=N\n", counted as Debian counts it.
        let d = kv(&debian.get("/api/events?/pid"));
        let body = |m: &BTreeMap<String, String>| m["2.output_length"].parse::<usize>().unwrap_or(0);
        // (The pids may differ in length.)
        assert!(body(&r) >= 6 && body(&r).abs_diff(body(&d)) <= 2, "{r:?}\n{d:?}");
        let r = kv(&ours.get("/api/events?/raise"));
        assert_eq!(r["2.status"], "0", "{r:?}");
    }
}

/// A subscriber returning {"application_object": ...} replaces the
/// application; one that raises is logged and the request goes on.
#[test]
fn subscribers_can_replace_the_application_and_fail_safely() {
    for place in PLACES {
        for module in [Module::Ours, Module::Debian] {
            let apache = server(module, place, "");
            let resp = apache.get("/api/replace");
            assert_eq!((resp.status, resp.text().as_str()), (200, "replaced\n"), "{module:?} {place:?}");
            let mark = apache.log_mark();
            let resp = apache.get("/api/callback-fails");
            assert_eq!(resp.status, 200, "{module:?} {place:?}");
            assert!(
                apache.wait_for_log_since(mark, "ValueError: subscriber failed on purpose", Duration::from_secs(5)),
                "{module:?} {place:?}\n{}",
                apache.log_since(mark)
            );
            let log = apache.log_since(mark);
            assert!(log.contains("): Exception occurred within event callback."), "{module:?} {place:?}\n{log}");
        }
    }
}

/// What each process's `subscribe_shutdown` callback wrote: pid -> line.
fn stopping_files(root: &Path) -> BTreeMap<i32, String> {
    std::fs::read_dir(root.join("out"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let pid = e.file_name().to_str()?.strip_prefix("stopping-")?.parse().ok()?;
                    Some((pid, std::fs::read_to_string(e.path()).ok()?.trim().to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pid(apache: &Apache) -> i32 {
    kv(&apache.get("/api/pid"))["pid"].parse().unwrap_or(0)
}

#[test]
fn process_stopping_reaches_shutdown_subscribers() {
    for place in PLACES {
        let mut reasons = Vec::new();
        for module in [Module::Ours, Module::Debian] {
            let apache = server(module, place, "");
            let served_by = pid(&apache);
            assert!(common::daemon::stop(&apache), "{module:?} {place:?}: did not stop");
            let files = stopping_files(apache.root());
            let line = files.get(&served_by).unwrap_or_else(|| panic!("{module:?} {place:?}: {files:?}"));
            assert!(line.starts_with("process_stopping "), "{line}");
            assert!(line.ends_with(" shutdown_reason:str"), "{line}");
            reasons.push(line.clone());
        }
        // Debian's 4.9.4 gives no reason; ours names mod_wsgi 6's in daemons.
        let expected = match place {
            Place::Embedded => "process_stopping  shutdown_reason:str",
            Place::Daemon => "process_stopping shutdown_signal shutdown_reason:str",
        };
        assert_eq!(reasons[0], expected, "{place:?}");
        assert_eq!(reasons[1], "process_stopping  shutdown_reason:str", "{place:?}: Debian");
    }
}

/// The reason a daemon process stops when it retires on its own.
#[test]
fn process_stopping_says_why_a_daemon_retires() {
    let apache = server(Module::Ours, Place::Daemon, "maximum-requests=2");
    let first = pid(&apache);
    pid(&apache);
    assert!(wait_until(Duration::from_secs(10), || stopping_files(apache.root()).contains_key(&first)));
    assert_eq!(stopping_files(apache.root())[&first], "process_stopping maximum_requests shutdown_reason:str");
    let second = pid(&apache);
    assert_ne!(second, first);
    // A touched script replaces the process.
    let script = apache.root().join("wsgi/api.wsgi");
    let later = std::time::SystemTime::now() + Duration::from_secs(2);
    std::fs::File::options().write(true).open(&script).and_then(|f| f.set_modified(later)).unwrap();
    let third = pid(&apache);
    assert_ne!(third, second);
    assert!(wait_until(Duration::from_secs(10), || stopping_files(apache.root()).contains_key(&second)));
    assert_eq!(stopping_files(apache.root())[&second], "process_stopping script_reload shutdown_reason:str");
}

const SIGNALS_APP: &str = include_str!("apps/python_events/signals.py");

const PLAIN_APP: &str = "import os\ndef application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'%d\\n' % os.getpid()]\n";

/// mod_wsgi 6's subscribe_signals: SIGHUP and SIGUSR2 sent to a daemon
/// process go to its subscribers, and the process keeps serving; without
/// a subscriber SIGUSR2 still restarts the process gracefully.
#[test]
fn subscribe_signals_gets_sighup_and_sigusr2_in_daemons() {
    let apache = ApacheBuilder::new()
        .module(Module::Ours)
        .embedded_only()
        .writable_dir("out")
        .file("wsgi/signals.wsgi", SIGNALS_APP)
        .file("wsgi/plain.wsgi", PLAIN_APP)
        .conf(
            "WSGIDaemonProcess sig processes=1 threads=2\n\
             WSGIScriptAlias /sig {root}/wsgi/signals.wsgi process-group=sig application-group=%{GLOBAL}\n\
             WSGIDaemonProcess plain processes=1 threads=2\n\
             WSGIScriptAlias /plain {root}/wsgi/plain.wsgi process-group=plain application-group=%{GLOBAL}",
        )
        .start();
    let pid_of = |path: &str| apache.get(path).text().trim().parse::<i32>().unwrap_or(0);
    let sig = pid_of("/sig");
    let file = apache.root().join(format!("out/signal-{sig}"));
    for (signal, name) in [(libc::SIGUSR2, "SIGUSR2 12"), (libc::SIGHUP, "SIGHUP 1")] {
        process::kill(sig, signal);
        assert!(
            wait_until(Duration::from_secs(5), || std::fs::read_to_string(&file).is_ok_and(|t| t.contains(name))),
            "{name}: {:?}\n{}",
            std::fs::read_to_string(&file),
            apache.error_log()
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pid_of("/sig"), sig, "the process kept serving");
    let plain = pid_of("/plain");
    process::kill(plain, libc::SIGUSR2);
    assert!(wait_until(Duration::from_secs(10), || !process::alive(plain)), "SIGUSR2 without subscribers");
    assert_ne!(pid_of("/plain"), plain);
}

const TIMEOUT_APP: &str = include_str!("apps/python_events/timeout.py");

/// mod_wsgi 6's interrupt-timeout=: a request past request-timeout gets
/// mod_wsgi.RequestTimeout raised in its thread; one that unwinds is a
/// 504 and the process keeps serving; one that does not gets its process
/// recycled once interrupt-timeout is over.
#[test]
fn request_timeout_is_raised_in_the_request_with_interrupt_timeout() {
    let apache = ApacheBuilder::new()
        .module(Module::Ours)
        .embedded_only()
        .file("wsgi/t.wsgi", TIMEOUT_APP)
        .conf(
            "WSGIDaemonProcess t processes=1 threads=2 request-timeout=1 interrupt-timeout=2 graceful-timeout=1 shutdown-timeout=1\n\
             WSGIScriptAlias /t {root}/wsgi/t.wsgi process-group=t application-group=%{GLOBAL}",
        )
        .start();
    let pid_of = || apache.get("/t/pid").text().trim().parse::<i32>().unwrap_or(0);
    let before = pid_of();
    let mark = apache.log_mark();
    let started = std::time::Instant::now();
    let resp = apache.get("/t/spin");
    assert_eq!(resp.status, 504, "{}", apache.log_since(mark));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(pid_of(), before, "the process keeps serving\n{}", apache.log_since(mark));
    let log = apache.log_since(mark);
    assert!(log.contains("ran past request-timeout; raising mod_wsgi.RequestTimeout in its thread"), "{log}");
    assert!(log.contains("was interrupted (mod_wsgi.RequestTimeout); the process keeps serving"), "{log}");
    assert!(log.contains("in application"), "the traceback shows where it was:\n{log}");

    // Swallowing the exception: the process is recycled.
    let resp = apache.get("/t/stubborn");
    assert!(resp.status >= 500, "{resp:?}");
    assert!(wait_until(Duration::from_secs(10), || !process::alive(before)), "{}", apache.log_since(mark));
    assert_ne!(pid_of(), before);
    assert!(
        apache.log_since(mark).contains("request-timeout exceeded by a running request"),
        "{}",
        apache.log_since(mark)
    );
}
