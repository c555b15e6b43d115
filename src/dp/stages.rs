//! The stages of the DP compiler (proofs/dp-general.md, the proof of Theorem 3/4 in order):
//! dependency plan → control subspaces → memory → read (round) → transition → readout, and the
//! error bound at `out`. [`super::compile`] calls them in this order.

use super::options::{Options, MEMORY_ACCURACY};
use super::{dependency_distance, DpProblem, Step, StepKind};
use crate::error::{Error, Result};
use crate::gadgets::round::round_error_bound;
use crate::gadgets::{Circuit, Lin};
use crate::memory::{Memory, MemoryIo, MemoryParams, QueryFeed, ReadPlan, Residual, Use};
use crate::model::{Activation, Block, Coord, Layout, PosKind, PositionalFeature, SparseMatrix};
use crate::num::Scalar;

/// Stage 1: what the problem reads, where, and how far back.
pub struct Plan<'a> {
    pub problem: &'a dyn DpProblem,
    pub steps: Vec<Step>,
    /// Input length n.
    pub n: usize,
    /// Sequence length T = n + 1 + #steps.
    pub t_len: usize,
    /// Token values `0..values`.
    pub values: usize,
    /// M = max(values − 1, 1), the largest value.
    pub max_value: f64,
    pub ports: usize,
    pub rules: Vec<String>,
    /// Dependency distance m.
    pub distance: usize,
    /// m-local, derived from the reads ([`crate::dp::SpecProblem`]).
    pub local: bool,
    /// `pointers[t − 1][r]`: the position port r reads while t is fed (t itself when position
    /// t + 1 is not a generated step).
    pub pointers: Vec<Vec<usize>>,
}

impl Plan<'_> {
    /// The step producing the token at position t + 1, when t is the fed position.
    pub fn step_at(&self, t: usize) -> Option<&Step> {
        t.checked_sub(self.n + 1).and_then(|k| self.steps.get(k))
    }
    /// The memory's read plan: every position is written and read through every port.
    pub fn read_plan(&self) -> Result<ReadPlan> {
        let targets = (self.pointers.iter())
            .map(|row| row.iter().map(|&p| Some(p)).collect())
            .collect();
        ReadPlan::new(self.ports, self.t_len, targets)
    }
    /// A positional feature given as a table over t = 1..=T.
    fn table(&self, coord: Coord, f: impl Fn(usize) -> i64) -> PositionalFeature {
        PositionalFeature {
            coord: coord.index(),
            kind: PosKind::Table {
                values: (1..=self.t_len).map(f).collect(),
            },
        }
    }
}

/// Stage 1: the dependency plan of `p`.
pub fn dependency_plan(p: &dyn DpProblem) -> Result<Plan<'_>> {
    let steps = p.steps();
    let n = p.input_len();
    let t_len = n + 1 + steps.len();
    let ports = p.read_ports();
    if let Some(bad) = steps.iter().find(|s| s.reads.len() != ports) {
        return Err(Error::compute(format!(
            "{}: a step lists {} reads for {ports} ports",
            p.describe(),
            bad.reads.len()
        )));
    }
    let mut plan = Plan {
        problem: p,
        steps,
        n,
        t_len,
        values: p.values(),
        max_value: (p.values() - 1).max(1) as f64,
        ports,
        rules: p.rules(),
        distance: dependency_distance(p),
        local: p.local(),
        pointers: Vec::new(),
    };
    plan.pointers = (1..=t_len)
        .map(|t| {
            (0..ports)
                .map(|r| plan.step_at(t).map_or(t, |s| s.reads[r]))
                .collect()
        })
        .collect();
    Ok(plan)
}

/// Stage 2: the residual subspaces every memory shares.
#[derive(Clone, Debug)]
pub struct Control {
    pub tok_value: Coord,
    pub tok_sep: Coord,
    pub one: Coord,
    /// `next_is_<rule>`, one per rule.
    pub rule_flags: Vec<Coord>,
    pub is_boundary: Coord,
    pub boundary_value: Coord,
    pub next_sep: Coord,
    /// Memory output per read port (≈ integer).
    pub read_raw: Block,
    /// Rounded read per port (exact integer).
    pub read: Block,
    /// Value of the next token.
    pub out: Coord,
}

