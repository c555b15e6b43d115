//! Gadget bounds (proofs/README.md): each holds under its hypotheses, and each check fails (or the
//! bound refuses) when a hypothesis is violated.

use freelunch::claims::gadget_common::sharp_slack;
use freelunch::claims::gadget_mul;
use freelunch::gadgets::relu::{self, sup_constant, tail, ReluUnit};
use freelunch::gadgets::{eval_mlp, gate, lookup, mul, residual, select, GateMul};
use freelunch::model::{Activation, Coord, Layout, MlpBuilder};
use freelunch::num::{Arith, Ball, Real, Scalar};
use proptest::prelude::*;

const P: u32 = 192;

/// `n` named residual coordinates `c0, c1, …` (typed handles).
fn coords(n: usize) -> Vec<Coord> {
    let mut lay = Layout::new();
    (0..n)
        .map(|i| lay.coord(&format!("c{i}"), "test coordinate"))
        .collect()
}

fn r(x: f64) -> Real {
    Real::from_f64(x, P)
}

fn mul_error(a: f64, b: f64, lambda: f64) -> Real {
    let layer = mul::standalone(&r(lambda), P).unwrap();
    let out = eval_mlp(&layer, &residual(3, P, &[(0, r(a)), (1, r(b))]), P);
    out[2].sub(&r(a).mul(&r(b))).abs()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

    #[test]
    fn mul_error_within_pointwise_and_uniform_bound(a in -3.0..3.0f64, b in -3.0..3.0f64, k in 0i32..16) {
        let m = 3.0;
        let lambda = m * 2f64.powi(k);
        let err = mul_error(a, b, lambda);
        let pw = mul::pointwise_bound(&r(a), &r(b), &r(lambda)).unwrap();
        prop_assert!(err <= pw, "err {err:?} > pointwise bound {pw:?}");
        prop_assert!(err <= mul::uniform_bound(&r(m), &r(lambda)).unwrap());
    }

    #[test]
    fn relu_select_is_exact_on_dyadic_inputs(x in -64i64..=64, y in -64i64..=64, tq in 4i64..40, neg in any::<bool>()) {
        // M = 8, α = 1/4, K = 32; x, y multiples of 1/8, |t| ≥ α multiples of 1/16.
        let (xv, yv) = (x as f64 / 8.0, y as f64 / 8.0);
        let t = if neg { -(tq as f64) / 16.0 } else { tq as f64 / 16.0 };
        let unit = ReluUnit::<f64>::exact(53);
        let layer = select::standalone(1, &32.0, &unit).unwrap();
        let out = eval_mlp(&layer, &[xv, yv, t, 0.0], 53);
        prop_assert_eq!(out[3], if neg { yv } else { xv });
    }

    #[test]
    fn relu_table_is_exact_on_its_domain(vals in proptest::collection::vec(-1000i64..1000, 2..20), k in 0usize..20) {
        let k = k % vals.len();
        let domain: Vec<i64> = (0..vals.len() as i64).map(|c| 3 * c - 7).collect();
        let unit = ReluUnit::<f64>::exact(53);
        let (layer, _) = lookup::standalone_table(&domain, &vals, &unit, 53).unwrap();
        let out = eval_mlp(&layer, &[domain[k] as f64, 0.0], 53);
        prop_assert_eq!(out[1], vals[k] as f64);
        prop_assert!(layer.hidden_width() <= 2 * (vals.len() - 1));
    }

    #[test]
    fn gate_error_within_sharp_bound(y in -2.0..2.0f64, z in -1.0..1.0f64, k in 3u32..40) {
        let gain = k as f64;
        let g = GateMul::standalone(r(gain)).unwrap();
        let layer = g.layer("g", 3, P).unwrap();
        let mut st = layer.new_state(P);
        let mut x = residual(3, P, &[(0, r(y)), (1, r(z))]);
        layer.step(&mut st, &mut x);
        let err = x[2].sub(&r(y).mul(&r(z))).abs();
        let bound = gate::error_bound(&r(y), &r(1.0), &r(gain)).unwrap();
        prop_assert!(err <= bound.add(&r(1e-50)), "err {err:?} bound {bound:?}");
        prop_assert!(bound <= gate::theory_bound(&r(y), &r(1.0), &r(gain)));
    }
}

#[test]
fn mul_inputs_beyond_m_break_the_uniform_bound() {
    // λ is sized for M = 1; inputs of size 3 violate the hypothesis.
    let lambda = 64.0;
    let err = mul_error(3.0, 3.0, lambda);
    assert!(err > mul::uniform_bound(&r(1.0), &r(lambda)).unwrap());
}

