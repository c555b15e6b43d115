//! `copy-const`: a constant-state selective SSM block that copies the value at a target position,
//! with every hypothesis of proofs/copy-const.md under control: decays `a_t = exp(−λΔ_t)` set through
//! Δ (input-dependent) and `A = −λ`, the target score `s = C_i·B_p`, the interference
//! `|C_i·B_j| ≤ ρ`, and the value bound `|u_j| ≤ σ`.
//!
//! Residual stream (named subspaces): `value` (u_t), `one` (the constant 1), `key` (N coords, B_t),
//! `query` (N coords, C_t), `delta_ctl` (softplus⁻¹ of Δ_t), and the outputs `y_value`, `y_norm`.
//! Two channels share Δ, B, C: channel `value` reads `u_t`, channel `norm` reads the constant 1,
//! so `y_norm = n_i = Σ_j κ_{i,j}` is built inside the model; the normalised readout is
//! `y_value / y_norm` (the division is done at the readout).
//!
//! Keys: the target gets `B_p = e_0`; every other position gets `B_j = (0, r_j, noise…)` with
//! `|r_j| ≤ ρ`; the query is `C_i = (s, 1, 0, …)`, so `s_{i,p} = s` and `s_{i,j} = r_j` exactly.

use super::{require_decay, require_positive};
use crate::error::{Error, Result};
use crate::model::{Layout, SparseMatrix, SsmLayer, SsmState};
use crate::num::{zeros, Real, Scalar};
use crate::rng::Rng;
use rug::Float;
use serde::Serialize;

/// The hypotheses of one instance family.
#[derive(Clone, Debug, Serialize)]
pub struct ConstSpec {
    /// State size N (2..=64).
    pub n_state: usize,
    /// `A = −λ` (λ > 0), so `a_t = exp(−λΔ_t)`. Ignored when `a_min = a_max = 1` (then A = 0).
    pub lambda: f64,
    pub a_min: f64,
    pub a_max: f64,
    /// Interference bound ρ > 0.
    pub rho: f64,
    /// Value bound σ > 0.
    pub sigma: f64,
    /// Accuracy 0 < ε < σ.
    pub eps: f64,
}

impl ConstSpec {
    pub fn validate(&self) -> Result<()> {
        if !(2..=64).contains(&self.n_state) {
            return Err(Error::input(format!(
                "state size N must be between 2 and 64 (got {})",
                self.n_state
            )));
        }
        require_decay("a_min", self.a_min)?;
        require_decay("a_max", self.a_max)?;
        if self.a_min > self.a_max {
            return Err(Error::input(format!(
                "a_min = {} exceeds a_max = {}",
                self.a_min, self.a_max
            )));
        }
        if self.a_max == 1.0 && self.a_min < 1.0 {
            return Err(Error::input(
                "a = exp(−λΔ) with Δ = softplus(·) > 0 reaches 1 only as a constant decay: use a_min = a_max = 1 (A = 0) or a_max < 1",
            ));
        }
        if self.a_max < 1.0 {
            require_positive("λ", self.lambda)?;
        }
        require_positive("ρ", self.rho)?;
        require_positive("σ", self.sigma)?;
        require_positive("ε", self.eps)?;
        if self.eps >= self.sigma {
            return Err(Error::input(format!(
                "ε = {} must be smaller than σ = {} (otherwise the zero output already copies)",
                self.eps, self.sigma
            )));
        }
        Ok(())
    }
    fn no_decay(&self) -> bool {
        self.a_min == 1.0
    }
    /// Δ realising decay `a`: `−ln(a)/λ`, or 1 when A = 0.
    pub fn delta_for(&self, a: f64) -> f64 {
        if self.no_decay() {
            1.0
        } else {
            -a.ln() / self.lambda
        }
    }
    pub fn delta_min(&self) -> f64 {
        self.delta_for(self.a_max)
    }
    pub fn delta_max(&self) -> f64 {
        self.delta_for(self.a_min)
    }
}

/// How an instance's values, scores and decays are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum InstanceKind {
    /// `u_p = σ`, `u_j = −σ`, `s_{i,j} = ρ` for `j ≠ p`, constant decay `a_max`.
    Adversarial,
    /// Adversarial values and scores, decays uniform in `[a_min, a_max]`.
    AdversarialRandomDecay,
    /// Everything uniform: `u ∈ [−σ,σ]`, `r ∈ [−ρ,ρ]`, `a ∈ [a_min,a_max]`.
    Random,
}

