//! `copy-attn`: softmax attention copies with a score gap logarithmic in T (proofs/copy-attn.md).
//!
//! Two one-head constructions on a named residual stream:
//! - [`AttnKind::Quadratic`] (Feng et al. Lemma C.7 style): keys `(j, j², 1)` from positional
//!   features, query `(2λp, −λ, −λp²)` from the query token's target features, so
//!   `e_{i,j} = −λ(j − p)²`: gap λ, width 3 for every T.
//! - [`AttnKind::Flat`]: the adversarial score pattern of the necessary bound — a `marker`
//!   coordinate (1 at the target) as key and the query `γ`, so `e_{i,p} = γ` and every other score
//!   is 0.

use crate::error::{Error, Result};
use crate::memory::{quadratic_head, QuadraticKeys};
use crate::model::{AttentionHead, AttentionLayer, AttentionState, Layout, SparseMatrix};
use crate::num::{zeros, Real, Scalar};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AttnKind {
    Quadratic,
    Flat,
}

/// Residual layout shared by both constructions.
pub fn attn_layout() -> Layout {
    let mut l = Layout::new();
    l.add1("value", "u_j");
    l.add1("pos", "positional feature j");
    l.add1("pos_sq", "positional feature j²");
    l.add1("one", "the constant 1");
    l.add1("target", "p(i), on the query token");
    l.add1("target_sq", "p(i)², on the query token");
    l.add1("marker", "1 on the target token (flat construction)");
    l.add1("query_flag", "1 on the query token (flat construction)");
    l.add1("out", "attention output o_i");
    l
}

/// The one-head layer for gap `gap` (λ for quadratic, γ for flat).
pub fn build_layer<S: Scalar>(kind: AttnKind, gap: &Real, prec: u32) -> Result<AttentionLayer<S>> {
    let l = attn_layout();
    let w = l.width();
    let at = |n: &str| l.at(n, 0);
    let g = S::from_real(gap, prec);
    let one = S::one(prec);
    let c = |n: &str| l.coord_of(n);
    let head = match kind {
        // the attention memory's head (crate::memory::attention)
        AttnKind::Quadratic => quadratic_head(
            w,
            &QuadraticKeys {
                pos: c("pos")?,
                pos_sq: c("pos_sq")?,
                one: c("one")?,
            },
            (c("target")?, c("target_sq")?),
            c("value")?,
            c("out")?,
            &g,
        ),
        AttnKind::Flat => AttentionHead {
            w_q: SparseMatrix::from_entries(1, w, vec![(0, at("query_flag")?, g)]),
            w_k: SparseMatrix::from_entries(1, w, vec![(0, at("marker")?, one.clone())]),
            w_v: SparseMatrix::from_entries(1, w, vec![(0, at("value")?, one.clone())]),
            w_o: SparseMatrix::from_entries(w, 1, vec![(at("out")?, 0, one)]),
        },
    };
    Ok(AttentionLayer {
        name: format!("copy-attn {kind:?}"),
        heads: vec![head],
    })
}

/// The one-head layer as a `Model` (inputs are real vectors), for `summary()` and `export()`.
pub fn as_model<S: Scalar>(
    kind: AttnKind,
    gap: &Real,
    prec: u32,
) -> Result<crate::model::Model<S>> {
    let layout = attn_layout();
    let w = layout.width();
    Ok(crate::model::Model {
        name: format!("copy-attn {kind:?}"),
        layout,
        vocab: Vec::new(),
        token_embedding: SparseMatrix::zeros(0, w),
        positional: Vec::new(),
        layers: vec![crate::model::Layer::Attention(build_layer(
            kind, gap, prec,
        )?)],
        readout: SparseMatrix::zeros(0, w),
        readout_bias: Vec::new(),
        prec,
    })
}

