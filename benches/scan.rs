//! Scan benchmark (a bench binary; `cargo bench --bench scan`).
//!
//! Reports nanoseconds per (token · channel · state) for the recurrent scan at f64 and at
//! 64/256/1024 bits, N ∈ {16, 256}, and the ratio to the MPFR operations the scan cannot avoid
//! (per channel and step: `Δ·A`, one `exp`, `Δ·u`, `D·u`; per state update: one fmma `h·a + Δu·b`,
//! one fma `y += c·h`, plus one multiply for the powers when A = −(n+1)), written directly against
//! MPFR on the same layer and inputs, timed in the same run.
//! The ratio compares single-threaded runs; the parallel speed-up is reported beside it.

mod support;
use freelunch::claims::scan_unroll::{random_inputs, DecayChoice, RandomSsm};
use freelunch::model::ssm::{DecayStructure, SsmLayer, StepInputs};
use freelunch::num::{Real, Scalar};
use freelunch::rng::Rng;
use gmp_mpfr_sys::mpfr;
use std::hint::black_box;
use support::{inputs, time};

const CHANNELS: usize = 16;

fn scan_seconds<S: Scalar>(
    layer: &SsmLayer<S>,
    inp: &[StepInputs<S>],
    prec: u32,
    reps: usize,
) -> f64 {
    scan_seconds_with(layer, inp, prec, reps, false)
}

/// The scan (`dense`: [`SsmLayer::recur_dense`], every operation carried out).
fn scan_seconds_with<S: Scalar>(
    layer: &SsmLayer<S>,
    inp: &[StepInputs<S>],
    prec: u32,
    reps: usize,
    dense: bool,
) -> f64 {
    let mut st = layer.new_state(prec);
    time(reps, || {
        for i in inp {
            st.inputs.clone_from(i);
            if dense {
                layer.recur_dense(&mut st);
            } else {
                layer.recur(&mut st);
            }
        }
        black_box(&st.y);
    })
}

/// A position-key memory layer (A = 0, keys `B = e_t`, one-hot queries): the structure the
/// scan's skipped identities exploit. Each step writes key `t mod N` and reads a random earlier
/// key; only the two hot entries of B and C are rewritten between steps (O(1), so the time is
/// the recurrence's, not copying O(N) inputs).
fn position_key_seconds<S: Scalar>(n: usize, prec: u32, steps: usize, dense: bool) -> f64 {
    let spec = RandomSsm::new(&mut Rng::new(2), 1, 1, n, DecayChoice::Scalar);
    let mut layer: SsmLayer<S> = spec.build(prec);
    layer.a = (0..n).map(|_| S::zero(prec)).collect();
    layer.decay = SsmLayer::detect_decay(&layer.a, 1, n);
    let mut rng = Rng::new(3);
    let reads: Vec<usize> = (0..steps).map(|t| rng.below(t % n + 1)).collect();
    let values: Vec<i64> = (0..steps).map(|_| rng.below(16) as i64).collect();
    let mut st = layer.new_state(prec);
    st.inputs.delta[0] = S::from_f64(std::f64::consts::LN_2, prec);
    let (one, zero) = (S::one(prec), S::zero(prec));
    time(5, || {
        let (mut pb, mut pc) = (0, 0);
        for t in 0..steps {
            st.inputs.b[pb].set(&zero);
            st.inputs.c[pc].set(&zero);
            pb = t % n;
            pc = reads[t];
            st.inputs.b[pb].set(&one);
            st.inputs.c[pc].set(&one);
            st.inputs.u[0].set_i64(values[t]);
            if dense {
                layer.recur_dense(&mut st);
            } else {
                layer.recur(&mut st);
            }
        }
        black_box(&st.y);
    })
}

