//! DP problems: reference solvers, the problems' own step lists + rule circuits, dependency
//! distances and locality (proofs/dp-problems.md).

mod common;
use common::all_inputs;

use freelunch::dp::{
    dependency_distance, interpret, parse_input, problem_by_name, total_len, DpProblem, SpecProblem,
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
        Box::new(freelunch::dp::problem("edit", "n1=3 n2=4 sigma=3 ins=1 del=2 sub=3").unwrap()),
        Box::new(freelunch::dp::problem("lis", "n=5 sigma=6").unwrap()),
        Box::new(freelunch::dp::problem("linrec", "coeffs=1,2 q=5 steps=7").unwrap()),
        Box::new(freelunch::dp::problem("eca", "rule=110 width=5 rows=3").unwrap()),
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
        Box::new(freelunch::dp::problem("edit", "n1=2 n2=3 sigma=2 ins=1 del=1 sub=1").unwrap()),
        Box::new(freelunch::dp::problem("edit", "n1=3 n2=2 sigma=3 ins=2 del=1 sub=3").unwrap()),
        Box::new(freelunch::dp::problem("lis", "n=4 sigma=4").unwrap()),
        Box::new(freelunch::dp::problem("linrec", "coeffs=2,1,1 q=3 steps=9").unwrap()),
        Box::new(freelunch::dp::problem("eca", "rule=110 width=4 rows=3").unwrap()),
        Box::new(freelunch::dp::problem("eca", "rule=30 width=5 rows=2").unwrap()),
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
    let lis = freelunch::dp::problem("lis", "n=5 sigma=5").unwrap();
    for x in all_inputs(&lis) {
        assert_eq!(*lis.solve(&x).last().unwrap(), lis_len(&x), "{x:?}");
    }
    let ed = freelunch::dp::problem("edit", "n1=3 n2=3 sigma=3 ins=1 del=1 sub=1").unwrap();
    for x in all_inputs(&ed) {
        let mut memo = Default::default();
        assert_eq!(
            *ed.solve(&x).last().unwrap(),
            edit_rec(&x[..3], &x[3..], &mut memo),
            "{x:?}"
        );
    }
    // rule 110 from a single live cell, ring of 8: known first rows
    let eca = freelunch::dp::problem("eca", "rule=110 width=8 rows=3").unwrap();
    let seq = eca.solve(&[0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(
        &seq[9..33],
        &[0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1]
    );
    // Fibonacci mod 10
    let fib = freelunch::dp::problem("linrec", "coeffs=1,1 q=10 steps=8").unwrap();
    assert_eq!(&fib.solve(&[0, 1])[3..11], &[1, 2, 3, 5, 8, 3, 1, 4]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, rng_seed: proptest::test_runner::RngSeed::Fixed(2410_03810), failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn interpretation_matches_solver_on_random_inputs(seed in any::<u64>(), n in 1usize..7) {
        let mut rng = freelunch::rng::Rng::new(seed);
        let probs: Vec<Box<dyn DpProblem>> = vec![
            Box::new(freelunch::dp::problem("edit", &format!("n1={n} n2={} sigma=4 ins=2 del=1 sub=1", n + 1)).unwrap()),
            Box::new(freelunch::dp::problem("lis", &format!("n={} sigma=9", n + 2)).unwrap()),
            Box::new(freelunch::dp::problem("linrec", &format!("coeffs=3,0,2 q=11 steps={}", 5 * n)).unwrap()),
            Box::new(freelunch::dp::problem("eca", &format!("rule=110 width={} rows={n}", n + 3)).unwrap()),
        ];
        for p in &probs {
            let x = p.random_input(&mut rng);
            prop_assert_eq!(interpret(p.as_ref(), &x).unwrap(), p.solve(&x));
        }
    }
}

#[test]
fn general_problems_have_growing_distance_local_ones_do_not() {
    let p = problem_by_name("edit", &[]).unwrap();
    let d: Vec<usize> = [2, 4, 8]
        .iter()
        .map(|&s| dependency_distance(p.resized(s).unwrap().as_ref()))
        .collect();
    assert!(d[0] < d[1] && d[1] < d[2], "{d:?}");
    assert!(!p.local());
    let l = problem_by_name("lis", &[]).unwrap();
    let d: Vec<usize> = [3, 6, 9]
        .iter()
        .map(|&s| dependency_distance(l.resized(s).unwrap().as_ref()))
        .collect();
    assert!(d[0] < d[1] && d[1] < d[2], "{d:?}");
    for name in ["linrec", "eca"] {
        let p = problem_by_name(name, &[]).unwrap();
        assert!(p.local());
        let d: Vec<usize> = [5, 50, 500]
            .iter()
            .map(|&s| dependency_distance(p.resized(s).unwrap().as_ref()))
            .collect();
        assert!(d.iter().all(|&x| x == d[0]), "{name}: {d:?}");
    }
    // order-k recurrence: m = k + 1 (the first terms read seeds across the SEP)
    assert_eq!(
        dependency_distance(
            &freelunch::dp::problem("linrec", "coeffs=1,2,3 q=7 steps=20").unwrap()
        ),
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
        let p = freelunch::dp::problem("eca", &format!("rule=110 width={w} rows=10")).unwrap();
        assert_eq!(dependency_distance(&p), 2 * w);
        assert_ne!(dependency_distance(&p), w + 1);
    }
}

#[test]
fn bad_inputs_and_parameters_are_rejected_with_a_sentence() {
    let p = freelunch::dp::problem("edit", "n1=2 n2=2 sigma=3 ins=1 del=1 sub=1").unwrap();
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
    assert!(
        freelunch::dp::problem("edit", "n1=0 n2=2 sigma=3 ins=1 del=1 sub=1")
            .unwrap_err()
            .to_string()
            .contains("must be in 1..=100")
    );
    assert!(freelunch::dp::problem("lis", "n=1000 sigma=3").is_err());
    assert!(freelunch::dp::problem("linrec", "coeffs=1,12 q=10 steps=5")
        .unwrap_err()
        .to_string()
        .contains("every entry of coeffs must be in 0..=9"));
    assert!(freelunch::dp::problem("linrec", "coeffs= q=10 steps=5").is_err());
    assert!(freelunch::dp::problem("eca", "rule=256 width=8 rows=3").is_err());
    assert!(freelunch::dp::problem("eca", "rule=110 width=2 rows=3").is_err());
    assert!(freelunch::dp::problem("eca", "rule=110 width=8 rows=5000")
        .unwrap_err()
        .to_string()
        .contains("more than the supported"));
    assert!(problem_by_name("no_such_problem", &[])
        .err()
        .unwrap()
        .to_string()
        .contains("unknown DP problem"));
}

#[test]
fn sequence_length_is_checked_before_the_steps_are_built() {
    // The arithmetic length of each constructor is the built one: T = 20 000 is accepted,
    // one step more is not.
    let eca = freelunch::dp::problem("eca", "rule=110 width=10 rows=1998").unwrap();
    assert_eq!(total_len(&eca), 19_993);
    assert!(freelunch::dp::problem("eca", "rule=110 width=10 rows=1999").is_err());
    let lr = freelunch::dp::problem("linrec", &format!("coeffs=1 q=10 steps={}", 19_996)).unwrap();
    assert_eq!(total_len(&lr), 20_000);
    assert!(freelunch::dp::problem("linrec", &format!("coeffs=1 q=10 steps={}", 19_997)).is_err());
    let ed = freelunch::dp::problem("edit", "n1=3 n2=5 sigma=3 ins=1 del=2 sub=1").unwrap();
    assert_eq!(total_len(&ed), 8 + 1 + 4 * 6 + 2);
    for n in 1..=20 {
        let p = freelunch::dp::problem("lis", &format!("n={n} sigma=4")).unwrap();
        assert_eq!(total_len(&p), n + 1 + n * (n + 3) / 2 + 2, "lis n={n}");
    }
    // Far too large: rejected at once (the step list would need gigabytes), also on overflow.
    let t0 = std::time::Instant::now();
    for e in [
        freelunch::dp::problem("eca", &format!("rule=110 width=512 rows={}", 20_000)).unwrap_err(),
        freelunch::dp::problem("linrec", &format!("coeffs=1 q=10 steps={}", 20_000)).unwrap_err(),
    ] {
        assert!(e.to_string().contains("more than the supported"), "{e}");
    }
    assert!(t0.elapsed().as_secs_f64() < 0.5);
}

#[test]
fn parameters_a_problem_does_not_have_are_rejected() {
    for (name, param) in [
        ("edit", "width=8"),
        ("edit", "rule=30"),
        ("eca", "sigma=3"),
        ("lis", "q=7"),
    ] {
        let e = problem_by_name(name, &[param.to_string()])
            .err()
            .unwrap()
            .to_string();
        let key = param.split('=').next().unwrap();
        assert!(
            e.contains(&format!("has no parameter `{key}`")),
            "{name}: {e}"
        );
    }
    // The same parameters on a problem that has them are accepted.
    assert!(problem_by_name("eca", &["width=8".into(), "rule=30".into()]).is_ok());
}

/// A linear recurrence whose rule circuit is shifted by `shift`: its outputs are no token values.
struct Shifted {
    inner: SpecProblem,
    shift: f64,
}

impl DpProblem for Shifted {
    fn id(&self) -> String {
        "shifted".into()
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
    fn rules(&self) -> Vec<String> {
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
    let inner = freelunch::dp::problem("linrec", "coeffs=1,1 q=10 steps=4").unwrap();
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
