//! What mod_wsgi decides around its access, authentication and group
//! scripts (`WSGIAccessScript`, `WSGIAuthUserScript`, `WSGIAuthGroupScript`)
//! without Apache or Python: the cut-down environ they receive, and what a
//! `Require wsgi-group ...` line makes of a user's groups.

use crate::vars::Vars;

/// The request as the scripts' environ describes it. Every value is as
/// Apache holds it (bytes); `None` leaves the variable out.
#[derive(Debug, Default, Clone)]
pub struct RequestFacts<'a> {
    /// Request headers, in order.
    pub headers: Vec<(&'a [u8], &'a [u8])>,
    pub server_signature: Option<&'a [u8]>,
    pub server_software: Option<&'a [u8]>,
    /// Already HTML-escaped, as mod_wsgi passes it.
    pub server_name: Option<&'a [u8]>,
    pub server_addr: Option<&'a [u8]>,
    pub server_port: u16,
    pub remote_host: Option<&'a [u8]>,
    pub remote_addr: Option<&'a [u8]>,
    pub document_root: Option<&'a [u8]>,
    pub server_admin: Option<&'a [u8]>,
    pub remote_port: u16,
    pub protocol: &'a [u8],
    pub method: &'a [u8],
    pub query_string: Option<&'a [u8]>,
    /// The request line (`r->the_request`), for `REQUEST_URI`.
    pub request_line: Option<&'a [u8]>,
    /// `r->uri`, and how much of it is the script (the rest is `PATH_INFO`).
    pub uri: &'a [u8],
    pub path_info: &'a [u8],
    pub script_name_len: usize,
}

/// A request header's environ name as mod_wsgi makes it for these
/// scripts: `HTTP_` and the name upper-cased with `-` as `_`; a name with
/// any other character is left out, so that `X_User` cannot pass for
/// `X-User`.
pub fn header_env_name(name: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len() + 5);
    out.extend_from_slice(b"HTTP_");
    for &c in name {
        match c {
            b'-' => out.push(b'_'),
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
            _ => return None,
        }
    }
    Some(out)
}

/// The URL as the client sent it: the second word of the request line.
pub fn original_uri(request_line: &[u8]) -> &[u8] {
    let is_space = |c: &u8| c.is_ascii_whitespace() || *c == 0x0b;
    let after_method = request_line.iter().position(is_space).unwrap_or(request_line.len());
    let rest = &request_line[after_method..];
    let start = rest.iter().position(|c| !is_space(c)).unwrap_or(rest.len());
    let rest = &rest[start..];
    &rest[..rest.iter().position(is_space).unwrap_or(rest.len())]
}

/// The CGI-style variables of the scripts' environ, in mod_wsgi's order.
/// Credentials stay out (`Authorization`, `Proxy-Authorization`), and so
/// does what `SetEnv` set: a `.htaccess` file must not steer the check.
pub fn environ_vars(f: &RequestFacts<'_>) -> Vars {
    let mut vars = Vars::with_capacity(f.headers.len() + 20, 1024);
    for &(name, value) in &f.headers {
        if name.eq_ignore_ascii_case(b"Content-Type") {
            vars.push(b"CONTENT_TYPE", value);
        } else if name.eq_ignore_ascii_case(b"Content-Length") {
            vars.push(b"CONTENT_LENGTH", value);
        } else if name.eq_ignore_ascii_case(b"Authorization") || name.eq_ignore_ascii_case(b"Proxy-Authorization") {
            continue;
        } else if let Some(env_name) = header_env_name(name) {
            vars.push(&env_name, value);
        }
    }
    let port = f.server_port.to_string();
    let fixed: [(&[u8], Option<&[u8]>); 9] = [
        (b"SERVER_SIGNATURE", f.server_signature),
        (b"SERVER_SOFTWARE", f.server_software),
        (b"SERVER_NAME", f.server_name),
        (b"SERVER_ADDR", f.server_addr),
        (b"SERVER_PORT", Some(port.as_bytes())),
        (b"REMOTE_HOST", f.remote_host),
        (b"REMOTE_ADDR", f.remote_addr),
        (b"DOCUMENT_ROOT", f.document_root),
        (b"SERVER_ADMIN", f.server_admin),
    ];
    for (name, value) in fixed {
        if let Some(v) = value {
            vars.push(name, v);
        }
    }
    vars.push(b"REMOTE_PORT", f.remote_port.to_string().as_bytes());
    vars.push(b"SERVER_PROTOCOL", f.protocol);
    vars.push(b"REQUEST_METHOD", f.method);
    vars.push(b"QUERY_STRING", f.query_string.unwrap_or_default());
    if let Some(line) = f.request_line {
        vars.push(b"REQUEST_URI", original_uri(line));
    }
    let split = if f.path_info.is_empty() { f.uri.len() } else { f.script_name_len.min(f.uri.len()) };
    vars.push(b"SCRIPT_NAME", &f.uri[..split]);
    vars.push(b"PATH_INFO", f.path_info);
    vars
}

/// What `Require wsgi-group a b ...` decides for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupVerdict {
    /// The user is in one of the groups named.
    Granted,
    /// The user is in no group at all.
    NoGroups,
    /// The user is in groups, none of them named on the line.
    NotMember,
    /// Not a member, and `WSGIGroupAuthoritative Off`: other `Require`
    /// lines decide.
    PassedOn,
}

