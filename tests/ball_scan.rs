//! The certified scan end to end: the recurrent scan run in ball arithmetic at `p` bits encloses
//! the scan computed at `4p` bits (the exact scan to far below the radius), for the structured
//! and the general decay, and its widest radius stays within 2^12 ulps of the largest output.
//! Control: the same check rejects the scan's midpoints with their radii dropped.

use freelunch::claims::scan_unroll::{random_inputs, DecayChoice, RandomSsm};
use freelunch::model::ssm::SsmLayer;
use freelunch::num::{Ball, Real, Scalar};
use freelunch::rng::Rng;
use rug::Float;

fn scan<S: Scalar>(spec: &RandomSsm, xs: &[Vec<f64>], prec: u32) -> Vec<Vec<S>> {
    let layer: SsmLayer<S> = spec.build(prec);
    let inputs: Vec<_> = xs
        .iter()
        .map(|x| {
            let v: Vec<S> = x.iter().map(|&a| S::from_f64(a, prec)).collect();
            layer.project(&v, prec)
        })
        .collect();
    layer.scan(&inputs, prec)
}

/// Every output ball contains the 4p-bit reference (to its error ~2^{20−4p}); the number of
/// outputs that miss it.
fn misses(balls: &[Vec<Ball>], reference: &[Vec<Real>], p: u32) -> usize {
    let slack = Float::with_val(64, Float::i_exp(1, 20 - 4 * p as i32));
    let mut n = 0;
    for (yb, yr) in balls.iter().zip(reference) {
        for (b, r) in yb.iter().zip(yr) {
            let mut lo = b.lower();
            lo -= &slack;
            let mut hi = b.upper();
            hi += &slack;
            n += !(lo <= r.0 && r.0 <= hi) as usize;
        }
    }
    n
}

#[test]
fn the_check_fails_on_midpoints_without_their_radii() {
    for decay in [DecayChoice::Mamba1, DecayChoice::General] {
        let p = 64;
        let mut rng = Rng::new(11);
        let spec = RandomSsm::new(&mut rng, 4, 4, 16, decay);
        let xs = random_inputs(&mut rng, 64, 4);
        let mut balls = scan::<Ball>(&spec, &xs, p);
        let reference = scan::<Real>(&spec, &xs, 4 * p);
        assert_eq!(misses(&balls, &reference, p), 0, "{decay:?}");
        for b in balls.iter_mut().flatten() {
            b.set_rad(freelunch::num::Mag::ZERO);
        }
        let n = misses(&balls, &reference, p);
        assert!(
            n > 0,
            "{decay:?}: radii dropped, yet every output is enclosed"
        );
    }
}

#[test]
fn ball_scan_encloses_the_high_precision_scan() {
    for decay in [DecayChoice::Mamba1, DecayChoice::General] {
        for p in [64u32, 256] {
            let mut rng = Rng::new(11);
            let spec = RandomSsm::new(&mut rng, 4, 4, 16, decay);
            let xs = random_inputs(&mut rng, 64, 4);
            let balls = scan::<Ball>(&spec, &xs, p);
            let reference = scan::<Real>(&spec, &xs, 4 * p);
            let (mut widest, mut scale) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
            for (t, (yb, yr)) in balls.iter().zip(&reference).enumerate() {
                for (d, (b, r)) in yb.iter().zip(yr).enumerate() {
                    // the 4p-bit scan is within ~2^{20−4p} of the exact one: far inside the radius
                    let slack = Float::with_val(64, Float::i_exp(1, 20 - 4 * p as i32));
                    let mut lo = b.lower();
                    lo -= &slack;
                    let mut hi = b.upper();
                    hi += &slack;
                    assert!(
                        lo <= r.0 && r.0 <= hi,
                        "{decay:?} {p} bits: y[{t}][{d}] = {} not in {b:?}",
                        r.0
                    );
                    widest = widest.max(b.rad().log2());
                    scale = scale.max(r.0.clone().abs().to_f64().log2());
                }
            }
            // Certified, and tight: the widest radius is within 2^12 ulps of the largest output.
            let rel = widest - scale;
            assert!(
                rel < 12.0 - p as f64,
                "{decay:?} {p}: radius/scale 2^{rel:.1}"
            );
        }
    }
}
