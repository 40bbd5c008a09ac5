//! Several Apache hosts behind HAProxy, as docs/scaling.md describes: three
//! hosts, each a network namespace of its own with a veth link to the
//! balancer's namespace (10.77.N.1 there, 10.77.N.2 on host N; those
//! addresses exist only inside the namespaces, deleted at the end), each
//! running the application in daemon mode. The clients run inside the
//! balancer's namespace and talk to HAProxy on its loopback.
//!
//! Under a bounded load (CLIENTS clients, each phase a few seconds):
//! 1. requests are spread over every host, and the application sees the
//!    client's address (X-Forwarded-For from the trusted balancer);
//! 2. a rolling deploy (`touch` the script on each host in turn) fails no
//!    request;
//! 3. `apache2 -k graceful-stop` of one host fails no request, and the host
//!    rejoins when started again;
//! 4. kill -9 of one host's daemon processes fails at most the requests in
//!    flight.
//!
//! The failed-request counts are printed (`multi-host:` lines).

mod common;
mod faults;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use common::daemon::descends_from;
use common::front::Front;
use common::netns::Netns;
use common::*;
use faults::{Load, Sample};

const HOSTS: usize = 3;
const CLIENTS: usize = 6;
/// HAProxy's port on the balancer's loopback.
const LB_PORT: u16 = 8080;
/// Each request spends this long in the application, so some are in flight.
const PATH: &str = "/app?5";
const TITLE: &str = "(wsgi:app)";

/// Answers "<pid>\n<SERVER_ADDR> <REMOTE_ADDR>\n" after sleeping the
/// milliseconds in the query string.
const APP: &str = include_str!("apps/fault_multi_host/app.py");

/// Fields drop in order: HAProxy, then the hosts, then the namespaces.
struct Cluster {
    haproxy: Front,
    hosts: Vec<Apache>,
    lb: Netns,
    // Kept to be dropped (deleted) last.
    _nets: Vec<Netns>,
}

fn host_ip(n: usize) -> String {
    format!("10.77.{}.2", n + 1)
}

impl Cluster {
    fn start() -> Cluster {
        let lb = Netns::new("lb");
        let mut nets = Vec::new();
        let mut hosts = Vec::new();
        for n in 0..HOSTS {
            let ns = Netns::new(&format!("h{}", n + 1));
            lb.link(&ns, &format!("10.77.{}.1/24", n + 1), &format!("{}/24", host_ip(n)));
            let apache = ApacheBuilder::new()
                .embedded_only()
                .netns(&ns, &host_ip(n))
                .file("scripts/app.wsgi", APP)
                .conf(
                    "WSGIDaemonProcess app processes=2 threads=8 display-name=%{GROUP}\n\
                     WSGIScriptAlias /app {root}/scripts/app.wsgi process-group=app application-group=%{GLOBAL}\n\
                     WSGIScriptAlias /health {root}/scripts/app.wsgi process-group=app application-group=%{GLOBAL}\n\
                     WSGITrustedProxyHeaders X-Forwarded-For\nWSGITrustedProxies 10.77.0.0/16",
                )
                .start();
            nets.push(ns);
            hosts.push(apache);
        }
        let servers: String =
            hosts.iter().enumerate().map(|(n, h)| format!("  server h{} {}\n", n + 1, h.listen_addr())).collect();
        let config = format!(
            "global\n  log stdout format raw local0 notice\n\
             defaults\n  mode http\n  log global\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n\
             \x20 retries 3\n  option redispatch 1\n  retry-on conn-failure empty-response response-timeout\n\
             frontend web\n  bind 127.0.0.1:{LB_PORT}\n  option forwardfor\n  default_backend apaches\n\
             backend apaches\n  balance roundrobin\n  option httpchk GET /health\n  http-check expect status 200\n\
             \x20 default-server check inter 300ms fall 2 rise 1\n{servers}"
        );
        let dir = hosts[0].root().join("lb");
        std::fs::create_dir_all(&dir).unwrap();
        let haproxy = Front::haproxy(&dir, &config, Some(&lb), SocketAddr::from(([127, 0, 0, 1], LB_PORT)));
        Cluster { haproxy, hosts, lb, _nets: nets }
    }

