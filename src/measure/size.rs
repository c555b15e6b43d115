//! State and size measures of a built model.

use crate::model::Model;
use crate::num::Scalar;
use serde::Serialize;

/// What the size theorems count, measured on a built model.
#[derive(Clone, Debug, Serialize)]
pub struct SizeMeasure {
    /// Σ over SSM layers of channels × state.
    pub state: usize,
    pub max_abs_param: f64,
    /// Largest |weight| of the layers (SSM, MLP, attention), without the embedding and readout.
    pub layers_max_abs_param: f64,
    pub nonzeros: usize,
    /// Operations per token at position `t` (the measure's `at`).
    pub ops_per_token: u64,
}

impl SizeMeasure {
    /// The model's sizes, with its operations per token at position `at`.
    pub fn of<S: Scalar>(model: &Model<S>, at: usize) -> Self {
        let size = model.size();
        SizeMeasure {
            state: size.ssm_state,
            max_abs_param: size.max_abs_param,
            layers_max_abs_param: model
                .layers
                .iter()
                .map(|l| l.max_abs_param())
                .fold(0.0, f64::max),
            nonzeros: size.nonzero_params,
            ops_per_token: model.ops_at(at),
        }
    }
}
