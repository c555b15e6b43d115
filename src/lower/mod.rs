//! Lowering: the paper's idealised model rewritten into the block sequence of a real
//! architecture, here Hugging Face's `MambaForCausalLM` (Mamba-1). See `proofs/lowering.md`.
//!
//! Each idealisation becomes a named gadget with a stated bound:
//! - **norm**: RMSNorm with `eps = 2^e` and weight `2^{e/2}` is the identity within a relative
//!   `mean(x²)/(2·eps)` (exactly the identity in float32 while `mean(x²) < 2^{e−25}`);
//! - **mlp-as-mixer**: an MLP layer is a block whose SSM is off (`B = C = 0`): unit `j` is
//!   `act(s·z_j)` through the conv activation, `y = D·u` with `D = 1/(s·SiLU(G))`, and the gate is
//!   the constant `SiLU(G)`; `s = 1` for the target's own activation, `s = λ` for ReLU units
//!   (error ≤ c/λ per unit, `mlp-relu`);
//! - **shift**: an SSM input `v` enters as `act(v + K)`, and a twin channel fed `act(K)` with the
//!   same Δ, A, D and gate cancels the `K` part (error ≤ ψ(K − M) per step, M ≥ |v|);
//! - **carriers**: B, C and Δ are read through `x_proj` from channels carrying `act(x_c + K)`,
//!   minus a constant channel `act(K)`; carriers have Δ = 0 and hold no state;
//! - **position**: a counter channel with `A = 0` computes `t` exactly, and every positional
//!   feature is ReLU units of `t` or of `t mod P` (see [`position`]).

pub mod nemotron_h;
pub mod position;
pub mod ranges;

use crate::error::{Error, Result};
use crate::model::mamba::{ChannelRole, MambaBlock, MambaModel};
use crate::model::{Activation, Layer, MlpLayer, Model, SparseMatrix, SsmLayer};
use position::{mod_stages, program, FeatureProgram};
use ranges::{residual_ranges, Interval};
use std::collections::BTreeMap;

/// `z` of a channel without a gate of its own: `SiLU(64)` is 64 in float32.
pub const GATE: f64 = 64.0;
/// Input of the constant channels (`act(64)` is 64 in float32 for SiLU, GeLU and ReLU).
const CONSTANT_INPUT: f64 = 64.0;
/// Δ bias of channels that must hold no state: softplus(−10⁴) is 0 in float32.
const NO_STATE: f64 = -1.0e4;

/// What the lowering may choose; `None` means "from the bounds".
#[derive(Clone, Debug)]
pub struct LowerOptions {
    /// The target's `hidden_act` (the conv activation).
    pub act: Activation,
    /// The longest sequence the checkpoint is for (prompt + generated tokens).
    pub context: usize,
    pub shift: Option<f64>,
    pub lambda: Option<f64>,
    pub eps_log2: Option<i32>,
    /// Input vectors of a block model: every vector any input may hold (their range replaces
    /// the vocabulary's); the first `block_tokens` of them become the embedding rows.
    pub vectors: Option<Vec<Vec<f64>>>,
    pub block_tokens: usize,
    /// Residual coordinates read out as logits rows 0, 1, … (a block's result).
    pub read: Vec<usize>,
}

impl LowerOptions {
    pub fn new(context: usize) -> Self {
        LowerOptions {
            act: Activation::Silu,
            context,
            shift: None,
            lambda: None,
            eps_log2: None,
            vectors: None,
            block_tokens: 0,
            read: Vec::new(),
        }
    }
}

/// One gadget instance and its stated bound (the checks compare measured errors with it).
#[derive(Clone, Debug, serde::Serialize)]
pub struct GadgetBound {
    pub gadget: &'static str,
    pub block: String,
    /// The gadget's parameter (K, λ or eps exponent).
    pub parameter: f64,
    /// The range its hypothesis needs (M for the shift, the mean square for the norm).
    pub hypothesis: f64,
    /// Stated error bound (per unit, per input, or relative for the norm).
    pub bound: f64,
}

/// The result: the target model (weights rounded to float32 values, as written) and its
/// gadgets' parameters and bounds.
pub struct Lowered {
    pub model: MambaModel<f64>,
    pub gadgets: Vec<GadgetBound>,
    pub lambda: f64,
    pub eps_log2: i32,
    /// Bound on `mean(x²)` of the residual at every norm.
    pub mean_square_bound: f64,
    /// Positional features and their programs.
    pub positional: Vec<(String, FeatureProgram)>,
    /// Residual coordinates of the abstract model (a prefix of the lowered residual).
    pub abstract_width: usize,
}

