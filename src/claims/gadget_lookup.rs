//! `mlp-lookup` (proofs/mlp-lookup.md, v1 Lemma 4): any function on a finite integer (or one-hot) domain,
//! exactly with ReLU units; within `(Σ|w_out|)·τ(λ)` with smooth units.

use super::gadget_common::{abs_diff, sharp_slack, BallWorst, Worst};
use super::{Claim, ClaimInfo, Mode, RunConfig};
pub use crate::certify::worst::smooth_precision;
use crate::error::Result;
use crate::gadgets::eval_mlp;
pub use crate::gadgets::lookup_problems::{problems, Problem};
use crate::gadgets::relu::ReluUnit;
use crate::model::Activation;
use crate::num::{Arith, Ball, Real, Scalar};
use crate::plot::{Chart, Figure, Series, Style};
use crate::report::{Case, ClaimReport, ConstructionSize};

pub struct MlpLookup;

/// Worst measured/bound of one problem; `bound` per point.
pub fn measure<S: Scalar>(p: &Problem<S>, bound: &Real, prec: u32) -> Worst {
    let mut w = Worst::new();
    for (k, (x, &want)) in p.inputs.iter().zip(&p.expected).enumerate() {
        let out = eval_mlp(&p.layer, x, prec)[p.out].to_real();
        let e = abs_diff(&out, &Real::from_i64(want, 64));
        w.add(&e, bound, || format!("input #{k}"));
    }
    w
}

fn exact_cases<S: Scalar>(seed: u64, prec: u32, label: &str) -> Result<Vec<Case>> {
    let unit = ReluUnit::<S>::exact(prec);
    Ok(problems(&unit, seed, prec)?
        .iter()
        .map(|p| {
            let w = measure(p, &Real::zero(64), prec);
            Case::boolean(
                format!("relu {} at {label}: exact on every domain point", p.name),
                w.max_measured_log10 == f64::NEG_INFINITY,
                format!("{} points, {} units", w.points, p.layer.hidden_width()),
            )
        })
        .collect())
}

/// Certified errors of every problem with smooth units: each key's error enclosed in ball
/// arithmetic, against `(Σ|w_out|)·τ(λ)` with the factor `1 + 2^{−p/2}` of [`sharp_slack`]
/// (the bound is attained on one-hot inputs); no rounding allowance.
pub fn smooth_certified(
    act: Activation,
    lambda: f64,
    seed: u64,
) -> Result<Vec<(String, BallWorst)>> {
    let key = format!("mlp-lookup/smooth_certified/{act:?}/{lambda:?}/{seed}");
    super::memo::cached(key, || smooth_certified_uncached(act, lambda, seed))
}

fn smooth_certified_uncached(
    act: Activation,
    lambda: f64,
    seed: u64,
) -> Result<Vec<(String, BallWorst)>> {
    let p = smooth_precision(act, lambda);
    let wp = 2 * p;
    let unit = ReluUnit::new(act, Ball::from_f64(lambda, wp))?;
    let one = Ball::one(wp);
    problems(&unit, seed, wp)?
        .iter()
        .map(|pr| {
            let bound = sharp_slack(&unit.error_beyond(&one).mul(&pr.l1), p);
            let mut w = BallWorst::new();
            for (k, (x, &want)) in pr.inputs.iter().zip(&pr.expected).enumerate() {
                let out = &eval_mlp(&pr.layer, x, wp)[pr.out];
                w.add(&out.sub(&Ball::from_i64(want, wp)), &bound, || {
                    format!("input #{k}")
                });
            }
            Ok((pr.name.clone(), w))
        })
        .collect()
}

impl Claim for MlpLookup {
    fn info(&self) -> ClaimInfo {
        ClaimInfo {
            id: "mlp-lookup",
            paper_ref: "v1 Lemma 4",
            statement: "A ReLU MLP computes any integer function of an integer key (or a one-hot input) exactly, with one unit per kink (tables) or 3 units (indicators); smooth units φ(λ·)/λ err by at most (Σ|w_out|)·τ(λ) when λ ≥ t* (by (Σ|w_out|)·c/λ otherwise).",
        }
    }

