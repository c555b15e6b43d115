//! `copy-linear`: the two O(T) memories of proofs/copy-linear.md as single Mamba blocks, plus the COPY
//! model that greedy-decodes tokens through them.
//!
//! Both memories are *builders* that other constructions (the DP compiler) reuse. They work in two
//! phases, because a layer's matrices need the final residual width:
//! 1. `add_*` registers the memory's named subspaces and positional features in a [`Layout`];
//! 2. `build_*` returns the layer(s) once the layout is complete.
//!
//! - [`add_position_key_memory`]: state N = T, keys `B_j = e_j/Δ` (one-hot position), query
//!   `C_t = e_{p(t)}`, one channel per value coordinate; no forgetting (`A = 0`) or `a = 1 − η`
//!   with `A = ln(1−η)/Δ < 0` (reference constraint). Output `y_t = u_{p(t)}` (times `a^{t−p}`).
//! - [`add_slot_memory`]: m channels with N = 1, `A = −1`, `B ≡ 1/Δ_big`, `C ≡ 1`, `u = value`,
//!   `Δ_t[d] = softplus(K·write_d(t) − K·frozen(t) − K0)`: Δ is the write gate. An MLP (2m ReLU
//!   units) selects the queried slot.

use crate::error::{Error, Result};
use crate::model::{
    Activation, Layer, Layout, MlpBuilder, Model, PosKind, PositionalFeature, SparseMatrix,
    SsmLayer,
};
use crate::num::{zeros, Real, Scalar};
use rug::Float;
use serde::Serialize;
use std::ops::Range;

/// A read: the token at position `at` asks for the value written at position `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MemoryQuery {
    pub at: usize,
    pub target: usize,
}

fn check_queries(queries: &[MemoryQuery], length: usize) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for q in queries {
        if q.target == 0 || q.target > length {
            return Err(Error::input(format!(
                "target position {} is outside the memorised positions 1..={length}",
                q.target
            )));
        }
        if q.target > q.at {
            return Err(Error::input(format!(
                "the query at position {} asks for position {}, which comes later",
                q.at, q.target
            )));
        }
        if !seen.insert(q.at) {
            return Err(Error::input(format!(
                "two queries at position {} (one memory answers one query per position)",
                q.at
            )));
        }
    }
    Ok(())
}

/// Decay of the position-key memory.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum KeyDecay {
    /// `A = 0`: `a = 1`, no forgetting.
    None,
    /// `A = ln(1−η)/Δ < 0`: `a = 1 − η` (the reference's `A < 0`).
    Eta(f64),
}

#[derive(Clone, Debug, Serialize)]
pub struct PositionKeyMemory {
    pub name: String,
    pub length: usize,
    pub values: Vec<usize>,
    pub key: Range<usize>,
    pub query: Range<usize>,
    pub reads: Vec<usize>,
    pub decay: KeyDecay,
}

/// Register a position-key memory of `length` positions reading `values` (one channel each).
pub fn add_position_key_memory(
    layout: &mut Layout,
    positional: &mut Vec<PositionalFeature>,
    name: &str,
    values: &[usize],
    length: usize,
    queries: &[MemoryQuery],
    decay: KeyDecay,
) -> Result<PositionKeyMemory> {
    if length == 0 || values.is_empty() {
        return Err(Error::input(
            "a position-key memory needs at least one position and one value coordinate",
        ));
    }
    if let KeyDecay::Eta(eta) = decay {
        if !(eta > 0.0 && eta < 1.0) {
            return Err(Error::input(format!("η must lie in (0, 1) (got {eta})")));
        }
    }
    check_queries(queries, length)?;
    let key = layout.add(
        &format!("{name}_key"),
        length,
        "one-hot position j (keys B_j = e_j/Δ)",
    );
    let query = layout.add(
        &format!("{name}_query"),
        length,
        "one-hot target position p(t) (query C_t)",
    );
    let reads = layout
        .add(
            &format!("{name}_read"),
            values.len(),
            "read value u_{p(t)} (one per value coordinate)",
        )
        .collect();
    for j in 0..length {
        positional.push(PositionalFeature {
            coord: key.start + j,
            kind: PosKind::Equals { at: j + 1 },
        });
    }
    for q in queries {
        positional.push(PositionalFeature {
            coord: query.start + q.target - 1,
            kind: PosKind::Equals { at: q.at },
        });
    }
    Ok(PositionKeyMemory {
        name: name.to_string(),
        length,
        values: values.to_vec(),
        key,
        query,
        reads,
        decay,
    })
}

