//! DP speed benchmark (`cargo bench --bench dp`): one compiled instance per row, greedy decoding of
//! the whole chain of thought at f64 and 128 bits. Reports tokens/s and operations/s (ops counted
//! from the built weights, so ops/s against the op count is the ratio to the arithmetic limit).

use freelunch::dp::compiler::{compile, Compiled, MemoryKind, Options};
use freelunch::dp::DpProblem;
use freelunch::model::Activation;
use freelunch::num::Real;
use freelunch::rng::Rng;
use std::time::Instant;

fn main() {
    let cases: Vec<(Box<dyn DpProblem>, MemoryKind)> = vec![
        (
            Box::new(
                freelunch::dp::problem("edit", "n1=12 n2=12 sigma=4 ins=1 del=1 sub=1").unwrap(),
            ),
            MemoryKind::Slot,
        ),
        (
            Box::new(
                freelunch::dp::problem("edit", "n1=12 n2=12 sigma=4 ins=1 del=1 sub=1").unwrap(),
            ),
            MemoryKind::Position,
        ),
        (
            Box::new(
                freelunch::dp::problem("edit", "n1=12 n2=12 sigma=4 ins=1 del=1 sub=1").unwrap(),
            ),
            MemoryKind::Attention,
        ),
        (
            Box::new(freelunch::dp::problem("eca", "rule=110 width=16 rows=130").unwrap()),
            MemoryKind::Slot,
        ),
    ];
    // every other catalog problem at its largest size with T ≤ 400, slot memory
    let mut cases = cases;
    for id in freelunch::dp::catalog::names().unwrap() {
        if id == "edit" || id == "eca" {
            continue;
        }
        let p = freelunch::dp::problem(&id, "").unwrap();
        if let Some(&s) = freelunch::claims::dp_laws::catalog_sizes(&p, 1, 400).last() {
            cases.push((p.resized(s).unwrap(), MemoryKind::Slot));
        }
    }
    println!(
        "{:<70} {:<10} {:>6} {:>6} {:>9} {:>11} {:>11} {:>6}",
        "instance", "memory", "bits", "T", "seconds", "tokens/s", "ops/s", "exact"
    );
    for (p, m) in &cases {
        let x = p.random_input(&mut Rng::new(1));
        for bits in [53u32, 128] {
            let opt = Options::new(*m, Activation::Relu);
            let start = Instant::now();
            let (exact, ops, t) = if bits == 53 {
                let c: Compiled<f64> = compile(p.as_ref(), &opt, 53).unwrap();
                let r = c.run(p.as_ref(), &x).unwrap();
                (r.exact, r.ops, c.info.total_len)
            } else {
                let c: Compiled<Real> = compile(p.as_ref(), &opt, bits).unwrap();
                let r = c.run(p.as_ref(), &x).unwrap();
                (r.exact, r.ops, c.info.total_len)
            };
            let s = start.elapsed().as_secs_f64();
            println!(
                "{:<70} {:<10} {:>6} {:>6} {:>9.3} {:>11.0} {:>11.3e} {:>6}",
                p.describe(),
                format!("{m:?}"),
                if bits == 53 {
                    "f64".to_string()
                } else {
                    bits.to_string()
                },
                t,
                s,
                t as f64 / s,
                ops as f64 / s,
                exact
            );
        }
    }
}
