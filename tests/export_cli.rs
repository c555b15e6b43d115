//! The export format (docs/export.md) round-trips: `freelunch run` on an exported model gives the
//! tokens `freelunch dp` decoded, `trace` writes CSV/JSON/heat-maps for a DP and a COPY model, the
//! COPY blocks run from their stored input vectors, and an independent numpy reader
//! (examples/python/run_export.py) reproduces the tokens when python3 with numpy is present.

mod common;
use common::{run, s, scratch};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The value after `label` on the line that starts with it.
fn line_after<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{out}"))
        .trim()
}

/// Export a DP model with `dp … --export`; returns the CoT `dp` printed.
fn export_dp(args: &[&str], path: &Path) -> String {
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--show-cot", "--export", s(path)]);
    let (code, out, err) = run(&a);
    assert_eq!(code, 0, "{out}{err}");
    line_after(&out, "CoT").to_string()
}

/// Claims whose `explain --export` writes runnable models.
const RUNNABLE_CLAIMS: [&str; 10] = [
    "copy-linear",
    "copy-const",
    "copy-attn",
    "dp-general",
    "dp-local",
    "mlp-mul",
    "mlp-relu",
    "mlp-lookup",
    "mlp-select",
    "gate-mul",
];

/// `explain <claim> --export` into `dir`: the file's path and its parsed JSON.
fn export_claim(dir: &Path, claim: &str) -> (PathBuf, serde_json::Value) {
    let path = dir.join(format!("{claim}.json"));
    let (code, out, err) = run(&["explain", claim, "--export", s(&path)]);
    assert_eq!(code, 0, "{out}{err}");
    let v = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (path, v)
}

