//! Apache's scoreboard, read for `mod_wsgi.server_metrics()`, and the
//! server facts the `apache` Python module describes.

use crate::common::server_facts::{ApacheFacts, ScoreProcess, ScoreWorker, Scoreboard};
use crate::ffi;
use std::ffi::{CStr, c_char};

/// mod_status's letter for each `SERVER_*` state, by number.
const STATUS_LETTERS: &[u8; 11] = b"._SRWKLDCGI";

/// A fixed-size, NUL-padded C string field.
fn field(chars: &[c_char]) -> String {
    let bytes: Vec<u8> = chars.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The scoreboard as mod_wsgi's `server_metrics()` lists it, when this
/// process can see one (Apache children, and daemons started after it).
pub fn read() -> Option<Scoreboard> {
    // SAFETY: the scoreboard is shared memory Apache maps before it forks
    // children (and daemons, which start after it exists); the pointers it
    // returns stay valid for the process. Worker records are copied out.
    unsafe {
        if ffi::ap_exists_scoreboard_image() == 0 || ffi::ap_scoreboard_image.is_null() {
            return None;
        }
        let global = ffi::ap_get_scoreboard_global();
        if global.is_null() {
            return None;
        }
        let g = &*global;
        let mut board = Scoreboard {
            server_limit: g.server_limit,
            thread_limit: g.thread_limit,
            running_generation: g.running_generation,
            restart_time_us: g.restart_time,
            processes: Vec::with_capacity(g.server_limit.max(0) as usize),
        };
        for i in 0..g.server_limit {
            let p = ffi::ap_get_scoreboard_process(i);
            if p.is_null() {
                continue;
            }
            let p = &*p;
            let mut process = ScoreProcess {
                pid: p.pid,
                generation: p.generation,
                quiescing: p.quiescing != 0,
                workers: Vec::with_capacity(g.thread_limit.max(0) as usize),
            };
            for j in 0..g.thread_limit {
                let mut w: ffi::worker_score = std::mem::zeroed();
                ffi::ap_copy_scoreboard_worker(&mut w, i, j);
                let client = if w.client64[0] != 0 { field(&w.client64) } else { field(&w.client) };
                process.workers.push(ScoreWorker {
                    thread_num: w.thread_num,
                    generation: w.generation,
                    status: STATUS_LETTERS.get(w.status as usize).map_or('?', |&c| c as char),
                    access_count: w.access_count as u64,
                    bytes_served: w.bytes_served.max(0) as u64,
                    start_time_us: w.start_time,
                    stop_time_us: w.stop_time,
                    last_used_us: w.last_used,
                    client,
                    request: field(&w.request),
                    vhost: field(&w.vhost),
                });
            }
            board.processes.push(process);
        }
        Some(board)
    }
}

/// Whether the scoreboard exists yet (it is made just before the MPM
/// starts its children, after the configuration is read).
pub fn exists() -> bool {
    // SAFETY: reads a global pointer.
    unsafe { !ffi::ap_scoreboard_image.is_null() }
}

fn text(p: *const c_char) -> String {
    // SAFETY: Apache returns static strings (or null).
    if p.is_null() { String::new() } else { unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned() }
}

fn mpm_limit(code: u32) -> u32 {
    crate::apache::request::Request::mpm_query(code).max(1) as u32
}

/// The server as the `apache` module describes it; read in the parent.
pub fn apache_facts() -> ApacheFacts {
    // SAFETY: static strings of the server and the shim.
    let (version, description, mpm, built) = unsafe {
        (
            text(ffi::wsgi_shim_server_version()),
            text(ffi::ap_get_server_description()),
            text(ffi::ap_show_mpm()),
            text(ffi::ap_get_server_built()),
        )
    };
    let mut parts = version.split('.').map(|p| p.trim().parse::<u32>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    ApacheFacts {
        version: (next(), next(), next()),
        description,
        mpm_name: mpm,
        build_date: built,
        maximum_processes: mpm_limit(ffi::AP_MPMQ_MAX_DAEMONS),
        threads_per_process: mpm_limit(ffi::AP_MPMQ_MAX_THREADS),
    }
}
