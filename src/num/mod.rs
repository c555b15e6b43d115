//! The number type: one trait, [`Scalar`], over `f64`, [`Real`] (an MPFR float), [`Ball`]
//! (a certified midpoint–radius enclosure: Arb's `arb_t`, its radius read out as a [`Mag`]) and
//! [`Interval`] (a certified f64 interval: the fast certified tier, Arb for elementary functions).
//!
//! Every model and gadget is generic over `Scalar`, so the same construction runs in IEEE double
//! and in correctly rounded arbitrary precision. Precision is explicit: constructors take it, values
//! carry it, and an operation between two precisions widens to the larger one (widening is exact).
//! In-place methods (`*_assign`, `*_mut`) never allocate for MPFR values whose precision already fits.

mod arb_sys;
mod ball;
mod interval;
mod mag;
mod precision;
mod real;
mod scalar_f64;

pub use ball::Ball;
pub use interval::Interval;
pub use mag::Mag;
pub use precision::{parse_precision, Arith, Precision, MAX_PRACTICAL_BITS};
pub use real::Real;

use std::cmp::Ordering;
use std::fmt::Debug;

/// A real number type the constructions run in.
pub trait Scalar: Clone + Debug + Send + Sync + PartialEq + 'static {
    /// Short name for reports (`f64` or `mpfr`).
    const KIND: &'static str;
    /// Whether hot loops may skip operations that are exact identities ([`fma_is_identity`]).
    const SKIP_IDENTITIES: bool = true;

    /// Precision in bits (53 for `f64`).
    fn precision(&self) -> u32;
    /// Unit in the last place relative to 1: `2^(1-p)`. Used by rounding bounds.
    fn ulp_of_one(prec: u32) -> f64;
    /// Working precision the type actually uses when asked for `prec` bits.
    fn effective_precision(prec: u32) -> u32;

    fn from_f64(x: f64, prec: u32) -> Self;
    fn from_i64(x: i64, prec: u32) -> Self;
    /// `num/den`, correctly rounded (exact when representable).
    fn from_ratio(num: i64, den: i64, prec: u32) -> Self;
    /// Round an MPFR value to this type at `prec` bits.
    fn from_real(x: &Real, prec: u32) -> Self;
    /// Exact conversion to MPFR (at this value's own precision).
    fn to_real(&self) -> Real;
    fn to_f64(&self) -> f64;

    fn zero(prec: u32) -> Self {
        Self::from_i64(0, prec)
    }
    fn one(prec: u32) -> Self {
        Self::from_i64(1, prec)
    }
    fn pi(prec: u32) -> Self;
    /// `sqrt(pi/2)`, at the working precision.
    fn sqrt_half_pi(prec: u32) -> Self;

    /// `self <- other` (keeps the larger of the two precisions).
    fn set(&mut self, other: &Self);
    fn set_f64(&mut self, x: f64);
    fn set_i64(&mut self, x: i64);

    fn add_assign_s(&mut self, o: &Self);
    fn sub_assign_s(&mut self, o: &Self);
    fn mul_assign_s(&mut self, o: &Self);
    /// `self <- a·b` (one rounding; `self`'s old value is not read).
    fn set_mul(&mut self, a: &Self, b: &Self) {
        self.set(a);
        self.mul_assign_s(b);
    }
    fn div_assign_s(&mut self, o: &Self);
    /// `self <- self + a*b` with one rounding.
    fn mul_add_assign(&mut self, a: &Self, b: &Self);
    /// `self <- self*a + b*c` with one rounding (MPFR `fmma`; two roundings in f64).
    fn mul_add_mul_assign(&mut self, a: &Self, b: &Self, c: &Self);
    fn neg_mut(&mut self);
    fn abs_mut(&mut self);

    fn exp_mut(&mut self);
    fn ln_mut(&mut self);
    fn ln_1p_mut(&mut self);
    fn sqrt_mut(&mut self);
    fn erf_mut(&mut self);
    fn erfc_mut(&mut self);

    fn is_finite(&self) -> bool;
    fn is_nan(&self) -> bool;
    fn is_zero(&self) -> bool;
    fn is_sign_negative(&self) -> bool;
    /// The sign bit: set for negative values and for `−0` (the zero-sign rules of IEEE and
    /// MPFR read it; [`Scalar::is_sign_negative`] does not count `−0`).
    fn sign_bit(&self) -> bool;
    /// Exactly 1 (for a ball: midpoint 1 and radius 0).
    fn is_one(&self) -> bool;
    /// Exactly `+0` (for a ball: radius 0 too): adding an exact zero to it, or setting it to 0,
    /// changes nothing.
    fn is_positive_zero(&self) -> bool {
        self.is_zero() && !self.sign_bit()
    }
    /// The same representation: equal values, sign bits and precisions (for a ball, equal
    /// radii too), so every deterministic operation gives identical results on both. NaN is
    /// never the same as anything.
    fn same_repr(&self, o: &Self) -> bool {
        self == o && self.sign_bit() == o.sign_bit() && self.precision() == o.precision()
    }
    /// Midpoint order, for control flow only (a branch between formulas that are all valid):
    /// the values' order for `f64` and [`Real`], the midpoints' for [`Ball`]. `None` with a NaN.
    /// There is no `PartialOrd`, so no generic `<` can silently drop a ball's radius.
    fn mid_cmp(&self, o: &Self) -> Option<Ordering>;
    /// `mid_cmp` is `Greater`.
    fn mid_gt(&self, o: &Self) -> bool {
        self.mid_cmp(o) == Some(Ordering::Greater)
    }
    /// `mid_cmp` is `Less`.
    fn mid_lt(&self, o: &Self) -> bool {
        self.mid_cmp(o) == Some(Ordering::Less)
    }
    /// `mid_cmp` is `Less` or `Equal`.
    fn mid_le(&self, o: &Self) -> bool {
        matches!(self.mid_cmp(o), Some(Ordering::Less | Ordering::Equal))
    }
    /// Certainly `self > o`: for a ball, every point of `self` exceeds every point of `o`;
    /// for `f64` and [`Real`], the held values compare so.
    fn certainly_gt(&self, o: &Self) -> bool;
    /// Certainly `self ≥ o` (same sense as [`Scalar::certainly_gt`]).
    fn certainly_ge(&self, o: &Self) -> bool;
    /// `log10 |self|`, finite even far outside f64's range (`-inf` for zero).
    fn log10_abs(&self) -> f64;

    // ---- value-returning conveniences (allocate; not for hot loops) ----
    fn add(&self, o: &Self) -> Self {
        let mut r = self.clone();
        r.add_assign_s(o);
        r
    }
    fn sub(&self, o: &Self) -> Self {
        let mut r = self.clone();
        r.sub_assign_s(o);
        r
    }
    fn mul(&self, o: &Self) -> Self {
        let mut r = self.clone();
        r.mul_assign_s(o);
        r
    }
    fn div(&self, o: &Self) -> Self {
        let mut r = self.clone();
        r.div_assign_s(o);
        r
    }
    fn neg(&self) -> Self {
        let mut r = self.clone();
        r.neg_mut();
        r
    }
    fn abs(&self) -> Self {
        let mut r = self.clone();
        r.abs_mut();
        r
    }
    fn exp(&self) -> Self {
        let mut r = self.clone();
        r.exp_mut();
        r
    }
    fn ln(&self) -> Self {
        let mut r = self.clone();
        r.ln_mut();
        r
    }
    fn ln_1p(&self) -> Self {
        let mut r = self.clone();
        r.ln_1p_mut();
        r
    }
    fn sqrt(&self) -> Self {
        let mut r = self.clone();
        r.sqrt_mut();
        r
    }
    fn erf(&self) -> Self {
        let mut r = self.clone();
        r.erf_mut();
        r
    }
    fn erfc(&self) -> Self {
        let mut r = self.clone();
        r.erfc_mut();
        r
    }
    /// The larger value (for a ball, an enclosure of the max over both balls).
    fn max_s(&self, o: &Self) -> Self {
        if o.mid_gt(self) {
            o.clone()
        } else {
            self.clone()
        }
    }
    /// The smaller value (for a ball, an enclosure of the min over both balls).
    fn min_s(&self, o: &Self) -> Self {
        if o.mid_lt(self) {
            o.clone()
        } else {
            self.clone()
        }
    }

    // ---- activations, all in place ----
    /// `max(x, 0)`.
    fn relu_mut(&mut self) {
        if self.is_sign_negative() {
            self.set_i64(0);
        }
    }
    /// `1/(1+e^{-x})`, evaluated without overflow on either side.
    fn sigmoid_mut(&mut self) {
        let p = self.precision();
        if self.is_sign_negative() {
            // e^x / (1 + e^x)
            self.exp_mut();
            let mut den = Self::one(p);
            den.add_assign_s(self);
            self.div_assign_s(&den);
        } else {
            // 1 / (1 + e^{-x})
            self.neg_mut();
            self.exp_mut();
            let mut one = Self::one(p);
            self.add_assign_s(&one);
            one.div_assign_s(self);
            self.set(&one);
        }
    }
    /// `ln(1+e^x)`: `x + ln1p(e^{-x})` for x > 0 (no overflow), `ln1p(e^x)` otherwise
    /// (no cancellation for very negative x).
    fn softplus_mut(&mut self) {
        if self.is_sign_negative() || self.is_zero() {
            self.exp_mut();
            self.ln_1p_mut();
        } else {
            let mut t = self.neg();
            t.exp_mut();
            t.ln_1p_mut();
            self.add_assign_s(&t);
        }
    }
    /// `x·sigmoid(x)`.
    fn silu_mut(&mut self) {
        let x = self.clone();
        self.sigmoid_mut();
        self.mul_assign_s(&x);
    }
    /// Exact GeLU `x·Φ(x)` with `Φ(x) = erfc(-x/√2)/2`: for negative x this is `erfc(|x|/√2)/2`,
    /// which keeps full relative precision deep in the tail.
    fn gelu_mut(&mut self) {
        let p = self.precision();
        let x = self.clone();
        let mut sqrt2 = Self::from_i64(2, p);
        sqrt2.sqrt_mut();
        self.neg_mut();
        self.div_assign_s(&sqrt2);
        self.erfc_mut();
        self.mul_assign_s(&x);
        let half = Self::from_ratio(1, 2, p);
        self.mul_assign_s(&half);
    }
    /// Standard normal CDF `Φ(x)`.
    fn normal_cdf(&self) -> Self {
        let p = self.precision();
        let mut sqrt2 = Self::from_i64(2, p);
        sqrt2.sqrt_mut();
        let mut r = self.neg();
        r.div_assign_s(&sqrt2);
        r.erfc_mut();
        r.mul_assign_s(&Self::from_ratio(1, 2, p));
        r
    }
    fn relu(&self) -> Self {
        let mut r = self.clone();
        r.relu_mut();
        r
    }
    fn sigmoid(&self) -> Self {
        let mut r = self.clone();
        r.sigmoid_mut();
        r
    }
    fn softplus(&self) -> Self {
        let mut r = self.clone();
        r.softplus_mut();
        r
    }
    fn silu(&self) -> Self {
        let mut r = self.clone();
        r.silu_mut();
        r
    }
    fn gelu(&self) -> Self {
        let mut r = self.clone();
        r.gelu_mut();
        r
    }
}

