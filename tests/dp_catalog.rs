//! The DP catalog (catalog/dp/*.toml): every problem has an independent reference solver here,
//! written directly as the textbook DP (not through the spec interpreter); the spec's semantics,
//! its rule circuits and the compiled models agree with it on random inputs, with every memory
//! and activation, in f64, MPFR and ball arithmetic (certified margins).
//!
//! Adding a problem to the catalog means adding its spec file and a branch of [`reference`].

use freelunch::dp::{
    self, compile, interpret, total_len, Compiled, DpProblem, MemoryKind, Options, SpecProblem, Val,
};
use freelunch::memory::Use;
use freelunch::model::Activation;
use freelunch::num::{Ball, Real};
use freelunch::rng::Rng;

fn int(p: &SpecProblem, k: &str) -> i64 {
    match p.param(k) {
        Some(Val::Int(v)) => *v,
        other => panic!("{}: parameter {k} is {other:?}", p.spec.id),
    }
}

fn list(p: &SpecProblem, k: &str) -> Vec<i64> {
    match p.param(k) {
        Some(Val::Vec(v)) => v.clone(),
        other => panic!("{}: parameter {k} is {other:?}", p.spec.id),
    }
}

/// The states in the spec's order and the answer, computed directly.
fn reference(p: &SpecProblem, x: &[usize]) -> (Vec<i64>, i64) {
    let x: Vec<i64> = x.iter().map(|&v| v as i64).collect();
    let mut st = Vec::new();
    let answer = match p.spec.id.as_str() {
        "edit" => {
            let (n1, n2) = (int(p, "n1") as usize, int(p, "n2") as usize);
            let (ins, del, sub) = (int(p, "ins"), int(p, "del"), int(p, "sub"));
            let (a, b) = x.split_at(n1);
            let mut d = vec![vec![0i64; n2 + 1]; n1 + 1];
            for i in 0..=n1 {
                for j in 0..=n2 {
                    d[i][j] = if i == 0 {
                        j as i64 * ins
                    } else if j == 0 {
                        i as i64 * del
                    } else {
                        let s = if a[i - 1] == b[j - 1] { 0 } else { sub };
                        (d[i - 1][j] + del)
                            .min(d[i][j - 1] + ins)
                            .min(d[i - 1][j - 1] + s)
                    };
                    st.push(d[i][j]);
                }
            }
            d[n1][n2]
        }
        "lis" => {
            // dp(j, k): longest increasing subsequence ending at s_j with earlier elements
            // among s_1..s_k; best(j) the running maximum
            let n = x.len();
            let mut e = vec![0i64; n + 1];
            let mut best = 0;
            for j in 1..=n {
                let mut cur = 1;
                st.push(cur);
                for k in 1..j {
                    let cand = if x[j - 1] > x[k - 1] { e[k] + 1 } else { 1 };
                    cur = cur.max(cand);
                    st.push(cur);
                }
                e[j] = cur;
                best = best.max(cur);
                st.push(best);
            }
            best
        }
        "linrec" => {
            let (c, q) = (list(p, "coeffs"), int(p, "q"));
            let mut v = x.clone();
            for _ in 0..int(p, "steps") {
                let len = v.len();
                let t: i64 = (1..=c.len()).map(|l| c[l - 1] * v[len - l]).sum::<i64>() % q;
                v.push(t);
                st.push(t);
            }
            *v.last().unwrap()
        }
        "eca" => {
            let (rule, w) = (int(p, "rule"), x.len());
            let mut row = x.clone();
            for _ in 0..int(p, "rows") {
                row = (0..w)
                    .map(|c| {
                        let idx = 4 * row[(c + w - 1) % w] + 2 * row[c] + row[(c + 1) % w];
                        (rule >> idx) & 1
                    })
                    .collect();
                st.extend(&row);
            }
            row[w - 1]
        }
        "lcs" => {
            let n1 = int(p, "n1") as usize;
            let (a, b) = x.split_at(n1);
            let mut l = vec![vec![0i64; b.len() + 1]; a.len() + 1];
            for i in 0..=a.len() {
                for j in 0..=b.len() {
                    if i > 0 && j > 0 {
                        l[i][j] = if a[i - 1] == b[j - 1] {
                            l[i - 1][j - 1] + 1
                        } else {
                            l[i - 1][j].max(l[i][j - 1])
                        };
                    }
                    st.push(l[i][j]);
                }
            }
            l[a.len()][b.len()]
        }
        "lps" => {
            let n = x.len();
            let mut t = vec![vec![0i64; n + 2]; n + 2];
            for len in 1..=n {
                for i in 1..=n - len + 1 {
                    let j = i + len - 1;
                    t[i][j] = if i == j {
                        1
                    } else if x[i - 1] == x[j - 1] {
                        t[i + 1][j - 1] + 2
                    } else {
                        t[i + 1][j].max(t[i][j - 1])
                    };
                    st.push(t[i][j]);
                }
            }
            t[1][n]
        }
        "knapsack" => {
            let (w, cap) = (list(p, "w"), int(p, "cap") as usize);
            let mut k = vec![vec![0i64; cap + 1]; w.len() + 1];
            st.extend(&k[0]);
            for i in 1..=w.len() {
                for c in 0..=cap {
                    let wi = w[i - 1] as usize;
                    k[i][c] = if c < wi {
                        k[i - 1][c]
                    } else {
                        k[i - 1][c].max(k[i - 1][c - wi] + x[i - 1])
                    };
                    st.push(k[i][c]);
                }
            }
            k[w.len()][cap]
        }
        "coin_ways" | "coin_min" => {
            let (coins, amount) = (list(p, "coins"), int(p, "amount") as usize);
            let ways = p.spec.id == "coin_ways";
            let inf = amount as i64 + 1;
            let mut f: Vec<i64> = (0..=amount)
                .map(|a| match (ways, a) {
                    (true, 0) => 1,
                    (true, _) => 0,
                    (false, 0) => 0,
                    (false, _) => inf,
                })
                .collect();
            st.extend(&f);
            for (i, &c) in coins.iter().enumerate() {
                let c = c as usize;
                // one coin kind more: unbounded copies, in increasing amount
                for a in 0..=amount {
                    if a >= c && x[i] == 1 {
                        f[a] = if ways {
                            (f[a] + f[a - c]) % int(p, "q")
                        } else {
                            f[a].min(f[a - c] + 1).min(inf)
                        };
                    }
                    st.push(f[a]);
                }
            }
            f[amount]
        }
        "grid_paths" => {
            let (rows, cols, q) = (
                int(p, "rows") as usize,
                int(p, "cols") as usize,
                int(p, "q"),
            );
            let blocked = |r: usize, c: usize| x[r * cols + c] == 1;
            let mut g = vec![vec![0i64; cols]; rows];
            for r in 0..rows {
                for c in 0..cols {
                    g[r][c] = if blocked(r, c) {
                        0
                    } else if r == 0 && c == 0 {
                        1
                    } else {
                        let up = if r > 0 { g[r - 1][c] } else { 0 };
                        let left = if c > 0 { g[r][c - 1] } else { 0 };
                        (up + left) % q
                    };
                    st.push(g[r][c]);
                }
            }
            g[rows - 1][cols - 1]
        }
        "kadane" => {
            let off = int(p, "off");
            let (mut cur, mut best) = (0i64, 0i64);
            st.extend([0, 0]);
            for &v in &x {
                cur = (cur + v - off).max(0);
                best = best.max(cur);
                st.extend([cur, best]);
            }
            // the maximum over all subarrays (empty included), by brute force
            let brute = (0..=x.len())
                .flat_map(|i| (i..=x.len()).map(move |j| (i, j)))
                .map(|(i, j)| x[i..j].iter().map(|v| v - off).sum::<i64>())
                .max()
                .unwrap();
            assert_eq!(best, brute, "Kadane vs brute force on {x:?}");
            best
        }
        "binomial" => {
            let (n, k, pm) = (int(p, "n") as usize, int(p, "k") as usize, int(p, "p"));
            let mut rows: Vec<Vec<i64>> = Vec::new();
            for i in 0..=n {
                let row: Vec<i64> = (0..=i)
                    .map(|j| {
                        if j == 0 || j == i {
                            1
                        } else {
                            (rows[i - 1][j - 1] + rows[i - 1][j]) % pm
                        }
                    })
                    .collect();
                st.extend(&row);
                rows.push(row);
            }
            rows[n][k]
        }
        "subset_sum" => {
            let (w, target) = (list(p, "w"), int(p, "target") as usize);
            let mut s = vec![vec![0i64; target + 1]; w.len() + 1];
            s[0][0] = 1;
            st.extend(&s[0]);
            for i in 1..=w.len() {
                for t in 0..=target {
                    let wi = w[i - 1] as usize;
                    let take = t >= wi && x[i - 1] == 1 && s[i - 1][t - wi] == 1;
                    s[i][t] = (s[i - 1][t] == 1 || take) as i64;
                    st.push(s[i][t]);
                }
            }
            s[w.len()][target]
        }
        "fib" => {
            let q = int(p, "q");
            let (mut a, mut b) = (0i64, 1i64);
            st.push(0);
            for _ in 1..=int(p, "steps") {
                st.push(b);
                (a, b) = (b, (a + b) % q);
            }
            *st.last().unwrap()
        }
        other => panic!("no reference solver for the catalog problem `{other}`: add one here"),
    };
    (st, answer)
}

