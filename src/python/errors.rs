//! `wsgi.errors`: a text stream whose lines go to the server's error log,
//! attributed to the request while it lasts.

use super::io::{LogLevel, SharedIo, with_io};
use pyo3::prelude::*;

#[pyclass(module = "mod_wsgi")]
pub struct ErrorLog {
    io: SharedIo,
    partial: String,
}

impl ErrorLog {
    pub fn new(io: SharedIo) -> Self {
        Self {
            io,
            partial: String::new(),
        }
    }

    fn emit(&self, py: Python<'_>, lines: Vec<String>) {
        if lines.is_empty() {
            return;
        }
        let logged = with_io(py, &self.io, |io| {
            for line in &lines {
                io.log(LogLevel::Error, line);
            }
            Ok(())
        });
        if logged.is_err() {
            // The request is over: the process's stderr is the error log.
            for line in &lines {
                eprintln!("{line}");
            }
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
