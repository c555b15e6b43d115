//! Runnable examples for `explain --export`: each claim's example construction together with
//! what to feed it and what it must produce, so the exported file can be checked on its own.

use super::Decoding;
use crate::copy::attention::{self, AttnKind};
use crate::copy::constant::{self, ConstInstance, ConstSpec, InstanceKind, Prepared};
use crate::copy::linear::{build_copy_model, CopyTask, MemoryKind};
use crate::dp::{self, DpProblem, Options};
use crate::error::Result;
use crate::model::{Layer, Layout, Model, SparseMatrix};
use crate::num::Real;
use crate::rng::Rng;

/// An example model and how to run it (docs/export.md).
pub type RunnableExample = (Model<f64>, Option<Decoding>);

/// A COPY model with its prompt: it must write `prompt[p−1]` for every target p.
pub fn copy_linear(kind: MemoryKind, task: &CopyTask, prompt: &[usize]) -> Result<RunnableExample> {
    let cm = build_copy_model::<f64>(kind, task, 53)?;
    let decoding = Decoding {
        prompt_format: format!(
            "u_1 … u_T: T = {} value tokens (ids 0..{}); the model then writes u_p for each target p = {:?}",
            task.length,
            task.vocab - 1,
            task.targets
        ),
        prompt: prompt.to_vec(),
        input_len: task.length,
        input_alphabet: Some(task.vocab),
        suffix: Vec::new(),
        generate: task.targets.len(),
        expected: Some(task.targets.iter().map(|&p| prompt[p - 1]).collect()),
        ..Default::default()
    };
    Ok((cm.model, Some(decoding)))
}

/// The constant-state block on a random instance (`len` positions, target `target`), with the
/// query score at the claim's sufficient threshold: `y_value / y_norm` must be within ε of u_p.
pub fn copy_const(
    spec: &ConstSpec,
    len: usize,
    target: usize,
    seed: u64,
) -> Result<RunnableExample> {
    let inst = ConstInstance::new(spec, InstanceKind::Random, len, target, &mut Rng::new(seed))?;
    let prepared = Prepared::<f64>::new(&inst, 53)?;
    let th = constant::thresholds(&prepared);
    let score = crate::copy::exp10_real(th.sufficient_log10, 64);
    let xs = constant::input_vectors(&prepared.block, &inst, Some(&score))?;
    let decoding = Decoding {
        prompt_format: format!(
            "a block fed residual vectors x_1 … x_{len} (no tokens); read y_value / y_norm at the last position; the target is position {target}, the query score is the sufficient threshold 10^{:.3}",
            th.sufficient_log10
        ),
        inputs: xs,
        read: Some("y_value".into()),
        read_divisor: Some("y_norm".into()),
        expected_read: Some(inst.values[target - 1]),
        tolerance: Some(spec.eps),
        ..Default::default()
    };
    Ok((prepared.block.as_model(), Some(decoding)))
}

/// The quadratic attention head with gap `gap` on `len` random values: `out` at the last
/// position must be within ε of the target value.
pub fn copy_attn(
    gap: &Real,
    len: usize,
    target: usize,
    eps: f64,
    seed: u64,
) -> Result<RunnableExample> {
    let mut rng = Rng::new(seed);
    let values: Vec<f64> = (0..len).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let model = attention::as_model::<f64>(AttnKind::Quadratic, gap, 53)?;
    let decoding = Decoding {
        prompt_format: format!(
            "a block fed residual vectors x_1 … x_{len} (no tokens); read `out` at the last position: it copies the value at the target position {target}"
        ),
        inputs: attention::input_vectors(&values, target, 53)?,
        read: Some("out".into()),
        expected_read: Some(values[target - 1]),
        tolerance: Some(eps),
        ..Default::default()
    };
    Ok((model, Some(decoding)))
}

