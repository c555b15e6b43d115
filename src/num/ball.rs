//! `Ball`: a midpoint–radius enclosure `[mid − rad, mid + rad]` of a real number, the third
//! [`Scalar`] beside `f64` and [`Real`], so the same model code runs in it.
//!
//! **Invariant (the proof obligation of every operation):** if each input ball contains a real
//! number, the output ball contains the exact real result of the operation applied to them.
//! - `mid` is an MPFR float at the working precision `p`, rounded to nearest. Whenever MPFR
//!   reports an inexact result (nonzero ternary value), the rounding error
//!   `≤ ulp/2 ≤ 2^(EXP(mid) − p)` (MPFR's `EXP`: `|mid| < 2^EXP`) is added to the radius.
//! - `rad` is a [`Mag`]: 32-bit mantissa, unbounded exponent, every operation rounded up.
//! - Arithmetic propagates radii by the exact bilinear/quotient formulas; each elementary
//!   function `f` adds `r · sup_{|t−mid|≤r} |f'(t)|` (a derivative bound over the whole ball, each
//!   one stated where it is computed) to the rounding error of `f(mid)`.
//! - Composite activations (sigmoid, softplus, SiLU, GeLU, Φ) evaluate `f(mid)` by ball
//!   arithmetic on the exact midpoint with guard bits (so their rounding errors are enclosed
//!   too), then add the derivative term: no dependency blow-up.
//! - A result that cannot be enclosed (division by a ball containing 0, `ln` of a ball reaching
//!   0, an MPFR overflow/underflow) gets an infinite radius: it decides nothing.
//!
//! **Comparisons.** `PartialOrd`/`PartialEq`, `is_sign_negative`, `max_s`/`min_s` on midpoints
//! serve control flow only (a branch between two formulas that are both valid everywhere, such
//! as sigmoid's two forms, stays an enclosure). They never certify anything: certified
//! decisions go through [`Ball::certainly_lt`], [`Ball::certainly_le`], [`Ball::upper`],
//! [`Ball::lower`], which see the radius. `relu_mut`, `abs_mut` and `max_s` are overridden to be
//! enclosures also when the ball straddles the kink. `is_zero` means *exactly* zero (radius 0),
//! so a construction never drops an uncertain weight.

use super::{Mag, Real, Scalar};
use gmp_mpfr_sys::mpfr;
use rug::float::{Constant, Round};
use rug::ops::{AddAssignRound, AssignRound, SubAssignRound};
use rug::{Assign, Float, Rational};
use std::cmp::Ordering;
use std::fmt;

const RNDN: mpfr::rnd_t = mpfr::rnd_t::RNDN;

/// A real number enclosed in `[mid − rad, mid + rad]`.
pub struct Ball {
    pub mid: Float,
    pub rad: Mag,
}

impl Clone for Ball {
    fn clone(&self) -> Self {
        Ball {
            mid: self.mid.clone(),
            rad: self.rad,
        }
    }
    fn clone_from(&mut self, source: &Self) {
        if self.mid.prec() == source.mid.prec() {
            self.mid.assign(&source.mid);
        } else {
            self.mid = source.mid.clone();
        }
        self.rad = source.rad;
    }
}

impl fmt::Debug for Ball {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ± {:.3e}[{}b]",
            self.mid.to_string_radix(10, Some(20)),
            self.rad.to_f64(),
            self.mid.prec()
        )
    }
}

impl PartialEq for Ball {
    /// Same midpoint and radius (a representation equality, not a certified one).
    fn eq(&self, o: &Self) -> bool {
        self.mid == o.mid && self.rad == o.rad
    }
}

impl PartialOrd for Ball {
    /// Midpoint order, for control flow only (see the module docs); certified comparisons are
    /// [`Ball::certainly_lt`] and [`Ball::certainly_le`].
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        self.mid.partial_cmp(&o.mid)
    }
}