/// `ψ(x) = x − act(x)`: how far the activation is from the identity at `x`.
pub fn shift_error(act: Activation, x: f64) -> f64 {
    match act {
        Activation::Relu => (-x).max(0.0),
        Activation::Silu => x / (1.0 + x.exp()),
        Activation::Gelu => 0.5 * x * libm::erfc(x / std::f64::consts::SQRT_2),
    }
}

/// `sup_z |act(λz)/λ − ReLU(z)| = c/λ` (the `mlp-relu` constants).
pub fn unit_error(act: Activation, lambda: f64) -> f64 {
    match act {
        Activation::Relu => 0.0,
        Activation::Silu => 0.278_464_542_761_074 / lambda,
        Activation::Gelu => 0.169_971_085_744_084_5 / lambda,
    }
}

/// The target activation that runs a model's units natively: GeLU when it has GeLU units, else
/// SiLU (Mamba's own); ReLU units then run as act(λz)/λ.
pub fn natural_activation(model_json: &serde_json::Value) -> Result<Activation> {
    let acts: Vec<&str> = (model_json["layers"].as_array().into_iter().flatten())
        .filter_map(|l| l["activation"].as_str())
        .collect();
    match (acts.contains(&"gelu"), acts.contains(&"silu")) {
        (true, true) => Err(Error::input(
            "the model has both GeLU and SiLU units: one Mamba checkpoint has one activation",
        )),
        (true, false) => Ok(Activation::Gelu),
        _ => Ok(Activation::Silu),
    }
}

/// Round to the nearest float32 value (what the checkpoint stores).
pub fn f32_value(x: f64) -> f64 {
    x as f32 as f64
}

/// One block under construction: channels with roles, weights as entries.
struct BlockBuilder {
    name: String,
    width: usize,
    state: usize,
    roles: Vec<ChannelRole>,
    in_x: Vec<(usize, usize, f64)>,
    in_z: Vec<(usize, usize, f64)>,
    b_x: Vec<f64>,
    b_z: Vec<f64>,
    conv_current: Vec<f64>,
    conv_b: Vec<f64>,
    x_dt: Vec<(usize, usize, f64)>,
    x_b: Vec<(usize, usize, f64)>,
    x_c: Vec<(usize, usize, f64)>,
    dt_w: Vec<(usize, usize, f64)>,
    dt_rank: usize,
    dt_b: Vec<f64>,
    a: Vec<f64>,
    d: Vec<f64>,
    out: Vec<(usize, usize, f64)>,
    b_out: Vec<f64>,
}

impl BlockBuilder {
    fn new(name: impl Into<String>, width: usize, state: usize) -> Self {
        BlockBuilder {
            name: name.into(),
            width,
            state,
            roles: Vec::new(),
            in_x: Vec::new(),
            in_z: Vec::new(),
            b_x: Vec::new(),
            b_z: Vec::new(),
            conv_current: Vec::new(),
            conv_b: Vec::new(),
            x_dt: Vec::new(),
            x_b: Vec::new(),
            x_c: Vec::new(),
            dt_w: Vec::new(),
            dt_rank: 1,
            dt_b: Vec::new(),
            a: Vec::new(),
            d: Vec::new(),
            out: Vec::new(),
            b_out: vec![0.0; width],
        }
    }

    /// A new channel: no input, gate constant `SiLU(G)`, no state, A = −1, D = 0.
    fn channel(&mut self, role: ChannelRole) -> usize {
        self.roles.push(role);
        self.b_x.push(0.0);
        self.b_z.push(GATE);
        self.conv_current.push(1.0);
        self.conv_b.push(0.0);
        self.dt_b.push(NO_STATE);
        self.a.extend(std::iter::repeat_n(-1.0, self.state));
        self.d.push(0.0);
        self.roles.len() - 1
    }

    /// A channel fed the constant `act(input)`.
    fn constant_channel(&mut self, role: ChannelRole, input: f64) -> usize {
        let c = self.channel(role);
        self.conv_current[c] = 0.0;
        self.conv_b[c] = input;
        c
    }

