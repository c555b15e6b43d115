//! The blocks of Hugging Face's `NemotronHForCausalLM` (`modeling_nemotron_h.py`, transformers
//! 5.24), generic over the number type, so a lowered model runs in f64, MPFR and ball arithmetic
//! exactly as it is exported.
//!
//! Every block is `x ← x + mixer(RMSNorm(x))` with one of three mixers (`hybrid_override_pattern`
//! letters `M`, `*`, `-`):
//! ```text
//! Mamba-2 (M), heads h = 1..H of P channels, G groups of state N, kernel K:
//!   z, xBC, dt = in_proj·x̂ + b                          (z: H·P, xBC: H·P + 2·G·N, dt: H)
//!   x, B, C    = SiLU(conv1d(xBC))                       (causal depthwise conv over x, B and C)
//!   Δ_h        = softplus(dt_h + dt_bias_h)
//!   h_{h,p,n}  ← exp(Δ_h A_h) h_{h,p,n} + Δ_h B_{g(h),n} x_{h,p}
//!   y_{h,p}    = Σ_n C_{g(h),n} h_{h,p,n} + D_h x_{h,p}
//!   y          ← w ⊙ GroupRMSNorm(y ⊙ SiLU(z))            (G groups, the config's one eps)
//!   out        = out_proj·y + b_out
//! attention (*): q, k, v = W_q x̂, W_k x̂, W_v x̂ (no bias, no RoPE); head h reads kv head
//!   h / (H / H_kv); scores q·k · head_dim^(-1/2); causal softmax; out = W_o · concat(heads)
//! MLP (-): out = down·act(up·x̂ + b_up) + b_down          (act = `mlp_hidden_act`)
//! ```
//! The model: embedding → blocks → RMSNorm (`norm_f`) → `lm_head` (no bias) → greedy argmax.

use super::mamba::{rms_norm_into, MambaGeneration};
use super::mlp::Activation;
use super::sparse::SparseMatrix;
use super::ssm::Softplus;
use crate::num::{zeros, Scalar};

fn nonzero<S: Scalar>(v: &[S]) -> usize {
    v.iter().filter(|x| !x.is_zero()).count()
}

/// A Mamba-2 mixer (`NemotronHMamba2Mixer`).
#[derive(Clone, Debug)]
pub struct Mamba2Mixer<S> {
    pub heads: usize,
    pub head_dim: usize,
    pub groups: usize,
    pub state: usize,
    pub conv_kernel: usize,
    /// `H·P × W`: the gate `z`.
    pub in_z: SparseMatrix<S>,
    /// `(H·P + 2·G·N) × W`: x, then B (group-major), then C.
    pub in_xbc: SparseMatrix<S>,
    /// `H × W`.
    pub in_dt: SparseMatrix<S>,
    pub b_z: Vec<S>,
    pub b_xbc: Vec<S>,
    pub b_dt: Vec<S>,
    /// `conv_w[c·K + k]`; tap `K − 1` is the current position.
    pub conv_w: Vec<S>,
    pub conv_b: Vec<S>,
    pub dt_bias: Vec<S>,
    /// `A_h = −exp(A_log_h)` ≤ 0 (0 is `A_log = −∞`).
    pub a: Vec<S>,
    pub d: Vec<S>,
    /// The gated group norm's weight (`H·P`).
    pub norm_w: Vec<S>,
    pub out: SparseMatrix<S>,
    pub b_out: Vec<S>,
}

/// An attention mixer (`NemotronHAttention`).
#[derive(Clone, Debug)]
pub struct AttentionMixer<S> {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    /// `H·d × W`, `H_kv·d × W`, `H_kv·d × W`, `W × H·d`.
    pub q: SparseMatrix<S>,
    pub k: SparseMatrix<S>,
    pub v: SparseMatrix<S>,
    pub o: SparseMatrix<S>,
}

/// An MLP mixer (`NemotronHMLP`, with `mlp_bias`).
#[derive(Clone, Debug)]
pub struct MlpMixer<S> {
    pub up: SparseMatrix<S>,
    pub b_up: Vec<S>,
    pub down: SparseMatrix<S>,
    pub b_down: Vec<S>,
    /// Readable unit names (model card, summaries).
    pub unit_names: Vec<String>,
}

