//! Certified COPY runs: the copy-linear model run in ball arithmetic, so that exact decoding is
//! *certified* (each query's correct logit is certainly above every other) and the read error is
//! certified against the exact-arithmetic read bound, with no rounding allowance.

use crate::copy::linear::{build_copy_model, CopyTask, MemoryKind};
use crate::error::Result;
use crate::num::{Ball, Scalar};
use crate::report::Case;
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
    /// Largest upper end of `|read − u_p|`.
    pub max_read_error_upper: Float,
    /// Queries whose read error is certainly within the model's exact-arithmetic read bound.
    pub read_within_bound: usize,
    /// Queries whose read error is certainly above it.
    pub read_exceeds: usize,
    /// Queries whose read-error enclosure contains 0 (consistent with an exact read).
    pub read_contains_zero: usize,
    pub read_bound: f64,
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
    let mut r = cm.model.runner();
    for &tok in prompt {
        r.feed(tok);
    }
    let wp = prec + 64;
    let mut out = CertifiedCopy {
        outputs: task.targets.len(),
        certified: 0,
        certainly_wrong: 0,
        min_margin_lower: Float::with_val(wp, rug::float::Special::Infinity),
        max_read_error_upper: Float::with_val(wp, 0),
        read_within_bound: 0,
        read_exceeds: 0,
        read_contains_zero: 0,
        read_bound: cm.read_bound,
    };
    let bound = Ball::from_f64(cm.read_bound, prec.max(53));
    for (q, &p) in task.targets.iter().enumerate() {
        let want = prompt[p - 1];
        let e = r.residual[cm.read]
            .sub(&Ball::from_i64(want as i64, prec))
            .abs();
        let up = e.upper();
        if up > out.max_read_error_upper {
            out.max_read_error_upper = up;
        }
        if e.lower() <= 0 {
            out.read_contains_zero += 1;
        }
        if e.certainly_le(&bound) {
            out.read_within_bound += 1;
        } else if bound.certainly_lt(&e) {
            out.read_exceeds += 1;
        }
        let mut min_lower: Option<Float> = None;
        let mut wrong = false;
        for (j, l) in r.logits.iter().enumerate() {
            if j == want {
                continue;
            }
            let m = r.logits[want].sub(l);
            wrong |= m.certainly_negative();
            let lo = m.lower();
            if min_lower.as_ref().is_none_or(|x| lo < *x) {
                min_lower = Some(lo);
            }
        }
        let min_lower = min_lower.unwrap_or_else(|| Float::with_val(wp, 1));
        if min_lower > 0 {
            out.certified += 1;
        }
        if wrong {
            out.certainly_wrong += 1;
        }
        if min_lower < out.min_margin_lower {
            out.min_margin_lower = min_lower;
        }
        if q + 1 < task.targets.len() {
            r.feed(want);
        }
    }
    Ok(out)
}

