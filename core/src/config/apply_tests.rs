use super::{apply, directive_names};
use crate::config::*;

fn run(name: &str, args: &str, ctx: Context) -> Result<(ServerConfig, DirConfig), String> {
    let mut server = ServerConfig::default();
    let mut dir = DirConfig::default();
    apply(name, args, ctx, &mut server, &mut dir).map_err(|e| e.to_string())?;
    Ok((server, dir))
}

/// A context where the directive is allowed.
fn home(name: &str) -> Context {
    if matches!(name, "WSGIAccessScript" | "WSGIAuthUserScript" | "WSGIAuthGroupScript" | "WSGIGroupAuthoritative") {
        Context::Directory
    } else {
        Context::MainServer
    }
}

fn ok(name: &str, args: &str) -> (ServerConfig, DirConfig) {
    match run(name, args, home(name)) {
        Ok(r) => r,
        Err(e) => panic!("{name} {args}: {e}"),
    }
}

fn err(name: &str, args: &str) -> String {
    match run(name, args, home(name)) {
        Ok(r) => panic!("{name} {args} was accepted: {r:?}"),
        Err(e) => e,
    }
}

/// A valid argument line for each directive.
fn sample(name: &str) -> &'static str {
    match name {
        "WSGIScriptAlias" => "/a /srv/a.wsgi",
        "WSGIScriptAliasMatch" => "^/a /srv/a.wsgi",
        "WSGIDaemonProcess" => "d",
        "WSGIImportScript" => "/s process-group=%{GLOBAL} application-group=%{GLOBAL}",
        "WSGIAcceptMutex" => "default",
        "WSGIPythonWarnings" => "ignore",
        "WSGIPythonOptimize" => "1",
        "WSGIPythonHome" | "WSGIPythonPath" | "WSGIPythonEggs" | "WSGISocketPrefix" => "/x",
        "WSGIPythonHashSeed" => "random",
        "WSGIRestrictProcess" | "WSGIProcessGroup" | "WSGIApplicationGroup" => "g",
        "WSGICallableObject" => "app",
        "WSGIHandlerScript" => "h /h.wsgi",
        "WSGIDispatchScript" | "WSGIAccessScript" | "WSGIAuthUserScript" | "WSGIAuthGroupScript" => "/s.wsgi",
        "WSGIReloadMechanism" => "Module",
        "WSGIMapHEADToGET" => "Auto",
        "WSGITrustedProxyHeaders" => "X-Forwarded-For",
        "WSGITrustedProxies" => "10.0.0.1",
        "WSGINewRelicConfigFile" => "/etc/newrelic.ini",
        "WSGINewRelicEnvironment" => "production",
        "WSGISwitchInterval" => "0.002",
        _ => "On",
    }
}

#[test]
fn every_listed_directive_parses_a_sample() {
    for name in directive_names() {
        ok(name, sample(name));
    }
    assert_eq!(directive_names().count(), 47);
}

#[test]
fn unknown_directives_are_errors() {
    assert_eq!(
        run("WSGIBogus", "x", Context::MainServer).unwrap_err(),
        "WSGIBogus: unknown directive: check its spelling"
    );
    assert!(run("WSGIPythonExecutable", "/x", Context::MainServer).is_err());
}