/// One instance: query position `i = len`, target `p`, per-position decays, values, interference.
#[derive(Clone, Debug)]
pub struct ConstInstance {
    pub spec: ConstSpec,
    pub kind: InstanceKind,
    pub len: usize,
    pub target: usize,
    /// `a_t`, t = 1..=len (index t−1); `a_1` only scales nothing.
    pub decays: Vec<f64>,
    pub values: Vec<f64>,
    /// `r_j = s_{i,j}` for `j ≠ p` (entry p unused).
    pub interference: Vec<f64>,
    /// Key coordinates 2..N (do not enter any score).
    pub key_noise: Vec<Vec<f64>>,
}

impl ConstInstance {
    /// One-line description for case labels.
    pub fn describe(&self) -> String {
        let s = &self.spec;
        format!(
            "{:?} N={} L={} a∈[{},{}] ρ={} σ={} ε={:.0e}",
            self.kind,
            s.n_state,
            self.distance(),
            s.a_min,
            s.a_max,
            s.rho,
            s.sigma,
            s.eps
        )
    }

    /// Distance `L = i − p + 1`.
    pub fn distance(&self) -> usize {
        self.len - self.target + 1
    }

    pub fn new(
        spec: &ConstSpec,
        kind: InstanceKind,
        len: usize,
        target: usize,
        rng: &mut Rng,
    ) -> Result<Self> {
        spec.validate()?;
        if len < 2 {
            return Err(Error::input(format!(
                "the query position must be at least 2 (got {len})"
            )));
        }
        if target == 0 || target > len {
            return Err(Error::input(format!(
                "target position {target} is outside the sequence 1..={len}"
            )));
        }
        let (s, r) = (spec.sigma, spec.rho);
        let mut decays = Vec::with_capacity(len);
        let mut values = Vec::with_capacity(len);
        let mut interference = Vec::with_capacity(len);
        let mut key_noise = Vec::with_capacity(len);
        for t in 1..=len {
            let (a, u, ri) = match kind {
                InstanceKind::Adversarial => (spec.a_max, -s, r),
                InstanceKind::AdversarialRandomDecay => {
                    (rng.uniform(spec.a_min, spec.a_max), -s, r)
                }
                InstanceKind::Random => (
                    rng.uniform(spec.a_min, spec.a_max),
                    rng.uniform(-s, s),
                    rng.uniform(-r, r),
                ),
            };
            let u = if t == target && kind != InstanceKind::Random {
                s
            } else {
                u
            };
            decays.push(a);
            values.push(u);
            interference.push(if t == target { 0.0 } else { ri });
            key_noise.push((2..spec.n_state).map(|_| rng.uniform(-1.0, 1.0)).collect());
        }
        Ok(ConstInstance {
            spec: spec.clone(),
            kind,
            len,
            target,
            decays,
            values,
            interference,
            key_noise,
        })
    }
}

/// The built block: one SSM layer (channels `value` and `norm`) on a named residual stream.
#[derive(Clone, Debug)]
pub struct ConstBlock<S> {
    pub layout: Layout,
    pub layer: SsmLayer<S>,
    pub prec: u32,
}

pub fn build_block<S: Scalar>(spec: &ConstSpec, prec: u32) -> Result<ConstBlock<S>> {
    spec.validate()?;
    let n = spec.n_state;
    let mut layout = Layout::new();
    let value = layout.add1("value", "u_t, the value to copy (|u| ≤ σ)");
    let one = layout.add1("one", "the constant 1 (input of the normaliser channel)");
    let key = layout.add(
        "key",
        n,
        "B_t: e_0 at the target, (0, r_t, noise) elsewhere",
    );
    let query = layout.add("query", n, "C_t: (s, 1, 0, …) at the query position");
    let dctl = layout.add1("delta_ctl", "softplus⁻¹(Δ_t), so Δ_t = softplus(delta_ctl)");
    let y_value = layout.add1("y_value", "raw readout y_i = Σ_j κ_{i,j} u_j");
    let y_norm = layout.add1("y_norm", "normaliser n_i = Σ_j κ_{i,j}");
    let w = layout.width();
    let one_s = S::one(prec);
    let ident = |range: std::ops::Range<usize>| {
        SparseMatrix::from_entries(
            n,
            w,
            range
                .enumerate()
                .map(|(r, c)| (r, c, one_s.clone()))
                .collect(),
        )
    };
    let a_val = if spec.no_decay() {
        S::zero(prec)
    } else {
        S::from_f64(-spec.lambda, prec)
    };
    let a = vec![a_val; 2 * n];
    let decay = SsmLayer::detect_decay(&a, 2, n);
    let layer = SsmLayer {
        name: "copy-const".into(),
        width: w,
        channels: 2,
        state: n,
        w_delta: SparseMatrix::from_entries(
            2,
            w,
            vec![(0, dctl, one_s.clone()), (1, dctl, one_s.clone())],
        ),
        b_delta: zeros(2, prec),
        w_b: ident(key),
        w_c: ident(query),
        w_u: SparseMatrix::from_entries(
            2,
            w,
            vec![(0, value, one_s.clone()), (1, one, one_s.clone())],
        ),
        a,
        d_skip: zeros(2, prec),
        gate: None,
        w_o: SparseMatrix::from_entries(
            w,
            2,
            vec![(y_value, 0, one_s.clone()), (y_norm, 1, one_s.clone())],
        ),
        decay,
    };
    Ok(ConstBlock {
        layout,
        layer,
        prec,
    })
}

