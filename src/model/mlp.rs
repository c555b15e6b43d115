//! MLP layer `x <- x + W_2 φ(W_1 x + b_1) + b_2`.

use super::sparse::SparseMatrix;
use crate::num::{zeros, Scalar};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    Relu,
    /// Exact GeLU `x·Φ(x)`.
    Gelu,
    Silu,
}

impl Activation {
    pub fn apply<S: Scalar>(self, x: &mut S) {
        match self {
            Activation::Relu => x.relu_mut(),
            Activation::Gelu => x.gelu_mut(),
            Activation::Silu => x.silu_mut(),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Gelu => "gelu",
            Activation::Silu => "silu",
        }
    }
    pub fn parse(s: &str) -> crate::error::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "relu" => Ok(Activation::Relu),
            "gelu" => Ok(Activation::Gelu),
            "silu" => Ok(Activation::Silu),
            _ => Err(crate::error::Error::input(format!(
                "unknown activation `{s}` (expected relu, gelu or silu)"
            ))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct MlpLayer<S> {
    pub name: String,
    /// Names of the hidden units (for summaries and export).
    pub hidden_names: Vec<String>,
    pub w1: SparseMatrix<S>,
    pub b1: Vec<S>,
    pub act: Activation,
    pub w2: SparseMatrix<S>,
    pub b2: Vec<S>,
}

#[derive(Clone, Debug)]
pub struct MlpState<S> {
    pub hidden: Vec<S>,
}

impl<S: Scalar> MlpLayer<S> {
    pub fn hidden_width(&self) -> usize {
        self.w1.rows
    }
    pub fn new_state(&self, prec: u32) -> MlpState<S> {
        MlpState {
            hidden: zeros(self.hidden_width(), prec),
        }
    }
    /// `x <- x + W_2 φ(W_1 x + b_1) + b_2`, in place.
    pub fn step(&self, st: &mut MlpState<S>, x: &mut [S]) {
        self.w1.mul_vec_into(x, &mut st.hidden);
        for (h, b) in st.hidden.iter_mut().zip(&self.b1) {
            h.add_assign_s(b);
            self.act.apply(h);
        }
        self.w2.mul_vec_add_into(&st.hidden, x);
        for (xi, b) in x.iter_mut().zip(&self.b2) {
            if !b.is_zero() {
                xi.add_assign_s(b);
            }
        }
    }
    pub fn nonzeros(&self) -> usize {
        let nz = |v: &[S]| v.iter().filter(|x| !x.is_zero()).count();
        self.w1.nnz() + nz(&self.b1) + self.w2.nnz() + nz(&self.b2)
    }
    pub fn max_abs_param(&self) -> f64 {
        let m = |v: &[S]| {
            v.iter()
                .map(|x| crate::num::abs_or_inf(x.to_f64()))
                .fold(0.0, f64::max)
        };
        self.w1
            .max_abs()
            .max(m(&self.b1))
            .max(self.w2.max_abs())
            .max(m(&self.b2))
    }
    pub fn ops_per_step(&self) -> u64 {
        let nz = |v: &[S]| v.iter().filter(|x| !x.is_zero()).count() as u64;
        self.w1.ops() + 2 * self.hidden_width() as u64 + self.w2.ops() + nz(&self.b2)
    }
}
