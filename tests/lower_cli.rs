//! `freelunch lower` on bad input: one sentence and exit code 2, nothing written.

mod common;

use common::run;

fn export(name: &str) -> std::path::PathBuf {
    let f = std::env::temp_dir().join(format!(
        "freelunch-lower-cli-{name}-{}.json",
        std::process::id()
    ));
    let (code, _, err) = run(&["dp", "linrec", "--n", "6", "--export", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    f
}

#[test]
fn bad_lowering_requests_get_one_sentence() {
    let f = export("bad");
    let model = f.to_str().unwrap();
    let dir = std::env::temp_dir().join(format!("freelunch-lower-cli-out-{}", std::process::id()));
    let d = dir.to_str().unwrap();
    for (args, says) in [
        (vec!["lower", model, d, "--lambda", "0"], "must be positive"),
        (vec!["lower", model, d, "--lambda", "NaN"], "finite"),
        (vec!["lower", model, d, "--shift", "-3"], "must be positive"),
        (vec!["lower", model, d, "--eps-log2", "7"], "even"),
        (vec!["lower", model, d, "--eps-log2", "200"], "126"),
        (vec!["lower", "/nonexistent/model.json", d], "cannot read"),
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: one sentence, got {err}"
        );
        assert!(!dir.exists(), "{args:?} wrote {d}");
    }
    // A closed set: clap names the value and the possible ones.
    let (code, _, err) = run(&["lower", model, d, "--act", "tanh"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("'tanh'") && err.contains("possible values: auto, silu, relu, gelu"),
        "{err}"
    );
    let _ = std::fs::remove_file(&f);
}

#[test]
fn a_checkpoint_directory_that_is_a_file_is_refused() {
    let f = export("file");
    let (code, _, err) = run(&["lower", f.to_str().unwrap(), f.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot create"), "{err}");
    let _ = std::fs::remove_file(&f);
}
