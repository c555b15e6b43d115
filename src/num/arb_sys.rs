//! A small hand-written FFI to Arb's ball arithmetic (`arb_t`), linked from the system's Arb
//! (`libflint-arb`, Arb 2.23 on Debian 12; see `build.rs`). Only the functions [`super::Ball`]
//! calls are declared. The struct layouts are Arb's (`arf.h`, `mag.h`, `arb.h`) on a 64-bit
//! target: an `fmpz` exponent is one `slong`, a limb is 64 bits.
//!
//! MPFR values cross the boundary through `arf_set_mpfr`/`arf_get_mpfr`, which read and write an
//! `mpfr_t` field by field; rug's `mpfr_t` has the same layout (MPFR 4.x), and the GMP/MPFR
//! symbols Arb calls resolve to one copy at run time (the static copy rug links, which the
//! executable exports to the shared libraries that reference it).

#![allow(non_camel_case_types)]

use gmp_mpfr_sys::mpfr;
use std::os::raw::c_int;

pub type slong = i64;

/// `mantissa_struct`: two inline limbs, or an allocated limb array.
#[repr(C)]
#[derive(Clone, Copy)]
pub union ArfMantissa {
    pub noptr: [u64; 2],
    pub ptr: ArfMantissaPtr,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ArfMantissaPtr {
    pub alloc: slong,
    pub d: *mut u64,
}

/// `arf_struct`: `exp` (an fmpz), `size` (limb count `<< 1` | sign bit), mantissa.
#[repr(C)]
pub struct arf_struct {
    pub exp: slong,
    pub size: slong,
    pub d: ArfMantissa,
}

/// `mag_struct`: the value `man · 2^(exp − 30)`, `man` in `[2^29, 2^30)` or 0.
#[repr(C)]
pub struct mag_struct {
    pub exp: slong,
    pub man: u64,
}

/// `arb_struct`: midpoint and radius. Movable: no field points into the struct itself.
#[repr(C)]
pub struct arb_struct {
    pub mid: arf_struct,
    pub rad: mag_struct,
}

pub const MAG_BITS: i64 = 30;
/// `COEFF_MAX`: fmpz values above it (in absolute value) are pointers to GMP integers.
pub const COEFF_MAX: slong = (1 << 62) - 1;
pub const COEFF_MIN: slong = -COEFF_MAX;
pub const ARF_EXP_ZERO: slong = 0;
pub const ARF_EXP_NAN: slong = COEFF_MIN;
pub const ARF_EXP_NEG_INF: slong = COEFF_MIN + 2;
pub const MAG_EXP_POS_INF: slong = COEFF_MIN + 1;

/// `arf_rnd_t`.
pub const ARF_RND_NEAR: c_int = 4;
pub const ARF_RND_FLOOR: c_int = 2;
pub const ARF_RND_CEIL: c_int = 3;

pub type arb_ptr = *mut arb_struct;
pub type arb_srcptr = *const arb_struct;

extern "C" {
    pub fn arb_clear(x: arb_ptr);
    pub fn arb_set(y: arb_ptr, x: arb_srcptr);
    pub fn arb_set_round(y: arb_ptr, x: arb_srcptr, prec: slong);
    pub fn arb_set_si(x: arb_ptr, y: slong);
    pub fn arb_set_d(x: arb_ptr, y: f64);
    pub fn arb_indeterminate(x: arb_ptr);
    pub fn arb_equal(x: arb_srcptr, y: arb_srcptr) -> c_int;

    pub fn arb_neg(y: arb_ptr, x: arb_srcptr);
    pub fn arb_abs(y: arb_ptr, x: arb_srcptr);
    pub fn arb_add(z: arb_ptr, x: arb_srcptr, y: arb_srcptr, prec: slong);
    pub fn arb_sub(z: arb_ptr, x: arb_srcptr, y: arb_srcptr, prec: slong);
    pub fn arb_mul(z: arb_ptr, x: arb_srcptr, y: arb_srcptr, prec: slong);
    pub fn arb_addmul(z: arb_ptr, x: arb_srcptr, y: arb_srcptr, prec: slong);
    pub fn arb_div(z: arb_ptr, x: arb_srcptr, y: arb_srcptr, prec: slong);
    pub fn arb_div_si(z: arb_ptr, x: arb_srcptr, y: slong, prec: slong);
    pub fn arb_mul_2exp_si(y: arb_ptr, x: arb_srcptr, e: slong);
    pub fn arb_max(z: arb_ptr, x: arb_srcptr, y: arb_srcptr, prec: slong);
    pub fn arb_min(z: arb_ptr, x: arb_srcptr, y: arb_srcptr, prec: slong);
    pub fn arb_union(z: arb_ptr, x: arb_srcptr, y: arb_srcptr, prec: slong);
    pub fn arb_nonnegative_part(res: arb_ptr, x: arb_srcptr);
    pub fn arb_add_error_mag(x: arb_ptr, err: *const mag_struct);

    pub fn arb_exp(z: arb_ptr, x: arb_srcptr, prec: slong);
    pub fn arb_log(z: arb_ptr, x: arb_srcptr, prec: slong);
    pub fn arb_log1p(z: arb_ptr, x: arb_srcptr, prec: slong);
    pub fn arb_sqrt(z: arb_ptr, x: arb_srcptr, prec: slong);
    pub fn arb_hypgeom_erf(z: arb_ptr, x: arb_srcptr, prec: slong);
    pub fn arb_hypgeom_erfc(z: arb_ptr, x: arb_srcptr, prec: slong);
    pub fn arb_const_pi(z: arb_ptr, prec: slong);

    pub fn arb_is_positive(x: arb_srcptr) -> c_int;
    pub fn arb_is_negative(x: arb_srcptr) -> c_int;
    pub fn arb_is_nonnegative(x: arb_srcptr) -> c_int;
    pub fn arb_contains_arf(x: arb_srcptr, y: *const arf_struct) -> c_int;
    pub fn arb_lt(x: arb_srcptr, y: arb_srcptr) -> c_int;
    pub fn arb_le(x: arb_srcptr, y: arb_srcptr) -> c_int;
    pub fn arb_gt(x: arb_srcptr, y: arb_srcptr) -> c_int;
    pub fn arb_ge(x: arb_srcptr, y: arb_srcptr) -> c_int;

    pub fn arb_get_ubound_arf(u: *mut arf_struct, x: arb_srcptr, prec: slong);
    pub fn arb_get_lbound_arf(u: *mut arf_struct, x: arb_srcptr, prec: slong);
    pub fn arb_get_mag(z: *mut mag_struct, x: arb_srcptr);
    pub fn arb_get_mag_lower(z: *mut mag_struct, x: arb_srcptr);
    pub fn arb_set_interval_mpfr(
        x: arb_ptr,
        a: *const mpfr::mpfr_t,
        b: *const mpfr::mpfr_t,
        prec: slong,
    );

    pub fn arf_clear(x: *mut arf_struct);
    pub fn arf_set_mpfr(x: *mut arf_struct, y: *const mpfr::mpfr_t);
    pub fn arf_get_mpfr(x: *mut mpfr::mpfr_t, y: *const arf_struct, rnd: mpfr::rnd_t) -> c_int;
    pub fn arf_get_d(x: *const arf_struct, rnd: c_int) -> f64;
    pub fn arf_bits(x: *const arf_struct) -> slong;
    pub fn arf_cmp(x: *const arf_struct, y: *const arf_struct) -> c_int;

    pub fn mag_set_ui_2exp_si(z: *mut mag_struct, x: u64, e: slong);
    pub fn mag_inf(x: *mut mag_struct);

}
