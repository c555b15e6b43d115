//! Hugging Face `NemotronHForCausalLM` checkpoints: a model lowered by
//! [`crate::lower::nemotron_h`] written as a directory that `AutoModelForCausalLM.from_pretrained`
//! loads with no custom code (`config.json` with `hybrid_override_pattern`, float32
//! `model.safetensors`, `generation_config.json`, tokenizer, model card, `freelunch.json` with the
//! same cases format as the Mamba target).

use super::hf::{
    block_plan, case_prompts, lift, token_usage, tokenizer, write_json, write_safetensors,
    BlockCase, Case, Request, Tensor, Usage, CERTIFY_BITS,
};
use crate::error::{Error, Result};
use crate::lower::nemotron_h::{lower_nemotron_h, LoweredNh};
use crate::model::nemotron_h::{Mixer, NemotronHModel};
use crate::model::{Model, Softplus, SparseMatrix};
use crate::num::{Ball, Scalar};
use serde_json::{json, Value};
use std::path::Path;

/// The config's common sizes (every block of a kind shares them; smaller blocks are zero-padded).
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct NhSizes {
    pub hidden: usize,
    pub vocab: usize,
    pub layers: usize,
    pub mamba_heads: usize,
    pub mamba_head_dim: usize,
    pub n_groups: usize,
    pub ssm_state: usize,
    pub conv_kernel: usize,
    pub attention_heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub intermediate: usize,
}

pub fn sizes(m: &NemotronHModel<f64>) -> NhSizes {
    let mut s = NhSizes {
        hidden: m.width(),
        vocab: m.vocab.len(),
        layers: m.blocks.len(),
        mamba_heads: 1,
        mamba_head_dim: 1,
        n_groups: 1,
        ssm_state: 1,
        conv_kernel: 4,
        attention_heads: 1,
        kv_heads: 1,
        head_dim: 1,
        intermediate: 1,
    };
    for b in &m.blocks {
        match &b.mixer {
            Mixer::Mamba2(x) => {
                s.mamba_heads = s.mamba_heads.max(x.heads);
                s.mamba_head_dim = s.mamba_head_dim.max(x.head_dim);
                s.n_groups = s.n_groups.max(x.groups);
                s.ssm_state = s.ssm_state.max(x.state);
                s.conv_kernel = s.conv_kernel.max(x.conv_kernel);
            }
            Mixer::Attention(a) => {
                s.attention_heads = s.attention_heads.max(a.heads);
                s.kv_heads = s.kv_heads.max(a.kv_heads);
                s.head_dim = s.head_dim.max(a.head_dim);
            }
            Mixer::Mlp(x) => s.intermediate = s.intermediate.max(x.up.rows),
        }
    }
    s
}

/// Parameters of the written checkpoint (dense, as stored).
pub fn stored_parameters(m: &NemotronHModel<f64>) -> usize {
    let s = sizes(m);
    let w = s.hidden;
    let inner = s.mamba_heads * s.mamba_head_dim;
    let conv_dim = inner + 2 * s.n_groups * s.ssm_state;
    let proj = inner + conv_dim + s.mamba_heads;
    let per = |b: &Mixer<f64>| match b {
        Mixer::Mamba2(_) => {
            proj * w
                + proj
                + conv_dim * s.conv_kernel
                + conv_dim
                + 3 * s.mamba_heads
                + inner
                + w * inner
                + w
        }
        Mixer::Attention(_) => {
            2 * s.attention_heads * s.head_dim * w + 2 * s.kv_heads * s.head_dim * w
        }
        Mixer::Mlp(_) => 2 * s.intermediate * w + s.intermediate + w,
    };
    2 * s.vocab * w + w + m.blocks.iter().map(|b| w + per(&b.mixer)).sum::<usize>()
}

pub fn summary_size(m: &NemotronHModel<f64>) -> Value {
    let s = sizes(m);
    json!({
        "pattern": m.pattern(),
        "hidden": s.hidden,
        "intermediate": s.intermediate,
        "mamba_heads": s.mamba_heads,
        "mamba_head_dim": s.mamba_head_dim,
        "state": s.ssm_state,
        "attention_heads": s.attention_heads,
        "head_dim": s.head_dim,
        "layers": s.layers,
        "stored_parameters": stored_parameters(m),
        "nonzero_parameters": m.nonzeros(),
    })
}

