//! `Mag`: a nonnegative radius `man · 2^exp` with a 32-bit mantissa and an unbounded (`i64`)
//! exponent, in the spirit of Arb's `mag_t`. Every operation rounds *up* (or, for the `_down`
//! ones used for lower bounds, *down*), so a `Mag` computed from upper bounds is an upper bound.
//!
//! Why not `f64` with upward rounding: radii far below `2^-1074` (errors of 1024-bit runs, tails
//! like `e^{-800}`) would underflow to zero, which would claim an exact result.

use rug::float::Round;
use rug::Float;
use std::cmp::Ordering;

const BITS: u32 = 32;
const TOP: u64 = 1 << (BITS - 1);
/// Exponent marking `+∞` (an unbounded radius: the enclosure says nothing).
const INF_EXP: i64 = i64::MAX;

/// A nonnegative upper (or lower) bound `man · 2^exp`; `man` is `0` or in `[2^31, 2^32)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mag {
    man: u64,
    exp: i64,
}

// `add`/`mul`/`div` round up (they are not the exact `std::ops`), hence plain methods.
#[allow(clippy::should_implement_trait)]
impl Mag {
    pub const ZERO: Mag = Mag { man: 0, exp: 0 };
    pub const INF: Mag = Mag {
        man: TOP,
        exp: INF_EXP,
    };

    pub fn is_zero(self) -> bool {
        self.man == 0
    }
    pub fn is_inf(self) -> bool {
        self.exp == INF_EXP
    }
    /// `(man, exp)` with the value `man · 2^exp` (finite magnitudes).
    pub(crate) fn parts(self) -> (u64, i64) {
        (self.man, self.exp)
    }

    /// Normalise `m · 2^e`, rounding the mantissa up (`up`) or down.
    #[inline]
    fn normalize(m: u128, e: i64, up: bool) -> Mag {
        if m == 0 {
            return Mag::ZERO;
        }
        if m >> 64 == 0 {
            return Mag::normalize64(m as u64, e, up);
        }
        let bits = 128 - m.leading_zeros();
        let (mut man, mut e) = if bits > BITS {
            let shift = bits - BITS;
            let mut man = (m >> shift) as u64;
            if up && m & ((1u128 << shift) - 1) != 0 {
                man += 1;
            }
            (man, e.saturating_add(shift as i64))
        } else {
            ((m as u64) << (BITS - bits), e - (BITS - bits) as i64)
        };
        if man == 1 << BITS {
            man = TOP;
            e = e.saturating_add(1);
        }
        if e >= INF_EXP - 64 {
            return if up { Mag::INF } else { Mag { man, exp: e } };
        }
        Mag { man, exp: e }
    }

    /// [`Mag::normalize`] for a nonzero mantissa below `2^64` (the common case: products of two
    /// 32-bit mantissas, sums of nearby magnitudes).
    #[inline(always)]
    fn normalize64(m: u64, e: i64, up: bool) -> Mag {
        let bits = 64 - m.leading_zeros();
        let (mut man, mut e) = if bits > BITS {
            let shift = bits - BITS;
            let mut man = m >> shift;
            if up && m & ((1u64 << shift) - 1) != 0 {
                man += 1;
            }
            (man, e.saturating_add(shift as i64))
        } else {
            (m << (BITS - bits), e - (BITS - bits) as i64)
        };
        if man == 1 << BITS {
            man = TOP;
            e = e.saturating_add(1);
        }
        if e >= INF_EXP - 64 {
            return if up { Mag::INF } else { Mag { man, exp: e } };
        }
        Mag { man, exp: e }
    }

    /// `man · 2^exp` for a mantissa already in `[2^31, 2^32)` (exact, no normalisation).
    #[inline(always)]
    pub(crate) fn from_normalized(man: u64, exp: i64) -> Mag {
        debug_assert!((TOP..1 << BITS).contains(&man));
        Mag { man, exp }
    }

    /// `2^e` (exact).
    pub fn pow2(e: i64) -> Mag {
        Mag {
            man: TOP,
            exp: e - (BITS as i64 - 1),
        }
    }

