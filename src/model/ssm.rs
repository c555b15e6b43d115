//! Selective SSM layer with Mamba-1 reference semantics (`selective_scan_ref`).
//!
//! `Δ = softplus(W_Δ x + b_Δ)`, `B = W_B x`, `C = W_C x`, `u = W_u x`,
//! `h[d,n] <- exp(Δ[d] A[d,n]) h[d,n] + Δ[d] B[n] u[d]`, `y[d] = Σ_n C[n] h[d,n] + D[d] u[d]`,
//! optional gate `y <- y · SiLU(W_z x + b_z)`, output `x + W_o y`.
//! `B̄ = Δ·B` is the reference's simplification (not the zero-order hold), and ours.
//! The reference block's conv1d and input SiLU are not modelled (see README).

use super::sparse::SparseMatrix;
use crate::num::{fma_is_identity, fmma_is_identity, zeros, Scalar};
use rayon::prelude::*;

/// How `A` is structured; decides how many `exp` the scan needs per step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DecayStructure {
    /// `A[d,n] = A[d,0]` for all n: one `exp` per channel per step.
    ScalarPerChannel,
    /// `A[d,n] = (n+1)·A[d,0]` (Mamba-1's `A = -(n+1)` init): one `exp` per channel, then powers.
    IntegerMultiples,
    /// Anything else: one `exp` per (channel, state) per step.
    General,
}

/// How `Δ = softplus(W_Δ x + b_Δ)` is evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum Softplus {
    /// `ln(1 + e^x)` at the working precision (the default everywhere).
    #[default]
    Exact,
    /// PyTorch's `F.softplus` (threshold 20), as `selective_scan_ref` and the CUDA kernel use:
    /// the identity above 20, `ln(1 + e^x)` otherwise.
    Torch,
}

#[derive(Clone, Debug)]
pub struct Gate<S> {
    pub w_z: SparseMatrix<S>,
    pub b_z: Vec<S>,
}

#[derive(Clone, Debug)]
pub struct SsmLayer<S> {
    pub name: String,
    pub width: usize,
    pub channels: usize,
    pub state: usize,
    pub w_delta: SparseMatrix<S>,
    pub b_delta: Vec<S>,
    pub w_b: SparseMatrix<S>,
    pub w_c: SparseMatrix<S>,
    pub w_u: SparseMatrix<S>,
    /// `A[d*N + n]`, all ≤ 0.
    pub a: Vec<S>,
    pub d_skip: Vec<S>,
    pub gate: Option<Gate<S>>,
    pub w_o: SparseMatrix<S>,
    pub decay: DecayStructure,
}

/// The per-step quantities the recurrence consumes (after the input projections).
#[derive(Clone, Debug)]
pub struct StepInputs<S> {
    pub delta: Vec<S>,
    pub b: Vec<S>,
    pub c: Vec<S>,
    pub u: Vec<S>,
}

/// `out <- exp(Δ·a)`, in place.
#[inline]
fn decay_into<S: Scalar>(out: &mut S, delta: &S, a: &S) {
    out.set(delta);
    out.mul_assign_s(a);
    out.exp_mut();
}

/// Per-channel scratch, so channels can be updated in parallel without allocation.
#[derive(Clone, Debug)]
struct ChannelScratch<S> {
    decay: S,
    power: S,
    du: S,
}

/// The recurrent state and every buffer one step needs (allocated once).
#[derive(Clone, Debug)]
pub struct SsmState<S> {
    pub h: Vec<S>,
    pub inputs: StepInputs<S>,
    pub y: Vec<S>,
    z: Vec<S>,
    scratch: Vec<ChannelScratch<S>>,
}

/// Work per step above which channels are updated in parallel (state updates × precision bits).
const PAR_THRESHOLD: usize = 1 << 16;

