//! Daemon lifecycle (issue 6), part 4: no lost requests under load.
//!
//! 8 clients on keep-alive connections for 15 s while the script is
//! rewritten three times (and, with processes=2, maximum-requests=50
//! recycles the processes all along): zero non-2xx answers, zero
//! connection errors, and no request sent after a rewrite runs older code.
//! Once with processes=2 (touches + recycling), once with processes=1
//! (touches only). The counts and reload pauses are printed.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use lifecycle::{deploy_atomic, stop_and_check, wait_workers, workers};

const CLIENTS: usize = 8;
const RUN: Duration = Duration::from_secs(15);
/// When the script is rewritten, from the start of the run.
const DEPLOYS: [Duration; 3] = [Duration::from_secs(3), Duration::from_secs(7), Duration::from_secs(11)];

/// The two load tests take every CPU; run them one after the other.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Default, Debug)]
struct Outcome {
    requests: u64,
    non_2xx: Vec<String>,
    connection_errors: Vec<String>,
    /// Answers from older code than the version on disk when sent.
    stale: Vec<String>,
    per_version: BTreeMap<u32, u64>,
    pids: BTreeSet<i32>,
    /// The slowest requests: (latency, when sent).
    slowest: Vec<(Duration, Duration)>,
    /// Requests answered per second of the run.
    per_second: Vec<u64>,
    /// For each rewrite: rewrite to first answer from its code.
    pauses: Vec<Option<Duration>>,
}

fn version_number(v: &str) -> u32 {
    v.trim_start_matches('v').parse().unwrap_or(0)
}

/// Runs the load against `apache`, rewriting the script at `DEPLOYS`.
fn load(apache: &Apache) -> Outcome {
    // Version on disk; set after each rewrite is complete.
    let deployed = AtomicUsize::new(1);
    let deployed_at: Mutex<Vec<Instant>> = Mutex::new(Vec::new());
    let first_seen: Mutex<BTreeMap<u32, Instant>> = Mutex::new(BTreeMap::new());
    let total = Mutex::new(Outcome::default());
    let start = Instant::now();
    std::thread::scope(|s| {
        for client in 0..CLIENTS {
            let (deployed, first_seen, total) = (&deployed, &first_seen, &total);
            s.spawn(move || {
                let mut out = Outcome::default();
                let mut conn: Option<Conn> = None;
                while start.elapsed() < RUN {
                    let c = match conn.as_mut() {
                        Some(c) => c,
                        None => match Conn::open(apache.port()) {
                            Ok(c) => conn.insert(c),
                            Err(e) => {
                                out.connection_errors.push(format!("client {client}: connect: {e}"));
                                std::thread::sleep(Duration::from_millis(20));
                                continue;
                            }
                        },
                    };
                    let on_disk = deployed.load(Ordering::SeqCst) as u32;
                    let sent = start.elapsed();
                    match c.try_request("GET", lifecycle::URL, &[], b"") {
                        Ok(resp) => {
                            out.requests += 1;
                            let took = start.elapsed() - sent;
                            out.slowest.push((took, sent));
                            if out.slowest.len() > 64 {
                                out.slowest.sort_by(|a, b| b.cmp(a));
                                out.slowest.truncate(8);
                            }
                            let second = (sent.as_secs() as usize).min(RUN.as_secs() as usize);
                            if out.per_second.len() <= second {
                                out.per_second.resize(second + 1, 0);
                            }
                            out.per_second[second] += 1;
                            if !(200..300).contains(&resp.status) {
                                out.non_2xx.push(format!("at {sent:?}: {} {}", resp.status, resp.text().trim()));
                            }
                            match lifecycle::parse(&resp) {
                                Some((v, pid)) => {
                                    let n = version_number(&v);
                                    *out.per_version.entry(n).or_default() += 1;
                                    out.pids.insert(pid);
                                    if n < on_disk {
                                        out.stale.push(format!("at {sent:?}: v{on_disk} on disk, {v} from pid {pid}"));
                                    }
                                    first_seen.lock().unwrap().entry(n).or_insert_with(Instant::now);
                                }
                                None if (200..300).contains(&resp.status) => {
                                    out.non_2xx.push(format!("at {sent:?}: unexpected body {resp:?}"))
                                }
                                None => {}
                            }
                            if resp.header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
                                conn = None;
                            }
                        }
                        Err(e) => {
                            out.connection_errors.push(format!("client {client} at {sent:?}: {e}"));
                            conn = None;
                        }
                    }
                }
                let mut t = total.lock().unwrap();
                t.requests += out.requests;
                t.non_2xx.extend(out.non_2xx);
                t.connection_errors.extend(out.connection_errors);
                t.stale.extend(out.stale);
                for (v, n) in out.per_version {
                    *t.per_version.entry(v).or_default() += n;
                }
                t.pids.extend(out.pids);
                t.slowest.extend(out.slowest);
                if t.per_second.len() < out.per_second.len() {
                    t.per_second.resize(out.per_second.len(), 0);
                }
                for (i, n) in out.per_second.iter().enumerate() {
                    t.per_second[i] += n;
                }
            });
        }
        for (i, at) in DEPLOYS.iter().enumerate() {
            std::thread::sleep(at.saturating_sub(start.elapsed()));
            let version = i + 2;
            deploy_atomic(apache, &format!("v{version}"));
            deployed_at.lock().unwrap().push(Instant::now());
            deployed.store(version, Ordering::SeqCst);
        }
    });
    let mut out = total.into_inner().unwrap();
    out.slowest.sort_by(|a, b| b.cmp(a));
    out.slowest.truncate(8);
    let seen = first_seen.into_inner().unwrap();
    out.pauses = deployed_at
        .into_inner()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, at)| seen.get(&(i as u32 + 2)).map(|t| t.saturating_duration_since(*at)))
        .collect();
    out
}

