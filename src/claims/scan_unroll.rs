//! `scan-unroll` (proofs/scan-unroll.md): the recurrent scan equals the unrolled linear-attention sum,
//! up to a stated rounding bound that shrinks as 2^{-p}.

use super::{Claim, ClaimInfo, Mode, RunConfig};
use crate::error::Result;
use crate::model::ssm::{SsmLayer, StepInputs, UnrolledForm};
use crate::num::{Arith, Real, Scalar};
use crate::plot::{Chart, Figure, Series, Style};
use crate::report::{Case, CaseKey, ClaimReport, ConstructionSize, Relation};
use crate::rng::Rng;
use rug::Float;
use serde::Serialize;

pub use crate::model::random::{random_inputs, DecayChoice, RandomSsm};

pub struct ScanUnroll;

/// Scan vs unrolled on one instance at one precision.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// max over (t,d) of log10(|scan − unrolled| / bound).
    pub worst_ratio_log10: f64,
    pub diff_at_worst_log10: f64,
    pub bound_at_worst_log10: f64,
    pub max_diff_log10: f64,
    pub max_bound_log10: f64,
    pub worst_t: usize,
    pub worst_d: usize,
    /// Largest F·ulp over the terms (a diagnostic; the bound uses e^{F·ulp} − 1).
    pub max_first_order_term: f64,
    /// Points where `|scan − unrolled| > bound`, compared exactly in MPFR (NaN counts).
    pub exceeded: usize,
    /// `|scan − unrolled|` and the bound (as an MPFR value) at the worst point: an exceeding
    /// point when there is one, else the largest ratio; the case compares them exactly.
    #[serde(skip)]
    pub diff_at_worst: Real,
    #[serde(skip)]
    pub bound_at_worst: Real,
}

pub fn compare<S: Scalar>(
    spec: &RandomSsm,
    xs: &[Vec<f64>],
    prec: u32,
    form: UnrolledForm,
) -> Comparison {
    let layer: SsmLayer<S> = spec.build(prec);
    let inputs: Vec<StepInputs<S>> = xs
        .iter()
        .map(|x| {
            let xv: Vec<S> = x.iter().map(|&v| S::from_f64(v, prec)).collect();
            layer.project(&xv, prec)
        })
        .collect();
    let scan = layer.scan(&inputs, prec);
    let unrolled = layer.unrolled(&inputs, prec, form);
    let wp = 2 * S::effective_precision(prec) + 64;
    let mut c = Comparison {
        worst_ratio_log10: f64::NEG_INFINITY,
        diff_at_worst_log10: f64::NEG_INFINITY,
        bound_at_worst_log10: f64::NEG_INFINITY,
        max_diff_log10: f64::NEG_INFINITY,
        max_bound_log10: f64::NEG_INFINITY,
        worst_t: 0,
        worst_d: 0,
        max_first_order_term: unrolled.max_first_order_term,
        exceeded: 0,
        diff_at_worst: Real(Float::new(wp)),
        bound_at_worst: Real(Float::new(wp)),
    };
    let mut worst_exceeds = false;
    let rows = scan.iter().zip(&unrolled.y).zip(&unrolled.bound);
    for (t, ((ys, yu), bs)) in rows.enumerate() {
        for (d, ((a, b), bound)) in ys.iter().zip(yu).zip(bs).enumerate() {
            let (a, b) = (a.to_real(), b.to_real());
            let diff_real = Real(Float::with_val(wp, &a.0 - &b.0).abs());
            let bound_real = crate::copy::exp10_real(bound.log10, wp);
            // the decision: an exact comparison of the values (NaN exceeds)
            let exceeds = diff_real.is_nan() || bound_real.is_nan() || diff_real > bound_real;
            c.exceeded += exceeds as usize;
            let diff = diff_real.log10_abs();
            let bound = bound.log10;
            let ratio = if diff.is_nan() || bound.is_nan() {
                f64::INFINITY // a NaN anywhere is a failure, never skipped
            } else if diff == f64::NEG_INFINITY {
                f64::NEG_INFINITY
            } else {
                diff - bound
            };
            c.max_diff_log10 = c.max_diff_log10.max(diff);
            c.max_bound_log10 = c.max_bound_log10.max(bound);
            let worse = (exceeds, ratio) > (worst_exceeds, c.worst_ratio_log10);
            if worse || (t == 0 && d == 0) {
                worst_exceeds = exceeds;
                c.diff_at_worst = diff_real;
                c.bound_at_worst = bound_real;
                c.worst_ratio_log10 = ratio;
                c.diff_at_worst_log10 = diff;
                c.bound_at_worst_log10 = bound;
                c.worst_t = t + 1;
                c.worst_d = d;
            }
        }
    }
    c
}

