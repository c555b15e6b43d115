//! The stacked model: embedding (token + positional features) → layers → linear readout →
//! greedy decoding; with size/cost accounting, a printable summary and a JSON weight export.

pub mod attention;
pub mod builder;
pub mod layout;
pub mod mamba;
pub mod mlp;
pub mod nemotron_h;
pub mod random;
pub mod sparse;
pub mod ssm;
pub mod stack;

pub use attention::{AttentionHead, AttentionLayer, AttentionState};
pub use builder::MlpBuilder;
pub use layout::{Block, Coord, Layout, Subspace};
pub use mlp::{Activation, MlpLayer, MlpState};
pub use sparse::SparseMatrix;
pub use ssm::{DecayStructure, Gate, Softplus, SsmLayer, SsmState, StepInputs, UnrolledForm};

use crate::num::{zeros, Scalar};
use serde::Serialize;

/// A positional feature: a fixed function of the (1-based) position `t`, written to one coordinate.
#[derive(Clone, Debug, Serialize)]
pub enum PosKind {
    /// The constant `num/den`.
    Constant { num: i64, den: i64 },
    /// `t`.
    Position,
    /// `t²`.
    PositionSquared,
    /// `1` when `t == at`.
    Equals { at: usize },
    /// `1` when `t ≥ from`.
    AtLeast { from: usize },
    /// `1` when `t mod modulus == residue`.
    Modulo { modulus: usize, residue: usize },
    /// `table[t-1]` (0 beyond the table): any position-determined integer.
    Table { values: Vec<i64> },
}

