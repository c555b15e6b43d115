//! Hugging Face checkpoints: a lowered model written as a directory that
//! `AutoModelForCausalLM.from_pretrained` loads with no custom code (`MambaForCausalLM`):
//! `config.json`, `model.safetensors` (float32), `generation_config.json`, `tokenizer.json`,
//! `tokenizer_config.json`, a model card (`README.md`) and `freelunch.json` (the lowering's
//! parameters, gadget bounds, and the cases a client must reproduce).

use crate::error::{Error, Result};
use crate::lower::Lowered;
use crate::model::mamba::MambaModel;
use crate::model::{Model, Softplus};
use crate::rng::Rng;
use safetensors::tensor::{Dtype, TensorView};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;

/// One input the checkpoint must decode like the abstract model.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    /// Token ids fed (input symbols, then the suffix).
    pub prompt: Vec<usize>,
    /// `freelunch run` of the abstract model (greedy, f64).
    pub expected: Vec<usize>,
    /// `freelunch` running the lowered blocks itself (f64, exact softplus).
    pub lowered: Vec<usize>,
    /// The smallest logit margin of the lowered run.
    pub lowered_min_margin: f64,
    /// The lowered blocks run in 128-bit ball arithmetic give `expected`, and every generated
    /// token's margin has a positive lower end (exact arithmetic; float32 is measured, not certified).
    pub certified: bool,
}

/// Bits of the ball run that certifies the lowered model's decoding.
pub const CERTIFY_BITS: u32 = 128;

/// How the checkpoint is run, and what it must produce.
#[derive(Clone, Debug, Serialize)]
pub struct Usage {
    pub prompt_format: String,
    pub input_len: usize,
    pub suffix: Vec<usize>,
    pub max_new_tokens: usize,
    /// For blocks: the logits rows that hold the read values, and the expected value.
    pub read_rows: Vec<String>,
    pub expected_read: Option<f64>,
    pub tolerance: Option<f64>,
}

/// Greedy decoding of the abstract and the lowered model on the stored prompt and `n` random
/// inputs (symbols uniform in `0..alphabet`).
pub fn cases(
    abs: &Model<f64>,
    low: &MambaModel<f64>,
    prompt: &[usize],
    usage: &Usage,
    alphabet: usize,
    n: usize,
    seed: u64,
) -> Vec<Case> {
    let prompts = case_prompts(prompt, usage, alphabet, n, seed);
    let ball: MambaModel<crate::num::Ball> = low.convert(CERTIFY_BITS, |x| {
        <crate::num::Ball as crate::num::Scalar>::from_f64(*x, CERTIFY_BITS)
    });
    prompts
        .into_iter()
        .map(|p| {
            let e = abs.generate(&p, usage.max_new_tokens, None);
            let l = low.generate(&p, usage.max_new_tokens, Softplus::Exact);
            let b = ball.generate(&p, usage.max_new_tokens, Softplus::Exact);
            let certified = b.tokens == e.tokens && b.margins.iter().all(|m| m.lower() > 0);
            Case {
                certified,
                expected: e.tokens,
                lowered_min_margin: l.margins.iter().copied().fold(f64::INFINITY, f64::min),
                lowered: l.tokens,
                prompt: p,
            }
        })
        .collect()
}

/// The stored prompt and `n` random inputs (symbols uniform in `0..alphabet`, then the suffix).
pub(crate) fn case_prompts(
    prompt: &[usize],
    usage: &Usage,
    alphabet: usize,
    n: usize,
    seed: u64,
) -> Vec<Vec<usize>> {
    let mut rng = Rng::new(seed);
    let mut prompts = vec![prompt.to_vec()];
    for _ in 0..n {
        let mut p: Vec<usize> = (0..usage.input_len).map(|_| rng.below(alphabet)).collect();
        p.extend(&usage.suffix);
        prompts.push(p);
    }
    prompts
}

/// How a token model's checkpoint is run (from its stored decoding).
pub(crate) fn token_usage(dec: &super::Decoding) -> Usage {
    Usage {
        prompt_format: dec.prompt_format.clone(),
        input_len: dec.input_len,
        suffix: dec.suffix.clone(),
        max_new_tokens: dec.generate,
        read_rows: Vec::new(),
        expected_read: None,
        tolerance: None,
    }
}

