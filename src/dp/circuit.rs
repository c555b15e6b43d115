//! Integer ReLU circuits: the transition, rounding, selection and gating gadgets of the DP
//! compiler, written as named ReLU units over named inputs, then laid out as MLP layers
//! (one layer per depth level). On integer inputs every gadget here is exact with ReLU
//! (the `mlp-lookup` / `mlp-select` constructions of proofs/README.md); with GeLU/SiLU each unit
//! becomes `φ(λz)/λ`.
//!
//! Weights are dyadic rationals (exact in f64 and at every MPFR precision ≥ 8 bits for the
//! small magnitudes used), so the same circuit is evaluated exactly in f64 by [`Circuit::eval`].

use crate::error::{Error, Result};
use crate::model::{Activation, MlpBuilder, MlpLayer};
use crate::num::Scalar;

/// A source of a value: a circuit input (a residual coordinate) or a ReLU unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    In(usize),
    Unit(usize),
}

/// An affine form `Σ w·src + bias`.
#[derive(Clone, Debug, Default)]
pub struct Lin {
    pub terms: Vec<(Src, f64)>,
    pub bias: f64,
}

impl Lin {
    pub fn src(s: Src) -> Lin {
        Lin {
            terms: vec![(s, 1.0)],
            bias: 0.0,
        }
    }
    pub fn constant(c: f64) -> Lin {
        Lin {
            terms: Vec::new(),
            bias: c,
        }
    }
    /// `self + k·other`.
    pub fn add_scaled(&self, other: &Lin, k: f64) -> Lin {
        let mut terms = self.terms.clone();
        for &(s, w) in &other.terms {
            if let Some(t) = terms.iter_mut().find(|t| t.0 == s) {
                t.1 += k * w;
            } else {
                terms.push((s, k * w));
            }
        }
        terms.retain(|t| t.1 != 0.0);
        Lin {
            terms,
            bias: self.bias + k * other.bias,
        }
    }
    pub fn plus(&self, other: &Lin) -> Lin {
        self.add_scaled(other, 1.0)
    }
    pub fn minus(&self, other: &Lin) -> Lin {
        self.add_scaled(other, -1.0)
    }
    pub fn scale(&self, k: f64) -> Lin {
        Lin::default().add_scaled(self, k)
    }
    pub fn offset(&self, c: f64) -> Lin {
        let mut l = self.clone();
        l.bias += c;
        l
    }
}

#[derive(Clone, Debug)]
pub struct CircuitInput {
    pub name: String,
    /// Residual coordinate the input is read from (unused by [`Circuit::eval`]).
    pub coord: usize,
    pub lo: f64,
    pub hi: f64,
}

#[derive(Clone, Debug)]
pub struct Unit {
    pub name: String,
    pub pre: Lin,
    pub level: usize,
    /// Interval of the output `ReLU(pre)` over all admissible inputs.
    pub lo: f64,
    pub hi: f64,
}

/// A named output: the affine form (over units only) is written into residual coordinate `coord`.
#[derive(Clone, Debug)]
pub struct Sink {
    pub name: String,
    pub coord: usize,
    pub lin: Lin,
}

#[derive(Clone, Debug, Default)]
pub struct Circuit {
    pub inputs: Vec<CircuitInput>,
    pub units: Vec<Unit>,
    pub sinks: Vec<Sink>,
}

impl Circuit {
    pub fn new() -> Self {
        Self::default()
    }

    /// A circuit input taking values in `[lo, hi]`, read from residual coordinate `coord`.
    pub fn input(&mut self, name: impl Into<String>, coord: usize, lo: f64, hi: f64) -> Lin {
        self.inputs.push(CircuitInput {
            name: name.into(),
            coord,
            lo,
            hi,
        });
        Lin::src(Src::In(self.inputs.len() - 1))
    }

    /// Interval of an affine form (interval arithmetic over the inputs' and units' ranges).
    pub fn range(&self, l: &Lin) -> (f64, f64) {
        let (mut lo, mut hi) = (l.bias, l.bias);
        for &(s, w) in &l.terms {
            let (a, b) = match s {
                Src::In(i) => (self.inputs[i].lo, self.inputs[i].hi),
                Src::Unit(u) => (self.units[u].lo, self.units[u].hi),
            };
            if w >= 0.0 {
                lo += w * a;
                hi += w * b;
            } else {
                lo += w * b;
                hi += w * a;
            }
        }
        (lo, hi)
    }

