//! `freelunch verify`, `reproduce`, `figures` and `explain --export`: the claims' batch runs and
//! their output files.

use crate::claims::{self, Claim, RunConfig};
use crate::error::Result;
use crate::num::Arith;
use crate::report::{ClaimReport, Summary};
use std::path::{Path, PathBuf};

/// Notes on a `--precision` run: a precision coarser than f64, and claims that ignore it.
pub fn precision_notes(arith: Arith, selected: &[Box<dyn Claim>]) -> Vec<String> {
    let mut notes = Vec::new();
    if arith.bits() < 53 {
        notes.push(format!(
            "note: {arith} is coarser than f64: a case whose enclosures are too wide at {arith} is reported as undecided (too coarse to decide), and a construction that cannot even hold its weights or inputs at {arith} fails at that precision, not in theory"
        ));
    }
    for c in selected.iter().filter(|c| !c.honours_precision()) {
        notes.push(format!(
            "note: {} ignores --precision (it runs in its own fixed arithmetic)",
            c.info().id
        ));
    }
    notes
}

/// Run the claims (in parallel); `done(k, report)` as claim `k` finishes.
pub fn run(
    selected: &[Box<dyn Claim>],
    cfg: &RunConfig,
    done: &(dyn Fn(usize, &ClaimReport) + Sync),
) -> Result<Vec<ClaimReport>> {
    claims::batch::run_all(selected, cfg, done)
}

/// Write the reports as JSON (docs/report-json.md), with run times when `timings`.
pub fn write_report(reports: &[ClaimReport], path: &Path, timings: bool) -> Result<()> {
    crate::io::write_file(path, crate::report::to_json(reports, timings)?.as_bytes())
}

/// No claim failed and none is undecided.
pub fn succeeded(summary: &Summary<'_>) -> bool {
    summary.failed.is_empty() && summary.undecided.is_empty()
}

/// Every claim's figures into `out` (checked first): computed, or drawn from the figures the
/// JSON report `from` carries (`reproduce --json`) without running a sweep. The written paths.
pub fn figures(out: &Path, cfg: &RunConfig, from: Option<&Path>) -> Result<Vec<PathBuf>> {
    super::check_figure_dir(out)?;
    match from {
        Some(report) => {
            claims::batch::render_figures(&crate::report::figures_from_file(report)?, out)
        }
        None => claims::batch::figures_all(&claims::registry(), out, cfg),
    }
}

/// Write a claim's example models as one collection to `path`: how many models.
pub fn export_examples(claim: &dyn Claim, path: &Path) -> Result<usize> {
    let all = claims::export_collection(claim)?;
    super::write_json(path, &all, "the weights")?;
    Ok(all["models"].as_array().map_or(0, Vec::len))
}
