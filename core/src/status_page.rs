//! The `wsgi-status` page: what it shows (a [`Snapshot`] the server fills
//! in from shared memory and /proc) and its three renderings: HTML for a
//! browser, JSON, and Prometheus text exposition.

use crate::telemetry::{LATENCY_BOUNDS_US, LATENCY_BUCKETS, StopReason, latency_quantile};
use std::fmt::Write as _;

/// Everything the page shows, read at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Milliseconds since the epoch.
    pub now_ms: u64,
    pub server: String,
    pub mpm: String,
    /// Seconds between refreshes of the HTML page.
    pub refresh_seconds: u32,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Embedded,
    Daemon,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Embedded => "embedded",
            Mode::Daemon => "daemon",
        }
    }
}

/// Embedded mode (the Apache children), or one daemon process group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// The daemon group's name; empty for embedded mode.
    pub name: String,
    pub mode: Mode,
    /// `processes=` (or the MPM's process limit).
    pub processes: u32,
    pub threads: u32,
    pub procs: Vec<Proc>,
    /// Requests sent to the group and not yet taken by a daemon thread.
    pub waiting: u32,
    pub longest_wait_us: Option<u64>,
    /// Latest first.
    pub restarts: Vec<Restart>,
    /// Restarts since the server started, by reason.
    pub restart_totals: Vec<(StopReason, u64)>,
    /// Why no process can take requests, while start-up keeps failing.
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcState {
    #[default]
    Starting,
    Ready,
    Retiring,
}

impl ProcState {
    pub fn name(self) -> &'static str {
        match self {
            ProcState::Starting => "starting",
            ProcState::Ready => "ready",
            ProcState::Retiring => "retiring",
        }
    }
}

/// One process of a group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Proc {
    pub pid: i32,
    pub started_ms: u64,
    pub state: ProcState,
    pub requests: u64,
    pub busy: u32,
    pub threads: u32,
    pub rss_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    /// Since the process started: counts per latency bucket, and their sum.
    pub latency: [u64; LATENCY_BUCKETS],
    pub latency_sum_us: u64,
    /// Responses by status class (1xx .. 5xx).
    pub statuses: [u64; 5],
    /// The recent window: counts per latency bucket over `recent_seconds`.
    pub recent: [u64; LATENCY_BUCKETS],
    pub recent_seconds: f64,
    /// How long the longest running request has been running.
    pub oldest_request_us: Option<u64>,
}

/// A process replaced or stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    pub at_ms: u64,
    pub pid: i32,
    pub reason: StopReason,
    /// How it ended when that says more ("killed by signal 9").
    pub detail: String,
}

impl Group {
    fn recent(&self) -> ([u64; LATENCY_BUCKETS], f64) {
        let mut sum = [0u64; LATENCY_BUCKETS];
        let mut seconds: f64 = 0.0;
        for p in &self.procs {
            for (s, n) in sum.iter_mut().zip(p.recent) {
                *s += n;
            }
            seconds = seconds.max(p.recent_seconds);
        }
        (sum, seconds)
    }

    /// Requests per second over the recent window.
    pub fn requests_per_second(&self) -> f64 {
        let (counts, seconds) = self.recent();
        if seconds <= 0.0 { 0.0 } else { counts.iter().sum::<u64>() as f64 / seconds }
    }

    /// A latency quantile (seconds) over the recent window.
    pub fn recent_quantile(&self, q: f64) -> Option<f64> {
        latency_quantile(&self.recent().0, q).map(|us| us as f64 / 1e6)
    }

    fn lifetime(&self) -> ([u64; LATENCY_BUCKETS], u64) {
        let mut sum = [0u64; LATENCY_BUCKETS];
        let mut total_us = 0;
        for p in &self.procs {
            for (s, n) in sum.iter_mut().zip(p.latency) {
                *s += n;
            }
            total_us += p.latency_sum_us;
        }
        (sum, total_us)
    }

