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

use super::circuit::{exact_f64, Circuit, Lin};
use super::relu::ReluUnit;
use super::{check_out_not_input, check_positive};
use crate::error::{Error, Result};
use crate::model::{Coord, Layout, MlpBuilder, MlpLayer};
use crate::num::Scalar;

/// A lookup's units and the sum of the absolute output weights (for the smooth error bound).
#[derive(Clone, Debug)]
pub struct LookupUnits<S> {
    pub units: Vec<usize>,
    pub out_weight_l1: S,
}

impl Circuit {
    /// `1[x = c]` for integer `x` (the `mlp-lookup` hat):
    /// `ReLU(x−c+1) − 2ReLU(x−c) + ReLU(x−c−1)`.
    pub fn indicator(&mut self, name: &str, x: &Lin, c: i64) -> Lin {
        let u: Vec<Lin> = [1i64, 0, -1]
            .iter()
            .map(|&shift| {
                self.relu(
                    format!("{name}.[key={c}]{shift:+}"),
                    x.offset((shift - c) as f64),
                )
            })
            .collect();
        u[0].add_scaled(&u[1], -2.0).plus(&u[2])
    }

    /// `[1[x = lo], …, 1[x = hi]]` for integer `x`, sharing the units `ReLU(x − j)`,
    /// `j = lo−1..=hi+1`: `1[x = k] = u_{k−1} − 2u_k + u_{k+1}` (hi − lo + 3 units).
    pub fn one_hot(&mut self, name: &str, x: &Lin, lo: i64, hi: i64) -> Vec<Lin> {
        let u: Vec<Lin> = (lo - 1..=hi + 1)
            .map(|j| self.relu(format!("{name}.x-{j}"), x.offset(-j as f64)))
            .collect();
        (0..=(hi - lo) as usize)
            .map(|k| u[k].add_scaled(&u[k + 1], -2.0).plus(&u[k + 2]))
            .collect()
    }

    /// `f(x)` for `f(domain[i]) = values[i]` (domain strictly increasing, integer `x` in it): the
    /// piecewise-linear interpolant through integer breakpoints, held constant across gaps, so
    /// every slope is an integer (at most `2(n − 1)` units).
    pub fn table(&mut self, name: &str, x: &Lin, domain: &[i64], values: &[i64]) -> Result<Lin> {
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
        // breakpoints (x, value) with unit steps between different values
        let mut bps = vec![(domain[0], values[0])];
        for i in 1..domain.len() {
            if domain[i] - domain[i - 1] > 1 {
                bps.push((domain[i] - 1, values[i - 1]));
            }
            bps.push((domain[i], values[i]));
        }
        let mut out = Lin::constant(values[0] as f64);
        let mut prev_slope = 0i64;
        for w in bps.windows(2) {
            let ((x0, v0), (x1, v1)) = (w[0], w[1]);
            // x1 − x0 = 1, or the value is held (v1 = v0): the slope is an integer
            let slope = (v1 - v0) / (x1 - x0);
            let change = slope - prev_slope;
            prev_slope = slope;
            if change == 0 {
                continue;
            }
            let u = self.relu(format!("{name}.kink@{x0}"), x.offset(-x0 as f64));
            out = out.add_scaled(&u, change as f64);
        }
        Ok(out)
    }

    /// `Σ_c f(c)·ReLU(e_c)` on a one-hot block `e` (one unit per value).
    pub fn onehot_table(&mut self, name: &str, onehot: &[Lin], values: &[i64]) -> Lin {
        let mut out = Lin::default();
        for (c, (e, &v)) in onehot.iter().zip(values).enumerate() {
            let u = self.relu(format!("{name}.onehot[{c}]"), e.clone());
            out = out.add_scaled(&u, v as f64);
        }
        out
    }
}

