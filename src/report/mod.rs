//! Report types (serde) and their terminal rendering (file writing lives in `crate::io`).

use serde::Serialize;
use std::collections::BTreeMap;

/// How a measured value is compared with its bound.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Relation {
    /// measured ≤ bound (an upper bound, e.g. an error bound).
    AtMost,
    /// measured ≥ bound (a necessary threshold).
    AtLeast,
    /// |measured − bound| ≤ tol·|bound| (a bound claimed tight).
    Within { rel_tol: f64 },
}

/// One checked case. Values are kept as log10 as well, since many live far outside f64's range.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    pub label: String,
    pub params: BTreeMap<String, serde_json::Value>,
    pub measured_log10: Option<f64>,
    pub bound_log10: Option<f64>,
    pub relation: Relation,
    /// measured / bound (as a log10 difference when both are nonzero).
    pub margin_log10: Option<f64>,
    pub passed: bool,
    pub note: Option<String>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Case {
    /// Build a case from log10 values (`-inf` means exactly zero).
    pub fn from_log10(
        label: impl Into<String>,
        measured_log10: f64,
        bound_log10: f64,
        relation: Relation,
    ) -> Self {
        let margin = measured_log10 - bound_log10;
        let passed = match relation {
            Relation::AtMost => measured_log10 <= bound_log10,
            Relation::AtLeast => measured_log10 >= bound_log10,
            Relation::Within { rel_tol } => {
                let m = 10f64.powf(margin);
                (m - 1.0).abs() <= rel_tol
            }
        } && !measured_log10.is_nan()
            && !bound_log10.is_nan();
        Case {
            label: label.into(),
            params: BTreeMap::new(),
            measured_log10: finite(measured_log10),
            bound_log10: finite(bound_log10),
            relation,
            margin_log10: finite(margin),
            passed,
            note: None,
        }
    }
    /// A case from plain values, compared on a log scale. Signs matter: for `Within` the two
    /// values must be nonzero with the same sign (a slope of −1 is not within 15% of 1); for
    /// `AtMost`/`AtLeast` both must be ≥ 0 (0 means exactly zero). Otherwise the case fails.
    pub fn from_values(
        label: impl Into<String>,
        measured: f64,
        bound: f64,
        relation: Relation,
    ) -> Self {
        let signs_ok = match relation {
            Relation::Within { .. } => {
                measured != 0.0
                    && bound != 0.0
                    && measured.is_sign_negative() == bound.is_sign_negative()
            }
            Relation::AtMost | Relation::AtLeast => measured >= 0.0 && bound >= 0.0,
        };
        let mut c = Self::from_log10(label, measured.abs().log10(), bound.abs().log10(), relation);
        if !signs_ok {
            c.passed = false;
            c.note = Some(format!(
                "measured {measured:e} and bound {bound:e}: signs not comparable on a log scale"
            ));
        }
        c
    }
    /// A yes/no check (e.g. exact decoding).
    pub fn boolean(label: impl Into<String>, ok: bool, note: impl Into<String>) -> Self {
        Case {
            label: label.into(),
            params: BTreeMap::new(),
            measured_log10: None,
            bound_log10: None,
            relation: Relation::AtMost,
            margin_log10: None,
            passed: ok,
            note: Some(note.into()),
        }
    }
    pub fn param(mut self, k: &str, v: impl Serialize) -> Self {
        self.params.insert(
            k.to_string(),
            serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
        );
        self
    }
    pub fn with_note(mut self, n: impl Into<String>) -> Self {
        self.note = Some(n.into());
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Status {
    Passed,
    Failed,
    NotBuilt,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Passed => "pass",
            Status::Failed => "FAIL",
            Status::NotBuilt => "not built yet",
        }
    }
}

/// The size of the construction a claim checked (the largest one, when it sweeps).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConstructionSize {
    pub description: String,
    pub state_size: usize,
    pub residual_width: usize,
    pub mlp_width: usize,
    pub nonzero_params: usize,
    pub max_abs_param: f64,
    pub ops_per_token: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClaimReport {
    pub id: String,
    pub paper_ref: String,
    pub status: Status,
    pub construction: ConstructionSize,
    pub cases: Vec<Case>,
    /// Largest measured/bound over upper-bound cases (log10).
    pub worst_margin_log10: Option<f64>,
    pub notes: Vec<String>,
    pub seconds: f64,
}

