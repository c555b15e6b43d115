//! The position-key memory (proofs/copy-linear.md construction 1): one SSM layer per read port
//! with state `N = len`, `Δ = softplus(0) = ln 2`, keys `B_j = e_j/Δ` from one-hot positional
//! features, query `C_t = e_{p(t)}` (the port's one-hot query), `u = value`, and no forgetting
//! (`A = 0`) or `a = 1 − η` (`A = ln(1−η)/Δ < 0`, the reference's constraint).
//!
//! **Bound**: `h_t[j] = a^{t−j}·u_j`, so the read is `a^{t−p}u_p`: exact for `A = 0`, off by at
//! most `σ(1 − (1−η)^n)` for reads at distance `≤ n`. With a decoded query whose entries are
//! off by at most `e_q` (smooth units), the read errs by at most `len·σ·e_q` more.

use super::{Memory, MemoryIo, MemoryParams, OneHotQuery, QueryFeed, ReadPlan, Residual};
use crate::error::{Error, Result};
use crate::gadgets::relu::ReluUnit;
use crate::gadgets::Circuit;
use crate::model::{Activation, Block, Layer, PosKind, PositionalFeature, SparseMatrix, SsmLayer};
use crate::num::{zeros, Ball, Real, Scalar};
use rug::Float;
use serde::Serialize;

/// Largest T the position-key memory with a decoded query is built for (its state and its
/// query decoder grow as T per port).
pub const MAX_POSITION_MEMORY_T: usize = 4_000;

/// Decay of the position-key memory.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum KeyDecay {
    /// `A = 0`: `a = 1`, no forgetting.
    None,
    /// `A = ln(1−η)/Δ < 0`: `a = 1 − η` (the reference's `A < 0`).
    Eta(f64),
}

#[derive(Clone, Debug)]
struct Planned {
    io: MemoryIo,
    len: usize,
    steps: usize,
    key: Block,
    query: OneHotQuery,
}

/// The position-key memory (module docs).
#[derive(Clone, Debug)]
pub struct PositionKeyMemory {
    pub name: String,
    pub feed: QueryFeed,
    pub decay: KeyDecay,
    planned: Option<Planned>,
}

impl PositionKeyMemory {
    pub fn new(name: &str, feed: QueryFeed, decay: KeyDecay) -> Result<Self> {
        if let KeyDecay::Eta(eta) = decay {
            if !(eta > 0.0 && eta < 1.0) {
                return Err(Error::input(format!("η must lie in (0, 1) (got {eta})")));
            }
        }
        Ok(PositionKeyMemory {
            name: name.to_string(),
            feed,
            decay,
            planned: None,
        })
    }

    /// The catalog's constructor ([`super::MemoryKind::build`]): refuses a decoded query
    /// beyond [`MAX_POSITION_MEMORY_T`] positions.
    pub fn from_params(p: &MemoryParams, decay: KeyDecay) -> Result<Self> {
        if p.feed == QueryFeed::Decoded && p.len > MAX_POSITION_MEMORY_T {
            return Err(Error::input(format!(
                "{} has T = {}, too large for the position-key memory (at most {MAX_POSITION_MEMORY_T})",
                p.context, p.len
            )));
        }
        PositionKeyMemory::new(p.name, p.feed, decay)
    }

    fn planned(&self) -> &Planned {
        self.planned
            .as_ref()
            .expect("the position-key memory is planned before it is built")
    }

    /// The SSM layer of port `r` (Δ = ln 2 for every step).
    fn ssm<S: Scalar>(&self, r: usize, width: usize, prec: u32) -> SsmLayer<S> {
        let p = self.planned();
        let n = p.len;
        let wp = prec.max(53) + 32;
        let delta = Float::with_val(wp, 2).ln();
        let inv_delta = S::from_real(&Real(Float::with_val(wp, 1) / &delta), prec);
        let one = S::one(prec);
        let a_val = match self.decay {
            KeyDecay::None => S::zero(prec),
            KeyDecay::Eta(eta) => {
                let l = Float::with_val(wp, -eta).ln_1p();
                S::from_real(&Real(l / &delta), prec)
            }
        };
        let a = vec![a_val; n];
        let decay = SsmLayer::detect_decay(&a, 1, n);
        let entries = |b: &Block, w: &S| -> Vec<(usize, usize, S)> {
            b.coords()
                .enumerate()
                .map(|(j, c)| (j, c.index(), w.clone()))
                .collect()
        };
        SsmLayer {
            name: format!("{}.position{r}", self.name),
            width,
            channels: 1,
            state: n,
            w_delta: SparseMatrix::zeros(1, width),
            b_delta: zeros(1, prec),
            w_b: SparseMatrix::from_entries(n, width, entries(&p.key, &inv_delta)),
            w_c: SparseMatrix::from_entries(n, width, entries(&p.query.blocks[r], &one)),
            w_u: SparseMatrix::from_entries(1, width, vec![(0, p.io.value.index(), one.clone())]),
            a,
            d_skip: zeros(1, prec),
            gate: None,
            w_o: SparseMatrix::from_entries(width, 1, vec![(p.io.read.at(r).index(), 0, one)]),
            decay,
        }
    }
}

