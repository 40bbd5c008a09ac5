//! `ServerConfig::merge` and `DirConfig::merge` for every field.

use super::*;

fn server(lines: &[(&str, &str)], ctx: Context) -> ServerConfig {
    let mut s = ServerConfig::default();
    let mut d = DirConfig::default();
    for (name, args) in lines {
        apply(name, args, ctx, &mut s, &mut d).unwrap();
    }
    s
}

fn dir(lines: &[(&str, &str)]) -> DirConfig {
    let mut s = ServerConfig::default();
    let mut d = DirConfig::default();
    for (name, args) in lines {
        apply(name, args, Context::Directory, &mut s, &mut d).unwrap();
    }
    d
}

/// Every per-server directive, set at main-server level.
const MAIN: &[(&str, &str)] = &[
    ("WSGIScriptAlias", "/main /main.wsgi"),
    ("WSGIDaemonProcess", "main"),
    ("WSGIImportScript", "/m.wsgi process-group=%{GLOBAL} application-group=%{GLOBAL}"),
    ("WSGISocketPrefix", "run/wsgi"),
    ("WSGISocketRotation", "Off"),
    ("WSGIAcceptMutex", "flock"),
    ("WSGIVerboseDebugging", "On"),
    ("WSGIDontWriteBytecode", "On"),
    ("WSGIPythonWarnings", "ignore"),
    ("WSGIPythonOptimize", "1"),
    ("WSGIPythonHome", "/py"),
    ("WSGIPythonPath", "/lib"),
    ("WSGIPythonEggs", "/eggs"),
    ("WSGIPythonHashSeed", "7"),
    ("WSGIDestroyInterpreter", "Off"),
    ("WSGIRestrictEmbedded", "On"),
    ("WSGIRestrictStdin", "Off"),
    ("WSGIRestrictStdout", "Off"),
    ("WSGIRestrictSignal", "Off"),
    ("WSGICaseSensitivity", "Off"),
    ("WSGILazyInitialization", "Off"),
    ("WSGIServerMetrics", "On"),
];

#[test]
fn vhost_inherits_every_main_server_setting() {
    let base = server(MAIN, Context::MainServer);
    let merged = ServerConfig::merge(&base, &ServerConfig::default());
    assert_eq!(merged, base);
}

#[test]
fn vhost_lists_come_first_then_the_main_servers() {
    let base = server(MAIN, Context::MainServer);
    let vhost = server(
        &[
            ("WSGIScriptAlias", "/v /v.wsgi"),
            ("WSGIDaemonProcess", "v"),
            ("WSGIImportScript", "/v.wsgi process-group=v application-group=%{GLOBAL}"),
        ],
        Context::VirtualHost,
    );
    let m = ServerConfig::merge(&base, &vhost);
    assert_eq!(m.aliases.len(), 2);
    assert_eq!(m.aliases[0].target, "/v.wsgi");
    assert_eq!(m.daemons.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), vec!["v", "main"]);
    assert_eq!(m.import_scripts[0].path, "/v.wsgi");
    assert_eq!(m.import_scripts[1].path, "/m.wsgi");
    // Settings only the main server can make are still the main server's.
    assert_eq!(m.python_home.as_deref(), Some("/py"));
    assert_eq!(m.accept_mutex, Some(AcceptMutex::Flock));
    assert_eq!(m.server_metrics, Some(true));
    assert_eq!(m.socket_rotation, Some(false));
}

#[test]
fn server_scalars_set_on_both_sides_take_the_vhosts() {
    // The glue only fills main-server-only fields in the main record, but
    // merge itself must still prefer the more specific record.
    let base = server(MAIN, Context::MainServer);
    let add = ServerConfig {
        python_warnings: vec!["error".into()],
        python_optimize: Some(2),
        accept_mutex: Some(AcceptMutex::Pthread),
        server_metrics: Some(false),
        socket_rotation: Some(true),
        ..ServerConfig::default()
    };
    let m = ServerConfig::merge(&base, &add);
    assert_eq!(m.python_optimize, Some(2));
    assert_eq!(m.accept_mutex, Some(AcceptMutex::Pthread));
    assert_eq!(m.server_metrics, Some(false));
    assert_eq!(m.socket_rotation, Some(true));
    assert_eq!(m.python_warnings, vec!["ignore", "error"]);
}

