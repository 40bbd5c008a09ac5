//! Access control in Python (issue 14): `WSGIAccessScript`,
//! `WSGIAuthUserScript` (authentication provider `wsgi`, Basic and
//! Digest), `WSGIAuthGroupScript` (`Require wsgi-group`) and
//! `WSGIGroupAuthoritative`, protecting WSGI applications (embedded and
//! daemon) and static files.
//!
//! Every test also runs against Debian's mod_wsgi 4.9.4
//! (`MOD_WSGI_RS_TEST_MODULE=debian`); where the two answer differently on
//! purpose (docs/differences.md) the test says which answer is whose. The
//! file chooses its own modes (`embedded_only`), so the daemon group is
//! named in the configuration.

mod common;

use std::fs;
use std::time::{Duration, SystemTime};

use common::*;
use md5::{Digest, Md5};

/// The functions every protected location uses (see the file for the
/// users and what they ask for).
const AUTH_SCRIPT: &str = include_str!("apps/auth_scripts.wsgi");

/// Shows what the application was given, one `key=value` line each, and
/// its own process id.
const APP: &str = include_str!("apps/auth_scripts/app.py");

const DAEMON: &str = "authd";

/// `AuthType Basic` + provider `wsgi` with `script`, then `extra` lines.
fn basic(location: &str, script: &str, extra: &str) -> String {
    format!(
        "<Location {location}>\n    AuthType Basic\n    AuthName \"Top Secret\"\n    AuthBasicProvider wsgi\n    \
         WSGIAuthUserScript {script}\n{extra}\n</Location>"
    )
}

fn digest(location: &str, script: &str, extra: &str) -> String {
    format!(
        "<Location {location}>\n    AuthType Digest\n    AuthName \"Top Secret\"\n    AuthDigestProvider wsgi\n    \
         WSGIAuthUserScript {script}\n{extra}\n</Location>"
    )
}

fn server() -> &'static Apache {
    shared!(Apache, {
        let auth = "{root}/auth/auth.wsgi";
        let valid = "    Require valid-user";
        let group = "    WSGIAuthGroupScript {root}/auth/auth.wsgi";
        let mut b = ApacheBuilder::new()
            .embedded_only()
            .file("app/app.wsgi", APP)
            // Its own file, so its log lines can be told from the others'.
            .file("app/any.wsgi", APP)
            .file("auth/auth.wsgi", AUTH_SCRIPT)
            .file("auth/empty.wsgi", "# defines no function\n")
            .file("auth/syntax.wsgi", "def check_password(environ, user, password)\n")
            .file("htdocs/private/secret.txt", "basic static\n")
            .file("htdocs/private-digest/secret.txt", "digest static\n")
            // Not loaded by every test server: it sets up shared memory.
            .conf("LoadModule auth_digest_module /usr/lib/apache2/modules/mod_auth_digest.so")
            .conf(&format!("WSGIDaemonProcess {DAEMON} threads=4"))
            // Never part of the scripts' environ (a .htaccess could set it).
            .conf("SetEnv SECRET_SETTING from-setenv")
            .file("htdocs/ht/page.txt", "from .htaccess\n")
            .conf("<Directory {root}/htdocs/ht>\n    AllowOverride AuthConfig\n</Directory>");
        let htaccess = format!(
            "AuthType Basic\nAuthName \"Top Secret\"\nAuthBasicProvider wsgi\n\
             WSGIAuthUserScript {root}/auth/auth.wsgi\nWSGIAuthGroupScript {root}/auth/auth.wsgi\n\
             Require wsgi-group secret-agents\n",
            root = b.root().display()
        );
        b = b.file("htdocs/ht/.htaccess", htaccess);
        for path in [
            "/basic",
            "/named",
            "/digest",
            "/group",
            "/group-all-on",
            "/group-all-off",
            "/access",
            "/access-denied",
            "/access-auth",
            "/alias-provider",
            "/bad-user-nofile",
            "/bad-user-syntax",
            "/bad-user-nofunc",
            "/bad-digest-nofunc",
            "/bad-group-nofunc",
            "/bad-group-noscript",
            "/bad-access-nofunc",
        ] {
            b = b.conf(&format!("WSGIScriptAlias {path} {{root}}/app/app.wsgi"));
        }
        b = b.conf("WSGIScriptAlias /access-any {root}/app/any.wsgi");
        for path in ["/daemon", "/daemon-digest"] {
            b = b.conf(&format!("WSGIScriptAlias {path} {{root}}/app/app.wsgi process-group={DAEMON}"));
        }
        let conf = [
            basic("/basic", auth, valid),
            basic("/daemon", auth, valid),
            basic("/private", auth, valid),
            basic("/named", &format!("{auth} application-group=authgrp"), valid),
            digest("/digest", auth, valid),
            digest("/daemon-digest", auth, valid),
            digest("/private-digest", auth, valid),
            basic("/group", auth, &format!("{group}\n    Require wsgi-group secret-agents")),
            basic(
                "/group-all-on",
                auth,
                &format!("{group}\n    <RequireAll>\n    Require wsgi-group secret-agents\n    Require valid-user\n    </RequireAll>"),
            ),
            basic(
                "/group-all-off",
                auth,
                &format!(
                    "{group}\n    WSGIGroupAuthoritative Off\n    <RequireAll>\n    Require wsgi-group secret-agents\n    \
                     Require valid-user\n    </RequireAll>"
                ),
            ),
            "<Location /access>\n    WSGIAccessScript {root}/auth/auth.wsgi\n</Location>".into(),
            "<Location /access-denied>\n    WSGIAccessScript {root}/auth/auth.wsgi\n    Require all denied\n</Location>"
                .into(),
            basic("/access-auth", auth, &format!("    WSGIAccessScript {auth}\n{valid}")),
            basic("/access-any", auth, &format!("    WSGIAccessScript {auth}\n{valid}\n    Satisfy Any")),
            "<AuthnProviderAlias wsgi aliased>\n    WSGIAuthUserScript {root}/auth/auth.wsgi application-group=aliasgrp\n\
             </AuthnProviderAlias>"
                .into(),
            "<Location /alias-provider>\n    AuthType Basic\n    AuthName \"Top Secret\"\n    AuthBasicProvider aliased\n    \
             Require valid-user\n</Location>"
                .into(),
            basic("/bad-user-nofile", "{root}/auth/missing.wsgi", valid),
            basic("/bad-user-syntax", "{root}/auth/syntax.wsgi", valid),
            basic("/bad-user-nofunc", "{root}/auth/empty.wsgi", valid),
            digest("/bad-digest-nofunc", "{root}/auth/empty.wsgi", valid),
            basic(
                "/bad-group-nofunc",
                auth,
                "    WSGIAuthGroupScript {root}/auth/empty.wsgi\n    Require wsgi-group secret-agents",
            ),
            basic("/bad-group-noscript", auth, "    Require wsgi-group secret-agents"),
            "<Location /bad-access-nofunc>\n    WSGIAccessScript {root}/auth/empty.wsgi\n</Location>".into(),
        ];
        for section in &conf {
            b = b.conf(section);
        }
        b.start()
    })
}

