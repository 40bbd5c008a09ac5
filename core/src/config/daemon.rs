//! `WSGIDaemonProcess name [option=value ...]`: every option mod_wsgi 4.9
//! accepts, each checked and stored typed, with mod_wsgi's defaults.

use super::ConfigError;
use super::tokenize::{next_word, options};
use super::values::Field;
use std::time::Duration;

const DIRECTIVE: &str = "WSGIDaemonProcess";

/// A user or group as written: `name` or `#id`. Resolving names to ids
/// needs the system databases, so that is left to the Apache side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    Name(String),
    Id(u32),
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::Id(id) => write!(f, "#{id}"),
        }
    }
}

/// One daemon process group as configured, with every option typed.
/// A zero duration or size means what mod_wsgi means by 0 (noted per field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonProcess {
    /// Unique across the whole server: see [`super::DaemonRegistry`].
    pub name: String,
    /// The `option=value` pairs as written (unquoted), in order, after
    /// validation. Kept for callers written against the untyped record;
    /// prefer the typed fields below.
    pub options: Vec<(String, String)>,
    /// `user=`: `None` runs as Apache's `User`. `root`/`#0` are refused here;
    /// the Apache side must still refuse a name that resolves to uid 0.
    pub user: Option<Account>,
    /// `group=`: `None` runs as Apache's `Group`.
    pub group: Option<Account>,
    /// `supplementary-groups=a,b`.
    pub supplementary_groups: Vec<Account>,
    /// `processes=` (default 1).
    pub processes: u32,
    /// Whether `processes=` was written: it alone makes `wsgi.multiprocess`
    /// true, even for `processes=1`. See [`DaemonProcess::multiprocess`].
    pub processes_given: bool,
    /// `threads=` (default 15). 0 is mod_wsgi's managed-process mode: no
    /// request threads, only `WSGIImportScript` code runs.
    pub threads: u32,
    /// `umask=` (octal); `None` inherits Apache's.
    pub umask: Option<u32>,
    /// `chroot=`: an absolute path. mod_wsgi also refuses it when Apache does
    /// not run as root; that check belongs to the Apache side.
    pub chroot: Option<String>,
    /// `home=`: an absolute path; `None` uses the user's home directory.
    pub home: Option<String>,
    /// `lang=` (sets `LANG`) and `locale=` (sets `LC_ALL`).
    pub lang: Option<String>,
    pub locale: Option<String>,
    /// `python-home=`: the `sys.prefix` of a virtual environment.
    pub python_home: Option<String>,
    /// `python-path=a:b`: directories for `site.addsitedir`, in order.
    pub python_path: Vec<String>,
    /// `python-eggs=`: sets `PYTHON_EGG_CACHE`.
    pub python_eggs: Option<String>,
    /// `stack-size=` in bytes; `None` keeps the system default.
    pub stack_size: Option<u32>,
    /// `maximum-requests=`: 0 (default) means no limit.
    pub maximum_requests: u32,
    /// `startup-timeout=`: 0 (default) means none.
    pub startup_timeout: Duration,
    /// `shutdown-timeout=` (default 5 s).
    pub shutdown_timeout: Duration,
    /// `deadlock-timeout=` (default 300 s): 0 disables the GIL watchdog.
    pub deadlock_timeout: Duration,
    /// `inactivity-timeout=`: 0 (default) means none.
    pub inactivity_timeout: Duration,
    /// `request-timeout=`: 0 (default) means none.
    pub request_timeout: Duration,
    /// `graceful-timeout=` (default 15 s, as mod_wsgi 4.9): how long a
    /// retiring process lets running requests finish; 0 means not at all.
    pub graceful_timeout: Duration,
    /// `eviction-timeout=`: 0 (default) means use `graceful_timeout`.
    pub eviction_timeout: Duration,
    /// `restart-interval=`: 0 (default) means never.
    pub restart_interval: Duration,
    /// `connect-timeout=` (default 15 s).
    pub connect_timeout: Duration,
    /// `socket-timeout=`: 0 (default) means Apache's `Timeout`.
    pub socket_timeout: Duration,
    /// `queue-timeout=`: 0 (default) means none.
    pub queue_timeout: Duration,
    /// `response-socket-timeout=`: 0 (default) means `socket_timeout`
    /// (see `response_timeout`).
    pub response_socket_timeout: Duration,
    /// `response-flush-delay=` (mod_wsgi 6.0.2), in milliseconds: how long
    /// the Apache child waits for more of a daemon's response before it
    /// flushes what it passed on (see `wsgi_core::response_flush`). 0 (the
    /// default here; 6.0.2's is 5 ms) flushes as soon as nothing more has
    /// arrived, as mod_wsgi 4.9 does.
    pub response_flush_delay: Duration,
    /// `listen-backlog=` (default 100).
    pub listen_backlog: u32,
    /// `display-name=` with `%{GROUP}` already expanded to `(wsgi:NAME)`;
    /// `None` leaves the process title alone.
    pub display_name: Option<String>,
    /// `send-buffer-size=` and `receive-buffer-size=` in bytes: 0 (default)
    /// keeps the OS default; otherwise at least 512.
    pub send_buffer_size: u32,
    pub receive_buffer_size: u32,
    /// `header-buffer-size=` in bytes (default 32768; `=0` means default).
    pub header_buffer_size: u32,
    /// `response-buffer-size=` in bytes (default 65536; `=0` means default).
    pub response_buffer_size: u32,
    /// `socket-user=`: owner of the listener socket; `None` is Apache's `User`.
    pub socket_user: Option<Account>,
    /// `script-user=` / `script-group=` (at most one): required owner of
    /// every script run in the group.
    pub script_user: Option<Account>,
    pub script_group: Option<Account>,
    /// `cpu-time-limit=` in CPU seconds: 0 (default) means none.
    pub cpu_time_limit: Duration,
    /// `cpu-priority=` from -20 to 20 (default 0).
    pub cpu_priority: i32,
    /// `memory-limit=` and `virtual-memory-limit=` in bytes: 0 (default)
    /// means none.
    pub memory_limit: u64,
    pub virtual_memory_limit: u64,
    /// `server-metrics=On|Off` (default Off).
    pub server_metrics: bool,
    /// `interrupt-timeout=` (mod_wsgi 6): a request past request-timeout
    /// gets `mod_wsgi.RequestTimeout` raised in its thread and this long to
    /// unwind before the process is recycled; 0 (default) recycles at once.
    pub interrupt_timeout: Duration,
    /// `newrelic-config-file=` and `newrelic-environment=`: accepted and
    /// kept because mod_wsgi 4.9 accepts them; nothing uses them.
    pub newrelic_config_file: Option<String>,
    /// `switch-interval=` (mod_wsgi 6): this group's `WSGISwitchInterval`.
    pub switch_interval: Option<Duration>,
    pub newrelic_environment: Option<String>,
}