impl<S: Scalar> ConstBlock<S> {
    /// The block as a `Model` (no vocabulary: inputs are real vectors), for `summary()` and
    /// `export()`.
    pub fn as_model(&self) -> crate::model::Model<S> {
        let w = self.layout.width();
        crate::model::Model {
            name: "copy-const block".into(),
            layout: self.layout.clone(),
            vocab: Vec::new(),
            token_embedding: SparseMatrix::zeros(0, w),
            positional: Vec::new(),
            layers: vec![crate::model::Layer::Ssm(self.layer.clone())],
            readout: SparseMatrix::zeros(0, w),
            readout_bias: Vec::new(),
            prec: self.prec,
        }
    }
}

/// `softplus⁻¹(Δ) = ln(e^Δ − 1)`, at `prec` bits.
fn inv_softplus(delta: f64, prec: u32) -> Real {
    let mut f = Float::with_val(prec, delta);
    f.exp_m1_mut();
    f.ln_mut();
    Real(f)
}

/// The block's residual inputs `x_1..x_len` for an instance: value, the constant 1, the key,
/// `softplus⁻¹(Δ_t)`; the query position also carries `C = (s, 1, 0, …)` when `score` is given
/// (without it the query is left at zero, as [`Prepared`] sets it per score).
pub fn input_vectors<S: Scalar>(
    block: &ConstBlock<S>,
    inst: &ConstInstance,
    score: Option<&Real>,
) -> Result<Vec<Vec<S>>> {
    let prec = block.prec;
    let lay = &block.layout;
    let width = lay.width();
    let (value, one) = (lay.at("value", 0)?, lay.at("one", 0)?);
    let (key0, q0) = (lay.at("key", 0)?, lay.at("query", 0)?);
    let dctl = lay.at("delta_ctl", 0)?;
    let mut xs = Vec::with_capacity(inst.len);
    for t in 1..=inst.len {
        let mut x: Vec<S> = zeros(width, prec);
        x[value] = S::from_f64(inst.values[t - 1], prec);
        x[one] = S::one(prec);
        if t == inst.target {
            x[key0] = S::one(prec);
        } else {
            x[key0 + 1] = S::from_f64(inst.interference[t - 1], prec);
        }
        for (k, v) in inst.key_noise[t - 1].iter().enumerate() {
            x[key0 + 2 + k] = S::from_f64(*v, prec);
        }
        let d = inst.spec.delta_for(inst.decays[t - 1]);
        x[dctl] = S::from_real(&inv_softplus(d, prec.max(53) + 32), prec);
        if let (Some(s), true) = (score, t == inst.len) {
            x[q0] = S::from_real(s, prec);
            x[q0 + 1] = S::one(prec);
        }
        xs.push(x);
    }
    Ok(xs)
}

/// A block with its prefix `1..i−1` already run: the query score can then be varied cheaply
/// (the state does not depend on the query).
pub struct Prepared<S: Scalar> {
    pub block: ConstBlock<S>,
    pub inst: ConstInstance,
    state: SsmState<S>,
    x_last: Vec<S>,
    /// Δ_t as the model computes it (t = 1..=len).
    pub deltas: Vec<S>,
}

/// Readouts at the query position.
#[derive(Clone, Debug)]
pub struct Readout<S> {
    pub y_value: S,
    pub y_norm: S,
}

