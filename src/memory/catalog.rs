//! The memory catalog: every memory kind once, with its names, what it is usable for, and the
//! one factory that builds it. The COPY builder ([`crate::copy::linear`]) and the DP compiler
//! ([`crate::dp::stages::memory_for`]) both build their memory here.
//!
//! Adding a memory: its file in `src/memory/` (an implementation of [`Memory`] with a
//! `from_params` constructor that checks its own hypotheses), then here a variant of
//! [`MemoryKind`], its [`MemoryEntry`] in [`CATALOG`] and its arm in [`MemoryKind::build`].
//! The claims that sweep every memory take their kinds from [`MemoryKind::usable_for`].

use super::{AttentionMemory, KeyDecay, Memory, PositionKeyMemory, QueryFeed, SlotMemory};
use crate::error::{Error, Result};
use crate::num::Scalar;
use serde::Serialize;

/// A memory kind: one variant per [`CATALOG`] entry, in the catalog's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum MemoryKind {
    /// Position keys, `a = 1` (copy-linear construction 1).
    Position,
    /// Position keys, `a = 1 − η`, `η = ε/(σ·steps)`.
    PositionEta,
    /// Selective slots, Δ as write gate (copy-linear construction 2).
    Slot,
    /// One softmax head per read port (the Transformer baseline).
    Attention,
}

/// Where a memory is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// The COPY models of `copy-linear` (and the claims that sweep them).
    Copy,
    /// The DP compiler (and the claims that sweep it).
    Dp,
}

/// What a memory's size parameter (`capacity` in COPY) counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capacity {
    /// Keyed positions: positions beyond it are not written.
    Positions,
    /// Slots: every position is written, a slot keeps the last write.
    Slots,
    /// No size parameter.
    Unbounded,
}

/// One catalog entry.
#[derive(Clone, Copy, Debug)]
pub struct MemoryEntry {
    pub kind: MemoryKind,
    /// The CLI name (`--memory`) and the DP reports' name.
    pub name: &'static str,
    /// The COPY reports' label (and COPY model names).
    pub label: &'static str,
    /// The id in COPY random-stream names and cache keys: it fixes the prompts, so never change it.
    pub stream_id: &'static str,
    /// The file in `src/memory/` implementing it (also what [`Memory::kind`] returns).
    pub module: &'static str,
    pub description: &'static str,
    pub capacity: Capacity,
    /// Its place among the COPY memories in sweeps and reports (`None`: not a COPY memory).
    pub copy: Option<u8>,
    /// Its place among the DP memories in sweeps and reports (`None`: not a DP memory).
    pub dp: Option<u8>,
}

/// Every memory kind, once, in [`MemoryKind`]'s order.
pub const CATALOG: &[MemoryEntry] = &[
    MemoryEntry {
        kind: MemoryKind::Position,
        name: "position",
        label: "position-key a=1",
        stream_id: "PositionKey",
        module: "position",
        description: "one-hot position keys, state T per read port, no forgetting (A = 0)",
        capacity: Capacity::Positions,
        copy: Some(0),
        dp: Some(1),
    },
    MemoryEntry {
        kind: MemoryKind::PositionEta,
        name: "position-eta",
        label: "position-key a=1-η",
        stream_id: "PositionKeyEta",
        module: "position",
        description:
            "one-hot position keys with decay a = 1 − η, η = ε/(σ·steps) (the reference's A < 0)",
        capacity: Capacity::Positions,
        copy: Some(1),
        dp: None,
    },
    MemoryEntry {
        kind: MemoryKind::Slot,
        name: "slot",
        label: "selective-slot",
        stream_id: "Slot",
        module: "slot",
        description:
            "m SSM channels with N = 1, Δ as write gate, an MLP selecting the queried slot",
        capacity: Capacity::Slots,
        copy: Some(2),
        dp: Some(0),
    },
    MemoryEntry {
        kind: MemoryKind::Attention,
        name: "attention",
        label: "attention",
        stream_id: "Attention",
        module: "attention",
        description: "one softmax head per read port, scores −λ(j − p)² (the Transformer baseline)",
        capacity: Capacity::Unbounded,
        copy: None,
        dp: Some(2),
    },
];

// Each variant indexes its own entry.
const _: () = {
    let mut i = 0;
    while i < CATALOG.len() {
        assert!(
            CATALOG[i].kind as usize == i,
            "CATALOG is out of MemoryKind's order"
        );
        i += 1;
    }
};

