//! Real HAProxy and nginx in front of Apache, all on loopback: the client
//! talks from 127.0.0.2, the proxies reach Apache from 127.0.0.1 (the one
//! trusted proxy). The application, embedded and in a daemon, must see the
//! client's address, the original Host, and `https` where HAProxy
//! terminates TLS (a self-signed certificate made here); a client talking
//! to Apache directly must not be able to claim any of it.

mod common;

use std::net::SocketAddr;
use std::process::Command;

use common::apache::free_port;
use common::front::Front;
use common::*;

const CLIENT: &str = "127.0.0.2";

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn apache() -> Apache {
    ApacheBuilder::new()
        .embedded_only()
        .file("scripts/env.wsgi", apps::ENVIRON)
        .conf(
            "WSGIDaemonProcess front threads=4\n\
             WSGIScriptAlias /e {root}/scripts/env.wsgi\nWSGIScriptAlias /d {root}/scripts/env.wsgi\n\
             <Location /d>\nWSGIProcessGroup front\n</Location>\n\
             WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto X-Forwarded-Host\n\
             WSGITrustedProxies 127.0.0.1",
        )
        .start()
}

/// The environ seen for `url`, asked with curl from 127.0.0.2.
fn curl(url: &str, extra: &[&str]) -> std::collections::BTreeMap<String, String> {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "20", "--interface", CLIENT, "-H", "X-Forwarded-For: 6.6.6.6"])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn expect(env: &std::collections::BTreeMap<String, String>, what: &str, want: &[(&str, &str)]) {
    for (key, value) in want {
        assert_eq!(env.get(*key).map(String::as_str), Some(apps::py_str(value).as_str()), "{what}: {key}\n{env:#?}");
    }
}

#[test]
fn haproxy_terminating_tls_passes_the_client_address_host_and_https() {
    let apache = apache();
    let tls = apache.root().join("tls");
    common::tls::self_signed(&tls, "www.example.com");
    let port = free_port();
    let config = format!(
        "global\n  log stdout format raw local0 info\n\
         defaults\n  mode http\n  log global\n  option httplog\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         frontend tls\n  bind 127.0.0.1:{port} ssl crt {cert}\n  option forwardfor\n\
         \x20 http-request set-header X-Forwarded-Proto https\n  default_backend apache\n\
         backend apache\n  server a 127.0.0.1:{aport} check inter 1s\n",
        cert = tls.join("both.pem").display(),
        aport = apache.port()
    );
    let haproxy = Front::haproxy(apache.root(), &config, None, loopback(port));
    let host = format!("www.example.com:{port}");
    let resolve = format!("www.example.com:{port}:127.0.0.1");
    for mode in ["e", "d"] {
        let env = curl(&format!("https://{host}/{mode}"), &["--resolve", &resolve]);
        expect(
            &env,
            &format!("HAProxy, /{mode}\n{}", haproxy.output()),
            &[
                ("REMOTE_ADDR", CLIENT),
                ("HTTP_X_FORWARDED_FOR", CLIENT),
                ("HTTP_HOST", &host),
                ("wsgi.url_scheme", "https"),
                ("HTTP_X_FORWARDED_PROTO", "https"),
            ],
        );
    }
}

#[test]
fn nginx_passes_the_client_address_and_the_original_host() {
    let apache = apache();
    let port = free_port();
    let http = format!(
        "server {{\n  listen 127.0.0.1:{port};\n  location / {{\n    proxy_pass http://127.0.0.1:{aport};\n\
         \x20   proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
         \x20   proxy_set_header X-Forwarded-Host $http_host;\n\
         \x20   proxy_set_header X-Forwarded-Proto $scheme;\n  }}\n}}",
        aport = apache.port()
    );
    let nginx = Front::nginx(apache.root(), &http, None, loopback(port));
    let host = format!("shop.example.com:{port}");
    for mode in ["e", "d"] {
        // A spoofed X-Forwarded-Proto too: nginx replaces it.
        let env = curl(
            &format!("http://127.0.0.1:{port}/{mode}"),
            &["-H", &format!("Host: {host}"), "-H", "X-Forwarded-Proto: https"],
        );
        expect(
            &env,
            &format!("nginx, /{mode}\n{}", nginx.output()),
            &[
                ("REMOTE_ADDR", CLIENT),
                // The spoofed entry is cut off: only the client onwards stays.
                ("HTTP_X_FORWARDED_FOR", CLIENT),
                ("HTTP_HOST", &host),
                ("HTTP_X_FORWARDED_HOST", &host),
                ("wsgi.url_scheme", "http"),
            ],
        );
    }
}

#[test]
fn a_client_talking_to_apache_directly_cannot_claim_anything() {
    let apache = apache();
    for mode in ["e", "d"] {
        let env = curl(
            &format!("http://127.0.0.1:{}/{mode}", apache.port()),
            &["-H", "X-Forwarded-Proto: https", "-H", "X-Forwarded-Host: evil.example.com", "-H", "X-Real-IP: 6.6.6.7"],
        );
        expect(&env, &format!("direct, /{mode}"), &[("REMOTE_ADDR", CLIENT), ("wsgi.url_scheme", "http")]);
        for key in ["HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_REAL_IP"] {
            assert!(!env.contains_key(key), "direct, /{mode}: {key} reached the application\n{env:#?}");
        }
        assert_eq!(env.get("HTTP_HOST"), Some(&apps::py_str(&format!("127.0.0.1:{}", apache.port()))));
    }
}