fn dense(
    m: &SparseMatrix<f64>,
    rows: usize,
    cols: usize,
    map_r: impl Fn(usize) -> usize,
) -> Vec<f64> {
    let mut d = vec![0.0; rows * cols];
    for (r, c, v) in m.entries() {
        d[map_r(r) * cols + c] = *v;
    }
    d
}

/// The weights under `NemotronHForCausalLM`'s names.
fn tensors(m: &NemotronHModel<f64>, s: &NhSizes) -> Vec<Tensor> {
    let w = s.hidden;
    let mut out = Vec::new();
    let mut push =
        |name: String, shape: Vec<usize>, data: Vec<f64>| out.push(Tensor { name, shape, data });
    push(
        "model.embeddings.weight".into(),
        vec![s.vocab, w],
        dense(&m.embedding, s.vocab, w, |r| r),
    );
    for (i, b) in m.blocks.iter().enumerate() {
        let p = format!("model.layers.{i}");
        push(format!("{p}.norm.weight"), vec![w], b.norm_weight.clone());
        let p = format!("{p}.mixer");
        match &b.mixer {
            Mixer::Mamba2(x) => {
                let (hc, pc, nc, g) = (s.mamba_heads, s.mamba_head_dim, s.ssm_state, s.n_groups);
                let inner = hc * pc;
                let conv_dim = inner + 2 * g * nc;
                let proj = inner + conv_dim + hc;
                // Our channel index → the padded one.
                let ch = |c: usize| (c / x.head_dim) * pc + c % x.head_dim;
                let xbc = |r: usize| {
                    let xi = x.inner();
                    let gn = x.groups * x.state;
                    if r < xi {
                        ch(r)
                    } else if r < xi + gn {
                        let q = r - xi;
                        inner + (q / x.state) * nc + q % x.state
                    } else {
                        let q = r - xi - gn;
                        inner + g * nc + (q / x.state) * nc + q % x.state
                    }
                };
                let mut in_proj = vec![0.0; proj * w];
                let mut bias = vec![0.0; proj];
                for (r, c, v) in x.in_z.entries() {
                    in_proj[ch(r) * w + c] = *v;
                }
                for (r, c, v) in x.in_xbc.entries() {
                    in_proj[(inner + xbc(r)) * w + c] = *v;
                }
                for (r, c, v) in x.in_dt.entries() {
                    in_proj[(inner + conv_dim + r) * w + c] = *v;
                }
                for (r, v) in x.b_z.iter().enumerate() {
                    bias[ch(r)] = *v;
                }
                for (r, v) in x.b_xbc.iter().enumerate() {
                    bias[inner + xbc(r)] = *v;
                }
                for (r, v) in x.b_dt.iter().enumerate() {
                    bias[inner + conv_dim + r] = *v;
                }
                push(format!("{p}.in_proj.weight"), vec![proj, w], in_proj);
                push(format!("{p}.in_proj.bias"), vec![proj], bias);
                let k = s.conv_kernel;
                let mut conv = vec![0.0; conv_dim * k];
                let mut conv_b = vec![0.0; conv_dim];
                for r in 0..x.conv_dim() {
                    for j in 0..x.conv_kernel {
                        conv[xbc(r) * k + k - x.conv_kernel + j] = x.conv_w[r * x.conv_kernel + j];
                    }
                    conv_b[xbc(r)] = x.conv_b[r];
                }
                push(format!("{p}.conv1d.weight"), vec![conv_dim, 1, k], conv);
                push(format!("{p}.conv1d.bias"), vec![conv_dim], conv_b);
                let per_head = |v: &[f64], fill: f64| {
                    let mut d = vec![fill; hc];
                    d[..v.len()].copy_from_slice(v);
                    d
                };
                push(format!("{p}.dt_bias"), vec![hc], per_head(&x.dt_bias, 0.0));
                let a_log: Vec<f64> =
                    x.a.iter()
                        .map(|a| {
                            if *a == 0.0 {
                                f64::NEG_INFINITY
                            } else {
                                (-a).ln()
                            }
                        })
                        .collect();
                push(
                    format!("{p}.A_log"),
                    vec![hc],
                    per_head(&a_log, f64::NEG_INFINITY),
                );
                push(format!("{p}.D"), vec![hc], per_head(&x.d, 0.0));
                let mut nw = vec![0.0; inner];
                for (r, v) in x.norm_w.iter().enumerate() {
                    nw[ch(r)] = *v;
                }
                push(format!("{p}.norm.weight"), vec![inner], nw);
                let mut op = vec![0.0; w * inner];
                for (r, c, v) in x.out.entries() {
                    op[r * inner + ch(c)] = *v;
                }
                push(format!("{p}.out_proj.weight"), vec![w, inner], op);
                push(format!("{p}.out_proj.bias"), vec![w], x.b_out.clone());
            }
            Mixer::Attention(a) => {
                // Heads padded to the common count and head_dim (zero heads attend to zeros).
                let (hq, hk, d) = (s.attention_heads, s.kv_heads, s.head_dim);
                let row = |r: usize| (r / a.head_dim) * d + r % a.head_dim;
                push(
                    format!("{p}.q_proj.weight"),
                    vec![hq * d, w],
                    dense(&a.q, hq * d, w, row),
                );
                push(
                    format!("{p}.k_proj.weight"),
                    vec![hk * d, w],
                    dense(&a.k, hk * d, w, row),
                );
                push(
                    format!("{p}.v_proj.weight"),
                    vec![hk * d, w],
                    dense(&a.v, hk * d, w, row),
                );
                let mut o = vec![0.0; w * hq * d];
                for (r, c, v) in a.o.entries() {
                    o[r * hq * d + row(c)] = *v;
                }
                push(format!("{p}.o_proj.weight"), vec![w, hq * d], o);
            }
            Mixer::Mlp(x) => {
                let i = s.intermediate;
                push(
                    format!("{p}.up_proj.weight"),
                    vec![i, w],
                    dense(&x.up, i, w, |r| r),
                );
                let mut bu = x.b_up.clone();
                bu.resize(i, 0.0);
                push(format!("{p}.up_proj.bias"), vec![i], bu);
                let mut dn = vec![0.0; w * i];
                for (r, c, v) in x.down.entries() {
                    dn[r * i + c] = *v;
                }
                push(format!("{p}.down_proj.weight"), vec![w, i], dn);
                push(format!("{p}.down_proj.bias"), vec![w], x.b_down.clone());
            }
        }
    }
    push("model.norm_f.weight".into(), vec![w], m.norm_f.clone());
    push(
        "lm_head.weight".into(),
        vec![s.vocab, w],
        dense(&m.lm_head, s.vocab, w, |r| r),
    );
    out
}