#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // a handful of blocks per model
pub enum Mixer<S> {
    Mamba2(Mamba2Mixer<S>),
    Attention(AttentionMixer<S>),
    Mlp(MlpMixer<S>),
}

impl<S> Mixer<S> {
    /// The `hybrid_override_pattern` letter.
    pub fn letter(&self) -> char {
        match self {
            Mixer::Mamba2(_) => 'M',
            Mixer::Attention(_) => '*',
            Mixer::Mlp(_) => '-',
        }
    }
}

#[derive(Clone, Debug)]
pub struct NemotronHBlock<S> {
    pub name: String,
    pub norm_weight: Vec<S>,
    pub mixer: Mixer<S>,
}

/// What one block keeps between positions.
#[derive(Clone, Debug)]
pub enum BlockMemory<S> {
    Mamba2 {
        /// Past pre-conv `xBC` values: `hist[c·(K−1) + j]`, `j = K−2` the most recent.
        hist: Vec<S>,
        /// `h[(head·P + p)·N + n]`.
        h: Vec<S>,
    },
    Attention {
        /// Per kv head: the keys (values) of every past position, `head_dim` numbers each.
        keys: Vec<Vec<S>>,
        values: Vec<Vec<S>>,
    },
    Mlp,
}

/// Preallocated work space of one block, so a step allocates nothing (an attention block's
/// caches grow by one position a step, within the capacity reserved by [`NemotronHRunner::reserve`]).
#[derive(Clone, Debug)]
pub struct BlockScratch<S> {
    xn: Vec<S>,
    out: Vec<S>,
    acc: S,
    width: S,
    /// Mamba-2: `z`, `xBC`, `dt`, the conv output `u`, `y`, one group of `y`, the group size.
    z: Vec<S>,
    xbc: Vec<S>,
    dt: Vec<S>,
    u: Vec<S>,
    y: Vec<S>,
    group: Vec<S>,
    group_len: S,
    decay: S,
    tmp: S,
    softplus_threshold: S,
    /// Attention: `q`, `k`, `v`, the heads' concatenated outputs, the scores of one head.
    q: Vec<S>,
    k: Vec<S>,
    v: Vec<S>,
    att: Vec<S>,
    scores: Vec<S>,
    scale: S,
    max: S,
    norm: S,
    /// MLP: the hidden units.
    hidden: Vec<S>,
}

#[derive(Clone, Debug)]
pub struct BlockState<S> {
    pub memory: BlockMemory<S>,
    scratch: BlockScratch<S>,
}

fn convert_vec<S, T>(v: &[S], f: &impl Fn(&S) -> T) -> Vec<T> {
    v.iter().map(f).collect()
}

impl<S: Scalar> Mamba2Mixer<S> {
    pub fn inner(&self) -> usize {
        self.heads * self.head_dim
    }
    pub fn conv_dim(&self) -> usize {
        self.inner() + 2 * self.groups * self.state
    }

