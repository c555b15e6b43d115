//! CLI: exit codes and one-sentence messages for bad input; no partial files.

mod common;
use common::run;

fn assert_clean_error(args: &[&str], needle: &str) {
    let (code, _out, err) = run(args);
    assert_ne!(code, 0, "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(
        err.to_lowercase().contains(needle),
        "{args:?}: expected `{needle}` in `{err}`"
    );
    assert!(
        err.trim().lines().count() <= 4,
        "{args:?}: message too long: {err}"
    );
}

#[test]
fn unknown_claim() {
    assert_clean_error(
        &["verify", "no-such-claim"],
        "unknown claim `no-such-claim`",
    );
    assert_clean_error(&["explain", "nope"], "unknown claim");
}

#[test]
fn bad_precision() {
    assert_clean_error(
        &["verify", "scan-unroll", "--precision", "1"],
        "at least 2 bits",
    );
    assert_clean_error(
        &["verify", "scan-unroll", "--precision", "0"],
        "at least 2 bits",
    );
    assert_clean_error(
        &["verify", "scan-unroll", "--precision", "abc"],
        "whole number of bits",
    );
    assert_clean_error(&["verify", "scan-unroll", "--precision", "-3"], "precision");
    assert_clean_error(
        &["verify", "scan-unroll", "--precision", "99999999999"],
        "beyond mpfr's limit",
    );
    assert_clean_error(
        &["verify", "scan-unroll", "--precision", "1000000"],
        "beyond the supported maximum",
    );
}

#[test]
fn bad_sizes_and_seed() {
    assert_clean_error(&["verify", "scan-unroll", "--seed", "-4"], "seed");
    assert_clean_error(&["verify", "scan-unroll", "--seed", "many"], "seed");
}

#[test]
fn json_report_in_missing_directory_writes_nothing() {
    let dir = std::env::temp_dir().join("freelunch-no-such-dir-xyz");
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("r.json");
    assert_clean_error(
        &[
            "verify",
            "scan-unroll",
            "--quick",
            "--json",
            path.to_str().unwrap(),
        ],
        "does not exist",
    );
    assert!(!path.exists() && !dir.exists());
}

#[test]
fn figures_into_missing_directory() {
    assert_clean_error(&["figures", "--out", "/nonexistent/figs"], "does not exist");
}

