//! Containment tests of `Ball` against MPFR at `2p` bits: for random input balls and points
//! inside them (their ends included), the exact result computed at `2p` bits must lie in the
//! output ball. The checker is shown to fail on a radius that is too narrow.

use super::*;
use crate::rng::Rng;
use rug::Float;

/// A random input ball: midpoint `lo..hi`, radius 0 or `|mid|·2^-k` for a random `k`.
fn random_ball(rng: &mut Rng, lo: f64, hi: f64, p: u32) -> Ball {
    let m = rng.uniform(lo, hi);
    let mut b = Ball::from_f64(m, p);
    if rng.below(4) != 0 {
        let k = 8 + rng.below(p as usize) as i64;
        b.set_rad(
            b.rad()
                .add(Mag::from_f64_up(m.abs().max(1e-300)).mul(Mag::pow2(-k))),
        );
    }
    b
}

/// Points of the ball: both ends, the midpoint and two interior points (exact, at `4p` bits).
fn points(b: &Ball) -> Vec<Float> {
    let wp = 4 * b.precision() + 64;
    let r = b.rad().to_float();
    [-1.0, -0.3125, 0.0, 0.6875, 1.0]
        .iter()
        .map(|&s| Float::with_val(wp, &b.mid()) + Float::with_val(wp, &r * s))
        .collect()
}

/// `reference` (computed at `2p` bits, relative error ≤ 2^{16−2p}) lies in `out`.
fn encloses(out: &Ball, reference: &Float) -> bool {
    if reference.is_nan() {
        return out.is_nan();
    }
    let p = out.precision();
    let wp = 4 * p + 64;
    let d = Float::with_val(wp, &out.mid() - reference).abs();
    let slack = Float::with_val(wp, reference.abs_ref()) >> (2 * p as i32 - 16);
    d <= Float::with_val(wp, out.rad().to_float() + slack)
}

