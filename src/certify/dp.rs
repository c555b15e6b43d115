//! Certified DP runs: a compiled DP model run in ball arithmetic, feeding the reference chain of
//! thought. Decoding is certified when at every generated position the correct token's logit is
//! certainly above every other (then greedy decoding reproduces the reference exactly); the
//! memory and `out` errors are certified against the compiler's exact-arithmetic bounds, with
//! no rounding slack.

use crate::dp::{compile, Compiled, DpProblem, Options};
use crate::error::Result;
use crate::num::{Ball, Scalar};
use crate::report::Case;
use rug::Float;

#[derive(Clone, Debug)]
pub struct CertifiedDp {
    pub positions: usize,
    pub certified: usize,
    pub certainly_wrong: usize,
    pub min_margin_lower: f64,
    /// Reads (port × position) certainly within the memory bound / total reads.
    pub reads_within: usize,
    pub reads: usize,
    pub outs_within: usize,
    pub outs: usize,
    pub reads_contain_zero: usize,
    pub outs_contain_zero: usize,
    pub max_memory_error_upper: f64,
    pub max_out_error_upper: f64,
    pub memory_bound: f64,
    pub out_bound: f64,
}

fn worst_upper(e: &Ball) -> f64 {
    e.abs().upper().to_f64()
}

/// Teacher-forced certified run of `c` on `input`.
pub fn run(c: &Compiled<Ball>, p: &dyn DpProblem, input: &[usize]) -> Result<CertifiedDp> {
    p.check_input(input)?;
    let seq = p.solve(input);
    let value = |tok: usize| if tok == p.sep() { 0 } else { tok as i64 };
    let prec = c.model.prec;
    let mem_bound = Ball::from_f64(c.info.memory_error_bound, prec.max(53));
    let out_bound = Ball::from_f64(c.info.out_error_bound, prec.max(53));
    let mut r = c.model.runner();
    let mut s = CertifiedDp {
        positions: 0,
        certified: 0,
        certainly_wrong: 0,
        min_margin_lower: f64::INFINITY,
        reads_within: 0,
        reads: 0,
        outs_within: 0,
        outs: 0,
        reads_contain_zero: 0,
        outs_contain_zero: 0,
        max_memory_error_upper: 0.0,
        max_out_error_upper: 0.0,
        memory_bound: c.info.memory_error_bound,
        out_bound: c.info.out_error_bound,
    };
    for (i, &tok) in seq.iter().enumerate().take(seq.len() - 1) {
        r.feed(tok);
        for (port, &pos) in c.pointers[i].iter().enumerate() {
            let d = r.residual[c.read_raw_start + port]
                .sub(&Ball::from_i64(value(seq[pos - 1]), prec))
                .abs();
            s.reads += 1;
            s.reads_within += d.certainly_le(&mem_bound) as usize;
            s.reads_contain_zero += (d.lower() <= 0) as usize;
            s.max_memory_error_upper = s.max_memory_error_upper.max(worst_upper(&d));
        }
        if i >= p.input_len() {
            let d = r.residual[c.out_coord]
                .sub(&Ball::from_i64(value(seq[i + 1]), prec))
                .abs();
            s.outs += 1;
            s.outs_within += d.certainly_le(&out_bound) as usize;
            s.outs_contain_zero += (d.lower() <= 0) as usize;
            s.max_out_error_upper = s.max_out_error_upper.max(worst_upper(&d));
            // the next token is generated from these logits
            let want = seq[i + 1];
            let mut min_lower: Option<Float> = None;
            let mut wrong = false;
            for (j, l) in r.logits.iter().enumerate() {
                if j != want {
                    let m = r.logits[want].sub(l);
                    wrong |= m.certainly_negative();
                    let lo = m.lower();
                    if min_lower.as_ref().is_none_or(|x| lo < *x) {
                        min_lower = Some(lo);
                    }
                }
            }
            s.positions += 1;
            let lo = min_lower.map(|x| x.to_f64()).unwrap_or(1.0);
            s.certified += (lo > 0.0) as usize;
            s.certainly_wrong += wrong as usize;
            s.min_margin_lower = s.min_margin_lower.min(lo);
        }
    }
    Ok(s)
}

