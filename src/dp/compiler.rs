//! The compiler: (DP problem of a fixed size, memory, activation, precision) → a model whose
//! greedy decoding from `s_1..s_n SEP` writes the whole CoT and the answer (proofs/dp-general.md).
//!
//! Blocks, in order (each MLP block is a circuit of [`super::circuit`]):
//! 1. **memory** — holds every token value `tok_value`:
//!    - `slot`: selective-slot SSM (m channels, N = 1, A = −1); Δ is the write gate of slot
//!      `t mod m`; followed by `decode` (one-hot of the slot pointer) and `select` MLPs;
//!    - `position`: `decode` MLP (one-hot of the pointer) then one position-key SSM per read port
//!      (N = T, B_t = e_t, C = e_pointer, A = 0: no forgetting);
//!    - `attention`: one softmax head per read port, keys (j, j², 1), query (2λp, −λ, −λp²).
//! 2. **round** — each raw read is rounded to the exact integer (exact within ±1/4).
//! 3. **transition** — the problem's rule circuits, then each rule output (and the boundary
//!    value) is gated by its positional flag into the coordinate `out`.
//! 4. **readout** — logit(c) = 2c·out − c² for numeric tokens, logit(SEP) = 2·next_is_sep − 1.

use super::circuit::{Circuit, Lin};
use super::{dependency_distance, DpProblem, StepKind};
use crate::error::{Error, Result};
use crate::gadgets::relu;
use crate::model::{
    Activation, AttentionHead, AttentionLayer, Layer, Layout, Model, PosKind, PositionalFeature,
    SparseMatrix, SsmLayer,
};
use crate::num::{abs_or_inf, Scalar};
use serde::Serialize;

/// Largest T the position-key memory is built for (its state and decoder grow as T per port).
pub const MAX_POSITION_MEMORY_T: usize = 4_000;
/// Largest number of slots of a selective-slot memory.
pub const MAX_SLOTS: usize = 4_000;

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
    /// Override the memory's parameters (tests of the hypotheses): slot `(Δ_write target, K0)`,
    /// attention `(λ_attn, unused)`.
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

/// What was built, beside the model.
#[derive(Clone, Debug, Serialize)]
pub struct CompileInfo {
    pub problem: String,
    pub memory: MemoryKind,
    pub activation: Activation,
    /// λ of the smooth activation (1 for ReLU).
    pub lambda: f64,
    pub n: usize,
    pub states: usize,
    pub total_len: usize,
    /// Dependency distance m of the instance.
    pub distance: usize,
    /// Slots of the selective-slot memory (0 for the other memories).
    pub slots: usize,
    /// Bound on |memory read − stored integer| in exact arithmetic (proofs/copy-linear.md / proofs).
    pub memory_error_bound: f64,
    /// Bound on |out − next token's value| in exact arithmetic; decoding is exact when < 1/2.
    pub out_error_bound: f64,
    /// Memory parameters: slot (K, K0), attention (λ_attn, 0), position (0, 0).
    pub memory_params: (f64, f64),
    pub mlp_units: usize,
}

pub struct Compiled<S> {
    pub model: Model<S>,
    pub info: CompileInfo,
    /// `pointers[t-1][r]`: the position read port r reads while position t is fed.
    pub pointers: Vec<Vec<usize>>,
    /// First residual coordinate of `read_raw` (the memory outputs).
    pub read_raw_start: usize,
    /// Residual coordinate of `out` (the next token's value).
    pub out_coord: usize,
}

/// Smallest λ (to 1/8) with `units · δ(λ) ≤ 2^-30`, where δ(λ) bounds `|φ(λz)/λ − ReLU(z)|` for
/// `|z| ≥ 3/8` (every pre-activation on near-integer inputs is 0 or at least 3/8 away from it):
/// GeLU `δ = (3/8)Φ(−3λ/8)`, SiLU `δ = (3/8)/(1 + e^{3λ/8})` (both decreasing in |z| there).
pub fn prescribed_lambda(act: Activation, units: usize) -> f64 {
    let target = 2f64.powi(-30) / units.max(1) as f64;
    let delta = |l: f64| -> f64 {
        let t = 0.375 * l;
        match act {
            Activation::Relu => 0.0,
            Activation::Gelu => 0.375 * 0.5 * libm::erfc(t / std::f64::consts::SQRT_2),
            Activation::Silu => 0.375 / (1.0 + t.exp()),
        }
    };
    let mut l = 4.0;
    while delta(l) > target {
        l += 0.125;
    }
    l
}

