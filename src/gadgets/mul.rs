//! `mlp-mul` (proofs/mlp-mul.md): `ab` on `[−M,M]²` by four GeLU units.
//!
//! `ĝ(a,b) = (√(π/2) λ²/4)[GeLU(s) + GeLU(−s) − GeLU(d) − GeLU(−d)]`, `s = (a+b)/λ`, `d = (a−b)/λ`.
//! With `g(x) = √(π/2)·x·erf(x/√2) = Σ_n (−1)^n x^{2n+2}/(2^n n! (2n+1)) = x² − x⁴/6 + R(x)`,
//! the series of `R` and of `R'` are alternating with decreasing terms for `|x| ≤ 2`, so there
//! `0 ≤ R(x) ≤ x⁶/40` and `R` is nondecreasing in `|x|`. Whenever `|a| + |b| ≤ 2λ`,
//! `ĝ − ab = sgn(ab)·(−L + Q')` with `L = |ab|(a²+b²)/(3λ²)` and
//! `Q' = (λ²/4)|R(s) − R(d)| ∈ [0, Q]`, `Q = (|a|+|b|)⁶/(160λ⁴)` (as `|s| > |d|` iff `ab > 0`).
//! The two corrections have opposite signs, so
//! `|ĝ − ab| ≤ max(L, Q)`                                  (pointwise bound)
//! `        ≤ max(2M⁴/(3λ²), 2M⁶/(5λ⁴)) = 2M⁴/(3λ²)`  on `[−M,M]²`, `λ ≥ M`   (uniform bound):
//! The original specification's leading-order bound is rigorous for `λ ≥ M`.

use super::{check_coords, check_out_not_input, check_positive};
use crate::error::{Error, Result};
use crate::model::{Activation, Coord, Layout, MlpBuilder, MlpLayer};
use crate::num::Scalar;

/// The output weight `√(π/2)·λ²/4`, at the working precision.
pub fn output_weight<S: Scalar>(lambda: &S) -> S {
    let p = lambda.precision();
    S::sqrt_half_pi(p)
        .mul(lambda)
        .mul(lambda)
        .mul(&S::from_ratio(1, 4, p))
}

/// Add the four GeLU units computing `a·b` into `out` (the layer must use GeLU).
/// Returns the unit indices `[s+, s−, d+, d−]`.
pub fn add_mul<S: Scalar>(
    b: &mut MlpBuilder<S>,
    name: &str,
    a: Coord,
    bb: Coord,
    out: Coord,
    lambda: &S,
) -> Result<[usize; 4]> {
    let (a, bb, out) = (a.index(), bb.index(), out.index());
    check_coords(b, "mlp-mul", &[a, bb, out])?;
    check_out_not_input("mlp-mul", &[out], &[a, bb])?;
    check_positive("the scale λ of mlp-mul", lambda)?;
    if a == bb {
        return Err(Error::input(
            "mlp-mul needs two distinct input coordinates (for a², copy a first)",
        ));
    }
    let p = b.prec();
    let inv = S::one(p).div(lambda);
    let ninv = inv.neg();
    let w = output_weight(lambda);
    let nw = w.neg();
    let units = [
        ("sum+", inv.clone(), inv.clone(), &w),
        ("sum-", ninv.clone(), ninv.clone(), &w),
        ("diff+", inv.clone(), ninv.clone(), &nw),
        ("diff-", ninv.clone(), inv.clone(), &nw),
    ];
    let mut idx = [0; 4];
    for (k, (tag, wa, wb, wo)) in units.into_iter().enumerate() {
        let u = b.unit(format!("{name}.{tag}"), vec![(a, wa), (bb, wb)], S::zero(p));
        b.write(u, out, wo.clone());
        idx[k] = u;
    }
    Ok(idx)
}

/// Pointwise rigorous bound `max(|ab|(a²+b²)/(3λ²), (|a|+|b|)⁶/(160λ⁴))`; valid (and returned)
/// only when `|a| + |b| ≤ 2λ`, otherwise an input error says the hypothesis fails.
pub fn pointwise_bound<S: Scalar>(a: &S, b: &S, lambda: &S) -> Result<S> {
    let p = lambda.precision();
    let (aa, ba) = (a.abs(), b.abs());
    let sum = aa.add(&ba);
    if !lambda.mul(&S::from_i64(2, p)).certainly_ge(&sum) {
        return Err(Error::input(format!(
            "mlp-mul bound needs |a| + |b| ≤ 2λ (got |a|+|b| = {}, λ = {})",
            sum.to_f64(),
            lambda.to_f64()
        )));
    }
    let l2 = lambda.mul(lambda);
    let lead = aa
        .mul(&ba)
        .mul(&aa.mul(&aa).add(&ba.mul(&ba)))
        .div(&l2.mul(&S::from_i64(3, p)));
    let s2 = sum.mul(&sum);
    let rem = s2
        .mul(&s2)
        .mul(&s2)
        .div(&l2.mul(&l2).mul(&S::from_i64(160, p)));
    Ok(lead.max_s(&rem))
}

/// Uniform rigorous bound on `[−M,M]²`: `2M⁴/(3λ²)`, valid for `λ ≥ M` (where it dominates
/// `2M⁶/(5λ⁴)`, the uniform remainder).
pub fn uniform_bound<S: Scalar>(m: &S, lambda: &S) -> Result<S> {
    let p = lambda.precision();
    check_positive("M", m)?;
    if !lambda.certainly_ge(m) {
        return Err(Error::input(format!(
            "mlp-mul's uniform bound needs λ ≥ M (got λ = {}, M = {})",
            lambda.to_f64(),
            m.to_f64()
        )));
    }
    let m2 = m.mul(m);
    Ok(m2
        .mul(&m2)
        .div(&lambda.mul(lambda))
        .mul(&S::from_ratio(2, 3, p)))
}

/// The scale that guarantees error `ε` on `[−M,M]²`: `λ = max(M, M²·√(2/(3ε)))`
/// (then the uniform bound `2M⁴/(3λ²)` is `≤ ε`). The output weight `√(π/2)λ²/4` is then
/// `√(π/2)M⁴/(6ε)` (when `M²√(2/(3ε)) ≥ M`): `Θ(M⁴/ε)`.
pub fn lambda_for<S: Scalar>(m: &S, eps: &S) -> Result<S> {
    check_positive("M", m)?;
    check_positive("the target error ε", eps)?;
    let p = m.precision().max(eps.precision());
    let l = m.mul(m).mul(&S::from_ratio(2, 3, p).div(eps).sqrt());
    Ok(l.max_s(m))
}

/// A standalone `mlp-mul` layer on the residual stream `[a, b, out]`.
pub fn standalone<S: Scalar>(lambda: &S, prec: u32) -> Result<MlpLayer<S>> {
    let mut lay = Layout::new();
    let a = lay.coord("a", "first factor");
    let bb = lay.coord("b", "second factor");
    let out = lay.coord("out", "≈ ab");
    let mut b = MlpBuilder::new(lay.width(), prec);
    add_mul(&mut b, "mlp-mul", a, bb, out, lambda)?;
    Ok(b.build("mlp-mul", Activation::Gelu))
}