    fn explain(&self) -> String {
        include_str!("../../proofs/mlp-lookup.md").to_string()
    }

    fn runnable_examples(&self) -> Vec<(String, Result<super::RunnableExample>)> {
        vec![(
            "ReLU table 0..4 -> 3, -1, 4, 1, 5 at key 2".into(),
            crate::export::examples::mlp_lookup(&[0, 1, 2, 3, 4], &[3, -1, 4, 1, 5], 2),
        )]
    }

    fn run(&self, cfg: &RunConfig) -> Result<ClaimReport> {
        let mut cases = Vec::new();
        let ariths = cfg
            .arith
            .map(|a| vec![a])
            .unwrap_or(vec![Arith::F64, Arith::mpfr(64)]);
        for arith in ariths {
            cases.extend(match arith {
                Arith::F64 => exact_cases::<f64>(cfg.seed, 53, "f64")?,
                Arith::Mpfr(p) => exact_cases::<Real>(cfg.seed, p.bits(), &arith.to_string())?,
            });
        }
        let lambdas: Vec<f64> = match cfg.mode {
            Mode::Quick => vec![2.0, 4.0, 8.0],
            Mode::Default => vec![2.0, 4.0, 8.0, 16.0],
            Mode::Full => vec![2.0, 4.0, 8.0, 16.0, 32.0],
        };
        for act in [Activation::Gelu, Activation::Silu] {
            for &lambda in &lambdas {
                for (name, w) in smooth_certified(act, lambda, cfg.seed)? {
                    cases.push(
                        w.case(format!(
                            "{} λ={lambda} {name}: error ≤ (Σ|w_out|)·τ(λ)·(1+2^-p/2) (enclosures at 2p bits)",
                            act.name()
                        ))
                        .param("lambda", lambda),
                    );
                }
            }
        }
        cases.extend(crate::certify::mark_fixed_precision(
            crate::certify::lookup_lemma(cfg.mode, cfg.seed)?,
            None,
            cfg.arith,
        ));
        let unit = ReluUnit::<f64>::exact(53);
        let probs = problems(&unit, cfg.seed, 53)?;
        let layer = &probs[1].layer;
        let size = ConstructionSize {
            description: "ReLU table on a pair key (64 entries)".into(),
            state_size: 0,
            residual_width: 3,
            mlp_width: layer.hidden_width(),
            nonzero_params: layer.nonzeros(),
            max_abs_param: layer.max_abs_param(),
            ops_per_token: layer.ops_per_step(),
        };
        Ok(ClaimReport::new(
            "mlp-lookup",
            self.info().paper_ref,
            size,
            cases,
        ))
    }

    fn figures(&self, cfg: &RunConfig) -> Result<Vec<Figure>> {
        let mut series = Vec::new();
        for act in [Activation::Gelu, Activation::Silu] {
            let mut meas = Vec::new();
            let mut bnd = Vec::new();
            for lambda in [1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 11.0, 16.0] {
                // certified: upper end of the error enclosure, lower end of the bound's
                let res = smooth_certified(act, lambda, cfg.seed)?;
                let w = &res[0].1.worst;
                meas.push((lambda.log10(), w.max_measured_log10));
                bnd.push((lambda.log10(), w.max_bound_log10));
            }
            series.push(Series::new(
                format!(
                    "{}: certified max error (integer table, upper end)",
                    act.name()
                ),
                meas,
                Style::LinePoints,
            ));
            series.push(Series::new(
                format!("{}: bound (Σ|w_out|)·τ(λ)", act.name()),
                bnd,
                Style::Dashed,
            ));
        }
        let chart = Chart {
            title: "mlp-lookup with smooth units: error on the domain vs λ".into(),
            x_label: "log10 λ".into(),
            y_label: "log10 max error".into(),
            series,
        };
        Ok(vec![Figure::one("mlp-lookup", chart)])
    }
}
