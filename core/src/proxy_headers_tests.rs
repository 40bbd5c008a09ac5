use super::{HEADER_NAMES, HEADERS, apply, interprets};
use crate::config::TrustedProxy;
use crate::config::header_env_name;
use crate::vars::Vars;

fn vars(entries: &[(&str, &str)]) -> Vars {
    entries.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect()
}

fn get(v: &Vars, name: &str) -> Option<String> {
    v.get(name.as_bytes()).map(|b| String::from_utf8_lossy(b).into_owned())
}

fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
    list.iter().map(|p| TrustedProxy::parse(p).unwrap()).collect()
}

fn headers(list: &[&str]) -> Vec<String> {
    list.iter().map(|h| h.to_string()).collect()
}

/// `vars` after applying `trusted` headers from a peer at `peer`, with
/// `list` as WSGITrustedProxies (`None`: directive not set).
fn run(peer: &str, extra: &[(&str, &str)], trusted: &[&str], list: Option<&[&str]>) -> Vars {
    let mut entries = vec![("REMOTE_ADDR", peer), ("HTTP_HOST", "backend:8080"), ("SCRIPT_NAME", "/app")];
    entries.extend_from_slice(extra);
    let mut v = vars(&entries);
    let list = list.map(proxies);
    apply(&mut v, &headers(trusted), list.as_deref());
    v
}

const XFF: &str = "HTTP_X_FORWARDED_FOR";

fn client(peer: &str, xff: &str, list: &[&str]) -> (String, Option<String>) {
    let v = run(peer, &[(XFF, xff)], &["X-Forwarded-For"], Some(list));
    (get(&v, "REMOTE_ADDR").unwrap(), get(&v, XFF))
}

#[test]
fn forwarded_for_is_walked_from_the_right_past_trusted_proxies() {
    let list = ["10.0.0.0/8"];
    assert_eq!(client("10.0.0.1", "1.2.3.4", &list), ("1.2.3.4".into(), Some("1.2.3.4".into())));
    // A spoofed entry to the left of the real client is cut off.
    assert_eq!(
        client("10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.9", &list),
        ("1.2.3.4".into(), Some("1.2.3.4, 10.0.0.9".into()))
    );
    // Every entry trusted: the leftmost one.
    assert_eq!(client("10.0.0.1", "10.0.0.3,10.0.0.2", &list), ("10.0.0.3".into(), Some("10.0.0.3, 10.0.0.2".into())));
    // IPv6 clients and proxies.
    assert_eq!(
        client("fd00::1", "2001:db8::7, fd00::2", &["fd00::/8"]),
        ("2001:db8::7".into(), Some("2001:db8::7, fd00::2".into()))
    );
}

#[test]
fn empty_entries_and_stray_commas_are_skipped() {
    let list = ["10.0.0.0/8"];
    assert_eq!(
        client("10.0.0.1", ",1.2.3.4,, 10.0.0.2 ,", &list),
        ("1.2.3.4".into(), Some("1.2.3.4, 10.0.0.2".into()))
    );
    // Nothing but commas: nothing to use, REMOTE_ADDR stays the peer's.
    assert_eq!(client("10.0.0.1", " , ,", &list), ("10.0.0.1".into(), Some(" , ,".into())));
    let v = run("10.0.0.1", &[(XFF, ", 1.2.3.4, 5.6.7.8")], &["X-Forwarded-For"], None);
    assert_eq!(get(&v, "REMOTE_ADDR").as_deref(), Some("1.2.3.4"));
}

#[test]
fn malformed_addresses_never_become_remote_addr() {
    let list = ["10.0.0.0/8"];
    // The nearest entry is garbage: the peer stays the client.
    assert_eq!(client("10.0.0.1", "1.2.3.4, garbage", &list), ("10.0.0.1".into(), Some("garbage".into())));
    // Garbage behind a trusted proxy ends the walk there.
    assert_eq!(client("10.0.0.1", "1.2.3.4, unknown, 10.0.0.2", &list), ("10.0.0.2".into(), Some("10.0.0.2".into())));
    for bad in ["1.2.3.4:80", "[::1]", "fe80::1%eth0", "localhost", "1.2.3", "\u{e9}"] {
        assert_eq!(client("10.0.0.1", bad, &list).0, "10.0.0.1", "{bad}");
    }
    // Without a list (mod_wsgi's rule: the first entry), nor then.
    let v = run("10.0.0.1", &[(XFF, "bogus, 1.2.3.4")], &["X-Forwarded-For"], None);
    assert_eq!(get(&v, "REMOTE_ADDR").as_deref(), Some("10.0.0.1"));
    for header in ["X-Real-IP", "X-Client-IP"] {
        let env = format!("HTTP_{}", header.to_uppercase().replace('-', "_"));
        let v = run("10.0.0.1", &[(&env, "not-an-ip")], &[header], Some(&list));
        assert_eq!(get(&v, "REMOTE_ADDR").as_deref(), Some("10.0.0.1"));
        assert_eq!(get(&v, &env).as_deref(), Some("not-an-ip"));
        let v = run("10.0.0.1", &[(&env, "2001:db8::1")], &[header], Some(&list));
        assert_eq!(get(&v, "REMOTE_ADDR").as_deref(), Some("2001:db8::1"));
    }
}

