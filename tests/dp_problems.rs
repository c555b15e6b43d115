//! DP problems: reference solvers, the problems' own step lists + rule circuits, dependency
//! distances and locality (proofs/dp-problems.md).

mod common;
use common::all_inputs;

use freelunch::dp::{
    dependency_distance, interpret, parse_input, problem_by_name, problems::ProblemParams,
    total_len, DpProblem, Eca, EditDistance, LinRec, Lis,
};
use proptest::prelude::*;

/// Independent LIS length (patience sorting).
fn lis_len(s: &[usize]) -> usize {
    let mut tails: Vec<usize> = Vec::new();
    for &x in s {
        let i = tails.partition_point(|&t| t < x);
        if i == tails.len() {
            tails.push(x);
        } else {
            tails[i] = x;
        }
    }
    tails.len()
}

/// Independent edit distance (recursive with memo, unit costs).
fn edit_rec(
    a: &[usize],
    b: &[usize],
    memo: &mut std::collections::HashMap<(usize, usize), usize>,
) -> usize {
    if a.is_empty() || b.is_empty() {
        return a.len() + b.len();
    }
    if let Some(&v) = memo.get(&(a.len(), b.len())) {
        return v;
    }
    let s = usize::from(a[a.len() - 1] != b[b.len() - 1]);
    let v = (edit_rec(&a[..a.len() - 1], b, memo) + 1)
        .min(edit_rec(a, &b[..b.len() - 1], memo) + 1)
        .min(edit_rec(&a[..a.len() - 1], &b[..b.len() - 1], memo) + s);
    memo.insert((a.len(), b.len()), v);
    v
}

#[test]
fn cot_has_the_specified_shape() {
    let probs: Vec<Box<dyn DpProblem>> = vec![
        Box::new(EditDistance::new(3, 4, 3, 1, 2, 3).unwrap()),
        Box::new(Lis::new(5, 6).unwrap()),
        Box::new(LinRec::new(vec![1, 2], 5, 7).unwrap()),
        Box::new(Eca::new(110, 5, 3).unwrap()),
    ];
    for p in &probs {
        let x: Vec<usize> = (0..p.input_len()).map(|i| i % p.alphabet()).collect();
        let seq = p.solve(&x);
        let n = p.input_len();
        assert_eq!(seq.len(), total_len(p.as_ref()), "{}", p.describe());
        assert_eq!(&seq[..n], &x[..]);
        assert_eq!(seq[n], p.sep());
        assert_eq!(seq[seq.len() - 2], p.sep());
        let states = &seq[n + 1..seq.len() - 2];
        assert!(states.iter().all(|&t| t < p.values()), "{}", p.describe());
        assert_eq!(states.len() + 3 + n, seq.len());
    }
}

#[test]
fn exhaustive_tiny_instances_interpretation_matches_solver() {
    let probs: Vec<Box<dyn DpProblem>> = vec![
        Box::new(EditDistance::new(2, 3, 2, 1, 1, 1).unwrap()),
        Box::new(EditDistance::new(3, 2, 3, 2, 1, 3).unwrap()),
        Box::new(Lis::new(4, 4).unwrap()),
        Box::new(LinRec::new(vec![2, 1, 1], 3, 9).unwrap()),
        Box::new(Eca::new(110, 4, 3).unwrap()),
        Box::new(Eca::new(30, 5, 2).unwrap()),
    ];
    for p in &probs {
        for x in all_inputs(p.as_ref()) {
            assert_eq!(
                interpret(p.as_ref(), &x).unwrap(),
                p.solve(&x),
                "{} on {x:?}",
                p.describe()
            );
        }
    }
}