/// How to run a DP model: the prompt `s_1 … s_n SEP`, and the solver's chain of thought and
/// answer as the expected tokens.
pub fn dp_decoding(problem: &dyn DpProblem, input: &[usize]) -> Decoding {
    let full = problem.solve(input);
    let n = problem.input_len();
    Decoding {
        prompt_format: format!(
            "s_1 … s_n SEP: the n = {n} input symbols (token ids 0..{}), then SEP (token id {}); positions 1..n+1",
            problem.alphabet() - 1,
            problem.sep()
        ),
        prompt: full[..n + 1].to_vec(),
        input_len: n,
        input_alphabet: Some(problem.alphabet()),
        suffix: vec![problem.sep()],
        generate: full.len() - (n + 1),
        expected: Some(full[n + 1..].to_vec()),
        ..Default::default()
    }
}

/// A DP problem compiled with each memory (ReLU, f64) on a seeded random input.
pub fn dp_models(
    problem: &dyn DpProblem,
    memories: &[dp::MemoryKind],
    seed: u64,
) -> Vec<(String, Result<RunnableExample>)> {
    let input = problem.random_input(&mut Rng::new(seed));
    memories
        .iter()
        .map(|&memory| {
            let opt = Options {
                memory,
                slots: None,
                activation: crate::model::Activation::Relu,
                lambda: None,
                memory_override: None,
            };
            let ex = dp::compile::<f64>(problem, &opt, 53)
                .map(|c| (c.model, Some(dp_decoding(problem, &input))));
            (
                format!("{}, {} memory", problem.describe(), memory.name()),
                ex,
            )
        })
        .collect()
}

/// A one-layer block model on its own residual stream (no vocabulary).
fn block_model(name: &str, coords: &[(&str, &str)], layer: Layer<f64>) -> Model<f64> {
    let mut layout = Layout::new();
    for (c, meaning) in coords {
        layout.add1(c, meaning);
    }
    let w = layout.width();
    Model {
        name: name.into(),
        layout,
        vocab: Vec::new(),
        token_embedding: SparseMatrix::zeros(0, w),
        positional: Vec::new(),
        layers: vec![layer],
        readout: SparseMatrix::zeros(0, w),
        readout_bias: Vec::new(),
        prec: 53,
    }
}

/// The `mlp-mul` GeLU layer for |a|, |b| ≤ 1 at accuracy `eps` (λ from the claim's rule), fed
/// one vector `[a, b, 0]`: `out` must be within `eps` of `a·b`.
pub fn mlp_mul(a: f64, b: f64, eps: f64) -> Result<RunnableExample> {
    use crate::gadgets::mul;
    let lambda: f64 = mul::lambda_for(&1.0, &eps)?;
    let layer = mul::standalone::<f64>(&lambda, 53)?;
    let model = block_model(
        "mlp-mul",
        &[
            ("a", "first factor"),
            ("b", "second factor"),
            ("out", "≈ ab"),
        ],
        Layer::Mlp(layer),
    );
    let decoding = Decoding {
        prompt_format: format!(
            "a block fed one residual vector [a, b, out] = [{a}, {b}, 0]; read `out` ≈ a·b (λ = {lambda:.6e} for |a|, |b| ≤ 1 and ε = {eps})"
        ),
        inputs: vec![vec![a, b, 0.0]],
        read: Some("out".into()),
        expected_read: Some(a * b),
        tolerance: Some(eps),
        ..Default::default()
    };
    Ok((model, Some(decoding)))
}

/// The `gate-mul` gated SSM pair with shift `gain`, fed one vector `[y, z, 0]`: `out` must be
/// within the sharp bound `gate::error_bound(y, |z|, K)` of `y·z`.
pub fn gate_mul(y: f64, z: f64, gain: f64) -> Result<RunnableExample> {
    use crate::gadgets::gate::{self, GateMul};
    let layer = GateMul::standalone(gain)?.layer("gate-mul", 3, 53)?;
    let model = block_model(
        "gate-mul",
        &[
            ("y", "the gated value"),
            ("z", "the gate input"),
            ("out", "≈ y·z"),
        ],
        Layer::Ssm(layer),
    );
    let bound = gate::error_bound(&y, &z.abs(), &gain)?;
    let decoding = Decoding {
        prompt_format: format!(
            "a block fed one residual vector [y, z, out] = [{y}, {z}, 0]; read `out` ≈ y·z (gate shift K = {gain})"
        ),
        inputs: vec![vec![y, z, 0.0]],
        read: Some("out".into()),
        expected_read: Some(y * z),
        // the sharp bound, plus room for f64 rounding of a result of order |y|·(K + |z|)
        tolerance: Some(bound + 16.0 * f64::EPSILON * y.abs() * (gain + z.abs())),
        ..Default::default()
    };
    Ok((model, Some(decoding)))
}

