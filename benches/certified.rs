//! Certified-scan benchmark (a bench binary; `cargo bench --bench certified`).
//!
//! The recurrent scan (T = 64 tokens, D = 4 channels, N = 16 states, A = −(n+1) and a general
//! random A) in MPFR (`Real`) and in ball arithmetic (`Ball`, Arb's `arb_t`: every state carries
//! a certified radius), at 64/256/1024 bits, single-threaded; ns per state update. The same scan
//! on the same input balls (midpoints and radii passed exactly as mantissa/exponent pairs) is timed in C against the
//! system's Arb by `benches/peers/scan_arb.c`, compiled here with `cc` (skipped, loudly, when
//! no C compiler or no Arb is found), and in Python with mpmath by `benches/peers/scan_peers.py`
//! when python3 with mpmath is installed. Each time is the fastest of 5 interleaved rounds.
//! Also prints log2 of the certified radius of the widest last output, ours and Arb's, to show
//! the enclosures agree in width.

mod support;
use freelunch::claims::scan_unroll::{random_inputs, DecayChoice, RandomSsm};
use freelunch::dp::compiler::{compile, Compiled, MemoryKind, Options};
use freelunch::dp::DpProblem;
use freelunch::model::ssm::{DecayStructure, SsmLayer, StepInputs};
use freelunch::model::Activation;
use freelunch::num::{Ball, Interval, Real, Scalar};
use freelunch::rng::Rng;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{inputs, time};

const T: usize = 64;
const D: usize = 4;
const N: usize = 16;
const ROUNDS: usize = 5;

/// The two decays of the bench: structured `A = −(n+1)` and a general random `A`.
const DECAYS: [(&str, DecayChoice); 2] = [
    ("-(n+1)", DecayChoice::Mamba1),
    ("general", DecayChoice::General),
];

/// The bench's random layer and its `T` inputs for `decay` (the same for every arithmetic).
fn scan_instance(decay: DecayChoice) -> (RandomSsm, Vec<Vec<f64>>) {
    let mut rng = Rng::new(3);
    let spec = RandomSsm::new(&mut rng, 4, D, N, decay);
    let xs = random_inputs(&mut rng, T, 4);
    (spec, xs)
}

/// The scan over `inp` (each step's inputs swapped in and out: no copy in the timed loop).
fn scan_ns<S: Scalar>(
    layer: &SsmLayer<S>,
    inp: &mut [StepInputs<S>],
    prec: u32,
    reps: usize,
) -> (f64, Vec<S>) {
    let mut st = layer.new_state(prec);
    let s = time(reps, || {
        for x in st.h.iter_mut() {
            x.set_i64(0);
        }
        for i in inp.iter_mut() {
            std::mem::swap(&mut st.inputs, i);
            layer.recur(&mut st);
            std::mem::swap(&mut st.inputs, i);
        }
        black_box(&st.y);
    });
    (s / (T * D * N) as f64 * 1e9, st.y.clone())
}

/// A ball as `mid_mantissa mid_exponent rad_mantissa rad_exponent` (exact values
/// `mantissa · 2^exponent`).
fn exact(x: &Ball, out: &mut String) {
    let parts = |f: rug::Float| f.to_integer_exp().unwrap_or_default();
    let (m, e) = parts(x.mid());
    let (rm, re) = parts(x.rad().to_float());
    writeln!(out, "{m} {e} {rm} {re}").expect("string");
}

/// The instance for the C peer (format in `benches/peers/scan_arb.c`): the very balls, midpoint
/// and radius, our scan starts from.
fn instance_text(layer: &SsmLayer<Ball>, inp: &[StepInputs<Ball>], bits: u32) -> String {
    let structured = layer.decay == DecayStructure::IntegerMultiples;
    let mut s = format!("{bits} {T} {D} {N} {}\n", structured as u8);
    layer.a.iter().for_each(|x| exact(x, &mut s));
    layer.d_skip.iter().for_each(|x| exact(x, &mut s));
    for st in inp {
        for v in [&st.delta, &st.b, &st.c, &st.u] {
            v.iter().for_each(|x| exact(x, &mut s));
        }
    }
    s
}

/// The instance as JSON for the Python peer (decimal strings).
fn instance_json(layer: &SsmLayer<Real>, inp: &[StepInputs<Real>], bits: u32) -> String {
    let strings =
        |v: &[Real]| -> Vec<String> { v.iter().map(|x| x.0.to_string_radix(10, None)).collect() };
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

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("freelunch-{}-{name}", std::process::id()))
}

