//! `WSGIDaemonProcess ... threads=0`: mod_wsgi's managed-process mode. The
//! process serves no requests and runs its `WSGIImportScript` (in
//! `%{GLOBAL}`) as a never-ending task; when the process is told to stop
//! the script gets `SystemExit`, and a script that returns is replaced.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// Writes `beat-<pid>` every 0.1 s; on SystemExit writes `stopped-<pid>`.
/// With `once`, returns after 0.3 s instead of looping.
fn service(out: &Path, once: bool) -> String {
    format!(
        r#"import os, time
OUT = {out:?}
pid = os.getpid()
try:
    end = time.time() + (0.3 if {once} else 1e9)
    while time.time() < end:
        with open(os.path.join(OUT, 'beat-%d' % pid), 'w') as f:
            f.write(str(time.time()))
        time.sleep(0.1)
except SystemExit:
    with open(os.path.join(OUT, 'stopped-%d' % pid), 'w') as f:
        f.write('SystemExit')
    raise
"#,
        out = out.display().to_string(),
        once = if once { "True" } else { "False" }
    )
}

fn builder(once: bool) -> ApacheBuilder {
    let b = ApacheBuilder::new().writable_dir("out");
    let script = service(&b.root().join("out"), once);
    b.file("service/task.py", script).conf(
        "WSGIDaemonProcess svc threads=0 display-name=%{GROUP}\n\
         WSGIImportScript {root}/service/task.py process-group=svc application-group=%{GLOBAL}",
    )
}

/// The pids that wrote `prefix-<pid>` files so far.
fn writers(root: &Path, prefix: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_dir(root.join("out"))
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.strip_prefix(prefix)?.parse().ok()).collect())
        .unwrap_or_default();
    pids.sort();
    pids
}

#[test]
fn the_import_script_runs_as_a_task_and_gets_system_exit_on_stop() {
    let apache = builder(false).start();
    let mut beating = Vec::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            beating = writers(apache.root(), "beat-");
            !beating.is_empty()
        }),
        "the service script never ran:\n{}",
        apache.error_log()
    );
    let root = apache.root().to_path_buf();
    let started = Instant::now();
    assert!(daemon::stop(&apache), "{}", apache.error_log());
    let took = started.elapsed();
    eprintln!("service process {beating:?} stopped in {took:.2?}");
    assert_eq!(writers(&root, "stopped-"), beating, "SystemExit did not reach the script:\n{}", apache.error_log());
    assert!(took < Duration::from_secs(3), "stop took {took:?}");
}

#[test]
fn a_script_that_returns_is_started_again_in_a_new_process() {
    let apache = builder(true).start();
    let mut pids = Vec::new();
    let replaced = wait_until(Duration::from_secs(10), || {
        pids = writers(apache.root(), "beat-");
        pids.len() >= 2
    });
    eprintln!("service processes: {pids:?}");
    assert!(replaced, "the process was not replaced when its script returned:\n{}", apache.error_log());
}
