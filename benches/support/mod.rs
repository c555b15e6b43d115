//! Helpers shared by the bench binaries.

use freelunch::model::ssm::{SsmLayer, StepInputs};
use freelunch::num::Scalar;
use std::time::Instant;

/// Fastest of `reps` runs after one warm-up: the minimum is the least disturbed by other load
/// on the machine, and the scan and its floor are measured the same way.
pub fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Project raw residual inputs once, outside the timed region.
pub fn inputs<S: Scalar>(layer: &SsmLayer<S>, xs: &[Vec<f64>], prec: u32) -> Vec<StepInputs<S>> {
    xs.iter()
        .map(|x| {
            let v: Vec<S> = x.iter().map(|&a| S::from_f64(a, prec)).collect();
            layer.project(&v, prec)
        })
        .collect()
}
