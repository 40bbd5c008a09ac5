//! Request-level directives and Apache integration in embedded mode:
//! SetEnv and RewriteRule [E=...] in the environ (never in os.environ),
//! WSGIPassAuthorization, Apache Basic authentication (AUTH_TYPE,
//! REMOTE_USER), WSGIScriptReloading, and the ways Apache reaches a script
//! besides WSGIScriptAlias: mod_rewrite pass-through, MultiViews with
//! MultiviewsMatch Handlers, DirectoryIndex, AddHandler from a .htaccess.
//!
//! The mapping cases run side by side against Debian's mod_wsgi 4.9.4 and
//! must give the same status and the same request variables.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use common::*;

/// Answers with `key=repr(value)` lines for the environ, then one
/// `os.environ:<key>=...` line for each variable that must not leak there.
const ENV_APP: &str = include_str!("apps/request_directives/env.py");

fn conf() -> &'static str {
    r#"SetEnv TEST_SETENV from-setenv
# A name mod_wsgi sets itself: its value wins over SetEnv's.
SetEnv mod_wsgi.listener_port 1
# The mod_wsgi.* variables live in the request's environment table, where a
# log format can show them.
LogFormat "%U group=%{mod_wsgi.process_group}e app=%{mod_wsgi.application_group}e reload=%{mod_wsgi.script_reloading}e port=%{mod_wsgi.listener_port}e" wsgivars
CustomLog {root}/wsgi_vars.log wsgivars
RewriteEngine On
RewriteRule ^/env/rewritten - [E=TEST_REWRITE_ENV:from-rewrite]
# Everything on the host rewrite.test goes to site.wsgi in the document root.
RewriteCond %{HTTP_HOST} ^rewrite\.test$
RewriteCond %{DOCUMENT_ROOT}%{REQUEST_URI} !-f
RewriteRule ^(.*)$ /site.wsgi/$1 [QSA,PT,L]
<Directory {root}/htdocs>
    Options ExecCGI
    AddHandler wsgi-script .wsgi
</Directory>

WSGIScriptAlias /env {root}/scripts/env.wsgi
WSGIScriptAlias /private {root}/scripts/env.wsgi
WSGIScriptAlias /privatepass {root}/scripts/env.wsgi
<Location /private>
    AuthType Basic
    AuthName "mod_wsgi-rs tests"
    AuthUserFile {root}/htpasswd
    Require valid-user
</Location>
<Location /privatepass>
    WSGIPassAuthorization On
</Location>

Alias /mv/ {root}/mv/
<Directory {root}/mv>
    Options ExecCGI MultiViews
    MultiviewsMatch Handlers
    AddHandler wsgi-script .wsgi
</Directory>

Alias /idx/ {root}/idx/
<Directory {root}/idx>
    Options ExecCGI
    DirectoryIndex index.wsgi
    AddHandler wsgi-script .wsgi
</Directory>

Alias /ht/ {root}/ht/
<Directory {root}/ht>
    Options ExecCGI
    AllowOverride FileInfo
</Directory>"#
}

/// `user:{SHA}...` for the htpasswd file, made by `htpasswd` (apache2-utils)
/// or, without it, by Python's hashlib.
fn htpasswd_line(user: &str, password: &str) -> String {
    if let Ok(out) = std::process::Command::new("htpasswd").args(["-nbs", user, password]).output()
        && out.status.success()
    {
        return String::from_utf8_lossy(&out.stdout).trim().to_string() + "\n";
    }
    let script = "import base64, hashlib, sys; u, p = sys.argv[1:]; \
                  print('%s:{SHA}%s' % (u, base64.b64encode(hashlib.sha1(p.encode()).digest()).decode()))";
    let out = std::process::Command::new("python3").args(["-c", script, user, password]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn start(module: Module) -> Apache {
    ApacheBuilder::new()
        .module(module)
        .file("scripts/env.wsgi", ENV_APP)
        .file("htdocs/site.wsgi", ENV_APP)
        .file("htdocs/static.txt", "static file\n")
        .file("mv/app.wsgi", ENV_APP)
        .file("idx/index.wsgi", ENV_APP)
        .file("ht/app.wsgi", ENV_APP)
        .file("ht/.htaccess", "AddHandler wsgi-script .wsgi\n")
        .file("htpasswd", htpasswd_line("alice", "wonderland"))
        .conf(conf())
        .start()
}

fn ours() -> &'static Apache {
    shared!(Apache, start(Module::default_for_tests()))
}

fn debian() -> &'static Apache {
    shared!(Apache, start(Module::Debian))
}

