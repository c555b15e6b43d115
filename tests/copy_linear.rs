//! copy-linear: both memories decode exactly through greedy generation; a memory smaller than
//! T does not; bad tasks are rejected.

mod common;
use common::runner;
use freelunch::copy::linear::{
    build_copy_model, build_copy_model_with, run_copy, CopyTask, MemoryKind,
};
use freelunch::error::Error;
use freelunch::memory::Use;
use freelunch::num::Real;
use freelunch::rng::Rng;
use proptest::prelude::*;

/// Every COPY memory of the catalog.
fn kinds() -> Vec<MemoryKind> {
    MemoryKind::usable_for(Use::Copy)
}

fn prompt(rng: &mut Rng, t: usize, v: usize) -> Vec<usize> {
    (0..t).map(|_| rng.below(v)).collect()
}

#[test]
fn random_target_maps_decode_exactly() {
    let strat = (
        2usize..200,
        2usize..40,
        0usize..kinds().len(),
        any::<u64>(),
        any::<bool>(),
    );
    runner(30)
        .run(&strat, |(t, v, k, seed, f64_arith)| {
            let mut r = Rng::new(seed);
            let q = 1 + r.below(2 * t);
            let task = CopyTask {
                length: t,
                vocab: v,
                targets: (0..q).map(|_| 1 + r.below(t)).collect(),
            };
            let pr = prompt(&mut r, t, v);
            let out = if f64_arith {
                run_copy(
                    &build_copy_model::<f64>(kinds()[k], &task, 53).unwrap(),
                    &task,
                    &pr,
                )
            } else {
                run_copy(
                    &build_copy_model::<Real>(kinds()[k], &task, 40).unwrap(),
                    &task,
                    &pr,
                )
            }
            .unwrap();
            prop_assert!(
                out.exact(),
                "{:?} T={t} V={v}: {} wrong",
                kinds()[k],
                out.wrong
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn read_error_is_within_the_stated_bound() {
    for kind in kinds() {
        let task = CopyTask::copy_all(300, 16);
        let cm = build_copy_model::<Real>(kind, &task, 128).unwrap();
        let out = run_copy(&cm, &task, &prompt(&mut Rng::new(3), 300, 16)).unwrap();
        let allow = cm.read_bound + 8.0 * 600.0 * 15.0 * 2f64.powi(-127);
        assert!(
            out.max_read_error_log10 <= allow.log10(),
            "{kind:?}: {out:?}"
        );
        assert!(cm.read_bound < 0.5);
    }
}

#[test]
fn memory_smaller_than_t_fails_to_copy() {
    // T larger than the memory holds: positions beyond its keys are not recalled.
    let t = 64;
    let task = CopyTask::copy_all(t, 16);
    let pr = prompt(&mut Rng::new(5), t, 16);
    for kind in [MemoryKind::Position, MemoryKind::PositionEta] {
        let cm = build_copy_model_with::<f64>(kind, &task, t / 2, 53).unwrap();
        let out = run_copy(&cm, &task, &pr).unwrap();
        assert!(
            !out.exact(),
            "{kind:?} with {} keys copied {t} positions",
            t / 2
        );
    }
    // the slot memory refuses a task whose slots would be overwritten before they are read
    match build_copy_model_with::<f64>(MemoryKind::Slot, &task, t / 2, 53) {
        Err(Error::Input(m)) => assert!(m.contains("overwritten"), "{m}"),
        _ => panic!("slot memory accepted a task it cannot hold"),
    }
}

#[test]
fn models_print_and_export() {
    for kind in kinds() {
        let task = CopyTask::copy_all(8, 4);
        let cm = build_copy_model::<f64>(kind, &task, 53).unwrap();
        let s = cm.model.summary();
        assert!(s.contains("mem_read"), "{s}");
        let j = freelunch::export::to_json(&cm.model, None);
        assert!(j["layers"].as_array().map_or(0, |l| l.len()) >= 1);
        assert_eq!(cm.model.size().ssm_state, 8);
    }
}

#[test]
fn bad_tasks_are_rejected() {
    let bad = [
        CopyTask {
            length: 1,
            vocab: 4,
            targets: vec![1],
        },
        CopyTask {
            length: 8,
            vocab: 1,
            targets: vec![1],
        },
        CopyTask {
            length: 8,
            vocab: 4,
            targets: vec![9],
        },
        CopyTask {
            length: 8,
            vocab: 4,
            targets: vec![0],
        },
        CopyTask {
            length: 8,
            vocab: 4,
            targets: vec![],
        },
    ];
    for task in &bad {
        for kind in kinds() {
            assert!(
                matches!(
                    build_copy_model::<f64>(kind, task, 53),
                    Err(ref e) if e.kind() == freelunch::error::ErrorKind::Input
                ),
                "{task:?} accepted"
            );
        }
    }
    // a size out of range is refused with its name, value and range (structured, not a sentence)
    match build_copy_model::<f64>(MemoryKind::Slot, &CopyTask::copy_all(1, 4), 53) {
        Err(Error::OutOfRange { name, value, .. }) => {
            assert!(name.contains('T') && value == "1", "{name} = {value}")
        }
        other => panic!(
            "T = 1 accepted or refused otherwise: {:?}",
            other.map(|_| ())
        ),
    }
    let task = CopyTask::copy_all(4, 4);
    let cm = build_copy_model::<f64>(MemoryKind::Slot, &task, 53).unwrap();
    assert!(matches!(
        run_copy(&cm, &task, &[0, 1, 2]),
        Err(Error::Input(_))
    ));
    assert!(matches!(
        run_copy(&cm, &task, &[0, 1, 2, 4]),
        Err(Error::Input(_))
    ));
}

#[test]
fn minimal_precision_is_set_by_the_vocabulary_not_by_t() {
    use freelunch::claims::copy_linear_support::minimal_bits;
    let bits = |t: usize, v: usize, kind: MemoryKind| {
        let task = CopyTask::copy_all(t, v);
        let pr = prompt(&mut Rng::new(9), t, v);
        minimal_bits(kind, &task, &pr, 64, 1).unwrap().unwrap()
    };
    for kind in kinds() {
        let (small_t, _) = bits(32, 4, kind);
        let (large_t, stable) = bits(512, 4, kind);
        let (large_v, _) = bits(32, 64, kind);
        eprintln!("{kind:?}: V=4 T=32 {small_t}, V=4 T=512 {large_t}, V=64 T=32 {large_v}");
        assert_eq!(small_t, large_t, "{kind:?}");
        assert!(stable);
        assert!(
            large_v > small_t,
            "{kind:?}: V=64 needs {large_v}, V=4 needs {small_t}"
        );
    }
}

/// The one decoding probe counts what it is shown: a right reference has a positive margin
/// everywhere; one wrong reference token gives a negative margin at its position, and greedy
/// decoding against it counts exactly one wrong output.
#[test]
fn the_probe_tallies_wrong_tokens_and_negative_margins() {
    use freelunch::measure::{probe, reference_margin, Feed, Tally};
    let task = CopyTask::copy_all(16, 16);
    let prompt: Vec<usize> = (0..16).map(|i| (i * 5) % 16).collect();
    let cm = build_copy_model::<f64>(MemoryKind::Position, &task, 53).unwrap();
    let (m, _) = reference_margin(&cm.model, &prompt, &prompt);
    assert!(m > 0.0, "{m}");
    let mut bad = prompt.clone();
    bad[3] = (bad[3] + 1) % 16;
    let (m, at) = reference_margin(&cm.model, &prompt, &bad);
    assert!(m < 0.0 && at == 3, "{m} at {at}");
    let mut tally = Tally::new(bad.len(), 64);
    probe(&cm.model, &prompt, &bad, Feed::Greedy, |q, r, w| {
        tally.measure(q, r, w)
    });
    assert_eq!(tally.wrong, 1);
    assert!(!tally.exact());
}