/// The one formula of the decay bound, in any arithmetic: `σ(1 − (1−η)^n)` (0 for `n = 0` or
/// `η = 0`), with `(1−η)^n = e^{n·ln(1−η)}`.
pub fn decay_read_bound<T: Scalar>(sigma: &T, eta: &T, n: usize) -> T {
    let prec = sigma.precision();
    if n == 0 || eta.is_zero() {
        return T::zero(prec);
    }
    let kept = eta.neg().ln_1p().mul(&T::from_i64(n as i64, prec)).exp();
    T::one(prec).sub(&kept).mul(sigma)
}

/// [`decay_read_bound`] as an f64 bound: the upper end of its ball enclosure at 256 bits, rounded
/// up and widened by a relative `2^−49` (a few f64 ulps): the bound is attained (a value σ read
/// at the largest distance), so a bound rounded to nearest could be failed by the last bit.
fn decay_bound(sigma: f64, eta: f64, n: usize) -> f64 {
    let wp = 256;
    let b = decay_read_bound(&Ball::from_f64(sigma, wp), &Ball::from_f64(eta, wp), n);
    b.upper().to_f64_round(rug::float::Round::Up) * (1.0 + 2f64.powi(-49))
}

impl<S: Scalar> Memory<S> for PositionKeyMemory {
    fn kind(&self) -> &'static str {
        "position"
    }

    fn plan(&mut self, res: &mut Residual, io: &MemoryIo, plan: &ReadPlan) -> Result<()> {
        let len = plan.len;
        let key = res.layout.block(
            &format!("{}_key", self.name),
            len,
            "one-hot position j (keys B_j = e_j/Δ)",
        );
        for (j, c) in key.coords().enumerate() {
            res.positional.push(PositionalFeature {
                coord: c.index(),
                kind: PosKind::Equals { at: j + 1 },
            });
        }
        let query = OneHotQuery::plan(res, &self.name, plan, len, self.feed, |p| p - 1)?;
        self.planned = Some(Planned {
            io: io.clone(),
            len,
            steps: plan.max_distance(),
            key,
            query,
        });
        Ok(())
    }

    fn circuits(&self) -> Vec<&Circuit> {
        self.planned().query.decode.iter().collect()
    }

    fn layers(&self, width: usize, unit: &ReluUnit<S>) -> Result<Vec<Layer<S>>> {
        let p = self.planned();
        let prec = unit.lambda.precision();
        let mut layers = p.query.layers(width, unit, &self.name)?;
        for r in 0..p.query.blocks.len() {
            layers.push(Layer::Ssm(self.ssm::<S>(r, width, prec)));
        }
        Ok(layers)
    }

    fn error_bound(&self, act: Activation, lambda: f64) -> f64 {
        let p = self.planned();
        let sigma = p.io.value_bound;
        let exact = match self.decay {
            KeyDecay::None => 0.0,
            KeyDecay::Eta(eta) => decay_bound(sigma, eta, p.steps),
        };
        exact + p.len as f64 * sigma * p.query.entry_error(act, lambda)
    }

    fn certified_error_bound(&self, prec: u32) -> Result<Ball> {
        // With ReLU units a decoded one-hot query is exact: the bound is the decay term alone.
        let p = self.planned();
        let sigma = Ball::from_f64(p.io.value_bound, prec);
        Ok(match self.decay {
            KeyDecay::None => Ball::zero(prec),
            KeyDecay::Eta(eta) => decay_read_bound(&sigma, &Ball::from_f64(eta, prec), p.steps),
        })
    }

    fn bound_attained(&self) -> bool {
        matches!(self.decay, KeyDecay::Eta(_))
    }

    fn params(&self) -> (f64, f64) {
        match self.decay {
            KeyDecay::None => (0.0, 0.0),
            KeyDecay::Eta(eta) => (eta, 0.0),
        }
    }

    fn state(&self) -> usize {
        self.planned
            .as_ref()
            .map_or(0, |p| p.len * p.query.blocks.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decay_bound_is_rounded_up_and_grows_with_the_distance() {
        let (sigma, eta) = (15.0, 1e-3);
        for n in [1usize, 10, 255, 4096] {
            let b = decay_bound(sigma, eta, n);
            assert!(b >= sigma * (1.0 - (1.0 - eta).powi(n as i32)) * (1.0 - 1e-15));
            assert!(b > decay_bound(sigma, eta, n.saturating_sub(1)) || n == 1);
        }
        assert_eq!(decay_bound(sigma, eta, 0), 0.0);
        assert!(PositionKeyMemory::new("m", QueryFeed::Positional, KeyDecay::Eta(1.0)).is_err());
    }
}
