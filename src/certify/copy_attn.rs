//! Certified copy-attn runs (proofs/copy-attn.md): the width-3 head and the flat head run in ball
//! arithmetic at the claim's precision, at T in the thousands, with the gaps computed in ball
//! arithmetic and rounded in the safe direction.
//!
//! - **Sufficient.** The quadratic head at `λ = log(2σT/ε)` rounded *up* (T = the query position,
//!   so `i − 1 < T`): the error enclosure's upper end must be ≤ ε.
//! - **Necessary.** The flat instance (`u_p = σ`, others `−σ`, all other scores 0) at
//!   `0.99 × log((i−1)(2σ/ε−1))` rounded *down*: the error's lower end must exceed ε.
//! - **Tight.** The flat instance at `1.01 ×` the necessary gap rounded up: upper end ≤ ε.

use crate::copy::attention::{validate, AttnKind, AttnPrepared};
use crate::error::Result;
use crate::num::{Ball, Real, Scalar};
use crate::report::{Case, Relation, Verdict};
use crate::rng::Rng;

/// σ of the certified instances (as the claim).
pub const SIGMA: f64 = 1.0;

/// `log(2σT/ε)` (sufficient, `t = T`) or `log((t−1)(2σ/ε − 1))` (necessary, `t = i`) as balls.
pub fn gap_ball(sufficient: bool, t: usize, eps: f64, prec: u32) -> Ball {
    let b = |x: f64| Ball::from_f64(x, prec);
    let two_s_e = b(2.0 * SIGMA).div(&b(eps));
    if sufficient {
        two_s_e.mul(&Ball::from_i64(t as i64, prec)).ln()
    } else {
        two_s_e
            .sub(&b(1.0))
            .mul(&Ball::from_i64(t as i64 - 1, prec))
            .ln()
    }
}

/// `|o − u_p|` enclosed, for the head `kind` on `values` at the point `gap`.
pub fn error_at(
    kind: AttnKind,
    values: &[f64],
    target: usize,
    gap: &Real,
    prec: u32,
) -> Result<Ball> {
    let p: AttnPrepared<Ball> = AttnPrepared::new(kind, values, target, prec)?;
    p.error(gap)
}

/// What one certified case asserts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttnCheck {
    /// quadratic head, error ≤ ε at `factor × log(2σT/ε)` (rounded up); the claim uses 1.
    Sufficient { factor: f64 },
    /// flat head, error > ε at `factor ×` the necessary gap (rounded down); 0.99.
    Necessary { factor: f64 },
    /// flat head, error ≤ ε at `factor ×` the necessary gap (rounded up); 1.01.
    Tight { factor: f64 },
}

/// The certified case of one check on `values` (length T; the last is the query token's).
pub fn case(
    check: AttnCheck,
    values: &[f64],
    target: usize,
    eps: f64,
    prec: u32,
    label: &str,
) -> Result<Case> {
    validate(SIGMA, eps)?;
    let t = values.len();
    let (kind, sufficient, factor, up) = match check {
        AttnCheck::Sufficient { factor } => (AttnKind::Quadratic, true, factor, true),
        AttnCheck::Necessary { factor } => (AttnKind::Flat, false, factor, false),
        AttnCheck::Tight { factor } => (AttnKind::Flat, false, factor, true),
    };
    let g = gap_ball(sufficient, t, eps, prec).mul(&Ball::from_f64(factor, prec));
    let gap = Real(if up { g.upper() } else { g.lower() });
    let err = error_at(kind, values, target, &gap, prec)?;
    let e = Ball::from_f64(eps, prec);
    let what = match check {
        AttnCheck::Sufficient { .. } => {
            format!("certified: quadratic head error ≤ ε at {factor} × log(2σT/ε) (rounded up)")
        }
        AttnCheck::Necessary { .. } => {
            format!("certified: flat instance error > ε at {factor} × necessary gap (rounded down)")
        }
        AttnCheck::Tight { .. } => format!(
            "certified tight: flat instance error ≤ ε at {factor} × necessary gap (rounded up)"
        ),
    };
    let mut c = Case::certified(
        format!("{what}, {label}"),
        &err,
        &e,
        if matches!(check, AttnCheck::Necessary { .. }) {
            Relation::AtLeast
        } else {
            Relation::AtMost
        },
    );
    if let AttnCheck::Necessary { .. } = check {
        // strictly above ε
        let (above, below) = (e.certainly_lt(&err), err.certainly_le(&e));
        c.passed = above;
        c.verdict = if above || below {
            Verdict::Certified
        } else {
            Verdict::Undecided
        };
    }
    if !(gap.0.is_finite() && err.is_finite() && !err.is_nan()) {
        c = c.with_verdict(Verdict::Undecided);
    }
    let prefix = super::copy_const::undecided_prefix(&c);
    Ok(c.with_note(format!(
        "{}gap {:.6}; error ∈ [{:.4e}, {:.4e}], ε = {eps:e}",
        prefix,
        gap.0.to_f64(),
        err.lower().to_f64(),
        err.upper().to_f64()
    ))
    .param("T", t)
    .param("precision_bits", prec))
}