/// mod_wsgi's `WSGI_LISTEN_BACKLOG`.
pub const DEFAULT_LISTEN_BACKLOG: u32 = 100;
/// Defaults used when the buffer options are absent or 0.
pub const DEFAULT_HEADER_BUFFER_SIZE: u32 = 32768;
pub const DEFAULT_RESPONSE_BUFFER_SIZE: u32 = 65536;
/// mod_wsgi refuses more threads than its thread-stack table holds.
pub const MAX_THREADS: u32 = 65533;

impl DaemonProcess {
    /// A group with every option at mod_wsgi's default.
    pub fn with_defaults(name: &str) -> Self {
        Self {
            name: name.to_string(),
            options: Vec::new(),
            user: None,
            group: None,
            supplementary_groups: Vec::new(),
            processes: 1,
            processes_given: false,
            threads: 15,
            umask: None,
            chroot: None,
            home: None,
            lang: None,
            locale: None,
            python_home: None,
            python_path: Vec::new(),
            python_eggs: None,
            stack_size: None,
            maximum_requests: 0,
            startup_timeout: Duration::ZERO,
            shutdown_timeout: Duration::from_secs(5),
            deadlock_timeout: Duration::from_secs(300),
            inactivity_timeout: Duration::ZERO,
            request_timeout: Duration::ZERO,
            graceful_timeout: Duration::from_secs(15),
            eviction_timeout: Duration::ZERO,
            restart_interval: Duration::ZERO,
            connect_timeout: Duration::from_secs(15),
            socket_timeout: Duration::ZERO,
            queue_timeout: Duration::ZERO,
            response_socket_timeout: Duration::ZERO,
            response_flush_delay: Duration::ZERO,
            listen_backlog: DEFAULT_LISTEN_BACKLOG,
            display_name: None,
            send_buffer_size: 0,
            receive_buffer_size: 0,
            header_buffer_size: DEFAULT_HEADER_BUFFER_SIZE,
            response_buffer_size: DEFAULT_RESPONSE_BUFFER_SIZE,
            socket_user: None,
            script_user: None,
            script_group: None,
            cpu_time_limit: Duration::ZERO,
            cpu_priority: 0,
            memory_limit: 0,
            virtual_memory_limit: 0,
            server_metrics: false,
            interrupt_timeout: Duration::ZERO,
            newrelic_config_file: None,
            switch_interval: None,
            newrelic_environment: None,
        }
    }