fn check(apache: Apache, group: &str, processes: usize, name: &str, out: Outcome, expect_max_requests: bool) {
    let log = apache.error_log();
    let touched = log.matches("retiring (script file changed)").count();
    let recycled = log.matches("retiring (maximum requests reached)").count();
    let died = log.matches("has died").count();
    eprintln!(
        "{name}: {} requests in {RUN:?} by {CLIENTS} clients ({:.0}/s); per version {:?}; {} pids; \
         {touched} retirements for a changed script, {recycled} for maximum-requests, {died} deaths; \
         {} non-2xx, {} connection errors, {} stale",
        out.requests,
        out.requests as f64 / RUN.as_secs_f64(),
        out.per_version,
        out.pids.len(),
        out.non_2xx.len(),
        out.connection_errors.len(),
        out.stale.len(),
    );
    eprintln!("{name}: requests per second {:?}", out.per_second);
    eprintln!(
        "{name}: slowest requests (latency ms @ sent at ms): {:?}",
        out.slowest.iter().map(|(l, at)| (l.as_millis(), at.as_millis())).collect::<Vec<_>>()
    );
    for (i, p) in out.pauses.iter().enumerate() {
        eprintln!("{name}: reload pause under load, v{}: {:?} ms", i + 2, p.map(|d| d.as_millis()));
    }
    let sample = |v: &Vec<String>| v.iter().take(20).cloned().collect::<Vec<_>>().join("\n");
    assert!(out.non_2xx.is_empty(), "{name}: {} non-2xx answers:\n{}\n{log}", out.non_2xx.len(), sample(&out.non_2xx));
    assert!(
        out.connection_errors.is_empty(),
        "{name}: {} connection errors:\n{}\n{log}",
        out.connection_errors.len(),
        sample(&out.connection_errors)
    );
    assert!(out.stale.is_empty(), "{name}: {} stale answers:\n{}", out.stale.len(), sample(&out.stale));
    assert!(out.requests >= 500, "{name}: only {} requests in {RUN:?}", out.requests);
    assert_eq!(
        out.per_version.keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3, 4],
        "{name}: every version should have answered: {:?}",
        out.per_version
    );
    assert!(out.pauses.iter().all(|p| p.is_some()), "{name}: a rewrite was never seen: {:?}", out.pauses);
    if expect_max_requests {
        // Processes recycle every few dozen milliseconds, so a rewrite is
        // often picked up by a fresh process instead of a "changed" retirement.
        assert!(recycled >= 10, "{name}: only {recycled} recycles for maximum-requests:\n{log}");
    } else {
        // The one process had loaded the old code at each rewrite.
        assert!(touched >= 3, "{name}: {touched} retirements for a changed script, want >= 3:\n{log}");
    }
    // No request waited much longer than a process's start-up.
    let slowest = out.slowest.first().map(|s| s.0).unwrap_or_default();
    assert!(slowest < Duration::from_secs(3), "{name}: a request took {slowest:?}: {:?}", out.slowest);
    assert_eq!(died, 0, "{name}: processes died:\n{log}");
    let errors: Vec<&str> = log.lines().filter(|l| l.contains(":error]")).collect();
    assert!(errors.is_empty(), "{name}: errors in the log:\n{}", errors.join("\n"));
    apache.assert_no_crash();
    let now = wait_workers(&apache, group, processes, Duration::from_secs(10));
    assert_eq!(now.len(), processes, "{name}: the group should settle at {processes} workers: {now:?}");
    let mut seen: Vec<i32> = out.pids.into_iter().collect();
    seen.extend(workers(&apache, group));
    stop_and_check(apache, &seen);
}

fn server(group: &str, options: &str) -> Apache {
    lifecycle::builder(group, options).conf("MaxKeepAliveRequests 0\nKeepAliveTimeout 30").start()
}

#[test]
fn two_processes_touched_three_times_and_recycled_every_50_requests() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let group = "load2";
    let apache = server(group, "processes=2 threads=4 maximum-requests=50");
    assert_eq!(wait_workers(&apache, group, 2, Duration::from_secs(10)).len(), 2, "{}", apache.error_log());
    let out = load(&apache);
    check(apache, group, 2, "processes=2", out, true);
}

#[test]
fn one_process_touched_three_times() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let group = "load1";
    let apache = server(group, "processes=1 threads=4");
    assert_eq!(wait_workers(&apache, group, 1, Duration::from_secs(10)).len(), 1, "{}", apache.error_log());
    let out = load(&apache);
    check(apache, group, 1, "processes=1", out, false);
}
