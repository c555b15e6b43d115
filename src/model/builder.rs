//! Builders that assemble layers from named pieces, so gadgets compose inside one layer.

use super::mlp::{Activation, MlpLayer};
use super::sparse::SparseMatrix;
use crate::num::{zeros, Scalar};

/// Assembles one MLP layer from hidden units that gadgets add side by side.
/// A unit reads `Σ w·x[coord] + bias`, applies the activation, and writes `Σ w·unit` into
/// residual coordinates.
#[derive(Clone, Debug)]
pub struct MlpBuilder<S> {
    width: usize,
    prec: u32,
    names: Vec<String>,
    w1: Vec<(usize, usize, S)>,
    b1: Vec<S>,
    w2: Vec<(usize, usize, S)>,
    b2: Vec<S>,
}

impl<S: Scalar> MlpBuilder<S> {
    /// A builder for a residual stream of `width` coordinates.
    pub fn new(width: usize, prec: u32) -> Self {
        MlpBuilder {
            width,
            prec,
            names: Vec::new(),
            w1: Vec::new(),
            b1: Vec::new(),
            w2: Vec::new(),
            b2: zeros(width, prec),
        }
    }
    pub fn prec(&self) -> u32 {
        self.prec
    }
    pub fn width(&self) -> usize {
        self.width
    }
    pub fn hidden(&self) -> usize {
        self.names.len()
    }
    /// Add a hidden unit reading `Σ w·x[coord] + bias`; returns its index.
    pub fn unit(&mut self, name: impl Into<String>, inputs: Vec<(usize, S)>, bias: S) -> usize {
        let u = self.names.len();
        self.names.push(name.into());
        for (c, w) in inputs {
            assert!(
                c < self.width,
                "unit reads coordinate {c} outside the residual stream"
            );
            self.w1.push((u, c, w));
        }
        self.b1.push(bias);
        u
    }
    /// Add `weight · unit` to residual coordinate `coord`.
    pub fn write(&mut self, unit: usize, coord: usize, weight: S) {
        assert!(coord < self.width && unit < self.names.len());
        if let Some(e) = self.w2.iter_mut().find(|e| e.0 == coord && e.1 == unit) {
            e.2.add_assign_s(&weight);
        } else {
            self.w2.push((coord, unit, weight));
        }
    }
    /// Add a constant to residual coordinate `coord`.
    pub fn write_bias(&mut self, coord: usize, value: S) {
        self.b2[coord].add_assign_s(&value);
    }
    pub fn build(self, name: impl Into<String>, act: Activation) -> MlpLayer<S> {
        let h = self.names.len();
        MlpLayer {
            name: name.into(),
            hidden_names: self.names,
            w1: SparseMatrix::from_entries(h, self.width, self.w1),
            b1: self.b1,
            act,
            w2: SparseMatrix::from_entries(self.width, h, self.w2),
            b2: self.b2,
        }
    }
}
