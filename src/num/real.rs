//! `Real`: an MPFR float (round to nearest) that knows its precision.

use super::Scalar;
use gmp_mpfr_sys::mpfr;
use rug::float::Constant;
use rug::ops::NegAssign;
use rug::{Float, Rational};
use std::cmp::Ordering;
use std::fmt;

/// An MPFR float. Operations between two precisions widen to the larger one.
#[derive(PartialEq)]
pub struct Real(pub Float);

impl Clone for Real {
    fn clone(&self) -> Self {
        Real(self.0.clone())
    }
    /// Reuses this value's limbs when the precisions agree (no allocation).
    fn clone_from(&mut self, source: &Self) {
        if self.0.prec() == source.0.prec() {
            rug::Assign::assign(&mut self.0, &source.0);
        } else {
            self.0 = source.0.clone();
        }
    }
}

impl Real {
    pub fn with_prec(prec: u32) -> Self {
        Real(Float::new(prec))
    }
    pub fn inner(&self) -> &Float {
        &self.0
    }
    /// Raise this value's precision to at least `prec` (exact).
    #[inline]
    pub fn widen_to(&mut self, prec: u32) {
        if prec > self.0.prec() {
            self.0.set_prec(prec);
        }
    }
    /// Round to `prec` bits (narrowing rounds to nearest).
    pub fn rounded(&self, prec: u32) -> Real {
        Real(Float::with_val(prec, &self.0))
    }
}

impl fmt::Debug for Real {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}b]",
            self.0.to_string_radix(10, Some(20)),
            self.0.prec()
        )
    }
}

impl fmt::Display for Real {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.to_string_radix(10, Some(17)))
    }
}

impl PartialOrd for Real {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.0.partial_cmp(&other.0)
    }
}

const RNDN: mpfr::rnd_t = mpfr::rnd_t::RNDN;

impl Scalar for Real {
    const KIND: &'static str = "mpfr";

    #[inline]
    fn precision(&self) -> u32 {
        self.0.prec()
    }
    fn ulp_of_one(prec: u32) -> f64 {
        2f64.powi(1 - prec as i32)
    }
    fn effective_precision(prec: u32) -> u32 {
        prec
    }
    fn from_f64(x: f64, prec: u32) -> Self {
        Real(Float::with_val(prec, x))
    }
    fn from_i64(x: i64, prec: u32) -> Self {
        Real(Float::with_val(prec, x))
    }
    fn from_ratio(num: i64, den: i64, prec: u32) -> Self {
        Real(Float::with_val(prec, Rational::from((num, den))))
    }
    fn from_real(x: &Real, prec: u32) -> Self {
        x.rounded(prec)
    }
    fn to_real(&self) -> Real {
        self.clone()
    }
    fn to_f64(&self) -> f64 {
        self.0.to_f64()
    }
    fn pi(prec: u32) -> Self {
        Real(Float::with_val(prec, Constant::Pi))
    }
    fn sqrt_half_pi(prec: u32) -> Self {
        // Computed with guard bits, then rounded once.
        let mut t = Float::with_val(prec + 32, Constant::Pi);
        t /= 2;
        t.sqrt_mut();
        Real(Float::with_val(prec, &t))
    }
    #[inline]
    fn set(&mut self, other: &Self) {
        self.widen_to(other.0.prec());
        rug::Assign::assign(&mut self.0, &other.0);
    }
    #[inline]
    fn set_f64(&mut self, x: f64) {
        rug::Assign::assign(&mut self.0, x);
    }
    #[inline]
    fn set_i64(&mut self, x: i64) {
        rug::Assign::assign(&mut self.0, x);
    }
    #[inline]
    fn add_assign_s(&mut self, o: &Self) {
        self.widen_to(o.0.prec());
        self.0 += &o.0;
    }
    #[inline]
    fn sub_assign_s(&mut self, o: &Self) {
        self.widen_to(o.0.prec());
        self.0 -= &o.0;
    }
    #[inline]
    fn mul_assign_s(&mut self, o: &Self) {
        self.widen_to(o.0.prec());
        self.0 *= &o.0;
    }
    #[inline]
    fn div_assign_s(&mut self, o: &Self) {
        self.widen_to(o.0.prec());
        self.0 /= &o.0;
    }
    #[inline]
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        self.widen_to(a.0.prec().max(b.0.prec()));
        // SAFETY: MPFR allows the output to alias any input; all three are initialised floats.
        unsafe {
            let s = self.0.as_raw_mut();
            mpfr::fma(s, a.0.as_raw(), b.0.as_raw(), s, RNDN);
        }
    }
    #[inline]
    fn mul_add_mul_assign(&mut self, a: &Self, b: &Self, c: &Self) {
        self.widen_to(a.0.prec().max(b.0.prec()).max(c.0.prec()));
        // SAFETY: as above; mpfr_fmma computes s*a + b*c with a single rounding.
        unsafe {
            let s = self.0.as_raw_mut();
            mpfr::fmma(s, s, a.0.as_raw(), b.0.as_raw(), c.0.as_raw(), RNDN);
        }
    }
    #[inline]
    fn neg_mut(&mut self) {
        self.0.neg_assign();
    }
    #[inline]
    fn abs_mut(&mut self) {
        self.0.abs_mut();
    }
    #[inline]
    fn exp_mut(&mut self) {
        self.0.exp_mut();
    }
    fn ln_mut(&mut self) {
        self.0.ln_mut();
    }
    fn ln_1p_mut(&mut self) {
        self.0.ln_1p_mut();
    }
    fn sqrt_mut(&mut self) {
        self.0.sqrt_mut();
    }
    fn erf_mut(&mut self) {
        self.0.erf_mut();
    }
    fn erfc_mut(&mut self) {
        self.0.erfc_mut();
    }
    /// GeLU with guard bits: `erfc(z)` amplifies the relative error of its argument by `~2z²`,
    /// so `x/√2` is formed with `2·log2|x| + 16` extra bits and the result rounded once.
    fn gelu_mut(&mut self) {
        let p = self.0.prec();
        let mag = self.0.get_exp().unwrap_or(0).max(0) as u32;
        let wp = p + 2 * mag + 16;
        let x = Float::with_val(wp, &self.0);
        let mut t = Float::with_val(wp, 2);
        t.sqrt_mut();
        t = Float::with_val(wp, &x / &t);
        rug::ops::NegAssign::neg_assign(&mut t);
        t.erfc_mut();
        t *= &x;
        t /= 2;
        rug::Assign::assign(&mut self.0, &t);
    }
    #[inline]
    fn is_finite(&self) -> bool {
        self.0.is_finite()
    }
    #[inline]
    fn is_nan(&self) -> bool {
        self.0.is_nan()
    }
    #[inline]
    fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
    fn is_sign_negative(&self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }
    #[inline]
    fn sign_bit(&self) -> bool {
        self.0.is_sign_negative()
    }
    #[inline]
    fn is_one(&self) -> bool {
        self.0 == 1
    }
    fn mid_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        self.0.partial_cmp(&o.0)
    }
    fn certainly_gt(&self, o: &Self) -> bool {
        self.0 > o.0
    }
    fn certainly_ge(&self, o: &Self) -> bool {
        self.0 >= o.0
    }
    fn log10_abs(&self) -> f64 {
        if self.0.is_zero() {
            return f64::NEG_INFINITY;
        }
        if !self.0.is_finite() {
            return f64::INFINITY;
        }
        let (m, e) = self.0.to_f64_exp();
        m.abs().log10() + e as f64 * std::f64::consts::LOG10_2
    }
}