/// Stage 2: token value, constant, rule flags (positional features), `read_raw`, `read`, `out`.
pub fn control_subspaces(
    plan: &Plan,
    lay: &mut Layout,
    positional: &mut Vec<PositionalFeature>,
) -> Control {
    let tok_value = lay.coord("tok_value", "value of the current token (0 for SEP)");
    let tok_sep = lay.coord("tok_is_sep", "1 when the current token is SEP");
    let one = lay.coord("one", "constant 1");
    positional.push(PositionalFeature {
        coord: one.index(),
        kind: PosKind::Constant { num: 1, den: 1 },
    });
    let rule_flags: Vec<Coord> = (plan.rules.iter())
        .map(|r| {
            lay.coord(
                &format!("next_is_{r}"),
                "1 when the next token is this rule's state",
            )
        })
        .collect();
    let is_boundary = lay.coord(
        "next_is_boundary",
        "1 when the next token is a boundary state",
    );
    let boundary_value = lay.coord("boundary_value", "the next boundary state's value");
    let next_sep = lay.coord("next_is_sep", "1 when the next token is SEP");
    for (i, &c) in rule_flags.iter().enumerate() {
        positional.push(plan.table(c, |t| {
            plan.step_at(t).is_some_and(|s| s.kind == StepKind::Rule(i)) as i64
        }));
    }
    positional.push(plan.table(is_boundary, |t| {
        plan.step_at(t)
            .is_some_and(|s| matches!(s.kind, StepKind::Boundary(_))) as i64
    }));
    positional.push(
        plan.table(boundary_value, |t| match plan.step_at(t).map(|s| &s.kind) {
            Some(StepKind::Boundary(b)) => *b,
            _ => 0,
        }),
    );
    positional.push(plan.table(next_sep, |t| {
        (t == plan.n || plan.step_at(t).is_some_and(|s| s.kind == StepKind::Sep)) as i64
    }));
    let read_raw = lay.block(
        "read_raw",
        plan.ports,
        "memory output per read port (≈ integer)",
    );
    let read = lay.block("read", plan.ports, "rounded read per port (exact integer)");
    let out = lay.coord("out", "value of the next token");
    Control {
        tok_value,
        tok_sep,
        one,
        rule_flags,
        is_boundary,
        boundary_value,
        next_sep,
        read_raw,
        read,
        out,
    }
}

/// The catalog's parameters of the memory `opt` asks for.
fn memory_params(plan: &Plan, opt: &Options) -> MemoryParams {
    MemoryParams {
        name: "memory",
        feed: QueryFeed::Decoded,
        len: plan.t_len,
        slots: opt.slots,
        distance: plan.distance,
        horizon: plan.t_len,
        value_bound: plan.max_value,
        accuracy: MEMORY_ACCURACY,
        overrides: opt.memory_override,
        context: plan.problem.describe(),
    }
}

/// Stage 3a: the memory `opt` asks for, from the memory catalog's factory (which checks the
/// memory's size hypotheses and applies the parameter overrides).
pub fn memory_for<S: Scalar>(plan: &Plan, opt: &Options) -> Result<Box<dyn Memory<S>>> {
    opt.memory.build(Use::Dp, &memory_params(plan, opt))
}

/// Stage 3: plan the memory: it stores `tok_value` and writes `read_raw[r] ≈ value of the
/// token at pointers[t][r]`, within [`MEMORY_ACCURACY`].
pub fn plan_memory<S: Scalar>(
    plan: &Plan,
    opt: &Options,
    ctrl: &Control,
    lay: &mut Layout,
    positional: &mut Vec<PositionalFeature>,
) -> Result<Box<dyn Memory<S>>> {
    let memory = memory_for::<S>(plan, opt)?;
    place_memory(plan, memory, ctrl, lay, positional)
}

