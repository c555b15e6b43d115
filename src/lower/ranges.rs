//! Residual ranges over every input: interval propagation through a model, for all token
//! sequences of length ≤ T (or the stored input vectors of a block). The lowering takes its shift
//! `K` and its norm `eps` from these bounds, never from one prompt's run.

use crate::model::{Activation, Layer, Model, PosKind, SparseMatrix};

/// A closed interval `[lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    pub const ZERO: Interval = Interval { lo: 0.0, hi: 0.0 };
    pub fn point(x: f64) -> Self {
        Interval { lo: x, hi: x }
    }
    pub fn hull(self, o: Interval) -> Self {
        Interval {
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
        }
    }
    pub fn plus(self, o: Interval) -> Self {
        Interval {
            lo: self.lo + o.lo,
            hi: self.hi + o.hi,
        }
    }
    pub fn scale(self, w: f64) -> Self {
        if w >= 0.0 {
            Interval {
                lo: w * self.lo,
                hi: w * self.hi,
            }
        } else {
            Interval {
                lo: w * self.hi,
                hi: w * self.lo,
            }
        }
    }
    pub fn times(self, o: Interval) -> Self {
        let p = [
            self.lo * o.lo,
            self.lo * o.hi,
            self.hi * o.lo,
            self.hi * o.hi,
        ];
        Interval {
            lo: p.iter().copied().fold(f64::INFINITY, f64::min),
            hi: p.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
    pub fn mag(self) -> f64 {
        self.lo.abs().max(self.hi.abs())
    }
    /// Widened by a relative and absolute margin (covers f64 rounding in the propagation).
    fn widen(self) -> Self {
        let m = 1e-9 * self.mag() + 1e-12;
        Interval {
            lo: self.lo - m,
            hi: self.hi + m,
        }
    }
}

/// Range of a monotone-then-convex activation over an interval.
pub fn activation_range(act: Activation, x: Interval) -> Interval {
    let f = |v: f64| match act {
        Activation::Relu => v.max(0.0),
        Activation::Silu => v / (1.0 + (-v).exp()),
        Activation::Gelu => 0.5 * v * libm::erfc(-v / std::f64::consts::SQRT_2),
    };
    // Location and value of the global minimum (relu: at 0).
    let (at, min) = match act {
        Activation::Relu => (0.0, 0.0),
        Activation::Silu => (-1.278_464_542_761_074, -0.278_464_542_761_074),
        Activation::Gelu => (-0.751_791_524_693_564_5, -0.169_971_085_744_084_5),
    };
    let (a, b) = (f(x.lo), f(x.hi));
    let lo = if x.lo < at && at < x.hi {
        min
    } else {
        a.min(b)
    };
    Interval { lo, hi: a.max(b) }.widen()
}

/// `M·x + b` over intervals.
fn affine(m: &SparseMatrix<f64>, x: &[Interval], bias: Option<&[f64]>) -> Vec<Interval> {
    (0..m.rows)
        .map(|r| {
            let mut acc = Interval::point(bias.map_or(0.0, |b| b[r]));
            for (c, w) in m.row(r) {
                acc = acc.plus(x[c].scale(*w));
            }
            acc.widen()
        })
        .collect()
}

fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// Range of each positional feature's value over `t = 1..=t_max`.
fn feature_range(k: &PosKind, t_max: usize) -> Interval {
    match k {
        PosKind::Constant { num, den } => Interval::point(*num as f64 / *den as f64),
        PosKind::Position => Interval {
            lo: 1.0,
            hi: t_max as f64,
        },
        PosKind::PositionSquared => Interval {
            lo: 1.0,
            hi: (t_max * t_max) as f64,
        },
        PosKind::Equals { .. } | PosKind::AtLeast { .. } | PosKind::Modulo { .. } => {
            Interval { lo: 0.0, hi: 1.0 }
        }
        PosKind::Table { values } => values
            .iter()
            .take(t_max)
            .fold(Interval::ZERO, |a, &v| a.hull(Interval::point(v as f64))),
    }
}

/// The residual's range at the input of every layer and after the last one, over all inputs:
/// any token sequence of length ≤ `t_max` (token models) or the given input vectors (blocks).
pub fn residual_ranges(
    m: &Model<f64>,
    t_max: usize,
    vectors: Option<&[Vec<f64>]>,
) -> Vec<Vec<Interval>> {
    let w = m.layout.width();
    let mut x = vec![Interval::ZERO; w];
    match vectors {
        Some(vs) => {
            for (i, xi) in x.iter_mut().enumerate() {
                *xi = vs.iter().fold(Interval::point(vs[0][i]), |a, v| {
                    a.hull(Interval::point(v[i]))
                });
            }
        }
        None => {
            for tok in 0..m.vocab.len() {
                let mut row = vec![0.0; w];
                for (c, v) in m.token_embedding.row(tok) {
                    row[c] = *v;
                }
                for (i, v) in row.into_iter().enumerate() {
                    x[i] = if tok == 0 {
                        Interval::point(v)
                    } else {
                        x[i].hull(Interval::point(v))
                    };
                }
            }
        }
    }
    for f in &m.positional {
        x[f.coord] = x[f.coord].plus(feature_range(&f.kind, t_max));
    }
    let mut out = vec![x.clone()];
    let t = t_max as f64;
    for layer in &m.layers {
        match layer {
            Layer::Mlp(l) => {
                let pre = affine(&l.w1, &x, Some(&l.b1));
                let h: Vec<Interval> = pre
                    .into_iter()
                    .map(|v| activation_range(l.act, v))
                    .collect();
                let add = affine(&l.w2, &h, Some(&l.b2));
                for (xi, a) in x.iter_mut().zip(add) {
                    *xi = xi.plus(a);
                }
            }
            Layer::Ssm(l) => {
                let dpre = affine(&l.w_delta, &x, Some(&l.b_delta));
                let b = affine(&l.w_b, &x, None);
                let c = affine(&l.w_c, &x, None);
                let u = affine(&l.w_u, &x, None);
                let mut y = Vec::with_capacity(l.channels);
                for d in 0..l.channels {
                    let (dlo, dhi) = (softplus(dpre[d].lo), softplus(dpre[d].hi));
                    let mut acc = u[d].scale(l.d_skip[d]);
                    for n in 0..l.state {
                        let a = l.a[d * l.state + n];
                        let decay_sum = if a < 0.0 {
                            (1.0 / -(dlo * a).exp_m1()).min(t)
                        } else {
                            t
                        };
                        let h = dhi * b[n].mag() * u[d].mag() * decay_sum;
                        acc = acc.plus(c[n].times(Interval { lo: -h, hi: h }));
                    }
                    y.push(acc.widen());
                }
                if let Some(g) = &l.gate {
                    let z = affine(&g.w_z, &x, Some(&g.b_z));
                    for (yd, zd) in y.iter_mut().zip(z) {
                        *yd = yd.times(activation_range(Activation::Silu, zd));
                    }
                }
                let add = affine(&l.w_o, &y, None);
                for (xi, a) in x.iter_mut().zip(add) {
                    *xi = xi.plus(a);
                }
            }
            Layer::Attention(l) => {
                let mut add = vec![Interval::ZERO; w];
                for h in &l.heads {
                    let v = affine(&h.w_v, &x, None);
                    for (xi, a) in add.iter_mut().zip(affine(&h.w_o, &v, None)) {
                        *xi = xi.plus(a);
                    }
                }
                for (xi, a) in x.iter_mut().zip(add) {
                    *xi = xi.plus(a);
                }
            }
        }
        out.push(x.clone());
    }
    out
}
