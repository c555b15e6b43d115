//! The structure-following scan (skipped identities, shared `exp`s, zero inputs skipped in the
//! projections) gives the dense scan's results bit for bit: every state, output and projected
//! input, in f64, MPFR and ball arithmetic, on random layers and on the structures it speeds up
//! (A = 0 with one-hot keys and queries, many channels sharing Δ and A), with exact zeros,
//! negative zeros and mixed precisions in the inputs.

use freelunch::claims::scan_unroll::{DecayChoice, RandomSsm};
use freelunch::model::ssm::{Softplus, SsmLayer};
use freelunch::model::SparseMatrix;
use freelunch::num::{Ball, Real, Scalar};
use freelunch::rng::Rng;

/// Same representation, or both NaN.
fn same<S: Scalar>(a: &S, b: &S) -> bool {
    a.same_repr(b) || (a.is_nan() && b.is_nan())
}

fn assert_same<S: Scalar>(what: &str, a: &[S], b: &[S]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            same(x, y),
            "{} {what}[{i}]: sparse {x:?} vs dense {y:?}",
            S::KIND
        );
    }
}

/// An input vector: random entries, about `zero_frac` of them exact zeros (some `−0`), and
/// with `wide` one entry at a higher precision.
fn input<S: Scalar>(rng: &mut Rng, width: usize, zero_frac: f64, prec: u32, wide: bool) -> Vec<S> {
    (0..width)
        .map(|i| {
            let r = rng.uniform(0.0, 1.0);
            let p = if wide && i == 0 { prec + 64 } else { prec };
            if r < zero_frac / 2.0 {
                S::from_f64(0.0, p)
            } else if r < zero_frac {
                S::from_f64(-0.0, p)
            } else {
                S::from_f64(rng.uniform(-1.0, 1.0), p)
            }
        })
        .collect()
}

/// Run `xs` through the layer with the skipping and with the dense reference; compare the
/// projected inputs, the state and the output after every step.
fn compare<S: Scalar>(layer: &SsmLayer<S>, xs: &[Vec<S>], prec: u32, softplus: Softplus) {
    let mut fast = layer.new_state(prec);
    let mut dense = layer.new_state(prec);
    for (t, x) in xs.iter().enumerate() {
        layer.project_into_with(x, &mut fast.inputs, softplus);
        layer.project_into_dense(x, &mut dense.inputs, softplus);
        let what = format!("{} step {t}", layer.name);
        assert_same(
            &format!("{what} Δ"),
            &fast.inputs.delta,
            &dense.inputs.delta,
        );
        assert_same(&format!("{what} B"), &fast.inputs.b, &dense.inputs.b);
        assert_same(&format!("{what} C"), &fast.inputs.c, &dense.inputs.c);
        assert_same(&format!("{what} u"), &fast.inputs.u, &dense.inputs.u);
        layer.recur(&mut fast);
        layer.recur_dense(&mut dense);
        assert_same(&format!("{what} h"), &fast.h, &dense.h);
        assert_same(&format!("{what} y"), &fast.y, &dense.y);
    }
}

/// A layer shaped like the position-key memory: A = 0 (decay exactly 1), keys `B = e_j/Δ` and
/// queries `C = e_q` read from one-hot coordinates of the input, Δ = softplus(0).
fn position_key<S: Scalar>(n: usize, prec: u32, a: f64) -> SsmLayer<S> {
    let width = 2 * n + 1;
    let inv = S::from_f64(1.0 / std::f64::consts::LN_2, prec);
    let one = S::one(prec);
    let av = vec![S::from_f64(a, prec); n];
    let decay = SsmLayer::detect_decay(&av, 1, n);
    SsmLayer {
        name: format!("position-key a={a}"),
        width,
        channels: 1,
        state: n,
        w_delta: SparseMatrix::zeros(1, width),
        b_delta: vec![S::zero(prec)],
        w_b: SparseMatrix::from_entries(n, width, (0..n).map(|j| (j, j, inv.clone())).collect()),
        w_c: SparseMatrix::from_entries(
            n,
            width,
            (0..n).map(|j| (j, n + j, one.clone())).collect(),
        ),
        w_u: SparseMatrix::from_entries(1, width, vec![(0, 2 * n, one.clone())]),
        a: av,
        d_skip: vec![S::zero(prec)],
        gate: None,
        w_o: SparseMatrix::from_entries(width, 1, vec![(0, 0, one)]),
        decay,
    }
}

/// Inputs of the position-key layer: key one-hot at step t, query one-hot at a random earlier
/// position, a value (sometimes 0 or −0, so reads of zero occur).
fn position_inputs<S: Scalar>(rng: &mut Rng, n: usize, prec: u32) -> Vec<Vec<S>> {
    position_inputs_len(rng, n, n, prec)
}

