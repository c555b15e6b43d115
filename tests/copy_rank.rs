//! copy-rank: the bound holds on random blocks and constructions, fails for a state below it,
//! and the sharp (Neumann) version: no rank-deficient M copies with r < 1.

mod common;
use common::runner;
use freelunch::copy::linear::MemoryKind;
use freelunch::copy::rank::{
    analyse, best_r_allowed, position_key_m, random_block_m, rank_bound, row_normalised,
    satisfies_bound,
};
use freelunch::rng::Rng;
use nalgebra::DMatrix;
use proptest::prelude::*;

#[test]
fn bound_rank_and_schur_hold_on_random_blocks() {
    runner(40)
        .run(&(2usize..40, 0.05f64..1.0, any::<u64>()), |(t, f, seed)| {
            let n = ((t as f64 * f).ceil() as usize).clamp(1, t);
            let m = random_block_m(&mut Rng::new(seed), t, n).unwrap();
            for mm in [m.clone(), row_normalised(&m)] {
                let rep = analyse(&mm, n);
                prop_assert!(satisfies_bound(n, t, rep.r));
                prop_assert!(rep.rank <= n);
                if rep.trace > 0.0 {
                    prop_assert!(rep.rank as f64 >= rep.trace.powi(2) / rep.frob_sq * (1.0 - 1e-9));
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn position_key_memory_meets_the_bound_and_a_smaller_state_fails_it() {
    for t in [8usize, 32, 100] {
        let rep = analyse(&position_key_m(t, t, MemoryKind::PositionKey).unwrap(), t);
        assert!(rep.r < 1e-12 && rep.rank == t);
        assert!(satisfies_bound(t, t, rep.r));
        // claiming the same copy error with half the state violates the bound: the check fails
        assert!(!satisfies_bound(t / 2, t, rep.r), "T={t}");
        // and a memory with half the keys really copies worse: r = 1
        let half = analyse(
            &position_key_m(t, t / 2, MemoryKind::PositionKey).unwrap(),
            t / 2,
        );
        assert!((half.r - 1.0).abs() < 1e-12);
    }
}

#[test]
fn rank_deficient_m_never_copies_with_r_below_one() {
    // The stated bound allows r = best_r_allowed(N, T) < 1 with N < T − 1; the Neumann argument
    // (‖M − I‖_∞ < 1 ⇒ M invertible) says no rank-N matrix does better than r = 1.
    runner(60)
        .run(&(3usize..30, any::<u64>()), |(t, seed)| {
            let mut r = Rng::new(seed);
            let n = 1 + r.below(t - 2);
            let a = DMatrix::from_fn(t, n, |_, _| r.uniform(-1.0, 1.0));
            let b = DMatrix::from_fn(n, t, |_, _| r.uniform(-1.0, 1.0));
            // best scaling of a random rank-n matrix toward I still has r ≥ 1
            let m = &a * &b;
            for s in [0.01, 0.1, 0.5, 1.0] {
                let rep = analyse(&(m.clone() * s), n);
                prop_assert!(rep.r >= 1.0 - 1e-9, "r={} with rank {n} < T={t}", rep.r);
            }
            prop_assert!(best_r_allowed(n, t) < 1.0);
            Ok(())
        })
        .unwrap();
    assert!(rank_bound(64, 0.2) > 10.0 && rank_bound(64, 1.0) < 0.0);
}
