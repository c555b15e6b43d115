//! `mlp-mul` (proofs/mlp-mul.md, v1 Lemma 1): four GeLU units multiply on `[−M,M]²`, with the rigorous
//! bound of `gadgets::mul`; the cancellation costs `log2(λ/M)` bits, so f64 breaks where MPFR holds.

use super::gadget_common::{abs_diff, linspace, rl, BallWorst, Worst};
use super::{Claim, ClaimInfo, Mode, RunConfig};
use crate::certify::worst::escalate;
use crate::error::Result;
use crate::gadgets::{eval_mlp, mul, residual};
use crate::measure::fit;
use crate::num::{Arith, Ball, Real, Scalar};
use crate::plot::{Chart, Figure, Series, Style};
use crate::report::{Case, ClaimReport, ConstructionSize, Relation};
use crate::rng::Rng;

pub struct MlpMul;

/// Network outputs `ĝ(a, b)` at `prec` bits (as exact MPFR values).
pub fn outputs<S: Scalar>(lambda: f64, pts: &[(f64, f64)], prec: u32) -> Result<Vec<Real>> {
    let lam = S::from_f64(lambda, prec);
    let layer = mul::standalone(&lam, prec)?;
    Ok(pts
        .iter()
        .map(|&(a, b)| {
            let x = residual(
                3,
                prec,
                &[(0, S::from_f64(a, prec)), (1, S::from_f64(b, prec))],
            );
            eval_mlp(&layer, &x, prec)[2].to_real()
        })
        .collect())
}

pub fn outputs_at(arith: Arith, lambda: f64, pts: &[(f64, f64)]) -> Result<Vec<Real>> {
    match arith {
        Arith::F64 => outputs::<f64>(lambda, pts, 53),
        Arith::Mpfr(p) => outputs::<Real>(lambda, pts, p.bits()),
    }
}

/// A grid on `[−M,M]²` (corners included) plus random points.
pub fn points(m: f64, grid: usize, random: usize, rng: &mut Rng) -> Vec<(f64, f64)> {
    let g = linspace(-m, m, grid);
    let mut pts: Vec<(f64, f64)> = g
        .iter()
        .flat_map(|&a| g.iter().map(move |&b| (a, b)))
        .collect();
    pts.extend((0..random).map(|_| (rng.uniform(-m, m), rng.uniform(-m, m))));
    pts
}

/// Certified worst case over the points at one `(M, λ)`: the exact network's error `ĝ(a,b) − ab`
/// enclosed in ball arithmetic at `arith`'s precision, against the pointwise bound (no rounding
/// allowance: a precision too low to decide makes the case undecided), and the error enclosure
/// with the largest upper end, against the uniform bound.
pub struct MulCheck {
    pub pointwise: BallWorst,
    pub max_err: Ball,
    pub uniform: Ball,
}

/// The exact network's errors `ĝ(a, b) − ab`, enclosed at `prec` bits.
pub fn error_balls(lambda: f64, pts: &[(f64, f64)], prec: u32) -> Result<Vec<Ball>> {
    let lam = Ball::from_f64(lambda, prec);
    let layer = mul::standalone(&lam, prec)?;
    Ok(pts
        .iter()
        .map(|&(a, b)| {
            let (ab, bb) = (Ball::from_f64(a, prec), Ball::from_f64(b, prec));
            let x = residual(3, prec, &[(0, ab.clone()), (1, bb.clone())]);
            eval_mlp(&layer, &x, prec)[2].sub(&ab.mul(&bb)).abs()
        })
        .collect())
}

pub fn check(m: f64, lambda: f64, pts: &[(f64, f64)], arith: Arith) -> Result<MulCheck> {
    let bp = 256;
    let errs = error_balls(lambda, pts, arith.bits())?;
    let lam = Ball::from_f64(lambda, bp);
    let mut w = BallWorst::new();
    let mut max_err = Ball::zero(arith.bits());
    for (&(a, b), err) in pts.iter().zip(&errs) {
        let bound = mul::pointwise_bound(&Ball::from_f64(a, bp), &Ball::from_f64(b, bp), &lam)?;
        w.add(err, &bound, || format!("(a, b) = ({a:.4}, {b:.4})"));
        if err.is_nan() || err.upper() > max_err.upper() {
            max_err = err.clone();
        }
    }
    let uniform = mul::uniform_bound(&Ball::from_f64(m, bp), &lam)?;
    Ok(MulCheck {
        pointwise: w,
        max_err,
        uniform,
    })
}

