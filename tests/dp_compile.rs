//! Compiled DP models: greedy decoding equals the reference solver (proofs/README.md), the
//! memory error stays below its bound, and every hypothesis, when violated, makes the check fail.

mod common;
use common::all_inputs;

use freelunch::dp::{compile, Compiled, DpProblem, MemoryKind, Options};
use freelunch::memory::Use;
use freelunch::model::Activation;
use freelunch::num::{Ball, Real, Scalar};
use freelunch::rng::Rng;
use proptest::prelude::*;

/// Every DP memory of the catalog.
fn memories() -> Vec<MemoryKind> {
    MemoryKind::usable_for(Use::Dp)
}

fn exact_on<S: Scalar>(p: &dyn DpProblem, opt: &Options, bits: u32, inputs: &[Vec<usize>]) -> bool {
    let c: Compiled<S> = compile(p, opt, bits).unwrap();
    inputs.iter().all(|x| c.run(p, x).unwrap().exact)
}

#[test]
fn exhaustive_tiny_instances_decode_exactly_in_f64_every_memory() {
    let probs: Vec<Box<dyn DpProblem>> = vec![
        Box::new(freelunch::dp::problem("edit", "n1=2 n2=2 sigma=2 ins=1 del=1 sub=1").unwrap()),
        Box::new(freelunch::dp::problem("edit", "n1=2 n2=3 sigma=3 ins=2 del=1 sub=3").unwrap()),
        Box::new(freelunch::dp::problem("lis", "n=4 sigma=4").unwrap()),
        Box::new(freelunch::dp::problem("linrec", "coeffs=1,2 q=3 steps=6").unwrap()),
        Box::new(freelunch::dp::problem("eca", "rule=110 width=4 rows=3").unwrap()),
    ];
    for p in &probs {
        let inputs = all_inputs(p.as_ref());
        for m in memories() {
            let opt = Options::new(m, Activation::Relu);
            assert!(
                exact_on::<f64>(p.as_ref(), &opt, 53, &inputs),
                "{} / {m:?}",
                p.describe()
            );
        }
    }
}