/// Whether any of `user_groups` is named in `require_args` (split as
/// Apache splits words, compared without regard to ASCII case as Apache's
/// tables compare, which mod_wsgi and mod_authz_groupfile use).
pub fn group_verdict(user_groups: &[Vec<u8>], require_args: &str, authoritative: bool) -> GroupVerdict {
    let member = crate::config::tokenize(require_args)
        .iter()
        .filter(|w| !w.is_empty())
        .any(|w| user_groups.iter().any(|g| g.eq_ignore_ascii_case(w.as_bytes())));
    match (member, authoritative, user_groups.is_empty()) {
        (true, _, _) => GroupVerdict::Granted,
        (false, false, _) => GroupVerdict::PassedOn,
        (false, true, true) => GroupVerdict::NoGroups,
        (false, true, false) => GroupVerdict::NotMember,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_as_mod_wsgi_makes_them() {
        assert_eq!(header_env_name(b"X-Forwarded-For").as_deref(), Some(&b"HTTP_X_FORWARDED_FOR"[..]));
        assert_eq!(header_env_name(b"accept").as_deref(), Some(&b"HTTP_ACCEPT"[..]));
        // An underscore, a dot or a space would let one header pass for another.
        assert_eq!(header_env_name(b"X_User"), None);
        assert_eq!(header_env_name(b"X.User"), None);
        assert_eq!(header_env_name(b"X User"), None);
    }

    #[test]
    fn original_uri_is_the_second_word() {
        assert_eq!(original_uri(b"GET /a/b?c=d HTTP/1.1"), b"/a/b?c=d");
        assert_eq!(original_uri(b"GET  \t/x  HTTP/1.0"), b"/x");
        assert_eq!(original_uri(b"GET"), b"");
        assert_eq!(original_uri(b""), b"");
        assert_eq!(original_uri(b"GET /only"), b"/only");
    }

    fn facts<'a>() -> RequestFacts<'a> {
        RequestFacts {
            headers: vec![
                (b"Host", b"example.com"),
                (b"Authorization", b"Basic c3B5OnNlY3JldA=="),
                (b"proxy-authorization", b"Basic eDp5"),
                (b"content-type", b"text/plain"),
                (b"Content-Length", b"3"),
                (b"X_Bad", b"1"),
            ],
            server_port: 8080,
            remote_port: 5555,
            protocol: b"HTTP/1.1",
            method: b"POST",
            request_line: Some(b"POST /app/sub/more?x=1 HTTP/1.1"),
            uri: b"/app/sub/more",
            path_info: b"/more",
            script_name_len: 8,
            remote_addr: Some(b"127.0.0.1"),
            ..Default::default()
        }
    }

    #[test]
    fn environ_leaves_credentials_out() {
        let vars = environ_vars(&facts());
        assert_eq!(vars.get(b"HTTP_HOST"), Some(&b"example.com"[..]));
        assert_eq!(vars.get(b"HTTP_AUTHORIZATION"), None);
        assert_eq!(vars.get(b"HTTP_PROXY_AUTHORIZATION"), None);
        assert_eq!(vars.get(b"HTTP_X_BAD"), None);
        assert_eq!(vars.get(b"CONTENT_TYPE"), Some(&b"text/plain"[..]));
        assert_eq!(vars.get(b"CONTENT_LENGTH"), Some(&b"3"[..]));
        assert_eq!(vars.get(b"HTTP_CONTENT_TYPE"), None);
    }

    #[test]
    fn environ_describes_the_request() {
        let vars = environ_vars(&facts());
        let get = |k: &[u8]| vars.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
        assert_eq!(get(b"SCRIPT_NAME").as_deref(), Some("/app/sub"));
        assert_eq!(get(b"PATH_INFO").as_deref(), Some("/more"));
        assert_eq!(get(b"REQUEST_URI").as_deref(), Some("/app/sub/more?x=1"));
        assert_eq!(get(b"QUERY_STRING").as_deref(), Some(""));
        assert_eq!(get(b"SERVER_PORT").as_deref(), Some("8080"));
        assert_eq!(get(b"REMOTE_PORT").as_deref(), Some("5555"));
        assert_eq!(get(b"REMOTE_ADDR").as_deref(), Some("127.0.0.1"));
        assert_eq!(get(b"REMOTE_HOST"), None);
        assert_eq!(get(b"REQUEST_METHOD").as_deref(), Some("POST"));
        assert_eq!(get(b"SERVER_PROTOCOL").as_deref(), Some("HTTP/1.1"));
    }

    #[test]
    fn without_path_info_the_whole_uri_is_the_script() {
        let f = RequestFacts { path_info: b"", script_name_len: 3, ..facts() };
        let vars = environ_vars(&f);
        assert_eq!(vars.get(b"SCRIPT_NAME"), Some(&b"/app/sub/more"[..]));
        assert_eq!(vars.get(b"PATH_INFO"), Some(&b""[..]));
    }

    fn groups(names: &[&str]) -> Vec<Vec<u8>> {
        names.iter().map(|n| n.as_bytes().to_vec()).collect()
    }

    #[test]
    fn group_membership() {
        let g = groups(&["staff", "Secret-Agents"]);
        assert_eq!(group_verdict(&g, "secret-agents", true), GroupVerdict::Granted);
        assert_eq!(group_verdict(&g, "admins \"staff\"", true), GroupVerdict::Granted);
        assert_eq!(group_verdict(&g, "admins", true), GroupVerdict::NotMember);
        assert_eq!(group_verdict(&g, "admins", false), GroupVerdict::PassedOn);
        assert_eq!(group_verdict(&[], "admins", true), GroupVerdict::NoGroups);
        assert_eq!(group_verdict(&[], "admins", false), GroupVerdict::PassedOn);
        // An empty word names no group, even for a user in a group "".
        assert_eq!(group_verdict(&groups(&[""]), "''", true), GroupVerdict::NotMember);
        assert_eq!(group_verdict(&g, "", true), GroupVerdict::NotMember);
    }
}
