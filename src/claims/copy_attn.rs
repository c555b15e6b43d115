//! `copy-attn` (proofs/copy-attn.md): softmax attention copies with a gap logarithmic in T.

use super::copy_const::{check_at, constant_decay_spec};
use super::{Claim, ClaimInfo, Mode, RunConfig};
use crate::copy::attention::{
    build_layer, necessary_gap, sufficient_gap, validate, AttnKind, AttnPrepared,
};
use crate::copy::constant::{ConstInstance, ConstSpec, InstanceKind, Prepared};
use crate::copy::exp10_real;
use crate::copy::linear::{build_copy_model, run_copy, CopyTask, MemoryKind};
use crate::error::Result;
use crate::num::{Arith, Real, Scalar};
use crate::plot::{Chart, Figure, Series, Style};
use crate::report::{Case, ClaimReport, ConstructionSize, Relation};
use crate::rng::Rng;
use rug::Float;

pub struct CopyAttn;

pub const SIGMA: f64 = 1.0;
pub const GAP_TOL: f64 = 1e-9;

/// Values `u_j`: adversarial (`u_p = σ`, others `−σ`) or uniform in `[−σ, σ]`.
pub fn attn_values(rng: &mut Rng, len: usize, target: usize, adversarial: bool) -> Vec<f64> {
    (1..=len)
        .map(|j| {
            if adversarial {
                if j == target {
                    SIGMA
                } else {
                    -SIGMA
                }
            } else {
                rng.uniform(-SIGMA, SIGMA)
            }
        })
        .collect()
}

/// One quadratic-construction check: error at `λ = log(2σT/ε)` (T = query position), as the
/// computed value (compared exactly with ε by the claim).
pub fn quadratic_error<S: Scalar>(
    values: &[f64],
    target: usize,
    eps: f64,
    prec: u32,
) -> Result<Real> {
    validate(SIGMA, eps)?;
    let p: AttnPrepared<S> = AttnPrepared::new(AttnKind::Quadratic, values, target, prec)?;
    let lambda = sufficient_gap(SIGMA, eps, values.len() + 1);
    let e = p.error(&Real(Float::with_val(prec.max(53) + 64, lambda)))?;
    Ok(e.to_real())
}

/// log10 of [`quadratic_error`] (for display and figures).
pub fn quadratic_error_log10<S: Scalar>(
    values: &[f64],
    target: usize,
    eps: f64,
    prec: u32,
) -> Result<f64> {
    Ok(quadratic_error::<S>(values, target, eps, prec)?.log10_abs())
}

pub fn minimal_gap_at(
    kind: AttnKind,
    values: &[f64],
    target: usize,
    eps: f64,
    arith: Arith,
) -> Result<f64> {
    validate(SIGMA, eps)?;
    let hi = sufficient_gap(SIGMA, eps, values.len()).max(1.0) + 1.0;
    match arith {
        Arith::F64 => {
            AttnPrepared::<f64>::new(kind, values, target, 53)?.minimal_gap(eps, 0.0, hi, GAP_TOL)
        }
        Arith::Mpfr(p) => AttnPrepared::<Real>::new(kind, values, target, p.bits())?
            .minimal_gap(eps, 0.0, hi, GAP_TOL),
    }
}

/// `c = Σ_{k≥2} e^{−(k²−1)}` (the tail of the quadratic head's weights at λ ≥ 1, relative to
/// its nearest neighbours).
pub fn quadratic_tail() -> f64 {
    (2..40).map(|k: i32| (-((k * k - 1) as f64)).exp()).sum()
}

/// A T-free bound on the quadratic head's minimal gap: scores −λ(j−p)² give error
/// `2σ Σ_{j≠p} w_j ≤ 4σ Σ_{k≥1} e^{−λk²} ≤ 4σ(1+c)e^{−λ}` for λ ≥ 1, so λ = log(4σ(1+c)/ε)
/// suffices for every T (proofs/copy-attn.md). Valid when it is ≥ 1 (ε ≤ 4σ/e).
pub fn quadratic_gap_bound(sigma: f64, eps: f64) -> f64 {
    (4.0 * sigma * (1.0 + quadratic_tail()) / eps).ln()
}

fn error_at(values: &[f64], target: usize, eps: f64, arith: Arith) -> Result<Real> {
    match arith {
        Arith::F64 => quadratic_error::<f64>(values, target, eps, 53),
        Arith::Mpfr(p) => quadratic_error::<Real>(values, target, eps, p.bits()),
    }
}

