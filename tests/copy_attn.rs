//! copy-attn: the width-3 construction copies with λ = log(2σT/ε); the flat instance needs
//! exactly the necessary gap; gaps below it fail.

mod common;
use common::runner;
use freelunch::claims::copy_attn_support::{
    attn_values, minimal_gap_at, quadratic_error_log10, quadratic_gap_bound,
};
use freelunch::copy::attention::{necessary_gap, sufficient_gap, AttnKind, AttnPrepared};
use freelunch::error::Error;
use freelunch::num::{Arith, Real, Scalar};
use freelunch::rng::Rng;
use proptest::prelude::*;
use rug::Float;

#[test]
fn quadratic_construction_copies_within_eps() {
    let strat = (2usize..3000, any::<u64>(), -9.0f64..-1.0, any::<bool>());
    runner(24)
        .run(&strat, |(t, seed, eps_l, adv)| {
            let mut r = Rng::new(seed);
            let target = 1 + r.below(t);
            let vals = attn_values(&mut r, t, target, adv);
            let eps = 10f64.powf(eps_l);
            let e = quadratic_error_log10::<Real>(&vals, target, eps, 96).unwrap();
            prop_assert!(e <= eps_l, "T={t} p={target}: error 10^{e} > ε 10^{eps_l}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn flat_instance_needs_exactly_the_necessary_gap() {
    for t in [2usize, 10, 333, 5000] {
        let vals = attn_values(&mut Rng::new(0), t, 1, true);
        let g = minimal_gap_at(AttnKind::Flat, &vals, 1, 1e-4, Arith::mpfr(128)).unwrap();
        let nec = necessary_gap(1.0, 1e-4, t);
        assert!((g - nec).abs() < 1e-8, "T={t}: {g} vs {nec}");
        assert!(g <= sufficient_gap(1.0, 1e-4, t));
    }
}

#[test]
fn gap_below_necessary_fails() {
    let eps = 1e-3;
    for t in [3usize, 100, 20_000] {
        let vals = attn_values(&mut Rng::new(0), t, 2, true);
        let p: AttnPrepared<Real> = AttnPrepared::new(AttnKind::Flat, &vals, 2, 128).unwrap();
        let below = necessary_gap(1.0, eps, t) - 1e-3;
        let e = p.error(&Real(Float::with_val(128, below))).unwrap();
        assert!(
            e.to_f64() > eps,
            "T={t}: accuracy reached below the necessary gap"
        );
        // the quadratic construction with a gap far too small fails as well
        let q: AttnPrepared<Real> = AttnPrepared::new(AttnKind::Quadratic, &vals, 2, 128).unwrap();
        let e = q.error(&Real(Float::with_val(128, 1.0))).unwrap();
        assert!(e.to_f64() > eps);
    }
}

#[test]
fn quadratic_minimal_gap_does_not_grow_with_t() {
    let eps = 1e-3;
    let mut gaps = Vec::new();
    for t in [50usize, 500, 5000] {
        let vals = attn_values(&mut Rng::new(0), t, t / 2, true);
        gaps.push(minimal_gap_at(AttnKind::Quadratic, &vals, t / 2, eps, Arith::mpfr(96)).unwrap());
    }
    let spread = gaps.iter().cloned().fold(f64::MIN, f64::max)
        - gaps.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread < 1e-6, "{gaps:?}");
    assert!((gaps[0] - (4.0f64 / eps).ln()).abs() < 0.01);
}

#[test]
fn bad_input_is_rejected() {
    let vals = vec![0.5; 10];
    assert!(matches!(
        AttnPrepared::<f64>::new(AttnKind::Quadratic, &vals[..1], 1, 53),
        Err(Error::Input(_))
    ));
    match AttnPrepared::<f64>::new(AttnKind::Quadratic, &vals, 11, 53) {
        Err(Error::Input(m)) => assert!(m.contains("outside")),
        _ => panic!("target beyond the sequence accepted"),
    }
    for eps in [0.0, -1.0, 2.0, f64::NAN] {
        assert!(matches!(
            quadratic_error_log10::<f64>(&vals, 1, eps, 53),
            Err(Error::Input(_))
        ));
    }
}

/// The quadratic head's minimal gap stays below the T-free bound log(4σ(1+c)/ε) at every T; the
/// flat head (scores linear in position) exceeds it once T is large: the case can fail.
#[test]
fn quadratic_gap_is_free_of_t_and_the_flat_head_is_not() {
    let eps = 1e-3;
    let bound = quadratic_gap_bound(1.0, eps);
    for t in [10usize, 1000, 20_000] {
        let vals = attn_values(&mut Rng::new(1), t, t / 2, true);
        let q = minimal_gap_at(AttnKind::Quadratic, &vals, t / 2, eps, Arith::mpfr(128)).unwrap();
        assert!(q <= bound, "T={t}: {q} > {bound}");
    }
    let vals = attn_values(&mut Rng::new(1), 1000, 1, true);
    let flat = minimal_gap_at(AttnKind::Flat, &vals, 1, eps, Arith::mpfr(128)).unwrap();
    assert!(flat > bound + 1.0, "flat {flat} vs {bound}");
}

#[test]
fn the_quadratic_error_is_a_value_compared_exactly_with_eps() {
    use freelunch::claims::copy_attn_support::quadratic_error;
    let vals = attn_values(&mut Rng::new(3), 1000, 500, true);
    let e = quadratic_error::<Real>(&vals, 500, 1e-8, 128).unwrap();
    assert!(e.0.prec() > 53, "kept in MPFR, not rounded to f64");
    assert_eq!(
        e.log10_abs(),
        quadratic_error_log10::<Real>(&vals, 500, 1e-8, 128).unwrap()
    );
    assert!(e <= Real::from_f64(1e-8, 53));
    // ε just below the measured error (a relative 1e-20, invisible in f64 log10) fails
    let mut below = e.clone();
    below.mul_assign_s(&Real(
        Float::with_val(200, 1) - Float::with_val(200, Float::i_exp(1, -66)),
    ));
    let c = freelunch::report::Case::from_reals(
        "below",
        &e,
        &below,
        freelunch::report::Relation::AtMost,
    );
    assert!(!c.passed);
}
