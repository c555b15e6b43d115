//! The lowering into Mamba-1 blocks, run by freelunch itself: the lowered models decode like the
//! abstract ones in f64, MPFR and ball arithmetic (certified margins) on random inputs; each
//! gadget's bound holds and fails when its hypothesis does; parameters too small break decoding;
//! positional features of m-local problems keep a width independent of T.

mod common;

use freelunch::dp::{self, DpProblem, MemoryKind, Options};
use freelunch::lower::{lower_mamba, shift_error, LowerOptions, Lowered};
use freelunch::model::mamba::MambaModel;
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

fn lowered(p: &dyn DpProblem, m: &Model<f64>, edit: impl Fn(&mut LowerOptions)) -> Lowered {
    let mut o = LowerOptions::new(context(p));
    edit(&mut o);
    lower_mamba(m, &o).expect("lowers")
}

fn prompt(p: &dyn DpProblem, input: &[usize]) -> Vec<usize> {
    let mut v = input.to_vec();
    v.push(p.sep());
    v
}

/// Tokens of the abstract model and of the lowered one (f64) on `count` random inputs.
fn agreement(p: &dyn DpProblem, m: &Model<f64>, low: &MambaModel<f64>, count: usize) -> usize {
    let mut rng = Rng::new(7);
    let gen = context(p) - p.input_len() - 1;
    (0..count)
        .filter(|_| {
            let pr = prompt(p, &p.random_input(&mut rng));
            m.generate(&pr, gen, None).tokens == low.generate(&pr, gen, Softplus::Exact).tokens
        })
        .count()
}

#[test]
fn every_catalog_problem_lowers_and_decodes_like_the_abstract_model_in_f64_mpfr_and_ball() {
    for (name, n) in common::catalog_cases(&[("edit", 2), ("lis", 4), ("linrec", 6), ("eca", 3)]) {
        let p = problem(&name, n);
        for memory in [MemoryKind::Slot, MemoryKind::Position] {
            let m = compiled(p.as_ref(), memory);
            let low = lowered(p.as_ref(), &m, |_| {});
            assert_eq!(
                agreement(p.as_ref(), &m, &low.model, 10),
                10,
                "{name} {memory:?} f64"
            );
            let gen = context(p.as_ref()) - p.input_len() - 1;
            let pr = prompt(p.as_ref(), &p.random_input(&mut Rng::new(3)));
            let want = m.generate(&pr, gen, None).tokens;
            let mp: MambaModel<Real> = low.model.convert(128, |x| Real::from_f64(*x, 128));
            assert_eq!(
                mp.generate(&pr, gen, Softplus::Exact).tokens,
                want,
                "{name} MPFR"
            );
            let ball: MambaModel<Ball> = low.model.convert(128, |x| Ball::from_f64(*x, 128));
            let g = ball.generate(&pr, gen, Softplus::Exact);
            assert_eq!(g.tokens, want, "{name} ball");
            for (i, margin) in g.margins.iter().enumerate() {
                assert!(
                    margin.lower() > 0,
                    "{name} {memory:?}: generated token {i} not certified (margin {margin:?})"
                );
            }
        }
    }
}

#[test]
fn parameters_too_small_break_the_lowered_model() {
    let p = problem("linrec", 6);
    let m = compiled(p.as_ref(), MemoryKind::Slot);
    let good = lowered(p.as_ref(), &m, |_| {});
    assert_eq!(agreement(p.as_ref(), &m, &good.model, 10), 10);
    let shift = good
        .gadgets
        .iter()
        .find(|g| g.gadget == "shift")
        .expect("a shift gadget");
    assert!(
        shift.parameter > shift.hypothesis,
        "K = {} must exceed M = {}",
        shift.parameter,
        shift.hypothesis
    );
    type Edit = Box<dyn Fn(&mut LowerOptions)>;
    let bad: [(&str, Edit); 3] = [
        ("λ = 1", Box::new(|o| o.lambda = Some(1.0))),
        ("K below the input bound", Box::new(|o| o.shift = Some(4.0))),
        ("eps = 4", Box::new(|o| o.eps_log2 = Some(2))),
    ];
    for (what, edit) in bad {
        let low = lowered(p.as_ref(), &m, edit);
        let ok = agreement(p.as_ref(), &m, &low.model, 10);
        assert!(ok < 10, "{what}: still {ok}/10 right");
    }
}

