//! `copy-linear`: the two O(T) memories of proofs/copy-linear.md as single Mamba blocks, plus the COPY
//! model that greedy-decodes tokens through them.
//!
//! The memories themselves live in [`crate::memory`] (one implementation each, shared with the
//! DP compiler, built by the catalog's factory [`MemoryKind::build`]): the position keys
//! ([`crate::memory::PositionKeyMemory`]: state N = T, one-hot keys, no forgetting or
//! `a = 1 − η`) and the selective slots ([`crate::memory::SlotMemory`]: m channels with N = 1,
//! Δ as write gate, an `mlp-select` MLP picking the queried slot); the COPY ones are
//! [`MemoryKind::usable_for`]`(Use::Copy)`. Here they are planned with positional one-hot queries ([`QueryFeed::Positional`])
//! and the accuracy ε = 1/4, which the readout `logit_c = 2c·read − c²` needs (< 1/2).

use crate::error::{Error, Result};
use crate::gadgets::relu::ReluUnit;
use crate::measure::{probe, Feed, Tally};
pub use crate::memory::MemoryKind;
use crate::memory::{MemoryIo, MemoryParams, QueryFeed, ReadPlan, Residual, Use};
use crate::model::{Activation, Layout, Model, PosKind, PositionalFeature, SparseMatrix};
use crate::num::{Ball, Scalar};
use serde::Serialize;

/// A read: the token at position `at` asks for the value written at position `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MemoryQuery {
    pub at: usize,
    pub target: usize,
}

/// The read plan of one port: `queries` at their positions, up to position `last`; targets
/// beyond `len` (the memory's capacity) are dropped. Two queries at one position are refused.
fn read_plan(queries: &[MemoryQuery], len: usize, last: usize) -> Result<ReadPlan> {
    let mut targets = vec![vec![None]; last];
    for q in queries {
        if q.at == 0 || q.at > last {
            return Err(Error::compute(format!(
                "query position {} outside 1..={last}",
                q.at
            )));
        }
        if targets[q.at - 1][0].is_some() {
            return Err(Error::input(format!(
                "two queries at position {} (one memory answers one query per position)",
                q.at
            )));
        }
        if q.target <= len {
            targets[q.at - 1][0] = Some(q.target);
        }
    }
    ReadPlan::new(1, len, targets)
}

/// The COPY task: a prompt of `length` value tokens from a vocabulary of `vocab` values, then
/// `targets.len()` generated tokens, the q-th (1-based) copying prompt position `targets[q−1]`.
#[derive(Clone, Debug, Serialize)]
pub struct CopyTask {
    pub length: usize,
    pub vocab: usize,
    pub targets: Vec<usize>,
}

impl CopyTask {
    /// Copy the whole prompt in order.
    pub fn copy_all(length: usize, vocab: usize) -> Self {
        CopyTask {
            length,
            vocab,
            targets: (1..=length).collect(),
        }
    }
    pub fn validate(&self) -> Result<()> {
        if self.length < 2 {
            return Err(Error::out_of_range(
                "the sequence length T",
                self.length,
                "at least 2",
            ));
        }
        if self.vocab < 2 {
            return Err(Error::out_of_range(
                "the vocabulary size V",
                self.vocab,
                "at least 2 values",
            ));
        }
        if self.targets.is_empty() {
            return Err(Error::input("the COPY task needs at least one target"));
        }
        for &p in &self.targets {
            if p == 0 || p > self.length {
                return Err(Error::out_of_range(
                    "the target position",
                    p,
                    &format!("the prompt's positions 1..={}", self.length),
                ));
            }
        }
        Ok(())
    }
    /// Queries: the token at position `T + q − 1` predicts the q-th output.
    pub fn queries(&self) -> Vec<MemoryQuery> {
        self.targets
            .iter()
            .enumerate()
            .map(|(q, &p)| MemoryQuery {
                at: self.length + q,
                target: p,
            })
            .collect()
    }
    /// Longest distance between a write and its read.
    pub fn max_steps(&self) -> usize {
        self.length + self.targets.len()
    }
}

/// A built COPY model and what its checks need.
#[derive(Clone, Debug)]
pub struct CopyModel<S> {
    pub model: Model<S>,
    pub kind: MemoryKind,
    pub read: usize,
    /// Exact-arithmetic bound on |read − u_p| (the memory's formula in f64).
    pub read_bound: f64,
    /// The same formula in ball arithmetic at [`bound_bits`]`(prec)` bits: a certified enclosure
    /// of the exact-arithmetic bound.
    pub read_bound_ball: Ball,
    /// The bound is attained in exact arithmetic (the decaying position key: a value σ read at
    /// the largest distance), so it is certified with a stated slack.
    pub read_bound_attained: bool,
    pub memory_slots: usize,
}

/// Working precision of the ball enclosure of the read bound for a model run at `prec` bits:
/// 64 bits above the run (and at least 128), so the bound's own width is negligible.
pub fn bound_bits(prec: u32) -> u32 {
    prec.max(64) + 64
}

/// Build the COPY model: embedding `value = v` for token v, one memory block, readout
/// `logit_c = 2c·read − c²` (argmax = nearest value when |read − v| < 1/2).
pub fn build_copy_model<S: Scalar>(
    kind: MemoryKind,
    task: &CopyTask,
    prec: u32,
) -> Result<CopyModel<S>> {
    build_copy_model_with(kind, task, task.length, prec)
}

