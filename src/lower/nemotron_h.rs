//! Lowering into Hugging Face's `NemotronHForCausalLM`: every abstract layer becomes one block of
//! the hybrid pattern (`*` attention, `-` MLP), after a short positional prefix (`M--`).
//! See `proofs/lowering-nemotron-h.md`.
//!
//! Gadgets and their stated bounds:
//! - **norm**: every RMSNorm (the blocks', `norm_f` and the Mamba-2 gated group norm share one
//!   `eps = 2^e`) with weight `2^{e/2}` is the identity within a relative `mean(x²)/(2·eps)`, and
//!   exactly the float32 identity while `mean(x²) < 2^{e−25}`;
//! - **counter**: a Mamba-2 head with `A = 0` (`A_log = −∞`) whose x, B, C and gate are the
//!   constant `SiLU(K)` (conv bias `K`) and whose `Δ = softplus(K)` adds `K⁵` per position; its
//!   gated norm weight `2^{e/2}/K⁵` returns `t`. With `K` a power of two ≥ 32 this is exact in
//!   float32 (`SiLU(K)`, torch's softplus(K) are `K`) while `K⁵·t < 2^{24+5·log₂K}`, and in exact
//!   arithmetic `|t̂ − t| ≤ 5·t·e^{−K}`;
//! - **attention scale**: `head_dim = 4^k`, so `head_dim^{−1/2} = 2^{−k}` is exact and `W_q` is
//!   multiplied by `2^k`: the scores are the abstract `q·k` (no error);
//! - **MLP**: the abstract ReLU layers run natively (`mlp_hidden_act = relu`, `mlp_bias`), as do
//!   the positional units (`t mod P` stages and kinks of `t`, exact on integers).

use super::position::{mod_stages, FeatureProgram, Kinks};
use super::ranges::residual_ranges;
use super::{f32_value, GadgetBound, LowerOptions};
use crate::error::{Error, Result};
use crate::model::nemotron_h::{
    AttentionMixer, Mamba2Mixer, Mixer, MlpMixer, NemotronHBlock, NemotronHModel,
};
use crate::model::{Activation, AttentionLayer, Layer, MlpLayer, Model, PosKind, SparseMatrix};
use std::collections::BTreeMap;

/// The counter's constant `K` (a power of two; `SiLU(32)` and torch's `softplus(32)` are 32 in
/// float32).
pub const COUNTER_CONSTANT: f64 = 32.0;

/// The result of [`lower_nemotron_h`].
pub struct LoweredNh {
    pub model: NemotronHModel<f64>,
    pub gadgets: Vec<GadgetBound>,
    pub eps_log2: i32,
    /// Bound on the mean square at every norm (the residual's, and the counter's gated norm).
    pub mean_square_bound: f64,
    pub positional: Vec<(String, FeatureProgram)>,
    pub abstract_width: usize,
    /// The counter's constant K.
    pub counter_constant: f64,
}

fn matrix(rows: usize, cols: usize, e: Vec<(usize, usize, f64)>) -> SparseMatrix<f64> {
    let mut merged: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for (r, c, v) in e {
        *merged.entry((r, c)).or_default() += v;
    }
    SparseMatrix::from_entries(
        rows,
        cols,
        merged
            .into_iter()
            .map(|((r, c), v)| (r, c, f32_value(v)))
            .collect(),
    )
}

fn f32_vec(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| f32_value(*x)).collect()
}

/// An MLP block under construction (ReLU units).
struct MlpBuilder {
    width: usize,
    up: Vec<(usize, usize, f64)>,
    b_up: Vec<f64>,
    down: Vec<(usize, usize, f64)>,
    b_down: Vec<f64>,
    names: Vec<String>,
}

impl MlpBuilder {
    fn new(width: usize) -> Self {
        MlpBuilder {
            width,
            up: Vec::new(),
            b_up: Vec::new(),
            down: Vec::new(),
            b_down: vec![0.0; width],
            names: Vec::new(),
        }
    }
    /// `ReLU(x_src + b)` added to the residual with `w_out`.
    fn unit(&mut self, name: String, src: usize, b: f64, w_out: &[(usize, f64)]) {
        let j = self.names.len();
        self.names.push(name);
        self.up.push((j, src, 1.0));
        self.b_up.push(b);
        for &(row, w) in w_out {
            self.down.push((row, j, w));
        }
    }
    fn build(self, name: String, norm_weight: f64) -> NemotronHBlock<f64> {
        let i = self.names.len();
        NemotronHBlock {
            name,
            norm_weight: vec![norm_weight; self.width],
            mixer: Mixer::Mlp(MlpMixer {
                up: matrix(i, self.width, self.up),
                b_up: f32_vec(&self.b_up),
                down: matrix(self.width, i, self.down),
                b_down: f32_vec(&self.b_down),
                unit_names: self.names,
            }),
        }
    }
}

