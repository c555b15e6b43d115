//! The versioned, self-describing model format (docs/export.md): writer, reader, and the
//! `selective_scan_ref` argument set of an SSM layer.
//!
//! The JSON carries every shape, the forward-pass rules and the decoding protocol, so a reader
//! needs nothing but docs/export.md (examples/python/run_export.py is such a reader). Weights
//! are decimal strings that round-trip exactly at the stated precision. The file's objects are
//! the serde types of [`format`]; reading checks every size they state against [`limits`]
//! before allocating anything for it.

pub mod examples;
pub mod format;
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
use format::{
    AttentionFile, CollectionFile, Decimal, DecodingFile, DenseA, Entry, GateFile, HeadFile,
    LayerBody, LayerFile, Matrix, MlpFile, ModelFile, Positional, PositionalKind, Residual,
    SsmFile, FORWARD,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;

#[cfg(test)]
use serde_json::json;

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

impl From<&Decoding> for DecodingFile {
    fn from(d: &Decoding) -> Self {
        // The block fields are written (null when unset) exactly for a block.
        let block = !d.inputs.is_empty();
        let only_block = |x| block.then_some(x);
        DecodingFile {
            prompt_format: d.prompt_format.clone(),
            prompt: d.prompt.clone(),
            input_len: d.input_len,
            input_alphabet: d.input_alphabet,
            suffix: d.suffix.clone(),
            generate: d.generate,
            expected: d.expected.clone(),
            inputs: block.then(|| d.inputs.clone()),
            read: block.then(|| d.read.clone()),
            read_divisor: block.then(|| d.read_divisor.clone()),
            expected_read: only_block(d.expected_read),
            tolerance: only_block(d.tolerance),
        }
    }
}

impl From<DecodingFile> for Decoding {
    fn from(d: DecodingFile) -> Self {
        Decoding {
            prompt_format: d.prompt_format,
            prompt: d.prompt,
            input_len: d.input_len,
            input_alphabet: d.input_alphabet,
            suffix: d.suffix,
            generate: d.generate,
            expected: d.expected,
            inputs: d.inputs.unwrap_or_default(),
            read: d.read.flatten(),
            read_divisor: d.read_divisor.flatten(),
            expected_read: d.expected_read.flatten(),
            tolerance: d.tolerance.flatten(),
        }
    }
}

// ------------------------------------------------------------------ writer

fn decimal<S: Scalar>(v: &S) -> Decimal<'static> {
    Decimal(Cow::Owned(v.to_real().0.to_string_radix(10, None)))
}

fn decimals<S: Scalar>(v: &[S]) -> Vec<Decimal<'static>> {
    v.iter().map(decimal).collect()
}

fn matrix_file<S: Scalar>(
    m: &SparseMatrix<S>,
    row_space: &'static str,
    col_space: &'static str,
    row_name: impl Fn(usize) -> String,
    col_name: impl Fn(usize) -> String,
) -> Matrix<'static> {
    Matrix {
        shape: [m.rows as u64, m.cols as u64],
        row_space,
        col_space,
        entries: (m.entries())
            .map(|(r, c, v)| Entry {
                i: r as u64,
                j: c as u64,
                row: row_name(r),
                col: col_name(c),
                value: decimal(v),
            })
            .collect(),
    }
}

fn positional_kind(k: &PosKind) -> PositionalKind {
    match k {
        PosKind::Constant { num, den } => PositionalKind::Constant {
            num: *num,
            den: *den,
        },
        PosKind::Position => PositionalKind::Position,
        PosKind::PositionSquared => PositionalKind::PositionSquared,
        PosKind::Equals { at } => PositionalKind::Equals { at: *at as u64 },
        PosKind::AtLeast { from } => PositionalKind::AtLeast { from: *from as u64 },
        PosKind::Modulo { modulus, residue } => PositionalKind::Modulo {
            modulus: *modulus as u64,
            residue: *residue as u64,
        },
        PosKind::Table { values } => PositionalKind::Table {
            values: values.clone(),
        },
    }
}

