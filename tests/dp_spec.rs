//! DP specs written by a user: a valid file builds, decodes and checks through the CLI with no
//! Rust edit; each kind of bad spec is refused with one sentence naming the file, the line and
//! the field, and saying what Assumption 2 requires (proofs/dp-problems.md).

mod common;

use freelunch::dp::spec::{A2_ARITY, A2_BOUNDED, A2_EARLIER, A2_INPUT_READ, A2_OPS, A2_POLY};
use freelunch::dp::{Spec, SpecError, SpecErrorKind};

/// A running maximum: m[i] = max(m[i-1], s_i).
const GOOD: &str = r#"# running maximum of the input
[problem]
id = "prefix_max"
size = ["n"]
input_len = "n"
alphabet = 4
values = 4
order = "for i in 1..=n { m[i] }"
answer = "m[n]"

[[param]]
name = "n"
default = 4
min = 1
max = 100

[[state]]
name = "m"
indices = ["i"]

[[state.case]]
when = "i == 1"
boundary = 0

[[state.case]]
rule = "step"
reads = ["prev = m[i - 1]", "x = input[i]"]
value = "max(prev, x)"
"#;

fn load(text: &str) -> Result<(), SpecError> {
    Spec::load("user.toml", text).map(|_| ())
}

/// 1-based line of the first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in the spec"));
    text[..at].matches('\n').count() + 1
}

/// Replace `from` by `to` in the good spec, load it, and check the refusal: its kind, the line
/// of the field holding `at`, and the Assumption 2 sentence.
fn refused(from: &str, to: &str, at: &str, kind: SpecErrorKind, requires: &str) -> SpecError {
    assert!(GOOD.contains(from), "{from}");
    let text = GOOD.replacen(from, to, 1);
    let e = load(&text).expect_err(&format!("`{to}` was accepted"));
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!(e.line, line_of(&text, at), "{e}");
    assert_eq!(e.file, "user.toml");
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("user.toml:{}:", e.line)), "{msg}");
    assert!(msg.contains(requires), "{msg}");
    assert_eq!(msg.lines().count(), 1, "{msg}");
    e
}

#[test]
fn the_good_spec_loads_and_agrees_with_a_direct_running_maximum() {
    let spec = Spec::load("user.toml", GOOD).unwrap();
    let p = spec.instance(&[]).unwrap();
    use freelunch::dp::DpProblem;
    let x = [2, 0, 3, 1];
    let seq = p.solve(&x);
    assert_eq!(&seq[5..9], &[0, 0, 3, 3]);
    assert_eq!(*seq.last().unwrap(), 3);
    // m[i] reads s_i, n + 1 positions back: the distance grows with n, so not m-local
    assert!(!p.local());
}

#[test]
fn a_cycle_is_refused() {
    // m[3] reads m[4] and m[4] reads m[3]
    let e = refused(
        "\"prev = m[i - 1]\"",
        "\"prev = m[if(i % 2 == 0, i - 1, i + 1)]\"",
        "reads = ",
        SpecErrorKind::Cycle,
        A2_EARLIER,
    );
    assert!(e.msg.contains("m[3] → m[4] → m[3]"), "{e}");
    // a state reading itself is a cycle too
    refused(
        "\"prev = m[i - 1]\"",
        "\"prev = m[i]\"",
        "reads = ",
        SpecErrorKind::Cycle,
        A2_EARLIER,
    );
}

#[test]
fn a_read_of_a_later_state_is_refused() {
    // the order runs backwards: m[4] comes first and reads m[3]
    let e = refused(
        "for i in 1..=n { m[i] }",
        "for i in 1..=n { m[n + 1 - i] }",
        "reads = ",
        SpecErrorKind::LaterRead,
        A2_EARLIER,
    );
    assert!(e.msg.contains("comes later in the order"), "{e}");
}

#[test]
fn an_unbounded_value_is_refused() {
    // no value bound at all: the error points at [problem]
    refused(
        "values = 4\n",
        "",
        "[problem]",
        SpecErrorKind::Unbounded,
        A2_BOUNDED,
    );
    // a sum that leaves 0..V on some input: the error points at the rule's value
    let e = refused(
        "max(prev, x)",
        "prev + x",
        "value = ",
        SpecErrorKind::Unbounded,
        A2_BOUNDED,
    );
    assert!(e.msg.contains("outside the declared values 0..3"), "{e}");
    // a bound beyond the supported value range
    refused(
        "values = 4",
        "values = \"2 ^ 40\"",
        "values = ",
        SpecErrorKind::Unbounded,
        A2_BOUNDED,
    );
}

#[test]
fn an_unsupported_operator_is_refused() {
    for bad in ["prev * x", "prev / 2", "prev % x", "prev ^ 2"] {
        let e = refused(
            "max(prev, x)",
            bad,
            "value = ",
            SpecErrorKind::UnsupportedOp,
            A2_OPS,
        );
        assert!(e.col > 1, "{e}");
    }
    // the same operators on constants are fine
    load(&GOOD.replacen("max(prev, x)", "max(prev, x) + 6 / 2 * 0", 1)).unwrap();
}