/// Error bound of a round-to-nearest result `r` at `p` bits when MPFR's ternary value is `t`:
/// `ulp/2 ≤ 2^(EXP(r) − p)`. At the bottom of MPFR's exponent range (underflow to 0 or to the
/// smallest positive number) the error is at most `2^emin`, which a `Mag` still represents;
/// an overflow (±∞) encloses nothing.
#[inline]
fn rounding_error(r: &Float, t: i32) -> Mag {
    if t == 0 {
        return Mag::ZERO;
    }
    if !r.is_finite() {
        return Mag::INF;
    }
    if r.is_zero() {
        // SAFETY: reading MPFR's current minimum exponent has no preconditions.
        return Mag::pow2(unsafe { mpfr::get_emin() });
    }
    // SAFETY: `r` is finite and nonzero, so its exponent field is its true exponent; reading
    // MPFR's current minimum exponent has no preconditions.
    let (e, emin) = unsafe { ((*r.as_raw()).exp, mpfr::get_emin()) };
    debug_assert!(e >= emin, "MPFR exponent {e} below emin {emin}");
    let err = Mag::pow2(e - r.prec() as i64);
    // Away from the bottom of the exponent range no underflow is possible. At its bottom a
    // result may have underflowed to the smallest positive number `2^(emin−1)`: the error is
    // then below `2^emin`, which the radius adds.
    if e > emin + 1 {
        err
    } else {
        err.add(Mag::pow2(emin))
    }
}

/// `2/√π ≈ 1.128379` rounded up, the global bound of `|erf'|`.
const TWO_OVER_SQRT_PI_UP: f64 = 1.13;
/// `1/√(2π) ≈ 0.398942` rounded up, the global bound of `φ`.
const INV_SQRT_2PI_UP: f64 = 0.39895;
/// `max_t GeLU'(t) ≈ 1.1289` (at `t = √2`), rounded up.
const GELU_DERIV_MAX: f64 = 1.13;
/// `max_t SiLU'(t) ≈ 1.0998` (at `t ≈ 2.40`), rounded up.
const SILU_DERIV_MAX: f64 = 1.1;

fn up(x: f64) -> Mag {
    // The f64 constants above are already rounded up; `from_f64_up` is exact on them.
    Mag::from_f64_up(x)
}

impl Ball {
    /// The exact ball `{x}` at `prec` bits (rounding `x` to `prec`, with the error enclosed).
    pub fn from_float(x: &Float, prec: u32) -> Ball {
        let mut mid = Float::new(prec);
        let t = mid.assign_round(x, Round::Nearest);
        let rad = rounding_error(&mid, t as i32);
        Ball { mid, rad }
    }
    /// `[mid − rad, mid + rad]` from an exact midpoint (rounded to `prec` with the error added).
    pub fn with_radius(mid: &Float, rad: Mag, prec: u32) -> Ball {
        let mut b = Ball::from_float(mid, prec);
        b.rad = b.rad.add(rad);
        b
    }
    /// A ball (at `prec`) containing `[lo, hi]`: midpoint near `(lo + hi)/2`, radius
    /// `max(hi − mid, mid − lo)` rounded up (valid whatever the midpoint's rounding).
    pub fn from_endpoints(lo: &Float, hi: &Float, prec: u32) -> Ball {
        let wp = lo.prec().max(hi.prec()).max(prec) + 2;
        let mut m = Float::with_val(wp, lo + hi);
        m /= 2;
        let mut mid = Float::new(prec);
        mid.assign_round(&m, Round::Nearest);
        let mut up_gap = Float::new(64);
        up_gap.assign_round(hi - &mid, Round::Up);
        let mut down_gap = Float::new(64);
        down_gap.assign_round(&mid - lo, Round::Up);
        let rad = Mag::from_float_up(&up_gap).max(Mag::from_float_up(&down_gap));
        Ball { mid, rad }
    }

