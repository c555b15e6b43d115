//! The versioned, self-describing model format (docs/export.md): writer, reader, and the
//! `selective_scan_ref` argument set of an SSM layer.
//!
//! The JSON carries every shape, the forward-pass rules and the decoding protocol, so a reader
//! needs nothing but docs/export.md (examples/python/run_export.py is such a reader). Weights
//! are decimal strings that round-trip exactly at the stated precision.

pub mod examples;
pub mod hf;
pub mod hf_nemotron;
pub mod limits;
pub mod lowering;
pub mod run;
pub mod trace;

use crate::error::{Error, ModelError, Result};
use crate::model::{
    Activation, AttentionHead, AttentionLayer, Gate, Layer, Layout, MlpLayer, Model, PosKind,
    PositionalFeature, SparseMatrix, SsmLayer,
};
use crate::num::{Real, Scalar};
use serde_json::{json, Value};

/// The `format` field of every export.
pub const FORMAT: &str = "freelunch-model";
/// The `format` field of a file holding several models (`explain --export`).
pub const COLLECTION_FORMAT: &str = "freelunch-model-collection";
/// Bumped on any change a reader must know about (docs/export.md lists the versions).
pub const SCHEMA_VERSION: u64 = 1;

/// How to run an exported model: the prompt, how many tokens to generate, and (optionally)
/// the tokens the reference solver expects. Blocks whose inputs are real vectors (the COPY
/// blocks) give `inputs` instead of a prompt.
#[derive(Clone, Debug, Default)]
pub struct Decoding {
    /// What the prompt consists of, in words (e.g. `s_1 … s_n SEP`).
    pub prompt_format: String,
    /// Token ids of the prompt (empty for a block).
    pub prompt: Vec<usize>,
    /// Number of symbols the user supplies (`run --input`); the rest of the prompt is `suffix`.
    pub input_len: usize,
    /// Input symbols are the token ids `0..input_alphabet` (what a random input may use).
    pub input_alphabet: Option<usize>,
    /// Tokens appended after the user's input symbols to form the prompt (e.g. `[SEP]`).
    pub suffix: Vec<usize>,
    /// Tokens to generate greedily after the prompt.
    pub generate: usize,
    /// The reference tokens for `prompt`, when known.
    pub expected: Option<Vec<usize>>,
    /// Residual input vectors of a block (one per position), instead of tokens.
    pub inputs: Vec<Vec<f64>>,
    /// The residual coordinate a block's result is read from (at the last position).
    pub read: Option<String>,
    /// When set, the result is `read / read_divisor` (the normalised COPY readout).
    pub read_divisor: Option<String>,
    /// The value the block should produce, and the accuracy the claim guarantees.
    pub expected_read: Option<f64>,
    pub tolerance: Option<f64>,
}

/// The forward-pass rules, stated in the file itself (docs/export.md says the same at length).
fn forward_rules() -> Value {
    json!({
        "positions": "1-based: the first token is at t = 1",
        "residual": "x = token_embedding[token] (row of the V x W matrix; a block takes its input vector instead) + every positional feature at t",
        "layers": "applied in order; each adds its output to the residual: x <- x + layer(x)",
        "mlp": "x <- x + w2 . act(w1 . x + b1) + b2; relu = max(x,0); gelu = x*Phi(x) with the exact erf (not tanh); silu = x*sigmoid(x)",
        "ssm": "per channel d and state n: delta = softplus(w_delta . x + b_delta) (exact ln(1+e^z), not torch's threshold-20 version); B = w_b . x; C = w_c . x; u = w_u . x; h[d,n] <- exp(delta[d]*A[d,n])*h[d,n] + delta[d]*B[n]*u[d]; y[d] = sum_n C[n]*h[d,n] + D[d]*u[d]; with a gate y[d] <- y[d]*silu(w_z . x + b_z)[d]; x <- x + w_o . y; h starts at 0",
        "attention": "every head reads the same pre-layer x; q = w_q . x, k = w_k . x, v = w_v . x; keys/values of positions 1..t are cached; scores q.k_s with no 1/sqrt(d) factor; softmax over s = 1..t; x <- x + sum over heads of w_o . (sum_s softmax_s * v_s)",
        "logits": "readout . x + readout_bias (V values)",
        "decoding": "greedy: the next token is the argmax of the logits, ties to the lowest index; feed the prompt, take the argmax after its last token, then feed each generated token and take the argmax again",
        "matrices": "sparse: shape [rows, cols] and entries {i, j, row, col, value}; i, j are 0-based indices, row/col their names; missing entries are 0",
        "numbers": "decimal strings, exact at the stated precision (parse with float() for f64)"
    })
}

