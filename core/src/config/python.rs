//! The Python settings of one process, resolved once from the server-wide
//! `WSGIPython*`/`WSGIRestrict*` directives and, in a daemon process, its
//! `WSGIDaemonProcess` options, by mod_wsgi 4.9's rules: every process
//! that runs Python (Apache child or daemon) gets the server-wide ones, a
//! daemon's `python-home=` replaces `WSGIPythonHome`, and `python-path=`,
//! `python-eggs=`, `lang=` and `locale=` belong to daemons alone (a daemon
//! does not fall back to `WSGIPythonPath` or `WSGIPythonEggs`).

use super::{DaemonProcess, ServerConfig};

/// `WSGIPythonHashSeed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashSeed {
    /// Randomised hashing (Python's default), whatever the environment says.
    Random,
    /// A fixed seed; 0 turns randomisation off.
    Fixed(u32),
}

/// What starting Python in one process needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonSettings {
    /// `sys.prefix` (a virtual environment or an installation).
    pub home: Option<String>,
    /// `sys.flags.optimize`: 0, 1 or 2.
    pub optimize: u8,
    pub dont_write_bytecode: bool,
    /// `-W` filters, in the order written (`sys.warnoptions`).
    pub warnings: Vec<String>,
    /// `None`: Python's own rule (`PYTHONHASHSEED` if set, else random).
    pub hash_seed: Option<HashSeed>,
    /// Directories for `site.addsitedir`, in order.
    pub python_path: Vec<String>,
    /// Environment variables set before Python starts.
    pub env: Vec<(String, String)>,
    pub restrict_stdin: bool,
    pub restrict_stdout: bool,
    pub restrict_signal: bool,
    /// `sys.setswitchinterval()`: a daemon's `switch-interval=`, else
    /// `WSGISwitchInterval`.
    pub switch_interval: Option<std::time::Duration>,
    /// `WSGIDestroyInterpreter` (default On): end Python when the process
    /// exits (exit functions run); Off leaves it to the exit.
    pub destroy_interpreter: bool,
    /// `WSGIServerMetrics` (Apache children) or `server-metrics=` (a
    /// daemon): whether `mod_wsgi.server_metrics()` shows the scoreboard.
    pub server_metrics: bool,
}

/// mod_wsgi 4.9.4's defaults (checked against Debian's build): stdin and
/// stdout are left usable, `signal.signal()` is intercepted. Its reference
/// text says On for all three; the code says otherwise.
pub const DEFAULT_RESTRICT_STDIN: bool = false;
pub const DEFAULT_RESTRICT_STDOUT: bool = false;
pub const DEFAULT_RESTRICT_SIGNAL: bool = true;

