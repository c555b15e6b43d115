//! Least-squares slopes for the growth-law checks (one fit, one tolerance).

/// Absolute tolerance on a fitted growth exponent or bits-per-doubling slope (`|slope − law| ≤`
/// this): the one tolerance of the law fits over a few sizes.
pub const SLOPE_TOL: f64 = 0.25;

/// Least-squares slope of `y` against `x`.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |a, p| {
        let dx = p.0 - mx;
        (a.0 + dx * (p.1 - my), a.1 + dx * dx)
    });
    num / den
}

/// Least-squares slope of `ln y` against `ln x` (the exponent of a power law).
pub fn loglog_slope(points: &[(f64, f64)]) -> f64 {
    let logs: Vec<(f64, f64)> = points.iter().map(|p| (p.0.ln(), p.1.ln())).collect();
    slope(&logs)
}

/// Least-squares slope of `bits` against `log2 T` over `(T, bits)` points: the bits a
/// precision law gains per doubling of T.
pub fn bits_per_doubling(points: &[(usize, u32)]) -> f64 {
    let logs: Vec<(f64, f64)> = (points.iter())
        .map(|&(t, b)| ((t as f64).log2(), b as f64))
        .collect();
    slope(&logs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slopes_of_exact_lines_and_powers() {
        let line: Vec<(f64, f64)> = (0..5).map(|k| (k as f64, 3.0 * k as f64 - 7.0)).collect();
        assert!((slope(&line) - 3.0).abs() < 1e-12);
        let down: Vec<(f64, f64)> = (0..5).map(|k| (k as f64, -(k as f64))).collect();
        assert!((slope(&down) + 1.0).abs() < 1e-12);
        let cube: Vec<(f64, f64)> = (1..6).map(|k| (k as f64, (k as f64).powi(3))).collect();
        assert!((loglog_slope(&cube) - 3.0).abs() < 1e-12);
        // a square law is not within the tolerance of a cube law
        let square: Vec<(f64, f64)> = (1..6).map(|k| (k as f64, (k as f64).powi(2))).collect();
        assert!((loglog_slope(&square) - 3.0).abs() > SLOPE_TOL);
        // one bit per doubling of T, and none
        let grows: Vec<(usize, u32)> = (2..7).map(|k| (1usize << k, 10 + k)).collect();
        assert!((bits_per_doubling(&grows) - 1.0).abs() < 1e-12);
        let flat: Vec<(usize, u32)> = (2..7).map(|k| (1usize << k, 16)).collect();
        assert!(bits_per_doubling(&flat).abs() < 1e-12);
    }
}