impl PositionKeyMemory {
    /// Δ = softplus(0) = ln 2 for every channel and step.
    pub fn build<S: Scalar>(&self, width: usize, prec: u32) -> SsmLayer<S> {
        let ch = self.values.len();
        let n = self.length;
        let wp = prec.max(53) + 32;
        let delta = Float::with_val(wp, 2).ln();
        let inv_delta = S::from_real(&Real(Float::with_val(wp, 1) / &delta), prec);
        let one = S::one(prec);
        let a_val = match self.decay {
            KeyDecay::None => S::zero(prec),
            KeyDecay::Eta(eta) => {
                let l = Float::with_val(wp, -eta).ln_1p();
                S::from_real(&Real(l / &delta), prec)
            }
        };
        let a = vec![a_val; ch * n];
        let decay = SsmLayer::detect_decay(&a, ch, n);
        SsmLayer {
            name: self.name.clone(),
            width,
            channels: ch,
            state: n,
            w_delta: SparseMatrix::zeros(ch, width),
            b_delta: zeros(ch, prec),
            w_b: SparseMatrix::from_entries(
                n,
                width,
                self.key
                    .clone()
                    .enumerate()
                    .map(|(r, c)| (r, c, inv_delta.clone()))
                    .collect(),
            ),
            w_c: SparseMatrix::from_entries(
                n,
                width,
                self.query
                    .clone()
                    .enumerate()
                    .map(|(r, c)| (r, c, one.clone()))
                    .collect(),
            ),
            w_u: SparseMatrix::from_entries(
                ch,
                width,
                self.values
                    .iter()
                    .enumerate()
                    .map(|(d, &c)| (d, c, one.clone()))
                    .collect(),
            ),
            a,
            d_skip: zeros(ch, prec),
            gate: None,
            w_o: SparseMatrix::from_entries(
                width,
                ch,
                self.reads
                    .iter()
                    .enumerate()
                    .map(|(d, &c)| (c, d, one.clone()))
                    .collect(),
            ),
            decay,
        }
    }

    /// Exact-arithmetic error bound of a read at distance `steps` for values `|u| ≤ σ`:
    /// `σ(1 − (1−η)^steps)` (0 without decay).
    pub fn read_error_bound(&self, sigma: f64, steps: usize) -> f64 {
        match self.decay {
            KeyDecay::None => 0.0,
            KeyDecay::Eta(eta) => sigma * (1.0 - (1.0 - eta).powi(steps as i32)),
        }
    }
}

/// Parameters of the selective-slot memory.
#[derive(Clone, Debug, Serialize)]
pub struct SlotParams {
    /// Write gain K and offset K0: `Δ = softplus(K·write − K·frozen − K0)`.
    pub k: f64,
    pub k0: f64,
}

