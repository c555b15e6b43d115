//! The model export format of docs/export.md as serde types, one per object the document
//! describes. Informative fields (the forward rules, sizes, names of indices, the decay
//! structure) are written but never read: the reader does not trust them.
//!
//! Sizes and indices are `u64` so that any non-negative integer a file states reaches the
//! reader's limit checks ([`super::limits`]) before anything is allocated for it. Weights are
//! decimal strings, borrowed from the parsed JSON when read.

use crate::model::{DecayStructure, ModelSize, Subspace};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A weight: a decimal string that holds the stored value exactly at the stated precision.
#[derive(Serialize, Deserialize)]
pub struct Decimal<'a>(#[serde(borrow)] pub Cow<'a, str>);

/// One model (`format: "freelunch-model"`).
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a model object (docs/export.md)")]
pub struct ModelFile<'a> {
    pub format: String,
    pub schema_version: u64,
    pub name: String,
    pub arithmetic: Arithmetic,
    /// The forward-pass rules in short sentences (informative).
    #[serde(skip_deserializing)]
    pub forward: Option<Forward>,
    /// How to run the model, or null when unknown.
    pub decoding: Option<DecodingFile>,
    /// Informative.
    #[serde(skip_deserializing)]
    pub size: Option<ModelSize>,
    pub residual: Residual,
    /// Token names; token id = index. Empty for a block fed residual vectors.
    pub vocab: Vec<String>,
    /// `V × W`.
    #[serde(borrow)]
    pub token_embedding: Matrix<'a>,
    pub positional: Vec<Positional>,
    #[serde(borrow)]
    pub layers: Vec<LayerFile<'a>>,
    /// `V × W`.
    #[serde(borrow)]
    pub readout: Matrix<'a>,
    #[serde(borrow)]
    pub readout_bias: Vec<Decimal<'a>>,
}

/// The arithmetic the model was built in: `f64` (53 bits) or `mpfr`.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "an object {kind, precision_bits}")]
pub struct Arithmetic {
    pub kind: String,
    pub precision_bits: u64,
}

/// The forward-pass rules, stated in the file itself (docs/export.md says the same at length).
#[derive(Serialize)]
pub struct Forward {
    pub positions: &'static str,
    pub residual: &'static str,
    pub layers: &'static str,
    pub mlp: &'static str,
    pub ssm: &'static str,
    pub attention: &'static str,
    pub logits: &'static str,
    pub decoding: &'static str,
    pub matrices: &'static str,
    pub numbers: &'static str,
}

/// The rules every export states.
pub const FORWARD: Forward = Forward {
    positions: "1-based: the first token is at t = 1",
    residual: "x = token_embedding[token] (row of the V x W matrix; a block takes its input vector instead) + every positional feature at t",
    layers: "applied in order; each adds its output to the residual: x <- x + layer(x)",
    mlp: "x <- x + w2 . act(w1 . x + b1) + b2; relu = max(x,0); gelu = x*Phi(x) with the exact erf (not tanh); silu = x*sigmoid(x)",
    ssm: "per channel d and state n: delta = softplus(w_delta . x + b_delta) (exact ln(1+e^z), not torch's threshold-20 version); B = w_b . x; C = w_c . x; u = w_u . x; h[d,n] <- exp(delta[d]*A[d,n])*h[d,n] + delta[d]*B[n]*u[d]; y[d] = sum_n C[n]*h[d,n] + D[d]*u[d]; with a gate y[d] <- y[d]*silu(w_z . x + b_z)[d]; x <- x + w_o . y; h starts at 0",
    attention: "every head reads the same pre-layer x; q = w_q . x, k = w_k . x, v = w_v . x; keys/values of positions 1..t are cached; scores q.k_s with no 1/sqrt(d) factor; softmax over s = 1..t; x <- x + sum over heads of w_o . (sum_s softmax_s * v_s)",
    logits: "readout . x + readout_bias (V values)",
    decoding: "greedy: the next token is the argmax of the logits, ties to the lowest index; feed the prompt, take the argmax after its last token, then feed each generated token and take the argmax again",
    matrices: "sparse: shape [rows, cols] and entries {i, j, row, col, value}; i, j are 0-based indices, row/col their names; missing entries are 0",
    numbers: "decimal strings, exact at the stated precision (parse with float() for f64)",
};

