//! Helpers shared by the integration tests (each test crate uses some of them).
#![allow(dead_code)]

pub mod hf;

use freelunch::dp::DpProblem;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Run the `freelunch` binary: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
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

/// Every input sequence of `p` (alphabet^n of them): for exhaustive checks on tiny instances.
pub fn all_inputs(p: &dyn DpProblem) -> Vec<Vec<usize>> {
    let (n, a) = (p.input_len(), p.alphabet());
    (0..a.pow(n as u32))
        .map(|mut k| {
            (0..n)
                .map(|_| {
                    let d = k % a;
                    k /= a;
                    d
                })
                .collect()
        })
        .collect()
}

/// A proptest runner with a fixed seed: every run checks the same cases.
pub fn runner(cases: u32) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

/// A fresh scratch directory `freelunch-{tag}-{pid}` in the temporary directory.
pub fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("freelunch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Index of the first layer of `kind` (`ssm`, `mlp`, `attention`) in an exported model.
pub fn layer_of_kind(v: &serde_json::Value, kind: &str) -> usize {
    v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .position(|l| l["kind"] == kind)
        .unwrap_or_else(|| panic!("the model has no {kind} layer"))
}

/// Every catalog problem at a small size (3), the ones listed in `original` at their sizes.
pub fn catalog_cases(original: &[(&str, usize)]) -> Vec<(String, usize)> {
    freelunch::dp::catalog::names()
        .expect("catalog")
        .into_iter()
        .map(|id| {
            let n = original
                .iter()
                .find(|(o, _)| *o == id)
                .map_or(3, |&(_, n)| n);
            (id, n)
        })
        .collect()
}
