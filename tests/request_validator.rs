//! Applications wrapped in `wsgiref.validate.validator` run through the
//! request handling of the other request_* tests (environ, wsgi.input in
//! every way, chunked bodies, write(), generators, exc_info, HEAD, errors,
//! Authorization, HTTP/1.0, a script at the root, rewrite pass-through):
//! the validator finds nothing to complain about, neither an AssertionError
//! nor a WSGIWarning.

mod common;

use std::time::Duration;

use common::http::chunked;
use common::*;

const APP: &str = include_str!("apps/request_validator/app.py");

#[test]
fn validator_finds_nothing_wrong() {
    let apache = ApacheBuilder::new()
        .file("scripts/v.wsgi", APP)
        .conf(
            "WSGIScriptAlias /v {root}/scripts/v.wsgi
WSGIScriptAlias /vchunked {root}/scripts/v.wsgi
WSGIScriptAlias /vauth {root}/scripts/v.wsgi
<Location /vchunked>
    WSGIChunkedRequest On
</Location>
<Location /vauth>
    WSGIPassAuthorization On
</Location>
WSGIScriptAlias / {root}/scripts/v.wsgi",
        )
        .start();
    let mark = apache.log_mark();
    let body = b"first line\nsecond line\n\nthird line without newline";
    let mut checked = 0;
    let mut expect = |resp: Response, status: u16, what: &str| {
        assert_eq!(resp.status, status, "{what}: {resp:?}\n{}", apache.log_since(mark));
        checked += 1;
        resp
    };
    for mode in ["read", "readline", "readline_sized", "readlines", "readlines_hint", "iter"] {
        let resp = expect(apache.post(&format!("/v?{mode}"), "application/octet-stream", body), 200, mode);
        assert_eq!(resp.body, body, "{mode}");
        let resp = expect(
            apache.request(
                "POST",
                &format!("/vchunked?{mode}"),
                &[("Transfer-Encoding", "chunked"), ("Content-Type", "text/plain")],
                &chunked(body, 3),
            ),
            200,
            mode,
        );
        assert_eq!(resp.body, body, "chunked {mode}");
        expect(apache.post(&format!("/v?{mode}"), "application/octet-stream", b""), 200, mode);
    }
    for (query, status) in [
        ("write", 200),
        ("generator", 200),
        ("exc_info", 500),
        ("errors", 200),
        ("no_content", 204),
        ("not_modified", 304),
        ("file_wrapper", 200),
        ("cl", 200),
        ("", 200),
    ] {
        let resp = expect(apache.get(&format!("/v/some%20path/x?{query}")), status, query);
        if query == "write" {
            assert_eq!(resp.text(), "written;returned");
        }
        expect(apache.head(&format!("/v?{query}")), status, query);
    }
    expect(apache.request("GET", "/vauth/x", &[("Authorization", "Basic Zm9vOmJhcg==")], b""), 200, "auth");
    expect(apache.request("GET", "/v/x", &[("X-Dup", "a"), ("X-Dup", "b")], b""), 200, "repeated headers");
    let resp = expect(apache.get("/"), 200, "root");
    assert_eq!(resp.text(), "GET  /", "a script at the root has SCRIPT_NAME '' and PATH_INFO '/'");
    expect(apache.get("/elsewhere//deeper"), 200, "root with path");
    let raw = apache.raw(b"GET /v/old HTTP/1.0\r\n\r\n");
    expect(Response::parse(&raw, false).unwrap(), 200, "HTTP/1.0");
    assert!(checked > 40);
    std::thread::sleep(Duration::from_millis(300));
    let log = apache.log_since(mark);
    for sign in ["WSGIWarning", "AssertionError", "Traceback", "Exception occurred", "Error"] {
        let bad: Vec<&str> = log.lines().filter(|l| l.contains(sign)).collect();
        assert!(bad.is_empty(), "the validator complained ({sign}):\n{}\n\nwhole log:\n{log}", bad.join("\n"));
    }
    assert!(log.contains("validator: a line") && log.contains("validator: two lines"), "{log}");
    // Control: the validator is active and its complaints reach the log.
    let mark = apache.log_mark();
    assert_eq!(apache.get("/v?control_no_content_type").status, 500);
    assert!(
        apache.wait_for_log_since(
            mark,
            "AssertionError: No Content-Type header found in headers",
            Duration::from_secs(5)
        ),
        "{}",
        apache.log_since(mark)
    );
}