/// The decoding section: how to run the model and what it must produce.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a decoding object {prompt, generate, …}")]
pub struct DecodingFile {
    /// The prompt in words.
    #[serde(default)]
    pub prompt_format: String,
    /// Token ids of the stored prompt.
    #[serde(default)]
    pub prompt: Vec<usize>,
    /// How many symbols a user supplies (`run --input`).
    #[serde(default)]
    pub input_len: usize,
    /// Input symbols are the token ids `0..input_alphabet` (null for blocks).
    #[serde(default)]
    pub input_alphabet: Option<usize>,
    /// Tokens appended after the input symbols.
    #[serde(default)]
    pub suffix: Vec<usize>,
    pub generate: usize,
    /// The reference tokens for `prompt`, or null.
    #[serde(default)]
    pub expected: Option<Vec<usize>>,
    /// Blocks only (absent for token models): the residual input vectors, one per position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<Vec<f64>>>,
    /// Blocks only, each written (possibly as null) exactly when `inputs` is: the result is
    /// `x[read]` (or `x[read] / x[read_divisor]`) at the last position, which the claim
    /// guarantees to be `expected_read` within `tolerance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_divisor: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_read: Option<Option<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Option<f64>>,
}

/// The residual stream: its width and its named subspaces.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "an object {width, subspaces}")]
pub struct Residual {
    pub width: u64,
    pub subspaces: Vec<SubspaceFile>,
    /// Informative: coordinate `i` is named `name` (one-coordinate subspace) or `name[k]`.
    #[serde(skip_deserializing)]
    pub coord_names: Vec<String>,
}

/// Consecutive subspaces that cover the residual.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a subspace {name, start, len}")]
pub struct SubspaceFile {
    pub name: String,
    pub start: u64,
    pub len: u64,
    #[serde(default)]
    pub meaning: String,
}

impl From<&Subspace> for SubspaceFile {
    fn from(s: &Subspace) -> Self {
        SubspaceFile {
            name: s.name.clone(),
            start: s.start as u64,
            len: s.len as u64,
            meaning: s.meaning.clone(),
        }
    }
}

/// A sparse matrix; missing entries are 0.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a matrix {shape, entries}")]
pub struct Matrix<'a> {
    /// `[rows, cols]`.
    pub shape: [u64; 2],
    /// Informative: what the row and column indices mean (`residual`, `vocab`, `hidden`, ...).
    #[serde(skip_deserializing)]
    pub row_space: &'static str,
    #[serde(skip_deserializing)]
    pub col_space: &'static str,
    #[serde(borrow)]
    pub entries: Vec<Entry<'a>>,
}

/// One stored entry of a matrix: 0-based indices, their names (informative), the value.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "an entry {i, j, value}")]
pub struct Entry<'a> {
    pub i: u64,
    pub j: u64,
    #[serde(skip_deserializing)]
    pub row: String,
    #[serde(skip_deserializing)]
    pub col: String,
    #[serde(borrow)]
    pub value: Decimal<'a>,
}

/// A positional feature added to residual coordinate `coord` at every position.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a positional feature {coord, kind, …}")]
pub struct Positional {
    pub coord: u64,
    /// Informative.
    #[serde(skip_deserializing)]
    pub coord_name: String,
    #[serde(flatten)]
    pub kind: PositionalKind,
}

/// The value of a positional feature at the 1-based position `t`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PositionalKind {
    /// `num / den`.
    Constant { num: i64, den: i64 },
    /// `t`.
    Position,
    /// `t²`.
    PositionSquared,
    /// `[t = at]`.
    Equals { at: u64 },
    /// `[t ≥ from]`.
    AtLeast { from: u64 },
    /// `[t mod modulus = residue]`.
    Modulo { modulus: u64, residue: u64 },
    /// `values[t − 1]` (0 beyond the table).
    Table { values: Vec<i64> },
}

