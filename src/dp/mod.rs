//! Chain of thought for dynamic programming (proofs/dp-problems.md): DP problems written as spec
//! files ([`spec`], the language of [`lang`]; the shipped ones in [`catalog`]) behind one trait,
//! and a compiler from (problem, size, memory, activation) to a Mamba (or softmax-attention)
//! model that writes the whole CoT by greedy decoding.
//!
//! Sequence layout for input size n and S states (positions are 1-based):
//! `s_1..s_n` at 1..=n, `SEP` at n+1, `dp(i_k)` at n+1+k, `SEP` at n+S+2, answer at n+S+3 = T.
//! The token at position τ is produced while the token at τ−1 is fed; a read of position p
//! then happens at distance τ−1−p, and the *dependency distance* is τ − p (proofs/dp-problems.md).

pub mod catalog;
pub mod compiler;
pub mod lang;
pub mod options;
pub mod spec;
pub mod stages;
pub mod value;

use crate::error::{Error, Result};
/// The circuits live in the gadget layer; `dp::circuit` is kept as a path to them.
pub use crate::gadgets::circuit;
use crate::rng::Rng;
use circuit::{Circuit, Lin};

pub use catalog::{catalog, problem, problem_by_name};
pub use compiler::{compile, Compiled, MemoryKind, Options};
pub use spec::{parse_param, Spec, SpecError, SpecErrorKind, SpecProblem, Val, MAX_TOTAL_LEN};

/// What the token at one generated position is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// A state computed by transition rule `rule` from the reads.
    Rule(usize),
    /// A boundary state with a fixed value.
    Boundary(i64),
    /// The separator.
    Sep,
}

/// One generated position: its kind and the positions it reads (one per read port).
#[derive(Clone, Debug)]
pub struct Step {
    pub kind: StepKind,
    pub reads: Vec<usize>,
}

/// A DP problem of a fixed size (proofs/dp-problems.md).
pub trait DpProblem: Send + Sync {
    /// Short id (the spec's `problem.id`, e.g. `edit`).
    fn id(&self) -> String;
    /// A description with every parameter.
    fn describe(&self) -> String;
    /// Input length n.
    fn input_len(&self) -> usize;
    /// Input symbols are `0..alphabet`.
    fn alphabet(&self) -> usize;
    /// Numeric tokens are `0..values` (SEP is token `values`).
    fn values(&self) -> usize;
    /// Number of read ports (the most reads any rule makes).
    fn read_ports(&self) -> usize;
    /// Names of the transition rules (the last one is the answer rule).
    fn rules(&self) -> Vec<String>;
    /// Every generated position in order: S states, SEP, answer.
    fn steps(&self) -> Vec<Step>;
    /// Add the rules' ReLU circuits; `reads` are exact integers in `[0, values)`.
    /// Returns one output per rule.
    fn transition(&self, c: &mut Circuit, reads: &[Lin]) -> Vec<Lin>;
    /// The plain reference solver: the whole sequence `s_1..s_n SEP dp.. SEP answer`.
    fn solve(&self, input: &[usize]) -> Vec<usize>;
    /// m-local: the dependency distance does not grow with the size parameter (derived from
    /// the reads, [`SpecProblem`]).
    fn local(&self) -> bool;
    /// The same problem at another size (the size parameter of sweeps).
    fn resized(&self, size: usize) -> Result<Box<dyn DpProblem>>;
    /// The size parameter of this instance.
    fn size(&self) -> usize;

    fn sep(&self) -> usize {
        self.values()
    }
    fn random_input(&self, rng: &mut Rng) -> Vec<usize> {
        (0..self.input_len())
            .map(|_| rng.below(self.alphabet()))
            .collect()
    }
    /// Check an input sequence.
    fn check_input(&self, input: &[usize]) -> Result<()> {
        check_input_shape(self, input)
    }
}

