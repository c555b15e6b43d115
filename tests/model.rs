//! Model semantics: the SSM step on a residual stream, gates, MLP, attention, generation,
//! size accounting, summary and export.

use freelunch::model::*;
use freelunch::num::{Real, Scalar};

fn one_channel_ssm<S: Scalar>(prec: u32, a: f64, gate: bool) -> SsmLayer<S> {
    // width 2: coord 0 = value, coord 1 = output. Δ = softplus(0) = ln 2, B = C = 1.
    let f = |x: f64| S::from_f64(x, prec);
    let a_vec = vec![f(a)];
    SsmLayer {
        name: "ssm".into(),
        width: 2,
        channels: 1,
        state: 1,
        w_delta: SparseMatrix::zeros(1, 2),
        b_delta: vec![f(0.0)],
        w_b: SparseMatrix::from_entries(1, 2, vec![]),
        w_c: SparseMatrix::zeros(1, 2),
        w_u: SparseMatrix::from_entries(1, 2, vec![(0, 0, f(1.0))]),
        decay: SsmLayer::detect_decay(&a_vec, 1, 1),
        a: a_vec,
        d_skip: vec![f(0.5)],
        gate: gate.then(|| Gate {
            w_z: SparseMatrix::zeros(1, 2),
            b_z: vec![f(2.0)],
        }),
        w_o: SparseMatrix::from_entries(2, 1, vec![(1, 0, f(1.0))]),
    }
}

#[test]
fn ssm_step_matches_hand_computation() {
    // B = C = 0 (no rows) => y = D·u only; check the skip and the output projection.
    let l = one_channel_ssm::<Real>(128, -1.0, false);
    let mut st = l.new_state(128);
    let mut x = vec![Real::from_i64(3, 128), Real::from_i64(0, 128)];
    l.step(&mut st, &mut x);
    assert_eq!(x[1].to_f64(), 1.5);
    // gate multiplies by SiLU(2)
    let g = one_channel_ssm::<f64>(53, -1.0, true);
    let mut st = g.new_state(53);
    let mut x = vec![3.0, 0.0];
    g.step(&mut st, &mut x);
    assert!((x[1] - 1.5 * 2.0f64.silu()).abs() < 1e-15);
}

#[test]
fn decay_structure_detection() {
    let v = |xs: &[f64]| xs.to_vec();
    assert_eq!(
        SsmLayer::<f64>::detect_decay(&v(&[-2.0, -2.0, -2.0]), 1, 3),
        DecayStructure::ScalarPerChannel
    );
    assert_eq!(
        SsmLayer::<f64>::detect_decay(&v(&[-1.0, -2.0, -3.0]), 1, 3),
        DecayStructure::IntegerMultiples
    );
    assert_eq!(
        SsmLayer::<f64>::detect_decay(&v(&[-1.0, -2.5, -3.0]), 1, 3),
        DecayStructure::General
    );
}

/// A copy-the-previous-token model over vocabulary {a, b}: SSM with strong forgetting.
fn echo_model<S: Scalar>(prec: u32) -> Model<S> {
    let mut layout = Layout::new();
    let val = layout.add1("value", "+1 for a, -1 for b");
    let prev = layout.add1("prev", "value of the previous token (SSM output)");
    let f = |x: f64| S::from_f64(x, prec);
    // Δ = softplus(30) ≈ 30, A = -1: the state forgets almost everything each step;
    // B = 1/Δ·(1 − e^{−Δ})... here B = 1 and the readout compares signs only.
    let a = vec![f(-1.0)];
    let ssm = SsmLayer {
        name: "echo".into(),
        width: 2,
        channels: 1,
        state: 1,
        w_delta: SparseMatrix::zeros(1, 2),
        b_delta: vec![f(30.0)],
        w_b: SparseMatrix::zeros(1, 2),
        w_c: SparseMatrix::zeros(1, 2),
        w_u: SparseMatrix::from_entries(1, 2, vec![(0, val, f(1.0))]),
        decay: SsmLayer::detect_decay(&a, 1, 1),
        a,
        d_skip: vec![f(1.0)],
        gate: None,
        w_o: SparseMatrix::from_entries(2, 1, vec![(prev, 0, f(1.0))]),
    };
    let mut mlp = MlpBuilder::new(2, prec);
    let u = mlp.unit("relu(prev)", vec![(prev, f(1.0))], f(0.0));
    mlp.write(u, prev, f(0.0));
    Model {
        name: "echo".into(),
        layout,
        vocab: vec!["a".into(), "b".into()],
        token_embedding: SparseMatrix::from_entries(
            2,
            2,
            vec![(0, val, f(1.0)), (1, val, f(-1.0))],
        ),
        positional: vec![],
        layers: vec![
            Layer::Ssm(ssm),
            Layer::Mlp(mlp.build("noop", Activation::Relu)),
        ],
        readout: SparseMatrix::from_entries(2, 2, vec![(0, prev, f(1.0)), (1, prev, f(-1.0))]),
        readout_bias: vec![f(0.0), f(0.0)],
        prec,
    }
}

