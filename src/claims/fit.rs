//! The law fits of the claims live in the measure layer ([`crate::measure::fit`]); re-exported
//! here for the DP claims' imports.
pub use crate::measure::fit::{loglog_slope, slope, SLOPE_TOL};