/// The input has `input_len()` symbols, each in the alphabet.
pub fn check_input_shape<P: DpProblem + ?Sized>(p: &P, input: &[usize]) -> Result<()> {
    if input.len() != p.input_len() {
        return Err(Error::input(format!(
            "{} expects an input of {} symbols, got {}",
            p.describe(),
            p.input_len(),
            input.len()
        )));
    }
    if let Some(&x) = input.iter().find(|&&x| x >= p.alphabet()) {
        return Err(Error::input(format!(
            "input symbol {x} is outside the alphabet 0..{} of {}",
            p.alphabet() - 1,
            p.describe()
        )));
    }
    Ok(())
}

/// Total length T = n + S + 3.
pub fn total_len(p: &dyn DpProblem) -> usize {
    p.input_len() + 1 + p.steps().len()
}

/// Largest dependency distance τ − p over all reads of rule states (proofs/dp-problems.md).
pub fn dependency_distance(p: &dyn DpProblem) -> usize {
    let first = p.input_len() + 2;
    p.steps()
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.kind, StepKind::Rule(_)))
        .flat_map(|(k, s)| s.reads.iter().map(move |&r| first + k - r))
        .max()
        .unwrap_or(1)
}

/// Parse `--input`: symbols separated by commas or spaces, or a digit string like `0110`.
pub fn parse_input(p: &dyn DpProblem, text: &str) -> Result<Vec<usize>> {
    let t = text.trim();
    let parts: Vec<&str> = if t.is_empty() {
        Vec::new()
    } else if t.contains(',') {
        // Every field must hold a symbol: `0,1,,2` is an error, not `0,1,2`.
        let parts: Vec<&str> = t.split(',').map(str::trim).collect();
        if let Some(k) = parts.iter().position(|s| s.is_empty()) {
            return Err(Error::input(format!(
                "input `{text}` has an empty field at position {} (symbols are separated by single commas)",
                k + 1
            )));
        }
        parts
    } else if t.contains(char::is_whitespace) {
        t.split_whitespace().collect()
    } else if p.alphabet() <= 10 {
        t.split("").filter(|s| !s.is_empty()).collect()
    } else {
        vec![t]
    };
    let syms = parts
        .iter()
        .map(|s| {
            s.parse::<usize>().map_err(|_| {
                Error::input(format!("input symbol `{s}` is not a non-negative integer"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    p.check_input(&syms)?;
    Ok(syms)
}

/// Interpret the problem's own step list and rule circuits on integers (no neural model):
/// must agree with the plain reference solver. A rule circuit whose output is not a token value
/// (a non-negative integer below `values()`) is a compute error, never rounded into one.
pub fn interpret(p: &dyn DpProblem, input: &[usize]) -> Result<Vec<usize>> {
    let r = p.read_ports();
    let mut c = Circuit::new();
    let reads: Vec<Lin> = (0..r)
        .map(|k| c.free_input(format!("read{k}"), 0.0, (p.values() - 1) as f64))
        .collect();
    let outs = p.transition(&mut c, &reads);
    let mut seq: Vec<usize> = input.to_vec();
    seq.push(p.sep());
    for s in p.steps() {
        let tok = match s.kind {
            StepKind::Sep => p.sep(),
            StepKind::Boundary(v) => v as usize,
            StepKind::Rule(rule) => {
                let vals: Vec<f64> = s
                    .reads
                    .iter()
                    .map(|&pos| {
                        let t = seq[pos - 1];
                        if t == p.sep() {
                            0.0
                        } else {
                            t as f64
                        }
                    })
                    .collect();
                let v = c.eval(&vals, &outs[rule..rule + 1])[0];
                token_value(p, v).ok_or_else(|| {
                    Error::compute(format!(
                        "rule `{}` of {} output {v} at position {}, not a token value in 0..{}",
                        p.rules()[rule],
                        p.describe(),
                        seq.len() + 1,
                        p.values()
                    ))
                })?
            }
        };
        seq.push(tok);
    }
    Ok(seq)
}

/// `v` as a token value when it is an integer in `0..values()`.
fn token_value(p: &dyn DpProblem, v: f64) -> Option<usize> {
    (v.fract() == 0.0 && v >= 0.0 && v < p.values() as f64).then_some(v as usize)
}

/// Render tokens as text.
pub fn render(p: &dyn DpProblem, tokens: &[usize]) -> String {
    tokens
        .iter()
        .map(|&t| {
            if t == p.sep() {
                "SEP".to_string()
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