fn num_str<S: Scalar>(v: &S) -> String {
    v.to_real().0.to_string_radix(10, None)
}

fn vecj<S: Scalar>(v: &[S]) -> Value {
    Value::Array(v.iter().map(|x| Value::String(num_str(x))).collect())
}

fn mat<S: Scalar>(
    m: &SparseMatrix<S>,
    row_space: &str,
    col_space: &str,
    row_name: impl Fn(usize) -> String,
    col_name: impl Fn(usize) -> String,
) -> Value {
    json!({
        "shape": [m.rows, m.cols],
        "row_space": row_space,
        "col_space": col_space,
        "entries": m.entries().map(|(r, c, v)| json!({
            "i": r, "j": c, "row": row_name(r), "col": col_name(c), "value": num_str(v)
        })).collect::<Vec<_>>(),
    })
}

fn pos_json(layout: &Layout, f: &PositionalFeature) -> Value {
    let mut o = json!({"coord": f.coord, "coord_name": layout.coord_name(f.coord)});
    let (kind, extra) = match &f.kind {
        PosKind::Constant { num, den } => ("constant", json!({"num": num, "den": den})),
        PosKind::Position => ("position", json!({})),
        PosKind::PositionSquared => ("position_squared", json!({})),
        PosKind::Equals { at } => ("equals", json!({"at": at})),
        PosKind::AtLeast { from } => ("at_least", json!({"from": from})),
        PosKind::Modulo { modulus, residue } => {
            ("modulo", json!({"modulus": modulus, "residue": residue}))
        }
        PosKind::Table { values } => ("table", json!({"values": values})),
    };
    o["kind"] = json!(kind);
    if let (Some(o), Value::Object(e)) = (o.as_object_mut(), extra) {
        o.extend(e);
    }
    o
}

/// The model (and how to run it) in the format of docs/export.md.
pub fn to_json<S: Scalar>(m: &Model<S>, decoding: Option<&Decoding>) -> Value {
    let res = |i: usize| m.layout.coord_name(i);
    let tok = |i: usize| m.vocab.get(i).cloned().unwrap_or_else(|| format!("tok{i}"));
    let idx = |p: &'static str| move |i: usize| format!("{p}[{i}]");
    let layers: Vec<Value> = m
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut v = match l {
                Layer::Ssm(x) => json!({
                    "kind": "ssm", "channels": x.channels, "state": x.state,
                    "w_delta": mat(&x.w_delta, "channel", "residual", idx("channel"), res),
                    "b_delta": vecj(&x.b_delta),
                    "w_b": mat(&x.w_b, "state", "residual", idx("state"), res),
                    "w_c": mat(&x.w_c, "state", "residual", idx("state"), res),
                    "w_u": mat(&x.w_u, "channel", "residual", idx("channel"), res),
                    "A": {"shape": [x.channels, x.state], "layout": "row-major: A[d][n] = values[d*state + n]", "values": vecj(&x.a)},
                    "D": vecj(&x.d_skip),
                    "gate": x.gate.as_ref().map(|g| json!({
                        "w_z": mat(&g.w_z, "channel", "residual", idx("channel"), res),
                        "b_z": vecj(&g.b_z),
                    })),
                    "w_o": mat(&x.w_o, "residual", "channel", res, idx("channel")),
                    "decay_structure": x.decay,
                }),
                Layer::Mlp(x) => {
                    let hn = |i: usize| {
                        x.hidden_names
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| format!("hidden[{i}]"))
                    };
                    json!({
                        "kind": "mlp", "activation": x.act.name(),
                        "hidden_units": (0..x.hidden_width()).map(hn).collect::<Vec<_>>(),
                        "w1": mat(&x.w1, "hidden", "residual", hn, res),
                        "b1": vecj(&x.b1),
                        "w2": mat(&x.w2, "residual", "hidden", res, hn),
                        "b2": vecj(&x.b2),
                    })
                }
                Layer::Attention(x) => json!({
                    "kind": "attention", "score_scale": "1 (no 1/sqrt(d))",
                    "heads": x.heads.iter().map(|h| json!({
                        "w_q": mat(&h.w_q, "q", "residual", idx("q"), res),
                        "w_k": mat(&h.w_k, "k", "residual", idx("k"), res),
                        "w_v": mat(&h.w_v, "v", "residual", idx("v"), res),
                        "w_o": mat(&h.w_o, "residual", "v", res, idx("v")),
                    })).collect::<Vec<_>>(),
                }),
            };
            v["index"] = json!(i);
            v["name"] = json!(l.name());
            v
        })
        .collect();
    let w = m.layout.width();
    let decoding = decoding.map(|d| {
        let mut o = json!({
            "prompt_format": d.prompt_format,
            "prompt": d.prompt,
            "input_len": d.input_len,
            "input_alphabet": d.input_alphabet,
            "suffix": d.suffix,
            "generate": d.generate,
            "expected": d.expected,
        });
        if !d.inputs.is_empty() {
            o["inputs"] = json!(d.inputs);
            o["read"] = json!(d.read);
            o["read_divisor"] = json!(d.read_divisor);
            o["expected_read"] = json!(d.expected_read);
            o["tolerance"] = json!(d.tolerance);
        }
        o
    });
    json!({
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "name": m.name,
        "arithmetic": {"kind": S::KIND, "precision_bits": m.prec},
        "forward": forward_rules(),
        "decoding": decoding,
        "size": m.size(),
        "residual": {
            "width": w,
            "subspaces": m.layout.subspaces,
            "coord_names": (0..w).map(res).collect::<Vec<_>>(),
        },
        "vocab": m.vocab,
        "token_embedding": mat(&m.token_embedding, "vocab", "residual", tok, res),
        "positional": m.positional.iter().map(|f| pos_json(&m.layout, f)).collect::<Vec<_>>(),
        "layers": layers,
        "readout": mat(&m.readout, "vocab", "residual", tok, res),
        "readout_bias": vecj(&m.readout_bias),
    })
}

