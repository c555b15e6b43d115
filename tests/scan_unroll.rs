//! scan-unroll: the recurrent scan equals the unrolled sum within the stated rounding bound,
//! and a deliberately wrong unrolled form is caught.

use freelunch::claims::scan_unroll::{
    compare_at, random_inputs, rounding_scales_case, DecayChoice, RandomSsm,
};
use freelunch::claims::{find, Mode, RunConfig};
use freelunch::model::UnrolledForm;
use freelunch::num::Arith;
use freelunch::report::Status;
use freelunch::rng::Rng;
use proptest::prelude::*;

fn decay_of(k: u8) -> DecayChoice {
    match k % 3 {
        0 => DecayChoice::Mamba1,
        1 => DecayChoice::Scalar,
        _ => DecayChoice::General,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Random layers and inputs: |scan − unrolled| ≤ bound at f64 and at MPFR precisions.
    #[test]
    fn scan_matches_unrolled_within_bound(seed in any::<u64>(), t_len in 2usize..40, n in 1usize..12,
                                          k in 0u8..3, bits in prop::sample::select(vec![0u32, 64, 160, 512])) {
        let mut rng = Rng::new(seed);
        let spec = RandomSsm::new(&mut rng, 3, 2, n, decay_of(k));
        let xs = random_inputs(&mut rng, t_len, 3);
        let arith = if bits == 0 { Arith::F64 } else { Arith::mpfr(bits) };
        let c = compare_at(&spec, &xs, arith, UnrolledForm::Correct);
        prop_assert!(c.worst_ratio_log10 <= 0.0, "ratio 10^{} at {arith}", c.worst_ratio_log10);
    }

    /// The off-by-one decay product (Σ from k=j instead of j+1) violates the bound.
    #[test]
    fn off_by_one_decay_is_caught(seed in any::<u64>(), t_len in 2usize..30, n in 1usize..8, k in 0u8..3) {
        let mut rng = Rng::new(seed);
        let spec = RandomSsm::new(&mut rng, 3, 2, n, decay_of(k));
        let xs = random_inputs(&mut rng, t_len, 3);
        let c = compare_at(&spec, &xs, Arith::mpfr(128), UnrolledForm::DecayIncludesOwnStep);
        prop_assert!(c.worst_ratio_log10 > 0.0, "wrong form not caught: 10^{}", c.worst_ratio_log10);
    }
}

/// At very low precision the bound stays valid (e^{F·ulp} − 1 instead of F·ulp), far from first order.
#[test]
fn bound_holds_at_low_precision() {
    for (bits, k) in [(12u32, 0u8), (16, 1), (24, 0), (24, 2)] {
        let mut rng = Rng::new(bits as u64 + k as u64);
        let spec = RandomSsm::new(&mut rng, 4, 2, 32, decay_of(k));
        let xs = random_inputs(&mut rng, 256, 4);
        let c = compare_at(&spec, &xs, Arith::mpfr(bits), UnrolledForm::Correct);
        assert!(
            c.worst_ratio_log10 <= 0.0,
            "{bits} bits: 10^{}",
            c.worst_ratio_log10
        );
    }
}

#[test]
fn bound_shrinks_with_precision() {
    let mut rng = Rng::new(7);
    let spec = RandomSsm::new(&mut rng, 4, 2, 8, DecayChoice::Mamba1);
    let xs = random_inputs(&mut rng, 32, 4);
    let lo = compare_at(&spec, &xs, Arith::mpfr(64), UnrolledForm::Correct);
    let hi = compare_at(&spec, &xs, Arith::mpfr(256), UnrolledForm::Correct);
    let expected_drop = 192.0 * std::f64::consts::LOG10_2;
    let drop = lo.max_bound_log10 - hi.max_bound_log10;
    assert!(
        (drop - expected_drop).abs() < 0.3,
        "bound dropped by 10^{drop}"
    );
    assert!(hi.max_diff_log10 < lo.max_diff_log10 - 50.0);
}

/// The measured difference scales as 2^-p; a run whose arithmetic ignores p (f64 at every
/// nominal precision) has slope ≈ 0 and fails the case.
#[test]
fn rounding_scaling_fails_when_the_precision_is_ignored() {
    let mut rng = Rng::new(5);
    let spec = RandomSsm::new(&mut rng, 4, 2, 8, DecayChoice::Scalar);
    let xs = random_inputs(&mut rng, 48, 4);
    let bits = [53u32, 64, 256, 1024];
    let real: Vec<(u32, f64)> = bits
        .iter()
        .map(|&b| {
            let a = if b == 53 { Arith::F64 } else { Arith::mpfr(b) };
            (
                b,
                compare_at(&spec, &xs, a, UnrolledForm::Correct).max_diff_log10,
            )
        })
        .collect();
    let good = rounding_scales_case("real", &real).unwrap();
    assert!(good.passed, "{:?}", good.note);
    let f64_only = compare_at(&spec, &xs, Arith::F64, UnrolledForm::Correct).max_diff_log10;
    let fake: Vec<(u32, f64)> = bits.iter().map(|&b| (b, f64_only)).collect();
    assert!(
        !rounding_scales_case("f64 everywhere", &fake)
            .unwrap()
            .passed
    );
    // fewer than three precisions, or an exact zero: no case
    assert!(rounding_scales_case("two", &real[..2]).is_none());
    assert!(rounding_scales_case(
        "zero",
        &[(53, f64::NEG_INFINITY), (64, -20.0), (128, -40.0)]
    )
    .is_none());
}

#[test]
fn f64_agrees_with_256_bits() {
    let mut rng = Rng::new(11);
    let spec = RandomSsm::new(&mut rng, 4, 2, 16, DecayChoice::Scalar);
    let xs = random_inputs(&mut rng, 64, 4);
    let layer64 = spec.build::<f64>(53);
    let layer256 = spec.build::<freelunch::num::Real>(256);
    use freelunch::num::Scalar;
    let in64: Vec<_> = xs.iter().map(|x| layer64.project(x, 53)).collect();
    let in256: Vec<_> = xs
        .iter()
        .map(|x| {
            let v: Vec<_> = x
                .iter()
                .map(|&a| freelunch::num::Real::from_f64(a, 256))
                .collect();
            layer256.project(&v, 256)
        })
        .collect();
    let y64 = layer64.scan(&in64, 53);
    let y256 = layer256.scan(&in256, 256);
    for (a, b) in y64.iter().zip(&y256) {
        for (x, y) in a.iter().zip(b) {
            let scale = y.to_f64().abs().max(1.0);
            assert!((x - y.to_f64()).abs() <= 1e-12 * scale);
        }
    }
}

#[test]
fn claim_quick_passes_and_reports() {
    let claim = find("scan-unroll").unwrap();
    let cfg = RunConfig {
        mode: Mode::Quick,
        ..RunConfig::default()
    };
    let r = claim.run(&cfg).unwrap();
    assert_eq!(r.status, Status::Passed);
    assert!(r.cases.len() >= 8);
    assert!(r.construction.state_size > 0 && r.construction.nonzero_params > 0);
    assert!(r.worst_margin_log10.unwrap() <= 0.0);
    let scaling: Vec<_> = r.cases.iter().filter(|c| c.is("rounding-scales")).collect();
    assert!(!scaling.is_empty());
    // the scaling case compares the fitted slope with −1 as values
    for c in scaling {
        let (m, b) = (c.measured.unwrap(), c.bound.unwrap());
        assert_eq!(b, -1.0);
        assert!((m - b).abs() <= freelunch::claims::scan_unroll::SCALING_TOL);
    }
}

#[test]
fn every_point_is_decided_exactly_and_the_worst_is_an_exceeding_one() {
    use freelunch::report::{Case, Relation};
    let mut r = Rng::new(11);
    let spec = RandomSsm::new(&mut r, 4, 2, 4, DecayChoice::General);
    let xs = random_inputs(&mut r, 12, 4);
    let ok = compare_at(&spec, &xs, Arith::mpfr(128), UnrolledForm::Correct);
    assert_eq!(ok.exceeded, 0);
    assert!(
        Case::from_reals(
            "ok",
            &ok.diff_at_worst,
            &ok.bound_at_worst,
            Relation::AtMost
        )
        .passed
    );
    assert!(ok.bound_at_worst.0.prec() > 53 && ok.diff_at_worst.0.prec() > 53);
    let bad = compare_at(
        &spec,
        &xs,
        Arith::mpfr(128),
        UnrolledForm::DecayIncludesOwnStep,
    );
    assert!(bad.exceeded > 0);
    assert!(
        bad.diff_at_worst > bad.bound_at_worst,
        "the worst point is an exceeding one"
    );
    let c = Case::from_reals(
        "bad",
        &bad.diff_at_worst,
        &bad.bound_at_worst,
        Relation::AtMost,
    );
    assert!(!c.passed);
}