#[test]
fn without_a_trusted_list_every_peer_is_trusted_and_the_first_entry_wins() {
    let v = run("127.0.0.1", &[(XFF, "1.2.3.4, 5.6.7.8")], &["X-Forwarded-For"], None);
    assert_eq!(get(&v, "REMOTE_ADDR").as_deref(), Some("1.2.3.4"));
    assert_eq!(get(&v, XFF).as_deref(), Some("1.2.3.4, 5.6.7.8"));
}

#[test]
fn an_untrusted_peer_loses_every_header_of_the_named_categories() {
    let all = [
        (XFF, "1.1.1.1"),
        ("HTTP_X_REAL_IP", "1.1.1.1"),
        ("HTTP_X_CLIENT_IP", "1.1.1.1"),
        ("HTTP_X_FORWARDED_HOST", "evil"),
        ("HTTP_X_HOST", "evil"),
        ("HTTP_X_FORWARDED_SERVER", "evil"),
        ("HTTP_X_FORWARDED_PORT", "1"),
        ("HTTP_X_FORWARDED_PROTO", "https"),
        ("HTTP_X_FORWARDED_SSL", "on"),
        ("HTTP_X_SCRIPT_NAME", "/evil"),
        ("HTTP_X_OTHER", "kept"),
    ];
    let named = [
        "X-Forwarded-For",
        "X-Forwarded-Host",
        "X-Forwarded-Server",
        "X-Forwarded-Port",
        "X-Forwarded-Proto",
        "X-Script-Name",
    ];
    let v = run("192.0.2.1", &all, &named, Some(&["10.0.0.0/8"]));
    let names: Vec<String> = v.iter().map(|(n, _)| String::from_utf8_lossy(n).into_owned()).collect();
    assert_eq!(names, ["REMOTE_ADDR", "HTTP_HOST", "SCRIPT_NAME", "HTTP_X_OTHER"]);
    assert_eq!(get(&v, "REMOTE_ADDR").as_deref(), Some("192.0.2.1"));
    assert_eq!(get(&v, "HTTP_HOST").as_deref(), Some("backend:8080"));
    // Only named categories are touched.
    let v = run("192.0.2.1", &all, &["X-Real-IP"], Some(&["10.0.0.0/8"]));
    assert!(
        get(&v, "HTTP_X_FORWARDED_HOST").is_some() && get(&v, XFF).is_none() && get(&v, "HTTP_X_CLIENT_IP").is_none()
    );
    // A peer that is not an address at all is not trusted.
    let v = run("unix", &all, &["X-Real-IP"], Some(&["10.0.0.0/8"]));
    assert_eq!(get(&v, "REMOTE_ADDR").as_deref(), Some("unix"));
    assert!(get(&v, "HTTP_X_REAL_IP").is_none());
}

#[test]
fn a_trusted_peer_keeps_only_the_header_used_in_each_category() {
    let extra = [(XFF, "1.1.1.1"), ("HTTP_X_REAL_IP", "2.2.2.2"), ("HTTP_X_FORWARDED_HOST", "a"), ("HTTP_X_HOST", "b")];
    let v = run("10.0.0.1", &extra, &["x-real-ip", "X-Forwarded-Host"], Some(&["10.0.0.1"]));
    assert_eq!(get(&v, "REMOTE_ADDR").as_deref(), Some("2.2.2.2"));
    assert_eq!(get(&v, "HTTP_X_REAL_IP").as_deref(), Some("2.2.2.2"));
    assert!(get(&v, XFF).is_none());
    assert_eq!(get(&v, "HTTP_HOST").as_deref(), Some("a"));
    assert!(get(&v, "HTTP_X_HOST").is_none());
    // The named header absent: the category's other headers still go.
    let v = run("10.0.0.1", &[("HTTP_X_REAL_IP", "2.2.2.2")], &["X-Forwarded-For"], Some(&["10.0.0.1"]));
    assert_eq!(get(&v, "REMOTE_ADDR").as_deref(), Some("10.0.0.1"));
    assert!(get(&v, "HTTP_X_REAL_IP").is_none());
}

