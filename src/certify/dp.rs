//! Certified DP runs: a compiled DP model run in ball arithmetic, feeding the reference chain of
//! thought. Decoding is certified when at every generated position the correct token's logit is
//! certainly above every other (then greedy decoding reproduces the reference exactly); the
//! memory and `out` errors are certified against the compiler's exact-arithmetic bounds, with
//! no rounding slack.

use super::copy::exact_value_enclosed;
use crate::dp::{compile, Compiled, DpProblem, Options};
use crate::error::{Error, Result};
use crate::measure::fit::{bits_per_doubling, SLOPE_TOL};
use crate::measure::{minimal_bits, Tally};
use crate::model::Activation;
use crate::num::{Ball, Enclosure, Interval, Scalar};
use crate::report::Case;

/// Counts of one family of certified error checks (memory reads, or `out`).
#[derive(Clone, Debug, Default)]
pub struct ErrorCounts {
    pub n: usize,
    /// Certainly within the bound (upper end of |error| ≤ the bound's lower end).
    pub within: usize,
    /// Certainly above the bound (a certified failure).
    pub exceed: usize,
    /// Enclosures containing 0.
    pub contain_zero: usize,
    /// Enclosures containing 0 and within the radius cap ([`exact_value_enclosed`]).
    pub exact_within_cap: usize,
    /// Largest upper end of |error|.
    pub max_upper: f64,
}

impl ErrorCounts {
    fn record(&mut self, d: &Ball, value: i64, bound: Option<&Ball>, prec: u32) {
        self.n += 1;
        if let Some(b) = bound {
            self.within += d.certainly_le(b) as usize;
            self.exceed += b.certainly_lt(d) as usize;
        }
        self.contain_zero += (d.lower() <= 0) as usize;
        self.exact_within_cap += exact_value_enclosed(d, value, prec) as usize;
        self.max_upper = self.max_upper.max(worst_upper(d));
    }
}

#[derive(Clone, Debug)]
pub struct CertifiedDp {
    pub positions: usize,
    pub certified: usize,
    pub certainly_wrong: usize,
    pub min_margin_lower: f64,
    /// Reads (port × position) against the memory bound.
    pub reads: ErrorCounts,
    /// `out` against the out bound.
    pub outs: ErrorCounts,
    /// The compiler's f64 bounds (for reports).
    pub memory_bound: f64,
    pub out_bound: f64,
    /// The same bounds as enclosures ([`dp_bounds`]); `None` with smooth units (their bounds
    /// are not formed in ball arithmetic), so nothing is certified against them.
    pub memory_bound_ball: Option<Ball>,
    pub out_bound_ball: Option<Ball>,
    pub precision: u32,
}

fn worst_upper(e: &Ball) -> f64 {
    e.abs().upper().to_f64()
}

/// The certified memory and `out` bounds (ReLU units), at `prec` bits: the memory's one formula
/// in ball arithmetic ([`crate::memory::Memory::certified_error_bound`], the code of the
/// compiler's f64 bound), and the compiler's `out` bound, which with ReLU units is exactly 0
/// (the rounding stage is exact on reads within 1/8 of an integer, the transition circuit is
/// exact, so no rounding enters it) once its hypothesis, memory bound ≤ 1/8, holds on the
/// enclosure. An error when a hypothesis fails; `None` with smooth units.
pub fn dp_bounds<S: Scalar>(c: &Compiled<S>, prec: u32) -> Result<Option<(Ball, Ball)>> {
    if c.info.activation != Activation::Relu {
        return Ok(None);
    }
    let mem = c.memory.certified_error_bound(prec)?;
    if !mem.certainly_le(&Ball::from_ratio(1, 8, prec)) {
        return Err(Error::compute(format!(
            "the memory bound {:e} is not certainly ≤ 1/8: the rounding stage's hypothesis fails",
            mem.to_f64()
        )));
    }
    if c.info.out_error_bound != 0.0 {
        return Err(Error::compute(format!(
            "the out bound with ReLU units is {:e}, not exactly 0",
            c.info.out_error_bound
        )));
    }
    Ok(Some((mem, Ball::zero(prec))))
}

