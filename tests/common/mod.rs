//! Helpers shared by the integration tests (each test crate uses some of them).
#![allow(dead_code)]

use freelunch::dp::DpProblem;

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