/// Max over the points of the error of the network as computed in `arith` (a measurement, for
/// the figures).
pub fn measured_max_err(lambda: f64, pts: &[(f64, f64)], arith: Arith) -> Result<Real> {
    let outs = outputs_at(arith, lambda, pts)?;
    let mut max_err = Real::zero(256);
    for (&(a, b), out) in pts.iter().zip(&outs) {
        let exact = Real(rug::Float::with_val(256, &rl(a, 256).0 * &rl(b, 256).0));
        let err = abs_diff(out, &exact);
        if err > max_err {
            max_err = err;
        }
    }
    Ok(max_err)
}

/// Bits lost to cancellation at `λ`: `p − correct bits`, with correct bits measured against a
/// 1024-bit evaluation of the same network.
pub fn bits_lost(arith: Arith, lambda: f64, pts: &[(f64, f64)]) -> Result<f64> {
    let got = outputs_at(arith, lambda, pts)?;
    let reference = outputs_at(Arith::mpfr(1024), lambda, pts)?;
    let mut worst = f64::NEG_INFINITY;
    let mut scale = f64::NEG_INFINITY;
    for (g, r) in got.iter().zip(&reference) {
        worst = worst.max(abs_diff(g, r).log10_abs());
        scale = scale.max(r.log10_abs());
    }
    let correct = (scale - worst) / std::f64::consts::LOG10_2;
    Ok((arith.bits() as f64 - correct).clamp(0.0, arith.bits() as f64))
}

/// Smallest MPFR precision (bits, in `[8, 2048]` by [`crate::measure::minimal_bits`]) at which the network's max error
/// over `pts` stays within twice the mathematical bound `2M⁴/(3λ²)` (rounding ≤ the math error).
pub fn min_precision(m: f64, lambda: f64, pts: &[(f64, f64)]) -> Result<u32> {
    let bound = mul::uniform_bound(&rl(m, 256), &rl(lambda, 256))?.mul(&rl(2.0, 256));
    let ok = |p: u32| -> Result<bool> {
        let outs = outputs_at(Arith::mpfr(p), lambda, pts)?;
        Ok(pts.iter().zip(&outs).all(|(&(a, b), o)| {
            let exact = Real(rug::Float::with_val(256, &rl(a, 256).0 * &rl(b, 256).0));
            abs_diff(o, &exact) <= bound
        }))
    };
    Ok(crate::measure::minimal_bits(8, 2048, ok)?.unwrap_or(u32::MAX))
}

fn lambda_exponents(mode: Mode) -> Vec<i32> {
    match mode {
        Mode::Quick => (0..=12).step_by(3).collect(),
        Mode::Default => (0..=20).step_by(2).collect(),
        Mode::Full => (0..=30).collect(),
    }
}

impl Claim for MlpMul {
    fn info(&self) -> ClaimInfo {
        ClaimInfo {
            id: "mlp-mul",
            paper_ref: "v1 Lemma 1 (Feng et al. App. C)",
            statement: "Four GeLU units compute ab on [−M,M]² within max(|ab|(a²+b²)/(3λ²), (|a|+|b|)⁶/(160λ⁴)) for |a|+|b| ≤ 2λ, hence within 2M⁴/(3λ²) on [−M,M]² for λ ≥ M; λ = max(M, M²√(2/(3ε))) gives error ε.",
        }
    }

    fn explain(&self) -> String {
        include_str!("../../proofs/mlp-mul.md").to_string()
    }

    fn runnable_examples(&self) -> Vec<(String, Result<super::RunnableExample>)> {
        let ex = crate::export::examples::mlp_mul(0.75, -0.5, 1e-4);
        vec![("GeLU product of 0.75 and -0.5, ε = 1e-4".into(), ex)]
    }

