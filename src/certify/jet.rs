//! `Jet<N>`: a value and its `N` partial derivatives, each a [`Ball`] (forward-mode automatic
//! differentiation in ball arithmetic). Running a gadget layer in `Jet<N>` on a box encloses the
//! gradient of the layer over the whole box; the branch-and-bound uses it for the mean-value
//! form `f(X) ⊂ f(c) + ∇f(X)·(X − c)`, which shrinks quadratically with the box (plain interval
//! evaluation shrinks only linearly and suffers from the cancellation inside the gadgets).
//!
//! Every rule is the chain rule with the derivative enclosed over the value's ball; at kinks
//! (`relu`, `abs`, `max`) the derivative is the hull of the one-sided ones (a Clarke
//! generalized gradient), which keeps the mean-value inclusion valid for Lipschitz functions.

use crate::num::{Ball, Mag, Real, Scalar};
use rug::Float;
use std::cmp::Ordering;

#[derive(Clone, Debug)]
pub struct Jet<const N: usize> {
    pub v: Ball,
    pub d: [Ball; N],
}

impl<const N: usize> PartialEq for Jet<N> {
    fn eq(&self, o: &Self) -> bool {
        self.v == o.v
    }
}

fn zeros<const N: usize>(prec: u32) -> [Ball; N] {
    std::array::from_fn(|_| Ball::zero(prec))
}

/// The smallest ball containing both.
fn hull(a: &Ball, b: &Ball) -> Ball {
    let (la, lb) = (a.lower(), b.lower());
    let (ua, ub) = (a.upper(), b.upper());
    let lo = if la < lb { la } else { lb };
    let hi = if ua > ub { ua } else { ub };
    Ball::from_endpoints(&lo, &hi, a.precision().max(b.precision()))
}

impl<const N: usize> Jet<N> {
    /// The variable `x_k` ranging over `value` (a ball covering the box's side `k`).
    pub fn variable(value: Ball, k: usize) -> Self {
        let p = value.precision();
        let mut d = zeros::<N>(p);
        d[k] = Ball::one(p);
        Jet { v: value, d }
    }
    /// A constant (all partials zero).
    pub fn from_ball(v: Ball) -> Self {
        let p = v.precision();
        Jet { v, d: zeros(p) }
    }
    /// `d_i <- d_i · f'` for every partial.
    fn scale(&mut self, fprime: &Ball) {
        for di in &mut self.d {
            di.mul_assign_s(fprime);
        }
    }
}

impl<const N: usize> Scalar for Jet<N> {
    const KIND: &'static str = "jet";
    /// A jet's partials are separate balls (one may be `−0` under a nonzero value): no
    /// operation is skipped.
    const SKIP_IDENTITIES: bool = false;