impl<S: Scalar> Prepared<S> {
    pub fn new(inst: &ConstInstance, prec: u32) -> Result<Self> {
        let block: ConstBlock<S> = build_block(&inst.spec, prec)?;
        let xs = input_vectors(&block, inst, None)?;
        let mut state = block.layer.new_state(prec);
        let mut deltas = Vec::with_capacity(inst.len);
        let mut x_last = Vec::new();
        for (k, mut x) in xs.into_iter().enumerate() {
            deltas.push(block.layer.project(&x, prec).delta[0].clone());
            if k + 1 < inst.len {
                block.layer.step(&mut state, &mut x);
            } else {
                x_last = x;
            }
        }
        Ok(Prepared {
            block,
            inst: inst.clone(),
            state,
            x_last,
            deltas,
        })
    }

    /// Run the query token with target score `s` through the layer; read both channels.
    pub fn readout(&self, s: &Real) -> Readout<S> {
        let prec = self.block.prec;
        let lay = &self.block.layout;
        let q0 = lay.at("query", 0).expect("query subspace");
        let mut x = self.x_last.clone();
        x[q0] = S::from_real(s, prec);
        x[q0 + 1] = S::one(prec);
        let mut st = self.state.clone();
        self.block.layer.step(&mut st, &mut x);
        Readout {
            y_value: x[lay.at("y_value", 0).expect("y_value")].clone(),
            y_norm: x[lay.at("y_norm", 0).expect("y_norm")].clone(),
        }
    }

    fn target_value(&self) -> S {
        S::from_f64(self.inst.values[self.inst.target - 1], self.block.prec)
    }

    /// `|y/n − u_p|` (normalised readout); +∞ when it is not finite.
    pub fn error_normalised(&self, s: &Real) -> S {
        let r = self.readout(s);
        let mut o = r.y_value.div(&r.y_norm);
        o.sub_assign_s(&self.target_value());
        o.abs_mut();
        if o.is_finite() {
            o
        } else {
            S::from_f64(f64::INFINITY, self.block.prec)
        }
    }

    /// `|y − u_p|` (raw readout).
    pub fn error_raw(&self, s: &Real) -> S {
        let mut o = self.readout(s).y_value;
        o.sub_assign_s(&self.target_value());
        o.abs_mut();
        if o.is_finite() {
            o
        } else {
            S::from_f64(f64::INFINITY, self.block.prec)
        }
    }

    /// `S = Σ_{j≠p} α_{i,j} Δ_j` from the model's own Δ and decays, in MPFR at `wp` bits.
    pub fn interference_mass(&self, wp: u32) -> Real {
        let a = self.block.layer.a[0].to_real();
        let mut sum = Float::new(wp);
        let mut alpha = Float::with_val(wp, 1);
        for j in (1..=self.inst.len).rev() {
            let d = self.deltas[j - 1].to_real();
            if j != self.inst.target {
                sum += Float::with_val(wp, &alpha * &d.0);
            }
            // α_{i,j−1} = α_{i,j} · a_j
            let aj = Float::with_val(wp, &a.0 * &d.0).exp();
            alpha *= aj;
        }
        Real(sum)
    }
}

/// The thresholds of proofs/copy-const.md for one instance, as log10 (MPFR-computed).
#[derive(Clone, Debug, Serialize)]
pub struct Thresholds {
    pub distance: usize,
    /// log10 of `S = Σ_{j≠p} α_{i,j}Δ_j`.
    pub interference_mass_log10: f64,
    pub sufficient_log10: f64,
    pub necessary_log10: f64,
}

pub fn thresholds<S: Scalar>(p: &Prepared<S>) -> Thresholds {
    let spec = &p.inst.spec;
    let wp = p.block.prec.max(53) + 64;
    let s_mass = p.interference_mass(wp);
    let l = p.inst.distance() as f64;
    let two_s_e = 2.0 * spec.sigma / spec.eps;
    let base = s_mass.log10_abs() + spec.rho.log10();
    let suff =
        base + (1.0 + two_s_e).log10() - spec.delta_min().log10() - (l - 1.0) * spec.a_min.log10();
    let nec =
        base + (two_s_e - 1.0).log10() - spec.delta_max().log10() - (l - 1.0) * spec.a_max.log10();
    Thresholds {
        distance: p.inst.distance(),
        interference_mass_log10: s_mass.log10_abs(),
        sufficient_log10: suff,
        necessary_log10: nec,
    }
}

