//! Certified scan-unroll runs (proofs/scan-unroll.md): the recurrent scan and the unrolled sum
//! both evaluated in ball arithmetic. Each side's enclosure contains its exact-arithmetic value,
//! so the enclosure of `scan − unrolled` contains the exact difference `y*_scan − y*_unrolled`;
//! the identity says that difference is 0. Certified, per `(t, d)`:
//!
//! - the enclosure of the difference contains 0 (else the identity is certainly false), and
//! - its magnitude's upper end is ≤ the stated cap `2^{−⌈p/2⌉}(1 + |y|)`, so the exact
//!   identity holds to within that certified width (a sloppy evaluation with wide radii fails).
//!
//! Control: the off-by-one unrolled form (decay product from `k = j`) must be certified wrong:
//! some difference enclosure has a positive lower end.

use crate::model::random::{random_inputs, DecayChoice, RandomSsm};
use crate::model::ssm::{SsmLayer, StepInputs, UnrolledForm};
use crate::num::{Arith, Ball, Scalar};
use crate::report::Case;
use crate::report::Mode;
use crate::rng::Rng;
use rug::Float;

/// Outcome of one certified comparison over every `(t, d)`.
#[derive(Clone, Debug)]
pub struct CertifiedScan {
    pub entries: usize,
    /// Difference enclosures containing 0.
    pub contain_zero: usize,
    /// Enclosures certainly nonzero (the identity certainly fails there).
    pub certainly_nonzero: usize,
    /// Enclosures with `|diff|` upper end ≤ the cap.
    pub within_cap: usize,
    /// Enclosures with `|diff|` lower end > the cap.
    pub above_cap: usize,
    /// Largest upper end of `|scan − unrolled|`: the certified bound on the exact difference.
    pub max_upper: f64,
    /// Largest lower end of `|scan − unrolled|`.
    pub max_lower: f64,
}

impl CertifiedScan {
    /// Certified identity: every enclosure contains 0 and is within the cap.
    pub fn identity_certified(&self) -> bool {
        self.contain_zero == self.entries && self.within_cap == self.entries
    }
    /// Certainly not the identity.
    pub fn certainly_wrong(&self) -> bool {
        self.certainly_nonzero > 0 || self.above_cap > 0
    }
}

/// `2^{−⌈p/2⌉}(1 + |y|)` with `|y|` the midpoint's magnitude, rounded down.
fn cap(y: &Ball, prec: u32) -> Ball {
    let mut c = Float::with_val(prec + 64, y.mid().abs_ref());
    c += 1;
    c >>= prec.div_ceil(2);
    Ball::from_float(&c, prec + 64)
}

/// Compare the scan with the unrolled `form` in ball arithmetic at `prec` bits.
pub fn compare(spec: &RandomSsm, xs: &[Vec<f64>], prec: u32, form: UnrolledForm) -> CertifiedScan {
    let layer: SsmLayer<Ball> = spec.build(prec);
    let inputs: Vec<StepInputs<Ball>> = xs
        .iter()
        .map(|x| {
            let xv: Vec<Ball> = x.iter().map(|&v| Ball::from_f64(v, prec)).collect();
            layer.project(&xv, prec)
        })
        .collect();
    let scan = layer.scan(&inputs, prec);
    let unrolled = layer.unrolled(&inputs, prec, form);
    let mut c = CertifiedScan {
        entries: 0,
        contain_zero: 0,
        certainly_nonzero: 0,
        within_cap: 0,
        above_cap: 0,
        max_upper: 0.0,
        max_lower: 0.0,
    };
    for (ys, yu) in scan.iter().zip(&unrolled.y) {
        for (a, b) in ys.iter().zip(yu) {
            let d = a.sub(b);
            let m = d.abs();
            let k = cap(a, prec);
            c.entries += 1;
            c.contain_zero += d.contains_zero() as usize;
            c.certainly_nonzero += !d.contains_zero() as usize;
            c.within_cap += m.certainly_le(&k) as usize;
            c.above_cap += k.certainly_lt(&m) as usize;
            c.max_upper = c.max_upper.max(m.upper().to_f64());
            c.max_lower = c.max_lower.max(m.lower().to_f64());
        }
    }
    c
}

