use super::{HandlerScript, ScriptFile, handler_script, import_script, script_alias, script_file};
use crate::config::{AliasPattern, AppGroup, CallableObject, ImportScript, ProcessGroup};

fn alias_err(args: &str) -> String {
    match script_alias("WSGIScriptAlias", args, false) {
        Ok(a) => panic!("{args} was accepted: {a:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn alias_with_every_option() {
    let a = script_alias(
        "WSGIScriptAlias",
        "/app /srv/app.wsgi process-group=d application-group=%{GLOBAL} \
         callable-object=%{ENV:CALL} pass-authorization=on",
        false,
    )
    .unwrap();
    assert_eq!(a.pattern, AliasPattern::Prefix("/app".into()));
    assert_eq!(a.target, "/srv/app.wsgi");
    assert_eq!(a.process_group, Some(ProcessGroup::Named("d".into())));
    assert_eq!(a.application_group, Some(AppGroup::Global));
    assert_eq!(a.callable_object, Some(CallableObject::Env("CALL".into())));
    assert_eq!(a.pass_authorization, Some(true));
}

#[test]
fn alias_match_keeps_the_regex_and_relative_targets() {
    let a = script_alias("WSGIScriptAliasMatch", "^/(\\w+) scripts/$1.wsgi", true).unwrap();
    assert_eq!(a.pattern, AliasPattern::Regex("^/(\\w+)".into()));
    // mod_wsgi 4.9 accepts a relative target and does not resolve it.
    assert_eq!(a.target, "scripts/$1.wsgi");
}

#[test]
fn alias_needs_two_arguments() {
    assert_eq!(alias_err("/app"), "WSGIScriptAlias: needs a URL path and a script file or directory path");
    assert!(alias_err("").contains("needs a URL path"));
    assert!(alias_err("'' /x").contains("needs a URL path"));
    assert!(alias_err("/a ''").contains("needs a URL path"));
    let e = script_alias("WSGIScriptAliasMatch", "^/x", true).unwrap_err();
    assert!(e.to_string().contains("needs a regular expression"));
}

#[test]
fn alias_option_errors() {
    assert_eq!(
        alias_err("/a /b foo=1"),
        "WSGIScriptAlias: unknown option 'foo': the options are process-group, \
         application-group, callable-object, pass-authorization"
    );
    assert!(alias_err("/a /b /c").contains("expected an option written as name=value"));
    assert!(alias_err("/a /b process-group").contains("found 'process-group'"));
    assert_eq!(
        alias_err("/a /b process-group="),
        "WSGIScriptAlias: option 'process-group' needs a value: use %{GLOBAL}, \
         %{ENV:variable} or a daemon process group name"
    );
    assert!(alias_err("/a /b application-group=").contains("needs a value"));
    assert!(alias_err("/a /b callable-object=").contains("needs a value"));
    assert_eq!(
        alias_err("/a /b pass-authorization=yes"),
        "WSGIScriptAlias: invalid value 'yes' for option 'pass-authorization': must be On or Off"
    );
    assert!(alias_err("/a /b application-group=%{ENV:}").contains("%{ENV:} needs a variable name"));
    assert!(alias_err("/a /b process-group=%{SERVER}").contains("not allowed"));
    assert!(alias_err("/a /b callable-object=%{GLOBAL}").contains("not a known expansion"));
    assert!(
        alias_err("/a /b callable-object=a callable-object=b")
            .contains("option 'callable-object' is given more than once")
    );
}

#[test]
fn alias_preload_follows_mod_wsgi() {
    let preload = |args: &str, regex: bool| script_alias("D", args, regex).unwrap().preload();
    assert_eq!(
        preload("/a /s.wsgi process-group=d application-group=%{GLOBAL}", false),
        Some(ImportScript {
            path: "/s.wsgi".into(),
            process_group: ProcessGroup::Named("d".into()),
            application_group: AppGroup::Global,
        })
    );
    assert!(preload("/a /s.wsgi process-group=d", false).is_none());
    assert!(preload("/a /s.wsgi application-group=g", false).is_none());
    assert!(preload("/a /s process-group=%{ENV:X} application-group=g", false).is_none());
    assert!(preload("/a /s process-group=d application-group=%{SERVER}", false).is_none());
    assert!(preload("^/(a) /s/$1 process-group=d application-group=g", true).is_none());
    assert!(preload("^/a /s process-group=d application-group=g", true).is_some());
}

#[test]
fn import_script_needs_both_groups() {
    let s = import_script("/s.wsgi process-group=%{GLOBAL} application-group=app").unwrap();
    assert_eq!(
        s,
        ImportScript {
            path: "/s.wsgi".into(),
            process_group: ProcessGroup::Global,
            application_group: AppGroup::Named("app".into()),
        }
    );
    let err = |a: &str| import_script(a).unwrap_err().to_string();
    assert_eq!(
        err("/s.wsgi application-group=%{GLOBAL}"),
        "WSGIImportScript: missing option 'process-group': give process-group=%{GLOBAL} \
         or a group name"
    );
    assert!(err("/s.wsgi process-group=d").contains("missing option 'application-group'"));
    assert!(err("/s.wsgi").contains("missing option 'process-group'"));
    assert!(err("").contains("needs the script path"));
    assert!(
        err("/s callable-object=x process-group=d application-group=g").contains("unknown option 'callable-object'")
    );
    assert!(err("/s process-group= application-group=g").contains("option 'process-group' needs a value"));
    assert!(
        err("/s process-group=%{ENV:X} application-group=g")
            .contains("invalid value '%{ENV:X}' for option 'process-group'")
    );
    assert!(
        err("/s process-group=d application-group=%{RESOURCE}")
            .contains("invalid value '%{RESOURCE}' for option 'application-group'")
    );
    assert!(err("/s process-group=d application-group=a application-group=b").contains("given more than once"));
}

#[test]
fn handler_scripts() {
    let (name, s) =
        handler_script("my-handler /h.wsgi process-group=d application-group=%{RESOURCE} pass-authorization=Off")
            .unwrap();
    assert_eq!(name, "my-handler");
    assert_eq!(
        s,
        HandlerScript {
            path: "/h.wsgi".into(),
            process_group: Some(ProcessGroup::Named("d".into())),
            application_group: Some(AppGroup::Resource),
            pass_authorization: Some(false),
        }
    );
    let err = |a: &str| handler_script(a).unwrap_err().to_string();
    assert!(err("").contains("needs a handler name and a script path"));
    assert!(err("h").contains("needs a handler name and a script path"));
    assert!(err("h /x callable-object=c").contains("unknown option 'callable-object'"));
    assert!(err("h /x pass-authorization=maybe").contains("must be On or Off"));
}

#[test]
fn dispatch_and_auth_scripts() {
    assert_eq!(
        script_file("WSGIAccessScript", "/a.wsgi").unwrap(),
        ScriptFile { path: "/a.wsgi".into(), application_group: None }
    );
    assert_eq!(
        script_file("WSGIAuthUserScript", "/a.wsgi application-group=%{SERVER}").unwrap().application_group,
        Some(AppGroup::Server)
    );
    let err = |a: &str| script_file("WSGIDispatchScript", a).unwrap_err().to_string();
    assert_eq!(err(""), "WSGIDispatchScript: needs the script path, as in: WSGIDispatchScript /path/script.wsgi");
    assert_eq!(
        err("/d process-group=x"),
        "WSGIDispatchScript: unknown option 'process-group': the options are application-group"
    );
    assert!(err("/d application-group=").contains("needs a value"));
    assert!(err("/d application-group=%{RESOURCE}").contains("not allowed for this directive"));
    assert!(err("/d application-group=%{ENV:X}").contains("not allowed for this directive"));
}