    fn title(&self) -> String {
        match self.mode {
            Mode::Embedded => "Embedded mode (Apache child processes)".to_string(),
            Mode::Daemon => format!("Daemon process group '{}'", self.name),
        }
    }
}

fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

// ---------------------------------------------------------------- Prometheus

/// A label value as the text format wants it.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn float(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { "NaN".into() }
}

struct Prom {
    out: String,
}

impl Prom {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP mod_wsgi_{name} {help}");
        let _ = writeln!(self.out, "# TYPE mod_wsgi_{name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, String)], value: String) {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", label(v))).collect();
        let _ = writeln!(self.out, "mod_wsgi_{name}{{{}}} {value}", labels.join(","));
    }
}

fn group_labels(g: &Group) -> Vec<(&'static str, String)> {
    vec![("mode", g.mode.name().to_string()), ("group", g.name.clone())]
}

fn proc_labels(g: &Group, p: &Proc) -> Vec<(&'static str, String)> {
    let mut l = group_labels(g);
    l.push(("pid", p.pid.to_string()));
    l
}

/// The snapshot as Prometheus text exposition (format 0.0.4).
pub fn prometheus(s: &Snapshot) -> String {
    let mut m = Prom { out: String::new() };
    let groups = &s.groups;
    m.family("group_processes", "gauge", "Processes of the group, running now.");
    for g in groups {
        m.sample("group_processes", &group_labels(g), g.procs.len().to_string());
    }
    m.family("group_configured_processes", "gauge", "Processes the group is configured for.");
    for g in groups {
        m.sample("group_configured_processes", &group_labels(g), g.processes.to_string());
    }
    m.family("group_available", "gauge", "1 unless the group's processes keep failing to start.");
    for g in groups {
        m.sample("group_available", &group_labels(g), u8::from(g.unavailable.is_none()).to_string());
    }
    m.family("requests_waiting", "gauge", "Requests sent to a daemon group that no thread has taken yet.");
    for g in groups.iter().filter(|g| g.mode == Mode::Daemon) {
        m.sample("requests_waiting", &group_labels(g), g.waiting.to_string());
    }
    m.family("request_wait_longest_seconds", "gauge", "How long the longest-waiting request has waited.");
    for g in groups.iter().filter(|g| g.mode == Mode::Daemon) {
        m.sample("request_wait_longest_seconds", &group_labels(g), float(secs(g.longest_wait_us.unwrap_or(0))));
    }
    m.family("requests_per_second", "gauge", "Requests finished per second over the last few seconds.");
    for g in groups {
        m.sample("requests_per_second", &group_labels(g), float(g.requests_per_second()));
    }
    m.family("request_duration_seconds", "histogram", "Time from Apache receiving a request to its end.");
    for g in groups {
        let (counts, sum_us) = g.lifetime();
        let mut cumulative = 0;
        for (i, n) in counts.iter().enumerate() {
            cumulative += n;
            let le = LATENCY_BOUNDS_US.get(i).map_or("+Inf".to_string(), |&b| float(secs(b)));
            let mut l = group_labels(g);
            l.push(("le", le));
            m.sample("request_duration_seconds_bucket", &l, cumulative.to_string());
        }
        m.sample("request_duration_seconds_sum", &group_labels(g), float(secs(sum_us)));
        m.sample("request_duration_seconds_count", &group_labels(g), cumulative.to_string());
    }
    m.family("responses_total", "counter", "Responses by status class, from the running processes.");
    for g in groups {
        let mut classes = [0u64; 5];
        for p in &g.procs {
            for (c, n) in classes.iter_mut().zip(p.statuses) {
                *c += n;
            }
        }
        for (i, n) in classes.iter().enumerate() {
            let mut l = group_labels(g);
            l.push(("class", format!("{}xx", i + 1)));
            m.sample("responses_total", &l, n.to_string());
        }
    }
    m.family("process_restarts_total", "counter", "Processes replaced or stopped since Apache started, by reason.");
    for g in groups {
        for (reason, n) in &g.restart_totals {
            let mut l = group_labels(g);
            l.push(("reason", reason.name().to_string()));
            m.sample("process_restarts_total", &l, n.to_string());
        }
    }
    m.family("process_start_time_seconds", "gauge", "When the process started, in seconds since the epoch.");
    for g in groups {
        for p in &g.procs {
            m.sample("process_start_time_seconds", &proc_labels(g, p), float(p.started_ms as f64 / 1e3));
        }
    }
    m.family("process_requests_total", "counter", "Requests the process has served.");
    for g in groups {
        for p in &g.procs {
            m.sample("process_requests_total", &proc_labels(g, p), p.requests.to_string());
        }
    }
    m.family("process_threads", "gauge", "Request threads of the process, busy or idle.");
    for g in groups {
        for p in &g.procs {
            for (state, n) in [("busy", p.busy), ("idle", p.threads.saturating_sub(p.busy))] {
                let mut l = proc_labels(g, p);
                l.push(("state", state.to_string()));
                m.sample("process_threads", &l, n.to_string());
            }
        }
    }
    m.family("process_state", "gauge", "1 for the state the process is in.");
    for g in groups {
        for p in &g.procs {
            for state in [ProcState::Starting, ProcState::Ready, ProcState::Retiring] {
                let mut l = proc_labels(g, p);
                l.push(("state", state.name().to_string()));
                m.sample("process_state", &l, u8::from(p.state == state).to_string());
            }
        }
    }
    m.family("process_resident_memory_bytes", "gauge", "Resident memory of the process.");
    for g in groups {
        for p in g.procs.iter().filter(|p| p.rss_bytes.is_some()) {
            m.sample("process_resident_memory_bytes", &proc_labels(g, p), p.rss_bytes.unwrap_or(0).to_string());
        }
    }
    m.family("process_cpu_seconds_total", "counter", "CPU time (user and system) the process has used.");
    for g in groups {
        for p in g.procs.iter().filter(|p| p.cpu_seconds.is_some()) {
            m.sample("process_cpu_seconds_total", &proc_labels(g, p), float(p.cpu_seconds.unwrap_or(0.0)));
        }
    }
    m.out
}