/// Values `u_p = σ`, others `−σ` (adversarial) or uniform in `[−σ, σ]`.
fn values(rng: &mut Rng, t: usize, target: usize, adversarial: bool) -> Vec<f64> {
    (1..=t)
        .map(|j| match (adversarial, j == target) {
            (true, true) => SIGMA,
            (true, false) => -SIGMA,
            _ => rng.uniform(-SIGMA, SIGMA),
        })
        .collect()
}

/// Certified copy-attn cases for `verify copy-attn` at `prec` bits: T ∈ {1000, 4000} (and 16000
/// with `--full`), ε ∈ {1e-2, 1e-8} for the quadratic head (random and adversarial values), and
/// the flat instance at 0.99× and 1.01× the necessary gap at ε = 1e-3.
pub fn copy_attn_cases(mode: crate::report::Mode, seed: u64, prec: u32) -> Result<Vec<Case>> {
    let ts: &[usize] = match mode {
        crate::report::Mode::Full => &[1000, 4000, 16000],
        _ => &[1000, 4000],
    };
    let rng = Rng::new(seed).stream("certify/copy-attn");
    let mut out = Vec::new();
    for &t in ts {
        let mut r = rng.stream(&format!("T={t}"));
        let target = 1 + r.below(t - 1);
        let label = |v: &str| format!("T={t} p={target} {v}at {prec} bits (ball)");
        for eps in [1e-2, 1e-8] {
            for adversarial in [false, true] {
                let v = values(&mut r, t, target, adversarial);
                let l = label(&format!(
                    "ε={eps:.0e}{} ",
                    if adversarial { " adversarial" } else { "" }
                ));
                out.push(case(
                    AttnCheck::Sufficient { factor: 1.0 },
                    &v,
                    target,
                    eps,
                    prec,
                    &l,
                )?);
            }
        }
        let v = values(&mut r, t, target, true);
        for check in [
            AttnCheck::Necessary { factor: 0.99 },
            AttnCheck::Tight { factor: 1.01 },
        ] {
            out.push(case(check, &v, target, 1e-3, prec, &label("ε=1e-3 "))?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(t: usize) -> Vec<f64> {
        values(&mut Rng::new(0), t, t / 2, true)
    }

    #[test]
    fn gaps_are_certified_at_t_2000() {
        let v = flat(2000);
        for check in [
            AttnCheck::Sufficient { factor: 1.0 },
            AttnCheck::Necessary { factor: 0.99 },
            AttnCheck::Tight { factor: 1.01 },
        ] {
            let c = case(check, &v, 1000, 1e-3, 128, "t").unwrap();
            assert!(
                c.passed && c.verdict == Verdict::Certified,
                "{check:?}: {c:?}"
            );
        }
    }

    #[test]
    fn violated_hypotheses_fail_certainly() {
        let v = flat(2000);
        // above the necessary gap the necessary check fails; below it the tight one does
        for check in [
            AttnCheck::Necessary { factor: 1.01 },
            AttnCheck::Tight { factor: 0.99 },
        ] {
            let c = case(check, &v, 1000, 1e-3, 128, "t").unwrap();
            assert!(
                !c.passed && c.verdict == Verdict::Certified,
                "{check:?}: {c:?}"
            );
        }
        // at 2 bits nothing is decided: undecided, never a pass
        let c = case(
            AttnCheck::Necessary { factor: 0.99 },
            &v,
            1000,
            1e-3,
            2,
            "t",
        )
        .unwrap();
        assert!(!c.passed && c.verdict == Verdict::Undecided, "{c:?}");
        // values 10^4 σ violate |u| ≤ σ: the sufficient gap no longer suffices
        let big: Vec<f64> = v.iter().map(|x| x * 1e4).collect();
        let c = case(
            AttnCheck::Sufficient { factor: 1.0 },
            &big,
            1000,
            1e-3,
            128,
            "t",
        )
        .unwrap();
        assert!(!c.passed && c.verdict == Verdict::Certified, "{c:?}");
        // a quarter of the sufficient gap is below what the quadratic head needs
        let c = case(
            AttnCheck::Sufficient { factor: 0.25 },
            &v,
            1000,
            1e-3,
            128,
            "t",
        )
        .unwrap();
        assert!(!c.passed && c.verdict == Verdict::Certified, "{c:?}");
    }
}
