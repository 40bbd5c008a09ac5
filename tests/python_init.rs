//! Python initialisation directives (issue 4): `WSGIPythonPath` (with `.pth`
//! files), `WSGIPythonHome` (a virtualenv, and one that does not exist),
//! `WSGIPythonOptimize`, `WSGIRestrictEmbedded`, `WSGIImportScript`, and the
//! `mod_wsgi` module seen from an application. Each test starts its own
//! server, because these are server-wide settings.
//!
//! Most of them are about embedded mode, and run their applications in the
//! Apache children whatever MOD_WSGI_RS_TEST_MODE says: `WSGIPythonPath`
//! applies only there (daemons have `python-path=`), and so do
//! `WSGIRestrictEmbedded`, `WSGIImportScript ... process-group=%{GLOBAL}`
//! and what the `mod_wsgi` module says of an Apache child. The
//! `WSGIPythonHome` and `WSGIPythonOptimize` tests hold in both modes.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;

/// Parses `key=value` lines; panics (showing the response) unless a 200.
fn kv(resp: &Response) -> BTreeMap<String, String> {
    assert_eq!(resp.status, 200, "app failed:\n{resp:?}");
    resp.text().lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn get_kv(apache: &Apache, path: &str) -> BTreeMap<String, String> {
    let mark = apache.log_mark();
    let resp = apache.get(path);
    apache.assert_status(&resp, 200, mark);
    kv(&resp)
}

/// Answers with `key=value` lines computed by `{body}`, Python code that
/// fills the list `out` with (key, value) pairs.
fn kv_app(body: &str) -> String {
    let body: String = body.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "import sys, os\n\
         def application(environ, start_response):\n    out = []\n{body}    \
         text = ''.join('%s=%s\\n' % (k, v) for k, v in out).encode('utf-8')\n    \
         start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(text)))])\n    \
         return [text]\n"
    )
}

const CRASH_SIGNS: &[&str] = &["exit signal", "Fatal Python error", "Segmentation", "panicked"];

fn assert_no_crash_lines(log: &str) {
    for sign in CRASH_SIGNS {
        assert!(!log.contains(sign), "error_log contains {sign:?}:\n{log}");
    }
}

/// Embedded mode: daemons take their path from `python-path=`.
#[test]
fn python_path_entries_are_site_dirs_so_pth_files_work() {
    let b = ApacheBuilder::new().embedded_only();
    let root = b.root().display().to_string();
    let apache = b
        .file("pylib/extra.pth", format!("# a comment\n{root}/pth-target\n"))
        .file("pylib/in_pylib.py", "WHERE = 'pylib'\n")
        .file("pylib2/in_pylib2.py", "WHERE = 'pylib2'\n")
        .file("pth-target/from_pth.py", "WHERE = 'pth-target'\n")
        .file(
            "wsgi/path.wsgi",
            kv_app(
                "import in_pylib, in_pylib2, from_pth\n\
                 out.append(('path', '|'.join(sys.path)))\n\
                 out.append(('imports', ','.join(m.WHERE for m in (in_pylib, in_pylib2, from_pth))))",
            ),
        )
        .conf("WSGIPythonPath {root}/pylib:{root}/pylib2\nWSGIScriptAlias /path {root}/wsgi/path.wsgi")
        .start();
    let r = get_kv(&apache, "/path");
    assert_eq!(r["imports"], "pylib,pylib2,pth-target");
    let path: Vec<&str> = r["path"].split('|').collect();
    for entry in [format!("{root}/pylib"), format!("{root}/pylib2"), format!("{root}/pth-target")] {
        assert!(path.contains(&entry.as_str()), "{entry} not in sys.path: {path:?}");
    }
}

