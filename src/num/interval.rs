//! [`Interval`]: a certified f64 interval `[lo, hi]`, the fast tier of certified arithmetic.
//!
//! Every operation returns an interval that contains the exact result for every point of its
//! inputs. `+ − × ÷` round to nearest and then move each end outward only when the rounding was
//! inexact, which an error-free transformation decides exactly (TwoSum for sums, an FMA residual
//! for products and quotients); exact results (small integers, the bulk of a DP model's values)
//! stay points. Away from the normal range (overflow, tiny or subnormal results) an end is moved
//! one ulp outward without the test. `exp`, `ln`, `ln_1p`, `erf`, `erfc` come from CORE-MATH
//! (correctly rounded, so the exact value lies within one ulp of the result; exact special values
//! such as `exp 0 = 1` stay points), applied to the ends of these monotone functions; sigmoid and
//! softplus are composed from them end by end. SiLU and GeLU, which are not monotone, go
//! through Arb (the interval becomes a ball, its enclosure's ends are rounded outward). So the
//! tier costs about f64 arithmetic, and a decision it cannot make at 53 bits is left to
//! [`super::Ball`].

use super::{Ball, Real, Scalar};
use rug::float::Round;
use rug::Float;
use std::cmp::Ordering;

/// A closed interval of f64 ends, `lo ≤ hi` (both NaN for an undefined result).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    lo: f64,
    hi: f64,
}

/// Working precision of the balls the elementary functions go through.
const BALL_BITS: u32 = 64;
/// Below this magnitude a product's or quotient's FMA residual may itself round (subnormal
/// range), so the exactness test is not used.
const TINY: f64 = 1e-290;

/// The exact `a + b` lies in the returned interval (TwoSum: `s + err = a + b` exactly).
#[inline]
fn sum_bounds(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    if !s.is_finite() {
        return (s.next_down(), s.next_up());
    }
    let bb = s - a;
    let err = (a - (s - bb)) + (b - bb);
    direct(s, err)
}

/// The exact `a · b` lies in the returned interval (`err = a·b − p` exactly by FMA).
#[inline]
fn product_bounds(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    if !p.is_finite() || p.abs() < TINY {
        if p == 0.0 && (a == 0.0 || b == 0.0) {
            return (p, p);
        }
        return (p.next_down(), p.next_up());
    }
    direct(p, a.mul_add(b, -p))
}

/// A lower bound of the exact `a · b`, with `0 · ∞ = 0` (an ∞ end is a limit, never attained).
#[inline]
fn low(a: f64, b: f64) -> f64 {
    if a == 0.0 || b == 0.0 {
        0.0
    } else {
        product_bounds(a, b).0
    }
}

/// An upper bound of the exact `a · b` (as [`low`]).
#[inline]
fn high(a: f64, b: f64) -> f64 {
    if a == 0.0 || b == 0.0 {
        0.0
    } else {
        product_bounds(a, b).1
    }
}

/// The exact `a / b` (b ≠ 0) lies in the returned interval: `r = a − q·b` exactly, and
/// `a/b − q = r/b` has the sign of `r·b`.
#[inline]
fn quotient_bounds(a: f64, b: f64) -> (f64, f64) {
    let q = a / b;
    if !q.is_finite() || q.abs() < TINY || a.abs() < TINY || b.abs() < TINY {
        if a == 0.0 && b != 0.0 {
            return (q, q);
        }
        return (q.next_down(), q.next_up());
    }
    let r = (-q).mul_add(b, a);
    let sign = if r == 0.0 {
        0.0
    } else {
        r.signum() * b.signum()
    };
    direct(q, sign)
}

/// `value` rounded to nearest with the exact result `value + err` (only the sign of `err`
/// matters): a point if exact, otherwise the one-ulp interval on the side of `err`.
#[inline]
fn direct(value: f64, err: f64) -> (f64, f64) {
    if err > 0.0 {
        (value, value.next_up())
    } else if err < 0.0 {
        (value.next_down(), value)
    } else if err == 0.0 {
        (value, value)
    } else {
        (value.next_down(), value.next_up())
    }
}

