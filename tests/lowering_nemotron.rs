//! The lowering into `NemotronHForCausalLM` blocks, run by freelunch itself: the attention DP
//! models decode like the abstract ones in f64, MPFR and ball arithmetic (certified margins); the
//! positional features computed inside the model (Mamba-2 counter, ReLU units) equal their tables
//! at every position; parameters too small (eps, the counter's K) break decoding.

mod common;

use freelunch::dp::{self, DpProblem, MemoryKind, Options};
use freelunch::lower::nemotron_h::{head_dim_for, lower_nemotron_h, LoweredNh};
use freelunch::lower::position::FeatureProgram;
use freelunch::lower::LowerOptions;
use freelunch::model::nemotron_h::NemotronHModel;
use freelunch::model::{Activation, Model, Softplus};
use freelunch::num::{Ball, Real, Scalar};
use freelunch::rng::Rng;

fn problem(name: &str, n: usize) -> Box<dyn DpProblem> {
    dp::catalog::at_size(name, n).expect("catalog problem")
}

fn compiled(p: &dyn DpProblem, memory: MemoryKind) -> Model<f64> {
    let opt = Options {
        memory,
        slots: None,
        activation: Activation::Relu,
        lambda: None,
        memory_override: None,
    };
    dp::compile::<f64>(p, &opt, 53).expect("compiles").model
}

fn context(p: &dyn DpProblem) -> usize {
    p.solve(&vec![0; p.input_len()]).len()
}

fn lowered(p: &dyn DpProblem, m: &Model<f64>, edit: impl Fn(&mut LowerOptions)) -> LoweredNh {
    let mut o = LowerOptions::new(context(p));
    edit(&mut o);
    lower_nemotron_h(m, &o).expect("lowers")
}

fn prompt(p: &dyn DpProblem, input: &[usize]) -> Vec<usize> {
    let mut v = input.to_vec();
    v.push(p.sep());
    v
}

/// Inputs (of `count` random ones) on which the lowered model (f64) decodes like the abstract one.
fn agreement(p: &dyn DpProblem, m: &Model<f64>, low: &NemotronHModel<f64>, count: usize) -> usize {
    let mut rng = Rng::new(7);
    let gen = context(p) - p.input_len() - 1;
    (0..count)
        .filter(|_| {
            let pr = prompt(p, &p.random_input(&mut rng));
            m.generate(&pr, gen, None).tokens == low.generate(&pr, gen, Softplus::Exact).tokens
        })
        .count()
}

const ATTENTION_DP: [(&str, usize); 4] = [("edit", 3), ("lis", 5), ("linrec", 8), ("eca", 4)];

#[test]
fn every_catalog_problem_lowers_with_attention_and_decodes_like_the_abstract_model() {
    for (name, n) in common::catalog_cases(&ATTENTION_DP) {
        let (name, p) = (name.as_str(), problem(&name, n));
        let m = compiled(p.as_ref(), MemoryKind::Attention);
        let low = lowered(p.as_ref(), &m, |_| {});
        let pattern = low.model.pattern();
        assert!(
            pattern.starts_with('M') && pattern.contains('*'),
            "{name}: {pattern}"
        );
        assert_eq!(agreement(p.as_ref(), &m, &low.model, 12), 12, "{name} f64");
        let gen = context(p.as_ref()) - p.input_len() - 1;
        let pr = prompt(p.as_ref(), &p.random_input(&mut Rng::new(3)));
        let want = m.generate(&pr, gen, None).tokens;
        let mp: NemotronHModel<Real> = low.model.convert(128, |x| Real::from_f64(*x, 128));
        assert_eq!(
            mp.generate(&pr, gen, Softplus::Exact).tokens,
            want,
            "{name} MPFR"
        );
        let ball: NemotronHModel<Ball> = low.model.convert(128, |x| Ball::from_f64(*x, 128));
        let g = ball.generate(&pr, gen, Softplus::Torch);
        assert_eq!(g.tokens, want, "{name} ball");
        for (i, margin) in g.margins.iter().enumerate() {
            assert!(
                margin.lower() > 0,
                "{name}: generated token {i} not certified (margin {margin:?})"
            );
        }
    }
}

/// Largest error of the positional features computed by the position blocks, over t = 1..=T.
fn positional_error(p: &dyn DpProblem, m: &Model<f64>, low: &LoweredNh) -> f64 {
    let mut pre = low.model.clone();
    let n = (pre.blocks.iter())
        .take_while(|b| b.name.starts_with("position"))
        .count();
    assert!(n >= 2, "a counter and a feature block");
    pre.blocks.truncate(n);
    let t_max = context(p);
    // Any tokens: the features depend on the position only (the token part is subtracted).
    let tokens: Vec<usize> = (0..t_max).map(|i| i % p.alphabet()).collect();
    let res = pre.residuals(&tokens, Softplus::Exact);
    let mut worst = 0.0f64;
    for (t, r) in res.iter().enumerate() {
        for f in &m.positional {
            let token_part = m.token_embedding.get(tokens[t], f.coord).copied();
            let want = f.kind.value::<f64>(t + 1, 53) + token_part.unwrap_or(0.0);
            worst = worst.max((r[f.coord] - want).abs());
        }
    }
    worst
}