pub(crate) fn f32_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect()
}

/// A dense row-major tensor.
pub(crate) struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Write `ts` as float32 safetensors (metadata `format: pt`) to `path`.
pub(crate) fn write_safetensors(path: &Path, ts: Vec<Tensor>) -> Result<()> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = ts
        .into_iter()
        .map(|t| (t.name, f32_bytes(&t.data), t.shape))
        .collect();
    let views = bytes
        .iter()
        .map(|(n, b, s)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::compute(format!("tensor {n}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    let st = safetensors::tensor::serialize(views, Some(meta))
        .map_err(|e| Error::compute(format!("safetensors: {e}")))?;
    crate::io::write_file(path, &st)
}

/// The weights under `MambaForCausalLM`'s names, padded to the config's common sizes.
fn tensors(
    m: &MambaModel<f64>,
    inner: usize,
    state: usize,
    rank: usize,
    kernel: usize,
) -> Vec<Tensor> {
    let w = m.width();
    let mut out = Vec::new();
    let mut push =
        |name: String, shape: Vec<usize>, data: Vec<f64>| out.push(Tensor { name, shape, data });
    let dense = |mat: &crate::model::SparseMatrix<f64>, rows: usize, cols: usize, r0: usize| {
        let mut d = vec![0.0; rows * cols];
        for (r, c, v) in mat.entries() {
            d[(r0 + r) * cols + c] = *v;
        }
        d
    };
    let padded = |v: &[f64], len: usize| {
        let mut d = v.to_vec();
        d.resize(len, 0.0);
        d
    };
    push(
        "backbone.embeddings.weight".into(),
        vec![m.vocab.len(), w],
        dense(&m.embedding, m.vocab.len(), w, 0),
    );
    for (i, b) in m.blocks.iter().enumerate() {
        let p = format!("backbone.layers.{i}");
        push(format!("{p}.norm.weight"), vec![w], b.norm_weight.clone());
        let mut in_proj = dense(&b.in_x, 2 * inner, w, 0);
        for (r, c, v) in b.in_z.entries() {
            in_proj[(inner + r) * w + c] = *v;
        }
        push(
            format!("{p}.mixer.in_proj.weight"),
            vec![2 * inner, w],
            in_proj,
        );
        let mut bias = padded(&b.b_x, inner);
        bias.extend(padded(&b.b_z, inner));
        push(format!("{p}.mixer.in_proj.bias"), vec![2 * inner], bias);
        let mut conv = vec![0.0; inner * kernel];
        for ch in 0..b.inner {
            for k in 0..b.conv_kernel {
                conv[ch * kernel + kernel - b.conv_kernel + k] = b.conv_w[ch * b.conv_kernel + k];
            }
        }
        push(
            format!("{p}.mixer.conv1d.weight"),
            vec![inner, 1, kernel],
            conv,
        );
        push(
            format!("{p}.mixer.conv1d.bias"),
            vec![inner],
            padded(&b.conv_b, inner),
        );
        let mut xp = dense(&b.x_dt, rank + 2 * state, inner, 0);
        for (r, c, v) in b.x_b.entries() {
            xp[(rank + r) * inner + c] = *v;
        }
        for (r, c, v) in b.x_c.entries() {
            xp[(rank + state + r) * inner + c] = *v;
        }
        push(
            format!("{p}.mixer.x_proj.weight"),
            vec![rank + 2 * state, inner],
            xp,
        );
        push(
            format!("{p}.mixer.dt_proj.weight"),
            vec![inner, rank],
            dense(&b.dt_w, inner, rank, 0),
        );
        push(
            format!("{p}.mixer.dt_proj.bias"),
            vec![inner],
            padded(&b.dt_b, inner),
        );
        let mut a_log = vec![0.0; inner * state];
        for ch in 0..b.inner {
            for n in 0..b.state {
                let a = b.a[ch * b.state + n];
                a_log[ch * state + n] = if a == 0.0 {
                    f64::NEG_INFINITY
                } else {
                    (-a).ln()
                };
            }
        }
        push(format!("{p}.mixer.A_log"), vec![inner, state], a_log);
        push(format!("{p}.mixer.D"), vec![inner], padded(&b.d, inner));
        let mut op = vec![0.0; w * inner];
        for (r, c, v) in b.out.entries() {
            op[r * inner + c] = *v;
        }
        push(format!("{p}.mixer.out_proj.weight"), vec![w, inner], op);
        push(format!("{p}.mixer.out_proj.bias"), vec![w], b.b_out.clone());
    }
    push("backbone.norm_f.weight".into(), vec![w], m.norm_f.clone());
    push(
        "lm_head.weight".into(),
        vec![m.vocab.len(), w],
        dense(&m.lm_head, m.vocab.len(), w, 0),
    );
    out
}

/// The HF config's sizes: inner width (a multiple of the hidden size), state, dt rank, kernel.
pub fn config_sizes(m: &MambaModel<f64>) -> (usize, usize, usize, usize) {
    let (inner, state, rank, kernel) = m.common_dims();
    let w = m.width();
    let expand = inner.div_ceil(w).max(1);
    (expand * w, state, rank, kernel)
}

/// Parameters of the written checkpoint (dense, as stored).
pub fn stored_parameters(m: &MambaModel<f64>) -> usize {
    let (inner, state, rank, kernel) = config_sizes(m);
    let w = m.width();
    let per_block = w
        + 2 * inner * w
        + 2 * inner
        + inner * kernel
        + inner
        + (rank + 2 * state) * inner
        + inner * rank
        + inner
        + inner * state
        + inner
        + w * inner
        + w;
    2 * m.vocab.len() * w + w + m.blocks.len() * per_block
}

pub(crate) fn tokenizer(vocab: &[String]) -> Value {
    let pad = vocab.len() - 1;
    let ids: serde_json::Map<String, Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), json!(i)))
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [{
            "id": pad, "content": vocab[pad], "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true
        }],
        "normalizer": null,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": null,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": false},
        "model": {"type": "WordLevel", "vocab": ids, "unk_token": vocab[pad]}
    })
}

