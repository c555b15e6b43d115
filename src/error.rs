//! One error type for the library and the CLI: every message is one clear sentence.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// The user asked for something invalid (bad claim id, bad precision, malformed input).
    Input(String),
    /// A file could not be written or read.
    Io(String),
    /// A computation could not be carried out (e.g. a non-finite value where a finite one is required).
    Compute(String),
}

impl Error {
    pub fn input(msg: impl Into<String>) -> Self {
        Error::Input(msg.into())
    }
    pub fn compute(msg: impl Into<String>) -> Self {
        Error::Compute(msg.into())
    }
    pub fn io(msg: impl Into<String>) -> Self {
        Error::Io(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(m) | Error::Io(m) | Error::Compute(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Reject NaN and infinities in user-supplied parameters.
pub fn require_finite(name: &str, x: f64) -> Result<f64> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(Error::input(format!(
            "{name} must be a finite number (got {x})"
        )))
    }
}
