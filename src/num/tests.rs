use super::*;
use rug::Float;

const P: u32 = 1000;

/// Relative difference |a-b|/|b| computed at 4000 bits.
fn rel_diff(a: &Real, b: &Float) -> f64 {
    let mut d = Float::with_val(4000, &a.0 - b);
    if b.is_zero() {
        return d.abs().to_f64();
    }
    d /= b;
    d.abs().to_f64()
}

fn reference(f: impl Fn(&mut Float), x: &Float) -> Float {
    let mut y = Float::with_val(4000, x);
    f(&mut y);
    y
}

#[test]
fn transcendentals_at_1000_bits_match_mpfr() {
    let ulp = 2f64.powi(1 - P as i32);
    for &x in &[-7.25, -0.5, 0.3, 1.0, 2.5, 11.0] {
        let r = Real::from_f64(x, P);
        let xf = Float::with_val(4000, x);
        assert!(rel_diff(&r.exp(), &reference(|v| v.exp_mut(), &xf)) <= ulp);
        assert!(rel_diff(&r.erf(), &reference(|v| v.erf_mut(), &xf)) <= ulp);
        let d = rel_diff(&r.erfc(), &reference(|v| v.erfc_mut(), &xf));
        assert!(d <= ulp, "erfc({x}) rel {d:e}");
        if x > 0.0 {
            assert!(rel_diff(&r.ln(), &reference(|v| v.ln_mut(), &xf)) <= ulp);
            assert!(rel_diff(&r.sqrt(), &reference(|v| v.sqrt_mut(), &xf)) <= ulp);
        }
        if x > -1.0 {
            assert!(rel_diff(&r.ln_1p(), &reference(|v| v.ln_1p_mut(), &xf)) <= ulp);
        }
    }
}

#[test]
fn softplus_extremes_full_relative_precision() {
    let ulp = 2f64.powi(1 - P as i32);
    // softplus(1000) = 1000 + ln(1+e^-1000)
    let sp = Real::from_i64(1000, P).softplus();
    let mut want = Float::with_val(4000, -1000);
    want.exp_mut();
    want.ln_1p_mut();
    want += 1000;
    assert!(rel_diff(&sp, &want) <= 4.0 * ulp, "softplus(1000)");
    // softplus(-1000) = ln(1+e^-1000) ~ e^-1000 (must not be 0 or lose digits)
    let sp = Real::from_i64(-1000, P).softplus();
    let mut want = Float::with_val(4000, -1000);
    want.exp_mut();
    want.ln_1p_mut();
    assert!(rel_diff(&sp, &want) <= 4.0 * ulp, "softplus(-1000)");
    // f64: no overflow, right answer.
    assert_eq!(1000f64.softplus(), 1000.0);
    assert!((30f64.softplus() - (30.0 + (-30f64).exp())).abs() < 1e-13);
    let small = (-40f64).softplus();
    assert!((small / (-40f64).exp() - 1.0).abs() < 1e-14);
}

#[test]
fn gelu_deep_tail_full_relative_precision() {
    let ulp = 2f64.powi(1 - P as i32);
    let g = Real::from_i64(-40, P).gelu();
    // -40 * erfc(40/sqrt2)/2 at 4000 bits
    let mut t = Float::with_val(4000, 2);
    t.sqrt_mut();
    let mut want = Float::with_val(4000, 40) / &t;
    want.erfc_mut();
    want *= -20;
    let d = rel_diff(&g, &want);
    assert!(d <= 8.0 * ulp, "GeLU(-40) rel {d:e} vs ulp {ulp:e}");
    assert!(g.0.is_sign_negative() && !g.0.is_zero());
    // f64 agrees with MPFR to ~1e-14 relative (libm erfc).
    let gf = (-5f64).gelu();
    let gm = Real::from_i64(-5, 200).gelu().to_f64();
    assert!((gf / gm - 1.0).abs() < 1e-13);
}

