//! The selective-slot memory (proofs/copy-linear.md construction 2, proofs/dp-general.md):
//! `m` SSM channels with `N = 1`, `A = −1`, `B ≡ 1/Δ_big`, `C ≡ 1`, `u = value` and
//! `Δ_t[d] = softplus(K·write_d(t) − K·frozen(t) − K0)`: Δ is the write gate. Position `t ≤ len`
//! writes slot `(t − 1) mod m`; after `len` nothing is written. A ReLU MLP then selects the
//! queried slot with the `mlp-select` gate: `read_r = Σ_d gate(slot_d, query_r[d])`.
//!
//! **Bound** (values `0 ≤ v ≤ σ`, `Δ_big = softplus(K − K0)`, `δ = softplus(−K0)`):
//! - every slot stays in `[0, H]`, `H = σ/(1 − e^{−Δ_big})`: a write maps `h ≤ H` to
//!   `e^{−Δ_big}h + v ≤ H`, a non-write step to `e^{−δ}h + (δ/Δ_big)v ≤ H` (as
//!   `(1 − e^{−x})/x` decreases and `δ ≤ Δ_big`);
//! - right after its write a slot is off by `e^{−Δ_big}h_old ≤ σ/(e^{Δ_big} − 1)`, and each of the
//!   `n` later non-write steps moves it by at most `(1 − e^{−δ})σ + (δ/Δ_big)σ ≤ δσ(1 + 1/Δ_big)`:
//!   `|slot − v| ≤ σ/(e^{Δ_big} − 1) + n·δ·σ·(1 + 1/Δ_big)` ([`SlotParams::error_bound`]);
//! - [`SlotParams::for_accuracy`] (`K0 = ln(4nσ/ε)`, `K = K0 + max(1, ln(1 + 2σ/ε))`) makes the
//!   first term `≤ ε/2` and the second `≤ (ε/4)(1 + 1/Δ_big) < ε/2`: `|slot − v| < ε`;
//! - the select gates see `|slot| ≤ M' = max(H, σ + ε_slot)` and flags off by at most `e_q`
//!   (the query's entry error), so by `mlp-select` each gate errs by at most
//!   `select::error_bound(M', 1 − 2e_q, K_sel)` (`0` with ReLU), `K_sel = ⌈M'⌉`:
//!   `|read − v| ≤ ε_slot + m·that`.

use super::{
    select_sum, softplus_f64, Memory, MemoryIo, MemoryParams, OneHotQuery, QueryFeed, ReadPlan,
    Residual,
};
use crate::error::{Error, Result};
use crate::gadgets::relu::ReluUnit;
use crate::gadgets::{select, Circuit, Lin};
use crate::model::{
    Activation, Block, Coord, Layer, PosKind, PositionalFeature, SparseMatrix, SsmLayer,
};
use crate::num::{zeros, Ball, Real, Scalar};
use rug::Float;
use serde::Serialize;

/// Largest number of slots of a selective-slot memory with a decoded query (its decoder and its
/// select MLP grow as the slots).
pub const MAX_SLOTS: usize = 4_000;

/// Parameters of the selective-slot memory.
#[derive(Clone, Debug, Serialize)]
pub struct SlotParams {
    /// Write gain K and offset K0: `Δ = softplus(K·write − K·frozen − K0)`.
    pub k: f64,
    pub k0: f64,
}