/// The floor: only the MPFR calls every step needs, written directly against MPFR on the same
/// layer and the same inputs (so the data, and with it MPFR's own cost, are identical).
fn floor_seconds(layer: &SsmLayer<Real>, inp: &[StepInputs<Real>], prec: u32, reps: usize) -> f64 {
    let n = layer.state;
    let powers = layer.decay == DecayStructure::IntegerMultiples;
    let mk = || Real::zero(prec).0;
    let mut h: Vec<_> = (0..layer.channels * n).map(|_| mk()).collect();
    let (mut decay, mut power, mut du, mut y) = (mk(), mk(), mk(), mk());
    let rnd = mpfr::rnd_t::RNDN;
    time(reps, || {
        for x in &mut h {
            rug::Assign::assign(&mut *x, 0);
        }
        for step in inp {
            for d in 0..layer.channels {
                let a0 = &layer.a[d * n].0;
                // SAFETY: all operands are initialised MPFR floats; MPFR allows aliasing.
                unsafe {
                    mpfr::mul(
                        decay.as_raw_mut(),
                        step.delta[d].0.as_raw(),
                        a0.as_raw(),
                        rnd,
                    );
                    mpfr::exp(decay.as_raw_mut(), decay.as_raw(), rnd);
                    mpfr::set(power.as_raw_mut(), decay.as_raw(), rnd);
                    mpfr::mul(
                        du.as_raw_mut(),
                        step.delta[d].0.as_raw(),
                        step.u[d].0.as_raw(),
                        rnd,
                    );
                    mpfr::mul(
                        y.as_raw_mut(),
                        layer.d_skip[d].0.as_raw(),
                        step.u[d].0.as_raw(),
                        rnd,
                    );
                    for (k, hn) in h[d * n..(d + 1) * n].iter_mut().enumerate() {
                        let hp = hn.as_raw_mut();
                        mpfr::fmma(
                            hp,
                            hp,
                            power.as_raw(),
                            du.as_raw(),
                            step.b[k].0.as_raw(),
                            rnd,
                        );
                        mpfr::fma(y.as_raw_mut(), step.c[k].0.as_raw(), hp, y.as_raw(), rnd);
                        if powers {
                            mpfr::mul(power.as_raw_mut(), power.as_raw(), decay.as_raw(), rnd);
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
        "{:<8} {:>5} {:<10} {:>14} {:>14} {:>10} {:>16} {:>9} {:>10}",
        "arith",
        "N",
        "decay",
        "ns/update",
        "floor ns",
        "ratio",
        "updates/s",
        "speed-up",
        "dense ns"
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
                let reps = if n * bits as usize > 100_000 { 9 } else { 21 };
                let serial = one_thread.install(|| scan_seconds(&l, &inp, bits, reps));
                let par = scan_seconds(&l, &inp, bits, reps);
                let f = floor_seconds(&l, &inp, bits, reps);
                let dense = one_thread.install(|| scan_seconds_with(&l, &inp, bits, reps, true));
                println!(
                    "{:<8} {:>5} {:<10} {:>14.2} {:>14.2} {:>10.2} {:>16.3e} {:>9.2} {:>10.2}",
                    format!("{bits}b"),
                    n,
                    format!("{decay:?}"),
                    serial / updates * 1e9,
                    f / updates * 1e9,
                    serial / f,
                    updates / serial,
                    serial / par,
                    dense / updates * 1e9
                );
            }
        }
    }
    println!(
        "ns/update, ratio and updates/s are single-threaded; ratio = scan / floor (goal ≤ 1.5);"
    );
    println!();
    println!("position-key layer (A = 0, one-hot B and C), 1 channel, single-threaded:");
    println!(
        "{:<8} {:>6} {:>16} {:>16} {:>10}",
        "arith", "N", "ns/step", "dense ns/step", "dense/this"
    );
    for &n in &[256usize, 4096] {
        let steps = 256;
        let rows: Vec<(String, f64, f64)> = {
            let t = |f: &dyn Fn(bool) -> f64| (f(false), f(true));
            let (a, b) =
                t(&|d| one_thread.install(|| position_key_seconds::<f64>(n, 53, steps, d)));
            let mut v = vec![("f64".to_string(), a, b)];
            for &bits in &[128u32, 1024] {
                let (a, b) =
                    t(&|d| one_thread.install(|| position_key_seconds::<Real>(n, bits, steps, d)));
                v.push((format!("{bits}b"), a, b));
            }
            let (a, b) = t(&|d| {
                one_thread
                    .install(|| position_key_seconds::<freelunch::num::Ball>(n, 128, steps, d))
            });
            v.push(("ball128".to_string(), a, b));
            v
        };
        for (name, sparse, dense) in rows {
            println!(
                "{:<8} {:>6} {:>16.1} {:>16.1} {:>10.1}",
                name,
                n,
                sparse / steps as f64 * 1e9,
                dense / steps as f64 * 1e9,
                dense / sparse
            );
        }
    }
    println!(
        "speed-up = single-threaded time / time with all rayon threads (channels in parallel)."
    );
}