    /// An MLP unit `act(s·(w·x + b))`, read out as `act(s·z)/s` times `w_out`.
    fn unit(
        &mut self,
        name: String,
        w_in: impl Iterator<Item = (usize, f64)>,
        b_in: f64,
        s: f64,
        w_out: impl Iterator<Item = (usize, f64)>,
    ) -> usize {
        let c = self.channel(ChannelRole::Unit(name));
        for (col, w) in w_in {
            self.in_x.push((c, col, s * w));
        }
        self.b_x[c] = s * b_in;
        self.d[c] = 1.0 / (s * GATE);
        for (row, w) in w_out {
            self.out.push((row, c, w));
        }
        c
    }

    fn build(self, kernel: usize, norm_weight: f64) -> MambaBlock<f64> {
        let i = self.roles.len();
        let f = f32_value;
        let m = |rows, cols, e: Vec<(usize, usize, f64)>| {
            SparseMatrix::from_entries(
                rows,
                cols,
                e.into_iter().map(|(r, c, v)| (r, c, f(v))).collect(),
            )
        };
        let mut conv_w = vec![0.0; i * kernel];
        for (c, w) in self.conv_current.iter().enumerate() {
            conv_w[c * kernel + kernel - 1] = *w;
        }
        let v = |x: Vec<f64>| x.into_iter().map(f).collect::<Vec<f64>>();
        MambaBlock {
            name: self.name,
            width: self.width,
            inner: i,
            state: self.state,
            dt_rank: self.dt_rank,
            conv_kernel: kernel,
            roles: self.roles,
            norm_weight: vec![norm_weight; self.width],
            in_x: m(i, self.width, self.in_x),
            in_z: m(i, self.width, self.in_z),
            b_x: v(self.b_x),
            b_z: v(self.b_z),
            conv_w,
            conv_b: v(self.conv_b),
            x_dt: m(self.dt_rank, i, self.x_dt),
            x_b: m(self.state, i, self.x_b),
            x_c: m(self.state, i, self.x_c),
            dt_w: m(i, self.dt_rank, self.dt_w),
            dt_b: v(self.dt_b),
            // A is stored as A_log = ln(−A) in float32; keep the value the checkpoint holds.
            a: self
                .a
                .into_iter()
                .map(|a| {
                    if a == 0.0 {
                        0.0
                    } else {
                        -f(f((-a).ln()).exp())
                    }
                })
                .collect(),
            d: v(self.d),
            out: m(self.width, i, self.out),
            b_out: v(self.b_out),
        }
    }
}

/// The scale `s` of a unit of activation `unit` on a target whose activation is `target`.
fn unit_scale(unit: Activation, target: Activation, lambda: f64) -> Result<f64> {
    if unit == target {
        Ok(1.0)
    } else if unit == Activation::Relu {
        Ok(lambda)
    } else {
        Err(Error::input(format!(
            "a {} unit cannot be lowered exactly into a Mamba whose activation is {}: lower with --act {}",
            unit.name(),
            target.name(),
            unit.name()
        )))
    }
}

/// Margin of the shift above the input bound: `ψ(K − M)` is below float32's resolution.
fn shift_margin(act: Activation) -> f64 {
    match act {
        Activation::Relu => 1.0,
        Activation::Gelu => 8.0,
        Activation::Silu => 24.0,
    }
}

struct Ctx<'a> {
    opts: &'a LowerOptions,
    width: usize,
    kernel: usize,
    norm_weight: f64,
    lambda: f64,
    gadgets: Vec<GadgetBound>,
    names: &'a [String],
}