#[test]
fn the_shift_bound_holds_and_fails_without_its_hypothesis() {
    // sup over |v| ≤ M of |act(v + K) − act(K) − v| against ψ(K − M), evaluated in MPFR.
    let sup = |act: Activation, k: f64, m: f64| {
        (0..=2000)
            .map(|i| {
                let v = Real::from_f64(-m + 2.0 * m * i as f64 / 2000.0, 128);
                let kk = Real::from_f64(k, 128);
                let mut a = v.add(&kk);
                act.apply(&mut a);
                let mut b = kk.clone();
                act.apply(&mut b);
                a.sub(&b).sub(&v).abs().to_f64()
            })
            .fold(0.0, f64::max)
    };
    for act in [Activation::Silu, Activation::Gelu, Activation::Relu] {
        for (k, m) in [(33.0, 9.0), (12.0, 9.0), (4.0, 1.0)] {
            let measured = sup(act, k, m);
            let bound = shift_error(act, k - m);
            assert!(
                measured <= bound * (1.0 + 1e-9) + 1e-300,
                "{act:?} K={k} M={m}: {measured} > {bound}"
            );
        }
        // K = M breaks the hypothesis K − M ≥ 1.2785 (ReLU: K ≥ M still holds at equality).
        if act != Activation::Relu {
            let (measured, bound) = (sup(act, 5.0, 5.0), shift_error(act, 0.0));
            assert!(measured > bound, "{act:?}: {measured} ≤ {bound}");
        } else {
            // ReLU's bound is 0 when K ≥ M; K < M loses the inputs below −K.
            assert!(sup(act, 4.0, 5.0) > shift_error(act, 0.0));
        }
    }
}

#[test]
fn the_norm_is_the_identity_in_float32_below_its_hypothesis_only() {
    // HF's RMSNorm in float32: x · rsqrt(mean(x²) + eps) · w, with eps = 2^64 and w = 2^32.
    let norm32 = |x: &[f32]| -> Vec<f32> {
        let ms: f32 = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
        let r = 1.0 / (ms + 2f32.powi(64)).sqrt();
        x.iter().map(|v| v * r * 2f32.powi(32)).collect()
    };
    let mut rng = Rng::new(11);
    for scale in [1.0f32, 1e3, 1e5] {
        let x: Vec<f32> = (0..64)
            .map(|_| (rng.uniform(-1.0, 1.0) as f32) * scale)
            .collect();
        assert_eq!(norm32(&x), x, "mean square {} < 2^39", scale * scale);
    }
    let x: Vec<f32> = (0..64)
        .map(|_| (rng.uniform(0.5, 1.0) as f32) * 2f32.powi(22))
        .collect();
    assert_ne!(norm32(&x), x, "mean square ≥ 2^43 must leave the identity");
}

#[test]
fn periodic_positional_features_keep_their_width_as_t_grows() {
    // dp-local (rule 110, slot memory): the feature block's width does not grow with T, the
    // mod stages add depth log T. dp-general's position keys (one per position) grow with T.
    let width = |low: &Lowered| {
        let b = low
            .model
            .blocks
            .iter()
            .find(|b| b.name == "position.features")
            .expect("features");
        let (inner, state, _, _) = low.model.common_dims();
        (
            b.inner,
            low.model
                .blocks
                .iter()
                .filter(|b| b.name.starts_with("position.mod_stage"))
                .count(),
            inner * state,
            low.model
                .blocks
                .iter()
                .map(|b| b.live_state())
                .sum::<usize>(),
        )
    };
    let local: Vec<(usize, usize, usize, usize)> = [16usize, 64, 256]
        .iter()
        .map(|&rows| {
            let p = problem("eca", rows);
            let m = compiled(p.as_ref(), MemoryKind::Slot);
            width(&lowered(p.as_ref(), &m, |_| {}))
        })
        .collect();
    // (feature width, mod stages, inner × state per block, live state) at T ≈ 130, 520, 2070.
    let same = |f: fn(&(usize, usize, usize, usize)) -> usize| {
        local.windows(2).all(|w| f(&w[0]) == f(&w[1]))
    };
    assert!(
        same(|x| x.0) && same(|x| x.2) && same(|x| x.3),
        "local sizes {local:?}"
    );
    assert!(
        local.windows(2).all(|w| w[1].1 == w[0].1 + 2),
        "depth grows by log2(4) per 4× T: {local:?}"
    );
    let general: Vec<usize> = [2usize, 4]
        .iter()
        .map(|&n| {
            let p = problem("edit", n);
            width(&lowered(
                p.as_ref(),
                &compiled(p.as_ref(), MemoryKind::Position),
                |_| {},
            ))
            .0
        })
        .collect();
    assert!(
        general[1] > general[0],
        "position keys grow with T: {general:?}"
    );
}

#[test]
fn attention_models_are_refused_for_mamba() {
    let p = problem("linrec", 6);
    let m = compiled(p.as_ref(), MemoryKind::Attention);
    let e = lower_mamba(&m, &LowerOptions::new(context(p.as_ref())))
        .err()
        .expect("refused");
    assert!(e.to_string().contains("nemotron-h"), "{e}");
}