/// Cases of a certified run at `bits` on `input`: certified exact decoding, memory and `out`
/// errors certified within the compiler's exact-arithmetic bounds (no rounding slack).
pub fn cases(p: &dyn DpProblem, opt: &Options, bits: u32, input: &[usize]) -> Result<Vec<Case>> {
    let c: Compiled<Ball> = compile(p, opt, bits)?;
    let s = run(&c, p, input)?;
    let label = format!(
        "{} / {} memory at {bits} bits (ball arithmetic, T = {})",
        p.describe(),
        opt.memory.name(),
        c.info.total_len
    );
    let undecided = |ok: bool, certainly_bad: bool| !ok && !certainly_bad;
    let dec_ok = s.certified == s.positions;
    Ok(vec![
        Case::certificate(
            format!("certified exact CoT decoding, {label}"),
            dec_ok,
            undecided(dec_ok, s.certainly_wrong > 0),
            format!(
                "{} of {} generated positions certified; min certified logit margin {:.3e}",
                s.certified, s.positions, s.min_margin_lower
            ),
        ),
        error_case(
            "memory read",
            &label,
            s.reads,
            s.reads_within,
            s.reads_contain_zero,
            s.memory_bound,
            s.max_memory_error_upper,
        ),
        error_case(
            "out",
            &label,
            s.outs,
            s.outs_within,
            s.outs_contain_zero,
            s.out_bound,
            s.max_out_error_upper,
        ),
    ])
}

/// An error check against the compiler's exact-arithmetic bound: certified when the bound is
/// positive; when it is 0 (an exact read in exact arithmetic, where the former rounding slack was
/// the whole bound) no enclosure of positive width can certify it, so the check is that every
/// enclosure contains 0, and the note gives the certified size.
fn error_case(
    what: &str,
    label: &str,
    n: usize,
    within: usize,
    contain_zero: usize,
    bound: f64,
    max_upper: f64,
) -> Case {
    if bound > 0.0 {
        Case::certificate(
            format!("certified {what} error ≤ exact-arithmetic bound, {label}"),
            within == n,
            within < n,
            format!("{within} / {n} within {bound:.3e} (largest upper end {max_upper:.3e}); no rounding slack"),
        )
    } else {
        Case::boolean(
            format!("{what} error enclosures contain 0 (exact in exact arithmetic), {label}"),
            contain_zero == n,
            format!("{contain_zero} / {n} contain 0; certified |error| ≤ {max_upper:.3e}"),
        )
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
    use crate::dp::{EditDistance, Lis, MemoryKind};
    use crate::model::Activation;
    use crate::report::Mode;
    let mut problems: Vec<Box<dyn DpProblem>> = vec![
        Box::new(EditDistance::new(3, 3, 4, 1, 1, 1)?),
        Box::new(Lis::new(4, 8)?),
    ];
    if mode != Mode::Quick {
        problems.push(Box::new(EditDistance::new(8, 8, 4, 1, 1, 1)?));
    }
    let mut rng = crate::rng::Rng::new(seed).fork(7000);
    let mut out = Vec::new();
    for p in &problems {
        let input = p.random_input(&mut rng);
        for memory in [
            MemoryKind::Slot,
            MemoryKind::Position,
            MemoryKind::Attention,
        ] {
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
    use crate::dp::{EditDistance, MemoryKind};
    use crate::model::Activation;

    #[test]
    fn the_certified_dp_cases_run_at_the_requested_precision() {
        use crate::report::Mode;
        let low = dp_general_cases_at(Mode::Quick, 1, Some(3)).unwrap();
        assert!(!low.is_empty() && low.iter().any(|c| !c.passed));
        assert!(low.iter().all(|c| !c.label.contains("128")));
    }

    #[test]
    fn dp_decoding_is_certified_at_128_bits_and_not_at_3() {
        let p = EditDistance::new(3, 3, 4, 1, 1, 1).unwrap();
        let input = p.random_input(&mut crate::rng::Rng::new(2));
        for memory in [
            MemoryKind::Slot,
            MemoryKind::Position,
            MemoryKind::Attention,
        ] {
            let opt = Options::new(memory, Activation::Relu);
            let c: Compiled<Ball> = compile(&p, &opt, 128).unwrap();
            let s = run(&c, &p, &input).unwrap();
            assert_eq!(s.certified, s.positions, "{memory:?}: {s:?}");
            let c: Compiled<Ball> = compile(&p, &opt, 3).unwrap();
            let s = run(&c, &p, &input).unwrap();
            assert!(s.certified < s.positions, "{memory:?} at 3 bits: {s:?}");
        }
    }
}