/// `alice:wonderland`.
const ALICE: &str = "Basic YWxpY2U6d29uZGVybGFuZA==";

/// Status and the environ (key -> repr, the root and port normalised).
fn fetch(apache: &Apache, host: Option<&str>, path: &str, auth: Option<&str>) -> (u16, BTreeMap<String, String>) {
    let mut headers = Vec::new();
    if let Some(h) = host {
        headers.push(("Host", h));
    }
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    let resp = apache.request("GET", path, &headers, b"");
    let root = apache.root().display().to_string();
    let port = apache.port().to_string();
    let env = if resp.status == 200 && resp.header("Content-Type") == Some("text/plain") {
        resp.text()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.replace(&root, "{root}").replace(&port, "{port}")))
            .collect()
    } else {
        BTreeMap::new()
    };
    (resp.status, env)
}

/// The request variables compared between the two modules.
const COMPARED: &[&str] = &[
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "REQUEST_URI",
    "SCRIPT_FILENAME",
    "PATH_TRANSLATED",
    "REDIRECT_URL",
    "REDIRECT_STATUS",
    "REDIRECT_QUERY_STRING",
    "AUTH_TYPE",
    "REMOTE_USER",
    "HTTP_AUTHORIZATION",
    "TEST_SETENV",
    "TEST_REWRITE_ENV",
    "mod_wsgi.application_group",
    "mod_wsgi.script_name",
    "mod_wsgi.path_info",
    "mod_wsgi.request_handler",
    "mod_wsgi.listener_port",
    "os.environ:TEST_SETENV",
    "os.environ:TEST_REWRITE_ENV",
    "os.environ:REMOTE_USER",
    "os.environ:AUTH_TYPE",
    "os.environ:HTTP_AUTHORIZATION",
];

/// Requests `path` from both modules; asserts the same status and the same
/// COMPARED variables, and returns ours.
fn same_as_debian(host: Option<&str>, path: &str, auth: Option<&str>) -> (u16, BTreeMap<String, String>) {
    let (status, env) = fetch(ours(), host, path, auth);
    let (d_status, d_env) = fetch(debian(), host, path, auth);
    let pick = |env: &BTreeMap<String, String>| -> Vec<(String, Option<String>)> {
        COMPARED.iter().map(|k| (k.to_string(), env.get(*k).cloned())).collect()
    };
    assert_eq!(
        (status, pick(&env)),
        (d_status, pick(&d_env)),
        "{host:?} {path}: ours (left) and Debian's mod_wsgi (right)"
    );
    (status, env)
}

fn get<'a>(env: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    env.get(key).map(String::as_str)
}

#[test]
fn set_env_and_rewrite_env_reach_the_environ_not_os_environ() {
    let (_, env) = same_as_debian(None, "/env/plain", None);
    assert_eq!(get(&env, "TEST_SETENV"), Some("'from-setenv'"));
    assert_eq!(get(&env, "TEST_REWRITE_ENV"), None);
    assert_eq!(get(&env, "os.environ:TEST_SETENV"), Some("None"));
    let (_, env) = same_as_debian(None, "/env/rewritten", None);
    assert_eq!(get(&env, "TEST_REWRITE_ENV"), Some("'from-rewrite'"));
    assert_eq!(get(&env, "os.environ:TEST_REWRITE_ENV"), Some("None"));
}

#[test]
fn mod_wsgi_variables_reach_the_access_log_and_override_set_env() {
    let (_, env) = same_as_debian(None, "/env/logged", None);
    assert_eq!(get(&env, "mod_wsgi.listener_port"), Some("'{port}'"));
    let logged = |apache: &Apache| {
        let path = apache.root().join("wsgi_vars.log");
        let mut line = None;
        wait_until(Duration::from_secs(5), || {
            line = std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .find(|l| l.starts_with("/env/logged "))
                .map(str::to_string);
            line.is_some()
        });
        let line = line.unwrap_or_else(|| panic!("no /env/logged line in {}", path.display()));
        line.replace(&apache.port().to_string(), "{port}")
    };
    let ours = logged(ours());
    assert_eq!(ours, logged(debian()), "ours (left) and Debian's mod_wsgi (right)");
    assert!(ours.contains(" app=127.0.0.1:{port}|/env "), "{ours}");
    assert!(ours.ends_with(" reload=1 port={port}"), "{ours}");
}