impl Ctx<'_> {
    fn mlp_block(&mut self, l: &MlpLayer<f64>) -> Result<MambaBlock<f64>> {
        let s = unit_scale(l.act, self.opts.act, self.lambda)?;
        let mut b = BlockBuilder::new(l.name.clone(), self.width, 1);
        let w2t = transpose(&l.w2);
        for (j, outs) in w2t.iter().enumerate() {
            let name = l
                .hidden_names
                .get(j)
                .cloned()
                .unwrap_or_else(|| format!("unit{j}"));
            b.unit(
                name,
                l.w1.row(j).map(|(c, w)| (c, *w)),
                l.b1[j],
                s,
                outs.iter().copied(),
            );
        }
        for (o, v) in b.b_out.iter_mut().zip(&l.b2) {
            *o = *v;
        }
        if s != 1.0 {
            let worst_row = (0..l.w2.rows)
                .map(|r| l.w2.row(r).map(|(_, w)| w.abs()).sum::<f64>())
                .fold(0.0, f64::max);
            self.gadgets.push(GadgetBound {
                gadget: "relu-unit",
                block: l.name.clone(),
                parameter: s,
                hypothesis: worst_row,
                bound: worst_row * unit_error(self.opts.act, s),
            });
        }
        Ok(b.build(self.kernel, self.norm_weight))
    }

    fn ssm_block(&mut self, l: &SsmLayer<f64>, x: &[Interval]) -> Result<MambaBlock<f64>> {
        let act = self.opts.act;
        let mut b = BlockBuilder::new(l.name.clone(), self.width, l.state.max(1));
        // Residual coordinates read by B, C and Δ ride on carrier channels.
        let mut carried: BTreeMap<usize, usize> = BTreeMap::new();
        let mut delta_cols: Vec<usize> = Vec::new();
        for m in [&l.w_b, &l.w_c, &l.w_delta] {
            for (_, c, _) in m.entries() {
                carried.insert(c, usize::MAX);
            }
        }
        for (_, c, _) in l.w_delta.entries() {
            if !delta_cols.contains(&c) {
                delta_cols.push(c);
            }
        }
        delta_cols.sort_unstable();
        let u_range: Vec<f64> = (0..l.channels)
            .map(|d| l.w_u.row(d).map(|(c, w)| w.abs() * x[c].mag()).sum())
            .collect();
        let m_in = (carried.keys().map(|&c| x[c].mag()))
            .chain(u_range.iter().copied())
            .fold(0.0, f64::max);
        let k = self
            .opts
            .shift
            .unwrap_or((m_in.ceil() + shift_margin(act)).max(1.0));
        self.gadgets.push(GadgetBound {
            gadget: "shift",
            block: l.name.clone(),
            parameter: k,
            hypothesis: m_in,
            bound: if k > m_in {
                shift_error(act, k - m_in)
            } else {
                f64::INFINITY
            },
        });
        let gate_scale = if l.gate.is_some() { 1.0 } else { GATE };
        let w_ot = transpose(&l.w_o);
        // Channels with the same Δ, A, D and gate share one twin.
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for d in 0..l.channels {
            groups.entry(channel_key(l, d)).or_default().push(d);
        }
        let dt_rank = delta_cols.len().max(1);
        b.dt_rank = dt_rank;
        let configure = |b: &mut BlockBuilder, ch: usize, d: usize| {
            b.conv_b[ch] = k;
            b.dt_b[ch] = l.b_delta[d];
            for (r, &c) in delta_cols.iter().enumerate() {
                if let Some(w) = l.w_delta.get(d, c) {
                    b.dt_w.push((ch, r, *w));
                }
            }
            for n in 0..l.state {
                b.a[ch * b.state + n] = l.a[d * l.state + n];
            }
            b.d[ch] = l.d_skip[d];
            if let Some(g) = &l.gate {
                for (c, w) in g.w_z.row(d) {
                    b.in_z.push((ch, c, *w));
                }
                b.b_z[ch] = g.b_z[d];
            }
        };
        for (gi, ds) in groups.values().enumerate() {
            for &d in ds {
                let ch = b.channel(ChannelRole::Ssm(format!("{}.ch{d}", l.name)));
                configure(&mut b, ch, d);
                for (c, w) in l.w_u.row(d) {
                    b.in_x.push((ch, c, *w));
                }
                for &(row, w) in &w_ot[d] {
                    b.out.push((row, ch, w / gate_scale));
                }
            }
            let tw = b.channel(ChannelRole::Twin(format!("{}.twin{gi}", l.name)));
            configure(&mut b, tw, ds[0]);
            b.conv_current[tw] = 0.0;
            let mut cancel: BTreeMap<usize, f64> = BTreeMap::new();
            for &d in ds {
                for &(row, w) in &w_ot[d] {
                    *cancel.entry(row).or_default() -= w / gate_scale;
                }
            }
            for (row, w) in cancel {
                b.out.push((row, tw, w));
            }
        }
        for (&c, ch) in carried.iter_mut() {
            *ch = b.channel(ChannelRole::Carrier(self.names[c].clone()));
            b.in_x.push((*ch, c, 1.0));
            b.conv_b[*ch] = k;
        }
        let one = b.constant_channel(ChannelRole::Constant, k);
        for (dst, m) in [(&mut b.x_b, &l.w_b), (&mut b.x_c, &l.w_c)] {
            for n in 0..m.rows {
                let mut total = 0.0;
                for (c, w) in m.row(n) {
                    dst.push((n, carried[&c], *w));
                    total += w;
                }
                if total != 0.0 {
                    dst.push((n, one, -total));
                }
            }
        }
        for (r, &c) in delta_cols.iter().enumerate() {
            b.x_dt.push((r, carried[&c], 1.0));
            b.x_dt.push((r, one, -1.0));
        }
        Ok(b.build(self.kernel, self.norm_weight))
    }
}

