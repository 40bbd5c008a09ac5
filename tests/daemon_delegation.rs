//! Daemon mode, responses Apache replaces, as mod_wsgi does (its user
//! guide's "Delegating File Serving To Apache"): status 200 with a local
//! `Location` makes Apache serve that URL itself (ranges, conditional
//! requests, its own Content-Type), and `WSGIErrorOverride On` replaces an
//! application's error page by Apache's `ErrorDocument`.

mod common;

use common::*;

/// `/app/<anything>?<location>`: 200 with that Location and a few headers
/// of its own; `/app/status?<code>`: that status with the app's own page.
const APP: &str = include_str!("apps/daemon_delegation/app.py");

const REPORT: &str = "the report Apache serves, with sendfile and ranges\n";

fn server() -> &'static Apache {
    shared!(Apache, {
        ApacheBuilder::new()
            .file("scripts/app.wsgi", APP)
            .file("files/report.txt", REPORT)
            .file("errors/404.html", "the server's own not-found page\n")
            .conf(
                "WSGIDaemonProcess delegating display-name=%{GROUP}
WSGIScriptAlias /app {root}/scripts/app.wsgi process-group=delegating
WSGIScriptAlias /override {root}/scripts/app.wsgi process-group=delegating
Alias /files {root}/files
Alias /errors {root}/errors
<Directory {root}/files>
    Require all granted
</Directory>
<Directory {root}/errors>
    Require all granted
</Directory>
<Location /override>
    WSGIErrorOverride On
    ErrorDocument 404 /errors/404.html
</Location>
<Location /app>
    ErrorDocument 404 /errors/404.html
</Location>",
            )
            .start()
    })
}

#[test]
fn a_local_location_with_200_is_served_by_apache() {
    let s = server();
    let mark = s.log_mark();
    let resp = s.get("/app/download?/files/report.txt");
    s.assert_status(&resp, 200, mark);
    assert_eq!(resp.text(), REPORT, "{resp:?}");
    assert_eq!(resp.header("Content-Type"), Some("text/plain"), "Apache's type for .txt: {resp:?}");
    assert_eq!(resp.header("Location"), None, "{resp:?}");
    if s.module() == Module::Ours {
        // Beyond mod_wsgi (docs/differences.md): the application's other
        // headers go out with the file.
        assert_eq!(resp.header("Content-Disposition"), Some("attachment; filename=\"report.txt\""), "{resp:?}");
        assert_eq!(resp.header("Cache-Control"), Some("private"), "{resp:?}");
    }
}

#[test]
fn a_delegated_file_honours_ranges() {
    let s = server();
    let resp = s.request("GET", "/app/download?/files/report.txt", &[("Range", "bytes=4-9")], b"");
    assert_eq!(resp.status, 206, "{resp:?}");
    assert_eq!(resp.text(), &REPORT[4..10]);
}

#[test]
fn a_post_is_delegated_as_a_get() {
    let s = server();
    let resp = s.post("/app/upload?/files/report.txt", "text/plain", b"form data");
    assert_eq!((resp.status, resp.text()), (200, REPORT.to_string()), "{resp:?}");
}

#[test]
fn a_full_url_or_another_status_is_sent_as_it_is() {
    let s = server();
    let resp = s.get("/app/away?http://example.com/elsewhere");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text(), "body the application sent, dropped");
    assert_eq!(resp.header("Location"), Some("http://example.com/elsewhere"));
}

#[test]
fn error_override_replaces_the_application_page_by_the_error_document() {
    let s = server();
    let resp = s.get("/override/status?404");
    assert_eq!(resp.status, 404, "{resp:?}");
    assert_eq!(resp.text(), "the server's own not-found page\n");
    let resp = s.get("/app/status?404");
    assert_eq!((resp.status, resp.text()), (404, "the application page".to_string()), "without the directive");
    // Not an error: sent as it is.
    let resp = s.get("/override/status?201");
    assert_eq!((resp.status, resp.text()), (201, "the application page".to_string()));
}
