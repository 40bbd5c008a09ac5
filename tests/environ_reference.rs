//! The environ compared with Debian's mod_wsgi 4.9.4: for a fixed set of
//! requests, the keys, the Python type of every value, and the values that
//! do not change from run to run must equal the reference recorded from
//! Debian's module in `tests/reference/environ-mod_wsgi-4.9.json`.
//!
//! `scripts/regenerate-environ-reference.sh` rewrites the reference by
//! running the same requests against `Module::Debian` (the ignored test
//! `regenerate_reference` below).

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::http::chunked;
use common::*;

const REFERENCE: &str = "tests/reference/environ-mod_wsgi-4.9.json";

/// Writes what it saw to `{state}/<X-Dump header>.txt` (a HEAD response
/// carries no body): one `key<TAB>type<TAB>repr` line per environ entry,
/// then the body it read and whether any environ-only variable leaked
/// into `os.environ`.
const DUMP_APP: &str = include_str!("apps/environ_reference/dump.py");

/// Keys whose values change from run to run or between the two modules by
/// design; only their presence and type are compared. Everything else is
/// compared by value after `normalise`.
const VOLATILE: &[&str] = &[
    "REMOTE_PORT",
    // Names the module: "Apache/2.4.x (Debian) mod_wsgi/4.9.4 Python/3.11".
    "SERVER_SOFTWARE",
    // mod_wsgi reports the httpd headers it was compiled against; see
    // docs/differences.md.
    "apache.version",
    "mod_wsgi.request_id",
    "mod_wsgi.connection_id",
    "mod_wsgi.request_start",
    "mod_wsgi.script_start",
    "mod_wsgi.queue_start",
    "mod_wsgi.thread_id",
    "mod_wsgi.thread_requests",
    "mod_wsgi.total_requests",
    // Object reprs carry addresses.
    "wsgi.input",
    "wsgi.errors",
    "wsgi.file_wrapper",
];

/// One request of the fixed set: a name and the raw bytes sent.
struct Case {
    name: &'static str,
    request: Vec<u8>,
}

fn cases(port: u16) -> Vec<Case> {
    let host = format!("Host: 127.0.0.1:{port}\r\n");
    // `{e9}` stands for the raw byte 0xE9 (latin-1 'é', not UTF-8).
    let req = |head: &str, body: &[u8]| {
        let head = head.replace("{host}", &host);
        let mut bytes = head.replace("{e9}", "\u{1}").into_bytes();
        for b in bytes.iter_mut() {
            if *b == 1 {
                *b = 0xe9;
            }
        }
        bytes.extend_from_slice(body);
        bytes
    };
    let form = b"name=J%C3%BCrgen+X&x=%26y";
    vec![
        Case {
            name: "get_with_query",
            request: req(
                "GET /env/x?a=1&b=two%20three HTTP/1.1\r\n{host}X-Dump: get_with_query\r\nConnection: close\r\n\r\n",
                b"",
            ),
        },
        Case {
            name: "encoded_path_info",
            request: req(
                "GET /env/caf%C3%A9/a%20b//c/./d?q=%20x HTTP/1.1\r\n{host}X-Dump: encoded_path_info\r\nConnection: close\r\n\r\n",
                b"",
            ),
        },
        Case {
            name: "form_post",
            request: req(
                &format!(
                    "POST /env/form HTTP/1.1\r\n{{host}}X-Dump: form_post\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    form.len()
                ),
                form,
            ),
        },
        Case {
            name: "chunked_post",
            request: req(
                "POST /envchunked/upload HTTP/1.1\r\n{host}X-Dump: chunked_post\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                &chunked(b"hello chunked world", 5),
            ),
        },
        Case {
            name: "head",
            request: req("HEAD /env/head?x=1 HTTP/1.1\r\n{host}X-Dump: head\r\nConnection: close\r\n\r\n", b""),
        },
        Case {
            name: "authorization_passed",
            request: req(
                "GET /envauth/secret HTTP/1.1\r\n{host}X-Dump: authorization_passed\r\nAuthorization: Basic Zm9vOmJhcg==\r\nConnection: close\r\n\r\n",
                b"",
            ),
        },
        Case {
            name: "authorization_not_passed",
            request: req(
                "GET /env/secret HTTP/1.1\r\n{host}X-Dump: authorization_not_passed\r\nAuthorization: Basic Zm9vOmJhcg==\r\nConnection: close\r\n\r\n",
                b"",
            ),
        },
        Case {
            name: "repeated_headers",
            request: req(
                "GET /env/rep HTTP/1.1\r\n{host}X-Dump: repeated_headers\r\nX-Foo: bar\r\nX-Foo: baz\r\nAccept: text/plain\r\nAccept: text/html\r\nX-Latin: caf{e9}\r\nConnection: close\r\n\r\n",
                b"",
            ),
        },
        Case { name: "http_1_0", request: req("GET /env/old HTTP/1.0\r\nX-Dump: http_1_0\r\n\r\n", b"") },
    ]
}

