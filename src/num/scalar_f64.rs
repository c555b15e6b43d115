//! `Scalar` for IEEE double. Transcendentals come from the platform (`exp`, `ln`) and `libm`
//! (`erf`, `erfc`); they are faithful (error below one ulp), not correctly rounded.

use super::{Real, Scalar};

impl Scalar for f64 {
    const KIND: &'static str = "f64";

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
        x
    }
    fn from_i64(x: i64, _prec: u32) -> Self {
        x as f64
    }
    fn from_ratio(num: i64, den: i64, _prec: u32) -> Self {
        // Correctly rounded through MPFR (num as f64 / den as f64 would round twice for large num).
        Real::from_ratio(num, den, 53).to_f64()
    }
    fn from_real(x: &Real, _prec: u32) -> Self {
        x.0.to_f64()
    }
    fn to_real(&self) -> Real {
        Real::from_f64(*self, 53)
    }
    fn to_f64(&self) -> f64 {
        *self
    }
    fn pi(_prec: u32) -> Self {
        std::f64::consts::PI
    }
    fn sqrt_half_pi(_prec: u32) -> Self {
        Real::sqrt_half_pi(53).to_f64()
    }
    #[inline]
    fn set(&mut self, other: &Self) {
        *self = *other;
    }
    #[inline]
    fn set_f64(&mut self, x: f64) {
        *self = x;
    }
    #[inline]
    fn set_i64(&mut self, x: i64) {
        *self = x as f64;
    }
    #[inline]
    fn add_assign_s(&mut self, o: &Self) {
        *self += *o;
    }
    #[inline]
    fn sub_assign_s(&mut self, o: &Self) {
        *self -= *o;
    }
    #[inline]
    fn mul_assign_s(&mut self, o: &Self) {
        *self *= *o;
    }
    #[inline]
    fn div_assign_s(&mut self, o: &Self) {
        *self /= *o;
    }
    #[inline]
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        *self = a.mul_add(*b, *self);
    }
    #[inline]
    fn mul_add_mul_assign(&mut self, a: &Self, b: &Self, c: &Self) {
        *self = self.mul_add(*a, b * c);
    }
    #[inline]
    fn neg_mut(&mut self) {
        *self = -*self;
    }
    #[inline]
    fn abs_mut(&mut self) {
        *self = self.abs();
    }
    #[inline]
    fn exp_mut(&mut self) {
        *self = f64::exp(*self);
    }
    fn ln_mut(&mut self) {
        *self = f64::ln(*self);
    }
    fn ln_1p_mut(&mut self) {
        *self = f64::ln_1p(*self);
    }
    fn sqrt_mut(&mut self) {
        *self = f64::sqrt(*self);
    }
    fn erf_mut(&mut self) {
        *self = libm::erf(*self);
    }
    fn erfc_mut(&mut self) {
        *self = libm::erfc(*self);
    }
    #[inline]
    fn is_finite(&self) -> bool {
        f64::is_finite(*self)
    }
    #[inline]
    fn is_nan(&self) -> bool {
        f64::is_nan(*self)
    }
    #[inline]
    fn is_zero(&self) -> bool {
        *self == 0.0
    }
    fn is_sign_negative(&self) -> bool {
        *self < 0.0
    }
    #[inline]
    fn sign_bit(&self) -> bool {
        f64::is_sign_negative(*self)
    }
    #[inline]
    fn is_one(&self) -> bool {
        *self == 1.0
    }
    fn mid_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        self.partial_cmp(o)
    }
    fn certainly_gt(&self, o: &Self) -> bool {
        self > o
    }
    fn certainly_ge(&self, o: &Self) -> bool {
        self >= o
    }
    fn log10_abs(&self) -> f64 {
        self.abs().log10()
    }
}