#[test]
fn contexts_are_enforced() {
    let main_only = [
        "WSGISocketPrefix",
        "WSGISocketRotation",
        "WSGIAcceptMutex",
        "WSGIVerboseDebugging",
        "WSGIDontWriteBytecode",
        "WSGIPythonWarnings",
        "WSGIPythonOptimize",
        "WSGIPythonHome",
        "WSGIPythonPath",
        "WSGIPythonEggs",
        "WSGIPythonHashSeed",
        "WSGIDestroyInterpreter",
        "WSGIRestrictEmbedded",
        "WSGIRestrictStdin",
        "WSGIRestrictStdout",
        "WSGIRestrictSignal",
        "WSGICaseSensitivity",
        "WSGILazyInitialization",
        "WSGIServerMetrics",
    ];
    for name in main_only {
        let e = run(name, sample(name), Context::VirtualHost).unwrap_err();
        assert_eq!(
            e,
            format!(
                "{name}: cannot occur within <VirtualHost> section: it applies to the whole \
                 server, so set it once in the main configuration, outside any <VirtualHost>"
            )
        );
        assert!(run(name, sample(name), Context::Directory).is_err());
        assert!(run(name, sample(name), Context::HtAccess).is_err());
    }
    for name in ["WSGIScriptAlias", "WSGIScriptAliasMatch", "WSGIDaemonProcess", "WSGIImportScript"] {
        assert!(run(name, sample(name), Context::VirtualHost).is_ok(), "{name}");
        let e = run(name, sample(name), Context::Directory).unwrap_err();
        assert!(e.contains("cannot occur within <Directory>, <Location> or <Files>"), "{e}");
        assert!(run(name, sample(name), Context::HtAccess).is_err());
    }
    for name in
        ["WSGIRestrictProcess", "WSGIProcessGroup", "WSGIApplicationGroup", "WSGIHandlerScript", "WSGIDispatchScript"]
    {
        assert!(run(name, sample(name), Context::VirtualHost).is_ok(), "{name}");
        assert!(run(name, sample(name), Context::Directory).is_ok(), "{name}");
        let e = run(name, sample(name), Context::HtAccess).unwrap_err();
        assert!(e.contains("not allowed in .htaccess files"), "{e}");
    }
    for name in [
        "WSGIPassApacheRequest",
        "WSGICallableObject",
        "WSGIPassAuthorization",
        "WSGIScriptReloading",
        "WSGIReloadMechanism",
        "WSGIErrorOverride",
        "WSGIChunkedRequest",
        "WSGIMapHEADToGET",
        "WSGIIgnoreActivity",
        "WSGITrustedProxyHeaders",
        "WSGITrustedProxies",
        "WSGIEnableSendfile",
    ] {
        assert!(run(name, sample(name), Context::HtAccess).is_ok(), "{name}");
        assert!(run(name, sample(name), Context::VirtualHost).is_ok(), "{name}");
    }
    for name in ["WSGIAccessScript", "WSGIAuthUserScript", "WSGIAuthGroupScript", "WSGIGroupAuthoritative"] {
        assert!(run(name, sample(name), Context::HtAccess).is_ok(), "{name}");
        let e = run(name, sample(name), Context::MainServer).unwrap_err();
        assert!(e.contains("only allowed inside <Directory>"), "{e}");
        assert!(run(name, sample(name), Context::VirtualHost).is_err());
    }
}

#[test]
fn on_off_directives() {
    type Get = fn(&ServerConfig, &DirConfig) -> Option<bool>;
    let cases: &[(&str, Get)] = &[
        ("WSGISocketRotation", |s, _| s.socket_rotation),
        ("WSGIVerboseDebugging", |s, _| s.verbose_debugging),
        ("WSGIDontWriteBytecode", |s, _| s.dont_write_bytecode),
        ("WSGIDestroyInterpreter", |s, _| s.destroy_interpreter),
        ("WSGIRestrictEmbedded", |s, _| s.restrict_embedded),
        ("WSGIRestrictStdin", |s, _| s.restrict_stdin),
        ("WSGIRestrictStdout", |s, _| s.restrict_stdout),
        ("WSGIRestrictSignal", |s, _| s.restrict_signal),
        ("WSGICaseSensitivity", |s, _| s.case_sensitivity),
        ("WSGILazyInitialization", |s, _| s.lazy_initialization),
        ("WSGIServerMetrics", |s, _| s.server_metrics),
        ("WSGIPassApacheRequest", |_, d| d.pass_apache_request),
        ("WSGIPassAuthorization", |_, d| d.pass_authorization),
        ("WSGIScriptReloading", |_, d| d.script_reloading),
        ("WSGIErrorOverride", |_, d| d.error_override),
        ("WSGIChunkedRequest", |_, d| d.chunked_request),
        ("WSGIIgnoreActivity", |_, d| d.ignore_activity),
        ("WSGIEnableSendfile", |_, d| d.enable_sendfile),
        ("WSGIGroupAuthoritative", |_, d| d.group_authoritative),
    ];
    for (name, get) in cases {
        for (text, want) in [("On", true), ("off", false), ("ON", true), ("OFF", false)] {
            let (s, d) = ok(name, text);
            assert_eq!(get(&s, &d), Some(want), "{name} {text}");
        }
        assert_eq!(err(name, "yes"), format!("{name}: invalid value 'yes': must be On or Off"));
        assert_eq!(err(name, ""), format!("{name}: takes one argument, none given"));
        assert!(err(name, "On Off").contains("takes one argument, 2 given"));
        assert!(err(name, "''").contains("takes one argument"));
    }
}