impl SlotParams {
    /// Choose K0, K so a slot survives `steps` non-write steps and an overwrite forgets the old
    /// content, each within `eps/2`, for values `|u| ≤ σ`: `K0 = ln(4·steps·σ/ε)`,
    /// `K = K0 + max(1, ln(2σ/ε))`. `steps = 0` (every step writes) uses the K0 of one step: a
    /// larger K0 only keeps slots better.
    pub fn for_accuracy(sigma: f64, steps: usize, eps: f64) -> Result<Self> {
        super::require_positive("σ", sigma)?;
        super::require_positive("ε", eps)?;
        let k0 = (4.0 * steps.max(1) as f64 * sigma / eps).ln().max(1.0);
        let k = k0 + (2.0 * sigma / eps).ln().max(1.0);
        Ok(SlotParams { k, k0 })
    }
    fn delta_big(&self) -> f64 {
        softplus_f64(self.k - self.k0)
    }
    fn delta_small(&self) -> f64 {
        softplus_f64(-self.k0)
    }
    /// Exact-arithmetic bound on `|slot − v|` after `steps` non-write steps:
    /// `e^{−Δ_big}σ + steps·δ·σ·(1 + 1/Δ_big)`, δ = softplus(−K0).
    pub fn error_bound(&self, sigma: f64, steps: usize) -> f64 {
        let db = self.delta_big();
        (-db).exp() * sigma + steps as f64 * self.delta_small() * sigma * (1.0 + 1.0 / db)
    }
}

