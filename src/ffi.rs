//! The httpd/APR bindings of the `mod_wsgi-sys` crate (`sys/`), under the
//! name the module's code uses. Only `src/apache/` and the hook entry
//! points use them directly.

pub use mod_wsgi_sys::*;
