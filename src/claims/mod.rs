//! The claim registry: every check the toolkit makes, by stable id.
//! The CLI, the tests, the figures and the README table are all views of this list.

mod copy_attn;
mod copy_const;
mod copy_linear;
pub mod copy_rank;
pub mod dp;
pub mod dp_laws;
pub mod fit;
pub mod gadget_common;
pub mod gadget_gate;
pub mod gadget_lookup;
pub mod gadget_mul;
pub mod gadget_relu;
pub mod gadget_select;
pub mod scan_unroll;

pub use copy_attn::CopyAttn;
/// Helpers of the copy-attn claim, for tests.
pub mod copy_attn_support {
    pub use super::copy_attn::{
        attn_values, minimal_gap_at, quadratic_error_log10, quadratic_gap_bound,
    };
}
pub use copy_const::{f64_breakdown as copy_const_f64_breakdown, CopyConst};
pub use copy_linear::CopyLinear;
/// Helpers of the copy-linear claim, for tests.
pub mod copy_linear_support {
    pub use super::copy_linear::{minimal_bits, run_linear_at};
}
pub use copy_rank::CopyRank;
pub use gadget_gate::GateMulClaim;
pub use gadget_lookup::MlpLookup;
pub use gadget_mul::MlpMul;
pub use gadget_relu::MlpRelu;
pub use gadget_select::MlpSelect;
pub use scan_unroll::ScanUnroll;

use crate::error::{Error, Result};
use crate::num::Arith;
use crate::report::ClaimReport;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Seconds: what `cargo test` and `verify --quick` run.
    Quick,
    /// The default sweep.
    Default,
    /// Further sweeps (minutes).
    Full,
}

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub mode: Mode,
    /// Run only at this arithmetic (None: the claim's own list of precisions).
    pub arith: Option<Arith>,
    pub seed: u64,
    pub progress: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            mode: Mode::Default,
            arith: None,
            seed: 2410_03810,
            progress: false,
        }
    }
}

/// An example model and how to run it (docs/export.md).
pub type RunnableExample = (crate::model::Model<f64>, Option<crate::export::Decoding>);

#[derive(Clone, Copy, Debug)]
pub struct ClaimInfo {
    pub id: &'static str,
    pub paper_ref: &'static str,
    pub statement: &'static str,
}

pub trait Claim: Send + Sync {
    fn info(&self) -> ClaimInfo;
    fn built(&self) -> bool {
        true
    }
    /// Statement, proof sketch and construction (the text of `proofs/<id>.md`).
    fn explain(&self) -> String;
    fn run(&self, cfg: &RunConfig) -> Result<ClaimReport>;
    /// Whether `RunConfig::arith` (`verify --precision`) changes what is run; `verify` says so
    /// for a claim that runs in its own fixed arithmetic.
    fn honours_precision(&self) -> bool {
        true
    }
    /// Example constructions (name, model in f64), for `explain` and `explain --export`.
    fn examples(&self) -> Vec<(String, Result<crate::model::Model<f64>>)> {
        Vec::new()
    }
    /// The examples with how to run each (prompt or input vectors, tokens to generate), for
    /// `explain --export`; by default the examples without a decoding section.
    fn runnable_examples(&self) -> Vec<(String, Result<RunnableExample>)> {
        self.examples()
            .into_iter()
            .map(|(n, m)| (n, m.map(|m| (m, None))))
            .collect()
    }
    /// Regenerate this claim's figures into `dir`.
    fn figures(&self, _dir: &Path, _cfg: &RunConfig) -> Result<Vec<PathBuf>> {
        Ok(Vec::new())
    }
}

/// A claim whose construction is not built yet. `verify` reports it as such.
pub struct NotBuilt(pub ClaimInfo);

impl Claim for NotBuilt {
    fn info(&self) -> ClaimInfo {
        self.0
    }
    fn built(&self) -> bool {
        false
    }
    fn explain(&self) -> String {
        format!(
            "{} ({})\n\n{}\n\nNot built yet: no construction or check exists for this claim.",
            self.0.id, self.0.paper_ref, self.0.statement
        )
    }
    fn run(&self, _cfg: &RunConfig) -> Result<ClaimReport> {
        Ok(ClaimReport::not_built(self.0.id, self.0.paper_ref))
    }
}

/// Every claim id, in order.
pub fn registry() -> Vec<Box<dyn Claim>> {
    vec![
        Box::new(ScanUnroll),
        Box::new(CopyConst),
        Box::new(CopyAttn),
        Box::new(CopyLinear),
        Box::new(CopyRank),
        Box::new(MlpMul),
        Box::new(MlpRelu),
        Box::new(MlpSelect),
        Box::new(MlpLookup),
        Box::new(GateMulClaim),
        Box::new(dp::DpGeneral),
        Box::new(dp::DpLocal),
    ]
}

pub fn ids() -> Vec<&'static str> {
    registry().iter().map(|c| c.info().id).collect()
}

pub fn find(id: &str) -> Result<Box<dyn Claim>> {
    registry()
        .into_iter()
        .find(|c| c.info().id == id)
        .ok_or_else(|| {
            Error::input(format!(
                "unknown claim `{id}` (known claims: {})",
                ids().join(", ")
            ))
        })
}

/// Summaries of a claim's example constructions, as printed by `explain`.
pub fn example_summaries(claim: &dyn Claim) -> String {
    let mut out = String::new();
    for (name, model) in claim.examples() {
        out.push_str(&format!("### {name}\n\n"));
        match model {
            Ok(m) => out.push_str(&m.summary()),
            Err(e) => out.push_str(&format!("(could not build: {e})\n")),
        }
        out.push('\n');
    }
    out
}

/// Run a claim and time it.
pub fn run_timed(claim: &dyn Claim, cfg: &RunConfig) -> Result<ClaimReport> {
    let start = std::time::Instant::now();
    let mut r = claim.run(cfg)?;
    r.seconds = start.elapsed().as_secs_f64();
    Ok(r)
}