    fn run(&self, cfg: &RunConfig) -> Result<ClaimReport> {
        let arith = cfg.arith.unwrap_or(Arith::mpfr(256));
        let (grid, random) = match cfg.mode {
            Mode::Quick => (11, 40),
            Mode::Default => (21, 200),
            Mode::Full => (41, 1000),
        };
        let rng = Rng::new(cfg.seed);
        let mut cases = Vec::new();
        let mut notes = Vec::new();
        for m in [1.0, 4.0] {
            let pts = points(m, grid, random, &mut rng.stream(&format!("mlp-mul/M={m}")));
            for e in lambda_exponents(cfg.mode) {
                let lambda = m * 2f64.powi(e);
                // An undecided case is enclosed again at higher precision before it may fail.
                let at = |b: u32| check(m, lambda, &pts, Arith::mpfr(b));
                cases.push(
                    escalate(arith.bits(), |b| {
                        Ok(at(b)?
                            .pointwise
                            .case(format!("M={m} λ=2^{e}·M at {arith}: pointwise bound")))
                    })?
                    .param("M", m)
                    .param("lambda", lambda),
                );
                cases.push(
                    escalate(arith.bits(), |b| {
                        let c = at(b)?;
                        Ok(Case::certified(
                            format!("M={m} λ=2^{e}·M at {arith}: max error ≤ 2M⁴/(3λ²)"),
                            &c.max_err,
                            &c.uniform,
                            Relation::AtMost,
                        ))
                    })?
                    .param("M", m)
                    .param("lambda", lambda),
                );
            }
            // The λ that guarantees ε.
            for eps in [1e-2, 1e-4, 1e-6, 1e-8] {
                let lam = mul::lambda_for(&rl(m, 256), &rl(eps, 256))?.to_f64();
                let mut c = check(m, lam, &pts, arith)?;
                let w = mul::output_weight(&rl(lam, 256)).to_f64();
                cases.push(
                    escalate(arith.bits(), |b| {
                        if b != arith.bits() {
                            c = check(m, lam, &pts, Arith::mpfr(b))?;
                        }
                        Ok(Case::certified(
                            format!(
                                "M={m} ε={eps:e}: λ=max(M, M²√(2/(3ε))) = {lam:.4e} gives error ≤ ε"
                            ),
                            &c.max_err,
                            &Ball::from_f64(eps, 256),
                            Relation::AtMost,
                        ))
                    })?
                    .param("lambda", lam)
                    .param("output_weight", w),
                );
                notes.push(format!(
                    "M={m} ε={eps:e}: λ={lam:.3e}, output weight √(π/2)λ²/4 = {w:.3e}, certified max error ≤ 10^{:.2}",
                    Real(c.max_err.upper()).log10_abs()
                ));
            }
        }
        // Cancellation: at λ = 2^20 (M = 1) f64 loses ~20 bits and exceeds the mathematical
        // bound, while 128-bit MPFR stays below it.
        let pts = points(1.0, grid, random, &mut rng.stream("mlp-mul/cancellation"));
        let lambda = 2f64.powi(20);
        let lam = rl(lambda, 256);
        let f64_out = outputs_at(Arith::F64, lambda, &pts)?;
        let mut f64_ratio = Worst::new();
        for (&(a, b), out) in pts.iter().zip(&f64_out) {
            let (ar, br) = (rl(a, 256), rl(b, 256));
            let exact = Real(rug::Float::with_val(256, &ar.0 * &br.0));
            let bound = mul::pointwise_bound(&ar, &br, &lam)?;
            f64_ratio.add(&abs_diff(out, &exact), &bound, || {
                format!("({a:.4}, {b:.4})")
            });
        }
        cases.push(
            f64_ratio.exceeds_case(
                "λ=2^20, M=1: f64 error exceeds the mathematical bound (cancellation)",
            ),
        );
        cases.push(escalate(128, |b| {
            Ok(check(1.0, lambda, &pts, Arith::mpfr(b))?
                .pointwise
                .case("λ=2^20, M=1 at 128 bits: within the bound"))
        })?);
        // Bits lost grow like log2(λ/M): slope of bits lost against log2 λ (128 bits, λ ≤ 2^60).
        let ks: Vec<i32> = (8..=60).step_by(4).collect();
        let lost: Vec<f64> = ks
            .iter()
            .map(|&k| bits_lost(Arith::mpfr(128), 2f64.powi(k), &pts[..pts.len().min(60)]))
            .collect::<Result<_>>()?;
        let slope = fit::slope(
            &ks.iter()
                .map(|&k| k as f64)
                .zip(lost.iter().copied())
                .collect::<Vec<_>>(),
        );
        cases.push(
            Case::from_values(
                "bits lost per doubling of λ (128-bit MPFR, λ = 2^8 … 2^60): ≈ 1",
                slope,
                1.0,
                Relation::Within { rel_tol: 0.15 },
            )
            .param("bits_lost", &lost)
            .param("log2_lambda", &ks),
        );
        notes.push(format!(
            "bits lost at 128 bits: {:.1} at λ=2^{}, {:.1} at λ=2^{} (slope {slope:.3} per doubling)",
            lost[0],
            ks[0],
            lost[lost.len() - 1],
            ks[ks.len() - 1]
        ));
        // Minimal precision for rounding ≤ the math error: grows by ~3 bits per doubling of λ
        // (rounding ≈ u·λM must fall below 2M⁴/(3λ²)).
        let few = &pts[..pts.len().min(30)];
        let ks: Vec<i32> = (4..=40).step_by(6).collect();
        let pmin: Vec<f64> = ks
            .iter()
            .map(|&k| min_precision(1.0, 2f64.powi(k), few).map(|p| p as f64))
            .collect::<Result<_>>()?;
        let pslope = fit::slope(
            &ks.iter()
                .map(|&k| k as f64)
                .zip(pmin.iter().copied())
                .collect::<Vec<_>>(),
        );
        cases.push(
            Case::from_values(
                "minimal precision for error ≤ 2·2M⁴/(3λ²): ≈ 3 more bits per doubling of λ",
                pslope,
                3.0,
                Relation::Within { rel_tol: 0.15 },
            )
            .param("min_bits", &pmin)
            .param("log2_lambda", &ks),
        );
        notes.push(format!(
            "minimal precision (M=1): {}",
            ks.iter()
                .zip(&pmin)
                .map(|(k, p)| format!("λ=2^{k}: {p} bits"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        cases.extend(crate::certify::mark_fixed_precision(
            crate::certify::mul_lemma(cfg.mode)?,
            Some(crate::certify::CERT_PREC),
            cfg.arith,
        ));
        let layer = mul::standalone(&Real::from_f64(2f64.powi(20), 256), 256)?;
        let size = ConstructionSize {
            description: "width-4 GeLU MLP on [a, b, out]".into(),
            state_size: 0,
            residual_width: 3,
            mlp_width: layer.hidden_width(),
            nonzero_params: layer.nonzeros(),
            max_abs_param: layer.max_abs_param(),
            ops_per_token: layer.ops_per_step(),
        };
        let mut rep = ClaimReport::new("mlp-mul", self.info().paper_ref, size, cases);
        rep.notes = notes;
        Ok(rep)
    }

    fn figures(&self, cfg: &RunConfig) -> Result<Vec<Figure>> {
        let m = 1.0;
        let pts = points(m, 11, 40, &mut Rng::new(cfg.seed).stream("mlp-mul/figure"));
        let ks: Vec<i32> = (0..=24).step_by(2).collect();
        let mut mp = Vec::new();
        let mut f6 = Vec::new();
        let mut ub = Vec::new();
        let mut lead = Vec::new();
        for &k in &ks {
            let lambda = 2f64.powi(k);
            let x = lambda.log10();
            let c = check(m, lambda, &pts, Arith::mpfr(256))?;
            mp.push((
                x,
                measured_max_err(lambda, &pts, Arith::mpfr(256))?.log10_abs(),
            ));
            f6.push((x, measured_max_err(lambda, &pts, Arith::F64)?.log10_abs()));
            ub.push((x, c.uniform.log10_abs()));
            lead.push((x, (16.0 * f64::EPSILON / 2.0 * lambda * 2.0 * m).log10()));
        }
        let chart = Chart {
            title: "mlp-mul: max |ĝ(a,b) − ab| on [−1,1]² vs λ".into(),
            x_label: "log10 λ".into(),
            y_label: "log10 max error".into(),
            series: vec![
                Series::new("measured, MPFR 256 bits", mp, Style::LinePoints),
                Series::new("measured, f64", f6, Style::LinePoints),
                Series::new("rigorous bound 2M⁴/(3λ²) (λ ≥ M)", ub, Style::Dashed),
                Series::new("f64 rounding estimate 16u·λ·2M", lead, Style::Line),
            ],
        };
        let mut out = vec![Figure::one("mlp-mul", chart)];
        let small = &pts[..40];
        let mut series = Vec::new();
        for arith in [Arith::F64, Arith::mpfr(64), Arith::mpfr(128)] {
            let top = if arith == Arith::F64 { 30 } else { 60 };
            let pts_l: Vec<(f64, f64)> = (0..=top)
                .step_by(2)
                .map(|k| Ok((k as f64, bits_lost(arith, 2f64.powi(k), small)?)))
                .collect::<Result<_>>()?;
            series.push(Series::new(
                format!("bits lost, {arith}"),
                pts_l,
                Style::LinePoints,
            ));
        }
        series.push(Series::new(
            "log2(λ/M)",
            (0..=60).step_by(2).map(|k| (k as f64, k as f64)).collect(),
            Style::Dashed,
        ));
        let chart = Chart {
            title: "mlp-mul: bits lost to cancellation vs λ (M = 1)".into(),
            x_label: "log2 λ".into(),
            y_label: "bits lost (p − correct bits)".into(),
            series,
        };
        out.push(Figure::one("mlp-mul-bits-lost", chart));
        Ok(out)
    }
}
