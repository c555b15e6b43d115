//! Worst-point tracking over sampled or certified points ([`Worst`] on MPFR values,
//! [`BallWorst`] on ball enclosures), the slack of a certified sharp bound ([`sharp_slack`]) and
//! the precisions resolving the smooth units' tails. Used by the certificates and by the gadget
//! claims (which import them from here: `certify` never imports `claims`).

use crate::model::Activation;
use crate::num::{Ball, Mag, Real, Scalar};
use crate::report::{Case, Relation, Verdict};

/// MPFR precision resolving the tail `τ(t)` (`≈ e^{−t²/2}` for GeLU, `e^{−t}` for SiLU) with
/// 96 bits to spare, at least 128.
pub fn tail_precision(act: Activation, t: f64) -> u32 {
    let bits = match act {
        Activation::Gelu => t * t / (2.0 * std::f64::consts::LN_2),
        _ => t / std::f64::consts::LN_2,
    };
    (bits.ceil() as u32 + 96).max(128)
}

/// Precision resolving `τ(λ)` with 96 bits to spare (values up to 2^11 need 11 more): the
/// lookup problems with smooth units.
pub fn smooth_precision(act: Activation, lambda: f64) -> u32 {
    tail_precision(act, lambda) + 16
}

/// The point where measured/bound is largest, plus the largest measured and bound values.
#[derive(Clone, Debug)]
pub struct Worst {
    pub ratio_log10: f64,
    pub measured_log10: f64,
    pub bound_log10: f64,
    pub max_measured_log10: f64,
    pub max_bound_log10: f64,
    pub at: String,
    pub points: usize,
    /// Points where `measured > bound` exactly (or either is NaN): decided on the values, not
    /// on their log10, so a relative excess below f64's resolution still fails the case.
    pub exceeded: usize,
}

impl Default for Worst {
    fn default() -> Self {
        Self::new()
    }
}

impl Worst {
    pub fn new() -> Self {
        Worst {
            ratio_log10: f64::NEG_INFINITY,
            measured_log10: f64::NEG_INFINITY,
            bound_log10: f64::NEG_INFINITY,
            max_measured_log10: f64::NEG_INFINITY,
            max_bound_log10: f64::NEG_INFINITY,
            at: String::new(),
            points: 0,
            exceeded: 0,
        }
    }
    /// Record one point; `at` describes it (only formatted when it becomes the worst).
    pub fn add(&mut self, measured: &Real, bound: &Real, at: impl FnOnce() -> String) {
        let m = measured.log10_abs();
        let b = bound.log10_abs();
        self.points += 1;
        if measured.is_nan() || bound.is_nan() || measured > bound {
            self.exceeded += 1;
        }
        self.max_measured_log10 = self.max_measured_log10.max(m);
        self.max_bound_log10 = self.max_bound_log10.max(b);
        // A zero bound with a zero error is a perfect match; with a nonzero error it is +inf.
        let r = if m == f64::NEG_INFINITY {
            f64::NEG_INFINITY
        } else {
            m - b
        };
        if r > self.ratio_log10 || self.points == 1 {
            self.ratio_log10 = r;
            self.measured_log10 = m;
            self.bound_log10 = b;
            self.at = at();
        }
    }
    /// An `AtMost` case at the worst point; it fails when any point exceeded its bound exactly.
    pub fn case(&self, label: impl Into<String>) -> Case {
        // Decided on the values (exact comparisons counted in `exceeded`), not on log10.
        let c = Case::decided(
            label,
            self.exceeded == 0 && self.points > 0,
            self.measured_log10,
            self.bound_log10,
            Relation::AtMost,
        )
        .param("points", self.points)
        .param("worst_at", &self.at)
        .with_note(format!(
            "worst measured/bound = 10^{:.3} at {} ({} points, {} above the bound exactly)",
            self.ratio_log10, self.at, self.points, self.exceeded
        ));
        c
    }
    /// An `Above` case: some point's measured value is strictly above its bound (decided on the
    /// values, counted in `exceeded`), shown at the worst point (e.g. f64 rounding that swamps a
    /// mathematical bound).
    pub fn exceeds_case(&self, label: impl Into<String>) -> Case {
        Case::decided(
            label,
            self.exceeded > 0,
            self.measured_log10,
            self.bound_log10,
            Relation::Above,
        )
        .param("points", self.points)
        .param("exceeded", self.exceeded)
        .with_note(format!(
            "worst measured/bound = 10^{:.2} at {} ({} of {} points strictly above the bound)",
            self.ratio_log10, self.at, self.exceeded, self.points
        ))
    }
}

/// `bound·(1 + 2^{−⌈p/2⌉})` for a claim run at `p` bits: a bound that is *attained* (at the
/// maximiser, or at a sample point) cannot be certified by enclosures, which always overlap there;
/// the certified statement is then this slightly weaker one, and every label using it says so.
/// It is not a rounding allowance: the slack is part of what is proved. Such cases enclose the
/// exact network at `2p` bits, so the enclosure (rounding of outputs of size `~1`, `≈ 2^{−2p}`)
/// is far inside the slack.
pub fn sharp_slack(bound: &Ball, p: u32) -> Ball {
    let p_bound = bound.precision();
    let eps = Real(rug::Float::with_val(
        64,
        rug::Float::i_exp(1, -(p.div_ceil(2) as i32)),
    ));
    let mut f = Ball::one(p_bound);
    f.add_assign_s(&Ball::from_real(&eps, p_bound));
    bound.mul(&f)
}