    /// The value of `wsgi.multiprocess` for applications in this group.
    pub fn multiprocess(&self) -> bool {
        self.processes_given
    }

    /// How long an Apache child waits on each write of this group's
    /// response to a client that is not reading, as mod_wsgi:
    /// `response-socket-timeout`, else `socket-timeout`; `None` keeps the
    /// connection's own timeout (Apache's `Timeout`).
    pub fn response_timeout(&self) -> Option<Duration> {
        [self.response_socket_timeout, self.socket_timeout].into_iter().find(|t| !t.is_zero())
    }

    /// Parses the raw argument text of one `WSGIDaemonProcess` line.
    pub fn parse(raw_args: &str) -> Result<Self, ConfigError> {
        let (name, rest) = next_word(raw_args);
        check_name(&name)?;
        let opts = options(rest).map_err(|word| {
            ConfigError::new(DIRECTIVE, format!("expected an option written as name=value, found '{word}'"))
        })?;
        let mut daemon = Self::with_defaults(&name);
        let mut seen: Vec<&str> = Vec::new();
        for (option, value) in &opts {
            if seen.contains(&option.as_str()) {
                return Err(ConfigError::new(
                    DIRECTIVE,
                    format!("option '{option}' is given more than once: keep one"),
                ));
            }
            seen.push(option);
            daemon.set(option, value)?;
        }
        daemon.options = opts;
        if daemon.script_user.is_some() && daemon.script_group.is_some() {
            return Err(ConfigError::new(
                DIRECTIVE,
                "options 'script-user' and 'script-group' cannot be used together: keep one",
            ));
        }
        Ok(daemon)
    }

