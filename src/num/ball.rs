//! `Ball`: a midpoint–radius enclosure `[mid − rad, mid + rad]` of a real number, the third
//! [`Scalar`] beside `f64` and [`Real`], so the same model code runs in it. It is a thin safe
//! wrapper over Arb's `arb_t` (the system's Arb, through [`super::arb_sys`]) plus the working
//! precision in bits.
//!
//! **Invariant (the proof obligation of every operation):** if each input ball contains a real
//! number, the output ball contains the exact real result of the operation applied to them.
//! Arithmetic and the elementary functions (`exp`, `ln`, `ln1p`, `sqrt`, `erf`, `erfc`, `max`,
//! `min`, `|·|`, ReLU) are Arb's own, with Arb's enclosures. The composite activations are
//! built from them:
//! - monotone ones (sigmoid, softplus, Φ) are evaluated at the ball's two ends (Arb balls
//!   around exact points) and the union is taken: `f([lo, hi]) = [f(lo), f(hi)]`;
//! - SiLU and GeLU take the mean-value form `f(mid) + f'(X)·[−r, r]`, with `f'(X)` the Arb
//!   enclosure of the derivative over the whole input ball `X`.
//!
//! A result that cannot be enclosed (division by a ball containing 0, `ln` of a ball reaching
//! 0) is Arb's indeterminate ball (NaN midpoint, infinite radius): it decides nothing.
//!
//! The midpoint has at most `precision()` bits (every operation rounds it there), so adding an
//! exact zero or multiplying by an exact one leaves a ball unchanged bit for bit, and the
//! in-place operations skip them (the sparse scan relies on this).
//!
//! **Comparisons.** `Ball` has no `PartialOrd`. Control flow that needs an order uses the
//! midpoint explicitly ([`Scalar::mid_cmp`], [`Scalar::is_sign_negative`]); it never certifies
//! anything. Certified decisions see the radius: [`Ball::certainly_lt`], [`Ball::certainly_le`],
//! [`Scalar::certainly_gt`], [`Ball::upper`], [`Ball::lower`]. `is_zero` means *exactly* zero
//! (radius 0), so a construction never drops an uncertain weight. Arb has no `−0`: a ball's
//! sign bit is its midpoint's sign.

use super::arb_sys::*;
use super::{Mag, Real, Scalar};
use gmp_mpfr_sys::mpfr;
use rug::{Float, Rational};
use std::cmp::Ordering;
use std::fmt;

/// A real number enclosed in `[mid − rad, mid + rad]`, at a working precision of `prec` bits.
pub struct Ball {
    b: arb_struct,
    prec: u32,
}

// SAFETY: a `Ball` owns its limbs (Arb allocates them with malloc and frees them in
// `arb_clear`); `&Ball` only reads them. Exponents that would be heap integers (beyond 2^62)
// are owned the same way.
unsafe impl Send for Ball {}
unsafe impl Sync for Ball {}

/// An fmpz that is a pointer to a GMP integer, not an inline value.
#[inline]
fn fmpz_is_mpz(e: slong) -> bool {
    (e >> 62) == 1
}

const ZERO_ARF: arf_struct = arf_struct {
    exp: ARF_EXP_ZERO,
    size: 0,
    d: ArfMantissa { noptr: [0, 0] },
};

/// A scratch `arf_t`, cleared on drop.
struct Arf(arf_struct);

impl Arf {
    fn new() -> Arf {
        Arf(ZERO_ARF)
    }
}

impl Drop for Arf {
    fn drop(&mut self) {
        // SAFETY: an initialised arf.
        unsafe { arf_clear(&mut self.0) }
    }
}

impl Drop for Ball {
    #[inline]
    fn drop(&mut self) {
        let b = &self.b;
        if (b.mid.size >> 1) > 2 || fmpz_is_mpz(b.mid.exp) || fmpz_is_mpz(b.rad.exp) {
            // SAFETY: an initialised arb that owns heap data.
            unsafe { arb_clear(&mut self.b) }
        }
    }
}