fn start(module: Module) -> Apache {
    // The reference is embedded mode's; daemon mode adds its own keys
    // (tests/daemon_responses.rs).
    let builder = ApacheBuilder::new().embedded_only().module(module).writable_dir("state");
    let state = builder.root().join("state").display().to_string();
    builder
        .file("scripts/env.wsgi", DUMP_APP.replace("{state}", &state))
        .conf(
            "WSGIScriptAlias /envchunked {root}/scripts/env.wsgi
WSGIScriptAlias /envauth {root}/scripts/env.wsgi
WSGIScriptAlias /env {root}/scripts/env.wsgi
<Location /envchunked>
    WSGIChunkedRequest On
</Location>
<Location /envauth>
    WSGIPassAuthorization On
</Location>",
        )
        .start()
}

/// One environ entry as recorded: the type name, and the normalised repr
/// (`None` for a volatile key).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    ty: String,
    value: Option<String>,
}

type Dump = BTreeMap<String, Entry>;

/// Replaces what differs between two runs of the same module: the port and
/// the test root.
fn normalise(text: &str, apache: &Apache) -> String {
    text.replace(&apache.root().display().to_string(), "{root}").replace(&apache.port().to_string(), "{port}")
}

/// Runs every case against `apache` and reads what the application saw.
fn collect(apache: &Apache) -> BTreeMap<String, Dump> {
    let mut all = BTreeMap::new();
    for case in cases(apache.port()) {
        let mark = apache.log_mark();
        let bytes = apache.raw(&case.request);
        let head = case.name == "head";
        let resp = Response::parse(&bytes, head)
            .unwrap_or_else(|e| panic!("{}: {e}: {:?}", case.name, String::from_utf8_lossy(&bytes)));
        apache.assert_status(&resp, 200, mark);
        let file = apache.root().join("state").join(format!("{}.txt", case.name));
        let text =
            std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}\n{}", file.display(), apache.log_since(mark)));
        let text = String::from_utf8_lossy(&text).into_owned();
        let mut dump = Dump::new();
        for line in text.lines() {
            let mut parts = line.splitn(3, '\t');
            let (Some(key), Some(ty), Some(repr)) = (parts.next(), parts.next(), parts.next()) else {
                panic!("{}: bad dump line {line:?}", case.name);
            };
            let value = (!VOLATILE.contains(&key)).then(|| normalise(repr, apache));
            dump.insert(key.to_string(), Entry { ty: ty.to_string(), value });
        }
        all.insert(case.name.to_string(), dump);
    }
    all
}

fn reference_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(REFERENCE)
}

/// Keys where mod_wsgi-rs deliberately differs from mod_wsgi 4.9.4 (see
/// docs/differences.md): key -> the reason, and what we give instead
/// (`None`: the key is absent).
fn deliberate_differences() -> BTreeMap<&'static str, Option<Entry>> {
    BTreeMap::new()
}

