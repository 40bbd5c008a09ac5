//! Where each directive may appear. Apache's command table already limits
//! most of this; these checks add mod_wsgi's own `GLOBAL_ONLY` rule and keep
//! the rules true even if the table and this crate drift apart.

use super::{ConfigError, Context};

/// The set of places a directive is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The main server only: one setting for the whole Apache instance.
    MainServer,
    /// The main server or a `<VirtualHost>`, outside sections (RSRC_CONF).
    Server,
    /// Also inside `<Directory>`/`<Location>`/`<Files>` (ACCESS_CONF|RSRC_CONF).
    ServerOrSection,
    /// Anywhere, `.htaccess` included (OR_FILEINFO).
    Anywhere,
    /// Sections and `.htaccess` only (OR_AUTHCFG).
    SectionOrHtAccess,
}

pub(crate) fn check(directive: &str, scope: Scope, ctx: Context) -> Result<(), ConfigError> {
    use Context as C;
    use Scope as S;
    let message = match (scope, ctx) {
        (S::MainServer, C::MainServer)
        | (S::Server | S::ServerOrSection | S::Anywhere, C::MainServer | C::VirtualHost)
        | (S::ServerOrSection | S::Anywhere | S::SectionOrHtAccess, C::Directory)
        | (S::Anywhere | S::SectionOrHtAccess, C::HtAccess) => return Ok(()),
        (S::MainServer, C::VirtualHost) => {
            "cannot occur within <VirtualHost> section: it applies to the whole server, \
             so set it once in the main configuration, outside any <VirtualHost>"
        }
        (S::MainServer, C::Directory) => {
            "cannot occur within <Directory>, <Location> or <Files> section: set it once \
             in the main configuration, outside any section"
        }
        (S::Server, C::Directory) => {
            "cannot occur within <Directory>, <Location> or <Files> section: set it in the \
             main configuration or in a <VirtualHost>"
        }
        (S::MainServer, C::HtAccess) => "not allowed in .htaccess files: set it once in the main server configuration",
        (S::Server | S::ServerOrSection, C::HtAccess) => {
            "not allowed in .htaccess files: set it in the server configuration"
        }
        (S::SectionOrHtAccess, C::MainServer | C::VirtualHost) => {
            "only allowed inside <Directory>, <Location> or <Files> sections or in \
             .htaccess files"
        }
    };
    Err(ConfigError::new(directive, message))
}

#[cfg(test)]
mod tests {
    use super::{Scope, check};
    use crate::config::Context;

    const ALL: [Context; 4] = [Context::MainServer, Context::VirtualHost, Context::Directory, Context::HtAccess];

    fn allowed(scope: Scope) -> Vec<Context> {
        ALL.into_iter().filter(|c| check("D", scope, *c).is_ok()).collect()
    }

    #[test]
    fn scopes_allow_exactly_their_contexts() {
        use Context::*;
        assert_eq!(allowed(Scope::MainServer), vec![MainServer]);
        assert_eq!(allowed(Scope::Server), vec![MainServer, VirtualHost]);
        assert_eq!(allowed(Scope::ServerOrSection), vec![MainServer, VirtualHost, Directory]);
        assert_eq!(allowed(Scope::Anywhere), ALL.to_vec());
        assert_eq!(allowed(Scope::SectionOrHtAccess), vec![Directory, HtAccess]);
    }

    #[test]
    fn messages_name_the_section() {
        let e = check("WSGIPythonHome", Scope::MainServer, Context::VirtualHost).unwrap_err();
        assert!(e.to_string().starts_with("WSGIPythonHome: cannot occur within <VirtualHost> section"), "{e}");
        let e = check("WSGIScriptAlias", Scope::Server, Context::Directory).unwrap_err();
        assert!(e.to_string().contains("<Directory>, <Location> or <Files>"));
        let e = check("WSGIProcessGroup", Scope::ServerOrSection, Context::HtAccess).unwrap_err();
        assert!(e.to_string().contains("not allowed in .htaccess files"));
    }
}