/// Equal keys for channels with the same Δ row and bias, A row, D and gate.
fn channel_key(l: &SsmLayer<f64>, d: usize) -> String {
    let mut s = format!("{:?}|{:?}|", l.b_delta[d].to_bits(), l.d_skip[d].to_bits());
    for (c, w) in l.w_delta.row(d) {
        s += &format!("{c}:{:x},", w.to_bits());
    }
    for n in 0..l.state {
        s += &format!("{:x},", l.a[d * l.state + n].to_bits());
    }
    if let Some(g) = &l.gate {
        s += &format!("|{:x}", g.b_z[d].to_bits());
        for (c, w) in g.w_z.row(d) {
            s += &format!("{c}:{:x},", w.to_bits());
        }
    }
    s
}

/// Column lists: `t[j] = [(row, value)]` for the entries of column j.
fn transpose(m: &SparseMatrix<f64>) -> Vec<Vec<(usize, f64)>> {
    let mut t = vec![Vec::new(); m.cols];
    for (r, c, v) in m.entries() {
        t[c].push((r, *v));
    }
    t
}

/// Every positional feature's program, and the new coordinates they need.
pub(crate) struct PositionalPlan {
    /// `(coordinate name, coordinate, program)` per feature.
    pub programs: Vec<(String, usize, FeatureProgram)>,
    /// The counter `lower.t`, when any feature depends on t.
    pub counter: Option<usize>,
    /// `(P, lower.t_mod_P)` per period in use.
    pub registers: Vec<(usize, usize)>,
}

/// Plan the positional features on `1..=t_max`, appending `lower.t` and `lower.t_mod_P` to `names`.
pub(crate) fn positional_plan(
    m: &Model<f64>,
    t_max: usize,
    names: &mut Vec<String>,
) -> PositionalPlan {
    let mut periods: Vec<usize> = Vec::new();
    let mut programs = Vec::new();
    for f in &m.positional {
        let p = program(&f.kind, t_max, &periods);
        if let FeatureProgram::Periodic { period, .. } = &p {
            if !periods.contains(period) {
                periods.push(*period);
            }
        }
        programs.push((names[f.coord].clone(), f.coord, p));
    }
    let has_positional =
        (m.positional.iter()).any(|f| !matches!(f.kind, crate::model::PosKind::Constant { .. }));
    let counter = has_positional.then(|| {
        names.push("lower.t".into());
        names.len() - 1
    });
    let registers = (periods.iter())
        .map(|&p| {
            names.push(format!("lower.t_mod_{p}"));
            (p, names.len() - 1)
        })
        .collect();
    PositionalPlan {
        programs,
        counter,
        registers,
    }
}