    pub fn rad(&self) -> Mag {
        self.rad
    }
    pub fn mid(&self) -> &Float {
        &self.mid
    }
    /// Radius as an f64 (for reports).
    pub fn rad_f64(&self) -> f64 {
        self.rad.to_f64()
    }
    /// The certified upper end `mid + rad`, rounded up (64 guard bits above the midpoint).
    pub fn upper(&self) -> Float {
        let mut u = Float::new(self.mid.prec() + 64);
        u.assign_round(&self.mid, Round::Up);
        let r = self.rad.to_float();
        u.add_assign_round(&r, Round::Up);
        u
    }
    /// The certified lower end `mid − rad`, rounded down.
    pub fn lower(&self) -> Float {
        let mut l = Float::new(self.mid.prec() + 64);
        l.assign_round(&self.mid, Round::Down);
        let r = self.rad.to_float();
        l.sub_assign_round(&r, Round::Down);
        l
    }
    /// An upper bound of `|x|` over the ball.
    pub fn mag_up(&self) -> Mag {
        Mag::from_float_up(&self.mid).add(self.rad)
    }
    /// A lower bound of `|x|` over the ball (0 if it contains 0).
    pub fn mag_down(&self) -> Mag {
        Mag::from_float_down(&self.mid).sub_down(self.rad)
    }
    /// Does the ball contain `x`?
    pub fn contains(&self, x: &Float) -> bool {
        if self.mid.is_nan() || x.is_nan() {
            return false;
        }
        if self.rad.is_inf() {
            return true;
        }
        let d = Float::with_val(self.mid.prec().max(x.prec()) + 64, &self.mid - x).abs();
        d <= self.rad.to_float()
    }
    /// Does the ball contain the rational `q`? (Exact comparison.)
    pub fn contains_rational(&self, q: &Rational) -> bool {
        if !self.mid.is_finite() {
            return self.rad.is_inf() && !self.mid.is_nan();
        }
        if self.rad.is_inf() {
            return true;
        }
        let m = self.mid.to_rational().expect("finite");
        let r = self.rad.to_float().to_rational().expect("finite");
        (m - q).abs() <= r
    }
    /// The sign of `mid − rad` (`lower`), or of `mid + rad` (`!lower`), decided exactly on
    /// the midpoint and the radius's `man · 2^exp` without allocating: what comparing
    /// [`Ball::lower`] or [`Ball::upper`] with 0 gives. `None` (the caller compares the ends)
    /// for a NaN midpoint, an infinite radius or an exponent far outside MPFR's range.
    #[inline]
    fn end_sign(&self, lower: bool) -> Option<Ordering> {
        if self.mid.is_nan() || self.rad.is_inf() {
            return None;
        }
        if self.rad.is_zero() {
            return self.mid.cmp0();
        }
        let (man, exp) = self.rad.parts();
        if exp.unsigned_abs() > 1 << 29 {
            return None;
        }
        // SAFETY: an initialised float; MPFR compares it with ±man·2^exp exactly.
        let c = unsafe {
            if lower {
                mpfr::cmp_ui_2exp(self.mid.as_raw(), man as _, exp as _)
            } else {
                mpfr::cmp_si_2exp(self.mid.as_raw(), -(man as i64) as _, exp as _)
            }
        };
        Some(c.cmp(&0))
    }
    /// Certainly `self < o` for every pair of points of the two balls.
    pub fn certainly_lt(&self, o: &Ball) -> bool {
        self.upper() < o.lower()
    }
    /// Certainly `self ≤ o` for every pair of points.
    pub fn certainly_le(&self, o: &Ball) -> bool {
        self.upper() <= o.lower()
    }
    /// Certainly positive.
    pub fn certainly_positive(&self) -> bool {
        self.lower() > 0
    }
    /// Certainly negative.
    pub fn certainly_negative(&self) -> bool {
        self.upper() < 0
    }
    /// Certainly nonnegative.
    pub fn certainly_nonnegative(&self) -> bool {
        match self.end_sign(true) {
            Some(o) => o != Ordering::Less,
            None => self.lower() >= 0,
        }
    }
    /// Contains zero (or is NaN).
    pub fn contains_zero(&self) -> bool {
        !(self.certainly_positive() || self.certainly_negative())
    }

