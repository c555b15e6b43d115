//! `freelunch dp`: compile one DP problem into a model, decode its chain of thought and compare
//! it with the solver; optionally export or lower the model.

use crate::dp::{self, DpProblem, MemoryKind};
use crate::error::{Error, Result};
use crate::model::{Activation, ModelSize};
use crate::num::{Arith, Real, Scalar};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where the problem comes from.
pub enum Source {
    /// A catalog problem by name.
    Catalog(String),
    /// A DP spec file (proofs/dp-problems.md).
    Spec(PathBuf),
}

/// What the user asked for.
pub struct Request {
    pub source: Source,
    /// `name=value` parameters.
    pub params: Vec<String>,
    /// Sets every size parameter that `params` does not.
    pub n: Option<usize>,
    /// The `--memory` word, parsed by [`MemoryKind::parse`].
    pub memory: String,
    pub slots: Option<usize>,
    pub activation: Activation,
    pub lambda: Option<f64>,
    /// The weights file to write (checked before any work).
    pub export: Option<PathBuf>,
    /// Also keep the model's export (for `--export` or `--hf`).
    pub keep_export: bool,
    /// Also render the model summary.
    pub summary: bool,
}

/// The problem instance and options, checked before the (possibly slow) build.
pub struct Setup {
    problem: Box<dyn DpProblem>,
    options: dp::Options,
    keep_export: bool,
    summary: bool,
}

impl Setup {
    /// Load the problem, apply the parameters and check the options and the export target.
    pub fn new(req: &Request) -> Result<Self> {
        let spec = match &req.source {
            Source::Spec(path) => dp::catalog::load_file(path)?,
            Source::Catalog(name) => dp::catalog::spec(name)?,
        };
        let mut given = (req.params.iter())
            .map(|p| dp::parse_param(p))
            .collect::<Result<Vec<_>>>()?;
        if let Some(n) = req.n {
            for s in &spec.size {
                if !given.iter().any(|(k, _)| k == s) {
                    given.push((s.clone(), dp::Val::Int(n as i64)));
                }
            }
        }
        let problem: Box<dyn DpProblem> = Box::new(spec.instance(&given)?);
        let memory = MemoryKind::parse(&req.memory)?;
        if let Some(l) = req.lambda {
            crate::error::require_finite("--lambda", l)?;
            if req.activation == Activation::Relu {
                return Err(Error::input(
                    "--lambda sets the scale of a smooth activation: use it with --activation gelu or silu",
                ));
            }
        }
        if req.slots.is_some() && memory != MemoryKind::Slot {
            return Err(Error::input(format!(
                "--slots applies to the slot memory only, not to --memory {}",
                memory.name()
            )));
        }
        super::check_output("the weights", req.export.as_deref())?;
        Ok(Setup {
            problem,
            options: dp::Options {
                memory,
                slots: req.slots,
                activation: req.activation,
                lambda: req.lambda,
                memory_override: None,
            },
            keep_export: req.keep_export,
            summary: req.summary,
        })
    }

    /// Parse `--input` (or draw a random input from `seed`), build the model in `arith`, decode.
    pub fn run(&self, input: Option<&str>, seed: u64, arith: Arith) -> Result<Report> {
        let p = self.problem.as_ref();
        let input = match input {
            Some(s) => dp::parse_input(p, s)?,
            None => p.random_input(&mut crate::rng::Rng::new(seed)),
        };
        match arith {
            Arith::F64 => self.run_in::<f64>(&input, 53),
            Arith::Mpfr(prec) => self.run_in::<Real>(&input, prec.bits()),
        }
    }