    fn precision(&self) -> u32 {
        self.v.precision()
    }
    fn ulp_of_one(prec: u32) -> f64 {
        Ball::ulp_of_one(prec)
    }
    fn effective_precision(prec: u32) -> u32 {
        prec
    }
    fn from_f64(x: f64, prec: u32) -> Self {
        Self::from_ball(Ball::from_f64(x, prec))
    }
    fn from_i64(x: i64, prec: u32) -> Self {
        Self::from_ball(Ball::from_i64(x, prec))
    }
    fn from_ratio(num: i64, den: i64, prec: u32) -> Self {
        Self::from_ball(Ball::from_ratio(num, den, prec))
    }
    fn from_real(x: &Real, prec: u32) -> Self {
        Self::from_ball(Ball::from_real(x, prec))
    }
    fn to_real(&self) -> Real {
        self.v.to_real()
    }
    fn to_f64(&self) -> f64 {
        self.v.to_f64()
    }
    fn pi(prec: u32) -> Self {
        Self::from_ball(Ball::pi(prec))
    }
    fn sqrt_half_pi(prec: u32) -> Self {
        Self::from_ball(Ball::sqrt_half_pi(prec))
    }
    fn set(&mut self, other: &Self) {
        self.clone_from(other);
    }
    fn set_f64(&mut self, x: f64) {
        self.v.set_f64(x);
        self.d.iter_mut().for_each(|d| d.set_i64(0));
    }
    fn set_i64(&mut self, x: i64) {
        self.v.set_i64(x);
        self.d.iter_mut().for_each(|d| d.set_i64(0));
    }
    fn add_assign_s(&mut self, o: &Self) {
        self.v.add_assign_s(&o.v);
        for (a, b) in self.d.iter_mut().zip(&o.d) {
            a.add_assign_s(b);
        }
    }
    fn sub_assign_s(&mut self, o: &Self) {
        self.v.sub_assign_s(&o.v);
        for (a, b) in self.d.iter_mut().zip(&o.d) {
            a.sub_assign_s(b);
        }
    }
    fn mul_assign_s(&mut self, o: &Self) {
        // (uv)' = u'v + uv'
        for (a, b) in self.d.iter_mut().zip(&o.d) {
            a.mul_assign_s(&o.v);
            a.mul_add_assign(&self.v, b);
        }
        self.v.mul_assign_s(&o.v);
    }
    fn div_assign_s(&mut self, o: &Self) {
        // (u/v)' = (u' − (u/v) v') / v
        self.v.div_assign_s(&o.v);
        for (a, b) in self.d.iter_mut().zip(&o.d) {
            let t = self.v.mul(b);
            a.sub_assign_s(&t);
            a.div_assign_s(&o.v);
        }
    }
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        for (s, (da, db)) in self.d.iter_mut().zip(a.d.iter().zip(&b.d)) {
            s.mul_add_assign(da, &b.v);
            s.mul_add_assign(&a.v, db);
        }
        self.v.mul_add_assign(&a.v, &b.v);
    }
    fn mul_add_mul_assign(&mut self, a: &Self, b: &Self, c: &Self) {
        let old = self.v.clone();
        for (k, s) in self.d.iter_mut().enumerate() {
            s.mul_assign_s(&a.v);
            s.mul_add_assign(&old, &a.d[k]);
            s.mul_add_assign(&b.d[k], &c.v);
            s.mul_add_assign(&b.v, &c.d[k]);
        }
        self.v.mul_add_mul_assign(&a.v, &b.v, &c.v);
    }
    fn neg_mut(&mut self) {
        self.v.neg_mut();
        self.d.iter_mut().for_each(|d| d.neg_mut());
    }
    fn abs_mut(&mut self) {
        if self.v.certainly_nonnegative() {
            return;
        }
        if self.v.upper() <= 0 {
            self.neg_mut();
            return;
        }
        // sign ∈ [−1, 1]: each partial becomes the ball 0 ± |d|.
        self.v.abs_mut();
        for d in &mut self.d {
            let m = d.mag_up();
            *d = Ball::with_radius(&Float::new(d.precision()), m, d.precision());
        }
    }
    fn exp_mut(&mut self) {
        self.v.exp_mut();
        let e = self.v.clone();
        self.scale(&e);
    }
    fn ln_mut(&mut self) {
        let x = self.v.clone();
        self.v.ln_mut();
        for d in &mut self.d {
            d.div_assign_s(&x);
        }
    }
    fn ln_1p_mut(&mut self) {
        let mut x = self.v.clone();
        x.add_assign_s(&Ball::one(x.precision()));
        self.v.ln_1p_mut();
        for d in &mut self.d {
            d.div_assign_s(&x);
        }
    }
    fn sqrt_mut(&mut self) {
        self.v.sqrt_mut();
        let two_s = self.v.mul(&Ball::from_i64(2, self.v.precision()));
        for d in &mut self.d {
            d.div_assign_s(&two_s);
        }
    }
    fn erf_mut(&mut self) {
        let g = erf_deriv(&self.v);
        self.v.erf_mut();
        self.scale(&g);
    }
    fn erfc_mut(&mut self) {
        let g = erf_deriv(&self.v).neg();
        self.v.erfc_mut();
        self.scale(&g);
    }
    fn is_finite(&self) -> bool {
        self.v.is_finite() && self.d.iter().all(|d| d.is_finite())
    }
    fn is_nan(&self) -> bool {
        self.v.is_nan()
    }
    fn is_zero(&self) -> bool {
        self.v.is_zero() && self.d.iter().all(|d| d.is_zero())
    }
    fn is_sign_negative(&self) -> bool {
        self.v.is_sign_negative()
    }
    fn sign_bit(&self) -> bool {
        self.v.sign_bit()
    }
    fn is_one(&self) -> bool {
        self.v.is_one() && self.d.iter().all(|d| d.is_zero())
    }
    fn log10_abs(&self) -> f64 {
        self.v.log10_abs()
    }
    /// Midpoint order of the values, for control flow only (as for [`Ball`]).
    fn mid_cmp(&self, o: &Self) -> Option<Ordering> {
        self.v.mid_cmp(&o.v)
    }
    fn certainly_gt(&self, o: &Self) -> bool {
        self.v.certainly_gt(&o.v)
    }
    fn certainly_ge(&self, o: &Self) -> bool {
        self.v.certainly_ge(&o.v)
    }
    fn max_s(&self, o: &Self) -> Self {
        if o.v.certainly_le(&self.v) {
            return self.clone();
        }
        if self.v.certainly_le(&o.v) {
            return o.clone();
        }
        let mut r = self.clone();
        r.v = self.v.max_s(&o.v);
        for (k, d) in r.d.iter_mut().enumerate() {
            *d = hull(&self.d[k], &o.d[k]);
        }
        r
    }
    fn min_s(&self, o: &Self) -> Self {
        let mut r = self.neg().max_s(&o.neg());
        r.neg_mut();
        r
    }
    fn relu_mut(&mut self) {
        if self.v.certainly_nonnegative() {
            return;
        }
        let p = self.precision();
        if self.v.upper() <= 0 {
            *self = Self::from_ball(Ball::zero(p));
            return;
        }
        self.v.relu_mut();
        let zero = Ball::zero(p);
        for d in &mut self.d {
            *d = hull(d, &zero);
        }
    }
    /// `σ' = σ(1 − σ)`.
    fn sigmoid_mut(&mut self) {
        self.v.sigmoid_mut();
        let mut g = Ball::one(self.precision());
        g.sub_assign_s(&self.v);
        g.mul_assign_s(&self.v);
        self.scale(&g);
    }
    /// `softplus' = σ`.
    fn softplus_mut(&mut self) {
        let g = self.v.sigmoid();
        self.v.softplus_mut();
        self.scale(&g);
    }
    /// `SiLU' = σ(x)(1 + x(1 − σ(x)))`.
    fn silu_mut(&mut self) {
        let p = self.precision();
        let s = self.v.sigmoid();
        let mut g = Ball::one(p).sub(&s);
        g.mul_assign_s(&self.v);
        g.add_assign_s(&Ball::one(p));
        g.mul_assign_s(&s);
        self.v.silu_mut();
        self.scale(&g);
    }
    /// `GeLU' = Φ(x) + x φ(x)`.
    fn gelu_mut(&mut self) {
        let mut g = normal_pdf(&self.v);
        g.mul_assign_s(&self.v);
        g.add_assign_s(&self.v.normal_cdf());
        self.v.gelu_mut();
        self.scale(&g);
    }
    fn normal_cdf(&self) -> Self {
        let g = normal_pdf(&self.v);
        let mut r = Self {
            v: self.v.normal_cdf(),
            d: self.d.clone(),
        };
        r.scale(&g);
        r
    }
}