/// Lower an abstract model into Mamba-1 blocks (`MambaForCausalLM`).
pub fn lower_mamba(m: &Model<f64>, opts: &LowerOptions) -> Result<Lowered> {
    if m.layers.iter().any(|l| matches!(l, Layer::Attention(_))) {
        return Err(Error::input(format!(
            "`{}` has attention layers, which MambaForCausalLM has not: lower it with --target nemotron-h",
            m.name
        )));
    }
    if opts.context == 0 {
        return Err(Error::input("the context length must be at least 1"));
    }
    let ranges = residual_ranges(m, opts.context, opts.vectors.as_deref());
    let w0 = m.layout.width();
    // New coordinates after the abstract ones: the constant, the counter and mod registers.
    let mut names: Vec<String> = (0..w0).map(|i| m.layout.coord_name(i)).collect();
    let one = names.len();
    names.push("lower.one".into());
    let PositionalPlan {
        programs,
        counter,
        registers,
    } = positional_plan(m, opts.context, &mut names);
    let width = names.len();
    // The mean square of the residual at any norm (the new coordinates: t, t mod P, 1).
    let extra = (counter.map_or(0.0, |_| (opts.context as f64).powi(2))
        * (1 + registers.len()) as f64)
        + 1.0;
    let mean_square_bound = (ranges.iter())
        .map(|r| r.iter().map(|i| i.mag().powi(2)).sum::<f64>() + extra)
        .fold(0.0, f64::max)
        / width as f64;
    // Float32 keeps `mean + eps` at eps while mean < 2^(e − 25).
    let eps_log2 = opts.eps_log2.unwrap_or_else(|| {
        let need = mean_square_bound.max(1.0).log2().ceil() as i32 + 26;
        let e = need.max(64);
        e + (e & 1)
    });
    if !(2..=126).contains(&eps_log2) || eps_log2 % 2 != 0 {
        return Err(Error::input(format!(
            "the norm's eps exponent must be even and within 2..=126 (float32), not {eps_log2}"
        )));
    }
    let norm_weight = 2f64.powi(eps_log2 / 2);
    let lambda = match opts.lambda {
        Some(l) if l.is_finite() && l > 0.0 => l,
        Some(l) => {
            return Err(Error::input(format!(
                "λ must be a positive number, not {l}"
            )));
        }
        None => default_lambda(m),
    };
    let mut ctx = Ctx {
        opts,
        width,
        kernel: 4,
        norm_weight,
        lambda,
        gadgets: Vec::new(),
        names: &names,
    };
    ctx.gadgets.push(GadgetBound {
        gadget: "norm",
        block: "every norm".into(),
        parameter: eps_log2 as f64,
        hypothesis: mean_square_bound,
        bound: mean_square_bound / (2.0 * 2f64.powi(eps_log2)),
    });
    let mut blocks = Vec::new();
    if let Some(tc) = counter {
        blocks.extend(position_blocks(&mut ctx, tc, &registers, &programs)?);
    }
    for (li, layer) in m.layers.iter().enumerate() {
        blocks.push(match layer {
            Layer::Mlp(l) => ctx.mlp_block(l)?,
            Layer::Ssm(l) => ctx.ssm_block(l, &ranges[li])?,
            Layer::Attention(_) => unreachable!("refused above"),
        });
    }
    let blocks = split_to_common_width(blocks, width);
    // Embedding: the abstract rows, the constant features folded in, and `lower.one`; a PAD
    // token last (zero embedding, logit −2^20).
    let vocab_len = m
        .vocab
        .len()
        .max(opts.vectors.as_ref().map_or(0, |_| opts.block_tokens));
    let mut emb = Vec::new();
    for tok in 0..vocab_len {
        let mut row: BTreeMap<usize, f64> = match &opts.vectors {
            Some(vs) => vs[tok]
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != 0.0)
                .map(|(i, v)| (i, *v))
                .collect(),
            None => m.token_embedding.row(tok).map(|(c, v)| (c, *v)).collect(),
        };
        for (_, coord, p) in &programs {
            if let FeatureProgram::Constant(c) = p {
                *row.entry(*coord).or_default() += c;
            }
        }
        row.insert(one, 1.0);
        emb.extend(row.into_iter().map(|(c, v)| (tok, c, f32_value(v))));
    }
    let pad = vocab_len;
    let mut head: Vec<(usize, usize, f64)> = m
        .readout
        .entries()
        .map(|(r, c, v)| (r, c, f32_value(*v)))
        .collect();
    for (r, &c) in opts.read.iter().enumerate() {
        head.push((r, c, 1.0));
    }
    for (r, b) in m.readout_bias.iter().enumerate() {
        if *b != 0.0 {
            head.push((r, one, f32_value(*b)));
        }
    }
    head.push((pad, one, -(2f64.powi(20))));
    let mut vocab: Vec<String> = if m.vocab.is_empty() {
        (0..vocab_len).map(|i| format!("x{}", i + 1)).collect()
    } else {
        m.vocab.clone()
    };
    vocab.push("<pad>".into());
    let model = MambaModel {
        name: format!("{} (Mamba-1)", m.name),
        coord_names: names.clone(),
        vocab,
        embedding: SparseMatrix::from_entries(pad + 1, width, emb),
        blocks,
        norm_f: vec![norm_weight; width],
        eps: 2f64.powi(eps_log2),
        act: opts.act,
        lm_head: SparseMatrix::from_entries(pad + 1, width, head),
        prec: 53,
    };
    let positional = programs.into_iter().map(|(n, _, p)| (n, p)).collect();
    Ok(Lowered {
        model,
        gadgets: ctx.gadgets,
        lambda,
        eps_log2,
        mean_square_bound,
        positional,
        abstract_width: w0,
    })
}

