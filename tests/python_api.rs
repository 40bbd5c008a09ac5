//! The `mod_wsgi` and `apache` Python modules, in embedded and daemon mode,
//! each compared with Debian's mod_wsgi 4.9.4 where it has the name: the
//! module's names, `request_data()` and `active_requests`, the metrics
//! functions, `wsgi.errors.buffer`, `LogHandler` and a script's
//! `reload_required()`. The events are in tests/python_events.rs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::api_app::{ONE_CHILD, PLACES, Place, builder, kv};
use common::*;

fn server(module: Module, place: Place) -> Apache {
    builder(module, place, "", "").start()
}

fn get(apache: &Apache, path: &str) -> BTreeMap<String, String> {
    let mark = apache.log_mark();
    let resp = apache.get(path);
    apache.assert_status(&resp, 200, mark);
    kv(&resp)
}

fn names(list: &str) -> BTreeSet<String> {
    list.split(',').filter(|s| !s.is_empty()).map(String::from).collect()
}

/// `a:int,b:str` as a map from key to type name.
fn kinds(list: &str) -> BTreeMap<String, String> {
    list.split(',').filter_map(|kv| kv.split_once(':')).map(|(k, t)| (k.to_string(), t.to_string())).collect()
}

/// Every key Debian has is ours too, with the same type; returns the keys
/// only ours has.
fn superset(ours: &str, debian: &str, what: &str) -> BTreeSet<String> {
    let (o, d) = (kinds(ours), kinds(debian));
    for (k, t) in &d {
        assert_eq!(o.get(k), Some(t), "{what}: Debian's {k}:{t} differs in ours\nours:   {ours}\ndebian: {debian}");
    }
    o.keys().filter(|k| !d.contains_key(*k)).cloned().collect()
}

#[test]
fn module_names_are_debians_and_mod_wsgi_6s() {
    for place in PLACES {
        let ours = server(Module::Ours, place);
        let debian = server(Module::Debian, place);
        let (o, d) = (get(&ours, "/api/names"), get(&debian, "/api/names"));
        let (on, dn) = (names(&o["mod_wsgi"]), names(&d["mod_wsgi"]));
        assert!(dn.is_subset(&on), "{place:?}: Debian's names missing from ours: {:?}", dn.difference(&on));
        let added: BTreeSet<&str> = on.difference(&dn).map(String::as_str).collect();
        assert_eq!(
            added,
            BTreeSet::from([
                "LogHandler",
                "RequestTimeout",
                "implementation",
                "signal_callbacks",
                "start_recording_metrics",
                "subscribe_signals"
            ]),
            "{place:?}"
        );
        for k in ["process_group", "application_group", "threads_per_process"] {
            let key = format!("mod_wsgi.{k}");
            let norm = |m: &BTreeMap<String, String>, port: u16| m[&key].replace(&port.to_string(), "{port}");
            assert_eq!(norm(&o, ours.port()), norm(&d, debian.port()), "{place:?} {key}");
        }
        assert_eq!(o["mod_wsgi.version"], "(4, 9, 4)");
        // mod_wsgi 6 returns the callback, so subscribe_events works as a
        // decorator; 4.9.4 returns None.
        assert_eq!(
            (o["subscribe_returns_callback"].as_str(), d["subscribe_returns_callback"].as_str()),
            ("True", "False")
        );
        assert_eq!(o["RequestTimeout_base"], "BaseException");
        // The apache module: same names; the same values but the version,
        // which Debian's build took from older headers than the server's.
        assert_eq!(o["apache"], d["apache"], "{place:?}");
        assert_eq!(o["apache"], "build_date,description,maximum_processes,mpm_name,threads_per_process,version");
        for k in ["mpm_name", "description", "build_date", "threads_per_process", "maximum_processes"] {
            let key = format!("apache.{k}");
            assert_eq!(o[&key], d[&key], "{place:?} {key}");
        }
        assert!(o["apache.version"].starts_with("(2, 4, "), "{o:?}");
        assert_eq!(o["apache.mpm_name"], "'event'");
    }
}

