//! The real client for the NemotronH target: the attention DP models (edit, lis, linrec, eca with
//! `--memory attention`) are lowered into stock `NemotronHForCausalLM` checkpoints, loaded by
//! `AutoModelForCausalLM.from_pretrained`, and run with batched greedy `generate()` on the stored
//! input and 10 random ones (examples/python/hf_check.py): every token must equal `freelunch run`
//! of the abstract model. copy-attn and the MLP lemma blocks are read by a forward pass on
//! `inputs_embeds`. Parameters too small (eps, the counter's K) must make it disagree.
//!
//! Needs python3 with torch, transformers and safetensors. Without them the tests say loudly that
//! they skipped; under CI (the `CI` environment variable) they fail instead.

mod common;

use common::hf::{client_available, hf_check};
use common::{run, s, scratch};
use std::path::{Path, PathBuf};

fn lower(model: &Path, dir: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["lower", s(model), s(dir), "--target", "nemotron-h"];
    args.extend(extra);
    let (code, out, err) = run(&args);
    assert!(err.is_empty() || code != 2, "lower {model:?}: {err}");
    (code, out)
}

fn dp_export(tmp: &Path, problem: &str, n: &str) -> PathBuf {
    let f = tmp.join(format!("{problem}-attention.json"));
    let (code, out, err) = run(&[
        "dp",
        problem,
        "--n",
        n,
        "--memory",
        "attention",
        "--export",
        s(&f),
    ]);
    assert_eq!(code, 0, "dp {problem}: {out}{err}");
    f
}

#[test]
fn attention_dp_exports_generate_like_freelunch_run_in_nemotron_h() {
    if !client_available("NemotronH client") {
        return;
    }
    let tmp = scratch("nh-all");
    let mut dirs = Vec::new();
    for (problem, n) in [("edit", "3"), ("lis", "5"), ("linrec", "8"), ("eca", "4")] {
        let f = dp_export(&tmp, problem, n);
        let d = tmp.join(format!("hf-{problem}-attention"));
        let (code, out) = lower(&f, &d, &[]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("11/11 inputs"), "{out}");
        let config = std::fs::read_to_string(d.join("config.json")).expect("config");
        assert!(config.contains("\"NemotronHForCausalLM\"") && config.contains('*'));
        dirs.push(d);
    }
    let (code, out) = hf_check(&dirs);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.matches("11/11 generate() outputs equal").count(),
        dirs.len(),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn blocks_fed_vectors_read_like_freelunch_run_in_nemotron_h() {
    // copy-attn (attention) and the ReLU/GeLU MLP lemma blocks (with the all-zero attention
    // block NemotronH needs): a forward pass on inputs_embeds reads the block's value.
    if !client_available("NemotronH client") {
        return;
    }
    let tmp = scratch("nh-blocks");
    let mut dirs = Vec::new();
    for claim in [
        "copy-attn",
        "mlp-mul",
        "mlp-relu",
        "mlp-select",
        "mlp-lookup",
    ] {
        let f = tmp.join(format!("{claim}.json"));
        let (code, _, err) = run(&["explain", claim, "--export", s(&f)]);
        assert_eq!(code, 0, "{claim}: {err}");
        let d = tmp.join(format!("hf-{claim}"));
        let (code, out) = lower(&f, &d, &[]);
        assert_eq!(code, 0, "{claim}: {out}");
        assert!(out.contains("11/11 inputs"), "{claim}: {out}");
        dirs.push(d);
    }
    let (code, out) = hf_check(&dirs);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.matches("11/11 forward() reads equal").count(),
        dirs.len(),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn parameters_too_small_make_the_real_client_disagree() {
    if !client_available("NemotronH client") {
        return;
    }
    let tmp = scratch("nh-small");
    let f = dp_export(&tmp, "linrec", "8");
    for (what, extra) in [
        ("eps = 2^40", ["--eps-log2", "40"]),
        ("K = 4", ["--shift", "4"]),
    ] {
        let d = tmp.join(format!("hf-{}", what.replace([' ', '=', '^'], "")));
        // freelunch's own run of the lowered blocks already disagrees (exit code 1), and so
        // must the real client.
        let (code, out) = lower(&f, &d, &extra);
        assert_eq!(code, 1, "{what}: {out}");
        let (code, out) = hf_check(std::slice::from_ref(&d));
        assert_eq!(code, 1, "{what}: the real client still agrees: {out}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