fn position_inputs_len<S: Scalar>(rng: &mut Rng, n: usize, len: usize, prec: u32) -> Vec<Vec<S>> {
    (0..len)
        .map(|t| {
            let mut x: Vec<S> = (0..2 * n + 1).map(|_| S::zero(prec)).collect();
            x[t] = S::one(prec);
            x[n + rng.below(t + 1)] = S::one(prec);
            x[2 * n] = match rng.below(6) {
                0 => S::from_f64(0.0, prec),
                1 => S::from_f64(-0.0, prec),
                _ => S::from_i64(rng.below(16) as i64, prec),
            };
            x
        })
        .collect()
}

fn structured<S: Scalar>(prec: u32) {
    let mut rng = Rng::new(11);
    for a in [0.0, -0.0, -0.25] {
        let layer = position_key::<S>(48, prec, a);
        let xs = position_inputs::<S>(&mut rng, 48, prec);
        compare(&layer, &xs, prec, Softplus::Exact);
    }
    // Many channels sharing Δ's pre-activation and A (the slot memory's shape), some with
    // A = 0: shared softplus and exp, skipped identities per channel.
    for decay in [DecayChoice::Scalar, DecayChoice::Mamba1] {
        let spec = RandomSsm::new(&mut rng, 6, 12, 5, decay);
        let mut layer: SsmLayer<S> = spec.build(prec);
        layer.name = format!("shared Δ, {decay:?}");
        let dense_delta: Vec<(usize, usize, S)> = (0..layer.channels)
            .flat_map(|d| {
                (0..2).map(move |c| (d, c, S::from_f64(if d % 4 == 0 { 0.5 } else { 1.0 }, prec)))
            })
            .collect();
        layer.w_delta = SparseMatrix::from_entries(layer.channels, layer.width, dense_delta);
        for d in 0..layer.channels {
            layer.b_delta[d] = S::from_f64(-1.0, prec);
            if d % 3 == 0 {
                for n in 0..layer.state {
                    layer.a[d * layer.state + n] = S::zero(prec);
                }
            }
        }
        layer.decay = SsmLayer::detect_decay(&layer.a, layer.channels, layer.state);
        let xs: Vec<Vec<S>> = (0..24)
            .map(|_| input(&mut rng, 6, 0.6, prec, false))
            .collect();
        compare(&layer, &xs, prec, Softplus::Exact);
        compare(&layer, &xs, prec, Softplus::Torch);
    }
}

fn random<S: Scalar>(prec: u32) {
    let mut rng = Rng::new(7);
    for decay in [
        DecayChoice::Scalar,
        DecayChoice::Mamba1,
        DecayChoice::General,
    ] {
        for (zero_frac, wide) in [(0.0, false), (0.5, false), (0.9, true)] {
            let spec = RandomSsm::new(&mut rng, 5, 3, 6, decay);
            let layer: SsmLayer<S> = spec.build(prec);
            let xs: Vec<Vec<S>> = (0..20)
                .map(|_| input(&mut rng, 5, zero_frac, prec, wide))
                .collect();
            compare(&layer, &xs, prec, Softplus::Exact);
        }
    }
}

#[test]
fn the_sparse_scan_is_the_dense_scan_bit_for_bit_on_structured_layers() {
    structured::<f64>(53);
    structured::<Real>(96);
    structured::<Ball>(96);
}

#[test]
fn the_sparse_scan_is_the_dense_scan_bit_for_bit_on_random_layers() {
    random::<f64>(53);
    random::<Real>(80);
    random::<Ball>(80);
}

/// An `f64` that counts its arithmetic operations (per thread), so the test below can show the
/// sparse scan skips work by counting it, not by timing it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Counted(f64);

