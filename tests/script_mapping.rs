//! How URLs reach WSGI scripts: WSGIScriptAlias (file and directory forms),
//! WSGIScriptAliasMatch, and the wsgi-script handler set by AddHandler or
//! SetHandler (which needs `Options ExecCGI`); and the info line that
//! `LogLevel` lets through or not.

mod common;

use common::apps::{self, environ, py_str};
use common::*;

fn server() -> &'static Apache {
    shared!(Apache, {
        ApacheBuilder::new()
            .file("scripts/env.wsgi", apps::ENVIRON)
            .file("scripts/other", apps::ENVIRON)
            .conf("WSGIScriptAlias /env {root}/scripts/env.wsgi")
            .conf("WSGIScriptAlias /wsgi/ {root}/scripts/")
            .conf("WSGIScriptAliasMatch ^/m/([^/]+) {root}/scripts/$1.wsgi")
            .file("handler-noexec/env.wsgi", apps::ENVIRON)
            .conf(
                "Alias /noexec/ {root}/handler-noexec/
<Directory {root}/handler-noexec>
    AddHandler wsgi-script .wsgi
</Directory>",
            )
            .file("handler-exec/env.wsgi", apps::ENVIRON)
            .file("handler-exec/readme.txt", "static text\n")
            .conf(
                "Alias /exec/ {root}/handler-exec/
<Directory {root}/handler-exec>
    Options ExecCGI
    AddHandler wsgi-script .wsgi
</Directory>",
            )
            .file("set-handler/app", apps::ENVIRON)
            .conf(
                "Alias /sethandler/ {root}/set-handler/
<Directory {root}/set-handler>
    Options ExecCGI
    SetHandler wsgi-script
</Directory>",
            )
            .start()
    })
}

/// GETs `url` and checks the SCRIPT_NAME and PATH_INFO the app saw.
fn assert_mapped(url: &str, script_name: &str, path_info: &str) {
    let apache = server();
    let mark = apache.log_mark();
    let resp = apache.get(url);
    apache.assert_status(&resp, 200, mark);
    let env = environ(&resp);
    assert_eq!(env["SCRIPT_NAME"], py_str(script_name), "{url}: {env:#?}");
    assert_eq!(env["PATH_INFO"], py_str(path_info), "{url}: {env:#?}");
}

fn assert_status(url: &str, status: u16) {
    let apache = server();
    let mark = apache.log_mark();
    let resp = apache.get(url);
    apache.assert_status(&resp, status, mark);
}

#[test]
fn script_alias_to_a_file() {
    assert_mapped("/env", "/env", "");
    assert_mapped("/env/", "/env", "/");
    assert_mapped("/env/a/b", "/env", "/a/b");
    assert_mapped("/env/a?x=1", "/env", "/a");
    // A mount point matches whole path segments only.
    assert_status("/envelope", 404);
}

#[test]
fn script_alias_to_a_directory() {
    assert_mapped("/wsgi/env.wsgi", "/wsgi/env.wsgi", "");
    assert_mapped("/wsgi/env.wsgi/extra/path", "/wsgi/env.wsgi", "/extra/path");
    assert_mapped("/wsgi/other/x", "/wsgi/other", "/x");
    assert_status("/wsgi/no-such-script", 404);
}

#[test]
fn script_alias_match() {
    assert_mapped("/m/env", "/m/env", "");
    assert_mapped("/m/env/x/y", "/m/env", "/x/y");
    assert_status("/m/missing/x", 404);
}

#[test]
fn add_handler_without_exec_cgi_is_forbidden() {
    let apache = server();
    let mark = apache.log_mark();
    let resp = apache.get("/noexec/env.wsgi");
    apache.assert_status(&resp, 403, mark);
    let line = format!(
        "Options ExecCGI is off in this directory: {}",
        apache.root().join("handler-noexec/env.wsgi").display()
    );
    assert!(apache.log_since(mark).contains(&line), "no {line:?} in:\n{}", apache.log_since(mark));
}

#[test]
fn add_handler_with_exec_cgi() {
    assert_mapped("/exec/env.wsgi", "/exec/env.wsgi", "");
    assert_mapped("/exec/env.wsgi/more/path", "/exec/env.wsgi", "/more/path");
    // Other files of the directory stay static.
    let resp = server().get("/exec/readme.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text(), "static text\n");
}

#[test]
fn set_handler_with_exec_cgi() {
    assert_mapped("/sethandler/app", "/sethandler/app", "");
    assert_mapped("/sethandler/app/p", "/sethandler/app", "/p");
}

const LOADING: &str = "Loading Python script file";

/// Starts a server with `LogLevel <level>`, requests a script, and returns
/// the log lines that mention loading it.
fn loading_lines(level: &str) -> Vec<String> {
    let apache = ApacheBuilder::new()
        .log_level(level)
        .file("scripts/hello.wsgi", apps::HELLO_WORLD)
        .conf("WSGIScriptAlias /hello {root}/scripts/hello.wsgi")
        .start();
    let resp = apache.get("/hello");
    assert_eq!(resp.status, 200, "{resp:?}\n{}", apache.error_log());
    apache.error_log().lines().filter(|l| l.contains(LOADING)).map(str::to_string).collect()
}

#[test]
fn log_level_wsgi_info_shows_script_loading() {
    let lines = loading_lines("warn wsgi:info");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("[wsgi:info]"), "{}", lines[0]);
    assert!(lines[0].contains("/scripts/hello.wsgi'."), "{}", lines[0]);
}

#[test]
fn log_level_warn_hides_script_loading() {
    let lines = loading_lines("warn");
    assert!(lines.is_empty(), "{lines:#?}");
}

/// A WSGIScriptAliasMatch whose match ends inside a multi-byte character of
/// the URL (PCRE works on bytes): mapped without an internal error.
#[test]
fn alias_match_ending_inside_a_utf8_character_is_not_an_internal_error() {
    let apache = ApacheBuilder::new()
        .file("scripts/a.wsgi", apps::HELLO_WORLD)
        .conf("WSGIScriptAliasMatch ^/u/(.) {root}/scripts/a.wsgi")
        .start();
    let mark = apache.log_mark();
    // "é" is two bytes; the pattern's "." matches the first one only.
    let resp = apache.get("/u/%C3%A9");
    assert_eq!(resp.status, 200, "{}", apache.log_since(mark));
    assert_eq!(resp.text(), "Hello World!");
    assert!(!apache.log_since(mark).contains("internal error"), "{}", apache.log_since(mark));
}
