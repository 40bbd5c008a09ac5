//! What a daemon process may use, as the options set it: `umask=` (the
//! mode of the files the application creates), `stack-size=` (its
//! threads' stacks), `listen-backlog=` (the socket's queue of connections
//! not yet accepted), `memory-limit=` (its data size) and
//! `virtual-memory-limit=` (its address space): an allocation past either
//! is a `MemoryError`, as with mod_wsgi.

mod common;

use std::collections::BTreeMap;

use common::*;

/// Reports, one `key=value` a line: the mode of a file it creates, the
/// stack size of the thread running it (`pthread_getattr_np`) and the
/// soft `RLIMIT_STACK`, the address-space and data-size lines of
/// /proc/self/limits, and
/// what allocating `?alloc=N` bytes gives.
const FACTS_APP: &str = include_str!("apps/daemon_resources/facts.py");

const GIB: u64 = 1 << 30;

/// `limited` sets every option but memory-limit=, `data` that one; `plain` none.
fn server() -> &'static Apache {
    shared!(Apache, {
        ApacheBuilder::new()
            .writable_dir("files")
            .file("scripts/facts.wsgi", FACTS_APP)
            .conf(&format!(
                "WSGIDaemonProcess limited threads=2 umask=0077 stack-size=524288 listen-backlog=37 \
                 virtual-memory-limit={GIB}\n\
                 WSGIDaemonProcess data threads=2 memory-limit={GIB}\n\
                 WSGIDaemonProcess plain threads=2\n\
                 WSGIScriptAlias /limited {{root}}/scripts/facts.wsgi process-group=limited\n\
                 WSGIScriptAlias /data {{root}}/scripts/facts.wsgi process-group=data\n\
                 WSGIScriptAlias /plain {{root}}/scripts/facts.wsgi process-group=plain"
            ))
            .start()
    })
}

fn facts(path: &str) -> BTreeMap<String, String> {
    let apache = server();
    let mark = apache.log_mark();
    let resp = apache.get(path);
    apache.assert_status(&resp, 200, mark);
    resp.text().lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn number(facts: &BTreeMap<String, String>, key: &str) -> i64 {
    facts[key].parse().unwrap_or_else(|_| panic!("{key}: {facts:?}"))
}

#[test]
fn umask_sets_the_mode_of_files_the_application_creates() {
    assert_eq!(facts("/limited")["mode"], "0600");
    // Without it, the umask Apache was started with: this process's.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let umask = status.lines().find_map(|l| l.strip_prefix("Umask:")).unwrap().trim();
    let umask = u32::from_str_radix(umask, 8).unwrap();
    assert_ne!(umask, 0o077, "the test needs another umask than the option's");
    assert_eq!(facts("/plain")["mode"], format!("{:04o}", 0o666 & !umask));
}

#[test]
fn stack_size_sets_the_request_threads_stacks() {
    let limited = facts("/limited");
    let stack = number(&limited, "stack");
    assert!((512 * 1024..=576 * 1024).contains(&stack), "stack-size=524288 gave a {stack}-byte stack");
    // Without it, the C library's default for new threads, as for
    // mod_wsgi's threads: the soft RLIMIT_STACK.
    let plain = facts("/plain");
    let (stack, rlimit) = (number(&plain, "stack"), number(&plain, "rlimit_stack"));
    assert!(rlimit > 0 && (stack - rlimit).abs() <= 64 * 1024, "default stack {stack}, RLIMIT_STACK {rlimit}");
}

/// Send-Q of a listening UNIX socket, as `ss` shows it, is its backlog.
#[test]
fn listen_backlog_is_the_daemon_sockets_queue_length() {
    let apache = server();
    facts("/limited");
    let out = std::process::Command::new("ss").args(["-lxn"]).output().expect("ss");
    // wsgi.PID.GENERATION.ID.sock, wherever the socket prefix puts it.
    let ours = format!("/wsgi.{}.", apache.parent_pid());
    let mut backlogs: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&ours) && l.contains(".sock"))
        .filter_map(|l| l.split_whitespace().nth(3)?.parse().ok())
        .collect();
    backlogs.sort();
    // mod_wsgi's default is 100 (groups data and plain).
    assert_eq!(backlogs, [37, 100, 100], "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn virtual_memory_limit_caps_the_address_space() {
    let limited = facts("/limited?alloc=2147483648");
    assert_eq!(limited["address_space"], format!("{GIB} {GIB}"));
    assert_eq!(limited["alloc"], "MemoryError");
    // Within the limit, allocations succeed.
    assert_eq!(facts("/limited?alloc=16777216")["alloc"], "ok");
    assert_eq!(facts("/plain")["address_space"], "unlimited unlimited");
}

/// mod_wsgi sets `RLIMIT_DATA`: the process is not recycled, its
/// allocations past the limit fail.
#[test]
fn memory_limit_caps_the_data_size() {
    let data = facts("/data?alloc=2147483648");
    assert_eq!(data["data_size"], format!("{GIB} {GIB}"));
    assert_eq!(data["address_space"], "unlimited unlimited");
    assert_eq!(data["alloc"], "MemoryError");
    assert_eq!(facts("/data?alloc=16777216")["alloc"], "ok");
    assert_eq!(facts("/plain")["data_size"], "unlimited unlimited");
}