// ------------------------------------------------------------------ reader

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::Model(ModelError::Malformed(msg.to_string()))
}

fn field<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a Value> {
    v.get(key)
        .filter(|x| !x.is_null())
        .ok_or_else(|| bad(format!("{at} has no `{key}`")))
}

fn uint(v: &Value, key: &str, at: &str) -> Result<usize> {
    field(v, key, at)?
        .as_u64()
        .map(|x| x as usize)
        .ok_or_else(|| bad(format!("{at}.{key} is not a non-negative integer")))
}

/// `at.key`, or `key` alone for a top-level field (`at` = "the file").
fn join(at: &str, key: &str) -> String {
    if at == "the file" {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// A dimension field, checked against [`limits::MAX_DIM`] (and ≥ 1 unless `zero_ok`).
fn dim(v: &Value, key: &str, at: &str, zero_ok: bool) -> Result<usize> {
    let x = field(v, key, at)?
        .as_u64()
        .ok_or_else(|| bad(format!("{at}.{key} is not a non-negative integer")))?;
    Ok(limits::dim(&join(at, key), x, zero_ok)?)
}

fn text<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a str> {
    field(v, key, at)?
        .as_str()
        .ok_or_else(|| bad(format!("{at}.{key} is not a string")))
}

fn number<S: Scalar>(v: &Value, at: &str, prec: u32) -> Result<S> {
    let s = v
        .as_str()
        .ok_or_else(|| bad(format!("{at} is not a decimal string")))?;
    let parsed =
        rug::Float::parse(s.trim()).map_err(|_| bad(format!("{at} = `{s}` is not a number")))?;
    let x = Real(rug::Float::with_val(prec.max(2), parsed));
    // Finiteness is checked after rounding to the working arithmetic: `1e400` is a finite
    // MPFR number but an infinite f64.
    let y = S::from_real(&x, prec);
    if !x.0.is_finite() || !y.is_finite() {
        return Err(ModelError::NotFinite {
            name: at.to_string(),
            value: s.chars().take(40).collect(),
            arithmetic: format!("{} at {prec} bits", S::KIND),
        }
        .into());
    }
    Ok(y)
}

fn vector<S: Scalar>(v: &Value, key: &str, at: &str, len: usize, prec: u32) -> Result<Vec<S>> {
    let a = field(v, key, at)?
        .as_array()
        .ok_or_else(|| bad(format!("{at}.{key} is not an array")))?;
    if a.len() != len {
        return Err(bad(format!(
            "{at}.{key} has {} values, expected {len}",
            a.len()
        )));
    }
    a.iter()
        .enumerate()
        .map(|(i, x)| number(x, &format!("{}[{i}]", join(at, key)), prec))
        .collect()
}

fn matrix<S: Scalar>(
    v: &Value,
    key: &str,
    at: &str,
    shape: (usize, usize),
    prec: u32,
) -> Result<SparseMatrix<S>> {
    let m = field(v, key, at)?;
    let at = join(at, key);
    let sh = field(m, "shape", &at)?
        .as_array()
        .and_then(|a| Some((a.first()?.as_u64()? as usize, a.get(1)?.as_u64()? as usize)))
        .ok_or_else(|| bad(format!("{at}.shape is not [rows, cols]")))?;
    if sh != shape {
        return Err(bad(format!("{at} has shape {sh:?}, expected {shape:?}")));
    }
    let entries = field(m, "entries", &at)?
        .as_array()
        .ok_or_else(|| bad(format!("{at}.entries is not an array")))?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for (k, e) in entries.iter().enumerate() {
        let ea = format!("{at}.entries[{k}]");
        let (i, j) = (uint(e, "i", &ea)?, uint(e, "j", &ea)?);
        if i >= shape.0 || j >= shape.1 {
            return Err(bad(format!("{ea} ({i}, {j}) is outside {shape:?}")));
        }
        if !seen.insert((i, j)) {
            return Err(bad(format!("{ea} repeats position ({i}, {j})")));
        }
        out.push((i, j, number(field(e, "value", &ea)?, &ea, prec)?));
    }
    Ok(SparseMatrix::from_entries(shape.0, shape.1, out))
}

fn pos_kind(f: &Value, at: &str) -> Result<PosKind> {
    let i64f = |k: &str| {
        field(f, k, at)?
            .as_i64()
            .ok_or_else(|| bad(format!("{at}.{k} is not an integer")))
    };
    Ok(match text(f, "kind", at)? {
        "constant" => {
            let den = i64f("den")?;
            if den == 0 {
                return Err(bad(format!("{at} divides by zero")));
            }
            PosKind::Constant {
                num: i64f("num")?,
                den,
            }
        }
        "position" => PosKind::Position,
        "position_squared" => PosKind::PositionSquared,
        "equals" => PosKind::Equals {
            at: uint(f, "at", at)?,
        },
        "at_least" => PosKind::AtLeast {
            from: uint(f, "from", at)?,
        },
        "modulo" => {
            let modulus = uint(f, "modulus", at)?;
            if modulus == 0 {
                return Err(bad(format!("{at} has modulus 0")));
            }
            PosKind::Modulo {
                modulus,
                residue: uint(f, "residue", at)?,
            }
        }
        "table" => PosKind::Table {
            values: field(f, "values", at)?
                .as_array()
                .and_then(|a| a.iter().map(Value::as_i64).collect::<Option<Vec<_>>>())
                .ok_or_else(|| bad(format!("{at}.values is not a list of integers")))?,
        },
        k => return Err(bad(format!("{at} has unknown kind `{k}`"))),
    })
}

fn usizes(v: &Value, key: &str, at: &str) -> Result<Vec<usize>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(a) => a
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|x| x.as_u64().map(|x| x as usize))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| bad(format!("{at}.{key} is not a list of token ids"))),
    }
}