/// λ for ReLU units run through a smooth activation: the smallest power of two ≥ 64 with
/// `(Σ_j |w_out,j|)·c/λ ≤ 2^-10` for every output of every MLP layer.
pub fn default_lambda(m: &Model<f64>) -> f64 {
    let worst = (m.layers.iter())
        .filter_map(|l| match l {
            Layer::Mlp(x) => Some(
                (0..x.w2.rows)
                    .map(|r| x.w2.row(r).map(|(_, w)| w.abs()).sum::<f64>())
                    .fold(0.0, f64::max),
            ),
            _ => None,
        })
        .fold(1.0, f64::max);
    let need = worst * 0.278_464_542_761_074 * 1024.0;
    2f64.powi((need.log2().ceil() as i32).max(6))
}

/// Counter, `t mod P` stages and the feature block.
fn position_blocks(
    ctx: &mut Ctx<'_>,
    tc: usize,
    registers: &[(usize, usize)],
    programs: &[(String, usize, FeatureProgram)],
) -> Result<Vec<MambaBlock<f64>>> {
    let s_relu = unit_scale(Activation::Relu, ctx.opts.act, ctx.lambda)?;
    let mut blocks = Vec::new();
    // The counter: Δ = softplus(32) (32 in torch), B = 2^-5, u = act(64) = 64, C = 2^-6.
    let mut b = BlockBuilder::new("position.counter", ctx.width, 1);
    let ch = b.constant_channel(ChannelRole::Counter, CONSTANT_INPUT);
    b.a[ch] = 0.0;
    b.dt_b[ch] = 32.0;
    b.x_b.push((0, ch, 2f64.powi(-11)));
    b.x_c.push((0, ch, 2f64.powi(-12)));
    for &dst in std::iter::once(&tc).chain(registers.iter().map(|(_, r)| r)) {
        b.out.push((dst, ch, 2f64.powi(-6)));
    }
    blocks.push(b.build(ctx.kernel, ctx.norm_weight));
    // t mod P: s ← s − c·(ReLU(s − c + 1) − ReLU(s − c)), largest c first.
    let stages: Vec<Vec<usize>> = registers
        .iter()
        .map(|&(p, _)| mod_stages(p, ctx.opts.context))
        .collect();
    let depth = stages.iter().map(Vec::len).max().unwrap_or(0);
    for j in 0..depth {
        let mut b = BlockBuilder::new(format!("position.mod_stage{j}"), ctx.width, 1);
        for (&(p, reg), st) in registers.iter().zip(&stages) {
            let Some(&c) = (j + st.len()).checked_sub(depth).and_then(|k| st.get(k)) else {
                continue;
            };
            let c = c as f64;
            b.unit(
                format!("t_mod_{p}≥{c}+"),
                std::iter::once((reg, 1.0)),
                1.0 - c,
                s_relu,
                std::iter::once((reg, -c)),
            );
            b.unit(
                format!("t_mod_{p}≥{c}-"),
                std::iter::once((reg, 1.0)),
                -c,
                s_relu,
                std::iter::once((reg, c)),
            );
        }
        blocks.push(b.build(ctx.kernel, ctx.norm_weight));
    }
    // Every feature: ReLU units of t or of t mod P (shared between features).
    let mut b = BlockBuilder::new("position.features", ctx.width, 1);
    let mut outs: BTreeMap<(usize, i64), Vec<(usize, f64)>> = BTreeMap::new();
    let mut add = |src: usize, kinks: &position::Kinks, dst: usize, b_out: &mut Vec<f64>| {
        b_out[dst] += kinks.c0;
        for &(k, a) in &kinks.units {
            outs.entry((src, k)).or_default().push((dst, a));
        }
    };
    let mut b_out = vec![0.0; ctx.width];
    for (_, coord, p) in programs {
        match p {
            FeatureProgram::Constant(_) => {}
            FeatureProgram::Plain(k) => add(tc, k, *coord, &mut b_out),
            FeatureProgram::Periodic { period, g, corr } => {
                let reg = registers
                    .iter()
                    .find(|(q, _)| q == period)
                    .map(|r| r.1)
                    .expect("register of every period");
                add(reg, g, *coord, &mut b_out);
                add(tc, corr, *coord, &mut b_out);
            }
        }
    }
    for ((src, k), dsts) in outs {
        let mut merged: BTreeMap<usize, f64> = BTreeMap::new();
        for (d, a) in dsts {
            *merged.entry(d).or_default() += a;
        }
        let name = format!("ReLU({} − {k})", ctx.names[src]);
        b.unit(
            name,
            std::iter::once((src, 1.0)),
            -(k as f64),
            s_relu,
            merged.into_iter().filter(|(_, a)| *a != 0.0),
        );
    }
    b.b_out = b_out;
    blocks.push(b.build(ctx.kernel, ctx.norm_weight));
    Ok(blocks)
}

