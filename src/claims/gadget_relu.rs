//! `mlp-relu` (proofs/mlp-relu.md, v1 Lemma 2): `φ(λz)/λ` approximates `ReLU(z)` with sup error exactly
//! `c/λ` (`c₀ ≈ 0.169971` for GeLU, `c₁ = W(1/e) ≈ 0.278465` for SiLU, both computed here by
//! Newton's method at working precision), and error `≤ τ(λ)` on nonzero integers.

use super::gadget_common::{
    abs_diff, at_most, linspace, rl, sharp_slack, tail_precision, BallWorst,
};
use super::{Claim, ClaimInfo, Mode, RunConfig};
use crate::error::Result;
use crate::gadgets::relu::{self, sup_constant, tail};
use crate::gadgets::{eval_mlp, residual};
use crate::model::Activation;
use crate::num::{Arith, Ball, Real, Scalar};
use crate::plot::{Chart, Figure, Series, Style};
use crate::report::{Case, CaseKey, ClaimReport, ConstructionSize, Relation};
use crate::rng::Rng;

pub struct MlpRelu;

/// The exact network's error enclosures `|φ(λz)/λ − ReLU(z)|` at `prec` bits over `zs`: the one
/// with the largest upper end, and where.
pub fn sup_error_ball(act: Activation, lambda: f64, zs: &[f64], prec: u32) -> Result<(Ball, f64)> {
    let lam = Ball::from_f64(lambda, prec);
    let layer = relu::standalone(act, lam, prec)?;
    let mut best = (Ball::zero(prec), 0.0);
    for &z in zs {
        let zb = Ball::from_f64(z, prec);
        let out = eval_mlp(&layer, &residual(2, prec, &[(0, zb.clone())]), prec);
        let e = out[1].sub(&zb.relu()).abs();
        if e.is_nan() || e.upper() > best.0.upper() {
            best = (e, z);
        }
    }
    Ok(best)
}

/// Max over `zs` of the network's error `|φ(λz)/λ − ReLU(z)|` at `prec` bits, and where.
pub fn sup_error(act: Activation, lambda: f64, zs: &[f64], prec: u32) -> Result<(Real, f64)> {
    let lam = rl(lambda, prec);
    let layer = relu::standalone(act, lam, prec)?;
    let mut best = (Real::zero(prec), 0.0);
    for &z in zs {
        let zr = rl(z, prec);
        let out = eval_mlp(&layer, &residual(2, prec, &[(0, zr.clone())]), prec);
        // abs_diff maps a NaN output to +∞, so it becomes the worst point instead of being skipped.
        let e = abs_diff(&out[1], &zr.relu());
        if e > best.0 {
            best = (e, z);
        }
    }
    Ok(best)
}

fn lambdas(mode: Mode) -> Vec<f64> {
    let top = match mode {
        Mode::Quick => 10,
        Mode::Default => 14,
        Mode::Full => 20,
    };
    (0..=top).step_by(2).map(|k| 2f64.powi(k)).collect()
}

