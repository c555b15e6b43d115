//! The compiler's options and limits: which memory, which activation, and the constants every
//! stage shares. A leaf module: the stages and the compiler import it, it imports neither.

use crate::model::Activation;

/// The memory kinds and their limits live in the memory catalog ([`crate::memory::catalog`]).
pub use crate::memory::{MemoryKind, MAX_POSITION_MEMORY_T, MAX_SLOTS};

/// The accuracy asked of every memory: `|read_raw − value| ≤ 1/16`, inside the `1/8` that the
/// rounding stage and the smooth-unit analysis need.
pub const MEMORY_ACCURACY: f64 = 0.0625;

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