#[test]
fn host_server_port_and_script_name() {
    let extra = [
        ("HTTP_X_FORWARDED_HOST", "www.example.com"),
        ("HTTP_X_FORWARDED_SERVER", "proxy.example.com"),
        ("HTTP_X_FORWARDED_PORT", "443"),
        ("HTTP_X_FORWARDED_SCRIPT_NAME", "/prefix"),
        ("SERVER_NAME", "backend"),
        ("SERVER_PORT", "8080"),
    ];
    let named = ["X-Forwarded-Host", "X-Forwarded-Server", "X-Forwarded-Port", "X-Forwarded-Script-Name"];
    let v = run("10.0.0.1", &extra, &named, None);
    assert_eq!(get(&v, "HTTP_HOST").as_deref(), Some("www.example.com"));
    assert_eq!(get(&v, "SERVER_NAME").as_deref(), Some("proxy.example.com"));
    assert_eq!(get(&v, "SERVER_PORT").as_deref(), Some("443"));
    assert_eq!(get(&v, "SCRIPT_NAME").as_deref(), Some("/prefix"));
    assert_eq!(get(&v, "mod_wsgi.mount_point").as_deref(), Some("/prefix"));
    for bad in ["0", "65536", "80x", "-1", " 80", ""] {
        let v =
            run("10.0.0.1", &[("SERVER_PORT", "8080"), ("HTTP_X_FORWARDED_PORT", bad)], &["X-Forwarded-Port"], None);
        assert_eq!(get(&v, "SERVER_PORT").as_deref(), Some("8080"), "{bad:?}");
    }
}

#[test]
fn scheme_headers_set_and_clear_https() {
    let https = |header: &str, value: &str, before: Option<&str>| {
        let env = format!("HTTP_{}", header.to_uppercase().replace('-', "_"));
        let mut extra = vec![(env.as_str(), value)];
        if let Some(b) = before {
            extra.push(("HTTPS", b));
        }
        let v = run("10.0.0.1", &extra, &[header], Some(&["10.0.0.1"]));
        get(&v, "HTTPS")
    };
    for h in ["X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Scheme"] {
        assert_eq!(https(h, "https", None).as_deref(), Some("1"), "{h}");
        assert_eq!(https(h, "HTTPS", None).as_deref(), Some("1"), "{h}");
        // Both ways: a TLS connection from a proxy whose client used http.
        assert_eq!(https(h, "http", Some("on")), None, "{h}");
        assert_eq!(https(h, "ftp", Some("on")).as_deref(), Some("on"), "{h}");
    }
    for h in ["X-Forwarded-HTTPS", "X-Forwarded-SSL", "X-HTTPS"] {
        for on in ["on", "On", "true", "1"] {
            assert_eq!(https(h, on, None).as_deref(), Some("1"), "{h} {on}");
        }
        for off in ["off", "FALSE", "0"] {
            assert_eq!(https(h, off, Some("on")), None, "{h} {off}");
        }
        assert_eq!(https(h, "maybe", None), None, "{h}");
    }
}

#[test]
fn unknown_or_absent_names_change_nothing() {
    let extra = [(XFF, "1.1.1.1"), ("HTTP_X_FOO", "x")];
    let before = run("10.0.0.1", &extra, &[], None);
    assert_eq!(run("10.0.0.1", &extra, &["X-Foo"], None), before);
    assert_eq!(run("10.0.0.1", &extra, &["X-Foo"], Some(&["192.0.2.1"])), before);
}

#[test]
fn header_names_are_the_table_written_as_usual() {
    let env: Vec<String> = HEADER_NAMES.iter().map(|h| header_env_name(h)).collect();
    let table: Vec<String> = HEADERS.iter().map(|(n, _, _)| String::from_utf8_lossy(n).into_owned()).collect();
    assert_eq!(env, table);
    assert!(interprets("x-forwarded-for") && interprets("X-REAL-IP"));
    assert!(!interprets("X-Forwarded-Protocol") && !interprets("Forwarded"));
}