/// `φ(x) = e^{−x²/2}/√(2π)` over a ball.
fn normal_pdf(x: &Ball) -> Ball {
    let p = x.precision();
    let mut e = x.mul(x);
    e.mul_assign_s(&Ball::from_ratio(-1, 2, p));
    e.exp_mut();
    let mut c = Ball::pi(p);
    c.mul_assign_s(&Ball::from_i64(2, p));
    c.sqrt_mut();
    e.div_assign_s(&c);
    e
}

/// `erf'(x) = (2/√π) e^{−x²}` over a ball.
fn erf_deriv(x: &Ball) -> Ball {
    let p = x.precision();
    let mut e = x.mul(x);
    e.neg_mut();
    e.exp_mut();
    let mut c = Ball::pi(p);
    c.sqrt_mut();
    e.mul_assign_s(&Ball::from_i64(2, p));
    e.div_assign_s(&c);
    e
}

/// The mean-value enclosure `f(c) + Σ_k ∂_k f(X)·[−w_k, w_k]` as a ball.
pub fn mean_value(center: &Ball, grad: &[Ball], half_widths: &[Mag]) -> Ball {
    let mut out = center.clone();
    let mut extra = Mag::ZERO;
    for (g, w) in grad.iter().zip(half_widths) {
        extra = extra.add(g.mag_up().mul(*w));
    }
    out.add_rad(extra);
    out
}
