//! The scan's hot loop allocates nothing on the Rust side (MPFR floats are preallocated and
//! updated in place). A counting global allocator checks it, counting only the calling thread.
//! (MPFR's own temporaries, e.g. inside `exp`, use the C allocator and are not ours to avoid.)

use freelunch::claims::scan_unroll::{random_inputs, DecayChoice, RandomSsm};
use freelunch::model::mlp::Activation;
use freelunch::model::nemotron_h::{
    AttentionMixer, Mamba2Mixer, Mixer, MlpMixer, NemotronHBlock, NemotronHModel,
};
use freelunch::model::sparse::SparseMatrix;
use freelunch::model::ssm::{Softplus, SsmLayer};
use freelunch::num::{Ball, Real, Scalar};
use freelunch::rng::Rng;
use std::alloc::{GlobalAlloc, Layout, System};

struct Counting;

// Both the switch and the count are per thread: tests run in parallel, and another test's
// allocations must not land in this test's count.
thread_local! {
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static ALLOCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn note_alloc() {
    if COUNTING.with(|c| c.get()) {
        ALLOCS.with(|a| a.set(a.get() + 1));
    }
}

fn allocs() -> usize {
    ALLOCS.with(|a| a.get())
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note_alloc();
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note_alloc();
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn scan_steps_do_not_allocate() {
    scan_does_not_allocate::<Real>();
}

/// The certified scan too: Arb balls are updated in place (Arb reuses their limbs; its C
/// allocations are not counted here).
#[test]
fn certified_scan_steps_do_not_allocate() {
    scan_does_not_allocate::<Ball>();
}

fn scan_does_not_allocate<S: Scalar>() {
    for decay in [
        DecayChoice::Scalar,
        DecayChoice::Mamba1,
        DecayChoice::General,
    ] {
        let mut rng = Rng::new(3);
        let spec = RandomSsm::new(&mut rng, 4, 2, 8, decay);
        let xs = random_inputs(&mut rng, 16, 4);
        let prec = 256;
        let layer: SsmLayer<S> = spec.build(prec);
        let inputs: Vec<_> = xs
            .iter()
            .map(|x| {
                let v: Vec<S> = x.iter().map(|&a| S::from_f64(a, prec)).collect();
                layer.project(&v, prec)
            })
            .collect();
        let mut st = layer.new_state(prec);
        // warm-up pass (MPFR fills its constant caches once), then count a second pass
        for inp in &inputs {
            st.inputs.clone_from(inp);
            layer.recur(&mut st);
        }
        COUNTING.with(|c| c.set(true));
        let before = allocs();
        for inp in &inputs {
            for (dst, src) in st.inputs.delta.iter_mut().zip(&inp.delta) {
                dst.set(src);
            }
            for (dst, src) in st.inputs.b.iter_mut().zip(&inp.b) {
                dst.set(src);
            }
            for (dst, src) in st.inputs.c.iter_mut().zip(&inp.c) {
                dst.set(src);
            }
            for (dst, src) in st.inputs.u.iter_mut().zip(&inp.u) {
                dst.set(src);
            }
            layer.recur(&mut st);
        }
        let after = allocs();
        COUNTING.with(|c| c.set(false));
        assert_eq!(
            after - before,
            0,
            "{} {decay:?}: {} allocations in the scan",
            S::KIND,
            after - before
        );
    }
}

#[test]
fn the_counter_sees_allocations() {
    COUNTING.with(|c| c.set(true));
    let before = allocs();
    let v = std::hint::black_box(vec![Real::from_i64(1, 64); 3]);
    let after = allocs();
    COUNTING.with(|c| c.set(false));
    drop(v);
    assert!(after > before, "a new vector must be counted");
}

fn random_sparse<S: Scalar>(rng: &mut Rng, rows: usize, cols: usize, prec: u32) -> SparseMatrix<S> {
    let entries = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (r, c)))
        .map(|(r, c)| (r, c, S::from_f64(rng.uniform(-0.5, 0.5), prec)))
        .collect();
    SparseMatrix::from_entries(rows, cols, entries)
}

fn random_vec<S: Scalar>(rng: &mut Rng, n: usize, prec: u32) -> Vec<S> {
    (0..n)
        .map(|_| S::from_f64(rng.uniform(-0.5, 0.5), prec))
        .collect()
}

