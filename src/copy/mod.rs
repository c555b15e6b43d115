//! The COPY constructions and their bounds (proofs/README.md).
//!
//! - [`constant`]: constant-state SSM blocks with controllable decays, score, interference and
//!   value bound; raw and normalised readout (`copy-const`).
//! - [`attention`]: softmax attention with positional features `(j, j², 1)` (`copy-attn`).
//! - [`linear`]: the two O(T) memories as single Mamba blocks with greedy decoding (`copy-linear`);
//!   the memories themselves are [`crate::memory`]'s, shared with the DP compiler.
//! - [`rank`]: the rank lower bound `N ≥ T(1−r)²/((1+r)²+r²) − 1` (`copy-rank`).

pub mod attention;
pub mod constant;
pub mod linear;
pub mod rank;

use crate::error::{Error, Result};
use crate::num::Real;
use rug::Float;

/// Reject anything that is not a finite number strictly inside `(lo, hi]`-style ranges.
pub(crate) fn require_positive(name: &str, x: f64) -> Result<f64> {
    if !x.is_finite() || x <= 0.0 {
        return Err(Error::input(format!(
            "{name} must be a positive finite number (got {x})"
        )));
    }
    Ok(x)
}

/// A decay must lie in `(0, 1]`.
pub(crate) fn require_decay(name: &str, a: f64) -> Result<f64> {
    if !a.is_finite() || a <= 0.0 || a > 1.0 {
        return Err(Error::input(format!("{name} must lie in (0, 1] (got {a})")));
    }
    Ok(a)
}

/// `10^x` as an MPFR value (x may be far outside f64's exponent range once exponentiated).
/// Bisection bounds must be finite with `lo < hi`, and the tolerance finite and positive.
pub fn check_bisection(lo: f64, hi: f64, tol: f64) -> Result<()> {
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(Error::input(format!(
            "bisection needs finite bounds with lo < hi (got lo = {lo}, hi = {hi})"
        )));
    }
    require_positive("the bisection tolerance", tol)?;
    Ok(())
}

pub fn exp10_real(x: f64, prec: u32) -> Real {
    let mut f = Float::with_val(prec, x);
    f.exp10_mut();
    Real(f)
}
