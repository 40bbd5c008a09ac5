use super::{Account, DaemonProcess};
use std::time::Duration;

fn parse(args: &str) -> DaemonProcess {
    match DaemonProcess::parse(args) {
        Ok(d) => d,
        Err(e) => panic!("{args}: {e}"),
    }
}

fn error(args: &str) -> String {
    match DaemonProcess::parse(args) {
        Ok(d) => panic!("{args} was accepted: {d:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_match_mod_wsgi() {
    let d = parse("app");
    assert_eq!(d, DaemonProcess::with_defaults("app"));
    assert!(d.options.is_empty());
    assert_eq!(d.processes, 1);
    assert!(!d.processes_given);
    assert!(!d.multiprocess());
    assert_eq!(d.threads, 15);
    assert_eq!(d.shutdown_timeout, Duration::from_secs(5));
    assert_eq!(d.deadlock_timeout, Duration::from_secs(300));
    assert_eq!(d.connect_timeout, Duration::from_secs(15));
    assert_eq!(d.inactivity_timeout, Duration::ZERO);
    assert_eq!(d.listen_backlog, 100);
    assert_eq!(d.header_buffer_size, 32768);
    assert_eq!(d.response_buffer_size, 65536);
    // mod_wsgi 4.9's behaviour (6.0.2 defaults to 5 ms): see docs/directives.md.
    assert_eq!(d.response_flush_delay, Duration::ZERO);
    assert_eq!(d.send_buffer_size, 0);
    assert_eq!(d.display_name, None);
    assert!(!d.server_metrics);
}

#[test]
fn raw_options_are_kept_in_order() {
    let d = parse("app threads=5 python-path='/a b'");
    assert_eq!(
        d.options,
        vec![("threads".to_string(), "5".to_string()), ("python-path".to_string(), "/a b".to_string()),]
    );
}

#[test]
fn processes_given_explicitly_makes_multiprocess() {
    let d = parse("app processes=1");
    assert_eq!(d.processes, 1);
    assert!(d.processes_given);
    assert!(d.multiprocess());
    assert_eq!(parse("app processes=4").processes, 4);
}

#[test]
fn every_option_is_stored_typed() {
    let d = parse(
        "app user=www group=#33 supplementary-groups=adm,#4 processes=2 threads=25 \
         umask=0027 chroot=/jail home=/srv/app lang=en_US.UTF-8 locale=C.UTF-8 \
         python-home=/venv python-path=/a:/b python-eggs=/tmp/eggs stack-size=524288 \
         maximum-requests=1000 startup-timeout=15 shutdown-timeout=10 deadlock-timeout=60 \
         inactivity-timeout=120 request-timeout=60 graceful-timeout=15 eviction-timeout=5 \
         restart-interval=3600 connect-timeout=20 socket-timeout=60 queue-timeout=45 \
         response-socket-timeout=30 response-flush-delay=20 listen-backlog=500 \
         display-name=%{GROUP} \
         send-buffer-size=1024 receive-buffer-size=2048 header-buffer-size=65536 \
         response-buffer-size=131072 socket-user=#1000 script-user=owner \
         cpu-time-limit=600 cpu-priority=-5 memory-limit=1000000 \
         virtual-memory-limit=2000000 server-metrics=On \
         newrelic-config-file=/nr.ini newrelic-environment=prod",
    );
    assert_eq!(d.name, "app");
    assert_eq!(d.user, Some(Account::Name("www".into())));
    assert_eq!(d.group, Some(Account::Id(33)));
    assert_eq!(d.supplementary_groups, vec![Account::Name("adm".into()), Account::Id(4)]);
    assert_eq!((d.processes, d.threads), (2, 25));
    assert_eq!(d.umask, Some(0o027));
    assert_eq!(d.chroot.as_deref(), Some("/jail"));
    assert_eq!(d.home.as_deref(), Some("/srv/app"));
    assert_eq!(d.lang.as_deref(), Some("en_US.UTF-8"));
    assert_eq!(d.locale.as_deref(), Some("C.UTF-8"));
    assert_eq!(d.python_home.as_deref(), Some("/venv"));
    assert_eq!(d.python_path, vec!["/a", "/b"]);
    assert_eq!(d.python_eggs.as_deref(), Some("/tmp/eggs"));
    assert_eq!(d.stack_size, Some(524288));
    assert_eq!(d.maximum_requests, 1000);
    let s = Duration::from_secs;
    assert_eq!(d.startup_timeout, s(15));
    assert_eq!(d.shutdown_timeout, s(10));
    assert_eq!(d.deadlock_timeout, s(60));
    assert_eq!(d.inactivity_timeout, s(120));
    assert_eq!(d.request_timeout, s(60));
    assert_eq!(d.graceful_timeout, s(15));
    assert_eq!(d.eviction_timeout, s(5));
    assert_eq!(d.restart_interval, s(3600));
    assert_eq!(d.connect_timeout, s(20));
    assert_eq!(d.socket_timeout, s(60));
    assert_eq!(d.queue_timeout, s(45));
    assert_eq!(d.response_socket_timeout, s(30));
    assert_eq!(d.response_flush_delay, Duration::from_millis(20));
    assert_eq!(d.listen_backlog, 500);
    assert_eq!(d.display_name.as_deref(), Some("(wsgi:app)"));
    assert_eq!((d.send_buffer_size, d.receive_buffer_size), (1024, 2048));
    assert_eq!(d.header_buffer_size, 65536);
    assert_eq!(d.response_buffer_size, 131072);
    assert_eq!(d.socket_user, Some(Account::Id(1000)));
    assert_eq!(d.script_user, Some(Account::Name("owner".into())));
    assert_eq!(d.cpu_time_limit, s(600));
    assert_eq!(d.cpu_priority, -5);
    assert_eq!((d.memory_limit, d.virtual_memory_limit), (1000000, 2000000));
    assert!(d.server_metrics);
    assert_eq!(d.newrelic_config_file.as_deref(), Some("/nr.ini"));
    assert_eq!(d.newrelic_environment.as_deref(), Some("prod"));
}

#[test]
fn quoted_values_and_names() {
    let d = parse(r#"'my app' python-path="/a b:/c" display-name='httpd (app)'"#);
    assert_eq!(d.name, "my app");
    assert_eq!(d.python_path, vec!["/a b", "/c"]);
    assert_eq!(d.display_name.as_deref(), Some("httpd (app)"));
}

#[test]
fn display_name_other_than_group_is_kept() {
    assert_eq!(parse("a display-name=wsgi-a").display_name.as_deref(), Some("wsgi-a"));
    // Only the whole value %{GROUP} is expanded, as in mod_wsgi.
    assert_eq!(parse("a display-name=x%{GROUP}").display_name.as_deref(), Some("x%{GROUP}"));
}

#[test]
fn threads_zero_is_managed_mode_and_max_is_mod_wsgis() {
    assert_eq!(parse("a threads=0").threads, 0);
    assert_eq!(parse("a threads=65533").threads, 65533);
    assert!(error("a threads=65534").contains("from 0 to 65533"));
}

#[test]
fn bad_numbers_name_option_and_form() {
    assert_eq!(
        error("a processes=abc"),
        "WSGIDaemonProcess: invalid value 'abc' for option 'processes': \
         must be a whole number of at least 1"
    );
    assert!(error("a processes=0").contains("'0' for option 'processes'"));
    assert!(error("a processes=5x").contains("'5x' for option 'processes'"));
    assert!(error("a threads=-1").contains("option 'threads'"));
    assert!(error("a stack-size=0").contains("option 'stack-size'"));
    assert!(error("a cpu-priority=21").contains("from -20 to 20"));
    for option in [
        "maximum-requests",
        "startup-timeout",
        "shutdown-timeout",
        "deadlock-timeout",
        "inactivity-timeout",
        "request-timeout",
        "graceful-timeout",
        "eviction-timeout",
        "restart-interval",
        "connect-timeout",
        "socket-timeout",
        "queue-timeout",
        "response-socket-timeout",
        "listen-backlog",
        "cpu-time-limit",
        "memory-limit",
        "virtual-memory-limit",
    ] {
        assert!(parse(&format!("a {option}=0")).name == "a");
        for bad in ["-1", "abc", "1.5", "5x"] {
            let e = error(&format!("a {option}={bad}"));
            assert!(e.contains(&format!("invalid value '{bad}' for option '{option}'")), "{e}");
        }
        let e = error(&format!("a {option}="));
        assert!(e.contains(&format!("option '{option}' needs a value")), "{e}");
    }
}

#[test]
fn buffer_sizes_follow_mod_wsgi_minimums() {
    assert_eq!(parse("a send-buffer-size=512").send_buffer_size, 512);
    assert_eq!(parse("a receive-buffer-size=0").receive_buffer_size, 0);
    assert!(error("a send-buffer-size=511").contains("at least 512"));
    assert!(error("a receive-buffer-size=100").contains("at least 512"));
    assert!(error("a header-buffer-size=8191").contains("at least 8192"));
    assert!(error("a response-buffer-size=65535").contains("at least 65536"));
    // 0 means the default size.
    assert_eq!(parse("a header-buffer-size=0").header_buffer_size, 32768);
    assert_eq!(parse("a response-buffer-size=0").response_buffer_size, 65536);
}

#[test]
fn umask_is_octal() {
    assert_eq!(parse("a umask=0").umask, Some(0));
    assert_eq!(parse("a umask=22").umask, Some(0o22));
    assert_eq!(parse("a umask=07777").umask, Some(0o7777));
    for bad in ["8", "0o22", "abc", "-1", "0x1", "17777"] {
        assert!(error(&format!("a umask={bad}")).contains("option 'umask'"), "{bad}");
    }
}

#[test]
fn paths_must_be_absolute() {
    assert!(error("a home=relative").contains("absolute path"));
    assert!(error("a home=").contains("option 'home' needs a value"));
    assert!(error("a chroot=jail").contains("option 'chroot'"));
    assert!(error("a python-home=venv").contains("option 'python-home'"));
    assert_eq!(parse("a python-home=/p:/e").python_home.as_deref(), Some("/p:/e"));
}

#[test]
fn python_path_skips_empty_entries() {
    assert_eq!(parse("a python-path=/a::/b:").python_path, vec!["/a", "/b"]);
    assert!(error("a python-path=:").contains("option 'python-path'"));
    assert!(error("a python-path=").contains("needs a value"));
}

#[test]
fn users_and_groups() {
    assert_eq!(parse("a user=#1000").user, Some(Account::Id(1000)));
    assert!(error("a user=root").contains("may not run as root"));
    assert!(error("a user=#0").contains("may not run as root"));
    assert!(error("a user=#abc").contains("option 'user'"));
    assert!(error("a user=#").contains("option 'user'"));
    assert!(error("a user=").contains("option 'user' needs a value"));
    assert_eq!(parse("a group=root").group, Some(Account::Name("root".into())));
    assert!(error("a supplementary-groups=a,,b").contains("empty entry"));
    assert!(error("a supplementary-groups=a,").contains("empty entry"));
    assert!(error("a supplementary-groups=").contains("needs a value"));
    assert_eq!(Account::Id(7).to_string(), "#7");
}

#[test]
fn script_user_and_group_exclude_each_other() {
    assert!(
        error("a script-user=x script-group=y").contains("'script-user' and 'script-group' cannot be used together")
    );
    assert_eq!(parse("a script-group=#5").script_group, Some(Account::Id(5)));
}

#[test]
fn interrupt_timeout_is_seconds() {
    assert_eq!(parse("a").interrupt_timeout, std::time::Duration::ZERO);
    assert_eq!(parse("a interrupt-timeout=10").interrupt_timeout, std::time::Duration::from_secs(10));
    assert!(error("a interrupt-timeout=x").contains("interrupt-timeout"));
}

#[test]
fn response_timeout_falls_back_to_socket_timeout_then_apaches() {
    let s = std::time::Duration::from_secs;
    assert_eq!(parse("a").response_timeout(), None);
    assert_eq!(parse("a socket-timeout=7").response_timeout(), Some(s(7)));
    assert_eq!(parse("a socket-timeout=7 response-socket-timeout=2").response_timeout(), Some(s(2)));
    assert_eq!(parse("a response-socket-timeout=2").response_timeout(), Some(s(2)));
    assert_eq!(parse("a response-socket-timeout=0").response_timeout(), None);
}

#[test]
fn response_flush_delay_is_whole_milliseconds() {
    // mod_wsgi 6.0.2 reads it with atoi as milliseconds and refuses < 0.
    assert_eq!(parse("a response-flush-delay=0").response_flush_delay, Duration::ZERO);
    assert_eq!(parse("a response-flush-delay=5").response_flush_delay, Duration::from_millis(5));
    assert_eq!(parse("a response-flush-delay=1500").response_flush_delay, Duration::from_millis(1500));
    assert_eq!(
        error("a response-flush-delay=-1"),
        "WSGIDaemonProcess: invalid value '-1' for option 'response-flush-delay': \
         must be a whole number of at least 0"
    );
    // atoi would take these as 0 and 5: a unit or a fraction is refused.
    assert!(error("a response-flush-delay=abc").contains("'response-flush-delay'"));
    assert!(error("a response-flush-delay=5ms").contains("must be a whole number"));
    assert!(error("a response-flush-delay=0.005").contains("must be a whole number"));
    assert!(error("a response-flush-delay=").contains("option 'response-flush-delay' needs a value"));
}

#[test]
fn server_metrics_is_on_off() {
    assert!(parse("a server-metrics=ON").server_metrics);
    assert!(!parse("a server-metrics=off").server_metrics);
    assert!(error("a server-metrics=1").contains("must be On or Off"));
}

#[test]
fn unknown_duplicate_and_malformed_options() {
    assert_eq!(error("a bogus=1"), "WSGIDaemonProcess: unknown option 'bogus': check its spelling");
    // Options of later mod_wsgi releases that 4.9 does not know.
    assert!(error("a telemetry-interval=5").contains("unknown option"));
    assert_eq!(error("a threads=2 threads=3"), "WSGIDaemonProcess: option 'threads' is given more than once: keep one");
    assert!(error("a threads").contains("found 'threads'"));
    assert!(error("a =3").contains("found '=3'"));
    assert!(error("a threads =3").contains("found 'threads'"));
}

#[test]
fn name_is_required_and_checked() {
    assert!(error("").contains("needs a daemon process group name"));
    assert!(error("''").contains("needs a daemon process group name"));
    assert!(error("threads=5").contains("must be the group name"));
    assert!(error("%{GLOBAL}").contains("cannot start with '%{'"));
    // mod_wsgi accepts these, and so do we.
    assert_eq!(parse("example.com/app").name, "example.com/app");
    assert_eq!(parse("bob:1").name, "bob:1");
}