impl Clone for Ball {
    fn clone(&self) -> Self {
        let mut r = Ball::zero_ball(self.prec);
        // SAFETY: both initialised.
        unsafe { arb_set(&mut r.b, &self.b) };
        r
    }
    #[inline]
    fn clone_from(&mut self, source: &Self) {
        // SAFETY: both initialised; arb_set reuses the destination's limbs.
        unsafe { arb_set(&mut self.b, &source.b) };
        self.prec = source.prec;
    }
}

impl fmt::Debug for Ball {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ± {:.3e}[{}b]",
            self.mid().to_string_radix(10, Some(20)),
            self.rad_f64(),
            self.prec
        )
    }
}

impl PartialEq for Ball {
    /// Same midpoint and radius (a representation equality, not a certified one).
    fn eq(&self, o: &Self) -> bool {
        // SAFETY: both initialised.
        unsafe { arb_equal(&self.b, &o.b) != 0 }
    }
}

impl Ball {
    /// The exact ball `{0}` at `prec` bits, without a call into Arb.
    #[inline]
    fn zero_ball(prec: u32) -> Ball {
        Ball {
            b: arb_struct {
                mid: ZERO_ARF,
                rad: mag_struct { exp: 0, man: 0 },
            },
            prec,
        }
    }
    #[inline]
    fn raw(&self) -> arb_srcptr {
        &self.b
    }
    #[inline]
    fn raw_mut(&mut self) -> arb_ptr {
        &mut self.b
    }
    #[inline]
    fn slong(prec: u32) -> slong {
        prec as slong
    }
    /// Round the midpoint to the working precision (the error goes into the radius).
    fn round_to_prec(&mut self) {
        let p = Self::slong(self.prec);
        let s = self.raw_mut();
        // SAFETY: initialised; aliasing allowed.
        unsafe { arb_set_round(s, s, p) };
    }

    /// The exact ball `{x}` at `prec` bits (rounding `x` to `prec`, with the error enclosed).
    pub fn from_float(x: &Float, prec: u32) -> Ball {
        let mut r = Ball::zero_ball(prec);
        // SAFETY: `x` is an initialised MPFR float; the arf is initialised.
        unsafe { arf_set_mpfr(&mut r.b.mid, x.as_raw()) };
        r.round_to_prec();
        r
    }
    /// `[mid − rad, mid + rad]` from an exact midpoint (rounded to `prec` with the error added).
    pub fn with_radius(mid: &Float, rad: Mag, prec: u32) -> Ball {
        let mut b = Ball::from_float(mid, prec);
        b.add_rad(rad);
        b
    }
    /// A ball (at `prec`) containing `[lo, hi]`.
    pub fn from_endpoints(lo: &Float, hi: &Float, prec: u32) -> Ball {
        let mut r = Ball::zero_ball(prec);
        // SAFETY: initialised MPFR floats and arb.
        unsafe { arb_set_interval_mpfr(r.raw_mut(), lo.as_raw(), hi.as_raw(), Self::slong(prec)) };
        r
    }

    /// A ball (at `prec`) containing the f64 interval `[lo, hi]` (for [`super::Interval`]).
    pub(crate) fn from_f64_hull(lo: f64, hi: f64, prec: u32) -> Ball {
        let mut r = Ball::zero_ball(prec);
        r.set_f64(lo);
        if hi != lo {
            let mut h = Ball::zero_ball(prec);
            h.set_f64(hi);
            let s = r.raw_mut();
            // SAFETY: initialised arbs; aliasing allowed.
            unsafe { arb_union(s, s, h.raw(), Self::slong(prec)) };
        }
        r
    }
    /// The ball's ends rounded outward to f64: `lo ≤ every point ≤ hi` (NaN for a NaN ball).
    pub(crate) fn f64_bounds(&self) -> (f64, f64) {
        if self.is_nan() {
            return (f64::NAN, f64::NAN);
        }
        let wp = Self::slong(self.prec.max(53) + 64);
        let mut a = Arf::new();
        // SAFETY: initialised arb and arf.
        unsafe {
            arb_get_lbound_arf(&mut a.0, self.raw(), wp);
            let lo = arf_get_d(&a.0, ARF_RND_FLOOR);
            arb_get_ubound_arf(&mut a.0, self.raw(), wp);
            (lo, arf_get_d(&a.0, ARF_RND_CEIL))
        }
    }