/// Teacher-forced certified run of `c` on `input` ([`Compiled::probe_reference`]).
pub fn run<E: Enclosure>(
    c: &Compiled<E>,
    p: &dyn DpProblem,
    input: &[usize],
) -> Result<CertifiedDp> {
    let prec = c.model.prec;
    let ball_bounds = dp_bounds(c, prec.max(64) + 64)?;
    // Without a ball formula (smooth units) the reads are still counted against the compiler's
    // f64 value of the bound; such cases are reported as measured, not certified (error_case).
    let (mem_bound, out_bound) = match &ball_bounds {
        Some((m, o)) => (m.clone(), o.clone()),
        None => (
            Ball::from_f64(c.info.memory_error_bound, prec),
            Ball::from_f64(c.info.out_error_bound, prec),
        ),
    };
    let (mut reads, mut outs) = (ErrorCounts::default(), ErrorCounts::default());
    let mut positions = 0;
    // margins of the generated positions (counted in `positions`)
    let mut tally = Tally::new(0, prec);
    c.probe_reference(p, input, |fed, r, want| {
        for (port, v) in fed.reads {
            let d = r.residual[c.read_raw_start + port]
                .sub(&E::from_i64(v, prec))
                .abs()
                .enclosure();
            reads.record(&d, v, Some(&mem_bound), prec);
        }
        if let Some(v) = fed.out {
            let d = r.residual[c.out_coord]
                .sub(&E::from_i64(v, prec))
                .abs()
                .enclosure();
            outs.record(&d, v, Some(&out_bound), prec);
            // the next token is generated from these logits
            positions += 1;
            tally.certify(r, want);
        }
    })?;
    Ok(CertifiedDp {
        positions,
        certified: tally.certified,
        certainly_wrong: tally.certainly_wrong,
        min_margin_lower: tally.min_margin_lower.to_f64(),
        reads,
        outs,
        memory_bound: c.info.memory_error_bound,
        out_bound: c.info.out_error_bound,
        memory_bound_ball: ball_bounds.as_ref().map(|b| b.0.clone()),
        out_bound_ball: ball_bounds.as_ref().map(|b| b.1.clone()),
        precision: prec,
    })
}

/// The arithmetic that decided a certified run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// f64 intervals (53 bits), every check decided.
    Interval,
    /// Balls at the requested precision.
    Ball(u32),
}

/// Whether a certified run passed every check of its cases: decoding certified, memory reads and
/// `out` certified within their bounds ([`decoding_case`], [`error_cases`]).
pub fn decided(s: &CertifiedDp) -> bool {
    decoding_case(s, "").passed && error_cases(s, "").iter().all(|c| c.passed)
}

/// A certified run at `bits` on `input`: at 53 bits or more, the f64 interval tier first, whose
/// run stands when every check passes ([`decided`]); otherwise balls at `bits` decide. A verdict
/// that 53-bit intervals reach is also a `bits`-bit verdict: both enclose the same exact model.
pub fn run_tiered(
    p: &dyn DpProblem,
    opt: &Options,
    bits: u32,
    input: &[usize],
) -> Result<(CertifiedDp, Tier, usize)> {
    if bits >= 53 {
        let c: Compiled<Interval> = compile(p, opt, 53)?;
        let s = run(&c, p, input)?;
        if decided(&s) {
            return Ok((s, Tier::Interval, c.info.total_len));
        }
    }
    let c: Compiled<Ball> = compile(p, opt, bits)?;
    Ok((run(&c, p, input)?, Tier::Ball(bits), c.info.total_len))
}

/// Cases of a certified run at `bits` on `input` ([`run_tiered`]): certified exact decoding,
/// memory and `out` errors certified within the compiler's exact-arithmetic bounds (no rounding
/// slack).
pub fn cases(p: &dyn DpProblem, opt: &Options, bits: u32, input: &[usize]) -> Result<Vec<Case>> {
    let (s, tier, t) = run_tiered(p, opt, bits, input)?;
    let label = run_label(p, opt, tier, t);
    Ok([decoding_case(&s, &label)]
        .into_iter()
        .chain(error_cases(&s, &label))
        .collect())
}

/// `<problem> / <memory> memory at <bits> bits (ball arithmetic, T = <T>)`, or `… in f64
/// interval arithmetic (53 bits, T = <T>)` when the interval tier decided it.
fn run_label(p: &dyn DpProblem, opt: &Options, tier: Tier, t: usize) -> String {
    let how = match tier {
        Tier::Ball(bits) => format!("at {bits} bits (ball arithmetic"),
        Tier::Interval => "in f64 interval arithmetic (53 bits".to_string(),
    };
    format!(
        "{} / {} memory {how}, T = {t})",
        p.describe(),
        opt.memory.name()
    )
}