/// Dispatch on the arithmetic.
pub fn compare_at(
    spec: &RandomSsm,
    xs: &[Vec<f64>],
    arith: Arith,
    form: UnrolledForm,
) -> Comparison {
    match arith {
        Arith::F64 => compare::<f64>(spec, xs, 53, form),
        Arith::Mpfr(p) => compare::<Real>(spec, xs, p.bits(), form),
    }
}

/// The sweep: (decay, T, N, arithmetics).
fn sweep(mode: Mode) -> Vec<(DecayChoice, usize, usize, Vec<Arith>)> {
    let all = vec![
        Arith::F64,
        Arith::mpfr(64),
        Arith::mpfr(256),
        Arith::mpfr(1024),
    ];
    let low = vec![Arith::F64, Arith::mpfr(64)];
    match mode {
        Mode::Quick => vec![
            (DecayChoice::Mamba1, 48, 16, all.clone()),
            (DecayChoice::Scalar, 48, 16, all.clone()),
            (DecayChoice::General, 24, 4, all.clone()),
            (DecayChoice::Mamba1, 512, 64, vec![Arith::F64]),
        ],
        Mode::Default => vec![
            (DecayChoice::Mamba1, 128, 16, all.clone()),
            (DecayChoice::Scalar, 128, 16, all.clone()),
            (DecayChoice::General, 48, 8, all.clone()),
            (DecayChoice::Mamba1, 512, 64, low.clone()),
            (DecayChoice::Scalar, 512, 64, low),
        ],
        Mode::Full => vec![
            (DecayChoice::Mamba1, 256, 16, all.clone()),
            (DecayChoice::Scalar, 256, 64, all.clone()),
            (DecayChoice::General, 96, 16, all.clone()),
            (DecayChoice::Mamba1, 512, 64, all.clone()),
            (DecayChoice::Scalar, 512, 64, all),
        ],
    }
}

/// Relative tolerance on the fitted slope of log2 |scan − unrolled| against p (expected −1).
pub const SCALING_TOL: f64 = 0.1;

/// The measured rounding difference scales as 2^{-p}: least-squares slope of log2 of the largest
/// measured |scan − unrolled| against the precision p, within [`SCALING_TOL`] of −1. `diffs` are
/// (p, log10 max difference) at three or more precisions; with fewer, or with an exact zero at some
/// precision (no slope to fit), there is no case. A computation whose precision does not follow p
/// (e.g. f64 inside an MPFR run) has slope ≈ 0 and fails.
pub fn rounding_scales_case(label: &str, diffs: &[(u32, f64)]) -> Option<Case> {
    if diffs.len() < 3 || diffs.iter().any(|d| !d.1.is_finite()) {
        return None;
    }
    let pts: Vec<(f64, f64)> = diffs
        .iter()
        .map(|&(p, d)| (p as f64, d / std::f64::consts::LOG10_2))
        .collect();
    let slope = crate::measure::fit::slope(&pts);
    let bits: Vec<String> = diffs.iter().map(|d| d.0.to_string()).collect();
    Some(
        Case::from_values(
            format!("{label}: measured difference scales as 2^-p"),
            slope,
            -1.0,
            Relation::Within {
                rel_tol: SCALING_TOL,
            },
        )
        .keyed(CaseKey::new("rounding-scales").size("run", label))
        .with_note(format!(
            "{label}: fitted slope of log2 max|scan − unrolled| vs p over p = {} bits: {slope:.4} (want −1 ± {SCALING_TOL})",
            bits.join(", ")
        )),
    )
}

const WIDTH: usize = 4;
const CHANNELS: usize = 2;

impl Claim for ScanUnroll {
    fn info(&self) -> ClaimInfo {
        ClaimInfo {
            id: "scan-unroll",
            paper_ref: "paper §4.1 (v1 and v2)",
            statement: "The recurrent selective scan equals the unrolled linear-attention sum, up to a rounding bound that halves with every extra bit.",
        }
    }

    fn explain(&self) -> String {
        include_str!("../../proofs/scan-unroll.md").to_string()
    }