/// Read the decoding section (if any).
pub fn read_decoding(v: &Value) -> Result<Option<Decoding>> {
    let Some(d) = v.get("decoding").filter(|d| !d.is_null()) else {
        return Ok(None);
    };
    let at = "decoding";
    let inputs = match d.get("inputs") {
        None | Some(Value::Null) => Vec::new(),
        Some(a) => a
            .as_array()
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        r.as_array()?
                            .iter()
                            .map(Value::as_f64)
                            .collect::<Option<Vec<_>>>()
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| bad("decoding.inputs is not a list of number lists"))?,
    };
    Ok(Some(Decoding {
        prompt_format: d
            .get("prompt_format")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        prompt: usizes(d, "prompt", at)?,
        input_len: d.get("input_len").and_then(Value::as_u64).unwrap_or(0) as usize,
        input_alphabet: d
            .get("input_alphabet")
            .and_then(Value::as_u64)
            .map(|a| a as usize),
        suffix: usizes(d, "suffix", at)?,
        generate: uint(d, "generate", at)?,
        expected: d
            .get("expected")
            .filter(|e| !e.is_null())
            .map(|_| usizes(d, "expected", at))
            .transpose()?,
        inputs,
        read: d.get("read").and_then(Value::as_str).map(str::to_string),
        read_divisor: d
            .get("read_divisor")
            .and_then(Value::as_str)
            .map(str::to_string),
        expected_read: d.get("expected_read").and_then(Value::as_f64),
        tolerance: d.get("tolerance").and_then(Value::as_f64),
    }))
}

/// The arithmetic kinds a file may name (`arithmetic.kind`).
pub const ARITHMETIC_KINDS: [&str; 2] = ["f64", "mpfr"];

