//! Running a list of claims, and drawing their figures, on every core: claims are independent
//! (each derives its random streams from the seed alone), so running them side by side gives
//! the reports of running them one after the other, in the same order.

use super::{run_timed, Claim, RunConfig};
use crate::error::Result;
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

/// Every claim's figures into `dir` (in parallel); the written paths in the claims' order.
pub fn figures_all(claims: &[Box<dyn Claim>], dir: &Path, cfg: &RunConfig) -> Result<Vec<PathBuf>> {
    let written: Vec<Result<Vec<PathBuf>>> =
        claims.par_iter().map(|c| c.figures(dir, cfg)).collect();
    let mut out = Vec::new();
    for w in written {
        out.extend(w?);
    }
    Ok(out)
}