/// Compile the C peer against the system's Arb; `Err` says why not.
fn build_c_peer() -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/scan_arb.c");
    let exe = scratch("scan_arb");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-O2", "-I/usr/include/flint"])
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .args(["-lflint-arb", "-lflint", "-lmpfr", "-lgmp"])
        .output()
        .map_err(|e| format!("cannot run the C compiler `{cc}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{cc}` could not build benches/peers/scan_arb.c against the system Arb \
             (apt-get install libflint-arb-dev): {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
        ));
    }
    Ok(exe)
}

/// One run of the C peer: (ns per update, log2 of the radius of its widest last output).
fn run_c_peer(exe: &Path, instance: &Path, reps: usize) -> Option<(f64, f64)> {
    let out = Command::new(exe)
        .arg(instance)
        .arg(reps.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "C peer failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let w: Vec<&str> = text.split_whitespace().collect();
    Some((w.get(1)?.parse().ok()?, w.get(3)?.parse().ok()?))
}

/// mpmath (Python) ns per update, when python3 with mpmath is installed.
fn run_mpmath(json: &str) -> Option<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/scan_peers.py");
    let file = scratch("scan.json");
    std::fs::write(&file, json).ok()?;
    let out = Command::new("python3")
        .arg(&script)
        .arg(&file)
        .arg("3")
        .output()
        .ok();
    let _ = std::fs::remove_file(&file);
    let out = out?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["mpmath_ns"].as_f64()
}

/// Teacher-forced decoding of `p`'s chain of thought on `input`: (positions whose wanted logit is
/// certainly above every other, positions, seconds).
fn dp_decode<S: Scalar>(
    c: &Compiled<S>,
    p: &dyn DpProblem,
    input: &[usize],
) -> (usize, usize, f64) {
    let seq = p.solve(input);
    let start = std::time::Instant::now();
    let mut r = c.model.runner();
    let (mut certified, mut positions) = (0, 0);
    for (i, &tok) in seq.iter().enumerate().take(seq.len() - 1) {
        r.feed(tok);
        if i >= p.input_len() {
            let want = seq[i + 1];
            let l = &r.logits;
            positions += 1;
            certified += (0..l.len()).all(|j| j == want || l[want].certainly_gt(&l[j])) as usize;
        }
    }
    (certified, positions, start.elapsed().as_secs_f64())
}

/// Certified DP decodings (ReLU units): the interval tier against balls at 64 and 128 bits.
fn certified_dp(one: &rayon::ThreadPool) {
    println!();
    println!(
        "certified DP decoding (teacher-forced, ReLU units), seconds per run, fastest of {ROUNDS}:"
    );
    println!(
        "{:<44} {:<10} {:>5} {:>9} {:>10} {:>10} {:>10} {:>11} {:>9}",
        "instance",
        "memory",
        "T",
        "f64",
        "interval",
        "ball 64",
        "ball 128",
        "ball64/int",
        "certified"
    );
    let cases = [
        (
            "edit",
            "n1=12 n2=12 sigma=4 ins=1 del=1 sub=1",
            MemoryKind::Slot,
        ),
        (
            "edit",
            "n1=12 n2=12 sigma=4 ins=1 del=1 sub=1",
            MemoryKind::Position,
        ),
        (
            "edit",
            "n1=12 n2=12 sigma=4 ins=1 del=1 sub=1",
            MemoryKind::Attention,
        ),
        ("eca", "rule=110 width=16 rows=24", MemoryKind::Slot),
        ("lcs", "", MemoryKind::Slot),
        ("knapsack", "", MemoryKind::Position),
    ];
    for (id, params, memory) in cases {
        let p = freelunch::dp::problem(id, params).expect("catalog problem");
        let input = p.random_input(&mut Rng::new(1));
        let opt = Options::new(memory, Activation::Relu);
        let cf: Compiled<f64> = compile(&p, &opt, 53).expect("compiles");
        let ci: Compiled<Interval> = compile(&p, &opt, 53).expect("compiles");
        let cb64: Compiled<Ball> = compile(&p, &opt, 64).expect("compiles");
        let cb128: Compiled<Ball> = compile(&p, &opt, 128).expect("compiles");
        let (mut tf, mut ti, mut t64, mut t128) =
            (f64::INFINITY, f64::INFINITY, f64::INFINITY, f64::INFINITY);
        let mut cert = (0, 0, 0, 0);
        for _ in 0..ROUNDS {
            tf = tf.min(one.install(|| dp_decode(&cf, &p, &input)).2);
            let (ci_n, n, t) = one.install(|| dp_decode(&ci, &p, &input));
            ti = ti.min(t);
            let (c64, _, t) = one.install(|| dp_decode(&cb64, &p, &input));
            t64 = t64.min(t);
            let (c128, _, t) = one.install(|| dp_decode(&cb128, &p, &input));
            t128 = t128.min(t);
            cert = (ci_n, c64, c128, n);
        }
        let name = format!("{id} {params}");
        println!(
            "{:<44} {:<10} {:>5} {:>9.4} {:>10.4} {:>10.4} {:>10.4} {:>11.2} {:>9}",
            &name[..name.len().min(44)],
            memory.name(),
            ci.info.total_len,
            tf,
            ti,
            t64,
            t128,
            t64 / ti,
            format!("{}/{}/{} of {}", cert.0, cert.1, cert.2, cert.3)
        );
    }
    println!(
        "certified: positions certified by the interval tier / ball 64 / ball 128, of all outputs."
    );
    claims_certified_runs(one);
}