impl<S: Scalar> SsmLayer<S> {
    /// Detect the decay structure exactly from `A`.
    pub fn detect_decay(a: &[S], channels: usize, state: usize) -> DecayStructure {
        let mut scalar = true;
        let mut multiples = true;
        for d in 0..channels {
            let a0 = &a[d * state];
            for n in 0..state {
                let v = &a[d * state + n];
                if v != a0 {
                    scalar = false;
                }
                let want = a0.mul(&S::from_i64(n as i64 + 1, a0.precision()));
                if *v != want {
                    multiples = false;
                }
            }
        }
        if scalar {
            DecayStructure::ScalarPerChannel
        } else if multiples {
            DecayStructure::IntegerMultiples
        } else {
            DecayStructure::General
        }
    }

    pub fn new_state(&self, prec: u32) -> SsmState<S> {
        SsmState {
            h: zeros(self.channels * self.state, prec),
            inputs: StepInputs {
                delta: zeros(self.channels, prec),
                b: zeros(self.state, prec),
                c: zeros(self.state, prec),
                u: zeros(self.channels, prec),
            },
            y: zeros(self.channels, prec),
            z: zeros(self.channels, prec),
            scratch: (0..self.channels)
                .map(|_| ChannelScratch {
                    decay: S::zero(prec),
                    power: S::zero(prec),
                    du: S::zero(prec),
                })
                .collect(),
        }
    }

    /// Input projections of one token into `inp` (in place).
    pub fn project_into(&self, x: &[S], inp: &mut StepInputs<S>) {
        self.project_into_with(x, inp, Softplus::Exact);
    }

    /// [`Self::project_into`] with a choice of softplus for `Δ`.
    pub fn project_into_with(&self, x: &[S], inp: &mut StepInputs<S>, softplus: Softplus) {
        self.project_impl(x, inp, softplus, true);
    }

    /// The projections with every operation carried out (no skipped zero terms, one softplus
    /// per channel): the reference [`Self::project_into_with`] is tested against, bit for bit.
    pub fn project_into_dense(&self, x: &[S], inp: &mut StepInputs<S>, softplus: Softplus) {
        self.project_impl(x, inp, softplus, false);
    }

    fn project_impl(&self, x: &[S], inp: &mut StepInputs<S>, softplus: Softplus, sparse: bool) {
        let mul = |m: &SparseMatrix<S>, out: &mut [S]| {
            if sparse {
                m.mul_vec_into(x, out)
            } else {
                m.mul_vec_into_dense(x, out)
            }
        };
        mul(&self.w_delta, &mut inp.delta);
        // No allocation on the default path (tests/no_alloc.rs).
        let threshold = (softplus == Softplus::Torch)
            .then(|| S::from_i64(20, x.first().map_or(53, |v| v.precision())));
        for (d, b) in inp.delta.iter_mut().zip(&self.b_delta) {
            d.add_assign_s(b);
        }
        // Softplus once per run of channels whose pre-activations are the same representation
        // (e.g. every slot that is not written this step): a deterministic function, so the
        // copies are what evaluating it again would give.
        let mut d = 0;
        let len = inp.delta.len();
        while d < len {
            let mut e = d + 1;
            while sparse && e < len && inp.delta[e].same_repr(&inp.delta[d]) {
                e += 1;
            }
            let (head, tail) = inp.delta.split_at_mut(d + 1);
            let v = &mut head[d];
            if threshold.as_ref().is_none_or(|t| v.mid_le(t)) {
                v.softplus_mut();
            }
            for w in &mut tail[..e - d - 1] {
                w.set(v);
            }
            d = e;
        }
        mul(&self.w_b, &mut inp.b);
        mul(&self.w_c, &mut inp.c);
        mul(&self.w_u, &mut inp.u);
    }

    pub fn project(&self, x: &[S], prec: u32) -> StepInputs<S> {
        let mut inp = StepInputs {
            delta: zeros(self.channels, prec),
            b: zeros(self.state, prec),
            c: zeros(self.state, prec),
            u: zeros(self.channels, prec),
        };
        self.project_into(x, &mut inp);
        inp
    }

