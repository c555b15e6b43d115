//! The compiler: (DP problem of a fixed size, memory, activation, precision) → a model whose
//! greedy decoding from `s_1..s_n SEP` writes the whole CoT and the answer (proofs/dp-general.md).
//!
//! [`compile`] is the proof of Theorem 3/4 read as a sequence of named stages
//! ([`super::stages`]), each a small function with its own test:
//! 1. [`dependency_plan`](super::stages::dependency_plan) — steps, pointers, distance, locality;
//! 2. [`control_subspaces`](super::stages::control_subspaces) — token value, rule flags,
//!    `read_raw`, `read`, `out`;
//! 3. [`plan_memory`](super::stages::plan_memory) — a [`crate::memory::Memory`] holding every
//!    token value, one read per port into `read_raw`;
//! 4. [`read_circuit`](super::stages::read_circuit) — each raw read rounded to the exact integer;
//! 5. [`transition_circuit`](super::stages::transition_circuit) — the rule circuits, gated by
//!    their flags into `out`;
//! 6. [`readout`](super::stages::readout) — `logit(c) = 2c·out − c²`, `logit(SEP) = 2·next_is_sep − 1`;
//!
//! then the error bounds ([`out_error_bound`](super::stages::out_error_bound)).

pub use super::options::{MemoryKind, Options, MAX_POSITION_MEMORY_T, MAX_SLOTS, MEMORY_ACCURACY};
use super::stages;
use super::DpProblem;
use crate::error::{Error, Result};
use crate::gadgets::relu::{error_beyond_f64, ReluUnit};
use crate::measure::{probe, Feed, Tally};
use crate::memory::Memory;
use crate::model::{Activation, Block, Layer, Layout, Model};
use crate::num::{abs_or_inf, Scalar};
use serde::Serialize;

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
    /// Bound on |memory read − stored integer| in exact arithmetic (the memory's stated bound,
    /// `Memory::error_bound`).
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
    /// The planned memory: its bounds come from it ([`Memory::error_bound`],
    /// [`Memory::certified_error_bound`]), one formula each.
    pub memory: Box<dyn Memory<S>>,
    /// `pointers[t-1][r]`: the position read port r reads while position t is fed.
    pub pointers: Vec<Vec<usize>>,
    /// The memory outputs `read_raw` (one coordinate per read port).
    pub read_raw: Block,
    /// First residual coordinate of `read_raw`.
    pub read_raw_start: usize,
    /// Residual coordinate of `out` (the next token's value).
    pub out_coord: usize,
}

/// Smallest λ (to 1/8, from 4) with `units · δ(λ) ≤ 2^-30`, where δ(λ) bounds
/// `|φ(λz)/λ − ReLU(z)|` for `|z| ≥ 3/8` (every pre-activation on near-integer inputs is 0 or at
/// least 3/8 away from it): [`error_beyond_f64`] at `3/8`.
pub fn prescribed_lambda(act: Activation, units: usize) -> f64 {
    let target = 2f64.powi(-30) / units.max(1) as f64;
    let mut l = 4.0;
    while error_beyond_f64(act, l, 0.375) > target {
        l += 0.125;
    }
    l
}

/// The range of `--lambda` accepted by [`compile`]: the prescribed λ lies well inside it, and
/// outside it the weights `λ`, `1/λ` (times the circuit's constants) leave a sane range.
pub const LAMBDA_RANGE: (f64, f64) = (1.0 / 1024.0, 1.0e6);

