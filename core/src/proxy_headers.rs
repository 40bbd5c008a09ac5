//! `WSGITrustedProxyHeaders` and `WSGITrustedProxies` applied to a
//! request's variables, as mod_wsgi does it before the environ is built.
//!
//! Deliberate differences from mod_wsgi 4.9.4 (docs/differences.md): a
//! value that is not an IP address (or port) never becomes `REMOTE_ADDR`
//! (or `SERVER_PORT`); empty `X-Forwarded-For` entries are skipped; an
//! untrusted peer's `X-Forwarded-Server`/`-Port` are removed too; and the
//! caller lets a trusted scheme header win over Apache's own TLS.

use crate::config::{TrustedProxy, header_env_name};
use crate::vars::Vars;
use std::net::IpAddr;

/// What a trusted header says something about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Client,
    Host,
    Server,
    Port,
    Scheme,
    ScriptName,
}

const CATEGORIES: usize = 6;

/// How a header's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A list of addresses, the client's first, each proxy appending its peer.
    ForwardedFor,
    /// One address.
    Address,
    /// Copied as it is to the variable.
    Copy(&'static [u8]),
    Port,
    /// `http` or `https`.
    SchemeName,
    /// `On`/`true`/`1` or `Off`/`false`/`0`.
    SchemeFlag,
    ScriptName,
}

/// Every header mod_wsgi knows, by the CGI name it arrives as.
const HEADERS: &[(&[u8], Category, Kind)] = &[
    (b"HTTP_X_FORWARDED_FOR", Category::Client, Kind::ForwardedFor),
    (b"HTTP_X_CLIENT_IP", Category::Client, Kind::Address),
    (b"HTTP_X_REAL_IP", Category::Client, Kind::Address),
    (b"HTTP_X_FORWARDED_HOST", Category::Host, Kind::Copy(b"HTTP_HOST")),
    (b"HTTP_X_HOST", Category::Host, Kind::Copy(b"HTTP_HOST")),
    (b"HTTP_X_FORWARDED_SERVER", Category::Server, Kind::Copy(b"SERVER_NAME")),
    (b"HTTP_X_FORWARDED_PORT", Category::Port, Kind::Port),
    (b"HTTP_X_FORWARDED_PROTO", Category::Scheme, Kind::SchemeName),
    (b"HTTP_X_FORWARDED_SCHEME", Category::Scheme, Kind::SchemeName),
    (b"HTTP_X_SCHEME", Category::Scheme, Kind::SchemeName),
    (b"HTTP_X_FORWARDED_HTTPS", Category::Scheme, Kind::SchemeFlag),
    (b"HTTP_X_FORWARDED_SSL", Category::Scheme, Kind::SchemeFlag),
    (b"HTTP_X_HTTPS", Category::Scheme, Kind::SchemeFlag),
    (b"HTTP_X_SCRIPT_NAME", Category::ScriptName, Kind::ScriptName),
    (b"HTTP_X_FORWARDED_SCRIPT_NAME", Category::ScriptName, Kind::ScriptName),
];

/// The same headers, as they are usually written (for messages).
pub const HEADER_NAMES: [&str; 15] = [
    "X-Forwarded-For",
    "X-Client-IP",
    "X-Real-IP",
    "X-Forwarded-Host",
    "X-Host",
    "X-Forwarded-Server",
    "X-Forwarded-Port",
    "X-Forwarded-Proto",
    "X-Forwarded-Scheme",
    "X-Scheme",
    "X-Forwarded-HTTPS",
    "X-Forwarded-SSL",
    "X-HTTPS",
    "X-Script-Name",
    "X-Forwarded-Script-Name",
];

/// Whether header `name` (any case) is one mod_wsgi interprets; any other
/// in `WSGITrustedProxyHeaders` could have no effect.
pub fn interprets(name: &str) -> bool {
    known(header_env_name(name).as_bytes()).is_some()
}

fn known(env_name: &[u8]) -> Option<(&'static [u8], Category, Kind)> {
    HEADERS.iter().copied().find(|(n, _, _)| *n == env_name)
}

/// `text` as an IP address, or `None` (no name lookups).
fn address(text: &[u8]) -> Option<IpAddr> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn trusted(proxies: &[TrustedProxy], text: &[u8]) -> Option<bool> {
    address(text).map(|ip| proxies.iter().any(|p| p.contains(ip)))
}