#[test]
fn mul_too_small_lambda_is_refused() {
    assert!(mul::pointwise_bound(&r(2.0), &r(2.0), &r(1.5)).is_err());
    assert!(mul::uniform_bound(&r(2.0), &r(1.0)).is_err());
    assert!(mul::pointwise_bound(&r(2.0), &r(2.0), &r(2.0)).is_ok());
}

#[test]
fn mul_bound_is_attained_and_a_smaller_one_fails() {
    // At the corner a = b = M the error approaches 2M⁴/(3λ²) from below as λ grows: a bound
    // 0.1% smaller is violated there.
    let (m, lambda) = (2.0, 256.0);
    let err = mul_error(m, m, lambda);
    let ub = mul::uniform_bound(&r(m), &r(lambda)).unwrap();
    assert!(err <= ub);
    assert!(err > ub.mul(&r(0.999)));
}

#[test]
fn mul_lambda_for_meets_epsilon() {
    for eps in [1e-3, 1e-7] {
        let lam = mul::lambda_for(&r(2.0), &r(eps)).unwrap();
        let ub = mul::uniform_bound(&r(2.0), &lam).unwrap();
        assert!(ub.to_f64() <= eps);
        assert!(mul_error(2.0, -2.0, lam.to_f64()).to_f64() <= eps);
    }
}

#[test]
fn mul_f64_breaks_where_mpfr_holds() {
    let lambda = 2f64.powi(24);
    let pts = [(0.75, -0.5), (0.3, 0.9)];
    let f = gadget_mul::outputs_at(Arith::F64, lambda, &pts).unwrap();
    let m = gadget_mul::outputs_at(Arith::mpfr(128), lambda, &pts).unwrap();
    for ((&(a, b), fo), mo) in pts.iter().zip(&f).zip(&m) {
        let exact = r(a).mul(&r(b));
        let bound = mul::pointwise_bound(&r(a), &r(b), &r(lambda)).unwrap();
        assert!(fo.sub(&exact).abs() > bound, "f64 should exceed the bound");
        assert!(
            mo.sub(&exact).abs() <= bound,
            "128-bit MPFR should stay within it"
        );
    }
    let lost = gadget_mul::bits_lost(Arith::mpfr(128), lambda, &pts).unwrap();
    assert!((lost - 24.0).abs() < 6.0, "bits lost {lost}");
}

#[test]
fn relu_constants_are_the_maxima_and_cannot_be_lowered() {
    for act in [Activation::Gelu, Activation::Silu] {
        let sc = sup_constant::<Real>(act, P);
        let lambda = 16.0;
        let layer = relu::standalone(act, r(lambda), P).unwrap();
        let mut sup = Real::zero(P);
        for k in 0..=4000 {
            let z = -4.0 / lambda + k as f64 * 8.0 / (4000.0 * lambda);
            let out = eval_mlp(&layer, &residual(2, P, &[(0, r(z))]), P);
            sup = sup.max_s(&out[1].sub(&r(z).relu()).abs());
        }
        let bound = sc.c.div(&r(lambda));
        assert!(sup <= bound);
        // A constant 10⁻⁴ smaller is violated on the same grid: the check can fail.
        assert!(sup > bound.mul(&r(1.0 - 1e-4)));
    }
    // SiLU's constant is W(1/e): c·e^c = 1/e.
    let c = sup_constant::<Real>(Activation::Silu, P).c;
    let lhs = c.mul(&c.exp());
    assert!(lhs.sub(&r(-1.0).exp()).abs().to_f64() < 1e-50);
}

#[test]
fn relu_integer_bound_fails_off_the_integers() {
    let act = Activation::Gelu;
    let lambda = 4.0;
    let layer = relu::standalone(act, r(lambda), P).unwrap();
    let err = |z: f64| {
        let out = eval_mlp(&layer, &residual(2, P, &[(0, r(z))]), P);
        out[1].sub(&r(z).relu()).abs()
    };
    let tau = tail(act, &r(lambda));
    assert!(err(1.0) <= tau.add(&r(1e-50)));
    assert!(err(-3.0) <= tau);
    assert!(err(0.5) > tau, "non-integer input must exceed τ(λ)");
}