/// The model (and how to run it) as the serde types of docs/export.md.
pub fn to_file<S: Scalar>(m: &Model<S>, decoding: Option<&Decoding>) -> ModelFile<'static> {
    let res = |i: usize| m.layout.coord_name(i);
    let tok = |i: usize| m.vocab.get(i).cloned().unwrap_or_else(|| format!("tok{i}"));
    let idx = |p: &'static str| move |i: usize| format!("{p}[{i}]");
    let layer = |index: usize, l: &Layer<S>| {
        let body = match l {
            Layer::Ssm(x) => LayerBody::Ssm(Box::new(SsmFile {
                channels: x.channels as u64,
                state: x.state as u64,
                w_delta: matrix_file(&x.w_delta, "channel", "residual", idx("channel"), res),
                b_delta: decimals(&x.b_delta),
                w_b: matrix_file(&x.w_b, "state", "residual", idx("state"), res),
                w_c: matrix_file(&x.w_c, "state", "residual", idx("state"), res),
                w_u: matrix_file(&x.w_u, "channel", "residual", idx("channel"), res),
                a: DenseA {
                    shape: [x.channels as u64, x.state as u64],
                    layout: "row-major: A[d][n] = values[d*state + n]",
                    values: decimals(&x.a),
                },
                d: decimals(&x.d_skip),
                gate: x.gate.as_ref().map(|g| GateFile {
                    w_z: matrix_file(&g.w_z, "channel", "residual", idx("channel"), res),
                    b_z: decimals(&g.b_z),
                }),
                w_o: matrix_file(&x.w_o, "residual", "channel", res, idx("channel")),
                decay_structure: Some(x.decay),
            })),
            Layer::Mlp(x) => {
                let hn = |i: usize| {
                    (x.hidden_names.get(i).cloned()).unwrap_or_else(|| format!("hidden[{i}]"))
                };
                LayerBody::Mlp(MlpFile {
                    activation: x.act.name().to_string(),
                    hidden_units: (0..x.hidden_width()).map(hn).collect(),
                    w1: matrix_file(&x.w1, "hidden", "residual", hn, res),
                    b1: decimals(&x.b1),
                    w2: matrix_file(&x.w2, "residual", "hidden", res, hn),
                    b2: decimals(&x.b2),
                })
            }
            Layer::Attention(x) => LayerBody::Attention(AttentionFile {
                score_scale: "1 (no 1/sqrt(d))",
                heads: (x.heads.iter())
                    .map(|h| HeadFile {
                        w_q: matrix_file(&h.w_q, "q", "residual", idx("q"), res),
                        w_k: matrix_file(&h.w_k, "k", "residual", idx("k"), res),
                        w_v: matrix_file(&h.w_v, "v", "residual", idx("v"), res),
                        w_o: matrix_file(&h.w_o, "residual", "v", res, idx("v")),
                    })
                    .collect(),
            }),
        };
        LayerFile {
            index,
            name: l.name().to_string(),
            body,
        }
    };
    let w = m.layout.width();
    ModelFile {
        format: FORMAT.to_string(),
        schema_version: SCHEMA_VERSION,
        name: m.name.clone(),
        arithmetic: format::Arithmetic {
            kind: S::KIND.to_string(),
            precision_bits: u64::from(m.prec),
        },
        forward: Some(FORWARD),
        decoding: decoding.map(DecodingFile::from),
        size: Some(m.size()),
        residual: Residual {
            width: w as u64,
            subspaces: m.layout.subspaces.iter().map(Into::into).collect(),
            coord_names: (0..w).map(res).collect(),
        },
        vocab: m.vocab.clone(),
        token_embedding: matrix_file(&m.token_embedding, "vocab", "residual", tok, res),
        positional: (m.positional.iter())
            .map(|f| Positional {
                coord: f.coord as u64,
                coord_name: m.layout.coord_name(f.coord),
                kind: positional_kind(&f.kind),
            })
            .collect(),
        layers: m
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| layer(k, l))
            .collect(),
        readout: matrix_file(&m.readout, "vocab", "residual", tok, res),
        readout_bias: decimals(&m.readout_bias),
    }
}

/// Serialise one of the export types; they hold no map with non-string keys, so this cannot fail.
fn to_value(v: &impl Serialize) -> Value {
    serde_json::to_value(v).expect("the export types serialise to JSON")
}

/// The model (and how to run it) in the format of docs/export.md.
pub fn to_json<S: Scalar>(m: &Model<S>, decoding: Option<&Decoding>) -> Value {
    to_value(&to_file(m, decoding))
}