// ---------------------------------------------------------------- JSON

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("null".to_string(), |v| v.to_string())
}

fn json_f(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { "null".into() }
}

fn json_list<T: std::fmt::Display>(items: &[T]) -> String {
    format!("[{}]", items.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(","))
}

/// The snapshot as a JSON document.
pub fn json(s: &Snapshot) -> String {
    let mut o = String::new();
    o.push_str("{\"time\":");
    o.push_str(&json_f(s.now_ms as f64 / 1e3));
    o.push_str(",\"server\":");
    json_str(&mut o, &s.server);
    o.push_str(",\"mpm\":");
    json_str(&mut o, &s.mpm);
    o.push_str(",\"latency_bounds_seconds\":");
    o.push_str(&json_list(&LATENCY_BOUNDS_US.map(|b| json_f(secs(b)))));
    o.push_str(",\"groups\":[");
    for (gi, g) in s.groups.iter().enumerate() {
        if gi > 0 {
            o.push(',');
        }
        o.push_str("{\"name\":");
        json_str(&mut o, &g.name);
        let _ = write!(
            o,
            ",\"mode\":\"{}\",\"processes\":{},\"threads\":{},\"waiting\":{},\"longest_wait_seconds\":{},\"requests_per_second\":{},\"latency_seconds\":{{\"p50\":{},\"p90\":{},\"p99\":{}}}",
            g.mode.name(),
            g.processes,
            g.threads,
            g.waiting,
            json_opt(g.longest_wait_us.map(|u| json_f(secs(u)))),
            json_f(g.requests_per_second()),
            json_opt(g.recent_quantile(0.5).map(json_f)),
            json_opt(g.recent_quantile(0.9).map(json_f)),
            json_opt(g.recent_quantile(0.99).map(json_f)),
        );
        o.push_str(",\"unavailable\":");
        match &g.unavailable {
            Some(u) => json_str(&mut o, u),
            None => o.push_str("null"),
        }
        o.push_str(",\"restart_totals\":{");
        for (i, (r, n)) in g.restart_totals.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "\"{}\":{n}", r.name());
        }
        o.push_str("},\"restarts\":[");
        for (i, r) in g.restarts.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(
                o,
                "{{\"time\":{},\"pid\":{},\"reason\":\"{}\",\"detail\":",
                json_f(r.at_ms as f64 / 1e3),
                r.pid,
                r.reason.name()
            );
            json_str(&mut o, &r.detail);
            o.push('}');
        }
        o.push_str("],\"process_list\":[");
        for (pi, p) in g.procs.iter().enumerate() {
            if pi > 0 {
                o.push(',');
            }
            let _ = write!(
                o,
                "{{\"pid\":{},\"start_time\":{},\"state\":\"{}\",\"requests\":{},\"threads_busy\":{},\"threads\":{},\"rss_bytes\":{},\"cpu_seconds\":{},\"oldest_request_seconds\":{},\"statuses\":{},\"latency_buckets\":{},\"latency_sum_seconds\":{}}}",
                p.pid,
                json_f(p.started_ms as f64 / 1e3),
                p.state.name(),
                p.requests,
                p.busy,
                p.threads,
                json_opt(p.rss_bytes),
                json_opt(p.cpu_seconds.map(json_f)),
                json_opt(p.oldest_request_us.map(|u| json_f(secs(u)))),
                json_list(&p.statuses),
                json_list(&p.latency),
                json_f(secs(p.latency_sum_us)),
            );
        }
        o.push_str("]}");
    }
    o.push_str("]}\n");
    o
}

