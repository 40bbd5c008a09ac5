//! A text stream whose lines go to the server's error log: `wsgi.errors`
//! (attributed to its request while that lasts), and `sys.stderr`.

use super::io::{LogLevel, SharedIo, log_process, with_io};
use pyo3::prelude::*;

#[pyclass(module = "mod_wsgi")]
pub struct ErrorLog {
    /// The request the lines belong to; `None` for the process's log.
    io: Option<SharedIo>,
    partial: String,
}

impl ErrorLog {
    pub fn for_request(io: SharedIo) -> Self {
        Self { io: Some(io), partial: String::new() }
    }

    pub fn for_process() -> Self {
        Self { io: None, partial: String::new() }
    }

    fn emit(&self, py: Python<'_>, lines: Vec<String>) {
        if lines.is_empty() {
            return;
        }
        let logged = self.io.as_ref().is_some_and(|io| {
            with_io(py, io, |io| {
                for line in &lines {
                    io.log(LogLevel::Error, line);
                }
                Ok(())
            })
            .is_ok()
        });
        if !logged {
            // No request (sys.stderr), or it is over: the server's log.
            py.detach(|| lines.iter().for_each(|l| log_process(LogLevel::Error, l)));
        }
    }
}

#[pymethods]
impl ErrorLog {
    fn write(&mut self, py: Python<'_>, text: &str) {
        self.partial.push_str(text);
        let mut lines = Vec::new();
        while let Some(i) = self.partial.find('\n') {
            lines.push(self.partial[..i].to_string());
            self.partial.drain(..=i);
        }
        self.emit(py, lines);
    }

    fn writelines(&mut self, py: Python<'_>, lines: Vec<String>) {
        for l in lines {
            self.write(py, &l);
        }
    }

    fn flush(&mut self, py: Python<'_>) {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.emit(py, vec![rest]);
        }
    }

    fn close(&mut self) {}

    #[getter]
    fn closed(&self) -> bool {
        false
    }

    fn isatty(&self) -> bool {
        false
    }

    fn __del__(&mut self, py: Python<'_>) {
        self.flush(py);
    }
}