    fn step(&self, hist: &mut [S], h: &mut [S], sc: &mut BlockScratch<S>, eps: &S, sp: Softplus) {
        let (inner, cd, k) = (self.inner(), self.conv_dim(), self.conv_kernel);
        let BlockScratch {
            xn,
            out,
            acc,
            z,
            xbc,
            dt,
            u,
            y,
            group,
            group_len,
            decay,
            tmp,
            softplus_threshold,
            ..
        } = sc;
        self.in_z.mul_vec_into(xn, z);
        for (zv, b) in z.iter_mut().zip(&self.b_z) {
            zv.add_assign_s(b);
        }
        self.in_xbc.mul_vec_into(xn, xbc);
        self.in_dt.mul_vec_into(xn, dt);
        for c in 0..cd {
            xbc[c].add_assign_s(&self.b_xbc[c]);
            let w = &self.conv_w[c * k..(c + 1) * k];
            u[c].set(&self.conv_b[c]);
            let past = &mut hist[c * (k - 1)..(c + 1) * (k - 1)];
            for (wj, pj) in w.iter().zip(past.iter()) {
                if !wj.is_zero() {
                    u[c].mul_add_assign(wj, pj);
                }
            }
            u[c].mul_add_assign(&w[k - 1], &xbc[c]);
            u[c].silu_mut();
            if k > 1 {
                past.rotate_left(1);
                past[k - 2].set(&xbc[c]);
            }
        }
        for ((d, b), bias) in dt.iter_mut().zip(&self.b_dt).zip(&self.dt_bias) {
            d.add_assign_s(b);
            d.add_assign_s(bias);
            if sp != Softplus::Torch || d.mid_le(softplus_threshold) {
                d.softplus_mut();
            }
        }
        let (p_dim, n_state) = (self.head_dim, self.state);
        let per_group = self.heads / self.groups.max(1);
        let (bs, cs) = (inner, inner + self.groups * n_state);
        for (hd, dth) in dt.iter().enumerate() {
            let g = hd / per_group.max(1);
            let a_zero = self.a[hd].is_zero();
            if !a_zero {
                decay.set(dth);
                decay.mul_assign_s(&self.a[hd]);
                decay.exp_mut();
            }
            for p in 0..p_dim {
                let ch = hd * p_dim + p;
                let xv = &u[ch];
                tmp.set(dth);
                tmp.mul_assign_s(xv);
                let yv = &mut y[ch];
                yv.set(&self.d[hd]);
                yv.mul_assign_s(xv);
                for n in 0..n_state {
                    let hv = &mut h[ch * n_state + n];
                    if !a_zero {
                        hv.mul_assign_s(decay);
                    }
                    let b = &u[bs + g * n_state + n];
                    if !b.is_zero() {
                        hv.mul_add_assign(tmp, b);
                    }
                    let c = &u[cs + g * n_state + n];
                    if !c.is_zero() {
                        yv.mul_add_assign(c, hv);
                    }
                }
            }
        }
        // Gated group RMSNorm: y·SiLU(z), normalised over each of the G groups.
        for (yv, zv) in y.iter_mut().zip(z.iter_mut()) {
            zv.silu_mut();
            yv.mul_assign_s(zv);
        }
        let gs = inner / self.groups.max(1);
        for g in 0..self.groups {
            let grp = &mut y[g * gs..(g + 1) * gs];
            let w = &self.norm_w[g * gs..(g + 1) * gs];
            for (c, v) in group.iter_mut().zip(grp.iter()) {
                c.set(v);
            }
            rms_norm_into(group, w, eps, group_len, acc, grp);
        }
        self.out.mul_vec_add_into(y, out);
        for (o, b) in out.iter_mut().zip(&self.b_out) {
            if !b.is_zero() {
                o.add_assign_s(b);
            }
        }
    }

    fn nonzeros(&self) -> usize {
        self.in_z.nnz()
            + self.in_xbc.nnz()
            + self.in_dt.nnz()
            + nonzero(&self.b_z)
            + nonzero(&self.b_xbc)
            + nonzero(&self.b_dt)
            + nonzero(&self.conv_w)
            + nonzero(&self.conv_b)
            + nonzero(&self.dt_bias)
            + nonzero(&self.a)
            + nonzero(&self.d)
            + nonzero(&self.norm_w)
            + self.out.nnz()
            + nonzero(&self.b_out)
    }

    fn convert<T: Scalar>(&self, f: &impl Fn(&S) -> T) -> Mamba2Mixer<T> {
        Mamba2Mixer {
            heads: self.heads,
            head_dim: self.head_dim,
            groups: self.groups,
            state: self.state,
            conv_kernel: self.conv_kernel,
            in_z: self.in_z.convert(f),
            in_xbc: self.in_xbc.convert(f),
            in_dt: self.in_dt.convert(f),
            b_z: convert_vec(&self.b_z, f),
            b_xbc: convert_vec(&self.b_xbc, f),
            b_dt: convert_vec(&self.b_dt, f),
            conv_w: convert_vec(&self.conv_w, f),
            conv_b: convert_vec(&self.conv_b, f),
            dt_bias: convert_vec(&self.dt_bias, f),
            a: convert_vec(&self.a, f),
            d: convert_vec(&self.d, f),
            norm_w: convert_vec(&self.norm_w, f),
            out: self.out.convert(f),
            b_out: convert_vec(&self.b_out, f),
        }
    }
}