// ---------------------------------------------------------------- HTML

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn duration(seconds: f64) -> String {
    if seconds < 1e-3 {
        format!("{:.0} µs", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{:.1} ms", seconds * 1e3)
    } else if seconds < 120.0 {
        format!("{seconds:.1} s")
    } else if seconds < 7200.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

fn bytes(n: u64) -> String {
    if n >= 1 << 30 {
        format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64)
    } else if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", n as f64 / 1024.0)
    }
}

fn ago(now_ms: u64, then_ms: u64) -> String {
    duration(now_ms.saturating_sub(then_ms) as f64 / 1e3) + " ago"
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}\
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .4em}\
.meta{color:#666;font-size:.9em}\
table{border-collapse:collapse;background:#fff;margin:.4em 0;font-size:.92em}\
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#eee}\
td.l,th.l{text-align:left}\
.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:.4em 0}\
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.4em .8em;min-width:7.5em}\
.card b{display:block;font-size:1.3em}.card span{color:#666;font-size:.8em}\
.ready{color:#11772d}.starting{color:#a66b00}.retiring{color:#8a2be2}\
.bad{background:#fde8e8;border:1px solid #e0a0a0;padding:.5em;border-radius:6px}\
.bar{display:inline-block;height:.8em;background:#4a7bd0;vertical-align:middle}";

/// The snapshot as an HTML page that refreshes itself.
pub fn html(s: &Snapshot) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"{}\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>mod_wsgi status</title><style>{STYLE}</style></head><body>\n\
<h1>mod_wsgi status</h1><div class=\"meta\">{} &middot; MPM {} &middot; refreshed every {} s \
&middot; <a href=\"?format=json\">JSON</a> &middot; <a href=\"?format=prometheus\">Prometheus</a></div>\n",
        s.refresh_seconds.max(1),
        esc(&s.server),
        esc(&s.mpm),
        s.refresh_seconds.max(1)
    );
    if s.groups.is_empty() {
        o.push_str("<p>No WSGI processes.</p>");
    }
    for g in &s.groups {
        group_html(&mut o, s.now_ms, g);
    }
    o.push_str("</body></html>\n");
    o
}

fn group_html(o: &mut String, now_ms: u64, g: &Group) {
    let busy: u32 = g.procs.iter().map(|p| p.busy).sum();
    let threads: u32 = g.procs.iter().map(|p| p.threads).sum();
    let served: u64 = g.procs.iter().map(|p| p.requests).sum();
    let q = |v: f64| g.recent_quantile(v).map_or("–".to_string(), duration);
    let _ = writeln!(o, "<h2>{}</h2>", esc(&g.title()));
    if let Some(why) = &g.unavailable {
        let _ = writeln!(o, "<div class=\"bad\">No process can take requests: {}</div>", esc(why));
    }
    let _ = write!(
        o,
        "<div class=\"cards\">\
<div class=\"card\"><b>{}/{}</b><span>processes</span></div>\
<div class=\"card\"><b>{busy}/{threads}</b><span>threads busy</span></div>\
<div class=\"card\"><b>{:.1}</b><span>requests/s</span></div>",
        g.procs.len(),
        g.processes,
        g.requests_per_second()
    );
    if g.mode == Mode::Daemon {
        let _ = write!(
            o,
            "<div class=\"card\"><b>{}</b><span>requests waiting</span></div>\
<div class=\"card\"><b>{}</b><span>longest wait</span></div>",
            g.waiting,
            g.longest_wait_us.map_or("–".to_string(), |u| duration(secs(u)))
        );
    }
    let _ = writeln!(
        o,
        "<div class=\"card\"><b>{}</b><span>p50</span></div>\
<div class=\"card\"><b>{}</b><span>p90</span></div>\
<div class=\"card\"><b>{}</b><span>p99</span></div>\
<div class=\"card\"><b>{served}</b><span>requests served</span></div></div>",
        q(0.5),
        q(0.9),
        q(0.99)
    );
    o.push_str(
        "<table><tr><th>pid</th><th class=\"l\">state</th><th>started</th><th>requests</th>\
<th class=\"l\">threads busy</th><th>longest running</th><th>RSS</th><th>CPU</th><th>2xx</th><th>4xx</th><th>5xx</th></tr>\n",
    );
    for p in &g.procs {
        let width = (p.busy * 60).checked_div(p.threads).unwrap_or(0);
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"l {}\">{}</td><td>{}</td><td>{}</td>\
<td class=\"l\"><span class=\"bar\" style=\"width:{width}px\"></span> {}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.pid,
            p.state.name(),
            p.state.name(),
            ago(now_ms, p.started_ms),
            p.requests,
            p.busy,
            p.threads,
            p.oldest_request_us.map_or("–".to_string(), |u| duration(secs(u))),
            p.rss_bytes.map_or("–".to_string(), bytes),
            p.cpu_seconds.map_or("–".to_string(), |c| format!("{c:.2} s")),
            p.statuses[1],
            p.statuses[3],
            p.statuses[4],
        );
    }
    o.push_str("</table>\n");
    if g.mode == Mode::Daemon {
        let totals: Vec<String> =
            g.restart_totals.iter().filter(|(_, n)| *n > 0).map(|(r, n)| format!("{} {n}", esc(r.label()))).collect();
        let _ = writeln!(
            o,
            "<div class=\"meta\">Restarts: {}</div>",
            if totals.is_empty() { "none".to_string() } else { totals.join(", ") }
        );
        if !g.restarts.is_empty() {
            o.push_str("<table><tr><th>when</th><th>pid</th><th class=\"l\">reason</th></tr>\n");
            for r in &g.restarts {
                let detail = if r.detail.is_empty() { String::new() } else { format!(" ({})", esc(&r.detail)) };
                let _ = writeln!(
                    o,
                    "<tr><td>{}</td><td>{}</td><td class=\"l\">{}{detail}</td></tr>",
                    ago(now_ms, r.at_ms),
                    r.pid,
                    esc(r.reason.label())
                );
            }
            o.push_str("</table>\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::latency_bucket;

    fn sample() -> Snapshot {
        let mut p = Proc {
            pid: 42,
            started_ms: 1_000_000,
            state: ProcState::Ready,
            requests: 10,
            busy: 1,
            threads: 4,
            rss_bytes: Some(20 << 20),
            cpu_seconds: Some(1.5),
            latency_sum_us: 30_000,
            recent_seconds: 10.0,
            ..Default::default()
        };
        p.latency[latency_bucket(3_000)] = 10;
        p.recent[latency_bucket(3_000)] = 10;
        p.statuses[1] = 9;
        p.statuses[4] = 1;
        Snapshot {
            now_ms: 2_000_000,
            server: "Apache/2.4 <x>".into(),
            mpm: "event".into(),
            refresh_seconds: 2,
            groups: vec![
                Group { mode: Mode::Embedded, processes: 2, threads: 4, procs: vec![p.clone()], ..Default::default() },
                Group {
                    name: "app \"one\"".into(),
                    mode: Mode::Daemon,
                    processes: 1,
                    threads: 4,
                    procs: vec![p],
                    waiting: 3,
                    longest_wait_us: Some(1_500_000),
                    restarts: vec![Restart {
                        at_ms: 1_500_000,
                        pid: 7,
                        reason: StopReason::Crashed,
                        detail: "killed by signal 9".into(),
                    }],
                    restart_totals: vec![(StopReason::Crashed, 1), (StopReason::ScriptReload, 0)],
                    unavailable: None,
                },
            ],
        }
    }

    #[test]
    fn prometheus_text_has_families_and_labels() {
        let text = prometheus(&sample());
        assert!(text.contains("# TYPE mod_wsgi_request_duration_seconds histogram"));
        assert!(text.contains("mod_wsgi_requests_waiting{mode=\"daemon\",group=\"app \\\"one\\\"\"} 3"), "{text}");
        assert!(text.contains("mod_wsgi_request_duration_seconds_bucket{mode=\"embedded\",group=\"\",le=\"+Inf\"} 10"));
        assert!(text.contains(
            "mod_wsgi_process_restarts_total{mode=\"daemon\",group=\"app \\\"one\\\"\",reason=\"crashed\"} 1"
        ));
        assert!(text.contains(
            "mod_wsgi_process_threads{mode=\"daemon\",group=\"app \\\"one\\\"\",pid=\"42\",state=\"idle\"} 3"
        ));
        // Every sample line belongs to a family declared before it.
        let mut declared = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                declared.push(rest.split(' ').next().unwrap().to_string());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                assert!(declared.iter().any(|d| name.starts_with(d.as_str())), "{name} undeclared");
            }
        }
    }

    #[test]
    fn json_is_well_formed_enough() {
        let text = json(&sample());
        assert!(text.contains("\"name\":\"app \\\"one\\\"\""));
        assert!(text.contains("\"waiting\":3"));
        assert!(text.contains("\"reason\":\"crashed\""));
        let opens = text.matches(['{', '[']).count();
        let closes = text.matches(['}', ']']).count();
        assert_eq!(opens, closes);
    }

    #[test]
    fn html_escapes_and_refreshes() {
        let page = html(&sample());
        assert!(page.contains("http-equiv=\"refresh\" content=\"2\""));
        assert!(page.contains("Apache/2.4 &lt;x&gt;"));
        assert!(page.contains("Daemon process group &#39;app &quot;one&quot;&#39;"));
        assert!(page.contains("killed by signal 9"));
        assert!(page.contains("1.0 requests/s") || page.contains("<b>1.0</b><span>requests/s"));
    }

    #[test]
    fn rates_and_quantiles_come_from_the_recent_window() {
        let s = sample();
        let g = &s.groups[1];
        assert!((g.requests_per_second() - 1.0).abs() < 1e-9);
        let p50 = g.recent_quantile(0.5).unwrap();
        assert!((0.0025..=0.005).contains(&p50), "{p50}");
    }
}
