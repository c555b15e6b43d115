//! One error type for the library and the CLI: every message is one clear sentence.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum Error {
    /// The user asked for something invalid (bad claim id, malformed input).
    Input(String),
    /// A number (size, precision, count) outside its stated range: `name = value`, `range` says
    /// which values are allowed. A kind of input error.
    OutOfRange {
        name: String,
        value: String,
        range: String,
    },
    /// A file could not be written or read: `cannot {action} {path}: {source}`, or a sentence
    /// alone when there is no path or no operating-system error.
    Io {
        action: String,
        path: Option<PathBuf>,
        source: Option<std::io::Error>,
    },
    /// A computation could not be carried out (e.g. a non-finite value where a finite one is required).
    Compute(String),
    /// A certified decision could not be made: the enclosures are too wide at the precision run.
    Undecided(String),
    /// A model file (docs/export.md) or a run option that the model reader refuses.
    Model(ModelError),
}

/// What an [`Error`] is, for policies that act on it (a claim turns a [`ErrorKind::Compute`] or
/// [`ErrorKind::Undecided`] error into a failed or undecided case; `verify` stops on the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Input,
    Io,
    Compute,
    Undecided,
    Model,
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
    pub fn undecided(msg: impl Into<String>) -> Self {
        Error::Undecided(msg.into())
    }
    /// A file error as one sentence (no path or operating-system error to keep apart).
    pub fn io(msg: impl Into<String>) -> Self {
        Error::Io {
            action: msg.into(),
            path: None,
            source: None,
        }
    }
    /// `cannot {action} {path}: {source}`, keeping the path and the operating-system error.
    pub fn io_at(action: &str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action: action.to_string(),
            path: Some(path.to_path_buf()),
            source: Some(source),
        }
    }
    /// `name = value` is outside `range` (e.g. "at least 2", "2..=65536").
    pub fn out_of_range(name: &str, value: impl fmt::Display, range: &str) -> Self {
        Error::OutOfRange {
            name: name.to_string(),
            value: value.to_string(),
            range: range.to_string(),
        }
    }
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Input(_) | Error::OutOfRange { .. } => ErrorKind::Input,
            Error::Io { .. } => ErrorKind::Io,
            Error::Compute(_) => ErrorKind::Compute,
            Error::Undecided(_) => ErrorKind::Undecided,
            Error::Model(_) => ErrorKind::Model,
        }
    }
    /// Whether a claim's run reports this error as a case of the claim (a computation that
    /// cannot be carried out, or a decision the enclosures cannot make) instead of stopping:
    /// the verdict policy of [`crate::claims::run_timed`] and the certificates.
    pub fn is_case_outcome(&self) -> bool {
        matches!(self.kind(), ErrorKind::Compute | ErrorKind::Undecided)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(m) | Error::Compute(m) | Error::Undecided(m) => write!(f, "{m}"),
            Error::OutOfRange { name, value, range } => {
                write!(f, "{name} = {value} is out of range ({range})")
            }
            Error::Io {
                action,
                path: Some(p),
                source: Some(e),
            } => write!(f, "cannot {action} {}: {e}", p.display()),
            Error::Io {
                action,
                path: Some(p),
                source: None,
            } => write!(f, "cannot {action} {}", p.display()),
            Error::Io { action, .. } => write!(f, "{action}"),
            Error::Model(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io {
                source: Some(e), ..
            } => Some(e),
            _ => None,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_sentences() {
        let e = Error::out_of_range("the sequence length T", 1, "at least 2");
        assert_eq!(e.kind(), ErrorKind::Input);
        assert_eq!(
            e.to_string(),
            "the sequence length T = 1 is out of range (at least 2)"
        );
        let src = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::io_at("read", Path::new("/x/m.json"), src);
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(e.to_string(), "cannot read /x/m.json: no such file");
        assert!(std::error::Error::source(&e).is_some());
        assert!(Error::compute("x").is_case_outcome());
        assert!(Error::undecided("x").is_case_outcome());
        assert!(!Error::input("x").is_case_outcome());
        assert!(!Error::io("x").is_case_outcome());
        assert!(!Error::from(ModelError::Malformed("x".into())).is_case_outcome());
    }
}