/// `sup |φ(λz)/λ − ReLU(z)|` over `|z| ≥ z_min` in f64 (0 for ReLU): the shared
/// [`relu::error_beyond`] (`z_min·τ(λ z_min)` once `λ z_min ≥ t*`, the global `c/λ` below).
pub fn act_error_beyond(act: Activation, lambda: f64, z_min: f64) -> f64 {
    relu::error_beyond::<f64>(act, &lambda, &z_min)
}

/// The range of `--lambda` accepted by [`compile`]: the prescribed λ lies well inside it, and
/// outside it the weights `λ`, `1/λ` (times the circuit's constants) leave a sane range.
pub const LAMBDA_RANGE: (f64, f64) = (1.0 / 1024.0, 1.0e6);

struct Tables {
    len: usize,
}

impl Tables {
    fn feature(&self, coord: usize, f: impl Fn(usize) -> i64) -> PositionalFeature {
        PositionalFeature {
            coord,
            kind: PosKind::Table {
                values: (1..=self.len).map(f).collect(),
            },
        }
    }
}

/// Compile `p` into a model at `prec` bits.
pub fn compile<S: Scalar>(p: &dyn DpProblem, opt: &Options, prec: u32) -> Result<Compiled<S>> {
    let steps = p.steps();
    let n = p.input_len();
    let t_len = n + 1 + steps.len();
    let v = p.values();
    let m_val = (v - 1).max(1) as f64; // largest token value M
    let ports = p.read_ports();
    let rules = p.rules();
    let distance = dependency_distance(p);
    let slots = match opt.memory {
        MemoryKind::Slot => {
            let s = opt.slots.unwrap_or(distance);
            if s < distance {
                return Err(Error::input(format!(
                    "a slot memory with {s} slots cannot hold reads at distance {distance} ({})",
                    p.describe()
                )));
            }
            if s > MAX_SLOTS {
                return Err(Error::input(format!(
                    "{} needs {s} slots, more than the supported {MAX_SLOTS}",
                    p.describe()
                )));
            }
            s
        }
        _ => 0,
    };
    if opt.memory == MemoryKind::Position && t_len > MAX_POSITION_MEMORY_T {
        return Err(Error::input(format!(
            "{} has T = {t_len}, too large for the position-key memory (at most {MAX_POSITION_MEMORY_T})",
            p.describe()
        )));
    }
    if let Some(l) = opt.lambda {
        let (lo, hi) = LAMBDA_RANGE;
        if !(lo..=hi).contains(&l) {
            return Err(Error::input(format!(
                "the activation scale λ must be between {lo:?} (2^-10) and {hi:e} (got {l:?})"
            )));
        }
    }
    // step producing the token at position t+1, when t is the fed position
    let step_at =
        |t: usize| -> Option<&super::Step> { t.checked_sub(n + 1).and_then(|k| steps.get(k)) };
    let ptr = |t: usize, r: usize| -> usize { step_at(t).map_or(t, |s| s.reads[r]) };
    let tables = Tables { len: t_len };

    // ---- layout
    let mut lay = Layout::new();
    let tok_value = lay.add1("tok_value", "value of the current token (0 for SEP)");
    let tok_sep = lay.add1("tok_is_sep", "1 when the current token is SEP");
    let one = lay.add1("one", "constant 1");
    let mut positional = vec![PositionalFeature {
        coord: one,
        kind: PosKind::Constant { num: 1, den: 1 },
    }];
    let flag_rule: Vec<usize> = rules
        .iter()
        .map(|r| {
            lay.add1(
                &format!("next_is_{r}"),
                "1 when the next token is this rule's state",
            )
        })
        .collect();
    let is_boundary = lay.add1(
        "next_is_boundary",
        "1 when the next token is a boundary state",
    );
    let boundary_value = lay.add1("boundary_value", "the next boundary state's value");
    let next_sep = lay.add1("next_is_sep", "1 when the next token is SEP");
    for (i, &c) in flag_rule.iter().enumerate() {
        positional.push(tables.feature(c, |t| {
            step_at(t).is_some_and(|s| s.kind == StepKind::Rule(i)) as i64
        }));
    }
    positional.push(tables.feature(is_boundary, |t| {
        step_at(t).is_some_and(|s| matches!(s.kind, StepKind::Boundary(_))) as i64
    }));
    positional.push(
        tables.feature(boundary_value, |t| match step_at(t).map(|s| &s.kind) {
            Some(StepKind::Boundary(b)) => *b,
            _ => 0,
        }),
    );
    positional.push(tables.feature(next_sep, |t| {
        (t == n || step_at(t).is_some_and(|s| s.kind == StepKind::Sep)) as i64
    }));
    let read_raw = lay.add("read_raw", ports, "memory output per read port (≈ integer)");
    let read = lay.add("read", ports, "rounded read per port (exact integer)");
    let out = lay.add1("out", "value of the next token");

    // memory-specific positional features and subspaces
    let mut circuits: Vec<(&str, Circuit)> = Vec::new();
    let (mut slot_coords, mut ptr_coords, mut ptr_sq_coords, mut onehot_coords) =
        (0..0, Vec::new(), Vec::new(), Vec::new());
    let mut pos_coords = (0, 0);
    let mut write_coords = 0..0;
    match opt.memory {
        MemoryKind::Slot => {
            write_coords = lay.add("write_slot", slots, "1 at the slot written now (t mod m)");
            for d in 0..slots {
                positional.push(PositionalFeature {
                    coord: write_coords.start + d,
                    kind: PosKind::Modulo {
                        modulus: slots,
                        residue: d,
                    },
                });
            }
            slot_coords = lay.add("slot", slots, "selective-slot memory output per slot");
            for r in 0..ports {
                let c = lay.add1(&format!("ptr_slot{r}"), "slot of the position port r reads");
                positional.push(tables.feature(c, |t| (ptr(t, r) % slots) as i64));
                ptr_coords.push(c);
                let oh = lay.add(&format!("sel{r}"), slots, "one-hot of port r's slot");
                onehot_coords.push(oh);
            }
        }
        MemoryKind::Position => {
            let pos_oh = lay.add("pos_onehot", t_len, "one-hot of the current position");
            for k in 0..t_len {
                positional.push(PositionalFeature {
                    coord: pos_oh.start + k,
                    kind: PosKind::Equals { at: k + 1 },
                });
            }
            pos_coords = (pos_oh.start, 0);
            for r in 0..ports {
                let c = lay.add1(&format!("ptr{r}"), "position port r reads");
                positional.push(tables.feature(c, |t| ptr(t, r) as i64));
                ptr_coords.push(c);
                let oh = lay.add(
                    &format!("ptr{r}_onehot"),
                    t_len,
                    "one-hot of port r's position",
                );
                onehot_coords.push(oh);
            }
        }
        MemoryKind::Attention => {
            let pc = lay.add1("pos", "position t");
            let psq = lay.add1("pos_sq", "t²");
            positional.push(PositionalFeature {
                coord: pc,
                kind: PosKind::Position,
            });
            positional.push(PositionalFeature {
                coord: psq,
                kind: PosKind::PositionSquared,
            });
            pos_coords = (pc, psq);
            for r in 0..ports {
                let c = lay.add1(&format!("ptr{r}"), "position port r reads");
                positional.push(tables.feature(c, |t| ptr(t, r) as i64));
                ptr_coords.push(c);
                let c2 = lay.add1(&format!("ptr{r}_sq"), "its square");
                positional.push(tables.feature(c2, |t| (ptr(t, r) * ptr(t, r)) as i64));
                ptr_sq_coords.push(c2);
            }
        }
    }

    // ---- circuits
    if opt.memory != MemoryKind::Attention {
        let mut dec = Circuit::new();
        let hi = if opt.memory == MemoryKind::Slot {
            slots as i64 - 1
        } else {
            t_len as i64
        };
        let lo = if opt.memory == MemoryKind::Slot { 0 } else { 1 };
        for r in 0..ports {
            let x = dec.input(format!("ptr{r}"), ptr_coords[r], 0.0, hi as f64);
            let oh = dec.one_hot(&format!("decode{r}"), &x, lo, hi);
            for (k, l) in oh.into_iter().enumerate() {
                dec.sink(format!("onehot{r}[{k}]"), onehot_coords[r].start + k, l)?;
            }
        }
        circuits.push(("decode", dec));
    }
    if opt.memory == MemoryKind::Slot {
        let mut sel = Circuit::new();
        let big = m_val + 1.0;
        for (r, oh) in onehot_coords.iter().enumerate() {
            let mut raw = Lin::default();
            for k in 0..slots {
                let s = sel.input(
                    format!("slot{k}"),
                    slot_coords.start + k,
                    -0.25,
                    m_val + 0.25,
                );
                let f = sel.input(format!("sel{r}[{k}]"), oh.start + k, 0.0, 1.0);
                let u = sel.relu(
                    format!("select{r}.slot{k}"),
                    s.add_scaled(&f, big).offset(-big),
                );
                raw = raw.plus(&u);
            }
            sel.sink(format!("read_raw{r}"), read_raw.start + r, raw)?;
        }
        circuits.push(("select", sel));
    }
    let mut rnd = Circuit::new();
    for r in 0..ports {
        let x = rnd.input(
            format!("read_raw{r}"),
            read_raw.start + r,
            -0.25,
            m_val + 0.25,
        );
        let y = rnd.round(&format!("round{r}"), &x, 0, v as i64 - 1);
        // `round` has a constant term lo = 0; its units carry the value
        rnd.sink(format!("read{r}"), read.start + r, y)?;
    }
    circuits.push(("round", rnd));
    let mut tr = Circuit::new();
    let reads: Vec<Lin> = (0..ports)
        .map(|r| tr.input(format!("read{r}"), read.start + r, 0.0, m_val))
        .collect();
    let outs = p.transition(&mut tr, &reads);
    let mut total = Lin::default();
    for (i, o) in outs.iter().enumerate() {
        let f = tr.input(format!("next_is_{}", rules[i]), flag_rule[i], 0.0, 1.0);
        let g = tr.gate(&format!("gate.{}", rules[i]), o, &f);
        total = total.plus(&g);
    }
    let bv = tr.input("boundary_value", boundary_value, 0.0, m_val);
    let bf = tr.input("next_is_boundary", is_boundary, 0.0, 1.0);
    let g = tr.gate("gate.boundary", &bv, &bf);
    total = total.plus(&g);
    tr.sink("out", out, total)?;
    circuits.push(("transition", tr));

    // coordinates of units read by later units
    let mut unit_coords: Vec<Vec<Option<usize>>> = Vec::new();
    for (name, c) in &circuits {
        let need = c.units_needing_coords();
        let coords = need
            .iter()
            .enumerate()
            .map(|(u, &nd)| {
                nd.then(|| {
                    lay.add1(
                        &format!("{name}:{}#{u}", c.units[u].name),
                        "hidden unit kept for a later layer",
                    )
                })
            })
            .collect();
        unit_coords.push(coords);
    }
    let width = lay.width();
    let mlp_units: usize = circuits.iter().map(|(_, c)| c.units.len()).sum();
    let lambda = match opt.activation {
        Activation::Relu => 1.0,
        a => opt
            .lambda
            .unwrap_or_else(|| prescribed_lambda(a, mlp_units)),
    };

    // ---- layers
    let s = |x: f64| S::from_f64(x, prec);
    let mut layers: Vec<Layer<S>> = Vec::new();
    let mlp_block = |k: usize, layers: &mut Vec<Layer<S>>| {
        let (name, c) = &circuits[k];
        for l in c.build_layers::<S>(width, &unit_coords[k], opt.activation, lambda, prec, name) {
            layers.push(Layer::Mlp(l));
        }
    };
    let (memory_error_bound, memory_params);
    match opt.memory {
        MemoryKind::Slot => {
            // Δ_write = softplus(Δb) ≥ ln(64M), Δ_keep = softplus(−K0) ≤ e^{−K0} = 1/(64 m M)
            let (db, k0) = opt
                .memory_override
                .unwrap_or(((64.0 * m_val).ln(), (64.0 * slots as f64 * m_val).ln()));
            let kk = k0 + db;
            let d_write: S = s(db).softplus();
            let b_scale = S::one(prec).div(&d_write);
            let w_delta = SparseMatrix::from_entries(
                slots,
                width,
                (0..slots)
                    .map(|d| (d, write_coords.start + d, s(kk)))
                    .collect(),
            );
            let a: Vec<S> = (0..slots).map(|_| S::from_i64(-1, prec)).collect();
            let decay = SsmLayer::detect_decay(&a, slots, 1);
            layers.push(Layer::Ssm(SsmLayer {
                name: "memory.slots".into(),
                width,
                channels: slots,
                state: 1,
                w_delta,
                b_delta: (0..slots).map(|_| s(-k0)).collect(),
                w_b: SparseMatrix::from_entries(1, width, vec![(0, one, b_scale)]),
                w_c: SparseMatrix::from_entries(1, width, vec![(0, one, S::one(prec))]),
                w_u: SparseMatrix::from_entries(
                    slots,
                    width,
                    (0..slots).map(|d| (d, tok_value, S::one(prec))).collect(),
                ),
                a,
                d_skip: (0..slots).map(|_| S::zero(prec)).collect(),
                gate: None,
                w_o: SparseMatrix::from_entries(
                    width,
                    slots,
                    (0..slots)
                        .map(|d| (slot_coords.start + d, d, S::one(prec)))
                        .collect(),
                ),
                decay,
            }));
            mlp_block(0, &mut layers);
            mlp_block(1, &mut layers);
            mlp_block(2, &mut layers);
            mlp_block(3, &mut layers);
            let dw = d_write.to_f64();
            let keep = libm::log1p((-k0).exp());
            let exact = m_val * (slots as f64 * keep * (1.0 + 1.0 / dw) + 2.0 * (-dw).exp());
            // smooth units: one-hot entries off by ≤ 4δ(1), each select unit by
            // ≤ δ(15/16) + 4(M+1)δ(1), and φ(λε)/λ vs ReLU(ε) by ≤ ε/2 near a stored 0
            memory_error_bound = if opt.activation == Activation::Relu {
                exact
            } else {
                1.5 * exact
                    + (slots as f64 + 2.0)
                        * (act_error_beyond(opt.activation, lambda, 15.0 / 16.0)
                            + 4.0 * (m_val + 1.0) * act_error_beyond(opt.activation, lambda, 1.0))
            };
            memory_params = (kk, k0);
        }
        MemoryKind::Position => {
            mlp_block(0, &mut layers);
            // Δ = softplus(ln(e − 1)) = 1
            let b_delta = S::one(prec).exp().sub(&S::one(prec)).ln();
            for (r, oh) in onehot_coords.iter().enumerate() {
                let a: Vec<S> = (0..t_len).map(|_| S::zero(prec)).collect();
                let decay = SsmLayer::detect_decay(&a, 1, t_len);
                layers.push(Layer::Ssm(SsmLayer {
                    name: format!("memory.position{r}"),
                    width,
                    channels: 1,
                    state: t_len,
                    w_delta: SparseMatrix::zeros(1, width),
                    b_delta: vec![b_delta.clone()],
                    w_b: SparseMatrix::from_entries(
                        t_len,
                        width,
                        (0..t_len)
                            .map(|k| (k, pos_coords.0 + k, S::one(prec)))
                            .collect(),
                    ),
                    w_c: SparseMatrix::from_entries(
                        t_len,
                        width,
                        (0..t_len)
                            .map(|k| (k, oh.start + k, S::one(prec)))
                            .collect(),
                    ),
                    w_u: SparseMatrix::from_entries(1, width, vec![(0, tok_value, S::one(prec))]),
                    a,
                    d_skip: vec![S::zero(prec)],
                    gate: None,
                    w_o: SparseMatrix::from_entries(
                        width,
                        1,
                        vec![(read_raw.start + r, 0, S::one(prec))],
                    ),
                    decay,
                }));
            }
            mlp_block(1, &mut layers);
            mlp_block(2, &mut layers);
            // exact in exact arithmetic with ReLU; smooth units put ≤ 4δ(1) on every C entry
            memory_error_bound =
                4.0 * t_len as f64 * m_val * act_error_beyond(opt.activation, lambda, 1.0);
            memory_params = (0.0, 0.0);
        }
        MemoryKind::Attention => {
            // off-target weight ≤ Σ_{d≠0} e^{−λd²} ≤ 2e^{−λ}/(1−e^{−λ}); λ = ln(64M)
            let lam = opt.memory_override.map_or((64.0 * m_val).ln(), |o| o.0);
            let heads = (0..ports)
                .map(|r| AttentionHead {
                    w_q: SparseMatrix::from_entries(
                        3,
                        width,
                        vec![
                            (0, ptr_coords[r], s(2.0 * lam)),
                            (1, one, s(-lam)),
                            (2, ptr_sq_coords[r], s(-lam)),
                        ],
                    ),
                    w_k: SparseMatrix::from_entries(
                        3,
                        width,
                        vec![
                            (0, pos_coords.0, S::one(prec)),
                            (1, pos_coords.1, S::one(prec)),
                            (2, one, S::one(prec)),
                        ],
                    ),
                    w_v: SparseMatrix::from_entries(1, width, vec![(0, tok_value, S::one(prec))]),
                    w_o: SparseMatrix::from_entries(
                        width,
                        1,
                        vec![(read_raw.start + r, 0, S::one(prec))],
                    ),
                })
                .collect();
            layers.push(Layer::Attention(AttentionLayer {
                name: "memory.attention".into(),
                heads,
            }));
            mlp_block(0, &mut layers);
            mlp_block(1, &mut layers);
            let e = (-lam).exp();
            memory_error_bound = m_val * 2.0 * e / (1.0 - e);
            memory_params = (lam, 0.0);
        }
    }

    // ---- error bound at `out`: rounding absorbs read errors ε ≤ 1/8 (every unit of it sees
    // |z| ≥ 1/2 − 2ε ≥ 1/4, and the two units of a pair cancel the noise), then forward
    // propagation through the transition circuit
    let out_error_bound = if memory_error_bound <= 0.125 {
        let z_min = 0.5 - 2.0 * memory_error_bound;
        let read_err = 2.0 * (v as f64 - 1.0) * act_error_beyond(opt.activation, lambda, z_min);
        let (_, tr) = &circuits[circuits.len() - 1];
        let errs: Vec<f64> = tr
            .inputs
            .iter()
            .map(|i| {
                if i.name.starts_with("read") {
                    read_err
                } else {
                    0.0
                }
            })
            .collect();
        tr.sink_error_bounds(&errs, opt.activation, lambda)
            .map_or(f64::INFINITY, |v| v[0])
    } else {
        f64::INFINITY
    };

    // ---- embedding and readout
    let sep = v;
    let mut emb = Vec::new();
    for c in 1..v {
        emb.push((c, tok_value, S::from_i64(c as i64, prec)));
    }
    emb.push((sep, tok_sep, S::one(prec)));
    let token_embedding = SparseMatrix::from_entries(v + 1, width, emb);
    let mut ro = Vec::new();
    let mut bias = Vec::new();
    for c in 0..v {
        ro.push((c, out, S::from_i64(2 * c as i64, prec)));
        bias.push(S::from_i64(-((c * c) as i64), prec));
    }
    ro.push((sep, next_sep, S::from_i64(2, prec)));
    bias.push(S::from_i64(-1, prec));
    let readout = SparseMatrix::from_entries(v + 1, width, ro);
    let mut vocab: Vec<String> = (0..v).map(|c| c.to_string()).collect();
    vocab.push("SEP".into());

    let info = CompileInfo {
        problem: p.describe(),
        memory: opt.memory,
        activation: opt.activation,
        lambda,
        n,
        states: steps.len() - 2,
        total_len: t_len,
        distance,
        slots,
        memory_error_bound,
        out_error_bound,
        memory_params,
        mlp_units,
    };
    let model = Model {
        name: format!(
            "dp {} / {} memory / {}",
            p.describe(),
            opt.memory.name(),
            opt.activation.name()
        ),
        layout: lay,
        vocab,
        token_embedding,
        positional,
        layers,
        readout,
        readout_bias: bias,
        prec,
    };
    let max_param = model.size().max_abs_param;
    if !max_param.is_finite() {
        return Err(Error::input(format!(
            "the model for {} has a non-finite weight (max |param| = {max_param}) at {prec} bits",
            p.describe()
        )));
    }
    let pointers = (1..=t_len)
        .map(|t| (0..ports).map(|r| ptr(t, r)).collect())
        .collect();
    Ok(Compiled {
        model,
        info,
        pointers,
        read_raw_start: read_raw.start,
        out_coord: out,
    })
}