// ------------------------------------------------------------------ reader

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::Model(ModelError::Malformed(msg.to_string()))
}

/// Deserialise `v` (found at `at`, empty at the top level) into a type of [`format`]; a
/// mismatch names the field it is in.
fn parse<'a, T: Deserialize<'a>>(v: &'a Value, at: &str) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let (path, inner) =
            inside_a_layer(v, &path).unwrap_or_else(|| (path.clone(), e.inner().to_string()));
        let path = match (at, path.as_str()) {
            ("", p) | (p, "") => p.to_string(),
            (at, p) if p.starts_with('[') => format!("{at}{p}"),
            (at, p) => format!("{at}.{p}"),
        };
        if path.is_empty() {
            bad(inner)
        } else {
            bad(format!("{path}: {inner}"))
        }
    })
}

/// Serde reads a layer through a buffer (its `kind` tag may come after its fields), which
/// hides the field a mismatch is in; reading the layer at `path` (`layers[k]`) again as its own
/// kind names that field.
fn inside_a_layer(v: &Value, path: &str) -> Option<(String, String)> {
    let k: usize = path
        .strip_prefix("layers[")?
        .strip_suffix(']')?
        .parse()
        .ok()?;
    let l = v.get("layers")?.get(k)?;
    let again = match l.get("kind")?.as_str()? {
        "ssm" => serde_path_to_error::deserialize::<_, SsmFile>(l).err()?,
        "mlp" => serde_path_to_error::deserialize::<_, MlpFile>(l).err()?,
        "attention" => serde_path_to_error::deserialize::<_, AttentionFile>(l).err()?,
        _ => return None,
    };
    let inner = again.path().to_string();
    let at = match inner.as_str() {
        "." => path.to_string(),
        p => format!("{path}.{p}"),
    };
    Some((at, again.inner().to_string()))
}

/// The top-level field `key`, which must be present and not null.
fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value> {
    v.get(key)
        .filter(|x| !x.is_null())
        .ok_or_else(|| bad(format!("the file has no `{key}`")))
}

/// `at.key`, or `key` alone for a top-level field (`at` empty).
fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// A dimension, checked against [`limits::MAX_DIM`] (and ≥ 1 unless `zero_ok`).
fn dim(value: u64, name: &str, zero_ok: bool) -> Result<usize> {
    Ok(limits::dim(name, value, zero_ok)?)
}

/// A length a file states by listing things, checked like a dimension.
fn length(len: usize, name: &str, zero_ok: bool) -> Result<usize> {
    dim(len as u64, &format!("{name} (its length)"), zero_ok)
}