#[test]
fn exhaustive_tiny_instances_decode_exactly_at_128_bits() {
    let probs: Vec<Box<dyn DpProblem>> = vec![
        Box::new(freelunch::dp::problem("edit", "n1=2 n2=2 sigma=2 ins=1 del=1 sub=1").unwrap()),
        Box::new(freelunch::dp::problem("eca", "rule=110 width=3 rows=2").unwrap()),
    ];
    for p in &probs {
        let inputs = all_inputs(p.as_ref());
        for m in memories() {
            let opt = Options::new(m, Activation::Relu);
            assert!(
                exact_on::<Real>(p.as_ref(), &opt, 128, &inputs),
                "{} / {m:?}",
                p.describe()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, rng_seed: proptest::test_runner::RngSeed::Fixed(2410_03810), failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn random_instances_decode_exactly(seed in any::<u64>(), n in 1usize..6, mem in 0usize..memories().len()) {
        let mut rng = Rng::new(seed);
        let probs: Vec<Box<dyn DpProblem>> = vec![
            Box::new(freelunch::dp::problem("edit", &format!("n1={n} n2={} sigma=4 ins=1 del=2 sub=2", n + 2)).unwrap()),
            Box::new(freelunch::dp::problem("lis", &format!("n={} sigma=7", n + 2)).unwrap()),
            Box::new(freelunch::dp::problem("linrec", &format!("coeffs=1,0,3 q=5 steps={}", 10 * n)).unwrap()),
            Box::new(freelunch::dp::problem("eca", &format!("rule=110 width={} rows={}", n + 3, 2 * n)).unwrap()),
        ];
        let opt = Options::new(memories()[mem], Activation::Relu);
        for p in &probs {
            let x = p.random_input(&mut rng);
            let c: Compiled<f64> = compile(p.as_ref(), &opt, 53).unwrap();
            let r = c.run(p.as_ref(), &x).unwrap();
            prop_assert!(r.exact, "{} / {:?}: {:?} vs {:?}", p.describe(), memories()[mem], r.generated, r.expected);
            let e = c.memory_error(p.as_ref(), &x).unwrap();
            prop_assert!(e <= c.info.memory_error_bound + 1e-9, "memory error {e} > bound {}", c.info.memory_error_bound);
        }
    }
}

#[test]
fn random_instances_decode_exactly_at_mpfr_precision() {
    let mut rng = Rng::new(7);
    let probs: Vec<Box<dyn DpProblem>> = vec![
        Box::new(freelunch::dp::problem("edit", "n1=4 n2=5 sigma=4 ins=1 del=1 sub=2").unwrap()),
        Box::new(freelunch::dp::problem("lis", "n=6 sigma=9").unwrap()),
        Box::new(freelunch::dp::problem("linrec", "coeffs=1,1 q=10 steps=60").unwrap()),
    ];
    for p in &probs {
        let inputs: Vec<Vec<usize>> = (0..2).map(|_| p.random_input(&mut rng)).collect();
        for m in memories() {
            for bits in [64, 200] {
                let opt = Options::new(m, Activation::Relu);
                assert!(
                    exact_on::<Real>(p.as_ref(), &opt, bits, &inputs),
                    "{} / {m:?} / {bits}",
                    p.describe()
                );
            }
        }
    }
}

#[test]
fn smooth_activations_with_the_prescribed_lambda_decode_exactly_and_a_small_lambda_fails() {
    let p = freelunch::dp::problem("edit", "n1=2 n2=3 sigma=3 ins=1 del=2 sub=2").unwrap();
    let inputs = all_inputs(&p).into_iter().step_by(37).collect::<Vec<_>>();
    for act in [Activation::Gelu, Activation::Silu] {
        for m in [MemoryKind::Slot, MemoryKind::Position] {
            let opt = Options::new(m, act);
            assert!(
                exact_on::<f64>(&p, &opt, 53, &inputs),
                "{act:?} {m:?} at f64"
            );
            let c: Compiled<Real> = compile(&p, &opt, 128).unwrap();
            for x in inputs.iter().take(2) {
                assert!(c.run(&p, x).unwrap().exact, "{act:?} {m:?} at 128 bits");
                // errors decided on a ball run at the same precision (no rounding slack)
                let cb: Compiled<Ball> = compile(&p, &opt, 128).unwrap();
                let s = freelunch::certify::dp::run(&cb, &p, x).unwrap();
                assert_eq!(s.certified, s.positions, "{act:?} {m:?}: {s:?}");
                if c.info.memory_error_bound > 0.0 {
                    assert_eq!(s.reads.within, s.reads.n, "{act:?} {m:?}: {s:?}");
                } else {
                    assert_eq!(s.reads.contain_zero, s.reads.n, "{act:?} {m:?}: {s:?}");
                }
                assert!(c.info.out_error_bound > 0.0, "{act:?} {m:?}");
                assert_eq!(s.outs.within, s.outs.n, "{act:?} {m:?}: {s:?}");
            }
            // λ = 1: φ(z) is far from ReLU(z) at |z| ~ 1, the rounding gadget breaks
            let weak = Options {
                lambda: Some(1.0),
                ..opt.clone()
            };
            assert!(
                !exact_on::<f64>(&p, &weak, 53, &inputs),
                "{act:?} {m:?} with λ = 1 still exact"
            );
            // ... and the out-error bound does not claim otherwise: its hypotheses fail (∞).
            let cw: Compiled<f64> = compile(&p, &weak, 53).unwrap();
            assert_eq!(
                cw.info.out_error_bound,
                f64::INFINITY,
                "{act:?} {m:?}: out bound at λ = 1"
            );
        }
    }
}

#[test]
fn lambda_outside_its_range_and_non_finite_weights_are_rejected() {
    let p = freelunch::dp::problem("edit", "n1=2 n2=2 sigma=3 ins=1 del=1 sub=1").unwrap();
    for l in [1e308, 1e-300, 0.0, -1.0, f64::NAN, f64::INFINITY] {
        let opt = Options {
            lambda: Some(l),
            ..Options::new(MemoryKind::Slot, Activation::Gelu)
        };
        let e = compile::<f64>(&p, &opt, 53).err().unwrap().to_string();
        assert!(e.contains("must be between"), "λ = {l}: {e}");
    }
    // At the ends of the range the model builds with finite weights.
    let (lo, hi) = freelunch::dp::compiler::LAMBDA_RANGE;
    for l in [lo, hi] {
        let opt = Options {
            lambda: Some(l),
            ..Options::new(MemoryKind::Slot, Activation::Silu)
        };
        let c = compile::<f64>(&p, &opt, 53).unwrap();
        assert!(c.model.size().max_abs_param.is_finite());
    }
}

#[test]
fn memory_error_bound_holds_and_violated_slot_parameters_fail() {
    let p = freelunch::dp::problem("linrec", "coeffs=1,1 q=10 steps=40").unwrap();
    let x = vec![3, 7];
    let good = Options::new(MemoryKind::Slot, Activation::Relu);
    let c: Compiled<Real> = compile(&p, &good, 128).unwrap();
    let e = c.memory_error(&p, &x).unwrap();
    assert!(
        e <= c.info.memory_error_bound && c.info.memory_error_bound < 0.25,
        "{e} {}",
        c.info.memory_error_bound
    );
    // the bound is not vacuous: measured error within a factor 100 of it
    assert!(
        e > c.info.memory_error_bound / 100.0,
        "{e} vs {}",
        c.info.memory_error_bound
    );
    // K0 = 0: the kept slots leak (Δ_keep = ln 2), the bound exceeds 1/4 and decoding fails
    let bad = Options {
        memory_override: Some(((64.0f64 * 9.0).ln(), 0.0)),
        ..good.clone()
    };
    let c: Compiled<f64> = compile(&p, &bad, 53).unwrap();
    assert!(c.info.memory_error_bound > 0.25);
    assert!(c.memory_error(&p, &x).unwrap() > 0.25);
    assert!(!c.run(&p, &x).unwrap().exact);
    // Δ_write too small: old content survives the write
    let bad = Options {
        memory_override: Some((0.1, (64.0f64 * 3.0 * 9.0).ln())),
        ..good
    };
    let c: Compiled<f64> = compile(&p, &bad, 53).unwrap();
    assert!(!c.run(&p, &x).unwrap().exact);
}

#[test]
fn attention_with_too_small_a_score_scale_fails() {
    let p = freelunch::dp::problem("edit", "n1=3 n2=3 sigma=4 ins=1 del=1 sub=1").unwrap();
    let x = vec![0, 1, 2, 2, 1, 0];
    let good = Options::new(MemoryKind::Attention, Activation::Relu);
    let c: Compiled<f64> = compile(&p, &good, 53).unwrap();
    assert!(c.run(&p, &x).unwrap().exact);
    let e = c.memory_error(&p, &x).unwrap();
    assert!(
        e <= c.info.memory_error_bound,
        "{e} > {}",
        c.info.memory_error_bound
    );
    let bad = Options {
        memory_override: Some((0.3, 0.0)),
        ..good
    };
    let c: Compiled<f64> = compile(&p, &bad, 53).unwrap();
    assert!(!c.run(&p, &x).unwrap().exact);
}

#[test]
fn too_few_slots_is_an_input_error_and_too_low_precision_fails() {
    let p = freelunch::dp::problem("eca", "rule=110 width=6 rows=4").unwrap();
    let opt = Options {
        slots: Some(11),
        ..Options::new(MemoryKind::Slot, Activation::Relu)
    };
    let e = compile::<f64>(&p, &opt, 53).err().unwrap().to_string();
    assert!(e.contains("cannot hold reads at distance 12"), "{e}");
    let opt = Options {
        slots: Some(20),
        ..opt
    };
    assert!(exact_on::<f64>(&p, &opt, 53, &[vec![0, 1, 1, 0, 1, 0]]));
    // 3 bits cannot even hold the memory's parameters: decoding breaks
    let c: Compiled<Real> =
        compile(&p, &Options::new(MemoryKind::Slot, Activation::Relu), 3).unwrap();
    assert!(!c.run(&p, &[0, 1, 1, 0, 1, 0]).unwrap().exact);
    // the position memory refuses T beyond its limit
    let big = freelunch::dp::problem("linrec", "coeffs=1,1 q=10 steps=5000").unwrap();
    let e = compile::<f64>(
        &big,
        &Options::new(MemoryKind::Position, Activation::Relu),
        53,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("too large for the position-key memory"), "{e}");
}

#[test]
fn a_wrong_model_is_caught_by_the_comparison() {
    // the model for substitution cost 1, compared against the solver for cost 2
    let built = freelunch::dp::problem("edit", "n1=3 n2=3 sigma=3 ins=1 del=1 sub=1").unwrap();
    let truth = freelunch::dp::problem("edit", "n1=3 n2=3 sigma=3 ins=1 del=1 sub=2").unwrap();
    let c: Compiled<f64> = compile(
        &built,
        &Options::new(MemoryKind::Slot, Activation::Relu),
        53,
    )
    .unwrap();
    let r = c.run(&truth, &[0, 1, 2, 2, 1, 0]).unwrap();
    assert!(!r.exact && r.first_mismatch.is_some());
}

#[test]
fn local_models_have_constant_state_and_cost_general_ones_grow() {
    let opt = Options::new(MemoryKind::Slot, Activation::Relu);
    let local: Vec<(usize, usize, u64)> = [10usize, 100, 400]
        .iter()
        .map(|&rows| {
            let c: Compiled<f64> = compile(
                &freelunch::dp::problem("eca", &format!("rule=110 width=8 rows={rows}")).unwrap(),
                &opt,
                53,
            )
            .unwrap();
            (
                c.info.total_len,
                c.model.size().ssm_state,
                c.model.ops_at(c.info.total_len),
            )
        })
        .collect();
    assert!(
        local.iter().all(|r| r.1 == 16 && r.2 == local[0].2),
        "{local:?}"
    );
    let general: Vec<usize> = [2usize, 4, 8]
        .iter()
        .map(|&n| {
            let c: Compiled<f64> = compile(
                &freelunch::dp::problem(
                    "edit",
                    &format!("n1={n} n2={n} sigma=4 ins=1 del=1 sub=1"),
                )
                .unwrap(),
                &opt,
                53,
            )
            .unwrap();
            c.model.size().ssm_state
        })
        .collect();
    assert!(
        general[0] < general[1] && general[1] < general[2],
        "{general:?}"
    );
    // attention: per-token cost grows with the position
    let c: Compiled<f64> = compile(
        &freelunch::dp::problem("eca", "rule=110 width=8 rows=10").unwrap(),
        &Options::new(MemoryKind::Attention, Activation::Relu),
        53,
    )
    .unwrap();
    assert!(c.model.ops_at(80) > c.model.ops_at(10));
}

#[test]
fn built_model_is_readable_and_exportable() {
    let p = freelunch::dp::problem("edit", "n1=2 n2=2 sigma=3 ins=1 del=1 sub=1").unwrap();
    let c: Compiled<f64> =
        compile(&p, &Options::new(MemoryKind::Slot, Activation::Relu), 53).unwrap();
    let s = c.model.summary();
    for want in [
        "memory.slots",
        "read_raw",
        "next_is_cell",
        "boundary_value",
        "edit.cell.min",
        "round0",
    ] {
        assert!(s.contains(want), "summary lacks {want}");
    }
    let j = freelunch::export::to_json(&c.model, None).to_string();
    assert!(j.contains("\"tok_value\"") && j.contains("transition.level"));
}

#[test]
fn dp_claims_pass_in_quick_mode() {
    use freelunch::claims::{find, Mode, RunConfig};
    for id in ["dp-general", "dp-local"] {
        let cfg = RunConfig {
            mode: Mode::Quick,
            ..RunConfig::default()
        };
        let r = find(id).unwrap().run(&cfg).unwrap();
        let failed: Vec<&str> = r.failed_cases().map(|c| c.label.as_str()).collect();
        assert!(failed.is_empty(), "{id}: {failed:?}");
        assert_eq!(r.status, freelunch::report::Status::Passed);
        assert!(r.cases.len() > 20);
        // a property of the problem (true by construction) is a note, never a counted case
        assert!(
            r.cases
                .iter()
                .all(|c| !c.id.contains("dependency-distance")),
            "{id}"
        );
        if id == "dp-local" {
            assert!(r.notes.iter().any(|n| n.contains("dependency distance")));
        }
    }
}

#[test]
fn the_dp_memories_use_the_shared_parameterisation() {
    use freelunch::dp::compiler::MEMORY_ACCURACY;
    use freelunch::memory::{AttentionParams, SlotParams};
    let p = freelunch::dp::problem("edit", "n1=3 n2=3 sigma=4 ins=1 del=1 sub=1").unwrap();
    let m = (p.values() - 1) as f64;
    let c: Compiled<f64> =
        compile(&p, &Options::new(MemoryKind::Slot, Activation::Relu), 53).unwrap();
    // n = the largest read distance t − p(t) = m − 1 for the rule reads
    let want = SlotParams::for_accuracy(m, c.info.distance - 1, MEMORY_ACCURACY).unwrap();
    assert_eq!(c.info.memory_params, (want.k, want.k0));
    assert!(c.info.memory_error_bound <= MEMORY_ACCURACY);
    let c: Compiled<f64> = compile(
        &p,
        &Options::new(MemoryKind::Attention, Activation::Relu),
        53,
    )
    .unwrap();
    let want = AttentionParams::for_accuracy(m, MEMORY_ACCURACY).unwrap();
    assert_eq!(c.info.memory_params.0, want.lambda);
    assert_eq!(c.info.memory_error_bound, want.error_bound(m));
}
