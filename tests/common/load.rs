//! A bounded background load for fault tests: keep-alive clients sending
//! GET requests to one URL until stopped (or a time limit), counting what
//! failed and which pids answered (the last number in each body).
//!
//! A request that fails on a reused keep-alive connection before any byte
//! of the answer arrives is sent again once on a new connection, as
//! browsers and HTTP libraries do: a server may close an idle connection
//! just as a request is sent (Apache does on graceful restart). Only what
//! fails again, and any non-2xx answer, counts as a failure.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::http::{Conn, Response};

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub answered: u64,
    /// Non-2xx answers and connection errors, with when they happened.
    pub failures: Vec<String>,
    pub pids: BTreeSet<i32>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.answered += other.answered;
        self.failures.extend(other.failures);
        self.pids.extend(other.pids);
    }
}

pub struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<Tally>>,
}

/// The last whitespace-separated number of a body: the answering pid.
pub fn pid_in(resp: &Response) -> Option<i32> {
    resp.text().split_whitespace().last()?.parse().ok()
}

impl Load {
    /// Starts `clients` clients on `port`, each stopping after `limit`.
    pub fn start(port: u16, path: &str, clients: usize, limit: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..clients)
            .map(|n| {
                let (stop, path) = (stop.clone(), path.to_string());
                std::thread::spawn(move || client(n, port, &path, &stop, limit))
            })
            .collect();
        Load { stop, clients }
    }

    pub fn stop(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = Tally::default();
        for c in self.clients {
            total.merge(c.join().unwrap_or_default());
        }
        total
    }
}

fn client(n: usize, port: u16, path: &str, stop: &AtomicBool, limit: Duration) -> Tally {
    let start = Instant::now();
    let mut out = Tally::default();
    let mut conn: Option<Conn> = None;
    while !stop.load(Ordering::SeqCst) && start.elapsed() < limit {
        let at = start.elapsed();
        let reused = conn.is_some();
        let result = match conn.take().map_or_else(|| Conn::open(port), Ok) {
            Ok(mut c) => match c.try_request("GET", path, &[], b"") {
                Ok(r) => Ok((c, r)),
                Err(e) if reused => Conn::open(port)
                    .and_then(|mut c| c.try_request("GET", path, &[], b"").map(|r| (c, r)))
                    .map_err(|again| format!("{e}, then on a new connection: {again}")),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(format!("connect: {e}")),
        };
        match result {
            Ok((c, resp)) => {
                out.answered += 1;
                if (200..300).contains(&resp.status) {
                    out.pids.extend(pid_in(&resp));
                } else {
                    out.failures.push(format!("client {n} at {at:?}: {} {}", resp.status, resp.text().trim()));
                }
                let closing = resp.header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
                if !closing {
                    conn = Some(c);
                }
            }
            Err(e) => {
                out.failures.push(format!("client {n} at {at:?}: {e}"));
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    out
}
