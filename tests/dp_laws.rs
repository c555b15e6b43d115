//! The asymptotic laws of dp-general and dp-local hold on the compiled models and fail on
//! deliberately wrong ones: a memory whose state grows with T (position-key memory on a local
//! problem, or slots growing with T), slots growing as T² on a general problem, slots growing as
//! m² along the m sweep, and a memory whose minimal precision grows with T.

use freelunch::claims::dp_laws::{
    catalog_families, catalog_sizes, general_law_cases, local_law_cases, param_sweep,
    precision_case, precision_points, sweep, Family, Law, Quantity, CATALOG_GENERAL_LAWS,
    GENERAL_LAWS, LOCAL_M_LAWS, LOCAL_T_LAWS,
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

/// The laws whose case fails on `fam`.
fn failing(fam: &Family, laws: &[Law]) -> Vec<Law> {
    laws.iter()
        .filter(|l| !fam.law_case(l).passed)
        .copied()
        .collect()
}

fn has(failed: &[Law], what: Quantity) -> bool {
    failed.iter().any(|l| l.quantity == what)
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
        assert!(cases.iter().any(|c| c.params.contains_key("law")));
        assert!(notes.iter().all(|n| n.starts_with("measured laws")));
    }
}

#[test]
fn local_laws_fail_on_a_position_key_memory() {
    let p = sweep("eca", "width=8 rule=110", &[4, 8, 16, 32]).unwrap();
    let fam = Family::sweep("control", &p, &|_| opt(MemoryKind::Position), SEED).unwrap();
    // every law of the local claim fails, max |param| included (pointers up to T)
    let failed = failing(&fam, &LOCAL_T_LAWS);
    assert_eq!(failed.len(), LOCAL_T_LAWS.len(), "{failed:?}");
}

#[test]
fn local_laws_fail_when_the_slots_grow_with_t() {
    let p = sweep("linrec", "coeffs=1,1 q=10", &[10, 20, 40, 80]).unwrap();
    let fam = Family::sweep("control", &p, &slots(dp::total_len), SEED).unwrap();
    let failed = failing(&fam, &LOCAL_T_LAWS);
    assert!(
        has(&failed, Quantity::State) && has(&failed, Quantity::TotalOps),
        "{failed:?}"
    );
    // the same problem with m slots passes
    let good = Family::sweep("good", &p, &|_| opt(MemoryKind::Slot), SEED).unwrap();
    assert!(failing(&good, &LOCAL_T_LAWS).is_empty());
}

#[test]
fn general_laws_fail_when_the_slots_grow_as_t_squared() {
    let p = sweep("edit", "", &[2, 3, 4, 5]).unwrap();
    let quadratic = |p: &dyn DpProblem| dp::total_len(p).pow(2) / 4;
    let fam = Family::sweep("control", &p, &slots(quadratic), SEED).unwrap();
    // state, total cost, width and nonzeros all grow one power of T too fast
    let failed = failing(&fam, &GENERAL_LAWS);
    assert_eq!(failed.len(), GENERAL_LAWS.len(), "{failed:?}");
}

#[test]
fn m_laws_fail_when_the_slots_grow_as_m_squared() {
    let p = param_sweep("eca", "rows=4 rule=110", "width", &[3, 4, 6, 8]).unwrap();
    let square = |p: &dyn DpProblem| dp::dependency_distance(p).pow(2);
    let fam = Family::sweep("control", &p, &slots(square), SEED).unwrap();
    // the state and the per-token cost grow as m²
    let failed = failing(&fam, &LOCAL_M_LAWS);
    assert_eq!(failed.len(), LOCAL_M_LAWS.len(), "{failed:?}");
}

#[test]
fn precision_law_fails_on_a_memory_indexed_by_position() {
    let p = sweep("eca", "width=8 rule=110", &[2, 4, 8, 16, 32]).unwrap();
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
    let p = sweep("linrec", "coeffs=1,1 q=10", &[10, 20, 40]).unwrap();
    let fam = Family::sweep("three sizes", &p, &|_| opt(MemoryKind::Slot), SEED).unwrap();
    assert_eq!(failing(&fam, &LOCAL_T_LAWS).len(), LOCAL_T_LAWS.len());
    assert!(!precision_case("two sizes", &[(10, 6), (20, 6)]).passed);
}

#[test]
fn the_state_growth_law_fails_on_a_memory_whose_state_is_fixed() {
    // a fixed number of slots on a local problem: state does not grow with T
    let p = sweep("linrec", "coeffs=1,1 q=10", &[10, 20, 40, 80]).unwrap();
    let fam = Family::sweep("control", &p, &|_| opt(MemoryKind::Slot), SEED).unwrap();
    assert!(!fam.state_grows_case().passed);
    // the position memory indexes every position: it passes
    let p = sweep("edit", "", &[2, 3, 4, 6]).unwrap();
    let fam = Family::sweep("position", &p, &|_| opt(MemoryKind::Position), SEED).unwrap();
    let c = fam.state_grows_case();
    assert!(c.passed, "{:?}", c.note);
}

#[test]
fn the_catalog_laws_cover_every_problem_and_fail_on_quadratic_slots() {
    let general = catalog_families(false, (4, 300), SEED).unwrap();
    let local = catalog_families(true, (4, 300), SEED).unwrap();
    assert_eq!(
        general.len() + local.len(),
        dp::catalog::names().unwrap().len()
    );
    assert!(general.len() >= 8 && local.len() >= 3);
    for fam in &general {
        assert!(fam.points.len() >= 4, "{}", fam.name);
        assert!(
            failing(fam, &CATALOG_GENERAL_LAWS).is_empty(),
            "{}",
            fam.name
        );
    }
    // the same sweeps with T² / 4 slots: the state grows one power of T too fast
    let quadratic = |p: &dyn DpProblem| dp::total_len(p).pow(2) / 4;
    for id in ["lcs", "knapsack", "binomial"] {
        let p = dp::problem(id, "").unwrap();
        let sizes = catalog_sizes(&p, 4, 120);
        let problems = sizes
            .iter()
            .map(|&s| p.resized(s).unwrap())
            .collect::<Vec<_>>();
        let fam = Family::sweep("control", &problems, &slots(quadratic), SEED).unwrap();
        let failed = failing(&fam, &CATALOG_GENERAL_LAWS);
        assert!(
            has(&failed, Quantity::State) && has(&failed, Quantity::TotalOps),
            "{id}: {failed:?}"
        );
    }
}
