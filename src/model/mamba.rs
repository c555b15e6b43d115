//! The Mamba-1 block as Hugging Face's `MambaForCausalLM` runs it (`modeling_mamba.py`), generic over
//! the number type, so a lowered model runs in f64, MPFR and ball arithmetic exactly as it is exported.
//!
//! One block, residual `x ∈ R^W`, inner channels `i = 1..I`, state `N`, dt rank `R`, conv kernel `K`:
//! ```text
//! x̂     = w_norm ⊙ x / sqrt(mean(x²) + eps)                      (RMSNorm)
//! ξ, z  = in_x·x̂ + b_x,  in_z·x̂ + b_z                           (in_proj with bias)
//! u_i   = act(b_conv,i + Σ_k w_conv[i,k] ξ_{t−K+1+k, i})          (causal depthwise conv1d, then act)
//! Δ_i   = softplus(dt_w·(x_dt·u) + b_dt)_i,  B = x_b·u,  C = x_c·u  (x_proj, dt_proj)
//! h_in  = exp(Δ_i A_in) h_in + Δ_i B_n u_i,  y_i = Σ_n C_n h_in + D_i u_i
//! y_i  ← y_i · SiLU(z_i)                                           (the gate is always SiLU)
//! x    ← x + out·y + b_out
//! ```
//! The model: embedding → blocks → RMSNorm (`norm_f`) → `lm_head` (no bias) → greedy argmax.

use super::mlp::Activation;
use super::sparse::SparseMatrix;
use super::ssm::Softplus;
use crate::num::{zeros, Scalar};

/// What an inner channel is for (readable summaries and stable weight names in the model card).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ChannelRole {
    /// An SSM channel of the abstract model, shifted by `K` through the activation.
    Ssm(String),
    /// The twin of SSM channels: fed the constant `act(K)`, it cancels their shift.
    Twin(String),
    /// Carries a residual coordinate (shifted by `K`) into `x_proj` for B, C or Δ.
    Carrier(String),
    /// Fed the constant `act(K)`: cancels the carriers' shift in `x_proj`.
    Constant,
    /// An MLP unit run through the activation (the block's SSM is switched off).
    Unit(String),
    /// The position counter (`A = 0`).
    Counter,
    /// Padding to the target's common inner width (all weights zero).
    Padding,
}

#[derive(Clone, Debug)]
pub struct MambaBlock<S> {
    pub name: String,
    pub width: usize,
    pub inner: usize,
    pub state: usize,
    pub dt_rank: usize,
    pub conv_kernel: usize,
    pub roles: Vec<ChannelRole>,
    pub norm_weight: Vec<S>,
    pub in_x: SparseMatrix<S>,
    pub in_z: SparseMatrix<S>,
    pub b_x: Vec<S>,
    pub b_z: Vec<S>,
    /// `w_conv[i·K + k]`; tap `K − 1` is the current position.
    pub conv_w: Vec<S>,
    pub conv_b: Vec<S>,
    pub x_dt: SparseMatrix<S>,
    pub x_b: SparseMatrix<S>,
    pub x_c: SparseMatrix<S>,
    pub dt_w: SparseMatrix<S>,
    pub dt_b: Vec<S>,
    /// `A[i·N + n] = −exp(A_log)`, ≤ 0 (0 is `A_log = −∞`).
    pub a: Vec<S>,
    pub d: Vec<S>,
    pub out: SparseMatrix<S>,
    pub b_out: Vec<S>,
}

/// Everything one block step needs, allocated once.
#[derive(Clone, Debug)]
pub struct MambaBlockState<S> {
    xn: Vec<S>,
    xi: Vec<S>,
    z: Vec<S>,
    /// Past `ξ` values: `hist[i·(K−1) + j]`, `j = K−2` the most recent.
    hist: Vec<S>,
    pub u: Vec<S>,
    dt_low: Vec<S>,
    pub dt: Vec<S>,
    pub b: Vec<S>,
    pub c: Vec<S>,
    pub h: Vec<S>,
    pub y: Vec<S>,
    acc: S,
    tmp: S,
    /// The residual width and torch's softplus threshold 20, as numbers (no allocation per step).
    len: S,
    threshold: S,
}