    fn set(&mut self, option: &str, value: &str) -> Result<(), ConfigError> {
        let f = Field::option(DIRECTIVE, option);
        let int_max = i32::MAX as u32;
        match option {
            "user" => {
                let user = account(f, value, "a user name or #uid")?;
                if matches!(&user, Account::Id(0)) || user == Account::Name("root".into()) {
                    return Err(f.invalid(value, "daemon processes may not run as root; name an unprivileged user"));
                }
                self.user = Some(user);
            }
            "group" => self.group = Some(account(f, value, "a group name or #gid")?),
            "supplementary-groups" => self.supplementary_groups = account_list(f, value)?,
            "processes" => {
                self.processes = f.number(value, 1, int_max)?;
                self.processes_given = true;
            }
            "threads" => self.threads = f.number(value, 0, MAX_THREADS)?,
            "umask" => self.umask = Some(octal(f, value)?),
            "chroot" => self.chroot = Some(f.absolute_path(value)?),
            "home" => self.home = Some(f.absolute_path(value)?),
            "lang" => self.lang = Some(text(f, value, "a locale name such as en_US.UTF-8")?),
            "locale" => self.locale = Some(text(f, value, "a locale name such as en_US.UTF-8")?),
            "python-home" => self.python_home = Some(python_home(f, value)?),
            "python-path" => self.python_path = path_list(f, value)?,
            "python-eggs" => self.python_eggs = Some(text(f, value, "a directory")?),
            "stack-size" => self.stack_size = Some(f.number(value, 1, int_max)?),
            "maximum-requests" => self.maximum_requests = f.number(value, 0, int_max)?,
            "startup-timeout" => self.startup_timeout = f.seconds(value)?,
            "shutdown-timeout" => self.shutdown_timeout = f.seconds(value)?,
            "deadlock-timeout" => self.deadlock_timeout = f.seconds(value)?,
            "inactivity-timeout" => self.inactivity_timeout = f.seconds(value)?,
            "request-timeout" => self.request_timeout = f.seconds(value)?,
            "interrupt-timeout" => self.interrupt_timeout = f.seconds(value)?,
            "graceful-timeout" => self.graceful_timeout = f.seconds(value)?,
            "eviction-timeout" => self.eviction_timeout = f.seconds(value)?,
            "restart-interval" => self.restart_interval = f.seconds(value)?,
            "connect-timeout" => self.connect_timeout = f.seconds(value)?,
            "socket-timeout" => self.socket_timeout = f.seconds(value)?,
            "queue-timeout" => self.queue_timeout = f.seconds(value)?,
            "response-socket-timeout" => self.response_socket_timeout = f.seconds(value)?,
            "response-flush-delay" => self.response_flush_delay = f.milliseconds(value)?,
            "listen-backlog" => self.listen_backlog = f.number(value, 0, int_max)?,
            "display-name" => {
                let shown = text(f, value, "a process title, or %{GROUP}")?;
                self.display_name = Some(if shown == "%{GROUP}" { format!("(wsgi:{})", self.name) } else { shown });
            }
            "send-buffer-size" => self.send_buffer_size = buffer(f, value, 512, 0)?,
            "receive-buffer-size" => self.receive_buffer_size = buffer(f, value, 512, 0)?,
            "header-buffer-size" => self.header_buffer_size = buffer(f, value, 8192, DEFAULT_HEADER_BUFFER_SIZE)?,
            "response-buffer-size" => {
                self.response_buffer_size = buffer(f, value, 65536, DEFAULT_RESPONSE_BUFFER_SIZE)?
            }
            "socket-user" => self.socket_user = Some(account(f, value, "a user name or #uid")?),
            "script-user" => self.script_user = Some(account(f, value, "a user name or #uid")?),
            "script-group" => self.script_group = Some(account(f, value, "a group name or #gid")?),
            "cpu-time-limit" => self.cpu_time_limit = f.seconds(value)?,
            "cpu-priority" => self.cpu_priority = f.number(value, -20, 20)?,
            "memory-limit" => self.memory_limit = f.number(value, 0, i64::MAX as u64)?,
            "virtual-memory-limit" => self.virtual_memory_limit = f.number(value, 0, i64::MAX as u64)?,
            "server-metrics" => self.server_metrics = f.on_off(value)?,
            "newrelic-config-file" => self.newrelic_config_file = Some(text(f, value, "a file")?),
            "switch-interval" => self.switch_interval = Some(f.positive_seconds(value)?),
            "newrelic-environment" => self.newrelic_environment = Some(text(f, value, "an environment name")?),
            _ => {
                return Err(ConfigError::new(DIRECTIVE, format!("unknown option '{option}': check its spelling")));
            }
        }
        Ok(())
    }
}

