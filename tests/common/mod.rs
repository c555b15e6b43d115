//! Helpers shared by the DP integration tests.

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
