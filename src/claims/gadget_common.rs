//! Helpers shared by the gadget claims: MPFR differences, grids; worst-ratio tracking and the
//! sharp-bound slack live in [`crate::certify::worst`] (re-exported here).

pub use crate::certify::worst::{sharp_slack, tail_precision, BallWorst, Worst};
use crate::num::{Real, Scalar};
use crate::report::{Case, Relation};
use rug::Float;

/// `x` as an MPFR value (exact: every f64 is representable at ≥ 53 bits).
pub fn rl(x: f64, p: u32) -> Real {
    Real::from_f64(x, p.max(53))
}

/// `|a − b|`, computed exactly enough (64 guard bits above the wider operand). NaN (a network
/// output that is not a number) becomes `+∞`, so every `>` comparison and maximum sees it.
pub fn abs_diff(a: &Real, b: &Real) -> Real {
    let wp = a.0.prec().max(b.0.prec()) + 64;
    let mut d = Float::with_val(wp, &a.0 - &b.0);
    if d.is_nan() {
        d = Float::with_val(wp, rug::float::Special::Infinity);
    }
    d.abs_mut();
    Real(d)
}

pub fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n < 2 {
        return vec![lo];
    }
    (0..n)
        .map(|k| lo + (hi - lo) * k as f64 / (n - 1) as f64)
        .collect()
}

/// An `AtMost` case decided by an exact MPFR comparison of the values (NaN fails).
pub fn at_most(label: impl Into<String>, measured: &Real, bound: &Real) -> Case {
    Case::from_reals(label, measured, bound, Relation::AtMost)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real(x: f64, p: u32) -> Real {
        Real::from_f64(x, p)
    }

    #[test]
    fn an_excess_below_f64_resolution_fails_the_case() {
        let p = 200;
        let bound = real(0.3, p);
        // bound·(1 + 2^-80): the same f64 log10, but above the bound.
        let mut above = bound.clone();
        above.mul_assign_s(&Real(
            Float::with_val(p, 1) + Float::with_val(p, Float::i_exp(1, -80)),
        ));
        assert_eq!(above.log10_abs(), bound.log10_abs());
        let mut w = Worst::new();
        w.add(&bound, &bound, || "equal".into());
        assert!(w.case("attained").passed, "an attained bound passes");
        w.add(&above, &bound, || "above".into());
        let c = w.case("above");
        assert!(!c.passed && w.exceeded == 1, "{c:?}");
        assert!(at_most("attained", &bound, &bound).passed);
        assert!(!at_most("above", &above, &bound).passed);
    }

    #[test]
    fn nan_outputs_count_as_infinite_errors() {
        let nan = Real(Float::with_val(64, rug::float::Special::Nan));
        let e = abs_diff(&nan, &real(1.0, 64));
        assert!(e.0.is_infinite() && e > real(1e300, 64));
        let mut w = Worst::new();
        w.add(&real(0.1, 64), &real(1.0, 64), || "ok".into());
        w.add(&e, &real(1.0, 64), || "nan".into());
        assert!(!w.case("nan").passed);
        let mut w = Worst::new();
        w.add(&nan, &real(1.0, 64), || "raw nan".into());
        assert!(!w.case("raw nan").passed);
    }
}
