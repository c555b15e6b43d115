//! One memory abstraction (proofs/copy-linear.md, proofs/dp-general.md): a [`Memory`] stores the
//! value of every token and answers, at each fed position, one read per port. It owns its layout
//! subspaces, its positional features, its layers and its stated error bound. The COPY models
//! ([`crate::copy::linear`]) and the DP compiler ([`crate::dp::compile`]) build every memory
//! through this trait, from the one list of kinds and factory in [`catalog`]; adding a memory is
//! one implementation plus its catalog entry.
//!
//! Two phases, because a layer's matrices need the final residual width:
//! 1. [`Memory::plan`] registers the memory's named subspaces and positional features in a
//!    [`Layout`] and its ReLU circuits (query decode, slot select);
//! 2. [`Memory::layers`] returns its layers once the layout is complete and the unit (ReLU or
//!    `φ(λz)/λ`) is chosen.
//!
//! Implementations:
//! - [`SlotMemory`]: selective slots, Δ as write gate (`copy-linear` construction 2);
//! - [`PositionKeyMemory`]: one-hot position keys, state T per port (`copy-linear` construction 1);
//! - [`AttentionMemory`]: one softmax head per port, scores `−λ(j − p)²` (`copy-attn`'s keys).
//!
//! Queries of the one-hot memories come as a one-hot block per port, fed either straight from
//! positional features ([`QueryFeed::Positional`]: exact at any precision) or decoded from an
//! integer pointer feature by the `mlp-lookup` one-hot gadget ([`QueryFeed::Decoded`]).

pub mod attention;
pub mod catalog;
pub mod position;
pub mod slot;

pub use attention::{quadratic_head, AttentionMemory, AttentionParams, QuadraticKeys};
pub use catalog::{Capacity, MemoryEntry, MemoryKind, MemoryParams, Use, CATALOG};
pub use position::{KeyDecay, PositionKeyMemory, MAX_POSITION_MEMORY_T};
pub use slot::{SlotMemory, SlotParams, MAX_SLOTS};

use crate::error::{Error, Result};
use crate::gadgets::relu::ReluUnit;
use crate::gadgets::{Circuit, Lin};
use crate::model::{Activation, Block, Coord, Layer, Layout, PosKind, PositionalFeature};
use crate::num::{Ball, Scalar};

/// Which position each read port reads at each fed position.
#[derive(Clone, Debug)]
pub struct ReadPlan {
    /// Positions `1..=len` are written (a later position writes nothing).
    pub len: usize,
    /// `targets[t − 1][r]`: the position port `r` reads while position `t` is fed (`None`: none).
    pub targets: Vec<Vec<Option<usize>>>,
    pub ports: usize,
}

impl ReadPlan {
    /// Check every read: `1 ≤ p ≤ min(t, len)`.
    pub fn new(ports: usize, len: usize, targets: Vec<Vec<Option<usize>>>) -> Result<Self> {
        if ports == 0 || len == 0 {
            return Err(Error::input(
                "a memory needs at least one read port and one written position",
            ));
        }
        for (i, row) in targets.iter().enumerate() {
            let t = i + 1;
            if row.len() != ports {
                return Err(Error::compute(format!(
                    "position {t} lists {} reads for {ports} ports",
                    row.len()
                )));
            }
            for &p in row.iter().flatten() {
                if p == 0 || p > len {
                    return Err(Error::input(format!(
                        "target position {p} is outside the memorised positions 1..={len}"
                    )));
                }
                if p > t {
                    return Err(Error::input(format!(
                        "the query at position {t} asks for position {p}, which comes later"
                    )));
                }
            }
        }
        Ok(ReadPlan {
            len,
            targets,
            ports,
        })
    }

    /// Every read `(t, port, p)`.
    pub fn reads(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.targets.iter().enumerate().flat_map(|(i, row)| {
            row.iter()
                .enumerate()
                .filter_map(move |(r, p)| p.map(|p| (i + 1, r, p)))
        })
    }

    /// Largest `t − p` over the reads (the steps a value must survive).
    pub fn max_distance(&self) -> usize {
        self.reads().map(|(t, _, p)| t - p).max().unwrap_or(0)
    }
}

/// What a memory reads and writes in the residual stream, and the accuracy asked of it.
#[derive(Clone, Debug)]
pub struct MemoryIo {
    /// The value stored at each position (`|value| ≤ value_bound`, values ≥ 0).
    pub value: Coord,
    /// A constant-1 coordinate.
    pub one: Coord,
    /// One coordinate per read port, receiving the read (it must hold 0 before).
    pub read: Block,
    /// σ: the largest stored value.
    pub value_bound: f64,
    /// ε: the memory picks its parameters so that `|read − value| ≤ ε` in exact arithmetic.
    pub accuracy: f64,
}

/// How the one-hot query of a port is produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryFeed {
    /// One positional one-hot feature per read (no MLP; exact at every precision).
    Positional,
    /// An integer pointer feature per port, decoded by [`Circuit::one_hot`] (one MLP layer).
    Decoded,
}

/// The residual stream under construction: its named subspaces and its positional features.
pub struct Residual<'a> {
    pub layout: &'a mut Layout,
    pub positional: &'a mut Vec<PositionalFeature>,
}

