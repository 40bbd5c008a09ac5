//! Directives whose value is one word from a fixed set.

use super::ConfigError;
use super::python::HashSeed;
use super::values::Field;

/// `WSGIAcceptMutex`: the lock daemon processes take around `accept()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptMutex {
    Default,
    Flock,
    Fcntl,
    Sysvsem,
    Posixsem,
    Pthread,
}

/// `WSGIReloadMechanism` (mod_wsgi 2.x): what a changed script reloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadMechanism {
    /// Only the script's module (the only choice in embedded mode).
    Module,
    /// The whole daemon process.
    Process,
}

/// `WSGIMapHEADToGET`: whether a HEAD request reaches the application as GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapHeadToGet {
    Off,
    On,
    /// The default: map only when an Apache output filter needs the body.
    Auto,
}

/// The entry of `choices` matching `value` case-insensitively.
fn pick<T: Copy>(f: Field, value: &str, choices: &[(&str, T)]) -> Result<T, ConfigError> {
    choices.iter().find(|(word, _)| value.eq_ignore_ascii_case(word)).map(|(_, v)| *v).ok_or_else(|| {
        let words: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
        let expected = match words.as_slice() {
            [a, b] => format!("must be {a} or {b}"),
            [init @ .., last] => format!("must be one of {} or {last}", init.join(", ")),
            [] => String::new(),
        };
        f.invalid(value, &expected)
    })
}

impl AcceptMutex {
    pub(crate) fn parse(f: Field, value: &str) -> Result<Self, ConfigError> {
        pick(
            f,
            value,
            &[
                ("default", Self::Default),
                ("flock", Self::Flock),
                ("fcntl", Self::Fcntl),
                ("sysvsem", Self::Sysvsem),
                ("posixsem", Self::Posixsem),
                ("pthread", Self::Pthread),
            ],
        )
    }
}

impl ReloadMechanism {
    pub(crate) fn parse(f: Field, value: &str) -> Result<Self, ConfigError> {
        pick(f, value, &[("Module", Self::Module), ("Process", Self::Process)])
    }
}

impl MapHeadToGet {
    pub(crate) fn parse(f: Field, value: &str) -> Result<Self, ConfigError> {
        pick(f, value, &[("Off", Self::Off), ("On", Self::On), ("Auto", Self::Auto)])
    }
}

/// `WSGIPythonOptimize`: 0, 1 or 2, as `python -O`/`-OO`.
pub(crate) fn python_optimize(f: Field, value: &str) -> Result<u8, ConfigError> {
    match value {
        "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(f.invalid(value, "must be 0, 1 or 2")),
    }
}

/// `WSGIPythonHashSeed`: `random` or a number in `0..=4294967295`, which
/// Python would otherwise reject at start-up, killing the process.
pub(crate) fn python_hash_seed(f: Field, value: &str) -> Result<HashSeed, ConfigError> {
    if value == "random" {
        return Ok(HashSeed::Random);
    }
    match f.number::<u64>(value, 0, u64::from(u32::MAX)).ok().and_then(|n| u32::try_from(n).ok()) {
        Some(n) => Ok(HashSeed::Fixed(n)),
        None => Err(f.invalid(value, "must be \"random\" or a whole number from 0 to 4294967295")),
    }
}

/// `WSGIPythonWarnings`: a `-W` filter `action[:message[:category[:module[:lineno]]]]`.
/// Python silently ignores a malformed one, so it is caught here.
pub(crate) fn python_warnings(f: Field, value: &str) -> Result<String, ConfigError> {
    const ACTIONS: [&str; 6] = ["default", "always", "ignore", "module", "once", "error"];
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() > 5 {
        return Err(f.invalid(value, "too many fields; write action[:message[:category[:module[:lineno]]]]"));
    }
    let action = parts[0].trim();
    // Python accepts "all" and any prefix of an action name.
    if !action.is_empty() && action != "all" && !ACTIONS.iter().any(|a| a.starts_with(action)) {
        return Err(f.invalid(value, "the action must be one of default, always, ignore, module, once or error"));
    }
    if let Some(lineno) = parts.get(4).map(|l| l.trim()).filter(|l| !l.is_empty())
        && !lineno.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(f.invalid(value, "the line number field must be a whole number"));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f() -> Field<'static> {
        Field::directive("D")
    }

    #[test]
    fn accept_mutex_words() {
        assert_eq!(AcceptMutex::parse(f(), "FLOCK"), Ok(AcceptMutex::Flock));
        assert_eq!(AcceptMutex::parse(f(), "default"), Ok(AcceptMutex::Default));
        assert_eq!(
            AcceptMutex::parse(f(), "bogus").unwrap_err().to_string(),
            "D: invalid value 'bogus': must be one of default, flock, fcntl, sysvsem, \
             posixsem or pthread"
        );
    }

    #[test]
    fn reload_mechanism_and_head_mapping() {
        assert_eq!(ReloadMechanism::parse(f(), "process"), Ok(ReloadMechanism::Process));
        assert_eq!(
            ReloadMechanism::parse(f(), "Interpreter").unwrap_err().to_string(),
            "D: invalid value 'Interpreter': must be Module or Process"
        );
        assert_eq!(MapHeadToGet::parse(f(), "auto"), Ok(MapHeadToGet::Auto));
        assert!(MapHeadToGet::parse(f(), "yes").is_err());
    }

    #[test]
    fn optimize_levels() {
        assert_eq!(python_optimize(f(), "2"), Ok(2));
        for bad in ["3", "-1", "on", "01"] {
            assert!(python_optimize(f(), bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hash_seed() {
        assert_eq!(python_hash_seed(f(), "random"), Ok(HashSeed::Random));
        assert_eq!(python_hash_seed(f(), "0"), Ok(HashSeed::Fixed(0)));
        assert_eq!(python_hash_seed(f(), "4294967295"), Ok(HashSeed::Fixed(u32::MAX)));
        assert!(python_hash_seed(f(), "4294967296").is_err());
        assert!(python_hash_seed(f(), "-1").is_err());
        assert!(python_hash_seed(f(), "Random").is_err());
    }

    #[test]
    fn warning_filters() {
        for good in ["ignore", "error::DeprecationWarning", "ignore:msg:UserWarning:mod:12", "i", "all", "::Warning"] {
            assert!(python_warnings(f(), good).is_ok(), "{good}");
        }
        assert!(python_warnings(f(), "bogus").is_err());
        assert!(python_warnings(f(), "ignore:a:b:c:d:e").is_err());
        assert!(python_warnings(f(), "ignore:a:b:c:x").is_err());
    }
}
