//! Rounding to the nearest integer (proofs/dp-general.md, step 2): read a memory output that is
//! within 1/4 of an integer in `[lo, hi]` and write that integer exactly.
//!
//! `round(x) = lo + Σ_{c=lo+1}^{hi} [ReLU(2(x−c) + 3/2) − ReLU(2(x−c) + 1/2)]`: the c-th pair is a
//! ramp from 0 (at `x ≤ c − 3/4`) to 1 (at `x ≥ c − 1/4`), so it is exactly `1[x ≥ c]` whenever
//! `x` is within 1/4 of an integer. With smooth units and an input error `ε ≤ 1/8`, every unit
//! sees `|z| ≥ 1/2 − 2ε`, and the two units of a pair agree in the noise they pass, so the output
//! errs by at most `2(hi − lo)·δ(1/2 − 2ε)` ([`round_error_bound`]).

use super::circuit::{Circuit, Lin};
use super::relu::error_beyond_f64;
use crate::model::Activation;

impl Circuit {
    /// Round `x` to the nearest integer in `[lo, hi]`, exact whenever `x` is within 1/4 of one.
    pub fn round(&mut self, name: &str, x: &Lin, lo: i64, hi: i64) -> Lin {
        let mut out = Lin::constant(lo as f64);
        for c in lo + 1..=hi {
            let base = x.scale(2.0).offset(-2.0 * c as f64);
            let a = self.relu(format!("{name}.ge{c}.a"), base.offset(1.5));
            let b = self.relu(format!("{name}.ge{c}.b"), base.offset(0.5));
            out = out.plus(&a).minus(&b);
        }
        out
    }
}

/// Bound on |round(x̂) − round(x)| for `|x̂ − x| ≤ eps` with `x` an integer in `[lo, hi]`, units
/// `φ(λz)/λ` of `act`: `2(hi − lo)·δ(1/2 − 2ε)` (`0` for ReLU); `None` when `ε > 1/8`.
pub fn round_error_bound(act: Activation, lambda: f64, eps: f64, lo: i64, hi: i64) -> Option<f64> {
    if !(0.0..=0.125).contains(&eps) {
        return None;
    }
    let z_min = 0.5 - 2.0 * eps;
    Some(2.0 * (hi - lo) as f64 * error_beyond_f64(act, lambda, z_min))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadgets::{eval_mlp, relu::ReluUnit};
    use crate::model::Layout;

    fn rounder(lo: i64, hi: i64) -> (Circuit, Lin) {
        let mut c = Circuit::new();
        let x = c.free_input("x", lo as f64 - 0.25, hi as f64 + 0.25);
        let r = c.round("r", &x, lo, hi);
        (c, r)
    }

    #[test]
    fn round_is_exact_within_a_quarter() {
        let (c, r) = rounder(-2, 6);
        for k in -2..=6 {
            for d in [-0.25, -0.1875, -0.125, 0.0, 0.0625, 0.1875, 0.25] {
                let x = k as f64 + d;
                if !(-2.0..=6.0).contains(&x) {
                    continue;
                }
                assert_eq!(
                    c.eval(&[x], std::slice::from_ref(&r))[0],
                    k as f64,
                    "x = {x}"
                );
            }
        }
    }

    #[test]
    fn round_fails_beyond_a_quarter() {
        let (c, r) = rounder(0, 5);
        for k in 1..5 {
            for d in [-0.3125, 0.3125, 0.375, -0.4375] {
                let v = c.eval(&[k as f64 + d], std::slice::from_ref(&r))[0];
                assert!(
                    v.fract() != 0.0,
                    "x = {} rounded to the integer {v}",
                    k as f64 + d
                );
            }
        }
    }

    #[test]
    fn smooth_round_is_within_its_bound_and_the_bound_refuses_large_errors() {
        let (lo, hi) = (0, 9);
        let mut lay = Layout::new();
        let xin = lay.coord("x", "input");
        let out = lay.coord("out", "rounded");
        let mut c = Circuit::new();
        let x = c.input("x", xin, -0.25, 9.25);
        let r = c.round("r", &x, lo, hi);
        c.sink("out", out, r).unwrap();
        for act in [Activation::Gelu, Activation::Silu] {
            let lambda = 12.0;
            let unit = ReluUnit::new(act, lambda).unwrap();
            let layer = c
                .build_layers::<f64>(lay.width(), &[], &unit, "round")
                .unwrap();
            assert_eq!(layer.len(), 1);
            let eps = 0.125;
            let bound = round_error_bound(act, lambda, eps, lo, hi).unwrap();
            let mut worst = 0.0f64;
            for k in lo..=hi {
                for d in [-eps, 0.0, eps] {
                    let y = eval_mlp(&layer[0], &[k as f64 + d, 0.0], 53)[1];
                    worst = worst.max((y - k as f64).abs());
                }
            }
            assert!(worst <= bound, "{act:?}: {worst} > {bound}");
            assert!(worst > 0.0);
            // at λ = 1 the units are far from ReLU and the bound is far above 1/2
            let loose = round_error_bound(act, 1.0, eps, lo, hi).unwrap();
            assert!(loose > 0.5, "{loose}");
        }
        assert!(round_error_bound(Activation::Gelu, 12.0, 0.2, lo, hi).is_none());
    }
}
