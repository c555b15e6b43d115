//! The MLP and gate lemmas (proofs/README.md), once: every ReLU-type gadget is a function adding
//! named units to a [`Circuit`] (the composition layer, [`circuit`]), with its proved error bound.
//! The lemma claims build their standalone layers from these functions (`add_*` emit a circuit
//! into an [`MlpBuilder`](crate::model::MlpBuilder), so gadgets compose inside one layer); the DP
//! compiler and the COPY memories lay the same circuits out as MLP layers.
//!
//! | gadget | circuit function | lemma / bound |
//! |---|---|---|
//! | ReLU unit | [`Circuit::relu`], realised by [`ReluUnit`] | `mlp-relu`, [`relu::error_beyond`] |
//! | select, gate `f·x` | [`Circuit::select`], [`Circuit::gate`] | `mlp-select`, [`select::error_bound`] |
//! | indicator, one-hot, table | [`Circuit::indicator`], [`Circuit::one_hot`], [`Circuit::table`], [`Circuit::onehot_table`] | `mlp-lookup`, [`lookup::error_bound`] |
//! | round | [`Circuit::round`] | [`round::round_error_bound`] |
//! | step, compare, ≠, min, max, mod | [`compare`] | exact on integers; [`Circuit::sink_error_bounds`] |
//! | product `ab` (GeLU) | [`mul::add_mul`] | `mlp-mul` |
//! | gated product (SSM) | [`GateMul`] | `gate-mul` |
//!
//! Conventions shared by every builder:
//! - inputs and outputs are typed residual coordinates ([`Coord`](crate::model::Coord) from a
//!   [`Layout`](crate::model::Layout)); a gadget *adds* its value to its output coordinate (the
//!   MLP is residual), so the output must hold 0 beforehand to read the value;
//! - ReLU-type units go through [`relu::ReluUnit`], which realises `ReLU(v)` exactly or as
//!   `φ(λv)/λ` for a smooth activation φ (GeLU, SiLU), with the error of `mlp-relu`;
//! - bad arguments are `Error::input`, never a panic.

pub mod circuit;
pub mod compare;
pub mod gate;
pub mod lookup;
pub mod lookup_problems;
pub mod mul;
pub mod relu;
pub mod round;
pub mod select;

use crate::error::{Error, Result};
use crate::model::{Activation, MlpBuilder, MlpLayer};
use crate::num::{zeros, Scalar};

pub use circuit::{Circuit, Lin};
pub use gate::GateMul;
pub use relu::{sup_constant, ReluUnit, SupConstant};

/// Check that every coordinate fits the builder's residual stream.
pub(crate) fn check_coords<S: Scalar>(
    b: &MlpBuilder<S>,
    what: &str,
    coords: &[usize],
) -> Result<()> {
    for &c in coords {
        if c >= b.width() {
            return Err(Error::input(format!(
                "{what}: coordinate {c} is outside the residual stream of width {}",
                b.width()
            )));
        }
    }
    Ok(())
}

/// Reject an output coordinate that is also an input: a gadget *adds* its value to its output,
/// so `out == a` would silently leave `a + value` there.
pub(crate) fn check_out_not_input(what: &str, outs: &[usize], inputs: &[usize]) -> Result<()> {
    if let Some(o) = outs.iter().find(|o| inputs.contains(o)) {
        return Err(Error::input(format!(
            "{what}'s output coordinate {o} must differ from its inputs"
        )));
    }
    Ok(())
}

/// Reject a non-finite or non-positive scale.
pub(crate) fn check_positive<S: Scalar>(what: &str, v: &S) -> Result<()> {
    if !v.is_finite() || v.is_sign_negative() || v.is_zero() {
        return Err(Error::input(format!(
            "{what} must be a positive finite number (got {})",
            v.to_f64()
        )));
    }
    Ok(())
}

/// Run one MLP layer on a residual vector and return the new residual vector.
pub fn eval_mlp<S: Scalar>(layer: &MlpLayer<S>, x: &[S], prec: u32) -> Vec<S> {
    let mut st = layer.new_state(prec);
    let mut v = x.to_vec();
    layer.step(&mut st, &mut v);
    v
}

/// A residual vector of `width` zeros with the given coordinates set.
pub fn residual<S: Scalar>(width: usize, prec: u32, values: &[(usize, S)]) -> Vec<S> {
    let mut x: Vec<S> = zeros(width, prec);
    for (c, v) in values {
        x[*c].set(v);
    }
    x
}

/// The activation's name as used in labels.
pub fn act_name(act: Activation) -> &'static str {
    act.name()
}