fn mlp_block(l: &MlpLayer<f64>, width: usize, norm_weight: f64) -> NemotronHBlock<f64> {
    let h = l.hidden_width();
    NemotronHBlock {
        name: l.name.clone(),
        norm_weight: vec![norm_weight; width],
        mixer: Mixer::Mlp(MlpMixer {
            up: matrix(
                h,
                width,
                l.w1.entries().map(|(r, c, v)| (r, c, *v)).collect(),
            ),
            b_up: f32_vec(&l.b1),
            down: matrix(
                width,
                h,
                l.w2.entries().map(|(r, c, v)| (r, c, *v)).collect(),
            ),
            b_down: {
                let mut b = f32_vec(&l.b2);
                b.resize(width, 0.0);
                b
            },
            unit_names: (0..h)
                .map(|j| {
                    l.hidden_names
                        .get(j)
                        .cloned()
                        .unwrap_or_else(|| format!("unit{j}"))
                })
                .collect(),
        }),
    }
}

/// `4^k`, the smallest with `4^k ≥ n`.
pub fn head_dim_for(n: usize) -> usize {
    let mut d = 1;
    while d < n {
        d *= 4;
    }
    d
}

fn attention_block(
    l: &AttentionLayer<f64>,
    width: usize,
    head_dim: usize,
    norm_weight: f64,
) -> NemotronHBlock<f64> {
    let h = l.heads.len();
    let sqrt_d = (head_dim as f64).sqrt();
    let (mut q, mut k, mut v, mut o) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (hi, hd) in l.heads.iter().enumerate() {
        let r0 = hi * head_dim;
        q.extend(hd.w_q.entries().map(|(r, c, x)| (r0 + r, c, x * sqrt_d)));
        k.extend(hd.w_k.entries().map(|(r, c, x)| (r0 + r, c, *x)));
        v.extend(hd.w_v.entries().map(|(r, c, x)| (r0 + r, c, *x)));
        o.extend(hd.w_o.entries().map(|(r, c, x)| (r, r0 + c, *x)));
    }
    NemotronHBlock {
        name: l.name.clone(),
        norm_weight: vec![norm_weight; width],
        mixer: Mixer::Attention(AttentionMixer {
            heads: h,
            kv_heads: h,
            head_dim,
            q: matrix(h * head_dim, width, q),
            k: matrix(h * head_dim, width, k),
            v: matrix(h * head_dim, width, v),
            o: matrix(width, h * head_dim, o),
        }),
    }
}

/// The counter: one Mamba-2 head, one channel, state 1, `A = 0`, everything the constant `K`.
fn counter_block(
    width: usize,
    k: f64,
    outputs: &[usize],
    eps_log2: i32,
    norm_weight: f64,
) -> NemotronHBlock<f64> {
    let kernel = 4;
    // conv channels: x (1), B (1), C (1).
    let conv_w = vec![0.0; 3 * kernel];
    let gain = k.powi(5);
    NemotronHBlock {
        name: "position.counter".into(),
        norm_weight: vec![norm_weight; width],
        mixer: Mixer::Mamba2(Mamba2Mixer {
            heads: 1,
            head_dim: 1,
            groups: 1,
            state: 1,
            conv_kernel: kernel,
            in_z: SparseMatrix::zeros(1, width),
            in_xbc: SparseMatrix::zeros(3, width),
            in_dt: SparseMatrix::zeros(1, width),
            b_z: vec![k],
            b_xbc: vec![0.0; 3],
            b_dt: vec![0.0],
            conv_w,
            conv_b: vec![k; 3],
            dt_bias: vec![k],
            a: vec![0.0],
            d: vec![0.0],
            norm_w: vec![f32_value(2f64.powi(eps_log2 / 2) / gain)],
            out: matrix(width, 1, outputs.iter().map(|&r| (r, 0, 1.0)).collect()),
            b_out: vec![0.0; width],
        }),
    }
}