#[test]
fn select_fails_when_t_is_inside_the_margin_or_gain_too_small() {
    let unit = ReluUnit::<f64>::exact(53);
    // M = 1, α = 1, K = 1: |t| = 0.5 < α mixes x and y.
    let layer = select::standalone(1, &1.0, &unit).unwrap();
    let out = eval_mlp(&layer, &[-0.75, 0.75, 0.5, 0.0], 53);
    assert!(out[3] != 0.75 && out[3] != -0.75, "got {}", out[3]);
    // K·α = 0.5 < M = 1: t = α no longer selects x = −1.
    let layer = select::standalone(1, &0.5, &unit).unwrap();
    let out = eval_mlp(&layer, &[-1.0, 1.0, 1.0, 0.0], 53);
    assert!(out[3] != -1.0);
    assert!(select::error_bound(&1.0, &1.0, &0.5, &unit).is_err());
    // Smooth units need a strict margin.
    let g = ReluUnit::new(Activation::Gelu, 4.0).unwrap();
    assert!(select::error_bound(&1.0, &1.0, &1.0, &g).is_err());
}

#[test]
fn smooth_select_within_bound_and_bound_is_attained() {
    let lambda = 4.0;
    let unit = ReluUnit::new(Activation::Gelu, r(lambda)).unwrap();
    let bound = select::error_bound(&r(1.0), &r(1.0), &r(2.0), &unit).unwrap();
    let layer = select::standalone(1, &r(2.0), &unit).unwrap();
    let out = eval_mlp(
        &layer,
        &residual(4, P, &[(0, r(-1.0)), (1, r(1.0)), (2, r(1.0))]),
        P,
    );
    let err = out[3].sub(&r(-1.0)).abs();
    assert!(err <= bound);
    assert!(
        err > bound.mul(&r(0.99)),
        "worst case x=−M, y=M, t=α nearly attains 2βτ(λβ)"
    );
}

#[test]
fn lookup_fails_on_non_integer_keys() {
    let c = coords(6);
    let unit = ReluUnit::<f64>::exact(53);
    let mut b = MlpBuilder::new(2, 53);
    lookup::add_indicator(&mut b, "ind", &[(c[0], 1)], 3, c[1], &1.0, &unit).unwrap();
    let layer = b.build("ind", Activation::Relu);
    assert_eq!(eval_mlp(&layer, &[3.0, 0.0], 53)[1], 1.0);
    assert_eq!(eval_mlp(&layer, &[4.0, 0.0], 53)[1], 0.0);
    assert_eq!(eval_mlp(&layer, &[3.5, 0.0], 53)[1], 0.5);
    let vals = [5, -2, 9];
    let (layer, _) = lookup::standalone_table(&[0, 1, 2], &vals, &unit, 53).unwrap();
    let mid = eval_mlp(&layer, &[0.5, 0.0], 53)[1];
    assert!(vals.iter().all(|&v| v as f64 != mid));
}

#[test]
fn smooth_lookup_within_bound_and_not_below_it_off_integers() {
    // Certified: the network is enclosed in ball arithmetic at 2P bits and compared with the
    // exact-arithmetic bound `l1·τ(λ)` times the stated factor `1 + 2^{-P/2}` (no allowance).
    let (lambda, wp) = (6.0, 2 * P);
    let unit = ReluUnit::new(Activation::Gelu, Ball::from_f64(lambda, wp)).unwrap();
    let vals = [5, -2, 9, 0];
    let (layer, lu) = lookup::standalone_table(&[0, 1, 2, 3], &vals, &unit, wp).unwrap();
    let bound = sharp_slack(&lookup::error_bound(&lu.out_weight_l1, &unit).unwrap(), P);
    let key = |x: f64| residual(2, wp, &[(0, Ball::from_f64(x, wp))]);
    let mut attained = Ball::zero(wp);
    for (k, &v) in vals.iter().enumerate() {
        let e = eval_mlp(&layer, &key(k as f64), wp)[1]
            .sub(&Ball::from_i64(v, wp))
            .abs();
        assert!(e.certainly_le(&bound), "key {k}: {:?} vs {:?}", e, bound);
        if e.lower() > attained.lower() {
            attained = e;
        }
    }
    // The bound is not loose by more than 100×: a hundredth of it is certainly exceeded.
    let hundredth = bound.mul(&Ball::from_f64(0.01, wp));
    assert!(hundredth.certainly_lt(&attained), "{attained:?}");
    // Hypothesis violated (a non-integer key): certainly above the bound.
    let e = eval_mlp(&layer, &key(1.0 + 1e-3), wp)[1]
        .sub(&Ball::from_i64(-2, wp))
        .abs();
    assert!(bound.certainly_lt(&e), "{e:?}");
}