/// A small NemotronH model with one block of each mixer (`M*-`), dense random weights.
fn small_nemotron_h<S: Scalar>(prec: u32) -> NemotronHModel<S> {
    let mut rng = Rng::new(11);
    let (w, vocab) = (6, 5);
    let (heads, p, groups, n, k) = (2, 2, 1, 2, 3);
    let (inner, conv) = (heads * p, heads * p + 2 * groups * n);
    let mamba2 = Mamba2Mixer {
        heads,
        head_dim: p,
        groups,
        state: n,
        conv_kernel: k,
        in_z: random_sparse(&mut rng, inner, w, prec),
        in_xbc: random_sparse(&mut rng, conv, w, prec),
        in_dt: random_sparse(&mut rng, heads, w, prec),
        b_z: random_vec(&mut rng, inner, prec),
        b_xbc: random_vec(&mut rng, conv, prec),
        b_dt: random_vec(&mut rng, heads, prec),
        conv_w: random_vec(&mut rng, conv * k, prec),
        conv_b: random_vec(&mut rng, conv, prec),
        dt_bias: random_vec(&mut rng, heads, prec),
        a: vec![S::from_f64(-0.5, prec), S::from_f64(-1.5, prec)],
        d: random_vec(&mut rng, heads, prec),
        norm_w: random_vec(&mut rng, inner, prec),
        out: random_sparse(&mut rng, w, inner, prec),
        b_out: random_vec(&mut rng, w, prec),
    };
    let (ah, kvh, hd) = (2, 1, 3);
    let attention = AttentionMixer {
        heads: ah,
        kv_heads: kvh,
        head_dim: hd,
        q: random_sparse(&mut rng, ah * hd, w, prec),
        k: random_sparse(&mut rng, kvh * hd, w, prec),
        v: random_sparse(&mut rng, kvh * hd, w, prec),
        o: random_sparse(&mut rng, w, ah * hd, prec),
    };
    let mlp = MlpMixer {
        up: random_sparse(&mut rng, 4, w, prec),
        b_up: random_vec(&mut rng, 4, prec),
        down: random_sparse(&mut rng, w, 4, prec),
        b_down: random_vec(&mut rng, w, prec),
        unit_names: (0..4).map(|i| format!("unit{i}")).collect(),
    };
    let block = |name: &str, mixer| NemotronHBlock {
        name: name.to_string(),
        norm_weight: (0..w).map(|_| S::one(prec)).collect(),
        mixer,
    };
    NemotronHModel {
        name: "small".into(),
        coord_names: (0..w).map(|i| format!("x{i}")).collect(),
        vocab: (0..vocab).map(|i| i.to_string()).collect(),
        embedding: random_sparse(&mut rng, vocab, w, prec),
        blocks: vec![
            block("mamba2", Mixer::Mamba2(mamba2)),
            block("attention", Mixer::Attention(attention)),
            block("mlp", Mixer::Mlp(mlp)),
        ],
        norm_f: (0..w).map(|_| S::one(prec)).collect(),
        eps: S::from_f64(1e-5, prec),
        mlp_act: Activation::Relu,
        lm_head: random_sparse(&mut rng, vocab, w, prec),
        prec,
    }
}

fn nemotron_h_steps_do_not_allocate<S: Scalar>() {
    let prec = 128;
    let model = small_nemotron_h::<S>(prec);
    let tokens: Vec<usize> = (0..24).map(|i| (i * 7 + 3) % model.vocab.len()).collect();
    // warm-up run (MPFR constant caches), then a fresh runner with room for every position
    let mut warm = model.runner(tokens.len(), Softplus::Exact);
    tokens.iter().for_each(|&t| warm.feed(t));
    let mut run = model.runner(tokens.len(), Softplus::Exact);
    COUNTING.with(|c| c.set(true));
    let before = allocs();
    for &t in &tokens {
        run.feed(t);
    }
    let after = allocs();
    COUNTING.with(|c| c.set(false));
    assert_eq!(
        after - before,
        0,
        "{}: allocations in NemotronH steps",
        S::KIND
    );
    // the runner computes what the model's own decoding computes
    let all = model.logits_of(&tokens, Softplus::Exact);
    let last = all.last().expect("tokens");
    assert!(run
        .logits
        .iter()
        .zip(last)
        .all(|(a, b)| a.to_f64() == b.to_f64()));
}

#[test]
fn nemotron_h_runner_steps_do_not_allocate() {
    nemotron_h_steps_do_not_allocate::<f64>();
    nemotron_h_steps_do_not_allocate::<Real>();
    nemotron_h_steps_do_not_allocate::<Ball>();
}

/// Without room reserved for the attention caches, steps do allocate: the counter sees it.
#[test]
fn an_unreserved_nemotron_h_runner_is_seen_allocating() {
    let model = small_nemotron_h::<f64>(53);
    let mut run = model.runner(0, Softplus::Exact);
    COUNTING.with(|c| c.set(true));
    let before = allocs();
    for t in 0..8 {
        run.feed(t % model.vocab.len());
    }
    let after = allocs();
    COUNTING.with(|c| c.set(false));
    assert!(after > before, "growing caches must be counted");
}
