//! The `wsgi-status` handler (`<Location /wsgi-status> SetHandler
//! wsgi-status </Location>`): a page about embedded mode and every daemon
//! group, answered by the Apache child from shared memory and /proc, so it
//! works while a group is hung or restarting. `?format=json` and
//! `?format=prometheus` give the same figures to programs.
//!
//! Also the parent's preparation for it and for the Python API's server
//! side (scoreboard reader, `apache` module facts, request observer).

use crate::apache::request::Request;
use crate::apache::request_io::ApacheIo;
use crate::apache::server::Server;
use crate::common::io::Outcome;
use crate::common::io::RequestIo;
use crate::daemon::metrics;
use crate::ffi;
use wsgi_core::status_page::{self, Group, Mode, Snapshot};

pub const HANDLER: &std::ffi::CStr = c"wsgi-status";

/// Seconds between refreshes of the HTML page.
const REFRESH_SECONDS: u32 = 2;

/// post_config, in the parent, before anything forks.
pub fn post_config(s: Server<'_>, cfg: &wsgi_core::config::ServerConfig) {
    crate::python::metrics::set_scoreboard_reader(crate::apache::scoreboard::read);
    crate::python::interpreter_setup::set_apache_facts(crate::apache::scoreboard::apache_facts);
    metrics::install_observer();
    if cfg.restrict_embedded != Some(true) {
        let slots = Request::mpm_query(ffi::AP_MPMQ_HARD_LIMIT_DAEMONS).max(1) as usize;
        if let Err(e) = metrics::make_embedded_table(slots) {
            crate::apache::log::server(
                crate::common::log::LogLevel::Warning,
                s,
                &format!(
                    "mod_wsgi: cannot map the status page's table of Apache children ({e}); it will not list them."
                ),
            );
        }
    }
}

pub extern "C" fn handler(r: *mut ffi::request_rec) -> i32 {
    super::guard("wsgi-status handler", ffi::HTTP_INTERNAL_SERVER_ERROR as i32, || {
        // SAFETY: Apache passes the live request, for this call.
        let req = unsafe { Request::from_raw(r) };
        if !req.handler_is(HANDLER) {
            return ffi::DECLINED;
        }
        if !req.is_get_or_head() {
            return ffi::HTTP_METHOD_NOT_ALLOWED as i32;
        }
        respond(req)
    })
}

#[derive(Clone, Copy)]
enum Format {
    Html,
    Json,
    Prometheus,
}

fn format(args: Option<&str>) -> Option<Format> {
    let Some(args) = args else { return Some(Format::Html) };
    let mut format = Format::Html;
    for (k, v) in args.split('&').filter_map(|kv| kv.split_once('=')) {
        if k == "format" {
            format = match v {
                "html" => Format::Html,
                "json" => Format::Json,
                "prometheus" | "metrics" | "openmetrics" => Format::Prometheus,
                _ => return None,
            };
        }
    }
    Some(format)
}

fn respond(req: Request<'_>) -> i32 {
    let Some(format) = format(req.args().as_deref()) else { return ffi::HTTP_BAD_REQUEST as i32 };
    let snapshot = snapshot(req);
    let (body, content_type) = match format {
        Format::Html => (status_page::html(&snapshot), "text/html; charset=utf-8"),
        Format::Json => (status_page::json(&snapshot), "application/json"),
        Format::Prometheus => (status_page::prometheus(&snapshot), "text/plain; version=0.0.4; charset=utf-8"),
    };
    let mut io = ApacheIo::new(req);
    let headers = [
        ("Content-Type".to_string(), content_type.to_string()),
        ("Content-Length".to_string(), body.len().to_string()),
        ("Cache-Control".to_string(), "no-store".to_string()),
    ];
    let sent = io.send_headers("200 OK", &headers).and_then(|()| io.write(body.as_bytes()));
    io.finish(if sent.is_ok() { Outcome::Sent } else { Outcome::Failed(500) });
    ffi::OK as i32
}

/// CPU seconds and resident bytes of `pid`, from /proc (readable for
/// every user's processes), so a process is described even while hung.
fn proc_figures(pid: i32) -> (Option<f64>, Option<u64>) {
    // SAFETY: sysconf has no preconditions.
    let (ticks, page) =
        unsafe { (libc::sysconf(libc::_SC_CLK_TCK).max(1) as f64, libc::sysconf(libc::_SC_PAGESIZE).max(1) as u64) };
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|stat| {
        // Fields after the command, which may hold spaces, in parentheses.
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        let user: f64 = f.get(11)?.parse().ok()?;
        let system: f64 = f.get(12)?.parse().ok()?;
        Some((user + system) / ticks)
    });
    let rss = std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|m| m.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * page);
    (cpu, rss)
}

fn procs(table: &metrics::Table) -> Vec<status_page::Proc> {
    let mut procs: Vec<status_page::Proc> = table
        .live()
        .map(|slot| {
            let mut p = slot.read();
            (p.cpu_seconds, p.rss_bytes) = proc_figures(p.pid);
            p
        })
        .collect();
    procs.sort_by_key(|p| (p.started_ms, p.pid));
    procs
}

fn snapshot(req: Request<'_>) -> Snapshot {
    let cfg = &req.server().record().cfg;
    let facts = crate::apache::scoreboard::apache_facts();
    let mut groups = Vec::new();
    if cfg.restrict_embedded != Some(true)
        && let Some(table) = metrics::embedded_table()
    {
        groups.push(Group {
            mode: Mode::Embedded,
            processes: facts.maximum_processes,
            threads: facts.threads_per_process,
            procs: procs(&table),
            ..Group::default()
        });
    }
    if let Some(reg) = crate::daemon::registry() {
        for g in &reg.groups {
            let m = &g.status.metrics;
            let (waiting, longest) = m.queue();
            groups.push(Group {
                name: g.spec.name().to_string(),
                mode: Mode::Daemon,
                processes: g.spec.config.processes,
                threads: g.spec.config.threads,
                procs: procs(&m.procs),
                waiting,
                longest_wait_us: longest,
                restarts: m.restarts(),
                restart_totals: m.restart_totals(),
                unavailable: g.status.unavailable().map(|u| {
                    format!("{} failures in a row; next attempt in {}s. {}", u.failures, u.retry_in.as_secs(), u.reason)
                }),
            });
        }
    }
    Snapshot {
        now_ms: crate::common::now_micros().max(0) as u64 / 1000,
        server: facts.description,
        mpm: facts.mpm_name,
        refresh_seconds: REFRESH_SECONDS,
        groups,
    }
}