/// Same, with a memory of `capacity` positions/slots (smaller than T: the memory cannot hold it).
pub fn build_copy_model_with<S: Scalar>(
    kind: MemoryKind,
    task: &CopyTask,
    capacity: usize,
    prec: u32,
) -> Result<CopyModel<S>> {
    task.validate()?;
    if capacity == 0 {
        return Err(Error::input("the memory needs at least one slot"));
    }
    let sigma = (task.vocab - 1) as f64;
    let eps = 0.25;
    let queries = task.queries();
    let last = queries.iter().map(|q| q.at).max().unwrap_or(task.length);
    let mut layout = Layout::new();
    let mut positional = Vec::new();
    let value = layout.coord("value", "the token's value v ∈ {0..V−1}");
    let one = layout.coord("one", "the constant 1");
    positional.push(PositionalFeature {
        coord: one.index(),
        kind: PosKind::Constant { num: 1, den: 1 },
    });
    let read = layout.block("mem_read", 1, "the value read from the memory");
    let written = kind.entry().capacity.written(capacity, task.length);
    let plan = read_plan(&queries, written, last)?;
    let params = MemoryParams {
        name: "mem",
        feed: QueryFeed::Positional,
        len: written,
        slots: Some(capacity),
        distance: 0,
        horizon: task.max_steps(),
        value_bound: sigma,
        accuracy: eps,
        overrides: None,
        context: format!("the COPY task with T = {}", task.length),
    };
    let mut mem = kind.build::<S>(Use::Copy, &params)?;
    let io = MemoryIo {
        value,
        one,
        read: read.clone(),
        value_bound: sigma,
        accuracy: eps,
    };
    let mut res = Residual {
        layout: &mut layout,
        positional: &mut positional,
    };
    mem.plan(&mut res, &io, &plan)?;
    let width = layout.width();
    let layers = mem.layers(width, &ReluUnit::<S>::exact(prec))?;
    let read_bound = mem.error_bound(Activation::Relu, 1.0);
    let read_bound_ball = mem.certified_error_bound(bound_bits(prec))?;
    let read_bound_attained = mem.bound_attained();
    let slots = mem.state();
    let read = read.at(0).index();
    let value = value.index();
    let vocab: Vec<String> = (0..task.vocab).map(|v| format!("v{v}")).collect();
    let token_embedding = SparseMatrix::from_entries(
        task.vocab,
        width,
        (0..task.vocab)
            .map(|v| (v, value, S::from_i64(v as i64, prec)))
            .collect(),
    );
    let readout = SparseMatrix::from_entries(
        task.vocab,
        width,
        (0..task.vocab)
            .map(|c| (c, read, S::from_i64(2 * c as i64, prec)))
            .collect(),
    );
    let readout_bias = (0..task.vocab)
        .map(|c| S::from_i64(-((c * c) as i64), prec))
        .collect();
    Ok(CopyModel {
        model: Model {
            name: format!("copy-linear {} T={}", kind.label(), task.length),
            layout,
            vocab,
            token_embedding,
            positional,
            layers,
            readout,
            readout_bias,
            prec,
        },
        kind,
        read,
        read_bound,
        read_bound_ball,
        read_bound_attained,
        memory_slots: slots,
    })
}

/// Outcome of greedy decoding on one prompt.
#[derive(Clone, Debug, Serialize)]
pub struct CopyOutcome {
    pub wrong: usize,
    pub outputs: usize,
    /// max over queries of log10 |read − u_p|.
    pub max_read_error_log10: f64,
    pub min_margin_log10: f64,
    pub ops: u64,
}

impl CopyOutcome {
    pub fn exact(&self) -> bool {
        self.wrong == 0
    }
}

/// Feed the prompt, then greedily generate one token per target (feeding each back).
pub fn run_copy<S: Scalar>(
    cm: &CopyModel<S>,
    task: &CopyTask,
    prompt: &[usize],
) -> Result<CopyOutcome> {
    if prompt.len() != task.length {
        return Err(Error::input(format!(
            "the prompt has {} tokens, the task expects {}",
            prompt.len(),
            task.length
        )));
    }
    if let Some(&bad) = prompt.iter().find(|&&v| v >= task.vocab) {
        return Err(Error::input(format!(
            "prompt token {bad} is outside the vocabulary 0..{}",
            task.vocab
        )));
    }
    let prec = cm.model.prec;
    let wants: Vec<usize> = task.targets.iter().map(|&p| prompt[p - 1]).collect();
    let mut tally = Tally::new(wants.len(), 64);
    let (_, ops) = probe(&cm.model, prompt, &wants, Feed::Greedy, |q, r, want| {
        let mut e = r.residual[cm.read].clone();
        e.sub_assign_s(&S::from_i64(want as i64, prec));
        tally.measure_read(&e);
        tally.measure(q, r, want);
    });
    Ok(CopyOutcome {
        wrong: tally.wrong,
        outputs: tally.outputs,
        max_read_error_log10: tally.max_read_error_log10,
        min_margin_log10: tally.min_margin_log10,
        ops,
    })
}