/// Certified worst case over points: each point's error is a [`Ball`] enclosure of the exact
/// network's error, decided against the bound's enclosure (no rounding allowance): a point
/// passes when `upper(error) ≤ lower(bound)`, exceeds when `lower(error) > upper(bound)`, and is
/// undecided otherwise (enclosure too wide; never a pass).
#[derive(Clone, Debug, Default)]
pub struct BallWorst {
    pub worst: Worst,
    pub exceeded: usize,
    pub undecided: usize,
    /// Widest error enclosure seen (radius).
    pub widest: Mag,
    /// The error and bound enclosures at the worst point (largest upper(error)/lower(bound)).
    pub worst_pair: Option<(Ball, Ball, f64)>,
}

impl BallWorst {
    pub fn new() -> Self {
        BallWorst {
            worst: Worst::new(),
            exceeded: 0,
            undecided: 0,
            widest: Mag::ZERO,
            worst_pair: None,
        }
    }
    /// Record `|error|` (any ball; its absolute value is taken) against `bound`.
    pub fn add(&mut self, error: &Ball, bound: &Ball, at: impl FnOnce() -> String) {
        let e = error.abs();
        if e.is_nan() || bound.is_nan() {
            self.undecided += 1;
        } else if e.upper() <= bound.lower() {
            // certified within the bound
        } else if e.lower() > bound.upper() {
            self.exceeded += 1;
        } else {
            self.undecided += 1;
        }
        self.widest = self.widest.max(e.rad());
        // log2(upper(error)/lower(bound)): −∞ for an exact zero error, +∞ for a bound ≤ 0 or NaN.
        let (eu, bl) = (e.upper(), bound.lower());
        let ratio = if e.is_nan() || bound.is_nan() {
            f64::INFINITY
        } else if eu.is_zero() {
            f64::NEG_INFINITY
        } else if bl <= 0 {
            f64::INFINITY
        } else {
            Mag::from_float_up(&eu).log2() - Mag::from_float_down(&bl).log2()
        };
        if self.worst_pair.as_ref().is_none_or(|w| ratio > w.2) {
            self.worst_pair = Some((e.clone(), bound.clone(), ratio));
        }
        // Display: the upper end of the error against the lower end of the bound.
        let up = Real(e.upper());
        let lo = Real(bound.lower());
        let before = self.worst.exceeded;
        self.worst.add(&up, &lo, at);
        self.worst.exceeded = before;
    }
    /// One case over all points: certified pass, certified failure, or undecided.
    pub fn case(&self, label: impl Into<String>) -> Case {
        let w = &self.worst;
        let passed = self.exceeded == 0 && self.undecided == 0 && w.points > 0;
        let mut c = Case::decided(label, passed, w.measured_log10, w.bound_log10, Relation::AtMost)
            .param("points", w.points)
            .param("worst_at", &w.at)
            .param("undecided", self.undecided)
            .param("widest_radius", self.widest.to_f64())
            .with_note(format!(
                "certified: upper(error)/lower(bound) ≤ 10^{:.3} at worst ({}; {} points, {} certainly above, {} undecided, widest error radius {:.2e})",
                w.ratio_log10, w.at, w.points, self.exceeded, self.undecided, self.widest.to_f64()
            ));
        c.enclosure = self
            .worst_pair
            .as_ref()
            .map(|(e, b, _)| crate::report::Enclosure::of(e, b));
        c.with_verdict(if self.undecided > 0 && self.exceeded == 0 {
            Verdict::Undecided
        } else {
            Verdict::Certified
        })
    }
}

/// The highest precision (bits) an undecided case is enclosed again at before it may fail.
pub const ESCALATION_CAP_BITS: u32 = 4096;

/// Decide a case by enclosures at `bits`; while it is undecided (enclosures too wide), enclose
/// it again at twice the precision, up to [`ESCALATION_CAP_BITS`]. The case is a statement about
/// the exact network, so the working precision is a tool of the proof; a case decided above
/// `bits` says so in its label ("raised to N bits") and carries `decided_at_bits`. A case still
/// undecided at the cap stays undecided (never a pass).
pub fn escalate(
    bits: u32,
    mut case_at: impl FnMut(u32) -> crate::error::Result<Case>,
) -> crate::error::Result<Case> {
    let mut p = bits;
    let mut c = case_at(p)?;
    while c.verdict == Verdict::Undecided && p < ESCALATION_CAP_BITS {
        p = p.saturating_mul(2).clamp(bits, ESCALATION_CAP_BITS);
        c = case_at(p)?;
    }
    if p != bits {
        c.label = format!("{} [undecided at {bits} bits, raised to {p} bits]", c.label);
        c = c.param("decided_at_bits", p);
    }
    Ok(c)
}

