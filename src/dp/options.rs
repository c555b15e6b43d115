//! The compiler's options and limits: which memory, which activation, and the constants every
//! stage shares. A leaf module: the stages and the compiler import it, it imports neither.

use crate::error::{Error, Result};
use crate::model::Activation;
use serde::Serialize;

/// Largest T the position-key memory is built for (its state and decoder grow as T per port).
pub const MAX_POSITION_MEMORY_T: usize = 4_000;
/// Largest number of slots of a selective-slot memory.
pub const MAX_SLOTS: usize = 4_000;
/// The accuracy asked of every memory: `|read_raw − value| ≤ 1/16`, inside the `1/8` that the
/// rounding stage and the smooth-unit analysis need.
pub const MEMORY_ACCURACY: f64 = 0.0625;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum MemoryKind {
    Slot,
    Position,
    Attention,
}

impl MemoryKind {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "slot" => Ok(MemoryKind::Slot),
            "position" => Ok(MemoryKind::Position),
            "attention" => Ok(MemoryKind::Attention),
            _ => Err(Error::input(format!(
                "unknown memory `{s}` (expected slot, position or attention)"
            ))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            MemoryKind::Slot => "slot",
            MemoryKind::Position => "position",
            MemoryKind::Attention => "attention",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub memory: MemoryKind,
    /// Slot count for the selective-slot memory (default: the dependency distance m).
    pub slots: Option<usize>,
    pub activation: Activation,
    /// λ of `φ(λz)/λ` for GeLU/SiLU (default: [`prescribed_lambda`]).
    pub lambda: Option<f64>,
    /// Override the memory's parameters (tests of the hypotheses): slot `(Δ_write target, K0)`
    /// (`K = K0 + Δ_write target`), attention `(λ_attn, unused)`.
    pub memory_override: Option<(f64, f64)>,
}

impl Options {
    pub fn new(memory: MemoryKind, activation: Activation) -> Self {
        Options {
            memory,
            slots: None,
            activation,
            lambda: None,
            memory_override: None,
        }
    }
}
