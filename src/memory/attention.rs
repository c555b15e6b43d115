//! The attention memory (the keys of proofs/copy-attn.md, used by the DP compiler as the
//! Transformer baseline): one softmax head per read port, keys `(j, j², 1)` from positional
//! features, query `(2λp, −λ, −λp²)` with `p` the port's pointer feature, so the score of
//! position `j` is `−λ(j − p)² + const`; the value is the stored value.
//!
//! **Bound**: the weight off the target is at most `Σ_{d≠0} e^{−λd²} ≤ 2e^{−λ}/(1 − e^{−λ})`, so
//! `|read − v_p| ≤ σ·2e^{−λ}/(1 − e^{−λ})`; [`AttentionParams::for_accuracy`] takes
//! `λ = ln(2 + 2σ/ε)`, which makes it `2σε/(2σ + ε) < ε` (with `e^{−λ} = ε/(2σ + 2ε)`).

use super::{Memory, MemoryIo, MemoryParams, ReadPlan, Residual};
use crate::error::{Error, Result};
use crate::gadgets::relu::ReluUnit;
use crate::gadgets::Circuit;
use crate::model::{
    Activation, AttentionHead, AttentionLayer, Coord, Layer, PosKind, PositionalFeature,
    SparseMatrix,
};
use crate::num::{Ball, Scalar};

/// The score scale λ.
#[derive(Clone, Copy, Debug)]
pub struct AttentionParams {
    pub lambda: f64,
}

impl AttentionParams {
    /// `λ = ln(2 + 2σ/ε)`: the read is then within `2σε/(2σ + ε) < ε` (module docs).
    pub fn for_accuracy(sigma: f64, eps: f64) -> Result<Self> {
        if !(sigma > 0.0 && eps > 0.0 && sigma.is_finite() && eps.is_finite()) {
            return Err(Error::input(format!(
                "the attention memory needs σ, ε > 0 (got σ = {sigma}, ε = {eps})"
            )));
        }
        Ok(AttentionParams {
            lambda: (2.0 + 2.0 * sigma / eps).ln(),
        })
    }
    /// `σ·2e^{−λ}/(1 − e^{−λ})` in f64.
    pub fn error_bound(&self, sigma: f64) -> f64 {
        self.error_bound_in(&sigma)
    }
    /// The one formula of the bound, in any arithmetic: `σ·2e^{−λ}/(1 − e^{−λ})`.
    pub fn error_bound_in<T: Scalar>(&self, sigma: &T) -> T {
        let prec = sigma.precision();
        let e = T::from_f64(-self.lambda, prec).exp();
        sigma
            .mul(&T::from_i64(2, prec))
            .mul(&e)
            .div(&T::one(prec).sub(&e))
    }
}

/// The positional key features `(j, j², 1)` of the quadratic-score head.
#[derive(Clone, Copy, Debug)]
pub struct QuadraticKeys {
    pub pos: Coord,
    pub pos_sq: Coord,
    pub one: Coord,
}

/// The one quadratic-score head (also `copy-attn`'s): keys `(j, j², 1)`, query
/// `(2λp, −λ, −λp²)` from the target features `(p, p²)`, so the score is `−λ(j − p)² + const`;
/// it reads `value` and writes `out`.
pub fn quadratic_head<S: Scalar>(
    width: usize,
    keys: &QuadraticKeys,
    target: (Coord, Coord),
    value: Coord,
    out: Coord,
    lambda: &S,
) -> AttentionHead<S> {
    let prec = lambda.precision();
    let one = S::one(prec);
    let neg = lambda.neg();
    AttentionHead {
        w_q: SparseMatrix::from_entries(
            3,
            width,
            vec![
                (0, target.0.index(), lambda.mul(&S::from_i64(2, prec))),
                (1, keys.one.index(), neg.clone()),
                (2, target.1.index(), neg),
            ],
        ),
        w_k: SparseMatrix::from_entries(
            3,
            width,
            vec![
                (0, keys.pos.index(), one.clone()),
                (1, keys.pos_sq.index(), one.clone()),
                (2, keys.one.index(), one.clone()),
            ],
        ),
        w_v: SparseMatrix::from_entries(1, width, vec![(0, value.index(), one.clone())]),
        w_o: SparseMatrix::from_entries(width, 1, vec![(out.index(), 0, one)]),
    }
}

#[derive(Clone, Debug)]
struct Planned {
    io: MemoryIo,
    params: AttentionParams,
    pos: Coord,
    pos_sq: Coord,
    ptr: Vec<(Coord, Coord)>,
}