/// The arithmetic an export was written in: `(kind, bits)`, kind one of [`ARITHMETIC_KINDS`]
/// (`f64` with 53 bits; `mpfr` with a precision `--precision` accepts).
pub fn arithmetic(v: &Value) -> Result<(String, u32)> {
    let a = field(v, "arithmetic", "the file")?;
    let kind = text(a, "kind", "arithmetic")?;
    if !ARITHMETIC_KINDS.contains(&kind) {
        return Err(ModelError::Unknown {
            name: "arithmetic.kind".into(),
            value: kind.chars().take(40).collect(),
            known: ARITHMETIC_KINDS.join(", "),
        }
        .into());
    }
    let bits = field(a, "precision_bits", "arithmetic")?
        .as_u64()
        .ok_or_else(|| bad("arithmetic.precision_bits is not a non-negative integer"))?;
    let bits = if kind == "f64" {
        limits::in_range("arithmetic.precision_bits (f64)", bits, 53, 53)?
    } else {
        limits::in_range(
            "arithmetic.precision_bits",
            bits,
            2,
            u64::from(crate::num::MAX_PRACTICAL_BITS),
        )?
    };
    Ok((kind.to_string(), bits as u32))
}

/// Check `format` and `schema_version`.
pub fn check_header(v: &Value) -> Result<()> {
    if v.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(bad(format!(
            "the `format` field is not `{FORMAT}` (write one with `freelunch dp … --export` or `freelunch explain <claim> --export`)"
        )));
    }
    match v.get("schema_version").and_then(Value::as_u64) {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(x) => Err(bad(format!(
            "schema version {x}, but this build reads version {SCHEMA_VERSION}"
        ))),
        None => Err(bad("no schema_version")),
    }
}

