//! `WSGITrustedProxyHeaders` and `WSGITrustedProxies` against the real
//! Apache, each case in embedded mode and in a daemon (which must see the
//! same environ), in a virtual host, `<Location>` and `.htaccess`.
//!
//! The peer is always 127.0.0.1; a location trusts it or not through its
//! `WSGITrustedProxies`. Run with `MOD_WSGI_RS_TEST_MODULE=debian` to check
//! the same cases against mod_wsgi 4.9.4: where an expectation names two
//! values, the second is 4.9.4's and docs/differences.md says why ours
//! differs.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;

/// The headers every location below names (one per category).
const NAMED: &str =
    "X-Forwarded-For X-Forwarded-Host X-Forwarded-Server X-Forwarded-Port X-Forwarded-Proto X-Script-Name";

/// Location name -> its directives.
const LOCATIONS: &[(&str, &str)] = &[
    ("trusted", "WSGITrustedProxies 10.0.0.0/8 127.0.0.1"),
    ("untrusted", "WSGITrustedProxies 192.0.2.1 ::1"),
    ("nolist", ""),
    (
        "others",
        "WSGITrustedProxyHeaders X-Real-IP X-Host X-HTTPS X-Forwarded-Script-Name\nWSGITrustedProxies 127.0.0.0/8",
    ),
    ("others-untrusted", "WSGITrustedProxyHeaders X-Client-IP X-Host X-Forwarded-SSL\nWSGITrustedProxies 10.0.0.1"),
];

/// Every header a category knows, each with a value of its own.
const ALL_HEADERS: &[(&str, &str)] = &[
    ("X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.1.2.3"),
    ("X-Client-IP", "198.51.100.1"),
    ("X-Real-IP", "198.51.100.2"),
    ("X-Forwarded-Host", "www.example.com"),
    ("X-Host", "x-host.example.com"),
    ("X-Forwarded-Server", "front.example.com"),
    ("X-Forwarded-Port", "8443"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Scheme", "https"),
    ("X-Scheme", "https"),
    ("X-Forwarded-HTTPS", "on"),
    ("X-Forwarded-SSL", "on"),
    ("X-HTTPS", "1"),
    ("X-Script-Name", "/mounted"),
    ("X-Forwarded-Script-Name", "/forwarded-mount"),
    ("X-Unrelated", "kept"),
];

fn server() -> &'static Apache {
    shared!(Apache, {
        let mut conf = String::from(
            "WSGIDaemonProcess tp threads=4\nWSGIApplicationGroup %{GLOBAL}\n<VirtualHost 127.0.0.1:{port}>\n\
             ServerName 127.0.0.1\n",
        );
        conf.push_str(&format!("WSGITrustedProxyHeaders {NAMED}\n"));
        for (mode, group) in [("e", "%{GLOBAL}"), ("d", "tp")] {
            for (name, directives) in LOCATIONS {
                conf.push_str(&format!(
                    "WSGIScriptAlias /{mode}/{name} {{root}}/scripts/env.wsgi\n<Location /{mode}/{name}>\n\
                     WSGIProcessGroup {group}\n{directives}\n</Location>\n"
                ));
            }
            // The virtual host's own setting, and a .htaccess file's.
            conf.push_str(&format!(
                "WSGIScriptAlias /{mode}/vhost {{root}}/scripts/env.wsgi\n<Location /{mode}/vhost>\n\
                 WSGIProcessGroup {group}\n</Location>\n\
                 WSGIScriptAlias /{mode}/htaccess {{root}}/ht/env.wsgi\n<Location /{mode}/htaccess>\n\
                 WSGIProcessGroup {group}\n</Location>\n"
            ));
        }
        conf.push_str("<Directory {root}/ht>\nAllowOverride FileInfo\n</Directory>\n");
        conf.push_str("</VirtualHost>\n");
        ApacheBuilder::new()
            .embedded_only()
            .file("scripts/env.wsgi", apps::ENVIRON)
            .file("ht/env.wsgi", apps::ENVIRON)
            .file("ht/.htaccess", "WSGITrustedProxyHeaders X-Real-IP X-Forwarded-Proto\nWSGITrustedProxies 127.0.0.1\n")
            .conf(&conf)
            .start()
    })
}