/// `freelunch.json` as JSON (object keys sorted, as every file freelunch writes).
pub(crate) fn checkpoint_json<L: Serialize>(
    f: &super::format::CheckpointFile<'_, L>,
) -> Result<Value> {
    serde_json::to_value(f).map_err(|e| Error::compute(e.to_string()))
}

pub(crate) fn write_json(dir: &Path, name: &str, v: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::compute(e.to_string()))?;
    crate::io::write_file(&dir.join(name), format!("{text}\n").as_bytes())
}

/// Write the checkpoint directory (created if missing; each file replaced atomically).
pub fn write_mamba(
    dir: &Path,
    low: &Lowered,
    source: &str,
    usage: &Usage,
    cases: &Value,
) -> Result<()> {
    let m = &low.model;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create {}: {e}", dir.display())))?;
    let (inner, state, rank, kernel) = config_sizes(m);
    let pad = m.vocab.len() - 1;
    let config = json!({
        "architectures": ["MambaForCausalLM"],
        "model_type": "mamba",
        "vocab_size": m.vocab.len(),
        "hidden_size": m.width(),
        "state_size": state,
        "num_hidden_layers": m.blocks.len(),
        "layer_norm_epsilon": 2f64.powi(low.eps_log2),
        "pad_token_id": pad,
        "bos_token_id": pad,
        "eos_token_id": pad,
        "expand": inner / m.width(),
        "conv_kernel": kernel,
        "use_bias": true,
        "use_conv_bias": true,
        "hidden_act": m.act.name(),
        "initializer_range": 0.1,
        "residual_in_fp32": true,
        "time_step_rank": rank,
        "time_step_scale": 1.0,
        "time_step_min": 1e-30,
        "time_step_max": 0.1,
        "time_step_init_scheme": "random",
        "time_step_floor": 1e-30,
        "rescale_prenorm_residual": false,
        "use_cache": true,
        "use_mambapy": false,
        "use_associative_scan": false,
        "tie_word_embeddings": false,
        "torch_dtype": "float32"
    });
    write_json(dir, "config.json", &config)?;
    write_json(
        dir,
        "generation_config.json",
        &json!({
            "do_sample": false,
            "num_beams": 1,
            "max_new_tokens": usage.max_new_tokens.max(1),
            "pad_token_id": pad,
            "bos_token_id": pad,
            "eos_token_id": pad
        }),
    )?;
    write_json(dir, "tokenizer.json", &tokenizer(&m.vocab))?;
    write_json(
        dir,
        "tokenizer_config.json",
        &json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "pad_token": m.vocab[pad],
            "unk_token": m.vocab[pad],
            "model_max_length": usage.input_len + usage.suffix.len() + usage.max_new_tokens
        }),
    )?;
    write_safetensors(
        &dir.join("model.safetensors"),
        tensors(m, inner, state, rank, kernel),
    )?;
    write_json(
        dir,
        "freelunch.json",
        &checkpoint_json(&super::format::CheckpointFile {
            format: super::format::CHECKPOINT_FORMAT,
            schema_version: 1,
            target: "MambaForCausalLM",
            source,
            usage,
            vocab: &m.vocab,
            lowering: super::format::MambaLowering {
                hidden_act: m.act.name(),
                lambda: low.lambda,
                eps_log2: low.eps_log2,
                mean_square_bound: low.mean_square_bound,
                gadgets: &low.gadgets,
            },
            size: summary_size(m),
            cases,
        })?,
    )?;
    crate::io::write_file(&dir.join("README.md"), card(low, source, usage).as_bytes())
}