#[test]
fn python_home_at_a_virtualenv_makes_its_packages_importable() {
    let venv = common::venv::get();
    let home = venv.path.display().to_string();
    let apache = ApacheBuilder::new()
        .file(
            "wsgi/venv.wsgi",
            kv_app(
                "import django, flask, numpy, importlib.metadata\n\
                 out.append(('prefix', sys.prefix))\n\
                 out.append(('base_prefix', sys.base_prefix))\n\
                 out.append(('django', django.__file__))\n\
                 out.append(('flask', importlib.metadata.version('flask')))\n\
                 out.append(('numpy', numpy.__file__))",
            ),
        )
        .conf(&format!("WSGIPythonHome {home}\nWSGIScriptAlias /venv {{root}}/wsgi/venv.wsgi"))
        .start();
    let r = get_kv(&apache, "/venv");
    assert_eq!(r["prefix"], home, "{r:?}");
    assert_eq!(r["base_prefix"], "/usr", "{r:?}");
    let site = venv.site_packages().display().to_string();
    assert!(r["django"].starts_with(&site), "{r:?}");
    assert!(r["numpy"].starts_with(&site), "{r:?}");
    assert!(!r["flask"].is_empty(), "{r:?}");
}

/// Embedded mode: the Apache children keep serving (500s), never
/// replaced. (A daemon group's start-up failure is `fault_startup.rs`.)
#[test]
fn a_python_home_that_does_not_exist_is_one_clear_error_not_a_crash_loop() {
    let apache = ApacheBuilder::new()
        .embedded_only()
        .file("wsgi/hello.wsgi", apps::HELLO_WORLD)
        .conf(
            "StartServers 1\nServerLimit 1\nThreadsPerChild 25\nMaxRequestWorkers 25\n\
             MinSpareThreads 1\nMaxSpareThreads 50\n\
             WSGIPythonHome /nonexistent/python-home\nWSGIScriptAlias /hello {root}/wsgi/hello.wsgi",
        )
        .start();
    let children = apache.child_pids();
    for _ in 0..5 {
        let mark = apache.log_mark();
        let resp = apache.get("/hello");
        apache.assert_status(&resp, 500, mark);
    }
    std::thread::sleep(Duration::from_secs(2));
    let mark = apache.log_mark();
    apache.assert_status(&apache.get("/hello"), 500, mark);
    let log = apache.error_log();
    assert_no_crash_lines(&log);
    assert!(
        log.lines().any(|l| l.contains("WSGIPythonHome") && l.contains("/nonexistent/python-home")),
        "no error line naming WSGIPythonHome and the path:\n{log}"
    );
    assert_eq!(apache.child_pids(), children, "children were replaced (a crash loop?):\n{log}");
}

#[test]
fn python_optimize_one_sets_the_flag_and_strips_asserts() {
    let apache = ApacheBuilder::new()
        .file(
            "wsgi/opt.wsgi",
            kv_app(
                "out.append(('optimize', sys.flags.optimize))\n\
                 out.append(('debug', __debug__))\n\
                 try:\n    assert False\n    out.append(('asserts', 'stripped'))\n\
                 except AssertionError:\n    out.append(('asserts', 'kept'))",
            ),
        )
        .conf("WSGIPythonOptimize 1\nWSGIScriptAlias /opt {root}/wsgi/opt.wsgi")
        .start();
    let r = get_kv(&apache, "/opt");
    assert_eq!(r["optimize"], "1", "{r:?}");
    assert_eq!(r["debug"], "False", "{r:?}");
    assert_eq!(r["asserts"], "stripped", "{r:?}");
}

#[test]
fn restrict_embedded_refuses_embedded_requests_but_not_daemon_ones() {
    let apache = ApacheBuilder::new()
        .embedded_only()
        .file("wsgi/hello.wsgi", apps::HELLO_WORLD)
        .conf(
            r#"
WSGIRestrictEmbedded On
WSGIDaemonProcess restricted processes=1 threads=2
WSGIScriptAlias /embedded {root}/wsgi/hello.wsgi
WSGIScriptAlias /daemon {root}/wsgi/hello.wsgi
<Location /daemon>
    WSGIProcessGroup restricted
</Location>
"#,
        )
        .start();
    let mark = apache.log_mark();
    let resp = apache.get("/embedded");
    apache.assert_status(&resp, 500, mark);
    assert!(
        apache.wait_for_log_since(
            mark,
            "Embedded mode of mod_wsgi disabled by runtime configuration",
            Duration::from_secs(5)
        ),
        "no log line saying embedded mode is disabled:\n{}",
        apache.log_since(mark)
    );
    let mark = apache.log_mark();
    let resp = apache.get("/daemon");
    apache.assert_status(&resp, 200, mark);
    assert_eq!(resp.text(), "Hello World!");
}

