//! Causal softmax attention with a KV cache (the Transformer side of the comparison).
//! Scores are `q·k` with no `1/√d` factor: constructions set the scale in the weights.

use super::sparse::SparseMatrix;
use crate::num::{zeros, Scalar};

#[derive(Clone, Debug)]
pub struct AttentionHead<S> {
    pub w_q: SparseMatrix<S>,
    pub w_k: SparseMatrix<S>,
    pub w_v: SparseMatrix<S>,
    pub w_o: SparseMatrix<S>,
}

#[derive(Clone, Debug)]
pub struct AttentionLayer<S> {
    pub name: String,
    pub heads: Vec<AttentionHead<S>>,
}

#[derive(Clone, Debug)]
pub struct HeadCache<S> {
    pub keys: Vec<Vec<S>>,
    pub values: Vec<Vec<S>>,
    q: Vec<S>,
    scores: Vec<S>,
    out: Vec<S>,
    tmp: S,
    norm: S,
    max: S,
}

#[derive(Clone, Debug)]
pub struct AttentionState<S> {
    pub heads: Vec<HeadCache<S>>,
    /// Σ over heads of `W_o·out`, added to the residual after every head has read it.
    delta: Vec<S>,
}

impl<S: Scalar> AttentionLayer<S> {
    pub fn new_state(&self, prec: u32) -> AttentionState<S> {
        AttentionState {
            heads: self
                .heads
                .iter()
                .map(|h| HeadCache {
                    keys: Vec::new(),
                    values: Vec::new(),
                    q: zeros(h.w_q.rows, prec),
                    scores: Vec::new(),
                    out: zeros(h.w_v.rows, prec),
                    tmp: S::zero(prec),
                    norm: S::zero(prec),
                    max: S::zero(prec),
                })
                .collect(),
            delta: Vec::new(),
        }
    }

    /// Append this token's key and value, attend over the cache, add `W_o·out` to `x`.
    pub fn step(&self, st: &mut AttentionState<S>, x: &mut [S]) {
        let prec = x.first().map(|v| v.precision()).unwrap_or(53);
        if st.delta.len() != x.len() {
            st.delta = zeros(x.len(), prec);
        }
        let delta = &mut st.delta;
        for d in delta.iter_mut() {
            d.set_i64(0);
        }
        for (h, c) in self.heads.iter().zip(st.heads.iter_mut()) {
            let mut k = zeros(h.w_k.rows, prec);
            h.w_k.mul_vec_into(x, &mut k);
            let mut v = zeros(h.w_v.rows, prec);
            h.w_v.mul_vec_into(x, &mut v);
            c.keys.push(k);
            c.values.push(v);
            h.w_q.mul_vec_into(x, &mut c.q);
            attend(c);
            h.w_o.mul_vec_add_into(&c.out, delta);
        }
        for (xi, d) in x.iter_mut().zip(delta.iter()) {
            xi.add_assign_s(d);
        }
    }

    pub fn nonzeros(&self) -> usize {
        self.heads
            .iter()
            .map(|h| h.w_q.nnz() + h.w_k.nnz() + h.w_v.nnz() + h.w_o.nnz())
            .sum()
    }
    pub fn max_abs_param(&self) -> f64 {
        self.heads
            .iter()
            .map(|h| {
                h.w_q
                    .max_abs()
                    .max(h.w_k.max_abs())
                    .max(h.w_v.max_abs())
                    .max(h.w_o.max_abs())
            })
            .fold(0.0, f64::max)
    }
    /// Operations at position `t` (1-based): projections plus `t` scores, exps and value sums.
    pub fn ops_per_step(&self, t: usize) -> u64 {
        let t = t as u64;
        self.heads
            .iter()
            .map(|h| {
                let dk = h.w_k.rows as u64;
                let dv = h.w_v.rows as u64;
                h.w_q.ops()
                    + h.w_k.ops()
                    + h.w_v.ops()
                    + h.w_o.ops()
                    + t * (2 * dk + 2 + 2 * dv)
                    + dv
            })
            .sum()
    }
    /// Floats held in the KV cache after `t` tokens.
    pub fn cache_size(&self, t: usize) -> usize {
        self.heads
            .iter()
            .map(|h| t * (h.w_k.rows + h.w_v.rows))
            .sum()
    }
}

/// Softmax over the cached keys with the max subtracted (no overflow), into `c.out`.
fn attend<S: Scalar>(c: &mut HeadCache<S>) {
    let prec = c.q.first().map(|v| v.precision()).unwrap_or(53);
    let n = c.keys.len();
    while c.scores.len() < n {
        c.scores.push(S::zero(prec));
    }
    for (s, k) in c.scores.iter_mut().zip(&c.keys) {
        s.set_i64(0);
        for (qi, ki) in c.q.iter().zip(k) {
            s.mul_add_assign(qi, ki);
        }
    }
    c.max.set(&c.scores[0]);
    for s in &c.scores[1..n] {
        // any shift gives the same softmax: the midpoint order only picks a stable one
        if s.mid_gt(&c.max) {
            c.max.set(s);
        }
    }
    c.norm.set_i64(0);
    for s in c.scores[..n].iter_mut() {
        s.sub_assign_s(&c.max);
        s.exp_mut();
        c.norm.add_assign_s(s);
    }
    for o in c.out.iter_mut() {
        o.set_i64(0);
    }
    for (s, v) in c.scores[..n].iter().zip(&c.values) {
        c.tmp.set(s);
        c.tmp.div_assign_s(&c.norm);
        for (o, vi) in c.out.iter_mut().zip(v) {
            o.mul_add_assign(&c.tmp, vi);
        }
    }
}