/// Sizes of the lowered model, as the README table reports them.
pub fn summary_size(m: &MambaModel<f64>) -> Value {
    let (inner, state, rank, kernel) = config_sizes(m);
    json!({
        "hidden": m.width(),
        "intermediate": inner,
        "state": state,
        "dt_rank": rank,
        "conv_kernel": kernel,
        "layers": m.blocks.len(),
        "hf_state": inner * state * m.blocks.len(),
        "live_state": m.blocks.iter().map(|b| b.live_state()).sum::<usize>(),
        "stored_parameters": stored_parameters(m),
        "nonzero_parameters": m.nonzeros(),
    })
}

fn card(low: &Lowered, source: &str, usage: &Usage) -> String {
    use std::fmt::Write;
    let m = &low.model;
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", m.name);
    let _ = writeln!(
        s,
        "A hand-built `MambaForCausalLM` written by freelunch (`freelunch lower`), lowered from `{source}`. \
         Nothing here was trained: every weight is a construction of arXiv 2410.03810, rewritten into stock \
         Mamba-1 blocks (RMSNorm, in_proj, causal conv1d, {act}, x_proj/dt_proj, selective scan, SiLU gate, \
         out_proj). Position is computed inside the model (an `A = 0` counter and ReLU units of t).\n",
        act = m.act.name()
    );
    let _ = writeln!(s, "## Inputs\n{}\n", usage.prompt_format);
    if usage.read_rows.is_empty() {
        let _ = writeln!(
            s,
            "Feed the input symbols ({} of them) followed by token ids {:?}, then generate {} tokens greedily. \
             The checkpoint is built for every input of this size (its shift K and norm eps come from bounds \
             over all inputs, `freelunch.json`), not only for the prompts stored there.\n",
            usage.input_len, usage.suffix, usage.max_new_tokens
        );
        let _ = writeln!(
            s,
            "```python\nimport torch\nfrom transformers import AutoModelForCausalLM\nmodel = AutoModelForCausalLM.from_pretrained(\"DIR\")\nids = torch.tensor([[...]])  # {} input ids, then {:?}\nprint(model.generate(ids, do_sample=False)[0, ids.shape[1]:].tolist())\n```\n",
            usage.input_len, usage.suffix
        );
    } else {
        let _ = writeln!(
            s,
            "A block: feed the residual vectors of `freelunch.json` (`cases[k].inputs`) as `inputs_embeds`; \
             logits rows {:?} at the last position hold the result.\n",
            usage.read_rows
        );
    }
    let _ = writeln!(s, "## Gadgets\n| gadget | block | parameter | hypothesis (range) | stated bound |\n|---|---|---|---|---|");
    for g in &low.gadgets {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.4e} | {:.3e} |",
            g.gadget, g.block, g.parameter, g.hypothesis, g.bound
        );
    }
    let _ = writeln!(s, "\n## Blocks");
    for b in &m.blocks {
        let _ = writeln!(s, "- `{}`: {} channels, state {}", b.name, b.inner, b.state);
    }
    s
}

/// What `freelunch lower` asks for.
#[derive(Clone, Debug)]
pub struct Request {
    pub lower: crate::lower::LowerOptions,
    /// Random inputs besides the stored prompt.
    pub cases: usize,
    pub seed: u64,
}