#[test]
fn answers_agree_with_independent_solvers() {
    let lis = Lis::new(5, 5).unwrap();
    for x in all_inputs(&lis) {
        assert_eq!(*lis.solve(&x).last().unwrap(), lis_len(&x), "{x:?}");
    }
    let ed = EditDistance::new(3, 3, 3, 1, 1, 1).unwrap();
    for x in all_inputs(&ed) {
        let mut memo = Default::default();
        assert_eq!(
            *ed.solve(&x).last().unwrap(),
            edit_rec(&x[..3], &x[3..], &mut memo),
            "{x:?}"
        );
    }
    // rule 110 from a single live cell, ring of 8: known first rows
    let eca = Eca::new(110, 8, 3).unwrap();
    let seq = eca.solve(&[0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(
        &seq[9..33],
        &[0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1]
    );
    // Fibonacci mod 10
    let fib = LinRec::new(vec![1, 1], 10, 8).unwrap();
    assert_eq!(&fib.solve(&[0, 1])[3..11], &[1, 2, 3, 5, 8, 3, 1, 4]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, rng_seed: proptest::test_runner::RngSeed::Fixed(2410_03810), failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn interpretation_matches_solver_on_random_inputs(seed in any::<u64>(), n in 1usize..7) {
        let mut rng = freelunch::rng::Rng::new(seed);
        let probs: Vec<Box<dyn DpProblem>> = vec![
            Box::new(EditDistance::new(n, n + 1, 4, 2, 1, 1).unwrap()),
            Box::new(Lis::new(n + 2, 9).unwrap()),
            Box::new(LinRec::new(vec![3, 0, 2], 11, 5 * n).unwrap()),
            Box::new(Eca::new(110, n + 3, n).unwrap()),
        ];
        for p in &probs {
            let x = p.random_input(&mut rng);
            prop_assert_eq!(interpret(p.as_ref(), &x).unwrap(), p.solve(&x));
        }
    }
}

#[test]
fn general_problems_have_growing_distance_local_ones_do_not() {
    let p = problem_by_name("edit", &ProblemParams::default()).unwrap();
    let d: Vec<usize> = [2, 4, 8]
        .iter()
        .map(|&s| dependency_distance(p.resized(s).unwrap().as_ref()))
        .collect();
    assert!(d[0] < d[1] && d[1] < d[2], "{d:?}");
    assert!(!p.local());
    let l = problem_by_name("lis", &ProblemParams::default()).unwrap();
    let d: Vec<usize> = [3, 6, 9]
        .iter()
        .map(|&s| dependency_distance(l.resized(s).unwrap().as_ref()))
        .collect();
    assert!(d[0] < d[1] && d[1] < d[2], "{d:?}");
    for name in ["linrec", "eca"] {
        let p = problem_by_name(name, &ProblemParams::default()).unwrap();
        assert!(p.local());
        let d: Vec<usize> = [5, 50, 500]
            .iter()
            .map(|&s| dependency_distance(p.resized(s).unwrap().as_ref()))
            .collect();
        assert!(d.iter().all(|&x| x == d[0]), "{name}: {d:?}");
    }
    // order-k recurrence: m = k + 1 (the first terms read seeds across the SEP)
    assert_eq!(
        dependency_distance(&LinRec::new(vec![1, 2, 3], 7, 20).unwrap()),
        4
    );
}

/// proofs/dp-problems.md gives m = w + 1 for a cellular automaton on a ring of width w. On a ring the
/// last cell of a row reads the first cell of the previous row: distance 2w − 1, and 2w for the
/// first row (the SEP sits between the input row and row 1). m = w + 1 holds only without
/// wrap-around.
#[test]
fn ring_automaton_distance_is_two_w_not_w_plus_one() {
    for w in [3usize, 8, 16] {
        let p = Eca::new(110, w, 10).unwrap();
        assert_eq!(dependency_distance(&p), 2 * w);
        assert_ne!(dependency_distance(&p), w + 1);
    }
}

#[test]
fn bad_inputs_and_parameters_are_rejected_with_a_sentence() {
    let p = EditDistance::new(2, 2, 3, 1, 1, 1).unwrap();
    for (text, want) in [
        ("012", "expects an input of 4 symbols"),
        ("0135", "outside the alphabet"),
        ("0,1,x,2", "not a non-negative integer"),
        ("0,1,-1,2", "not a non-negative integer"),
    ] {
        let e = parse_input(&p, text).unwrap_err().to_string();
        assert!(e.contains(want), "{text}: {e}");
    }
    assert_eq!(parse_input(&p, "0 1 2 0").unwrap(), vec![0, 1, 2, 0]);
    assert_eq!(parse_input(&p, "0120").unwrap(), vec![0, 1, 2, 0]);
    assert!(EditDistance::new(0, 2, 3, 1, 1, 1)
        .unwrap_err()
        .to_string()
        .contains("between 1 and"));
    assert!(Lis::new(1000, 3).is_err());
    assert!(LinRec::new(vec![1, 12], 10, 5)
        .unwrap_err()
        .to_string()
        .contains("below the modulus"));
    assert!(LinRec::new(vec![], 10, 5).is_err());
    assert!(Eca::new(256, 8, 3).is_err());
    assert!(Eca::new(110, 2, 3).is_err());
    assert!(Eca::new(110, 8, 5000)
        .unwrap_err()
        .to_string()
        .contains("more than the supported"));
    assert!(problem_by_name("knapsack", &ProblemParams::default())
        .err()
        .unwrap()
        .to_string()
        .contains("unknown DP problem"));
}

#[test]
fn sequence_length_is_checked_before_the_steps_are_built() {
    // The arithmetic length of each constructor is the built one: T = 20 000 is accepted,
    // one step more is not.
    let eca = Eca::new(110, 10, 1998).unwrap();
    assert_eq!(total_len(&eca), 19_993);
    assert!(Eca::new(110, 10, 1999).is_err());
    let lr = LinRec::new(vec![1], 10, 19_996).unwrap();
    assert_eq!(total_len(&lr), 20_000);
    assert!(LinRec::new(vec![1], 10, 19_997).is_err());
    let ed = EditDistance::new(3, 5, 3, 1, 2, 1).unwrap();
    assert_eq!(total_len(&ed), 8 + 1 + 4 * 6 + 2);
    for n in 1..=20 {
        let p = Lis::new(n, 4).unwrap();
        assert_eq!(total_len(&p), n + 1 + n * (n + 3) / 2 + 2, "lis n={n}");
    }
    // Far too large: rejected at once (the step list would need gigabytes), also on overflow.
    let t0 = std::time::Instant::now();
    for e in [
        Eca::new(110, 512, 20_000).unwrap_err(),
        LinRec::new(vec![1], 10, 20_000).unwrap_err(),
    ] {
        assert!(e.to_string().contains("more than the supported"), "{e}");
    }
    assert!(t0.elapsed().as_secs_f64() < 0.5);
}

#[test]
fn parameters_a_problem_does_not_use_are_rejected() {
    let base = ProblemParams::default();
    for (name, params, flag) in [
        (
            "edit",
            ProblemParams {
                width: Some(8),
                ..base.clone()
            },
            "--width",
        ),
        (
            "edit",
            ProblemParams {
                rule: Some(30),
                ..base.clone()
            },
            "--rule",
        ),
        (
            "eca",
            ProblemParams {
                sigma: Some(3),
                ..base.clone()
            },
            "--sigma",
        ),
        (
            "linrec",
            ProblemParams {
                costs: Some((1, 1, 1)),
                ..base.clone()
            },
            "--costs",
        ),
        (
            "lis",
            ProblemParams {
                q: Some(7),
                ..base.clone()
            },
            "--q",
        ),
    ] {
        let e = problem_by_name(name, &params).err().unwrap().to_string();
        assert!(
            e.contains(flag) && e.contains("does not apply"),
            "{name}: {e}"
        );
    }
    // The same parameters on a problem that uses them are accepted.
    assert!(problem_by_name(
        "eca",
        &ProblemParams {
            width: Some(8),
            rule: Some(30),
            ..base.clone()
        }
    )
    .is_ok());
}

/// A linear recurrence whose rule circuit is shifted by `shift`: its outputs are no token values.
struct Shifted {
    inner: LinRec,
    shift: f64,
}

impl DpProblem for Shifted {
    fn id(&self) -> &'static str {
        "shifted"
    }
    fn describe(&self) -> String {
        format!("{} shifted by {}", self.inner.describe(), self.shift)
    }
    fn input_len(&self) -> usize {
        self.inner.input_len()
    }
    fn alphabet(&self) -> usize {
        self.inner.alphabet()
    }
    fn values(&self) -> usize {
        self.inner.values()
    }
    fn read_ports(&self) -> usize {
        self.inner.read_ports()
    }
    fn rules(&self) -> Vec<&'static str> {
        self.inner.rules()
    }
    fn steps(&self) -> Vec<freelunch::dp::Step> {
        self.inner.steps()
    }
    fn transition(
        &self,
        c: &mut freelunch::dp::circuit::Circuit,
        reads: &[freelunch::dp::circuit::Lin],
    ) -> Vec<freelunch::dp::circuit::Lin> {
        let mut outs = self.inner.transition(c, reads);
        outs[0] = outs[0].offset(self.shift);
        outs
    }
    fn solve(&self, input: &[usize]) -> Vec<usize> {
        self.inner.solve(input)
    }
    fn local(&self) -> bool {
        true
    }
    fn resized(&self, _: usize) -> freelunch::error::Result<Box<dyn DpProblem>> {
        unreachable!("not resized in this test")
    }
    fn size(&self) -> usize {
        self.inner.size()
    }
}

#[test]
fn interpret_rejects_circuit_outputs_that_are_not_token_values() {
    let inner = LinRec::new(vec![1, 1], 10, 4).unwrap();
    let x = vec![3, 4];
    assert_eq!(interpret(&inner, &x).unwrap(), inner.solve(&x));
    for (shift, why) in [
        (0.5, "non-integer"),
        (-100.0, "negative"),
        (100.0, "too large"),
    ] {
        let p = Shifted {
            inner: inner.clone(),
            shift,
        };
        let e = interpret(&p, &x)
            .err()
            .unwrap_or_else(|| panic!("{why} accepted"));
        assert!(e.to_string().contains("not a token value"), "{why}: {e}");
    }
}