    #[inline]
    fn widen_to(&mut self, prec: u32) {
        if prec > self.mid.prec() {
            self.mid.set_prec(prec);
        }
    }
    #[inline]
    fn add_err(&mut self, t: i32) {
        if t != 0 {
            self.rad = self.rad.add(rounding_error(&self.mid, t));
        }
    }
    #[inline]
    fn nan(&mut self) {
        self.mid.assign(rug::float::Special::Nan);
        self.rad = Mag::INF;
    }

    /// Replace `self` by `f(self)` given `f(mid)` computed by `point` (a ball around the exact
    /// value at the midpoint) and `deriv`, an upper bound of `|f'|` over the whole input ball.
    fn finish_unary(&mut self, point: Ball, deriv: Mag) {
        let r = self.rad;
        let p = self.mid.prec();
        let t = self.mid.assign_round(&point.mid, Round::Nearest) as i32;
        self.rad = point.rad;
        self.add_err(t);
        debug_assert_eq!(self.mid.prec(), p);
        if !r.is_zero() {
            self.rad = self.rad.add(deriv.mul(r));
        }
    }

    /// The midpoint as an exact ball at `extra` guard bits above the working precision.
    fn point(&self, extra: u32) -> Ball {
        let wp = self.mid.prec() + extra;
        Ball {
            mid: Float::with_val(wp, &self.mid),
            rad: Mag::ZERO,
        }
    }

    /// Upper end `mid + rad` as a Float (rounded up), for derivative bounds.
    fn hi(&self) -> Float {
        self.upper()
    }
    /// Lower end `mid − rad` (rounded down).
    fn lo(&self) -> Float {
        self.lower()
    }
}

/// `e^{-x²/2}`-type factors at low precision, rounded up; `x` is exact.
fn exp_neg_sq_up(x: &Float, half: bool) -> Mag {
    let mut s = Float::new(64);
    s.assign_round(x * x, Round::Down);
    if half {
        s /= 2;
    }
    s.neg_assign_fix();
    s.exp_round(Round::Up);
    Mag::from_float_up(&s)
}

trait NegFix {
    fn neg_assign_fix(&mut self);
}
impl NegFix for Float {
    fn neg_assign_fix(&mut self) {
        rug::ops::NegAssign::neg_assign(self);
    }
}

/// `e^{x}` rounded up for an exact `x`.
fn exp_up(x: &Float) -> Mag {
    let mut s = Float::new(64);
    s.assign_round(x, Round::Up);
    s.exp_round(Round::Up);
    Mag::from_float_up(&s)
}

impl Scalar for Ball {
    const KIND: &'static str = "ball";