fn nonzero<S: Scalar>(v: &[S]) -> usize {
    v.iter().filter(|x| !x.is_zero()).count()
}

fn max_abs<S: Scalar>(v: &[S]) -> f64 {
    v.iter()
        .map(|x| crate::num::abs_or_inf(x.to_f64()))
        .fold(0.0, f64::max)
}

/// `x̂ = w ⊙ x / sqrt(mean(x²) + eps)` (in place into `out`); `len` is `x.len()` as a number.
pub fn rms_norm_into<S: Scalar>(x: &[S], w: &[S], eps: &S, len: &S, acc: &mut S, out: &mut [S]) {
    acc.set_i64(0);
    for v in x.iter().filter(|v| !v.is_zero()) {
        acc.mul_add_assign(v, v);
    }
    acc.div_assign_s(len);
    acc.add_assign_s(eps);
    acc.sqrt_mut();
    for ((o, v), wi) in out.iter_mut().zip(x).zip(w) {
        o.set(v);
        o.div_assign_s(acc);
        o.mul_assign_s(wi);
    }
}

impl<S: Scalar> MambaBlock<S> {
    pub fn new_state(&self, prec: u32) -> MambaBlockState<S> {
        MambaBlockState {
            xn: zeros(self.width, prec),
            xi: zeros(self.inner, prec),
            z: zeros(self.inner, prec),
            hist: zeros(self.inner * (self.conv_kernel - 1), prec),
            u: zeros(self.inner, prec),
            dt_low: zeros(self.dt_rank, prec),
            dt: zeros(self.inner, prec),
            b: zeros(self.state, prec),
            c: zeros(self.state, prec),
            h: zeros(self.inner * self.state, prec),
            y: zeros(self.inner, prec),
            acc: S::zero(prec),
            tmp: S::zero(prec),
            len: S::from_i64(self.width as i64, prec),
            threshold: S::from_i64(20, prec),
        }
    }

    /// One position: `x ← x + block(x)`.
    pub fn step(
        &self,
        st: &mut MambaBlockState<S>,
        x: &mut [S],
        eps: &S,
        act: Activation,
        softplus: Softplus,
    ) {
        rms_norm_into(x, &self.norm_weight, eps, &st.len, &mut st.acc, &mut st.xn);
        self.in_x.mul_vec_into(&st.xn, &mut st.xi);
        self.in_z.mul_vec_into(&st.xn, &mut st.z);
        let k = self.conv_kernel;
        for i in 0..self.inner {
            st.xi[i].add_assign_s(&self.b_x[i]);
            st.z[i].add_assign_s(&self.b_z[i]);
            // Causal depthwise conv over (hist, current), then the activation.
            let w = &self.conv_w[i * k..(i + 1) * k];
            let u = &mut st.u[i];
            u.set(&self.conv_b[i]);
            let past = &mut st.hist[i * (k - 1)..(i + 1) * (k - 1)];
            for (wj, pj) in w.iter().zip(past.iter()) {
                if !wj.is_zero() {
                    u.mul_add_assign(wj, pj);
                }
            }
            u.mul_add_assign(&w[k - 1], &st.xi[i]);
            act.apply(u);
            if k > 1 {
                past.rotate_left(1);
                past[k - 2].set(&st.xi[i]);
            }
        }
        self.x_dt.mul_vec_into(&st.u, &mut st.dt_low);
        self.x_b.mul_vec_into(&st.u, &mut st.b);
        self.x_c.mul_vec_into(&st.u, &mut st.c);
        self.dt_w.mul_vec_into(&st.dt_low, &mut st.dt);
        for (dt, b) in st.dt.iter_mut().zip(&self.dt_b) {
            dt.add_assign_s(b);
            if softplus == Softplus::Exact || dt.mid_le(&st.threshold) {
                dt.softplus_mut();
            }
        }
        let n_state = self.state;
        for i in 0..self.inner {
            let y = &mut st.y[i];
            y.set(&self.d[i]);
            y.mul_assign_s(&st.u[i]);
            // Δ·u once per channel; a channel with Δ·u = 0 and A = 0 keeps its state.
            st.tmp.set(&st.dt[i]);
            st.tmp.mul_assign_s(&st.u[i]);
            let h = &mut st.h[i * n_state..(i + 1) * n_state];
            let arow = &self.a[i * n_state..(i + 1) * n_state];
            for n in 0..n_state {
                if !arow[n].is_zero() {
                    st.acc.set(&st.dt[i]);
                    st.acc.mul_assign_s(&arow[n]);
                    st.acc.exp_mut();
                    h[n].mul_assign_s(&st.acc);
                }
                if !st.b[n].is_zero() {
                    h[n].mul_add_assign(&st.tmp, &st.b[n]);
                }
                if !st.c[n].is_zero() {
                    y.mul_add_assign(&st.c[n], &h[n]);
                }
            }
            st.acc.set(&st.z[i]);
            st.acc.silu_mut();
            y.mul_assign_s(&st.acc);
        }
        self.out.mul_vec_add_into(&st.y, x);
        for (xi, b) in x.iter_mut().zip(&self.b_out) {
            if !b.is_zero() {
                xi.add_assign_s(b);
            }
        }
    }