/// Lower an abstract model (attention and MLP layers, positional features) into
/// `NemotronHForCausalLM` blocks. `opts.shift` overrides the counter's constant K.
pub fn lower_nemotron_h(m: &Model<f64>, opts: &LowerOptions) -> Result<LoweredNh> {
    if m.layers.iter().any(|l| matches!(l, Layer::Ssm(_))) {
        return Err(Error::input(format!(
            "`{}` has SSM layers: the nemotron-h target lowers attention and MLP layers only so far; \
             lower it with --target mamba",
            m.name
        )));
    }
    // `mlp_hidden_act` is one activation for every MLP block: the abstract MLPs' (all alike),
    // ReLU when positional units are needed.
    let acts: Vec<Activation> = (m.layers.iter())
        .filter_map(|l| match l {
            Layer::Mlp(x) => Some(x.act),
            _ => None,
        })
        .collect();
    let needs_units = (m.positional.iter()).any(|f| !matches!(f.kind, PosKind::Constant { .. }));
    let mlp_act = acts.first().copied().unwrap_or(Activation::Relu);
    if acts.iter().any(|a| *a != mlp_act) || (needs_units && mlp_act != Activation::Relu) {
        return Err(Error::input(format!(
            "`{}` mixes MLP activations ({}): the nemotron-h target has one mlp_hidden_act, and              ReLU when positional features are computed in the model",
            m.name,
            acts.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
        )));
    }
    if opts.context == 0 {
        return Err(Error::input("the context length must be at least 1"));
    }
    let t_max = opts.context;
    let ranges = residual_ranges(m, t_max, opts.vectors.as_deref());
    let w0 = m.layout.width();
    let mut names: Vec<String> = (0..w0).map(|i| m.layout.coord_name(i)).collect();
    let one = names.len();
    names.push("lower.one".into());
    let super::PositionalPlan {
        programs,
        counter,
        registers,
    } = super::positional_plan(m, t_max, &mut names);
    let width = names.len();
    let k = opts.shift.unwrap_or(COUNTER_CONSTANT);
    if !(k.is_finite() && k > 0.0 && k.log2().fract() == 0.0) {
        return Err(Error::input(format!(
            "the counter's constant K must be a power of two, not {k}"
        )));
    }
    let extra =
        (counter.map_or(0.0, |_| (t_max as f64).powi(2)) * (1 + registers.len()) as f64) + 1.0;
    let residual_ms = (ranges.iter())
        .map(|r| r.iter().map(|i| i.mag().powi(2)).sum::<f64>() + extra)
        .fold(0.0, f64::max)
        / width as f64;
    // The counter's gated norm sees K⁵·t in a group of one channel.
    let counter_ms = counter.map_or(0.0, |_| (k.powi(5) * t_max as f64).powi(2));
    let mean_square_bound = residual_ms.max(counter_ms);
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
    let eps = 2f64.powi(eps_log2);
    let mut gadgets = vec![GadgetBound {
        gadget: "norm",
        block: "every residual norm".into(),
        parameter: eps_log2 as f64,
        hypothesis: residual_ms,
        bound: residual_ms / (2.0 * eps),
    }];
    let mut blocks = Vec::new();
    let mut positional = Vec::new();
    if let Some(tc) = counter {
        let outs: Vec<usize> = std::iter::once(tc)
            .chain(registers.iter().map(|r| r.1))
            .collect();
        blocks.push(counter_block(width, k, &outs, eps_log2, norm_weight));
        gadgets.push(GadgetBound {
            gadget: "gated-norm",
            block: "position.counter".into(),
            parameter: eps_log2 as f64,
            hypothesis: counter_ms,
            bound: counter_ms / (2.0 * eps),
        });
        gadgets.push(GadgetBound {
            gadget: "counter",
            block: "position.counter".into(),
            parameter: k,
            hypothesis: t_max as f64,
            bound: 5.0 * t_max as f64 * (-k).exp(),
        });
        blocks.extend(position_mlps(
            width,
            norm_weight,
            t_max,
            tc,
            &registers,
            &programs,
            &names,
        ));
    }
    let heads_max = (m.layers.iter())
        .filter_map(|l| match l {
            Layer::Attention(a) => a.heads.iter().map(|h| h.w_q.rows.max(h.w_v.rows)).max(),
            _ => None,
        })
        .max()
        .unwrap_or(1);
    let head_dim = head_dim_for(heads_max);
    let attention_layers = m
        .layers
        .iter()
        .filter(|l| matches!(l, Layer::Attention(_)))
        .count();
    if attention_layers > 0 {
        gadgets.push(GadgetBound {
            gadget: "attention-scale",
            block: "every attention".into(),
            parameter: head_dim as f64,
            hypothesis: heads_max as f64,
            bound: 0.0,
        });
    }
    if attention_layers == 0 {
        // A NemotronH without an attention layer fails in cached generate() (transformers
        // 5.24): one all-zero attention block (uniform weights over zero values adds 0).
        blocks.push(NemotronHBlock {
            name: "cache.zero_attention".into(),
            norm_weight: vec![norm_weight; width],
            mixer: Mixer::Attention(AttentionMixer {
                heads: 1,
                kv_heads: 1,
                head_dim: 1,
                q: SparseMatrix::zeros(1, width),
                k: SparseMatrix::zeros(1, width),
                v: SparseMatrix::zeros(1, width),
                o: SparseMatrix::zeros(width, 1),
            }),
        });
    }
    for layer in &m.layers {
        blocks.push(match layer {
            Layer::Mlp(l) => mlp_block(l, width, norm_weight),
            Layer::Attention(l) => attention_block(l, width, head_dim, norm_weight),
            Layer::Ssm(_) => unreachable!("refused above"),
        });
    }
    // Embedding: abstract rows, constant features folded in, `lower.one`; a PAD token last.
    // A block fed vectors: its first `block_tokens` input vectors are the embedding rows, and
    // the read coordinates are logits rows 0, 1, … (as the Mamba target does).
    let vocab_len = (m.vocab.len()).max(opts.vectors.as_ref().map_or(0, |_| opts.block_tokens));
    let mut emb = Vec::new();
    for tok in 0..vocab_len {
        let mut row: BTreeMap<usize, f64> = match &opts.vectors {
            Some(vs) => (vs[tok].iter().enumerate())
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
        emb.extend(row.into_iter().map(|(c, v)| (tok, c, v)));
    }
    let pad = vocab_len;
    let mut head: Vec<(usize, usize, f64)> =
        m.readout.entries().map(|(r, c, v)| (r, c, *v)).collect();
    for (r, &c) in opts.read.iter().enumerate() {
        head.push((r, c, 1.0));
    }
    for (r, b) in m.readout_bias.iter().enumerate() {
        if *b != 0.0 {
            head.push((r, one, *b));
        }
    }
    head.push((pad, one, -(2f64.powi(20))));
    let mut vocab: Vec<String> = if m.vocab.is_empty() {
        (0..vocab_len).map(|i| format!("x{}", i + 1)).collect()
    } else {
        m.vocab.clone()
    };
    vocab.push("<pad>".into());
    for (n, _, p) in programs {
        positional.push((n, p));
    }
    Ok(LoweredNh {
        model: NemotronHModel {
            name: format!("{} (NemotronH)", m.name),
            coord_names: names,
            vocab,
            embedding: matrix(pad + 1, width, emb),
            blocks,
            norm_f: vec![norm_weight; width],
            eps,
            mlp_act,
            lm_head: matrix(pad + 1, width, head),
            prec: 53,
        },
        gadgets,
        eps_log2,
        mean_square_bound,
        positional,
        abstract_width: w0,
        counter_constant: k,
    })
}

/// `t mod P` stages and the feature block, as ReLU MLP blocks.
fn position_mlps(
    width: usize,
    norm_weight: f64,
    t_max: usize,
    tc: usize,
    registers: &[(usize, usize)],
    programs: &[(String, usize, FeatureProgram)],
    names: &[String],
) -> Vec<NemotronHBlock<f64>> {
    let mut blocks = Vec::new();
    let stages: Vec<Vec<usize>> = registers
        .iter()
        .map(|&(p, _)| mod_stages(p, t_max))
        .collect();
    let depth = stages.iter().map(Vec::len).max().unwrap_or(0);
    for j in 0..depth {
        let mut b = MlpBuilder::new(width);
        for (&(p, reg), st) in registers.iter().zip(&stages) {
            let Some(&c) = (j + st.len()).checked_sub(depth).and_then(|k| st.get(k)) else {
                continue;
            };
            let c = c as f64;
            b.unit(format!("t_mod_{p}≥{c}+"), reg, 1.0 - c, &[(reg, -c)]);
            b.unit(format!("t_mod_{p}≥{c}-"), reg, -c, &[(reg, c)]);
        }
        blocks.push(b.build(format!("position.mod_stage{j}"), norm_weight));
    }
    let mut b = MlpBuilder::new(width);
    let mut outs: BTreeMap<(usize, i64), Vec<(usize, f64)>> = BTreeMap::new();
    let mut add = |src: usize, kinks: &Kinks, dst: usize, b_out: &mut Vec<f64>| {
        b_out[dst] += kinks.c0;
        for &(k, a) in &kinks.units {
            outs.entry((src, k)).or_default().push((dst, a));
        }
    };
    let mut b_out = vec![0.0; width];
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
        let w: Vec<(usize, f64)> = merged.into_iter().filter(|(_, a)| *a != 0.0).collect();
        b.unit(format!("ReLU({} − {k})", names[src]), src, -(k as f64), &w);
    }
    b.b_down = b_out;
    blocks.push(b.build("position.features".into(), norm_weight));
    blocks
}
