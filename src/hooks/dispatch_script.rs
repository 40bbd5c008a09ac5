//! `WSGIDispatchScript`: a script run in the Apache child before a WSGI
//! request is dispatched, whose `process_group(environ)`,
//! `application_group(environ)` and `callable_object(environ)` (each
//! optional; `None` keeps the configured choice) choose where it runs.

use super::auth::run;
use super::translate::notes;
use crate::apache::request::Request;
use crate::ffi;
use crate::python::auth::{Answer, Question};

/// Applies the dispatch script's choices as the request's notes (as a
/// WSGIScriptAlias's options are); `Err(500)` when the script failed (logged).
pub fn apply(req: Request<'_>) -> Result<(), i32> {
    let dir = req.dir_config();
    let Some(file) = &dir.dispatch_script else { return Ok(()) };
    for (function, note) in [
        ("process_group", notes::PROCESS_GROUP),
        ("application_group", notes::APPLICATION_GROUP),
        ("callable_object", notes::CALLABLE_OBJECT),
    ] {
        match run(req, dir, file, Question::Dispatch(function)) {
            Some(Answer::Name(Some(choice))) => req.notes().set(note, &choice),
            Some(Answer::Name(None)) => {}
            _ => return Err(ffi::HTTP_INTERNAL_SERVER_ERROR as i32),
        }
    }
    Ok(())
}