#[test]
fn run_reproduces_dp_tokens_and_detects_a_tampered_file() {
    let d = scratch("dp");
    for (args, input) in [
        (vec!["dp", "linrec", "--n", "6", "--input", "3,4"], "1,2"),
        (
            vec!["dp", "edit", "--n", "3", "--input", "0,1,2,2,1,0"],
            "1,1,1,0,0,0",
        ),
        (
            vec!["dp", "lis", "--n", "4", "--memory", "attention"],
            "3 1 2 0",
        ),
    ] {
        let path = d.join(format!("{}.json", args[1]));
        let cot = export_dp(&args, &path);
        let (code, out, err) = run(&["run", s(&path)]);
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(line_after(&out, "generated"), cot, "{args:?}");
        assert!(out.contains("agreement exact"), "{out}");
        // Another input: `run --input` must equal `dp --input` on the same model family.
        let mut other: Vec<&str> = args[..args.len() - 2].to_vec();
        if args[2] == "--memory" {
            other = args.clone();
        }
        other.extend(["--input", input]);
        let other_path = d.join(format!("{}-other.json", args[1]));
        let cot2 = export_dp(&other, &other_path);
        let (code, out, err) = run(&["run", s(&path), "--input", input]);
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(line_after(&out, "generated"), cot2, "{args:?} on {input}");
    }
    // A tampered weight is noticed: flip the readout bias of one token far up.
    let path = d.join("linrec.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["readout_bias"][0] = serde_json::json!("1e9");
    let bad = d.join("tampered.json");
    std::fs::write(&bad, serde_json::to_string(&v).unwrap()).unwrap();
    let (code, out, _) = run(&["run", s(&bad)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("MISMATCH"), "{out}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn run_rejects_bad_files_in_one_sentence() {
    let d = scratch("bad");
    let p = d.join("x.json");
    std::fs::write(&p, "{\"format\": \"something\"}").unwrap();
    let (code, _, err) = run(&["run", s(&p)]);
    assert_ne!(code, 0);
    assert!(err.contains("not a valid model export"), "{err}");
    std::fs::write(&p, "not json").unwrap();
    let (code, _, err) = run(&["run", s(&p)]);
    assert_ne!(code, 0);
    assert!(err.contains("is not JSON"), "{err}");
    let (code, _, err) = run(&["run", s(&d.join("missing.json"))]);
    assert_ne!(code, 0);
    assert!(err.contains("cannot read"), "{err}");
    assert!(!err.contains("panicked"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn explain_exports_runnable_copy_models_and_blocks() {
    let d = scratch("copy");
    for claim in RUNNABLE_CLAIMS {
        let (path, v) = export_claim(&d, claim);
        assert_eq!(v["format"], "freelunch-model-collection");
        let n = v["models"].as_array().unwrap().len();
        assert!(n >= 1);
        for k in 0..n {
            let (code, out, err) = run(&["run", s(&path), "--pick", &k.to_string()]);
            assert_eq!(code, 0, "{claim} model {k}: {out}{err}");
            assert!(
                out.contains("agreement exact") || out.contains("expected"),
                "{claim}: {out}"
            );
        }
    }
    let (code, _, err) = run(&["run", s(&d.join("copy-linear.json"))]);
    assert_ne!(code, 0);
    assert!(err.contains("--pick"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn trace_writes_csv_json_and_heatmaps_for_dp_and_copy() {
    let d = scratch("trace");
    let dp = d.join("dp.json");
    export_dp(&["dp", "linrec", "--n", "5", "--input", "1,2"], &dp);
    let copy = d.join("copy.json");
    let (code, out, err) = run(&["explain", "copy-linear", "--export", s(&copy)]);
    assert_eq!(code, 0, "{out}{err}");
    for (model, pick) in [(&dp, None), (&copy, Some("0"))] {
        let stem = d.join(format!("trace-{}", pick.is_some()));
        let csv = stem.with_extension("csv");
        let json = stem.with_extension("json");
        let scan = d.join("scan.json");
        let mut args = vec![
            "trace",
            s(model),
            "--csv",
            s(&csv),
            "--json",
            s(&json),
            "--heatmap",
            s(&stem),
            "--scan-args",
            s(&scan),
        ];
        if let Some(p) = pick {
            args.extend(["--pick", p]);
        }
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{out}{err}");
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(text.starts_with("t,fed,decoded,margin,group,kind,row,value"));
        assert!(text.contains(",memory,"), "no memory slots in the trace");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let positions = v["positions"].as_u64().unwrap() as usize;
        assert!(positions > 2);
        // Memory is written: some slot changes over time.
        let moved = v["groups"].as_array().unwrap().iter().any(|g| {
            g["kind"] == "memory"
                && g["values"].as_array().unwrap().iter().any(|row| {
                    let r: Vec<f64> = row
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap())
                        .collect();
                    r.iter().any(|x| (x - r[0]).abs() > 1e-9)
                })
        });
        assert!(moved, "no memory slot changes");
        for ext in ["png", "svg"] {
            let p = stem.with_extension(ext);
            assert!(std::fs::metadata(&p).unwrap().len() > 1000, "{p:?}");
        }
        let sa: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&scan).unwrap()).unwrap();
        let l0 = &sa["layers"][0];
        assert_eq!(l0["function"], "selective_scan_ref");
        assert_eq!(
            l0["u"][0][0].as_array().unwrap().len(),
            positions,
            "u has shape (1, D, L)"
        );
        assert_eq!(l0["delta_softplus"], true);
    }
    let (code, _, err) = run(&["trace", s(&dp)]);
    assert_ne!(code, 0);
    assert!(err.contains("--csv"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn torch_softplus_option_decodes_the_same_tokens() {
    let d = scratch("softplus");
    let dp = d.join("dp.json");
    let cot = export_dp(&["dp", "linrec", "--n", "5", "--input", "1,2"], &dp);
    let (code, out, err) = run(&["run", s(&dp), "--softplus", "torch"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(line_after(&out, "generated"), cot);
    let (code, _, err) = run(&["run", s(&dp), "--softplus", "fast"]);
    assert_ne!(code, 0);
    assert!(err.contains("--softplus"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

fn python_with_numpy() -> Option<&'static str> {
    let ok = Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some("python3")
}

fn reader() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python/run_export.py")
}

#[test]
fn numpy_reader_reproduces_the_decoded_tokens() {
    let Some(py) = python_with_numpy() else {
        println!("skipped: python3 with numpy is not available (.ci/run installs it)");
        return;
    };
    let d = scratch("python");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["dp", "linrec", "--n", "6", "--input", "3,4"], "exact"),
        (
            vec!["dp", "edit", "--n", "3", "--input", "0,1,2,2,1,0"],
            "exact",
        ),
        (
            vec![
                "dp",
                "lis",
                "--n",
                "4",
                "--activation",
                "gelu",
                "--input",
                "3,1,2,0",
            ],
            "exact",
        ),
        (
            vec![
                "dp",
                "eca",
                "--n",
                "3",
                "--memory",
                "attention",
                "--input",
                "01101001",
            ],
            "exact",
        ),
        (
            vec![
                "dp", "linrec", "--n", "6", "--memory", "position", "--input", "3,4",
            ],
            "torch",
        ),
    ];
    for (k, (args, softplus)) in cases.iter().enumerate() {
        let path = d.join(format!("m{k}.json"));
        let cot = export_dp(args, &path);
        let out = Command::new(py)
            .arg(reader())
            .arg(&path)
            .args(["--softplus", softplus])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.trim(), cot, "{args:?}");
    }
    for claim in RUNNABLE_CLAIMS {
        let (path, v) = export_claim(&d, claim);
        for k in 0..v["models"].as_array().unwrap().len() {
            let out = Command::new(py)
                .arg(reader())
                .arg(&path)
                .args(["--pick", &k.to_string()])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{claim} model {k}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn scan_args_match_a_numpy_port_of_selective_scan_ref() {
    let Some(py) = python_with_numpy() else {
        println!("skipped: python3 with numpy is not available (.ci/run installs it)");
        return;
    };
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python/selective_scan_ref.py");
    let d = scratch("scan");
    let model = d.join("m.json");
    export_dp(
        &[
            "dp",
            "edit",
            "--n",
            "3",
            "--input",
            "0,1,2,2,1,0",
            "--activation",
            "gelu",
        ],
        &model,
    );
    let args = d.join("args.json");
    let (code, out, err) = run(&[
        "trace",
        s(&model),
        "--softplus",
        "torch",
        "--scan-args",
        s(&args),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let check = |p: &Path| {
        Command::new(py)
            .arg(&script)
            .arg(p)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(check(&args), "the reference scan disagrees with the model");
    // The check can fail: without the softplus the reference computes something else.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&args).unwrap()).unwrap();
    v["layers"][0]["delta_softplus"] = serde_json::json!(false);
    let bad = d.join("bad.json");
    std::fs::write(&bad, serde_json::to_string(&v).unwrap()).unwrap();
    assert!(!check(&bad), "a wrong argument set went unnoticed");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn mpfr_exports_run_at_their_precision() {
    let d = scratch("mpfr");
    let path = d.join("e128.json");
    let cot = export_dp(
        &[
            "dp",
            "edit",
            "--n",
            "3",
            "--input",
            "0,1,2,2,1,0",
            "--activation",
            "gelu",
            "--precision",
            "128",
        ],
        &path,
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["arithmetic"]["kind"], "mpfr");
    assert_eq!(v["arithmetic"]["precision_bits"], 128);
    let (code, out, err) = run(&["run", s(&path)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("128 bits"), "{out}");
    assert_eq!(line_after(&out, "generated"), cot);
    std::fs::remove_dir_all(&d).unwrap();
}
