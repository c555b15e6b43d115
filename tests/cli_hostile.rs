//! The hostile inputs of issue 16, one test each, named after the input: every one gets one
//! sentence on stderr and a non-zero exit (no panic, abort or hang), and nothing is written.

mod common;
use common::{layer_of_kind, run, s, scratch};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Exit code 2, one line on stderr containing `needle`, no panic, within `limit`.
fn refused_in_one_sentence(args: &[&str], needle: &str) -> String {
    let t0 = Instant::now();
    let (code, out, err) = run(args);
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "{args:?} took {:?}",
        t0.elapsed()
    );
    assert_eq!(
        code, 2,
        "{args:?}: exit {code}, stderr `{err}`, stdout `{out}`"
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "{args:?}: not one sentence: `{err}`"
    );
    assert!(err.contains(needle), "{args:?}: `{needle}` not in `{err}`");
    assert!(!err.contains("-- -"), "{args:?}: clap's tip: `{err}`");
    out
}

/// A small DP model exported to `dir/lin.json`, and its JSON.
fn linrec(dir: &Path) -> (PathBuf, Value) {
    let p = dir.join("lin.json");
    let (code, _, err) = run(&[
        "dp",
        "linrec",
        "--n",
        "4",
        "--input",
        "3,4",
        "--export",
        s(&p),
    ]);
    assert_eq!(code, 0, "{err}");
    let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    (p, v)
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
    p
}

fn ssm(v: &Value) -> usize {
    layer_of_kind(v, "ssm")
}

#[test]
fn run_ssm_state_0() {
    let d = scratch("state0");
    let (_, mut v) = linrec(&d);
    let k = ssm(&v);
    v["layers"][k]["state"] = json!(0);
    let p = write(&d, "m.json", &v);
    refused_in_one_sentence(&["run", s(&p)], "state = 0 is out of range");
}

#[test]
fn run_channels_and_state_2_pow_32() {
    let d = scratch("wrap");
    let (_, mut v) = linrec(&d);
    let k = ssm(&v);
    v["layers"][k]["channels"] = json!(1u64 << 32);
    v["layers"][k]["state"] = json!(1u64 << 32);
    let p = write(&d, "m.json", &v);
    refused_in_one_sentence(&["run", s(&p)], "4294967296 is out of range");
}

#[test]
fn run_head_size_1e12() {
    let d = scratch("head");
    let m = d.join("e.json");
    let (code, _, err) = run(&[
        "dp",
        "edit",
        "--n",
        "2",
        "--memory",
        "attention",
        "--export",
        s(&m),
    ]);
    assert_eq!(code, 0, "{err}");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    let k = layer_of_kind(&v, "attention");
    v["layers"][k]["heads"][0]["w_v"]["shape"][0] = json!(1_000_000_000_000u64);
    let p = write(&d, "m.json", &v);
    refused_in_one_sentence(
        &["trace", s(&p), "--csv", s(&d.join("t.csv"))],
        "out of range",
    );
    assert!(!d.join("t.csv").exists());
}

#[test]
fn run_residual_width_1e12_and_1e8() {
    let d = scratch("width");
    let (_, v) = linrec(&d);
    for w in [1_000_000_000_000u64, 100_000_000] {
        let mut v = v.clone();
        v["residual"]["width"] = json!(w);
        let p = write(&d, "m.json", &v);
        refused_in_one_sentence(&["run", s(&p)], "residual.width");
    }
}

#[test]
fn run_generate_100000000() {
    let d = scratch("gen");
    let (p, _) = linrec(&d);
    refused_in_one_sentence(
        &["run", s(&p), "--generate", "100000000"],
        "--generate = 100000000",
    );
}

#[test]
fn run_decoding_generate_1e12() {
    let d = scratch("gen12");
    let (_, mut v) = linrec(&d);
    v["decoding"]["generate"] = json!(1_000_000_000_000u64);
    let p = write(&d, "m.json", &v);
    refused_in_one_sentence(&["run", s(&p)], "decoding.generate");
}

