//! `WSGIDaemonProcess name [option=value ...]`.

/// One daemon process group as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonProcess {
    pub name: String,
    /// The raw `option=value` pairs, in order, after validation.
    pub options: Vec<(String, String)>,
}