fn sizes(mode: Mode) -> (Vec<usize>, Vec<usize>) {
    // (T for the error check, T for bisections)
    match mode {
        Mode::Quick => (
            vec![10, 100, 1000, 10_000, 100_000],
            vec![10, 100, 1000, 10_000],
        ),
        Mode::Default => (
            vec![10, 100, 1000, 10_000, 100_000],
            vec![10, 100, 1000, 10_000, 100_000],
        ),
        Mode::Full => (
            vec![10, 100, 1000, 10_000, 100_000, 300_000],
            vec![10, 100, 1000, 10_000, 100_000],
        ),
    }
}

impl Claim for CopyAttn {
    fn info(&self) -> ClaimInfo {
        ClaimInfo {
            id: "copy-attn",
            paper_ref: "v2 Thm 2",
            statement:
                "Softmax attention copies with a score gap logarithmic in T (width 3 for any T).",
        }
    }

    fn explain(&self) -> String {
        format!(
            "{}\n## Built example\n\n{}",
            include_str!("../../proofs/copy-attn.md"),
            super::example_summaries(self)
        )
    }

    fn examples(&self) -> Vec<(String, Result<crate::model::Model<f64>>)> {
        let lambda = Real(Float::with_val(64, sufficient_gap(SIGMA, 1e-3, 1000)));
        let model = crate::copy::attention::as_model::<f64>(AttnKind::Quadratic, &lambda, 53);
        vec![("quadratic head, T = 1000, ε = 1e-3".to_string(), model)]
    }

    fn runnable_examples(&self) -> Vec<(String, Result<super::RunnableExample>)> {
        let lambda = Real(Float::with_val(64, sufficient_gap(SIGMA, 1e-3, 1000)));
        let ex = crate::export::examples::copy_attn(&lambda, 1000, 437, 1e-3, 2410_03810);
        vec![("quadratic head, T = 1000, ε = 1e-3".to_string(), ex)]
    }

    fn run(&self, cfg: &RunConfig) -> Result<ClaimReport> {
        let arith = cfg.arith.unwrap_or(Arith::mpfr(128));
        let (err_ts, bis_ts) = sizes(cfg.mode);
        let rng = Rng::new(cfg.seed);
        let mut cases = Vec::new();
        let mut notes = Vec::new();
        let mut quad_gaps = Vec::new();
        for &t in err_ts.iter() {
            for eps in [1e-2, 1e-8] {
                let mut r = rng.stream(&format!("copy-attn/error/T={t}/eps={eps:e}"));
                let target = 1 + r.below(t - 1);
                for adversarial in [false, true] {
                    let values = attn_values(&mut r, t - 1, target, adversarial);
                    let mut vals = values.clone();
                    vals.push(r.uniform(-SIGMA, SIGMA)); // the query token's own value
                    let e = error_at(&vals, target, eps, arith)?;
                    cases.push(
                        Case::from_reals(
                            format!(
                                "quadratic λ=log(2σT/ε): error ≤ ε, T={t} p={target} ε={eps:.0e}{}",
                                if adversarial { " adversarial" } else { "" }
                            ),
                            &e,
                            &Real::from_f64(eps, 53),
                            Relation::AtMost,
                        )
                        .param("lambda", sufficient_gap(SIGMA, eps, vals.len() + 1))
                        .param("arith", arith.to_string()),
                    );
                }
            }
        }
        let eps = 1e-3;
        for &t in bis_ts.iter() {
            let mut r = rng.stream(&format!("copy-attn/bisection/T={t}"));
            let target = 1 + r.below(t - 1);
            let vals = attn_values(&mut r, t, target, true);
            // a bisection that cannot reach ε (too low a precision) yields NaN: the case fails
            let g_flat =
                minimal_gap_at(AttnKind::Flat, &vals, target, eps, arith).unwrap_or(f64::NAN);
            let nec = necessary_gap(SIGMA, eps, t);
            let suf = sufficient_gap(SIGMA, eps, t);
            cases.push(
                Case::from_values(
                    format!("flat instance: minimal gap = necessary log((i−1)(2σ/ε−1)), T={t}"),
                    g_flat,
                    nec,
                    Relation::Within { rel_tol: 1e-7 },
                )
                .param("sufficient", suf),
            );
            // "flat minimal gap ≤ sufficient" is not a case: it follows from the equality above
            // (necessary < sufficient). The quadratic head is checked against a T-free bound.
            let g_quad =
                minimal_gap_at(AttnKind::Quadratic, &vals, target, eps, arith).unwrap_or(f64::NAN);
            cases.push(
                Case::from_values(
                    format!(
                        "quadratic construction: minimal λ ≤ log(4σ(1+c)/ε), free of T, T={t} p={target}"
                    ),
                    g_quad,
                    quadratic_gap_bound(SIGMA, eps) + GAP_TOL,
                    Relation::AtMost,
                )
                .param("sufficient", suf),
            );
            quad_gaps.push(format!("T={t}: {g_quad:.4}"));
        }
        notes.push(format!(
            "minimal λ of the (j, j², 1) construction at ε=1e-3 (adversarial values): {} — below the T-free bound log(4σ(1+c)/ε) = {:.4}, since scores fall off as −λ(j−p)²",
            quad_gaps.join(", "),
            quadratic_gap_bound(SIGMA, eps)
        ));
        // Minimal precision of the quadratic head (bisection on bits, adversarial values, ε=1e-2):
        // the features j² need about 2·log2 T bits.
        let mut bits_row = Vec::new();
        for &t in &bis_ts {
            let vals = attn_values(&mut Rng::new(0), t, t / 2, true);
            let ok = |b: u32| -> Result<bool> {
                Ok(quadratic_error_log10::<Real>(&vals[..t - 1], t / 2, 1e-2, b)? <= -2.0)
            };
            if let Some(bits) = crate::measure::minimal_bits(4, 160, ok)? {
                bits_row.push(format!("T={t}: {bits}"));
            }
        }
        notes.push(format!(
            "minimal MPFR bits for the (j, j², 1) head to meet ε=1e-2 (bisection on bits): {} — about 2·log2 T, for the features j²",
            bits_row.join(", ")
        ));
        let layer = build_layer::<f64>(
            AttnKind::Quadratic,
            &Real(Float::with_val(64, sufficient_gap(SIGMA, 1e-8, 100_000))),
            53,
        )?;
        let t_max = *err_ts.last().unwrap_or(&0);
        let size = ConstructionSize {
            description: format!("1 head, q/k width 3, T ≤ {t_max}, {arith}"),
            state_size: layer.cache_size(t_max),
            residual_width: crate::copy::attention::attn_layout().width(),
            mlp_width: 0,
            nonzero_params: layer.nonzeros(),
            max_abs_param: layer.max_abs_param(),
            ops_per_token: layer.ops_per_step(t_max),
        };
        cases.extend(crate::certify::copy_attn::copy_attn_cases(
            cfg.mode,
            cfg.seed,
            arith.bits(),
        )?);
        let mut rep = ClaimReport::new(self.info().id, self.info().paper_ref, size, cases);
        rep.notes = notes;
        Ok(rep)
    }