#[test]
fn gate_fails_beyond_m_and_refuses_small_k() {
    let gain = 20.0;
    let g = GateMul::standalone(r(gain)).unwrap();
    let layer = g.layer("g", 3, P).unwrap();
    let mut st = layer.new_state(P);
    let z = -18.0; // |z| > M = 1
    let mut x = residual(3, P, &[(0, r(1.0)), (1, r(z))]);
    layer.step(&mut st, &mut x);
    let err = x[2].sub(&r(z)).abs();
    assert!(err > gate::error_bound(&r(1.0), &r(1.0), &r(gain)).unwrap());
    assert!(gate::error_bound(&r(1.0), &r(1.0), &r(2.0)).is_err());
    // The exact error formula matches the layer.
    let e = gate::exact_error(&r(1.0), &r(z), &r(gain));
    assert!(x[2].sub(&r(z)).sub(&e).abs().to_f64() < 1e-40);
}

#[test]
fn gadgets_compose_in_one_layer() {
    let c = coords(6);
    // One GeLU layer: a·b (mlp-mul) and ReLU(z) (mlp-relu) side by side on named coordinates.
    let lam = r(1e4);
    let mut b = MlpBuilder::new(5, P);
    mul::add_mul(&mut b, "ab", c[0], c[1], c[3], &lam).unwrap();
    let unit = ReluUnit::new(Activation::Gelu, r(1e4)).unwrap();
    relu::add_relu(&mut b, "rz", c[2], c[4], &unit).unwrap();
    let layer = b.build("both", Activation::Gelu);
    assert_eq!(layer.hidden_width(), 5);
    assert!(layer.hidden_names.iter().any(|n| n == "ab.sum+"));
    let out = eval_mlp(
        &layer,
        &residual(5, P, &[(0, r(0.5)), (1, r(-0.25)), (2, r(-2.0))]),
        P,
    );
    assert!(out[3].sub(&r(-0.125)).abs().to_f64() < 1e-8);
    assert!(out[4].abs().to_f64() < 1e-100);
    // One ReLU layer: a selector and a table.
    let u = ReluUnit::<f64>::exact(53);
    let mut b = MlpBuilder::new(5, 53);
    select::add_select(&mut b, "sel", &[c[0]], &[c[1]], c[2], &[c[3]], &4.0, &u).unwrap();
    lookup::add_table(
        &mut b,
        "tab",
        &[(c[0], 1)],
        &[0, 1, 2],
        &[7, 1, 4],
        c[4],
        &u,
    )
    .unwrap();
    let layer = b.build("both", Activation::Relu);
    let out = eval_mlp(&layer, &[2.0, -3.0, -1.0, 0.0, 0.0], 53);
    assert_eq!((out[3], out[4]), (-3.0, 4.0));
}

#[test]
fn builders_reject_bad_arguments() {
    let c = coords(6);
    let mut b = MlpBuilder::<f64>::new(3, 53);
    assert!(mul::add_mul(&mut b, "m", c[0], c[1], c[3], &2.0).is_err());
    assert!(mul::add_mul(&mut b, "m", c[0], c[0], c[2], &2.0).is_err());
    assert!(mul::add_mul(&mut b, "m", c[0], c[1], c[2], &0.0).is_err());
    assert!(mul::add_mul(&mut b, "m", c[0], c[1], c[2], &f64::NAN).is_err());
    assert!(ReluUnit::new(Activation::Gelu, -1.0).is_err());
    let u = ReluUnit::<f64>::exact(53);
    assert!(
        select::add_select(&mut b, "s", &[c[0]], &[c[1], c[2]], c[2], &[c[2]], &1.0, &u).is_err()
    );
    assert!(lookup::add_table(&mut b, "t", &[(c[0], 1)], &[2, 1], &[0, 0], c[1], &u).is_err());
    assert!(lookup::add_table(&mut b, "t", &[(c[0], 1)], &[1, 2], &[0], c[1], &u).is_err());
    assert!(lookup::add_table(&mut b, "t", &[], &[1, 2], &[0, 1], c[1], &u).is_err());
    assert!(relu::standalone(Activation::Relu, 2.0, 53).is_err());
    assert!(GateMul::standalone(0.0).is_err());
    assert!(GateMul::new(c[0], c[1], c[0], 4.0).is_err());
    assert!(GateMul::new(c[0], c[1], c[5], 4.0)
        .unwrap()
        .layer("g", 3, 53)
        .is_err());
    assert!(mul::lambda_for(&1.0, &0.0).is_err());
    assert!(select::gain_for(&1.0, &-1.0).is_err());
}

