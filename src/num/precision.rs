//! Precision choices and their validation.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest precision the CLI accepts. MPFR itself allows far more (see [`rug::float::prec_max`]),
/// but beyond this the sweeps would take hours; asking for more is an error, never a silent clamp.
pub const MAX_PRACTICAL_BITS: u32 = 1 << 16;

/// A validated MPFR precision in bits (2 ..= [`MAX_PRACTICAL_BITS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Precision(u32);

impl Precision {
    pub fn new(bits: u64) -> Result<Self> {
        let mpfr_max = rug::float::prec_max() as u64;
        if bits < 2 {
            return Err(Error::input(format!(
                "precision must be at least 2 bits (got {bits})"
            )));
        }
        if bits > mpfr_max {
            return Err(Error::input(format!(
                "precision {bits} bits is beyond MPFR's limit of {mpfr_max} bits"
            )));
        }
        if bits > MAX_PRACTICAL_BITS as u64 {
            return Err(Error::input(format!(
                "precision {bits} bits is beyond the supported maximum of {MAX_PRACTICAL_BITS} bits"
            )));
        }
        Ok(Precision(bits as u32))
    }
    pub fn bits(self) -> u32 {
        self.0
    }
}

/// Which arithmetic a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arith {
    /// IEEE double.
    F64,
    /// MPFR at the given precision, round to nearest.
    Mpfr(Precision),
}

impl Arith {
    pub fn bits(self) -> u32 {
        match self {
            Arith::F64 => 53,
            Arith::Mpfr(p) => p.bits(),
        }
    }
    pub fn mpfr(bits: u32) -> Self {
        Arith::Mpfr(Precision::new(bits as u64).expect("valid precision"))
    }
}

impl fmt::Display for Arith {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arith::F64 => write!(f, "f64"),
            Arith::Mpfr(p) => write!(f, "{} bits", p.bits()),
        }
    }
}

/// Parse `f64` or a bit count such as `256`.
pub fn parse_precision(s: &str) -> Result<Arith> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("f64") || t.eq_ignore_ascii_case("double") {
        return Ok(Arith::F64);
    }
    let bits: u64 = t.parse().map_err(|_| {
        Error::input(format!(
            "precision must be `f64` or a whole number of bits, got `{s}`"
        ))
    })?;
    Ok(Arith::Mpfr(Precision::new(bits)?))
}