impl SlotParams {
    /// The one parameterisation: a slot survives `steps` non-write steps and an overwrite forgets
    /// the old content, each within `ε/2`, for values `0 ≤ v ≤ σ`: `K0 = ln(4·steps·σ/ε)`,
    /// `K = K0 + max(1, ln(1 + 2σ/ε))` (module docs). `steps = 0` uses the K0 of one step.
    pub fn for_accuracy(sigma: f64, steps: usize, eps: f64) -> Result<Self> {
        positive("σ", sigma)?;
        positive("ε", eps)?;
        let k0 = (4.0 * steps.max(1) as f64 * sigma / eps).ln().max(1.0);
        let k = k0 + (1.0 + 2.0 * sigma / eps).ln().max(1.0);
        Ok(SlotParams { k, k0 })
    }
    /// `Δ_big = softplus(K − K0)`, the write step.
    pub fn delta_big(&self) -> f64 {
        softplus_f64(self.k - self.k0)
    }
    /// `δ = softplus(−K0)`, every other step.
    pub fn delta_small(&self) -> f64 {
        softplus_f64(-self.k0)
    }
    /// `H = σ/(1 − e^{−Δ_big})`: no slot ever leaves `[0, H]`.
    pub fn content_bound(&self, sigma: f64) -> f64 {
        sigma / -(-self.delta_big()).exp_m1()
    }
    /// Exact-arithmetic bound on `|slot − v|` after `steps` non-write steps, in f64
    /// ([`SlotParams::error_bound_in`]).
    pub fn error_bound(&self, sigma: f64, steps: usize) -> f64 {
        self.error_bound_in(&sigma, steps)
    }
    /// The one formula of the slot bound, in any arithmetic:
    /// `σ/(e^{Δ_big} − 1) + steps·δ·σ·(1 + 1/Δ_big)`, with `Δ_big = softplus(K − K0)` and
    /// `δ = softplus(−K0)` formed in that arithmetic from the f64 parameters.
    pub fn error_bound_in<T: Scalar>(&self, sigma: &T, steps: usize) -> T {
        let prec = sigma.precision();
        let (k, k0) = (T::from_f64(self.k, prec), T::from_f64(self.k0, prec));
        let big = k.sub(&k0).softplus();
        let small = k0.neg().softplus();
        let one = T::one(prec);
        sigma.div(&big.exp().sub(&one)).add(
            &T::from_i64(steps as i64, prec)
                .mul(&small)
                .mul(sigma)
                .mul(&one.add(&one.div(&big))),
        )
    }
    /// `M' = max(H, σ + ε_slot)`: the largest |slot| the select gates see (it sets their gain
    /// `⌈M'⌉`; the gate's hypothesis is then checked in the bound's arithmetic).
    pub fn select_range(&self, sigma: f64, steps: usize) -> f64 {
        self.content_bound(sigma)
            .max(sigma + self.error_bound(sigma, steps))
    }
}

/// The one formula of the selective-slot memory's read bound, in any arithmetic (module docs):
/// `ε_slot + slots·select::error_bound(M', 1 − 2e_q, ⌈M'⌉)` for units `unit`, where `e_q` is the
/// query's entry error.
pub fn read_bound<T: Scalar>(
    params: &SlotParams,
    sigma: f64,
    steps: usize,
    slots: usize,
    entry_error: f64,
    unit: &ReluUnit<T>,
) -> Result<T> {
    let prec = unit.lambda.precision();
    let exact = params.error_bound_in(&T::from_f64(sigma, prec), steps);
    let range = params.select_range(sigma, steps);
    let per_gate = select::error_bound(
        &T::from_f64(range, prec),
        &T::from_f64(1.0 - 2.0 * entry_error, prec),
        &T::from_f64(range.ceil().max(1.0), prec),
        unit,
    )?;
    let total = exact.add(&per_gate.mul(&T::from_i64(slots as i64, prec)));
    if total.is_nan() {
        return Err(Error::compute("the slot bound has no enclosure"));
    }
    Ok(total)
}

fn positive(name: &str, x: f64) -> Result<()> {
    if !x.is_finite() || x <= 0.0 {
        return Err(Error::input(format!(
            "{name} must be a positive finite number (got {x})"
        )));
    }
    Ok(())
}

/// What [`SlotMemory::plan`] registered.
#[derive(Clone, Debug)]
struct Planned {
    io: MemoryIo,
    params: SlotParams,
    steps: usize,
    write: Block,
    frozen: Coord,
    slot_out: Block,
    query: OneHotQuery,
    select: Circuit,
}

/// The selective-slot memory (module docs).
#[derive(Clone, Debug)]
pub struct SlotMemory {
    pub name: String,
    pub slots: usize,
    pub feed: QueryFeed,
    /// Fixed parameters (to test the hypotheses); default [`SlotParams::for_accuracy`] with the
    /// plan's largest read distance and the requested accuracy.
    pub params_override: Option<SlotParams>,
    planned: Option<Planned>,
}

impl SlotMemory {
    pub fn new(name: &str, slots: usize, feed: QueryFeed) -> Self {
        SlotMemory {
            name: name.to_string(),
            slots,
            feed,
            params_override: None,
            planned: None,
        }
    }

    /// The catalog's constructor ([`super::MemoryKind::build`]): `slots` (default: the
    /// distance) must span the distance, and a decoded query at most [`MAX_SLOTS`] slots.
    pub fn from_params(p: &MemoryParams) -> Result<Self> {
        let s = p.slots.unwrap_or(p.distance);
        if s < p.distance {
            return Err(Error::input(format!(
                "a slot memory with {s} slots cannot hold reads at distance {} ({})",
                p.distance, p.context
            )));
        }
        if p.feed == QueryFeed::Decoded && s > MAX_SLOTS {
            return Err(Error::input(format!(
                "{} needs {s} slots, more than the supported {MAX_SLOTS}",
                p.context
            )));
        }
        let mut m = SlotMemory::new(p.name, s, p.feed);
        m.params_override = p
            .overrides
            .map(|(write, k0)| SlotParams { k: k0 + write, k0 });
        Ok(m)
    }