    /// An upper bound of `|x|` (`+∞` for NaN or infinite `x`).
    pub fn from_f64_up(x: f64) -> Mag {
        if !x.is_finite() {
            return Mag::INF;
        }
        if x == 0.0 {
            return Mag::ZERO;
        }
        let (m, e) = frexp_exact(x.abs());
        Mag::normalize(m as u128, e, true)
    }

    /// An upper bound of `|x|` read from the top limb of an MPFR value (no allocation).
    #[inline]
    pub fn from_float_up(x: &Float) -> Mag {
        Self::from_float(x, true)
    }
    /// A lower bound of `|x|` (`0` for NaN).
    #[inline]
    pub fn from_float_down(x: &Float) -> Mag {
        if x.is_nan() {
            return Mag::ZERO;
        }
        Self::from_float(x, false)
    }

    #[inline]
    fn from_float(x: &Float, up: bool) -> Mag {
        if x.is_zero() {
            return Mag::ZERO;
        }
        if !x.is_finite() {
            return if up { Mag::INF } else { Mag::ZERO };
        }
        let raw = x.as_raw();
        // SAFETY: `x` is a finite nonzero MPFR float, so its limbs are initialised and the most
        // significant one (index (prec−1)/64) has its top bit set.
        let (top, lower_zero, e) = unsafe {
            let r = &*raw;
            let n = (r.prec as usize - 1) / 64;
            let lower_zero = (0..n).all(|i| *r.d.as_ptr().add(i) == 0);
            (*r.d.as_ptr().add(n), lower_zero, r.exp)
        };
        // |x| ∈ [top/2^64, (top+1)/2^64) · 2^e; exactly hi·2^(e−BITS) when no bit below the top
        // BITS is set (then rounding up adds nothing: Mag(1)·r = r, so an update by an exact 1
        // leaves a radius unchanged, which the scan's skipped identities rely on).
        let hi = top >> (64 - BITS);
        let exact = lower_zero && top & ((1u64 << (64 - BITS)) - 1) == 0;
        let m = if up && !exact {
            hi as u128 + 1
        } else {
            hi as u128
        };
        Mag::normalize(m, e - BITS as i64, up)
    }

    /// An upper bound of the value as an MPFR float (exact at 64 bits inside MPFR's exponent
    /// range); `+∞` stays infinite. Outside the range the result saturates *upward*: a value
    /// below MPFR's smallest positive number becomes that number, a value above its largest
    /// becomes `+∞`, so a radius never shrinks (never to 0).
    pub fn to_float(self) -> Float {
        if self.is_inf() {
            return Float::with_val(64, rug::float::Special::Infinity);
        }
        let mut f = Float::with_val(64, self.man);
        if self.man == 0 {
            return f;
        }
        // mpfr_mul_2si takes the full `long` exponent (no clamp) and, rounding up, turns an
        // underflow into the smallest positive number and an overflow into +∞.
        let e = std::os::raw::c_long::try_from(self.exp).unwrap_or(if self.exp < 0 {
            std::os::raw::c_long::MIN
        } else {
            std::os::raw::c_long::MAX
        });
        // SAFETY: `f` is an initialised MPFR float; MPFR allows the output to alias the input.
        unsafe {
            let raw = f.as_raw_mut();
            gmp_mpfr_sys::mpfr::mul_2si(raw, raw, e, gmp_mpfr_sys::mpfr::rnd_t::RNDU);
        }
        debug_assert!(
            !f.is_zero() && !f.is_nan() && f.is_sign_positive(),
            "a nonzero radius must stay a positive upper bound: {self:?} ↦ {f}"
        );
        f
    }

    /// An approximation as f64 (for reports; `+∞` or `0` outside f64's range).
    pub fn to_f64(self) -> f64 {
        if self.is_inf() {
            return f64::INFINITY;
        }
        self.to_float().to_f64()
    }

    /// `log2` of the value, approximately (for reports; `-∞` for zero).
    pub fn log2(self) -> f64 {
        if self.is_zero() {
            return f64::NEG_INFINITY;
        }
        if self.is_inf() {
            return f64::INFINITY;
        }
        (self.man as f64).log2() + self.exp as f64
    }