impl<S: Scalar> AttentionMixer<S> {
    /// `head_dim^(-1/2)`, as the module computes it.
    pub fn scaling(&self, prec: u32) -> S {
        let mut s = S::from_i64(self.head_dim as i64, prec);
        s.sqrt_mut();
        S::one(prec).div(&s)
    }

    fn step(&self, keys: &mut [Vec<S>], values: &mut [Vec<S>], sc: &mut BlockScratch<S>) {
        let d = self.head_dim;
        let BlockScratch {
            xn,
            out,
            q,
            k,
            v,
            att,
            scores,
            scale,
            max,
            norm,
            ..
        } = sc;
        self.q.mul_vec_into(xn, q);
        self.k.mul_vec_into(xn, k);
        self.v.mul_vec_into(xn, v);
        for j in 0..self.kv_heads {
            keys[j].extend_from_slice(&k[j * d..(j + 1) * d]);
            values[j].extend_from_slice(&v[j * d..(j + 1) * d]);
        }
        let positions = keys.first().map_or(0, |kk| kk.len() / d.max(1));
        if scores.len() < positions {
            let prec = scale.precision();
            scores.resize_with(positions, || S::zero(prec));
        }
        let scores = &mut scores[..positions];
        let rep = self.heads / self.kv_heads.max(1);
        for hd in 0..self.heads {
            let j = hd / rep.max(1);
            let qh = &q[hd * d..(hd + 1) * d];
            for (s, kk) in scores.iter_mut().zip(keys[j].chunks_exact(d)) {
                s.set_i64(0);
                for (a, b) in qh.iter().zip(kk) {
                    s.mul_add_assign(a, b);
                }
                s.mul_assign_s(scale);
            }
            max.set(&scores[0]);
            for s in &scores[1..] {
                if s.mid_gt(max) {
                    max.set(s);
                }
            }
            norm.set_i64(0);
            for s in scores.iter_mut() {
                s.sub_assign_s(max);
                s.exp_mut();
                norm.add_assign_s(s);
            }
            let o = &mut att[hd * d..(hd + 1) * d];
            for oi in o.iter_mut() {
                oi.set_i64(0);
            }
            for (s, vv) in scores.iter_mut().zip(values[j].chunks_exact(d)) {
                s.div_assign_s(norm);
                for (oi, vi) in o.iter_mut().zip(vv) {
                    oi.mul_add_assign(s, vi);
                }
            }
        }
        self.o.mul_vec_add_into(att, out);
    }
}

impl<S: Scalar> MlpMixer<S> {
    fn step(&self, act: Activation, sc: &mut BlockScratch<S>) {
        let BlockScratch {
            xn, out, hidden, ..
        } = sc;
        self.up.mul_vec_into(xn, hidden);
        for (hv, b) in hidden.iter_mut().zip(&self.b_up) {
            hv.add_assign_s(b);
            act.apply(hv);
        }
        self.down.mul_vec_add_into(hidden, out);
        for (o, b) in out.iter_mut().zip(&self.b_down) {
            if !b.is_zero() {
                o.add_assign_s(b);
            }
        }
    }
}

