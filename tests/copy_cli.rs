//! CLI views of the COPY claims: explain, verify --quick, bad input.

use std::process::Command;

fn freelunch(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_freelunch"))
        .args(args)
        .output()
        .expect("run the freelunch binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn explain_prints_statement_and_construction() {
    for id in ["copy-const", "copy-attn", "copy-linear", "copy-rank"] {
        let (code, out, _) = freelunch(&["explain", id]);
        assert_eq!(code, 0);
        assert!(
            out.contains("Statement") && out.contains("Construction"),
            "{id}: {out}"
        );
        assert!(out.contains("How it is checked"), "{id}");
    }
}

#[test]
fn quick_verify_passes() {
    let (code, out, err) = freelunch(&["verify", "copy-const", "copy-rank", "--quick"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("copy-const") && out.contains("pass"));
}

#[test]
fn claims_are_listed_as_built() {
    let (code, out, _) = freelunch(&["claims"]);
    assert_eq!(code, 0);
    for id in ["copy-const", "copy-attn", "copy-linear", "copy-rank"] {
        let line = out.lines().find(|l| l.starts_with(id)).expect("listed");
        assert!(
            line.contains("built") && !line.contains("not built"),
            "{line}"
        );
    }
}

#[test]
fn bad_precision_is_rejected() {
    let (code, _, err) = freelunch(&["verify", "copy-const", "--precision", "1"]);
    assert_ne!(code, 0);
    assert!(err.contains("at least 2 bits"), "{err}");
    let (code, _, err) = freelunch(&["verify", "copy-cnst"]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown claim"), "{err}");
}