/// Rebuild a model from its export, with every weight rounded to `prec` bits.
pub fn from_json<S: Scalar>(v: &Value, prec: u32) -> Result<Model<S>> {
    check_header(v)?;
    let res = field(v, "residual", "the file")?;
    let width = dim(res, "width", "residual", false)?;
    let mut layout = Layout::new();
    let subs = field(res, "subspaces", "residual")?
        .as_array()
        .ok_or_else(|| bad("residual.subspaces is not an array"))?;
    for (k, s) in subs.iter().enumerate() {
        let at = format!("residual.subspaces[{k}]");
        let name = text(s, "name", &at)?;
        if layout.range(name).is_ok() {
            return Err(bad(format!("{at} repeats the name `{name}`")));
        }
        if uint(s, "start", &at)? != layout.width() {
            return Err(bad(format!(
                "{at} does not start where the previous one ends"
            )));
        }
        let meaning = s.get("meaning").and_then(Value::as_str).unwrap_or("");
        let len = dim(s, "len", &at, true)?;
        if layout.width() + len > width {
            return Err(bad(format!(
                "the subspaces up to {at} cover more than residual.width = {width} coordinates"
            )));
        }
        layout.add(name, len, meaning);
    }
    if layout.width() != width {
        return Err(bad(format!(
            "the subspaces cover {} coordinates, but residual.width is {width}",
            layout.width()
        )));
    }
    let vocab: Vec<String> = field(v, "vocab", "the file")?
        .as_array()
        .and_then(|a| {
            a.iter()
                .map(|t| t.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| bad("vocab is not a list of strings"))?;
    let nv = limits::dim("vocab (its length)", vocab.len() as u64, true)?;
    let positional = field(v, "positional", "the file")?
        .as_array()
        .ok_or_else(|| bad("positional is not an array"))?
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let at = format!("positional[{k}]");
            let coord = uint(f, "coord", &at)?;
            if coord >= width {
                return Err(bad(format!("{at}.coord {coord} is outside the residual")));
            }
            Ok(PositionalFeature {
                coord,
                kind: pos_kind(f, &at)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut layers = Vec::new();
    for (k, l) in field(v, "layers", "the file")?
        .as_array()
        .ok_or_else(|| bad("layers is not an array"))?
        .iter()
        .enumerate()
    {
        let at = format!("layers[{k}]");
        let name = text(l, "name", &at)?.to_string();
        layers.push(match text(l, "kind", &at)? {
            "mlp" => {
                let hidden_units: Vec<String> = field(l, "hidden_units", &at)?
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|t| t.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| bad(format!("{at}.hidden_units is not a list of names")))?;
                let h = limits::dim(
                    &format!("{at}.hidden_units (its length)"),
                    hidden_units.len() as u64,
                    true,
                )?;
                Layer::Mlp(MlpLayer {
                    name,
                    act: Activation::parse(text(l, "activation", &at)?)
                        .map_err(|e| bad(format!("{at}: {e}")))?,
                    w1: matrix(l, "w1", &at, (h, width), prec)?,
                    b1: vector(l, "b1", &at, h, prec)?,
                    w2: matrix(l, "w2", &at, (width, h), prec)?,
                    b2: vector(l, "b2", &at, width, prec)?,
                    hidden_names: hidden_units,
                })
            }
            "ssm" => {
                let (d, n) = (
                    dim(l, "channels", &at, false)?,
                    dim(l, "state", &at, false)?,
                );
                let dn = limits::product(
                    &format!("{at}: channels × state"),
                    d,
                    n,
                    limits::MAX_SSM_MEMORY as u64,
                )?;
                let a_at = format!("{at}.A");
                let a = vector(field(l, "A", &at)?, "values", &a_at, dn, prec)?;
                if let Some(i) = a
                    .iter()
                    .position(|x: &S| !x.is_sign_negative() && !x.is_zero())
                {
                    return Err(bad(format!(
                        "{a_at}.values[{i}] is positive (A must be ≤ 0)"
                    )));
                }
                let gate = match l.get("gate").filter(|g| !g.is_null()) {
                    None => None,
                    Some(g) => Some(Gate {
                        w_z: matrix(g, "w_z", &format!("{at}.gate"), (d, width), prec)?,
                        b_z: vector(g, "b_z", &format!("{at}.gate"), d, prec)?,
                    }),
                };
                let decay = SsmLayer::detect_decay(&a, d, n);
                Layer::Ssm(SsmLayer {
                    name,
                    width,
                    channels: d,
                    state: n,
                    w_delta: matrix(l, "w_delta", &at, (d, width), prec)?,
                    b_delta: vector(l, "b_delta", &at, d, prec)?,
                    w_b: matrix(l, "w_b", &at, (n, width), prec)?,
                    w_c: matrix(l, "w_c", &at, (n, width), prec)?,
                    w_u: matrix(l, "w_u", &at, (d, width), prec)?,
                    a,
                    d_skip: vector(l, "D", &at, d, prec)?,
                    gate,
                    w_o: matrix(l, "w_o", &at, (width, d), prec)?,
                    decay,
                })
            }
            "attention" => {
                let heads = field(l, "heads", &at)?
                    .as_array()
                    .ok_or_else(|| bad(format!("{at}.heads is not an array")))?
                    .iter()
                    .enumerate()
                    .map(|(hk, h)| {
                        let hat = format!("{at}.heads[{hk}]");
                        let rows = |key: &str| -> Result<usize> {
                            let r = field(field(h, key, &hat)?, "shape", &hat)?
                                .get(0)
                                .and_then(Value::as_u64)
                                .ok_or_else(|| bad(format!("{hat}.{key} has no shape")))?;
                            Ok(limits::dim(&format!("{hat}.{key}.shape[0]"), r, false)?)
                        };
                        let (dq, dv) = (rows("w_q")?, rows("w_v")?);
                        Ok(AttentionHead {
                            w_q: matrix(h, "w_q", &hat, (dq, width), prec)?,
                            w_k: matrix(h, "w_k", &hat, (dq, width), prec)?,
                            w_v: matrix(h, "w_v", &hat, (dv, width), prec)?,
                            w_o: matrix(h, "w_o", &hat, (width, dv), prec)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Layer::Attention(AttentionLayer { name, heads })
            }
            kind => return Err(bad(format!("{at} has unknown kind `{kind}`"))),
        });
    }
    Ok(Model {
        name: text(v, "name", "the file")?.to_string(),
        token_embedding: matrix(v, "token_embedding", "the file", (nv, width), prec)?,
        readout: matrix(v, "readout", "the file", (nv, width), prec)?,
        readout_bias: vector(v, "readout_bias", "the file", nv, prec)?,
        layout,
        vocab,
        positional,
        layers,
        prec,
    })
}

/// One SSM layer's run over a sequence, as the exact argument set of the reference
/// `selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus)` (batch 1; shapes
/// `u, delta, z: (1, D, L)`, `A: (D, N)`, `B, C: (1, N, L)`, `D, delta_bias: (D,)`), computed from
/// the residual inputs `xs` (one per position) of that layer. The reference's output `y` (after
/// the gate) is what the layer multiplies by `w_o` and adds to the residual; `y_model` holds the
/// model's own (gated) `y` for comparison, computed with `softplus`.
pub fn selective_scan_args<S: Scalar>(
    layer: &SsmLayer<S>,
    xs: &[Vec<S>],
    prec: u32,
    softplus: crate::model::Softplus,
) -> Value {
    let f = |v: &S| v.to_f64();
    let mut st = layer.new_state(prec);
    let y_per_t: Vec<Vec<f64>> = xs
        .iter()
        .map(|x| {
            let mut x = x.clone();
            layer.step_with(&mut st, &mut x, softplus);
            st.y.iter().map(f).collect()
        })
        .collect();
    let y_model: Vec<Vec<f64>> = (0..layer.channels)
        .map(|d| y_per_t.iter().map(|y| y[d]).collect())
        .collect();
    let apply = |m: &SparseMatrix<S>, x: &[S]| {
        let mut out = crate::num::zeros::<S>(m.rows, prec);
        m.mul_vec_into(x, &mut out);
        out
    };
    // time-major projections, then transposed to (rows, L)
    let cols = |m: &SparseMatrix<S>| -> Vec<Vec<f64>> {
        let per_t: Vec<Vec<S>> = xs.iter().map(|x| apply(m, x)).collect();
        (0..m.rows)
            .map(|r| per_t.iter().map(|v| f(&v[r])).collect())
            .collect()
    };
    let n = layer.state;
    json!({
        "function": "selective_scan_ref",
        "layer": layer.name,
        "length": xs.len(),
        "u": [cols(&layer.w_u)],
        "delta": [cols(&layer.w_delta)],
        "A": (0..layer.channels).map(|d| layer.a[d * n..(d + 1) * n].iter().map(f).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "B": [cols(&layer.w_b)],
        "C": [cols(&layer.w_c)],
        "D": layer.d_skip.iter().map(f).collect::<Vec<_>>(),
        "z": layer.gate.as_ref().map(|g| {
            let mut z = cols(&g.w_z);
            for (row, b) in z.iter_mut().zip(&g.b_z) {
                for v in row.iter_mut() {
                    *v += f(b);
                }
            }
            vec![z]
        }),
        "delta_bias": layer.b_delta.iter().map(f).collect::<Vec<_>>(),
        "delta_softplus": true,
        "y_model": [y_model],
        "note": "numbers are f64 roundings of the model's values; z already includes b_z (the reference has no z bias); the reference's softplus is torch's (threshold 20): compare with `--softplus torch`",
    })
}

/// One model of a file: the file itself when it holds one model; otherwise the model of a
/// collection named (`example` or `name`) or indexed by `which`, or the only one.
pub fn pick(v: Value, which: Option<&str>) -> Result<Value> {
    if v.get("format").and_then(Value::as_str) != Some(COLLECTION_FORMAT) {
        return match which {
            None => Ok(v),
            Some(_) => Err(Error::input(
                "--pick applies to a file of several models (from `explain --export`)",
            )),
        };
    }
    let models = v
        .get("models")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("the collection has no `models` list"))?;
    let names: Vec<String> = models
        .iter()
        .map(|m| {
            m.get("example")
                .or(m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    if models.is_empty() {
        return Err(bad(
            "the collection holds no models (its `models` list is empty)",
        ));
    }
    let negative = |w: &&str| {
        w.trim()
            .strip_prefix('-')
            .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()))
    };
    if let Some(w) = which.filter(negative) {
        return Err(ModelError::OutOfRange {
            name: "--pick".into(),
            value: w.to_string(),
            range: format!(
                "give a model name or a 0-based index 0..={} (not a negative number)",
                models.len() - 1
            ),
        }
        .into());
    }
    let k = match which {
        None if models.len() == 1 => 0,
        None => {
            return Err(Error::input(format!(
                "the file holds {} models: choose one with --pick (0..{} or a name: {})",
                models.len(),
                models.len() - 1,
                names.join("; ")
            )))
        }
        Some(w) => match w.parse::<usize>() {
            Ok(i) if i < models.len() => i,
            _ => names.iter().position(|n| n == w).ok_or_else(|| {
                Error::input(format!(
                    "no model `{w}` in the file (0..{} or a name: {})",
                    models.len() - 1,
                    names.join("; ")
                ))
            })?,
        },
    };
    Ok(models[k].clone())
}

/// What a run fed the model: token ids, or a block's residual vectors.
pub enum Fed {
    Tokens(Vec<usize>),
    Vectors(Vec<Vec<f64>>),
}

/// Every SSM layer of a run as the arguments of `selective_scan_ref` (see
/// [`selective_scan_args`]): the residual entering layer k is recorded by running the layers
/// before it on the same inputs.
pub fn scan_args_of_run<S: Scalar>(
    m: &Model<S>,
    fed: &Fed,
    softplus: crate::model::Softplus,
) -> Value {
    let mut out = Vec::new();
    for (k, l) in m.layers.iter().enumerate() {
        let Layer::Ssm(ssm) = l else { continue };
        let mut prefix = m.clone();
        prefix.layers.truncate(k);
        let mut run = prefix.runner();
        run.softplus = softplus;
        let mut xs = Vec::new();
        match fed {
            Fed::Tokens(t) => {
                for &tok in t {
                    run.feed(tok);
                    xs.push(run.residual.clone());
                }
            }
            Fed::Vectors(vs) => {
                for v in vs {
                    let x: Vec<S> = v.iter().map(|&a| S::from_f64(a, m.prec)).collect();
                    run.feed_vector(&x);
                    xs.push(run.residual.clone());
                }
            }
        }
        let mut v = selective_scan_args(ssm, &xs, m.prec, softplus);
        v["layer_index"] = json!(k);
        out.push(v);
    }
    json!({"model": m.name, "softplus_used_for_the_run": softplus, "layers": out})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dp::{self, MemoryKind, Options};
    use crate::model::Softplus;

    fn edit_model<S: Scalar>(bits: u32, memory: MemoryKind) -> Model<S> {
        let p = crate::dp::problem("edit", "n1=2 n2=2 sigma=3 ins=1 del=1 sub=1").unwrap();
        let opt = Options {
            memory,
            slots: None,
            activation: Activation::Gelu,
            lambda: None,
            memory_override: None,
        };
        dp::compile::<S>(&p, &opt, bits).unwrap().model
    }

    #[test]
    fn export_round_trips_exactly() {
        for memory in [MemoryKind::Slot, MemoryKind::Attention] {
            let m: Model<f64> = edit_model(53, memory);
            let v = to_json(&m, None);
            let back: Model<f64> = from_json(&v, 53).unwrap();
            assert_eq!(to_json(&back, None), v);
            let m: Model<Real> = edit_model(200, memory);
            let v = to_json(&m, None);
            let back: Model<Real> = from_json(&v, 200).unwrap();
            assert_eq!(
                to_json(&back, None),
                v,
                "200-bit weights must survive the text"
            );
        }
    }

    #[test]
    fn malformed_exports_are_refused() {
        let m: Model<f64> = edit_model(53, MemoryKind::Slot);
        let v = to_json(&m, None);
        let refused = |f: &dyn Fn(&mut Value), want: &str| {
            let mut w = v.clone();
            f(&mut w);
            let e = from_json::<f64>(&w, 53)
                .expect_err("must be refused")
                .to_string();
            assert!(e.contains(want), "`{e}` lacks `{want}`");
        };
        refused(&|w| w["schema_version"] = json!(99), "schema version 99");
        refused(&|w| w["format"] = json!("x"), "format");
        refused(&|w| w["readout"]["shape"] = json!([1, 1]), "shape");
        refused(
            &|w| {
                let e = w["readout"]["entries"][0].clone();
                w["readout"]["entries"].as_array_mut().unwrap().push(e);
            },
            "repeats position",
        );
        refused(&|w| w["readout_bias"] = json!(["1"]), "values, expected");
        refused(&|w| w["readout_bias"][0] = json!("abc"), "is not a number");
        let ssm = v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .position(|l| l["kind"] == "ssm")
            .unwrap();
        refused(
            &|w| w["layers"][ssm]["A"]["values"][0] = json!("0.5"),
            "A must be ≤ 0",
        );
        refused(
            &|w| w["layers"][ssm]["kind"] = json!("conv"),
            "unknown kind",
        );
    }

    #[test]
    fn torch_softplus_is_the_identity_above_20_only() {
        let mut m: Model<f64> = edit_model(53, MemoryKind::Slot);
        let Some(Layer::Ssm(layer)) = m.layers.iter_mut().find(|l| matches!(l, Layer::Ssm(_)))
        else {
            panic!("the slot memory is an SSM layer")
        };
        let x = vec![0.0; layer.width];
        let mut inp = layer.project(&x, 53);
        for (bias, want_differs) in [(25.0, true), (15.0, false), (-3.0, false)] {
            for b in layer.b_delta.iter_mut() {
                *b = bias;
            }
            let exact: Vec<f64> = {
                layer.project_into_with(&x, &mut inp, Softplus::Exact);
                inp.delta.clone()
            };
            layer.project_into_with(&x, &mut inp, Softplus::Torch);
            for (e, t) in exact.iter().zip(&inp.delta) {
                if want_differs {
                    assert_eq!(*t, bias, "torch: identity above 20");
                    assert!(e > t && e - t < 2.1e-9 * 2.0, "exact {e} vs torch {t}");
                } else {
                    assert_eq!(e, t, "below 20 both are ln(1+e^x)");
                }
            }
        }
    }
}
