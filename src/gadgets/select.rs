//! `mlp-select` (proofs/mlp-select.md): `sel(x, y, t) = x if t ≥ α, y if t ≤ −α`, for `|x_k|, |y_k| ≤ M`.
//!
//! `sel_k = ReLU(x_k + Kt) − ReLU(Kt) + ReLU(y_k − Kt) − ReLU(−Kt)`, width `2d + 2` (the two
//! t-only units are shared by all coordinates). Exact with ReLU when `K·α ≥ M`. With smooth
//! units `φ(λ·)/λ` each unit errs by `−e_i`, `e_i = |v_i|τ(λ|v_i|) ≥ 0` (mlp-relu), so the
//! coordinate errs by `(e₂ + e₄) − (e₁ + e₃)` (units `x+Kt`, `Kt`, `y−Kt`, `−Kt` numbered 1–4):
//! a difference of two nonnegative sums, hence at most `max(e₁+e₃, e₂+e₄)`. Every pre-activation
//! has `|v| ≥ β = Kα − M`, so for `β > 0`, `λβ ≥ t*` the error is at most `2·β·τ(λβ)`
//! (attained in the limit `x_k = −M`, `y_k = M`, `t = α`); otherwise at most `2c/λ`.

use super::circuit::{exact_f64, Circuit, Lin};
use super::relu::ReluUnit;
use super::{check_out_not_input, check_positive};
use crate::error::{Error, Result};
use crate::model::{Activation, Coord, Layout, MlpBuilder, MlpLayer};
use crate::num::Scalar;

/// The unit indices the selector added (indices of the MLP builder).
#[derive(Clone, Debug)]
pub struct SelectUnits {
    pub t_pos: usize,
    pub t_neg: Option<usize>,
    pub x_units: Vec<usize>,
    pub y_units: Vec<usize>,
}

/// The gain `K = M/α` that makes the ReLU selector exact.
pub fn gain_for<S: Scalar>(m: &S, alpha: &S) -> Result<S> {
    check_positive("M", m)?;
    check_positive("the threshold α", alpha)?;
    Ok(m.div(alpha))
}

impl Circuit {
    /// `sel(x, y, t)` per coordinate: `ReLU(x_k + Kt) − ReLU(Kt) + ReLU(y_k − Kt) − ReLU(−Kt)`
    /// (the `mlp-select` lemma; the two t-only units are shared). A `y_k` that is the zero form
    /// contributes `ReLU(−Kt) − ReLU(−Kt) = 0`: its pair is left out (and `ReLU(−Kt)` when no
    /// `y_k` is used). Exact on `|x_k|, |y_k| ≤ M`, `|t| ≥ α` once `Kα ≥ M`.
    pub fn select(&mut self, name: &str, xs: &[Lin], ys: &[Lin], t: &Lin, gain: f64) -> Vec<Lin> {
        assert_eq!(xs.len(), ys.len(), "select needs as many x as y");
        let kt = t.scale(gain);
        let t_pos = self.relu(format!("{name}.Kt"), kt.clone());
        let any_y = ys.iter().any(|y| !y.is_zero());
        let t_neg = any_y.then(|| self.relu(format!("{name}.-Kt"), kt.scale(-1.0)));
        let mut outs = Vec::with_capacity(xs.len());
        for (k, (x, y)) in xs.iter().zip(ys).enumerate() {
            let ux = self.relu(format!("{name}.x[{k}]+Kt"), x.plus(&kt));
            let mut o = ux.minus(&t_pos);
            if let (false, Some(tn)) = (y.is_zero(), &t_neg) {
                let uy = self.relu(format!("{name}.y[{k}]-Kt"), y.minus(&kt));
                o = o.plus(&uy).minus(tn);
            }
            outs.push(o);
        }
        outs
    }

    /// `flag·x` for a 0/1 flag: the selector `sel(x, 0, 2·flag − 1)` with `α = 1` and the gain
    /// `K = ⌈max |x|⌉` (from the form's interval), i.e. `ReLU(x + K(2f−1)) − ReLU(K(2f−1))`.
    pub fn gate(&mut self, name: &str, x: &Lin, flag: &Lin) -> Lin {
        let (lo, hi) = self.range(x);
        let k = lo.abs().max(hi.abs()).ceil().max(1.0);
        let t = flag.scale(2.0).offset(-1.0);
        self.select(name, std::slice::from_ref(x), &[Lin::default()], &t, k)
            .remove(0)
    }
}

