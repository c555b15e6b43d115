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
    /// A model file (docs/export.md) or a run option that the model reader refuses.
    Model(ModelError),
}

/// Why the model reader refuses a file or a run option: structured, so tests and callers can
/// match on the kind and the offending field rather than on the sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// A field is missing, has the wrong type, or disagrees with another field.
    Malformed(String),
    /// A number (dimension, count, length) outside its stated range.
    OutOfRange {
        name: String,
        value: String,
        range: String,
    },
    /// A product of dimensions that overflows (or exceeds) the stated total-size limit.
    TooLarge {
        name: String,
        what: String,
        limit: String,
    },
    /// A weight that is not finite once rounded to the arithmetic the model runs in.
    NotFinite {
        name: String,
        value: String,
        arithmetic: String,
    },
    /// A name that is none of the known ones (arithmetic kind, layer kind, ...).
    Unknown {
        name: String,
        value: String,
        known: String,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Malformed(m) => write!(f, "not a valid model export: {m}"),
            ModelError::OutOfRange { name, value, range } => {
                write!(f, "{name} = {value} is out of range: {range}")
            }
            ModelError::TooLarge { name, what, limit } => {
                write!(f, "{name} is too large: {what}, above the limit of {limit}")
            }
            ModelError::NotFinite {
                name,
                value,
                arithmetic,
            } => write!(
                f,
                "{name} = `{value}` is not finite in {arithmetic} (checked after rounding to it)"
            ),
            ModelError::Unknown { name, value, known } => {
                write!(f, "{name} = `{value}` is not known (known: {known})")
            }
        }
    }
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
            Error::Model(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ModelError> for Error {
    fn from(e: ModelError) -> Self {
        Error::Model(e)
    }
}

impl Error {
    /// The model reader's reason, when this is a refused model file or run option.
    pub fn model(&self) -> Option<&ModelError> {
        match self {
            Error::Model(e) => Some(e),
            _ => None,
        }
    }
}

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