/// An enclosure of `f(x)` from a correctly rounded `f` (CORE-MATH, round to nearest: the exact
/// value is within half an ulp of the result, so within its neighbours); `exact(x)` gives the
/// value where it is exact or a limit (±∞, poles), kept as a point.
fn correctly_rounded(x: f64, f: fn(f64) -> f64, exact: fn(f64) -> Option<f64>) -> (f64, f64) {
    if let Some(v) = exact(x) {
        return (v, v);
    }
    let r = f(x);
    if r.is_nan() {
        return (r, r);
    }
    (r.next_down(), r.next_up())
}

fn exp_exact(x: f64) -> Option<f64> {
    match x {
        0.0 => Some(1.0),
        f64::NEG_INFINITY => Some(0.0),
        f64::INFINITY => Some(f64::INFINITY),
        _ => None,
    }
}

fn ln_exact(x: f64) -> Option<f64> {
    match x {
        1.0 => Some(0.0),
        0.0 => Some(f64::NEG_INFINITY),
        f64::INFINITY => Some(f64::INFINITY),
        _ => None,
    }
}

fn ln_1p_exact(x: f64) -> Option<f64> {
    match x {
        0.0 => Some(x),
        -1.0 => Some(f64::NEG_INFINITY),
        f64::INFINITY => Some(f64::INFINITY),
        _ => None,
    }
}

fn erf_exact(x: f64) -> Option<f64> {
    match x {
        0.0 => Some(x),
        f64::NEG_INFINITY => Some(-1.0),
        f64::INFINITY => Some(1.0),
        _ => None,
    }
}

fn erfc_exact(x: f64) -> Option<f64> {
    match x {
        0.0 => Some(1.0),
        f64::NEG_INFINITY => Some(2.0),
        f64::INFINITY => Some(0.0),
        _ => None,
    }
}

/// An enclosure of `√x` (IEEE's square root is correctly rounded; an exact root, `r² = x`
/// checked by FMA, stays a point).
fn sqrt_bounds(x: f64) -> (f64, f64) {
    let r = x.sqrt();
    if r.is_nan() || r.is_infinite() || r == 0.0 {
        return (r, r);
    }
    if x > TINY && (-r).mul_add(r, x) == 0.0 {
        return (r, r);
    }
    (r.next_down(), r.next_up())
}