impl<S: Scalar> NemotronHBlock<S> {
    pub fn new_state(&self, width: usize, prec: u32) -> BlockState<S> {
        let none = Vec::new;
        let mut sc = BlockScratch {
            xn: zeros(width, prec),
            out: zeros(width, prec),
            acc: S::zero(prec),
            width: S::from_i64(width as i64, prec),
            z: none(),
            xbc: none(),
            dt: none(),
            u: none(),
            y: none(),
            group: none(),
            group_len: S::one(prec),
            decay: S::zero(prec),
            tmp: S::zero(prec),
            softplus_threshold: S::from_i64(20, prec),
            q: none(),
            k: none(),
            v: none(),
            att: none(),
            scores: none(),
            scale: S::one(prec),
            max: S::zero(prec),
            norm: S::zero(prec),
            hidden: none(),
        };
        let memory = match &self.mixer {
            Mixer::Mamba2(m) => {
                let gs = m.inner() / m.groups.max(1);
                sc.z = zeros(m.inner(), prec);
                sc.xbc = zeros(m.conv_dim(), prec);
                sc.dt = zeros(m.heads, prec);
                sc.u = zeros(m.conv_dim(), prec);
                sc.y = zeros(m.inner(), prec);
                sc.group = zeros(gs, prec);
                sc.group_len = S::from_i64(gs as i64, prec);
                BlockMemory::Mamba2 {
                    hist: zeros(m.conv_dim() * (m.conv_kernel - 1), prec),
                    h: zeros(m.inner() * m.state, prec),
                }
            }
            Mixer::Attention(a) => {
                sc.q = zeros(a.heads * a.head_dim, prec);
                sc.k = zeros(a.kv_heads * a.head_dim, prec);
                sc.v = zeros(a.kv_heads * a.head_dim, prec);
                sc.att = zeros(a.heads * a.head_dim, prec);
                sc.scale = a.scaling(prec);
                BlockMemory::Attention {
                    keys: vec![Vec::new(); a.kv_heads],
                    values: vec![Vec::new(); a.kv_heads],
                }
            }
            Mixer::Mlp(m) => {
                sc.hidden = zeros(m.up.rows, prec);
                BlockMemory::Mlp
            }
        };
        BlockState {
            memory,
            scratch: sc,
        }
    }

    /// One position: `x ← x + mixer(norm(x))`.
    pub fn step(
        &self,
        st: &mut BlockState<S>,
        x: &mut [S],
        eps: &S,
        mlp_act: Activation,
        sp: Softplus,
    ) {
        let sc = &mut st.scratch;
        rms_norm_into(
            x,
            &self.norm_weight,
            eps,
            &sc.width,
            &mut sc.acc,
            &mut sc.xn,
        );
        for o in sc.out.iter_mut() {
            o.set_i64(0);
        }
        match (&self.mixer, &mut st.memory) {
            (Mixer::Mamba2(m), BlockMemory::Mamba2 { hist, h }) => m.step(hist, h, sc, eps, sp),
            (Mixer::Attention(a), BlockMemory::Attention { keys, values }) => {
                a.step(keys, values, sc)
            }
            (Mixer::Mlp(m), BlockMemory::Mlp) => m.step(mlp_act, sc),
            _ => unreachable!("a block's state matches its mixer"),
        }
        for (xi, o) in x.iter_mut().zip(&sc.out) {
            xi.add_assign_s(o);
        }
    }

    pub fn nonzeros(&self) -> usize {
        nonzero(&self.norm_weight)
            + match &self.mixer {
                Mixer::Mamba2(m) => m.nonzeros(),
                Mixer::Attention(a) => a.q.nnz() + a.k.nnz() + a.v.nnz() + a.o.nnz(),
                Mixer::Mlp(m) => m.up.nnz() + nonzero(&m.b_up) + m.down.nnz() + nonzero(&m.b_down),
            }
    }

    pub fn convert<T: Scalar>(&self, f: &impl Fn(&S) -> T) -> NemotronHBlock<T> {
        NemotronHBlock {
            name: self.name.clone(),
            norm_weight: convert_vec(&self.norm_weight, f),
            mixer: match &self.mixer {
                Mixer::Mamba2(m) => Mixer::Mamba2(m.convert(f)),
                Mixer::Attention(a) => Mixer::Attention(AttentionMixer {
                    heads: a.heads,
                    kv_heads: a.kv_heads,
                    head_dim: a.head_dim,
                    q: a.q.convert(f),
                    k: a.k.convert(f),
                    v: a.v.convert(f),
                    o: a.o.convert(f),
                }),
                Mixer::Mlp(m) => Mixer::Mlp(MlpMixer {
                    up: m.up.convert(f),
                    b_up: convert_vec(&m.b_up, f),
                    down: m.down.convert(f),
                    b_down: convert_vec(&m.b_down, f),
                    unit_names: m.unit_names.clone(),
                }),
            },
        }
    }
}