    fn planned(&self) -> &Planned {
        self.planned
            .as_ref()
            .expect("the slot memory is planned before it is built")
    }

    /// The parameters in use (after [`Memory::plan`]).
    pub fn params(&self) -> Option<&SlotParams> {
        self.planned.as_ref().map(|p| &p.params)
    }

    /// The SSM layer: one channel per slot, N = 1.
    fn ssm<S: Scalar>(&self, width: usize, prec: u32) -> SsmLayer<S> {
        let p = self.planned();
        let m = self.slots;
        let k = S::from_f64(p.params.k, prec);
        let one = S::one(prec);
        let wp = prec.max(53) + 32;
        let db = Float::with_val(wp, p.params.k - p.params.k0);
        let delta_big = db.clone() + Float::with_val(wp, -&db).exp().ln_1p();
        let inv = S::from_real(&Real(Float::with_val(wp, 1) / delta_big), prec);
        let mut w_delta = Vec::new();
        for d in 0..m {
            w_delta.push((d, p.write.at(d).index(), k.clone()));
            w_delta.push((d, p.frozen.index(), k.neg()));
        }
        let a = vec![S::from_i64(-1, prec); m];
        let decay = SsmLayer::detect_decay(&a, m, 1);
        SsmLayer {
            name: format!("{}.slots", self.name),
            width,
            channels: m,
            state: 1,
            w_delta: SparseMatrix::from_entries(m, width, w_delta),
            b_delta: vec![S::from_f64(-p.params.k0, prec); m],
            w_b: SparseMatrix::from_entries(1, width, vec![(0, p.io.one.index(), inv)]),
            w_c: SparseMatrix::from_entries(1, width, vec![(0, p.io.one.index(), one.clone())]),
            w_u: SparseMatrix::from_entries(
                m,
                width,
                (0..m)
                    .map(|d| (d, p.io.value.index(), one.clone()))
                    .collect(),
            ),
            a,
            d_skip: zeros(m, prec),
            gate: None,
            w_o: SparseMatrix::from_entries(
                width,
                m,
                p.slot_out
                    .coords()
                    .enumerate()
                    .map(|(d, c)| (c.index(), d, one.clone()))
                    .collect(),
            ),
            decay,
        }
    }
}

