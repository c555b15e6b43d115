//! Random selective SSM layers and inputs: the instances `scan-unroll` and its certified runs
//! check (seeded, so every run is reproducible).

use crate::model::ssm::SsmLayer;
use crate::model::SparseMatrix;
use crate::num::Scalar;
use crate::rng::Rng;
use serde::Serialize;

/// Which `A` a random layer gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DecayChoice {
    /// Mamba-1 initialisation `A[d,n] = −(n+1)` (integer structure: powers of one exp).
    Mamba1,
    /// One random decay rate per channel, `A[d,n] = −λ_d`.
    Scalar,
    /// Independent random `A[d,n]` (one exp per state).
    General,
}

/// A random SSM layer (f64 weights, so the same layer exists exactly at every precision ≥ 53).
#[derive(Clone, Debug)]
pub struct RandomSsm {
    pub width: usize,
    pub channels: usize,
    pub state: usize,
    w_delta: Vec<f64>,
    b_delta: Vec<f64>,
    w_b: Vec<f64>,
    w_c: Vec<f64>,
    w_u: Vec<f64>,
    a: Vec<f64>,
    d_skip: Vec<f64>,
}

fn dense<S: Scalar>(rows: usize, cols: usize, v: &[f64], prec: u32) -> SparseMatrix<S> {
    let e = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (r, c)))
        .map(|(r, c)| (r, c, S::from_f64(v[r * cols + c], prec)))
        .collect();
    SparseMatrix::from_entries(rows, cols, e)
}

impl RandomSsm {
    pub fn new(
        rng: &mut Rng,
        width: usize,
        channels: usize,
        state: usize,
        decay: DecayChoice,
    ) -> Self {
        let mut u =
            |n: usize, lo: f64, hi: f64| (0..n).map(|_| rng.uniform(lo, hi)).collect::<Vec<_>>();
        let w_delta = u(channels * width, -0.5, 0.5);
        let b_delta = u(channels, -1.0, 0.5);
        let w_b = u(state * width, -1.0, 1.0);
        let w_c = u(state * width, -1.0, 1.0);
        let w_u = u(channels * width, -1.0, 1.0);
        let d_skip = u(channels, -1.0, 1.0);
        let rates = u(channels * state, 0.05, 2.0);
        let a = (0..channels * state)
            .map(|i| match decay {
                DecayChoice::Mamba1 => -((i % state) as f64 + 1.0),
                DecayChoice::Scalar => -rates[(i / state) * state],
                DecayChoice::General => -rates[i],
            })
            .collect();
        RandomSsm {
            width,
            channels,
            state,
            w_delta,
            b_delta,
            w_b,
            w_c,
            w_u,
            a,
            d_skip,
        }
    }

    pub fn build<S: Scalar>(&self, prec: u32) -> SsmLayer<S> {
        let v = |x: &[f64]| x.iter().map(|&y| S::from_f64(y, prec)).collect::<Vec<S>>();
        let a = v(&self.a);
        let decay = SsmLayer::detect_decay(&a, self.channels, self.state);
        SsmLayer {
            name: "random-ssm".into(),
            width: self.width,
            channels: self.channels,
            state: self.state,
            w_delta: dense(self.channels, self.width, &self.w_delta, prec),
            b_delta: v(&self.b_delta),
            w_b: dense(self.state, self.width, &self.w_b, prec),
            w_c: dense(self.state, self.width, &self.w_c, prec),
            w_u: dense(self.channels, self.width, &self.w_u, prec),
            a,
            d_skip: v(&self.d_skip),
            gate: None,
            w_o: SparseMatrix::zeros(self.width, self.channels),
            decay,
        }
    }
}

/// Random residual-stream inputs in `[-1, 1]^W`.
pub fn random_inputs(rng: &mut Rng, len: usize, width: usize) -> Vec<Vec<f64>> {
    (0..len)
        .map(|_| (0..width).map(|_| rng.uniform(-1.0, 1.0)).collect())
        .collect()
}