    fn figures(&self, cfg: &RunConfig) -> Result<Vec<Figure>> {
        let mut out = figure_required_score(cfg)?;
        out.extend(figure_error_at_budget(cfg)?);
        Ok(out)
    }
}

/// Errors below 10^-40 are drawn at 10^-40; NaN stays NaN (and the figure then refuses to draw).
fn plot_floor(log10_err: f64) -> f64 {
    if log10_err.is_nan() {
        f64::NAN
    } else {
        log10_err.max(-40.0)
    }
}

/// Figure (a): required score vs distance — Mamba thresholds (a = 0.9) and measured minimal score,
/// attention's required gap (flat and quadratic), all as log10 (computed in MPFR).
fn figure_required_score(_cfg: &RunConfig) -> Result<Vec<Figure>> {
    let spec = constant_decay_spec(0.9, 1e-3);
    let ls = [2usize, 5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300];
    let (mut suf, mut nec, mut meas) = (Vec::new(), Vec::new(), Vec::new());
    let (mut flat, mut quad, mut flat_nec) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rsuf, mut rnec, mut rmeas) = (Vec::new(), Vec::new(), Vec::new());
    let random_spec = ConstSpec {
        a_min: 0.85,
        a_max: 0.95,
        ..spec.clone()
    };
    let arith = Arith::mpfr(128);
    for &l in &ls {
        let x = l as f64;
        let inst = ConstInstance::new(&spec, InstanceKind::Adversarial, l, 1, &mut Rng::new(0))?;
        let c = check_at(&inst, arith, true)?;
        suf.push((x, c.sufficient_log10));
        nec.push((x, c.necessary_log10));
        meas.push((x, c.minimal_score_log10.unwrap_or(f64::NAN)));
        let kind = InstanceKind::AdversarialRandomDecay;
        let inst = ConstInstance::new(&random_spec, kind, l, 1, &mut Rng::new(l as u64))?;
        let c = check_at(&inst, arith, true)?;
        rsuf.push((x, c.sufficient_log10));
        rnec.push((x, c.necessary_log10));
        rmeas.push((x, c.minimal_score_log10.unwrap_or(f64::NAN)));
        let vals = attn_values(&mut Rng::new(0), l, 1, true);
        flat.push((
            x,
            minimal_gap_at(AttnKind::Flat, &vals, 1, spec.eps, arith)?.log10(),
        ));
        flat_nec.push((x, necessary_gap(SIGMA, spec.eps, l).log10()));
        quad.push((
            x,
            minimal_gap_at(AttnKind::Quadratic, &vals, 1, spec.eps, arith)?.log10(),
        ));
    }
    let chart = Chart {
        title: "required score vs distance (σ=1, ε=1e-3, ρ=0.1; log10 computed in MPFR)".into(),
        x_label: "distance L = i − p + 1".into(),
        y_label: "log10 required score / gap".into(),
        series: vec![
            Series::new("Mamba a=0.9: sufficient threshold", suf, Style::Dashed),
            Series::new("Mamba a=0.9: necessary threshold", nec, Style::Line),
            Series::new("Mamba a=0.9: measured minimal score", meas, Style::Points),
            Series::new("Mamba a∈[0.85,0.95]: sufficient", rsuf, Style::Dashed),
            Series::new("Mamba a∈[0.85,0.95]: necessary", rnec, Style::Line),
            Series::new(
                "Mamba a∈[0.85,0.95]: measured (random decays)",
                rmeas,
                Style::Points,
            ),
            Series::new("attention necessary gap", flat_nec.clone(), Style::Line),
            Series::new(
                "attention measured minimal gap (flat)",
                flat.clone(),
                Style::Points,
            ),
            Series::new(
                "attention measured minimal λ, (j,j²,1)",
                quad.clone(),
                Style::LinePoints,
            ),
        ],
    };
    // Attention's growth is logarithmic: squashed near 1 on the log10 axis above, a straight
    // line against log10 L with the gap itself on the y axis.
    let unlog = |v: &[(f64, f64)]| -> Vec<(f64, f64)> {
        v.iter().map(|p| (p.0.log10(), 10f64.powf(p.1))).collect()
    };
    let attention = Chart {
        title: "attention alone: gap vs log10 L (logarithmic growth is a line)".into(),
        x_label: "log10 distance L".into(),
        y_label: "required score gap (not log)".into(),
        series: vec![
            Series::new("attention necessary gap", unlog(&flat_nec), Style::Line),
            Series::new(
                "attention measured minimal gap (flat)",
                unlog(&flat),
                Style::Points,
            ),
            Series::new(
                "attention measured minimal λ, (j,j²,1)",
                unlog(&quad),
                Style::LinePoints,
            ),
        ],
    };
    Ok(vec![Figure::new(
        "copy-required-score",
        vec![chart, attention],
    )])
}