/// A memory of the O(T) constructions (module docs).
pub trait Memory<S: Scalar>: Send + Sync {
    /// Its file in `src/memory/` (`slot`, `position`, `attention`; [`MemoryEntry::module`]).
    fn kind(&self) -> &'static str;
    /// Register subspaces, positional features and circuits for `plan`.
    fn plan(&mut self, res: &mut Residual, io: &MemoryIo, plan: &ReadPlan) -> Result<()>;
    /// The memory's ReLU circuits (for unit counts and the choice of λ).
    fn circuits(&self) -> Vec<&Circuit>;
    /// The layers, once the layout (of `width`) is complete.
    fn layers(&self, width: usize, unit: &ReluUnit<S>) -> Result<Vec<Layer<S>>>;
    /// Bound on `|read − value read|` in exact arithmetic, with units of `act` at `lambda`
    /// (∞ when a hypothesis of the bound fails).
    fn error_bound(&self, act: Activation, lambda: f64) -> f64;
    /// The same bound with exact ReLU units, evaluated by the same generic formula in ball
    /// arithmetic at `prec` bits: a certified enclosure of the exact-arithmetic bound (an error
    /// when a hypothesis of the bound fails).
    fn certified_error_bound(&self, prec: u32) -> Result<Ball>;
    /// Whether the bound is attained in exact arithmetic (a sharp bound: certified only with a
    /// stated slack).
    fn bound_attained(&self) -> bool {
        false
    }
    /// The memory's two scalar parameters for reports (slot `(K, K0)`, attention `(λ, 0)`).
    fn params(&self) -> (f64, f64);
    /// Recurrent state per layer summed (for reports); 0 for attention.
    fn state(&self) -> usize;
}

/// A one-hot query block per port over `size` indices, fed by positional features or decoded
/// from a pointer feature.
#[derive(Clone, Debug)]
pub struct OneHotQuery {
    pub blocks: Vec<Block>,
    /// The decoder (for [`QueryFeed::Decoded`]).
    pub decode: Option<Circuit>,
}

impl OneHotQuery {
    /// Register the query blocks `{name}_query{r}`; `index(p)` is the one-hot index of position p.
    pub fn plan(
        res: &mut Residual,
        name: &str,
        plan: &ReadPlan,
        size: usize,
        feed: QueryFeed,
        index: impl Fn(usize) -> usize,
    ) -> Result<OneHotQuery> {
        let (lay, positional) = (&mut *res.layout, &mut *res.positional);
        let blocks: Vec<Block> = (0..plan.ports)
            .map(|r| {
                lay.block(
                    &format!("{name}_query{r}"),
                    size,
                    "one-hot of the index port r reads",
                )
            })
            .collect();
        let decode = match feed {
            QueryFeed::Positional => {
                for (t, r, p) in plan.reads() {
                    positional.push(PositionalFeature {
                        coord: blocks[r].at(index(p)).index(),
                        kind: PosKind::Equals { at: t },
                    });
                }
                None
            }
            QueryFeed::Decoded => {
                let mut dec = Circuit::new();
                for (r, block) in blocks.iter().enumerate() {
                    let ptr = lay.coord(&format!("{name}_ptr{r}"), "index port r reads");
                    positional.push(PositionalFeature {
                        coord: ptr.index(),
                        kind: PosKind::Table {
                            values: (plan.targets.iter())
                                .map(|row| row[r].map_or(0, |p| index(p) as i64))
                                .collect(),
                        },
                    });
                    let x = dec.input(format!("ptr{r}"), ptr, 0.0, (size - 1) as f64);
                    let oh = dec.one_hot(&format!("{name}.decode{r}"), &x, 0, size as i64 - 1);
                    for (k, l) in oh.into_iter().enumerate() {
                        dec.sink(format!("{name}_query{r}[{k}]"), block.at(k), l)?;
                    }
                }
                Some(dec)
            }
        };
        Ok(OneHotQuery { blocks, decode })
    }

    /// Bound on every one-hot entry's error (0 with positional features or ReLU units).
    pub fn entry_error(&self, act: Activation, lambda: f64) -> f64 {
        match &self.decode {
            None => 0.0,
            Some(dec) => dec
                .sink_error_bounds(&vec![0.0; dec.inputs.len()], act, lambda)
                .map_or(f64::INFINITY, |e| e.into_iter().fold(0.0, f64::max)),
        }
    }

    /// The decoder's layer (if any).
    pub fn layers<S: Scalar>(
        &self,
        width: usize,
        unit: &ReluUnit<S>,
        name: &str,
    ) -> Result<Vec<Layer<S>>> {
        Ok(match &self.decode {
            None => Vec::new(),
            Some(dec) => dec
                .build_layers(width, &[], unit, &format!("{name}.decode"))?
                .into_iter()
                .map(Layer::Mlp)
                .collect(),
        })
    }
}

/// `Σ_k gate(x_k, f_k)`: the `mlp-select` gate of each input by its one-hot flag, summed
/// (the select MLP of the slot memory).
pub(crate) fn select_sum(c: &mut Circuit, name: &str, xs: &[Lin], flags: &[Lin]) -> Lin {
    let mut sum = Lin::default();
    for (k, (x, f)) in xs.iter().zip(flags).enumerate() {
        sum = sum.plus(&c.gate(&format!("{name}[{k}]"), x, f));
    }
    sum
}

/// `softplus` in f64.
pub(crate) fn softplus_f64(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_plans_reject_reads_of_the_future_and_outside_the_memory() {
        assert!(ReadPlan::new(1, 4, vec![vec![Some(1)], vec![Some(2)]]).is_ok());
        assert!(ReadPlan::new(1, 4, vec![vec![Some(2)]]).is_err());
        assert!(ReadPlan::new(1, 1, vec![vec![None], vec![Some(2)]]).is_err());
        assert!(ReadPlan::new(1, 4, vec![vec![Some(0)]]).is_err());
        let p = ReadPlan::new(2, 5, vec![vec![Some(1), None], vec![Some(1), Some(2)]]).unwrap();
        assert_eq!(p.max_distance(), 1);
        assert_eq!(p.reads().count(), 3);
    }
}