    pub fn level(&self, l: &Lin) -> usize {
        l.terms
            .iter()
            .map(|&(s, _)| match s {
                Src::In(_) => 0,
                Src::Unit(u) => self.units[u].level,
            })
            .max()
            .unwrap_or(0)
    }

    /// A ReLU unit `ReLU(pre)`.
    pub fn relu(&mut self, name: impl Into<String>, pre: Lin) -> Lin {
        let (lo, hi) = self.range(&pre);
        let level = self.level(&pre) + 1;
        self.units.push(Unit {
            name: name.into(),
            pre,
            level,
            lo: lo.max(0.0),
            hi: hi.max(0.0),
        });
        Lin::src(Src::Unit(self.units.len() - 1))
    }

    /// `min(a, b) = a − ReLU(a − b)`.
    pub fn min(&mut self, name: &str, a: &Lin, b: &Lin) -> Lin {
        let r = self.relu(format!("{name}.a-b"), a.minus(b));
        a.minus(&r)
    }

    /// `max(a, b) = a + ReLU(b − a)`.
    pub fn max(&mut self, name: &str, a: &Lin, b: &Lin) -> Lin {
        let r = self.relu(format!("{name}.b-a"), b.minus(a));
        a.plus(&r)
    }

    /// `1[x ≥ 0]` for integer `x`: `ReLU(x + 1) − ReLU(x)`.
    pub fn step(&mut self, name: &str, x: &Lin) -> Lin {
        let a = self.relu(format!("{name}.x+1"), x.offset(1.0));
        let b = self.relu(format!("{name}.x"), x.clone());
        a.minus(&b)
    }

    /// `1[a > b]` for integers.
    pub fn greater(&mut self, name: &str, a: &Lin, b: &Lin) -> Lin {
        self.step(name, &a.minus(b).offset(-1.0))
    }

    /// `1[a ≠ b]` for integers: `min(1, |a − b|)` as four units of one level.
    pub fn not_equal(&mut self, name: &str, a: &Lin, b: &Lin) -> Lin {
        let up = self.greater(&format!("{name}.gt"), a, b);
        let down = self.greater(&format!("{name}.lt"), b, a);
        up.plus(&down)
    }

    /// `1[x = c]` for integer `x` (the `mlp-lookup` hat): `ReLU(x−c+1) − 2ReLU(x−c) + ReLU(x−c−1)`.
    pub fn equals(&mut self, name: &str, x: &Lin, c: f64) -> Lin {
        let a = self.relu(format!("{name}.+1"), x.offset(1.0 - c));
        let b = self.relu(format!("{name}.0"), x.offset(-c));
        let d = self.relu(format!("{name}.-1"), x.offset(-1.0 - c));
        a.add_scaled(&b, -2.0).plus(&d)
    }

    /// `[1[x = lo], …, 1[x = hi]]` for integer `x`, sharing the units `ReLU(x − j)`,
    /// `j = lo−1..=hi+1`: `1[x = k] = u_{k−1} − 2u_k + u_{k+1}` (hi − lo + 3 units).
    pub fn one_hot(&mut self, name: &str, x: &Lin, lo: i64, hi: i64) -> Vec<Lin> {
        let u: Vec<Lin> = (lo - 1..=hi + 1)
            .map(|j| self.relu(format!("{name}.x-{j}"), x.offset(-j as f64)))
            .collect();
        (0..=(hi - lo) as usize)
            .map(|k| u[k].add_scaled(&u[k + 1], -2.0).plus(&u[k + 2]))
            .collect()
    }

    /// `x mod q` for an integer `x ≥ 0` in the form's range: `x − q·Σ_j 1[x ≥ jq]`.
    pub fn modulo(&mut self, name: &str, x: &Lin, q: i64) -> Lin {
        let (_, hi) = self.range(x);
        let mut out = x.clone();
        let mut j = 1;
        while (j * q) as f64 <= hi {
            let s = self.step(&format!("{name}.ge{}", j * q), &x.offset(-(j * q) as f64));
            out = out.add_scaled(&s, -(q as f64));
            j += 1;
        }
        out
    }