#[test]
fn authorization_header_is_passed_only_with_wsgi_pass_authorization_on() {
    let (_, env) = same_as_debian(None, "/env/x", Some(ALICE));
    assert_eq!(get(&env, "HTTP_AUTHORIZATION"), None, "WSGIPassAuthorization is Off by default");
    let (_, env) = same_as_debian(None, "/privatepass/x", Some(ALICE));
    assert_eq!(get(&env, "HTTP_AUTHORIZATION"), Some(&*format!("'{ALICE}'")));
    assert_eq!(get(&env, "os.environ:HTTP_AUTHORIZATION"), Some("None"));
}

#[test]
fn basic_authentication_gives_auth_type_and_remote_user() {
    let (status, _) = same_as_debian(None, "/private/x", None);
    assert_eq!(status, 401);
    let (status, _) = same_as_debian(None, "/private/x", Some("Basic YWxpY2U6d3Jvbmc="));
    assert_eq!(status, 401, "a wrong password");
    let (status, env) = same_as_debian(None, "/private/x", Some(ALICE));
    assert_eq!(status, 200);
    assert_eq!(get(&env, "AUTH_TYPE"), Some("'Basic'"));
    assert_eq!(get(&env, "REMOTE_USER"), Some("'alice'"));
    assert_eq!(get(&env, "HTTP_AUTHORIZATION"), None);
    assert_eq!(get(&env, "os.environ:REMOTE_USER"), Some("None"));
}

/// `RewriteRule ^(.*)$ /site.wsgi/$1 [QSA,PT,L]`: every URL of the host
/// runs site.wsgi, the path as PATH_INFO (its doubled slash collapsed).
#[test]
fn rewrite_pass_through_to_a_script() {
    let host = Some("rewrite.test");
    let (status, env) = same_as_debian(host, "/foo/bar?x=1", None);
    assert_eq!(status, 200);
    assert_eq!(get(&env, "SCRIPT_NAME"), Some("'/site.wsgi'"));
    assert_eq!(get(&env, "PATH_INFO"), Some("'/foo/bar'"));
    assert_eq!(get(&env, "QUERY_STRING"), Some("'x=1'"));
    assert_eq!(get(&env, "REQUEST_URI"), Some("'/foo/bar?x=1'"));
    let (status, env) = same_as_debian(host, "/", None);
    assert_eq!(status, 200);
    assert_eq!(get(&env, "PATH_INFO"), Some("'/'"));
    let (status, env) = same_as_debian(host, "/a%20b//c", None);
    assert_eq!(status, 200);
    assert_eq!(get(&env, "PATH_INFO"), Some("'/a b/c'"));
    // A file that exists is served as it is.
    let resp = ours().request("GET", "/static.txt", &[("Host", "rewrite.test")], b"");
    assert_eq!((resp.status, resp.text().as_str()), (200, "static file\n"));
}

#[test]
fn multiviews_with_multiviews_match_handlers() {
    let (status, env) = same_as_debian(None, "/mv/app", None);
    assert_eq!(status, 200);
    assert_eq!(get(&env, "SCRIPT_NAME"), Some("'/mv/app.wsgi'"));
    assert_eq!(get(&env, "SCRIPT_FILENAME"), Some("'{root}/mv/app.wsgi'"));
    same_as_debian(None, "/mv/app?q=1", None);
    same_as_debian(None, "/mv/app.wsgi/extra", None);
}

#[test]
fn directory_index_runs_index_wsgi() {
    let (status, env) = same_as_debian(None, "/idx/", None);
    assert_eq!(status, 200);
    assert_eq!(get(&env, "SCRIPT_NAME"), Some("'/idx/index.wsgi'"));
    assert_eq!(get(&env, "PATH_INFO"), Some("''"));
    same_as_debian(None, "/idx/?a=b", None);
    same_as_debian(None, "/idx", None);
}

#[test]
fn add_handler_from_htaccess() {
    let (status, env) = same_as_debian(None, "/ht/app.wsgi/x?y=1", None);
    assert_eq!(status, 200);
    assert_eq!(get(&env, "SCRIPT_NAME"), Some("'/ht/app.wsgi'"));
    assert_eq!(get(&env, "PATH_INFO"), Some("'/x'"));
    assert_eq!(get(&env, "mod_wsgi.application_group"), Some("'127.0.0.1:{port}|/ht/app.wsgi'"));
}

