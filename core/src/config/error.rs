use thiserror::Error;

/// A directive that cannot be accepted. The text names the directive and
/// says what to fix; Apache prefixes it with the file and line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("{directive}: {message}")]
    Invalid { directive: String, message: String },
}

impl ConfigError {
    pub fn new(directive: &str, message: impl Into<String>) -> Self {
        Self::Invalid { directive: directive.to_string(), message: message.into() }
    }
}