    /// The radius (exact: Arb's 30-bit radius mantissa fits a [`Mag`]).
    pub fn rad(&self) -> Mag {
        mag_to_mag(&self.b.rad)
    }
    /// Replace the radius by (an upper bound of) `rad`.
    pub fn set_rad(&mut self, rad: Mag) {
        set_mag(&mut self.b.rad, rad);
    }
    /// Add (an upper bound of) `rad` to the radius.
    pub fn add_rad(&mut self, rad: Mag) {
        let mut m = mag_struct { exp: 0, man: 0 };
        set_mag(&mut m, rad);
        // SAFETY: initialised arb and mag (a mag with an inline exponent needs no clearing).
        unsafe { arb_add_error_mag(self.raw_mut(), &m) };
    }
    /// The midpoint, exactly, as an MPFR float (at least `precision()` bits; a midpoint outside
    /// MPFR's exponent range becomes 0 or ±∞).
    pub fn mid(&self) -> Float {
        // SAFETY: an initialised arf.
        let bits = unsafe { arf_bits(&self.b.mid) }.clamp(1, u32::MAX as i64 / 2) as u32;
        let mut f = Float::new(bits.max(self.prec).max(1));
        // SAFETY: `f` is initialised with enough bits to hold the midpoint exactly.
        unsafe { arf_get_mpfr(f.as_raw_mut(), &self.b.mid, mpfr::rnd_t::RNDN) };
        f
    }
    /// Radius as an f64 (for reports).
    pub fn rad_f64(&self) -> f64 {
        self.rad().to_f64()
    }
    /// The certified upper end `mid + rad`, rounded up (64 guard bits above the precision).
    pub fn upper(&self) -> Float {
        self.end(true)
    }
    /// The certified lower end `mid − rad`, rounded down.
    pub fn lower(&self) -> Float {
        self.end(false)
    }
    fn end(&self, upper: bool) -> Float {
        let wp = self.prec + 64;
        let mut a = Arf::new();
        let mut f = Float::new(wp);
        // SAFETY: initialised arb, arf and MPFR float.
        unsafe {
            if upper {
                arb_get_ubound_arf(&mut a.0, self.raw(), Self::slong(wp));
                arf_get_mpfr(f.as_raw_mut(), &a.0, mpfr::rnd_t::RNDU);
            } else {
                arb_get_lbound_arf(&mut a.0, self.raw(), Self::slong(wp));
                arf_get_mpfr(f.as_raw_mut(), &a.0, mpfr::rnd_t::RNDD);
            }
        }
        f
    }
    /// An upper bound of `|x|` over the ball.
    pub fn mag_up(&self) -> Mag {
        let mut m = mag_struct { exp: 0, man: 0 };
        // SAFETY: initialised arb and mag.
        unsafe { arb_get_mag(&mut m, self.raw()) };
        mag_to_mag(&m)
    }
    /// A lower bound of `|x|` over the ball (0 if it contains 0).
    pub fn mag_down(&self) -> Mag {
        let mut m = mag_struct { exp: 0, man: 0 };
        // SAFETY: initialised arb and mag.
        unsafe { arb_get_mag_lower(&mut m, self.raw()) };
        if fmpz_is_mpz(m.exp) {
            return Mag::ZERO;
        }
        mag_to_mag(&m)
    }
    /// Does the ball contain `x`?
    pub fn contains(&self, x: &Float) -> bool {
        if self.is_nan() || x.is_nan() {
            return false;
        }
        let mut a = Arf::new();
        // SAFETY: initialised MPFR float, arf and arb.
        unsafe {
            arf_set_mpfr(&mut a.0, x.as_raw());
            arb_contains_arf(self.raw(), &a.0) != 0
        }
    }
    /// Does the ball contain the rational `q`? (Exact comparison.)
    pub fn contains_rational(&self, q: &Rational) -> bool {
        if self.is_nan() {
            return false;
        }
        if self.rad().is_inf() {
            return true;
        }
        let Some(m) = self.mid().to_rational() else {
            return false;
        };
        let r = self.rad().to_float().to_rational().expect("finite radius");
        (m - q).abs() <= r
    }
    /// Certainly `self < o` for every pair of points of the two balls.
    pub fn certainly_lt(&self, o: &Ball) -> bool {
        // SAFETY: initialised arbs.
        unsafe { arb_lt(self.raw(), o.raw()) != 0 }
    }
    /// Certainly `self ≤ o` for every pair of points.
    pub fn certainly_le(&self, o: &Ball) -> bool {
        // SAFETY: initialised arbs.
        unsafe { arb_le(self.raw(), o.raw()) != 0 }
    }
    /// Certainly positive.
    pub fn certainly_positive(&self) -> bool {
        // SAFETY: initialised arb.
        unsafe { arb_is_positive(self.raw()) != 0 }
    }
    /// Certainly negative.
    pub fn certainly_negative(&self) -> bool {
        // SAFETY: initialised arb.
        unsafe { arb_is_negative(self.raw()) != 0 }
    }
    /// Certainly nonnegative.
    pub fn certainly_nonnegative(&self) -> bool {
        // SAFETY: initialised arb.
        unsafe { arb_is_nonnegative(self.raw()) != 0 }
    }
    /// Contains zero (or is NaN).
    pub fn contains_zero(&self) -> bool {
        !(self.certainly_positive() || self.certainly_negative())
    }

