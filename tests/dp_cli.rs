//! `freelunch dp`: a good run exits 0 with the CoT and the agreement; every bad input gets one
//! clear sentence and a non-zero exit, never a panic.

mod common;

/// Run `freelunch dp <args>`.
fn run(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["dp"];
    all.extend_from_slice(args);
    common::run(&all)
}

#[test]
fn good_runs_print_cot_answer_agreement_and_cost() {
    let (code, out, err) = run(&["edit", "--n", "3", "--input", "012210", "--show-cot"]);
    assert_eq!(code, 0, "{err}");
    let (code, out2, _) = run(&[
        "edit",
        "--n",
        "3",
        "--input",
        "0,1,2,2,1,0",
        "--show-cot",
        "--memory",
        "attention",
    ]);
    assert_eq!(code, 0);
    for o in [&out, &out2] {
        assert!(
            o.contains("CoT") && o.contains("SEP") && o.contains("answer    2 (reference 2)"),
            "{o}"
        );
        assert!(o.contains("exact: every token equals"), "{o}");
        assert!(o.contains("nonzeros") && o.contains("ops in total"), "{o}");
    }
    let (code, out, err) = run(&[
        "eca",
        "--param",
        "width=5",
        "--n",
        "4",
        "--input",
        "01101",
        "--precision",
        "96",
        "--activation",
        "gelu",
        "--summary",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("mpfr arithmetic at 96 bits") && out.contains("residual subspaces"),
        "{out}"
    );
    let (code, _, err) = run(&[
        "linrec",
        "--param",
        "coeffs=1,2,3",
        "--param",
        "q=7",
        "--n",
        "30",
        "--memory",
        "position",
        "--activation",
        "silu",
    ]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn export_writes_the_weights() {
    let path = std::env::temp_dir().join(format!("dp-export-{}.json", std::process::id()));
    let (code, _, err) = run(&["lis", "--n", "3", "--export", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(text.contains("\"layers\"") && text.contains("lis.extend"));
}

#[test]
fn bad_inputs_get_one_sentence_and_a_nonzero_exit() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["edit", "--n", "3", "--input", "01201"],
            "expects an input of 6 symbols",
        ),
        (
            &["edit", "--n", "2", "--param", "sigma=3", "--input", "0139"],
            "outside the alphabet",
        ),
        (
            &["lis", "--n", "3", "--input", "1,a,2"],
            "not a non-negative integer",
        ),
        (&["edit", "--n", "0"], "must be in 1..=100"),
        (&["lis", "--n", "1000"], "must be in 1..=150"),
        (
            &["eca", "--param", "width=8", "--n", "5000"],
            "more than the supported",
        ),
        (
            &["linrec", "--n", "5000", "--memory", "position"],
            "too large for the position-key memory",
        ),
        (
            &["eca", "--param", "width=6", "--slots", "5"],
            "cannot hold reads at distance 12",
        ),
        (&["no_such_problem"], "unknown DP problem"),
        (&["edit", "--memory", "tape"], "unknown memory"),
        (&["edit", "--activation", "tanh"], "unknown activation"),
        (&["edit", "--param", "ins"], "must be name=value"),
        (&["linrec", "--param", "coeffs=1,x"], "comma-separated"),
        (
            &["linrec", "--param", "coeffs=1,12", "--param", "q=10"],
            "every entry of coeffs must be in 0..=9",
        ),
        (
            &["--spec", "/nonexistent/x.toml"],
            "cannot read the DP spec",
        ),
        (
            &["edit", "--activation", "gelu", "--lambda=-2"],
            "must be between",
        ),
        (
            &["edit", "--activation", "gelu", "--lambda", "-1"],
            "must be between",
        ),
        (
            &["edit", "--activation", "gelu", "--lambda", "1e308"],
            "must be between",
        ),
        (
            &["edit", "--activation", "silu", "--lambda", "1e-300"],
            "must be between",
        ),
        (&["edit", "--seed", "-3"], "the seed must be a whole number"),
        (&["edit", "--seed", "x"], "the seed must be a whole number"),
        (
            &["lis", "--n", "3", "--export", "/nonexistent-dir/w.json"],
            "directory /nonexistent-dir does not exist",
        ),
        (
            &["edit", "--lambda", "4"],
            "--lambda sets the scale of a smooth activation",
        ),
        (
            &["edit", "--memory", "position", "--slots", "9"],
            "--slots applies to the slot memory only",
        ),
        (
            &["eca", "--memory", "attention", "--slots", "9"],
            "--slots applies to the slot memory only",
        ),
        (&["eca", "--param", "sigma=3"], "has no parameter `sigma`"),
        (&["edit", "--param", "width=5"], "has no parameter `width`"),
        (&["lis", "--param", "q=7"], "has no parameter `q`"),
        (
            &["edit", "--activation", "gelu", "--lambda", "NaN"],
            "finite",
        ),
        (&["edit", "--precision", "0"], "precision"),
    ];
    for (args, want) in cases {
        let (code, out, err) = run(args);
        assert!(code != 0, "{args:?} exited 0: {out}");
        assert!(
            err.contains(want),
            "{args:?}: stderr `{err}` lacks `{want}`"
        );
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        assert!(err.trim().lines().count() <= 3, "{args:?}: {err}");
    }
}
