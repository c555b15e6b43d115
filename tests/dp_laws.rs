//! The asymptotic laws of dp-general and dp-local hold on the compiled models and fail on
//! deliberately wrong ones: a memory whose state grows with T (position-key memory on a local
//! problem, or slots growing with T), slots growing as T² on a general problem, slots growing as
//! m² along the m sweep, and a memory whose minimal precision grows with T.

use freelunch::claims::dp_laws::{
    eca_rows_sweep, eca_width_sweep, edit_sweep, fib_sweep, general_law_cases, local_law_cases,
    precision_case, precision_points, Family, Law, GENERAL_LAWS, LOCAL_M_LAWS, LOCAL_T_LAWS,
};
use freelunch::claims::Mode;
use freelunch::dp::{self, DpProblem, MemoryKind, Options};
use freelunch::model::Activation;

const SEED: u64 = 7;

fn opt(memory: MemoryKind) -> Options {
    Options::new(memory, Activation::Relu)
}

/// Slot memory with `slots(p)` slots.
fn slots(f: fn(&dyn DpProblem) -> usize) -> impl Fn(&dyn DpProblem) -> Options {
    move |p| Options {
        slots: Some(f(p)),
        ..opt(MemoryKind::Slot)
    }
}

fn failing(fam: &Family, laws: &[Law]) -> Vec<String> {
    laws.iter()
        .map(|l| fam.law_case(l))
        .filter(|c| !c.passed)
        .map(|c| c.label)
        .collect()
}

fn has(failed: &[String], what: &str) -> bool {
    failed
        .iter()
        .any(|l| l.starts_with(&format!("law: {what}")))
}

#[test]
fn the_laws_hold_on_the_compiled_models() {
    for (cases, notes) in [
        general_law_cases(Mode::Quick, SEED).unwrap(),
        local_law_cases(Mode::Quick, SEED).unwrap(),
    ] {
        for c in &cases {
            assert!(c.passed, "{}: {:?}", c.label, c.note);
        }
        assert!(cases.iter().any(|c| c.label.starts_with("law: ")));
        assert!(notes.iter().all(|n| n.starts_with("measured laws")));
    }
}

#[test]
fn local_laws_fail_on_a_position_key_memory() {
    let p = eca_rows_sweep(8, &[4, 8, 16, 32]).unwrap();
    let fam = Family::sweep("control", &p, &|_| opt(MemoryKind::Position), SEED).unwrap();
    // every law of the local claim fails, max |param| included (pointers up to T)
    let failed = failing(&fam, &LOCAL_T_LAWS);
    assert_eq!(failed.len(), LOCAL_T_LAWS.len(), "{failed:?}");
}

#[test]
fn local_laws_fail_when_the_slots_grow_with_t() {
    let p = fib_sweep(&[10, 20, 40, 80]).unwrap();
    let fam = Family::sweep("control", &p, &slots(dp::total_len), SEED).unwrap();
    let failed = failing(&fam, &LOCAL_T_LAWS);
    assert!(
        has(&failed, "state") && has(&failed, "total ops"),
        "{failed:?}"
    );
    // the same problem with m slots passes
    let good = Family::sweep("good", &p, &|_| opt(MemoryKind::Slot), SEED).unwrap();
    assert!(failing(&good, &LOCAL_T_LAWS).is_empty());
}

#[test]
fn general_laws_fail_when_the_slots_grow_as_t_squared() {
    let p = edit_sweep(&[2, 3, 4, 5]).unwrap();
    let quadratic = |p: &dyn DpProblem| dp::total_len(p).pow(2) / 4;
    let fam = Family::sweep("control", &p, &slots(quadratic), SEED).unwrap();
    // state, total cost, width and nonzeros all grow one power of T too fast
    let failed = failing(&fam, &GENERAL_LAWS);
    assert_eq!(failed.len(), GENERAL_LAWS.len(), "{failed:?}");
}

#[test]
fn m_laws_fail_when_the_slots_grow_as_m_squared() {
    let p = eca_width_sweep(&[3, 4, 6, 8], 4).unwrap();
    let square = |p: &dyn DpProblem| dp::dependency_distance(p).pow(2);
    let fam = Family::sweep("control", &p, &slots(square), SEED).unwrap();
    // the state and the per-token cost grow as m²
    let failed = failing(&fam, &LOCAL_M_LAWS);
    assert_eq!(failed.len(), LOCAL_M_LAWS.len(), "{failed:?}");
}

#[test]
fn precision_law_fails_on_a_memory_indexed_by_position() {
    let p = eca_rows_sweep(8, &[2, 4, 8, 16, 32]).unwrap();
    let slot = precision_points(&p, &opt(MemoryKind::Slot), SEED).unwrap();
    assert!(precision_case("slot", &slot).passed, "{slot:?}");
    // the position-key memory decodes pointers up to T, and a slot memory with T slots pointers
    // up to T: both need more bits as T grows
    let position = precision_points(&p, &opt(MemoryKind::Position), SEED).unwrap();
    let c = precision_case("position-key", &position);
    assert!(!c.passed, "{position:?}: {:?}", c.note);
    let t_slots = Options {
        slots: Some(0),
        ..opt(MemoryKind::Slot)
    };
    let grown: Vec<(usize, u32)> = p
        .iter()
        .map(|q| {
            let o = Options {
                slots: Some(dp::total_len(q.as_ref())),
                ..t_slots.clone()
            };
            precision_points(std::slice::from_ref(q), &o, SEED).unwrap()[0]
        })
        .collect();
    let c = precision_case("T slots", &grown);
    assert!(!c.passed, "{grown:?}: {:?}", c.note);
}

#[test]
fn too_few_sizes_never_pass() {
    let p = fib_sweep(&[10, 20, 40]).unwrap();
    let fam = Family::sweep("three sizes", &p, &|_| opt(MemoryKind::Slot), SEED).unwrap();
    assert_eq!(failing(&fam, &LOCAL_T_LAWS).len(), LOCAL_T_LAWS.len());
    assert!(!precision_case("two sizes", &[(10, 6), (20, 6)]).passed);
}

#[test]
fn the_state_growth_law_fails_on_a_memory_whose_state_is_fixed() {
    // a fixed number of slots on a local problem: state does not grow with T
    let p = fib_sweep(&[10, 20, 40, 80]).unwrap();
    let fam = Family::sweep("control", &p, &|_| opt(MemoryKind::Slot), SEED).unwrap();
    assert!(!fam.state_grows_case().passed);
    // the position memory indexes every position: it passes
    let p = edit_sweep(&[2, 3, 4, 6]).unwrap();
    let fam = Family::sweep("position", &p, &|_| opt(MemoryKind::Position), SEED).unwrap();
    let c = fam.state_grows_case();
    assert!(c.passed, "{:?}", c.note);
}