/// The whole reference sequence `input SEP states SEP answer`.
fn reference_sequence(p: &SpecProblem, x: &[usize]) -> Vec<usize> {
    let (states, answer) = reference(p, x);
    let mut seq = x.to_vec();
    seq.push(p.sep());
    seq.extend(states.iter().map(|&v| v as usize));
    seq.push(p.sep());
    seq.push(answer as usize);
    seq
}

fn catalog_ids() -> Vec<String> {
    dp::catalog::names().unwrap()
}

/// Small instances of every catalog problem, with some parameters varied.
fn instances(id: &str, rng: &mut Rng) -> Vec<SpecProblem> {
    let extra: Vec<String> = match id {
        "eca" => (0..3)
            .map(|_| format!("rule={} width=5 rows=3", rng.below(256)))
            .collect(),
        "edit" => vec!["n1=2 n2=3 sigma=3 ins=2 del=1 sub=3".into()],
        "linrec" => vec!["coeffs=2,0,1 q=5 steps=9".into()],
        "knapsack" => vec!["cap=5 w=1,4,2 sigma=3".into()],
        "coin_ways" | "coin_min" => vec!["amount=7 coins=2,3".into()],
        "grid_paths" => vec!["rows=2 cols=5 q=3".into()],
        "kadane" => vec!["n=6 sigma=7 off=3".into()],
        "binomial" => vec!["n=6 k=2 p=3".into()],
        "subset_sum" => vec!["target=6 w=1,2,4".into()],
        "fib" => vec!["steps=30 q=7".into()],
        "lis" | "lcs" | "lps" => vec![],
        other => panic!("no test instances for the catalog problem `{other}`: add some here"),
    };
    let mut v = vec![dp::problem(id, "").unwrap()];
    v.extend(extra.iter().map(|e| dp::problem(id, e).unwrap()));
    v.push(
        dp::catalog::spec(id)
            .unwrap()
            .instance(&[])
            .unwrap()
            .with(&size(id, 3))
            .unwrap(),
    );
    v
}