fn number<S: Scalar>(s: &str, at: &str, prec: u32) -> Result<S> {
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

fn vector<S: Scalar>(v: &[Decimal<'_>], at: &str, len: usize, prec: u32) -> Result<Vec<S>> {
    if v.len() != len {
        return Err(bad(format!("{at} has {} values, expected {len}", v.len())));
    }
    (v.iter().enumerate())
        .map(|(i, x)| number(&x.0, &format!("{at}[{i}]"), prec))
        .collect()
}

fn matrix<S: Scalar>(
    m: &Matrix<'_>,
    at: &str,
    shape: (usize, usize),
    prec: u32,
) -> Result<SparseMatrix<S>> {
    let sh = (m.shape[0], m.shape[1]);
    if sh != (shape.0 as u64, shape.1 as u64) {
        return Err(bad(format!("{at} has shape {sh:?}, expected {shape:?}")));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(m.entries.len());
    for (k, e) in m.entries.iter().enumerate() {
        let ea = format!("{at}.entries[{k}]");
        let (i, j) = (e.i, e.j);
        if i >= sh.0 || j >= sh.1 {
            return Err(bad(format!("{ea} ({i}, {j}) is outside {shape:?}")));
        }
        if !seen.insert((i, j)) {
            return Err(bad(format!("{ea} repeats position ({i}, {j})")));
        }
        out.push((i as usize, j as usize, number(&e.value.0, &ea, prec)?));
    }
    Ok(SparseMatrix::from_entries(shape.0, shape.1, out))
}

fn pos_kind(k: &PositionalKind, at: &str) -> Result<PosKind> {
    let index = |x: u64, name: &str| {
        usize::try_from(x).map_err(|_| bad(format!("{at}.{name} = {x} is too large")))
    };
    Ok(match k {
        PositionalKind::Constant { num, den } => {
            if *den == 0 {
                return Err(bad(format!("{at} divides by zero")));
            }
            PosKind::Constant {
                num: *num,
                den: *den,
            }
        }
        PositionalKind::Position => PosKind::Position,
        PositionalKind::PositionSquared => PosKind::PositionSquared,
        PositionalKind::Equals { at: t } => PosKind::Equals {
            at: index(*t, "at")?,
        },
        PositionalKind::AtLeast { from } => PosKind::AtLeast {
            from: index(*from, "from")?,
        },
        PositionalKind::Modulo { modulus, residue } => {
            if *modulus == 0 {
                return Err(bad(format!("{at} has modulus 0")));
            }
            PosKind::Modulo {
                modulus: index(*modulus, "modulus")?,
                residue: index(*residue, "residue")?,
            }
        }
        PositionalKind::Table { values } => PosKind::Table {
            values: values.clone(),
        },
    })
}

/// Read the decoding section (if any).
pub fn read_decoding(v: &Value) -> Result<Option<Decoding>> {
    match v.get("decoding").filter(|d| !d.is_null()) {
        None => Ok(None),
        Some(d) => Ok(Some(parse::<DecodingFile>(d, "decoding")?.into())),
    }
}

/// The token names (`vocab`): empty for a block fed residual vectors.
pub fn read_vocab(v: &Value) -> Result<Vec<String>> {
    parse(field(v, "vocab")?, "vocab")
}

/// The arithmetic kinds a file may name (`arithmetic.kind`).
pub const ARITHMETIC_KINDS: [&str; 2] = ["f64", "mpfr"];

/// The arithmetic an export was written in: `(kind, bits)`, kind one of [`ARITHMETIC_KINDS`]
/// (`f64` with 53 bits; `mpfr` with a precision `--precision` accepts).
pub fn arithmetic(v: &Value) -> Result<(String, u32)> {
    let a: format::Arithmetic = parse(field(v, "arithmetic")?, "arithmetic")?;
    check_arithmetic(&a)
}

fn check_arithmetic(a: &format::Arithmetic) -> Result<(String, u32)> {
    if !ARITHMETIC_KINDS.contains(&a.kind.as_str()) {
        return Err(ModelError::Unknown {
            name: "arithmetic.kind".into(),
            value: a.kind.chars().take(40).collect(),
            known: ARITHMETIC_KINDS.join(", "),
        }
        .into());
    }
    let bits = if a.kind == "f64" {
        limits::in_range("arithmetic.precision_bits (f64)", a.precision_bits, 53, 53)?
    } else {
        limits::in_range(
            "arithmetic.precision_bits",
            a.precision_bits,
            2,
            u64::from(crate::num::MAX_PRACTICAL_BITS),
        )?
    };
    Ok((a.kind.clone(), bits as u32))
}

/// Check `format` and `schema_version`, before anything else is read.
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
    from_file(&parse(v, "")?, prec)
}

/// Rebuild a model from the file's types: every size is checked against [`limits`] before
/// anything is allocated for it, every weight is rounded to `prec` bits.
pub fn from_file<S: Scalar>(f: &ModelFile<'_>, prec: u32) -> Result<Model<S>> {
    let width = dim(f.residual.width, "residual.width", false)?;
    let mut layout = Layout::new();
    for (k, s) in f.residual.subspaces.iter().enumerate() {
        let at = format!("residual.subspaces[{k}]");
        if layout.range(&s.name).is_ok() {
            return Err(bad(format!("{at} repeats the name `{}`", s.name)));
        }
        if s.start != layout.width() as u64 {
            return Err(bad(format!(
                "{at} does not start where the previous one ends"
            )));
        }
        let len = dim(s.len, &format!("{at}.len"), true)?;
        if layout.width() + len > width {
            return Err(bad(format!(
                "the subspaces up to {at} cover more than residual.width = {width} coordinates"
            )));
        }
        layout.add(&s.name, len, &s.meaning);
    }
    if layout.width() != width {
        return Err(bad(format!(
            "the subspaces cover {} coordinates, but residual.width is {width}",
            layout.width()
        )));
    }
    let nv = length(f.vocab.len(), "vocab", true)?;
    let positional = (f.positional.iter().enumerate())
        .map(|(k, p)| {
            let at = format!("positional[{k}]");
            if p.coord >= width as u64 {
                return Err(bad(format!(
                    "{at}.coord {} is outside the residual",
                    p.coord
                )));
            }
            Ok(PositionalFeature {
                coord: p.coord as usize,
                kind: pos_kind(&p.kind, &at)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let layers = (f.layers.iter().enumerate())
        .map(|(k, l)| layer(l, &format!("layers[{k}]"), width, prec))
        .collect::<Result<Vec<_>>>()?;
    Ok(Model {
        name: f.name.clone(),
        token_embedding: matrix(&f.token_embedding, "token_embedding", (nv, width), prec)?,
        readout: matrix(&f.readout, "readout", (nv, width), prec)?,
        readout_bias: vector(&f.readout_bias, "readout_bias", nv, prec)?,
        layout,
        vocab: f.vocab.clone(),
        positional,
        layers,
        prec,
    })
}

fn layer<S: Scalar>(l: &LayerFile<'_>, at: &str, width: usize, prec: u32) -> Result<Layer<S>> {
    let name = l.name.clone();
    let key = |k: &str| join(at, k);
    Ok(match &l.body {
        LayerBody::Mlp(x) => {
            let h = length(x.hidden_units.len(), &key("hidden_units"), true)?;
            Layer::Mlp(MlpLayer {
                name,
                act: Activation::parse(&x.activation).map_err(|e| bad(format!("{at}: {e}")))?,
                w1: matrix(&x.w1, &key("w1"), (h, width), prec)?,
                b1: vector(&x.b1, &key("b1"), h, prec)?,
                w2: matrix(&x.w2, &key("w2"), (width, h), prec)?,
                b2: vector(&x.b2, &key("b2"), width, prec)?,
                hidden_names: x.hidden_units.clone(),
            })
        }
        LayerBody::Ssm(x) => {
            let (d, n) = (
                dim(x.channels, &key("channels"), false)?,
                dim(x.state, &key("state"), false)?,
            );
            let dn = limits::product(
                &format!("{at}: channels × state"),
                d,
                n,
                limits::MAX_SSM_MEMORY as u64,
            )?;
            let a_at = format!("{at}.A.values");
            let a = vector(&x.a.values, &a_at, dn, prec)?;
            if let Some(i) = a
                .iter()
                .position(|x: &S| !x.is_sign_negative() && !x.is_zero())
            {
                return Err(bad(format!("{a_at}[{i}] is positive (A must be ≤ 0)")));
            }
            let gate = match &x.gate {
                None => None,
                Some(g) => Some(Gate {
                    w_z: matrix(&g.w_z, &key("gate.w_z"), (d, width), prec)?,
                    b_z: vector(&g.b_z, &key("gate.b_z"), d, prec)?,
                }),
            };
            let decay = SsmLayer::detect_decay(&a, d, n);
            Layer::Ssm(SsmLayer {
                name,
                width,
                channels: d,
                state: n,
                w_delta: matrix(&x.w_delta, &key("w_delta"), (d, width), prec)?,
                b_delta: vector(&x.b_delta, &key("b_delta"), d, prec)?,
                w_b: matrix(&x.w_b, &key("w_b"), (n, width), prec)?,
                w_c: matrix(&x.w_c, &key("w_c"), (n, width), prec)?,
                w_u: matrix(&x.w_u, &key("w_u"), (d, width), prec)?,
                a,
                d_skip: vector(&x.d, &key("D"), d, prec)?,
                gate,
                w_o: matrix(&x.w_o, &key("w_o"), (width, d), prec)?,
                decay,
            })
        }
        LayerBody::Attention(x) => {
            let heads = (x.heads.iter().enumerate())
                .map(|(k, h)| {
                    let hat = format!("{at}.heads[{k}]");
                    let rows = |m: &Matrix<'_>, key: &str| {
                        dim(m.shape[0], &format!("{hat}.{key}.shape[0]"), false)
                    };
                    let (dq, dv) = (rows(&h.w_q, "w_q")?, rows(&h.w_v, "w_v")?);
                    Ok(AttentionHead {
                        w_q: matrix(&h.w_q, &format!("{hat}.w_q"), (dq, width), prec)?,
                        w_k: matrix(&h.w_k, &format!("{hat}.w_k"), (dq, width), prec)?,
                        w_v: matrix(&h.w_v, &format!("{hat}.w_v"), (dv, width), prec)?,
                        w_o: matrix(&h.w_o, &format!("{hat}.w_o"), (width, dv), prec)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Layer::Attention(AttentionLayer { name, heads })
        }
    })
}

/// One SSM layer's run over a sequence, as the exact argument set of the reference
/// `selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus)` (docs/export.md).
#[derive(Serialize)]
pub struct ScanArgs {
    pub function: &'static str,
    pub layer: String,
    /// The layer's position in the model's `layers`.
    pub layer_index: usize,
    /// L, the number of positions.
    pub length: usize,
    /// `(1, D, L)`: `w_u·x` and `w_delta·x` (before the bias).
    pub u: [Vec<Vec<f64>>; 1],
    pub delta: [Vec<Vec<f64>>; 1],
    /// `(D, N)`.
    #[serde(rename = "A")]
    pub a: Vec<Vec<f64>>,
    /// `(1, N, L)`.
    #[serde(rename = "B")]
    pub b: [Vec<Vec<f64>>; 1],
    #[serde(rename = "C")]
    pub c: [Vec<Vec<f64>>; 1],
    /// `(D,)`.
    #[serde(rename = "D")]
    pub d: Vec<f64>,
    /// `(1, D, L)`, `w_z·x + b_z`, or null without a gate.
    pub z: Option<[Vec<Vec<f64>>; 1]>,
    /// `(D,)`.
    pub delta_bias: Vec<f64>,
    pub delta_softplus: bool,
    /// `(1, D, L)`: the model's own gated `y`.
    pub y_model: [Vec<Vec<f64>>; 1],
    pub note: &'static str,
}

/// Every SSM layer of one run as [`ScanArgs`] (`freelunch trace --scan-args`).
#[derive(Serialize)]
pub struct ScanArgsFile {
    pub model: String,
    pub softplus_used_for_the_run: crate::model::Softplus,
    pub layers: Vec<ScanArgs>,
}

/// Layer `layer_index`'s run over a sequence as [`ScanArgs`] (batch 1; shapes
/// `u, delta, z: (1, D, L)`, `A: (D, N)`, `B, C: (1, N, L)`, `D, delta_bias: (D,)`), computed from
/// the residual inputs `xs` (one per position) of that layer. The reference's output `y` (after
/// the gate) is what the layer multiplies by `w_o` and adds to the residual; `y_model` holds the
/// model's own (gated) `y` for comparison, computed with `softplus`.
pub fn selective_scan_args<S: Scalar>(
    layer: &SsmLayer<S>,
    layer_index: usize,
    xs: &[Vec<S>],
    prec: u32,
    softplus: crate::model::Softplus,
) -> ScanArgs {
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
    ScanArgs {
        function: "selective_scan_ref",
        layer: layer.name.clone(),
        layer_index,
        length: xs.len(),
        u: [cols(&layer.w_u)],
        delta: [cols(&layer.w_delta)],
        a: (0..layer.channels)
            .map(|d| layer.a[d * n..(d + 1) * n].iter().map(f).collect())
            .collect(),
        b: [cols(&layer.w_b)],
        c: [cols(&layer.w_c)],
        d: layer.d_skip.iter().map(f).collect(),
        z: layer.gate.as_ref().map(|g| {
            let mut z = cols(&g.w_z);
            for (row, b) in z.iter_mut().zip(&g.b_z) {
                for v in row.iter_mut() {
                    *v += f(b);
                }
            }
            [z]
        }),
        delta_bias: layer.b_delta.iter().map(f).collect(),
        delta_softplus: true,
        y_model: [y_model],
        note: "numbers are f64 roundings of the model's values; z already includes b_z (the reference has no z bias); the reference's softplus is torch's (threshold 20): compare with `--softplus torch`",
    }
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
    let CollectionFile { mut models, .. } = parse::<CollectionFile<Value>>(&v, "")?;
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
    Ok(models.swap_remove(k))
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
) -> ScanArgsFile {
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
        out.push(selective_scan_args(ssm, k, &xs, m.prec, softplus));
    }
    ScanArgsFile {
        model: m.name.clone(),
        softplus_used_for_the_run: softplus,
        layers: out,
    }
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
            "unknown variant `conv`",
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