/// What the trusted-proxy rules touch, from one request's environ.
fn seen(environ: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    environ
        .iter()
        .filter(|(k, _)| {
            k.starts_with("HTTP_X_")
                || matches!(
                    k.as_str(),
                    "REMOTE_ADDR"
                        | "HTTP_HOST"
                        | "SERVER_NAME"
                        | "SERVER_PORT"
                        | "wsgi.url_scheme"
                        | "mod_wsgi.mount_point"
                )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The environ subset for `location` with `headers`, the same in embedded
/// mode and in the daemon (else the test fails), and SCRIPT_NAME apart.
fn ask(location: &str, headers: &[(&str, &str)]) -> (BTreeMap<String, String>, String) {
    let apache = server();
    let mut answers = Vec::new();
    for mode in ["e", "d"] {
        let mark = apache.log_mark();
        let resp = apache.request("GET", &format!("/{mode}/{location}"), headers, b"");
        apache.assert_status(&resp, 200, mark);
        let env = apps::environ(&resp);
        let script_name = env.get("SCRIPT_NAME").cloned().unwrap_or_default();
        answers.push((seen(&env), script_name.replace(&format!("'/{mode}/"), "'/{mode}/")));
    }
    assert_eq!(answers[0], answers[1], "{location}: embedded (left) and daemon (right) environs differ");
    answers.remove(0)
}

/// Ours, or mod_wsgi 4.9.4's where it differs (docs/differences.md).
fn want<T>(ours: T, debian: T) -> T {
    if server().module() == Module::Debian { debian } else { ours }
}

fn s(v: &str) -> String {
    apps::py_str(v)
}

fn check(location: &str, got: &BTreeMap<String, String>, expected: &[(&str, Option<&str>)]) {
    let mut report = String::new();
    for (key, value) in expected {
        let have = got.get(*key).map(String::as_str);
        let want = value.map(s);
        if have != want.as_deref() {
            report.push_str(&format!("  {key}: got {have:?}, expected {want:?}\n"));
        }
    }
    assert!(report.is_empty(), "{location} ({:?}):\n{report}all: {got:#?}", server().module());
}

#[test]
fn a_trusted_proxy_rewrites_the_environ_and_other_headers_of_its_categories_go() {
    let (got, script_name) = ask("trusted", ALL_HEADERS);
    check(
        "trusted",
        &got,
        &[
            ("REMOTE_ADDR", Some("203.0.113.7")),
            ("HTTP_X_FORWARDED_FOR", Some("203.0.113.7, 10.1.2.3")),
            ("HTTP_HOST", Some("www.example.com")),
            ("HTTP_X_FORWARDED_HOST", Some("www.example.com")),
            ("SERVER_NAME", Some("front.example.com")),
            ("SERVER_PORT", Some("8443")),
            ("wsgi.url_scheme", Some("https")),
            ("HTTP_X_FORWARDED_PROTO", Some("https")),
            ("mod_wsgi.mount_point", Some("/mounted")),
            ("HTTP_X_SCRIPT_NAME", Some("/mounted")),
            // The other headers of each named category are gone.
            ("HTTP_X_CLIENT_IP", None),
            ("HTTP_X_REAL_IP", None),
            ("HTTP_X_HOST", None),
            ("HTTP_X_FORWARDED_SCHEME", None),
            ("HTTP_X_SCHEME", None),
            ("HTTP_X_FORWARDED_HTTPS", None),
            ("HTTP_X_FORWARDED_SSL", None),
            ("HTTP_X_HTTPS", None),
            ("HTTP_X_FORWARDED_SCRIPT_NAME", None),
            ("HTTP_X_UNRELATED", Some("kept")),
        ],
    );
    assert_eq!(script_name, s("/mounted"));
}

#[test]
fn an_untrusted_peer_gets_nothing_and_loses_every_header_of_the_named_categories() {
    let (got, script_name) = ask("untrusted", ALL_HEADERS);
    check(
        "untrusted",
        &got,
        &[
            ("REMOTE_ADDR", Some("127.0.0.1")),
            ("HTTP_HOST", Some(&format!("127.0.0.1:{}", server().port()))),
            ("SERVER_NAME", Some("127.0.0.1")),
            ("SERVER_PORT", Some(&server().port().to_string())),
            ("wsgi.url_scheme", Some("http")),
            ("mod_wsgi.mount_point", None),
            ("HTTP_X_FORWARDED_FOR", None),
            ("HTTP_X_CLIENT_IP", None),
            ("HTTP_X_REAL_IP", None),
            ("HTTP_X_FORWARDED_HOST", None),
            ("HTTP_X_HOST", None),
            // mod_wsgi 4.9.4 leaves these two (fixed in later mod_wsgi).
            ("HTTP_X_FORWARDED_SERVER", want(None, Some("front.example.com"))),
            ("HTTP_X_FORWARDED_PORT", want(None, Some("8443"))),
            ("HTTP_X_FORWARDED_PROTO", None),
            ("HTTP_X_FORWARDED_SCHEME", None),
            ("HTTP_X_SCHEME", None),
            ("HTTP_X_FORWARDED_HTTPS", None),
            ("HTTP_X_FORWARDED_SSL", None),
            ("HTTP_X_HTTPS", None),
            ("HTTP_X_SCRIPT_NAME", None),
            ("HTTP_X_FORWARDED_SCRIPT_NAME", None),
            ("HTTP_X_UNRELATED", Some("kept")),
        ],
    );
    assert_eq!(script_name, s("/{mode}/untrusted"));
}

#[test]
fn without_a_trusted_list_any_peer_is_trusted_and_the_first_forwarded_address_wins() {
    let (got, _) = ask("nolist", ALL_HEADERS);
    check(
        "nolist",
        &got,
        &[
            ("REMOTE_ADDR", Some("6.6.6.6")),
            ("HTTP_X_FORWARDED_FOR", Some("6.6.6.6, 203.0.113.7, 10.1.2.3")),
            ("HTTP_HOST", Some("www.example.com")),
            ("wsgi.url_scheme", Some("https")),
        ],
    );
}

#[test]
fn the_other_headers_of_each_category_work_as_mod_wsgi_s() {
    let (got, script_name) = ask("others", ALL_HEADERS);
    check(
        "others",
        &got,
        &[
            ("REMOTE_ADDR", Some("198.51.100.2")),
            ("HTTP_X_REAL_IP", Some("198.51.100.2")),
            ("HTTP_X_FORWARDED_FOR", None),
            ("HTTP_X_CLIENT_IP", None),
            ("HTTP_HOST", Some("x-host.example.com")),
            ("HTTP_X_FORWARDED_HOST", None),
            ("wsgi.url_scheme", Some("https")),
            ("HTTP_X_HTTPS", Some("1")),
            ("HTTP_X_FORWARDED_PROTO", None),
            ("mod_wsgi.mount_point", Some("/forwarded-mount")),
            ("HTTP_X_SCRIPT_NAME", None),
            // Categories not named here are left alone.
            ("HTTP_X_FORWARDED_SERVER", Some("front.example.com")),
            ("SERVER_NAME", Some("127.0.0.1")),
        ],
    );
    assert_eq!(script_name, s("/forwarded-mount"));
    // The flag headers' other spellings, and turning https off.
    for (value, scheme) in [("0", "http"), ("off", "http"), ("TRUE", "https"), ("On", "https"), ("maybe", "http")] {
        let (got, _) = ask("others", &[("X-HTTPS", value)]);
        check("others", &got, &[("wsgi.url_scheme", Some(scheme))]);
    }
    // An untrusted peer's headers of these categories go.
    let (got, _) = ask("others-untrusted", ALL_HEADERS);
    check(
        "others-untrusted",
        &got,
        &[
            ("REMOTE_ADDR", Some("127.0.0.1")),
            ("HTTP_X_CLIENT_IP", None),
            ("HTTP_X_FORWARDED_FOR", None),
            ("HTTP_X_REAL_IP", None),
            ("HTTP_X_HOST", None),
            ("HTTP_X_FORWARDED_SSL", None),
            ("wsgi.url_scheme", Some("http")),
        ],
    );
}

#[test]
fn forwarded_for_lists_empty_entries_and_malformed_addresses() {
    let case = |xff: &str, remote: &str, list: Option<&str>| {
        let (got, _) = ask("trusted", &[("X-Forwarded-For", xff)]);
        check(
            &format!("trusted, X-Forwarded-For: {xff}"),
            &got,
            &[("REMOTE_ADDR", Some(remote)), ("HTTP_X_FORWARDED_FOR", list)],
        );
    };
    // Every entry trusted: the leftmost.
    case("10.0.0.3, 10.0.0.2", "10.0.0.3", Some("10.0.0.3, 10.0.0.2"));
    // Only the nearest entry counts when it is not trusted.
    case("10.0.0.3, 192.0.2.9", "192.0.2.9", Some("192.0.2.9"));
    case("2001:db8::1, 10.0.0.2", "2001:db8::1", Some("2001:db8::1, 10.0.0.2"));
    // Empty entries are skipped (4.9.4 keeps them, and an empty one
    // becomes REMOTE_ADDR); a trailing comma is harmless in both.
    case("203.0.113.7,, 10.0.0.2", want("203.0.113.7", ""), Some(want("203.0.113.7, 10.0.0.2", ", 10.0.0.2")));
    case("203.0.113.7, 10.0.0.2,", "203.0.113.7", Some("203.0.113.7, 10.0.0.2"));
    // A malformed address never becomes REMOTE_ADDR (4.9.4 uses it as is).
    case("203.0.113.7, garbage", want("127.0.0.1", "garbage"), Some("garbage"));
    case("203.0.113.7, unknown, 10.0.0.2", want("10.0.0.2", "unknown"), Some(want("10.0.0.2", "unknown, 10.0.0.2")));
    // Without a list: the first entry, if it is an address.
    let (got, _) = ask("nolist", &[("X-Forwarded-For", "not-an-ip, 203.0.113.7")]);
    check("nolist", &got, &[("REMOTE_ADDR", Some(want("127.0.0.1", "not-an-ip")))]);
}

#[test]
fn malformed_single_addresses_and_ports_are_ignored() {
    let (got, _) = ask("others", &[("X-Real-IP", "2001:db8::5")]);
    check("others", &got, &[("REMOTE_ADDR", Some("2001:db8::5"))]);
    let (got, _) = ask("trusted", &[("X-Forwarded-Port", "8443")]);
    check("trusted", &got, &[("SERVER_PORT", Some("8443"))]);
    let (got, _) = ask("others", &[("X-Real-IP", "300.1.1.1")]);
    check(
        "others",
        &got,
        &[("REMOTE_ADDR", Some(want("127.0.0.1", "300.1.1.1"))), ("HTTP_X_REAL_IP", Some("300.1.1.1"))],
    );
    let port = server().port().to_string();
    for bad in ["http", "99999", "0"] {
        let (got, _) = ask("trusted", &[("X-Forwarded-Port", bad)]);
        check("trusted", &got, &[("SERVER_PORT", Some(want(&port, bad)))]);
    }
}

#[test]
fn virtual_host_and_htaccess_settings_apply() {
    // The virtual host names the headers and no proxies: any peer is trusted.
    let (got, _) = ask("vhost", ALL_HEADERS);
    check(
        "vhost",
        &got,
        &[("REMOTE_ADDR", Some("6.6.6.6")), ("HTTP_HOST", Some("www.example.com")), ("HTTP_X_REAL_IP", None)],
    );
    let (got, _) = ask("htaccess", ALL_HEADERS);
    check(
        "htaccess",
        &got,
        &[
            ("REMOTE_ADDR", Some("198.51.100.2")),
            ("HTTP_X_FORWARDED_FOR", None),
            ("wsgi.url_scheme", Some("https")),
            // .htaccess names its own list: the vhost's host header is not in it.
            ("HTTP_HOST", Some(&format!("127.0.0.1:{}", server().port()))),
            ("HTTP_X_FORWARDED_HOST", Some("www.example.com")),
        ],
    );
}

/// Runs configtest with `line` after a script alias: it must fail with a
/// syntax error on that line; returns Apache's output.
fn refused_at_configtest(builder: ApacheBuilder, line: &str) -> String {
    let builder = builder
        .file("scripts/env.wsgi", apps::ENVIRON)
        .conf(&format!("WSGIScriptAlias /env {{root}}/scripts/env.wsgi\n{line}"));
    let (ok, out) = builder.configtest();
    assert!(!ok, "configtest passed:\n{out}");
    let conf = std::fs::read_to_string(builder.root().join("httpd.conf")).unwrap();
    let number = conf.lines().position(|l| l == line).unwrap() + 1;
    assert!(out.contains(&format!("Syntax error on line {number} of")), "{out}");
    out
}

/// A malformed `WSGITrustedProxies` entry stops the configuration, naming
/// the entry and the line.
#[test]
fn a_malformed_trusted_proxy_is_a_configtest_error_naming_it() {
    let out = refused_at_configtest(ApacheBuilder::new(), "WSGITrustedProxies 10.0.0.1 10.0.0.0/33 ::1");
    assert!(out.contains("'10.0.0.0/33'") || out.contains("\"10.0.0.0/33\""), "the entry is not named:\n{out}");
}

/// A header name mod_wsgi does not interpret would have no effect: it is
/// refused at configtest, naming it, the line and the headers that work.
/// (mod_wsgi 4.9 accepts it and ignores it, so this loads ours whatever
/// MOD_WSGI_RS_TEST_MODULE says.)
#[test]
fn a_header_no_category_uses_is_a_configtest_error_naming_it() {
    let out = refused_at_configtest(
        ApacheBuilder::new().module(Module::Ours),
        "WSGITrustedProxyHeaders X-Forwarded-For X-Custom-Client",
    );
    assert!(out.contains("WSGITrustedProxyHeaders"), "{out}");
    assert!(out.contains("'X-Custom-Client': is not a header mod_wsgi interprets"), "{out}");
    assert!(out.contains("X-Forwarded-Proto"), "the headers that work are not listed:\n{out}");
}

/// Over TLS, a trusted `X-Forwarded-Proto: http` gives `http` (4.9.4 lets
/// Apache's own TLS win); `https`, or a value that is neither, `https`.
#[test]
fn a_trusted_scheme_header_wins_over_apache_s_own_tls() {
    let builder = ApacheBuilder::new().embedded_only().file("scripts/env.wsgi", apps::ENVIRON).conf(
        "LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so\n\
             LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n\
             SSLEngine on\nSSLCertificateFile {root}/tls/cert.pem\nSSLCertificateKeyFile {root}/tls/key.pem\n\
             WSGIDaemonProcess tls threads=2\n\
             WSGIScriptAlias /e {root}/scripts/env.wsgi\nWSGIScriptAlias /d {root}/scripts/env.wsgi\n\
             <Location /d>\nWSGIProcessGroup tls\n</Location>\n\
             WSGITrustedProxyHeaders X-Forwarded-Proto\nWSGITrustedProxies 127.0.0.1",
    );
    common::tls::self_signed(&builder.root().join("tls"), "127.0.0.1");
    let apache = builder.start();
    for mode in ["e", "d"] {
        for (proto, scheme) in [("http", want("http", "https")), ("https", "https"), ("bogus", "https")] {
            let body = curl_tls(apache.port(), &format!("/{mode}"), &[&format!("X-Forwarded-Proto: {proto}")]);
            assert!(
                body.contains(&format!("wsgi.url_scheme='{scheme}'")),
                "{mode}, X-Forwarded-Proto: {proto} over TLS: expected {scheme}:\n{body}\n{}",
                apache.error_log()
            );
        }
    }
}

/// GET over TLS with curl (the certificate is self-signed).
fn curl_tls(port: u16, path: &str, headers: &[&str]) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sk", "--max-time", "20"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(format!("https://127.0.0.1:{port}{path}")).output().unwrap();
    assert!(out.status.success(), "curl {path}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
