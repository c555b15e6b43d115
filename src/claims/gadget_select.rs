//! `mlp-select` (proofs/mlp-select.md, v1 Lemma 3): `x if t ≥ α, y if t ≤ −α`, width `2d + 2`; exact with
//! ReLU when `Kα ≥ M`, error `≤ 2βτ(λβ)` (`β = Kα − M`) with smooth units.

use super::gadget_common::{abs_diff, rl, sharp_slack, tail_precision, BallWorst, Worst};
use super::{Claim, ClaimInfo, Mode, RunConfig};
use crate::error::Result;
use crate::gadgets::relu::ReluUnit;
use crate::gadgets::{eval_mlp, select};
use crate::model::Activation;
use crate::num::{Arith, Ball, Real, Scalar};
use crate::plot::{Chart, Figure, Series, Style};
use crate::report::{Case, ClaimReport, ConstructionSize};
use crate::rng::Rng;

pub struct MlpSelect;

/// One selector instance: `x, y ∈ R^d`, gate `t`.
#[derive(Clone, Debug)]
pub struct Instance {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub t: f64,
}

/// Random instances with `|x|, |y| ≤ M` (including the extremes ±M) and `α ≤ |t| ≤ 3α`
/// (including `±α`). `dyadic`: entries are multiples of `M/8` and `t` of `α/4` (exact in binary).
pub fn instances(
    d: usize,
    m: f64,
    alpha: f64,
    n: usize,
    dyadic: bool,
    rng: &mut Rng,
) -> Vec<Instance> {
    let mut extremes = vec![
        Instance {
            x: vec![-m; d],
            y: vec![m; d],
            t: alpha,
        },
        Instance {
            x: vec![m; d],
            y: vec![-m; d],
            t: -alpha,
        },
    ];
    extremes.extend((0..n).map(|i| {
        let mut v = |k: usize| -> f64 {
            match (i + k) % 5 {
                0 => m,
                1 => -m,
                _ if dyadic => (rng.below(17) as f64 - 8.0) * m / 8.0,
                _ => rng.uniform(-m, m),
            }
        };
        let x: Vec<f64> = (0..d).map(&mut v).collect();
        let y: Vec<f64> = (0..d).map(|k| v(k + 2)).collect();
        let mag = match i % 4 {
            0 => alpha,
            _ if dyadic => alpha * (1.0 + rng.below(9) as f64 / 4.0),
            _ => rng.uniform(alpha, 3.0 * alpha),
        };
        let t = if i % 2 == 0 { mag } else { -mag };
        Instance { x, y, t }
    }));
    extremes
}

/// Outputs of the selector at `prec` bits, one vector per instance (in `S` itself).
pub fn selector_outputs<S: Scalar>(
    insts: &[Instance],
    gain: f64,
    act: Activation,
    lambda: f64,
    prec: u32,
) -> Result<Vec<Vec<S>>> {
    let d = insts[0].x.len();
    let unit = if act == Activation::Relu {
        ReluUnit::<S>::exact(prec)
    } else {
        ReluUnit::new(act, S::from_f64(lambda, prec))?
    };
    let layer = select::standalone(d, &S::from_f64(gain, prec), &unit)?;
    Ok(insts
        .iter()
        .map(|ins| {
            let mut x: Vec<S> = ins.x.iter().map(|&v| S::from_f64(v, prec)).collect();
            x.extend(ins.y.iter().map(|&v| S::from_f64(v, prec)));
            x.push(S::from_f64(ins.t, prec));
            x.extend((0..d).map(|_| S::zero(prec)));
            eval_mlp(&layer, &x, prec)[2 * d + 1..].to_vec()
        })
        .collect())
}

/// Outputs of the selector at `prec` bits, one vector per instance (as exact MPFR values).
pub fn run_selector<S: Scalar>(
    insts: &[Instance],
    gain: f64,
    act: Activation,
    lambda: f64,
    prec: u32,
) -> Result<Vec<Vec<Real>>> {
    Ok(selector_outputs::<S>(insts, gain, act, lambda, prec)?
        .into_iter()
        .map(|v| v.iter().map(|x| x.to_real()).collect())
        .collect())
}

fn run_at(
    insts: &[Instance],
    gain: f64,
    act: Activation,
    lambda: f64,
    arith: Arith,
) -> Result<Vec<Vec<Real>>> {
    match arith {
        Arith::F64 => run_selector::<f64>(insts, gain, act, lambda, 53),
        Arith::Mpfr(p) => run_selector::<Real>(insts, gain, act, lambda, p.bits()),
    }
}