fn softplus_f64(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SlotMemory {
    pub name: String,
    pub slots: usize,
    pub value: usize,
    pub one: usize,
    pub write: Range<usize>,
    pub frozen: usize,
    pub select: Range<usize>,
    pub slot_out: Range<usize>,
    pub read: usize,
    pub params: SlotParams,
    /// Largest |value| the selection MLP passes exactly.
    pub value_bound: f64,
}

/// Register a slot memory of `slots` channels: position `t ≤ write_until` writes `value` into
/// slot `(t−1) mod slots`; after `write_until` nothing is written. `one` is a constant-1 coordinate.
#[allow(clippy::too_many_arguments)]
pub fn add_slot_memory(
    layout: &mut Layout,
    positional: &mut Vec<PositionalFeature>,
    name: &str,
    value: usize,
    one: usize,
    slots: usize,
    write_until: usize,
    queries: &[MemoryQuery],
    params: SlotParams,
    value_bound: f64,
) -> Result<SlotMemory> {
    if slots == 0 || write_until == 0 {
        return Err(Error::input(
            "a slot memory needs at least one slot and one written position",
        ));
    }
    check_queries(queries, write_until)?;
    for q in queries {
        // the last write to the target's slot at or before the query must be the target itself
        let last = q.at.min(write_until);
        let last_same = last - (last - q.target) % slots;
        if last_same != q.target {
            return Err(Error::input(format!(
                "the query at position {} asks for position {}, whose slot was overwritten at position {} ({} slots hold only the last {} positions)",
                q.at, q.target, last_same, slots, slots
            )));
        }
    }
    let write = layout.add(
        &format!("{name}_write"),
        slots,
        "write gate: 1 at positions t with (t−1) mod m = d",
    );
    let frozen = layout.add1(
        &format!("{name}_frozen"),
        "1 after the last written position",
    );
    let select = layout.add(
        &format!("{name}_select"),
        slots,
        "one-hot slot of the queried position",
    );
    let slot_out = layout.add(&format!("{name}_slot"), slots, "slot contents y[d]");
    let read = layout.add1(&format!("{name}_read"), "the selected slot");
    for d in 0..slots {
        positional.push(PositionalFeature {
            coord: write.start + d,
            kind: PosKind::Modulo {
                modulus: slots,
                residue: (d + 1) % slots,
            },
        });
    }
    positional.push(PositionalFeature {
        coord: frozen,
        kind: PosKind::AtLeast {
            from: write_until + 1,
        },
    });
    for q in queries {
        positional.push(PositionalFeature {
            coord: select.start + (q.target - 1) % slots,
            kind: PosKind::Equals { at: q.at },
        });
    }
    Ok(SlotMemory {
        name: name.to_string(),
        slots,
        value,
        one,
        write,
        frozen,
        select,
        slot_out,
        read,
        params,
        value_bound,
    })
}

impl SlotMemory {
    /// The SSM layer: one channel per slot, N = 1.
    pub fn build_ssm<S: Scalar>(&self, width: usize, prec: u32) -> SsmLayer<S> {
        let m = self.slots;
        let k = S::from_f64(self.params.k, prec);
        let mut neg_k = k.clone();
        neg_k.neg_mut();
        let one = S::one(prec);
        let wp = prec.max(53) + 32;
        let db = Float::with_val(wp, self.params.k - self.params.k0);
        let mut e = Float::with_val(wp, -&db).exp();
        e = e.ln_1p();
        let delta_big = db + e;
        let inv = S::from_real(&Real(Float::with_val(wp, 1) / delta_big), prec);
        let mut w_delta = Vec::new();
        for d in 0..m {
            w_delta.push((d, self.write.start + d, k.clone()));
            w_delta.push((d, self.frozen, neg_k.clone()));
        }
        let a = vec![S::from_i64(-1, prec); m];
        let decay = SsmLayer::detect_decay(&a, m, 1);
        SsmLayer {
            name: self.name.clone(),
            width,
            channels: m,
            state: 1,
            w_delta: SparseMatrix::from_entries(m, width, w_delta),
            b_delta: vec![S::from_f64(-self.params.k0, prec); m],
            w_b: SparseMatrix::from_entries(1, width, vec![(0, self.one, inv)]),
            w_c: SparseMatrix::from_entries(1, width, vec![(0, self.one, one.clone())]),
            w_u: SparseMatrix::from_entries(
                m,
                width,
                (0..m).map(|d| (d, self.value, one.clone())).collect(),
            ),
            a,
            d_skip: zeros(m, prec),
            gate: None,
            w_o: SparseMatrix::from_entries(
                width,
                m,
                (0..m)
                    .map(|d| (self.slot_out.start + d, d, one.clone()))
                    .collect(),
            ),
            decay,
        }
    }

    /// Add the selection units to an MLP being built: `read += Σ_d sel_d·slot_d`, exactly, as
    /// `ReLU(slot_d + M·sel_d − M) − ReLU(−slot_d + M·sel_d − M)` with `M` above every |slot|.
    pub fn add_select_units<S: Scalar>(&self, mlp: &mut MlpBuilder<S>) {
        let prec = mlp.prec();
        let big = S::from_f64(self.value_bound + 1.0, prec);
        let neg_big = big.neg();
        let one = S::one(prec);
        let m_one = one.neg();
        for d in 0..self.slots {
            let (s, sel) = (self.slot_out.start + d, self.select.start + d);
            let pos = mlp.unit(
                format!("{}_pick+[{d}]", self.name),
                vec![(s, one.clone()), (sel, big.clone())],
                neg_big.clone(),
            );
            mlp.write(pos, self.read, one.clone());
            let neg = mlp.unit(
                format!("{}_pick-[{d}]", self.name),
                vec![(s, m_one.clone()), (sel, big.clone())],
                neg_big.clone(),
            );
            mlp.write(neg, self.read, m_one.clone());
        }
    }
}

/// Which memory a COPY model uses.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum MemoryKind {
    /// Position keys, `a = 1`.
    PositionKey,
    /// Position keys, `a = 1 − η`, `η = ε/(σ·steps)` with ε = 1/4.
    PositionKeyEta,
    /// Selective slots (Δ as write gate), m = T.
    Slot,
}