/// Returns its version, written into the file by the test.
fn versioned_app(version: &str) -> String {
    format!(
        "def application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'{version}']\n"
    )
}

/// One Apache child, so that every request meets the same interpreters.
fn one_child() -> ApacheBuilder {
    ApacheBuilder::new().conf(
        "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 25\nThreadsPerChild 25\nMaxRequestWorkers 25",
    )
}

/// Rewrites the script and moves its mtime forward.
fn change_script(apache: &Apache, name: &str, version: &str) {
    let path = apache.root().join(format!("scripts/{name}.wsgi"));
    std::fs::write(&path, versioned_app(version)).unwrap();
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
}

/// WSGIScriptReloading On (the default): a changed script is loaded again
/// before the next request, in the same interpreter, with mod_wsgi's line.
#[test]
fn script_reloading_on_reloads_a_changed_script() {
    // Module reloading is embedded mode's; daemon processes are replaced
    // instead (tests/daemon_lifecycle_reload.rs).
    let apache = one_child()
        .embedded_only()
        .file("scripts/reload.wsgi", versioned_app("v1"))
        .conf("WSGIScriptAlias /reload {root}/scripts/reload.wsgi")
        .start();
    let script = apache.root().join("scripts/reload.wsgi").display().to_string();
    assert_eq!(apache.get("/reload").text(), "v1");
    assert_eq!(apache.get("/reload").text(), "v1");
    let mark = apache.log_mark();
    change_script(&apache, "reload", "v2");
    assert_eq!(apache.get("/reload").text(), "v2");
    let expected = format!("): Reloading WSGI script '{script}'.");
    assert!(apache.wait_for_log_since(mark, &expected, Duration::from_secs(5)), "{}", apache.log_since(mark));
    let log = apache.log_since(mark);
    let line = log.lines().find(|l| l.contains("Reloading WSGI script")).unwrap();
    assert!(line.contains("[wsgi:info]") && line.contains("[client 127.0.0.1:"), "{line}");
    assert!(line.contains(&format!("process='', application='127.0.0.1:{}|/reload'", apache.port())), "{line}");
    assert!(!log.contains("Create interpreter") && !log.contains("Loading Python script"), "{log}");
    // Loaded once: the next request logs nothing more.
    let mark = apache.log_mark();
    assert_eq!(apache.get("/reload").text(), "v2");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!apache.log_since(mark).contains("Reloading"), "{}", apache.log_since(mark));
}

#[test]
fn script_reloading_off_keeps_the_loaded_script() {
    let apache = one_child()
        .file("scripts/noreload.wsgi", versioned_app("v1"))
        .conf("WSGIScriptAlias /noreload {root}/scripts/noreload.wsgi\n<Location /noreload>\n    WSGIScriptReloading Off\n</Location>")
        .start();
    assert_eq!(apache.get("/noreload").text(), "v1");
    let mark = apache.log_mark();
    change_script(&apache, "noreload", "v2");
    assert_eq!(apache.get("/noreload").text(), "v1");
    assert!(!apache.log_since(mark).contains("Reloading"), "{}", apache.log_since(mark));
}

/// `WSGIPassApacheRequest On` (embedded mode): `environ['apache.request_rec']`
/// is a capsule holding the request's `request_rec`; C code (here ctypes)
/// reads the request line from it. Off, and in a daemon, there is none.
#[test]
fn pass_apache_request_gives_the_request_rec_in_a_capsule() {
    const APP: &str = include_str!("apps/request_directives/request_rec.py");
    let apache = ApacheBuilder::new()
        .embedded_only()
        .file("scripts/rec.wsgi", APP)
        .conf(
            "WSGIDaemonProcess rec\n\
             WSGIScriptAlias /on {root}/scripts/rec.wsgi\n\
             WSGIScriptAlias /off {root}/scripts/rec.wsgi\n\
             WSGIScriptAlias /daemon {root}/scripts/rec.wsgi process-group=rec\n\
             <Location /on>\n    WSGIPassApacheRequest On\n</Location>\n\
             <Location /daemon>\n    WSGIPassApacheRequest On\n</Location>",
        )
        .start();
    for (path, want) in [("/on?x=1", "PyCapsule GET /on?x=1 HTTP/1.1"), ("/off", "none"), ("/daemon", "none")] {
        let mark = apache.log_mark();
        let resp = apache.get(path);
        apache.assert_status(&resp, 200, mark);
        assert_eq!(resp.text(), want, "{path}");
    }
}