    #[inline]
    pub fn add(self, o: Mag) -> Mag {
        if self.is_zero() {
            return o;
        }
        if o.is_zero() {
            return self;
        }
        if self.is_inf() || o.is_inf() {
            return Mag::INF;
        }
        let (big, small) = if self.exp >= o.exp {
            (self, o)
        } else {
            (o, self)
        };
        // At big's scale the sum is big.man + small.man/2^diff; rounded up to 32 bits that is
        // big.man + ⌈small.man/2^diff⌉ (≥ 1; small.man < 2^32 gives 1 for diff ≥ 32), then
        // halved (rounding up) if it carried past 32 bits: the exact sum rounded up.
        let diff = big.exp - small.exp;
        let part = if diff >= 32 {
            1
        } else {
            (small.man + (1 << diff) - 1) >> diff
        };
        let (mut man, mut exp) = (big.man + part, big.exp);
        if man >> BITS != 0 {
            man = (man + 1) >> 1;
            exp += 1;
            if man >> BITS != 0 {
                man >>= 1;
                exp += 1;
            }
        }
        if exp >= INF_EXP - 64 {
            return Mag::INF;
        }
        Mag { man, exp }
    }

    #[inline]
    pub fn mul(self, o: Mag) -> Mag {
        if self.is_zero() || o.is_zero() {
            return Mag::ZERO;
        }
        if self.is_inf() || o.is_inf() {
            return Mag::INF;
        }
        // two mantissas in [2^31, 2^32): the product is in [2^62, 2^64); keep its top 32 bits,
        // rounded up
        let prod = self.man * o.man;
        let shift = 31 + (prod >> 63) as u32;
        let mut man = (prod >> shift) + (prod & ((1u64 << shift) - 1) != 0) as u64;
        let mut exp = self.exp.saturating_add(o.exp).saturating_add(shift as i64);
        if man >> BITS != 0 {
            man = TOP;
            exp = exp.saturating_add(1);
        }
        if exp >= INF_EXP - 64 {
            return Mag::INF;
        }
        Mag { man, exp }
    }

    /// `self / o` rounded up (`+∞` when `o` is zero).
    pub fn div(self, o: Mag) -> Mag {
        if self.is_zero() {
            return Mag::ZERO;
        }
        if o.is_zero() || self.is_inf() {
            return Mag::INF;
        }
        if o.is_inf() {
            return Mag::ZERO;
        }
        let num = (self.man as u128) << 64;
        let q = num / o.man as u128;
        let q = q + !num.is_multiple_of(o.man as u128) as u128;
        Mag::normalize(q, self.exp.saturating_sub(64).saturating_sub(o.exp), true)
    }

    /// `max(self − o, 0)` rounded down (a lower bound).
    pub fn sub_down(self, o: Mag) -> Mag {
        if o.is_zero() {
            return self;
        }
        if self <= o || o.is_inf() {
            return Mag::ZERO;
        }
        if self.is_inf() {
            return self;
        }
        let diff = self.exp - o.exp; // ≥ 0 since o < self and both are normalised
        if diff >= 64 {
            return Mag::normalize(2 * self.man as u128 - 1, self.exp - 1, false);
        }
        Mag::normalize(((self.man as u128) << diff) - o.man as u128, o.exp, false)
    }

    /// `2·self` (exact).
    pub fn mul_2exp(self, e: i64) -> Mag {
        if self.is_zero() || self.is_inf() {
            return self;
        }
        Mag {
            man: self.man,
            exp: self.exp.saturating_add(e),
        }
    }

    pub fn max(self, o: Mag) -> Mag {
        if self >= o {
            self
        } else {
            o
        }
    }
    pub fn min(self, o: Mag) -> Mag {
        if self <= o {
            self
        } else {
            o
        }
    }

    /// An upper bound of `f(x)` for a function evaluated on the exact value at 64 bits rounding
    /// up: `f` must round its result upward (e.g. `exp_round(.., Round::Up)`).
    pub fn map_up(self, f: impl FnOnce(&mut Float)) -> Mag {
        let mut x = self.to_float();
        f(&mut x);
        Mag::from_float_up(&x)
    }