/// Result of running a compiled model on one input.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    pub generated: Vec<usize>,
    pub expected: Vec<usize>,
    pub exact: bool,
    /// First generated position (0-based in the generated part) that differs.
    pub first_mismatch: Option<usize>,
    pub min_margin_log10: f64,
    pub ops: u64,
}

impl<S: Scalar> Compiled<S> {
    /// Largest |memory output − value of the token it should read| over every port and fed
    /// position, feeding the reference sequence (teacher forcing). Compared with
    /// `info.memory_error_bound` (exact arithmetic) plus rounding.
    pub fn memory_error(&self, p: &dyn DpProblem, input: &[usize]) -> Result<f64> {
        Ok(self.errors(p, input)?.0)
    }

    /// `(memory error, out error)`: the largest |read_raw − value read| and |out − value of the
    /// next token| (0 for SEP), over the generated positions, feeding the reference sequence.
    pub fn errors(&self, p: &dyn DpProblem, input: &[usize]) -> Result<(f64, f64)> {
        p.check_input(input)?;
        let seq = p.solve(input);
        let value = |tok: usize| if tok == p.sep() { 0 } else { tok as i64 };
        let mut r = self.model.runner();
        let (mut worst, mut worst_out) = (0.0f64, 0.0f64);
        let prec = self.model.prec;
        for (i, &tok) in seq.iter().enumerate().take(seq.len() - 1) {
            r.feed(tok);
            for (port, &pos) in self.pointers[i].iter().enumerate() {
                let mut d = r.residual[self.read_raw_start + port].clone();
                d.sub_assign_s(&S::from_i64(value(seq[pos - 1]), prec));
                worst = worst.max(abs_or_inf(d.to_f64()));
            }
            if i >= p.input_len() {
                let mut d = r.residual[self.out_coord].clone();
                d.sub_assign_s(&S::from_i64(value(seq[i + 1]), prec));
                worst_out = worst_out.max(abs_or_inf(d.to_f64()));
            }
        }
        Ok((worst, worst_out))
    }

    /// Greedy decoding from `s_1..s_n SEP`, compared with the reference solver.
    pub fn run(&self, p: &dyn DpProblem, input: &[usize]) -> Result<RunResult> {
        p.check_input(input)?;
        let expected_full = p.solve(input);
        let prompt = &expected_full[..p.input_len() + 1];
        let expected = expected_full[p.input_len() + 1..].to_vec();
        let g = self.model.generate(prompt, expected.len(), None);
        let first_mismatch = g.tokens.iter().zip(&expected).position(|(a, b)| a != b);
        Ok(RunResult {
            exact: first_mismatch.is_none() && g.tokens.len() == expected.len(),
            generated: g.tokens,
            expected,
            first_mismatch,
            min_margin_log10: g.min_margin_log10,
            ops: g.ops,
        })
    }
}