/// Puts a module into `sys.modules` of the interpreter it is loaded in.
const STARTUP_SCRIPT: &str = include_str!("apps/python_init/startup_script.py");

const STARTUP_PROBE: &str = "import time, mod_wsgi\n\
    m = sys.modules.get('startup_marker')\n\
    out.append(('group', mod_wsgi.application_group))\n\
    out.append(('marker', m is not None))\n\
    out.append(('same_pid', m is not None and m.pid == os.getpid()))\n\
    out.append(('loaded_before', m is not None and m.loaded_at < time.time()))";

/// Embedded mode: the scripts load in the Apache children.
fn import_script_server(module: Module) -> Apache {
    ApacheBuilder::new()
        .embedded_only()
        .module(module)
        .file("wsgi/startup.py", STARTUP_SCRIPT)
        .file("wsgi/probe.wsgi", kv_app(STARTUP_PROBE))
        .conf(
            r#"
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
MinSpareThreads 1
MaxSpareThreads 50
WSGIImportScript {root}/wsgi/startup.py process-group=%{GLOBAL} application-group=%{GLOBAL}
WSGIImportScript {root}/wsgi/startup.py process-group=%{GLOBAL} application-group=preloaded
WSGIScriptAlias /global {root}/wsgi/probe.wsgi
WSGIScriptAlias /preloaded {root}/wsgi/probe.wsgi
WSGIScriptAlias /other {root}/wsgi/probe.wsgi
<Location /global>
    WSGIApplicationGroup %{GLOBAL}
</Location>
<Location /preloaded>
    WSGIApplicationGroup preloaded
</Location>
<Location /other>
    WSGIApplicationGroup other
</Location>
"#,
        )
        .start()
}

fn check_import_script(module: Module) {
    let apache = import_script_server(module);
    let root = apache.root().display().to_string();
    let global_line = format!("process='', application=''): Loading Python script file '{root}/wsgi/startup.py'.");
    let named_line =
        format!("process='', application='preloaded'): Loading Python script file '{root}/wsgi/startup.py'.");
    // Before any request.
    for line in [&global_line, &named_line] {
        assert!(
            apache.wait_for_log(line, Duration::from_secs(10)),
            "{module:?}: no {line:?} at child start:\n{}",
            apache.error_log()
        );
    }
    let access = std::fs::read_to_string(apache.root().join("logs/access_log")).unwrap_or_default();
    assert!(access.is_empty(), "requests were served before the check: {access}");

    let g = get_kv(&apache, "/global");
    assert_eq!(g["group"], "", "{g:?}");
    assert_eq!(g["marker"], "True", "{module:?}: the GLOBAL import script's side effect is missing: {g:?}");
    assert_eq!(g["same_pid"], "True", "{g:?}");
    assert_eq!(g["loaded_before"], "True", "{g:?}");
    let p = get_kv(&apache, "/preloaded");
    assert_eq!(p["group"], "preloaded");
    assert_eq!(p["marker"], "True", "{module:?}: the named group's import script side effect is missing: {p:?}");
    let o = get_kv(&apache, "/other");
    assert_eq!(o["marker"], "False", "{module:?}: another group sees the preloaded interpreters' modules: {o:?}");
    let log = apache.error_log();
    let loads = log.matches(&format!("Loading Python script file '{root}/wsgi/startup.py'")).count();
    assert_eq!(loads, 2, "each import script is loaded once:\n{log}");
    assert_no_crash_lines(&log);
}

#[test]
fn import_script_loads_at_child_start_in_the_named_interpreter() {
    check_import_script(Module::Ours);
}

/// The reference behaviour: Debian's mod_wsgi, same configuration.
#[test]
fn import_script_behaviour_of_debian_mod_wsgi() {
    check_import_script(Module::Debian);
}

#[test]
fn import_script_without_its_options_is_a_configuration_error() {
    let (ok, output) = ApacheBuilder::new().conf("WSGIImportScript {root}/wsgi/startup.py").configtest();
    assert!(!ok, "{output}");
    assert!(output.contains("WSGIImportScript") || output.contains("application group"), "{output}");
    let (ok, output) =
        ApacheBuilder::new().conf("WSGIImportScript {root}/wsgi/startup.py process-group=%{GLOBAL}").configtest();
    assert!(!ok, "application-group= is required too: {output}");
}