    /// `flag·x` for a 0/1 flag and `x` in the form's range (the `mlp-select` gadget):
    /// `ReLU(x + G·flag − G) − ReLU(−x + G·flag − G)` with `G ≥ max |x|`.
    pub fn gate(&mut self, name: &str, x: &Lin, flag: &Lin) -> Lin {
        let (lo, hi) = self.range(x);
        let g = lo.abs().max(hi.abs()).ceil().max(1.0);
        let pos = self.relu(format!("{name}.pos"), x.add_scaled(flag, g).offset(-g));
        if lo >= 0.0 {
            return pos;
        }
        let neg = self.relu(
            format!("{name}.neg"),
            x.scale(-1.0).add_scaled(flag, g).offset(-g),
        );
        pos.minus(&neg)
    }

    /// Round `x` to the nearest integer in `[lo, hi]`, exact whenever `x` is within 1/4 of one:
    /// `lo + Σ_{c=lo+1}^{hi} [ReLU(2(x−c) + 3/2) − ReLU(2(x−c) + 1/2)]`.
    pub fn round(&mut self, name: &str, x: &Lin, lo: i64, hi: i64) -> Lin {
        let mut out = Lin::constant(lo as f64);
        for c in lo + 1..=hi {
            let base = x.scale(2.0).offset(-2.0 * c as f64);
            let a = self.relu(format!("{name}.ge{c}.a"), base.offset(1.5));
            let b = self.relu(format!("{name}.ge{c}.b"), base.offset(0.5));
            out = out.plus(&a).minus(&b);
        }
        out
    }

    /// Write `lin` (over units only) into residual coordinate `coord`.
    pub fn sink(&mut self, name: impl Into<String>, coord: usize, lin: Lin) -> Result<()> {
        if lin.terms.iter().any(|t| matches!(t.0, Src::In(_))) {
            return Err(Error::compute(
                "a circuit output must be a combination of units, not of raw inputs",
            ));
        }
        self.sinks.push(Sink {
            name: name.into(),
            coord,
            lin,
        });
        Ok(())
    }

    pub fn depth(&self) -> usize {
        self.units.iter().map(|u| u.level).max().unwrap_or(0)
    }

    /// Exact evaluation in f64 (ReLU): values of the given affine forms at integer inputs.
    pub fn eval(&self, inputs: &[f64], outputs: &[Lin]) -> Vec<f64> {
        let mut vals = vec![0.0; self.units.len()];
        let lin = |l: &Lin, vals: &[f64]| -> f64 {
            l.terms
                .iter()
                .map(|&(s, w)| {
                    w * match s {
                        Src::In(i) => inputs[i],
                        Src::Unit(u) => vals[u],
                    }
                })
                .sum::<f64>()
                + l.bias
        };
        // units are created after the units they read, so index order is a topological order
        for u in 0..self.units.len() {
            vals[u] = lin(&self.units[u].pre, &vals).max(0.0);
        }
        outputs.iter().map(|o| lin(o, &vals)).collect()
    }

    /// Every unit's weights are integers and its bias a multiple of 1/2: on integer inputs every
    /// pre-activation is then in ½ℤ (0, or at least 1/2 away from 0).
    pub fn half_integral(&self) -> bool {
        self.units.iter().all(|u| {
            u.pre.terms.iter().all(|t| t.1.fract() == 0.0) && (2.0 * u.pre.bias).fract() == 0.0
        })
    }