impl Interval {
    /// `[lo, hi]` (ends swapped into order; NaN stays NaN).
    pub fn new(lo: f64, hi: f64) -> Interval {
        if lo.is_nan() || hi.is_nan() {
            return Interval::NAN;
        }
        Interval {
            lo: lo.min(hi),
            hi: lo.max(hi),
        }
    }
    pub const NAN: Interval = Interval {
        lo: f64::NAN,
        hi: f64::NAN,
    };
    /// Every real number.
    pub const ENTIRE: Interval = Interval {
        lo: f64::NEG_INFINITY,
        hi: f64::INFINITY,
    };
    pub fn lo(&self) -> f64 {
        self.lo
    }
    pub fn hi(&self) -> f64 {
        self.hi
    }
    /// Whether `x` lies in the interval.
    pub fn contains(&self, x: &Float) -> bool {
        *x >= self.lo && *x <= self.hi
    }
    /// `hi − lo`, rounded up.
    pub fn width(&self) -> f64 {
        sum_bounds(self.hi, -self.lo).1
    }
    fn mid(&self) -> f64 {
        if self.lo == self.hi {
            self.lo
        } else if self.lo.is_infinite() || self.hi.is_infinite() {
            if self.lo.is_infinite() && self.hi.is_infinite() {
                0.0
            } else if self.lo.is_infinite() {
                self.hi
            } else {
                self.lo
            }
        } else {
            0.5 * self.lo + 0.5 * self.hi
        }
    }
    /// A ball containing the interval (for the Arb-evaluated functions and for fallback).
    pub fn to_ball(&self, prec: u32) -> Ball {
        Ball::from_f64_hull(self.lo, self.hi, prec)
    }
    /// The smallest f64 interval containing `b`.
    pub fn from_ball(b: &Ball) -> Interval {
        let (lo, hi) = b.f64_bounds();
        Interval::new(lo, hi)
    }
    /// `self ← f(self)` for a monotone `f` (decreasing unless `increasing`), from the images of
    /// the ends: `image(x)` encloses `f(x)` (exact values and limits as points).
    fn monotone(&mut self, increasing: bool, image: impl Fn(f64) -> (f64, f64)) {
        if self.is_nan() {
            return;
        }
        let (l, h) = image(self.lo);
        let (lo, hi) = if self.lo == self.hi {
            (l, h)
        } else {
            let (l2, h2) = image(self.hi);
            if increasing {
                (l, h2)
            } else {
                (l2, h)
            }
        };
        *self = Interval::new(lo, hi);
    }
    /// `self ← f(self)` for `f` with one minimum `f_min ≥ floor` at a negative point, `f ≤ 0`
    /// on the negatives and increasing on the positives (SiLU, GeLU): Arb on the ball of `self`
    /// when the ends are finite, otherwise the bounds those shapes give.
    fn dip(&mut self, f: fn(&mut Ball), floor: f64) {
        if self.is_nan() {
            return;
        }
        let at = |x: f64| {
            let mut b = Ball::from_f64(x, BALL_BITS);
            f(&mut b);
            b.f64_bounds()
        };
        if self.is_finite() {
            let mut b = self.to_ball(BALL_BITS);
            f(&mut b);
            *self = Interval::from_ball(&b);
        } else {
            let lo = if self.lo >= 0.0 && self.lo.is_finite() {
                at(self.lo).0
            } else if self.lo == f64::INFINITY {
                f64::INFINITY
            } else {
                floor
            };
            let hi = if self.hi == f64::INFINITY {
                f64::INFINITY
            } else if self.hi <= 0.0 {
                0.0
            } else {
                at(self.hi).1
            };
            *self = Interval::new(lo, hi);
        }
    }
    /// `self ← self + [lo, hi]`. An end of ∞ − ∞ (opposite unbounded ends) bounds nothing: it
    /// becomes −∞ below and +∞ above.
    #[inline]
    fn add_ends(&mut self, lo: f64, hi: f64) {
        if self.is_nan() || lo.is_nan() || hi.is_nan() {
            *self = Interval::NAN;
            return;
        }
        let (l, h) = if self.lo == self.hi && lo == hi {
            sum_bounds(self.lo, lo)
        } else {
            (sum_bounds(self.lo, lo).0, sum_bounds(self.hi, hi).1)
        };
        self.lo = if l.is_nan() { f64::NEG_INFINITY } else { l };
        self.hi = if h.is_nan() { f64::INFINITY } else { h };
    }
    fn set_bounds(&mut self, (lo, hi): (f64, f64)) {
        *self = Interval::new(lo, hi);
    }
}

impl Scalar for Interval {
    const KIND: &'static str = "interval";