#[test]
fn verify_quick_passes_and_writes_json() {
    let path = std::env::temp_dir().join(format!("freelunch-report-{}.json", std::process::id()));
    let (code, out, err) = run(&[
        "verify",
        "scan-unroll",
        "--quick",
        "--precision",
        "128",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("scan-unroll") && out.contains("pass"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let r = &v[0];
    assert_eq!(r["id"], "scan-unroll");
    assert_eq!(r["status"], "Passed");
    assert!(r["construction"]["state_size"].as_u64().unwrap() > 0);
    let c = &r["cases"][0];
    assert!(
        c["measured_log10"].is_number()
            && c["bound_log10"].is_number()
            && c["margin_log10"].is_number()
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn claims_lists_every_registered_id() {
    let (code, out, _) = run(&["claims"]);
    assert_eq!(code, 0);
    for c in freelunch::claims::registry() {
        let id = c.info().id;
        assert!(out.contains(id), "{id} missing from `claims`");
    }
    let (_, out, _) = run(&["explain", "scan-unroll"]);
    assert!(out.contains("scan-unroll"));
}

#[test]
fn explain_exports_example_weights() {
    let path = std::env::temp_dir().join(format!("freelunch-weights-{}.json", std::process::id()));
    let (code, out, err) = run(&["explain", "copy-linear", "--export", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["format"], "freelunch-model-collection");
    assert_eq!(v["schema_version"], 1);
    let models = v["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    for m in models {
        assert_eq!(m["format"], "freelunch-model");
        assert!(!m["layers"].as_array().unwrap().is_empty());
        assert_eq!(m["size"]["ssm_state"].as_u64().unwrap(), 8); // state = T
        assert_eq!(m["decoding"]["generate"], 8);
    }
    let _ = std::fs::remove_file(&path);
    assert_clean_error(
        &["explain", "copy-rank", "--export", path.to_str().unwrap()],
        "no example construction",
    );
    assert!(!path.exists());
}

#[test]
fn verify_json_is_byte_identical_for_a_seed() {
    let dir = std::env::temp_dir();
    let paths: Vec<_> = (0..2)
        .map(|k| dir.join(format!("freelunch-det-{k}-{}.json", std::process::id())))
        .collect();
    for p in &paths {
        let (code, out, err) = run(&[
            "verify",
            "scan-unroll",
            "gate-mul",
            "--quick",
            "--json",
            p.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}{err}");
        // Progress without a terminal: one line per claim with its time.
        assert!(
            err.contains("[1/2] scan-unroll") && err.contains("[2/2] gate-mul"),
            "{err}"
        );
    }
    let a = std::fs::read(&paths[0]).unwrap();
    let b = std::fs::read(&paths[1]).unwrap();
    assert!(a == b, "two runs with the same seed wrote different JSON");
    assert!(!String::from_utf8_lossy(&a).contains("\"seconds\""));
    // --timings adds the run times back.
    let (code, _, _) = run(&[
        "verify",
        "gate-mul",
        "--quick",
        "--timings",
        "--json",
        paths[0].to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&paths[0]).unwrap()).unwrap();
    assert!(v[0]["seconds"].as_f64().unwrap() >= 0.0);
    for p in &paths {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn repeated_claims_run_once_and_fixed_arithmetic_is_said() {
    let (code, out, err) = run(&[
        "verify",
        "copy-rank",
        "copy-rank",
        "--quick",
        "--precision",
        "64",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches("copy-rank").count(), 1, "{out}");
    assert!(err.contains("copy-rank ignores --precision"), "{err}");
}

#[test]
fn very_slow_precision_warns_with_a_measured_estimate() {
    // A tiny DP instance, so the test stays fast even at 65536 bits.
    let (code, out, err) = run(&["dp", "linrec", "--n", "2", "--precision", "65536"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("warning: at 65536 bits"), "{err}");
    assert!(err.contains("× its cost at 256 bits"), "{err}");
    let (_, _, err) = run(&["dp", "linrec", "--n", "2", "--precision", "256"]);
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn number_papercuts() {
    // Negative numbers: a sentence about the sign, not clap's "use -- -1" tip.
    for args in [
        vec!["dp", "edit", "--n", "-1"],
        vec!["dp", "linrec", "--slots", "-7"],
        vec!["verify", "scan-unroll", "--seed", "-4"],
    ] {
        let (code, _, err) = run(&args);
        assert_ne!(code, 0);
        assert!(err.contains("must not be negative"), "{args:?}: {err}");
        assert!(!err.contains("-- -"), "{args:?}: {err}");
    }
    // Huge integers: "too large", not "not a whole number".
    let (code, _, err) = run(&["dp", "edit", "--n", "99999999999999999999999"]);
    assert_ne!(code, 0);
    assert!(err.contains("too large"), "{err}");
    let (code, _, err) = run(&["verify", "--precision", "99999999999999999999999"]);
    assert_ne!(code, 0);
    assert!(err.contains("beyond the supported maximum"), "{err}");
    let (code, _, err) = run(&["dp", "edit", "--n", "two"]);
    assert_ne!(code, 0);
    assert!(err.contains("whole number"), "{err}");
    // An empty input field is an error, not silently dropped.
    assert_clean_error(
        &["dp", "linrec", "--n", "4", "--input", "0,1,,2"],
        "empty field",
    );
}

#[test]
fn table_ratio_near_one_keeps_its_sign() {
    use freelunch::report::fmt_log10;
    assert_ne!(fmt_log10(-0.001), fmt_log10(0.001));
    assert!(fmt_log10(-0.001).starts_with("10^-"));
}

#[test]
fn a_mismatch_reports_the_reference_tokens_negative_margin() {
    // 4 bits are too few for this model: decoding goes wrong.
    let (code, out, err) = run(&[
        "dp",
        "linrec",
        "--n",
        "6",
        "--input",
        "3,4",
        "--precision",
        "4",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("MISMATCH"), "{out}");
    assert!(out.contains("reference-token margin -"), "{out}");
    assert!(!out.contains("min logit margin"), "{out}");
    // At f64 the same run is exact and its margin is positive.
    let (code, out, _) = run(&["dp", "linrec", "--n", "6", "--input", "3,4"]);
    assert_eq!(code, 0);
    assert!(out.contains("min logit margin 10^"), "{out}");
}