/// `WSGIHandlerScript NAME PATH [options]`: Apache's handler NAME (from
/// AddHandler or SetHandler) is served by PATH's `handle_request`, in the
/// process group its options name, with `mod_wsgi.handler_script` set.
#[test]
fn handler_script_serves_a_named_handler() {
    const HANDLER: &str = include_str!("apps/request_directives/handler.py");
    let apache = ApacheBuilder::new()
        .embedded_only()
        .file("handlers/resource.wsgi", HANDLER)
        .file("htdocs/page.myext", "the resource\n")
        .conf(
            "WSGIDaemonProcess handlers\n\
             WSGIHandlerScript wsgi-resource {root}/handlers/resource.wsgi\n\
             WSGIHandlerScript wsgi-daemon {root}/handlers/resource.wsgi process-group=handlers application-group=%{GLOBAL}\n\
             AddHandler wsgi-resource .myext\n\
             <Location /virtual>\n    SetHandler wsgi-daemon\n</Location>",
        )
        .start();
    let port = apache.port();
    for (path, want) in [
        // The file the handler is set on, in an Apache child, in the
        // default (%{RESOURCE}) group; the same on Debian's mod_wsgi.
        ("/page.myext", format!("page.myext|resource.wsgi||127.0.0.1:{port}|/page.myext")),
        ("/virtual/anything", "virtual|resource.wsgi|handlers|".to_string()),
    ] {
        let mark = apache.log_mark();
        let resp = apache.get(path);
        apache.assert_status(&resp, 200, mark);
        assert_eq!(resp.text(), want, "{path}");
    }
}

/// As in mod_wsgi (whose command table gives both `ACCESS_CONF|RSRC_CONF`),
/// `WSGIHandlerScript` and `WSGIDispatchScript` may not be written in a
/// .htaccess file, even with `AllowOverride All`: Apache answers 500 and
/// logs that the directive is not allowed there (Debian's mod_wsgi 4.9
/// does the same).
#[test]
fn handler_and_dispatch_scripts_are_refused_in_htaccess() {
    for directive in ["WSGIHandlerScript wsgi-resource", "WSGIDispatchScript"] {
        let builder = ApacheBuilder::new().embedded_only();
        let script = builder.root().join("handlers/resource.wsgi");
        let apache = builder
            .file("handlers/resource.wsgi", include_str!("apps/request_directives/handler.py"))
            .file("htdocs/ht/page.myext", "the resource\n")
            .file("htdocs/ht/.htaccess", format!("{directive} {}\nAddHandler wsgi-resource .myext\n", script.display()))
            .conf("<Directory {root}/htdocs/ht>\n    AllowOverride All\n</Directory>")
            .start();
        let mark = apache.log_mark();
        let resp = apache.get("/ht/page.myext");
        assert_eq!(resp.status, 500, "{directive}: {}", resp.text());
        let name = directive.split(' ').next().unwrap_or_default();
        let log = apache.log_since(mark);
        assert!(log.contains(&format!(".htaccess: {name} not allowed here")), "{directive}:\n{log}");
    }
}

/// `WSGIDispatchScript`: its `process_group`, `application_group` and
/// `callable_object` functions (each optional, `None` keeps the configured
/// choice) decide per request where the application runs.
#[test]
fn dispatch_script_chooses_group_interpreter_and_callable_per_request() {
    const DISPATCH: &str = include_str!("apps/request_directives/dispatch.py");
    const APP: &str = include_str!("apps/request_directives/app.py");
    let apache = ApacheBuilder::new()
        .embedded_only()
        .file("scripts/app.wsgi", APP)
        .file("scripts/dispatch.py", DISPATCH)
        .conf(
            "WSGIDaemonProcess admin\n\
             WSGIScriptAlias /app {root}/scripts/app.wsgi\n\
             WSGIDispatchScript {root}/scripts/dispatch.py",
        )
        .start();
    let port = apache.port();
    for (path, want) in [
        ("/app/page", format!("application||127.0.0.1:{port}|/app")),
        ("/app/admin", format!("application|admin|127.0.0.1:{port}|/app")),
        ("/app/admin?global", "application|admin|".to_string()),
        ("/app/other", format!("other||127.0.0.1:{port}|/app")),
    ] {
        let mark = apache.log_mark();
        let resp = apache.get(path);
        apache.assert_status(&resp, 200, mark);
        assert_eq!(resp.text(), want, "{path}");
    }
}
