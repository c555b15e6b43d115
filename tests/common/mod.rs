//! Helpers shared by the integration tests (each test crate uses some of them).
#![allow(dead_code)]

use freelunch::dp::DpProblem;
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
