//! Checks for single values (On/Off, numbers, paths, names) that build
//! one-line errors naming the directive and, where there is one, the option.

use super::ConfigError;
use std::str::FromStr;

/// The directive (and option, for `name=value` options) a value belongs
/// to, so every error says where the bad value was written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    pub directive: &'a str,
    pub option: Option<&'a str>,
}

impl<'a> Field<'a> {
    pub fn directive(directive: &'a str) -> Self {
        Self { directive, option: None }
    }

    pub fn option(directive: &'a str, option: &'a str) -> Self {
        Self { directive, option: Some(option) }
    }

    /// `invalid value 'v' [for option 'o']: <expected>`.
    pub fn invalid(&self, value: &str, expected: &str) -> ConfigError {
        let message = match self.option {
            Some(o) => format!("invalid value '{value}' for option '{o}': {expected}"),
            None => format!("invalid value '{value}': {expected}"),
        };
        ConfigError::new(self.directive, message)
    }

    /// `option 'o' needs a value: <expected>`.
    pub fn missing(&self, expected: &str) -> ConfigError {
        let message = match self.option {
            Some(o) => format!("option '{o}' needs a value: {expected}"),
            None => format!("needs a value: {expected}"),
        };
        ConfigError::new(self.directive, message)
    }

    /// `value`, unless it is empty.
    pub fn non_empty<'v>(&self, value: &'v str, expected: &str) -> Result<&'v str, ConfigError> {
        if value.is_empty() { Err(self.missing(expected)) } else { Ok(value) }
    }

    pub fn on_off(&self, value: &str) -> Result<bool, ConfigError> {
        parse_on_off(value).ok_or_else(|| self.invalid(value, "must be On or Off"))
    }

    /// A whole number in `min..=max`, in decimal digits only (mod_wsgi's
    /// `atoi` would silently read `5x` as 5 and `abc` as 0).
    pub fn number<T>(&self, value: &str, min: T, max: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Copy + std::fmt::Display,
    {
        let expected = if max_is_unbounded(&max) {
            format!("must be a whole number of at least {min}")
        } else {
            format!("must be a whole number from {min} to {max}")
        };
        let value = self.non_empty(value, &expected)?;
        parse_digits::<T>(value).filter(|n| *n >= min && *n <= max).ok_or_else(|| self.invalid(value, &expected))
    }

    /// A whole number of seconds (0 has the meaning the caller documents).
    pub fn seconds(&self, value: &str) -> Result<std::time::Duration, ConfigError> {
        let n = self.number::<u32>(value, 0, i32::MAX as u32)?;
        Ok(std::time::Duration::from_secs(u64::from(n)))
    }

    /// A whole number of milliseconds, as mod_wsgi writes its sub-second
    /// options (`response-flush-delay=`).
    pub fn milliseconds(&self, value: &str) -> Result<std::time::Duration, ConfigError> {
        let n = self.number::<u32>(value, 0, i32::MAX as u32)?;
        Ok(std::time::Duration::from_millis(u64::from(n)))
    }

    /// Seconds as a positive decimal number (`0.005`), as
    /// `sys.setswitchinterval()` takes them.
    pub fn positive_seconds(&self, value: &str) -> Result<std::time::Duration, ConfigError> {
        value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
            .and_then(|v| std::time::Duration::try_from_secs_f64(v).ok())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| self.invalid(value, "a positive number of seconds, such as 0.005"))
    }

    /// An absolute path (starting with `/`).
    pub fn absolute_path(&self, value: &str) -> Result<String, ConfigError> {
        const EXPECTED: &str = "must be an absolute path starting with '/'";
        let value = self.non_empty(value, EXPECTED)?;
        if value.starts_with('/') { Ok(value.to_string()) } else { Err(self.invalid(value, EXPECTED)) }
    }
}

/// `i32::MAX` and wider bounds are "no upper limit" in messages: they are
/// the C `int` limits of mod_wsgi, not something a user picks against.
fn max_is_unbounded<T: std::fmt::Display>(max: &T) -> bool {
    max.to_string().parse::<i128>().is_ok_and(|m| m >= i128::from(i32::MAX))
}

/// Case-insensitive `On`/`Off`, as Apache's FLAG directives read them.
pub(crate) fn parse_on_off(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("on") {
        Some(true)
    } else if value.eq_ignore_ascii_case("off") {
        Some(false)
    } else {
        None
    }
}