/// The `mlp-relu` unit (GeLU, scale `lambda`) fed one vector `[z, 0]`: `out` must be within the
/// sup error `c₀/λ` (c₀ = 0.1699712… for GeLU, rounded up to 0.17 here) of ReLU(z).
pub fn mlp_relu(z: f64, lambda: f64) -> Result<RunnableExample> {
    use crate::gadgets::relu;
    let layer = relu::standalone::<f64>(crate::model::Activation::Gelu, lambda, 53)?;
    let model = block_model(
        "mlp-relu",
        &[("z", "input"), ("out", "ReLU(z)")],
        Layer::Mlp(layer),
    );
    let decoding = Decoding {
        prompt_format: format!(
            "a block fed one residual vector [z, out] = [{z}, 0]; read `out` ≈ ReLU(z) (GeLU unit, λ = {lambda})"
        ),
        inputs: vec![vec![z, 0.0]],
        read: Some("out".into()),
        expected_read: Some(z.max(0.0)),
        tolerance: Some(0.17 / lambda),
        ..Default::default()
    };
    Ok((model, Some(decoding)))
}

/// The `mlp-lookup` ReLU table `f(key) = values[k]` on the integer keys `domain`, fed `[key, 0]`:
/// exact (tolerance 0) with integer weights.
pub fn mlp_lookup(domain: &[i64], values: &[i64], key: i64) -> Result<RunnableExample> {
    use crate::gadgets::{lookup, relu::ReluUnit};
    let (layer, _) = lookup::standalone_table(domain, values, &ReluUnit::<f64>::exact(53), 53)?;
    let model = block_model(
        "mlp-lookup",
        &[("key", "integer key"), ("out", "f(key)")],
        Layer::Mlp(layer),
    );
    let want = domain
        .iter()
        .position(|&k| k == key)
        .map(|i| values[i] as f64)
        .ok_or_else(|| crate::error::Error::input(format!("key {key} is not in the table")))?;
    let decoding = Decoding {
        prompt_format: format!(
            "a block fed one residual vector [key, out] = [{key}, 0]; read `out` = f(key) for the table {domain:?} -> {values:?}"
        ),
        inputs: vec![vec![key as f64, 0.0]],
        read: Some("out".into()),
        expected_read: Some(want),
        tolerance: Some(0.0),
        ..Default::default()
    };
    Ok((model, Some(decoding)))
}

/// The `mlp-select` ReLU selector for one coordinate with gain `K = 2` (exact when
/// `|x|, |y| ≤ M = 1` and `|t| ≥ α = 1`, since Kα ≥ M; exact in f64 for dyadic x and y), fed
/// `[x, y, t, 0]`: `out` is x when t ≥ 1, y when t ≤ −1, with tolerance 0.
pub fn mlp_select(x: f64, y: f64, t: f64) -> Result<RunnableExample> {
    use crate::gadgets::{relu::ReluUnit, select};
    let layer = select::standalone::<f64>(1, &2.0, &ReluUnit::exact(53))?;
    let model = block_model(
        "mlp-select",
        &[
            ("x", "selected when t ≥ α"),
            ("y", "selected when t ≤ −α"),
            ("t", "the gate"),
            ("out", "sel(x, y, t)"),
        ],
        Layer::Mlp(layer),
    );
    let decoding = Decoding {
        prompt_format: format!(
            "a block fed one residual vector [x, y, t, out] = [{x}, {y}, {t}, 0]; read `out` = x if t ≥ 1, y if t ≤ −1 (ReLU, K = 2, M = α = 1)"
        ),
        inputs: vec![vec![x, y, t, 0.0]],
        read: Some("out".into()),
        expected_read: Some(if t >= 1.0 { x } else { y }),
        tolerance: Some(0.0),
        ..Default::default()
    };
    Ok((model, Some(decoding)))
}