    fn run(&self, cfg: &RunConfig) -> Result<ClaimReport> {
        let mut cases = Vec::new();
        let mut notes = Vec::new();
        let mut biggest = (0, 0);
        let rng = Rng::new(cfg.seed);
        for (decay, t_len, n_state, ariths) in sweep(cfg.mode) {
            let mut r = rng.stream(&format!("scan-unroll/{decay:?}/T={t_len}/N={n_state}"));
            let spec = RandomSsm::new(&mut r, WIDTH, CHANNELS, n_state, decay);
            let xs = random_inputs(&mut r, t_len, WIDTH);
            let ariths = cfg.arith.map(|a| vec![a]).unwrap_or(ariths);
            let mut diffs = Vec::new();
            for arith in ariths {
                let c = compare_at(&spec, &xs, arith, UnrolledForm::Correct);
                let label = format!("{decay:?} T={t_len} N={n_state} at {arith}");
                let case =
                    Case::from_reals(label, &c.diff_at_worst, &c.bound_at_worst, Relation::AtMost)
                        .param("decay", decay)
                        .param("T", t_len)
                        .param("N", n_state)
                        .param("channels", CHANNELS)
                        .param("arith", arith.to_string())
                        .param("comparison", &c);
                cases.push(case);
                diffs.push((arith.bits(), c.max_diff_log10));
                biggest = biggest.max((t_len, n_state));
            }
            if let Some(case) =
                rounding_scales_case(&format!("{decay:?} T={t_len} N={n_state}"), &diffs)
            {
                notes.push(case.note.clone().unwrap_or_default());
                cases.push(case);
            }
        }
        let layer: SsmLayer<f64> = RandomSsm::new(
            &mut Rng::new(0),
            WIDTH,
            CHANNELS,
            biggest.1,
            DecayChoice::Mamba1,
        )
        .build(53);
        let size = ConstructionSize {
            description: format!(
                "random SSM layer, {CHANNELS} channels, N up to {}, T up to {}",
                biggest.1, biggest.0
            ),
            state_size: CHANNELS * biggest.1,
            residual_width: WIDTH,
            mlp_width: 0,
            nonzero_params: layer.nonzeros(),
            max_abs_param: layer.max_abs_param(),
            ops_per_token: layer.ops_per_step(),
        };
        cases.extend(crate::certify::scan::scan_unroll_cases(
            cfg.mode, cfg.seed, cfg.arith,
        ));
        let mut rep = ClaimReport::new(self.info().id, self.info().paper_ref, size, cases);
        rep.notes = notes;
        Ok(rep)
    }

    fn figures(&self, cfg: &RunConfig) -> Result<Vec<Figure>> {
        let precs: Vec<Arith> = std::iter::once(Arith::F64)
            .chain([64, 96, 128, 192, 256, 384, 512, 768, 1024].map(Arith::mpfr))
            .collect();
        let mut series = Vec::new();
        let mut ratios = Vec::new();
        for decay in [DecayChoice::Mamba1, DecayChoice::Scalar] {
            let mut r = Rng::new(cfg.seed).stream(&format!("scan-unroll/figure/{decay:?}"));
            let spec = RandomSsm::new(&mut r, WIDTH, CHANNELS, 16, decay);
            let xs = random_inputs(&mut r, 96, WIDTH);
            let cs: Vec<(f64, Comparison)> = precs
                .iter()
                .map(|&a| {
                    (
                        a.bits() as f64,
                        compare_at(&spec, &xs, a, UnrolledForm::Correct),
                    )
                })
                .collect();
            let name = match decay {
                DecayChoice::Mamba1 => "A=-(n+1)",
                _ => "scalar decay",
            };
            // Scaled by 2^p: both fall like 2^{-p}, so the 300-decade fall would hide the gap
            // between them; scaled, each is flat and the gap is the bound's slack.
            let scaled = |p: f64, l: f64| l + p * std::f64::consts::LOG10_2;
            series.push(Series::new(
                format!("measured max |scan − unrolled| · 2^p, {name}"),
                cs.iter()
                    .map(|(p, c)| (*p, scaled(*p, c.max_diff_log10)))
                    .collect(),
                Style::LinePoints,
            ));
            series.push(Series::new(
                format!("rounding bound · 2^p (max over t, d), {name}"),
                cs.iter()
                    .map(|(p, c)| (*p, scaled(*p, c.max_bound_log10)))
                    .collect(),
                Style::Dashed,
            ));
            ratios.push(Series::new(
                format!("worst |scan - unrolled| / bound, {name}"),
                cs.iter().map(|(p, c)| (*p, c.worst_ratio_log10)).collect(),
                Style::LinePoints,
            ));
        }
        ratios.push(Series::new(
            "bound (ratio 1)",
            vec![(53.0, 0.0), (1024.0, 0.0)],
            Style::Dashed,
        ));
        let mut paths = vec![Figure::one(
            "scan-unroll-margin",
            Chart {
                title: "scan-unroll: measured / bound at every precision (must stay below 0)"
                    .into(),
                x_label: "precision p (bits)".into(),
                y_label: "log10 (|difference| / bound), worst (t, d)".into(),
                series: ratios,
            },
        )];
        let chart = Chart {
            title: "scan-unroll: |recurrent − unrolled| and its bound, times 2^p (T=96, N=16)"
                .into(),
            x_label: "precision p (bits; f64 at 53)".into(),
            y_label: "log10 (|difference| · 2^p)".into(),
            series,
        };
        paths.push(Figure::one("scan-unroll", chart));
        Ok(paths)
    }
}