thread_local! {
    static OPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn ops() -> u64 {
    OPS.with(|c| c.get())
}

fn tick() {
    OPS.with(|c| c.set(c.get() + 1));
}

impl Scalar for Counted {
    const KIND: &'static str = "counted f64";
    fn precision(&self) -> u32 {
        53
    }
    fn ulp_of_one(p: u32) -> f64 {
        f64::ulp_of_one(p)
    }
    fn effective_precision(p: u32) -> u32 {
        f64::effective_precision(p)
    }
    fn from_f64(x: f64, _: u32) -> Self {
        Counted(x)
    }
    fn from_i64(x: i64, p: u32) -> Self {
        Counted(f64::from_i64(x, p))
    }
    fn from_ratio(n: i64, d: i64, p: u32) -> Self {
        Counted(f64::from_ratio(n, d, p))
    }
    fn from_real(x: &Real, p: u32) -> Self {
        Counted(f64::from_real(x, p))
    }
    fn to_real(&self) -> Real {
        self.0.to_real()
    }
    fn to_f64(&self) -> f64 {
        self.0
    }
    fn pi(p: u32) -> Self {
        Counted(f64::pi(p))
    }
    fn sqrt_half_pi(p: u32) -> Self {
        Counted(f64::sqrt_half_pi(p))
    }
    fn set(&mut self, o: &Self) {
        self.0 = o.0;
    }
    fn set_f64(&mut self, x: f64) {
        self.0 = x;
    }
    fn set_i64(&mut self, x: i64) {
        self.0.set_i64(x);
    }
    fn add_assign_s(&mut self, o: &Self) {
        tick();
        self.0 += o.0;
    }
    fn sub_assign_s(&mut self, o: &Self) {
        tick();
        self.0 -= o.0;
    }
    fn mul_assign_s(&mut self, o: &Self) {
        tick();
        self.0 *= o.0;
    }
    fn div_assign_s(&mut self, o: &Self) {
        tick();
        self.0 /= o.0;
    }
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        tick();
        self.0.mul_add_assign(&a.0, &b.0);
    }
    fn mul_add_mul_assign(&mut self, a: &Self, b: &Self, c: &Self) {
        tick();
        self.0.mul_add_mul_assign(&a.0, &b.0, &c.0);
    }
    fn neg_mut(&mut self) {
        self.0 = -self.0;
    }
    fn abs_mut(&mut self) {
        self.0 = self.0.abs();
    }
    fn exp_mut(&mut self) {
        tick();
        self.0.exp_mut();
    }
    fn ln_mut(&mut self) {
        tick();
        self.0.ln_mut();
    }
    fn ln_1p_mut(&mut self) {
        tick();
        self.0.ln_1p_mut();
    }
    fn sqrt_mut(&mut self) {
        tick();
        self.0.sqrt_mut();
    }
    fn erf_mut(&mut self) {
        tick();
        self.0.erf_mut();
    }
    fn erfc_mut(&mut self) {
        tick();
        self.0.erfc_mut();
    }
    fn is_finite(&self) -> bool {
        self.0.is_finite()
    }
    fn is_nan(&self) -> bool {
        self.0.is_nan()
    }
    fn is_zero(&self) -> bool {
        self.0 == 0.0
    }
    fn is_sign_negative(&self) -> bool {
        self.0.is_sign_negative()
    }
    fn sign_bit(&self) -> bool {
        self.0.sign_bit()
    }
    fn is_one(&self) -> bool {
        self.0 == 1.0
    }
    fn mid_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        self.0.partial_cmp(&o.0)
    }
    fn certainly_gt(&self, o: &Self) -> bool {
        self.0 > o.0
    }
    fn certainly_ge(&self, o: &Self) -> bool {
        self.0 >= o.0
    }
    fn log10_abs(&self) -> f64 {
        self.0.log10_abs()
    }
}

/// The skipping does happen: on the position-key layer (one-hot keys and queries, A = 0) the
/// sparse step performs a small fraction of the dense step's operations, counted one by one (a
/// check that the comparisons above compare two different code paths; times are in
/// `benches/scan.rs`).
#[test]
fn the_sparse_scan_skips_work_on_one_hot_keys() {
    let (n, prec) = (256, 53);
    let layer = position_key::<Counted>(n, prec, 0.0);
    let mut rng = Rng::new(3);
    let xs = position_inputs_len::<Counted>(&mut rng, n, 64, prec);
    let count = |sparse: bool| {
        let mut st = layer.new_state(prec);
        let before = ops();
        for x in &xs {
            if sparse {
                layer.project_into_with(x, &mut st.inputs, Softplus::Exact);
                layer.recur(&mut st);
            } else {
                layer.project_into_dense(x, &mut st.inputs, Softplus::Exact);
                layer.recur_dense(&mut st);
            }
        }
        (ops() - before, st.y)
    };
    let ((fast, y_fast), (slow, y_slow)) = (count(true), count(false));
    eprintln!("N = {n}, 64 steps: sparse {fast} operations, dense {slow}");
    assert_eq!(y_fast, y_slow, "same outputs");
    // per step the dense scan touches all N states (a few operations each); the sparse one
    // touches the O(1) states whose key or query is nonzero
    assert!(slow >= 64 * 2 * n as u64, "dense: {slow}");
    assert!(fast * 20 < slow, "sparse {fast} vs dense {slow} operations");
}
