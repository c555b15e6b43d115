//! The real client: every runnable export without attention is lowered into a stock
//! `MambaForCausalLM` checkpoint, loaded by `AutoModelForCausalLM.from_pretrained`, and run on the
//! stored input and 10 random ones (examples/python/hf_check.py): token models with greedy
//! `generate()` (every token must equal `freelunch run` of the abstract model), blocks with a
//! forward pass on `inputs_embeds` (the read value must agree). Parameters too small (λ, K, eps)
//! must make the real client disagree.
//!
//! Needs python3 with torch, transformers and safetensors (`.ci/run` installs the pinned versions
//! from examples/python/requirements-hf.txt). Without them the tests say loudly that they skipped;
//! under CI (the `CI` environment variable) they fail instead.

mod common;

use common::hf::{client_available, hf_check};
use common::{run, s, scratch};
use std::path::{Path, PathBuf};

fn lower(model: &Path, dir: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["lower", s(model), s(dir)];
    args.extend(extra);
    let (code, out, err) = run(&args);
    assert!(err.is_empty() || code != 2, "lower {model:?}: {err}");
    (code, out)
}

fn dp_export(tmp: &Path, problem: &str, n: &str, memory: &str) -> PathBuf {
    let f = tmp.join(format!("{problem}-{memory}.json"));
    let (code, out, err) = run(&[
        "dp",
        problem,
        "--n",
        n,
        "--memory",
        memory,
        "--export",
        s(&f),
    ]);
    assert_eq!(code, 0, "dp {problem} {memory}: {out}{err}");
    f
}

#[test]
fn every_runnable_token_export_generates_like_freelunch_run() {
    if !client_available("Hugging Face client") {
        return;
    }
    let tmp = scratch("hf-all");
    let mut dirs = Vec::new();
    for (problem, n) in [("edit", "3"), ("lis", "5"), ("linrec", "8"), ("eca", "4")] {
        for memory in ["slot", "position"] {
            let f = dp_export(&tmp, problem, n, memory);
            let d = tmp.join(format!("hf-{problem}-{memory}"));
            let (code, out) = lower(&f, &d, &[]);
            assert_eq!(code, 0, "{out}");
            assert!(out.contains("11/11 inputs"), "{out}");
            dirs.push(d);
        }
        // Attention memories need the NemotronH target, not Mamba-1: refused with a sentence.
        let f = dp_export(&tmp, problem, n, "attention");
        let (code, out, err) = run(&["lower", s(&f), s(&tmp.join("no"))]);
        assert_eq!(code, 2, "{out}");
        assert!(err.contains("nemotron-h"), "{err}");
    }
    let copy = tmp.join("copy.json");
    let (code, _, err) = run(&["explain", "copy-linear", "--export", s(&copy)]);
    assert_eq!(code, 0, "{err}");
    for pick in ["0", "1", "2"] {
        let d = tmp.join(format!("hf-copy-linear-{pick}"));
        let (code, out) = lower(&copy, &d, &["--pick", pick]);
        assert_eq!(code, 0, "{out}");
        dirs.push(d);
    }
    // The lemma blocks and copy-const: fed residual vectors (inputs_embeds), read from logits.
    for claim in [
        "mlp-mul",
        "mlp-relu",
        "mlp-select",
        "mlp-lookup",
        "gate-mul",
        "copy-const",
    ] {
        let f = tmp.join(format!("{claim}.json"));
        let (code, _, err) = run(&["explain", claim, "--export", s(&f)]);
        assert_eq!(code, 0, "{err}");
        let d = tmp.join(format!("hf-{claim}"));
        let (code, out) = lower(&f, &d, &["--pick", "0"]);
        assert_eq!(code, 0, "{claim}: {out}");
        dirs.push(d);
    }
    let (code, text) = hf_check(&dirs);
    assert_eq!(code, 0, "the real client disagreed:\n{text}");
    let agreeing = (text.lines())
        .filter(|l| {
            l.contains("11/11 generate() outputs equal")
                || l.contains("11/11 forward() reads equal")
        })
        .count();
    assert_eq!(agreeing, dirs.len(), "{text}");
    assert!(
        text.contains(&format!("{} checkpoints, all agree", dirs.len())),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn too_small_parameters_make_the_real_client_disagree() {
    if !client_available("Hugging Face client") {
        return;
    }
    let tmp = scratch("hf-bad");
    let f = dp_export(&tmp, "linrec", "8", "slot");
    let mut dirs = Vec::new();
    for (name, flags) in [
        ("lambda", ["--lambda", "1"]),
        ("shift", ["--shift", "4"]),
        ("eps", ["--eps-log2", "2"]),
    ] {
        let d = tmp.join(name);
        let (code, out) = lower(&f, &d, &flags);
        assert_eq!(
            code, 1,
            "freelunch's own run of the lowered blocks must disagree ({name}): {out}"
        );
        dirs.push(d);
    }
    let (code, text) = hf_check(&dirs);
    assert_eq!(code, 1, "{text}");
    for d in &dirs {
        let line = (text.lines())
            .find(|l| l.starts_with(s(d)) && l.contains("generate() outputs equal"))
            .unwrap_or_else(|| panic!("no result for {d:?}:\n{text}"));
        assert!(!line.contains("11/11"), "{line}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