#[test]
fn request_data_is_the_requests_scratchpad() {
    for place in PLACES {
        let mut seen = Vec::new();
        for module in [Module::Ours, Module::Debian] {
            let apache = server(module, place);
            let mut r = get(&apache, "/api/data");
            r.remove("pid");
            // A subscriber's request_started wrote into the same dict the
            // application reads; the dict is active_requests[request_id].
            assert_eq!(r["seen"], "request_started", "{module:?} {place:?} {r:?}");
            assert_eq!(r["same_thread"], "True");
            assert_eq!(r["active"], "True");
            assert_eq!(r["other_thread"], "RuntimeError: no active request for thread");
            // The asking request is listed; ours has removed the previous
            // one before its response ended (Debian's may still list it).
            let outside = get(&apache, "/api/outside");
            assert_eq!(outside["mine"], "True", "{module:?} {place:?}");
            if module == Module::Ours {
                assert_eq!(outside["active_now"], "1", "{place:?}");
            }
            seen.push(r);
        }
        assert_eq!(seen[0], seen[1], "{place:?}: ours vs Debian");
    }
}

/// No subscriber: the scratchpad is still the request's, and listed.
const SCRATCHPAD: &str = include_str!("apps/python_api/scratchpad.py");

#[test]
fn request_data_without_subscribers() {
    for place in PLACES {
        let mut answers = Vec::new();
        for module in [Module::Ours, Module::Debian] {
            let b = ApacheBuilder::new().embedded_only().module(module).conf(ONE_CHILD).file("wsgi/s.wsgi", SCRATCHPAD);
            let apache = match place {
                Place::Embedded => b.conf("WSGIScriptAlias /s {root}/wsgi/s.wsgi"),
                Place::Daemon => b.conf(
                    "WSGIDaemonProcess s threads=2
WSGIScriptAlias /s {root}/wsgi/s.wsgi process-group=s",
                ),
            }
            .start();
            let first = apache.get("/s/a").text();
            let second = apache.get("/s/b").text();
            assert_eq!(first, "True True True 1", "{module:?} {place:?}");
            answers.push(second);
        }
        // Ours lists only the running request; Debian's may still list the previous one.
        assert_eq!(answers[0], "True True True 1", "{place:?}");
        assert!(answers[1].starts_with("True True True"), "{place:?}: {}", answers[1]);
    }
}

/// `process_metrics()`, `request_metrics()` (its first call starts the
/// count and returns {}), `server_metrics()` off and on.
#[test]
fn metrics_have_debians_keys() {
    for place in PLACES {
        let server_metrics_on = match place {
            Place::Embedded => ("", "WSGIServerMetrics On"),
            Place::Daemon => ("server-metrics=On", ""),
        };
        let ours = builder(Module::Ours, place, server_metrics_on.0, server_metrics_on.1).start();
        let debian = builder(Module::Debian, place, server_metrics_on.0, server_metrics_on.1).start();
        let mut results = Vec::new();
        for apache in [&ours, &debian] {
            assert_eq!(get(apache, "/api/metrics?request_metrics")["kinds"], "", "the first call returns {{}}");
            for _ in 0..3 {
                get(apache, "/api/pid");
            }
            // Debian's module counts a request after its response has been
            // sent: give the last one time to be counted on a busy machine.
            std::thread::sleep(std::time::Duration::from_millis(300));
            let process = get(apache, "/api/metrics?process_metrics");
            let request = get(apache, "/api/metrics?request_metrics");
            let server = get(apache, "/api/metrics?server_metrics");
            results.push((process, request, server));
        }
        let (op, or, os) = &results[0];
        let (dp, dr, ds) = &results[1];
        let added = superset(&op["kinds"], &dp["kinds"], "process_metrics");
        assert_eq!(added, BTreeSet::from(["cpu_time".to_string()]), "{place:?}");
        // Four requests finished before process_metrics (the first
        // request_metrics call included).
        assert_eq!(op["request_count"], "4", "{place:?} {op:?}");
        assert_eq!(op["request_count"], dp["request_count"]);
        assert_eq!(op["active_requests"], "1");
        let added = superset(&or["kinds"], &dr["kinds"], "request_metrics");
        for k in ["request_time", "status_2xx", "gil_wait_time", "output_bytes", "request_threads_completed"] {
            assert!(added.contains(k), "{place:?}: {k} missing from {added:?}");
        }
        // Since the first call: that call's own request, three, and the
        // process_metrics one.
        assert_eq!(or["request_count"], "5", "{place:?} {or:?}");
        assert_eq!(or["request_count"], dr["request_count"]);
        assert_eq!(or["status_2xx"], "5");
        assert_eq!(or["application_time_buckets.len"], "16");
        assert_eq!(or["application_time_buckets.sum"], "5");
        assert_eq!(or["application_time_buckets.sum"], dr["application_time_buckets.sum"]);
        assert_eq!(or["request_threads_maximum"], dr["request_threads_maximum"], "{place:?}");
        let threads = if place == Place::Embedded { "8" } else { "4" };
        assert_eq!(or["request_threads_maximum"], threads);
        // queue_time and daemon_time are daemon-mode phases.
        let queue = if place == Place::Embedded { "None" } else { dr["queue_time"].as_str() };
        assert_eq!(kinds(&or["kinds"])["queue_time"], kinds(&dr["kinds"])["queue_time"]);
        if place == Place::Embedded {
            assert_eq!(or["queue_time"], queue);
        }
        // The scoreboard, with the server's own pids in it.
        assert_eq!(os["kinds"], ds["kinds"], "{place:?} server_metrics");
        assert_eq!(os["process.kinds"], ds["process.kinds"]);
        assert_eq!(os["worker.kinds"], ds["worker.kinds"]);
        assert_eq!(os["server_limit"], "1");
        let children = ours.child_pids();
        assert!(
            names(os["pids"].trim_matches(['[', ']']).replace(' ', "").as_str())
                .iter()
                .any(|p| children.contains(&p.parse().unwrap_or(0))),
            "{os:?} {children:?}"
        );
    }
}

