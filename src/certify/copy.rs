//! Certified COPY runs: the copy-linear model run in ball arithmetic, so that exact decoding is
//! *certified* (each query's correct logit is certainly above every other) and the read error is
//! certified against the exact-arithmetic read bound, with no rounding allowance.

use super::worst::sharp_slack;
use crate::copy::linear::{build_copy_model, CopyModel, CopyTask, MemoryKind};
use crate::error::Result;
use crate::measure::{minimal_bits, probe, Feed, Tally};
use crate::num::{Ball, Scalar};
use crate::report::{Case, CaseKey, Relation};
use rug::Float;

/// The outcome of one certified run.
#[derive(Clone, Debug)]
pub struct CertifiedCopy {
    pub outputs: usize,
    /// Queries whose correct token is certainly the argmax.
    pub certified: usize,
    /// Queries where another token certainly wins (a certified decoding error).
    pub certainly_wrong: usize,
    /// Smallest lower end of `logit_want − logit_j` over queries and `j ≠ want`.
    pub min_margin_lower: Float,
    /// An enclosure of the smallest `logit_want − logit_j` ([`Tally::min_margin`]).
    pub min_margin: Ball,
    /// Largest upper end of `|read − u_p|`.
    pub max_read_error_upper: Float,
    /// Queries whose read error is certainly within the model's exact-arithmetic read bound.
    pub read_within_bound: usize,
    /// Queries whose read error is certainly above it.
    pub read_exceeds: usize,
    /// Queries whose read-error enclosure contains 0 (consistent with an exact read).
    pub read_contains_zero: usize,
    /// Queries whose read-error enclosure contains 0 *and* is within the radius cap
    /// [`exact_value_enclosed`] (an exact read, resolved to half the working precision).
    pub read_exact_within_cap: usize,
    /// The builder's f64 read bound (for reports).
    pub read_bound: f64,
    /// The same formula evaluated in ball arithmetic ([`CopyModel::read_bound_ball`]): what is certified
    /// against is its lower end (times `1 + 2^{−⌈p/2⌉}` when the bound is attained).
    pub read_bound_ball: Ball,
    /// The read bound is attained in exact arithmetic (a sharp bound: the slack is stated).
    pub read_bound_attained: bool,
    /// Working precision of the run.
    pub prec: u32,
}

/// The radius cap of the "exact value" checks: an error enclosure of a value `u` that is exact
/// in exact arithmetic, computed at `p` bits, must contain 0 and stay within
/// `2^{−⌊p/4⌋}·max(1, |u|)` ([`exact_cap_bits`]). Without the cap such a check passes more
/// easily the wider the enclosure; with it a sloppy computation (an enclosure resolving less than
/// a quarter of the working precision) fails. Half the precision rejected a correct model: the
/// attention memory at 53 bits loses about 33 bits to its scores (`λ(j − p)²` up to `λT²`).
/// Bits of the exact-value cap at working precision `prec`: `⌊p/4⌋`.
pub fn exact_cap_bits(prec: u32) -> u32 {
    prec / 4
}

pub fn exact_value_enclosed(err: &Ball, value: i64, prec: u32) -> bool {
    let cap =
        Ball::from_i64(value.unsigned_abs().max(1) as i64, prec.max(64)).mul(&Ball::from_float(
            &Float::with_val(64, Float::i_exp(1, -(exact_cap_bits(prec) as i32))),
            prec.max(64),
        ));
    err.contains_zero() && err.abs().upper() <= cap.lower()
}

impl CertifiedCopy {
    pub fn decoding_certified(&self) -> bool {
        self.certified == self.outputs
    }
}

/// Run the copy model for `task` on `prompt` in ball arithmetic at `prec` bits. After each query
/// the correct token is fed back (the run that greedy decoding performs whenever decoding is
/// certified; an uncertified query is counted, never passed).
pub fn run(
    kind: MemoryKind,
    task: &CopyTask,
    prompt: &[usize],
    prec: u32,
) -> Result<CertifiedCopy> {
    let cm = build_copy_model::<Ball>(kind, task, prec)?;
    let (bound, attained) = (cm.read_bound_ball.clone(), cm.read_bound_attained);
    Ok(run_model(&cm, task, prompt, bound, attained))
}