#[test]
fn positional_features_are_computed_inside_the_model_and_k_too_small_breaks_them() {
    let p = problem("edit", 3);
    let m = compiled(p.as_ref(), MemoryKind::Attention);
    let low = lowered(p.as_ref(), &m, |_| {});
    let err = positional_error(p.as_ref(), &m, &low);
    let counter = (low.gadgets.iter())
        .find(|g| g.gadget == "counter")
        .expect("a counter gadget");
    let gated = (low.gadgets.iter())
        .find(|g| g.gadget == "gated-norm")
        .expect("a gated-norm gadget");
    // |t̂ − t| ≤ ε = T·(gated-norm relative bound) + counter bound. A feature Σ a_k·ReLU(s − k)
    // moves by at most Σ|a_k|·(error of s), and a register t mod P by at most ε·(1 + 2·c) per
    // stage (an indicator off by ε is multiplied by c ≤ T).
    let t = context(p.as_ref()) as f64;
    let eps_t = t * gated.bound + counter.bound;
    let stages = (low.model.blocks.iter())
        .filter(|b| b.name.starts_with("position.mod_stage"))
        .count() as i32;
    let reg_err = eps_t * (1.0 + 2.0 * t).powi(stages);
    let amplification = (low.positional.iter())
        .map(|(_, prog)| match prog {
            FeatureProgram::Constant(_) => 0.0,
            FeatureProgram::Plain(k) => k.units.iter().map(|u| u.1.abs()).sum::<f64>() * eps_t,
            FeatureProgram::Periodic { g, corr, .. } => {
                g.units.iter().map(|u| u.1.abs()).sum::<f64>() * reg_err
                    + corr.units.iter().map(|u| u.1.abs()).sum::<f64>() * eps_t
            }
        })
        .fold(0.0, f64::max);
    assert!(
        err <= amplification && err < 1e-2,
        "features off by {err} > stated {amplification} (counter {counter:?}, gated {gated:?})"
    );
    println!("positional features: measured error {err:.3e}, stated bound {amplification:.3e}");
    // K = 4: SiLU(4) = 3.93, the counter drifts by 7 % and the features are wrong.
    let bad = lowered(p.as_ref(), &m, |o| o.shift = Some(4.0));
    let bad_counter = (bad.gadgets.iter())
        .find(|g| g.gadget == "counter")
        .expect("a counter gadget");
    assert!(bad_counter.bound > 0.5, "{bad_counter:?}");
    let bad_err = positional_error(p.as_ref(), &m, &bad);
    assert!(bad_err > 0.5, "K = 4: features off by only {bad_err}");
}

#[test]
fn parameters_too_small_break_the_lowered_model() {
    let p = problem("linrec", 8);
    let m = compiled(p.as_ref(), MemoryKind::Attention);
    let good = lowered(p.as_ref(), &m, |_| {});
    assert_eq!(agreement(p.as_ref(), &m, &good.model, 10), 10);
    // The default eps satisfies both norm hypotheses with float32's margin 2^25.
    let eps = 2f64.powi(good.eps_log2);
    for g in good.gadgets.iter().filter(|g| g.gadget.ends_with("norm")) {
        assert!(g.hypothesis < eps / 2f64.powi(25), "{g:?}");
    }
    for (what, edit) in [
        (
            "eps = 2^40",
            Box::new(|o: &mut LowerOptions| o.eps_log2 = Some(40))
                as Box<dyn Fn(&mut LowerOptions)>,
        ),
        (
            "K = 4",
            Box::new(|o: &mut LowerOptions| o.shift = Some(4.0)),
        ),
    ] {
        let low = lowered(p.as_ref(), &m, edit);
        let ok = agreement(p.as_ref(), &m, &low.model, 10);
        assert!(ok < 10, "{what}: still {ok}/10 right");
    }
}

#[test]
fn the_attention_scale_is_exact_for_head_dims_that_are_powers_of_four() {
    for n in [1usize, 2, 3, 5, 16, 17] {
        let d = head_dim_for(n);
        assert!(d >= n && d.is_power_of_two() && d.trailing_zeros().is_multiple_of(2));
        // head_dim^(-1/2) (what the module multiplies by) times √d (folded into W_q) is 1 in f32.
        let s = (d as f32).powf(-0.5);
        assert_eq!(s * (d as f32).sqrt(), 1.0, "d = {d}");
        assert_eq!(s.to_bits() & 0x007f_ffff, 0, "d = {d}: a power of two");
    }
    // A head_dim that is not a power of four has an irrational scale: not a power of two.
    let s = 8f32.powf(-0.5);
    assert_ne!(s.to_bits() & 0x007f_ffff, 0);
}

#[test]
fn models_with_ssm_layers_are_refused_with_a_sentence() {
    let p = problem("linrec", 6);
    let m = compiled(p.as_ref(), MemoryKind::Slot);
    let e = lower_nemotron_h(&m, &LowerOptions::new(context(p.as_ref())))
        .err()
        .expect("refused");
    assert!(e.to_string().contains("--target mamba"), "{e}");
}