impl MemoryKind {
    pub fn name(self) -> &'static str {
        match self {
            MemoryKind::PositionKey => "position-key a=1",
            MemoryKind::PositionKeyEta => "position-key a=1-η",
            MemoryKind::Slot => "selective-slot",
        }
    }
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
            return Err(Error::input(format!(
                "the sequence length T must be at least 2 (got {})",
                self.length
            )));
        }
        if self.vocab < 2 {
            return Err(Error::input(format!(
                "the vocabulary needs at least 2 values (got {})",
                self.vocab
            )));
        }
        if self.targets.is_empty() {
            return Err(Error::input("the COPY task needs at least one target"));
        }
        for &p in &self.targets {
            if p == 0 || p > self.length {
                return Err(Error::input(format!(
                    "target position {p} is beyond the prompt 1..={}",
                    self.length
                )));
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
    /// Exact-arithmetic bound on |read − u_p|.
    pub read_bound: f64,
    pub memory_slots: usize,
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
    let steps = task.max_steps();
    let queries = task.queries();
    let mut layout = Layout::new();
    let mut positional = Vec::new();
    let value = layout.add1("value", "the token's value v ∈ {0..V−1}");
    let one = layout.add1("one", "the constant 1");
    positional.push(PositionalFeature {
        coord: one,
        kind: PosKind::Constant { num: 1, den: 1 },
    });
    enum Mem {
        Key(PositionKeyMemory),
        Slot(SlotMemory),
    }
    let (mem, read, read_bound) = match kind {
        MemoryKind::PositionKey | MemoryKind::PositionKeyEta => {
            let decay = if kind == MemoryKind::PositionKey {
                KeyDecay::None
            } else {
                KeyDecay::Eta(eps / (sigma * steps as f64))
            };
            let qs: Vec<MemoryQuery> = queries
                .iter()
                .copied()
                .filter(|q| q.target <= capacity)
                .collect();
            let m = add_position_key_memory(
                &mut layout,
                &mut positional,
                "mem",
                &[value],
                capacity.min(task.length),
                &qs,
                decay,
            )?;
            let r = m.reads[0];
            let b = m.read_error_bound(sigma, steps);
            (Mem::Key(m), r, b)
        }
        MemoryKind::Slot => {
            let params = SlotParams::for_accuracy(sigma, steps, eps)?;
            let b = params.error_bound(sigma, steps);
            let m = add_slot_memory(
                &mut layout,
                &mut positional,
                "mem",
                value,
                one,
                capacity,
                task.length,
                &queries,
                params,
                sigma,
            )?;
            let r = m.read;
            (Mem::Slot(m), r, b)
        }
    };
    let width = layout.width();
    let mut layers = Vec::new();
    let slots = match &mem {
        Mem::Key(m) => {
            layers.push(Layer::Ssm(m.build::<S>(width, prec)));
            m.length
        }
        Mem::Slot(m) => {
            layers.push(Layer::Ssm(m.build_ssm::<S>(width, prec)));
            let mut mlp = MlpBuilder::new(width, prec);
            m.add_select_units(&mut mlp);
            layers.push(Layer::Mlp(mlp.build("select", Activation::Relu)));
            m.slots
        }
    };
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
            name: format!("copy-linear {} T={}", kind.name(), task.length),
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
    let mut r = cm.model.runner();
    for &tok in prompt {
        r.feed(tok);
    }
    let mut out = CopyOutcome {
        wrong: 0,
        outputs: task.targets.len(),
        max_read_error_log10: f64::NEG_INFINITY,
        min_margin_log10: f64::INFINITY,
        ops: 0,
    };
    let prec = cm.model.prec;
    for (q, &p) in task.targets.iter().enumerate() {
        let want = prompt[p - 1];
        let mut e = r.residual[cm.read].clone();
        e.sub_assign_s(&S::from_i64(want as i64, prec));
        let el = if e.is_finite() {
            e.log10_abs()
        } else {
            f64::INFINITY
        };
        out.max_read_error_log10 = out.max_read_error_log10.max(el);
        let (tok, margin) = r.argmax();
        let ml = if margin.is_sign_negative() || margin.is_zero() {
            f64::NEG_INFINITY
        } else {
            margin.log10_abs()
        };
        out.min_margin_log10 = out.min_margin_log10.min(ml);
        if tok != want {
            out.wrong += 1;
        }
        if q + 1 < task.targets.len() {
            r.feed(tok);
        }
    }
    out.ops = r.ops;
    Ok(out)
}
