//! `copy-rank`: copying from T positions within error rσ needs state
//! `N ≥ T(1−r)²/((1+r)²+r²) − 1` (proofs/copy-rank.md).
//!
//! For an SSM layer and a prefix whose keys and Δ do not depend on the values, the response of
//! the readout at query position `i = T+1` to the value at position `j`, when the query token asks
//! for target `p`, is `M_{p,j} = κ^{(p)}_{i,j}`. `M` factors through the recurrent state, so
//! `rank M ≤ D·N`. This module computes `M` from a layer's own projections (Δ_t, B_t, decays),
//! its copy error `r = max_p (|1 − M_pp| + Σ_{j≠p} |M_pj|)`, and its rank (f64 SVD).

use crate::copy::linear::MemoryKind;
use crate::error::{Error, Result};
use crate::model::SsmLayer;
use crate::rng::Rng;
use nalgebra::DMatrix;
use serde::Serialize;

/// The stated formula `T(1−r)²/((1+r)²+r²) − 1` read literally, for every r. It is a valid bound
/// only under the hypothesis `r ≤ 1`: for r > 1 it is false (`M = 10·11ᵀ`, T = 16, N = 1,
/// r = 159 gives 6.85 > 1; see [`literal_counterexample`]).
pub fn stated_formula(t: usize, r: f64) -> f64 {
    t as f64 * (1.0 - r).powi(2) / ((1.0 + r).powi(2) + r * r) - 1.0
}

/// The bound with its hypothesis: `stated_formula(t, r)` for r < 1, and −1 (nothing required)
/// for r ≥ 1.
pub fn rank_bound(t: usize, r: f64) -> f64 {
    if r >= 1.0 {
        return -1.0;
    }
    stated_formula(t, r)
}

/// The counterexample to the stated formula without `r ≤ 1`: `M = c·11ᵀ` (T × T, rank 1).
pub fn literal_counterexample(t: usize, c: f64) -> DMatrix<f64> {
    DMatrix::from_element(t, t, c)
}

/// The bound's check: a state of `n` can copy T positions within rσ only if `n ≥ rank_bound`.
pub fn satisfies_bound(n: usize, t: usize, r: f64) -> bool {
    n as f64 >= rank_bound(t, r)
}

/// The sharp version (toolkit's correction): `r = ‖M − I‖_∞` (max row sum), an induced norm, so
/// `r < 1` makes `M = I − (I − M)` invertible (Neumann series): `rank M = T`, hence `N ≥ T − 1`
/// (with the query's own position counted), for every `r < 1`. For `r ≥ 1` nothing is needed
/// (`M = 0` has `r = 1`).
pub fn sharp_bound(t: usize, r: f64) -> f64 {
    if r < 1.0 {
        t as f64 - 1.0
    } else {
        -1.0
    }
}

/// The sharp step at one M: `N < T ⇒ r ≥ 1` (a state smaller than T cannot copy with r < 1).
pub fn step_holds(rep: &RankReport) -> bool {
    rep.state >= rep.t || rep.r >= 1.0
}

/// The Neumann direction at one M: `r < 1 ⇒ rank M = T`.
pub fn neumann_holds(rep: &RankReport) -> bool {
    rep.r >= 1.0 || rep.rank == rep.t
}