/// Add `sel(x, y, t)` into `outs` (coordinate k gets `x_k` or `y_k`): the circuit gadget
/// [`Circuit::select`] emitted into `b`.
#[allow(clippy::too_many_arguments)] // builder, name, three coordinate lists, gate, gain, unit
pub fn add_select<S: Scalar>(
    b: &mut MlpBuilder<S>,
    name: &str,
    xs: &[Coord],
    ys: &[Coord],
    t: Coord,
    outs: &[Coord],
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
    let idx = |cs: &[Coord]| cs.iter().map(|c| c.index()).collect::<Vec<_>>();
    let mut inputs = idx(xs);
    inputs.extend(idx(ys));
    inputs.push(t.index());
    check_out_not_input("mlp-select", &idx(outs), &inputs)?;
    check_positive("the gain K of mlp-select", gain)?;
    let k = exact_f64("the gain K of mlp-select", gain)?;
    let mut c = Circuit::new();
    let any = (f64::NEG_INFINITY, f64::INFINITY);
    let x: Vec<Lin> = (xs.iter().enumerate())
        .map(|(i, &x)| c.input(format!("x[{i}]"), x, any.0, any.1))
        .collect();
    let y: Vec<Lin> = (ys.iter().enumerate())
        .map(|(i, &y)| c.input(format!("y[{i}]"), y, any.0, any.1))
        .collect();
    let tt = c.input("t", t, any.0, any.1);
    let sel = c.select(name, &x, &y, &tt, k);
    for (k, (o, &out)) in sel.into_iter().zip(outs).enumerate() {
        c.sink(format!("{name}.out[{k}]"), out, o)?;
    }
    let u = c.emit(b, unit)?;
    // unit order of `Circuit::select`: Kt, −Kt, then x[k]+Kt, y[k]−Kt per coordinate
    let d = xs.len();
    Ok(SelectUnits {
        t_pos: u[0],
        t_neg: Some(u[1]),
        x_units: (0..d).map(|k| u[2 + 2 * k]).collect(),
        y_units: (0..d).map(|k| u[3 + 2 * k]).collect(),
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

/// The name of the bound [`error_bound`] returns for units `act` at scale `λ` and margin
/// `β = Kα − M`, for labels: `2βτ(λβ)` when `λβ ≥ t*` (the lemma's bound needs that hypothesis),
/// the uniform `2c/λ` when `λβ < t*`, `0` for exact ReLU units.
pub fn bound_name(act: Activation, lambda: f64, beta: f64) -> &'static str {
    if act == Activation::Relu {
        return "0 (exact)";
    }
    let t_star = super::relu::sup_constant::<f64>(act, 53).t_star;
    if lambda * beta >= t_star {
        "2βτ(λβ)"
    } else {
        "2c/λ (λβ < t*, where 2βτ(λβ) does not hold)"
    }
}

/// A standalone selector for `d` coordinates: residual `[x (d), y (d), t, out (d)]`.
pub fn standalone<S: Scalar>(d: usize, gain: &S, unit: &ReluUnit<S>) -> Result<MlpLayer<S>> {
    if d == 0 {
        return Err(Error::input("mlp-select needs at least one coordinate"));
    }
    let p = gain.precision();
    let mut lay = Layout::new();
    let x = lay.block("x", d, "selected when t ≥ α");
    let y = lay.block("y", d, "selected when t ≤ −α");
    let t = lay.coord("t", "the gate");
    let out = lay.block("out", d, "sel(x, y, t)");
    let mut b = MlpBuilder::new(lay.width(), p);
    let cs = |bl: &crate::model::Block| bl.coords().collect::<Vec<_>>();
    add_select(
        &mut b,
        "mlp-select",
        &cs(&x),
        &cs(&y),
        t,
        &cs(&out),
        gain,
        unit,
    )?;
    Ok(b.build("mlp-select", unit.act))
}

/// The gate `f·x` ([`Circuit::gate`], the gadget the DP compiler and the slot memory call) on its
/// own residual stream `[x, f, out]`, for `|x| ≤ m`; also returns the circuit, whose
/// [`Circuit::sink_error_bounds`] is the gate's bound with smooth units.
pub fn gate_standalone<S: Scalar>(m: f64, unit: &ReluUnit<S>) -> Result<(MlpLayer<S>, Circuit)> {
    check_positive("M", &m)?;
    let mut lay = Layout::new();
    let x = lay.coord("x", "the gated value");
    let f = lay.coord("f", "the 0/1 flag");
    let out = lay.coord("out", "f·x");
    let mut c = Circuit::new();
    let xi = c.input("x", x, -m, m);
    let fi = c.input("f", f, 0.0, 1.0);
    let g = c.gate("gate", &xi, &fi);
    c.sink("out", out, g)?;
    let mut b = MlpBuilder::new(lay.width(), unit.lambda.precision());
    c.emit(&mut b, unit)?;
    Ok((b.build("gate", unit.act), c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_is_the_selector_with_y_zero_and_exact_on_its_range() {
        let mut c = Circuit::new();
        let x = c.free_input("x", -5.0, 7.0);
        let f = c.free_input("f", 0.0, 1.0);
        let g = c.gate("g", &x, &f);
        // two units: x + K(2f−1) and K(2f−1), K = 7
        assert_eq!(c.units.len(), 2);
        assert!(c.half_integral());
        for v in -5..=7 {
            let out = |flag: f64| c.eval(&[v as f64, flag], std::slice::from_ref(&g))[0];
            assert_eq!(out(1.0), v as f64);
            assert_eq!(out(0.0), 0.0);
        }
        // outside the declared range (|x| > K) the flag-off gate leaks: the hypothesis is needed
        assert_ne!(c.eval(&[9.0, 0.0], std::slice::from_ref(&g))[0], 0.0);
    }

    #[test]
    fn select_circuit_matches_the_lemma_and_fails_inside_the_margin() {
        let mut c = Circuit::new();
        let xs = [c.free_input("x", -2.0, 2.0)];
        let ys = [c.free_input("y", -2.0, 2.0)];
        let t = c.free_input("t", -1.0, 1.0);
        let out = c.select("s", &xs, &ys, &t, 4.0); // K·α = 4·(1/2) ≥ M = 2
        let ev = |x: f64, y: f64, t: f64| c.eval(&[x, y, t], &out)[0];
        for (x, y) in [(-2.0, 2.0), (1.5, -0.5), (2.0, -2.0)] {
            assert_eq!(ev(x, y, 0.5), x);
            assert_eq!(ev(x, y, -0.5), y);
            assert_eq!(ev(x, y, 1.0), x);
        }
        // |t| < α: the output mixes x and y
        let mixed = ev(-2.0, 2.0, 0.25);
        assert!(mixed != -2.0 && mixed != 2.0, "{mixed}");
    }
}