/// [`run`] on an already built model, against the read bound `bound_ball` (a certified
/// enclosure of the exact-arithmetic bound; `attained`: the bound is sharp, so it is certified
/// with the stated slack `1 + 2^{−⌈p/2⌉}`, certify module docs).
pub fn run_model(
    cm: &CopyModel<Ball>,
    task: &CopyTask,
    prompt: &[usize],
    bound_ball: Ball,
    attained: bool,
) -> CertifiedCopy {
    let prec = cm.model.prec;
    let bound = if attained {
        sharp_slack(&bound_ball, prec)
    } else {
        bound_ball.clone()
    };
    let wp = prec + 64;
    let wants: Vec<usize> = task.targets.iter().map(|&p| prompt[p - 1]).collect();
    let mut tally = Tally::new(wants.len(), wp);
    let (mut within, mut exceeds, mut contains_zero, mut exact_within_cap) = (0, 0, 0, 0);
    probe(&cm.model, prompt, &wants, Feed::Teacher, |_, r, want| {
        let e = r.residual[cm.read]
            .sub(&Ball::from_i64(want as i64, prec))
            .abs();
        tally.certify_read(&e);
        if e.lower() <= 0 {
            contains_zero += 1;
        }
        if exact_value_enclosed(&e, want as i64, prec) {
            exact_within_cap += 1;
        }
        if e.certainly_le(&bound) {
            within += 1;
        } else if bound.certainly_lt(&e) {
            exceeds += 1;
        }
        tally.certify(r, want);
    });
    CertifiedCopy {
        outputs: tally.outputs,
        certified: tally.certified,
        certainly_wrong: tally.certainly_wrong,
        min_margin: tally.min_margin(),
        min_margin_lower: tally.min_margin_lower,
        max_read_error_upper: tally.max_read_error_upper,
        read_within_bound: within,
        read_exceeds: exceeds,
        read_contains_zero: contains_zero,
        read_exact_within_cap: exact_within_cap,
        read_bound: cm.read_bound,
        read_bound_ball: bound_ball,
        read_bound_attained: attained,
        prec,
    }
}

/// Smallest precision (up to `max_bits`, by [`minimal_bits`]) at which decoding is certified;
/// `None` if not even at `max_bits`.
pub fn minimal_certified_bits(
    kind: MemoryKind,
    task: &CopyTask,
    prompt: &[usize],
    max_bits: u32,
) -> Result<Option<u32>> {
    minimal_bits(2, max_bits, |p| {
        Ok(run(kind, task, prompt, p)?.decoding_certified())
    })
}

/// Cases of one certified run: certified exact decoding, and certified read error ≤ the
/// exact-arithmetic read bound (no rounding allowance).
pub fn cases(kind: MemoryKind, task: &CopyTask, prompt: &[usize], prec: u32) -> Result<Vec<Case>> {
    let c = run(kind, task, prompt, prec)?;
    let label = format!(
        "{} T={} at {prec} bits (ball arithmetic)",
        kind.label(),
        task.length
    );
    let zero = Ball::zero(c.min_margin.mid().prec());
    Ok(vec![
        Case::certified(
            format!("certified exact greedy copy, {label}"),
            &c.min_margin,
            &zero,
            Relation::Above,
        )
        .keyed(
            CaseKey::new("certified-decoding")
                .arith(format!("ball {prec} bits"))
                .size("T", task.length)
                .size("memory", kind.label()),
        )
        .with_note(format!(
            "{} of {} queries certified (correct logit certainly largest), {} certainly wrong; min certified margin {:.3e}",
            c.certified,
            c.outputs,
            c.certainly_wrong,
            c.min_margin_lower.to_f64()
        ))
        .param("certified", c.certified)
        .param("outputs", c.outputs),
        read_case(&c, &label),
    ])
}

/// The read-error case of one certified run: certified `|read − u_p| ≤` the exact-arithmetic
/// read bound (its certified lower end), or, for an exact read (bound 0), every enclosure
/// contains 0 within the radius cap of [`exact_value_enclosed`].
pub fn read_case(c: &CertifiedCopy, label: &str) -> Case {
    let prec = c.prec;
    let read_ok = c.read_within_bound == c.outputs;
    let read_undecided = !read_ok && c.read_exceeds == 0;
    if !c.read_bound_ball.is_zero() {
        Case::certificate(
            format!(
                "certified read error ≤ exact-arithmetic read bound{}, {label}",
                if c.read_bound_attained {
                    format!(" × (1 + 2^-{}) (the bound is attained)", prec.div_ceil(2))
                } else {
                    String::new()
                }
            ),
            read_ok,
            read_undecided,
            format!(
                "{} of {} queries certainly within the bound's certified lower end {:.6e} (formula in ball arithmetic; builder's f64 {:.6e}), {} certainly above; largest upper end {:.3e} (no rounding allowance)",
                c.read_within_bound,
                c.outputs,
                c.read_bound_ball.lower().to_f64(),
                c.read_bound,
                c.read_exceeds,
                c.max_read_error_upper.to_f64()
            ),
        )
    } else {
        // An exact read (bound 0) cannot be certified by an enclosure of positive width; the
        // check is that every enclosure contains 0 and is within the cap 2^{−⌊p/4⌋}·max(1, u).
        Case::boolean(
            format!(
                "read error enclosure contains 0 and is ≤ 2^-{}·max(1, u) (exact read in exact arithmetic), {label}",
                exact_cap_bits(prec)
            ),
            c.read_exact_within_cap == c.outputs,
            format!(
                "{} of {} enclosures contain 0 and are within the cap ({} contain 0); certified |read − u_p| ≤ {:.3e}",
                c.read_exact_within_cap,
                c.outputs,
                c.read_contains_zero,
                c.max_read_error_upper.to_f64()
            ),
        )
    }
}