/// What was written.
pub struct Written {
    /// The abstract model's name.
    pub source: String,
    pub lowered: Lowered,
    pub cases: Vec<Case>,
    pub block_cases: Vec<BlockCase>,
    pub usage: Usage,
    pub abstract_nonzeros: usize,
}

/// Lower one exported model (docs/export.md) into `dir`: the checkpoint and the cases it must
/// reproduce (the stored prompt and `cases` random inputs, decoded by the abstract model and by
/// freelunch running the lowered blocks).
pub fn lower_export(json: &Value, dir: &Path, req: &Request) -> Result<Written> {
    let w = prepare(json, req)?;
    let cases = if w.block_cases.is_empty() {
        serde_json::to_value(&w.cases)
    } else {
        serde_json::to_value(&w.block_cases)
    }
    .map_err(|e| Error::compute(e.to_string()))?;
    write_mamba(dir, &w.lowered, &w.source, &w.usage, &cases)?;
    Ok(w)
}

/// [`lower_export`] without writing: the lowered model and its cases.
pub fn prepare(json: &Value, req: &Request) -> Result<Written> {
    super::check_header(json)?;
    let model = super::from_json::<f64>(json, 53)?;
    let dec = super::read_decoding(json)?.unwrap_or_default();
    if model.vocab.is_empty() {
        return lower_block(&model, &dec, req);
    }
    if dec.prompt.is_empty() || dec.generate == 0 {
        return Err(Error::input(
            "the file stores no prompt and tokens to generate (decoding.prompt, decoding.generate): nothing to lower for",
        ));
    }
    let usage = token_usage(&dec);
    let mut opts = req.lower.clone();
    opts.context = dec.prompt.len() + dec.generate;
    let lowered = crate::lower::lower_mamba(&model, &opts)?;
    let alphabet = dec.input_alphabet.unwrap_or(model.vocab.len()).max(1);
    let cs = cases(
        &model,
        &lowered.model,
        &dec.prompt,
        &usage,
        alphabet,
        req.cases,
        req.seed,
    );
    Ok(Written {
        source: model.name.clone(),
        abstract_nonzeros: model.size().nonzero_params,
        lowered,
        cases: cs,
        block_cases: Vec::new(),
        usage,
    })
}

/// A block's lowered value agrees with the abstract one when within `2^-12·max(1, |value|)`
/// (float32 weights and arithmetic) or, for a claim that states an accuracy ε, within ε/4.
pub fn block_agrees(lowered: f64, expected: f64, claim_accuracy: Option<f64>) -> bool {
    let tol = (2f64.powi(-12) * expected.abs().max(1.0)).max(claim_accuracy.unwrap_or(0.0) / 4.0);
    (lowered - expected).abs() <= tol
}

/// One input sequence of a block and the value read from it.
#[derive(Clone, Debug, Serialize)]
pub struct BlockCase {
    /// The lowered residual vectors (`inputs_embeds`), one per position.
    pub inputs: Vec<Vec<f64>>,
    /// `freelunch run` of the abstract block: the read value (divided when a divisor is read).
    pub expected: f64,
    /// freelunch running the lowered blocks (f64).
    pub lowered: f64,
}

/// A block fed vectors: the stored input and `req.cases` random ones (each nonzero input
/// coordinate uniform in `[−|x|, |x|]`, integers kept integer), read through logits rows.
/// What every target needs to lower a block fed vectors: the read rows, the stored and random
/// input sequences with the abstract model's read of each, the options (vectors, read rows), and
/// how the checkpoint is run.
pub(crate) struct BlockPlan {
    pub rows: Vec<usize>,
    pub seqs: Vec<Vec<Vec<f64>>>,
    pub expected: Vec<f64>,
    pub opts: crate::lower::LowerOptions,
    pub usage: Usage,
}

