//! copy-rank: the sharp step (N < T ⇒ r ≥ 1) on random blocks and constructions, attained by
//! the position-key memory; the step and tightness cases fail on a mis-stated model; the stated
//! bound needs its hypothesis r ≤ 1 (counterexample M = 10·11ᵀ).

mod common;
use common::runner;
use freelunch::claims::copy_rank::{constructions_at, step_cases, tight_case, Reach};
use freelunch::claims::{find, Mode, RunConfig};
use freelunch::copy::linear::MemoryKind;
use freelunch::copy::rank::{
    analyse, best_r_allowed, literal_counterexample, neumann_holds, position_key_m, random_block_m,
    rank_bound, row_normalised, satisfies_bound, stated_formula, step_holds,
};
use freelunch::report::Status;
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
        let rep = analyse(&position_key_m(t, t, MemoryKind::Position).unwrap(), t);
        assert!(rep.r < 1e-12 && rep.rank == t);
        assert!(satisfies_bound(t, t, rep.r));
        // claiming the same copy error with half the state violates the bound: the check fails
        assert!(!satisfies_bound(t / 2, t, rep.r), "T={t}");
        // and a memory with half the keys really copies worse: r = 1
        let half = analyse(
            &position_key_m(t, t / 2, MemoryKind::Position).unwrap(),
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

#[test]
fn stated_formula_is_false_for_r_above_one() {
    // M = 10·11ᵀ: rank 1, so a state N = 1 realises it, with r = |1 − 10| + 15·10 = 159.
    let m = literal_counterexample(16, 10.0);
    let rep = analyse(&m, 1);
    assert_eq!(rep.rank, 1);
    assert_eq!(rep.r, 159.0);
    // the formula read literally asks for N ≥ 16·158²/(160² + 159²) − 1 ≈ 6.85 > 1: false
    let literal = stated_formula(16, rep.r);
    assert!(literal > 6.8 && literal < 6.9, "{literal}");
    assert!((rep.state as f64) < literal);
    // with the hypothesis r ≤ 1 nothing is required, and the step is not violated
    assert!(satisfies_bound(1, 16, rep.r) && step_holds(&rep));
}

#[test]
fn step_and_tightness_cases_fail_on_a_misstated_model() {
    // a T-key memory (r = 0, rank T) reported with T/2 states violates the step
    for t in [16usize, 48] {
        let mut rep = analyse(&position_key_m(t, t, MemoryKind::Position).unwrap(), t);
        assert!(step_holds(&rep) && neumann_holds(&rep));
        rep.state = t / 2;
        assert!(!step_holds(&rep));
        let cases = step_cases("control", &rep);
        assert!(cases.iter().any(|c| !c.passed), "T={t}");
    }
    // a rank-deficient M that claims r < 1 violates r < 1 ⇒ rank T
    let mut rep = analyse(&literal_counterexample(8, 0.0), 8);
    rep.r = 0.5;
    assert!(!neumann_holds(&rep));
    // tightness: a best r of 1.2 at N < T, or of 1 at N = T, is not the step's value
    let reach = |t, n, r: f64| Reach {
        t,
        n,
        best_r: r,
        best_by: "control".into(),
        all: vec![],
    };
    assert!(!tight_case(&reach(16, 8, 1.2)).passed);
    assert!(!tight_case(&reach(16, 16, 1.0)).passed);
    assert!(tight_case(&reach(16, 8, 1.0)).passed);
}

#[test]
fn the_step_is_attained_at_every_state_size() {
    let rng = Rng::new(3);
    for (t, n) in [(16usize, 4usize), (16, 12), (16, 16), (32, 31)] {
        let built = constructions_at(&rng, t, n, 1).unwrap();
        let best = built.iter().map(|b| b.1.r).fold(f64::INFINITY, f64::min);
        let want = if n < t { 1.0 } else { 0.0 };
        assert_eq!(best, want, "T={t} N={n}");
        for (label, rep) in &built {
            assert!(step_holds(rep) && neumann_holds(rep), "{label} T={t} N={n}");
        }
    }
}

#[test]
fn claim_cases_are_the_step_and_its_attainment() {
    let r = find("copy-rank")
        .unwrap()
        .run(&RunConfig {
            mode: Mode::Quick,
            ..RunConfig::default()
        })
        .unwrap();
    assert_eq!(r.status, Status::Passed);
    // every case is one of the three checks, found by its key (not its label)
    let steps: Vec<_> = r.cases.iter().filter(|c| c.is("step")).collect();
    assert!(!steps.is_empty());
    for c in &steps {
        let k = c.key.as_ref().unwrap();
        assert!(
            k.size_u64("N").unwrap() < k.size_u64("T").unwrap(),
            "{}",
            c.id
        );
    }
    assert!(r.cases.iter().any(|c| c.is("full-rank")));
    let attained: Vec<_> = r.cases.iter().filter(|c| c.is("step-attained")).collect();
    // attainment is checked on both sides of the step: N < T and N ≥ T
    let n_vs_t = |c: &&freelunch::report::Case| {
        let k = c.key.as_ref().unwrap();
        k.size_u64("N").unwrap() < k.size_u64("T").unwrap()
    };
    assert!(attained.iter().any(n_vs_t) && !attained.iter().all(n_vs_t));
    assert!(r
        .cases
        .iter()
        .all(|c| c.is("step") || c.is("full-rank") || c.is("step-attained")));
    // ids are the keys': unique and stable
    let ids: std::collections::BTreeSet<_> = r.cases.iter().map(|c| &c.id).collect();
    assert_eq!(ids.len(), r.cases.len());
    assert!(steps[0].id.starts_with("copy-rank/step/"));
}