/// The key `Σ w_i x_i` as a circuit input form (each coordinate an unbounded input).
fn key_form(c: &mut Circuit, key: &[(Coord, i64)], out: Coord) -> Result<Lin> {
    if key.is_empty() {
        return Err(Error::input("mlp-lookup: the key reads no coordinate"));
    }
    let coords: Vec<usize> = key.iter().map(|k| k.0.index()).collect();
    check_out_not_input("mlp-lookup", &[out.index()], &coords)?;
    let mut l = Lin::default();
    for (i, &(x, w)) in key.iter().enumerate() {
        let xi = c.input(format!("key[{i}]"), x, f64::NEG_INFINITY, f64::INFINITY);
        l = l.add_scaled(&xi, w as f64);
    }
    Ok(l)
}

/// Emit a one-sink circuit into `b`; the `l1` of its output weights.
fn emit_one<S: Scalar>(
    c: Circuit,
    b: &mut MlpBuilder<S>,
    unit: &ReluUnit<S>,
) -> Result<LookupUnits<S>> {
    let units = c.emit(b, unit)?;
    Ok(LookupUnits {
        units,
        out_weight_l1: S::from_f64(c.sink_weight_l1(0), b.prec()),
    })
}

/// Add `weight · 1[key = c]` into `out` (3 units, [`Circuit::indicator`]).
pub fn add_indicator<S: Scalar>(
    b: &mut MlpBuilder<S>,
    name: &str,
    key: &[(Coord, i64)],
    c: i64,
    out: Coord,
    weight: &S,
    unit: &ReluUnit<S>,
) -> Result<LookupUnits<S>> {
    let w = exact_f64("the indicator's weight", weight)?;
    let mut circ = Circuit::new();
    let x = key_form(&mut circ, key, out)?;
    let ind = circ.indicator(name, &x, c);
    circ.sink(format!("{name}.out"), out, ind.scale(w))?;
    emit_one(circ, b, unit)
}

/// Add the one-hot of an integer key in `[lo, hi]` into `outs` (`outs[k] += 1[key = lo + k]`),
/// with the shared hats of [`Circuit::one_hot`] (`hi − lo + 3` units): the DP compiler's query
/// decoder. `out_weight_l1` is that of one output (`4`).
pub fn add_one_hot<S: Scalar>(
    b: &mut MlpBuilder<S>,
    name: &str,
    key: &[(Coord, i64)],
    lo: i64,
    outs: &[Coord],
    unit: &ReluUnit<S>,
) -> Result<LookupUnits<S>> {
    if outs.is_empty() {
        return Err(Error::input("mlp-lookup one-hot needs at least one output"));
    }
    let key_coords: Vec<usize> = key.iter().map(|k| k.0.index()).collect();
    let out_coords: Vec<usize> = outs.iter().map(|c| c.index()).collect();
    check_out_not_input("mlp-lookup", &out_coords, &key_coords)?;
    let mut circ = Circuit::new();
    let x = key_form(&mut circ, key, outs[0])?;
    let hi = lo + outs.len() as i64 - 1;
    for (k, (l, &o)) in circ
        .one_hot(name, &x, lo, hi)
        .into_iter()
        .zip(outs)
        .enumerate()
    {
        circ.sink(format!("{name}.out[{k}]"), o, l)?;
    }
    let units = circ.emit(b, unit)?;
    let l1 = (0..outs.len())
        .map(|k| circ.sink_weight_l1(k))
        .fold(0.0, f64::max);
    Ok(LookupUnits {
        units,
        out_weight_l1: S::from_f64(l1, b.prec()),
    })
}

/// Add `f(key)` into `out` for `f(domain[i]) = values[i]` ([`Circuit::table`]).
pub fn add_table<S: Scalar>(
    b: &mut MlpBuilder<S>,
    name: &str,
    key: &[(Coord, i64)],
    domain: &[i64],
    values: &[i64],
    out: Coord,
    unit: &ReluUnit<S>,
) -> Result<LookupUnits<S>> {
    let mut circ = Circuit::new();
    let x = key_form(&mut circ, key, out)?;
    let f = circ.table(name, &x, domain, values)?;
    circ.sink(format!("{name}.out"), out, f)?;
    emit_one(circ, b, unit)
}

