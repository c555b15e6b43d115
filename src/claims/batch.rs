//! Running a list of claims, and drawing their figures, on every core: claims are independent
//! (each derives its random streams from the seed alone), so running them side by side gives
//! the reports of running them one after the other, in the same order.

use super::{run_timed, Claim, RunConfig};
use crate::error::Result;
use crate::report::figure::Figure;
use crate::report::ClaimReport;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Run every claim (in parallel); `done(k, report)` is called as claim `k` finishes (in
/// completion order). The reports come back in the claims' order; the first error in that
/// order is returned.
pub fn run_all(
    claims: &[Box<dyn Claim>],
    cfg: &RunConfig,
    done: &(dyn Fn(usize, &ClaimReport) + Sync),
) -> Result<Vec<ClaimReport>> {
    let results: Vec<Result<ClaimReport>> = claims
        .par_iter()
        .enumerate()
        .map(|(k, c)| {
            let r = run_timed(c.as_ref(), cfg)?;
            done(k, &r);
            Ok(r)
        })
        .collect();
    results.into_iter().collect()
}

/// Every claim's figures computed (in parallel) and drawn into `dir`; the written paths in the
/// claims' order.
pub fn figures_all(claims: &[Box<dyn Claim>], dir: &Path, cfg: &RunConfig) -> Result<Vec<PathBuf>> {
    let figures: Vec<Result<Vec<Figure>>> = claims.par_iter().map(|c| c.figures(cfg)).collect();
    let figures = figures.into_iter().collect::<Result<Vec<_>>>()?;
    render_all(figures.iter().flatten(), dir)
}

/// Draw the figures the reports carry into `dir` (no sweep runs); the written paths in order.
pub fn render_reports(reports: &[ClaimReport], dir: &Path) -> Result<Vec<PathBuf>> {
    render_all(reports.iter().flat_map(|r| &r.figures), dir)
}

/// Draw `figures` into `dir`; the written paths in order.
pub fn render_figures(figures: &[Figure], dir: &Path) -> Result<Vec<PathBuf>> {
    render_all(figures.iter(), dir)
}

fn render_all<'a>(figures: impl Iterator<Item = &'a Figure>, dir: &Path) -> Result<Vec<PathBuf>> {
    let figures: Vec<&Figure> = figures.collect();
    let written: Vec<Result<Vec<PathBuf>>> = figures
        .par_iter()
        .map(|f| crate::plot::render(f, dir))
        .collect();
    let mut out = Vec::new();
    for w in written {
        out.extend(w?);
    }
    Ok(out)
}