/// The `config.json` of a lowered model.
pub fn config(low: &LoweredNh, context: usize) -> Value {
    let m = &low.model;
    let s = sizes(m);
    let pad = m.vocab.len() - 1;
    json!({
        "architectures": ["NemotronHForCausalLM"],
        "model_type": "nemotron_h",
        "vocab_size": s.vocab,
        "hidden_size": s.hidden,
        "hybrid_override_pattern": m.pattern(),
        "num_attention_heads": s.attention_heads,
        "num_key_value_heads": s.kv_heads,
        "head_dim": s.head_dim,
        "attention_bias": false,
        "attention_dropout": 0.0,
        "max_position_embeddings": context.max(1),
        "intermediate_size": s.intermediate,
        "mlp_hidden_act": m.mlp_act.name(),
        "mlp_bias": true,
        "use_bias": true,
        "use_conv_bias": true,
        "mamba_num_heads": s.mamba_heads,
        "mamba_head_dim": s.mamba_head_dim,
        "n_groups": s.n_groups,
        "ssm_state_size": s.ssm_state,
        "conv_kernel": s.conv_kernel,
        "expand": 1,
        "mamba_hidden_act": "silu",
        "time_step_min": 1e-30,
        "time_step_max": 0.1,
        "time_step_floor": 1e-30,
        "chunk_size": 128,
        "layer_norm_epsilon": 2f64.powi(low.eps_log2),
        "residual_in_fp32": true,
        "rescale_prenorm_residual": false,
        "initializer_range": 0.02,
        "hidden_dropout": 0.0,
        "num_logits_to_keep": 1,
        "pad_token_id": pad,
        "bos_token_id": pad,
        "eos_token_id": pad,
        "tie_word_embeddings": false,
        "use_cache": true,
        "torch_dtype": "float32"
    })
}