/// log10 of the smallest score reaching accuracy ε with the normalised readout, by bisection on
/// log10(s) between `lo` (error > ε) and `hi` (error ≤ ε) to `tol` (in log10).
/// The error is `|R_y − u_p R_n| / (s κ̃_p + R_n)`: monotone in s once the denominator is positive.
pub fn minimal_score_log10<S: Scalar>(
    p: &Prepared<S>,
    mut lo: f64,
    mut hi: f64,
    tol: f64,
) -> Result<f64> {
    super::check_bisection(lo, hi, tol)?;
    let prec = p.block.prec.max(53) + 64;
    let eps = S::from_f64(p.inst.spec.eps, p.block.prec);
    let ok = |x: f64| eps.certainly_ge(&p.error_normalised(&super::exp10_real(x, prec)));
    if !ok(hi) {
        return Err(Error::compute(format!(
            "bisection: accuracy not reached at the upper end 10^{hi:.3}"
        )));
    }
    let mut widen = 0;
    while ok(lo) {
        lo -= 50.0;
        widen += 1;
        if widen > 20 {
            // accuracy already holds at vanishing scores (e.g. values that agree with u_p)
            return Ok(f64::NEG_INFINITY);
        }
    }
    while hi - lo > tol {
        let mid = 0.5 * (lo + hi);
        if ok(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// Raw readout: the copy horizon for a score budget `B_s` with constant decay `a` and Δ.
/// Returns the largest measured distance at which some score `s ≤ B_s` achieves `|y − u_p| ≤ ε`
/// on the instance `u_p = σ`, `u_j = 0` (searched up to `max_l`), and the formula `L*`.
#[derive(Clone, Debug, Serialize)]
pub struct Horizon {
    pub budget_log10: f64,
    pub measured: usize,
    pub formula: f64,
    pub searched_to: usize,
}

pub fn raw_horizon<S: Scalar>(
    spec: &ConstSpec,
    budget_log10: f64,
    max_l: usize,
    prec: u32,
) -> Result<Horizon> {
    spec.validate()?;
    crate::error::require_finite("the score budget (log10)", budget_log10)?;
    if spec.a_min != spec.a_max || spec.no_decay() {
        return Err(Error::input(
            "the raw-readout horizon needs one constant decay a = a_min = a_max < 1",
        ));
    }
    if max_l < 2 {
        return Err(Error::input("the horizon search needs max_l ≥ 2"));
    }
    let block: ConstBlock<S> = build_block(spec, prec)?;
    let lay = &block.layout;
    let (value, one, key0, q0, dctl, yv) = (
        lay.at("value", 0)?,
        lay.at("one", 0)?,
        lay.at("key", 0)?,
        lay.at("query", 0)?,
        lay.at("delta_ctl", 0)?,
        lay.at("y_value", 0)?,
    );
    let width = lay.width();
    let wp = prec.max(53) + 64;
    let budget = super::exp10_real(budget_log10, wp);
    let sigma = S::from_f64(spec.sigma, prec);
    let eps = S::from_f64(spec.eps, prec);
    let d_ctl = S::from_real(&inv_softplus(spec.delta_for(spec.a_max), wp), prec);
    let mut st = block.layer.new_state(prec);
    let mut measured = 0;
    for t in 1..=max_l {
        let mut x: Vec<S> = zeros(width, prec);
        if t == 1 {
            x[value] = sigma.clone();
            x[key0] = S::one(prec);
        }
        x[one] = S::one(prec);
        x[dctl] = d_ctl.clone();
        // probe with s = 1 to read κ̃_p σ, then use the best score within the budget
        let before = st.clone();
        let mut probe = x.clone();
        probe[q0] = S::one(prec);
        block.layer.step(&mut st, &mut probe);
        let k = probe[yv].to_real();
        let mut best = Real(Float::with_val(wp, &sigma.to_real().0 / &k.0));
        if best > budget || !best.0.is_finite() {
            best = budget.clone();
        }
        st = before;
        x[q0] = S::from_real(&best, prec);
        block.layer.step(&mut st, &mut x);
        let mut err = x[yv].clone();
        err.sub_assign_s(&sigma);
        err.abs_mut();
        if err.is_finite() && eps.certainly_ge(&err) {
            measured = t;
        } else {
            break;
        }
    }
    let formula = 1.0
        + (budget_log10 + spec.delta_max().log10() - (1.0 - spec.eps / spec.sigma).log10())
            / (-spec.a_max.log10());
    Ok(Horizon {
        budget_log10,
        measured,
        formula,
        searched_to: max_l,
    })
}