/// Whether a block's channels can be spread over several blocks without changing the result:
/// MLP units only (no state, no gate input) that never read a coordinate they write.
fn splittable(b: &MambaBlock<f64>) -> bool {
    let units = b.roles.iter().all(|r| matches!(r, ChannelRole::Unit(_)));
    let read: std::collections::BTreeSet<usize> = b.in_x.entries().map(|(_, c, _)| c).collect();
    units && b.in_z.nnz() == 0 && b.out.entries().all(|(r, _, _)| !read.contains(&r))
}

/// Channels `range` of a block (the output bias stays with the first part).
fn channel_slice(
    b: &MambaBlock<f64>,
    range: std::ops::Range<usize>,
    part: usize,
) -> MambaBlock<f64> {
    let (lo, n) = (range.start, range.len());
    let rows = |m: &SparseMatrix<f64>| {
        let e = m
            .entries()
            .filter(|(r, _, _)| range.contains(r))
            .map(|(r, c, v)| (r - lo, c, *v))
            .collect();
        SparseMatrix::from_entries(n, m.cols, e)
    };
    let cols = |m: &SparseMatrix<f64>| {
        let e = m
            .entries()
            .filter(|(_, c, _)| range.contains(c))
            .map(|(r, c, v)| (r, c - lo, *v))
            .collect();
        SparseMatrix::from_entries(m.rows, n, e)
    };
    let k = b.conv_kernel;
    MambaBlock {
        name: format!("{}.part{part}", b.name),
        inner: n,
        roles: b.roles[range.clone()].to_vec(),
        in_x: rows(&b.in_x),
        in_z: rows(&b.in_z),
        b_x: b.b_x[range.clone()].to_vec(),
        b_z: b.b_z[range.clone()].to_vec(),
        conv_w: b.conv_w[lo * k..(lo + n) * k].to_vec(),
        conv_b: b.conv_b[range.clone()].to_vec(),
        x_dt: cols(&b.x_dt),
        x_b: cols(&b.x_b),
        x_c: cols(&b.x_c),
        dt_w: rows(&b.dt_w),
        dt_b: b.dt_b[range.clone()].to_vec(),
        a: b.a[lo * b.state..(lo + n) * b.state].to_vec(),
        d: b.d[range.clone()].to_vec(),
        out: cols(&b.out),
        b_out: if part == 0 {
            b.b_out.clone()
        } else {
            vec![0.0; b.width]
        },
        ..b.clone()
    }
}

/// HF gives every block one inner width (a multiple of the hidden width W). Choose the multiple
/// that stores the fewest parameters, spreading splittable MLP blocks over several blocks.
fn split_to_common_width(blocks: Vec<MambaBlock<f64>>, w: usize) -> Vec<MambaBlock<f64>> {
    let fixed = (blocks.iter())
        .filter(|b| !splittable(b))
        .map(|b| b.inner)
        .max()
        .unwrap_or(1);
    let widest = blocks.iter().map(|b| b.inner).max().unwrap_or(1);
    let state = blocks.iter().map(|b| b.state).max().unwrap_or(1);
    let rank = blocks.iter().map(|b| b.dt_rank).max().unwrap_or(1);
    let cost = |inner: usize| {
        let count: usize = (blocks.iter())
            .map(|b| {
                if splittable(b) {
                    b.inner.div_ceil(inner)
                } else {
                    1
                }
            })
            .sum();
        count * (3 * inner * w + inner * (2 * rank + 3 * state + 8))
    };
    let best = (fixed.div_ceil(w).max(1)..=widest.div_ceil(w).max(1))
        .map(|e| e * w)
        .min_by_key(|&i| cost(i))
        .unwrap_or(w);
    let mut out = Vec::new();
    for b in blocks {
        if splittable(&b) && b.inner > best {
            let parts = b.inner.div_ceil(best);
            let size = b.inner.div_ceil(parts);
            for p in 0..parts {
                out.push(channel_slice(
                    &b,
                    p * size..((p + 1) * size).min(b.inner),
                    p,
                ));
            }
        } else {
            out.push(b);
        }
    }
    out
}
