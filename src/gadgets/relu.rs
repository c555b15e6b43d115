//! `mlp-relu` (proofs/mlp-relu.md): `ReLU(z)` by `φ(λz)/λ` for a smooth activation φ.
//!
//! Exact identity (both activations): `φ(λz)/λ − ReLU(z) = −|z|·τ(λ|z|)` with the tail
//! `τ(t) = Φ(−t)` for GeLU and `τ(t) = σ(−t)` for SiLU. Hence `sup_z |error| = c/λ`,
//! `c = max_{t≥0} t·τ(t)`, attained at `|z| = t*/λ`; and for `|z| ≥ 1`, `λ ≥ t*` the error is at
//! most `τ(λ)` (exponentially small), since `t·τ(t)` decreases for `t ≥ t*`.

use super::circuit::Circuit;
use super::{check_out_not_input, check_positive};
use crate::error::{Error, Result};
use crate::model::{Activation, Coord, Layout, MlpBuilder, MlpLayer};
use crate::num::{Real, Scalar};
use rug::Float;

/// The tail `τ(t)`: `Φ(−t)` (GeLU), `σ(−t)` (SiLU), `0` (ReLU, exact).
pub fn tail<S: Scalar>(act: Activation, t: &S) -> S {
    match act {
        Activation::Relu => S::zero(t.precision()),
        Activation::Gelu => t.neg().normal_cdf(),
        Activation::Silu => t.neg().sigmoid(),
    }
}

/// The exact error magnitude of one unit: `|φ(λv)/λ − ReLU(v)| = |v|·τ(λ|v|)`.
pub fn unit_error<S: Scalar>(act: Activation, lambda: &S, v: &S) -> S {
    let a = v.abs();
    tail(act, &a.mul(lambda)).mul(&a)
}

/// The sharp constant of `mlp-relu`: `c = max_t t·τ(t)` and its maximiser `t*`.
#[derive(Clone, Debug)]
pub struct SupConstant<S> {
    pub t_star: S,
    pub c: S,
    /// Newton iterations used.
    pub iterations: usize,
}

/// Solve the stationarity equation by Newton's method at `prec + 32` bits, then round:
/// GeLU: `Φ(−t) = t·φ(t)` (derivative `φ(t)(t²−2)`); SiLU: `t·σ(t) = 1`, i.e. `t − 1 − e^{−t} = 0`.
/// ReLU has no error: `c = 0`, `t* = 0`.
pub fn sup_constant<S: Scalar>(act: Activation, prec: u32) -> SupConstant<S> {
    let wp = S::effective_precision(prec).max(53) + 32;
    let f = |x: f64| Real(Float::with_val(wp, x));
    let mut t = match act {
        Activation::Relu => {
            return SupConstant {
                t_star: S::zero(prec),
                c: S::zero(prec),
                iterations: 0,
            }
        }
        Activation::Gelu => f(0.75),
        Activation::Silu => f(1.28),
    };
    let two_pi_sqrt = {
        let mut v = Real::pi(wp);
        v.mul_assign_s(&f(2.0));
        v.sqrt_mut();
        v
    };
    let mut iterations = 0;
    let tol = Real(Float::with_val(wp, Float::i_exp(1, 4 - wp as i32)));
    for _ in 0..200 {
        iterations += 1;
        let (val, der) = match act {
            Activation::Gelu => {
                // φ(t) = e^{-t²/2}/√(2π)
                let mut phi = t.mul(&t);
                phi.mul_assign_s(&f(-0.5));
                phi.exp_mut();
                phi.div_assign_s(&two_pi_sqrt);
                let val = t.neg().normal_cdf().sub(&t.mul(&phi));
                let der = phi.mul(&t.mul(&t).sub(&f(2.0)));
                (val, der)
            }
            _ => {
                let e = t.neg().exp();
                (t.sub(&f(1.0)).sub(&e), f(1.0).add(&e))
            }
        };
        let step = val.div(&der);
        t.sub_assign_s(&step);
        if step.abs() <= tol.mul(&t) {
            break;
        }
    }
    let c = tail(act, &t).mul(&t);
    SupConstant {
        t_star: S::from_real(&t, prec),
        c: S::from_real(&c, prec),
        iterations,
    }
}

/// A ReLU-type hidden unit: exact `ReLU(v)` (λ = 1), or `φ(λv)/λ` for GeLU/SiLU.
#[derive(Clone, Debug)]
pub struct ReluUnit<S> {
    pub act: Activation,
    pub lambda: S,
    inv_lambda: S,
}