#[test]
fn a_non_constant_arity_is_refused() {
    let e = refused(
        "\"x = input[i]\"",
        "\"xs[l] = input[l] for l in 1..=i\"",
        "reads = ",
        SpecErrorKind::Arity,
        A2_ARITY,
    );
    assert!(e.msg.contains("depends on `i`"), "{e}");
}

#[test]
fn an_input_dependent_read_position_is_refused() {
    // knapsack with its weights in the input: the read position uses an input symbol
    let e = refused(
        "\"prev = m[i - 1]\"",
        "\"prev = m[i - input[i]]\"",
        "reads = ",
        SpecErrorKind::InputDependentRead,
        "a read position that depends on the input lies outside Assumption 2",
    );
    assert!(e.msg.contains(A2_INPUT_READ), "{e}");
    // a state value as a position is input-dependent too
    refused(
        "\"prev = m[i - 1]\"",
        "\"prev = m[m[i - 1]]\"",
        "reads = ",
        SpecErrorKind::InputDependentRead,
        A2_INPUT_READ,
    );
}

#[test]
fn an_exponential_number_of_states_is_refused() {
    let e = refused(
        "for i in 1..=n { m[i] }",
        "for s in 0..2^n { m[s + 1] }",
        "order = ",
        SpecErrorKind::NotPolynomial,
        A2_POLY,
    );
    assert!(e.msg.contains("exponential"), "{e}");
}

#[test]
fn syntax_and_schema_errors_name_the_line_and_column() {
    let e = refused(
        "max(prev, x)",
        "max(prev, x",
        "value = ",
        SpecErrorKind::Syntax,
        "expected",
    );
    // the column points past the quote at the end of the expression
    let text = GOOD.replacen("max(prev, x)", "max(prev, x", 1);
    let line = text.lines().nth(e.line - 1).unwrap();
    assert_eq!(
        e.col,
        line.find("max").unwrap() + 1 + "max(prev, x".len(),
        "{e}"
    );
    let e = load(&GOOD.replacen("alphabet = 4", "alphabet = 4\ncolour = 3", 1)).unwrap_err();
    assert_eq!(e.kind, SpecErrorKind::Schema);
    assert_eq!(e.line, line_of(GOOD, "alphabet") + 1, "{e}");
    let e = load(&GOOD.replacen("m[n]", "m[n + 1]", 1)).unwrap_err();
    assert_eq!(e.kind, SpecErrorKind::MissingState, "{e}");
    let e = load(&GOOD.replacen("prev = m[i - 1]", "prev = k[i - 1]", 1)).unwrap_err();
    assert_eq!(e.kind, SpecErrorKind::Schema, "{e}");
}

fn write_spec(name: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("{name}-{}.toml", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_user_spec_builds_decodes_and_checks_through_the_cli() {
    let path = write_spec("prefix-max", GOOD);
    let (code, out, err) = common::run(&[
        "dp",
        "--spec",
        path.to_str().unwrap(),
        "--param",
        "n=6",
        "--input",
        "0,2,1,3,0,1",
        "--show-cot",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CoT       0 2 2 3 3 3 SEP 3"), "{out}");
    assert!(out.contains("exact: every token equals"), "{out}");
    for memory in ["position", "attention"] {
        let (code, _, err) = common::run(&[
            "dp",
            "--spec",
            path.to_str().unwrap(),
            "--memory",
            memory,
            "--activation",
            "gelu",
        ]);
        assert_eq!(code, 0, "{memory}: {err}");
    }
    let bad = write_spec(
        "prefix-max-bad",
        &GOOD.replacen("max(prev, x)", "prev * x", 1),
    );
    let (code, _, err) = common::run(&["dp", "--spec", bad.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!("{}:{}:", bad.display(), line_of(GOOD, "value = "))),
        "{err}"
    );
    assert!(
        err.contains("multiplies two values") && !err.contains("panicked"),
        "{err}"
    );
    let (code, out, _) = common::run(&["dp", "--list"]);
    assert_eq!(code, 0);
    for id in freelunch::dp::catalog::names().unwrap() {
        assert!(out.contains(&id), "{id} missing from --list");
    }
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(bad);
}

#[test]
fn parameters_outside_their_range_or_unknown_are_refused() {
    let spec = Spec::load("user.toml", GOOD).unwrap();
    let e = spec
        .instance(&[("n".into(), freelunch::dp::Val::Int(0))])
        .unwrap_err();
    assert_eq!(e.kind, SpecErrorKind::Param);
    assert!(e.msg.contains("must be in 1..=100 (got 0)"), "{e}");
    let e = spec
        .instance(&[("k".into(), freelunch::dp::Val::Int(1))])
        .unwrap_err();
    assert!(e.msg.contains("has no parameter `k`"), "{e}");
    let e = spec
        .instance(&[("n".into(), freelunch::dp::Val::Int(30_000))])
        .unwrap_err();
    assert_eq!(e.kind, SpecErrorKind::Param, "{e}");
}