/// Certified worst case over instances and coordinates: the exact network's error
/// `output − selected` enclosed in ball arithmetic at `prec` bits, against `bound` (no rounding
/// allowance; an enclosure too wide for the bound is undecided).
pub fn check(
    insts: &[Instance],
    gain: f64,
    act: Activation,
    lambda: f64,
    bound: &Ball,
    prec: u32,
) -> Result<BallWorst> {
    let outs = selector_outputs::<Ball>(insts, gain, act, lambda, prec)?;
    let mut w = BallWorst::new();
    for (ins, out) in insts.iter().zip(&outs) {
        let want = if ins.t > 0.0 { &ins.x } else { &ins.y };
        for (k, (o, &v)) in out.iter().zip(want).enumerate() {
            w.add(&o.sub(&Ball::from_f64(v, prec)), bound, || {
                format!("t = {:.4}, coordinate {k}", ins.t)
            });
        }
    }
    Ok(w)
}

/// The ReLU selector in f64 against its certified 53-bit enclosure of the exact network: the
/// case checks exactly that the f64 output and the selected input both lie in the enclosure, so
/// `|f64 − selected| ≤ 2·radius` is certified (the ball radius is a proved rounding bound, not an
/// allowance). Returns (points, points where the f64 output is outside the enclosure, points where
/// the selected input is outside it).
pub fn f64_in_enclosure(insts: &[Instance], gain: f64) -> Result<(usize, usize, usize)> {
    let f = selector_outputs::<f64>(insts, gain, Activation::Relu, 1.0, 53)?;
    let b = selector_outputs::<Ball>(insts, gain, Activation::Relu, 1.0, 53)?;
    let (mut n, mut differ, mut outside) = (0, 0, 0);
    for ((ins, fo), bo) in insts.iter().zip(&f).zip(&b) {
        let want = if ins.t > 0.0 { &ins.x } else { &ins.y };
        for ((o, ball), &v) in fo.iter().zip(bo).zip(want) {
            n += 1;
            if !ball.contains(&rug::Float::with_val(53, *o)) {
                differ += 1;
            }
            if !ball.contains(&rug::Float::with_val(53, v)) {
                outside += 1;
            }
        }
    }
    Ok((n, differ, outside))
}

/// Exact equality of every output with the selected input.
pub fn exact(insts: &[Instance], gain: f64, arith: Arith) -> Result<bool> {
    let outs = run_at(insts, gain, Activation::Relu, 1.0, arith)?;
    Ok(insts.iter().zip(&outs).all(|(ins, out)| {
        let want = if ins.t > 0.0 { &ins.x } else { &ins.y };
        out.iter()
            .zip(want)
            .all(|(o, &v)| o.to_f64() == v && abs_diff(o, &rl(v, 64)).is_zero())
    }))
}

/// The smooth-unit bound `2βτ(λβ)` at `prec` bits.
pub fn smooth_bound(
    m: f64,
    alpha: f64,
    gain: f64,
    act: Activation,
    lambda: f64,
    prec: u32,
) -> Result<Real> {
    let unit = ReluUnit::new(act, rl(lambda, prec))?;
    select::error_bound(&rl(m, prec), &rl(alpha, prec), &rl(gain, prec), &unit)
}

/// The gate `f·x` of the DP compiler and the slot memory (`Circuit::gate`, i.e. `sel(x, 0, 2f−1)`)
/// on every integer `|x| ≤ m` and `f ∈ {0, 1}`: `(x, f, output)`.
pub fn gate_outputs<S: Scalar>(
    m: i64,
    unit: &ReluUnit<S>,
    prec: u32,
) -> Result<Vec<(i64, i64, Real)>> {
    let (layer, _) = select::gate_standalone(m as f64, unit)?;
    let mut outs = Vec::new();
    for x in -m..=m {
        for f in 0..=1 {
            let v = [S::from_i64(x, prec), S::from_i64(f, prec), S::zero(prec)];
            outs.push((x, f, eval_mlp(&layer, &v, prec)[2].to_real()));
        }
    }
    Ok(outs)
}