/// The case "every generated token is certified" of a certified run: undecided when some
/// position is neither certified nor certainly wrong.
pub fn decoding_case(s: &CertifiedDp, label: &str) -> Case {
    let ok = s.certified == s.positions;
    Case::certificate(
        format!("certified exact CoT decoding, {label}"),
        ok,
        !ok && s.certainly_wrong == 0,
        format!(
            "{} of {} generated positions certified; min certified logit margin {:.3e}",
            s.certified, s.positions, s.min_margin_lower
        ),
    )
}

/// The memory-read and `out` error cases of a certified run (see [`error_case`]).
pub fn error_cases(s: &CertifiedDp, label: &str) -> [Case; 2] {
    [
        error_case(
            "memory read",
            label,
            &s.reads,
            s.memory_bound_ball.as_ref(),
            s.memory_bound,
            s.precision,
        ),
        error_case(
            "out",
            label,
            &s.outs,
            s.out_bound_ball.as_ref(),
            s.out_bound,
            s.precision,
        ),
    ]
}

/// An error check against the compiler's exact-arithmetic bound (its formula in ball
/// arithmetic): certified when the bound is positive (a certain excess is a failure, an
/// overlap undecided); when it is 0 (an exact value in exact arithmetic, where the former
/// rounding slack was the whole bound) no enclosure of positive width can certify it, so the
/// check is that every enclosure contains 0 and is within the radius cap
/// `2^{−⌊p/4⌋}·max(1, |value|)` ([`exact_value_enclosed`]). Without a ball formula (smooth units)
/// the enclosures are compared with the compiler's f64 value of the bound, and the case is
/// reported as measured (the f64 evaluation of the formula is not itself enclosed).
fn error_case(
    what: &str,
    label: &str,
    e: &ErrorCounts,
    bound: Option<&Ball>,
    bound_f64: f64,
    prec: u32,
) -> Case {
    let n = e.n;
    match bound {
        None => Case::boolean(
            format!("{what} error ≤ the compiler's f64 bound (ball run; bound not formed in ball arithmetic), {label}"),
            e.within == n,
            format!(
                "{} / {n} enclosures certainly within the f64 value {bound_f64:.3e}, {} certainly above (largest upper end {:.3e}); measured, not certified: the bound's f64 evaluation is not enclosed",
                e.within, e.exceed, e.max_upper
            ),
        ),
        Some(b) if !b.is_zero() => Case::certificate(
            format!("certified {what} error ≤ exact-arithmetic bound, {label}"),
            e.within == n,
            e.within < n && e.exceed == 0,
            format!(
                "{} / {n} within the bound's certified lower end {:.6e} (compiler's f64 {bound_f64:.3e}), {} certainly above (largest upper end {:.3e}); no rounding slack",
                e.within,
                b.lower().to_f64(),
                e.exceed,
                e.max_upper
            ),
        ),
        Some(_) => Case::boolean(
            format!(
                "{what} error enclosures contain 0 and are ≤ 2^-{}·max(1, value) (exact in exact arithmetic), {label}",
                super::copy::exact_cap_bits(prec)
            ),
            e.exact_within_cap == n,
            format!(
                "{} / {n} contain 0 within the cap ({} contain 0); certified |error| ≤ {:.3e}",
                e.exact_within_cap, e.contain_zero, e.max_upper
            ),
        ),
    }
}

/// Certified DP cases for `verify dp-general` (one call appended to the claim): edit distance
/// and LIS with the slot, position and attention memories (ReLU units), one random input each.
pub fn dp_general_cases(mode: crate::report::Mode, seed: u64) -> Result<Vec<Case>> {
    dp_general_cases_at(mode, seed, None)
}

