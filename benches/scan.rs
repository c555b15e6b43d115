//! Scan benchmark (a bench binary; `cargo bench --bench scan`).
//!
//! Reports nanoseconds per (token · channel · state) for the recurrent scan at f64 and at
//! 64/256/1024 bits, N ∈ {16, 256}, and the ratio to the MPFR operations the scan cannot avoid
//! (per channel and step: `Δ·A`, one `exp`, `Δ·u`; per state update: one fmma `h·a + Δu·b`, one
//! fma `y += c·h`, plus one multiply for the powers when A = −(n+1)), timed in the same run.
//! The ratio compares single-threaded runs; the parallel speed-up is reported beside it.

use freelunch::claims::scan_unroll::{random_inputs, DecayChoice, RandomSsm};
use freelunch::model::ssm::{SsmLayer, StepInputs};
use freelunch::num::{Real, Scalar};
use freelunch::rng::Rng;
use gmp_mpfr_sys::mpfr;
use std::hint::black_box;
use std::time::Instant;

const CHANNELS: usize = 16;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median seconds of `f` over `reps` runs after one warm-up.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..reps)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn inputs<S: Scalar>(layer: &SsmLayer<S>, xs: &[Vec<f64>], prec: u32) -> Vec<StepInputs<S>> {
    xs.iter()
        .map(|x| {
            let v: Vec<S> = x.iter().map(|&a| S::from_f64(a, prec)).collect();
            layer.project(&v, prec)
        })
        .collect()
}

fn scan_seconds<S: Scalar>(
    layer: &SsmLayer<S>,
    inp: &[StepInputs<S>],
    prec: u32,
    reps: usize,
) -> f64 {
    let mut st = layer.new_state(prec);
    time(reps, || {
        for i in inp {
            st.inputs.clone_from(i);
            layer.recur(&mut st);
        }
        black_box(&st.y);
    })
}

/// The floor: only the MPFR calls every state update needs, serial, on preallocated floats.
fn floor_seconds(n: usize, steps: usize, prec: u32, powers: bool, reps: usize) -> f64 {
    let mk = |v: f64| Real::from_f64(v, prec).0;
    let mut h: Vec<_> = (0..CHANNELS * n)
        .map(|i| mk(0.1 + i as f64 * 1e-3))
        .collect();
    let b: Vec<_> = (0..n).map(|i| mk(0.3 - i as f64 * 1e-3)).collect();
    let c: Vec<_> = (0..n).map(|i| mk(0.7 + i as f64 * 1e-3)).collect();
    let mut a = mk(0.93);
    let e = mk(0.999);
    let du = mk(0.25);
    let mut y = mk(0.0);
    let delta = mk(0.37);
    let neg_rate = mk(-0.8);
    let mut decay = mk(0.0);
    let rnd = mpfr::rnd_t::RNDN;
    time(reps, || {
        for _ in 0..steps {
            for d in 0..CHANNELS {
                // per channel: exp(Δ·A) and Δ·u
                // SAFETY: initialised MPFR floats.
                unsafe {
                    let dp = decay.as_raw_mut();
                    mpfr::mul(dp, delta.as_raw(), neg_rate.as_raw(), rnd);
                    mpfr::exp(dp, dp, rnd);
                    let yp = y.as_raw_mut();
                    mpfr::mul(yp, delta.as_raw(), du.as_raw(), rnd);
                }
                for (k, hn) in h[d * n..(d + 1) * n].iter_mut().enumerate() {
                    // SAFETY: all operands are initialised MPFR floats; aliasing is allowed.
                    unsafe {
                        let hp = hn.as_raw_mut();
                        mpfr::fmma(hp, hp, a.as_raw(), du.as_raw(), b[k].as_raw(), rnd);
                        let yp = y.as_raw_mut();
                        mpfr::fma(yp, c[k].as_raw(), hp, yp, rnd);
                        if powers {
                            let ap = a.as_raw_mut();
                            mpfr::mul(ap, ap, e.as_raw(), rnd);
                        }
                    }
                }
            }
        }
        black_box(&y);
    })
}

fn main() {
    let steps = 64;
    let threads = rayon::current_num_threads();
    println!("scan benchmark: {CHANNELS} channels, {steps} tokens, rayon threads {threads}");
    println!(
        "{:<8} {:>5} {:<10} {:>14} {:>14} {:>10} {:>16} {:>9}",
        "arith", "N", "decay", "ns/update", "floor ns", "ratio", "updates/s", "speed-up"
    );
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool");
    for &n in &[16usize, 256] {
        for decay in [DecayChoice::Scalar, DecayChoice::Mamba1] {
            let mut rng = Rng::new(1);
            let spec = RandomSsm::new(&mut rng, 4, CHANNELS, n, decay);
            let xs = random_inputs(&mut rng, steps, 4);
            let updates = (steps * CHANNELS * n) as f64;
            let l64: SsmLayer<f64> = spec.build(53);
            let i64_ = inputs(&l64, &xs, 53);
            let s = one_thread.install(|| scan_seconds(&l64, &i64_, 53, 21));
            println!(
                "{:<8} {:>5} {:<10} {:>14.2} {:>14} {:>10} {:>16.3e}",
                "f64",
                n,
                format!("{decay:?}"),
                s / updates * 1e9,
                "-",
                "-",
                updates / s
            );
            for &bits in &[64u32, 256, 1024] {
                let l: SsmLayer<Real> = spec.build(bits);
                let inp = inputs(&l, &xs, bits);
                let reps = if n * bits as usize > 100_000 { 5 } else { 11 };
                let serial = one_thread.install(|| scan_seconds(&l, &inp, bits, reps));
                let par = scan_seconds(&l, &inp, bits, reps);
                let f = floor_seconds(n, steps, bits, decay == DecayChoice::Mamba1, reps);
                println!(
                    "{:<8} {:>5} {:<10} {:>14.2} {:>14.2} {:>10.2} {:>16.3e} {:>9.2}",
                    format!("{bits}b"),
                    n,
                    format!("{decay:?}"),
                    serial / updates * 1e9,
                    f / updates * 1e9,
                    serial / f,
                    updates / serial,
                    serial / par
                );
            }
        }
    }
    println!(
        "ns/update, ratio and updates/s are single-threaded; ratio = scan / floor (goal ≤ 1.5);"
    );
    println!(
        "speed-up = single-threaded time / time with all rayon threads (channels in parallel)."
    );
}