pub(crate) fn block_plan(
    model: &Model<f64>,
    dec: &super::Decoding,
    req: &Request,
) -> Result<BlockPlan> {
    let name_of = |n: &String| {
        (0..model.layout.width())
            .find(|&i| model.layout.coord_name(i) == *n)
            .ok_or_else(|| Error::input(format!("the read coordinate `{n}` is not in the model")))
    };
    let Some(read) = &dec.read else {
        return Err(Error::input(
            "this block names no read coordinate (decoding.read)",
        ));
    };
    if dec.inputs.is_empty() {
        return Err(Error::input(
            "this block stores no input vectors (decoding.inputs)",
        ));
    }
    let mut rows = vec![name_of(read)?];
    if let Some(d) = &dec.read_divisor {
        rows.push(name_of(d)?);
    }
    let mut rng = Rng::new(req.seed);
    let mut seqs = vec![dec.inputs.clone()];
    let fixed: Vec<bool> = (0..model.layout.width())
        .map(|i| model.layout.coord_name(i) == "one")
        .collect();
    let read_of = |seq: &[Vec<f64>]| {
        let mut r = model.runner();
        for x in seq {
            r.feed_vector(x);
        }
        if rows.len() > 1 {
            r.residual[rows[0]] / r.residual[rows[1]]
        } else {
            r.residual[rows[0]]
        }
    };
    let mut tries = 0;
    while seqs.len() <= req.cases && tries < 100 * (req.cases + 1) {
        tries += 1;
        let seq: Vec<Vec<f64>> = (dec.inputs.iter())
            .map(|x| {
                (x.iter().zip(&fixed))
                    .map(|(&v, &keep)| {
                        let r = if keep {
                            v
                        } else {
                            rng.uniform(-v.abs(), v.abs())
                        };
                        if v == v.round() {
                            r.round()
                        } else {
                            r
                        }
                    })
                    .collect()
            })
            .collect();
        // An input whose read is not finite (e.g. a zero divisor) is no test of agreement.
        if read_of(&seq).is_finite() {
            seqs.push(seq);
        }
    }
    let mut opts = req.lower.clone();
    opts.context = dec.inputs.len();
    opts.vectors = Some(seqs.iter().flatten().cloned().collect());
    opts.block_tokens = dec.inputs.len();
    opts.read = rows.clone();
    let usage = Usage {
        prompt_format: dec.prompt_format.clone(),
        input_len: dec.inputs.len(),
        suffix: Vec::new(),
        max_new_tokens: 0,
        read_rows: rows.iter().map(|&r| model.layout.coord_name(r)).collect(),
        expected_read: dec.expected_read,
        tolerance: dec.tolerance,
    };
    let expected = seqs.iter().map(|q| read_of(q)).collect();
    Ok(BlockPlan {
        rows,
        seqs,
        expected,
        opts,
        usage,
    })
}

/// The lowered inputs of a block: the vector, the constant features, `lower.one` (at
/// `abstract_width`), rounded to float32.
pub(crate) fn lift(
    model: &Model<f64>,
    seq: &[Vec<f64>],
    width: usize,
    abstract_width: usize,
) -> Vec<Vec<f64>> {
    (seq.iter())
        .map(|x| {
            let mut v = vec![0.0; width];
            v[..x.len()].copy_from_slice(x);
            for f in &model.positional {
                if let crate::model::PosKind::Constant { num, den } = f.kind {
                    v[f.coord] += num as f64 / den as f64;
                }
            }
            v[abstract_width] = 1.0;
            v.into_iter().map(crate::lower::f32_value).collect()
        })
        .collect()
}

fn lower_block(model: &Model<f64>, dec: &super::Decoding, req: &Request) -> Result<Written> {
    let BlockPlan {
        rows,
        seqs,
        expected,
        opts,
        usage,
    } = block_plan(model, dec, req)?;
    let lowered = crate::lower::lower_mamba(model, &opts)?;
    let low = &lowered.model;
    let mut cs = Vec::new();
    for (seq, expected) in seqs.iter().zip(expected) {
        let mut lr = low.runner();
        let lifted = lift(model, seq, low.width(), lowered.abstract_width);
        for x in &lifted {
            lr.feed_embedding(x);
        }
        let lowered_value = if rows.len() > 1 {
            lr.logits[0] / lr.logits[1]
        } else {
            lr.logits[0]
        };
        cs.push(BlockCase {
            inputs: lifted,
            expected,
            lowered: lowered_value,
        });
    }
    Ok(Written {
        source: model.name.clone(),
        abstract_nonzeros: model.size().nonzero_params,
        lowered,
        cases: Vec::new(),
        block_cases: cs,
        usage,
    })
}
