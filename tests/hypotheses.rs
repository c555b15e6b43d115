//! Each smooth-unit statement needs a hypothesis on the scale (λ ≥ t*, or λβ ≥ t* for
//! mlp-select): the one-line statements say so, and each test below builds the library's own
//! layer where the hypothesis fails and shows the stated bound fails there (the counterexamples
//! of issue 16; every number is computed here in 128-bit MPFR, none is typed in), while the bound
//! the code actually checks (the uniform c/λ fallback) holds.

use freelunch::claims;
use freelunch::gadgets::relu::{self, ReluUnit};
use freelunch::gadgets::{eval_mlp, lookup, residual, select};
use freelunch::model::Activation;
use freelunch::num::{Real, Scalar};

const P: u32 = 128;

fn r(x: f64) -> Real {
    Real::from_f64(x, P)
}

fn t_star(act: Activation) -> f64 {
    relu::sup_constant::<Real>(act, P).t_star.to_f64()
}

fn statement(id: &str) -> &'static str {
    claims::find(id).unwrap().info().statement
}

#[test]
fn mlp_relu_integer_bound_needs_lambda_at_least_t_star() {
    assert!(statement("mlp-relu").contains("when λ ≥ t*"));
    let (act, lambda, z) = (Activation::Gelu, 0.5, 2.0);
    assert!(lambda < t_star(act));
    let layer = relu::standalone(act, r(lambda), P).unwrap();
    let out = eval_mlp(&layer, &residual(2, P, &[(0, r(z))]), P);
    let err = out[1].sub(&r(z).relu()).abs();
    let tau = relu::tail(act, &r(lambda));
    eprintln!(
        "GeLU λ={lambda} z={z}: error {:.5} > τ(λ) = {:.5}",
        err.to_f64(),
        tau.to_f64()
    );
    assert!(err > tau, "the stated bound τ(λ) must fail below t*");
    // What the code checks below t*: the uniform bound c/λ holds.
    assert!(err <= ReluUnit::new(act, r(lambda)).unwrap().sup_error());
    // Control: at λ = 1 ≥ t* the integer bound holds at every |z| ≤ 8.
    let layer = relu::standalone(act, r(1.0), P).unwrap();
    for z in (1..=8).flat_map(|k| [k as f64, -(k as f64)]) {
        let out = eval_mlp(&layer, &residual(2, P, &[(0, r(z))]), P);
        assert!(
            out[1].sub(&r(z).relu()).abs() <= relu::tail(act, &r(1.0)),
            "z = {z}"
        );
    }
}

#[test]
fn mlp_select_bound_needs_lambda_beta_at_least_t_star() {
    assert!(statement("mlp-select").contains("when λβ ≥ t*"));
    let act = Activation::Gelu;
    let (lambda, m, alpha, gain) = (4.0, 1.0, 1.0, 1.1);
    let (x, y, t) = (-0.912, 0.912, 1.0);
    let beta = r(gain).mul(&r(alpha)).sub(&r(m));
    assert!(lambda * beta.to_f64() < t_star(act));
    let unit = ReluUnit::new(act, r(lambda)).unwrap();
    let layer = select::standalone(1, &r(gain), &unit).unwrap();
    let out = eval_mlp(
        &layer,
        &residual(4, P, &[(0, r(x)), (1, r(y)), (2, r(t))]),
        P,
    );
    let err = out[3].sub(&r(x)).abs();
    let stated = relu::tail(act, &r(lambda).mul(&beta))
        .mul(&beta)
        .mul(&r(2.0));
    eprintln!(
        "GeLU λ={lambda} M=α={m} K={gain} x={x} y={y} t={t}: error {:.5} > 2βτ(λβ) = {:.5}",
        err.to_f64(),
        stated.to_f64()
    );
    assert!(err > stated, "2βτ(λβ) must fail when λβ < t*");
    // The code's bound here is the uniform 2c/λ, and it holds; the label names it.
    let checked = select::error_bound(&r(m), &r(alpha), &r(gain), &unit).unwrap();
    assert!(err <= checked);
    assert!(select::bound_name(act, lambda, beta.to_f64()).starts_with("2c/λ"));
    assert_eq!(select::bound_name(act, lambda, 1.0), "2βτ(λβ)");
}

#[test]
fn mlp_lookup_bound_needs_lambda_at_least_t_star() {
    assert!(statement("mlp-lookup").contains("when λ ≥ t*"));
    let (act, lambda) = (Activation::Gelu, 0.5);
    assert!(lambda < t_star(act));
    let unit = ReluUnit::new(act, r(lambda)).unwrap();
    let (domain, values) = ([0i64, 3], [0i64, 1]);
    let (layer, lu) = lookup::standalone_table(&domain, &values, &unit, P).unwrap();
    let out = eval_mlp(&layer, &residual(2, P, &[(0, r(0.0))]), P);
    let err = out[1].sub(&r(values[0] as f64)).abs();
    let stated = lu.out_weight_l1.mul(&relu::tail(act, &r(lambda)));
    eprintln!(
        "table on {{0, 3}}, f = (0, 1), GeLU λ={lambda}, key 0: error {:.5} > (Σ|w_out|)·τ(λ) = {:.5}",
        err.to_f64(),
        stated.to_f64()
    );
    assert!(err > stated, "(Σ|w_out|)·τ(λ) must fail below t*");
    assert!(err <= lookup::error_bound(&lu.out_weight_l1, &unit).unwrap());
}