#[test]
fn run_weight_1e400_in_an_f64_model() {
    let d = scratch("inf");
    let (_, mut v) = linrec(&d);
    v["readout_bias"][0] = json!("1e400");
    let p = write(&d, "m.json", &v);
    refused_in_one_sentence(&["run", s(&p)], "not finite in f64");
}

#[test]
fn run_generate_0() {
    let d = scratch("gen0");
    let (p, _) = linrec(&d);
    let out = refused_in_one_sentence(&["run", s(&p), "--generate", "0"], "--generate = 0");
    assert!(
        !out.contains("generated") && !out.contains("MISMATCH"),
        "{out}"
    );
}

#[test]
fn run_arithmetic_kind_f32() {
    let d = scratch("f32");
    let (_, mut v) = linrec(&d);
    v["arithmetic"]["kind"] = json!("f32");
    let p = write(&d, "m.json", &v);
    refused_in_one_sentence(&["run", s(&p)], "`f32` is not known");
}

#[test]
fn dp_precision_minus_5() {
    refused_in_one_sentence(
        &["dp", "linrec", "--precision", "-5"],
        "positive number of bits",
    );
}

#[test]
fn dp_input_minus_3_4() {
    refused_in_one_sentence(&["dp", "linrec", "--n", "4", "--input", "-3,4"], "`-3`");
}

#[test]
fn run_pick_minus_1() {
    let d = scratch("pick");
    let p = d.join("c.json");
    let (code, _, err) = run(&["explain", "copy-linear", "--export", s(&p)]);
    assert_eq!(code, 0, "{err}");
    refused_in_one_sentence(&["run", s(&p), "--pick", "-1"], "not a negative number");
}

#[test]
fn run_empty_model_collection() {
    let d = scratch("empty");
    let v = json!({"format": "freelunch-model-collection", "schema_version": 1, "claim": "x", "models": []});
    let p = write(&d, "c.json", &v);
    refused_in_one_sentence(&["run", s(&p)], "holds no models");
    refused_in_one_sentence(&["run", s(&p), "--pick", "0"], "holds no models");
}

#[test]
fn figures_out_file() {
    let d = scratch("figfile");
    let f = d.join("regular");
    std::fs::write(&f, "x").unwrap();
    let t0 = Instant::now();
    let (code, _, err) = run(&["figures", "--out", s(&f)]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a directory"), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "x");
}

#[test]
fn verify_json_r_json_slash() {
    let d = scratch("slash");
    let target = format!("{}/r.json/", s(&d));
    let t0 = Instant::now();
    refused_in_one_sentence(
        &["verify", "copy-linear", "--json", &target],
        "names a directory",
    );
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "refused only after the run"
    );
}

#[test]
fn trace_heatmap_hm_when_hm_svg_is_a_directory() {
    let d = scratch("hmdir");
    let (p, _) = linrec(&d);
    std::fs::create_dir(d.join("hm.svg")).unwrap();
    let csv = d.join("t.csv");
    refused_in_one_sentence(
        &[
            "trace",
            s(&p),
            "--csv",
            s(&csv),
            "--heatmap",
            s(&d.join("hm")),
        ],
        "is a directory",
    );
    assert!(!csv.exists(), "the CSV was written before the refusal");
    assert!(!d.join("hm.png").exists());
}

#[test]
fn trace_heatmap_t_v2_keeps_t_png() {
    let d = scratch("hmv2");
    let (p, _) = linrec(&d);
    std::fs::write(d.join("t.png"), "keep me").unwrap();
    let (code, out, err) = run(&["trace", s(&p), "--heatmap", s(&d.join("t.v2"))]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(d.join("t.png")).unwrap(), "keep me");
    assert!(
        d.join("t.v2.png").exists() && d.join("t.v2.svg").exists(),
        "{out}"
    );
    // A final .png or .svg is the extension the user typed by mistake: the stem is `u`.
    let (code, _, err) = run(&["trace", s(&p), "--heatmap", s(&d.join("u.png"))]);
    assert_eq!(code, 0, "{err}");
    assert!(d.join("u.png").exists() && d.join("u.svg").exists());
    assert!(!d.join("u.png.png").exists());
}

