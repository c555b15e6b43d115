//! What each `freelunch` subcommand does, as library calls that return typed results: the
//! command line (`src/main.rs`) only parses its arguments into these requests and prints.

pub mod dp;
pub mod lower;
pub mod run;
pub mod verify;

use crate::error::{Error, Result};
use crate::num::Arith;
use std::path::Path;

/// Serialise `v` (pretty, object keys in sorted order, with a final newline) and write it to
/// `path` atomically; `what` names the output in the error.
pub fn write_json(path: &Path, v: &impl serde::Serialize, what: &str) -> Result<()> {
    let cannot = |e: serde_json::Error| Error::compute(format!("cannot serialise {what}: {e}"));
    let sorted = serde_json::to_value(v).map_err(cannot)?;
    let mut s = serde_json::to_string_pretty(&sorted).map_err(cannot)?;
    s.push('\n');
    crate::io::write_file(path, s.as_bytes())
}

/// Check, before any work, that an output file (`what`) can be written.
pub fn check_output(what: &str, path: Option<&Path>) -> Result<()> {
    match path {
        Some(p) => crate::io::check_writable(what, p),
        None => Ok(()),
    }
}

/// Check, before any work, that the figure directory exists and accepts new files.
pub fn check_figure_dir(out: &Path) -> Result<()> {
    crate::io::check_dir_writable(out)
        .map_err(|e| Error::io(format!("cannot write figures to {}: {e}", out.display())))
}

/// The warning (with a measured estimate) when MPFR at `arith` will be very slow.
pub fn slow_warning(arith: Arith) -> Option<String> {
    let Arith::Mpfr(p) = arith else { return None };
    let (slow, ratio) = crate::measure::bench::mpfr_slowdown(p.bits())?;
    Some(format!(
        "warning: at {} bits one MPFR multiply/divide takes {:.1} µs here, {ratio:.0}× its cost at 256 bits; a sweep that takes a minute at 256 bits would take about {ratio:.0} minutes",
        p.bits(),
        slow * 1e6,
    ))
}
