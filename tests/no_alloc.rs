//! The scan's hot loop allocates nothing on the Rust side (MPFR floats are preallocated and
//! updated in place). A counting global allocator checks it, counting only the calling thread.
//! (MPFR's own temporaries, e.g. inside `exp`, use the C allocator and are not ours to avoid.)

use freelunch::claims::scan_unroll::{random_inputs, DecayChoice, RandomSsm};
use freelunch::model::ssm::SsmLayer;
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