/// Compile `p` into a model at `prec` bits: the stages of the module docs, in order.
pub fn compile<S: Scalar>(p: &dyn DpProblem, opt: &Options, prec: u32) -> Result<Compiled<S>> {
    check_lambda(opt)?;
    let plan = stages::dependency_plan(p)?;
    let mut lay = Layout::new();
    let mut positional = Vec::new();
    let ctrl = stages::control_subspaces(&plan, &mut lay, &mut positional);
    let memory = stages::plan_memory::<S>(&plan, opt, &ctrl, &mut lay, &mut positional)?;
    let round = stages::read_circuit(&plan, &ctrl)?;
    let transition = stages::transition_circuit(&plan, &ctrl)?;
    let round_coords = round.place(&mut lay, "round");
    let transition_coords = transition.place(&mut lay, "transition");
    let width = lay.width();

    let mlp_units = memory
        .circuits()
        .iter()
        .map(|c| c.units.len())
        .sum::<usize>()
        + round.units.len()
        + transition.units.len();
    let lambda = match opt.activation {
        Activation::Relu => 1.0,
        a => opt
            .lambda
            .unwrap_or_else(|| prescribed_lambda(a, mlp_units)),
    };
    let unit = match opt.activation {
        Activation::Relu => ReluUnit::exact(prec),
        a => ReluUnit::new(a, S::from_f64(lambda, prec))?,
    };
    let mut layers: Vec<Layer<S>> = memory.layers(width, &unit)?;
    for (c, coords, name) in [
        (&round, &round_coords, "round"),
        (&transition, &transition_coords, "transition"),
    ] {
        layers.extend(
            c.build_layers(width, coords, &unit, name)?
                .into_iter()
                .map(Layer::Mlp),
        );
    }

    let memory_error_bound = memory.error_bound(opt.activation, lambda);
    let out_error_bound = stages::out_error_bound(
        &plan,
        memory_error_bound,
        &transition,
        opt.activation,
        lambda,
    );
    let ro = stages::readout::<S>(&plan, &ctrl, width, prec);
    let info = CompileInfo {
        problem: p.describe(),
        memory: opt.memory,
        activation: opt.activation,
        lambda,
        n: plan.n,
        states: plan.steps.len() - 2,
        total_len: plan.t_len,
        distance: plan.distance,
        slots: if opt.memory == MemoryKind::Slot {
            memory.state()
        } else {
            0
        },
        memory_error_bound,
        out_error_bound,
        memory_params: memory.params(),
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
        vocab: ro.vocab,
        token_embedding: ro.token_embedding,
        positional,
        layers,
        readout: ro.readout,
        readout_bias: ro.bias,
        prec,
    };
    let max_param = model.size().max_abs_param;
    if !max_param.is_finite() {
        return Err(Error::input(format!(
            "the model for {} has a non-finite weight (max |param| = {max_param}) at {prec} bits",
            p.describe()
        )));
    }
    Ok(Compiled {
        model,
        info,
        memory,
        pointers: plan.pointers.clone(),
        read_raw_start: ctrl.read_raw.range().start,
        read_raw: ctrl.read_raw.clone(),
        out_coord: ctrl.out.index(),
    })
}

/// Refuse a λ outside [`LAMBDA_RANGE`].
fn check_lambda(opt: &Options) -> Result<()> {
    if let Some(l) = opt.lambda {
        let (lo, hi) = LAMBDA_RANGE;
        if !(lo..=hi).contains(&l) {
            return Err(Error::input(format!(
                "the activation scale λ must be between {lo:?} (2^-10) and {hi:e} (got {l:?})"
            )));
        }
    }
    Ok(())
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
        let prec = self.model.prec;
        let (mut worst, mut worst_out) = (0.0f64, 0.0f64);
        self.probe_reference(p, input, |fed, r, _| {
            for (port, v) in fed.reads {
                let mut d = r.residual[self.read_raw.at(port).index()].clone();
                d.sub_assign_s(&S::from_i64(v, prec));
                worst = worst.max(abs_or_inf(d.to_f64()));
            }
            if let Some(v) = fed.out {
                let mut d = r.residual[self.out_coord].clone();
                d.sub_assign_s(&S::from_i64(v, prec));
                worst_out = worst_out.max(abs_or_inf(d.to_f64()));
            }
        })?;
        Ok((worst, worst_out))
    }

    /// The reference CoT of `input` fed token by token ([`probe`], teacher-forced): after each
    /// fed position `visit` sees what it should hold ([`Fed`]), the runner and the next token.
    pub fn probe_reference(
        &self,
        p: &dyn DpProblem,
        input: &[usize],
        mut visit: impl FnMut(Fed, &crate::model::Runner<'_, S>, usize),
    ) -> Result<()> {
        p.check_input(input)?;
        let seq = p.solve(input);
        let value = |tok: usize| if tok == p.sep() { 0 } else { tok as i64 };
        probe(
            &self.model,
            &seq[..1],
            &seq[1..],
            Feed::Teacher,
            |i, r, want| {
                let fed = Fed {
                    reads: (self.pointers[i].iter().enumerate())
                        .map(|(port, &pos)| (port, value(seq[pos - 1])))
                        .collect(),
                    out: (i >= p.input_len()).then(|| value(want)),
                };
                visit(fed, r, want)
            },
        );
        Ok(())
    }

    /// Greedy decoding from `s_1..s_n SEP`, compared with the reference solver.
    pub fn run(&self, p: &dyn DpProblem, input: &[usize]) -> Result<RunResult> {
        p.check_input(input)?;
        let expected_full = p.solve(input);
        let prompt = &expected_full[..p.input_len() + 1];
        let expected = expected_full[p.input_len() + 1..].to_vec();
        let mut tally = Tally::new(expected.len(), 64);
        let (generated, ops) = probe(
            &self.model,
            prompt,
            &expected,
            Feed::Greedy,
            |q, r, want| tally.measure(q, r, want),
        );
        let first_mismatch = generated.iter().zip(&expected).position(|(a, b)| a != b);
        Ok(RunResult {
            exact: first_mismatch.is_none() && generated.len() == expected.len(),
            generated,
            expected,
            first_mismatch,
            min_margin_log10: tally.min_margin_log10,
            ops,
        })
    }
}

/// What a fed position of the reference CoT should hold ([`Compiled::probe_reference`]).
pub struct Fed {
    /// `(port, value)`: the value each read port should read.
    pub reads: Vec<(usize, i64)>,
    /// At a generated position: the value `out` should hold (that of the next token, 0 for SEP).
    pub out: Option<i64>,
}