    /// One request through the balancer (from inside its namespace).
    fn get(&self) -> Result<(u16, String), String> {
        self.lb.run(|| {
            let mut conn = Conn::open(LB_PORT).map_err(|e| e.to_string())?;
            conn.try_request("GET", PATH, &[], b"").map(|r| (r.status, r.text())).map_err(|e| e.to_string())
        })
    }

    /// Waits until every host has answered through the balancer.
    fn wait_all_up(&self) {
        let mut seen = BTreeSet::new();
        let ok = wait_until(Duration::from_secs(20), || {
            if let Ok((200, body)) = self.get() {
                seen.extend(host_of(&body));
            }
            seen.len() == HOSTS
        });
        assert!(ok, "only {seen:?} answered through HAProxy:\n{}", self.haproxy.output());
    }

    fn load(&self, limit: Duration) -> Load {
        Load::start_in(Some(self.lb.name()), LB_PORT, PATH, CLIENTS, limit, usize::MAX)
    }

    fn logs(&self) -> String {
        let mut out = format!("HAProxy:\n{}\n", self.haproxy.output());
        for (n, h) in self.hosts.iter().enumerate() {
            out.push_str(&format!("host {} error_log:\n{}\n", n + 1, h.error_log()));
        }
        out
    }
}

/// A host's daemon processes (mod_wsgi 4.9.4 pads the title with spaces
/// and keeps the other arguments after it).
fn daemon_pids(host: &Apache) -> Vec<i32> {
    let parent = host.parent_pid();
    let mut pids: Vec<i32> = process::all()
        .into_iter()
        .map(|s| s.pid)
        .filter(|&p| process::cmdline(p).split_whitespace().next() == Some(TITLE) && descends_from(p, parent))
        .collect();
    pids.sort();
    pids
}

/// The answering host's address, from the body's second line.
fn host_of(body: &str) -> Option<String> {
    body.lines().nth(1)?.split_whitespace().next().map(String::from)
}

fn per_host(samples: &[Sample]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for s in samples {
        if let Ok((200, body)) = &s.outcome
            && let Some(h) = host_of(body)
        {
            *out.entry(h).or_default() += 1;
        }
    }
    out
}

fn failures(samples: &[Sample]) -> Vec<&Sample> {
    samples.iter().filter(|s| !s.ok()).collect()
}

fn report(phase: &str, samples: &[Sample]) -> usize {
    let failed = failures(samples);
    eprintln!(
        "multi-host: {phase}: {} requests by {CLIENTS} clients, {} failed; answered per host {:?}",
        samples.len(),
        failed.len(),
        per_host(samples)
    );
    for f in &failed {
        eprintln!("multi-host: {phase}: failed: {}", f.describe());
    }
    failed.len()
}

fn sleep_until(load: &Load, at: Duration) {
    std::thread::sleep(at.saturating_sub(load.elapsed()));
}

/// `touch`: the script's mtime moved a second on, as a deploy does.
fn touch(path: &std::path::Path) {
    let before = std::fs::metadata(path).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
    let when = SystemTime::now().max(before + Duration::from_secs(1));
    std::fs::File::options().write(true).open(path).unwrap().set_modified(when).unwrap();
}