/// The certified DP runs of `verify dp-general` and `dp-local` (default sweep, 128 bits): the
/// whole run (compile, teacher-forced run, checks) with the interval tier first against balls
/// only.
fn claims_certified_runs(one: &rayon::ThreadPool) {
    use freelunch::certify::dp::{run, run_tiered, Tier};
    println!();
    println!(
        "the claims' certified DP runs at 128 bits (compile + run + checks), seconds, fastest of {ROUNDS}:"
    );
    println!(
        "{:<44} {:<10} {:>6} {:>10} {:>10} {:>8} {:>9}",
        "instance", "memory", "T", "tiered", "balls", "speed-up", "decided"
    );
    let mut runs: Vec<(&str, &str, MemoryKind)> = Vec::new();
    for (id, params) in [
        ("edit", "n1=3 n2=3 sigma=4 ins=1 del=1 sub=1"),
        ("lis", "n=4 sigma=8"),
        ("edit", "n1=8 n2=8 sigma=4 ins=1 del=1 sub=1"),
    ] {
        for m in [
            MemoryKind::Slot,
            MemoryKind::Position,
            MemoryKind::Attention,
        ] {
            runs.push((id, params, m));
        }
    }
    runs.push(("eca", "rule=110 width=8 rows=250", MemoryKind::Slot));
    runs.push(("linrec", "coeffs=1,1 q=10 steps=2000", MemoryKind::Slot));
    let (mut total_tiered, mut total_balls) = (0.0, 0.0);
    for (id, params, memory) in runs {
        let p = freelunch::dp::problem(id, params).expect("catalog problem");
        let input = p.random_input(&mut Rng::new(1));
        let opt = Options::new(memory, Activation::Relu);
        let (mut tt, mut tb) = (f64::INFINITY, f64::INFINITY);
        let (mut tier, mut t) = (Tier::Ball(128), 0);
        for _ in 0..ROUNDS {
            let start = std::time::Instant::now();
            let r = one
                .install(|| run_tiered(&p, &opt, 128, &input))
                .expect("runs");
            tt = tt.min(start.elapsed().as_secs_f64());
            (tier, t) = (r.1, r.2);
            let start = std::time::Instant::now();
            let c: Compiled<Ball> = compile(&p, &opt, 128).expect("compiles");
            black_box(one.install(|| run(&c, &p, &input)).expect("runs"));
            tb = tb.min(start.elapsed().as_secs_f64());
        }
        total_tiered += tt;
        total_balls += tb;
        let name = format!("{id} {params}");
        println!(
            "{:<44} {:<10} {:>6} {:>10.4} {:>10.4} {:>8.2} {:>9}",
            &name[..name.len().min(44)],
            memory.name(),
            t,
            tt,
            tb,
            tb / tt,
            if tier == Tier::Interval {
                "interval"
            } else {
                "ball"
            }
        );
    }
    println!(
        "total: tiered {total_tiered:.3} s, balls {total_balls:.3} s, speed-up {:.2}",
        total_balls / total_tiered
    );
}