/// The cases of a certified run, or, when the model cannot be built or run at that precision
/// (a computation error), one failed case saying why; other errors are returned.
pub fn or_failed_case(
    cases: crate::error::Result<Vec<Case>>,
    label: impl FnOnce() -> String,
) -> crate::error::Result<Vec<Case>> {
    match cases {
        Err(e) if e.is_case_outcome() => {
            let c = Case::boolean(label(), false, format!("could not be run: {e}"));
            Ok(vec![if e.kind() == crate::error::ErrorKind::Undecided {
                c.with_verdict(Verdict::Undecided)
            } else {
                c
            }])
        }
        other => other,
    }
}

/// Mark cases proved at a fixed working precision (`Some(bits)`, or `None`: each certificate's
/// own, e.g. the lookup tails') when the run asked for another arithmetic: the label says so,
/// so they are never read as run at the requested precision. They are statements about the
/// exact network; the working precision is a tool of the proof.
pub fn mark_fixed_precision(
    cases: Vec<Case>,
    fixed_bits: Option<u32>,
    requested: Option<crate::num::Arith>,
) -> Vec<Case> {
    let Some(req) = requested else {
        return cases;
    };
    if fixed_bits.is_some_and(|b| req == crate::num::Arith::mpfr(b)) {
        return cases;
    }
    let fixed = fixed_bits.map_or_else(
        || "its own working precision".to_string(),
        |b| format!("fixed {b} bits"),
    );
    cases
        .into_iter()
        .map(|mut c| {
            c.label = format!("{} [proved at {fixed}, not at {req}]", c.label);
            c.arith = Some(match fixed_bits {
                Some(b) => crate::report::CaseArith::FixedBits(b),
                None => crate::report::CaseArith::OwnPrecision,
            });
            let note = c.note.take().unwrap_or_default();
            c.with_note(format!(
                "{note} (a certificate about the exact network at {fixed}; --precision {req} does not apply to it)"
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::Arith;

    #[test]
    fn fixed_precision_cases_say_so_when_another_precision_is_asked() {
        use crate::report::CaseArith;
        let cases = || vec![Case::boolean("sup ≤ bound", true, "proved")];
        // not marked: no precision asked, or the one the certificate was proved at
        for marked in [
            mark_fixed_precision(cases(), Some(128), None),
            mark_fixed_precision(cases(), Some(128), Some(Arith::mpfr(128))),
        ] {
            assert_eq!(marked[0].arith, None);
            assert_eq!(marked[0].note.as_deref(), Some("proved"));
        }
        let marked = mark_fixed_precision(cases(), Some(128), Some(Arith::mpfr(2)));
        assert_eq!(marked[0].arith, Some(CaseArith::FixedBits(128)));
        assert_ne!(marked[0].label, cases()[0].label);
        assert!(marked[0]
            .note
            .as_deref()
            .unwrap()
            .contains("does not apply"));
        let own = mark_fixed_precision(cases(), None, Some(Arith::mpfr(128)));
        assert_eq!(own[0].arith, Some(CaseArith::OwnPrecision));
    }

    #[test]
    fn an_undecided_case_is_raised_until_decided_and_stays_undecided_at_the_cap() {
        // Decided (certainly within) from 512 bits on, undecided below.
        let at = |bits: u32| {
            let c = Case::boolean("c", bits >= 512, "");
            Ok(if bits >= 512 {
                c.with_verdict(Verdict::Certified)
            } else {
                c.with_verdict(Verdict::Undecided)
            })
        };
        let c = escalate(128, at).unwrap();
        assert!(c.passed && c.verdict == Verdict::Certified);
        assert_eq!(c.params["decided_at_bits"], 512);
        // Decided at once: not raised.
        let c = escalate(1024, at).unwrap();
        assert!(c.passed && !c.params.contains_key("decided_at_bits"));
        // Never decided: undecided (not a pass) after the cap.
        let mut tried = Vec::new();
        let c = escalate(64, |b| {
            tried.push(b);
            Ok(Case::boolean("u", false, "").with_verdict(Verdict::Undecided))
        })
        .unwrap();
        assert!(!c.passed && c.verdict == Verdict::Undecided);
        assert_eq!(tried.last(), Some(&ESCALATION_CAP_BITS));
        // A certain failure is not rerun.
        let mut runs = 0;
        let c = escalate(64, |_| {
            runs += 1;
            Ok(Case::boolean("f", false, "").with_verdict(Verdict::Certified))
        })
        .unwrap();
        assert!(!c.passed && runs == 1);
    }

    #[test]
    fn a_computation_error_becomes_one_failed_case() {
        let failed = or_failed_case(Err(crate::error::Error::compute("K not exact")), || {
            "run".into()
        })
        .unwrap();
        assert!(failed.len() == 1 && !failed[0].passed);
        assert!(or_failed_case(Err(crate::error::Error::input("bad")), || "run".into()).is_err());
    }
}