const MODULE_PROBE: &str = "import mod_wsgi\n\
    v = mod_wsgi.version\n\
    out.append(('version', repr(v)))\n\
    out.append(('version_ok', type(v) is tuple and len(v) == 3 and all(type(x) is int for x in v)))\n\
    out.append(('process_group', repr(mod_wsgi.process_group)))\n\
    out.append(('application_group', repr(mod_wsgi.application_group)))\n\
    out.append(('environ_application_group', repr(environ['mod_wsgi.application_group'])))\n\
    out.append(('maximum_processes', repr(mod_wsgi.maximum_processes)))\n\
    out.append(('threads_per_process', repr(mod_wsgi.threads_per_process)))\n\
    out.append(('FileWrapper', mod_wsgi.FileWrapper.__name__))\n\
    out.append(('FileWrapper_callable', callable(mod_wsgi.FileWrapper)))\n\
    out.append(('environ_file_wrapper_is_it', environ['wsgi.file_wrapper'] is mod_wsgi.FileWrapper))";

/// Serves `{root}/data.bin` through `mod_wsgi.FileWrapper`.
const FILE_WRAPPER_APP: &str = include_str!("apps/python_init/file_wrapper.py");

fn data_bin() -> Vec<u8> {
    (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// Embedded mode: the module describes an Apache child.
fn module_server(module: Module) -> Apache {
    ApacheBuilder::new()
        .embedded_only()
        .module(module)
        .mpm(Mpm::Event)
        .conf("StartServers 2\nServerLimit 2\nThreadsPerChild 10\nMaxRequestWorkers 20\nMinSpareThreads 1\nMaxSpareThreads 40")
        .file("wsgi/module.wsgi", kv_app(MODULE_PROBE))
        .file("wsgi/fw.wsgi", FILE_WRAPPER_APP)
        .file("data.bin", data_bin())
        .conf("WSGIScriptAlias /module {root}/wsgi/module.wsgi\nWSGIScriptAlias /fw {root}/wsgi/fw.wsgi")
        .start()
}

#[test]
fn the_mod_wsgi_module_describes_the_process() {
    let apache = module_server(Module::Ours);
    let port = apache.port();
    let r = get_kv(&apache, "/module");
    assert_eq!(r["version_ok"], "True", "version must be a tuple of 3 ints: {r:?}");
    assert_eq!(r["process_group"], "''");
    assert_eq!(r["application_group"], format!("'127.0.0.1:{port}|/module'"));
    assert_eq!(r["environ_application_group"], r["application_group"]);
    assert_eq!(r["threads_per_process"], "10", "ThreadsPerChild: {r:?}");
    // ServerLimit 2 (MaxRequestWorkers / ThreadsPerChild). Debian's module
    // asks the MPM for AP_MPMQ_MAX_DAEMON_USED, the number of scoreboard
    // slots used when the child was forked: 1 in the first child here.
    assert_eq!(r["maximum_processes"], "2", "{r:?}");
    assert_eq!(r["FileWrapper"], "FileWrapper");
    assert_eq!(r["FileWrapper_callable"], "True");
    assert_eq!(r["environ_file_wrapper_is_it"], "True", "{r:?}");

    // Everything but the version, maximum_processes (see above) and the
    // port equals Debian's mod_wsgi.
    let debian = module_server(Module::Debian);
    let d = get_kv(&debian, "/module");
    let normalise = |m: &BTreeMap<String, String>, port: u16| -> BTreeMap<String, String> {
        m.iter()
            .filter(|(k, _)| !["version", "maximum_processes"].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.replace(&port.to_string(), "{port}")))
            .collect()
    };
    assert_eq!(normalise(&r, port), normalise(&d, debian.port()), "ours vs Debian's mod_wsgi");
}

#[test]
fn file_wrapper_serves_a_file() {
    let apache = module_server(Module::Ours);
    let mark = apache.log_mark();
    let resp = apache.get("/fw");
    apache.assert_status(&resp, 200, mark);
    assert_eq!(resp.body.len(), 100_000);
    assert!(resp.body == data_bin(), "the body differs from the file");
}
