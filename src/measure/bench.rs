//! A micro-benchmark of MPFR's cost at a precision, for the slowdown warning of `--precision`.

/// Precisions above this many bits get a measured slowdown warning.
pub const SLOW_BITS: u32 = 4096;

/// Seconds per MPFR multiply or divide at `bits` (median-free: 400 operations, timed once).
pub fn mpfr_op_seconds(bits: u32) -> f64 {
    let x = rug::Float::with_val(bits, 2).sqrt();
    let mut y = rug::Float::with_val(bits, 3).sqrt();
    let reps = 200;
    let t0 = std::time::Instant::now();
    for _ in 0..reps {
        y *= &x;
        y /= &x;
    }
    std::hint::black_box(&y);
    t0.elapsed().as_secs_f64() / (2 * reps) as f64
}

/// For a precision above [`SLOW_BITS`]: (seconds per operation at `bits`, its cost relative to
/// 256 bits), measured here; `None` at or below it.
pub fn mpfr_slowdown(bits: u32) -> Option<(f64, f64)> {
    if bits <= SLOW_BITS {
        return None;
    }
    let base = mpfr_op_seconds(256).max(1e-9);
    let slow = mpfr_op_seconds(bits);
    Some((slow, slow / base))
}
