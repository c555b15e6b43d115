//! The claim registry: every check the toolkit makes, by stable id.
//! The CLI, the tests, the figures and the README table are all views of this list.

pub mod batch;
mod copy_attn;
mod copy_const;
mod copy_linear;
pub mod copy_rank;
pub mod dp;
pub mod dp_laws;
pub mod gadget_common;
pub mod gadget_gate;
pub mod gadget_lookup;
pub mod gadget_mul;
pub mod gadget_relu;
pub mod gadget_select;
pub mod memo;
pub mod progress;
pub mod scan_unroll;

pub use copy_attn::CopyAttn;
/// Helpers of the copy-attn claim, for tests.
pub mod copy_attn_support {
    pub use super::copy_attn::{
        attn_values, minimal_gap_at, quadratic_error, quadratic_error_log10, quadratic_gap_bound,
    };
}
pub use copy_const::{f64_breakdown as copy_const_f64_breakdown, CopyConst};
/// Helpers of the copy-const claim, for tests.
pub mod copy_const_support {
    pub use super::copy_const::{check_instance, ConstCheck};
}
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
use crate::report::figure::Figure;
use crate::report::{Case, ClaimReport, ConstructionSize};
use std::path::Path;

/// How long a run is (re-exported from [`crate::report`], where `certify` reads it too).
pub use crate::report::Mode;

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub mode: Mode,
    /// Run only at this arithmetic (None: the claim's own list of precisions).
    pub arith: Option<Arith>,
    pub seed: u64,
    pub progress: bool,
    /// Also compute the claim's figures into its report (`reproduce`).
    pub figures: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            mode: Mode::Default,
            arith: None,
            seed: 2410_03810,
            progress: false,
            figures: false,
        }
    }
}