#[test]
fn environ_matches_mod_wsgi_reference() {
    let text = std::fs::read_to_string(reference_path())
        .unwrap_or_else(|e| panic!("{REFERENCE}: {e}; run scripts/regenerate-environ-reference.sh"));
    let reference = json::parse_reference(&text);
    let apache = start(Module::Ours);
    let ours = collect(&apache);
    let differences = deliberate_differences();
    let mut report = String::new();
    for (case, expected) in &reference {
        let Some(got) = ours.get(case) else {
            writeln!(report, "{case}: not run").unwrap();
            continue;
        };
        for (key, want) in expected {
            if let Some(instead) = differences.get(key.as_str()) {
                if got.get(key) != instead.as_ref()
                    && instead.as_ref().is_none_or(|i| got.get(key).map(|g| &g.ty) != Some(&i.ty))
                {
                    writeln!(report, "{case}: {key}: deliberate difference not as documented: {:?}", got.get(key))
                        .unwrap();
                }
                continue;
            }
            match got.get(key) {
                None => writeln!(report, "{case}: {key} missing (mod_wsgi: {} {:?})", want.ty, want.value).unwrap(),
                Some(g) if g.ty != want.ty => {
                    writeln!(report, "{case}: {key}: type {} where mod_wsgi has {}", g.ty, want.ty).unwrap()
                }
                Some(g) if want.value.is_some() && g.value != want.value => writeln!(
                    report,
                    "{case}: {key}: value {} where mod_wsgi has {}",
                    g.value.as_deref().unwrap_or("-"),
                    want.value.as_deref().unwrap_or("-")
                )
                .unwrap(),
                Some(_) => {}
            }
        }
        for (key, g) in got {
            if !expected.contains_key(key) && !differences.contains_key(key.as_str()) {
                writeln!(report, "{case}: {key} = {} {:?} is not in mod_wsgi's environ", g.ty, g.value).unwrap();
            }
        }
    }
    assert!(report.is_empty(), "environ differs from {REFERENCE}:\n{report}");
}

/// Rewrites the reference from Debian's mod_wsgi. Run it through
/// `scripts/regenerate-environ-reference.sh`.
#[test]
#[ignore = "rewrites tests/reference from Debian's mod_wsgi; run scripts/regenerate-environ-reference.sh"]
fn regenerate_reference() {
    let apache = start(Module::Debian);
    let dumps = collect(&apache);
    let path = reference_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, json::write_reference(&dumps)).unwrap();
    eprintln!("wrote {}", path.display());
}

/// The reference file: written one entry a line, read with serde_json.
mod json {
    use super::{Dump, Entry};
    use std::collections::BTreeMap;

    fn quote(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || (c as u32) > 0x7e => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// One entry a line, so that a regenerated file diffs readably.
    pub fn write_reference(dumps: &BTreeMap<String, Dump>) -> String {
        let mut out = String::from("{\n");
        out.push_str(
            "  \"recorded_from\": \"Debian libapache2-mod-wsgi-py3 (mod_wsgi 4.9.4), embedded mode, event MPM\",\n",
        );
        out.push_str("  \"requests\": {\n");
        let cases: Vec<String> = dumps
            .iter()
            .map(|(case, dump)| {
                let entries: Vec<String> = dump
                    .iter()
                    .map(|(k, e)| {
                        let value = e.value.as_deref().map_or("null".to_string(), quote);
                        format!("      {}: {{\"type\": {}, \"value\": {value}}}", quote(k), quote(&e.ty))
                    })
                    .collect();
                format!("    {}: {{\n{}\n    }}", quote(case), entries.join(",\n"))
            })
            .collect();
        out.push_str(&cases.join(",\n"));
        out.push_str("\n  }\n}\n");
        out
    }

    /// Reads a file written by `write_reference`.
    pub fn parse_reference(text: &str) -> BTreeMap<String, Dump> {
        use serde_json::Value;
        let top: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("JSON: {e}"));
        let Some(requests) = top["requests"].as_object() else { panic!("JSON: requests is not an object") };
        let entry = |case: &str, key: &str, e: &Value| {
            let Some(ty) = e["type"].as_str() else { panic!("JSON: {case}.{key}.type") };
            let value = match &e["value"] {
                Value::String(v) => Some(v.clone()),
                Value::Null => None,
                _ => panic!("JSON: {case}.{key}.value"),
            };
            Entry { ty: ty.to_string(), value }
        };
        requests
            .iter()
            .map(|(case, dump)| {
                let Some(entries) = dump.as_object() else { panic!("JSON: {case} is not an object") };
                (case.clone(), entries.iter().map(|(key, e)| (key.clone(), entry(case, key, e))).collect())
            })
            .collect()
    }
}
