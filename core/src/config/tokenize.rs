//! Splits a directive's raw arguments exactly as Apache's `ap_getword_conf`
//! does, and reads mod_wsgi's `name=value` options the way its
//! `wsgi_parse_option` does, so quoting behaves as users of mod_wsgi expect.

/// `isspace()` in the C locale, which is what `apr_isspace` tests.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Copies `s`, turning `\\` into `\` and, inside quotes, `\q` into `q`.
fn unescape(s: &str, quote: Option<char>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&n) if c == '\\' && (n == '\\' || Some(n) == quote) => {
                out.push(n);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// One word from the front of `line` and what follows it (leading
/// whitespace of the rest skipped). An empty line gives an empty word.
pub(crate) fn next_word(line: &str) -> (String, &str) {
    let line = line.trim_start_matches(is_space);
    let Some(first) = line.chars().next() else {
        return (String::new(), line);
    };
    let (word, rest) = if first == '"' || first == '\'' {
        let body = &line[1..];
        let mut end = body.len();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == first {
                end = i;
                break;
            }
            if c == '\\' && chars.peek().is_some_and(|&(_, n)| n == first || n == '\\') {
                chars.next();
            }
        }
        let rest = body[end..].strip_prefix(first).unwrap_or(&body[end..]);
        (unescape(&body[..end], Some(first)), rest)
    } else {
        let end = line.find(is_space).unwrap_or(line.len());
        (unescape(&line[..end], None), &line[end..])
    };
    (word, rest.trim_start_matches(is_space))
}

/// All words of `args`, as Apache would pass them to a directive taking
/// a list. A quoted empty string is kept as an empty word.
pub fn tokenize(args: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = args.trim_start_matches(is_space);
    while !rest.is_empty() {
        let (word, after) = next_word(rest);
        words.push(word);
        rest = after;
    }
    words
}

/// One `name=value` option from the front of `line`, as mod_wsgi reads it:
/// the name runs to `=`, and the value is a word that may be quoted, so
/// `python-path='/a b'` works. On failure the offending word is returned.
pub(crate) fn next_option(line: &str) -> Result<(String, String, &str), String> {
    let line = line.trim_start_matches(is_space);
    let name_end = line.find(|c: char| c == '=' || is_space(c)).unwrap_or(line.len());
    if name_end == 0 || !line[name_end..].starts_with('=') {
        return Err(next_word(line).0);
    }
    let after = &line[name_end + 1..];
    // mod_wsgi would skip blanks here, so `a= b=1` set `a` to "b=1";
    // a blank after `=` is an empty value instead.
    let (value, rest) = if after.starts_with(is_space) || after.is_empty() {
        (String::new(), after.trim_start_matches(is_space))
    } else {
        next_word(after)
    };
    Ok((line[..name_end].to_string(), value, rest))
}

/// Every option of `line` in order, or the first word that is not one.
pub(crate) fn options(mut line: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    while !line.trim_start_matches(is_space).is_empty() {
        let (name, value, rest) = next_option(line)?;
        out.push((name, value));
        line = rest;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{next_option, next_word, options, tokenize};

    #[test]
    fn splits_and_unquotes() {
        assert_eq!(tokenize("  /a   /b/c.wsgi "), vec!["/a", "/b/c.wsgi"]);
        assert_eq!(tokenize(r#""/with space" 'x y' "q\"q""#), vec!["/with space", "x y", "q\"q"]);
        assert!(tokenize("   ").is_empty());
    }

    #[test]
    fn backslashes_follow_ap_getword_conf() {
        // `\\` is one backslash everywhere; `\q` only unescapes the quote in use.
        assert_eq!(tokenize(r"a\\b"), vec![r"a\b"]);
        assert_eq!(tokenize(r"a\b"), vec![r"a\b"]);
        assert_eq!(tokenize(r#"'it\'s' "x\'y""#), vec!["it's", r"x\'y"]);
    }

    #[test]
    fn quoted_empty_word_is_kept() {
        assert_eq!(tokenize("'' x"), vec!["", "x"]);
    }

    #[test]
    fn unterminated_quote_runs_to_the_end() {
        assert_eq!(tokenize("'a b"), vec!["a b"]);
    }

    #[test]
    fn word_after_closing_quote_starts_a_new_word() {
        assert_eq!(tokenize("'a'b"), vec!["a", "b"]);
    }

    #[test]
    fn next_word_returns_rest() {
        assert_eq!(next_word("  one two  three"), ("one".into(), "two  three"));
        assert_eq!(next_word(""), (String::new(), ""));
    }

    #[test]
    fn options_take_quoted_values() {
        assert_eq!(
            options("a=1 python-path='/x y:/z' b=").unwrap(),
            vec![("a".into(), "1".into()), ("python-path".into(), "/x y:/z".into()), ("b".into(), String::new()),]
        );
    }

    #[test]
    fn option_without_equals_is_rejected() {
        assert_eq!(next_option("threads x=1").unwrap_err(), "threads");
        assert_eq!(next_option("=3").unwrap_err(), "=3");
        assert_eq!(next_option("threads =3").unwrap_err(), "threads");
    }

    #[test]
    fn blank_after_equals_is_an_empty_value() {
        let (n, v, rest) = next_option("threads= 5 x=1").unwrap();
        assert_eq!((n.as_str(), v.as_str(), rest), ("threads", "", "5 x=1"));
        let (n, v, rest) = next_option("a=").unwrap();
        assert_eq!((n.as_str(), v.as_str(), rest), ("a", "", ""));
    }
}