/// Smallest r the bound allows for state `n` and `t` positions (solves `n = bound(t, r)`).
pub fn best_r_allowed(n: usize, t: usize) -> f64 {
    if n + 1 >= t {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if rank_bound(t, mid) > n as f64 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Everything measured on one `M`.
#[derive(Clone, Debug, Serialize)]
pub struct RankReport {
    pub t: usize,
    pub state: usize,
    pub r: f64,
    pub rank: usize,
    pub trace: f64,
    pub frob_sq: f64,
    pub bound: f64,
}

pub fn analyse(m: &DMatrix<f64>, state: usize) -> RankReport {
    let t = m.nrows();
    let mut r = 0.0f64;
    for p in 0..t {
        let mut e = (1.0 - m[(p, p)]).abs();
        for j in 0..m.ncols() {
            if j != p {
                e += m[(p, j)].abs();
            }
        }
        r = r.max(crate::num::abs_or_inf(e)); // a NaN row counts as r = ∞
    }
    let sv = m.clone().svd(false, false).singular_values;
    let smax = sv
        .iter()
        .map(|&s| crate::num::abs_or_inf(s))
        .fold(0.0, f64::max);
    let tol = smax * t as f64 * 1e-12;
    let rank = sv.iter().filter(|&&s| s > tol).count();
    RankReport {
        t,
        state,
        r,
        rank,
        trace: m.trace(),
        frob_sq: m.norm_squared(),
        bound: rank_bound(t, r),
    }
}

/// Rows divided by their sums (the normalised readout's M).
pub fn row_normalised(m: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = m.clone();
    for p in 0..m.nrows() {
        let s: f64 = m.row(p).sum();
        if s != 0.0 {
            for j in 0..m.ncols() {
                out[(p, j)] /= s;
            }
        }
    }
    out
}

/// `K_{j,·} = α_{i,j} Δ_j B_j` (T × N) for a one-channel layer on prefix `xs` (length T) and a
/// query token `x_query` at position T+1, computed from the layer's own projections.
pub fn key_matrix(layer: &SsmLayer<f64>, xs: &[Vec<f64>], x_query: &[f64]) -> DMatrix<f64> {
    let t = xs.len();
    let n = layer.state;
    let mut k = DMatrix::zeros(t, n);
    let q = layer.project(x_query, 53);
    // α_{i,j} = Π_{k=j+1}^{i} a_k, with a_k = exp(A Δ_k) (scalar decay per channel)
    let mut log_alpha = layer.a[0] * q.delta[0];
    for j in (0..t).rev() {
        let s = layer.project(&xs[j], 53);
        for c in 0..n {
            let a = layer.a[c];
            let alpha = if a == layer.a[0] {
                log_alpha.exp()
            } else {
                (log_alpha / layer.a[0] * a).exp()
            };
            k[(j, c)] = alpha * s.delta[0] * s.b[c];
        }
        log_alpha += layer.a[0] * s.delta[0];
    }
    k
}

/// Least-squares queries: `C^{(p)} = argmin ‖K C − e_p‖₂`; returns `M = (K C^{(p)})_p` (T × T).
pub fn least_squares_m(k: &DMatrix<f64>) -> DMatrix<f64> {
    let t = k.nrows();
    let svd = k.clone().svd(true, true);
    let pinv = svd
        .pseudo_inverse(1e-12)
        .unwrap_or_else(|_| DMatrix::zeros(k.ncols(), t));
    // row p of M = (K pinv e_p)^T = column p of K·pinv, transposed
    (k * pinv).transpose()
}

/// A random one-channel SSM block (width `w`, state `n`, scalar decay) with a random prefix of
/// length `t`; keys and Δ read only the non-value coordinates. Returns M with least-squares queries.
pub fn random_block_m(rng: &mut Rng, t: usize, n: usize) -> Result<DMatrix<f64>> {
    if t < 2 || n == 0 {
        return Err(Error::input(format!(
            "need T ≥ 2 and N ≥ 1 (got T={t}, N={n})"
        )));
    }
    let w = n + 2;
    let mut rnd = |r: usize, c: usize, lo: f64, hi: f64| {
        let e = (0..r)
            .flat_map(|i| (0..c).map(move |j| (i, j)))
            .map(|(i, j)| (i, j, lo))
            .collect::<Vec<_>>();
        let vals: Vec<(usize, usize, f64)> = e
            .into_iter()
            .map(|(i, j, _)| (i, j, rng.uniform(lo, hi)))
            .collect();
        crate::model::SparseMatrix::from_entries(r, c, vals)
    };
    let w_b = rnd(n, w, -1.0, 1.0);
    let w_delta = rnd(1, w, -0.5, 0.5);
    let a = -rng.uniform(0.01, 0.5);
    let layer = SsmLayer {
        name: "random".into(),
        width: w,
        channels: 1,
        state: n,
        w_delta,
        b_delta: vec![rng.uniform(-1.0, 0.5)],
        w_b,
        w_c: crate::model::SparseMatrix::zeros(n, w),
        w_u: crate::model::SparseMatrix::zeros(1, w),
        a: vec![a; n],
        d_skip: vec![0.0],
        gate: None,
        w_o: crate::model::SparseMatrix::zeros(w, 1),
        decay: crate::model::DecayStructure::ScalarPerChannel,
    };
    let xs: Vec<Vec<f64>> = (0..t)
        .map(|_| (0..w).map(|_| rng.uniform(-1.0, 1.0)).collect())
        .collect();
    let xq: Vec<f64> = (0..w).map(|_| rng.uniform(-1.0, 1.0)).collect();
    Ok(least_squares_m(&key_matrix(&layer, &xs, &xq)))
}

/// M of the position-key memory (η decay or none) with `capacity` one-hot keys, for T positions,
/// computed from the built layer: the query for target p is `e_p` (0 when p > capacity).
pub fn position_key_m(t: usize, capacity: usize, kind: MemoryKind) -> Result<DMatrix<f64>> {
    use crate::copy::linear::{build_copy_model_with, CopyTask};
    let task = CopyTask::copy_all(t, 2);
    let cm = build_copy_model_with::<f64>(kind, &task, capacity, 53)?;
    let layer = match &cm.model.layers[0] {
        crate::model::Layer::Ssm(l) => l.clone(),
        _ => return Err(Error::compute("position-key model without an SSM layer")),
    };
    // residual inputs of the prefix: positional features only (values do not enter keys or Δ)
    let w = cm.model.layout.width();
    let feats = |pos: usize| {
        let mut x = vec![0.0; w];
        for f in &cm.model.positional {
            x[f.coord] += f.kind.value::<f64>(pos, 53);
        }
        x
    };
    let xs: Vec<Vec<f64>> = (1..=t).map(feats).collect();
    let k = key_matrix(&layer, &xs, &feats(t + 1));
    let mut m = DMatrix::zeros(t, t);
    let kn = k.ncols();
    for p in 0..t {
        if p < kn {
            for j in 0..t {
                m[(p, j)] = k[(j, p)];
            }
        }
    }
    Ok(m)
}

/// M of the selective-slot memory with `slots` channels (N = 1 each), for T positions: the query
/// for target p selects channel `(p−1) mod slots`; `M_{p,j} = α_{d,j} Δ_j[d] B` from the built
/// layer's projections. Its rank is at most the state `slots · 1`.
pub fn slot_m(t: usize, slots: usize) -> Result<DMatrix<f64>> {
    use crate::copy::linear::{build_copy_model_with, CopyTask};
    // copy only the last `slots` positions so the task fits the memory; M still spans all T
    let task = CopyTask {
        length: t,
        vocab: 2,
        targets: ((t + 1).saturating_sub(slots).max(1)..=t).collect(),
    };
    let cm = build_copy_model_with::<f64>(MemoryKind::Slot, &task, slots, 53)?;
    let layer = match &cm.model.layers[0] {
        crate::model::Layer::Ssm(l) => l.clone(),
        _ => return Err(Error::compute("slot model without an SSM layer")),
    };
    let w = cm.model.layout.width();
    let feats = |pos: usize| {
        let mut x = vec![0.0; w];
        for f in &cm.model.positional {
            x[f.coord] += f.kind.value::<f64>(pos, 53);
        }
        x
    };
    let proj: Vec<_> = (1..=t + 1)
        .map(|pos| layer.project(&feats(pos), 53))
        .collect();
    let mut m = DMatrix::zeros(t, t);
    for p in 0..t {
        let d = p % slots;
        let mut log_alpha = layer.a[d] * proj[t].delta[d];
        for j in (0..t).rev() {
            m[(p, j)] = log_alpha.exp() * proj[j].delta[d] * proj[j].b[0] * proj[t].c[0];
            log_alpha += layer.a[d] * proj[j].delta[d];
        }
    }
    Ok(m)
}