/// The size parameters of `id` set to `s`.
fn size(id: &str, s: i64) -> Vec<(String, Val)> {
    let spec = dp::catalog::spec(id).unwrap();
    spec.size.iter().map(|k| (k.clone(), Val::Int(s))).collect()
}

#[test]
fn the_catalog_has_at_least_twelve_problems_including_the_required_ones() {
    let ids = catalog_ids();
    assert!(ids.len() >= 12, "{ids:?}");
    for want in [
        "edit",
        "lis",
        "linrec",
        "eca",
        "lcs",
        "lps",
        "knapsack",
        "coin_ways",
        "coin_min",
        "grid_paths",
        "kadane",
        "binomial",
        "subset_sum",
        "fib",
    ] {
        assert!(ids.iter().any(|i| i == want), "{want} missing from {ids:?}");
    }
}

#[test]
fn spec_semantics_and_rule_circuits_equal_the_reference_on_random_inputs() {
    let mut rng = Rng::new(2410_03810);
    for id in catalog_ids() {
        for p in instances(&id, &mut rng) {
            assert_eq!(p.solve(&vec![0; p.input_len()]).len(), total_len(&p));
            for _ in 0..25 {
                let x = p.random_input(&mut rng);
                let want = reference_sequence(&p, &x);
                assert_eq!(p.solve(&x), want, "{} on {x:?}", p.describe());
                assert_eq!(
                    interpret(&p, &x).unwrap(),
                    want,
                    "{} on {x:?}",
                    p.describe()
                );
            }
        }
    }
}

/// The check can fail: a reference that differs in one state is told apart.
#[test]
fn a_wrong_reference_is_detected() {
    let p = dp::problem("lcs", "n1=3").unwrap();
    let x = vec![0, 1, 2, 0, 1, 2];
    let mut want = reference_sequence(&p, &x);
    assert_eq!(p.solve(&x), want);
    let k = want.len() - 3;
    want[k] += 1;
    assert_ne!(p.solve(&x), want);
}

const ACTIVATIONS: [Activation; 3] = [Activation::Relu, Activation::Gelu, Activation::Silu];

