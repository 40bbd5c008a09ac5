//! Fault suite (issue 19): a 100k-request soak of the hello application in
//! daemon mode (one process, 8 threads), from 8 clients on keep-alive
//! connections: every request answered, by the same process, and its
//! resident memory grows less than 1 MiB over the second 50k requests (the
//! first 50k warm it up: caches, arenas, thread states). The Apache
//! children's memory is printed beside it.

mod common;
mod faults;

use std::time::{Duration, Instant};

use common::daemon::{wait_for_daemons, worker_pids};
use common::*;
use faults::{Load, STABLE_EVENT_MPM, rss_kib};

const CLIENTS: usize = 8;
/// Each half of the run: 8 x 6 250 = 50 000 requests.
const PER_CLIENT: usize = 6_250;
/// Bounds each half in time too.
const HALF_LIMIT: Duration = Duration::from_secs(40);
const MAX_GROWTH_KIB: u64 = 1024;

fn rss_all(pids: &[i32]) -> Vec<u64> {
    pids.iter().map(|&p| rss_kib(p).unwrap_or(0)).collect()
}

/// Runs one half: the samples' failures, the count, the time taken, and
/// the daemon's RSS every second.
fn half(apache: &Apache, daemon: i32) -> (Vec<String>, usize, Duration, Vec<u64>) {
    let start = Instant::now();
    let load = Load::start(apache.port(), "/hello", CLIENTS, HALF_LIMIT, PER_CLIENT);
    let mut rss = Vec::new();
    // Samples the daemon's memory while the clients run (they stop by
    // themselves after PER_CLIENT requests each, or HALF_LIMIT).
    let samples = std::thread::scope(|s| {
        let handle = s.spawn(|| load.join());
        while !handle.is_finished() {
            rss.push(rss_kib(daemon).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(1000));
        }
        handle.join().unwrap()
    });
    let failures: Vec<String> = samples
        .iter()
        .filter(|s| !matches!(&s.outcome, Ok((200, body)) if body == "Hello World!"))
        .take(20)
        .map(|s| s.describe())
        .collect();
    (failures, samples.len(), start.elapsed(), rss)
}

#[test]
fn daemon_memory_is_flat_over_100k_requests() {
    let group = unique_token("fsk");
    let title = format!("(wsgi:{group})");
    let apache = ApacheBuilder::new()
        .embedded_only()
        .file("app/hello.wsgi", apps::HELLO_WORLD)
        .conf(STABLE_EVENT_MPM)
        .conf("MaxKeepAliveRequests 0\nKeepAliveTimeout 30")
        .conf(&format!(
            "WSGIDaemonProcess {group} processes=1 threads=8 display-name=%{{GROUP}}\n\
             WSGIScriptAlias /hello {{root}}/app/hello.wsgi process-group={group} application-group=%{{GLOBAL}}"
        ))
        .start();
    let daemons = wait_for_daemons(&apache, &title, 1, Duration::from_secs(10));
    assert_eq!(daemons.len(), 1, "{daemons:?}\n{}", apache.error_log());
    let daemon = daemons[0];
    let workers = worker_pids(&apache);
    let rss_start = rss_kib(daemon).unwrap_or(0);

    let (failed_1, n_1, took_1, curve_1) = half(&apache, daemon);
    let rss_half = rss_kib(daemon).unwrap_or(0);
    let workers_half = rss_all(&workers);
    let (failed_2, n_2, took_2, curve_2) = half(&apache, daemon);
    let rss_end = rss_kib(daemon).unwrap_or(0);
    let workers_end = rss_all(&workers);

    let growth = rss_end as i64 - rss_half as i64;
    eprintln!(
        "soak: {n_1} + {n_2} requests by {CLIENTS} keep-alive clients in {:.1} s + {:.1} s ({:.0} and {:.0} req/s); \
         {} + {} failed",
        took_1.as_secs_f64(),
        took_2.as_secs_f64(),
        n_1 as f64 / took_1.as_secs_f64(),
        n_2 as f64 / took_2.as_secs_f64(),
        failed_1.len(),
        failed_2.len()
    );
    eprintln!(
        "soak: daemon {daemon} RSS {rss_start} KiB at start, {rss_half} KiB after 50k, {rss_end} KiB after 100k: \
         {growth:+} KiB over the second 50k (limit {MAX_GROWTH_KIB})"
    );
    eprintln!("soak: daemon RSS every second (KiB), first half {curve_1:?}, second half {curve_2:?}");
    eprintln!("soak: Apache children {workers:?} RSS (KiB) after 50k {workers_half:?}, after 100k {workers_end:?}");

    assert!(
        failed_1.is_empty() && failed_2.is_empty(),
        "failed requests:\n{}\n{}",
        failed_1.join("\n"),
        failed_2.join("\n")
    );
    assert_eq!((n_1, n_2), (CLIENTS * PER_CLIENT, CLIENTS * PER_CLIENT), "the load stopped at its time limit");
    // The same process served throughout (no recycling, no death).
    assert_eq!(wait_for_daemons(&apache, &title, 1, Duration::from_secs(1)), vec![daemon], "{}", apache.error_log());
    assert!(rss_half > 0 && rss_end > 0, "no RSS for {daemon}");
    assert!(
        growth < MAX_GROWTH_KIB as i64,
        "the daemon's RSS grew {growth} KiB over the second 50k requests ({rss_half} -> {rss_end} KiB): {curve_2:?}"
    );
    assert_eq!(worker_pids(&apache), workers, "Apache children changed");
    apache.assert_no_crash();
}