#[test]
fn generation_size_summary_export() {
    for prec in [53u32, 200] {
        let m: Model<Real> = echo_model(prec);
        let g = m.generate(&[0], 3, None);
        assert_eq!(g.tokens, vec![0, 0, 0]);
        let g = m.generate(&[1], 2, None);
        assert_eq!(g.tokens, vec![1, 1]);
        assert!(g.min_margin_log10.is_finite());
        assert!(g.ops > 0 && g.ops == m.ops_at(1) + m.ops_at(2));
    }
    let m: Model<f64> = echo_model(53);
    let s = m.size();
    assert_eq!(
        (s.residual_width, s.ssm_state, s.max_mlp_width, s.layers),
        (2, 1, 1, 2)
    );
    assert_eq!(s.nonzero_params, 2 + 2 + 1 + 1 + 1 + 1 + 1 + 1);
    assert_eq!(s.max_abs_param, 30.0);
    let text = m.summary();
    assert!(text.contains("value") && text.contains("prev") && text.contains("relu(prev)"));
    let j = freelunch::export::to_json(&m, None);
    let s = serde_json::to_string(&j).unwrap();
    assert!(s.contains("\"row\":\"prev\"") && s.contains("\"b_delta\":[\"30"));
}

#[test]
fn attention_copies_with_positional_scores() {
    // One head, key (j, j^2, 1), query picks position 1 with gap λ: output ≈ value at position 1.
    let prec = 128;
    let f = |x: f64| Real::from_f64(x, prec);
    let mut layout = Layout::new();
    let val = layout.add1("value", "token value");
    let pos = layout.add("pos", 3, "(t, t^2, 1)");
    let out = layout.add1("out", "attention output");
    let lam = 40.0;
    // e_{i,j} = -λ (j - 1)^2 = 2λ j − λ j² − λ  (query constant: p = 1)
    let head = AttentionHead {
        w_q: SparseMatrix::from_entries(
            3,
            5,
            vec![
                (0, pos.start + 2, f(2.0 * lam)),
                (1, pos.start + 2, f(-lam)),
                (2, pos.start + 2, f(-lam)),
            ],
        ),
        w_k: SparseMatrix::from_entries(
            3,
            5,
            vec![
                (0, pos.start, f(1.0)),
                (1, pos.start + 1, f(1.0)),
                (2, pos.start + 2, f(1.0)),
            ],
        ),
        w_v: SparseMatrix::from_entries(1, 5, vec![(0, val, f(1.0))]),
        w_o: SparseMatrix::from_entries(5, 1, vec![(out, 0, f(1.0))]),
    };
    let layer = AttentionLayer {
        name: "attn".into(),
        heads: vec![head],
    };
    let mut st = layer.new_state(prec);
    let vals = [5.0, -3.0, 7.0, 2.0];
    let mut last = 0.0;
    for (t, v) in vals.iter().enumerate() {
        let tt = (t + 1) as f64;
        let mut x = vec![f(*v), f(tt), f(tt * tt), f(1.0), f(0.0)];
        layer.step(&mut st, &mut x);
        last = x[out].to_f64();
    }
    assert!((last - 5.0).abs() < 1e-15);
    assert_eq!(layer.cache_size(4), 16);
    assert!(layer.ops_per_step(100) > layer.ops_per_step(10));
}

/// The greedy margin covers every other logit, not only the runner-up by midpoint: a wide third
/// logit that overlaps the chosen one leaves the choice uncertified.
#[test]
fn a_ball_argmax_margin_covers_every_other_logit() {
    use freelunch::model::greedy_argmax;
    use freelunch::num::Ball;
    let prec = 64;
    let ball = |mid: f64, rad: f64| {
        let mut b = Ball::from_f64(mid, prec);
        b.add_rad(freelunch::num::Mag::from_f64_up(rad));
        b
    };
    let zero = Ball::zero(prec);
    let narrow = [ball(1.0, 0.01), ball(0.9, 0.01), ball(0.8, 0.05)];
    let (best, margin) = greedy_argmax(&narrow, prec);
    assert_eq!(best, 0);
    assert!(margin.certainly_gt(&zero), "separated logits: certified");
    let wide = [ball(1.0, 0.01), ball(0.9, 0.01), ball(0.8, 0.5)];
    let (best, margin) = greedy_argmax(&wide, prec);
    assert_eq!(best, 0);
    assert!(
        !margin.certainly_gt(&zero),
        "the third logit overlaps the first: margin {margin:?} must not be certified"
    );
    assert!(margin.lower() < 0, "the margin reaches below 0");
}