fn main() {
    println!(
        "certified scan benchmark: T = {T}, D = {D}, N = {N}, single-threaded, ns per state update"
    );
    let peer = match build_c_peer() {
        Ok(exe) => Some(exe),
        Err(why) => {
            eprintln!("!!! C peer SKIPPED: {why}");
            eprintln!("!!! the arb(C) column and the ball/arb ratio are not measured");
            None
        }
    };
    println!(
        "{:<8} {:>5} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11} {:>11} {:>14}",
        "A",
        "bits",
        "mpfr",
        "ball",
        "arb(C)",
        "ball/arb",
        "ball/mpfr",
        "log2 rad",
        "arb log2rad",
        "mpmath(Python)"
    );
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let instance = scratch("scan.txt");
    for (name, decay) in DECAYS {
        let (spec, xs) = scan_instance(decay);
        for bits in [64u32, 256, 1024] {
            let lr: SsmLayer<Real> = spec.build(bits);
            let mut ir = inputs(&lr, &xs, bits);
            let lb: SsmLayer<Ball> = spec.build(bits);
            let mut ib = inputs(&lb, &xs, bits);
            let have_instance = std::fs::write(&instance, instance_text(&lb, &ib, bits)).is_ok();
            let reps = if bits >= 1024 { 5 } else { 15 };
            let (mut mpfr, mut ball, mut arb) = (f64::INFINITY, f64::INFINITY, None::<f64>);
            let (mut y, mut arb_rad) = (Vec::new(), None);
            // Interleaved rounds, fastest of each: all three see the same machine load.
            for _ in 0..ROUNDS {
                mpfr = mpfr.min(one.install(|| scan_ns(&lr, &mut ir, bits, reps)).0);
                let (b, out) = one.install(|| scan_ns(&lb, &mut ib, bits, reps));
                ball = ball.min(b);
                y = out;
                if let (Some(exe), true) = (&peer, have_instance) {
                    if let Some((ns, rad)) = run_c_peer(exe, &instance, reps) {
                        arb = Some(arb.map_or(ns, |a: f64| a.min(ns)));
                        arb_rad = Some(rad);
                    }
                }
            }
            let rad = y
                .iter()
                .map(|b| b.rad().log2())
                .fold(f64::NEG_INFINITY, f64::max);
            let mpm = run_mpmath(&instance_json(&lr, &ir, bits));
            let f = |x: Option<f64>| x.map_or_else(|| "-".into(), |v| format!("{v:.0}"));
            println!(
                "{:<8} {:>5} {:>9.0} {:>9.0} {:>9} {:>9} {:>10.2} {:>11.1} {:>11} {:>14}",
                name,
                bits,
                mpfr,
                ball,
                f(arb),
                arb.map_or_else(|| "-".into(), |a| format!("{:.2}", ball / a)),
                ball / mpfr,
                rad,
                arb_rad.map_or_else(|| "-".into(), |r| format!("{r:.1}")),
                f(mpm)
            );
        }
    }
    println!();
    println!("f64 interval tier (certified at 53 bits; exp through CORE-MATH), same scans:");
    println!(
        "{:<8} {:>9} {:>9} {:>12} {:>16} {:>15}",
        "A", "f64", "interval", "interval/f64", "ball64/interval", "log2 max width"
    );
    for (name, decay) in DECAYS {
        let (spec, xs) = scan_instance(decay);
        let lf: SsmLayer<f64> = spec.build(53);
        let mut iff = inputs(&lf, &xs, 53);
        let li: SsmLayer<Interval> = spec.build(53);
        let mut ii = inputs(&li, &xs, 53);
        let lb: SsmLayer<Ball> = spec.build(64);
        let mut ib = inputs(&lb, &xs, 64);
        let (mut f, mut iv, mut ball) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
        let mut y = Vec::new();
        for _ in 0..ROUNDS {
            f = f.min(one.install(|| scan_ns(&lf, &mut iff, 53, 50)).0);
            let (t, out) = one.install(|| scan_ns(&li, &mut ii, 53, 50));
            iv = iv.min(t);
            y = out;
            ball = ball.min(one.install(|| scan_ns(&lb, &mut ib, 64, 15)).0);
        }
        let width = y
            .iter()
            .map(|x| x.width().log2())
            .fold(f64::NEG_INFINITY, f64::max);
        println!(
            "{:<8} {:>9.1} {:>9.1} {:>12.2} {:>16.2} {:>15.1}",
            name,
            f,
            iv,
            iv / f,
            ball / iv,
            width
        );
    }
    certified_dp(&one);
    let _ = std::fs::remove_file(&instance);
    if let Some(exe) = peer {
        let _ = std::fs::remove_file(exe);
    }
    println!(
        "ball/arb: our certified scan over the same scan in C with Arb (goal ≤ 1.2); \
         ball/mpfr: over our uncertified MPFR scan (goal ≤ 1.5)."
    );
}