/// The residual inputs `x_1..x_T` (T = `values.len()`): value, position j and j², the constant
/// 1, the target marker; the query (last) position also carries p(i), p(i)² and its flag.
pub fn input_vectors<S: Scalar>(values: &[f64], target: usize, prec: u32) -> Result<Vec<Vec<S>>> {
    let len = values.len();
    if len < 2 {
        return Err(Error::input(format!(
            "the sequence length T must be at least 2 (got {len})"
        )));
    }
    if target == 0 || target > len {
        return Err(Error::input(format!(
            "target position {target} is outside the sequence 1..={len}"
        )));
    }
    let l = attn_layout();
    let idx = |n: &str| l.at(n, 0);
    let (v, pos, pos_sq, one) = (idx("value")?, idx("pos")?, idx("pos_sq")?, idx("one")?);
    let (tg, tg_sq, marker, qf) = (
        idx("target")?,
        idx("target_sq")?,
        idx("marker")?,
        idx("query_flag")?,
    );
    Ok((1..=len)
        .map(|j| {
            let mut x: Vec<S> = zeros(l.width(), prec);
            x[v] = S::from_f64(values[j - 1], prec);
            x[pos] = S::from_i64(j as i64, prec);
            x[pos_sq] = S::from_i64((j * j) as i64, prec);
            x[one] = S::one(prec);
            if j == target {
                x[marker] = S::one(prec);
            }
            if j == len {
                x[tg] = S::from_i64(target as i64, prec);
                x[tg_sq] = S::from_i64((target * target) as i64, prec);
                x[qf] = S::one(prec);
            }
            x
        })
        .collect())
}

/// The KV cache of positions `1..i−1` and the query token `x_i` (the cache does not depend on
/// the gap, only the query does).
pub struct AttnPrepared<S: Scalar> {
    pub kind: AttnKind,
    pub len: usize,
    pub target: usize,
    pub target_value: f64,
    cache: AttentionState<S>,
    x_last: Vec<S>,
    prec: u32,
}

impl<S: Scalar> AttnPrepared<S> {
    pub fn new(kind: AttnKind, values: &[f64], target: usize, prec: u32) -> Result<Self> {
        let len = values.len();
        let layer: AttentionLayer<S> = build_layer(kind, &Real::with_prec(prec.max(2)), prec)?;
        let mut cache = layer.new_state(prec);
        let head = &layer.heads[0];
        let mut xs = input_vectors::<S>(values, target, prec)?;
        let x_last = xs.pop().expect("at least two positions");
        for x in xs {
            let mut k = zeros(head.w_k.rows, prec);
            head.w_k.mul_vec_into(&x, &mut k);
            let mut val = zeros(1, prec);
            head.w_v.mul_vec_into(&x, &mut val);
            cache.heads[0].keys.push(k);
            cache.heads[0].values.push(val);
        }
        Ok(AttnPrepared {
            kind,
            len,
            target,
            target_value: values[target - 1],
            cache,
            x_last,
            prec,
        })
    }

    /// `|o_i − u_p|` with gap `gap`, through the layer.
    pub fn error(&self, gap: &Real) -> Result<S> {
        let layer: AttentionLayer<S> = build_layer(self.kind, gap, self.prec)?;
        let mut st = self.cache.clone();
        let mut x = self.x_last.clone();
        layer.step(&mut st, &mut x);
        let out = attn_layout().at("out", 0)?;
        let mut e = x[out].clone();
        e.sub_assign_s(&S::from_f64(self.target_value, self.prec));
        e.abs_mut();
        Ok(e)
    }

    /// Smallest gap reaching `|o − u_p| ≤ ε`, by bisection on `[lo, hi]` to `tol` (absolute).
    pub fn minimal_gap(&self, eps: f64, mut lo: f64, mut hi: f64, tol: f64) -> Result<f64> {
        super::check_bisection(lo, hi, tol)?;
        let e = S::from_f64(eps, self.prec);
        let wp = self.prec.max(53) + 64;
        let ok = |g: f64| -> Result<bool> {
            Ok(e.certainly_ge(&self.error(&Real(rug::Float::with_val(wp, g)))?))
        };
        if !ok(hi)? {
            return Err(Error::compute(format!(
                "bisection: accuracy not reached at gap {hi}"
            )));
        }
        if ok(lo)? {
            return Ok(lo);
        }
        while hi - lo > tol {
            let mid = 0.5 * (lo + hi);
            if ok(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }
}

/// `log(2σ(i−1)/ε)`: the sufficient gap.
pub fn sufficient_gap(sigma: f64, eps: f64, i: usize) -> f64 {
    (2.0 * sigma * (i as f64 - 1.0) / eps).ln()
}

/// `log((i−1)(2σ/ε − 1))`: the necessary gap (adversarial instance).
pub fn necessary_gap(sigma: f64, eps: f64, i: usize) -> f64 {
    ((i as f64 - 1.0) * (2.0 * sigma / eps - 1.0)).ln()
}

/// Validate σ and ε for attention checks.
pub fn validate(sigma: f64, eps: f64) -> Result<()> {
    super::require_positive("σ", sigma)?;
    super::require_positive("ε", eps)?;
    if eps >= sigma {
        return Err(Error::input(format!(
            "ε = {eps} must be smaller than σ = {sigma}"
        )));
    }
    Ok(())
}