/// Write the checkpoint directory.
pub fn write_nemotron_h(
    dir: &Path,
    low: &LoweredNh,
    source: &str,
    usage: &Usage,
    cases: &Value,
) -> Result<()> {
    let m = &low.model;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create {}: {e}", dir.display())))?;
    let pad = m.vocab.len() - 1;
    let context = usage.input_len + usage.suffix.len() + usage.max_new_tokens;
    write_json(dir, "config.json", &config(low, context))?;
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
            "model_max_length": context
        }),
    )?;
    write_safetensors(&dir.join("model.safetensors"), tensors(m, &sizes(m)))?;
    write_json(
        dir,
        "freelunch.json",
        &super::hf::checkpoint_json(&super::format::CheckpointFile {
            format: super::format::CHECKPOINT_FORMAT,
            schema_version: 1,
            target: "NemotronHForCausalLM",
            source,
            usage,
            vocab: &m.vocab,
            lowering: super::format::NemotronHLowering {
                mlp_hidden_act: m.mlp_act.name(),
                eps_log2: low.eps_log2,
                counter_constant: low.counter_constant,
                mean_square_bound: low.mean_square_bound,
                gadgets: &low.gadgets,
            },
            size: summary_size(m),
            cases,
        })?,
    )?;
    crate::io::write_file(
        &dir.join("README.md"),
        card(low, source, usage, cases).as_bytes(),
    )
}

fn card(low: &LoweredNh, source: &str, usage: &Usage, cases: &Value) -> String {
    use std::fmt::Write;
    let m = &low.model;
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", m.name);
    let _ = writeln!(
        s,
        "A hand-built `NemotronHForCausalLM` written by freelunch (`freelunch lower --target nemotron-h`), \
         lowered from `{source}`. Nothing here was trained: every weight is a construction of arXiv \
         2410.03810, rewritten into stock NemotronH blocks (pattern `{}`: `M` Mamba-2, `*` attention, \
         `-` ReLU MLP, each behind an RMSNorm). Position is computed inside the model: a Mamba-2 head \
         with A = 0 counts t, and ReLU units of t (and of t mod P) give every positional feature.\n",
        m.pattern()
    );
    let _ = writeln!(s, "## Inputs\n{}\n", usage.prompt_format);
    let _ = writeln!(
        s,
        "Feed the input symbols ({} of them) followed by token ids {:?}, then generate {} tokens greedily. \
         The checkpoint is built for every input of this size (its eps comes from bounds over all \
         inputs, `freelunch.json`), not only for the prompts below.\n",
        usage.input_len, usage.suffix, usage.max_new_tokens
    );
    let _ = writeln!(s, "```python\nimport torch\nfrom transformers import AutoModelForCausalLM\nmodel = AutoModelForCausalLM.from_pretrained(\"DIR\")\nids = torch.tensor([{:?}])\nprint(model.generate(ids, do_sample=False)[0, ids.shape[1]:].tolist())\n```\n", cases[0]["prompt"].as_array().cloned().unwrap_or_default().iter().filter_map(|v| v.as_u64()).collect::<Vec<_>>());
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
        let _ = writeln!(
            s,
            "- `{}` ({}), nonzeros {}",
            b.name,
            b.mixer.letter(),
            b.nonzeros()
        );
    }
    s
}

