//! Certified-scan benchmark (a bench binary; `cargo bench --bench certified`).
//!
//! The recurrent scan (T = 64 tokens, D = 4 channels, N = 16 states, A = −(n+1) and a general
//! random A) in MPFR (`Real`) and in ball arithmetic (`Ball`: every state carries a certified
//! radius), at 64/256/1024 bits, single-threaded; ns per state update. When python3 with
//! python-flint and/or mpmath is available, the same scan (same inputs, as decimal strings) is
//! timed there by `benches/peers/scan_peers.py` (python-flint's `arb`, mpmath with gmpy2).
//! Also prints the certified radius of the last output, to show the enclosure stays tight.

mod support;
use freelunch::claims::scan_unroll::{random_inputs, DecayChoice, RandomSsm};
use freelunch::model::ssm::{DecayStructure, SsmLayer, StepInputs};
use freelunch::num::{Ball, Real, Scalar};
use freelunch::rng::Rng;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use support::{inputs, time};

const T: usize = 64;
const D: usize = 4;
const N: usize = 16;

fn scan_ns<S: Scalar>(
    layer: &SsmLayer<S>,
    inp: &[StepInputs<S>],
    prec: u32,
    reps: usize,
) -> (f64, Vec<S>) {
    let mut st = layer.new_state(prec);
    let s = time(reps, || {
        for x in st.h.iter_mut() {
            x.set_i64(0);
        }
        for i in inp {
            st.inputs.clone_from(i);
            layer.recur(&mut st);
        }
        black_box(&st.y);
    });
    (s / (T * D * N) as f64 * 1e9, st.y.clone())
}

fn strings(v: &[Real]) -> Vec<String> {
    v.iter().map(|x| x.0.to_string_radix(10, None)).collect()
}

/// The instance as JSON for the Python peers.
fn instance_json(layer: &SsmLayer<Real>, inp: &[StepInputs<Real>], bits: u32) -> String {
    let steps: Vec<serde_json::Value> = inp
        .iter()
        .map(|s| {
            serde_json::json!({
                "delta": strings(&s.delta), "b": strings(&s.b), "c": strings(&s.c), "u": strings(&s.u)
            })
        })
        .collect();
    serde_json::json!({
        "bits": bits, "T": T, "D": D, "N": N,
        "structured": layer.decay == DecayStructure::IntegerMultiples,
        "a": strings(&layer.a), "d_skip": strings(&layer.d_skip), "steps": steps
    })
    .to_string()
}

fn peers(json: &str) -> Option<(Option<f64>, Option<f64>)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/scan_peers.py");
    let file = std::env::temp_dir().join(format!("freelunch-scan-{}.json", std::process::id()));
    std::fs::write(&file, json).ok()?;
    let out = Command::new("python3")
        .arg(&script)
        .arg(&file)
        .arg("5")
        .output()
        .ok();
    let _ = std::fs::remove_file(&file);
    let out = out?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((v["arb_ns"].as_f64(), v["mpmath_ns"].as_f64()))
}

fn main() {
    println!(
        "certified scan benchmark: T = {T}, D = {D}, N = {N}, single-threaded, ns per state update"
    );
    println!(
        "{:<8} {:<8} {:>10} {:>10} {:>8} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "A",
        "bits",
        "mpfr",
        "ball",
        "ball/mpfr",
        "last rad",
        "arb(py)",
        "mpmath",
        "arb/ball",
        "mpm/ball"
    );
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    for (name, decay) in [
        ("-(n+1)", DecayChoice::Mamba1),
        ("general", DecayChoice::General),
    ] {
        let mut rng = Rng::new(3);
        let spec = RandomSsm::new(&mut rng, 4, D, N, decay);
        let xs = random_inputs(&mut rng, T, 4);
        for bits in [64u32, 256, 1024] {
            let lr: SsmLayer<Real> = spec.build(bits);
            let ir = inputs(&lr, &xs, bits);
            let lb: SsmLayer<Ball> = spec.build(bits);
            let ib = inputs(&lb, &xs, bits);
            // Interleaved rounds, fastest of each: both see the same machine load.
            let reps = if bits >= 1024 { 3 } else { 7 };
            let (mut mpfr, mut ball, mut y) = (f64::INFINITY, f64::INFINITY, Vec::new());
            for _ in 0..5 {
                mpfr = mpfr.min(one.install(|| scan_ns(&lr, &ir, bits, reps)).0);
                let (b, out) = one.install(|| scan_ns(&lb, &ib, bits, reps));
                ball = ball.min(b);
                y = out;
            }
            let rad = y.iter().map(|b| b.rad_f64()).fold(0.0, f64::max);
            let (arb, mpm) = peers(&instance_json(&lr, &ir, bits)).unwrap_or((None, None));
            let f = |x: Option<f64>| x.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into());
            let r = |x: Option<f64>| {
                x.map(|v| format!("{:.1}", v / ball))
                    .unwrap_or_else(|| "-".into())
            };
            println!(
                "{:<8} {:<8} {:>10.0} {:>10.0} {:>8.2} {:>12.2e} {:>10} {:>10} {:>10} {:>10}",
                name,
                bits,
                mpfr,
                ball,
                ball / mpfr,
                rad,
                f(arb),
                f(mpm),
                r(arb),
                r(mpm)
            );
        }
    }
    println!("ball/mpfr: cost of certification (goal ≤ 2); arb/ball, mpm/ball: peers' time over the certified scan.");
}