/// Certified copy-linear cases for `verify copy-linear` (one call appended to the claim): every
/// memory kind at 128 bits for `T ∈ {16, 256}` (and 1024 with `--full`), plus the minimal precision
/// at which decoding is certified at `T = 64`.
pub fn copy_linear_cases(mode: crate::report::Mode, seed: u64) -> Result<Vec<Case>> {
    copy_linear_cases_at(mode, seed, None)
}

/// [`copy_linear_cases`] with the per-T runs at `bits` of ball arithmetic (default 128):
/// `verify --precision p` runs them at p bits (undecided when the enclosures are too wide; a
/// model that cannot be built at p bits is a failed case). The minimal-certified-precision
/// search ranges over precisions by design and does not depend on `bits`.
pub fn copy_linear_cases_at(
    mode: crate::report::Mode,
    seed: u64,
    bits: Option<u32>,
) -> Result<Vec<Case>> {
    use crate::report::Mode;
    const VOCAB: usize = 16; // as the copy-linear claim
    let kinds = MemoryKind::usable_for(crate::memory::Use::Copy);
    let random_prompt = |rng: &mut crate::rng::Rng, len: usize| -> Vec<usize> {
        (0..len).map(|_| rng.below(VOCAB)).collect()
    };
    let ts: &[usize] = match mode {
        Mode::Full => &[16, 256, 1024],
        _ => &[16, 256],
    };
    let rng = crate::rng::Rng::new(seed);
    let mut out = Vec::new();
    for kind in kinds {
        for &t in ts {
            let task = CopyTask::copy_all(t, VOCAB);
            let stream = format!("copy-linear/certified/{}/T={t}", kind.stream_id());
            let prompt = random_prompt(&mut rng.stream(&stream), t);
            let prec = bits.unwrap_or(128);
            out.extend(super::or_failed_case(
                cases(kind, &task, &prompt, prec),
                || format!("{} T={t}: certified run at {prec} bits", kind.label()),
            )?);
        }
        let task = CopyTask::copy_all(64, VOCAB);
        let prompt = random_prompt(
            &mut rng.stream(&format!("copy-linear/min-certified/{}", kind.stream_id())),
            64,
        );
        let min = minimal_certified_bits(kind, &task, &prompt, 1024)?;
        out.push(
            Case::certificate(
                format!(
                    "{} T=64: decoding is certified at some precision ≤ 1024 bits (minimal certified precision)",
                    kind.label()
                ),
                min.is_some(),
                false,
                match min {
                    Some(p) => format!("certified from {p} bits (and not at {} bits)", p - 1),
                    None => "not certified at 1024 bits".to_string(),
                },
            )
            .param("min_certified_bits", min),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::Mag;

    #[test]
    fn the_certified_copy_cases_run_at_the_requested_precision() {
        let low = copy_linear_cases_at(crate::report::Mode::Quick, 1, Some(4)).unwrap();
        assert!(low.iter().any(|c| !c.passed));
    }

    #[test]
    fn copy_decoding_is_certified_at_128_bits_and_not_at_4() {
        let task = CopyTask::copy_all(32, 16);
        let prompt: Vec<usize> = (0..32).map(|i| (i * 7) % 16).collect();
        for kind in [MemoryKind::Position, MemoryKind::Slot] {
            let c = run(kind, &task, &prompt, 128).unwrap();
            assert!(c.decoding_certified(), "{kind:?}: {c:?}");
            if c.read_bound_ball.is_zero() {
                assert_eq!(c.read_exact_within_cap, c.outputs, "{kind:?}: {c:?}");
                assert!(c.max_read_error_upper < 1e-30, "{kind:?}: {c:?}");
            } else {
                assert_eq!(c.read_within_bound, c.outputs, "{kind:?}: {c:?}");
            }
            // At 4 bits the enclosures are far too wide: nothing is certified, nothing passes.
            let c = run(kind, &task, &prompt, 4).unwrap();
            assert!(!c.decoding_certified(), "{kind:?} at 4 bits: {c:?}");
        }
    }

    #[test]
    fn a_widened_exact_enclosure_fails_the_radius_cap() {
        let p = 128;
        let e = |rad: Mag| {
            let mut b = Ball::from_i64(0, p);
            b.set_rad(rad);
            b
        };
        // A tight enclosure of 0 passes; the same midpoint widened past 2^{−32}·max(1, u) (p = 128)
        // fails although it still contains 0; one that misses 0 fails.
        assert!(exact_value_enclosed(&e(Mag::pow2(-100)), 7, p));
        assert!(exact_value_enclosed(&e(Mag::pow2(-30)), 7, p));
        assert!(!exact_value_enclosed(&e(Mag::pow2(-28)), 7, p));
        assert!(!exact_value_enclosed(&e(Mag::pow2(-20)), 0, p));
        let mut off = Ball::from_f64(1e-30, p);
        off.set_rad(Mag::pow2(-110));
        assert!(!exact_value_enclosed(&off, 7, p));
    }

    #[test]
    fn the_read_bound_enclosure_and_the_f64_bound_are_one_formula() {
        let task = CopyTask::copy_all(64, 16);
        for kind in MemoryKind::usable_for(crate::memory::Use::Copy) {
            let cm = build_copy_model::<f64>(kind, &task, 53).unwrap();
            let ball = &cm.read_bound_ball;
            // the f64 bound is the same formula in f64 (rounded up for the attained bound):
            // within a few ulps of the enclosure
            let gap = ball.sub(&Ball::from_f64(cm.read_bound, 128)).abs();
            let ulps = Ball::from_f64(cm.read_bound.abs() * 1e-14, 128);
            assert!(
                gap.certainly_le(&ulps) || ball.is_zero(),
                "{kind:?}: {ball:?}"
            );
            assert_eq!(cm.read_bound == 0.0, ball.is_zero(), "{kind:?}");
            assert_eq!(cm.read_bound_attained, kind == MemoryKind::PositionEta);
            assert!(
                ball.rad().log2() < -100.0 || ball.is_zero(),
                "{kind:?}: {ball:?}"
            );
        }
        // The slot formula's hypothesis (select gain K·α ≥ M') fails for a query flag far from
        // one: the bound is refused, not returned.
        let p = crate::memory::SlotParams::for_accuracy(15.0, 64, 0.25).unwrap();
        let unit = crate::gadgets::relu::ReluUnit::<Ball>::exact(128);
        assert!(crate::memory::slot::read_bound(&p, 15.0, 64, 64, 0.0, &unit).is_ok());
        assert!(crate::memory::slot::read_bound(&p, 15.0, 64, 64, 0.4, &unit).is_err());
        let task = CopyTask::copy_all(64, 16);
        // The attained position-key bound is certified only with its stated slack: the
        // largest read error reaches past the bound's lower end at 128 bits.
        let prompt: Vec<usize> = (0..64).map(|i| 15 - (i % 2)).collect();
        let c = run(MemoryKind::PositionEta, &task, &prompt, 128).unwrap();
        assert_eq!(c.read_within_bound, c.outputs, "{c:?}");
        assert!(c.max_read_error_upper > c.read_bound_ball.lower(), "{c:?}");
    }

    #[test]
    fn read_cases_fail_on_a_tightened_bound_and_on_wrong_targets() {
        let task = CopyTask::copy_all(32, 16);
        let prompt: Vec<usize> = (0..32).map(|i| (i * 7) % 16).collect();
        // Slot memory: positive read bound, certified; refuted at 0.99 × the attained error.
        let cm = build_copy_model::<Ball>(MemoryKind::Slot, &task, 128).unwrap();
        let (bound, attained) = (cm.read_bound_ball.clone(), cm.read_bound_attained);
        let c = run_model(&cm, &task, &prompt, bound, attained);
        assert!(c.read_bound > 0.0 && read_case(&c, "slot").passed, "{c:?}");
        let tight =
            Ball::from_float(&c.max_read_error_upper, 128).mul(&Ball::from_ratio(99, 100, 128));
        let c = run_model(&cm, &task, &prompt, tight, false);
        assert!(c.read_exceeds > 0, "{c:?}");
        let case = read_case(&c, "slot, tightened");
        assert!(!case.passed && case.verdict == crate::report::Verdict::Certified);
        // Position keys: an exact read (bound 0). Checked against the wrong targets (each query
        // compared with the next position's token), enclosures exclude 0 and the check fails.
        let cm = build_copy_model::<Ball>(MemoryKind::Position, &task, 128).unwrap();
        assert_eq!(cm.read_bound, 0.0);
        let zero = Ball::from_i64(0, 128);
        assert!(read_case(&run_model(&cm, &task, &prompt, zero.clone(), false), "key").passed);
        let shifted = CopyTask {
            targets: task.targets.iter().map(|&p| p % 32 + 1).collect(),
            ..task.clone()
        };
        let c = run_model(&cm, &shifted, &prompt, zero, false);
        assert!(c.read_contains_zero < c.outputs, "{c:?}");
        assert!(!read_case(&c, "key, wrong targets").passed);
    }
}