#[test]
fn builders_reject_an_output_that_is_also_an_input() {
    let c = coords(6);
    // A gadget adds into its output: out == a would leave a + value there.
    let mut b = MlpBuilder::<f64>::new(4, 53);
    let u = ReluUnit::<f64>::exact(53);
    let msg = |r: freelunch::error::Result<_>| r.err().unwrap().to_string();
    for e in [
        msg(mul::add_mul(&mut b, "m", c[0], c[1], c[0], &2.0).map(|_| ())),
        msg(mul::add_mul(&mut b, "m", c[0], c[1], c[1], &2.0).map(|_| ())),
        msg(relu::add_relu(&mut b, "r", c[2], c[2], &u).map(|_| ())),
        msg(select::add_select(&mut b, "s", &[c[0]], &[c[1]], c[2], &[c[1]], &1.0, &u).map(|_| ())),
        msg(select::add_select(&mut b, "s", &[c[0]], &[c[1]], c[2], &[c[2]], &1.0, &u).map(|_| ())),
        msg(lookup::add_table(
            &mut b,
            "t",
            &[(c[0], 1), (c[1], 4)],
            &[0, 1],
            &[3, 4],
            c[1],
            &u,
        )
        .map(|_| ())),
        msg(lookup::add_indicator(&mut b, "i", &[(c[3], 1)], 2, c[3], &1.0, &u).map(|_| ())),
        msg(lookup::add_onehot_table(&mut b, "o", &[c[0], c[1]], &[5, 6], c[0], &u).map(|_| ())),
        msg(GateMul::new(c[0], c[1], c[1], 4.0).map(|_| ())),
    ] {
        assert!(e.contains("must differ from its inputs"), "{e}");
    }
    // A distinct output works (and the rejected calls added no unit).
    relu::add_relu(&mut b, "r", c[2], c[3], &u).unwrap();
    let layer = b.build("r", Activation::Relu);
    assert_eq!(layer.hidden_width(), 1);
    assert_eq!(eval_mlp(&layer, &[0.0, 0.0, 5.0, 0.0], 53)[3], 5.0);
}

#[test]
fn gate_sharp_bound_is_attained_at_z_equal_plus_or_minus_m() {
    for (gain, m, y) in [(6.0, 1.0, 1.5), (10.0, 3.0, -0.7), (4.0, 0.5, 2.0)] {
        let g = GateMul::standalone(r(gain)).unwrap();
        let layer = g.layer("g", 3, P).unwrap();
        let bound = gate::error_bound(&r(y), &r(m), &r(gain)).unwrap();
        let worst = [-m, m]
            .iter()
            .map(|&z| {
                let mut st = layer.new_state(P);
                let mut x = residual(3, P, &[(0, r(y)), (1, r(z))]);
                layer.step(&mut st, &mut x);
                x[2].sub(&r(y).mul(&r(z))).abs()
            })
            .fold(Real::zero(P), |a, e| a.max_s(&e));
        assert!(
            worst > bound.mul(&r(0.999)),
            "K={gain} M={m}: max error at z=±M {worst:?} vs bound {bound:?}"
        );
    }
}

#[test]
fn lookup_bound_is_attained_on_one_hot_and_within_factor_two_on_the_indicator() {
    for act in [Activation::Gelu, Activation::Silu] {
        for lambda in [2.0, 8.0] {
            // certified enclosures (upper end of the error / lower end of the bound)
            let res = freelunch::claims::gadget_lookup::smooth_certified(act, lambda, 7).unwrap();
            let ratio = |prefix: &str| {
                let (_, w) = res.iter().find(|(n, _)| n.starts_with(prefix)).unwrap();
                assert!(w.case("x").passed, "{prefix}: {:?}", w.worst);
                10f64.powf(w.worst.ratio_log10)
            };
            let onehot = ratio("one-hot");
            assert!(onehot > 0.999, "{act:?} λ={lambda}: one-hot {onehot}");
            // The indicator's worst key sees output weights 1 + 1 (or 2) of Σ|w| = 4.
            let ind = ratio("indicator");
            assert!(
                ind > 0.499 && ind < 0.501,
                "{act:?} λ={lambda}: indicator {ind}"
            );
        }
    }
}