#[test]
fn apache_hosts_behind_haproxy_spread_deploy_leave_rejoin_and_survive_a_kill() {
    let _serial = faults::serial();
    let cluster = Cluster::start();
    cluster.wait_all_up();
    let started = Instant::now();

    // 1. Spread, and the client's address as the application sees it.
    let samples = cluster.load(Duration::from_secs(3)).join();
    let failed = report("spread", &samples);
    let hosts = per_host(&samples);
    assert_eq!(failed, 0, "{}", cluster.logs());
    assert_eq!(hosts.len(), HOSTS, "not every host answered: {hosts:?}");
    let least = hosts.values().min().copied().unwrap_or(0);
    assert!(least * HOSTS * 2 >= samples.len() / 2, "uneven spread: {hosts:?}");
    let remote: BTreeSet<&str> =
        samples.iter().filter_map(|s| s.outcome.as_ref().ok()?.1.lines().nth(1)?.split_whitespace().nth(1)).collect();
    assert_eq!(remote, BTreeSet::from(["127.0.0.1"]), "REMOTE_ADDR should be the client's (X-Forwarded-For)");

    // 2. Rolling deploy: touch the script on each host in turn, waiting
    // until that host's daemons are all new before the next.
    let load = cluster.load(Duration::from_secs(40));
    std::thread::sleep(Duration::from_millis(500));
    let mut replaced = Vec::new();
    for (n, host) in cluster.hosts.iter().enumerate() {
        let old: BTreeSet<i32> = daemon_pids(host).into_iter().collect();
        let t = Instant::now();
        touch(&host.root().join("scripts/app.wsgi"));
        let fresh = wait_until(Duration::from_secs(15), || {
            let now = daemon_pids(host);
            now.len() == 2 && now.iter().all(|p| !old.contains(p))
        });
        assert!(fresh, "host {}: daemons {old:?} not replaced after the touch:\n{}", n + 1, host.error_log());
        replaced.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(300));
    }
    let samples = load.finish();
    eprintln!("multi-host: rolling deploy: each host's daemons replaced within {replaced:?} of its touch");
    assert_eq!(report("rolling deploy", &samples), 0, "{}", cluster.logs());

    // 3. One host leaves (graceful-stop) and comes back.
    let mut cluster = cluster;
    let load = cluster.load(Duration::from_secs(30));
    sleep_until(&load, Duration::from_secs(1));
    let stop_at = load.elapsed();
    cluster.hosts[1].graceful_stop();
    let stopped_at = load.elapsed();
    sleep_until(&load, stopped_at + Duration::from_secs(1));
    cluster.hosts[1].start_again();
    let back_at = load.elapsed();
    sleep_until(&load, back_at + Duration::from_secs(3));
    let samples = load.finish();
    eprintln!(
        "multi-host: graceful-stop: host 2 stopping at {} ms, gone at {} ms, started again at {} ms",
        stop_at.as_millis(),
        stopped_at.as_millis(),
        back_at.as_millis()
    );
    assert_eq!(report("graceful-stop and rejoin", &samples), 0, "{}", cluster.logs());
    let h2 = host_ip(1);
    let absent = samples.iter().filter(|s| s.sent > stopped_at && s.done < back_at);
    assert!(absent.clone().all(|s| s.outcome.as_ref().ok().and_then(|o| host_of(&o.1)) != Some(h2.clone())));
    let rejoined = samples
        .iter()
        .filter(|s| s.sent > back_at)
        .any(|s| s.outcome.as_ref().ok().and_then(|o| host_of(&o.1)) == Some(h2.clone()));
    assert!(rejoined, "host 2 did not rejoin: {:?}\n{}", per_host(&samples), cluster.logs());

    // 4. kill -9 of host 3's daemon processes.
    let victims = daemon_pids(&cluster.hosts[2]);
    assert_eq!(victims.len(), 2, "{}", cluster.hosts[2].error_log());
    let load = cluster.load(Duration::from_secs(5));
    sleep_until(&load, Duration::from_secs(2));
    let in_flight = load.in_flight();
    for &pid in &victims {
        process::kill(pid, libc::SIGKILL);
    }
    let killed_at = load.elapsed();
    let samples = load.join();
    let failed = report("kill -9 of one host's daemons", &samples);
    eprintln!(
        "multi-host: kill -9: {victims:?} killed at {} ms with {in_flight} requests in flight (all hosts)",
        killed_at.as_millis()
    );
    assert!(failed <= CLIENTS, "more failures ({failed}) than requests that can be in flight ({CLIENTS})");
    let h3 = host_ip(2);
    let back = samples
        .iter()
        .filter(|s| s.sent > killed_at + Duration::from_secs(1))
        .any(|s| s.outcome.as_ref().ok().and_then(|o| host_of(&o.1)) == Some(h3.clone()));
    assert!(back, "host 3 did not answer again after its daemons were killed\n{}", cluster.logs());
    eprintln!("multi-host: phases took {:?}", started.elapsed());
}