/// Rewrites `vars` for the headers named in `headers` (as written in the
/// directive) sent by a peer in `proxies` (any peer when `None`), then
/// removes every header of a named category except the one used, so the
/// application never reads a value nobody vouched for.
pub fn apply(vars: &mut Vars, headers: &[String], proxies: Option<&[TrustedProxy]>) {
    let named: Vec<_> = headers.iter().filter_map(|h| known(header_env_name(h).as_bytes())).collect();
    if named.is_empty() {
        return;
    }
    let peer_trusted = match proxies {
        None => true,
        Some(list) => vars.get(b"REMOTE_ADDR").and_then(|a| trusted(list, a)).unwrap_or(false),
    };
    let mut named_categories = [false; CATEGORIES];
    let mut used: [Option<&[u8]>; CATEGORIES] = [None; CATEGORIES];
    for (name, category, kind) in named {
        named_categories[category as usize] = true;
        if !peer_trusted {
            continue;
        }
        let Some(value) = vars.get(name).map(<[u8]>::to_vec) else { continue };
        // As mod_wsgi: the header stays (as the one used) even when its
        // value is not usable.
        used[category as usize] = Some(name);
        rewrite(vars, name, kind, &value, proxies);
    }
    let strip =
        |n: &[u8]| known(n).is_some_and(|(_, c, _)| named_categories[c as usize] && used[c as usize] != Some(n));
    if vars.iter().any(|(n, _)| strip(n)) {
        vars.retain(|n, _| !strip(n));
    }
}

/// Applies one trusted header's `value`.
fn rewrite(vars: &mut Vars, name: &[u8], kind: Kind, value: &[u8], proxies: Option<&[TrustedProxy]>) {
    match kind {
        Kind::ForwardedFor => {
            let (client, chain) = forwarded_for(value, proxies);
            if let Some(client) = client {
                vars.set(b"REMOTE_ADDR", client);
            }
            if let Some(chain) = chain {
                vars.set(name, &chain);
            }
        }
        Kind::Address => {
            if address(value).is_some() {
                vars.set(b"REMOTE_ADDR", value);
            }
        }
        Kind::Copy(target) => vars.set(target, value),
        Kind::Port => {
            let port = std::str::from_utf8(value).ok().and_then(|v| v.parse::<u16>().ok());
            if value.iter().all(u8::is_ascii_digit) && port.is_some_and(|p| p > 0) {
                vars.set(b"SERVER_PORT", value);
            }
        }
        Kind::SchemeName | Kind::SchemeFlag => {
            let is = |words: &[&str]| words.iter().any(|w| value.eq_ignore_ascii_case(w.as_bytes()));
            let (on, off): (&[&str], &[&str]) = match kind {
                Kind::SchemeName => (&["https"], &["http"]),
                _ => (&["on", "true", "1"], &["off", "false", "0"]),
            };
            if is(on) {
                vars.set(b"HTTPS", b"1");
            } else if is(off) {
                vars.retain(|n, _| n != b"HTTPS");
            }
        }
        Kind::ScriptName => {
            vars.set(b"mod_wsgi.mount_point", value);
            vars.set(b"SCRIPT_NAME", value);
        }
    }
}

/// The client's address in an `X-Forwarded-For` list, and the list as
/// the application should see it (`None`: unchanged).
///
/// Without a trusted list, mod_wsgi's rule: the first entry. With one, the
/// list is walked from the right past trusted proxies; the first other
/// entry is the client, and the list is cut to start there. A malformed
/// entry ends the walk: what lies left of it was written by nobody trusted.
fn forwarded_for<'v>(value: &'v [u8], proxies: Option<&[TrustedProxy]>) -> (Option<&'v [u8]>, Option<Vec<u8>>) {
    let items: Vec<&[u8]> =
        value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|item| !item.is_empty()).collect();
    let Some(&last) = items.last() else { return (None, None) };
    let Some(proxies) = proxies else {
        let first = items[0];
        return (address(first).is_some().then_some(first), None);
    };
    let mut client = None;
    let mut innermost_trusted = None;
    for (i, item) in items.iter().enumerate().rev() {
        match trusted(proxies, item) {
            Some(true) => innermost_trusted = Some(i),
            Some(false) => {
                client = Some(i);
                break;
            }
            None => break,
        }
    }
    let join = |from: usize| items[from..].join(&b", "[..]);
    match (client, innermost_trusted) {
        (Some(i), _) | (None, Some(i)) => (Some(items[i]), Some(join(i))),
        // The nearest entry is malformed: the peer stays the client.
        (None, None) => (None, Some(last.to_vec())),
    }
}

#[cfg(test)]
#[path = "proxy_headers_tests.rs"]
mod tests;