/// Add `f(c)` into `out` where `onehot[c]` is the one-hot block (`values[c] = f(c)`,
/// [`Circuit::onehot_table`]).
pub fn add_onehot_table<S: Scalar>(
    b: &mut MlpBuilder<S>,
    name: &str,
    onehot: &[Coord],
    values: &[i64],
    out: Coord,
    unit: &ReluUnit<S>,
) -> Result<LookupUnits<S>> {
    if onehot.len() != values.len() || onehot.is_empty() {
        return Err(Error::input(format!(
            "mlp-lookup one-hot table needs one value per one-hot coordinate (got {} and {})",
            onehot.len(),
            values.len()
        )));
    }
    let coords: Vec<usize> = onehot.iter().map(|c| c.index()).collect();
    check_out_not_input("mlp-lookup", &[out.index()], &coords)?;
    let mut circ = Circuit::new();
    let es: Vec<Lin> = (onehot.iter().enumerate())
        .map(|(k, &e)| circ.input(format!("e[{k}]"), e, 0.0, 1.0))
        .collect();
    let f = circ.onehot_table(name, &es, values);
    circ.sink(format!("{name}.out"), out, f)?;
    let units = circ.emit(b, unit)?;
    // only one coordinate is 1 on a one-hot input; the others contribute exactly 0
    let maxw = values.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
    Ok(LookupUnits {
        units,
        out_weight_l1: S::from_f64(maxw as f64, b.prec()),
    })
}

/// Error bound on integer keys (or one-hot inputs) for smooth units, in exact arithmetic:
/// `l1 · τ(λ)` (valid when `λ ≥ t*`; `0` for ReLU units). It is attained on one-hot inputs, so a
/// computed network is compared with it on certified enclosures (ball arithmetic at twice the
/// precision, with the stated factor `1 + 2^{−p/2}` of `claims::gadget_common::sharp_slack`), never
/// with a rounding allowance (proofs/mlp-lookup.md).
pub fn error_bound<S: Scalar>(l1: &S, unit: &ReluUnit<S>) -> Result<S> {
    check_positive("the scale λ", &unit.lambda)?;
    let one = S::one(l1.precision());
    Ok(unit.error_beyond(&one).mul(l1))
}

/// A standalone table on residual `[key, out]`.
pub fn standalone_table<S: Scalar>(
    domain: &[i64],
    values: &[i64],
    unit: &ReluUnit<S>,
    prec: u32,
) -> Result<(MlpLayer<S>, LookupUnits<S>)> {
    let mut lay = Layout::new();
    let key = lay.coord("key", "integer key");
    let out = lay.coord("out", "f(key)");
    let mut b = MlpBuilder::new(lay.width(), prec);
    let lu = add_table(&mut b, "mlp-lookup", &[(key, 1)], domain, values, out, unit)?;
    Ok((b.build("mlp-lookup", unit.act), lu))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circuit_lookups_are_exact_on_integers_and_interpolate_between() {
        let mut c = Circuit::new();
        let x = c.free_input("x", -3.0, 9.0);
        let ind = c.indicator("i", &x, 2);
        let oh = c.one_hot("o", &x, 0, 6);
        let tab = c.table("t", &x, &[-3, 0, 1, 5], &[4, -1, 7, 7]).unwrap();
        assert_eq!(oh.len(), 7);
        let mut outs = vec![ind.clone(), tab.clone()];
        outs.extend(oh.iter().cloned());
        for k in -3..=9 {
            let v = c.eval(&[k as f64], &outs);
            assert_eq!(v[0], (k == 2) as i64 as f64);
            for (j, &o) in v[2..].iter().enumerate() {
                assert_eq!(o, (k == j as i64) as i64 as f64, "one-hot[{j}] at {k}");
            }
            let want = match k {
                -3 => Some(4.0),
                0 => Some(-1.0),
                1 | 5 => Some(7.0),
                _ => None,
            };
            if let Some(w) = want {
                assert_eq!(v[1], w, "table at {k}");
            }
        }
        // half-way between two keys the hats give 1/2, not an indicator value
        assert_eq!(c.eval(&[1.5], std::slice::from_ref(&ind))[0], 0.5);
        assert!(c.table("bad", &x, &[1, 1], &[0, 0]).is_err());
        assert!(c.table("bad", &x, &[], &[]).is_err());
    }
}