fn place_memory<S: Scalar>(
    plan: &Plan,
    mut memory: Box<dyn Memory<S>>,
    ctrl: &Control,
    lay: &mut Layout,
    positional: &mut Vec<PositionalFeature>,
) -> Result<Box<dyn Memory<S>>> {
    let io = MemoryIo {
        value: ctrl.tok_value,
        one: ctrl.one,
        read: ctrl.read_raw.clone(),
        value_bound: plan.max_value,
        accuracy: MEMORY_ACCURACY,
    };
    let mut res = Residual {
        layout: lay,
        positional,
    };
    memory.plan(&mut res, &io, &plan.read_plan()?)?;
    Ok(memory)
}

/// Stage 4: round every raw read to the exact integer in `[0, V − 1]` (exact within 1/4).
pub fn read_circuit(plan: &Plan, ctrl: &Control) -> Result<Circuit> {
    let mut c = Circuit::new();
    let m = plan.max_value;
    for r in 0..plan.ports {
        let x = c.input(format!("read_raw{r}"), ctrl.read_raw.at(r), -0.25, m + 0.25);
        let y = c.round(&format!("round{r}"), &x, 0, plan.values as i64 - 1);
        c.sink(format!("read{r}"), ctrl.read.at(r), y)?;
    }
    Ok(c)
}

/// Stage 5: the problem's rule circuits on the rounded reads; each rule output and the boundary
/// value is gated by its flag (the `mlp-select` gate) and summed into `out`.
pub fn transition_circuit(plan: &Plan, ctrl: &Control) -> Result<Circuit> {
    let mut c = Circuit::new();
    let m = plan.max_value;
    let reads: Vec<Lin> = (0..plan.ports)
        .map(|r| c.input(format!("read{r}"), ctrl.read.at(r), 0.0, m))
        .collect();
    let outs = plan.problem.transition(&mut c, &reads);
    if outs.len() != plan.rules.len() {
        return Err(Error::compute(format!(
            "{} returned {} rule outputs for {} rules",
            plan.problem.describe(),
            outs.len(),
            plan.rules.len()
        )));
    }
    let mut total = Lin::default();
    for ((o, rule), &flag) in outs.iter().zip(&plan.rules).zip(&ctrl.rule_flags) {
        let f = c.input(format!("next_is_{rule}"), flag, 0.0, 1.0);
        total = total.plus(&c.gate(&format!("gate.{rule}"), o, &f));
    }
    let bv = c.input("boundary_value", ctrl.boundary_value, 0.0, m);
    let bf = c.input("next_is_boundary", ctrl.is_boundary, 0.0, 1.0);
    total = total.plus(&c.gate("gate.boundary", &bv, &bf));
    c.sink("out", ctrl.out, total)?;
    Ok(c)
}

/// Stage 6: the embedding (`tok_value = c`, `tok_is_sep`) and the readout
/// `logit(c) = 2c·out − c²`, `logit(SEP) = 2·next_is_sep − 1`.
pub struct Readout<S> {
    pub vocab: Vec<String>,
    pub token_embedding: SparseMatrix<S>,
    pub readout: SparseMatrix<S>,
    pub bias: Vec<S>,
}

/// Stage 6 (see [`Readout`]).
pub fn readout<S: Scalar>(plan: &Plan, ctrl: &Control, width: usize, prec: u32) -> Readout<S> {
    let v = plan.values;
    let sep = v;
    let int = |x: i64| S::from_i64(x, prec);
    let mut emb: Vec<(usize, usize, S)> = (1..v)
        .map(|c| (c, ctrl.tok_value.index(), int(c as i64)))
        .collect();
    emb.push((sep, ctrl.tok_sep.index(), int(1)));
    let mut ro: Vec<(usize, usize, S)> = (0..v)
        .map(|c| (c, ctrl.out.index(), int(2 * c as i64)))
        .collect();
    ro.push((sep, ctrl.next_sep.index(), int(2)));
    let mut bias: Vec<S> = (0..v).map(|c| int(-((c * c) as i64))).collect();
    bias.push(int(-1));
    let mut vocab: Vec<String> = (0..v).map(|c| c.to_string()).collect();
    vocab.push("SEP".into());
    Readout {
        vocab,
        token_embedding: SparseMatrix::from_entries(v + 1, width, emb),
        readout: SparseMatrix::from_entries(v + 1, width, ro),
        bias,
    }
}

