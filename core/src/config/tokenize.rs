//! Splits a directive's raw arguments into words as `ap_getword_conf` does:
//! whitespace separates, single or double quotes group, and a backslash
//! escapes the quote character inside quotes.

pub fn tokenize(args: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = args.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '\\' && chars.peek() == Some(&first) {
                    word.push(first);
                    chars.next();
                } else if c == first {
                    break;
                } else {
                    word.push(c);
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::tokenize;

    #[test]
    fn splits_and_unquotes() {
        assert_eq!(tokenize("  /a   /b/c.wsgi "), vec!["/a", "/b/c.wsgi"]);
        assert_eq!(
            tokenize(r#""/with space" 'x y' "q\"q""#),
            vec!["/with space", "x y", "q\"q"]
        );
        assert!(tokenize("   ").is_empty());
    }
}