/// Every per-directory directive.
const SECTION: &[(&str, &str)] = &[
    ("WSGIRestrictProcess", "a b"),
    ("WSGIProcessGroup", "a"),
    ("WSGIApplicationGroup", "%{GLOBAL}"),
    ("WSGIHandlerScript", "h /h.wsgi"),
    ("WSGIDispatchScript", "/d.wsgi"),
    ("WSGIPassApacheRequest", "On"),
    ("WSGICallableObject", "app"),
    ("WSGIPassAuthorization", "On"),
    ("WSGIScriptReloading", "Off"),
    ("WSGIReloadMechanism", "Process"),
    ("WSGIErrorOverride", "On"),
    ("WSGIChunkedRequest", "On"),
    ("WSGIMapHEADToGET", "Off"),
    ("WSGIIgnoreActivity", "On"),
    ("WSGITrustedProxyHeaders", "X-Forwarded-For"),
    ("WSGITrustedProxies", "10.0.0.1"),
    ("WSGIEnableSendfile", "On"),
    ("WSGIAccessScript", "/a.wsgi"),
    ("WSGIAuthUserScript", "/u.wsgi"),
    ("WSGIAuthGroupScript", "/g.wsgi"),
    ("WSGIGroupAuthoritative", "Off"),
];

#[test]
fn sections_inherit_every_setting() {
    let base = dir(SECTION);
    assert_eq!(DirConfig::merge(&base, &DirConfig::default()), base);
    assert_eq!(DirConfig::merge(&DirConfig::default(), &base), base);
}

#[test]
fn the_more_specific_section_wins_for_every_setting() {
    let base = dir(SECTION);
    let add = dir(&[
        ("WSGIRestrictProcess", "c"),
        ("WSGIProcessGroup", "c"),
        ("WSGIApplicationGroup", "app2"),
        ("WSGIHandlerScript", "h /h2.wsgi"),
        ("WSGIDispatchScript", "/d2.wsgi"),
        ("WSGIPassApacheRequest", "Off"),
        ("WSGICallableObject", "app2"),
        ("WSGIPassAuthorization", "Off"),
        ("WSGIScriptReloading", "On"),
        ("WSGIReloadMechanism", "Module"),
        ("WSGIErrorOverride", "Off"),
        ("WSGIChunkedRequest", "Off"),
        ("WSGIMapHEADToGET", "On"),
        ("WSGIIgnoreActivity", "Off"),
        ("WSGITrustedProxyHeaders", "X-Real-IP"),
        ("WSGITrustedProxies", "10.0.0.2"),
        ("WSGIEnableSendfile", "Off"),
        ("WSGIAccessScript", "/a2.wsgi"),
        ("WSGIAuthUserScript", "/u2.wsgi"),
        ("WSGIAuthGroupScript", "/g2.wsgi"),
        ("WSGIGroupAuthoritative", "On"),
    ]);
    // Every field differs, so the merge must equal the specific record.
    assert_eq!(DirConfig::merge(&base, &add), add);
}

#[test]
fn handler_scripts_overlay_by_name() {
    let base = dir(&[("WSGIHandlerScript", "a /a.wsgi"), ("WSGIHandlerScript", "b /b.wsgi")]);
    let add = dir(&[("WSGIHandlerScript", "b /b2.wsgi")]);
    let m = DirConfig::merge(&base, &add);
    assert_eq!(m.handler_scripts["a"].path, "/a.wsgi");
    assert_eq!(m.handler_scripts["b"].path, "/b2.wsgi");
}

#[test]
fn lists_replace_rather_than_add_across_sections() {
    let base = dir(&[("WSGITrustedProxies", "10.0.0.1 10.0.0.2")]);
    let add = dir(&[("WSGITrustedProxies", "10.0.0.3")]);
    assert_eq!(DirConfig::merge(&base, &add).trusted_proxies.map(|l| l.len()), Some(1));
}