/// The attention memory (module docs).
#[derive(Clone, Debug)]
pub struct AttentionMemory {
    pub name: String,
    /// A fixed λ (to test the hypotheses); default [`AttentionParams::for_accuracy`].
    pub lambda_override: Option<f64>,
    planned: Option<Planned>,
}

impl AttentionMemory {
    pub fn new(name: &str) -> Self {
        AttentionMemory {
            name: name.to_string(),
            lambda_override: None,
            planned: None,
        }
    }
    /// The catalog's constructor ([`super::MemoryKind::build`]): the override fixes λ.
    pub fn from_params(p: &MemoryParams) -> Self {
        let mut m = AttentionMemory::new(p.name);
        m.lambda_override = p.overrides.map(|o| o.0);
        m
    }
    fn planned(&self) -> &Planned {
        self.planned
            .as_ref()
            .expect("the attention memory is planned before it is built")
    }
}

impl<S: Scalar> Memory<S> for AttentionMemory {
    fn kind(&self) -> &'static str {
        "attention"
    }

    fn plan(&mut self, res: &mut Residual, io: &MemoryIo, plan: &ReadPlan) -> Result<()> {
        let params = match self.lambda_override {
            Some(lambda) => AttentionParams { lambda },
            None => AttentionParams::for_accuracy(io.value_bound, io.accuracy)?,
        };
        let pos = res.layout.coord("pos", "position t");
        let pos_sq = res.layout.coord("pos_sq", "t²");
        res.positional.push(PositionalFeature {
            coord: pos.index(),
            kind: PosKind::Position,
        });
        res.positional.push(PositionalFeature {
            coord: pos_sq.index(),
            kind: PosKind::PositionSquared,
        });
        // a port with no read at t attends to t itself
        let target = |i: usize, r: usize| plan.targets[i][r].unwrap_or(i + 1) as i64;
        let mut ptr = Vec::new();
        for r in 0..plan.ports {
            let c = res
                .layout
                .coord(&format!("ptr{r}"), "position port r reads");
            let c2 = res.layout.coord(&format!("ptr{r}_sq"), "its square");
            let n = plan.targets.len();
            res.positional.push(PositionalFeature {
                coord: c.index(),
                kind: PosKind::Table {
                    values: (0..n).map(|i| target(i, r)).collect(),
                },
            });
            res.positional.push(PositionalFeature {
                coord: c2.index(),
                kind: PosKind::Table {
                    values: (0..n).map(|i| target(i, r) * target(i, r)).collect(),
                },
            });
            ptr.push((c, c2));
        }
        self.planned = Some(Planned {
            io: io.clone(),
            params,
            pos,
            pos_sq,
            ptr,
        });
        Ok(())
    }

    fn circuits(&self) -> Vec<&Circuit> {
        Vec::new()
    }

    fn layers(&self, width: usize, unit: &ReluUnit<S>) -> Result<Vec<Layer<S>>> {
        let p = self.planned();
        let lambda = S::from_f64(p.params.lambda, unit.lambda.precision());
        let keys = QuadraticKeys {
            pos: p.pos,
            pos_sq: p.pos_sq,
            one: p.io.one,
        };
        let heads = (p.ptr.iter().enumerate())
            .map(|(r, &target)| {
                quadratic_head(width, &keys, target, p.io.value, p.io.read.at(r), &lambda)
            })
            .collect();
        Ok(vec![Layer::Attention(AttentionLayer {
            name: format!("{}.attention", self.name),
            heads,
        })])
    }

    fn error_bound(&self, _act: Activation, _lambda: f64) -> f64 {
        let p = self.planned();
        p.params.error_bound(p.io.value_bound)
    }

    fn certified_error_bound(&self, prec: u32) -> Result<Ball> {
        let p = self.planned();
        Ok(p.params
            .error_bound_in(&Ball::from_f64(p.io.value_bound, prec)))
    }

    fn params(&self) -> (f64, f64) {
        (self.planned().params.lambda, 0.0)
    }

    fn state(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_for_accuracy_meets_it_and_a_smaller_lambda_does_not() {
        for (sigma, eps) in [(9.0, 0.0625), (1.0, 0.25), (255.0, 0.01)] {
            let p = AttentionParams::for_accuracy(sigma, eps).unwrap();
            let b = p.error_bound(sigma);
            let want = 2.0 * sigma * eps / (2.0 * sigma + eps);
            assert!((b - want).abs() <= 1e-12 * eps && b < eps, "{b} vs {eps}");
            let weak = AttentionParams {
                lambda: p.lambda - 0.75,
            };
            assert!(weak.error_bound(sigma) > eps);
        }
        assert!(AttentionParams::for_accuracy(0.0, 0.1).is_err());
    }
}