/// A whole `NemotronHForCausalLM`.
#[derive(Clone, Debug)]
pub struct NemotronHModel<S> {
    pub name: String,
    pub coord_names: Vec<String>,
    pub vocab: Vec<String>,
    /// `V × W`.
    pub embedding: SparseMatrix<S>,
    pub blocks: Vec<NemotronHBlock<S>>,
    pub norm_f: Vec<S>,
    /// `layer_norm_epsilon`: every norm, the gated group norms included.
    pub eps: S,
    /// `mlp_hidden_act`.
    pub mlp_act: Activation,
    /// `V × W`, no bias.
    pub lm_head: SparseMatrix<S>,
    pub prec: u32,
}

impl<S: Scalar> NemotronHModel<S> {
    pub fn width(&self) -> usize {
        self.coord_names.len()
    }

    pub fn pattern(&self) -> String {
        self.blocks.iter().map(|b| b.mixer.letter()).collect()
    }

    /// A decoder at position 0, with room for `positions` positions in its attention caches.
    pub fn runner(&self, positions: usize, sp: Softplus) -> NemotronHRunner<'_, S> {
        let mut run = NemotronHRunner::new(self, sp);
        run.reserve(positions);
        run
    }

    /// Logits after feeding `tokens` one by one (the logits of every position).
    pub fn logits_of(&self, tokens: &[usize], sp: Softplus) -> Vec<Vec<S>> {
        self.runner(tokens.len(), sp).logits_of(tokens)
    }

    /// Feed `prompt`, then generate `max_new` tokens greedily (ties to the lowest id).
    pub fn generate(&self, prompt: &[usize], max_new: usize, sp: Softplus) -> MambaGeneration<S> {
        self.runner(prompt.len() + max_new, sp)
            .generate(prompt, max_new)
    }

    /// The residual after the last block at every position (before `norm_f`).
    pub fn residuals(&self, tokens: &[usize], sp: Softplus) -> Vec<Vec<S>> {
        let mut run = self.runner(tokens.len(), sp);
        tokens
            .iter()
            .map(|&t| {
                run.feed(t);
                run.residual.clone()
            })
            .collect()
    }

    /// Logits at the last position after feeding residual vectors (`inputs_embeds`).
    pub fn logits_of_embeddings(&self, inputs: &[Vec<S>], sp: Softplus) -> Vec<S> {
        let mut run = self.runner(inputs.len(), sp);
        for x in inputs {
            run.feed_embedding(x);
        }
        run.logits
    }

    pub fn nonzeros(&self) -> usize {
        self.embedding.nnz()
            + self.blocks.iter().map(|b| b.nonzeros()).sum::<usize>()
            + nonzero(&self.norm_f)
            + self.lm_head.nnz()
    }

    pub fn convert<T: Scalar>(&self, prec: u32, f: impl Fn(&S) -> T) -> NemotronHModel<T> {
        NemotronHModel {
            name: self.name.clone(),
            coord_names: self.coord_names.clone(),
            vocab: self.vocab.clone(),
            embedding: self.embedding.convert(&f),
            blocks: self.blocks.iter().map(|b| b.convert(&f)).collect(),
            norm_f: convert_vec(&self.norm_f, &f),
            eps: f(&self.eps),
            mlp_act: self.mlp_act,
            lm_head: self.lm_head.convert(&f),
            prec,
        }
    }
}

/// Incremental decoding of a [`NemotronHModel`]: a step allocates nothing.
pub type NemotronHRunner<'m, S> = super::stack::StackRunner<'m, S, NemotronHModel<S>>;

impl<S: Scalar> NemotronHRunner<'_, S> {
    /// Room for `positions` more positions in every attention cache.
    pub fn reserve(&mut self, positions: usize) {
        for (b, st) in self.model.blocks.iter().zip(self.states.iter_mut()) {
            if let (Mixer::Attention(a), BlockMemory::Attention { keys, values }) =
                (&b.mixer, &mut st.memory)
            {
                for c in keys.iter_mut().chain(values.iter_mut()) {
                    c.reserve(positions * a.head_dim);
                }
                let seen = keys.first().map_or(0, |k| k.len() / a.head_dim.max(1));
                st.scratch
                    .scores
                    .reserve((seen + positions).saturating_sub(st.scratch.scores.len()));
            }
        }
    }
}