/// The bound at `out`: the rounding stage absorbs a read error `ε ≤ 1/8` up to
/// [`round_error_bound`], then forward propagation through the transition circuit
/// ([`Circuit::sink_error_bounds`]). ∞ when a hypothesis fails.
pub fn out_error_bound(
    plan: &Plan,
    memory_error: f64,
    transition: &Circuit,
    act: Activation,
    lambda: f64,
) -> f64 {
    let Some(read_err) = round_error_bound(act, lambda, memory_error, 0, plan.values as i64 - 1)
    else {
        return f64::INFINITY;
    };
    let reads = transition.inputs_named("read");
    let errs: Vec<f64> = (0..transition.inputs.len())
        .map(|i| if reads.contains(&i) { read_err } else { 0.0 })
        .collect();
    transition
        .sink_error_bounds(&errs, act, lambda)
        .map_or(f64::INFINITY, |v| v[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryKind;

    /// Stages 1 and 2 on `p`: the plan, the layout and features so far, the control subspaces.
    fn staged(p: &dyn DpProblem) -> (Plan<'_>, Layout, Vec<PositionalFeature>, Control) {
        let plan = dependency_plan(p).unwrap();
        let (mut lay, mut pos) = (Layout::new(), Vec::new());
        let ctrl = control_subspaces(&plan, &mut lay, &mut pos);
        (plan, lay, pos, ctrl)
    }

    #[test]
    fn the_plan_points_every_rule_read_within_the_distance() {
        let p = crate::dp::problem("edit", "n1=3 n2=2 sigma=4 ins=1 del=1 sub=1").unwrap();
        let plan = dependency_plan(&p).unwrap();
        assert_eq!(plan.t_len, crate::dp::total_len(&p));
        assert_eq!(plan.pointers.len(), plan.t_len);
        for t in 1..=plan.t_len {
            for &q in &plan.pointers[t - 1] {
                assert!(q >= 1 && q <= t);
                if matches!(plan.step_at(t).map(|s| &s.kind), Some(StepKind::Rule(_))) {
                    assert!(t + 1 - q <= plan.distance);
                }
            }
        }
        assert!(!plan.local);
        assert!(
            dependency_plan(&crate::dp::problem("eca", "rule=110 width=6 rows=3").unwrap())
                .unwrap()
                .local
        );
    }

    #[test]
    fn control_flags_mark_exactly_the_generated_steps() {
        let p = crate::dp::problem("linrec", "coeffs=1,1 q=10 steps=6").unwrap();
        let (plan, _, pos, ctrl) = staged(&p);
        let at = |c: Coord, t: usize| -> i64 {
            pos.iter()
                .filter(|f| f.coord == c.index())
                .map(|f| f.kind.value::<f64>(t, 53) as i64)
                .sum()
        };
        for t in plan.n..plan.t_len {
            let kind = plan.step_at(t).map(|s| s.kind.clone());
            let rule = ctrl.rule_flags.iter().map(|&c| at(c, t)).sum::<i64>();
            let sep = at(ctrl.next_sep, t);
            let boundary = at(ctrl.is_boundary, t);
            // exactly one of rule / boundary / SEP is set at every generating position
            assert_eq!(rule + sep + boundary, 1, "t = {t}: {kind:?}");
        }
        assert_eq!(ctrl.read_raw.len(), plan.ports);
    }

    #[test]
    fn every_memory_kind_plans_and_states_a_bound_below_the_accuracy() {
        let p = crate::dp::problem("edit", "n1=2 n2=2 sigma=3 ins=1 del=1 sub=1").unwrap();
        let plan = dependency_plan(&p).unwrap();
        for kind in MemoryKind::usable_for(Use::Dp) {
            let bound = |opt: &Options| {
                let (mut lay, mut pos) = (Layout::new(), Vec::new());
                let ctrl = control_subspaces(&plan, &mut lay, &mut pos);
                let m = plan_memory::<f64>(&plan, opt, &ctrl, &mut lay, &mut pos).unwrap();
                m.error_bound(Activation::Relu, 1.0)
            };
            let opt = Options::new(kind, Activation::Relu);
            let b = bound(&opt);
            assert!(b <= MEMORY_ACCURACY, "{kind:?}: {b}");
            // a weaker memory states a weaker bound
            let weak = Options {
                memory_override: Some((0.5, 0.5)),
                ..opt
            };
            if kind != MemoryKind::Position {
                assert!(bound(&weak) > MEMORY_ACCURACY, "{kind:?}");
            }
        }
    }

    #[test]
    fn the_read_stage_rounds_and_the_transition_gates_by_the_flags() {
        let p = crate::dp::problem("linrec", "coeffs=1,1 q=10 steps=6").unwrap();
        let (plan, _, _, ctrl) = staged(&p);
        let round = read_circuit(&plan, &ctrl).unwrap();
        let ins: Vec<f64> = (0..plan.ports)
            .map(|r| 3.0 + 0.2 * r as f64 - 0.1)
            .collect();
        let outs: Vec<Lin> = round.sinks.iter().map(|s| s.lin.clone()).collect();
        assert_eq!(round.eval(&ins, &outs), vec![3.0; plan.ports]);
        let tr = transition_circuit(&plan, &ctrl).unwrap();
        // reads (4, 7), rule flag on: out = (4 + 7) mod 10; flag off and boundary 0: out = 0
        let n_in = tr.inputs.len();
        let mut x = vec![0.0; n_in];
        x[0] = 4.0;
        x[1] = 7.0;
        let out = std::slice::from_ref(&tr.sinks[0].lin);
        assert_eq!(tr.eval(&x, out)[0], 0.0);
        let flag = tr.inputs_named("next_is_")[0];
        x[flag] = 1.0;
        assert_eq!(tr.eval(&x, out)[0], 1.0);
    }

    #[test]
    fn out_bound_is_zero_for_relu_and_infinite_beyond_an_eighth() {
        let p = crate::dp::problem("edit", "n1=2 n2=2 sigma=3 ins=1 del=1 sub=1").unwrap();
        let (plan, _, _, ctrl) = staged(&p);
        let tr = transition_circuit(&plan, &ctrl).unwrap();
        assert_eq!(out_error_bound(&plan, 0.1, &tr, Activation::Relu, 1.0), 0.0);
        assert!(out_error_bound(&plan, 0.2, &tr, Activation::Relu, 1.0).is_infinite());
        let g = out_error_bound(&plan, 0.05, &tr, Activation::Gelu, 20.0);
        assert!(g > 0.0 && g < 0.5, "{g}");
        assert!(out_error_bound(&plan, 0.05, &tr, Activation::Gelu, 1.0).is_infinite());
    }

    #[test]
    fn the_readout_decodes_the_nearest_value_and_sep() {
        let p = crate::dp::problem("linrec", "coeffs=1,1 q=10 steps=6").unwrap();
        let (plan, lay, _, ctrl) = staged(&p);
        let ro = readout::<f64>(&plan, &ctrl, lay.width(), 53);
        assert_eq!(ro.vocab.len(), plan.values + 1);
        let mut x = vec![0.0; lay.width()];
        x[ctrl.out.index()] = 6.2;
        let mut logits = vec![0.0; plan.values + 1];
        ro.readout.mul_vec_into(&x, &mut logits);
        let best = (0..logits.len())
            .max_by(|&a, &b| (logits[a] + ro.bias[a]).total_cmp(&(logits[b] + ro.bias[b])))
            .unwrap();
        assert_eq!(best, 6);
        x[ctrl.out.index()] = 0.0;
        x[ctrl.next_sep.index()] = 1.0;
        ro.readout.mul_vec_into(&x, &mut logits);
        let best = (0..logits.len())
            .max_by(|&a, &b| (logits[a] + ro.bias[a]).total_cmp(&(logits[b] + ro.bias[b])))
            .unwrap();
        assert_eq!(best, plan.values);
    }
}