#[test]
fn script_alias_lines_accumulate() {
    let mut server = ServerConfig::default();
    let mut dir = DirConfig::default();
    for (name, args) in
        [("WSGIScriptAlias", "/a /a.wsgi"), ("WSGIScriptAliasMatch", "^/b(.*) /b.wsgi process-group=%{GLOBAL}")]
    {
        apply(name, args, Context::MainServer, &mut server, &mut dir).unwrap();
    }
    assert_eq!(server.aliases.len(), 2);
    assert_eq!(server.aliases[0].pattern, AliasPattern::Prefix("/a".into()));
    assert_eq!(server.aliases[1].process_group, Some(ProcessGroup::Global));
    assert!(err("WSGIScriptAlias", "/a").contains("needs a URL path"));
    assert!(err("WSGIScriptAlias", "/a /b x=1").contains("unknown option 'x'"));
}

#[test]
fn daemon_process_lines() {
    let (s, _) = ok("WSGIDaemonProcess", "app processes=2 threads=4");
    assert_eq!(s.daemons.len(), 1);
    assert_eq!((s.daemons[0].processes, s.daemons[0].threads), (2, 4));
    assert_eq!(
        err("WSGIDaemonProcess", "app processes=abc"),
        "WSGIDaemonProcess: invalid value 'abc' for option 'processes': \
         must be a whole number of at least 1"
    );
    // A second group of the same name in one server.
    let mut server = ServerConfig::default();
    let mut dir = DirConfig::default();
    apply("WSGIDaemonProcess", "app", Context::MainServer, &mut server, &mut dir).unwrap();
    let e = apply("WSGIDaemonProcess", "app threads=1", Context::MainServer, &mut server, &mut dir).unwrap_err();
    assert!(e.to_string().contains("named 'app' is already defined"));
    assert_eq!(server.daemons.len(), 1);
}

#[test]
fn import_script_lines() {
    let (s, _) = ok("WSGIImportScript", "/s.wsgi process-group=d application-group=%{GLOBAL}");
    assert_eq!(s.import_scripts.len(), 1);
    assert_eq!(s.import_scripts[0].process_group, ProcessGroup::Named("d".into()));
    assert_eq!(
        err("WSGIImportScript", "/s.wsgi application-group=%{GLOBAL}"),
        "WSGIImportScript: missing option 'process-group': give \
         process-group=%{GLOBAL} or a group name"
    );
}