    /// Forward error bound, in exact arithmetic, when every unit is `φ(λz)/λ` instead of
    /// `ReLU(z)` and input `i` is off by at most `input_err[i]`. Requires
    /// [`Self::half_integral`], so that the exact pre-activations lie in ½ℤ.
    /// - ReLU is 1-Lipschitz: `e_unit ≤ e_pre = Σ|w|·e_src`.
    /// - Smooth: `e_unit ≤ δ(3/8) + 1.5·e_pre` while `e_pre ≤ 1/8` (`|ẑ| ≥ 3/8` when z ≠ 0,
    ///   and `|φ(λẑ)/λ − ReLU(ẑ)| ≤ |ẑ|/2` when z = 0).
    ///
    /// Returns the bound for every sink, or `None` when some `e_pre > 1/8` or δ's formula does
    /// not apply.
    pub fn sink_error_bounds(
        &self,
        input_err: &[f64],
        act: Activation,
        lambda: f64,
    ) -> Option<Vec<f64>> {
        let delta = super::compiler::act_error_beyond(act, lambda, 0.375);
        if !delta.is_finite() || !self.half_integral() {
            return None;
        }
        let mut e = vec![0.0; self.units.len()];
        let lin_err = |l: &Lin, e: &[f64]| -> f64 {
            l.terms
                .iter()
                .map(|&(s, w)| {
                    w.abs()
                        * match s {
                            Src::In(i) => input_err[i],
                            Src::Unit(u) => e[u],
                        }
                })
                .sum()
        };
        for u in 0..self.units.len() {
            let pre = lin_err(&self.units[u].pre, &e);
            e[u] = if act == Activation::Relu {
                pre
            } else {
                if pre > 0.125 {
                    return None;
                }
                delta + 1.5 * pre
            };
        }
        Some(self.sinks.iter().map(|s| lin_err(&s.lin, &e)).collect())
    }

    /// Units read by a later unit: they need their own residual coordinate.
    pub fn units_needing_coords(&self) -> Vec<bool> {
        let mut need = vec![false; self.units.len()];
        for u in &self.units {
            for &(s, _) in &u.pre.terms {
                if let Src::Unit(v) = s {
                    need[v] = true;
                }
            }
        }
        need
    }

    /// Lay the circuit out as MLP layers (one per level) on a residual stream of `width`.
    /// `unit_coord[u]` is the residual coordinate of unit `u` (if it needs one).
    /// With a smooth activation every unit is `φ(λ·pre)/λ`.
    pub fn build_layers<S: Scalar>(
        &self,
        width: usize,
        unit_coord: &[Option<usize>],
        act: Activation,
        lambda: f64,
        prec: u32,
        name: &str,
    ) -> Vec<MlpLayer<S>> {
        let lam = S::from_f64(if act == Activation::Relu { 1.0 } else { lambda }, prec);
        let inv = S::one(prec).div(&lam);
        let coord_of = |s: Src| match s {
            Src::In(i) => self.inputs[i].coord,
            Src::Unit(u) => unit_coord[u].expect("unit read by a later unit has a coordinate"),
        };
        let mut sink_writes: Vec<Vec<(usize, f64)>> = vec![Vec::new(); self.units.len()];
        for s in &self.sinks {
            for &(src, w) in &s.lin.terms {
                if let Src::Unit(u) = src {
                    sink_writes[u].push((s.coord, w));
                }
            }
        }
        let depth = self.depth();
        let mut layers = Vec::with_capacity(depth);
        for level in 1..=depth {
            let mut b = MlpBuilder::<S>::new(width, prec);
            for (u, unit) in self.units.iter().enumerate() {
                if unit.level != level {
                    continue;
                }
                let ins = unit
                    .pre
                    .terms
                    .iter()
                    .map(|&(s, w)| (coord_of(s), S::from_f64(w, prec).mul(&lam)))
                    .collect();
                let h = b.unit(
                    unit.name.clone(),
                    ins,
                    S::from_f64(unit.pre.bias, prec).mul(&lam),
                );
                if let Some(c) = unit_coord[u] {
                    b.write(h, c, inv.clone());
                }
                for &(c, w) in &sink_writes[u] {
                    b.write(h, c, S::from_f64(w, prec).mul(&inv));
                }
            }
            if level == depth {
                for s in &self.sinks {
                    if s.lin.bias != 0.0 {
                        b.write_bias(s.coord, S::from_f64(s.lin.bias, prec));
                    }
                }
            }
            layers.push(b.build(format!("{name}.level{level}"), act));
        }
        layers
    }
}