    fn run_in<S: Scalar>(&self, input: &[usize], bits: u32) -> Result<Report> {
        let p = self.problem.as_ref();
        let t0 = std::time::Instant::now();
        let c = dp::compile::<S>(p, &self.options, bits)?;
        let build_seconds = t0.elapsed().as_secs_f64();
        let t1 = std::time::Instant::now();
        let r = c.run(p, input)?;
        let decode_seconds = t1.elapsed().as_secs_f64();
        let last = |toks: &[usize]| toks.last().map_or("-".into(), |t| dp::render(p, &[*t]));
        let agreement = if r.exact {
            Agreement::Exact {
                min_margin_log10: r.min_margin_log10,
            }
        } else {
            // The model's own margins are positive by definition; report the reference token's.
            let full = p.solve(input);
            let (margin, at) =
                crate::measure::reference_margin(&c.model, &full[..p.input_len() + 1], &r.expected);
            Agreement::Mismatch {
                first: r.first_mismatch.unwrap_or(r.generated.len()),
                reference_margin: margin,
                at,
            }
        };
        let export = self.keep_export.then(|| {
            let decoding = crate::export::examples::dp_decoding(p, input);
            crate::export::to_json(&c.model, Some(&decoding))
        });
        Ok(Report {
            problem: p.describe(),
            input: dp::render(p, input),
            memory: self.options.memory.name().to_string(),
            distance: c.info.distance,
            local: p.local(),
            activation: self.options.activation.name().to_string(),
            lambda: c.info.lambda,
            arithmetic: S::KIND,
            bits,
            cot: dp::render(p, &r.generated),
            answer: last(&r.generated),
            reference: last(&r.expected),
            generated: r.generated.len(),
            total_len: c.info.total_len,
            agreement,
            size: c.model.size(),
            state: crate::claims::dp::state_at(&c, c.info.total_len),
            ops: r.ops,
            last_token_ops: c.model.ops_at(c.info.total_len),
            build_seconds,
            decode_seconds,
            summary: self.summary.then(|| c.model.summary()),
            export,
        })
    }
}

/// Whether the decoded chain of thought equals the solver's.
pub enum Agreement {
    /// Every token equals the reference; the smallest logit margin, as log10.
    Exact { min_margin_log10: f64 },
    /// The first differing generated token, and the reference token's smallest margin (logit of
    /// the reference token minus the best other; negative: the model decodes another token) at
    /// generated token `at`, under teacher forcing.
    Mismatch {
        first: usize,
        reference_margin: f64,
        at: usize,
    },
}

/// One compiled and decoded DP instance.
pub struct Report {
    /// The problem in words, and the input rendered as symbols.
    pub problem: String,
    pub input: String,
    pub memory: String,
    /// Dependency distance m, and whether it stays fixed as the size grows.
    pub distance: usize,
    pub local: bool,
    pub activation: String,
    pub lambda: f64,
    /// The arithmetic's kind (`f64`, `mpfr`) and precision.
    pub arithmetic: &'static str,
    pub bits: u32,
    /// The generated chain of thought, its answer and the solver's.
    pub cot: String,
    pub answer: String,
    pub reference: String,
    /// Generated tokens and the whole sequence length T.
    pub generated: usize,
    pub total_len: usize,
    pub agreement: Agreement,
    pub size: ModelSize,
    /// SSM state, or KV-cache floats at T.
    pub state: usize,
    /// Operations of the whole decoding and of the last token.
    pub ops: u64,
    pub last_token_ops: u64,
    pub build_seconds: f64,
    pub decode_seconds: f64,
    pub summary: Option<String>,
    /// The model in the export format, when asked for.
    pub export: Option<Value>,
}

impl Report {
    pub fn exact(&self) -> bool {
        matches!(self.agreement, Agreement::Exact { .. })
    }

    pub fn tokens_per_second(&self) -> f64 {
        self.total_len as f64 / self.decode_seconds
    }

    fn exported(&self) -> Result<&Value> {
        (self.export.as_ref()).ok_or_else(|| Error::input("the model was not kept for export"))
    }

    /// Write the model's weights (docs/export.md) to `path`.
    pub fn write_export(&self, path: &Path) -> Result<()> {
        super::write_json(path, self.exported()?, "the weights")
    }

    /// Lower the model with `freelunch lower`'s defaults into `dir`: the outcome line.
    pub fn lower_hf(&self, dir: &Path) -> Result<String> {
        crate::export::lowering::lower_default(self.exported()?, dir)
    }
}