/// Decimal digits with an optional leading `-`, nothing else.
fn parse_digits<T: FromStr>(value: &str) -> Option<T> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// The single argument of a one-argument directive. Like Apache's TAKE1,
/// an empty (quoted) argument counts as missing.
pub(crate) fn one_arg<'a>(directive: &str, args: &'a [String]) -> Result<&'a str, ConfigError> {
    match args {
        [v] if !v.is_empty() => Ok(v.as_str()),
        [] | [_] => Err(ConfigError::new(directive, "takes one argument, none given")),
        _ => Err(ConfigError::new(
            directive,
            format!("takes one argument, {} given: quote the value if it contains spaces", args.len()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{Field, one_arg, parse_on_off};

    #[test]
    fn on_off_is_case_insensitive() {
        assert_eq!(parse_on_off("ON"), Some(true));
        assert_eq!(parse_on_off("off"), Some(false));
        assert_eq!(parse_on_off("yes"), None);
        assert_eq!(parse_on_off(""), None);
    }

    #[test]
    fn on_off_error_names_directive_and_option() {
        let e = Field::option("WSGIDaemonProcess", "server-metrics").on_off("1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "WSGIDaemonProcess: invalid value '1' for option 'server-metrics': must be On or Off"
        );
        let e = Field::directive("WSGIChunkedRequest").on_off("1").unwrap_err();
        assert_eq!(e.to_string(), "WSGIChunkedRequest: invalid value '1': must be On or Off");
    }

    #[test]
    fn numbers_are_strict_decimal() {
        let f = Field::option("D", "n");
        assert_eq!(f.number::<u32>("12", 1, 100), Ok(12));
        for bad in ["5x", "abc", " 5", "+5", "0x10", "1.5", "-"] {
            assert!(f.number::<u32>(bad, 0, 100).is_err(), "{bad}");
        }
        assert_eq!(f.number::<i32>("-20", -20, 20), Ok(-20));
        assert!(f.number::<i32>("-21", -20, 20).is_err());
    }

    #[test]
    fn number_messages_state_the_range() {
        let f = Field::option("WSGIDaemonProcess", "processes");
        assert_eq!(
            f.number::<u32>("abc", 1, i32::MAX as u32).unwrap_err().to_string(),
            "WSGIDaemonProcess: invalid value 'abc' for option 'processes': \
             must be a whole number of at least 1"
        );
        assert_eq!(
            f.number::<u32>("0", 1, 9).unwrap_err().to_string(),
            "WSGIDaemonProcess: invalid value '0' for option 'processes': \
             must be a whole number from 1 to 9"
        );
        assert_eq!(
            f.number::<u32>("", 1, 9).unwrap_err().to_string(),
            "WSGIDaemonProcess: option 'processes' needs a value: \
             must be a whole number from 1 to 9"
        );
    }

    #[test]
    fn out_of_range_for_the_type_is_invalid() {
        let f = Field::option("D", "n");
        assert!(f.number::<u32>("99999999999", 0, u32::MAX).is_err());
        assert!(f.number::<u32>("-1", 0, 10).is_err());
    }

    #[test]
    fn seconds_and_paths() {
        let f = Field::option("D", "t");
        assert_eq!(f.seconds("0").unwrap().as_secs(), 0);
        assert_eq!(f.seconds("300").unwrap().as_secs(), 300);
        assert!(f.seconds("-1").is_err());
        assert_eq!(f.milliseconds("0").unwrap(), std::time::Duration::ZERO);
        assert_eq!(f.milliseconds("25").unwrap().as_micros(), 25_000);
        assert!(f.milliseconds("-1").is_err());
        assert!(f.milliseconds("0.5").is_err());
        assert_eq!(f.absolute_path("/x").unwrap(), "/x");
        assert!(f.absolute_path("x").is_err());
        assert!(f.absolute_path("").is_err());
    }

    #[test]
    fn one_arg_counts_like_take1() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(one_arg("D", &v(&["a"])), Ok("a"));
        assert_eq!(one_arg("D", &v(&[])).unwrap_err().to_string(), "D: takes one argument, none given");
        assert!(one_arg("D", &v(&[""])).is_err());
        assert_eq!(
            one_arg("D", &v(&["a", "b"])).unwrap_err().to_string(),
            "D: takes one argument, 2 given: quote the value if it contains spaces"
        );
    }
}