    #[inline]
    fn mid_is_zero(&self) -> bool {
        self.b.mid.size == 0 && self.b.mid.exp == ARF_EXP_ZERO
    }
    #[inline]
    fn rad_is_zero(&self) -> bool {
        self.b.rad.man == 0 && self.b.rad.exp == 0
    }
    /// Exactly 1 (midpoint `0.1₂ · 2^1`, one limb, radius 0).
    #[inline]
    fn exact_one(&self) -> bool {
        self.rad_is_zero()
            && self.b.mid.size == 2
            && self.b.mid.exp == 1
            // SAFETY: one limb is stored inline.
            && unsafe { self.b.mid.d.noptr[0] } == 1 << 63
    }
    #[inline]
    fn finite(&self) -> bool {
        let m = &self.b.mid;
        (m.size != 0 || m.exp == ARF_EXP_ZERO)
            && !(self.b.rad.man == 0 && self.b.rad.exp == MAG_EXP_POS_INF)
    }
    /// `a·b` is an exact zero: one factor exactly 0, the other finite.
    #[inline]
    fn product_is_exact_zero(a: &Ball, b: &Ball) -> bool {
        (a.is_zero() && b.finite()) || (b.is_zero() && a.finite())
    }
    fn nan(&mut self) {
        // SAFETY: initialised arb.
        unsafe { arb_indeterminate(self.raw_mut()) }
    }
    /// The midpoint as an exact ball at `extra` guard bits above the working precision.
    fn point(&self, extra: u32) -> Ball {
        let mut p = Ball::zero_ball(self.prec + extra);
        // SAFETY: initialised arbs.
        unsafe {
            arb_set(p.raw_mut(), self.raw());
        }
        p.set_rad(Mag::ZERO);
        p
    }
    /// `self ← f(mid)` rounded to the working precision, with `f` evaluated on the exact
    /// midpoint with `guard` extra bits.
    fn at_midpoint(&mut self, guard: u32, f: impl Fn(&mut Ball)) {
        let mut p = self.point(guard);
        f(&mut p);
        let prec = Self::slong(self.prec);
        // SAFETY: initialised arbs.
        unsafe { arb_set_round(self.raw_mut(), p.raw(), prec) };
    }
    /// `self ← f(self)` for a nondecreasing `f` (given by its ball arithmetic on exact points):
    /// the union of the balls of `f` at the two ends encloses `f([lo, hi])`.
    fn monotone(&mut self, guard: u32, f: impl Fn(&mut Ball)) {
        if self.rad_is_zero() || self.is_nan() {
            return self.at_midpoint(guard, f);
        }
        if !self.finite() {
            return self.nan();
        }
        let wp = self.prec + guard;
        let (mut lo, mut hi) = (Ball::zero_ball(wp), Ball::zero_ball(wp));
        // SAFETY: initialised arbs; the bounds are written into their (exact) midpoints.
        unsafe {
            arb_get_lbound_arf(&mut lo.b.mid, self.raw(), Self::slong(wp));
            arb_get_ubound_arf(&mut hi.b.mid, self.raw(), Self::slong(wp));
        }
        f(&mut lo);
        f(&mut hi);
        let prec = Self::slong(self.prec);
        // SAFETY: initialised arbs.
        unsafe { arb_union(self.raw_mut(), lo.raw(), hi.raw(), prec) };
    }
    /// `self ← f(self)` by the mean-value form `f(mid) + f'(X)·[−r, r]`, `f'(X)` the ball
    /// enclosure of the derivative over the whole input ball `X`.
    fn mean_value(&mut self, guard: u32, f: impl Fn(&mut Ball), deriv: impl Fn(&mut Ball)) {
        if self.rad_is_zero() || self.is_nan() {
            return self.at_midpoint(guard, f);
        }
        if !self.finite() {
            return self.nan();
        }
        let r = self.rad();
        let mut d = self.clone();
        deriv(&mut d);
        self.at_midpoint(guard, f);
        self.add_rad(d.mag_up().mul(r));
    }
}