/// Figure (b): error vs distance at a fixed budget B on the largest weight: constant-size Mamba
/// (score s = B, adversarial instance, normalised readout), attention (λ = B/2, since w_q holds 2λ),
/// linear-size Mamba (position-key memory, exact).
fn figure_error_at_budget(_cfg: &RunConfig) -> Result<Vec<Figure>> {
    let budget: f64 = 100.0;
    let prec = 128;
    let spec = constant_decay_spec(0.9, 1e-3);
    let ls = [2usize, 4, 8, 16, 32, 64, 128, 256, 512];
    let (mut mamba, mut attn, mut lin) = (Vec::new(), Vec::new(), Vec::new());
    for &l in &ls {
        let x = (l as f64).log2();
        let inst = ConstInstance::new(&spec, InstanceKind::Adversarial, l, 1, &mut Rng::new(0))?;
        let p: Prepared<Real> = Prepared::new(&inst, prec)?;
        let e = p.error_normalised(&exp10_real(budget.log10(), prec + 64));
        mamba.push((x, e.log10_abs()));
        let vals = attn_values(&mut Rng::new(0), l, 1, true);
        let ap: AttnPrepared<Real> = AttnPrepared::new(AttnKind::Quadratic, &vals, 1, prec)?;
        let ea = ap.error(&Real(Float::with_val(prec, budget / 2.0)))?;
        attn.push((x, plot_floor(ea.log10_abs())));
        let task = CopyTask {
            length: l,
            vocab: 16,
            targets: vec![1],
        };
        let cm = build_copy_model::<Real>(MemoryKind::Position, &task, prec)?;
        let prompt: Vec<usize> = (0..l).map(|j| (j * 7 + 3) % 16).collect();
        let o = run_copy(&cm, &task, &prompt)?;
        lin.push((x, plot_floor(o.max_read_error_log10)));
    }
    let chart = Chart {
        title: format!(
            "error vs distance at largest weight ≤ {budget} (128-bit MPFR; floor at 1e-40)"
        ),
        x_label: "log2 distance".into(),
        y_label: "log10 copy error".into(),
        series: vec![
            Series::new(
                "constant-size Mamba (N=2, a=0.9, s=B)",
                mamba,
                Style::LinePoints,
            ),
            Series::new("attention (j,j²,1), λ=B/2", attn, Style::LinePoints),
            Series::new("linear-size Mamba (position keys)", lin, Style::LinePoints),
        ],
    };
    Ok(vec![Figure::one("copy-error-at-budget", chart)])
}
