//! `mlp-select` (proofs/mlp-select.md): `sel(x, y, t) = x if t ≥ α, y if t ≤ −α`, for `|x_k|, |y_k| ≤ M`.
//!
//! `sel_k = ReLU(x_k + Kt) − ReLU(Kt) + ReLU(y_k − Kt) − ReLU(−Kt)`, width `2d + 2` (the two
//! t-only units are shared by all coordinates). Exact with ReLU when `K·α ≥ M`. With smooth
//! units `φ(λ·)/λ` each unit errs by `−e_i`, `e_i = |v_i|τ(λ|v_i|) ≥ 0` (mlp-relu), so the
//! coordinate errs by `(e₂ + e₄) − (e₁ + e₃)` (units `x+Kt`, `Kt`, `y−Kt`, `−Kt` numbered 1–4):
//! a difference of two nonnegative sums, hence at most `max(e₁+e₃, e₂+e₄)`. Every pre-activation
//! has `|v| ≥ β = Kα − M`, so for `β > 0`, `λβ ≥ t*` the error is at most `2·β·τ(λβ)`
//! (attained in the limit `x_k = −M`, `y_k = M`, `t = α`); otherwise at most `2c/λ`.

use super::relu::ReluUnit;
use super::{check_coords, check_out_not_input, check_positive};
use crate::error::{Error, Result};
use crate::model::{Activation, MlpBuilder, MlpLayer};
use crate::num::Scalar;

/// The unit indices the selector added.
#[derive(Clone, Debug)]
pub struct SelectUnits {
    pub t_pos: usize,
    pub t_neg: usize,
    pub x_units: Vec<usize>,
    pub y_units: Vec<usize>,
}

/// The gain `K = M/α` that makes the ReLU selector exact.
pub fn gain_for<S: Scalar>(m: &S, alpha: &S) -> Result<S> {
    check_positive("M", m)?;
    check_positive("the threshold α", alpha)?;
    Ok(m.div(alpha))
}

/// Add `sel(x, y, t)` into `outs` (coordinate k gets `x_k` or `y_k`).
#[allow(clippy::too_many_arguments)] // builder, name, three coordinate lists, gate, gain, unit
pub fn add_select<S: Scalar>(
    b: &mut MlpBuilder<S>,
    name: &str,
    xs: &[usize],
    ys: &[usize],
    t: usize,
    outs: &[usize],
    gain: &S,
    unit: &ReluUnit<S>,
) -> Result<SelectUnits> {
    if xs.len() != ys.len() || xs.len() != outs.len() {
        return Err(Error::input(format!(
            "mlp-select needs as many x, y and output coordinates (got {}, {}, {})",
            xs.len(),
            ys.len(),
            outs.len()
        )));
    }
    check_coords(b, "mlp-select", xs)?;
    check_coords(b, "mlp-select", ys)?;
    check_coords(b, "mlp-select", outs)?;
    check_coords(b, "mlp-select", &[t])?;
    let inputs: Vec<usize> = xs.iter().chain(ys).chain([&t]).copied().collect();
    check_out_not_input("mlp-select", outs, &inputs)?;
    check_positive("the gain K of mlp-select", gain)?;
    let p = b.prec();
    let one = S::one(p);
    let neg = one.neg();
    let zero = S::zero(p);
    let t_pos = unit.unit(
        b,
        format!("{name}.Kt"),
        vec![(t, gain.clone())],
        zero.clone(),
    );
    let t_neg = unit.unit(
        b,
        format!("{name}.-Kt"),
        vec![(t, gain.neg())],
        zero.clone(),
    );
    let (mut x_units, mut y_units) = (Vec::new(), Vec::new());
    for (k, ((&x, &y), &o)) in xs.iter().zip(ys).zip(outs).enumerate() {
        let ux = unit.unit(
            b,
            format!("{name}.x[{k}]+Kt"),
            vec![(x, one.clone()), (t, gain.clone())],
            zero.clone(),
        );
        let uy = unit.unit(
            b,
            format!("{name}.y[{k}]-Kt"),
            vec![(y, one.clone()), (t, gain.neg())],
            zero.clone(),
        );
        unit.write(b, ux, o, &one);
        unit.write(b, t_pos, o, &neg);
        unit.write(b, uy, o, &one);
        unit.write(b, t_neg, o, &neg);
        x_units.push(ux);
        y_units.push(uy);
    }
    Ok(SelectUnits {
        t_pos,
        t_neg,
        x_units,
        y_units,
    })
}

/// Error bound per coordinate when `|x_k|, |y_k| ≤ M`, `|t| ≥ α`: `0` for ReLU if `Kα ≥ M`;
/// `2·β·τ(λβ)` (or `2c/λ`) for smooth units with `β = Kα − M > 0`.
/// Errors if the hypothesis `Kα ≥ M` (ReLU) or `Kα > M` (smooth) fails.
pub fn error_bound<S: Scalar>(m: &S, alpha: &S, gain: &S, unit: &ReluUnit<S>) -> Result<S> {
    let p = m.precision();
    let beta = gain.mul(alpha).sub(m);
    let smooth = unit.act != Activation::Relu;
    if beta.is_sign_negative() || (smooth && beta.is_zero()) {
        return Err(Error::input(format!(
            "mlp-select needs K·α {} M (got K·α = {}, M = {})",
            if smooth { ">" } else { "≥" },
            gain.mul(alpha).to_f64(),
            m.to_f64()
        )));
    }
    if !smooth {
        return Ok(S::zero(p));
    }
    Ok(unit.error_beyond(&beta).mul(&S::from_i64(2, p)))
}

/// A standalone selector for `d` coordinates: residual `[x (d), y (d), t, out (d)]`.
pub fn standalone<S: Scalar>(d: usize, gain: &S, unit: &ReluUnit<S>) -> Result<MlpLayer<S>> {
    if d == 0 {
        return Err(Error::input("mlp-select needs at least one coordinate"));
    }
    let p = gain.precision();
    let mut b = MlpBuilder::new(3 * d + 1, p);
    let xs: Vec<usize> = (0..d).collect();
    let ys: Vec<usize> = (d..2 * d).collect();
    let outs: Vec<usize> = (2 * d + 1..3 * d + 1).collect();
    add_select(&mut b, "mlp-select", &xs, &ys, 2 * d, &outs, gain, unit)?;
    Ok(b.build("mlp-select", unit.act))
}