/// Our [`Mag`] from Arb's `mag_t` (exact; an exponent beyond 2^62 is read as `+∞`).
#[inline]
fn mag_to_mag(m: &mag_struct) -> Mag {
    if m.man == 0 {
        return if m.exp == MAG_EXP_POS_INF {
            Mag::INF
        } else {
            Mag::ZERO
        };
    }
    if fmpz_is_mpz(m.exp) {
        return Mag::INF;
    }
    // a normalised 30-bit mantissa shifted to our 32 bits: exact
    Mag::from_normalized(m.man << 2, m.exp - MAG_BITS - 2)
}

/// Arb's `mag_t` from our [`Mag`], rounded up.
fn set_mag(dst: &mut mag_struct, m: Mag) {
    // SAFETY: an initialised mag.
    unsafe {
        if m.is_inf() {
            mag_inf(dst);
        } else {
            let (man, exp) = m.parts();
            mag_set_ui_2exp_si(dst, man, exp);
        }
    }
}

impl Scalar for Ball {
    const KIND: &'static str = "ball";

    #[inline]
    fn precision(&self) -> u32 {
        self.prec
    }
    fn ulp_of_one(prec: u32) -> f64 {
        2f64.powi(1 - prec as i32)
    }
    fn effective_precision(prec: u32) -> u32 {
        prec
    }
    fn from_f64(x: f64, prec: u32) -> Self {
        let mut r = Ball::zero_ball(prec);
        r.set_f64(x);
        r
    }
    fn from_i64(x: i64, prec: u32) -> Self {
        let mut r = Ball::zero_ball(prec);
        r.set_i64(x);
        r
    }
    fn from_ratio(num: i64, den: i64, prec: u32) -> Self {
        let mut r = Ball::zero_ball(prec);
        // SAFETY: initialised arb; aliasing allowed.
        unsafe {
            arb_set_si(r.raw_mut(), num);
            let s = r.raw_mut();
            arb_div_si(s, s, den, Ball::slong(prec));
        }
        r
    }
    fn from_real(x: &Real, prec: u32) -> Self {
        Ball::from_float(&x.0, prec)
    }
    /// The midpoint (the radius is dropped: use [`Ball::upper`]/[`Ball::lower`] to keep it).
    fn to_real(&self) -> Real {
        Real(self.mid())
    }
    fn to_f64(&self) -> f64 {
        // SAFETY: an initialised arf.
        unsafe { arf_get_d(&self.b.mid, ARF_RND_NEAR) }
    }
    fn pi(prec: u32) -> Self {
        let mut r = Ball::zero_ball(prec);
        // SAFETY: initialised arb.
        unsafe { arb_const_pi(r.raw_mut(), Ball::slong(prec)) };
        r
    }
    fn sqrt_half_pi(prec: u32) -> Self {
        let mut r = Ball::pi(prec + 32);
        // SAFETY: initialised arb; aliasing allowed.
        unsafe {
            let s = r.raw_mut();
            arb_mul_2exp_si(s, s, -1);
            arb_sqrt(s, s, Ball::slong(prec + 32));
        }
        r.prec = prec;
        r.round_to_prec();
        r
    }
    #[inline]
    fn set(&mut self, other: &Self) {
        self.prec = self.prec.max(other.prec);
        // SAFETY: initialised arbs.
        unsafe { arb_set(self.raw_mut(), other.raw()) };
    }
    fn set_f64(&mut self, x: f64) {
        // SAFETY: initialised arb.
        unsafe { arb_set_d(self.raw_mut(), x) };
        if self.prec < 53 {
            self.round_to_prec();
        }
    }
    fn set_i64(&mut self, x: i64) {
        // SAFETY: initialised arb.
        unsafe { arb_set_si(self.raw_mut(), x) };
        if self.prec < 64 {
            self.round_to_prec();
        }
    }
    #[inline]
    fn add_assign_s(&mut self, o: &Self) {
        self.prec = self.prec.max(o.prec);
        let s = self.raw_mut();
        // SAFETY: initialised arbs; Arb allows the output to alias an input.
        unsafe { arb_add(s, s, o.raw(), self.prec as slong) };
    }
    #[inline]
    fn sub_assign_s(&mut self, o: &Self) {
        self.prec = self.prec.max(o.prec);
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_sub(s, s, o.raw(), self.prec as slong) };
    }
    #[inline]
    fn mul_assign_s(&mut self, o: &Self) {
        self.prec = self.prec.max(o.prec);
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_mul(s, s, o.raw(), self.prec as slong) };
    }
    /// Arb's `arb_mul` into `self` (no aliasing: Arb multiplies in place through a temporary).
    fn set_mul(&mut self, a: &Self, b: &Self) {
        self.prec = self.prec.max(a.prec).max(b.prec);
        let p = self.prec as slong;
        // SAFETY: initialised arbs; `self` is neither `a` nor `b` (borrows).
        unsafe { arb_mul(self.raw_mut(), a.raw(), b.raw(), p) };
    }
    fn div_assign_s(&mut self, o: &Self) {
        self.prec = self.prec.max(o.prec);
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_div(s, s, o.raw(), self.prec as slong) };
    }
    /// `self + a·b` (Arb's `arb_addmul`); an exact-zero product leaves `self` unchanged.
    #[inline]
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        self.prec = self.prec.max(a.prec).max(b.prec);
        if Ball::product_is_exact_zero(a, b) {
            return;
        }
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_addmul(s, a.raw(), b.raw(), self.prec as slong) };
    }
    /// `self·a + b·c` as `arb_mul` then `arb_addmul` (two roundings of the midpoint, both
    /// enclosed); an exact-one `a` and an exact-zero product are skipped.
    #[inline]
    fn mul_add_mul_assign(&mut self, a: &Self, b: &Self, c: &Self) {
        self.prec = self.prec.max(a.prec).max(b.prec).max(c.prec);
        let p = self.prec as slong;
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe {
            if !a.exact_one() {
                arb_mul(s, s, a.raw(), p);
            }
            if !Ball::product_is_exact_zero(b, c) {
                arb_addmul(s, b.raw(), c.raw(), p);
            }
        }
    }
    #[inline]
    fn neg_mut(&mut self) {
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_neg(s, s) };
    }
    #[inline]
    fn abs_mut(&mut self) {
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_abs(s, s) };
    }
    #[inline]
    fn exp_mut(&mut self) {
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_exp(s, s, self.prec as slong) };
    }
    /// Arb's `arb_log`: indeterminate unless the ball is certainly positive.
    fn ln_mut(&mut self) {
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_log(s, s, self.prec as slong) };
    }
    fn ln_1p_mut(&mut self) {
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_log1p(s, s, self.prec as slong) };
    }
    /// Arb's `arb_sqrt`: indeterminate if the ball reaches below 0.
    fn sqrt_mut(&mut self) {
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_sqrt(s, s, self.prec as slong) };
    }
    fn erf_mut(&mut self) {
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_hypgeom_erf(s, s, self.prec as slong) };
    }
    fn erfc_mut(&mut self) {
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_hypgeom_erfc(s, s, self.prec as slong) };
    }
    #[inline]
    fn is_finite(&self) -> bool {
        self.finite()
    }
    #[inline]
    fn is_nan(&self) -> bool {
        self.b.mid.size == 0 && self.b.mid.exp == ARF_EXP_NAN
    }
    /// Exactly zero (radius 0 too).
    #[inline]
    fn is_zero(&self) -> bool {
        self.mid_is_zero() && self.rad_is_zero()
    }
    /// The midpoint is negative (control flow only).
    #[inline]
    fn is_sign_negative(&self) -> bool {
        let m = &self.b.mid;
        if m.size == 0 {
            m.exp == ARF_EXP_NEG_INF
        } else {
            m.size & 1 == 1
        }
    }
    /// Arb has no `−0`: the midpoint's sign.
    #[inline]
    fn sign_bit(&self) -> bool {
        self.is_sign_negative()
    }
    #[inline]
    fn is_one(&self) -> bool {
        self.exact_one()
    }
    fn mid_cmp(&self, o: &Self) -> Option<Ordering> {
        if self.is_nan() || o.is_nan() {
            return None;
        }
        // SAFETY: initialised arfs, neither NaN.
        Some(unsafe { arf_cmp(&self.b.mid, &o.b.mid) }.cmp(&0))
    }
    fn certainly_gt(&self, o: &Self) -> bool {
        // SAFETY: initialised arbs.
        unsafe { arb_gt(self.raw(), o.raw()) != 0 }
    }
    fn certainly_ge(&self, o: &Self) -> bool {
        // SAFETY: initialised arbs.
        unsafe { arb_ge(self.raw(), o.raw()) != 0 }
    }
    fn log10_abs(&self) -> f64 {
        let m = &self.b.mid;
        if m.size == 0 {
            return match m.exp {
                ARF_EXP_ZERO => f64::NEG_INFINITY,
                ARF_EXP_NAN => f64::NAN,
                _ => f64::INFINITY,
            };
        }
        if fmpz_is_mpz(m.exp) {
            return self.mid().to_f64().abs().log10();
        }
        // |mid| = 0.top… · 2^exp, the top limb normalised (its high bit set).
        let limbs = (m.size >> 1) as usize;
        // SAFETY: `limbs` limbs are stored inline (≤ 2) or behind the pointer.
        let top = unsafe {
            if limbs <= 2 {
                m.d.noptr[limbs - 1]
            } else {
                *m.d.ptr.d.add(limbs - 1)
            }
        };
        ((top as f64).log2() - 64.0 + m.exp as f64) * std::f64::consts::LOG10_2
    }
    /// Arb's `arb_max`: an enclosure of `max` over both balls.
    fn max_s(&self, o: &Self) -> Self {
        let mut r = Ball::zero_ball(self.prec.max(o.prec));
        // SAFETY: initialised arbs.
        unsafe { arb_max(r.raw_mut(), self.raw(), o.raw(), r.prec as slong) };
        r
    }
    fn min_s(&self, o: &Self) -> Self {
        let mut r = Ball::zero_ball(self.prec.max(o.prec));
        // SAFETY: initialised arbs.
        unsafe { arb_min(r.raw_mut(), self.raw(), o.raw(), r.prec as slong) };
        r
    }
    /// Arb's `arb_nonnegative_part`: exact on a ball that is certainly ≥ 0, zero on one
    /// certainly < 0, and `[r/2 ± r/2]` (`r` the upper end) across 0.
    fn relu_mut(&mut self) {
        let s = self.raw_mut();
        // SAFETY: as above.
        unsafe { arb_nonnegative_part(s, s) };
    }
    /// Nondecreasing: the union of the ends' images.
    fn sigmoid_mut(&mut self) {
        self.monotone(16, sigmoid_point);
    }
    /// Nondecreasing: the union of the ends' images.
    fn softplus_mut(&mut self) {
        self.monotone(16, softplus_point);
    }
    /// Mean-value form with `SiLU'(t) = σ(t)(1 + t(1 − σ(t)))`.
    fn silu_mut(&mut self) {
        self.mean_value(
            16,
            |x| {
                let t = x.clone();
                sigmoid_point(x);
                x.mul_assign_s(&t);
            },
            |x| {
                let t = x.clone();
                sigmoid_point(x);
                let mut one_minus = Ball::one(x.prec);
                one_minus.sub_assign_s(x);
                one_minus.mul_assign_s(&t);
                one_minus.add_assign_s(&Ball::one(x.prec));
                x.mul_assign_s(&one_minus);
            },
        );
    }
    /// Mean-value form with `GeLU'(t) = Φ(t) + t φ(t)`. The midpoint value is formed with
    /// `2·log2|x| + 16` guard bits (erfc amplifies its argument's error).
    fn gelu_mut(&mut self) {
        let guard = self.cdf_guard();
        self.mean_value(
            guard,
            |x| {
                let t = x.clone();
                normal_cdf_point(x);
                x.mul_assign_s(&t);
            },
            |x| {
                let mut density = x.clone();
                normal_density(&mut density);
                density.mul_assign_s(x);
                normal_cdf_point(x);
                x.add_assign_s(&density);
            },
        );
    }
    /// Nondecreasing: the union of the ends' images.
    fn normal_cdf(&self) -> Self {
        let mut out = self.clone();
        out.monotone(self.cdf_guard(), normal_cdf_point);
        out
    }
}

