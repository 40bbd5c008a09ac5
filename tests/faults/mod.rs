//! Helpers of the fault suite (issue 19): a bounded load loop on keep-alive
//! connections that records every request, raw exchanges for malformed
//! requests, and process memory from /proc.
//!
//! Not part of `common` (its `mod.rs` is shared by every test file): the
//! `fault_*` files declare it next to `mod common;` with `mod faults;`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::{Conn, Response};

/// The fault suite's applications (tests/apps/).
pub const PID_APP: &str = include_str!("../apps/pid.wsgi");
pub const ECHO_APP: &str = include_str!("../apps/echo.wsgi");
pub const HOSTILE_APP: &str = include_str!("../apps/hostile.wsgi");

/// An event MPM whose processes stay put: two children of 25 threads,
/// spare-thread limits wide enough that Apache never starts or stops one by
/// itself (so a changed pid means a process died), room for replacements.
pub const STABLE_EVENT_MPM: &str = "StartServers 2\nServerLimit 4\nThreadsPerChild 25\nThreadLimit 25\n\
     MaxRequestWorkers 100\nMinSpareThreads 25\nMaxSpareThreads 100\nMaxConnectionsPerChild 0";

/// What happened to one request of a load loop.
#[derive(Debug, Clone)]
pub struct Sample {
    pub client: usize,
    /// When it was sent, from the start of the load.
    pub sent: Duration,
    /// When its answer (or error) came, from the start of the load.
    pub done: Duration,
    /// The status and body, or the I/O error.
    pub outcome: Result<(u16, String), String>,
}

impl Sample {
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Ok((200, _)))
    }

    /// The first line of a 200 answer parsed as a pid (PID_APP's body).
    pub fn pid(&self) -> Option<i32> {
        match &self.outcome {
            Ok((200, body)) => body.lines().next()?.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        let what = match &self.outcome {
            Ok((status, body)) => format!("{status} {:?}", body.chars().take(120).collect::<String>()),
            Err(e) => format!("error: {e}"),
        };
        format!(
            "client {} sent at {} ms, done at {} ms: {what}",
            self.client,
            self.sent.as_millis(),
            self.done.as_millis()
        )
    }
}

/// `clients` threads, each sending GET `path` on its own keep-alive
/// connection (a new one after an error or a `Connection: close`) until
/// stopped, `limit` elapsed, or it has sent `max_per_client` requests.
pub struct Load {
    start: Instant,
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<Vec<Sample>>>,
}

impl Load {
    pub fn start(port: u16, path: &str, clients: usize, limit: Duration, max_per_client: usize) -> Load {
        Self::start_in(None, port, path, clients, limit, max_per_client)
    }

    /// Like `start`, but a request that fails on a reused keep-alive
    /// connection is sent again once on a new one, as browsers and HTTP
    /// libraries do: a server may close an idle connection just as a
    /// request is sent (Apache does on a graceful restart). Only what fails
    /// again is recorded as failed.
    pub fn start_retrying(port: u16, path: &str, clients: usize, limit: Duration) -> Load {
        Self::spawn(None, port, path, clients, limit, usize::MAX, true)
    }

    /// Like `start`, with the clients inside network namespace `netns`
    /// (connecting to 127.0.0.1:`port` there).
    pub fn start_in(
        netns: Option<&str>,
        port: u16,
        path: &str,
        clients: usize,
        limit: Duration,
        max_per_client: usize,
    ) -> Load {
        Self::spawn(netns, port, path, clients, limit, max_per_client, false)
    }

    fn spawn(
        netns: Option<&str>,
        port: u16,
        path: &str,
        clients: usize,
        limit: Duration,
        max_per_client: usize,
        retry_stale: bool,
    ) -> Load {
        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let threads = (0..clients)
            .map(|client| {
                let (stop, in_flight, path) = (stop.clone(), in_flight.clone(), path.to_string());
                let netns = netns.map(str::to_string);
                std::thread::spawn(move || {
                    if let Some(ns) = netns {
                        crate::common::netns::enter(&ns);
                    }
                    let mut samples = Vec::new();
                    let mut conn: Option<Conn> = None;
                    while !stop.load(Ordering::Relaxed) && start.elapsed() < limit && samples.len() < max_per_client {
                        let sent = start.elapsed();
                        in_flight.fetch_add(1, Ordering::SeqCst);
                        let reused = conn.is_some();
                        let send = |c: Option<Conn>| match c.map_or_else(|| Conn::open(port), Ok) {
                            Ok(mut c) => c.try_request("GET", &path, &[], b"").map(|resp| (c, resp)),
                            Err(e) => Err(e),
                        };
                        let mut result = send(conn.take());
                        if result.is_err() && reused && retry_stale {
                            result = send(None);
                        }
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        let done = start.elapsed();
                        let outcome = match result {
                            Ok((c, resp)) => {
                                if !resp.header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
                                    conn = Some(c);
                                }
                                Ok((resp.status, resp.text()))
                            }
                            Err(e) => Err(e.to_string()),
                        };
                        let failed = outcome.is_err();
                        samples.push(Sample { client, sent, done, outcome });
                        if failed {
                            // Not a tight loop while the server is down.
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                    samples
                })
            })
            .collect();
        Load { start, stop, in_flight, threads }
    }

    /// Time since the load started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Requests sent and not yet answered, now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Stops the clients (after their current request) and returns every
    /// sample, in the order they were sent.
    pub fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all: Vec<Sample> = self.threads.into_iter().flat_map(|t| t.join().expect("load client")).collect();
        all.sort_by_key(|s| s.sent);
        all
    }