/// The gate's cases: exact with ReLU (f64 and MPFR), and within the circuit's forward bound
/// (`Circuit::sink_error_bounds`, the bound the DP compiler uses) with smooth units.
fn gate_cases(ariths: &[Arith], lambdas: &[f64]) -> Result<Vec<Case>> {
    let m = 8;
    let mut cases = Vec::new();
    for &arith in ariths {
        let outs = match arith {
            Arith::F64 => gate_outputs::<f64>(m, &ReluUnit::exact(53), 53)?,
            Arith::Mpfr(p) => gate_outputs::<Real>(m, &ReluUnit::exact(p.bits()), p.bits())?,
        };
        let exact = outs
            .iter()
            .all(|(x, f, o)| abs_diff(o, &Real::from_i64(x * f, 64)).is_zero());
        cases.push(Case::boolean(
            format!("relu gate f·x (the DP/slot-memory gate) at {arith}: exact for |x| ≤ {m}, f ∈ {{0, 1}}"),
            exact,
            format!("{} points", outs.len()),
        ));
    }
    for act in [Activation::Gelu, Activation::Silu] {
        for &lambda in lambdas.iter().filter(|&&l| l >= 4.0) {
            let p = tail_precision(act, lambda * 0.375);
            let unit = ReluUnit::new(act, rl(lambda, p))?;
            let (_, circuit) = select::gate_standalone(m as f64, &unit)?;
            let b = circuit
                .sink_error_bounds(&[0.0, 0.0], act, lambda)
                .ok_or_else(|| {
                    crate::error::Error::compute(format!(
                        "the gate's circuit bound does not apply at λ = {lambda}"
                    ))
                })?;
            let bound = rl(b[0], p);
            let mut w = Worst::new();
            for (x, f, o) in gate_outputs::<Real>(m, &unit, p)? {
                w.add(&abs_diff(&o, &rl((x * f) as f64, p)), &bound, || {
                    format!("x = {x}, f = {f}")
                });
            }
            cases.push(
                w.case(format!(
                    "{} λ={lambda} gate f·x at {p} bits: error ≤ the circuit bound 2δ(3/8)",
                    act.name()
                ))
                .param("lambda", lambda),
            );
        }
    }
    Ok(cases)
}

impl Claim for MlpSelect {
    fn info(&self) -> ClaimInfo {
        ClaimInfo {
            id: "mlp-select",
            paper_ref: "v1 Lemma 3",
            statement: "A ReLU MLP of width 2d+2 with gain K = M/α returns x if t ≥ α and y if t ≤ −α exactly (|x_k|, |y_k| ≤ M); with GeLU/SiLU units φ(λ·)/λ the error is ≤ 2βτ(λβ) when λβ ≥ t*, β = Kα − M > 0 (≤ 2c/λ otherwise).",
        }
    }

    fn explain(&self) -> String {
        include_str!("../../proofs/mlp-select.md").to_string()
    }

    fn runnable_examples(&self) -> Vec<(String, Result<super::RunnableExample>)> {
        let ex = crate::export::examples::mlp_select(0.625, -0.875, -1.0);
        vec![("ReLU selector, x = 0.625, y = -0.875, t = -1".into(), ex)]
    }