/// [`dp_general_cases`] at `bits` of ball arithmetic (default 128): `verify --precision p` runs
/// them at p bits, where a too-wide enclosure is undecided and a model that cannot be built in
/// ball arithmetic at p bits is a failed case with the reason.
pub fn dp_general_cases_at(
    mode: crate::report::Mode,
    seed: u64,
    bits: Option<u32>,
) -> Result<Vec<Case>> {
    use crate::memory::{MemoryKind, Use};
    use crate::report::Mode;
    let mut problems: Vec<Box<dyn DpProblem>> = vec![
        Box::new(crate::dp::problem(
            "edit",
            "n1=3 n2=3 sigma=4 ins=1 del=1 sub=1",
        )?),
        Box::new(crate::dp::problem("lis", "n=4 sigma=8")?),
    ];
    if mode != Mode::Quick {
        problems.push(Box::new(crate::dp::problem(
            "edit",
            "n1=8 n2=8 sigma=4 ins=1 del=1 sub=1",
        )?));
    }
    let mut rng = crate::rng::Rng::new(seed).stream("certify/dp-general");
    let mut out = Vec::new();
    for p in &problems {
        let input = p.random_input(&mut rng);
        for memory in MemoryKind::usable_for(Use::Dp) {
            let opt = Options::new(memory, Activation::Relu);
            let prec = bits.unwrap_or(128);
            out.extend(super::or_failed_case(
                cases(p.as_ref(), &opt, prec, &input),
                || {
                    format!(
                        "{} / {} memory: certified run at {prec} bits",
                        p.describe(),
                        memory.name()
                    )
                },
            )?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryKind, Use};

    #[test]
    fn the_certified_dp_cases_run_at_the_requested_precision() {
        use crate::report::Mode;
        // At 3 bits no decoding is certified: every (problem, memory) run of the quick sweep,
        // 2 problems × 3 memories, has a failed case (at 128 bits they pass, see below).
        let low = dp_general_cases_at(Mode::Quick, 1, Some(3)).unwrap();
        assert!(low.iter().filter(|c| !c.passed).count() >= 2 * 3, "{low:?}");
    }

    #[test]
    fn dp_decoding_is_certified_at_128_bits_and_not_at_3() {
        let p = crate::dp::problem("edit", "n1=3 n2=3 sigma=4 ins=1 del=1 sub=1").unwrap();
        let input = p.random_input(&mut crate::rng::Rng::new(2));
        for memory in MemoryKind::usable_for(Use::Dp) {
            let opt = Options::new(memory, Activation::Relu);
            let c: Compiled<Ball> = compile(&p, &opt, 128).unwrap();
            let s = run(&c, &p, &input).unwrap();
            assert_eq!(s.certified, s.positions, "{memory:?}: {s:?}");
            let c: Compiled<Ball> = compile(&p, &opt, 3).unwrap();
            let s = run(&c, &p, &input).unwrap();
            assert!(s.certified < s.positions, "{memory:?} at 3 bits: {s:?}");
        }
    }

    #[test]
    fn a_certain_excess_fails_and_an_overlap_is_undecided() {
        use crate::report::Verdict;
        let p = 128;
        let bound = Ball::from_ratio(1, 1000, p);
        let mut e = ErrorCounts::default();
        e.record(&Ball::from_ratio(1, 2000, p), 3, Some(&bound), p);
        e.record(&Ball::from_ratio(1, 500, p), 3, Some(&bound), p); // certainly above
        let c = error_case("read", "t", &e, Some(&bound), 1e-3, p);
        assert!(!c.passed && c.verdict == Verdict::Certified, "{c:?}");
        // an enclosure straddling the bound: undecided, never a pass
        let mut e = ErrorCounts::default();
        let mut wide = Ball::from_ratio(1, 1000, p);
        wide.set_rad(crate::num::Mag::pow2(-12));
        e.record(&wide, 3, Some(&bound), p);
        let c = error_case("read", "t", &e, Some(&bound), 1e-3, p);
        assert!(!c.passed && c.verdict == Verdict::Undecided, "{c:?}");
    }

    #[test]
    fn the_interval_tier_decides_as_balls_do_and_gives_way_when_it_cannot() {
        let p = crate::dp::problem("edit", "n1=3 n2=3 sigma=4 ins=1 del=1 sub=1").unwrap();
        let input = p.random_input(&mut crate::rng::Rng::new(5));
        for memory in MemoryKind::usable_for(Use::Dp) {
            let opt = Options::new(memory, Activation::Relu);
            let (iv, tier, _) = run_tiered(&p, &opt, 128, &input).unwrap();
            assert_eq!(tier, Tier::Interval, "{memory:?}");
            let ball = run(&compile::<Ball>(&p, &opt, 128).unwrap(), &p, &input).unwrap();
            let verdicts =
                |s: &CertifiedDp| (s.certified, s.positions, s.reads.within, s.outs.within);
            assert_eq!(verdicts(&iv), verdicts(&ball), "{memory:?}");
            // below 53 bits the tier is not used
            assert_eq!(run_tiered(&p, &opt, 24, &input).unwrap().1, Tier::Ball(24));
            // one undecided position, or one read not certainly within its bound, is not decided
            assert!(decided(&iv));
            let mut one_short = iv.clone();
            one_short.certified -= 1;
            assert!(!decided(&one_short));
            let mut read_out = iv.clone();
            read_out.reads.within -= 1;
            read_out.reads.exact_within_cap -= 1;
            assert!(!decided(&read_out));
        }
    }

    #[test]
    fn a_widened_exact_enclosure_fails() {
        let p = 128;
        let zero = Ball::zero(p);
        let mut tight = Ball::zero(p);
        tight.set_rad(crate::num::Mag::pow2(-100));
        let mut widened = Ball::zero(p);
        widened.set_rad(crate::num::Mag::pow2(-20)); // contains 0, wider than 2^-32·max(1, 5)
        let mut e = ErrorCounts::default();
        e.record(&tight, 5, Some(&zero), p);
        assert!(error_case("out", "t", &e, Some(&zero), 0.0, p).passed);
        e.record(&widened, 5, Some(&zero), p);
        assert_eq!(e.contain_zero, 2);
        assert!(!error_case("out", "t", &e, Some(&zero), 0.0, p).passed);
    }

    #[test]
    fn the_bounds_are_the_compilers_formulas_in_ball_arithmetic() {
        let p = crate::dp::problem("edit", "n1=3 n2=3 sigma=4 ins=1 del=1 sub=1").unwrap();
        for memory in MemoryKind::usable_for(Use::Dp) {
            let opt = Options::new(memory, Activation::Relu);
            let c: Compiled<f64> = compile(&p, &opt, 53).unwrap();
            let (m, o) = dp_bounds(&c, 192).unwrap().unwrap();
            assert_eq!(m.is_zero(), memory == MemoryKind::Position);
            assert!(o.is_zero());
            // the compiler's f64 bound is the same formula in f64: within a few ulps
            let f = c.info.memory_error_bound;
            let gap = m.sub(&Ball::from_f64(f, 192)).abs();
            assert!(
                gap.certainly_le(&Ball::from_f64(f * 1e-14, 192)),
                "{m:?} vs {f}"
            );
        }
        let opt = Options::new(MemoryKind::Slot, Activation::Gelu);
        let c: Compiled<f64> = compile(&p, &opt, 53).unwrap();
        assert!(dp_bounds(&c, 192).unwrap().is_none());
        // smooth units: counted against the f64 bound, reported as measured, never certified
        let c: Compiled<Ball> = compile(&p, &opt, 128).unwrap();
        let input = p.random_input(&mut crate::rng::Rng::new(2));
        let s = run(&c, &p, &input).unwrap();
        for case in error_cases(&s, "gelu") {
            assert!(
                case.passed && case.verdict == crate::report::Verdict::Measured,
                "{case:?}"
            );
        }
    }

    #[test]
    fn a_bound_whose_hypothesis_fails_is_refused_and_its_cases_fail() {
        let p = crate::dp::problem("edit", "n1=3 n2=3 sigma=4 ins=1 del=1 sub=1").unwrap();
        let input = p.random_input(&mut crate::rng::Rng::new(2));
        // Leaky slots (K0 = 0: a kept slot decays by ln 2 per step) and a small attention scale
        // (λ = 0.3): the memory bound exceeds 1/8, the rounding stage's hypothesis, so no bound
        // is certified and the certified run is a failed case.
        for (memory, over) in [
            (MemoryKind::Slot, ((64.0f64 * 9.0).ln(), 0.0)),
            (MemoryKind::Attention, (0.3, 0.0)),
        ] {
            let good = Options::new(memory, Activation::Relu);
            let c: Compiled<f64> = compile(&p, &good, 53).unwrap();
            assert!(dp_bounds(&c, 192).unwrap().is_some(), "{memory:?}");
            let bad = Options {
                memory_override: Some(over),
                ..good
            };
            let c: Compiled<f64> = compile(&p, &bad, 53).unwrap();
            assert!(c.info.memory_error_bound > 0.125, "{memory:?}");
            assert!(dp_bounds(&c, 192).is_err(), "{memory:?}");
            let failed =
                super::super::or_failed_case(cases(&p, &bad, 128, &input), || "bad".into())
                    .unwrap();
            assert!(failed.iter().any(|c| !c.passed), "{memory:?}: {failed:?}");
        }
        // Fewer slots than the dependency distance: the slot bound's hypothesis; refused.
        let distance = crate::dp::stages::dependency_plan(&p).unwrap().distance;
        let few = Options {
            slots: Some(distance - 1),
            ..Options::new(MemoryKind::Slot, Activation::Relu)
        };
        assert!(compile::<Ball>(&p, &few, 128).is_err());
    }

    #[test]
    fn dp_error_cases_fail_on_a_wrong_pointer() {
        let p = crate::dp::problem("edit", "n1=3 n2=3 sigma=4 ins=1 del=1 sub=1").unwrap();
        let input = p.random_input(&mut crate::rng::Rng::new(2));
        // Position memory: an exact read (bound 0); a pointer moved one position back reads
        // another token's value, and enclosures that exclude 0 fail the check.
        let opt = Options::new(MemoryKind::Position, Activation::Relu);
        let mut c: Compiled<Ball> = compile(&p, &opt, 128).unwrap();
        let s = run(&c, &p, &input).unwrap();
        assert_eq!(s.memory_bound, 0.0);
        assert!(error_cases(&s, "position")[0].passed, "{s:?}");
        for ports in c.pointers.iter_mut() {
            for pos in ports.iter_mut() {
                *pos = pos.saturating_sub(1).max(1);
            }
        }
        let s = run(&c, &p, &input).unwrap();
        assert!(s.reads.contain_zero < s.reads.n, "{s:?}");
        assert!(!error_cases(&s, "position, wrong pointer")[0].passed);
    }
}

/// Smallest precision in `[4, max_bits]` ([`minimal_bits`]) at which decoding of `input` is
/// certified (every generated token's logit margin has a positive certified lower end); `None`
/// if not even at `max_bits`. Returns `(bits, certified margin at those bits)`.
pub fn minimal_certified_bits(
    p: &dyn DpProblem,
    opt: &Options,
    input: &[usize],
    max_bits: u32,
) -> Result<Option<(u32, f64)>> {
    let mut margins = std::collections::BTreeMap::new();
    let bits = minimal_bits(4, max_bits, |bits| {
        let s = run(&compile::<Ball>(p, opt, bits)?, p, input)?;
        margins.insert(bits, s.min_margin_lower);
        Ok(s.certified == s.positions)
    })?;
    Ok(bits.map(|b| (b, margins[&b])))
}

/// The case "minimal certified precision is constant in T": the slope of `(T, bits)` against
/// `log2 T` ([`bits_per_doubling`]) is ≤ [`SLOPE_TOL`] (a memory indexed by position needs about
/// one bit per doubling). Fails if any size is not certified at all.
pub fn constant_bits_case(label: &str, pts: &[(usize, Option<u32>)]) -> Case {
    let known: Vec<(usize, u32)> = pts.iter().filter_map(|&(t, b)| b.map(|b| (t, b))).collect();
    let row: Vec<String> = pts
        .iter()
        .map(|(t, b)| match b {
            Some(b) => format!("T={t}: {b}"),
            None => format!("T={t}: none"),
        })
        .collect();
    let n = crate::report::distinct(known.iter().map(|p| p.0 as f64));
    let min_n = crate::report::MIN_DISTINCT;
    let slope = if known.len() == pts.len() && n >= min_n {
        bits_per_doubling(&known)
    } else {
        f64::NAN
    };
    Case::certificate(
        format!("minimal certified precision constant in T (slope ≤ {SLOPE_TOL} bits per doubling), {label}"),
        slope <= SLOPE_TOL,
        false,
        format!(
            "minimal bits at which decoding is certified: {}; slope {} bits per doubling of T ({n} distinct certified T, at least {min_n} needed)",
            row.join(", "),
            crate::report::fmt_fit(slope)
        ),
    )
    .param("slope_bits_per_doubling", slope.is_finite().then_some(slope))
}

/// Certified dp-local cases for `verify dp-local` (one call appended to the claim): certified
/// exact decoding at `bits` (the claim's precision) for rule 110 on 8 cells and Fibonacci mod 10
/// at T in the thousands (slot memory), and the minimal certified precision vs T (rule 110).
pub fn dp_local_cases(mode: crate::report::Mode, seed: u64, bits: u32) -> Result<Vec<Case>> {
    use crate::memory::MemoryKind;
    use crate::report::Mode;
    let opt = Options::new(MemoryKind::Slot, Activation::Relu);
    let (rows, terms, prec_rows): (usize, usize, &[usize]) = match mode {
        Mode::Full => (500, 4000, &[4, 32, 250, 500]),
        _ => (250, 2000, &[4, 32, 250]),
    };
    let mut rng = crate::rng::Rng::new(seed).stream("certify/dp-local");
    let mut out = Vec::new();
    let problems: Vec<Box<dyn DpProblem>> = vec![
        Box::new(crate::dp::problem(
            "eca",
            &format!("rule=110 width=8 rows={rows}"),
        )?),
        Box::new(crate::dp::problem(
            "linrec",
            &format!("coeffs=1,1 q=10 steps={terms}"),
        )?),
    ];
    for p in &problems {
        let input = p.random_input(&mut rng);
        let (s, tier, t) = run_tiered(p.as_ref(), &opt, bits, &input)?;
        out.push(
            decoding_case(&s, &run_label(p.as_ref(), &opt, tier, t))
                .param("T", t)
                .param("min_margin_lower", s.min_margin_lower),
        );
    }
    let (mut pts, mut margins) = (Vec::new(), Vec::new());
    for &r in prec_rows {
        let p = crate::dp::problem("eca", &format!("rule=110 width=8 rows={r}"))?;
        // The precision the model needs at T is the largest over its inputs: take the random
        // row and its complement, so a constant row (all zeros never exercises the memory and
        // needs 5 bits where every other row of 8 cells needs 16) never stands for T alone.
        let input = p.random_input(&mut rng);
        let complement: Vec<usize> = input.iter().map(|&c| 1 - c.min(1)).collect();
        let mut worst: Option<(u32, f64)> = Some((0, f64::INFINITY));
        for x in [&input, &complement] {
            worst = match (worst, minimal_certified_bits(&p, &opt, x, 64)?) {
                (Some(w), Some(m)) => Some(if m.0 >= w.0 { m } else { w }),
                _ => None,
            };
        }
        pts.push((crate::dp::total_len(&p), worst.map(|m| m.0)));
        margins.push(worst.map(|m| m.1));
    }
    // the certified margin at the minimal precision, per T (informative)
    out.push(
        constant_bits_case("rule 110 w=8, slot memory", &pts).param("margins_at_min_bits", margins),
    );
    Ok(out)
}

#[cfg(test)]
mod local_tests {
    use super::*;
    use crate::memory::MemoryKind;

    #[test]
    fn slot_memory_bits_are_constant_and_the_case_fails_on_growth() {
        let slot = Options::new(MemoryKind::Slot, Activation::Relu);
        let mut rng = crate::rng::Rng::new(4);
        let mut a = Vec::new();
        // T = 43, 267, 2011 (the claim's sizes): over three doublings a one-bit jitter between
        // inputs (Arb rounds midpoints toward zero) stays below the slope tolerance
        for rows in [4, 32, 250] {
            let p = crate::dp::problem("eca", &format!("rule=110 width=8 rows={rows}")).unwrap();
            let x = p.random_input(&mut rng);
            let t = crate::dp::total_len(&p);
            a.push((
                t,
                minimal_certified_bits(&p, &slot, &x, 64)
                    .unwrap()
                    .map(|m| m.0),
            ));
        }
        let c = constant_bits_case("slot", &a);
        assert!(c.passed, "{c:?}");
        // one bit per doubling of T (a memory indexed by position), or a size never certified
        let grown: Vec<(usize, Option<u32>)> = a
            .iter()
            .map(|&(t, b)| (t, b.map(|b| b + (t as f64).log2().round() as u32)))
            .collect();
        assert!(!constant_bits_case("grows", &grown).passed);
        let mut missing = a.clone();
        missing[2].1 = None;
        assert!(!constant_bits_case("missing", &missing).passed);
        // below the minimal precision decoding is not certified (the bisection's lower side)
        let p = crate::dp::problem("eca", "rule=110 width=8 rows=8").unwrap();
        let x = p.random_input(&mut rng);
        let (bits, margin) = minimal_certified_bits(&p, &slot, &x, 64).unwrap().unwrap();
        assert!(margin > 0.0);
        let c: Compiled<Ball> = compile(&p, &slot, bits - 1).unwrap();
        let s = run(&c, &p, &x).unwrap();
        assert!(s.certified < s.positions, "{s:?}");
    }
}