/// One layer; each adds its output to the residual.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a layer object {kind, name, …}")]
pub struct LayerFile<'a> {
    /// Informative: the position in `layers`.
    #[serde(skip_deserializing)]
    pub index: usize,
    pub name: String,
    #[serde(flatten, borrow)]
    pub body: LayerBody<'a>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LayerBody<'a> {
    #[serde(borrow)]
    Ssm(Box<SsmFile<'a>>),
    #[serde(borrow)]
    Mlp(MlpFile<'a>),
    #[serde(borrow)]
    Attention(AttentionFile<'a>),
}

/// `x ← x + w2·act(w1·x + b1) + b2`.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "an mlp layer object")]
pub struct MlpFile<'a> {
    /// `relu`, `gelu` or `silu`.
    pub activation: String,
    /// The H hidden units' names.
    pub hidden_units: Vec<String>,
    /// `H × W`, `H`, `W × H`, `W`.
    #[serde(borrow)]
    pub w1: Matrix<'a>,
    #[serde(borrow)]
    pub b1: Vec<Decimal<'a>>,
    #[serde(borrow)]
    pub w2: Matrix<'a>,
    #[serde(borrow)]
    pub b2: Vec<Decimal<'a>>,
}

/// A selective SSM layer (Mamba-1's `selective_scan_ref`), D channels and state N.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "an ssm layer object")]
pub struct SsmFile<'a> {
    pub channels: u64,
    pub state: u64,
    /// `D × W` and `D`.
    #[serde(borrow)]
    pub w_delta: Matrix<'a>,
    #[serde(borrow)]
    pub b_delta: Vec<Decimal<'a>>,
    /// `N × W` each.
    #[serde(borrow)]
    pub w_b: Matrix<'a>,
    #[serde(borrow)]
    pub w_c: Matrix<'a>,
    /// `D × W`.
    #[serde(borrow)]
    pub w_u: Matrix<'a>,
    #[serde(rename = "A", borrow)]
    pub a: DenseA<'a>,
    /// `D` skip weights.
    #[serde(rename = "D", borrow)]
    pub d: Vec<Decimal<'a>>,
    /// `y ← y·silu(w_z·x + b_z)`, or null.
    #[serde(borrow)]
    pub gate: Option<GateFile<'a>>,
    /// `W × D`.
    #[serde(borrow)]
    pub w_o: Matrix<'a>,
    /// Informative: how many `exp` a step needs.
    #[serde(skip_deserializing)]
    pub decay_structure: Option<DecayStructure>,
}

/// `A` (D × N, every value ≤ 0), row-major.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "an object {values}")]
pub struct DenseA<'a> {
    /// Informative: `[D, N]` and the layout sentence.
    #[serde(skip_deserializing)]
    pub shape: [u64; 2],
    #[serde(skip_deserializing)]
    pub layout: &'static str,
    #[serde(borrow)]
    pub values: Vec<Decimal<'a>>,
}

/// The layer's gate: `w_z` (D × W) and `b_z` (D).
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a gate {w_z, b_z} or null")]
pub struct GateFile<'a> {
    #[serde(borrow)]
    pub w_z: Matrix<'a>,
    #[serde(borrow)]
    pub b_z: Vec<Decimal<'a>>,
}

/// Softmax attention with no 1/√d factor; every head reads the same pre-layer x.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "an attention layer object")]
pub struct AttentionFile<'a> {
    /// Informative: `1 (no 1/sqrt(d))`.
    #[serde(skip_deserializing)]
    pub score_scale: &'static str,
    #[serde(borrow)]
    pub heads: Vec<HeadFile<'a>>,
}

/// One head: `w_q`, `w_k` (d_k × W), `w_v` (d_v × W), `w_o` (W × d_v).
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a head {w_q, w_k, w_v, w_o}")]
pub struct HeadFile<'a> {
    #[serde(borrow)]
    pub w_q: Matrix<'a>,
    #[serde(borrow)]
    pub w_k: Matrix<'a>,
    #[serde(borrow)]
    pub w_v: Matrix<'a>,
    #[serde(borrow)]
    pub w_o: Matrix<'a>,
}

/// A file of several models (`format: "freelunch-model-collection"`, from `explain --export`):
/// each model also has `example`, its description.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a collection {format, schema_version, claim, models}")]
pub struct CollectionFile<T> {
    pub format: String,
    pub schema_version: u64,
    pub claim: String,
    pub models: Vec<T>,
}

/// `freelunch.json` of a Hugging Face checkpoint directory (`freelunch lower`): where it came
/// from, how to run it, how it was lowered, and the cases it must reproduce.
#[derive(Serialize)]
pub struct CheckpointFile<'a, L> {
    /// `freelunch-hf-checkpoint`.
    pub format: &'static str,
    pub schema_version: u64,
    /// `MambaForCausalLM` or `NemotronHForCausalLM`.
    pub target: &'static str,
    /// The abstract model's name.
    pub source: &'a str,
    pub usage: &'a super::hf::Usage,
    pub vocab: &'a [String],
    pub lowering: L,
    pub size: serde_json::Value,
    pub cases: &'a serde_json::Value,
}

/// The `format` of [`CheckpointFile`].
pub const CHECKPOINT_FORMAT: &str = "freelunch-hf-checkpoint";

/// How a model was lowered to `MambaForCausalLM`.
#[derive(Serialize)]
pub struct MambaLowering<'a> {
    pub hidden_act: &'static str,
    pub lambda: f64,
    pub eps_log2: i32,
    pub mean_square_bound: f64,
    pub gadgets: &'a [crate::lower::GadgetBound],
}

/// How a model was lowered to `NemotronHForCausalLM`.
#[derive(Serialize)]
pub struct NemotronHLowering<'a> {
    pub mlp_hidden_act: &'static str,
    pub eps_log2: i32,
    pub counter_constant: f64,
    pub mean_square_bound: f64,
    pub gadgets: &'a [crate::lower::GadgetBound],
}