impl ClaimReport {
    pub fn new(
        id: &str,
        paper_ref: &str,
        construction: ConstructionSize,
        cases: Vec<Case>,
    ) -> Self {
        let status = if cases.iter().all(|c| c.passed) && !cases.is_empty() {
            Status::Passed
        } else {
            Status::Failed
        };
        let worst = cases
            .iter()
            .filter(|c| c.relation == Relation::AtMost)
            .filter_map(|c| c.margin_log10)
            .fold(None, |a: Option<f64>, m| Some(a.map_or(m, |a| a.max(m))));
        ClaimReport {
            id: id.to_string(),
            paper_ref: paper_ref.to_string(),
            status,
            construction,
            cases,
            worst_margin_log10: worst,
            notes: Vec::new(),
            seconds: 0.0,
        }
    }
    pub fn not_built(id: &str, paper_ref: &str) -> Self {
        ClaimReport {
            id: id.to_string(),
            paper_ref: paper_ref.to_string(),
            status: Status::NotBuilt,
            construction: ConstructionSize::default(),
            cases: Vec::new(),
            worst_margin_log10: None,
            notes: vec!["not built yet".to_string()],
            seconds: 0.0,
        }
    }
    pub fn failed_cases(&self) -> impl Iterator<Item = &Case> {
        self.cases.iter().filter(|c| !c.passed)
    }
}

/// Render `verify`'s table.
pub fn render_table(reports: &[ClaimReport]) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<13} {:<44} {:>6} {:>22} {:>8} {:>7}",
        "claim", "construction", "cases", "worst measured/bound", "status", "secs"
    );
    for r in reports {
        let worst = r
            .worst_margin_log10
            .map(fmt_log10)
            .unwrap_or_else(|| "-".into());
        let mut desc = r.construction.description.clone();
        if desc.chars().count() > 44 {
            desc = desc.chars().take(43).collect::<String>() + "…";
        }
        let _ = writeln!(
            o,
            "{:<13} {:<44} {:>6} {:>22} {:>8} {:>7.1}",
            r.id,
            desc,
            r.cases.len(),
            worst,
            r.status.word(),
            r.seconds
        );
        for c in r.failed_cases().take(5) {
            let _ = writeln!(
                o,
                "    failed: {} (measured {}, bound {}) {}",
                c.label,
                fmt_log10(c.measured_log10.unwrap_or(f64::NAN)),
                fmt_log10(c.bound_log10.unwrap_or(f64::NAN)),
                c.note.clone().unwrap_or_default()
            );
        }
        for n in &r.notes {
            if r.status != Status::NotBuilt {
                let _ = writeln!(o, "    note: {n}");
            }
        }
    }
    o
}

/// `10^m` for display, never ambiguous: two decimals, or (when those would show `±0.00`)
/// two significant digits, so a ratio just below 1 never reads like one just above.
pub fn fmt_log10(m: f64) -> String {
    if m == 0.0 {
        "10^0".to_string()
    } else if m.is_finite() && m.abs() < 0.005 {
        format!("10^{m:.1e}")
    } else {
        format!("10^{m:.2}")
    }
}

/// Atomic file writes moved to [`crate::io`]; kept here under the old name.
pub use crate::io::write_file as write_atomic;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log10_display_keeps_the_sign() {
        assert_eq!(fmt_log10(-0.001), "10^-1.0e-3");
        assert_eq!(fmt_log10(0.001), "10^1.0e-3");
        assert_eq!(fmt_log10(-2.345), "10^-2.35");
        assert_eq!(fmt_log10(0.0), "10^0");
    }

    #[test]
    fn from_values_respects_signs() {
        let within = Relation::Within { rel_tol: 0.15 };
        assert!(Case::from_values("slope", 1.02, 1.0, within).passed);
        assert!(!Case::from_values("slope", -1.0, 1.0, within).passed);
        assert!(!Case::from_values("slope", -3.0, 3.0, within).passed);
        assert!(Case::from_values("both negative", -3.1, -3.0, within).passed);
        assert!(!Case::from_values("zero", 0.0, 0.0, within).passed);
        assert!(!Case::from_values("nan", f64::NAN, 1.0, within).passed);
        assert!(Case::from_values("zero error", 0.0, 1e-9, Relation::AtMost).passed);
        assert!(Case::from_values("ok", 1e-10, 1e-9, Relation::AtMost).passed);
        assert!(!Case::from_values("above", 2e-9, 1e-9, Relation::AtMost).passed);
        assert!(!Case::from_values("negative", -1e-3, 1e-9, Relation::AtMost).passed);
        assert!(!Case::from_values("negative bound", 0.0, -1.0, Relation::AtMost).passed);
        assert!(!Case::from_values("nan", f64::NAN, 1.0, Relation::AtMost).passed);
        assert!(!Case::from_values("nan", 1.0, f64::NAN, Relation::AtLeast).passed);
    }
}