impl<S: Scalar> ReluUnit<S> {
    /// Exact ReLU units.
    pub fn exact(prec: u32) -> Self {
        ReluUnit {
            act: Activation::Relu,
            lambda: S::one(prec),
            inv_lambda: S::one(prec),
        }
    }
    /// Units of activation `act` at scale `λ > 0` (for ReLU, λ only rescales and changes nothing).
    pub fn new(act: Activation, lambda: S) -> Result<Self> {
        check_positive("the scale λ", &lambda)?;
        let inv_lambda = S::one(lambda.precision()).div(&lambda);
        Ok(ReluUnit {
            act,
            lambda,
            inv_lambda,
        })
    }
    /// Add a unit computing (approximately) `ReLU(Σ w·x[c] + bias)`; returns its index.
    pub fn unit(
        &self,
        b: &mut MlpBuilder<S>,
        name: impl Into<String>,
        inputs: Vec<(usize, S)>,
        bias: S,
    ) -> usize {
        let inputs = inputs
            .into_iter()
            .map(|(c, w)| (c, w.mul(&self.lambda)))
            .collect();
        b.unit(name, inputs, bias.mul(&self.lambda))
    }
    /// Add `w · ReLU(unit)` to residual coordinate `coord`.
    pub fn write(&self, b: &mut MlpBuilder<S>, unit: usize, coord: usize, w: &S) {
        b.write(unit, coord, w.mul(&self.inv_lambda));
    }
    /// Exact error magnitude of one unit whose pre-activation (before λ) is `v`.
    pub fn error_at(&self, v: &S) -> S {
        unit_error(self.act, &self.lambda, v)
    }
    /// `sup_v` of the unit error: `c/λ`.
    pub fn sup_error(&self) -> S {
        sup_constant::<S>(self.act, self.lambda.precision())
            .c
            .mul(&self.inv_lambda)
    }
    /// Error bound of one unit on pre-activations with `|v| ≥ r` (or `v = 0`), `r > 0`:
    /// `r·τ(λr)` when `λr ≥ t*` (then `t·τ(t)` decreases), otherwise the uniform `c/λ`.
    pub fn error_beyond(&self, r: &S) -> S {
        error_beyond(self.act, &self.lambda, r)
    }
}

/// `sup_{|v| ≥ r} |φ(λv)/λ − ReLU(v)|` for `r > 0`: `r·τ(λr)` when `λr ≥ t*` (there `t·τ(t)`
/// decreases), otherwise the global supremum `c/λ`; `0` for ReLU. The one helper behind
/// [`ReluUnit::error_beyond`] and the DP compiler's bounds.
pub fn error_beyond<S: Scalar>(act: Activation, lambda: &S, r: &S) -> S {
    let sc = sup_constant::<S>(act, lambda.precision());
    let lr = lambda.mul(r);
    // the tail form holds only where λr ≥ t* is certain; the global bound holds everywhere
    if lr.certainly_ge(&sc.t_star) {
        tail(act, &lr).mul(r)
    } else {
        sc.c.div(lambda)
    }
}

/// [`error_beyond`] in f64, for the circuits' forward error bounds.
pub fn error_beyond_f64(act: Activation, lambda: f64, r: f64) -> f64 {
    error_beyond::<f64>(act, &lambda, &r)
}

/// Add `ReLU(z)` (through `unit`) to coordinate `out`: the one-unit circuit [`Circuit::relu`],
/// emitted into `b`. Returns the unit's index in `b`.
pub fn add_relu<S: Scalar>(
    b: &mut MlpBuilder<S>,
    name: &str,
    z: Coord,
    out: Coord,
    unit: &ReluUnit<S>,
) -> Result<usize> {
    check_out_not_input("mlp-relu", &[out.index()], &[z.index()])?;
    let mut c = Circuit::new();
    let x = c.input("z", z, f64::NEG_INFINITY, f64::INFINITY);
    let r = c.relu(format!("{name}.relu"), x);
    c.sink(format!("{name}.out"), out, r)?;
    Ok(c.emit(b, unit)?[0])
}

/// A standalone `mlp-relu` layer on a residual stream `[z, out]`.
pub fn standalone<S: Scalar>(act: Activation, lambda: S, prec: u32) -> Result<MlpLayer<S>> {
    if act == Activation::Relu {
        return Err(Error::input(
            "mlp-relu approximates ReLU by a smooth activation: choose gelu or silu",
        ));
    }
    let unit = ReluUnit::new(act, lambda)?;
    let mut lay = Layout::new();
    let z = lay.coord("z", "input");
    let out = lay.coord("out", "ReLU(z)");
    let mut b = MlpBuilder::new(lay.width(), prec);
    add_relu(&mut b, "mlp-relu", z, out, &unit)?;
    Ok(b.build("mlp-relu", act))
}