#[test]
fn sigmoid_silu_relu_basic_identities() {
    for &x in &[-800.0, -3.0, 0.0, 2.0, 800.0] {
        let s = Real::from_f64(x, 300).sigmoid();
        let s_neg = Real::from_f64(-x, 300).sigmoid();
        let one = s.add(&s_neg);
        assert!((one.to_f64() - 1.0).abs() < 1e-80);
        let silu = Real::from_f64(x, 300).silu();
        assert!(silu.sub(&Real::from_f64(x, 300).mul(&s)).is_zero());
        assert!(x.sigmoid().is_finite());
    }
    assert_eq!((-2.0f64).relu(), 0.0);
    assert_eq!(Real::from_i64(3, 64).relu(), Real::from_i64(3, 64));
}

#[test]
fn mixed_precisions_widen() {
    let mut a = Real::from_ratio(1, 3, 64);
    let b = Real::from_ratio(1, 3, 512);
    a.add_assign_s(&b);
    assert_eq!(a.precision(), 512);
    let c = Real::from_ratio(1, 3, 64).mul(&Real::from_i64(1, 256));
    assert_eq!(c.precision(), 256);
    let mut d = Real::from_i64(2, 53);
    d.mul_add_assign(&Real::from_ratio(1, 7, 200), &Real::from_i64(3, 53));
    assert_eq!(d.precision(), 200);
}

#[test]
fn exact_conversions_and_constants() {
    assert_eq!(
        Real::from_i64(i64::MAX, 64).0,
        Float::with_val(64, i64::MAX)
    );
    let third = Real::from_ratio(1, 3, 300);
    let back = third.mul(&Real::from_i64(3, 300));
    assert!((back.to_f64() - 1.0).abs() < 1e-89);
    let pi = Real::pi(1000);
    let want = Float::with_val(1000, rug::float::Constant::Pi);
    assert_eq!(pi.0, want);
    let shp = Real::sqrt_half_pi(1000);
    let mut w = Float::with_val(4000, rug::float::Constant::Pi);
    w /= 2;
    w.sqrt_mut();
    assert!(rel_diff(&shp, &w) <= 2f64.powi(-999));
    assert_eq!(f64::from_ratio(1, 3, 53), 1.0 / 3.0);
}

#[test]
fn fused_ops_round_once() {
    // (1 + 2^-60)*(1 - 2^-60) - 1 = -2^-120: only exact with one rounding.
    let p = 64;
    let e = Real(Float::with_val(p, Float::i_exp(1, -60)));
    let a = Real::one(p).add(&e);
    let b = Real::one(p).sub(&e);
    let mut acc = Real::from_i64(-1, p);
    acc.mul_add_assign(&a, &b);
    assert_eq!(acc.0, Float::with_val(p, Float::i_exp(-1, -120)));
    let mut s = a.clone();
    s.mul_add_mul_assign(&b, &Real::from_i64(-1, p), &Real::one(p));
    assert_eq!(s.0, Float::with_val(p, Float::i_exp(-1, -120)));
}

#[test]
fn precision_validation() {
    assert!(parse_precision("1").is_err());
    assert!(parse_precision("0").is_err());
    assert!(parse_precision("-5").is_err());
    assert!(parse_precision("abc").is_err());
    assert!(parse_precision("99999999999").is_err());
    assert_eq!(parse_precision("f64").unwrap(), Arith::F64);
    assert_eq!(parse_precision("256").unwrap().bits(), 256);
}

#[test]
fn log10_far_outside_f64_range() {
    let mut x = Float::with_val(100, 10);
    rug::ops::PowAssign::pow_assign(&mut x, -5000);
    let l = Real(x).log10_abs();
    assert!((l + 5000.0).abs() < 1e-9);
}

#[test]
fn abs_or_inf_makes_nan_the_largest_magnitude() {
    use super::abs_or_inf;
    assert_eq!(abs_or_inf(-2.5), 2.5);
    assert_eq!(abs_or_inf(f64::NAN), f64::INFINITY);
    // A running maximum with f64::max ignores NaN; through abs_or_inf it does not.
    let errs = [1e-9, f64::NAN, 1e-12];
    assert_eq!(errs.iter().map(|e| e.abs()).fold(0.0, f64::max), 1e-9);
    assert_eq!(
        errs.iter().map(|&e| abs_or_inf(e)).fold(0.0, f64::max),
        f64::INFINITY
    );
}
