//! What mod_wsgi does to the server's `SCRIPT_NAME` and `PATH_INFO`
//! before they reach the application.

use crate::vars::Vars;
use std::borrow::Cow;

/// `path` with every run of slashes made one, as Apache's `ap_no2slash`
/// (borrowed when it has none, as nearly every path).
fn no2slash(path: &[u8]) -> Cow<'_, [u8]> {
    if !path.windows(2).any(|w| w == b"//") {
        return path.into();
    }
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        if !(b == b'/' && out.last() == Some(&b'/')) {
            out.push(b);
        }
    }
    out.into()
}

/// What mod_wsgi does to the server's `SCRIPT_NAME` and `PATH_INFO`: both
/// present (empty when the server gave none), repeated slashes collapsed,
/// and the results kept as `mod_wsgi.script_name` and `mod_wsgi.path_info`.
pub fn normalise(vars: &mut Vars) {
    const KEYS: [(&[u8], &[u8]); 2] =
        [(b"SCRIPT_NAME", b"mod_wsgi.script_name"), (b"PATH_INFO", b"mod_wsgi.path_info")];
    let [script, path, saved_script, saved_path] = vars.get_many([KEYS[0].0, KEYS[1].0, KEYS[0].1, KEYS[1].1]);
    // (the value, whether the variable itself changes, whether a saved copy
    // is there already); owned, as the entries change below.
    let plan = [(script, saved_script.is_some()), (path, saved_path.is_some())].map(|(given, saved)| {
        let value = given.map(no2slash);
        let rewrite = !matches!(value, Some(Cow::Borrowed(_)));
        (value.map(Cow::into_owned).unwrap_or_default(), rewrite, saved)
    });
    for ((key, saved_key), (value, rewrite, saved)) in KEYS.into_iter().zip(plan) {
        if rewrite {
            vars.set(key, &value);
        }
        if saved {
            vars.set(saved_key, &value);
        } else {
            vars.push(saved_key, &value);
        }
    }
}

/// `path` as a process inside a `chroot=` jail at `root` sees it, as
/// mod_wsgi requires a daemon's scripts to lie within its jail; `None`
/// when `path` is outside it.
pub fn inside_jail<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(root.trim_end_matches('/'))?;
    rest.starts_with('/').then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(entries: &[(&str, &str)]) -> Vars {
        entries.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect()
    }

    fn all(v: &Vars) -> Vec<(String, String)> {
        v.iter().map(|(n, v)| (String::from_utf8_lossy(n).into(), String::from_utf8_lossy(v).into())).collect()
    }

    #[test]
    fn clean_paths_are_kept_and_copied() {
        let mut v = vars(&[("SCRIPT_NAME", "/app"), ("PATH_INFO", "/a/b"), ("X", "1")]);
        normalise(&mut v);
        let expected = vars(&[
            ("SCRIPT_NAME", "/app"),
            ("PATH_INFO", "/a/b"),
            ("X", "1"),
            ("mod_wsgi.script_name", "/app"),
            ("mod_wsgi.path_info", "/a/b"),
        ]);
        assert_eq!(all(&v), all(&expected));
    }

    #[test]
    fn repeated_slashes_collapse_and_a_missing_path_info_is_empty() {
        let mut v = vars(&[("SCRIPT_NAME", "//app//x"), ("X", "1")]);
        normalise(&mut v);
        let expected = vars(&[
            ("X", "1"),
            ("SCRIPT_NAME", "/app/x"),
            ("mod_wsgi.script_name", "/app/x"),
            ("PATH_INFO", ""),
            ("mod_wsgi.path_info", ""),
        ]);
        assert_eq!(all(&v), all(&expected));
    }

    #[test]
    fn saved_copies_set_by_the_server_are_replaced() {
        let mut v = vars(&[("mod_wsgi.path_info", "old"), ("SCRIPT_NAME", ""), ("PATH_INFO", "/p//q")]);
        normalise(&mut v);
        assert_eq!(v.get(b"mod_wsgi.path_info"), Some(&b"/p/q"[..]));
        assert_eq!(v.get(b"PATH_INFO"), Some(&b"/p/q"[..]));
        assert_eq!(v.iter().filter(|(n, _)| *n == b"mod_wsgi.path_info").count(), 1);
        assert_eq!(v.get(b"mod_wsgi.script_name"), Some(&b""[..]));
    }

    #[test]
    fn paths_inside_a_jail() {
        assert_eq!(inside_jail("/jail/srv/app.wsgi", "/jail"), Some("/srv/app.wsgi"));
        assert_eq!(inside_jail("/jail/srv/app.wsgi", "/jail/"), Some("/srv/app.wsgi"));
        assert_eq!(inside_jail("/jailbreak/app.wsgi", "/jail"), None);
        assert_eq!(inside_jail("/srv/app.wsgi", "/jail"), None);
        assert_eq!(inside_jail("/jail", "/jail"), None);
    }
}