impl<S: Scalar> Memory<S> for SlotMemory {
    fn kind(&self) -> &'static str {
        "slot"
    }

    fn plan(&mut self, res: &mut Residual, io: &MemoryIo, plan: &ReadPlan) -> Result<()> {
        let m = self.slots;
        if m == 0 {
            return Err(Error::input("a slot memory needs at least one slot"));
        }
        for (t, _, p) in plan.reads() {
            // the last write to p's slot at or before t must be p itself
            let last = t.min(plan.len);
            let last_same = last - (last - p) % m;
            if last_same != p {
                return Err(Error::input(format!(
                    "the query at position {t} asks for position {p}, whose slot was overwritten at position {last_same} ({m} slots hold only the last {m} positions)"
                )));
            }
        }
        let steps = plan.max_distance();
        let params = match &self.params_override {
            Some(p) => p.clone(),
            None => SlotParams::for_accuracy(io.value_bound, steps, io.accuracy)?,
        };
        let name = &self.name;
        let write = res.layout.block(
            &format!("{name}_write"),
            m,
            "write gate: 1 at positions t with (t−1) mod m = d",
        );
        let frozen = res.layout.coord(
            &format!("{name}_frozen"),
            "1 after the last written position",
        );
        let slot_out = res
            .layout
            .block(&format!("{name}_slot"), m, "slot contents y[d]");
        for d in 0..m {
            res.positional.push(PositionalFeature {
                coord: write.at(d).index(),
                kind: PosKind::Modulo {
                    modulus: m,
                    residue: (d + 1) % m,
                },
            });
        }
        res.positional.push(PositionalFeature {
            coord: frozen.index(),
            kind: PosKind::AtLeast { from: plan.len + 1 },
        });
        let query = OneHotQuery::plan(res, name, plan, m, self.feed, |p| (p - 1) % m)?;
        let sigma = io.value_bound;
        let select_range = params.select_range(sigma, steps);
        let mut select = Circuit::new();
        let xs: Vec<Lin> = (slot_out.coords().enumerate())
            .map(|(d, c)| select.input(format!("slot{d}"), c, 0.0, select_range))
            .collect();
        for (r, q) in query.blocks.iter().enumerate() {
            let flags: Vec<Lin> = (q.coords().enumerate())
                .map(|(d, c)| select.input(format!("query{r}[{d}]"), c, 0.0, 1.0))
                .collect();
            let read = select_sum(&mut select, &format!("{name}.select{r}"), &xs, &flags);
            select.sink(format!("{name}.read{r}"), io.read.at(r), read)?;
        }
        self.planned = Some(Planned {
            io: io.clone(),
            params,
            steps,
            write,
            frozen,
            slot_out,
            query,
            select,
        });
        Ok(())
    }

    fn circuits(&self) -> Vec<&Circuit> {
        let p = self.planned();
        p.query.decode.iter().chain([&p.select]).collect()
    }

    fn layers(&self, width: usize, unit: &ReluUnit<S>) -> Result<Vec<Layer<S>>> {
        let p = self.planned();
        let prec = unit.lambda.precision();
        let mut layers = vec![Layer::Ssm(self.ssm::<S>(width, prec))];
        layers.extend(p.query.layers(width, unit, &self.name)?);
        for l in p
            .select
            .build_layers(width, &[], unit, &format!("{}.select", self.name))?
        {
            layers.push(Layer::Mlp(l));
        }
        Ok(layers)
    }

    fn error_bound(&self, act: Activation, lambda: f64) -> f64 {
        let p = self.planned();
        let eq = p.query.entry_error(act, lambda);
        let unit = match act {
            Activation::Relu => ReluUnit::<f64>::exact(53),
            a => match ReluUnit::new(a, lambda) {
                Ok(u) => u,
                Err(_) => return f64::INFINITY,
            },
        };
        let (sigma, steps) = (p.io.value_bound, p.steps);
        read_bound(&p.params, sigma, steps, self.slots, eq, &unit).unwrap_or(f64::INFINITY)
    }

    fn certified_error_bound(&self, prec: u32) -> Result<Ball> {
        // Exact ReLU units: a decoded one-hot query is exact (e_q = 0).
        let p = self.planned();
        let unit = ReluUnit::<Ball>::exact(prec);
        read_bound(&p.params, p.io.value_bound, p.steps, self.slots, 0.0, &unit)
    }

    fn params(&self) -> (f64, f64) {
        let p = self.planned();
        (p.params.k, p.params.k0)
    }

    fn state(&self) -> usize {
        self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_for_accuracy_meet_the_accuracy_and_a_smaller_k0_does_not() {
        for (sigma, steps, eps) in [(15.0, 64, 0.25), (9.0, 12, 0.0625), (1.0, 1, 0.5)] {
            let p = SlotParams::for_accuracy(sigma, steps, eps).unwrap();
            let b = p.error_bound(sigma, steps);
            assert!(b < eps, "{sigma} {steps} {eps}: {b}");
            assert!(p.content_bound(sigma) <= sigma + eps / 2.0);
            let leaky = SlotParams {
                k0: p.k0 - 3.0,
                ..p.clone()
            };
            assert!(leaky.error_bound(sigma, steps) > eps);
        }
        assert!(SlotParams::for_accuracy(-1.0, 3, 0.1).is_err());
        assert!(SlotParams::for_accuracy(1.0, 3, f64::NAN).is_err());
    }

    /// The recurrence itself (one slot, exact arithmetic in f64): worst |slot − v| over random
    /// write/keep sequences stays within the bound, and the content within `[0, H]`.
    #[test]
    fn the_slot_recurrence_stays_within_its_bound() {
        let (sigma, steps) = (7.0, 20);
        let p = SlotParams::for_accuracy(sigma, steps, 0.25).unwrap();
        let (db, ds) = (p.delta_big(), p.delta_small());
        let mut rng = crate::rng::Rng::new(5);
        let (mut h, mut worst, mut hmax) = (0.0f64, 0.0f64, 0.0f64);
        for _ in 0..200 {
            let v = rng.below(8) as f64;
            h = (-db).exp() * h + v; // write
            for _ in 0..steps {
                let u = rng.below(8) as f64;
                h = (-ds).exp() * h + ds / db * u;
                hmax = hmax.max(h);
            }
            worst = worst.max((h - v).abs());
        }
        assert!(worst <= p.error_bound(sigma, steps), "{worst}");
        assert!(hmax <= p.content_bound(sigma));
        assert!(
            worst > p.error_bound(sigma, steps) / 100.0,
            "bound far from attained"
        );
    }
}