type Unary = (&'static str, f64, f64, fn(&mut Ball), fn(&mut Real));

fn unary_ops() -> Vec<Unary> {
    vec![
        ("exp", -50.0, 50.0, |b| b.exp_mut(), |r| r.exp_mut()),
        ("ln", 1e-3, 1e3, |b| b.ln_mut(), |r| r.ln_mut()),
        ("ln_1p", -0.9, 1e3, |b| b.ln_1p_mut(), |r| r.ln_1p_mut()),
        ("sqrt", 1e-3, 1e3, |b| b.sqrt_mut(), |r| r.sqrt_mut()),
        ("erf", -6.0, 6.0, |b| b.erf_mut(), |r| r.erf_mut()),
        ("erfc", -6.0, 25.0, |b| b.erfc_mut(), |r| r.erfc_mut()),
        (
            "sigmoid",
            -60.0,
            60.0,
            |b| b.sigmoid_mut(),
            |r| r.sigmoid_mut(),
        ),
        (
            "softplus",
            -60.0,
            60.0,
            |b| b.softplus_mut(),
            |r| r.softplus_mut(),
        ),
        ("silu", -60.0, 60.0, |b| b.silu_mut(), |r| r.silu_mut()),
        ("gelu", -30.0, 30.0, |b| b.gelu_mut(), |r| r.gelu_mut()),
        (
            "normal_cdf",
            -30.0,
            30.0,
            |b| *b = b.normal_cdf(),
            |r| *r = r.normal_cdf(),
        ),
        ("relu", -2.0, 2.0, |b| b.relu_mut(), |r| r.relu_mut()),
        ("abs", -2.0, 2.0, |b| b.abs_mut(), |r| r.abs_mut()),
        ("neg", -2.0, 2.0, |b| b.neg_mut(), |r| r.neg_mut()),
    ]
}

#[test]
fn every_unary_op_encloses_the_exact_result() {
    let mut rng = Rng::new(91);
    for p in [53u32, 113, 256] {
        for (name, lo, hi, fb, fr) in unary_ops() {
            for _ in 0..40 {
                let mut x = random_ball(&mut rng, lo, hi, p);
                if name == "ln" || name == "sqrt" || name == "ln_1p" {
                    // keep the ball inside the domain
                    x.set_rad(
                        x.rad()
                            .min(Mag::from_float_down(&x.mid()).mul(Mag::pow2(-4))),
                    );
                }
                let mut out = x.clone();
                fb(&mut out);
                assert!(
                    !out.rad().is_inf(),
                    "{name} at {p} bits: infinite radius for {x:?}"
                );
                for pt in points(&x) {
                    let mut r = Real(Float::with_val(2 * p, &pt));
                    fr(&mut r);
                    assert!(
                        encloses(&out, &r.0),
                        "{name} at {p} bits: {x:?} ↦ {out:?} misses f({}) = {}",
                        pt.to_f64(),
                        r.0
                    );
                }
            }
        }
    }
}

type Binary = (&'static str, fn(&mut Ball, &Ball), fn(&mut Real, &Real));

#[test]
fn every_binary_and_fused_op_encloses_the_exact_result() {
    let ops: Vec<Binary> = vec![
        ("add", |a, b| a.add_assign_s(b), |a, b| a.add_assign_s(b)),
        ("sub", |a, b| a.sub_assign_s(b), |a, b| a.sub_assign_s(b)),
        ("mul", |a, b| a.mul_assign_s(b), |a, b| a.mul_assign_s(b)),
        ("div", |a, b| a.div_assign_s(b), |a, b| a.div_assign_s(b)),
        ("max", |a, b| *a = a.max_s(b), |a, b| *a = a.max_s(b)),
        ("min", |a, b| *a = a.min_s(b), |a, b| *a = a.min_s(b)),
    ];
    let mut rng = Rng::new(17);
    for p in [53u32, 113, 256] {
        for (name, fb, fr) in &ops {
            for _ in 0..60 {
                let x = random_ball(&mut rng, -1e3, 1e3, p);
                let mut y = random_ball(&mut rng, 0.5, 50.0, p);
                if rng.below(2) == 0 {
                    y.neg_mut();
                }
                let mut out = x.clone();
                fb(&mut out, &y);
                for px in points(&x) {
                    for py in points(&y) {
                        let mut r = Real(Float::with_val(2 * p, &px));
                        fr(&mut r, &Real(Float::with_val(2 * p, &py)));
                        assert!(
                            encloses(&out, &r.0),
                            "{name} at {p}: {x:?}, {y:?} ↦ {out:?}"
                        );
                    }
                }
            }
        }
        // Fused: s + a·b and s·a + b·c.
        for _ in 0..60 {
            let [s, a, bb, c] = [(); 4].map(|_| random_ball(&mut rng, -30.0, 30.0, p));
            let mut fma = s.clone();
            fma.mul_add_assign(&a, &bb);
            let mut fmma = s.clone();
            fmma.mul_add_mul_assign(&a, &bb, &c);
            for (k, ((ps, pa), (pb, pc))) in points(&s)
                .into_iter()
                .zip(points(&a))
                .zip(points(&bb).into_iter().zip(points(&c)))
                .enumerate()
            {
                let w = 4 * p + 64;
                let want = Float::with_val(w, &ps + Float::with_val(w, &pa * &pb));
                assert!(encloses(&fma, &want), "fma #{k} at {p}");
                let want = Float::with_val(
                    w,
                    Float::with_val(w, &ps * &pa) + Float::with_val(w, &pb * &pc),
                );
                assert!(encloses(&fmma, &want), "fmma #{k} at {p}");
            }
        }
    }
}

#[test]
fn constants_and_conversions_enclose_their_values() {
    for p in [2u32, 10, 53, 200] {
        let pi = Ball::pi(p);
        assert!(encloses(
            &pi,
            &Float::with_val(4 * p + 64, rug::float::Constant::Pi)
        ));
        let third = Ball::from_ratio(1, 3, p);
        assert!(third.contains_rational(&rug::Rational::from((1, 3))));
        let x = Ball::from_f64(0.1, p);
        assert!(x.contains_rational(&rug::Rational::from_f64(0.1).unwrap()));
        let mut half_pi = Float::with_val(4 * p + 64, rug::float::Constant::Pi);
        half_pi /= 2;
        half_pi.sqrt_mut();
        assert!(encloses(&Ball::sqrt_half_pi(p), &half_pi));
    }
}

#[test]
fn a_too_narrow_radius_is_caught() {
    // The same checker that passes the true enclosures rejects each op's radius divided by 4:
    // the image of the ball's ends reaches beyond it.
    let p = 113;
    let mut x = Ball::from_f64(0.75, p);
    x.set_rad(Mag::pow2(-20));
    for (name, _, _, fb, fr) in unary_ops() {
        if name == "relu" || name == "abs" || name == "neg" {
            continue;
        }
        let mut out = x.clone();
        fb(&mut out);
        let caught = {
            let mut narrow = out.clone();
            narrow.set_rad(narrow.rad().mul(Mag::pow2(-2)));
            points(&x).iter().any(|pt| {
                let mut r = Real(Float::with_val(2 * p, pt));
                fr(&mut r);
                !encloses(&narrow, &r.0)
            })
        };
        assert!(caught, "{name}: a radius / 4 was not caught");
        // ... and the true radius is not wildly pessimistic (within 4× of the image's half-width).
        let lo = {
            let mut r = Real(Float::with_val(2 * p, x.lower()));
            fr(&mut r);
            r.0
        };
        let hi = {
            let mut r = Real(Float::with_val(2 * p, x.upper()));
            fr(&mut r);
            r.0
        };
        let half = Float::with_val(64, &hi - &lo).abs() / 2;
        assert!(
            out.rad().to_float() <= half * 4,
            "{name}: radius {:e} too wide",
            out.rad().to_f64()
        );
    }
    // Rounding: an exact-point op that rounds must carry a nonzero radius.
    let mut third = Ball::one(p);
    third.div_assign_s(&Ball::from_i64(3, p));
    assert!(!third.rad().is_zero());
    let mut zero_rad = third.clone();
    zero_rad.set_rad(Mag::ZERO);
    assert!(!zero_rad.contains_rational(&rug::Rational::from((1, 3))));
}

#[test]
fn certified_comparisons_see_the_radius_while_ordering_uses_midpoints() {
    let p = 64;
    let mut a = Ball::from_f64(1.0, p);
    a.set_rad(Mag::pow2(-3));
    let bb = Ball::from_f64(1.1, p);
    assert!(a.mid_lt(&bb), "midpoint order for control flow");
    assert!(
        !a.certainly_lt(&bb) && !a.certainly_le(&bb),
        "overlap: not certain"
    );
    let c = Ball::from_f64(1.2, p);
    assert!(a.certainly_lt(&c));
    assert!(!a.contains_zero() && Ball::from_f64(0.0, p).contains_zero());
    // relu across 0 encloses [0, hi]
    let mut s = Ball::from_f64(-0.1, p);
    s.set_rad(Mag::pow2(-2));
    s.relu_mut();
    assert!(s.contains(&Float::with_val(p, 0)) && s.contains(&Float::with_val(p, 0.15)));
    // ln and division refuse a ball that reaches 0
    let mut z = Ball::from_f64(0.1, p);
    z.set_rad(Mag::pow2(-2));
    assert!(z.ln().is_nan() && Ball::one(p).div(&z).is_nan());
}

#[test]
fn radii_survive_below_f64_range() {
    // e^{-2000} is far below f64's smallest number; its ball is a true, nonzero enclosure.
    let x = Ball::from_i64(-2000, 256).exp();
    assert!(x.mid().is_finite() && !x.mid().is_zero());
    let mut want = Float::with_val(600, -2000);
    want.exp_mut();
    assert!(encloses(&x, &want));
    assert!(x.rad().log2() < -2000.0 * std::f64::consts::LOG2_E - 200.0);
}

#[test]
fn far_below_mpfr_range_the_ball_stays_positive_and_its_ends_round_outward() {
    // e^{-10^12} is below MPFR's exponent range but not Arb's: the ball is a true, certainly
    // positive enclosure, and its ends, read back into MPFR, round outward (0 below, the
    // smallest positive number above), never claiming an exact 0.
    let x = Ball::from_f64(-1e12, 64).exp();
    assert!(
        !x.is_zero() && !x.rad().is_inf() && x.certainly_positive(),
        "{x:?}"
    );
    assert!(x.upper() > 0 && x.lower() >= 0, "{x:?}");
    let log2 = x.log10_abs() / std::f64::consts::LOG10_2;
    let want = -1e12 * std::f64::consts::LOG2_E;
    assert!(
        (log2 - want).abs() < 1e-3 * want.abs(),
        "log2 {log2} vs {want}"
    );
    // its negation is certainly negative, with the lower end rounded down past MPFR's range
    let y = x.neg();
    assert!(y.certainly_negative() && y.lower() < 0 && y.upper() <= 0);
}

/// `k + 1` evenly spaced points of the ball, its ends included (exact, at `4p + 64` bits).
fn grid(b: &Ball, k: usize) -> Vec<Float> {
    let wp = 4 * b.precision() + 64;
    let r = b.rad().to_float();
    (0..=k)
        .map(|i| {
            let s = Float::with_val(wp, 2 * i as i64 - k as i64) / k as u32;
            Float::with_val(wp, &b.mid()) + Float::with_val(wp, &r * s)
        })
        .collect()
}

/// A ball of midpoint `m` and radius `r` (both exact f64) at `p` bits.
fn wide(m: f64, r: f64, p: u32) -> Ball {
    let mut b = Ball::from_f64(m, p);
    b.set_rad(b.rad().add(Mag::from_f64_up(r)));
    b
}

#[test]
fn wide_balls_enclose_the_image_across_kinks_and_tails() {
    // Radii of several units: balls straddling 0 (ReLU's kink, GeLU's minimum near −0.75,
    // SiLU's near −1.28) and balls with hi ≤ −1 (GeLU/SiLU's tail derivative branches).
    let mut rng = Rng::new(29);
    for p in [24u32, 53, 113] {
        for (name, _, _, fb, fr) in unary_ops() {
            let domain_limited = matches!(name, "ln" | "ln_1p" | "sqrt");
            for case in 0..24 {
                let x = if domain_limited {
                    // wide, but inside the domain: mid ≥ 2r + 1
                    let r = rng.uniform(0.5, 4.0);
                    wide(2.0 * r + 1.0 + rng.uniform(0.0, 3.0), r, p)
                } else if case % 2 == 0 {
                    // straddling 0
                    let r = rng.uniform(0.5, 5.0);
                    wide(rng.uniform(-0.9, 0.9) * r, r, p)
                } else {
                    // entirely ≤ −1: hi = m + r ≤ −1
                    let r = rng.uniform(0.25, 4.0);
                    wide(-1.0 - r - rng.uniform(0.0, 20.0), r, p)
                };
                let mut out = x.clone();
                fb(&mut out);
                assert!(!out.is_nan(), "{name} at {p} bits: NaN for {x:?}");
                for pt in grid(&x, 32) {
                    let mut r = Real(Float::with_val(2 * p, &pt));
                    fr(&mut r);
                    assert!(
                        encloses(&out, &r.0),
                        "{name} at {p} bits: {x:?} ↦ {out:?} misses f({}) = {}",
                        pt.to_f64(),
                        r.0
                    );
                }
            }
        }
    }
}

#[test]
fn the_tail_branches_are_taken_and_tighter_than_the_global_derivative_bound() {
    // hi ≤ −1: the GeLU/SiLU radius uses the tail derivative bound, far below 1.13·r / 1.1·r.
    let p = 113;
    let x = wide(-12.0, 3.0, p); // hi = −9
    let g = x.gelu();
    let s = x.silu();
    assert!(
        g.rad().to_f64() < 1e-10 && s.rad().to_f64() < 1e-2,
        "{g:?} {s:?}"
    );
    for pt in grid(&x, 64) {
        let mut r = Real(Float::with_val(2 * p, &pt));
        r.gelu_mut();
        assert!(encloses(&g, &r.0));
        let mut r = Real(Float::with_val(2 * p, &pt));
        r.silu_mut();
        assert!(encloses(&s, &r.0));
    }
    // A straddling ReLU ball encloses [0, hi] and no more than that.
    let mut r = wide(-1.0, 3.0, p);
    r.relu_mut();
    assert!(r.contains(&Float::with_val(p, 0)) && r.contains(&Float::with_val(p, 2)));
    assert!(r.lower() > -1e-6 && r.upper() < 2.0 + 1e-6, "{r:?}");
}

#[test]
fn division_and_logs_near_zero_refuse_or_enclose() {
    let p = 53;
    let num = wide(1.0, 0.5, p);
    // A denominator straddling 0: no enclosure (NaN, infinite radius), never a finite claim.
    for (m, r) in [(0.0, 1.0), (0.5, 3.0), (-0.01, 0.02), (1e-300, 1e-300)] {
        let q = num.div(&wide(m, r, p));
        assert!(q.is_nan() && q.rad().is_inf(), "1/({m} ± {r}) = {q:?}");
    }
    // Close to 0 but not reaching it: a huge but finite enclosure that holds every quotient.
    for (m, r) in [(0.01, 0.0099), (-0.5, 0.49), (1e-6, 9e-7)] {
        let den = wide(m, r, p);
        let q = num.div(&den);
        assert!(!q.is_nan() && !q.rad().is_inf(), "{q:?}");
        for a in grid(&num, 8) {
            for d in grid(&den, 8) {
                let want = Float::with_val(2 * p, &a / &d);
                assert!(encloses(&q, &want), "{a} / {d} = {want} ∉ {q:?}");
            }
        }
    }
    // ln, ln_1p, sqrt of balls reaching outside their domain: NaN.
    assert!(wide(1.0, 1.5, p).ln().is_nan());
    assert!(wide(0.0, 1.5, p).ln_1p().is_nan());
    assert!(wide(1.0, 1.5, p).sqrt().is_nan());
}

#[test]
fn radii_outside_mpfr_range_saturate_upward() {
    // Far below MPFR's smallest number: the radius stays positive (never rounds to 0) ...
    let tiny = Mag::pow2(-(1i64 << 40));
    let f = tiny.to_float();
    assert!(f > 0 && f.is_finite(), "{f}");
    let mut b = Ball::from_f64(0.0, 64);
    b.set_rad(tiny);
    assert!(b.upper() > 0 && b.lower() < 0 && !b.certainly_nonnegative());
    // ... and far above its largest it becomes +∞, not a clamped finite number.
    assert!(Mag::pow2(1i64 << 40).to_float().is_infinite());
    // Inside the range it is exact.
    assert_eq!(
        Mag::pow2(-3000).to_float(),
        Float::with_val(64, Float::i_exp(1, -3000))
    );
}

/// The certified sign tests agree with comparing the rounded ends `lower()`/`upper()` with 0,
/// including radii equal to |mid|, zero radii and infinite radii; ReLU encloses `[max(lo, 0),
/// max(hi, 0)]` (checked at its ends and interior points) and never reaches below 0.
#[test]
fn sign_tests_agree_with_the_rounded_ends_and_relu_encloses_its_image() {
    let mut rng = Rng::new(17);
    let p = 96;
    let mut balls = Vec::new();
    for _ in 0..400 {
        balls.push(random_ball(&mut rng, -2.0, 2.0, p));
    }
    for m in [0.0, 0.75, -0.75, 3.0e-200, -5.0e250] {
        for rad in [
            Mag::ZERO,
            Mag::from_f64_up(m.abs()),
            Mag::INF,
            Mag::pow2(-2000),
        ] {
            balls.push(Ball::with_radius(&Float::with_val(p, m), rad, p));
        }
        // radius exactly |mid| (the lower end is exactly 0) and one unit above it
        let mut b = Ball::from_f64(m, p);
        b.set_rad(Mag::from_float_up(&Float::with_val(64, m.abs())));
        balls.push(b.clone());
        b.set_rad(b.rad().add(Mag::pow2(-1100)));
        balls.push(b);
    }
    for b in &balls {
        assert_eq!(b.certainly_nonnegative(), b.lower() >= 0, "{b:?}");
        assert_eq!(b.certainly_positive(), b.lower() > 0, "{b:?}");
        assert_eq!(b.certainly_negative(), b.upper() < 0, "{b:?}");
        let mut got = b.clone();
        got.relu_mut();
        if b.rad().is_inf() {
            continue;
        }
        assert!(got.lower() >= 0 || got.is_nan(), "{b:?} ↦ {got:?}");
        for pt in points(b) {
            let want = if pt < 0 { Float::with_val(p, 0) } else { pt };
            assert!(got.contains(&want), "{b:?} ↦ {got:?} misses {want}");
        }
    }
}
