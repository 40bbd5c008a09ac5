//! Every server's record, main server first: what core's rules over the
//! whole configuration read (start-up notices, daemon groups and their
//! hosts, the scripts each process group preloads).

use crate::apache::server::Server;
use wsgi_core::config::ServerConfig;

/// Every server's record: the main server's first, then each vhost's.
pub fn server_configs<'a>(main: Server<'a>) -> Vec<&'a ServerConfig> {
    let mut out = Vec::new();
    let mut next = Some(main);
    while let Some(s) = next {
        out.push(&s.record().cfg);
        next = s.next();
    }
    out
}
