//! What a daemon process may use, as the options set it: `umask=` (the
//! mode of the files the application creates), `stack-size=` (its
//! threads' stacks), `listen-backlog=` (the socket's queue of connections
//! not yet accepted) and `virtual-memory-limit=` (its address space: an
//! allocation past it is a `MemoryError`).

mod common;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use common::*;

/// Reports, one `key=value` a line: the mode of a file it creates, the
/// stack size of the thread running it (`pthread_getattr_np`) and the
/// soft `RLIMIT_STACK`, the address-space line of /proc/self/limits, and
/// what allocating `?alloc=N` bytes gives.
const FACTS_APP: &str = r#"import ctypes, os, resource, uuid

libc = ctypes.CDLL(None)
libc.pthread_self.restype = ctypes.c_ulong

def thread_stack_size():
    attr = ctypes.create_string_buffer(128)
    if libc.pthread_getattr_np(ctypes.c_ulong(libc.pthread_self()), attr) != 0:
        return -1
    addr, size = ctypes.c_void_p(), ctypes.c_size_t()
    libc.pthread_attr_getstack(attr, ctypes.byref(addr), ctypes.byref(size))
    libc.pthread_attr_destroy(attr)
    return size.value

def address_space():
    with open('/proc/self/limits') as f:
        line = next(l for l in f if l.startswith('Max address space'))
    return ' '.join(line.split()[3:5])

def allocate(n):
    try:
        block = bytearray(n)
    except MemoryError:
        return 'MemoryError'
    del block
    return 'ok'

def application(environ, start_response):
    path = os.path.join(os.path.dirname(__file__), '..', 'files', uuid.uuid4().hex)
    with open(path, 'w') as f:
        f.write('x')
    facts = {
        'mode': '%04o' % (os.stat(path).st_mode & 0o777),
        'stack': thread_stack_size(),
        'rlimit_stack': resource.getrlimit(resource.RLIMIT_STACK)[0],
        'address_space': address_space(),
    }
    query = environ.get('QUERY_STRING', '')
    if query.startswith('alloc='):
        facts['alloc'] = allocate(int(query[6:]))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [''.join('%s=%s\n' % kv for kv in facts.items()).encode()]
"#;

const GIB: u64 = 1 << 30;

/// `limited` sets every option; `plain` none.
fn server() -> &'static Apache {
    static SERVER: LazyLock<Apache> = LazyLock::new(|| {
        ApacheBuilder::new()
            .writable_dir("files")
            .file("scripts/facts.wsgi", FACTS_APP)
            .conf(&format!(
                "WSGIDaemonProcess limited threads=2 umask=0077 stack-size=524288 listen-backlog=37 \
                 virtual-memory-limit={GIB}\n\
                 WSGIDaemonProcess plain threads=2\n\
                 WSGIScriptAlias /limited {{root}}/scripts/facts.wsgi process-group=limited\n\
                 WSGIScriptAlias /plain {{root}}/scripts/facts.wsgi process-group=plain"
            ))
            .start()
    });
    &SERVER
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
    // mod_wsgi's default is 100.
    assert_eq!(backlogs, [37, 100], "{}", String::from_utf8_lossy(&out.stdout));
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