#[test]
fn single_value_server_directives() {
    let (s, _) = ok("WSGISocketPrefix", "run/wsgi");
    assert_eq!(s.socket_prefix.as_deref(), Some("run/wsgi"));
    let (s, _) = ok("WSGIPythonHome", "/usr/local");
    assert_eq!(s.python_home.as_deref(), Some("/usr/local"));
    assert!(err("WSGIPythonHome", "venv").contains("must be an absolute directory path"));
    let (s, _) = ok("WSGIPythonPath", "/a:/b");
    assert_eq!(s.python_path.as_deref(), Some("/a:/b"));
    assert!(err("WSGIPythonPath", ":").contains("invalid value ':'"));
    assert!(err("WSGIPythonPath", "/a /b").contains("takes one argument, 2 given"));
    let (s, _) = ok("WSGIPythonEggs", "/tmp/eggs");
    assert_eq!(s.python_eggs.as_deref(), Some("/tmp/eggs"));
    let (s, _) = ok("WSGIPythonOptimize", "2");
    assert_eq!(s.python_optimize, Some(2));
    assert_eq!(err("WSGIPythonOptimize", "3"), "WSGIPythonOptimize: invalid value '3': must be 0, 1 or 2");
    let (s, _) = ok("WSGIPythonHashSeed", "123");
    assert_eq!(s.python_hash_seed, Some(HashSeed::Fixed(123)));
    assert!(err("WSGIPythonHashSeed", "x").contains("must be \"random\""));
    let (s, _) = ok("WSGIAcceptMutex", "fcntl");
    assert_eq!(s.accept_mutex, Some(AcceptMutex::Fcntl));
    assert!(err("WSGIAcceptMutex", "spin").contains("must be one of default"));
}

#[test]
fn python_warnings_repeat() {
    let mut server = ServerConfig::default();
    let mut dir = DirConfig::default();
    for w in ["ignore::DeprecationWarning", "error"] {
        apply("WSGIPythonWarnings", w, Context::MainServer, &mut server, &mut dir).unwrap();
    }
    assert_eq!(server.python_warnings, vec!["ignore::DeprecationWarning", "error"]);
    assert!(err("WSGIPythonWarnings", "explode").contains("the action must be one of"));
}

#[test]
fn group_directives() {
    let (_, d) = ok("WSGIProcessGroup", "%{ENV:PG}");
    assert_eq!(d.process_group, Some(ProcessGroup::Env("PG".into())));
    let (_, d) = ok("WSGIApplicationGroup", "%{GLOBAL}");
    assert_eq!(d.application_group, Some(AppGroup::Global));
    let (_, d) = ok("WSGIApplicationGroup", "%{HOST}");
    assert_eq!(d.application_group, Some(AppGroup::Host));
    let (_, d) = ok("WSGICallableObject", "app");
    assert_eq!(d.callable_object, Some(CallableObject::Named("app".into())));
    assert_eq!(
        err("WSGIApplicationGroup", "%{ENV:}"),
        "WSGIApplicationGroup: invalid value '%{ENV:}': %{ENV:} needs a variable name, \
         as in %{ENV:NAME}"
    );
    assert!(err("WSGIProcessGroup", "%{ENV:}").contains("needs a variable name"));
    assert!(err("WSGICallableObject", "%{ENV:}").contains("needs a variable name"));
    assert!(err("WSGIProcessGroup", "%{RESOURCE}").contains("not allowed for this directive"));
    assert!(err("WSGIApplicationGroup", "%{GLOBALL}").contains("not a known expansion"));
    assert!(err("WSGIApplicationGroup", "a b").contains("takes one argument, 2 given"));
    assert!(err("WSGIProcessGroup", "").contains("takes one argument, none given"));
}

#[test]
fn restrict_process_lists() {
    let (_, d) = ok("WSGIRestrictProcess", "a b:1 %{GLOBAL}");
    assert_eq!(d.restrict_process, Some(vec!["a".into(), "b:1".into(), String::new()]));
    assert!(err("WSGIRestrictProcess", "").contains("needs a value"));
    assert!(err("WSGIRestrictProcess", "a ''").contains("needs a value"));
    assert!(err("WSGIRestrictProcess", "%{ENV:X}").contains("invalid value '%{ENV:X}'"));
}

#[test]
fn choice_directives() {
    let (_, d) = ok("WSGIReloadMechanism", "process");
    assert_eq!(d.reload_mechanism, Some(ReloadMechanism::Process));
    assert!(err("WSGIReloadMechanism", "Interpreter").contains("must be Module or Process"));
    for (text, want) in [("On", MapHeadToGet::On), ("off", MapHeadToGet::Off), ("AUTO", MapHeadToGet::Auto)] {
        assert_eq!(ok("WSGIMapHEADToGET", text).1.map_head_to_get, Some(want));
    }
    assert_eq!(
        err("WSGIMapHEADToGET", "maybe"),
        "WSGIMapHEADToGET: invalid value 'maybe': must be one of Off, On or Auto"
    );
}