    fn run(&self, cfg: &RunConfig) -> Result<ClaimReport> {
        let n = match cfg.mode {
            Mode::Quick => 100,
            Mode::Default => 400,
            Mode::Full => 2000,
        };
        let d = 4;
        let rng = Rng::new(cfg.seed);
        let mut cases = Vec::new();
        let ariths = cfg
            .arith
            .map(|a| vec![a])
            .unwrap_or(vec![Arith::F64, Arith::mpfr(128)]);
        // ReLU: exact (dyadic inputs), and within rounding (random reals).
        for (m, alpha) in [(1.0, 1.0), (8.0, 0.25), (100.0, 1.0 / 64.0)] {
            let gain = m / alpha;
            let dy = instances(
                d,
                m,
                alpha,
                n,
                true,
                &mut rng.stream(&format!("mlp-select/dyadic/M={m}/a={alpha}")),
            );
            let re = instances(
                d,
                m,
                alpha,
                n,
                false,
                &mut rng.stream(&format!("mlp-select/real/M={m}/a={alpha}")),
            );
            for &arith in &ariths {
                cases.push(Case::boolean(
                    format!("relu M={m} α={alpha} K=M/α at {arith}: exact on dyadic inputs"),
                    exact(&dy, gain, arith)?,
                    format!("{n} instances, d = {d}, |t| ∈ [α, 3α]"),
                ));
                if arith == Arith::F64 {
                    let (pts, differ, outside) = f64_in_enclosure(&re, gain)?;
                    cases.push(Case::boolean(
                        format!(
                            "relu M={m} α={alpha} at f64: random reals, the selected input lies in the certified enclosure of the f64 evaluation"
                        ),
                        differ == 0 && outside == 0,
                        format!("{pts} coordinates: {differ} where the f64 output is outside the 53-bit enclosure, {outside} where the selected input is"),
                    ));
                } else {
                    let w = check(
                        &re,
                        gain,
                        Activation::Relu,
                        1.0,
                        &Ball::zero(128),
                        arith.bits(),
                    )?;
                    cases.push(
                        w.case(format!(
                            "relu M={m} α={alpha} at {arith}: random reals, exact network error ≤ 0 (enclosures)"
                        ))
                        .param("M", m)
                        .param("alpha", alpha),
                    );
                }
            }
        }
        // Smooth units: M = 1, α = 1, K = 2 (β = 1).
        let (m, alpha, gain) = (1.0, 1.0, 2.0);
        let lambdas: Vec<f64> = match cfg.mode {
            Mode::Quick => vec![1.0, 2.0, 4.0, 8.0],
            Mode::Default => vec![1.0, 2.0, 4.0, 8.0, 16.0],
            Mode::Full => vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0],
        };
        let re = instances(
            d,
            m,
            alpha,
            n / 2,
            false,
            &mut rng.stream("mlp-select/smooth"),
        );
        for act in [Activation::Gelu, Activation::Silu] {
            for &lambda in &lambdas {
                let p = tail_precision(act, lambda * (gain * alpha - m));
                let wp = 2 * p;
                let unit = ReluUnit::new(act, Ball::from_f64(lambda, wp))?;
                let exact_bound = select::error_bound(
                    &Ball::from_f64(m, wp),
                    &Ball::from_f64(alpha, wp),
                    &Ball::from_f64(gain, wp),
                    &unit,
                )?;
                // Attained up to 2Kατ(λKα) at x = −M, y = M, t = α: certified with 1 + 2^{−p/2}.
                let bound = sharp_slack(&exact_bound, p);
                let w = check(&re, gain, act, lambda, &bound, wp)?;
                cases.push(
                    w.case(format!(
                        "{} λ={lambda} (β=1) at {p} bits: error ≤ {}·(1+2^-{}) (enclosures at 2p bits)",
                        act.name(),
                        select::bound_name(act, lambda, gain * alpha - m),
                        p.div_ceil(2)
                    ))
                    .param("lambda", lambda),
                );
            }
        }
        cases.extend(gate_cases(&ariths, &lambdas)?);
        cases.extend(crate::certify::mark_fixed_precision(
            crate::certify::select_lemma(cfg.mode)?,
            Some(crate::certify::CERT_PREC),
            cfg.arith,
        ));
        let unit = ReluUnit::<f64>::exact(53);
        let layer = select::standalone(d, &100.0, &unit)?;
        let size = ConstructionSize {
            description: format!("ReLU selector, d = {d} (width 2d+2 = {})", 2 * d + 2),
            state_size: 0,
            residual_width: 3 * d + 1,
            mlp_width: layer.hidden_width(),
            nonzero_params: layer.nonzeros(),
            max_abs_param: layer.max_abs_param(),
            ops_per_token: layer.ops_per_step(),
        };
        Ok(ClaimReport::new(
            "mlp-select",
            self.info().paper_ref,
            size,
            cases,
        ))
    }

    fn figures(&self, cfg: &RunConfig) -> Result<Vec<Figure>> {
        let (m, alpha, gain) = (1.0, 1.0, 2.0);
        let re = instances(
            2,
            m,
            alpha,
            100,
            false,
            &mut Rng::new(cfg.seed).stream("mlp-select/figure"),
        );
        let mut series = Vec::new();
        for act in [Activation::Gelu, Activation::Silu] {
            let mut meas = Vec::new();
            let mut bnd = Vec::new();
            for lambda in [0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0] {
                let p = tail_precision(act, lambda);
                let bound = smooth_bound(m, alpha, gain, act, lambda, p)?;
                let w = check(&re, gain, act, lambda, &Ball::zero(p), p)?;
                meas.push((lambda.log10(), w.worst.max_measured_log10));
                bnd.push((lambda.log10(), bound.log10_abs()));
            }
            series.push(Series::new(
                format!("{}: measured max error", act.name()),
                meas,
                Style::LinePoints,
            ));
            series.push(Series::new(
                format!("{}: bound 2βτ(λβ)", act.name()),
                bnd,
                Style::Dashed,
            ));
        }
        let chart = Chart {
            title: "mlp-select with smooth units: error vs λ (M = 1, α = 1, K = 2, β = 1)".into(),
            x_label: "log10 λ".into(),
            y_label: "log10 max error".into(),
            series,
        };
        Ok(vec![Figure::one("mlp-select", chart)])
    }
}