    #[inline]
    fn precision(&self) -> u32 {
        53
    }
    fn ulp_of_one(_prec: u32) -> f64 {
        f64::EPSILON
    }
    fn effective_precision(_prec: u32) -> u32 {
        53
    }
    fn from_f64(x: f64, _prec: u32) -> Self {
        Interval::new(x, x)
    }
    fn from_i64(x: i64, _prec: u32) -> Self {
        let v = x as f64;
        if v as i128 == x as i128 {
            Interval::new(v, v)
        } else {
            Interval::new(v.next_down(), v.next_up())
        }
    }
    fn from_ratio(num: i64, den: i64, prec: u32) -> Self {
        let mut r = Self::from_i64(num, prec);
        r.div_assign_s(&Self::from_i64(den, prec));
        r
    }
    fn from_real(x: &Real, _prec: u32) -> Self {
        if x.0.is_nan() {
            return Interval::NAN;
        }
        Interval::new(x.0.to_f64_round(Round::Down), x.0.to_f64_round(Round::Up))
    }
    fn to_real(&self) -> Real {
        Real::from_f64(self.mid(), 53)
    }
    fn to_f64(&self) -> f64 {
        self.mid()
    }
    fn pi(_prec: u32) -> Self {
        // f64's π is below π, its successor above.
        let p = std::f64::consts::PI;
        Interval::new(p, p.next_up())
    }
    fn sqrt_half_pi(prec: u32) -> Self {
        let mut r = Self::pi(prec);
        r.mul_assign_s(&Self::from_ratio(1, 2, prec));
        r.sqrt_mut();
        r
    }
    #[inline]
    fn set(&mut self, other: &Self) {
        *self = *other;
    }
    #[inline]
    fn set_f64(&mut self, x: f64) {
        *self = Interval::new(x, x);
    }
    #[inline]
    fn set_i64(&mut self, x: i64) {
        *self = Self::from_i64(x, 53);
    }
    #[inline]
    fn add_assign_s(&mut self, o: &Self) {
        self.add_ends(o.lo, o.hi);
    }
    #[inline]
    fn sub_assign_s(&mut self, o: &Self) {
        self.add_ends(-o.hi, -o.lo);
    }
    #[inline]
    fn mul_assign_s(&mut self, o: &Self) {
        if self.is_nan() || o.is_nan() {
            *self = Interval::NAN;
            return;
        }
        let (a, b) = (*self, *o);
        let bounds = if a.lo == a.hi && b.lo == b.hi {
            product_bounds(a.lo, b.lo)
        } else if a.lo >= 0.0 && b.lo >= 0.0 {
            (low(a.lo, b.lo), high(a.hi, b.hi))
        } else if a.hi <= 0.0 && b.hi <= 0.0 {
            (low(a.hi, b.hi), high(a.lo, b.lo))
        } else if a.lo >= 0.0 && b.hi <= 0.0 {
            (low(a.hi, b.lo), high(a.lo, b.hi))
        } else if a.hi <= 0.0 && b.lo >= 0.0 {
            (low(a.lo, b.hi), high(a.hi, b.lo))
        } else {
            // an operand straddles 0: the extremes are among the four end products
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for x in [a.lo, a.hi] {
                for y in [b.lo, b.hi] {
                    lo = lo.min(low(x, y));
                    hi = hi.max(high(x, y));
                }
            }
            (lo, hi)
        };
        self.set_bounds(bounds);
    }
    #[inline]
    fn div_assign_s(&mut self, o: &Self) {
        if o.lo <= 0.0 && o.hi >= 0.0 || o.is_nan() {
            *self = if self.is_nan() || o.is_nan() || (o.lo == 0.0 && o.hi == 0.0) {
                Interval::NAN
            } else {
                Interval::ENTIRE
            };
            return;
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for a in [self.lo, self.hi] {
            for b in [o.lo, o.hi] {
                let (l, h) = if a.is_infinite() && b.is_infinite() {
                    (f64::NEG_INFINITY, f64::INFINITY)
                } else {
                    quotient_bounds(a, b)
                };
                lo = lo.min(l);
                hi = hi.max(h);
            }
        }
        self.set_bounds((lo, hi));
    }
    #[inline]
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        let mut p = *a;
        p.mul_assign_s(b);
        self.add_assign_s(&p);
    }
    #[inline]
    fn mul_add_mul_assign(&mut self, a: &Self, b: &Self, c: &Self) {
        self.mul_assign_s(a);
        self.mul_add_assign(b, c);
    }
    fn neg_mut(&mut self) {
        *self = Interval {
            lo: -self.hi,
            hi: -self.lo,
        };
    }
    fn abs_mut(&mut self) {
        if self.lo >= 0.0 {
            return;
        }
        if self.hi <= 0.0 {
            self.neg_mut();
        } else {
            *self = Interval::new(0.0, self.hi.max(-self.lo));
        }
    }
    fn exp_mut(&mut self) {
        self.monotone(true, |x| {
            let (l, h) = correctly_rounded(x, core_math::exp, exp_exact);
            (l.max(0.0), h)
        });
    }
    fn ln_mut(&mut self) {
        self.monotone(true, |x| correctly_rounded(x, core_math::log, ln_exact));
    }
    fn ln_1p_mut(&mut self) {
        self.monotone(true, |x| {
            correctly_rounded(x, core_math::log1p, ln_1p_exact)
        });
    }
    fn sqrt_mut(&mut self) {
        self.monotone(true, sqrt_bounds);
    }
    fn erf_mut(&mut self) {
        self.monotone(true, |x| correctly_rounded(x, core_math::erf, erf_exact));
    }
    fn erfc_mut(&mut self) {
        self.monotone(false, |x| correctly_rounded(x, core_math::erfc, erfc_exact));
    }
    fn is_finite(&self) -> bool {
        self.lo.is_finite() && self.hi.is_finite()
    }
    fn is_nan(&self) -> bool {
        self.lo.is_nan() || self.hi.is_nan()
    }
    fn is_zero(&self) -> bool {
        self.lo == 0.0 && self.hi == 0.0
    }
    fn is_sign_negative(&self) -> bool {
        self.mid() < 0.0
    }
    fn sign_bit(&self) -> bool {
        self.mid().is_sign_negative()
    }
    fn is_one(&self) -> bool {
        self.lo == 1.0 && self.hi == 1.0
    }
    fn mid_cmp(&self, o: &Self) -> Option<Ordering> {
        self.mid().partial_cmp(&o.mid())
    }
    fn certainly_gt(&self, o: &Self) -> bool {
        self.lo > o.hi
    }
    fn certainly_ge(&self, o: &Self) -> bool {
        self.lo >= o.hi
    }
    fn log10_abs(&self) -> f64 {
        self.mid().abs().log10()
    }
    fn max_s(&self, o: &Self) -> Self {
        if self.is_nan() || o.is_nan() {
            return Interval::NAN;
        }
        Interval::new(self.lo.max(o.lo), self.hi.max(o.hi))
    }
    fn min_s(&self, o: &Self) -> Self {
        if self.is_nan() || o.is_nan() {
            return Interval::NAN;
        }
        Interval::new(self.lo.min(o.lo), self.hi.min(o.hi))
    }
    fn relu_mut(&mut self) {
        if !self.is_nan() {
            *self = Interval::new(self.lo.max(0.0), self.hi.max(0.0));
        }
    }
    /// Nondecreasing: each end through `1/(1 + e^{−x})` in interval arithmetic.
    fn sigmoid_mut(&mut self) {
        self.monotone(true, |x| {
            let mut e = Interval::new(-x, -x);
            e.exp_mut();
            e.add_ends(1.0, 1.0);
            let mut r = Interval::new(1.0, 1.0);
            r.div_assign_s(&e);
            (r.lo, r.hi)
        });
    }
    /// Nondecreasing: each end through `ln1p(e^x)` (x ≤ 0) or `x + ln1p(e^{−x})` (x > 0).
    fn softplus_mut(&mut self) {
        self.monotone(true, |x| {
            let mut e = Interval::new(-x.abs(), -x.abs());
            e.exp_mut();
            e.ln_1p_mut();
            if x > 0.0 {
                e.add_ends(x, x);
            }
            (e.lo, e.hi)
        });
    }
    fn silu_mut(&mut self) {
        // min SiLU = −0.27846… at −1.27846…
        self.dip(Ball::silu_mut, -0.2785);
    }
    fn gelu_mut(&mut self) {
        // min GeLU = −0.16997… at −0.75179…
        self.dip(Ball::gelu_mut, -0.1700);
    }
    /// Nondecreasing: each end through `erfc(−x/√2)/2`.
    fn normal_cdf(&self) -> Self {
        let mut r = *self;
        r.monotone(true, |x| {
            let mut t = Interval::new(-x, -x);
            t.div_assign_s(&Interval::from_i64(2, 53).sqrt());
            t.erfc_mut();
            t.mul_assign_s(&Interval::new(0.5, 0.5));
            (t.lo, t.hi)
        });
        r
    }
}