    pub fn nonzeros(&self) -> usize {
        nonzero(&self.norm_weight)
            + self.in_x.nnz()
            + self.in_z.nnz()
            + nonzero(&self.b_x)
            + nonzero(&self.b_z)
            + nonzero(&self.conv_w)
            + nonzero(&self.conv_b)
            + self.x_dt.nnz()
            + self.x_b.nnz()
            + self.x_c.nnz()
            + self.dt_w.nnz()
            + nonzero(&self.dt_b)
            + nonzero(&self.a)
            + nonzero(&self.d)
            + self.out.nnz()
            + nonzero(&self.b_out)
    }

    /// Channels whose state can change (`Δ·B·u` not identically zero is what the construction
    /// uses; here: channels with a role that holds state).
    pub fn live_state(&self) -> usize {
        let live = (self.roles.iter())
            .filter(|r| {
                matches!(
                    r,
                    ChannelRole::Ssm(_) | ChannelRole::Twin(_) | ChannelRole::Counter
                )
            })
            .count();
        live * self.state
    }

    pub fn max_abs_param(&self) -> f64 {
        [
            max_abs(&self.norm_weight),
            self.in_x.max_abs(),
            self.in_z.max_abs(),
            max_abs(&self.b_x),
            max_abs(&self.b_z),
            max_abs(&self.conv_w),
            max_abs(&self.conv_b),
            self.x_dt.max_abs(),
            self.x_b.max_abs(),
            self.x_c.max_abs(),
            self.dt_w.max_abs(),
            max_abs(&self.dt_b),
            max_abs(&self.a),
            max_abs(&self.d),
            self.out.max_abs(),
            max_abs(&self.b_out),
        ]
        .into_iter()
        .fold(0.0, f64::max)
    }

    /// The same block in another number type (weights converted one by one).
    pub fn convert<T: Scalar>(&self, f: &impl Fn(&S) -> T) -> MambaBlock<T> {
        let v = |x: &[S]| x.iter().map(f).collect::<Vec<T>>();
        MambaBlock {
            name: self.name.clone(),
            width: self.width,
            inner: self.inner,
            state: self.state,
            dt_rank: self.dt_rank,
            conv_kernel: self.conv_kernel,
            roles: self.roles.clone(),
            norm_weight: v(&self.norm_weight),
            in_x: self.in_x.convert(f),
            in_z: self.in_z.convert(f),
            b_x: v(&self.b_x),
            b_z: v(&self.b_z),
            conv_w: v(&self.conv_w),
            conv_b: v(&self.conv_b),
            x_dt: self.x_dt.convert(f),
            x_b: self.x_b.convert(f),
            x_c: self.x_c.convert(f),
            dt_w: self.dt_w.convert(f),
            dt_b: v(&self.dt_b),
            a: v(&self.a),
            d: v(&self.d),
            out: self.out.convert(f),
            b_out: v(&self.b_out),
        }
    }
}

