//! The one minimal-precision search.

use crate::error::Result;

/// The smallest precision in `lo..=hi` at which `ok` holds, found by doubling from `lo` (capped at
/// `hi`) and then bisecting between the last failing and the first passing precision: the result
/// `p` passes and `p − 1` fails (or `p = lo`), so it is the minimum whenever passing is monotone in
/// the precision. `None` when `ok(hi)` fails. Each precision is evaluated at most once.
pub fn minimal_bits(
    lo: u32,
    hi: u32,
    mut ok: impl FnMut(u32) -> Result<bool>,
) -> Result<Option<u32>> {
    let lo = lo.max(1);
    if lo > hi {
        return Ok(None);
    }
    // Doubling: the first passing precision of lo, 2lo, 4lo, … , hi.
    let mut fail = None;
    let mut at = lo;
    loop {
        if ok(at)? {
            break;
        }
        if at >= hi {
            return Ok(None);
        }
        fail = Some(at);
        at = at.saturating_mul(2).min(hi);
    }
    let Some(mut fail) = fail else {
        return Ok(Some(at));
    };
    let mut pass = at;
    while pass - fail > 1 {
        let mid = fail + (pass - fail) / 2;
        if ok(mid)? {
            pass = mid;
        } else {
            fail = mid;
        }
    }
    Ok(Some(pass))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_threshold_of_a_monotone_test_and_reports_none_above_the_range() {
        for threshold in [1u32, 2, 7, 8, 9, 63, 64, 65, 1000] {
            let mut calls = 0;
            let found = minimal_bits(2, 1024, |p| {
                calls += 1;
                Ok(p >= threshold)
            })
            .unwrap();
            assert_eq!(found, Some(threshold.max(2)), "threshold {threshold}");
            assert!(calls <= 2 * 10 + 2, "{calls} evaluations");
        }
        assert_eq!(minimal_bits(8, 160, |p| Ok(p > 160)).unwrap(), None);
        assert_eq!(minimal_bits(8, 160, |p| Ok(p >= 160)).unwrap(), Some(160));
        // the search can fail: a test that never passes has no minimal precision
        assert_eq!(minimal_bits(2, 96, |_| Ok(false)).unwrap(), None);
        // errors are passed on
        assert!(minimal_bits(2, 96, |_| Err(crate::error::Error::compute("x"))).is_err());
    }
}