#[test]
fn server_metrics_is_none_unless_turned_on() {
    for place in PLACES {
        let off = match place {
            Place::Embedded => ("", "WSGIServerMetrics Off"),
            Place::Daemon => ("server-metrics=Off", ""),
        };
        for module in [Module::Ours, Module::Debian] {
            let apache = builder(module, place, off.0, off.1).start();
            assert_eq!(get(&apache, "/api/metrics?server_metrics")["value"], "None", "{module:?} {place:?}");
        }
    }
    // Not set at all: None, as documented. Debian's 4.9.4 takes its unset
    // value for On in embedded mode (see docs/differences.md).
    let ours = server(Module::Ours, Place::Embedded);
    assert_eq!(get(&ours, "/api/metrics?server_metrics")["value"], "None");
    let debian = server(Module::Debian, Place::Embedded);
    assert!(get(&debian, "/api/metrics?server_metrics").contains_key("kinds"));
}

/// mod_wsgi 6's start_recording_metrics(): the first request_metrics()
/// after it already covers the requests since.
#[test]
fn start_recording_metrics_starts_the_count() {
    for place in PLACES {
        let apache = server(Module::Ours, place);
        assert_eq!(get(&apache, "/api/start-recording")["value"], "None");
        get(&apache, "/api/pid");
        let r = get(&apache, "/api/metrics?request_metrics");
        // The start-recording request and /pid finished since.
        assert_eq!(r["request_count"], "2", "{place:?} {r:?}");
        assert_eq!(get(&apache, "/api/metrics?request_metrics")["request_count"], "1", "{place:?}");
    }
}

#[test]
fn errors_buffer_takes_bytes_like_objects() {
    for place in PLACES {
        let apache = server(Module::Ours, place);
        let mark = apache.log_mark();
        let r = get(&apache, "/api/errbuf");
        assert_eq!(r["bytes"], "ok 10", "{r:?}");
        assert_eq!(r["bytearray"], "ok 14");
        assert_eq!(r["memoryview"], "ok 15");
        assert_eq!(r["writelines"], "ok None");
        assert!(r["str"].starts_with("TypeError"), "{r:?}");
        let tag = match place {
            Place::Embedded => "[client 127.0.0.1:",
            Place::Daemon => "[remote 127.0.0.1:",
        };
        for line in ["buf-bytes", "buf-bytearray", "buf-memoryview", "buf-line-1", "buf-line-2"] {
            assert!(
                apache.wait_for_log_since(mark, line, Duration::from_secs(5)),
                "{place:?}: {line}\n{}",
                apache.log_since(mark)
            );
            let logged = apache.log_since(mark);
            let l = logged.lines().find(|l| l.ends_with(line)).unwrap_or_default();
            assert!(l.contains(tag) && l.contains("[wsgi:error]"), "{place:?}: {l}");
        }
    }
    // Debian's 4.9.4 takes bytes only.
    let debian = server(Module::Debian, Place::Embedded);
    let r = get(&debian, "/api/errbuf");
    assert!(r["bytes"].starts_with("ok"), "{r:?}");
    assert!(r["bytearray"].starts_with("TypeError"), "{r:?}");
}

