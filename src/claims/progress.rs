//! Progress inside a long claim: `verify` prints one line per claim when it ends; a claim that
//! runs for minutes also says which stage it is in, so no silent minute goes by.

use super::RunConfig;
use std::time::{Duration, Instant};

/// Prints `  <claim>: <stage> (<elapsed> s)` on stderr after a stage ends, when progress is on
/// (`verify`, `reproduce`) and at least [`Progress::EVERY`] passed since the last line.
pub struct Progress {
    claim: &'static str,
    on: bool,
    start: Instant,
    last: Instant,
}

impl Progress {
    /// Minimum time between two lines.
    pub const EVERY: Duration = Duration::from_secs(5);

    pub fn new(cfg: &RunConfig, claim: &'static str) -> Self {
        let now = Instant::now();
        Progress {
            claim,
            on: cfg.progress,
            start: now,
            last: now,
        }
    }

    /// A stage ended: print it if the last line is old enough.
    pub fn done(&mut self, stage: impl FnOnce() -> String) {
        if !self.on || self.last.elapsed() < Self::EVERY {
            return;
        }
        self.last = Instant::now();
        eprintln!(
            "  {}: {} ({:.1} s)",
            self.claim,
            stage(),
            self.start.elapsed().as_secs_f64()
        );
    }
}