// ---------------------------------------------------------------------------
// Clients.

fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn basic_get(apache: &Apache, path: &str, user: &str, password: &str) -> Response {
    let auth = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
    apache.request("GET", path, &[("Authorization", &auth)], &[])
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The `name="value"` (or bare) parameters of a Digest challenge.
fn challenge_params(header: &str) -> Vec<(String, String)> {
    let rest = header.strip_prefix("Digest ").unwrap_or_else(|| panic!("not a Digest challenge: {header}"));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while let Some((name, after)) = rest.split_once('=') {
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').expect("closing quote");
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(',').unwrap_or((after, "")),
        };
        params.push((name.trim().to_string(), value.to_string()));
        rest = after.trim_start_matches([',', ' ']);
    }
    params
}

/// GET with Digest authentication (RFC 2617, qop=auth): the challenge of
/// a first request, then the answer to it.
fn digest_get(apache: &Apache, path: &str, user: &str, password: &str) -> Response {
    let first = apache.get(path);
    assert_eq!(first.status, 401, "no challenge for {path}:\n{first:?}");
    let header = first.header("WWW-Authenticate").expect("WWW-Authenticate");
    let params = challenge_params(header);
    let param = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let realm = param("realm").expect("realm");
    let nonce = param("nonce").expect("nonce");
    let (nc, cnonce) = ("00000001", "0a4f113b");
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("GET:{path}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    let mut auth = format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{path}\", algorithm=MD5, \
         response=\"{response}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\""
    );
    if let Some(opaque) = param("opaque") {
        auth.push_str(&format!(", opaque=\"{opaque}\""));
    }
    apache.request("GET", path, &[("Authorization", &auth)], &[])
}