/// mod_wsgi.LogHandler: each record at its own level, so `LogLevel
/// wsgi:warn` drops INFO and below; lines carry the request's client tag,
/// and a record from another thread none.
#[test]
fn log_handler_logs_at_the_records_level() {
    for place in PLACES {
        let apache = builder(Module::Ours, place, "", "").log_level("info wsgi:debug").start();
        let quiet = builder(Module::Ours, place, "", "").log_level("info wsgi:warn").start();
        let tag = match place {
            Place::Embedded => "[client 127.0.0.1:",
            Place::Daemon => "[remote 127.0.0.1:",
        };
        for (server, shown) in
            [(&apache, &["debug", "info", "warn", "error", "crit"][..]), (&quiet, &["warn", "error", "crit"][..])]
        {
            let mark = server.log_mark();
            let marker = unique_token("rec");
            get(server, &format!("/api/log?{marker}"));
            assert!(server.wait_for_log_since(mark, &format!("{marker} critical record"), Duration::from_secs(5)));
            let log = server.log_since(mark);
            for (word, level) in
                [("debug", "debug"), ("info", "info"), ("warning", "warn"), ("error", "error"), ("critical", "crit")]
            {
                let line = log.lines().find(|l| l.contains(&format!("{marker} {word} record")));
                match line {
                    Some(l) => {
                        assert!(shown.contains(&level), "{place:?}: {word} should be filtered: {l}");
                        assert!(l.contains(&format!("[wsgi:{level}]")) && l.contains(tag), "{place:?}: {l}");
                    }
                    None => assert!(!shown.contains(&level), "{place:?}: no {word} record:\n{log}"),
                }
            }
            // A second line of one record is a line of its own.
            assert!(log.lines().any(|l| l.ends_with("] second line") && l.contains("[wsgi:error]")), "{log}");
            let mark = server.log_mark();
            let marker = unique_token("thread");
            get(server, &format!("/api/log-thread?{marker}"));
            assert!(server.wait_for_log_since(mark, &format!("{marker} from a thread"), Duration::from_secs(5)));
            let log = server.log_since(mark);
            let l = log.lines().find(|l| l.contains(&format!("{marker} from a thread"))).unwrap_or_default();
            assert!(l.contains("[wsgi:warn]") && !l.contains("127.0.0.1:"), "{place:?}: {l}");
        }
    }
}

/// A script whose `reload_required(resource)` says when to reload it.
const RELOADING: &str = include_str!("apps/python_api/reloading.py");

/// Asked before each request with the script's path: True reloads the
/// script (embedded mode) or replaces the process (daemon mode); an
/// exception in it is logged with its traceback and the script kept.
#[test]
fn reload_required_decides_whether_the_script_is_reloaded() {
    for place in PLACES {
        for module in [Module::Ours, Module::Debian] {
            let b = ApacheBuilder::new().embedded_only().module(module).conf(ONE_CHILD).writable_dir("out");
            let b = b.file("wsgi/r.wsgi", RELOADING);
            let b = match place {
                Place::Embedded => b.conf("WSGIScriptAlias /r {root}/wsgi/r.wsgi"),
                Place::Daemon => b.conf("WSGIDaemonProcess rg processes=1 threads=2\nWSGIScriptAlias /r {root}/wsgi/r.wsgi process-group=rg"),
            };
            let apache = b.start();
            let script = apache.root().join("wsgi/r.wsgi").display().to_string();
            let out = apache.root().join("out");
            let first = apache.get("/r").text();
            assert_eq!(apache.get("/r").text(), first, "{module:?} {place:?}: kept");
            let asked = std::fs::read_to_string(out.join("asked")).unwrap_or_default();
            assert!(asked.lines().count() >= 1, "{module:?} {place:?}: never asked");
            assert!(asked.lines().all(|l| l == script), "{module:?} {place:?}: {asked}");
            std::fs::write(out.join("reload"), "").unwrap();
            let second = apache.get("/r").text();
            assert_ne!(second, first, "{module:?} {place:?}: not reloaded");
            let (pid1, pid2) = (first.split(' ').next(), second.split(' ').next());
            match place {
                Place::Embedded => assert_eq!(pid1, pid2, "{module:?}: the same process reloads the script"),
                Place::Daemon => assert_ne!(pid1, pid2, "{module:?}: a new process"),
            }
            std::fs::write(out.join("raise"), "").unwrap();
            let mark = apache.log_mark();
            let third = apache.get("/r");
            assert_eq!(third.status, 200, "{module:?} {place:?}");
            assert_eq!(third.text(), second, "{module:?} {place:?}: kept after an exception");
            assert!(apache.wait_for_log_since(
                mark,
                "ValueError: reload_required failed on purpose",
                Duration::from_secs(5)
            ));
            let log = apache.log_since(mark);
            assert!(log.contains(&format!("Exception occurred processing WSGI script '{script}'.")), "{log}");
            assert!(log.contains("in reload_required"), "{log}");
        }
    }
}