fn int_lambdas(mode: Mode) -> Vec<f64> {
    match mode {
        Mode::Quick => vec![2.0, 4.0, 8.0],
        Mode::Default => vec![2.0, 4.0, 8.0, 16.0],
        Mode::Full => vec![2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
    }
}

/// `t·τ(t)` on a grid: its maximum (to check that Newton found the maximum).
pub fn grid_max(act: Activation, ts: &[f64], prec: u32) -> Real {
    ts.iter()
        .map(|&t| {
            let tr = rl(t, prec);
            tail(act, &tr).mul(&tr)
        })
        .fold(Real::zero(prec), |a, b| a.max_s(&b))
}

/// A grid of `z` scaled so that `λz` covers `[−8, 8]` densely, plus random `z ∈ [−3, 3]`.
pub fn z_grid(lambda: f64, n: usize, rng: &mut Rng) -> Vec<f64> {
    let mut zs: Vec<f64> = linspace(-8.0, 8.0, n).iter().map(|t| t / lambda).collect();
    zs.extend((0..100).map(|_| rng.uniform(-3.0, 3.0)));
    zs
}

impl Claim for MlpRelu {
    fn info(&self) -> ClaimInfo {
        ClaimInfo {
            id: "mlp-relu",
            paper_ref: "v1 Lemma 2",
            statement: "GeLU(λz)/λ and SiLU(λz)/λ approximate ReLU(z) with sup error exactly c/λ (c₀ ≈ 0.169971, c₁ ≈ 0.278465), and within τ(λ) on nonzero integers when λ ≥ t* (t₀* ≈ 0.7518, t₁* ≈ 1.2785; below t* only c/λ holds).",
        }
    }

    fn explain(&self) -> String {
        include_str!("../../proofs/mlp-relu.md").to_string()
    }

    fn runnable_examples(&self) -> Vec<(String, Result<super::RunnableExample>)> {
        vec![(
            "GeLU unit, z = -0.3, λ = 100".into(),
            crate::export::examples::mlp_relu(-0.3, 100.0),
        )]
    }

    fn run(&self, cfg: &RunConfig) -> Result<ClaimReport> {
        // This claim evaluates in MPFR with at least 53 bits; any other request is run there and
        // every case label says so (never a silent change).
        let p = cfg.arith.map(|a| a.bits()).unwrap_or(256).max(53);
        let ran_at = match cfg.arith {
            Some(a @ Arith::F64) => format!("{p}-bit MPFR, for the requested {a}"),
            Some(a) if a.bits() < p => format!("{p}-bit MPFR, raised from the requested {a}"),
            _ => format!("{p}-bit MPFR"),
        };
        let raised = cfg
            .arith
            .filter(|a| *a != Arith::mpfr(p))
            .map(|_| crate::report::CaseArith::Raised(p));
        let n = match cfg.mode {
            Mode::Quick => 4001,
            Mode::Default => 16001,
            Mode::Full => 64001,
        };
        let rng = Rng::new(cfg.seed);
        let mut cases = Vec::new();
        let mut notes = Vec::new();
        if let Some(a) = cfg.arith.filter(|a| *a != Arith::mpfr(p)) {
            notes.push(format!(
                "the requested {a} is not run: this claim's MPFR cases run at {p} bits (at least 53), and each label says so"
            ));
        }
        for act in [Activation::Gelu, Activation::Silu] {
            let sc = sup_constant::<Real>(act, p);
            let name = act.name();
            notes.push(format!(
                "{name}: t* = {}, c = {} ({} Newton steps at {p} bits)",
                sc.t_star, sc.c, sc.iterations
            ));
            // c is the maximum of t·τ(t): a fine grid never exceeds it and comes within h².
            let ts = linspace(0.0, 12.0, n);
            let gm = grid_max(act, &ts, p);
            cases.push(
                at_most(
                    format!("{name}: max of t·τ(t) on a grid of {n} points ≤ c (Newton), {ran_at}"),
                    &gm,
                    &sc.c,
                )
                .param("c", sc.c.to_f64())
                .param("t_star", sc.t_star.to_f64())
                .with_arith(raised),
            );
            cases.push(
                Case::from_values(
                    format!(
                        "{name}: grid max of t·τ(t) attains c (h = {:.1e}), {ran_at}",
                        12.0 / (n - 1) as f64
                    ),
                    gm.to_f64(),
                    sc.c.to_f64(),
                    Relation::Within { rel_tol: 1e-5 },
                )
                .with_arith(raised),
            );
            if act == Activation::Gelu {
                cases.push(Case::from_values(
                    "gelu: c₀ agrees with the original specification's 0.169971 (6 digits)",
                    sc.c.to_f64(),
                    0.169971,
                    Relation::Within { rel_tol: 3e-6 },
                ));
            }
            // sup over z of the network error = c/λ.
            let mut r = rng.stream(&format!("mlp-relu/sup/{act:?}"));
            for lambda in lambdas(cfg.mode) {
                let zs = z_grid(lambda, n / 4, &mut r);
                let (err, _) = sup_error(act, lambda, &zs, p)?;
                let bound = sc.c.div(&rl(lambda, p));
                let (err_ball, at_ball) = sup_error_ball(act, lambda, &zs, 2 * p)?;
                let c_ball = Ball::from_real(&sc.c, 2 * p).div(&Ball::from_f64(lambda, 2 * p));
                cases.push(
                    Case::certified(
                        format!(
                            "{name} λ={lambda}: sup_z error ≤ (c/λ)(1+2^-{}) on the grid (enclosures at 2p bits), {ran_at}",
                            p.div_ceil(2)
                        ),
                        &err_ball,
                        &sharp_slack(&c_ball, p),
                        Relation::AtMost,
                    )
                    .keyed(
                        CaseKey::new("sup-error")
                            .arith(format!("{p}-bit MPFR"))
                            .requested(cfg.arith.filter(|a| *a != Arith::mpfr(p)))
                            .size("activation", name)
                            .size("lambda", lambda),
                    )
                    .param("lambda", lambda)
                    .param("worst_z", at_ball)
                    .with_arith(raised),
                );
                cases.push(
                    Case::from_reals(
                        format!(
                            "{name} λ={lambda}: the sup c/λ is attained (within 0.1%), {ran_at}"
                        ),
                        &err,
                        &bound,
                        Relation::Within { rel_tol: 1e-3 },
                    )
                    .with_arith(raised),
                );
            }
            // Nonzero integers: error ≤ τ(λ) (equality at |z| = 1).
            for lambda in int_lambdas(cfg.mode) {
                let pi = tail_precision(act, lambda);
                let zs: Vec<f64> = (1..=8).flat_map(|z| [z as f64, -(z as f64)]).collect();
                let wp = 2 * pi;
                let lam = Ball::from_f64(lambda, wp);
                let layer = relu::standalone(act, lam.clone(), wp)?;
                let bound = sharp_slack(&tail(act, &lam), pi);
                let mut w = BallWorst::new();
                for &z in &zs {
                    let zb = Ball::from_f64(z, wp);
                    let out = eval_mlp(&layer, &residual(2, wp, &[(0, zb.clone())]), wp);
                    w.add(&out[1].sub(&zb.relu()), &bound, || format!("z = {z}"));
                }
                let case = w.case(format!(
                    "{name} λ={lambda} at {pi} bits: integer inputs, error ≤ τ(λ)(1+2^-{}) (enclosures at 2p bits; attained at |z| = 1)",
                    pi.div_ceil(2)
                ))
                .param("lambda", lambda);
                // pi resolves the tail τ(λ): a precision the statement needs, not the request's
                cases.extend(crate::certify::mark_fixed_precision(
                    vec![case],
                    Some(pi),
                    cfg.arith,
                ));
            }
        }
        cases.extend(crate::certify::mark_fixed_precision(
            crate::certify::relu_lemma(cfg.mode)?,
            Some(crate::certify::CERT_PREC),
            cfg.arith,
        ));
        let layer = relu::standalone(Activation::Gelu, Real::from_i64(1024, p), p)?;
        let size = ConstructionSize {
            description: "one GeLU/SiLU unit on [z, out]".into(),
            state_size: 0,
            residual_width: 2,
            mlp_width: layer.hidden_width(),
            nonzero_params: layer.nonzeros(),
            max_abs_param: layer.max_abs_param(),
            ops_per_token: layer.ops_per_step(),
        };
        let mut rep = ClaimReport::new("mlp-relu", self.info().paper_ref, size, cases);
        rep.notes = notes;
        Ok(rep)
    }

    fn figures(&self, cfg: &RunConfig) -> Result<Vec<Figure>> {
        let p = 256;
        let mut series = Vec::new();
        let mut int_series = Vec::new();
        let mut r = Rng::new(cfg.seed).stream("mlp-relu/figure");
        for act in [Activation::Gelu, Activation::Silu] {
            let sc = sup_constant::<Real>(act, p);
            let mut meas = Vec::new();
            let mut bnd = Vec::new();
            let mut ints = Vec::new();
            let mut int_bnd = Vec::new();
            for k in 0..=16 {
                let lambda = 2f64.powi(k);
                let zs = z_grid(lambda, 4001, &mut r);
                let (err, _) = sup_error(act, lambda, &zs, p)?;
                meas.push((lambda.log10(), err.log10_abs()));
                bnd.push((lambda.log10(), sc.c.div(&rl(lambda, p)).log10_abs()));
            }
            for lambda in [1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 11.0, 16.0] {
                let pi = tail_precision(act, lambda);
                let zs: Vec<f64> = (1..=4).map(|z| z as f64).collect();
                let layer = relu::standalone(act, rl(lambda, pi), pi)?;
                let e = zs
                    .iter()
                    .map(|&z| {
                        let out = eval_mlp(&layer, &residual(2, pi, &[(0, rl(z, pi))]), pi);
                        abs_diff(&out[1], &rl(z, pi)).log10_abs()
                    })
                    .fold(f64::NEG_INFINITY, f64::max);
                ints.push((lambda.log10(), e));
                int_bnd.push((lambda.log10(), tail(act, &rl(lambda, pi)).log10_abs()));
            }
            let n = act.name();
            series.push(Series::new(
                format!("{n}: measured sup error"),
                meas,
                Style::Points,
            ));
            series.push(Series::new(format!("{n}: c/λ"), bnd, Style::Dashed));
            int_series.push(Series::new(
                format!("{n}: measured max over z = 1..4"),
                ints,
                Style::Points,
            ));
            int_series.push(Series::new(format!("{n}: τ(λ)"), int_bnd, Style::Line));
        }
        let chart = Chart {
            title: "mlp-relu: sup_z |φ(λz)/λ − ReLU(z)| vs λ".into(),
            x_label: "log10 λ".into(),
            y_label: "log10 error".into(),
            series,
        };
        let mut out = vec![Figure::one("mlp-relu", chart)];
        let chart = Chart {
            title: "mlp-relu on nonzero integers: error vs λ (bound τ(λ) = Φ(−λ) or σ(−λ))".into(),
            x_label: "log10 λ".into(),
            y_label: "log10 error".into(),
            series: int_series,
        };
        out.push(Figure::one("mlp-relu-integers", chart));
        Ok(out)
    }
}
