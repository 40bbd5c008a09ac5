//! Process-wide Python settings (issue 13): `WSGIPythonHome`,
//! `WSGIPythonOptimize`, `WSGIDontWriteBytecode`, `WSGIPythonWarnings`,
//! `WSGIPythonHashSeed` and `WSGIRestrictStdin/Stdout/Signal` act in every
//! process that runs Python, as in mod_wsgi 4.9: Apache children (embedded
//! mode) and daemon processes alike.
//!
//! Each test starts its own server (these are server-wide settings) with
//! the same probe application served in both modes, `/embedded` and
//! `/daemon` (and, where the interpreter matters, in the main interpreter
//! too), so one run covers both whatever `MOD_WSGI_RS_TEST_MODE` says.
//! Every expected value here was first read from Debian's mod_wsgi 4.9.4
//! (`MOD_WSGI_RS_TEST_MODULE=debian` runs these tests against it).

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::*;

/// Daemon group the `/daemon*` URLs are delegated to.
const GROUP: &str = "settings";

/// The probe in a sub-interpreter (the default application group) of an
/// Apache child and of a daemon process.
const SUB_INTERPRETERS: &[&str] = &["/embedded", "/daemon"];
/// The same, and in the main interpreter (`%{GLOBAL}`) of each.
const EVERY_INTERPRETER: &[&str] = &["/embedded", "/daemon", "/embedded-global", "/daemon-global"];

/// Answers with `key=value` lines: facts about the process, and `{extra}`
/// (Python code that appends (key, value) pairs to `out`). `attempt(f)`
/// returns `ok:<repr of result>` or `<exception type>:<message>`.
fn probe(extra: &str) -> String {
    let extra: String = extra.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        r#"import io, os, signal, sys, warnings

def attempt(f):
    try:
        return 'ok:%r' % (f(),)
    except BaseException as e:
        return '%s:%s' % (type(e).__name__, e)

def type_name(o):
    return '%s.%s' % (type(o).__module__, type(o).__qualname__)

def application(environ, start_response):
    out = []
    out.append(('pid', os.getpid()))
    out.append(('prefix', sys.prefix))
    out.append(('optimize', sys.flags.optimize))
    out.append(('debug', __debug__))
    out.append(('dont_write_bytecode', sys.dont_write_bytecode))
    out.append(('warnoptions', sys.warnoptions))
    out.append(('hash', hash('x')))
    out.append(('hash_randomization', sys.flags.hash_randomization))
    out.append(('PYTHONHASHSEED', os.environ.get('PYTHONHASHSEED')))
{extra}    text = ''.join('%s=%s\n' % kv for kv in out).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(text)))])
    return [text]
"#
    )
}

/// A server answering `probe(extra)` at every URL of [`EVERY_INTERPRETER`],
/// with `conf` (server-wide directives) after the rest.
fn server_with(b: ApacheBuilder, conf: &str, extra: &str) -> Apache {
    b.embedded_only()
        .file("wsgi/probe.wsgi", probe(extra))
        .conf(&format!(
            r#"
StartServers 1
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
WSGIDaemonProcess {GROUP} processes=1 threads=4 connect-timeout=3
WSGIScriptAlias /embedded-global {{root}}/wsgi/probe.wsgi
WSGIScriptAlias /daemon-global {{root}}/wsgi/probe.wsgi
WSGIScriptAlias /embedded {{root}}/wsgi/probe.wsgi
WSGIScriptAlias /daemon {{root}}/wsgi/probe.wsgi
<Location /daemon>
    WSGIProcessGroup {GROUP}
</Location>
<Location /daemon-global>
    WSGIProcessGroup {GROUP}
</Location>
<Location /embedded-global>
    WSGIApplicationGroup %{{GLOBAL}}
</Location>
<Location /daemon-global>
    WSGIApplicationGroup %{{GLOBAL}}
</Location>
"#
        ))
        .conf(conf)
        .start()
}

fn server(conf: &str, extra: &str) -> Apache {
    server_with(ApacheBuilder::new(), conf, extra)
}