    /// Waits for the clients to reach their limits, then `finish`.
    pub fn join(self) -> Vec<Sample> {
        let threads = self.threads;
        let mut all: Vec<Sample> = threads.into_iter().flat_map(|t| t.join().expect("load client")).collect();
        all.sort_by_key(|s| s.sent);
        all
    }
}

/// Counts of `samples` by pid (200 answers only).
pub fn by_pid(samples: &[Sample]) -> BTreeMap<i32, usize> {
    let mut out = BTreeMap::new();
    for s in samples {
        if let Some(pid) = s.pid() {
            *out.entry(pid).or_default() += 1;
        }
    }
    out
}

/// Successful requests per second of the run.
pub fn per_second(samples: &[Sample]) -> Vec<usize> {
    let mut out = Vec::new();
    for s in samples.iter().filter(|s| s.ok()) {
        let i = s.done.as_secs() as usize;
        if out.len() <= i {
            out.resize(i + 1, 0);
        }
        out[i] += 1;
    }
    out
}

/// Sends `request` on a new connection from one thread while reading from
/// another, so a server that answers and closes before the whole request is
/// written still has its answer read. With `half_close` the write side is
/// shut down after the request (the client sends nothing more). Reads until
/// the server closes or `timeout`; returns what was read and the write
/// error, if any.
pub fn exchange(port: u16, request: Vec<u8>, half_close: bool, timeout: Duration) -> (Vec<u8>, Option<String>) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to Apache");
    stream.set_nodelay(true).unwrap();
    stream.set_write_timeout(Some(timeout)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let written = std::thread::spawn(move || {
        let result = writer.write_all(&request).and_then(|_| writer.flush());
        if half_close && result.is_ok() {
            let _ = writer.shutdown(Shutdown::Write);
        }
        result.err().map(|e| e.to_string())
    });
    let mut got = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut reader = stream;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        reader.set_read_timeout(Some(left)).unwrap();
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    // Unblocks a writer still stuck on a server that stopped reading.
    let _ = reader.shutdown(Shutdown::Both);
    let write_error = written.join().expect("writer thread");
    (got, write_error)
}

/// Every complete response in `bytes` (pipelined answers), in order.
pub fn responses(bytes: &[u8]) -> Vec<Response> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        match Response::read_from(&mut rest, false) {
            Ok(r) => out.push(r),
            Err(_) => break,
        }
    }
    out
}

/// The resident set size of `pid` in KiB (VmRSS), if it runs.
pub fn rss_kib(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The median of `values` (sorted copy); zero for none.
pub fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

pub fn millis(values: &[Duration]) -> Vec<u128> {
    values.iter().map(|d| d.as_millis()).collect()
}

/// TCP connections to 127.0.0.1:`port` from the client side that the
/// kernel shows ESTABLISHED (/proc/net/tcp): how many attacker connections
/// Apache still has open.
pub fn established_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // sl local_address rem_address st ...; st 01: ESTABLISHED.
            f.len() > 3 && f[2] == remote && f[3] == "01"
        })
        .count()
}

/// The first line of `log` that names `pid` (as a whole number) and says
/// `signal <signal>` or `name` ("SIGKILL", "exit code 1"): the line about
/// that process's death, whatever its exact wording.
pub fn death_line<'a>(log: &'a str, pid: i32, signal: i32, name: &str) -> Option<&'a str> {
    let pid = pid.to_string();
    let names_pid = |line: &str| {
        line.match_indices(&pid).any(|(i, _)| {
            let before = line[..i].chars().next_back();
            let after = line[i + pid.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
        })
    };
    let sig = format!("signal {signal}");
    log.lines().find(|l| names_pid(l) && (l.contains(&sig) || l.contains(name)))
}

/// Serialises the tests of one file that load the machine (2 cores).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