impl Ball {
    /// Guard bits for `Φ` at this ball: `2·log2|mid| + 16`.
    fn cdf_guard(&self) -> u32 {
        let l = self.log10_abs() / std::f64::consts::LOG10_2;
        let mag = if l.is_finite() && l > 0.0 {
            (l.ceil() as u32).min(1 << 20)
        } else {
            0
        };
        2 * mag + 16
    }
}

/// `σ(x)` by ball arithmetic (both branches are identities for every x).
fn sigmoid_point(x: &mut Ball) {
    let p = x.precision();
    if x.is_sign_negative() {
        x.exp_mut();
        let mut den = Ball::one(p);
        den.add_assign_s(x);
        x.div_assign_s(&den);
    } else {
        x.neg_mut();
        x.exp_mut();
        let mut one = Ball::one(p);
        x.add_assign_s(&one);
        one.div_assign_s(x);
        x.set(&one);
    }
}

/// `ln(1 + e^x)` by ball arithmetic.
fn softplus_point(x: &mut Ball) {
    if x.is_sign_negative() || x.mid_is_zero() {
        x.exp_mut();
        x.ln_1p_mut();
    } else {
        let mut t = x.neg();
        t.exp_mut();
        t.ln_1p_mut();
        x.add_assign_s(&t);
    }
}

/// `Φ(x) = erfc(−x/√2)/2` by ball arithmetic.
fn normal_cdf_point(x: &mut Ball) {
    let p = x.precision();
    let mut sqrt2 = Ball::from_i64(2, p);
    sqrt2.sqrt_mut();
    x.neg_mut();
    x.div_assign_s(&sqrt2);
    x.erfc_mut();
    x.mul_assign_s(&Ball::from_ratio(1, 2, p));
}

/// `φ(x) = e^{−x²/2}/√(2π)` by ball arithmetic.
fn normal_density(x: &mut Ball) {
    let p = x.precision();
    let t = x.clone();
    x.mul_assign_s(&t);
    x.mul_assign_s(&Ball::from_ratio(-1, 2, p));
    x.exp_mut();
    let mut two_pi = Ball::pi(p);
    two_pi.mul_assign_s(&Ball::from_i64(2, p));
    two_pi.sqrt_mut();
    x.div_assign_s(&two_pi);
}