/// What a memory is built for: the facts its factory needs beside the kind.
#[derive(Clone, Debug)]
pub struct MemoryParams {
    /// Prefix of the memory's subspaces and layers.
    pub name: &'static str,
    pub feed: QueryFeed,
    /// Positions written (T).
    pub len: usize,
    /// Slots of a slot memory (default: `distance`).
    pub slots: Option<usize>,
    /// Dependency distance every read spans, checked before planning (0: each read is checked
    /// when the memory is planned).
    pub distance: usize,
    /// Steps a value must survive (sets a decay η).
    pub horizon: usize,
    /// σ, the largest stored value.
    pub value_bound: f64,
    /// ε, the accuracy asked of a read.
    pub accuracy: f64,
    /// Parameter overrides (tests of the hypotheses): slot `(Δ_write target, K0)`
    /// (`K = K0 + Δ_write target`), attention `(λ_attn, unused)`; ignored by position keys.
    pub overrides: Option<(f64, f64)>,
    /// What the memory is for, named in error messages (e.g. the DP problem).
    pub context: String,
}

impl MemoryKind {
    /// Every kind, in catalog order.
    pub fn all() -> impl Iterator<Item = MemoryKind> {
        CATALOG.iter().map(|e| e.kind)
    }

    /// The kinds usable for `u`, in their order for `u`.
    pub fn usable_for(u: Use) -> Vec<MemoryKind> {
        let mut kinds: Vec<MemoryKind> = MemoryKind::all().filter(|k| k.usable(u)).collect();
        kinds.sort_by_key(|k| k.rank(u));
        kinds
    }

    /// Its place among the memories usable for `u` (`None`: not usable).
    pub fn rank(self, u: Use) -> Option<u8> {
        match u {
            Use::Copy => self.entry().copy,
            Use::Dp => self.entry().dp,
        }
    }

    pub fn entry(self) -> &'static MemoryEntry {
        &CATALOG[self as usize]
    }

    /// The CLI name.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// The COPY label.
    pub fn label(self) -> &'static str {
        self.entry().label
    }

    /// The id in COPY random-stream names.
    pub fn stream_id(self) -> &'static str {
        self.entry().stream_id
    }

    pub fn usable(self, u: Use) -> bool {
        self.rank(u).is_some()
    }

    /// The kind named `s` (its CLI name).
    pub fn parse(s: &str) -> Result<Self> {
        MemoryKind::all().find(|k| k.name() == s).ok_or_else(|| {
            Error::input(format!(
                "unknown memory `{s}` (expected {})",
                names(MemoryKind::all())
            ))
        })
    }

    /// Refuse a kind not usable for `u`, naming the ones that are.
    pub fn require(self, u: Use) -> Result<()> {
        if self.usable(u) {
            return Ok(());
        }
        let what = match u {
            Use::Copy => "a COPY model",
            Use::Dp => "the DP compiler",
        };
        Err(Error::input(format!(
            "the {} memory is not available to {what}, which takes {}",
            self.name(),
            names(MemoryKind::usable_for(u).into_iter())
        )))
    }

    /// The one factory: the memory of this kind for `u`, after its hypotheses checks.
    pub fn build<S: Scalar>(self, u: Use, p: &MemoryParams) -> Result<Box<dyn Memory<S>>> {
        self.require(u)?;
        Ok(match self {
            MemoryKind::Position => Box::new(PositionKeyMemory::from_params(p, KeyDecay::None)?),
            MemoryKind::PositionEta => {
                let eta = p.accuracy / (p.value_bound * p.horizon as f64);
                Box::new(PositionKeyMemory::from_params(p, KeyDecay::Eta(eta))?)
            }
            MemoryKind::Slot => Box::new(SlotMemory::from_params(p)?),
            MemoryKind::Attention => Box::new(AttentionMemory::from_params(p)),
        })
    }
}

impl Capacity {
    /// Positions written by a memory of size `capacity` over a prompt of `length`.
    pub fn written(self, capacity: usize, length: usize) -> usize {
        match self {
            Capacity::Positions => capacity.min(length),
            Capacity::Slots | Capacity::Unbounded => length,
        }
    }
}

/// `a, b or c`.
fn names(kinds: impl Iterator<Item = MemoryKind>) -> String {
    let names: Vec<&str> = kinds.map(|k| k.name()).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
    }
}