/// A certified number type ([`Ball`], [`Interval`]): every value encloses the exact one, and its
/// ball is what verdicts read.
pub trait Enclosure: Scalar {
    /// A ball holding every point of `self` (the value itself for a [`Ball`]).
    fn enclosure(&self) -> Ball;
}

impl Enclosure for Ball {
    fn enclosure(&self) -> Ball {
        self.clone()
    }
}

impl Enclosure for Interval {
    fn enclosure(&self) -> Ball {
        self.to_ball(64)
    }
}

/// `acc + z·w` (one rounding) equals `acc` exactly, in every arithmetic: `z` is an exact zero,
/// `w` finite (so `z·w` is `±0`), neither would widen `acc`'s precision, and `acc` is not `−0`
/// (`−0 + +0 = +0`). A ball skips such a product inside its own operation too (Arb would round
/// the radius up), so the dense loop gives the same ball. Hot loops skip such operations: their cost then
/// follows the nonzeros, with results identical bit for bit to the dense loop.
#[inline]
pub fn fma_is_identity<S: Scalar>(acc: &S, z: &S, w: &S) -> bool {
    S::SKIP_IDENTITIES
        && z.is_zero()
        && w.is_finite()
        && !(acc.is_zero() && acc.sign_bit())
        && z.precision() <= acc.precision()
        && w.precision() <= acc.precision()
}

/// `h·a + z·w` (one rounding) equals `h` exactly: `a` is exactly 1 and `h + z·w` is an
/// identity ([`fma_is_identity`]), `a` not wider than `h`. A ball skips the multiplication by
/// an exact 1 inside its own operation too (its midpoint has at most its precision's bits).
#[inline]
pub fn fmma_is_identity<S: Scalar>(h: &S, a: &S, z: &S, w: &S) -> bool {
    a.is_one() && a.precision() <= h.precision() && fma_is_identity(h, z, w)
}

/// Build a vector of `len` zeros at `prec`.
pub fn zeros<S: Scalar>(len: usize, prec: u32) -> Vec<S> {
    (0..len).map(|_| S::zero(prec)).collect()
}

#[cfg(test)]
mod ball_tests;
#[cfg(test)]
mod tests;

/// `|x|`, with NaN mapped to `+∞`: a magnitude for a running maximum (`f64::max` ignores NaN,
/// so a NaN error or weight would otherwise pass every check silently).
pub fn abs_or_inf(x: f64) -> f64 {
    if x.is_nan() {
        f64::INFINITY
    } else {
        x.abs()
    }
}
