//! Whether the handler and the file a request maps to make it a WSGI
//! request mod_wsgi runs: its handler names, `Options ExecCGI`, and what
//! the file is.

/// The handler a `WSGIScriptAlias` sets.
pub const HANDLER: &std::ffi::CStr = c"wsgi-script";

/// The handler names mod_wsgi serves (`WSGIHandlerScript` adds others).
pub fn is_wsgi_handler(handler: &str) -> bool {
    handler.as_bytes() == HANDLER.to_bytes() || handler == "application/x-httpd-wsgi"
}

/// What decides whether the mapped file may run.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScriptFacts {
    /// A `WSGIHandlerScript` serves the request: the file need not exist,
    /// nor `ExecCGI` be on.
    pub handler_script: bool,
    /// A `WSGIScriptAlias` mapped the URL: `ExecCGI` need not be on.
    pub aliased: bool,
    /// `Options ExecCGI` is on for the file's directory.
    pub exec_cgi: bool,
    pub regular_file: bool,
    pub directory: bool,
}

/// Why the mapped file may not run; mod_wsgi's words, to which the file
/// name is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScriptRefusal {
    #[error("Options ExecCGI is off in this directory")]
    ExecCgiOff,
    #[error("Attempt to invoke directory as WSGI application")]
    Directory,
    #[error("Target WSGI script not found or unable to stat")]
    NotFound,
}

impl ScriptRefusal {
    pub fn status(&self) -> u16 {
        match self {
            Self::ExecCgiOff | Self::Directory => 403,
            Self::NotFound => 404,
        }
    }
}

/// mod_wsgi's checks of the mapped file, in its order.
pub fn check(f: ScriptFacts) -> Result<(), ScriptRefusal> {
    if !f.handler_script && !f.aliased && !f.exec_cgi {
        return Err(ScriptRefusal::ExecCgiOff);
    }
    if f.handler_script || f.regular_file {
        return Ok(());
    }
    Err(if f.directory { ScriptRefusal::Directory } else { ScriptRefusal::NotFound })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: ScriptFacts =
        ScriptFacts { handler_script: false, aliased: true, exec_cgi: false, regular_file: true, directory: false };

    #[test]
    fn handler_names() {
        assert!(is_wsgi_handler("wsgi-script"));
        assert!(is_wsgi_handler("application/x-httpd-wsgi"));
        assert!(!is_wsgi_handler("cgi-script"));
    }

    #[test]
    fn an_aliased_file_runs_without_exec_cgi() {
        assert_eq!(check(FILE), Ok(()));
    }

    #[test]
    fn an_added_handler_needs_exec_cgi() {
        let f = ScriptFacts { aliased: false, ..FILE };
        assert_eq!(check(f), Err(ScriptRefusal::ExecCgiOff));
        assert_eq!(ScriptRefusal::ExecCgiOff.status(), 403);
        assert_eq!(check(ScriptFacts { exec_cgi: true, ..f }), Ok(()));
    }

    #[test]
    fn a_directory_is_forbidden_and_a_missing_file_not_found() {
        let dir = ScriptFacts { regular_file: false, directory: true, ..FILE };
        assert_eq!(check(dir), Err(ScriptRefusal::Directory));
        assert_eq!(ScriptRefusal::Directory.status(), 403);
        let missing = ScriptFacts { regular_file: false, ..FILE };
        assert_eq!(check(missing), Err(ScriptRefusal::NotFound));
        assert_eq!(ScriptRefusal::NotFound.status(), 404);
    }

    #[test]
    fn exec_cgi_is_checked_before_the_file() {
        let f = ScriptFacts { aliased: false, regular_file: false, ..FILE };
        assert_eq!(check(f), Err(ScriptRefusal::ExecCgiOff));
    }

    #[test]
    fn a_handler_script_needs_neither_file_nor_exec_cgi() {
        let f = ScriptFacts { handler_script: true, aliased: false, regular_file: false, ..FILE };
        assert_eq!(check(f), Ok(()));
    }
}
