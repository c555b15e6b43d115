//! CLI: exit codes and one-sentence messages for bad input; no partial files.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_freelunch"))
        .args(args)
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

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
    let models = v.as_object().unwrap();
    assert_eq!(models.len(), 3);
    for m in models.values() {
        assert!(!m["layers"].as_array().unwrap().is_empty());
        assert_eq!(m["size"]["ssm_state"].as_u64().unwrap(), 8); // state = T
    }
    let _ = std::fs::remove_file(&path);
    assert_clean_error(
        &["explain", "mlp-mul", "--export", path.to_str().unwrap()],
        "no example construction",
    );
    assert!(!path.exists());
}