/// A whole `MambaForCausalLM`.
#[derive(Clone, Debug)]
pub struct MambaModel<S> {
    pub name: String,
    /// Names of the residual coordinates.
    pub coord_names: Vec<String>,
    pub vocab: Vec<String>,
    /// `V × W`.
    pub embedding: SparseMatrix<S>,
    pub blocks: Vec<MambaBlock<S>>,
    pub norm_f: Vec<S>,
    /// `layer_norm_epsilon` (one for every norm, as in the config).
    pub eps: S,
    /// The conv activation (`hidden_act`).
    pub act: Activation,
    /// `V × W`, no bias.
    pub lm_head: SparseMatrix<S>,
    pub prec: u32,
}

/// Greedy decoding of a [`MambaModel`].
pub type MambaGeneration<S> = super::stack::Generation<S>;

/// Incremental decoding of a [`MambaModel`].
pub type MambaRunner<'m, S> = super::stack::StackRunner<'m, S, MambaModel<S>>;

impl<S: Scalar> MambaModel<S> {
    pub fn width(&self) -> usize {
        self.coord_names.len()
    }

    pub fn runner(&self) -> MambaRunner<'_, S> {
        MambaRunner::new(self, Softplus::Exact)
    }

    /// Feed `prompt`, then generate `max_new` tokens greedily.
    pub fn generate(
        &self,
        prompt: &[usize],
        max_new: usize,
        softplus: Softplus,
    ) -> MambaGeneration<S> {
        MambaRunner::new(self, softplus).generate(prompt, max_new)
    }

    /// Logits at every position for a fed token sequence (no generation).
    pub fn logits_of(&self, tokens: &[usize], softplus: Softplus) -> Vec<Vec<S>> {
        MambaRunner::new(self, softplus).logits_of(tokens)
    }

    /// Common inner width, state and dt rank (what the HF config holds for every block).
    pub fn common_dims(&self) -> (usize, usize, usize, usize) {
        let max =
            |f: fn(&MambaBlock<S>) -> usize| self.blocks.iter().map(f).max().unwrap_or(1).max(1);
        (
            max(|b| b.inner),
            max(|b| b.state),
            max(|b| b.dt_rank),
            max(|b| b.conv_kernel),
        )
    }

    pub fn nonzeros(&self) -> usize {
        self.embedding.nnz()
            + self.blocks.iter().map(|b| b.nonzeros()).sum::<usize>()
            + nonzero(&self.norm_f)
            + self.lm_head.nnz()
    }

    pub fn max_abs_param(&self) -> f64 {
        (self.blocks.iter().map(|b| b.max_abs_param()))
            .fold(
                self.embedding.max_abs().max(self.lm_head.max_abs()),
                f64::max,
            )
            .max(max_abs(&self.norm_f))
    }

    pub fn convert<T: Scalar>(&self, prec: u32, f: impl Fn(&S) -> T) -> MambaModel<T> {
        MambaModel {
            name: self.name.clone(),
            coord_names: self.coord_names.clone(),
            vocab: self.vocab.clone(),
            embedding: self.embedding.convert(&f),
            blocks: self.blocks.iter().map(|b| b.convert(&f)).collect(),
            norm_f: self.norm_f.iter().map(&f).collect(),
            eps: f(&self.eps),
            act: self.act,
            lm_head: self.lm_head.convert(&f),
            prec,
        }
    }
}
