//! mod_wsgi's rules for a request's environ that come before the variables
//! reach Python: the changes to Apache's CGI variables, which application
//! group and callable serve the request, `WSGIMapHEADToGET`, and which
//! variables the environ leaves out.

use crate::config::{AppGroup, CallableObject, MapHeadToGet};

/// What decides the changes to the CGI variables.
#[derive(Debug, Clone, Copy, Default)]
pub struct CgiFacts<'a> {
    /// The request's `Authorization` header.
    pub authorization: Option<&'a [u8]>,
    /// `WSGIPassAuthorization` (or the alias's `pass-authorization=`).
    pub pass_authorization: bool,
    /// Whether Apache set `PATH_INFO`.
    pub has_path_info: bool,
    /// Apache's `SCRIPT_NAME`.
    pub script_name: Option<&'a [u8]>,
}

/// One change to the CGI variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fixup {
    Unset(&'static str),
    Set(&'static str, String),
}

/// mod_wsgi's changes to Apache's CGI variables: `HTTP_PROXY` removed (the
/// "httpoxy" header), `HTTP_AUTHORIZATION` only when passing it is on,
/// `PATH_INFO` always present, and a `SCRIPT_NAME` of `/` made empty.
pub fn cgi_fixups(facts: &CgiFacts<'_>) -> Vec<Fixup> {
    let mut out = vec![Fixup::Unset("HTTP_PROXY")];
    if facts.pass_authorization
        && let Some(auth) = facts.authorization
    {
        out.push(Fixup::Set("HTTP_AUTHORIZATION", String::from_utf8_lossy(auth).into_owned()));
    }
    if !facts.has_path_info {
        out.push(Fixup::Set("PATH_INFO", String::new()));
    }
    if facts.script_name == Some(b"/") {
        out.push(Fixup::Set("SCRIPT_NAME", String::new()));
    }
    out
}

/// `WSGIPassAuthorization`: the alias's `pass-authorization=` (a note,
/// `"1"` for on) wins over the directory's; off by default.
pub fn pass_authorization(note: Option<&str>, configured: Option<bool>) -> bool {
    match note {
        Some(v) => v == "1",
        None => configured.unwrap_or(false),
    }
}

/// The application group asked for: the note (alias, handler or dispatch
/// script) wins over `WSGIApplicationGroup`; `%{RESOURCE}` by default.
pub fn application_group(note: Option<&str>, configured: Option<&AppGroup>) -> AppGroup {
    match note {
        Some(t) => AppGroup::parse(t),
        None => configured.cloned().unwrap_or(AppGroup::Resource),
    }
}

/// The name of the callable: the note wins over `WSGICallableObject`;
/// `application` by default, and when `%{ENV:name}` is unset.
pub fn callable_name(
    note: Option<&str>,
    configured: Option<&CallableObject>,
    env: impl FnOnce(&str) -> Option<String>,
) -> String {
    let callable = match note {
        Some(t) => CallableObject::parse(t),
        None => configured.cloned().unwrap_or(CallableObject::Named("application".into())),
    };
    match callable {
        CallableObject::Named(n) => n,
        CallableObject::Env(var) => env(&var).unwrap_or_else(|| "application".into()),
    }
}

/// `WSGIMapHEADToGET`: whether a `HEAD` (or `GET`) request is shown to the
/// application as `GET`. `Auto` (the default) does it only when an output
/// filter that may need the body (a content filter) is in place.
pub fn maps_head_to_get(setting: Option<MapHeadToGet>, get_or_head: bool, content_filter: bool) -> bool {
    match setting.unwrap_or(MapHeadToGet::Auto) {
        MapHeadToGet::Off => false,
        MapHeadToGet::On => get_or_head,
        MapHeadToGet::Auto => get_or_head && content_filter,
    }
}

/// Whether a CGI variable stays out of the WSGI environ, as in mod_wsgi:
/// `PATH` is the server's own search path, `HTTPS` becomes
/// `wsgi.url_scheme`.
pub fn left_out(name: &[u8]) -> bool {
    matches!(name, b"PATH" | b"HTTPS")
}

/// `"2.4.71"` as `[2, 4, 71]`, for `environ['apache.version']`; missing or
/// bad parts are 0.
pub fn version_parts(text: &[u8]) -> [u32; 3] {
    let text = String::from_utf8_lossy(text);
    let mut parts = text.split('.').map(|p| p.trim().parse::<u32>().unwrap_or(0));
    std::array::from_fn(|_| parts.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn httpoxy_is_always_removed() {
        assert_eq!(cgi_fixups(&CgiFacts { has_path_info: true, ..CgiFacts::default() }), [Fixup::Unset("HTTP_PROXY")]);
    }

    #[test]
    fn authorization_only_when_passed() {
        let facts = CgiFacts { authorization: Some(b"Basic eA=="), has_path_info: true, ..CgiFacts::default() };
        assert!(!cgi_fixups(&facts).iter().any(|f| matches!(f, Fixup::Set("HTTP_AUTHORIZATION", _))));
        let passed = CgiFacts { pass_authorization: true, ..facts };
        assert!(cgi_fixups(&passed).contains(&Fixup::Set("HTTP_AUTHORIZATION", "Basic eA==".into())));
        let none = CgiFacts { authorization: None, ..passed };
        assert!(!cgi_fixups(&none).iter().any(|f| matches!(f, Fixup::Set("HTTP_AUTHORIZATION", _))));
    }

    #[test]
    fn path_info_is_always_present() {
        assert!(cgi_fixups(&CgiFacts::default()).contains(&Fixup::Set("PATH_INFO", String::new())));
    }

    #[test]
    fn a_root_script_name_is_empty() {
        let root = CgiFacts { script_name: Some(b"/"), has_path_info: true, ..CgiFacts::default() };
        assert!(cgi_fixups(&root).contains(&Fixup::Set("SCRIPT_NAME", String::new())));
        let app = CgiFacts { script_name: Some(b"/app"), ..root };
        assert!(!cgi_fixups(&app).iter().any(|f| matches!(f, Fixup::Set("SCRIPT_NAME", _))));
    }

    #[test]
    fn pass_authorization_note_wins() {
        assert!(pass_authorization(Some("1"), Some(false)));
        assert!(!pass_authorization(Some("0"), Some(true)));
        assert!(pass_authorization(None, Some(true)));
        assert!(!pass_authorization(None, None));
    }

    #[test]
    fn application_group_note_wins_and_resource_is_the_default() {
        let configured = AppGroup::Named("dir".into());
        assert_eq!(application_group(Some("%{GLOBAL}"), Some(&configured)), AppGroup::Global);
        assert_eq!(application_group(None, Some(&configured)), configured);
        assert_eq!(application_group(None, None), AppGroup::Resource);
    }

    #[test]
    fn callable_note_wins_and_application_is_the_default() {
        let configured = CallableObject::Named("app".into());
        assert_eq!(callable_name(Some("handle"), Some(&configured), |_| None), "handle");
        assert_eq!(callable_name(None, Some(&configured), |_| None), "app");
        assert_eq!(callable_name(None, None, |_| None), "application");
        let env = CallableObject::Env("C".into());
        assert_eq!(callable_name(None, Some(&env), |n| (n == "C").then(|| "wsgi".into())), "wsgi");
        assert_eq!(callable_name(None, Some(&env), |_| None), "application");
    }

    #[test]
    fn map_head_to_get() {
        use MapHeadToGet::{Auto, Off, On};
        assert!(!maps_head_to_get(Some(Off), true, true));
        assert!(maps_head_to_get(Some(On), true, false));
        assert!(!maps_head_to_get(Some(On), false, true));
        assert!(maps_head_to_get(Some(Auto), true, true));
        assert!(!maps_head_to_get(Some(Auto), true, false));
        assert!(!maps_head_to_get(None, true, false));
        assert!(maps_head_to_get(None, true, true));
    }

    #[test]
    fn path_and_https_stay_out() {
        assert!(left_out(b"PATH"));
        assert!(left_out(b"HTTPS"));
        assert!(!left_out(b"PATH_INFO"));
        assert!(!left_out(b"HTTP_HOST"));
    }

    #[test]
    fn apache_version_parts() {
        assert_eq!(version_parts(b"2.4.71"), [2, 4, 71]);
        assert_eq!(version_parts(b"2.4"), [2, 4, 0]);
        assert_eq!(version_parts(b"2.x.9"), [2, 0, 9]);
        assert_eq!(version_parts(b""), [0, 0, 0]);
    }
}
