//! `translate_name`: maps URLs under a `WSGIScriptAlias` to the script and
//! marks the request for the `wsgi-script` handler, as mod_wsgi does.

use crate::apache::request::Request;
use crate::ffi;
use wsgi_core::alias::alias_matches;
use wsgi_core::config::AliasPattern;

/// The handler name a WSGIScriptAlias forces.
pub const HANDLER: &std::ffi::CStr = wsgi_core::script_file::HANDLER;

/// Notes that carry per-alias options from here to the handler.
pub mod notes {
    pub const FORCED_TYPE: &str = "alias-forced-type";
    pub const PROCESS_GROUP: &str = "mod_wsgi.process_group";
    pub const APPLICATION_GROUP: &str = "mod_wsgi.application_group";
    pub const CALLABLE_OBJECT: &str = "mod_wsgi.callable_object";
    pub const PASS_AUTHORIZATION: &str = "mod_wsgi.pass_authorization";
    /// `WSGIHandlerScript`: the script serving the request's handler.
    pub const HANDLER_SCRIPT: &str = "mod_wsgi.handler_script";

    use crate::apache::request::Request;
    use wsgi_core::config::{AppGroup, ProcessGroup};

    /// The options a WSGIScriptAlias or WSGIHandlerScript line gave, for
    /// the handler (they win over the directives).
    pub fn set_options(
        req: Request<'_>,
        process_group: Option<&ProcessGroup>,
        application_group: Option<&AppGroup>,
        callable_object: Option<&str>,
        pass_authorization: Option<bool>,
    ) {
        let notes = req.notes();
        if let Some(g) = process_group {
            notes.set(PROCESS_GROUP, &g.to_string());
        }
        if let Some(g) = application_group {
            notes.set(APPLICATION_GROUP, &g.to_string());
        }
        if let Some(c) = callable_object {
            notes.set(CALLABLE_OBJECT, c);
        }
        if let Some(p) = pass_authorization {
            notes.set(PASS_AUTHORIZATION, if p { "1" } else { "0" });
        }
    }
}

pub extern "C" fn translate_name(r: *mut ffi::request_rec) -> i32 {
    super::guard("translate_name", ffi::DECLINED, || {
        // SAFETY: Apache passes the live request, for this call.
        let req = unsafe { Request::from_raw(r) };
        translate(req)
    })
}

fn translate(req: Request<'_>) -> i32 {
    let record = req.server().record();
    if record.cfg.aliases.is_empty() {
        return ffi::DECLINED;
    }
    let uri = req.uri();
    if !uri.is_empty() && !uri.starts_with('/') {
        return ffi::DECLINED;
    }
    for (alias, regex) in record.cfg.aliases.iter().zip(&record.alias_regex) {
        let hit = match (&alias.pattern, regex) {
            (AliasPattern::Prefix(prefix), _) => {
                alias_matches(&uri, prefix).map(|len| (prefix.as_str() == "/", len, alias.target.clone()))
            }
            (AliasPattern::Regex(_), Some(re)) => {
                re.substitute(req.pool(), &uri, &alias.target).map(|(len, target)| (false, len, target))
            }
            (AliasPattern::Regex(_), None) => None,
        };
        let Some((at_root, len, target)) = hit else {
            continue;
        };
        let rest = if at_root { uri.as_str() } else { uri.get(len..).unwrap_or("") };
        req.set_filename(&[target.as_str(), rest].concat());
        req.set_handler(HANDLER);
        req.notes().set(notes::FORCED_TYPE, "wsgi-script");
        let callable = alias.callable_object.as_ref().map(ToString::to_string);
        notes::set_options(
            req,
            alias.process_group.as_ref(),
            alias.application_group.as_ref(),
            callable.as_deref(),
            alias.pass_authorization,
        );
        return ffi::OK as i32;
    }
    ffi::DECLINED
}
