//! URL prefix matching for `WSGIScriptAlias`, with mod_alias's rules.

/// Length of the prefix of `uri` that `alias` matches, or `None`.
///
/// Any run of `/` in the alias matches any non-empty run of `/` in the URI,
/// and the match must end at a path-segment boundary, as mod_alias does. The
/// length returned may exceed the alias's when the URI has doubled slashes.
pub fn alias_matches(uri: &str, alias: &str) -> Option<usize> {
    let u = uri.as_bytes();
    let a = alias.as_bytes();
    let (mut i, mut j) = (0, 0);
    while j < a.len() {
        if a[j] == b'/' {
            if u.get(i) != Some(&b'/') {
                return None;
            }
            while a.get(j) == Some(&b'/') {
                j += 1;
            }
            while u.get(i) == Some(&b'/') {
                i += 1;
            }
        } else {
            if u.get(i) != Some(&a[j]) {
                return None;
            }
            i += 1;
            j += 1;
        }
    }
    if a.last() != Some(&b'/') && i < u.len() && u[i] != b'/' {
        return None;
    }
    if i == 0 { None } else { Some(i) }
}

#[cfg(test)]
mod tests {
    use super::alias_matches;

    #[test]
    fn matches_on_segment_boundaries() {
        assert_eq!(alias_matches("/myapp", "/myapp"), Some(6));
        assert_eq!(alias_matches("/myapp/x", "/myapp"), Some(6));
        assert_eq!(alias_matches("/myappx", "/myapp"), None);
        assert_eq!(alias_matches("/other", "/myapp"), None);
    }

    #[test]
    fn root_matches_everything() {
        assert_eq!(alias_matches("/", "/"), Some(1));
        assert_eq!(alias_matches("/a/b", "/"), Some(1));
        assert_eq!(alias_matches("//a", "/"), Some(2));
    }

    #[test]
    fn doubled_slashes_collapse() {
        assert_eq!(alias_matches("//wsgi//x", "/wsgi/"), Some(8));
        assert_eq!(alias_matches("/wsgi/x", "/wsgi/"), Some(6));
        assert_eq!(alias_matches("/wsgi", "/wsgi/"), None);
    }
}