    /// One recurrent step on already projected inputs: updates `h` and writes `y` (no gate).
    ///
    /// The cost follows the structure: a state whose decay is exactly 1 and whose input is an
    /// exact zero is not touched, a zero query entry adds nothing, and channels with the same
    /// `Δ` and `A` share one `exp`; each skipped operation is an identity
    /// ([`crate::num::fmma_is_identity`]), so `h` and `y` are those of [`Self::recur_dense`] bit
    /// for bit (tests/sparse_scan.rs). A position-key memory (A = 0, one-hot B and C) thus
    /// costs O(1) arithmetic per step instead of O(N).
    pub fn recur(&self, st: &mut SsmState<S>) {
        self.recur_impl(st, true);
    }

    /// [`Self::recur`] with every operation carried out: the reference it is tested against.
    pub fn recur_dense(&self, st: &mut SsmState<S>) {
        self.recur_impl(st, false);
    }

    fn recur_impl(&self, st: &mut SsmState<S>, sparse: bool) {
        let n_state = self.state;
        if sparse && self.decay != DecayStructure::General {
            self.shared_decays(st);
        }
        let inp = &st.inputs;
        let a = &self.a;
        let d_skip = &self.d_skip;
        let decay = self.decay;
        type Channel<'a, S> = (usize, ((&'a mut [S], &'a mut S), &'a mut ChannelScratch<S>));
        // h and y are updated in one pass over the states (y accumulates in the order n = 0..N).
        let work = |(d, ((h, y), sc)): Channel<'_, S>| {
            sc.du.set(&inp.delta[d]);
            sc.du.mul_assign_s(&inp.u[d]);
            y.set(&d_skip[d]);
            y.mul_assign_s(&inp.u[d]);
            let arow = &a[d * n_state..(d + 1) * n_state];
            match decay {
                DecayStructure::ScalarPerChannel | DecayStructure::IntegerMultiples => {
                    if !sparse {
                        decay_into(&mut sc.decay, &inp.delta[d], &arow[0]);
                    }
                    sc.power.set(&sc.decay);
                    // power·decay with both exactly 1 (A = 0) is 1: an identity too.
                    let unit = sparse
                        && sc.decay.is_one()
                        && sc.power.is_one()
                        && sc.decay.precision() <= sc.power.precision();
                    for (n, hn) in h.iter_mut().enumerate() {
                        let (b, c) = (&inp.b[n], &inp.c[n]);
                        if !(sparse && fmma_is_identity(hn, &sc.power, b, &sc.du)) {
                            hn.mul_add_mul_assign(&sc.power, &sc.du, b);
                        }
                        if !(sparse && fma_is_identity(y, c, hn)) {
                            y.mul_add_assign(c, hn);
                        }
                        if decay == DecayStructure::IntegerMultiples && !unit {
                            sc.power.mul_assign_s(&sc.decay);
                        }
                    }
                }
                DecayStructure::General => {
                    for (n, hn) in h.iter_mut().enumerate() {
                        sc.power.set_mul(&inp.delta[d], &arow[n]);
                        sc.power.exp_mut();
                        hn.mul_add_mul_assign(&sc.power, &sc.du, &inp.b[n]);
                        y.mul_add_assign(&inp.c[n], hn);
                    }
                }
            }
        };
        let bits = st.y.first().map(|v| v.precision() as usize).unwrap_or(53);
        if self.channels > 1 && self.channels * n_state * bits >= PAR_THRESHOLD {
            st.h.par_chunks_mut(n_state.max(1))
                .zip(st.y.par_iter_mut())
                .zip(st.scratch.par_iter_mut())
                .enumerate()
                .for_each(work);
        } else {
            st.h.chunks_mut(n_state.max(1))
                .zip(st.y.iter_mut())
                .zip(st.scratch.iter_mut())
                .enumerate()
                .for_each(work);
        }
    }

    /// The decays `exp(Δ[d]·A[d,0])` into each channel's scratch, one `exp` per run of channels
    /// whose `Δ` and `A` are the same representation (and whose result precision agrees), the
    /// others copies of it: what each channel's own `exp` would give.
    fn shared_decays(&self, st: &mut SsmState<S>) {
        let n_state = self.state;
        let (inp, sc) = (&st.inputs, &mut st.scratch);
        let mut d = 0;
        while d < self.channels {
            decay_into(&mut sc[d].decay, &inp.delta[d], &self.a[d * n_state]);
            let p = sc[d].decay.precision();
            let mut e = d + 1;
            while e < self.channels
                && inp.delta[e].same_repr(&inp.delta[d])
                && self.a[e * n_state].same_repr(&self.a[d * n_state])
                && sc[e]
                    .decay
                    .precision()
                    .max(inp.delta[e].precision())
                    .max(self.a[e * n_state].precision())
                    == p
            {
                let (head, tail) = sc.split_at_mut(e);
                tail[0].decay.set(&head[d].decay);
                e += 1;
            }
            d = e;
        }
    }

    /// Full layer step on the residual stream `x` (in place): `x <- x + W_o (gate ⊙ y)`.
    pub fn step(&self, st: &mut SsmState<S>, x: &mut [S]) {
        self.step_with(st, x, Softplus::Exact);
    }

    /// [`Self::step`] with a choice of softplus for `Δ`.
    pub fn step_with(&self, st: &mut SsmState<S>, x: &mut [S], softplus: Softplus) {
        self.project_into_with(x, &mut st.inputs, softplus);
        self.recur(st);
        if let Some(g) = &self.gate {
            g.w_z.mul_vec_into(x, &mut st.z);
            for ((y, z), b) in st.y.iter_mut().zip(st.z.iter_mut()).zip(&g.b_z) {
                z.add_assign_s(b);
                z.silu_mut();
                y.mul_assign_s(z);
            }
        }
        self.w_o.mul_vec_add_into(&st.y, x);
    }

    /// The recurrent scan over a sequence of projected inputs: `y_t` for every t (no gate).
    pub fn scan(&self, inputs: &[StepInputs<S>], prec: u32) -> Vec<Vec<S>> {
        let mut st = self.new_state(prec);
        inputs
            .iter()
            .map(|inp| {
                st.inputs.clone_from(inp);
                self.recur(&mut st);
                st.y.clone()
            })
            .collect()
    }

    /// Nonzero parameters of the layer.
    pub fn nonzeros(&self) -> usize {
        let nz = |v: &[S]| v.iter().filter(|x| !x.is_zero()).count();
        self.w_delta.nnz()
            + nz(&self.b_delta)
            + self.w_b.nnz()
            + self.w_c.nnz()
            + self.w_u.nnz()
            + nz(&self.a)
            + nz(&self.d_skip)
            + self.gate.as_ref().map_or(0, |g| g.w_z.nnz() + nz(&g.b_z))
            + self.w_o.nnz()
    }

    pub fn max_abs_param(&self) -> f64 {
        let m = |v: &[S]| {
            v.iter()
                .map(|x| crate::num::abs_or_inf(x.to_f64()))
                .fold(0.0, f64::max)
        };
        [
            self.w_delta.max_abs(),
            m(&self.b_delta),
            self.w_b.max_abs(),
            self.w_c.max_abs(),
            self.w_u.max_abs(),
            m(&self.a),
            m(&self.d_skip),
            self.gate
                .as_ref()
                .map_or(0.0, |g| g.w_z.max_abs().max(m(&g.b_z))),
            self.w_o.max_abs(),
        ]
        .into_iter()
        .fold(0.0, f64::max)
    }

    /// Arithmetic operations of one step, counted from the built weights.
    /// A fused multiply-add counts 2, `exp`/`softplus`/`SiLU` count 1 each.
    pub fn ops_per_step(&self) -> u64 {
        let (dch, n) = (self.channels as u64, self.state as u64);
        let proj = self.w_delta.ops() + self.w_b.ops() + self.w_c.ops() + self.w_u.ops();
        let delta = 2 * dch; // bias add + softplus
        let exps = match self.decay {
            DecayStructure::ScalarPerChannel => 2 * dch,
            DecayStructure::IntegerMultiples => 2 * dch + dch * n,
            DecayStructure::General => 2 * dch * n,
        };
        let update = dch + 3 * dch * n; // Δu, then h·a + du·b per state
        let read = dch + 2 * dch * n; // D·u, then C·h
        let gate = self.gate.as_ref().map_or(0, |g| g.w_z.ops() + 3 * dch);
        proj + delta + exps + update + read + gate + self.w_o.ops()
    }
}

