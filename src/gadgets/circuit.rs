//! The composition layer of the gadgets: integer ReLU circuits written as named ReLU units over
//! named inputs (typed residual coordinates), laid out as MLP layers (one per depth level), with
//! forward error propagation. Every gadget (select/gate, indicator/one-hot/table, round,
//! step/compare/min/max, relu) is a function adding units to a [`Circuit`]; the lemma claims build
//! their standalone layers from the same functions ([`Circuit::emit`]), the DP compiler and the
//! COPY models lay the same circuits out with [`Circuit::build_layers`].
//!
//! Units are realised by a [`ReluUnit`]: exact `ReLU` or `φ(λz)/λ` (GeLU/SiLU, `mlp-relu`).
//! Weights are f64 dyadic rationals (exact in f64 and at every MPFR precision ≥ 8 bits for the
//! small magnitudes used), so the same circuit is evaluated exactly in f64 by [`Circuit::eval`].

use super::relu::{error_beyond_f64, ReluUnit};
use crate::error::{Error, Result};
use crate::model::{Activation, Coord, Layout, MlpBuilder, MlpLayer};
use crate::num::Scalar;

/// A source of a value: a circuit input or a ReLU unit.
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
    /// The form `0` (no term, no constant).
    pub fn is_zero(&self) -> bool {
        self.terms.is_empty() && self.bias == 0.0
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
    /// Residual coordinate the input is read from (`None`: only evaluated by [`Circuit::eval`]).
    pub coord: Option<Coord>,
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
    pub coord: Coord,
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
    pub fn input(&mut self, name: impl Into<String>, coord: Coord, lo: f64, hi: f64) -> Lin {
        self.push_input(name.into(), Some(coord), lo, hi)
    }

    /// An input with no residual coordinate (for [`Circuit::eval`] only).
    pub fn free_input(&mut self, name: impl Into<String>, lo: f64, hi: f64) -> Lin {
        self.push_input(name.into(), None, lo, hi)
    }

    fn push_input(&mut self, name: String, coord: Option<Coord>, lo: f64, hi: f64) -> Lin {
        self.inputs.push(CircuitInput {
            name,
            coord,
            lo,
            hi,
        });
        Lin::src(Src::In(self.inputs.len() - 1))
    }

    /// The input forms whose name starts with `prefix` (their indices into `inputs`).
    pub fn inputs_named(&self, prefix: &str) -> Vec<usize> {
        (0..self.inputs.len())
            .filter(|&i| self.inputs[i].name.starts_with(prefix))
            .collect()
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

    /// Write `lin` (over units only) into residual coordinate `coord`.
    pub fn sink(&mut self, name: impl Into<String>, coord: Coord, lin: Lin) -> Result<()> {
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
        let delta = error_beyond_f64(act, lambda, 0.375);
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

    /// Give every unit that a later unit reads its own residual coordinate, named
    /// `{name}:{unit}#{index}`.
    pub fn place(&self, lay: &mut Layout, name: &str) -> Vec<Option<Coord>> {
        self.units_needing_coords()
            .iter()
            .enumerate()
            .map(|(u, &need)| {
                need.then(|| {
                    lay.coord(
                        &format!("{name}:{}#{u}", self.units[u].name),
                        "hidden unit kept for a later layer",
                    )
                })
            })
            .collect()
    }

    /// Add the units of depth `level` to `b`, realised by `unit`; `unit_coord[u]` is where unit
    /// `u` is kept for later levels (if it needs a coordinate). Sinks read at this level are
    /// written, and the sinks' constants are added at the last level.
    fn emit_level<S: Scalar>(
        &self,
        b: &mut MlpBuilder<S>,
        level: usize,
        unit_coord: &[Option<Coord>],
        unit: &ReluUnit<S>,
    ) -> Result<Vec<usize>> {
        let prec = b.prec();
        let one = S::one(prec);
        let coord_of = |s: Src| -> Result<usize> {
            match s {
                Src::In(i) => self.inputs[i].coord.map(Coord::index).ok_or_else(|| {
                    Error::compute(format!(
                        "circuit input `{}` has no residual coordinate",
                        self.inputs[i].name
                    ))
                }),
                Src::Unit(u) => unit_coord
                    .get(u)
                    .copied()
                    .flatten()
                    .map(Coord::index)
                    .ok_or_else(|| {
                        Error::compute(format!(
                            "unit `{}` is read by a later unit but has no coordinate",
                            self.units[u].name
                        ))
                    }),
            }
        };
        let mut made = Vec::new();
        for (u, un) in self.units.iter().enumerate() {
            if un.level != level {
                continue;
            }
            let ins = un
                .pre
                .terms
                .iter()
                .map(|&(s, w)| Ok((coord_of(s)?, S::from_f64(w, prec))))
                .collect::<Result<Vec<_>>>()?;
            let h = unit.unit(b, un.name.clone(), ins, S::from_f64(un.pre.bias, prec));
            if let Some(c) = unit_coord.get(u).copied().flatten() {
                unit.write(b, h, c.index(), &one);
            }
            for s in &self.sinks {
                for &(src, w) in &s.lin.terms {
                    if src == Src::Unit(u) {
                        unit.write(b, h, s.coord.index(), &S::from_f64(w, prec));
                    }
                }
            }
            made.push(h);
        }
        if level == self.depth() {
            for s in &self.sinks {
                if s.lin.bias != 0.0 {
                    b.write_bias(s.coord.index(), S::from_f64(s.lin.bias, prec));
                }
            }
        }
        Ok(made)
    }

    /// Add a circuit of depth ≤ 1 to an MLP layer being built (so gadgets compose side by side in
    /// one layer); returns the builder's unit indices, in the circuit's unit order.
    pub fn emit<S: Scalar>(&self, b: &mut MlpBuilder<S>, unit: &ReluUnit<S>) -> Result<Vec<usize>> {
        if self.depth() > 1 {
            return Err(Error::compute(format!(
                "a circuit of depth {} does not fit one MLP layer",
                self.depth()
            )));
        }
        for i in &self.inputs {
            if let Some(c) = i.coord {
                super::check_coords(b, &i.name, &[c.index()])?;
            }
        }
        for s in &self.sinks {
            super::check_coords(b, &s.name, &[s.coord.index()])?;
        }
        self.emit_level(b, 1, &[], unit)
    }

    /// Lay the circuit out as MLP layers (one per level) on a residual stream of `width`.
    /// `unit_coord[u]` is the residual coordinate of unit `u` (if it needs one, see [`Self::place`];
    /// a depth-1 circuit needs none: pass `&[]`).
    pub fn build_layers<S: Scalar>(
        &self,
        width: usize,
        unit_coord: &[Option<Coord>],
        unit: &ReluUnit<S>,
        name: &str,
    ) -> Result<Vec<MlpLayer<S>>> {
        let prec = unit.lambda.precision();
        (1..=self.depth())
            .map(|level| {
                let mut b = MlpBuilder::<S>::new(width, prec);
                self.emit_level(&mut b, level, unit_coord, unit)?;
                Ok(b.build(format!("{name}.level{level}"), unit.act))
            })
            .collect()
    }

    /// Sum of |output weights| of a sink's unit terms (the `l1` of the lookup bound).
    pub fn sink_weight_l1(&self, sink: usize) -> f64 {
        self.sinks[sink].lin.terms.iter().map(|t| t.1.abs()).sum()
    }
}

/// Check that `v` is exactly an f64 (circuit weights are f64); returns it. The check is on
/// values: `v − f` must be exactly zero, which for a ball also needs a zero radius (a ball
/// whose midpoint is an f64 but whose radius is not zero is not an exact weight).
pub fn exact_f64<S: Scalar>(what: &str, v: &S) -> Result<f64> {
    let f = v.to_f64();
    if !f.is_finite() {
        return Err(Error::input(format!(
            "{what} must be a finite number (got {f})"
        )));
    }
    let p = v.precision();
    let back = S::from_f64(f, p);
    if v.sub(&back).is_zero() {
        return Ok(f);
    }
    let cause = if v.to_real().0 == back.to_real().0 {
        format!("at {p} bits it is only known as an enclosure of nonzero width around {f}")
    } else {
        format!("it has more significant bits than an f64 holds (nearest f64 {f})")
    };
    Err(Error::compute(format!(
        "{what} must be an exact f64 value to be a circuit weight, but {cause}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_f64_checks_values_and_names_the_cause() {
        use crate::num::{Ball, Real};
        assert_eq!(exact_f64("w", &Ball::from_f64(6144.0, 2)).unwrap(), 6144.0);
        assert_eq!(exact_f64("w", &0.1f64).unwrap(), 0.1);
        // 2-bit ball arithmetic: the quotient has a nonzero radius, so it is not a weight
        let third = Ball::from_f64(1.0, 2).div(&Ball::from_f64(3.0, 2));
        let e = exact_f64("the gain", &third).unwrap_err();
        assert!(matches!(e, Error::Compute(_)));
        assert!(e.to_string().contains("enclosure of nonzero width"), "{e}");
        let third = Real::from_f64(1.0, 128).div(&Real::from_f64(3.0, 128));
        let e = exact_f64("the gain", &third).unwrap_err();
        assert!(e.to_string().contains("more significant bits"), "{e}");
        assert!(exact_f64("w", &f64::NAN).is_err());
    }
    use crate::gadgets::eval_mlp;

    /// `max(a, b)` then `1[max = 3]`: two levels, one hidden unit kept in the residual stream.
    fn two_level() -> (Circuit, Layout, Coord) {
        let mut lay = Layout::new();
        let a = lay.coord("a", "");
        let b = lay.coord("b", "");
        let out = lay.coord("out", "");
        let mut c = Circuit::new();
        let x = c.input("a", a, 0.0, 5.0);
        let y = c.input("b", b, 0.0, 5.0);
        let m = c.max("m", &x, &y);
        let i = c.indicator("i", &m, 3);
        c.sink("out", out, i).unwrap();
        (c, lay, out)
    }

    #[test]
    fn layers_compute_what_eval_computes() {
        let (c, mut lay, out) = two_level();
        assert_eq!(c.depth(), 2);
        let coords = c.place(&mut lay, "t");
        assert_eq!(coords.iter().flatten().count(), 1);
        let unit = ReluUnit::<f64>::exact(53);
        let layers = c.build_layers(lay.width(), &coords, &unit, "t").unwrap();
        assert_eq!(layers.len(), 2);
        let sink = c.sinks[0].lin.clone();
        for a in 0..=5 {
            for b in 0..=5 {
                let mut x = vec![0.0; lay.width()];
                x[0] = a as f64;
                x[1] = b as f64;
                for l in &layers {
                    x = eval_mlp(l, &x, 53);
                }
                let want = c.eval(&[a as f64, b as f64], std::slice::from_ref(&sink))[0];
                assert_eq!(x[out.index()], want);
                assert_eq!(want, (a.max(b) == 3) as i64 as f64);
            }
        }
        // without coordinates for the kept unit the layout is refused, not guessed
        assert!(c.build_layers::<f64>(lay.width(), &[], &unit, "t").is_err());
        // and a two-level circuit does not fit one layer
        let mut b = MlpBuilder::<f64>::new(lay.width(), 53);
        assert!(c.emit(&mut b, &unit).is_err());
    }

    #[test]
    fn sinks_of_raw_inputs_are_refused() {
        let mut lay = Layout::new();
        let a = lay.coord("a", "");
        let mut c = Circuit::new();
        let x = c.input("a", a, 0.0, 1.0);
        assert!(c.sink("copy", a, x).is_err());
    }

    #[test]
    fn smooth_error_propagation_bounds_the_layers_and_refuses_large_input_errors() {
        let (c, mut lay, out) = two_level();
        let coords = c.place(&mut lay, "t");
        let lambda = 16.0;
        let bound = c
            .sink_error_bounds(&[0.01, 0.01], Activation::Gelu, lambda)
            .unwrap()[0];
        let unit = ReluUnit::<f64>::new(Activation::Gelu, lambda).unwrap();
        let layers = c.build_layers(lay.width(), &coords, &unit, "t").unwrap();
        let mut worst = 0.0f64;
        for a in 0..=5 {
            for b in 0..=5 {
                for (da, db) in [(0.01, -0.01), (-0.01, 0.01), (0.0, 0.0)] {
                    let mut x = vec![0.0; lay.width()];
                    x[0] = a as f64 + da;
                    x[1] = b as f64 + db;
                    for l in &layers {
                        x = eval_mlp(l, &x, 53);
                    }
                    let want = (a.max(b) == 3) as i64 as f64;
                    worst = worst.max((x[out.index()] - want).abs());
                }
            }
        }
        assert!(worst <= bound && worst > 0.0, "{worst} vs {bound}");
        // a pre-activation error above 1/8 voids the smooth analysis
        assert!(c
            .sink_error_bounds(&[0.2, 0.0], Activation::Gelu, lambda)
            .is_none());
    }
}