/// Smallest precision (from 8 bits, doubling then bisecting, up to `max_bits`) at which decoding
/// is certified; `None` if not even at `max_bits`.
pub fn minimal_certified_bits(
    kind: MemoryKind,
    task: &CopyTask,
    prompt: &[usize],
    max_bits: u32,
) -> Result<Option<u32>> {
    let ok = |p: u32| -> Result<bool> { Ok(run(kind, task, prompt, p)?.decoding_certified()) };
    let mut hi = 8;
    while !ok(hi)? {
        if hi >= max_bits {
            return Ok(None);
        }
        hi = (hi * 2).min(max_bits);
    }
    let mut lo = hi / 2;
    if lo < 2 || hi == 8 {
        lo = 1;
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if ok(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(Some(hi))
}

/// Cases of one certified run: certified exact decoding, and certified read error ≤ the
/// exact-arithmetic read bound (no rounding allowance).
pub fn cases(kind: MemoryKind, task: &CopyTask, prompt: &[usize], prec: u32) -> Result<Vec<Case>> {
    let c = run(kind, task, prompt, prec)?;
    let label = format!(
        "{} T={} at {prec} bits (ball arithmetic)",
        kind.name(),
        task.length
    );
    let dec_undecided = !c.decoding_certified() && c.certainly_wrong == 0;
    let read_ok = c.read_within_bound == c.outputs;
    let read_undecided = !read_ok && c.read_exceeds == 0;
    Ok(vec![
        Case::certificate(
            format!("certified exact greedy copy, {label}"),
            c.decoding_certified(),
            dec_undecided,
            format!(
                "{} of {} queries certified (correct logit certainly largest), {} certainly wrong; min certified margin {:.3e}",
                c.certified,
                c.outputs,
                c.certainly_wrong,
                c.min_margin_lower.to_f64()
            ),
        )
        .param("certified", c.certified)
        .param("outputs", c.outputs),
        if c.read_bound > 0.0 {
            Case::certificate(
                format!("certified read error ≤ exact-arithmetic read bound, {label}"),
                read_ok,
                read_undecided,
                format!(
                    "{} of {} queries certainly within {:.3e}; largest upper end {:.3e} (no rounding allowance)",
                    c.read_within_bound,
                    c.outputs,
                    c.read_bound,
                    c.max_read_error_upper.to_f64()
                ),
            )
        } else {
            // An exact read (bound 0) cannot be certified by an enclosure of positive width; the
            // check is that every enclosure contains 0, and the note gives the certified size.
            Case::boolean(
                format!("read error enclosure contains 0 (exact read in exact arithmetic), {label}"),
                c.read_contains_zero == c.outputs,
                format!(
                    "{} of {} enclosures contain 0; certified |read − u_p| ≤ {:.3e} (the former rounding allowance was the whole bound)",
                    c.read_contains_zero,
                    c.outputs,
                    c.max_read_error_upper.to_f64()
                ),
            )
        },
    ])
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
    let kinds = [
        MemoryKind::PositionKey,
        MemoryKind::PositionKeyEta,
        MemoryKind::Slot,
    ];
    let random_prompt = |rng: &mut crate::rng::Rng, len: usize| -> Vec<usize> {
        (0..len).map(|_| rng.below(VOCAB)).collect()
    };
    let ts: &[usize] = match mode {
        Mode::Full => &[16, 256, 1024],
        _ => &[16, 256],
    };
    let rng = crate::rng::Rng::new(seed);
    let mut out = Vec::new();
    for (k, kind) in kinds.into_iter().enumerate() {
        for &t in ts {
            let task = CopyTask::copy_all(t, VOCAB);
            let prompt = random_prompt(&mut rng.fork(5000 + 10 * k as u64 + t as u64), t);
            let prec = bits.unwrap_or(128);
            out.extend(super::or_failed_case(
                cases(kind, &task, &prompt, prec),
                || format!("{} T={t}: certified run at {prec} bits", kind.name()),
            )?);
        }
        let task = CopyTask::copy_all(64, VOCAB);
        let prompt = random_prompt(&mut rng.fork(6000 + k as u64), 64);
        let min = minimal_certified_bits(kind, &task, &prompt, 1024)?;
        out.push(
            Case::certificate(
                format!(
                    "{} T=64: decoding is certified at some precision ≤ 1024 bits (minimal certified precision)",
                    kind.name()
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

    #[test]
    fn the_certified_copy_cases_run_at_the_requested_precision() {
        let low = copy_linear_cases_at(crate::report::Mode::Quick, 1, Some(4)).unwrap();
        assert!(low.iter().any(|c| !c.passed));
    }

    #[test]
    fn copy_decoding_is_certified_at_128_bits_and_not_at_4() {
        let task = CopyTask::copy_all(32, 16);
        let prompt: Vec<usize> = (0..32).map(|i| (i * 7) % 16).collect();
        for kind in [MemoryKind::PositionKey, MemoryKind::Slot] {
            let c = run(kind, &task, &prompt, 128).unwrap();
            assert!(c.decoding_certified(), "{kind:?}: {c:?}");
            if c.read_bound == 0.0 {
                assert_eq!(c.read_contains_zero, c.outputs, "{kind:?}: {c:?}");
                assert!(c.max_read_error_upper < 1e-30, "{kind:?}: {c:?}");
            } else {
                assert_eq!(c.read_within_bound, c.outputs, "{kind:?}: {c:?}");
            }
            // At 4 bits the enclosures are far too wide: nothing is certified, nothing passes.
            let c = run(kind, &task, &prompt, 4).unwrap();
            assert!(!c.decoding_certified(), "{kind:?} at 4 bits: {c:?}");
        }
    }
}