/// Which unrolled form to evaluate. `DecayIncludesOwnStep` is a deliberately wrong variant
/// (the decay product starts at `k = j` instead of `k = j+1`) kept so tests can show it is caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnrolledForm {
    Correct,
    DecayIncludesOwnStep,
}

/// Output of the unrolled evaluation: `y_t[d]` and a rounding bound for
/// `|scan − unrolled|` at every `(t, d)` (see `proofs/scan-unroll.md`).
pub struct Unrolled<S> {
    pub y: Vec<Vec<S>>,
    pub bound: Vec<Vec<Bound>>,
    /// Largest `F·ulp` over the terms (diagnostic: how far from first order the bound reaches).
    pub max_first_order_term: f64,
}

/// A bound kept as `mantissa · 10^exp10` so it survives far below f64's range.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub log10: f64,
}

impl<S: Scalar> SsmLayer<S> {
    /// The linear-attention form
    /// `y_t[d] = Σ_{j≤t} Σ_n C_t[n] B_j[n] exp(A[d,n] Σ_{k=j+1}^t Δ_k[d]) Δ_j[d] u_j[d] + D[d] u_t[d]`,
    /// evaluated directly from the sums (no recurrence), rows in parallel.
    pub fn unrolled(&self, inputs: &[StepInputs<S>], prec: u32, form: UnrolledForm) -> Unrolled<S> {
        let t_len = inputs.len();
        let n_state = self.state;
        let ulp = S::ulp_of_one(prec);
        let rows: Vec<(Vec<S>, Vec<Bound>, f64)> = (0..t_len)
            .into_par_iter()
            .map(|t| {
                let mut ys = Vec::with_capacity(self.channels);
                let mut bs = Vec::with_capacity(self.channels);
                let mut worst_f = 0.0f64;
                let mut acc = S::zero(prec);
                let mut s_sum = S::zero(prec);
                let mut w = S::zero(prec);
                let mut w1 = S::zero(prec);
                let mut term = S::zero(prec);
                for d in 0..self.channels {
                    let arow = &self.a[d * n_state..(d + 1) * n_state];
                    acc.set(&self.d_skip[d]);
                    acc.mul_assign_s(&inputs[t].u[d]);
                    // Σ |term|·F in log space: accumulate in f64 relative to a running max.
                    let mut bound_terms = LogSum::new();
                    // the skip term: D·u on each side, N + (t+1)N accumulations
                    let f_skip = ((t + 2) * n_state + 2) as f64;
                    bound_terms.add_log(acc.log10_abs(), log10_growth(f_skip * ulp));
                    s_sum.set_i64(0);
                    for j in (0..=t).rev() {
                        // s_sum = Σ_{k=j+1}^{t} Δ_k (or from k=j in the wrong form)
                        if form == UnrolledForm::DecayIncludesOwnStep {
                            s_sum.add_assign_s(&inputs[j].delta[d]);
                        }
                        let steps = (t - j) as f64;
                        let s_f = s_sum.to_f64();
                        for n in 0..n_state {
                            let nu = match self.decay {
                                DecayStructure::IntegerMultiples => (n + 1) as f64,
                                _ => 1.0,
                            };
                            match self.decay {
                                DecayStructure::ScalarPerChannel => {
                                    if n == 0 {
                                        w.set(&s_sum);
                                        w.mul_assign_s(&arow[0]);
                                        w.exp_mut();
                                    }
                                }
                                DecayStructure::IntegerMultiples => {
                                    if n == 0 {
                                        w1.set(&s_sum);
                                        w1.mul_assign_s(&arow[0]);
                                        w1.exp_mut();
                                        w.set(&w1);
                                    } else {
                                        w.mul_assign_s(&w1);
                                    }
                                }
                                DecayStructure::General => {
                                    w.set(&s_sum);
                                    w.mul_assign_s(&arow[n]);
                                    w.exp_mut();
                                }
                            }
                            term.set(&inputs[t].c[n]);
                            term.mul_assign_s(&inputs[j].b[n]);
                            term.mul_assign_s(&w);
                            term.mul_assign_s(&inputs[j].delta[d]);
                            term.mul_assign_s(&inputs[j].u[d]);
                            acc.add_assign_s(&term);
                            let a_s = arow[n].to_f64().abs() * s_f;
                            // rounding count F, derived in proofs/scan-unroll.md
                            let f = 2.0 * a_s
                                + a_s * steps
                                + 2.0 * nu * (steps + 1.0)
                                + (t * n_state) as f64
                                + 2.0 * n_state as f64
                                + 6.0;
                            worst_f = worst_f.max(f * ulp);
                            bound_terms.add_log(term.log10_abs(), log10_growth(f * ulp));
                        }
                        if form == UnrolledForm::Correct {
                            s_sum.add_assign_s(&inputs[j].delta[d]);
                        }
                    }
                    ys.push(acc.clone());
                    // Σ |τ|·e^{F·ulp}·(e^{F·ulp} − 1): |τ| is the computed term, |τ*| ≤ |τ|·e^{F·ulp}
                    bs.push(Bound {
                        log10: bound_terms.log10(),
                    });
                }
                (ys, bs, worst_f)
            })
            .collect();
        let mut y = Vec::with_capacity(t_len);
        let mut bound = Vec::with_capacity(t_len);
        let mut worst = 0.0f64;
        for (ys, bs, f) in rows {
            y.push(ys);
            bound.push(bs);
            worst = worst.max(f);
        }
        Unrolled {
            y,
            bound,
            max_first_order_term: worst,
        }
    }
}