/// A small instance of every catalog problem (the size parameters at 2 or 3).
fn small(id: &str) -> SpecProblem {
    let base = dp::catalog::spec(id).unwrap().instance(&[]).unwrap();
    let s = match id {
        "linrec" | "fib" | "eca" => 4,
        "coin_ways" | "coin_min" | "subset_sum" | "knapsack" => 5,
        _ => 3,
    };
    base.with(&size(id, s)).unwrap()
}

#[test]
fn every_catalog_problem_decodes_exactly_with_every_memory_and_activation_in_f64() {
    let mut rng = Rng::new(11);
    for id in catalog_ids() {
        let p = small(&id);
        let inputs: Vec<Vec<usize>> = (0..4).map(|_| p.random_input(&mut rng)).collect();
        for m in MemoryKind::usable_for(Use::Dp) {
            for act in ACTIVATIONS {
                let opt = Options::new(m, act);
                let c: Compiled<f64> = compile(&p, &opt, 53).unwrap();
                assert!(
                    c.info.out_error_bound < 0.5,
                    "{id} {m:?} {act:?}: {}",
                    c.info.out_error_bound
                );
                for x in &inputs {
                    let r = c.run(&p, x).unwrap();
                    assert!(r.exact, "{} {m:?} {act:?} on {x:?}", p.describe());
                    assert_eq!(
                        r.expected,
                        reference_sequence(&p, x)[p.input_len() + 1..],
                        "{id}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_catalog_problem_decodes_exactly_in_mpfr_and_certified_in_ball_arithmetic() {
    let mut rng = Rng::new(12);
    for id in catalog_ids() {
        let p = small(&id);
        let x = p.random_input(&mut rng);
        for (m, act) in [
            (MemoryKind::Slot, Activation::Relu),
            (MemoryKind::Position, Activation::Gelu),
            (MemoryKind::Attention, Activation::Silu),
        ] {
            let opt = Options::new(m, act);
            let c: Compiled<Real> = compile(&p, &opt, 128).unwrap();
            let r = c.run(&p, &x).unwrap();
            assert!(r.exact, "{} {m:?} {act:?} at 128 bits", p.describe());
            let cb: Compiled<Ball> = compile(&p, &opt, 128).unwrap();
            let s = freelunch::certify::dp::run(&cb, &p, &x).unwrap();
            assert_eq!(s.certified, s.positions, "{id} {m:?} {act:?}: {s:?}");
            assert_eq!(s.certainly_wrong, 0, "{id}");
            assert!(s.min_margin_lower > 0.0, "{id}");
        }
    }
}

/// The decoding check can fail: a model built for other parameters decodes another CoT.
#[test]
fn a_model_of_other_parameters_is_caught() {
    let built = dp::problem("coin_ways", "amount=6 coins=1,2").unwrap();
    let truth = dp::problem("coin_ways", "amount=6 coins=1,3").unwrap();
    let c: Compiled<f64> = compile(
        &built,
        &Options::new(MemoryKind::Slot, Activation::Relu),
        53,
    )
    .unwrap();
    let x = vec![1, 1];
    let full = truth.solve(&x);
    let g = c.model.generate(&full[..3], full.len() - 3, None);
    assert_ne!(g.tokens, full[3..]);
}

#[test]
fn locality_is_derived_from_the_reads() {
    for id in catalog_ids() {
        let p = dp::problem(&id, "").unwrap();
        let d = |s: i64| dp::dependency_distance(&p.with(&size(&id, s)).unwrap());
        // m-local exactly when the distance does not grow with the size
        let grows = d(8) > d(4);
        assert_eq!(
            p.local(),
            !grows,
            "{id}: distance {} at 4, {} at 8",
            d(4),
            d(8)
        );
    }
    let local: Vec<String> = catalog_ids()
        .into_iter()
        .filter(|id| dp::problem(id, "").unwrap().local())
        .collect();
    assert_eq!(local, ["eca", "fib", "linrec"]);
}

#[test]
fn the_catalog_table_in_the_proofs_is_current() {
    let text = include_str!("../proofs/dp-problems.md");
    let (b, e) = (
        "<!-- BEGIN generated: dp-catalog -->\n",
        "<!-- END generated: dp-catalog -->",
    );
    let start = text.find(b).expect("begin marker") + b.len();
    let stop = text[start..].find(e).expect("end marker") + start;
    let want = dp::catalog::catalog_table().unwrap();
    assert_eq!(
        &text[start..stop],
        want,
        "proofs/dp-problems.md's catalog table is stale; replace it by:\n{want}"
    );
    // every catalog problem is a row
    for id in catalog_ids() {
        assert!(want.contains(&format!("| `{id}` |")), "{id}");
    }
}
