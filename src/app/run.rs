//! `freelunch run` and `freelunch trace`: decode an exported model, or record its run.

use crate::error::{Error, Result};
use crate::export::lowering::read_export;
use crate::export::run::{render_tokens, Options, Plan};
use crate::export::trace::Trace;
use crate::model::Softplus;
use crate::num::Arith;
use std::path::{Path, PathBuf};

/// Load an export (one model of a collection with `pick`) and plan the run.
pub fn plan(model: &Path, pick: Option<&str>, options: &Options<'_>) -> Result<Plan> {
    Plan::new(read_export(model, pick)?, options)
}

/// One decoded run of an export.
pub struct Decoded {
    pub model: String,
    pub arith: Arith,
    pub softplus: Softplus,
    pub outcome: Outcome,
}

/// What a run produced: tokens, or a block's read value.
pub enum Outcome {
    Tokens {
        prompt: Vec<String>,
        generated: Vec<String>,
        /// The smallest logit margin over the generated tokens.
        min_margin: f64,
        /// The tokens the file expects for this prompt, when it stores them.
        expected: Option<Vec<String>>,
    },
    /// A block fed vectors: its read value, when the file names one (an error when the name is
    /// not a residual coordinate).
    Block { read: Option<Result<BlockRead>> },
}

/// A block's result: `label` (`read` or `read / read_divisor`) at the last position.
pub struct BlockRead {
    pub label: String,
    pub value: f64,
    pub position: usize,
    /// The value the claim guarantees and its tolerance, when stored.
    pub expected: Option<(f64, f64)>,
}

impl BlockRead {
    /// |value − expected| (NaN when the value is not a number).
    pub fn error(&self) -> Option<f64> {
        self.expected.map(|(want, _)| (self.value - want).abs())
    }

    /// Within the tolerance (true when nothing is expected).
    pub fn passed(&self) -> bool {
        match (self.error(), self.expected) {
            (Some(err), Some((_, tol))) => !(err.is_nan() || err > tol),
            _ => true,
        }
    }
}

impl Decoded {
    /// Whether the run agrees with what the file expects (true when it expects nothing).
    pub fn passed(&self) -> bool {
        match &self.outcome {
            Outcome::Tokens {
                generated,
                expected,
                ..
            } => expected.as_ref().is_none_or(|want| want == generated),
            Outcome::Block { read } => match read {
                Some(Ok(r)) => r.passed(),
                _ => true,
            },
        }
    }
}

/// Run the plan and decode greedily (a block: read its result).
pub fn decode(plan: &Plan) -> Result<Decoded> {
    let tr = plan.run()?;
    if plan.prompt.is_some() && tr.margin.iter().any(|m| m.is_nan()) {
        return Err(Error::compute(
            "the run produced a logit that is not a number (the model overflows in this arithmetic), so greedy decoding is undefined",
        ));
    }
    let d = plan.decoding.clone().unwrap_or_default();
    let outcome = if let Some((prompt, _)) = &plan.prompt {
        let expected = (d.expected.as_ref().filter(|_| *prompt == d.prompt))
            .map(|exp| (exp.iter().map(|&t| render_tokens(&[t], &plan.vocab))).collect());
        Outcome::Tokens {
            prompt: tr.fed[..prompt.len()].to_vec(),
            generated: tr.generated(),
            min_margin: tr.margin[prompt.len() - 1..]
                .iter()
                .fold(f64::INFINITY, |a, &m| a.min(m)),
            expected,
        }
    } else {
        Outcome::Block {
            read: d.read.as_ref().map(|read| block_read(&tr, &d, read)),
        }
    };
    Ok(Decoded {
        model: tr.model.clone(),
        arith: plan.arith,
        softplus: plan.softplus,
        outcome,
    })
}

fn block_read(tr: &Trace, d: &crate::export::Decoding, read: &str) -> Result<BlockRead> {
    let last = tr.values.last().cloned().unwrap_or_default();
    let names: Vec<&String> = tr.groups.iter().flat_map(|g| g.rows.iter()).collect();
    let get = |n: &str| names.iter().position(|x| x.as_str() == n).map(|i| last[i]);
    let mut value = get(read).ok_or_else(|| {
        Error::input(format!(
            "decoding.read names no residual coordinate `{read}`"
        ))
    })?;
    if let Some(div) = &d.read_divisor {
        value /= get(div).ok_or_else(|| {
            Error::input(format!("decoding.read_divisor names no coordinate `{div}`"))
        })?;
    }
    Ok(BlockRead {
        label: match &d.read_divisor {
            Some(div) => format!("{read} / {div}"),
            None => read.to_string(),
        },
        value,
        position: tr.values.len(),
        expected: d.expected_read.zip(d.tolerance),
    })
}

/// The files `freelunch trace` writes.
#[derive(Default)]
pub struct TraceOutputs {
    pub csv: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// The heat-map's stem (STEM.png and STEM.svg).
    pub heatmap: Option<PathBuf>,
    pub scan_args: Option<PathBuf>,
}

impl TraceOutputs {
    /// At least one output, each writable, checked before the run.
    pub fn check(&self) -> Result<()> {
        if self.csv.is_none()
            && self.json.is_none()
            && self.heatmap.is_none()
            && self.scan_args.is_none()
        {
            return Err(Error::input(
                "say what to write: --csv FILE, --json FILE, --heatmap STEM or --scan-args FILE",
            ));
        }
        super::check_output("the CSV trace", self.csv.as_deref())?;
        super::check_output("the JSON trace", self.json.as_deref())?;
        if let Some(stem) = &self.heatmap {
            let (svg, png) = crate::plot::heatmap::heatmap_paths(stem)?;
            super::check_output("the heat-map", Some(&svg))?;
            super::check_output("the heat-map", Some(&png))?;
        }
        super::check_output("the scan arguments", self.scan_args.as_deref())
    }

    /// Write every output of the run's trace `tr`, calling `written` after each file.
    pub fn write(&self, plan: &Plan, tr: &Trace, mut written: impl FnMut(&Path)) -> Result<()> {
        if let Some(p) = &self.csv {
            crate::io::write_file(p, tr.to_csv().as_bytes())?;
            written(p);
        }
        if let Some(p) = &self.json {
            super::write_json(p, &tr.to_file(), "the trace")?;
            written(p);
        }
        if let Some(stem) = &self.heatmap {
            for p in crate::plot::heatmap::write_heatmap(tr, stem)? {
                written(&p);
            }
        }
        if let Some(p) = &self.scan_args {
            super::write_json(p, &plan.scan_args()?, "the scan arguments")?;
            written(p);
        }
        Ok(())
    }
}

/// Positions, residual coordinates and memory slots of a trace.
pub fn trace_counts(tr: &Trace) -> (usize, usize, usize) {
    let rows = |kind: &str| -> usize {
        (tr.groups.iter())
            .filter(|g| g.kind == kind)
            .map(|g| g.rows.len())
            .sum()
    };
    (tr.values.len(), rows("residual"), rows("memory"))
}