/// The probe's answer at `path` (a 200, or the test fails with the log).
fn get_kv(apache: &Apache, path: &str) -> BTreeMap<String, String> {
    let mark = apache.log_mark();
    let resp = apache.get(path);
    apache.assert_status(&resp, 200, mark);
    resp.text().lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `hash('x')` in `/usr/bin/python3.11` started with `PYTHONHASHSEED=seed`.
fn python_hash_with_seed(seed: &str) -> String {
    let out = Command::new(venv::PYTHON)
        .args(["-c", "print(hash('x'))"])
        .env("PYTHONHASHSEED", seed)
        .output()
        .expect("run python3.11");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn python_home_applies_to_daemons_without_python_home() {
    let b = ApacheBuilder::new();
    let root = b.root().to_path_buf();
    let shared = venv::bare(&root.join("venv"));
    std::fs::write(shared.site_packages().join("only_in_venv.py"), "WHERE = 'venv'\n").unwrap();
    let own = venv::bare(&root.join("own-venv"));
    std::fs::write(own.site_packages().join("only_in_venv.py"), "WHERE = 'own-venv'\n").unwrap();
    let apache = server_with(
        b.conf(&format!("WSGIDaemonProcess own processes=1 threads=2 python-home={}", own.path.display())).conf(
            "WSGIScriptAlias /own {root}/wsgi/probe.wsgi\n<Location /own>\n    WSGIProcessGroup own\n</Location>",
        ),
        &format!("WSGIPythonHome {}", shared.path.display()),
        "out.append(('base_prefix', sys.base_prefix))\n\
         out.append(('imported', attempt(lambda: __import__('only_in_venv').WHERE)))",
    );
    for path in EVERY_INTERPRETER {
        let r = get_kv(&apache, path);
        assert_eq!(r["prefix"], shared.path.display().to_string(), "{path}: {r:?}");
        assert_eq!(r["base_prefix"], "/usr", "{path}: {r:?}");
        assert_eq!(r["imported"], "ok:'venv'", "{path}: {r:?}");
    }
    // A daemon's own python-home= wins over WSGIPythonHome.
    let r = get_kv(&apache, "/own");
    assert_eq!(r["prefix"], own.path.display().to_string(), "{r:?}");
    assert_eq!(r["imported"], "ok:'own-venv'", "{r:?}");
}

#[test]
fn python_optimize_reaches_both_modes() {
    let apache = server(
        "WSGIPythonOptimize 2",
        "def documented():\n    'a docstring'\n\
         out.append(('docstring', documented.__doc__))",
    );
    for path in SUB_INTERPRETERS {
        let r = get_kv(&apache, path);
        assert_eq!(r["optimize"], "2", "{path}: {r:?}");
        assert_eq!(r["debug"], "False", "{path}: {r:?}");
        assert_eq!(r["docstring"], "None", "-OO strips docstrings; {path}: {r:?}");
    }
}

#[test]
fn dont_write_bytecode_reaches_both_modes() {
    let apache = server_with(
        ApacheBuilder::new()
            .writable_dir("pylib")
            .file("pylib/bc_embedded.py", "X = 1\n")
            .file("pylib/bc_daemon.py", "X = 1\n"),
        "WSGIDontWriteBytecode On",
        "lib = os.path.join(os.path.dirname(__file__), '..', 'pylib')\n\
         if lib not in sys.path:\n    sys.path.insert(0, lib)\n\
         name = 'bc_' + environ['SCRIPT_NAME'].strip('/')\n\
         out.append(('imported', attempt(lambda: __import__(name).__file__)))",
    );
    for path in SUB_INTERPRETERS {
        let r = get_kv(&apache, path);
        assert_eq!(r["dont_write_bytecode"], "True", "{path}: {r:?}");
        assert!(r["imported"].starts_with("ok:"), "{path}: {r:?}");
    }
    let cache = apache.root().join("pylib/__pycache__");
    let written: Vec<_> =
        std::fs::read_dir(&cache).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(written.is_empty(), "bytecode was written to {}: {written:?}", cache.display());
}

#[test]
fn python_warnings_reach_both_modes_in_order() {
    let apache = server(
        "WSGIPythonWarnings error\nWSGIPythonWarnings ignore::DeprecationWarning",
        "out.append(('user_warning', attempt(lambda: warnings.warn('w', UserWarning))))\n\
         out.append(('deprecation', attempt(lambda: warnings.warn('d', DeprecationWarning))))",
    );
    for path in EVERY_INTERPRETER {
        let r = get_kv(&apache, path);
        assert_eq!(r["warnoptions"], "['error', 'ignore::DeprecationWarning']", "{path}: {r:?}");
        assert_eq!(r["user_warning"], "UserWarning:w", "'error' makes warnings exceptions; {path}: {r:?}");
        assert_eq!(r["deprecation"], "ok:None", "the later filter wins for its category; {path}: {r:?}");
    }
}

#[test]
fn python_hash_seed_gives_the_same_hashes_in_every_process_and_after_a_restart() {
    let expected = python_hash_with_seed("12345");
    assert_ne!(expected, python_hash_with_seed("999"));
    // A PYTHONHASHSEED in Apache's environment loses to the directive and
    // is not passed on to applications (or their subprocesses).
    let apache = server_with(ApacheBuilder::new().env("PYTHONHASHSEED", "999"), "WSGIPythonHashSeed 12345", "");
    let mut pids = Vec::new();
    for round in ["first", "after a graceful restart"] {
        for path in EVERY_INTERPRETER {
            let r = get_kv(&apache, path);
            assert_eq!(r["hash"], expected, "{round}, {path}: {r:?}");
            assert_eq!(r["hash_randomization"], "1", "{round}, {path}: {r:?}");
            assert_eq!(r["PYTHONHASHSEED"], "None", "{round}, {path}: {r:?}");
            pids.push(r["pid"].clone());
        }
        if round == "first" {
            apache.restart_graceful();
        }
    }
    let (before, after) = pids.split_at(EVERY_INTERPRETER.len());
    assert!(before.iter().all(|p| !after.contains(p)), "the restart kept processes: {pids:?}");
}

/// What the probe says about the standard streams and `signal.signal`.
const STREAMS: &str = include_str!("apps/python_settings/streams.py");

#[test]
fn by_default_stdin_and_stdout_are_usable_and_signal_registration_is_ignored() {
    let apache = server("", STREAMS);
    for path in EVERY_INTERPRETER {
        let token = unique_token("default");
        let mark = apache.log_mark();
        let r = get_kv(&apache, &format!("{path}?{token}"));
        // Left as Python made it: fd 0 is /dev/null in Apache's processes.
        assert_eq!(r["stdin_type"], "_io.TextIOWrapper", "{path}: {r:?}");
        assert_eq!(r["stdin_read"], "ok:''", "{path}: {r:?}");
        assert_eq!(r["stdin_fileno"], "ok:0", "{path}: {r:?}");
        // stdout and stderr: text streams into the error log.
        for (stream, name) in [("stdout", "<stdout>"), ("stderr", "<stderr>")] {
            assert_eq!(r[&format!("{stream}_type")], "_io.TextIOWrapper", "{path}: {r:?}");
            assert_eq!(r[&format!("{stream}_repr")], format!("<_io.TextIOWrapper name='{name}' encoding='utf-8'>"));
            assert_eq!(r[&format!("{stream}_is_text")], "ok:True", "{path}: {r:?}");
        }
        let n = token.len() + 8;
        assert_eq!(r["stdout_write"], format!("ok:{n}"), "{path}: {r:?}");
        assert_eq!(r["print"], "ok:None", "{path}: {r:?}");
        assert_eq!(r["stderr_write"], format!("ok:{n}"), "{path}: {r:?}");
        for line in [format!("stdout-{token}"), format!("print-{token}"), format!("stderr-{token}")] {
            assert!(apache.wait_for_log_since(mark, &line, Duration::from_secs(5)), "{path}: no {line:?} in the log");
        }
        // WSGIRestrictSignal On: the call returns the handler, changes nothing, and says so.
        assert_eq!(r["signal_type"], "mod_wsgi.SignalIntercept", "{path}: {r:?}");
        assert_eq!(r["signal_call"], "ok:True", "{path}: {r:?}");
        assert_eq!(r["getsignal"], "ok:<Handlers.SIG_DFL: 0>", "{path}: {r:?}");
        let warning = format!("mod_wsgi (pid={}): Callback registration for signal 14 ignored.", r["pid"]);
        assert!(apache.wait_for_log_since(mark, &warning, Duration::from_secs(5)), "{path}: no {warning:?}");
        let log = apache.log_since(mark);
        assert!(
            log.lines().any(|l| l.contains("[wsgi:warn]") && l.contains("probe.wsgi\", line ")),
            "{path}: the caller's stack is logged after the warning:\n{log}"
        );
        // Without WSGIPythonHome: the system Python.
        assert_eq!(r["prefix"], "/usr", "{path}: {r:?}");
        assert_eq!(r["optimize"], "0", "{path}: {r:?}");
        assert_eq!(r["dont_write_bytecode"], "False", "{path}: {r:?}");
        assert_eq!(r["warnoptions"], "[]", "{path}: {r:?}");
        assert_eq!(r["hash_randomization"], "1", "{path}: {r:?}");
    }
}

#[test]
fn restricted_stdin_and_stdout_raise_naming_the_stream_and_stderr_still_logs() {
    let apache = server("WSGIRestrictStdin On\nWSGIRestrictStdout On", STREAMS);
    for path in EVERY_INTERPRETER {
        let token = unique_token("restricted");
        let mark = apache.log_mark();
        let r = get_kv(&apache, &format!("{path}?{token}"));
        for (stream, what) in [("stdin", "sys.stdin"), ("stdout", "sys.stdout")] {
            assert_eq!(r[&format!("{stream}_type")], "mod_wsgi.Restricted", "{path}: {r:?}");
            assert_eq!(r[&format!("{stream}_repr")], "<mod_wsgi.Restricted object", "{path}: {r:?}");
            // Every attribute raises, even __class__ (which isinstance reads).
            let refused = format!("OSError:{what} access restricted by mod_wsgi");
            assert_eq!(r[&format!("{stream}_is_text")], refused, "{path}: {r:?}");
        }
        let refused = "OSError:sys.stdin access restricted by mod_wsgi";
        for key in ["stdin_read", "stdin_readline", "stdin_fileno"] {
            assert_eq!(r[key], refused, "{path} {key}: {r:?}");
        }
        assert_eq!(r["stdin_iter"], "TypeError:'mod_wsgi.Restricted' object is not iterable", "{path}: {r:?}");
        assert_eq!(r["stdin_setattr"], "AttributeError:'mod_wsgi.Restricted' object has no attribute 'x'");
        let refused = "OSError:sys.stdout access restricted by mod_wsgi";
        assert_eq!(r["stdout_write"], refused, "{path}: {r:?}");
        assert_eq!(r["print"], refused, "{path}: {r:?}");
        // stderr is still the error log.
        assert_eq!(r["stderr_type"], "_io.TextIOWrapper", "{path}: {r:?}");
        assert_eq!(r["stderr_is_text"], "ok:True", "{path}: {r:?}");
        assert_eq!(r["stderr_encoding"], "ok:'utf-8'", "{path}: {r:?}");
        assert_eq!(r["stderr_write"], format!("ok:{}", token.len() + 8), "{path}: {r:?}");
        let line = format!("stderr-{token}");
        assert!(apache.wait_for_log_since(mark, &line, Duration::from_secs(5)), "{path}: no {line:?} in the log");
        let log = apache.log_since(mark);
        assert!(!log.contains(&format!("stdout-{token}")), "{path}: a refused write was logged:\n{log}");
    }
}

/// Registers a handler for SIGALRM when the process starts (the main
/// thread, main interpreter: the one place Python allows it).
const REGISTER_AT_START: &str = include_str!("apps/python_settings/register_at_start.py");

const SIGNAL_PROBE: &str = r#"out.append(('signal_type', type_name(signal.signal)))
out.append(('startup', sys.modules['startup_signal'].outcome if 'startup_signal' in sys.modules else 'not run'))
h = signal.getsignal(signal.SIGALRM)
out.append(('handler', getattr(h, '__name__', repr(h))))
out.append(('in_request', attempt(lambda: signal.signal(signal.SIGALRM, signal.SIG_DFL))))"#;

fn signal_server(restrict: &str) -> Apache {
    server_with(
        ApacheBuilder::new().file("wsgi/start.py", REGISTER_AT_START),
        &format!(
            "{restrict}\n\
             WSGIImportScript {{root}}/wsgi/start.py process-group=%{{GLOBAL}} application-group=%{{GLOBAL}}\n\
             WSGIImportScript {{root}}/wsgi/start.py process-group={GROUP} application-group=%{{GLOBAL}}"
        ),
        SIGNAL_PROBE,
    )
}

#[test]
fn restrict_signal_on_ignores_registrations_at_start_up_too() {
    let apache = signal_server("WSGIRestrictSignal On");
    for path in ["/embedded-global", "/daemon-global"] {
        let r = get_kv(&apache, path);
        assert_eq!(r["signal_type"], "mod_wsgi.SignalIntercept", "{path}: {r:?}");
        assert_eq!(r["startup"], "ok", "{path}: {r:?}");
        assert_eq!(r["handler"], "<Handlers.SIG_DFL: 0>", "the start-up registration was ignored; {path}: {r:?}");
        assert_eq!(r["in_request"], "ok:<Handlers.SIG_DFL: 0>", "{path}: {r:?}");
        let warning = format!("mod_wsgi (pid={}): Callback registration for signal 14 ignored.", r["pid"]);
        assert!(apache.error_log().contains(&warning), "{path}: no {warning:?}:\n{}", apache.error_log());
    }
}

#[test]
fn restrict_signal_off_lets_the_main_thread_register_handlers() {
    let apache = signal_server("WSGIRestrictSignal Off");
    for path in ["/embedded-global", "/daemon-global"] {
        let r = get_kv(&apache, path);
        assert_eq!(r["signal_type"], "builtins.function", "the standard library's; {path}: {r:?}");
        assert_eq!(r["startup"], "ok", "{path}: {r:?}");
        assert_eq!(r["handler"], "startup_handler", "{path}: {r:?}");
        // Python itself refuses other threads: requests run in those.
        assert_eq!(
            r["in_request"], "ValueError:signal only works in main thread of the main interpreter",
            "{path}: {r:?}"
        );
    }
    for path in SUB_INTERPRETERS {
        let r = get_kv(&apache, path);
        assert_eq!(r["signal_type"], "builtins.function", "the standard library's; {path}: {r:?}");
    }
    let log = apache.error_log();
    assert!(!log.contains("Callback registration for signal"), "nothing is ignored:\n{log}");
}

/// Ours only: Debian's mod_wsgi daemon dies in Python's start-up (a fatal
/// error and the path configuration on stderr) and is forked again and
/// again while requests wait for their timeout (docs/differences.md).
#[test]
fn a_python_home_that_does_not_exist_stops_daemons_starting_with_one_clear_cause() {
    let apache = server_with(ApacheBuilder::new().module(Module::Ours), "WSGIPythonHome /nonexistent/python-home", "");
    let cause = "Python home '/nonexistent/python-home'";
    let mark = apache.log_mark();
    let resp = apache.get("/embedded");
    apache.assert_status(&resp, 500, mark);
    assert!(apache.error_log().contains(cause), "no line naming the home:\n{}", apache.error_log());
    // The daemon cannot start either: the group answers 503 naming why,
    // within connect-timeout, and is not forked in a loop.
    assert!(
        apache.wait_for_log("exited during start-up", Duration::from_secs(10)),
        "no start-up failure logged:\n{}",
        apache.error_log()
    );
    let mark = apache.log_mark();
    let resp = apache.get("/daemon");
    apache.assert_status(&resp, 503, mark);
    let said = apache.log_since(mark);
    assert!(said.contains(cause), "the 503's log line does not name the home:\n{said}");
    let attempts = apache.error_log().matches(&format!("Starting process '{GROUP}'")).count();
    assert!(attempts < 10, "{attempts} start attempts:\n{}", apache.error_log());
}

/// `WSGISwitchInterval` (mod_wsgi 6) sets `sys.getswitchinterval()` in
/// every process; a daemon's `switch-interval=` wins for its group. Debian's
/// mod_wsgi 4.9 has neither (its Apache refuses the directive).
#[test]
fn switch_interval_reaches_both_modes_and_a_daemon_may_set_its_own() {
    if Module::default_for_tests() == Module::Debian {
        eprintln!("mod_wsgi 4.9 has no WSGISwitchInterval: nothing to compare");
        return;
    }
    let apache = server(
        "WSGISwitchInterval 0.002\n\
         WSGIDaemonProcess own switch-interval=0.01\n\
         WSGIScriptAlias /own {root}/wsgi/probe.wsgi process-group=own",
        "out.append(('switch', sys.getswitchinterval()))",
    );
    for (path, want) in [("/embedded", "0.002"), ("/daemon", "0.002"), ("/daemon-global", "0.002"), ("/own", "0.01")] {
        let r = get_kv(&apache, path);
        assert_eq!(r["switch"], want, "{path}: {r:?}");
    }
}

/// `WSGIDestroyInterpreter Off`: Python is left as it is when a process
/// exits, so exit functions do not run; On (the default) runs them.
#[test]
fn destroy_interpreter_off_leaves_exit_functions_unrun_in_both_modes() {
    for (setting, runs) in [("On", true), ("Off", false)] {
        let b = ApacheBuilder::new().writable_dir("out");
        let out = b.root().join("out").display().to_string();
        let apache = server_with(
            b,
            &format!("WSGIDestroyInterpreter {setting}"),
            &format!(
                "import atexit\n\
                 atexit.register(lambda: open('{out}/atexit-%d' % os.getpid(), 'w').close())"
            ),
        );
        let pids: Vec<String> =
            ["/embedded-global", "/daemon-global"].iter().map(|p| get_kv(&apache, p)["pid"].clone()).collect();
        let root = apache.root().to_path_buf();
        assert!(daemon::stop(&apache), "{}", apache.error_log());
        for pid in &pids {
            let ran = root.join(format!("out/atexit-{pid}")).exists();
            assert_eq!(ran, runs, "WSGIDestroyInterpreter {setting}: exit function of {pid}");
        }
    }
}