    /// `e^{self}` rounded up.
    pub fn exp_up(self) -> Mag {
        self.map_up(|x| {
            x.exp_round(Round::Up);
        })
    }
}

impl PartialOrd for Mag {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Mag {
    fn cmp(&self, o: &Self) -> Ordering {
        match (self.is_zero(), o.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        self.exp.cmp(&o.exp).then(self.man.cmp(&o.man))
    }
}

/// `x = m · 2^e` exactly, `m` an integer below `2^53`, for finite positive `x`.
fn frexp_exact(x: f64) -> (u64, i64) {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp - 1075)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rug::Rational;

    fn exact(m: Mag) -> Rational {
        Rational::from(m.man) * pow2q(m.exp)
    }
    fn pow2q(e: i64) -> Rational {
        if e >= 0 {
            Rational::from(rug::Integer::from(1) << e as u32)
        } else {
            Rational::from((rug::Integer::from(1), rug::Integer::from(1) << (-e) as u32))
        }
    }
    fn m(x: f64) -> Mag {
        Mag::from_f64_up(x)
    }

    #[test]
    fn operations_round_in_the_stated_direction() {
        let mut rng = crate::rng::Rng::new(5);
        for _ in 0..2000 {
            let a = rng.uniform(0.0, 1.0) * 2f64.powi(rng.below(80) as i32 - 40);
            let b = rng.uniform(0.0, 1.0) * 2f64.powi(rng.below(80) as i32 - 40);
            let (ma, mb) = (m(a), m(b));
            let (qa, qb) = (exact(ma), exact(mb));
            assert!(qa >= Rational::from_f64(a).unwrap());
            assert!(exact(ma.add(mb)) >= qa.clone() + &qb);
            assert!(exact(ma.mul(mb)) >= qa.clone() * &qb);
            assert!(exact(ma.div(mb)) >= qa.clone() / &qb);
            let d = ma.sub_down(mb);
            let want = qa.clone() - &qb;
            if want > 0 {
                assert!(exact(d) <= want && exact(d) >= want.clone() * Rational::from((99, 100)));
            } else {
                assert!(d.is_zero());
            }
            // Up-rounding loses at most 2^-30 relative.
            let s = exact(ma.mul(mb));
            assert!(
                s <= qa.clone() * &qb * Rational::from((1 << 30) + 1) / Rational::from(1 << 30)
            );
        }
    }

    /// A value the 32-bit mantissa holds is taken exactly (so `|1|·r = r`: an update by an exact
    /// 1 leaves a radius unchanged); one bit more is rounded up.
    #[test]
    fn representable_magnitudes_are_exact() {
        for (x, prec) in [
            (1.0, 53u32),
            (1.0, 256),
            (-0.75, 128),
            (3.0 * 2f64.powi(-700), 64),
        ] {
            let f = Float::with_val(prec, x);
            assert_eq!(
                Mag::from_float_up(&f),
                Mag::from_float_down(&f),
                "{x} at {prec}"
            );
        }
        let r = Mag::from_f64_up(1.234e-30);
        assert_eq!(Mag::from_float_up(&Float::with_val(128, 1)).mul(r), r);
        let wide = Float::with_val(128, 1) + Float::with_val(128, Float::i_exp(1, -40));
        assert!(Mag::from_float_up(&wide) > Mag::from_float_down(&wide));
    }

    #[test]
    fn float_bounds_bracket_the_value() {
        for x in [1.0, 0.1, -3.75e-200, 1e300, 2f64.powi(-1074)] {
            let f: Float = Float::with_val(200, x) / 3;
            let q = f.to_rational().unwrap().abs();
            assert!(exact(Mag::from_float_up(&f)) >= q);
            assert!(exact(Mag::from_float_down(&f)) <= q);
        }
        // Far below f64's range the radius survives.
        let tiny = Float::with_val(64, Float::i_exp(1, -100_000));
        let t = Mag::from_float_up(&tiny);
        assert!(!t.is_zero() && (t.log2() + 100_000.0).abs() < 1e-6);
        assert!(t.to_float() >= tiny);
    }
}