/// `log10(Σ_i F_i·10^{l_i})` accumulated without leaving f64's range.
pub struct LogSum {
    max: f64,
    scaled: f64,
}

/// `log10(e^x·(e^x − 1))` for `x ≥ 0`, finite for any finite x: the growth factor of a term
/// perturbed by rounding factors whose counts add up to `x/ulp`.
pub fn log10_growth(x: f64) -> f64 {
    let expm1 = if x > 30.0 {
        x * std::f64::consts::LOG10_E
    } else {
        x.exp_m1().log10()
    };
    expm1 + x * std::f64::consts::LOG10_E
}

impl LogSum {
    pub fn new() -> Self {
        LogSum {
            max: f64::NEG_INFINITY,
            scaled: 0.0,
        }
    }
    pub fn add(&mut self, log10_value: f64, factor: f64) {
        self.add_log(log10_value, factor.log10());
    }
    /// Add `10^(log10_value + log10_factor)`.
    pub fn add_log(&mut self, log10_value: f64, log10_factor: f64) {
        if log10_value == f64::NEG_INFINITY || log10_factor == f64::NEG_INFINITY {
            return;
        }
        let l = log10_value + log10_factor;
        if l > self.max {
            self.scaled = self.scaled * 10f64.powf(self.max - l) + 1.0;
            self.max = l;
        } else {
            self.scaled += 10f64.powf(l - self.max);
        }
    }
    pub fn log10(&self) -> f64 {
        if self.max == f64::NEG_INFINITY {
            f64::NEG_INFINITY
        } else {
            self.max + self.scaled.log10()
        }
    }
}

impl Default for LogSum {
    fn default() -> Self {
        Self::new()
    }
}