impl PosKind {
    /// Cheap test for a zero value (one-hot features are zero almost everywhere; skipping them
    /// keeps a step's cost independent of how many position indicators a model has).
    pub fn is_zero_at(&self, t: usize) -> bool {
        match self {
            PosKind::Equals { at } => t != *at,
            PosKind::AtLeast { from } => t < *from,
            PosKind::Modulo { modulus, residue } => t % modulus != *residue,
            _ => false,
        }
    }
    pub fn value<S: Scalar>(&self, t: usize, prec: u32) -> S {
        let t_i = t as i64;
        match self {
            PosKind::Constant { num, den } => S::from_ratio(*num, *den, prec),
            PosKind::Position => S::from_i64(t_i, prec),
            PosKind::PositionSquared => S::from_i64(t_i * t_i, prec),
            PosKind::Equals { at } => S::from_i64((t == *at) as i64, prec),
            PosKind::AtLeast { from } => S::from_i64((t >= *from) as i64, prec),
            PosKind::Modulo { modulus, residue } => {
                S::from_i64((t % modulus == *residue) as i64, prec)
            }
            PosKind::Table { values } => {
                S::from_i64(values.get(t.wrapping_sub(1)).copied().unwrap_or(0), prec)
            }
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PositionalFeature {
    pub coord: usize,
    pub kind: PosKind,
}

#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // a handful of layers per model
pub enum Layer<S> {
    Ssm(SsmLayer<S>),
    Mlp(MlpLayer<S>),
    Attention(AttentionLayer<S>),
}

impl<S: Scalar> Layer<S> {
    pub fn name(&self) -> &str {
        match self {
            Layer::Ssm(l) => &l.name,
            Layer::Mlp(l) => &l.name,
            Layer::Attention(l) => &l.name,
        }
    }
    pub fn nonzeros(&self) -> usize {
        match self {
            Layer::Ssm(l) => l.nonzeros(),
            Layer::Mlp(l) => l.nonzeros(),
            Layer::Attention(l) => l.nonzeros(),
        }
    }
    pub fn max_abs_param(&self) -> f64 {
        match self {
            Layer::Ssm(l) => l.max_abs_param(),
            Layer::Mlp(l) => l.max_abs_param(),
            Layer::Attention(l) => l.max_abs_param(),
        }
    }
    pub fn ops_per_step(&self, t: usize) -> u64 {
        match self {
            Layer::Ssm(l) => l.ops_per_step(),
            Layer::Mlp(l) => l.ops_per_step(),
            Layer::Attention(l) => l.ops_per_step(t),
        }
    }
}

/// A whole hand-built model.
#[derive(Clone, Debug)]
pub struct Model<S> {
    pub name: String,
    pub layout: Layout,
    pub vocab: Vec<String>,
    /// `V × W`: row `v` is the embedding of token `v`.
    pub token_embedding: SparseMatrix<S>,
    pub positional: Vec<PositionalFeature>,
    pub layers: Vec<Layer<S>>,
    /// `V × W`.
    pub readout: SparseMatrix<S>,
    pub readout_bias: Vec<S>,
    pub prec: u32,
}

#[derive(Clone, Debug)]
pub enum LayerState<S> {
    Ssm(SsmState<S>),
    Mlp(MlpState<S>),
    Attention(AttentionState<S>),
}

/// A model being run token by token.
pub struct Runner<'m, S: Scalar> {
    pub model: &'m Model<S>,
    pub states: Vec<LayerState<S>>,
    pub residual: Vec<S>,
    pub logits: Vec<S>,
    /// Tokens fed so far.
    pub t: usize,
    pub ops: u64,
    /// How SSM layers evaluate `Δ`'s softplus (exact unless asked otherwise).
    pub softplus: Softplus,
}

/// Result of greedy decoding.
#[derive(Clone, Debug, Serialize)]
pub struct Generation {
    pub tokens: Vec<usize>,
    /// Smallest (top logit − runner-up) over the generated tokens: how far from a wrong decode.
    pub min_margin_log10: f64,
    pub ops: u64,
}

impl<'m, S: Scalar> Runner<'m, S> {
    /// Feed one token at the next position; updates `residual` and `logits`.
    pub fn feed(&mut self, token: usize) {
        let m = self.model;
        assert!(
            token < m.vocab.len(),
            "token {token} outside the vocabulary"
        );
        for x in self.residual.iter_mut().filter(|x| !x.is_positive_zero()) {
            x.set_i64(0);
        }
        for (c, v) in m.token_embedding.row(token) {
            self.residual[c].set(v);
        }
        self.forward();
    }

    /// Feed a residual vector instead of a token embedding (blocks whose inputs are real
    /// vectors, e.g. the COPY blocks); positional features are added as for a token.
    pub fn feed_vector(&mut self, x: &[S]) {
        assert_eq!(
            x.len(),
            self.residual.len(),
            "input vector of the wrong width"
        );
        for (r, v) in self.residual.iter_mut().zip(x) {
            r.set(v);
        }
        self.forward();
    }

    /// Positional features, then every layer, then the readout, at the next position.
    fn forward(&mut self) {
        let m = self.model;
        self.t += 1;
        let t = self.t;
        for f in &m.positional {
            if f.kind.is_zero_at(t) {
                continue;
            }
            let v: S = f.kind.value(t, m.prec);
            self.residual[f.coord].add_assign_s(&v);
        }
        for (layer, st) in m.layers.iter().zip(self.states.iter_mut()) {
            self.ops += layer.ops_per_step(t);
            match (layer, st) {
                (Layer::Ssm(l), LayerState::Ssm(s)) => {
                    l.step_with(s, &mut self.residual, self.softplus)
                }
                (Layer::Mlp(l), LayerState::Mlp(s)) => l.step(s, &mut self.residual),
                (Layer::Attention(l), LayerState::Attention(s)) => l.step(s, &mut self.residual),
                _ => unreachable!("layer/state kinds always match"),
            }
        }
        m.readout.mul_vec_into(&self.residual, &mut self.logits);
        for (l, b) in self.logits.iter_mut().zip(&m.readout_bias) {
            l.add_assign_s(b);
        }
        self.ops += m.readout.ops();
    }

    /// Greedy argmax and its margin: see [`greedy_argmax`].
    pub fn argmax(&self) -> (usize, S) {
        greedy_argmax(&self.logits, self.model.prec)
    }
}

/// Greedy argmax of `logits` (lowest index on ties, by midpoint order for balls, as
/// `torch.argmax`) and its margin `min_{i ≠ best} (best − logit_i)` (1 with one logit). For balls
/// the margin encloses that minimum over every logit, not only the runner-up by midpoint: when the
/// chosen logit overlaps any other, the margin reaches 0 and [`Scalar::certainly_gt`] of it over 0
/// is false (the choice is not certified).
pub fn greedy_argmax<S: Scalar>(logits: &[S], prec: u32) -> (usize, S) {
    let mut best = 0;
    for (i, l) in logits.iter().enumerate() {
        if l.mid_gt(&logits[best]) {
            best = i;
        }
    }
    let mut margin: Option<S> = None;
    for (i, l) in logits.iter().enumerate() {
        if i != best {
            let d = logits[best].sub(l);
            margin = Some(match margin {
                Some(m) => m.min_s(&d),
                None => d,
            });
        }
    }
    (best, margin.unwrap_or_else(|| S::one(prec)))
}

/// Size of a built model, as the theorems count it.
#[derive(Clone, Debug, Serialize)]
pub struct ModelSize {
    pub residual_width: usize,
    /// Σ over SSM layers of channels × state: the recurrent state a Mamba carries per token.
    pub ssm_state: usize,
    pub max_mlp_width: usize,
    pub attention_heads: usize,
    pub layers: usize,
    pub nonzero_params: usize,
    pub max_abs_param: f64,
}

impl<S: Scalar> Model<S> {
    pub fn runner(&self) -> Runner<'_, S> {
        let states = self
            .layers
            .iter()
            .map(|l| match l {
                Layer::Ssm(x) => LayerState::Ssm(x.new_state(self.prec)),
                Layer::Mlp(x) => LayerState::Mlp(x.new_state(self.prec)),
                Layer::Attention(x) => LayerState::Attention(x.new_state(self.prec)),
            })
            .collect();
        Runner {
            model: self,
            states,
            residual: zeros(self.layout.width(), self.prec),
            logits: zeros(self.vocab.len(), self.prec),
            t: 0,
            ops: 0,
            softplus: Softplus::Exact,
        }
    }

    /// Feed `prompt`, then greedily generate `max_new` tokens (stopping after `stop` if given).
    pub fn generate(&self, prompt: &[usize], max_new: usize, stop: Option<usize>) -> Generation {
        let mut r = self.runner();
        for &tok in prompt {
            r.feed(tok);
        }
        let mut out = Vec::with_capacity(max_new);
        let mut min_margin = f64::INFINITY;
        for i in 0..max_new {
            if i > 0 {
                r.feed(*out.last().expect("a token was generated"));
            }
            let (tok, margin) = r.argmax();
            // an overlap of the top two (a ball margin reaching 0) is no margin
            let lm = if !margin.certainly_gt(&S::zero(margin.precision())) {
                f64::NEG_INFINITY
            } else {
                margin.log10_abs()
            };
            min_margin = min_margin.min(lm);
            out.push(tok);
            if Some(tok) == stop {
                break;
            }
        }
        Generation {
            tokens: out,
            min_margin_log10: min_margin,
            ops: r.ops,
        }
    }

    pub fn size(&self) -> ModelSize {
        let mut s = ModelSize {
            residual_width: self.layout.width(),
            ssm_state: 0,
            max_mlp_width: 0,
            attention_heads: 0,
            layers: self.layers.len(),
            nonzero_params: self.token_embedding.nnz() + self.readout.nnz(),
            max_abs_param: self
                .token_embedding
                .max_abs()
                .max(self.readout.max_abs())
                .max(
                    self.readout_bias
                        .iter()
                        .map(|b| crate::num::abs_or_inf(b.to_f64()))
                        .fold(0.0, f64::max),
                ),
        };
        s.nonzero_params += self.readout_bias.iter().filter(|b| !b.is_zero()).count();
        for l in &self.layers {
            s.nonzero_params += l.nonzeros();
            s.max_abs_param = s.max_abs_param.max(l.max_abs_param());
            match l {
                Layer::Ssm(x) => s.ssm_state += x.channels * x.state,
                Layer::Mlp(x) => s.max_mlp_width = s.max_mlp_width.max(x.hidden_width()),
                Layer::Attention(x) => s.attention_heads += x.heads.len(),
            }
        }
        s
    }

    /// Operations to process the token at position `t` (counted from the built weights).
    pub fn ops_at(&self, t: usize) -> u64 {
        self.layers.iter().map(|l| l.ops_per_step(t)).sum::<u64>() + self.readout.ops()
    }

    /// A readable, layer-by-layer description of what was built.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let sz = self.size();
        let mut o = String::new();
        let _ = writeln!(
            o,
            "model `{}` ({} arithmetic, {} bits)",
            self.name,
            S::KIND,
            self.prec
        );
        let _ = writeln!(
            o,
            "  residual width {}, SSM state {}, max MLP width {}, attention heads {}, nonzero params {}, max |param| {:.4e}",
            sz.residual_width, sz.ssm_state, sz.max_mlp_width, sz.attention_heads, sz.nonzero_params, sz.max_abs_param
        );
        let _ = writeln!(o, "  residual subspaces:");
        for s in &self.layout.subspaces {
            let _ = writeln!(
                o,
                "    {:<20} [{:>4}..{:<4}) {}",
                s.name,
                s.start,
                s.start + s.len,
                s.meaning
            );
        }
        let _ = writeln!(
            o,
            "  vocabulary ({}): {}",
            self.vocab.len(),
            self.vocab.join(" ")
        );
        for f in &self.positional {
            let _ = writeln!(
                o,
                "  positional feature -> {}: {:?}",
                self.layout.coord_name(f.coord),
                f.kind
            );
        }
        for (i, l) in self.layers.iter().enumerate() {
            let desc = match l {
                Layer::Ssm(x) => format!(
                    "SSM      channels {} state {} decay {:?} gate {}",
                    x.channels,
                    x.state,
                    x.decay,
                    x.gate.is_some()
                ),
                Layer::Mlp(x) => format!(
                    "MLP      hidden {} activation {}",
                    x.hidden_width(),
                    x.act.name()
                ),
                Layer::Attention(x) => format!("ATTN     heads {}", x.heads.len()),
            };
            let _ = writeln!(
                o,
                "  layer {i} `{}`: {desc}; nonzeros {}, max |w| {:.4e}",
                l.name(),
                l.nonzeros(),
                l.max_abs_param()
            );
            if let Layer::Mlp(x) = l {
                if !x.hidden_names.is_empty() {
                    let _ = writeln!(o, "      hidden units: {}", x.hidden_names.join(", "));
                }
            }
        }
        o
    }
}