    #[inline]
    fn precision(&self) -> u32 {
        self.mid.prec()
    }
    fn ulp_of_one(prec: u32) -> f64 {
        2f64.powi(1 - prec as i32)
    }
    fn effective_precision(prec: u32) -> u32 {
        prec
    }
    fn from_f64(x: f64, prec: u32) -> Self {
        Ball::from_float(&Float::with_val(53, x), prec)
    }
    fn from_i64(x: i64, prec: u32) -> Self {
        Ball::from_float(&Float::with_val(64, x), prec)
    }
    fn from_ratio(num: i64, den: i64, prec: u32) -> Self {
        let mut mid = Float::new(prec);
        let t = mid.assign_round(Rational::from((num, den)), Round::Nearest) as i32;
        let rad = rounding_error(&mid, t);
        Ball { mid, rad }
    }
    fn from_real(x: &Real, prec: u32) -> Self {
        Ball::from_float(&x.0, prec)
    }
    /// The midpoint (the radius is dropped: use [`Ball::upper`]/[`Ball::lower`] to keep it).
    fn to_real(&self) -> Real {
        Real(self.mid.clone())
    }
    fn to_f64(&self) -> f64 {
        self.mid.to_f64()
    }
    fn pi(prec: u32) -> Self {
        let mut mid = Float::new(prec);
        let t = mid.assign_round(Constant::Pi, Round::Nearest) as i32;
        let rad = rounding_error(&mid, t);
        Ball { mid, rad }
    }
    fn sqrt_half_pi(prec: u32) -> Self {
        let mut b = Ball::pi(prec + 32);
        b.mul_assign_s(&Ball::from_ratio(1, 2, prec + 32));
        b.sqrt_mut();
        let mut out = Ball::zero(prec);
        out.finish_unary(b, Mag::ZERO);
        out
    }
    #[inline]
    fn set(&mut self, other: &Self) {
        self.widen_to(other.mid.prec());
        self.mid.assign(&other.mid);
        self.rad = other.rad;
    }
    fn set_f64(&mut self, x: f64) {
        let t = self.mid.assign_round(x, Round::Nearest) as i32;
        self.rad = Mag::ZERO;
        self.add_err(t);
    }
    fn set_i64(&mut self, x: i64) {
        let t = self.mid.assign_round(x, Round::Nearest) as i32;
        self.rad = Mag::ZERO;
        self.add_err(t);
    }
    #[inline]
    fn add_assign_s(&mut self, o: &Self) {
        self.widen_to(o.mid.prec());
        // SAFETY: initialised floats; MPFR allows the output to alias an input.
        let t = unsafe {
            let s = self.mid.as_raw_mut();
            mpfr::add(s, s, o.mid.as_raw(), RNDN)
        };
        self.rad = self.rad.add(o.rad);
        self.add_err(t);
    }
    #[inline]
    fn sub_assign_s(&mut self, o: &Self) {
        self.widen_to(o.mid.prec());
        // SAFETY: as above.
        let t = unsafe {
            let s = self.mid.as_raw_mut();
            mpfr::sub(s, s, o.mid.as_raw(), RNDN)
        };
        self.rad = self.rad.add(o.rad);
        self.add_err(t);
    }
    #[inline]
    fn mul_assign_s(&mut self, o: &Self) {
        self.widen_to(o.mid.prec());
        // |xy − m_x m_y| ≤ |m_x| r_y + |m_y| r_x + r_x r_y
        let rad = Mag::from_float_up(&self.mid)
            .mul(o.rad)
            .add(Mag::from_float_up(&o.mid).mul(self.rad))
            .add(self.rad.mul(o.rad));
        // SAFETY: as above.
        let t = unsafe {
            let s = self.mid.as_raw_mut();
            mpfr::mul(s, s, o.mid.as_raw(), RNDN)
        };
        self.rad = rad;
        self.add_err(t);
    }
    fn div_assign_s(&mut self, o: &Self) {
        self.widen_to(o.mid.prec());
        let den_lo = o.mag_down();
        if den_lo.is_zero() {
            self.nan();
            return;
        }
        let r_num = self.rad;
        // SAFETY: as above.
        let t = unsafe {
            let s = self.mid.as_raw_mut();
            mpfr::div(s, s, o.mid.as_raw(), RNDN)
        };
        // |x/y − m_x/m_y| ≤ (r_x + |m_x/m_y| r_y) / (|m_y| − r_y), |m_x/m_y| ≤ |q| + err(q)
        let err = rounding_error(&self.mid, t);
        let q = Mag::from_float_up(&self.mid).add(err);
        self.rad = r_num.add(q.mul(o.rad)).div(den_lo).add(err);
    }
    #[inline]
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        self.widen_to(a.mid.prec().max(b.mid.prec()));
        let rad = Mag::from_float_up(&a.mid)
            .mul(b.rad)
            .add(Mag::from_float_up(&b.mid).mul(a.rad))
            .add(a.rad.mul(b.rad))
            .add(self.rad);
        // SAFETY: as above; fma rounds s + a·b once.
        let t = unsafe {
            let s = self.mid.as_raw_mut();
            mpfr::fma(s, a.mid.as_raw(), b.mid.as_raw(), s, RNDN)
        };
        self.rad = rad;
        self.add_err(t);
    }
    #[inline]
    fn mul_add_mul_assign(&mut self, a: &Self, b: &Self, c: &Self) {
        self.widen_to(a.mid.prec().max(b.mid.prec()).max(c.mid.prec()));
        let rad = Mag::from_float_up(&self.mid)
            .mul(a.rad)
            .add(Mag::from_float_up(&a.mid).mul(self.rad))
            .add(self.rad.mul(a.rad))
            .add(Mag::from_float_up(&b.mid).mul(c.rad))
            .add(Mag::from_float_up(&c.mid).mul(b.rad))
            .add(b.rad.mul(c.rad));
        // SAFETY: as above; fmma rounds s·a + b·c once.
        let t = unsafe {
            let s = self.mid.as_raw_mut();
            mpfr::fmma(s, s, a.mid.as_raw(), b.mid.as_raw(), c.mid.as_raw(), RNDN)
        };
        self.rad = rad;
        self.add_err(t);
    }
    #[inline]
    fn neg_mut(&mut self) {
        rug::ops::NegAssign::neg_assign(&mut self.mid);
    }
    /// `|·|` is 1-Lipschitz, so `|mid| ± rad` encloses `|x|` even across 0.
    #[inline]
    fn abs_mut(&mut self) {
        self.mid.abs_mut();
    }
    /// `|e^t − e^m| ≤ e^m (e^r − 1) ≤ e^m · r e^r` for `|t − m| ≤ r`, and `e^m ≤ |mid'| + err`.
    #[inline]
    fn exp_mut(&mut self) {
        let r = self.rad;
        // SAFETY: as above.
        let t = unsafe {
            let s = self.mid.as_raw_mut();
            mpfr::exp(s, s, RNDN)
        };
        let err = rounding_error(&self.mid, t);
        self.rad = err;
        if !r.is_zero() {
            // e^r ≤ 1 + 2r for r ≤ 1 (no allocation in the common case).
            let er = if r <= Mag::pow2(-1) {
                Mag::pow2(0).add(r.mul_2exp(1))
            } else {
                r.exp_up()
            };
            let em = Mag::from_float_up(&self.mid).add(err);
            self.rad = self.rad.add(em.mul(r).mul(er));
        }
    }
    /// `|ln' | = 1/t ≤ 1/(m − r)` over the ball; NaN unless the ball is certainly positive.
    fn ln_mut(&mut self) {
        let lo = if self.mid.is_sign_positive() {
            self.mag_down()
        } else {
            Mag::ZERO
        };
        if lo.is_zero() {
            self.nan();
            return;
        }
        let mut p = self.point(0);
        p.add_err_after(|m| m.ln_round(Round::Nearest) as i32);
        self.finish_unary(p, Mag::pow2(0).div(lo));
    }
    /// `ln1p' = 1/(1+t) ≤ 1/(1 + m − r)`; NaN unless `1 + m − r > 0`.
    fn ln_1p_mut(&mut self) {
        let mut one_plus = Float::new(self.mid.prec() + 2);
        one_plus.assign_round(&self.mid + 1u32, Round::Down);
        let lo = if one_plus.is_sign_positive() && !one_plus.is_zero() {
            Mag::from_float_down(&one_plus).sub_down(self.rad)
        } else {
            Mag::ZERO
        };
        if lo.is_zero() {
            self.nan();
            return;
        }
        let mut p = self.point(0);
        p.add_err_after(|m| m.ln_1p_round(Round::Nearest) as i32);
        self.finish_unary(p, Mag::pow2(0).div(lo));
    }
    /// `sqrt' = 1/(2√t) ≤ 1/(2√(m − r))`; a ball reaching `[0, hi]` encloses `[0, √hi]`;
    /// NaN if the ball reaches below 0.
    fn sqrt_mut(&mut self) {
        let lo = self.lo();
        if lo.is_sign_negative() && !lo.is_zero() {
            if self.rad.is_zero() || self.hi().is_sign_negative() {
                self.nan();
                return;
            }
            // Part of the ball is negative: NaN (as Arb), the exact result is not real there.
            self.nan();
            return;
        }
        if self.rad.is_zero() {
            let t = self.mid.sqrt_round(Round::Nearest) as i32;
            self.add_err(t);
            return;
        }
        if lo.is_zero() {
            // [0, hi]: ball (√hi/2) ± (√hi/2)
            let mut h = self.hi();
            h.sqrt_round(Round::Up);
            h /= 2;
            let p = self.mid.prec();
            *self = Ball::with_radius(&h, Mag::from_float_up(&h), p);
            return;
        }
        let mut s = Float::new(64);
        s.assign_round(&lo, Round::Down);
        s.sqrt_round(Round::Down);
        let deriv = Mag::pow2(-1).div(Mag::from_float_down(&s));
        let mut p = self.point(0);
        p.add_err_after(|m| m.sqrt_round(Round::Nearest) as i32);
        self.finish_unary(p, deriv);
    }
    /// `|erf'(t)| = (2/√π) e^{−t²} ≤ (2/√π) e^{−lo²}`, `lo = max(0, |m| − r)`.
    fn erf_mut(&mut self) {
        let deriv = up(TWO_OVER_SQRT_PI_UP).mul(exp_neg_sq_up(&self.mag_down().to_float(), false));
        let mut p = self.point(0);
        p.add_err_after(|m| m.erf_round(Round::Nearest) as i32);
        self.finish_unary(p, deriv);
    }
    /// Same derivative bound as `erf`.
    fn erfc_mut(&mut self) {
        let deriv = up(TWO_OVER_SQRT_PI_UP).mul(exp_neg_sq_up(&self.mag_down().to_float(), false));
        let mut p = self.point(0);
        p.add_err_after(|m| m.erfc_round(Round::Nearest) as i32);
        self.finish_unary(p, deriv);
    }
    #[inline]
    fn is_finite(&self) -> bool {
        self.mid.is_finite() && !self.rad.is_inf()
    }
    #[inline]
    fn is_nan(&self) -> bool {
        self.mid.is_nan()
    }
    /// Exactly zero (radius 0 too).
    #[inline]
    fn is_zero(&self) -> bool {
        self.mid.is_zero() && self.rad.is_zero()
    }
    fn is_sign_negative(&self) -> bool {
        self.mid.is_sign_negative() && !self.mid.is_zero()
    }
    #[inline]
    fn sign_bit(&self) -> bool {
        self.mid.is_sign_negative()
    }
    #[inline]
    fn is_one(&self) -> bool {
        self.mid == 1 && self.rad.is_zero()
    }
    fn log10_abs(&self) -> f64 {
        Real(self.mid.clone()).log10_abs()
    }
    /// `max` is 1-Lipschitz in each argument: `max(m_a, m_b) ± max(r_a, r_b)` encloses it.
    fn max_s(&self, o: &Self) -> Self {
        let mut r = if o.mid > self.mid {
            o.clone()
        } else {
            self.clone()
        };
        r.rad = self.rad.max(o.rad);
        r
    }
    fn min_s(&self, o: &Self) -> Self {
        let mut r = if o.mid < self.mid {
            o.clone()
        } else {
            self.clone()
        };
        r.rad = self.rad.max(o.rad);
        r
    }
    /// Exact on a ball that is certainly ≥ 0 or ≤ 0; across 0, the ball of `[0, hi]`.
    fn relu_mut(&mut self) {
        if self.certainly_nonnegative() {
            return;
        }
        let nonpositive = match self.end_sign(false) {
            Some(o) => o != Ordering::Greater,
            None => self.upper() <= 0,
        };
        if nonpositive {
            self.set_i64(0);
            return;
        }
        let mut h = self.hi();
        h /= 2;
        let p = self.mid.prec();
        *self = Ball::with_radius(&h, Mag::from_float_up(&h), p);
    }
    /// `σ' = σ(t)σ(−t) ≤ min(1/4, e^{−|t|})`.
    fn sigmoid_mut(&mut self) {
        let deriv = up(0.25).min(exp_up(&neg(&self.mag_down().to_float())));
        let mut p = self.point(16);
        sigmoid_point(&mut p);
        self.finish_unary(p, deriv);
    }
    /// `softplus' = σ(t) ≤ min(1, e^{hi})`.
    fn softplus_mut(&mut self) {
        let deriv = up(1.0).min(exp_up(&self.hi()));
        let mut p = self.point(16);
        softplus_point(&mut p);
        self.finish_unary(p, deriv);
    }
    /// `|SiLU'| ≤ 1.1` everywhere; for `t ≤ hi ≤ −1`, `|SiLU'(t)| = σ(t)|1 + tσ(−t)| ≤
    /// (1 + |t|)e^{t} ≤ (1 + |hi|)e^{hi}` (increasing in `t` there).
    fn silu_mut(&mut self) {
        let hi = self.hi();
        let deriv = if hi <= -1 {
            let a = Mag::from_float_up(&hi);
            Mag::pow2(0).add(a).mul(exp_up(&hi)).min(up(SILU_DERIV_MAX))
        } else {
            up(SILU_DERIV_MAX)
        };
        let mut p = self.point(16);
        let x = p.clone();
        sigmoid_point(&mut p);
        p.mul_assign_s(&x);
        self.finish_unary(p, deriv);
    }
    /// `|GeLU'| ≤ 1.13` everywhere; for `t ≤ hi ≤ −1`, `|GeLU'(t)| = |Φ(t) + tφ(t)| ≤ |t|φ(t)
    /// ≤ |hi|φ(hi)` (`Φ(t) ≤ φ(t)/|t|`, and `|t|φ(t)` decreases for `|t| ≥ 1`). The midpoint
    /// value is formed with `2·log2|x| + 16` guard bits (erfc amplifies its argument's error).
    fn gelu_mut(&mut self) {
        let hi = self.hi();
        let deriv = if hi <= -1 {
            let a = Mag::from_float_up(&hi);
            a.mul(up(INV_SQRT_2PI_UP))
                .mul(exp_neg_sq_up(&hi, true))
                .min(up(GELU_DERIV_MAX))
        } else {
            up(GELU_DERIV_MAX)
        };
        let mag = self.mid.get_exp().unwrap_or(0).max(0) as u32;
        let mut p = self.point(2 * mag + 16);
        let x = p.clone();
        normal_cdf_point(&mut p);
        p.mul_assign_s(&x);
        self.finish_unary(p, deriv);
    }
    /// `Φ' = φ(t) ≤ φ(lo)`, `lo = max(0, |m| − r)`.
    fn normal_cdf(&self) -> Self {
        let deriv = up(INV_SQRT_2PI_UP).mul(exp_neg_sq_up(&self.mag_down().to_float(), true));
        let mag = self.mid.get_exp().unwrap_or(0).max(0) as u32;
        let mut p = self.point(2 * mag + 16);
        normal_cdf_point(&mut p);
        let mut out = self.clone();
        out.finish_unary(p, deriv);
        out
    }
}

fn neg(x: &Float) -> Float {
    Float::with_val(x.prec(), -x)
}

impl Ball {
    /// Apply an MPFR in-place function (returning its ternary value) to an exact point ball.
    fn add_err_after(&mut self, f: impl FnOnce(&mut Float) -> i32) {
        let t = f(&mut self.mid);
        self.add_err(t);
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
    if x.is_sign_negative() || x.mid.is_zero() {
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