/// The identity case and the off-by-one control for one instance at `prec` bits.
pub fn cases(spec: &RandomSsm, xs: &[Vec<f64>], prec: u32, label: &str) -> Vec<Case> {
    let c = compare(spec, xs, prec, UnrolledForm::Correct);
    let w = compare(spec, xs, prec, UnrolledForm::DecayIncludesOwnStep);
    let k = prec.div_ceil(2);
    vec![
        Case::certificate(
            format!("certified: scan − unrolled encloses 0 within 2^-{k}(1+|y|), {label}"),
            c.identity_certified(),
            !c.identity_certified() && !c.certainly_wrong(),
            format!(
                "{} / {} enclosures contain 0, {} within the cap ({} certainly nonzero, {} above it); certified |y*_scan − y*_unrolled| ≤ {:.3e}",
                c.contain_zero, c.entries, c.within_cap, c.certainly_nonzero, c.above_cap, c.max_upper
            ),
        )
        .param("max_certified_difference", c.max_upper)
        .param("precision_bits", prec),
        Case::certificate(
            format!("control: the off-by-one unrolled form is certified wrong, {label}"),
            w.certainly_nonzero > 0,
            w.certainly_nonzero == 0 && w.within_cap < w.entries,
            format!(
                "{} / {} difference enclosures certainly nonzero; largest lower end {:.3e}",
                w.certainly_nonzero, w.entries, w.max_lower
            ),
        ),
    ]
}

/// Certified scan-unroll cases for `verify scan-unroll` (one call appended to the claim): three
/// random layers (A = −(n+1), scalar, general) at 64 and 256 bits, or only at `--precision`
/// (53 bits for f64); `--full` adds 1024 bits and longer sequences.
pub fn scan_unroll_cases(mode: Mode, seed: u64, arith: Option<Arith>) -> Vec<Case> {
    let sizes: &[(DecayChoice, usize, usize)] = match mode {
        Mode::Full => &[
            (DecayChoice::Mamba1, 256, 16),
            (DecayChoice::Scalar, 256, 16),
            (DecayChoice::General, 96, 8),
        ],
        _ => &[
            (DecayChoice::Mamba1, 96, 16),
            (DecayChoice::Scalar, 96, 16),
            (DecayChoice::General, 48, 8),
        ],
    };
    let precs: Vec<u32> = match (arith, mode) {
        (Some(a), _) => vec![a.bits()],
        (None, Mode::Full) => vec![64, 256, 1024],
        (None, _) => vec![64, 256],
    };
    let rng = Rng::new(seed).stream("certify/scan-unroll");
    let mut out = Vec::new();
    for &(decay, t, n) in sizes {
        let mut r = rng.stream(&format!("{decay:?}/T={t}/N={n}"));
        let spec = RandomSsm::new(&mut r, 4, 2, n, decay);
        let xs = random_inputs(&mut r, t, 4);
        for &p in &precs {
            let label = format!("{decay:?} T={t} N={n} at {p} bits (ball)");
            out.extend(cases(&spec, &xs, p, &label));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn instance() -> (RandomSsm, Vec<Vec<f64>>) {
        let mut r = Rng::new(3);
        let spec = RandomSsm::new(&mut r, 4, 2, 8, DecayChoice::Mamba1);
        let xs = random_inputs(&mut r, 40, 4);
        (spec, xs)
    }

    #[test]
    fn identity_is_certified_and_the_off_by_one_form_is_certified_wrong() {
        let (spec, xs) = instance();
        let cs = cases(&spec, &xs, 128, "t");
        for c in &cs {
            assert!(c.passed && c.verdict == Verdict::Certified, "{c:?}");
        }
        let c = compare(&spec, &xs, 128, UnrolledForm::Correct);
        assert!(c.max_upper < 1e-30, "{c:?}");
    }

    #[test]
    fn the_identity_case_fails_on_the_wrong_form_and_is_undecided_when_too_wide() {
        let (spec, xs) = instance();
        let w = compare(&spec, &xs, 128, UnrolledForm::DecayIncludesOwnStep);
        assert!(!w.identity_certified() && w.certainly_wrong(), "{w:?}");
        // at 6 bits the radii exceed the cap 2^-3(1+|y|) somewhere: never a pass
        let c = compare(&spec, &xs, 6, UnrolledForm::Correct);
        assert!(!c.identity_certified(), "{c:?}");
    }
}
