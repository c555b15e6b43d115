//! `mlp-lookup` (proofs/mlp-lookup.md): any function on a finite domain, exactly, by ReLU units.
//!
//! The input is an integer *key*, a linear form `Σ w_i x_i` of residual coordinates with integer
//! weights (e.g. `B·x + y` keys a pair `(x, y)` with `0 ≤ y < B`), or a one-hot block.
//! - indicator: `1[key = c] = ReLU(key−c+1) − 2ReLU(key−c) + ReLU(key−c−1)` (3 units);
//! - table `f: {c_0 < … < c_{n−1}} → Z`: a piecewise-linear function through integer
//!   breakpoints, `f(c_0) + Σ_j (s_j − s_{j−1}) ReLU(key − b_j)` (`s_j` the slope after breakpoint
//!   `b_j`, `s_{−1} = 0`). Breakpoints are the `c_i`, and across a gap `c_{i+1} − c_i > 1` the value
//!   is held at `f(c_i)` up to `c_{i+1} − 1`: every slope is an integer, so the weights are exact
//!   in floating point; at most `2(n − 1)` units (`n − 1` on a consecutive domain);
//! - one-hot: `Σ_c f(c) ReLU(x_c)`, `|domain|` units.
//!
//! With smooth units every pre-activation is an integer on integer keys, so each unit errs by
//! `|v|τ(λ|v|) ≤ τ(λ)` (`λ ≥ t*`, `v ≠ 0`) or `0` (`v = 0`): the total is `≤ (Σ|w_out|)·τ(λ)`.

use super::relu::ReluUnit;
use super::{check_coords, check_out_not_input, check_positive};
use crate::error::{Error, Result};
use crate::model::{MlpBuilder, MlpLayer};
use crate::num::Scalar;

/// A lookup's units and the sum of the absolute output weights (for the smooth error bound).
#[derive(Clone, Debug)]
pub struct LookupUnits<S> {
    pub units: Vec<usize>,
    pub out_weight_l1: S,
}

fn key_inputs<S: Scalar>(key: &[(usize, i64)], p: u32) -> Vec<(usize, S)> {
    key.iter().map(|&(c, w)| (c, S::from_i64(w, p))).collect()
}

/// Check the key's coordinates and the output coordinate (which the key must not read).
fn check_key<S: Scalar>(b: &MlpBuilder<S>, key: &[(usize, i64)], out: usize) -> Result<()> {
    if key.is_empty() {
        return Err(Error::input("mlp-lookup: the key reads no coordinate"));
    }
    let coords: Vec<usize> = key.iter().map(|k| k.0).collect();
    check_coords(b, "mlp-lookup key", &coords)?;
    check_coords(b, "mlp-lookup", &[out])?;
    check_out_not_input("mlp-lookup", &[out], &coords)
}

/// Add `weight · 1[key = c]` into `out` (3 units).
pub fn add_indicator<S: Scalar>(
    b: &mut MlpBuilder<S>,
    name: &str,
    key: &[(usize, i64)],
    c: i64,
    out: usize,
    weight: &S,
    unit: &ReluUnit<S>,
) -> Result<LookupUnits<S>> {
    check_key(b, key, out)?;
    let p = b.prec();
    let mut units = Vec::new();
    for (shift, w) in [(1i64, 1i64), (0, -2), (-1, 1)] {
        let u = unit.unit(
            b,
            format!("{name}.[key={c}]{shift:+}"),
            key_inputs(key, p),
            S::from_i64(shift - c, p),
        );
        unit.write(b, u, out, &weight.mul(&S::from_i64(w, p)));
        units.push(u);
    }
    Ok(LookupUnits {
        units,
        out_weight_l1: weight.abs().mul(&S::from_i64(4, p)),
    })
}