#[test]
fn trusted_proxy_lists_add_up_within_a_section() {
    let mut server = ServerConfig::default();
    let mut dir = DirConfig::default();
    for (name, args) in [
        ("WSGITrustedProxyHeaders", "X-Forwarded-For"),
        ("WSGITrustedProxyHeaders", "X-Forwarded-Host X-Forwarded-Port"),
        ("WSGITrustedProxies", "10.0.0.0/8"),
        ("WSGITrustedProxies", "::1 192.168.1.1"),
    ] {
        apply(name, args, Context::Directory, &mut server, &mut dir).unwrap();
    }
    assert_eq!(
        dir.trusted_proxy_headers,
        Some(vec!["X-Forwarded-For".into(), "X-Forwarded-Host".into(), "X-Forwarded-Port".into()])
    );
    assert_eq!(dir.trusted_proxies.as_ref().map(Vec::len), Some(3));
    assert!(err("WSGITrustedProxies", "").contains("needs a value"));
    assert!(err("WSGITrustedProxies", "1.2.3.4/33").contains("invalid value '1.2.3.4/33'"));
    assert!(err("WSGITrustedProxyHeaders", "").contains("needs a value"));
    assert!(err("WSGITrustedProxyHeaders", "'Bad Header'").contains("must be a header name of letters"));
}

#[test]
fn script_directives() {
    let (_, d) = ok("WSGIHandlerScript", "my-handler /h.wsgi process-group=d pass-authorization=On");
    let h = &d.handler_scripts["my-handler"];
    assert_eq!(h.path, "/h.wsgi");
    assert_eq!(h.pass_authorization, Some(true));
    let (_, d) = ok("WSGIDispatchScript", "/d.wsgi application-group=%{SERVER}");
    assert_eq!(
        d.dispatch_script,
        Some(ScriptFile { path: "/d.wsgi".into(), application_group: Some(AppGroup::Server) })
    );
    let (_, d) = ok("WSGIAccessScript", "/a.wsgi");
    assert_eq!(d.access_script.map(|s| s.path), Some("/a.wsgi".into()));
    let (_, d) = ok("WSGIAuthUserScript", "/u.wsgi application-group=auth");
    assert_eq!(d.auth_user_script.and_then(|s| s.application_group), Some(AppGroup::Named("auth".into())));
    let (_, d) = ok("WSGIAuthGroupScript", "/g.wsgi");
    assert!(d.auth_group_script.is_some());
    assert!(err("WSGIAccessScript", "").contains("needs the script path"));
    assert!(err("WSGIAuthGroupScript", "/g process-group=x").contains("unknown option"));
}

#[test]
fn handler_scripts_replace_by_name_within_a_section() {
    let mut server = ServerConfig::default();
    let mut dir = DirConfig::default();
    for args in ["h /one.wsgi", "h /two.wsgi", "other /o.wsgi"] {
        apply("WSGIHandlerScript", args, Context::Directory, &mut server, &mut dir).unwrap();
    }
    assert_eq!(dir.handler_scripts.len(), 2);
    assert_eq!(dir.handler_scripts["h"].path, "/two.wsgi");
}

#[test]
fn a_htaccess_file_never_changes_the_server_record() {
    // Read while requests are served, when the server's record is shared.
    let mut server = ServerConfig::default();
    let mut dir = DirConfig::default();
    apply("WSGIAccessScript", "/srv/access.py", Context::HtAccess, &mut server, &mut dir).unwrap();
    assert!(dir.access_script.is_some());
    assert_eq!(server, ServerConfig::default());
    apply("WSGIAccessScript", "/srv/access.py", Context::Directory, &mut server, &mut dir).unwrap();
    assert!(server.auth_scripts, "a section's script needs Python in Apache children");
}