/// What was written.
pub struct WrittenNh {
    pub lowered: LoweredNh,
    pub cases: Vec<Case>,
    /// A block fed vectors: its reads (empty for a token model).
    pub block_cases: Vec<BlockCase>,
    pub usage: Usage,
    pub abstract_nonzeros: usize,
}

/// The stored prompt and `n` random inputs, decoded by the abstract model, by freelunch running
/// the lowered blocks in f64, and in 128-bit ball arithmetic (`certified`).
pub fn cases(
    abs: &Model<f64>,
    low: &NemotronHModel<f64>,
    prompt: &[usize],
    usage: &Usage,
    alphabet: usize,
    n: usize,
    seed: u64,
) -> Vec<Case> {
    let ball: NemotronHModel<Ball> =
        low.convert(CERTIFY_BITS, |x| Ball::from_f64(*x, CERTIFY_BITS));
    case_prompts(prompt, usage, alphabet, n, seed)
        .into_iter()
        .map(|p| {
            let e = abs.generate(&p, usage.max_new_tokens, None);
            let l = low.generate(&p, usage.max_new_tokens, Softplus::Exact);
            let b = ball.generate(&p, usage.max_new_tokens, Softplus::Exact);
            Case {
                certified: b.tokens == e.tokens && b.margins.iter().all(|m| m.lower() > 0),
                expected: e.tokens,
                lowered_min_margin: l.margins.iter().copied().fold(f64::INFINITY, f64::min),
                lowered: l.tokens,
                prompt: p,
            }
        })
        .collect()
}

/// Lower one exported token model into a `NemotronHForCausalLM` directory, with its cases.
pub fn lower_export_nemotron_h(json: &Value, dir: &Path, req: &Request) -> Result<WrittenNh> {
    super::check_header(json)?;
    let model = super::from_json::<f64>(json, 53)?;
    let dec = super::read_decoding(json)?.unwrap_or_default();
    if model.vocab.is_empty() {
        return lower_block(&model, &dec, dir, req);
    }
    if dec.prompt.is_empty() || dec.generate == 0 {
        return Err(Error::input(
            "the file stores no prompt and tokens to generate (decoding.prompt, decoding.generate): nothing to lower for",
        ));
    }
    let usage = token_usage(&dec);
    let mut opts = req.lower.clone();
    opts.context = dec.prompt.len() + dec.generate;
    let lowered = lower_nemotron_h(&model, &opts)?;
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
    let v = serde_json::to_value(&cs).map_err(|e| Error::compute(e.to_string()))?;
    write_nemotron_h(dir, &lowered, &model.name, &usage, &v)?;
    Ok(WrittenNh {
        abstract_nonzeros: model.size().nonzero_params,
        lowered,
        cases: cs,
        block_cases: Vec::new(),
        usage,
    })
}

/// A block fed vectors (copy-attn): read through logits rows at the last position, as the Mamba
/// target does (`examples/python/hf_check.py` runs a forward pass on `inputs_embeds`).
fn lower_block(
    model: &Model<f64>,
    dec: &super::Decoding,
    dir: &Path,
    req: &Request,
) -> Result<WrittenNh> {
    let plan = block_plan(model, dec, req)?;
    let lowered = lower_nemotron_h(model, &plan.opts)?;
    let low = &lowered.model;
    let cs: Vec<BlockCase> = (plan.seqs.iter().zip(&plan.expected))
        .map(|(seq, &expected)| {
            let inputs = lift(model, seq, low.width(), lowered.abstract_width);
            let l = low.logits_of_embeddings(&inputs, Softplus::Exact);
            let lowered_value = if plan.rows.len() > 1 {
                l[0] / l[1]
            } else {
                l[0]
            };
            BlockCase {
                inputs,
                expected,
                lowered: lowered_value,
            }
        })
        .collect();
    let v = serde_json::to_value(&cs).map_err(|e| Error::compute(e.to_string()))?;
    write_nemotron_h(dir, &lowered, &model.name, &plan.usage, &v)?;
    Ok(WrittenNh {
        abstract_nonzeros: model.size().nonzero_params,
        lowered,
        cases: Vec::new(),
        block_cases: cs,
        usage: plan.usage,
    })
}