/// The group name: required, and checked against mistakes mod_wsgi would
/// silently accept (a forgotten name turns the first option into the name).
fn check_name(name: &str) -> Result<(), ConfigError> {
    let problem = if name.is_empty() {
        "needs a daemon process group name first, as in: WSGIDaemonProcess myapp threads=15"
    } else if name.contains('=') {
        "the first argument must be the group name, not an option: \
         write WSGIDaemonProcess NAME option=value ..."
    } else if name.starts_with("%{") {
        "a group name cannot start with '%{', which is reserved for expansions such as %{GLOBAL}"
    } else if name.chars().any(char::is_control) {
        "the group name must not contain control characters"
    } else {
        return Ok(());
    };
    Err(ConfigError::new(DIRECTIVE, problem))
}

/// `name` or `#id`.
fn account(f: Field, value: &str, expected: &str) -> Result<Account, ConfigError> {
    let value = f.non_empty(value, expected)?;
    match value.strip_prefix('#') {
        Some(id) => id
            .parse::<u32>()
            .ok()
            .filter(|_| id.bytes().all(|b| b.is_ascii_digit()))
            .map(Account::Id)
            .ok_or_else(|| f.invalid(value, expected)),
        None if value.chars().any(|c| c.is_whitespace() || c == ',') => Err(f.invalid(value, expected)),
        None => Ok(Account::Name(value.to_string())),
    }
}

/// `a,b,#7`: every item a group; empty items are mistakes.
fn account_list(f: Field, value: &str) -> Result<Vec<Account>, ConfigError> {
    const EXPECTED: &str = "a comma-separated list of group names or #gids";
    let value = f.non_empty(value, EXPECTED)?;
    value
        .split(',')
        .map(|item| {
            if item.is_empty() {
                Err(f.invalid(value, "the list has an empty entry; separate names with single commas"))
            } else {
                account(f, item, EXPECTED)
            }
        })
        .collect()
}

/// An octal mode such as `0022` or `22`.
fn octal(f: Field, value: &str) -> Result<u32, ConfigError> {
    const EXPECTED: &str = "must be an octal number such as 0022";
    let value = f.non_empty(value, EXPECTED)?;
    if !value.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(f.invalid(value, EXPECTED));
    }
    u32::from_str_radix(value, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| f.invalid(value, "must be an octal number no larger than 07777"))
}

/// Any non-empty text.
fn text(f: Field, value: &str, expected: &str) -> Result<String, ConfigError> {
    Ok(f.non_empty(value, expected)?.to_string())
}

/// `prefix` or `prefix:exec_prefix`, each absolute.
pub(crate) fn python_home(f: Field, value: &str) -> Result<String, ConfigError> {
    const EXPECTED: &str = "must be an absolute directory path (or prefix:exec_prefix)";
    let value = f.non_empty(value, EXPECTED)?;
    if value.split(':').all(|p| p.starts_with('/')) { Ok(value.to_string()) } else { Err(f.invalid(value, EXPECTED)) }
}

/// `dir:dir:...`; empty entries (`a::b`, a trailing `:`) are skipped as
/// Python's own path handling would.
fn path_list(f: Field, value: &str) -> Result<Vec<String>, ConfigError> {
    const EXPECTED: &str = "one or more directories separated by ':'";
    let value = f.non_empty(value, EXPECTED)?;
    let dirs: Vec<String> = value.split(':').filter(|d| !d.is_empty()).map(String::from).collect();
    if dirs.is_empty() {
        return Err(f.invalid(value, EXPECTED));
    }
    Ok(dirs)
}

/// A buffer size: 0 means `default`, anything else must be at least `min`.
fn buffer(f: Field, value: &str, min: u32, default: u32) -> Result<u32, ConfigError> {
    let expected = format!("must be 0 (for the default) or a number of bytes of at least {min}");
    let value = f.non_empty(value, &expected)?;
    match f.number::<u32>(value, 0, i32::MAX as u32) {
        Ok(0) => Ok(default),
        Ok(n) if n >= min => Ok(n),
        _ => Err(f.invalid(value, &expected)),
    }
}

#[cfg(test)]
#[path = "daemon_tests.rs"]
mod tests;