#[test]
fn verify_precision_2() {
    // scan-unroll's enclosures at 2 bits are too wide to decide anything: the claim is reported
    // undecided with the sentence, exit 1, never FAIL or pass.
    let (code, out, err) = run(&["verify", "scan-unroll", "--quick", "--precision", "2"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("UNDECIDED") && !out.contains(" FAIL "),
        "{out}"
    );
    assert!(out.contains("too coarse to decide"), "{out}");
    assert!(
        err.contains("undecided claims: scan-unroll") && err.contains("too coarse to decide"),
        "{err}"
    );
    assert!(!err.contains("failed claims"), "{err}");
}

#[test]
fn run_logits_that_overflow_to_nan() {
    // Finite f64 weights whose products overflow: +inf and −inf meet in a logit (NaN). The run
    // must not print `min logit margin 1.000e0` and a token as if decoding were defined.
    let d = scratch("nan");
    let (_, mut v) = linrec(&d);
    for e in v["token_embedding"]["entries"].as_array_mut().unwrap() {
        e["value"] = json!("1e308");
    }
    for (k, e) in v["readout"]["entries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        e["value"] = json!(if k % 2 == 0 { "1e308" } else { "-1e308" });
    }
    let p = write(&d, "m.json", &v);
    let out = refused_in_one_sentence(&["run", s(&p)], "not a number");
    assert!(!out.contains("min logit margin"), "{out}");
}

/// A mutation of an export, and the text the refusal must contain.
type Mutation = (&'static str, Box<dyn Fn(&mut Value)>, String);

#[test]
fn run_fields_of_the_wrong_type_are_named() {
    let d = scratch("wrongtype");
    let (_, v) = linrec(&d);
    let k = ssm(&v);
    let cases: Vec<Mutation> = vec![
        (
            "channels 1.5",
            Box::new(move |w| w["layers"][k]["channels"] = json!(1.5)),
            format!("layers[{k}].channels: invalid type: floating point `1.5`"),
        ),
        (
            "a negative index",
            Box::new(move |w| w["layers"][k]["w_b"]["entries"][0]["j"] = json!(-1)),
            format!("layers[{k}].w_b.entries[0].j: invalid value: integer `-1`"),
        ),
        (
            "a weight as a JSON number",
            Box::new(|w| w["readout"]["entries"][0]["value"] = json!(1.0)),
            "readout.entries[0].value: invalid type: floating point".to_string(),
        ),
        (
            "a token name as a number",
            Box::new(|w| w["vocab"][0] = json!(5)),
            "vocab[0]: invalid type: integer `5`".to_string(),
        ),
        (
            "a missing matrix",
            Box::new(move |w| {
                w["layers"][k].as_object_mut().unwrap().remove("w_c");
            }),
            format!("layers[{k}]: missing field `w_c`"),
        ),
        (
            "an unknown layer kind",
            Box::new(move |w| w["layers"][k]["kind"] = json!("conv")),
            format!("layers[{k}]: unknown variant `conv`"),
        ),
    ];
    for (what, mutate, needle) in cases {
        let mut w = v.clone();
        mutate(&mut w);
        let p = write(&d, "m.json", &w);
        let out = refused_in_one_sentence(&["run", s(&p)], &needle);
        assert!(out.is_empty(), "{what}: printed `{out}`");
    }
}

#[test]
fn run_and_lower_a_file_above_1_gib() {
    let d = scratch("huge");
    let p = d.join("huge.json");
    // Sparse: no disk space is used, and the reader must refuse it before reading a byte.
    std::fs::File::create(&p)
        .unwrap()
        .set_len(freelunch::export::limits::MAX_FILE_BYTES + 1)
        .unwrap();
    refused_in_one_sentence(&["run", s(&p)], "above the limit of 1073741824 bytes");
    refused_in_one_sentence(
        &["lower", s(&p), s(&d.join("ck"))],
        "above the limit of 1073741824 bytes",
    );
    assert!(!d.join("ck").exists());
}

#[test]
fn run_a_truncated_export() {
    let d = scratch("truncated");
    let (p, _) = linrec(&d);
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, &text[..text.len() / 2]).unwrap();
    refused_in_one_sentence(&["run", s(&p)], "is not JSON");
}
