//! The examples of mod_wsgi's Quick Configuration Guide
//! (/work/shared/reference/quick-configuration-guide.txt), run as written
//! with paths moved under the test root and `*:80` replaced by our port.

mod common;

use common::apps::{self, environ, py_str};
use common::*;

const GUIDE_DIRECTORY: &str = "<Directory {root}/wsgi-scripts>
Order allow,deny
Allow from all
</Directory>";

/// The guide's hello-world answer, exactly.
fn assert_hello_world(resp: &Response, apache: &Apache) {
    assert_eq!(resp.status, 200, "{resp:?}\n{}", apache.error_log());
    assert_eq!(resp.body, b"Hello World!", "{resp:?}");
    assert_eq!(resp.header("Content-Type"), Some("text/plain"), "{resp:?}");
    assert_eq!(resp.header("Content-Length"), Some("12"), "{resp:?}");
}

fn get_host(apache: &Apache, host: &str, path: &str) -> Response {
    apache.request("GET", path, &[("Host", host)], b"")
}

#[test]
fn hello_world_with_script_alias_and_directory() {
    let apache = ApacheBuilder::new()
        .file("wsgi-scripts/myapp.wsgi", apps::HELLO_WORLD)
        .conf("WSGIScriptAlias /myapp {root}/wsgi-scripts/myapp.wsgi")
        .conf(GUIDE_DIRECTORY)
        .start();
    let mark = apache.log_mark();
    assert_hello_world(&apache.get("/myapp"), &apache);
    // Keep-alive: a second request on the same connection works too.
    let mut conn = apache.connect();
    assert_hello_world(&conn.get("/myapp"), &apache);
    assert_hello_world(&conn.get("/myapp"), &apache);
    let log = apache.log_since(mark);
    assert!(!log.contains(":error]"), "unexpected errors:\n{log}");
    apache.assert_no_crash();
}

#[test]
fn virtual_host_mounting_at_myapp() {
    let apache = ApacheBuilder::new()
        .file("wsgi-scripts/myapp.wsgi", apps::HELLO_WORLD)
        .file("documents/index.html", "<p>documents</p>\n")
        .conf(
            "<VirtualHost *:{port}>
    ServerName www.example.com
    ServerAlias example.com
    ServerAdmin webmaster@example.com
    DocumentRoot {root}/documents
    <Directory {root}/documents>
    Order allow,deny
    Allow from all
    </Directory>
    WSGIScriptAlias /myapp {root}/wsgi-scripts/myapp.wsgi
    <Directory {root}/wsgi-scripts>
    Order allow,deny
    Allow from all
    </Directory>
</VirtualHost>",
        )
        .start();
    for host in ["www.example.com", "example.com"] {
        assert_hello_world(&get_host(&apache, host, "/myapp"), &apache);
        let page = get_host(&apache, host, "/");
        assert_eq!(page.status, 200, "{page:?}");
        assert_eq!(page.text(), "<p>documents</p>\n");
    }
    let missing = get_host(&apache, "www.example.com", "/other");
    assert_eq!(missing.status, 404, "{missing:?}");
    apache.assert_no_crash();
}

#[test]
fn virtual_host_mounting_at_root_with_static_aliases() {
    let favicon: &[u8] = b"\x00\x00\x01\x00fake-icon\xff";
    let apache = ApacheBuilder::new()
        .file("wsgi-scripts/myapp.wsgi", apps::ENVIRON)
        .file("documents/robots.txt", "User-agent: *\nDisallow: /\n")
        .file("documents/favicon.ico", favicon)
        .file("documents/media/site.css", "body { color: black }\n")
        .conf(
            "<VirtualHost *:{port}>
    ServerName www.example.com
    ServerAlias example.com
    ServerAdmin webmaster@example.com
    DocumentRoot {root}/documents
    Alias /robots.txt {root}/documents/robots.txt
    Alias /favicon.ico {root}/documents/favicon.ico
    Alias /media/ {root}/documents/media/
    <Directory {root}/documents>
    Order allow,deny
    Allow from all
    </Directory>
    WSGIScriptAlias / {root}/wsgi-scripts/myapp.wsgi
    <Directory {root}/wsgi-scripts>
    Order allow,deny
    Allow from all
    </Directory>
</VirtualHost>",
        )
        .start();
    let host = "www.example.com";

    let robots = get_host(&apache, host, "/robots.txt");
    assert_eq!(robots.status, 200, "{robots:?}");
    assert_eq!(robots.text(), "User-agent: *\nDisallow: /\n");
    assert_eq!(robots.header("Content-Type"), Some("text/plain"));

    let icon = get_host(&apache, host, "/favicon.ico");
    assert_eq!(icon.status, 200, "{icon:?}");
    assert_eq!(icon.body, favicon);

    let css = get_host(&apache, host, "/media/site.css");
    assert_eq!(css.status, 200, "{css:?}");
    assert_eq!(css.text(), "body { color: black }\n");
    assert_eq!(css.header("Content-Type"), Some("text/css"));

    for (path, path_info) in
        [("/some/path", "/some/path"), ("/", "/"), ("/robots.txt.bak", "/robots.txt.bak"), ("/mediax", "/mediax")]
    {
        let env = environ(&get_host(&apache, host, path));
        assert_eq!(env["SCRIPT_NAME"], py_str(""), "{path}: {env:#?}");
        assert_eq!(env["PATH_INFO"], py_str(path_info), "{path}: {env:#?}");
        assert_eq!(env["HTTP_HOST"], py_str(host));
        assert_eq!(env["SERVER_NAME"], py_str(host));
    }
    apache.assert_no_crash();
}