/// The `key=value` lines of [`APP`]'s answer.
fn seen(resp: &Response) -> std::collections::HashMap<String, String> {
    assert_eq!(resp.status, 200, "{resp:?}");
    resp.text().lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The answer we give, or Debian's mod_wsgi where it differs on purpose.
fn ours_or_debian<T>(apache: &Apache, ours: T, debian: T) -> T {
    match apache.module() {
        Module::Ours => ours,
        Module::Debian => debian,
    }
}

// ---------------------------------------------------------------------------
// Basic and Digest.

#[test]
fn basic_auth_protects_an_application() {
    let s = server();
    let resp = s.get("/basic");
    assert_eq!(resp.status, 401, "{resp:?}");
    assert_eq!(resp.header("WWW-Authenticate"), Some("Basic realm=\"Top Secret\""));

    let app = seen(&basic_get(s, "/basic", "spy", "secret"));
    assert_eq!(app["REMOTE_USER"], "spy");
    assert_eq!(app["AUTH_TYPE"], "Basic");
    assert_eq!(app["HTTP_AUTHORIZATION"], "-", "the password must not reach the application");

    let mark = s.log_mark();
    let resp = basic_get(s, "/basic", "spy", "wrong");
    s.assert_status(&resp, 401, mark);
    assert!(s.wait_for_log_since(mark, "user spy: authentication failure", Duration::from_secs(5)));

    let mark = s.log_mark();
    let resp = basic_get(s, "/basic", "nobody", "secret");
    s.assert_status(&resp, 401, mark);
    assert!(s.wait_for_log_since(mark, "user nobody not found", Duration::from_secs(5)), "{}", s.log_since(mark));
}

#[test]
fn basic_auth_protects_static_files() {
    let s = server();
    assert_eq!(s.get("/private/secret.txt").status, 401);
    let resp = basic_get(s, "/private/secret.txt", "spy", "secret");
    assert_eq!((resp.status, resp.text().as_str()), (200, "basic static\n"), "{resp:?}");
    assert_eq!(basic_get(s, "/private/secret.txt", "spy", "wrong").status, 401);
    assert_eq!(basic_get(s, "/private/secret.txt", "nobody", "x").status, 401);
}

#[test]
fn scripts_may_be_set_in_htaccess_files() {
    let s = server();
    assert_eq!(s.get("/ht/page.txt").status, 401);
    let resp = basic_get(s, "/ht/page.txt", "spy", "secret");
    assert_eq!((resp.status, resp.text().as_str()), (200, "from .htaccess\n"), "{resp:?}");
    assert_eq!(basic_get(s, "/ht/page.txt", "agent", "secret").status, 401, "not in the group");
}

#[test]
fn check_password_may_rename_the_user() {
    let s = server();
    let app = seen(&basic_get(s, "/basic", "rename", "anything"));
    assert_eq!(app["REMOTE_USER"], "renamed");
}

#[test]
fn digest_auth_protects_an_application_and_static_files() {
    let s = server();
    let resp = s.get("/digest");
    assert_eq!(resp.status, 401);
    assert!(resp.header("WWW-Authenticate").is_some_and(|h| h.starts_with("Digest realm=\"Top Secret\"")), "{resp:?}");

    let app = seen(&digest_get(s, "/digest", "spy", "secret"));
    assert_eq!(app["REMOTE_USER"], "spy");
    assert_eq!(app["AUTH_TYPE"], "Digest");
    assert_eq!(app["HTTP_AUTHORIZATION"], "-");
    // A hash given as bytes works as one given as str.
    assert_eq!(seen(&digest_get(s, "/digest", "bytes", "secret"))["REMOTE_USER"], "bytes");

    let mark = s.log_mark();
    let resp = digest_get(s, "/digest", "spy", "wrong");
    s.assert_status(&resp, 401, mark);
    assert!(s.wait_for_log_since(mark, "user spy: password mismatch", Duration::from_secs(5)));
    let mark = s.log_mark();
    let resp = digest_get(s, "/digest", "nobody", "secret");
    s.assert_status(&resp, 401, mark);
    assert!(s.wait_for_log_since(mark, "user `nobody' in realm `Top Secret' not found", Duration::from_secs(5)));

    let resp = digest_get(s, "/private-digest/secret.txt", "spy", "secret");
    assert_eq!((resp.status, resp.text().as_str()), (200, "digest static\n"), "{resp:?}");
    assert_eq!(digest_get(s, "/private-digest/secret.txt", "spy", "wrong").status, 401);
}

// ---------------------------------------------------------------------------
// Where the scripts run, and what they and the application see.

/// `check_password` answers user `where` with `where|group|process|pid`.
fn where_auth_ran(s: &Apache, path: &str) -> (Vec<String>, std::collections::HashMap<String, String>) {
    let app = seen(&basic_get(s, path, "where", "x"));
    let fields = app["REMOTE_USER"].split('|').map(String::from).collect::<Vec<_>>();
    assert_eq!(fields.len(), 4, "{app:?}");
    (fields, app)
}

#[test]
fn scripts_run_in_the_apache_child_in_the_global_interpreter() {
    let s = server();
    // Embedded: the script and the application share the process.
    let (fields, app) = where_auth_ran(s, "/basic");
    assert_eq!(&fields[1..3], ["", ""], "application group %{{GLOBAL}}, process group ''");
    assert_eq!(fields[3], app["pid"]);
    assert_eq!(app["mod_wsgi.process_group"], "");
    // Daemon: the application runs in the daemon, the script still here.
    let (fields, app) = where_auth_ran(s, "/daemon");
    assert_eq!(&fields[1..3], ["", ""]);
    assert_eq!(app["mod_wsgi.process_group"], DAEMON);
    assert_ne!(fields[3], app["pid"], "check_password ran in the daemon process");
    let child: i32 = fields[3].parse().unwrap();
    assert!(s.child_pids().contains(&child), "pid {child} is not a child of Apache");
}

#[test]
fn application_group_option_names_the_interpreter() {
    let s = server();
    let (fields, _) = where_auth_ran(s, "/named");
    assert_eq!(fields[1], "authgrp");
    // Set inside <AuthnProviderAlias>, as mod_wsgi's guide shows for Django.
    let (fields, _) = where_auth_ran(s, "/alias-provider");
    assert_eq!(fields[1], "aliasgrp");
    assert_eq!(basic_get(s, "/alias-provider", "spy", "wrong").status, 401);
}

#[test]
fn remote_user_and_auth_type_reach_the_application_in_both_modes() {
    let s = server();
    for (path, auth_type) in
        [("/basic", "Basic"), ("/daemon", "Basic"), ("/digest", "Digest"), ("/daemon-digest", "Digest")]
    {
        let resp = if auth_type == "Basic" {
            basic_get(s, path, "agent", "secret")
        } else {
            digest_get(s, path, "agent", "secret")
        };
        let app = seen(&resp);
        assert_eq!(app["REMOTE_USER"], "agent", "{path}");
        assert_eq!(app["AUTH_TYPE"], auth_type, "{path}");
        assert_eq!(app["HTTP_AUTHORIZATION"], "-", "{path}");
        let expected_group = if path.starts_with("/daemon") { DAEMON } else { "" };
        assert_eq!(app["mod_wsgi.process_group"], expected_group, "{path}");
    }
}

#[test]
fn environ_is_mod_wsgis_cut_down_one() {
    let s = server();
    let auth = format!("Basic {}", base64(b"environ:x"));
    let resp = s.request("GET", "/basic/more?q=1", &[("Authorization", &auth), ("X-Test", "1"), ("X_Bad", "1")], &[]);
    let app = seen(&resp);
    let keys: Vec<&str> = app["REMOTE_USER"].split(',').collect();
    let mut expected = vec![
        "DOCUMENT_ROOT",
        "HTTP_CONNECTION",
        "HTTP_HOST",
        "HTTP_X_TEST",
        "PATH_INFO",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "REMOTE_PORT",
        "REQUEST_METHOD",
        "REQUEST_URI",
        "SCRIPT_NAME",
        "SERVER_ADDR",
        "SERVER_ADMIN",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "SERVER_SIGNATURE",
        "SERVER_SOFTWARE",
        "apache.version",
        "mod_wsgi.application_group",
        "mod_wsgi.process_group",
        "mod_wsgi.script_reloading",
        "mod_wsgi.version",
        "wsgi.errors",
    ];
    expected.extend(["mod_ssl.is_https", "mod_ssl.var_lookup"]);
    expected.sort();
    assert_eq!(keys, expected, "no Authorization, no SetEnv, no header with '_'");
}

#[test]
fn ssl_helpers_ask_mod_ssl_during_the_call_only() {
    let s = server();
    // One connection, so one process: the second call finds what the first kept.
    let mut conn = s.connect();
    let mut get_as = |user: &str| {
        let auth = format!("Basic {}", base64(format!("{user}:x").as_bytes()));
        seen(&conn.request("GET", "/basic", &[("Authorization", &auth)], &[]))["REMOTE_USER"].clone()
    };
    // No mod_ssl here: not https, no variables.
    assert_eq!(get_as("ssl"), "ssl|0|None");
    // A helper kept past its call raises, as mod_wsgi's does.
    assert_eq!(get_as("expired"), "expired|request object has expired");
}

// ---------------------------------------------------------------------------
// Groups.

#[test]
fn group_script_grants_members_of_the_named_groups() {
    let s = server();
    assert_eq!(s.get("/group").status, 401, "no user yet: a challenge, not a 403");
    assert_eq!(seen(&basic_get(s, "/group", "spy", "secret"))["REMOTE_USER"], "spy");
    // Names as bytes, and in another case (Apache compares group names so).
    assert_eq!(seen(&basic_get(s, "/group", "bspy", "secret"))["REMOTE_USER"], "bspy");
    assert_eq!(seen(&basic_get(s, "/group", "shouty", "secret"))["REMOTE_USER"], "shouty");

    let mark = s.log_mark();
    let resp = basic_get(s, "/group", "agent", "secret");
    s.assert_status(&resp, 401, mark);
    let why = "Authorization of user 'agent' to access '/group' failed. User is not a member of designated groups.";
    assert!(s.wait_for_log_since(mark, why, Duration::from_secs(5)), "{}", s.log_since(mark));

    let mark = s.log_mark();
    let resp = basic_get(s, "/group", "loner", "secret");
    s.assert_status(&resp, 401, mark);
    let why = "Authorization of user 'loner' to access '/group' failed. User is not a member of any groups.";
    assert!(s.wait_for_log_since(mark, why, Duration::from_secs(5)), "{}", s.log_since(mark));
}

#[test]
fn wrong_password_before_a_group_check_is_401() {
    let s = server();
    let mark = s.log_mark();
    let resp = basic_get(s, "/group", "careful", "wrong");
    s.assert_status(&resp, 401, mark);
    assert!(s.wait_for_log_since(mark, "user careful: authentication failure", Duration::from_secs(5)));
    assert!(!s.log_since(mark).contains("groups_for_user(careful)"), "groups asked for an unauthenticated user");
    assert_eq!(seen(&basic_get(s, "/group", "careful", "secret"))["REMOTE_USER"], "careful");
}

#[test]
fn group_authoritative_off_leaves_non_members_to_other_rules() {
    let s = server();
    // <RequireAll> wsgi-group + valid-user: a member passes either way.
    assert_eq!(basic_get(s, "/group-all-on", "spy", "secret").status, 200);
    assert_eq!(basic_get(s, "/group-all-off", "spy", "secret").status, 200);
    // Authoritative (the default): not a member is a denial.
    assert_eq!(basic_get(s, "/group-all-on", "agent", "secret").status, 401);
    // Off: the group line abstains and valid-user decides. Debian's
    // mod_wsgi ignores the directive on Apache 2.4 (docs/differences.md).
    let resp = basic_get(s, "/group-all-off", "agent", "secret");
    assert_eq!(resp.status, ours_or_debian(s, 200, 401), "{resp:?}");
    // Off never lets in a user who did not authenticate.
    assert_eq!(basic_get(s, "/group-all-off", "agent", "wrong").status, 401);
}

// ---------------------------------------------------------------------------
// Host access.

fn access(s: &Apache, path: &str, decision: &str) -> Response {
    s.request("GET", path, &[("X-Access", decision)], &[])
}

#[test]
fn access_script_allows_denies_and_defers() {
    let s = server();
    assert_eq!(access(s, "/access", "allow").status, 200);
    assert_eq!(access(s, "/access", "defer").status, 200);
    let mark = s.log_mark();
    let resp = access(s, "/access", "deny");
    s.assert_status(&resp, 403, mark);
    let app = format!("{}/app/app.wsgi", s.root().display());
    let line = format!("Client denied by server configuration: '{app}'.");
    assert!(s.wait_for_log_since(mark, &line, Duration::from_secs(5)), "{}", s.log_since(mark));
    // The client's address stands in for its name (HostnameLookups Off).
    let mark = s.log_mark();
    assert_eq!(access(s, "/access", "host").status, 403);
    assert!(s.wait_for_log_since(mark, "allow_access host is '127.0.0.1'", Duration::from_secs(5)));
}

#[test]
fn access_script_does_not_replace_require() {
    let s = server();
    // True, as None, leaves authorization to Require (mod_wsgi's hook is
    // the access_checker, before Require is looked at).
    for decision in ["allow", "defer"] {
        assert_eq!(access(s, "/access-denied", decision).status, 403, "{decision}");
        assert_eq!(access(s, "/access-auth", decision).status, 401, "{decision}");
    }
    assert_eq!(access(s, "/access-denied", "deny").status, 403);
    assert_eq!(access(s, "/access-auth", "deny").status, 403);
    let auth = format!("Basic {}", base64(b"spy:secret"));
    let with_user = |d: &str| s.request("GET", "/access-auth", &[("X-Access", d), ("Authorization", &auth)], &[]);
    assert_eq!(with_user("allow").status, 200);
    assert_eq!(with_user("deny").status, 403, "a denied host stays out whoever the user is");
}

#[test]
fn access_script_under_satisfy_any() {
    let s = server();
    // Satisfy Any: an allowed host needs no user; a denied one must log in.
    assert_eq!(access(s, "/access-any", "allow").status, 200);
    let mark = s.log_mark();
    let resp = access(s, "/access-any", "deny");
    s.assert_status(&resp, 401, mark);
    // Not an error yet: the user may still log in.
    let denied = format!("Client denied by server configuration: '{}/app/any.wsgi'", s.root().display());
    assert!(!s.log_since(mark).contains(&denied), "{}", s.log_since(mark));
    let auth = format!("Basic {}", base64(b"spy:secret"));
    let resp = s.request("GET", "/access-any", &[("X-Access", "deny"), ("Authorization", &auth)], &[]);
    assert_eq!(resp.status, 200);
    // A failing script counts as a host not allowed here: log in.
    assert_eq!(access(s, "/access-any", "raise").status, 401);
}

// ---------------------------------------------------------------------------
// Scripts that cannot answer.

/// One way of asking a script that cannot answer.
enum Ask {
    Basic(&'static str),
    Digest(&'static str),
    Access(&'static str),
}

#[test]
fn bad_scripts_are_500_with_one_line_naming_script_and_function() {
    let s = server();
    let root = s.root().display().to_string();
    let auth = format!("{root}/auth/auth.wsgi");
    let empty = format!("{root}/auth/empty.wsgi");
    let missing = format!("{root}/auth/missing.wsgi");
    let syntax = format!("{root}/auth/syntax.wsgi");
    // (path, how, function, script, Debian's status)
    let cases: [(&str, Ask, &str, &str, u16); 15] = [
        ("/bad-user-nofile", Ask::Basic("spy"), "check_password", &missing, 500),
        ("/bad-user-syntax", Ask::Basic("spy"), "check_password", &syntax, 500),
        ("/bad-user-nofunc", Ask::Basic("spy"), "check_password", &empty, 500),
        ("/basic", Ask::Basic("raise"), "check_password", &auth, 500),
        ("/basic", Ask::Basic("wrongtype"), "check_password", &auth, 500),
        ("/bad-digest-nofunc", Ask::Digest("spy"), "get_realm_hash", &empty, 500),
        ("/digest", Ask::Digest("raise"), "get_realm_hash", &auth, 500),
        ("/digest", Ask::Digest("wrongtype"), "get_realm_hash", &auth, 500),
        // Debian's mod_wsgi denies (401, 403) where a group or access script
        // fails: see docs/differences.md.
        ("/bad-group-nofunc", Ask::Basic("spy"), "groups_for_user", &empty, 401),
        ("/group", Ask::Basic("graise"), "groups_for_user", &auth, 401),
        ("/group", Ask::Basic("gwrongtype"), "groups_for_user", &auth, 401),
        ("/group", Ask::Basic("gstring"), "groups_for_user", &auth, 401),
        ("/bad-access-nofunc", Ask::Access("allow"), "allow_access", &empty, 403),
        ("/access", Ask::Access("raise"), "allow_access", &auth, 403),
        ("/access", Ask::Access("wrongtype"), "allow_access", &auth, 403),
    ];
    for (path, ask, function, script, debian) in cases {
        let mark = s.log_mark();
        let resp = match ask {
            Ask::Basic(user) => basic_get(s, path, user, "secret"),
            Ask::Digest(user) => digest_get(s, path, user, "secret"),
            Ask::Access(decision) => access(s, path, decision),
        };
        let what = format!("{path} ({function} in {script})");
        assert_eq!(resp.status, ours_or_debian(s, 500, debian), "{what}:\n{resp:?}\n{}", s.log_since(mark));
        if s.module() == Module::Debian {
            continue;
        }
        let named = format!("'{script}'");
        let call = format!("{function}()");
        let count = || {
            s.log_since(mark)
                .lines()
                .filter(|l| l.contains("mod_wsgi (pid=") && l.contains(&named) && l.contains(&call))
                .count()
        };
        wait_until(Duration::from_secs(5), || count() > 0);
        assert_eq!(count(), 1, "{what}: one line naming the script and the function:\n{}", s.log_since(mark));
    }
    // `Require wsgi-group` without a WSGIAuthGroupScript.
    let mark = s.log_mark();
    let resp = basic_get(s, "/bad-group-noscript", "spy", "secret");
    assert_eq!(resp.status, ours_or_debian(s, 500, 401), "{resp:?}");
    assert!(s.wait_for_log_since(
        mark,
        "Location of WSGI group authorization script not provided.",
        Duration::from_secs(5)
    ));
}

// ---------------------------------------------------------------------------
// Reloading.

const RELOAD_SCRIPT: &str = "def check_password(environ, user, password):\n    return password == 'PASSWORD'\n";

#[test]
fn script_is_loaded_again_when_it_changes() {
    let b = ApacheBuilder::new()
        .embedded_only()
        .file("app/app.wsgi", APP)
        .file("auth/reload.wsgi", RELOAD_SCRIPT.replace("PASSWORD", "one"))
        .conf("WSGIScriptAlias /reload {root}/app/app.wsgi")
        .conf(&basic("/reload", "{root}/auth/reload.wsgi", "    Require valid-user"));
    let script = b.root().join("auth/reload.wsgi");
    let s = b.start();
    // Every child loads it (event MPM: a few children, many threads).
    for _ in 0..6 {
        assert_eq!(basic_get(&s, "/reload", "u", "one").status, 200);
    }
    fs::write(&script, RELOAD_SCRIPT.replace("PASSWORD", "two")).unwrap();
    // A later mtime, whatever the file system's timestamp granularity.
    let file = fs::File::options().write(true).open(&script).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(5)).unwrap();
    drop(file);
    for _ in 0..6 {
        assert_eq!(basic_get(&s, "/reload", "u", "two").status, 200, "{}", s.error_log());
        assert_eq!(basic_get(&s, "/reload", "u", "one").status, 401);
    }
    s.assert_no_crash();
}

/// Slow to load: requests arriving meanwhile must wait for it, not find a
/// module without its functions (WSGI scripts share the loading code).
const SLOW_SCRIPT: &str =
    "import time\ntime.sleep(1)\n\ndef check_password(environ, user, password):\n    return password == 'secret'\n";

#[test]
fn requests_wait_for_a_script_another_thread_is_loading() {
    for reloading in ["On", "Off"] {
        let s = ApacheBuilder::new()
            .embedded_only()
            .file("app/app.wsgi", APP)
            .file("auth/slow.wsgi", SLOW_SCRIPT)
            .file("app/slow.wsgi", format!("import time\ntime.sleep(1)\n{}", apps::HELLO_WORLD))
            // One child, so that the requests meet in one interpreter.
            .conf("ServerLimit 1\nStartServers 1\nThreadsPerChild 16\nMaxRequestWorkers 16")
            .conf(&format!("WSGIScriptReloading {reloading}"))
            .conf("WSGIScriptAlias /slow {root}/app/app.wsgi")
            .conf("WSGIScriptAlias /slowapp {root}/app/slow.wsgi")
            .conf(&basic("/slow", "{root}/auth/slow.wsgi", "    Require valid-user"))
            .start();
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let auth = (0..4).map(|_| scope.spawn(|| basic_get(&s, "/slow", "u", "secret").status));
            let app = (0..4).map(|_| scope.spawn(|| s.get("/slowapp").status));
            let handles: Vec<_> = auth.chain(app).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let (auth, app) = statuses.split_at(4);
        assert_eq!(app, [200; 4], "WSGIScriptReloading {reloading}:\n{}", s.error_log());
        // Debian's mod_wsgi lets the others find the half-loaded auth
        // script when reloading is off (500s): see docs/differences.md.
        if s.module() == Module::Ours || reloading == "On" {
            assert_eq!(auth, [200; 4], "WSGIScriptReloading {reloading}:\n{}", s.error_log());
        }
    }
}

// ---------------------------------------------------------------------------
// Django's users and groups (django.contrib.auth.handlers.modwsgi).

/// Users and groups made with `manage.py`: `spy` in `secret-agents`,
/// `clerk` in no group, `gone` inactive.
const DJANGO_USERS: &str = "
from django.contrib.auth.models import Group, User
agents = Group.objects.create(name='secret-agents')
User.objects.create_user('spy', password='spy-pass').groups.add(agents)
User.objects.create_user('clerk', password='clerk-pass')
User.objects.create_user('gone', password='gone-pass', is_active=False)
";

/// The auth script mod_wsgi's guide suggests for Django.
fn django_auth_script(project: &std::path::Path) -> String {
    format!(
        "import os, sys\n\
         sys.path.insert(0, '{}')\n\
         os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n\
         import django\n\
         django.setup()\n\
         from django.contrib.auth.handlers.modwsgi import check_password, groups_for_user\n",
        project.display()
    )
}

/// A Django project with its users, under `root`; readable by Apache, its
/// database writable.
fn make_django_project(root: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let venv = common::venv::get();
    let project = root.join("django");
    let data = root.join("django-data");
    fs::create_dir_all(&project).unwrap();
    fs::create_dir_all(&data).unwrap();
    venv.run(&project, "django-admin", &["startproject", "mysite", "."]);
    let settings = project.join("mysite/settings.py");
    let mut text = fs::read_to_string(&settings).unwrap();
    text.push_str(&format!(
        "\n# Added by tests/auth_scripts.rs\n\
         ALLOWED_HOSTS = ['127.0.0.1', 'localhost']\n\
         DATABASES['default']['NAME'] = '{}/db.sqlite3'\n\
         # Each request checks a password: a fast hasher keeps the test quick.\n\
         PASSWORD_HASHERS = ['django.contrib.auth.hashers.MD5PasswordHasher']\n",
        data.display()
    ));
    fs::write(&settings, text).unwrap();
    venv.run(&project, "python", &["manage.py", "migrate", "--noinput"]);
    venv.run(&project, "python", &["manage.py", "shell", "-c", DJANGO_USERS]);
    fs::write(project.join("auth.wsgi"), django_auth_script(&project)).unwrap();
    let out = std::process::Command::new("chmod").arg("-R").arg("a+rX").arg(root).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    fs::set_permissions(&data, fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(data.join("db.sqlite3"), fs::Permissions::from_mode(0o666)).unwrap();
}

#[test]
fn django_users_and_groups_protect_a_static_directory() {
    let venv = common::venv::get();
    let b =
        ApacheBuilder::new().embedded_only().file("files/report.txt", "for secret agents\n").file("app/app.wsgi", APP);
    make_django_project(b.root());
    let s = b
        .conf(&format!(
            r#"
# The auth scripts run in the Apache children: their Python is the venv's.
WSGIPythonHome {venv}
WSGIDaemonProcess django python-home={venv} python-path={{root}}/django threads=4
WSGIScriptAlias /app {{root}}/django/mysite/wsgi.py process-group=django application-group=%{{GLOBAL}}
WSGIScriptAlias /whoami {{root}}/app/app.wsgi process-group=django
Alias /files/ {{root}}/files/
<Location /files/>
    AuthType Basic
    AuthName "Django"
    AuthBasicProvider wsgi
    WSGIAuthUserScript {{root}}/django/auth.wsgi application-group=django-auth
    WSGIAuthGroupScript {{root}}/django/auth.wsgi application-group=django-auth
    Require wsgi-group secret-agents
</Location>
<LocationMatch ^/(app|whoami)>
    AuthType Basic
    AuthName "Django"
    AuthBasicProvider wsgi
    WSGIAuthUserScript {{root}}/django/auth.wsgi application-group=django-auth
    Require valid-user
</LocationMatch>
"#,
            venv = venv.path.display()
        ))
        .start();
    let file = "/files/report.txt";
    assert_eq!(s.get(file).status, 401);
    let mark = s.log_mark();
    let resp = basic_get(&s, file, "spy", "spy-pass");
    s.assert_status(&resp, 200, mark);
    assert_eq!(resp.text(), "for secret agents\n");
    assert_eq!(basic_get(&s, file, "spy", "wrong").status, 401);
    let mark = s.log_mark();
    assert_eq!(basic_get(&s, file, "clerk", "clerk-pass").status, 401);
    let why = "Authorization of user 'clerk' to access '/files/report.txt' failed. User is not a member of any groups.";
    assert!(s.wait_for_log_since(mark, why, Duration::from_secs(5)), "{}", s.log_since(mark));
    let mark = s.log_mark();
    assert_eq!(basic_get(&s, file, "gone", "gone-pass").status, 401);
    assert!(s.wait_for_log_since(mark, "user gone not found", Duration::from_secs(5)), "{}", s.log_since(mark));
    assert_eq!(basic_get(&s, file, "nobody", "x").status, 401);

    // The Django application itself, in its daemon group, behind the same users.
    assert_eq!(s.get("/app/admin/login/").status, 401);
    let mark = s.log_mark();
    let resp = basic_get(&s, "/app/admin/login/", "clerk", "clerk-pass");
    s.assert_status(&resp, 200, mark);
    assert!(resp.text().contains("Django"), "{resp:?}");
    let app = seen(&basic_get(&s, "/whoami", "clerk", "clerk-pass"));
    assert_eq!((app["REMOTE_USER"].as_str(), app["AUTH_TYPE"].as_str()), ("clerk", "Basic"));
    assert_eq!(app["mod_wsgi.process_group"], "django");
    s.assert_no_crash();
}

/// `WSGIRestrictEmbedded On` keeps applications out of Apache children,
/// but access and auth scripts still run there (as in mod_wsgi), so Python
/// starts in the children when such a script is configured.
#[test]
fn auth_scripts_work_when_embedded_mode_is_restricted() {
    let apache = ApacheBuilder::new()
        .embedded_only()
        .file("auth/auth.wsgi", AUTH_SCRIPT)
        .file("private/secret.txt", "restricted static\n")
        .conf(&format!(
            "WSGIRestrictEmbedded On\nAlias /private {{root}}/private\n<Directory {{root}}/private>\n    Require all granted\n</Directory>\n{}",
            basic("/private", "{root}/auth/auth.wsgi", "    Require valid-user")
        ))
        .start();
    assert_eq!(apache.get("/private/secret.txt").status, 401);
    let resp = basic_get(&apache, "/private/secret.txt", "spy", "secret");
    assert_eq!((resp.status, resp.text().as_str()), (200, "restricted static\n"), "{resp:?}\n{}", apache.error_log());
}