/// An example model and how to run it (docs/export.md); defined beside the examples, so
/// `export` never imports `claims`.
pub use crate::export::examples::RunnableExample;

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
    /// This claim's figures (data only; [`crate::plot::render`] draws them).
    fn figures(&self, _cfg: &RunConfig) -> Result<Vec<Figure>> {
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

/// A claim's runnable example models as one collection (docs/export.md), each with its
/// `example` name: what `explain <claim> --export` writes. An error when the claim has none.
pub fn export_collection(claim: &dyn Claim) -> Result<serde_json::Value> {
    let id = claim.info().id;
    let examples = claim.runnable_examples();
    if examples.is_empty() {
        return Err(Error::input(format!(
            "claim `{id}` has no example construction to export (try `freelunch dp ... --export` for the DP models)"
        )));
    }
    let mut models = Vec::new();
    for (name, run) in examples {
        let (model, decoding) = run?;
        let mut v = crate::export::to_json(&model, decoding.as_ref());
        v["example"] = serde_json::json!(name);
        models.push(v);
    }
    Ok(serde_json::json!({
        "format": crate::export::COLLECTION_FORMAT,
        "schema_version": crate::export::SCHEMA_VERSION,
        "claim": id,
        "models": models,
    }))
}

/// Lower each of a claim's example models with the defaults into `dir/<k>-<slug>`: per example,
/// its name and the outcome line (or why it was not lowered). An example that cannot be built
/// is an error.
pub fn lower_examples(claim: &dyn Claim, dir: &Path) -> Result<Vec<(String, Result<String>)>> {
    use crate::export::lowering::{file_slug, lower_default};
    let mut out = Vec::new();
    for (k, (name, run)) in claim.runnable_examples().into_iter().enumerate() {
        let (model, decoding) = run?;
        let v = crate::export::to_json(&model, decoding.as_ref());
        let sub = dir.join(format!("{k}-{}", file_slug(&model.name)));
        out.push((name, lower_default(&v, &sub)));
    }
    Ok(out)
}

/// The claims named by `ids` in order, each once (every claim when `ids` is empty); an unknown
/// id is an input error.
pub fn select(ids: &[String]) -> Result<Vec<Box<dyn Claim>>> {
    if ids.is_empty() {
        return Ok(registry());
    }
    let mut seen = std::collections::BTreeSet::new();
    ids.iter()
        .filter(|i| seen.insert(i.as_str()))
        .map(|i| find(i))
        .collect()
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

/// Run a claim and time it. A computation that cannot be carried out inside the claim (an
/// [`Error::Compute`], e.g. a construction that needs an exact weight the requested precision
/// cannot hold) becomes a failed case of that claim, and an [`Error::Undecided`] an undecided
/// one ([`Error::is_case_outcome`]), so one claim never aborts a `verify` run; user-input and
/// file errors are returned.
pub fn run_timed(claim: &dyn Claim, cfg: &RunConfig) -> Result<ClaimReport> {
    let start = std::time::Instant::now();
    let mut r = match claim.run(cfg) {
        Ok(r) => r,
        Err(e) if e.is_case_outcome() => construction_failed(claim.info(), cfg, &e),
        Err(e) => return Err(e),
    };
    if cfg.figures {
        r.figures = claim.figures(cfg)?;
    }
    r.seconds = start.elapsed().as_secs_f64();
    Ok(r)
}

/// The report of a claim whose run stopped on a computation error: one failed case with the
/// error's sentence (undecided for an [`Error::Undecided`]).
pub fn construction_failed(info: ClaimInfo, cfg: &RunConfig, err: &Error) -> ClaimReport {
    let at = cfg
        .arith
        .map_or_else(|| "its own precisions".to_string(), |a| a.to_string());
    let mut case = Case::boolean(
        format!("the construction runs at {at}"),
        false,
        format!("the run stopped: {err}"),
    );
    if err.kind() == crate::error::ErrorKind::Undecided {
        case = case.with_verdict(crate::report::Verdict::Undecided);
    }
    let size = ConstructionSize {
        description: "construction failed".to_string(),
        ..ConstructionSize::default()
    };
    ClaimReport::new(info.id, info.paper_ref, size, vec![case])
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing(fn() -> Error);

    impl Claim for Failing {
        fn info(&self) -> ClaimInfo {
            ClaimInfo {
                id: "failing",
                paper_ref: "-",
                statement: "-",
            }
        }
        fn explain(&self) -> String {
            String::new()
        }
        fn run(&self, _cfg: &RunConfig) -> Result<ClaimReport> {
            Err((self.0)())
        }
    }

    #[test]
    fn a_computation_error_is_a_failed_case_and_input_errors_are_returned() {
        let cfg = RunConfig::default();
        let r = run_timed(&Failing(|| Error::compute("K is not exact")), &cfg).unwrap();
        assert_eq!(r.status, crate::report::Status::Failed);
        assert_eq!(r.cases.len(), 1);
        assert!(r.cases[0]
            .note
            .as_deref()
            .unwrap()
            .contains("K is not exact"));
        assert!(run_timed(&Failing(|| Error::input("bad claim id")), &cfg).is_err());
        assert!(run_timed(&Failing(|| Error::io("disk full")), &cfg).is_err());
        // an undecided certificate is an undecided claim, not a failure and not an abort
        let r = run_timed(&Failing(|| Error::undecided("too wide")), &cfg).unwrap();
        assert_eq!(r.status, crate::report::Status::Undecided);
    }

    #[test]
    fn no_case_claims_to_have_run_at_two_bits_when_it_did_not() {
        let cfg = RunConfig {
            mode: Mode::Quick,
            arith: Some(crate::num::Arith::mpfr(2)),
            ..RunConfig::default()
        };
        for id in ["gate-mul", "mlp-relu"] {
            let r = run_timed(find(id).unwrap().as_ref(), &cfg).unwrap();
            for c in r
                .cases
                .iter()
                .filter(|c| c.verdict == crate::report::Verdict::Certified)
            {
                // a certified case says (structurally, not in its label) that it ran at a
                // fixed precision or at more bits than the 2 requested
                assert!(c.arith.is_some(), "{id}: {}", c.id);
            }
        }
    }

    #[test]
    fn mlp_select_at_two_bits_is_a_failed_claim_not_an_abort() {
        let cfg = RunConfig {
            mode: Mode::Quick,
            arith: Some(crate::num::Arith::mpfr(2)),
            ..RunConfig::default()
        };
        let r = run_timed(find("mlp-select").unwrap().as_ref(), &cfg).unwrap();
        assert_eq!(r.status, crate::report::Status::Failed);
    }
}