impl ServerConfig {
    /// The settings of an Apache child (`daemon` is `None`) or of a process
    /// of daemon group `daemon`. `self` is the main server's record: these
    /// directives are only accepted there.
    pub fn python_settings(&self, daemon: Option<&DaemonProcess>) -> PythonSettings {
        let (home, python_path, env) = match daemon {
            None => (
                self.python_home.clone(),
                self.python_path
                    .iter()
                    .flat_map(|p| p.split(':'))
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect(),
                self.python_eggs.iter().map(|d| ("PYTHON_EGG_CACHE".to_string(), d.clone())).collect(),
            ),
            Some(d) => (
                d.python_home.clone().or_else(|| self.python_home.clone()),
                d.python_path.clone(),
                [("PYTHON_EGG_CACHE", &d.python_eggs), ("LANG", &d.lang), ("LC_ALL", &d.locale)]
                    .into_iter()
                    .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), v.clone())))
                    .collect(),
            ),
        };
        PythonSettings {
            home,
            optimize: self.python_optimize.unwrap_or(0),
            dont_write_bytecode: self.dont_write_bytecode.unwrap_or(false),
            warnings: self.python_warnings.clone(),
            hash_seed: self.python_hash_seed,
            python_path,
            env,
            restrict_stdin: self.restrict_stdin.unwrap_or(DEFAULT_RESTRICT_STDIN),
            restrict_stdout: self.restrict_stdout.unwrap_or(DEFAULT_RESTRICT_STDOUT),
            restrict_signal: self.restrict_signal.unwrap_or(DEFAULT_RESTRICT_SIGNAL),
            switch_interval: daemon.and_then(|d| d.switch_interval).or(self.switch_interval),
            destroy_interpreter: self.destroy_interpreter.unwrap_or(true),
            server_metrics: match daemon {
                None => self.server_metrics.unwrap_or(false),
                Some(d) => d.server_metrics,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Context, DirConfig, apply, test_server as server};

    fn daemon(s: &ServerConfig, args: &str) -> DaemonProcess {
        let mut s = s.clone();
        let mut d = DirConfig::default();
        apply("WSGIDaemonProcess", args, Context::MainServer, &mut s, &mut d).unwrap();
        s.daemons.pop().unwrap()
    }

    #[test]
    fn defaults_are_mod_wsgi_4_9s() {
        let s = ServerConfig::default();
        for p in [s.python_settings(None), s.python_settings(Some(&daemon(&s, "d")))] {
            assert_eq!((p.restrict_stdin, p.restrict_stdout, p.restrict_signal), (false, false, true));
            assert_eq!((p.optimize, p.dont_write_bytecode, p.hash_seed), (0, false, None));
            assert!(p.home.is_none() && p.warnings.is_empty() && p.python_path.is_empty() && p.env.is_empty());
        }
    }

    #[test]
    fn server_wide_settings_reach_daemons_too() {
        let s = server(&[
            ("WSGIPythonHome", "/venv"),
            ("WSGIPythonOptimize", "2"),
            ("WSGIDontWriteBytecode", "On"),
            ("WSGIPythonWarnings", "error"),
            ("WSGIPythonWarnings", "ignore::DeprecationWarning"),
            ("WSGIPythonHashSeed", "12345"),
            ("WSGIRestrictStdin", "On"),
            ("WSGIRestrictStdout", "On"),
            ("WSGIRestrictSignal", "Off"),
        ]);
        let embedded = s.python_settings(None);
        let d = s.python_settings(Some(&daemon(&s, "d")));
        for p in [&embedded, &d] {
            assert_eq!(p.home.as_deref(), Some("/venv"));
            assert_eq!((p.optimize, p.dont_write_bytecode), (2, true));
            assert_eq!(p.warnings, ["error", "ignore::DeprecationWarning"]);
            assert_eq!(p.hash_seed, Some(HashSeed::Fixed(12345)));
            assert_eq!((p.restrict_stdin, p.restrict_stdout, p.restrict_signal), (true, true, false));
        }
        assert_eq!(embedded, d);
    }

    #[test]
    fn a_daemons_python_home_replaces_the_server_one() {
        let s = server(&[("WSGIPythonHome", "/venv")]);
        let p = s.python_settings(Some(&daemon(&s, "d python-home=/other")));
        assert_eq!(p.home.as_deref(), Some("/other"));
        let p = ServerConfig::default().python_settings(Some(&daemon(&s, "d python-home=/other")));
        assert_eq!(p.home.as_deref(), Some("/other"));
    }

    #[test]
    fn path_and_eggs_are_per_process_kind() {
        let s = server(&[("WSGIPythonPath", "/a::/b"), ("WSGIPythonEggs", "/eggs")]);
        let p = s.python_settings(None);
        assert_eq!(p.python_path, ["/a", "/b"]);
        assert_eq!(p.env, [("PYTHON_EGG_CACHE".to_string(), "/eggs".to_string())]);
        // As in mod_wsgi, a daemon has only its own options.
        let p = s.python_settings(Some(&daemon(&s, "d")));
        assert!(p.python_path.is_empty() && p.env.is_empty(), "{p:?}");
        let p = s.python_settings(Some(&daemon(&s, "d python-path=/c python-eggs=/e lang=C.UTF-8 locale=C.UTF-8")));
        assert_eq!(p.python_path, ["/c"]);
        let env: Vec<(&str, &str)> = p.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(env, [("PYTHON_EGG_CACHE", "/e"), ("LANG", "C.UTF-8"), ("LC_ALL", "C.UTF-8")]);
    }

    #[test]
    fn server_metrics_per_process_kind() {
        let s = ServerConfig::default();
        assert!(!s.python_settings(None).server_metrics);
        let s = server(&[("WSGIServerMetrics", "On")]);
        assert!(s.python_settings(None).server_metrics);
        // A daemon has its own server-metrics= option.
        assert!(!s.python_settings(Some(&daemon(&s, "d"))).server_metrics);
        assert!(s.python_settings(Some(&daemon(&s, "d server-metrics=On"))).server_metrics);
    }

    #[test]
    fn hash_seed_words() {
        assert_eq!(server(&[("WSGIPythonHashSeed", "random")]).python_settings(None).hash_seed, Some(HashSeed::Random));
        assert_eq!(server(&[("WSGIPythonHashSeed", "0")]).python_settings(None).hash_seed, Some(HashSeed::Fixed(0)));
        assert_eq!(
            server(&[("WSGIPythonHashSeed", "4294967295")]).python_settings(None).hash_seed,
            Some(HashSeed::Fixed(u32::MAX))
        );
    }

    #[test]
    fn switch_interval_of_a_daemon_falls_back_to_the_server_wide_one() {
        use std::time::Duration;
        let s = server(&[("WSGISwitchInterval", "0.002")]);
        assert_eq!(s.python_settings(None).switch_interval, Some(Duration::from_millis(2)));
        let plain = daemon(&s, "plain");
        let own = daemon(&s, "own switch-interval=0.01");
        assert_eq!(s.python_settings(Some(&plain)).switch_interval, Some(Duration::from_millis(2)));
        assert_eq!(s.python_settings(Some(&own)).switch_interval, Some(Duration::from_millis(10)));
        assert_eq!(ServerConfig::default().python_settings(None).switch_interval, None);
        for bad in ["0", "-1", "abc", "inf", "NaN"] {
            let mut cfg = ServerConfig::default();
            let mut d = DirConfig::default();
            assert!(apply("WSGISwitchInterval", bad, Context::MainServer, &mut cfg, &mut d).is_err(), "{bad}");
        }
    }

    #[test]
    fn interpreters_are_destroyed_unless_turned_off() {
        assert!(ServerConfig::default().python_settings(None).destroy_interpreter);
        let off = server(&[("WSGIDestroyInterpreter", "Off")]);
        assert!(!off.python_settings(None).destroy_interpreter);
        assert!(!off.python_settings(Some(&daemon(&off, "d"))).destroy_interpreter);
    }
}