/// Add `f(key)` into `out` for `f(domain[i]) = values[i]` (domain strictly increasing).
pub fn add_table<S: Scalar>(
    b: &mut MlpBuilder<S>,
    name: &str,
    key: &[(usize, i64)],
    domain: &[i64],
    values: &[i64],
    out: usize,
    unit: &ReluUnit<S>,
) -> Result<LookupUnits<S>> {
    check_key(b, key, out)?;
    if domain.is_empty() || domain.len() != values.len() {
        return Err(Error::input(format!(
            "mlp-lookup table needs a nonempty domain and one value per point (got {} and {})",
            domain.len(),
            values.len()
        )));
    }
    if domain.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::input(
            "mlp-lookup table domain must be strictly increasing",
        ));
    }
    let p = b.prec();
    b.write_bias(out, S::from_i64(values[0], p));
    // Breakpoints (x, value) with unit steps between different values.
    let mut bps = vec![(domain[0], values[0])];
    for i in 1..domain.len() {
        if domain[i] - domain[i - 1] > 1 {
            bps.push((domain[i] - 1, values[i - 1]));
        }
        bps.push((domain[i], values[i]));
    }
    let mut units = Vec::new();
    let mut l1 = S::zero(p);
    let mut prev_slope = S::zero(p);
    for w in bps.windows(2) {
        let ((x0, v0), (x1, v1)) = (w[0], w[1]);
        let slope = S::from_ratio(v1 - v0, x1 - x0, p);
        let change = slope.sub(&prev_slope);
        prev_slope = slope;
        if change.is_zero() {
            continue;
        }
        let u = unit.unit(
            b,
            format!("{name}.kink@{x0}"),
            key_inputs(key, p),
            S::from_i64(-x0, p),
        );
        unit.write(b, u, out, &change);
        l1.add_assign_s(&change.abs());
        units.push(u);
    }
    Ok(LookupUnits {
        units,
        out_weight_l1: l1,
    })
}

/// Add `f(c)` into `out` where `onehot[c]` is the one-hot block (`values[c] = f(c)`).
pub fn add_onehot_table<S: Scalar>(
    b: &mut MlpBuilder<S>,
    name: &str,
    onehot: &[usize],
    values: &[i64],
    out: usize,
    unit: &ReluUnit<S>,
) -> Result<LookupUnits<S>> {
    if onehot.len() != values.len() || onehot.is_empty() {
        return Err(Error::input(format!(
            "mlp-lookup one-hot table needs one value per one-hot coordinate (got {} and {})",
            onehot.len(),
            values.len()
        )));
    }
    check_coords(b, "mlp-lookup", onehot)?;
    check_coords(b, "mlp-lookup", &[out])?;
    check_out_not_input("mlp-lookup", &[out], onehot)?;
    let p = b.prec();
    let mut units = Vec::new();
    let mut maxw = S::zero(p);
    for (c, (&x, &v)) in onehot.iter().zip(values).enumerate() {
        let u = unit.unit(
            b,
            format!("{name}.onehot[{c}]"),
            vec![(x, S::one(p))],
            S::zero(p),
        );
        let w = S::from_i64(v, p);
        unit.write(b, u, out, &w);
        maxw = maxw.max_s(&w.abs());
        units.push(u);
    }
    // Only one coordinate is 1 on a one-hot input; the others contribute exactly 0.
    Ok(LookupUnits {
        units,
        out_weight_l1: maxw,
    })
}

/// Error bound on integer keys (or one-hot inputs) for smooth units: `l1 · τ(λ)` (valid when
/// `λ ≥ t*`; `0` for ReLU units) plus the rounding allowance `8·u·l1`, `u = 2^{−p}` the unit
/// roundoff of the working precision: the units at `|v| = 1`, whose error is the bound, output
/// `≈ 1` each (`λv`, `φ`, `/λ`, `·w` and the sum each round once), so a bound that is attained
/// (one-hot, indicator) is not failed by the last bit. First-order, not a proof: units with
/// `|v| ≥ 2` also round, at a size `u·|w||v|` that the claim's precision (96 spare bits beyond
/// `τ(λ)`) keeps far below it.
pub fn error_bound<S: Scalar>(l1: &S, unit: &ReluUnit<S>) -> Result<S> {
    check_positive("the scale λ", &unit.lambda)?;
    let p = l1.precision();
    let one = S::one(p);
    let u = unit_roundoff::<S>(p);
    Ok(unit
        .error_beyond(&one)
        .mul(l1)
        .add(&u.mul(&S::from_i64(8, p)).mul(l1)))
}

/// `2^{−p}` for the working precision `p` of `S` (exact, also far below f64's range).
fn unit_roundoff<S: Scalar>(prec: u32) -> S {
    let e = S::effective_precision(prec);
    let u = rug::Float::with_val(e.max(53), rug::Float::i_exp(1, -(e as i32)));
    S::from_real(&crate::num::Real(u), prec)
}

/// A standalone table on residual `[key, out]`.
pub fn standalone_table<S: Scalar>(
    domain: &[i64],
    values: &[i64],
    unit: &ReluUnit<S>,
    prec: u32,
) -> Result<(MlpLayer<S>, LookupUnits<S>)> {
    let mut b = MlpBuilder::new(2, prec);
    let lu = add_table(&mut b, "mlp-lookup", &[(0, 1)], domain, values, 1, unit)?;
    Ok((b.build("mlp-lookup", unit.act), lu))
}
