//! The limits the model reader enforces before it allocates anything a file asks for
//! (docs/export.md, "Limits"). Every dimension is checked against [`MAX_DIM`], every product of
//! dimensions is computed with overflow checks, and a run is refused before it starts when its
//! length or its work exceeds the limits below.

use crate::error::ModelError;

/// Largest residual width, vocabulary, SSM channel count, SSM state size, MLP hidden width and
/// attention head size (q/k and v dimensions), each.
pub const MAX_DIM: usize = 1 << 16;
/// Largest SSM memory of one layer, channels × state.
pub const MAX_SSM_MEMORY: usize = 1 << 22;
/// The context of every model: the most positions one run feeds (prompt plus generated
/// tokens, or a block's input vectors).
pub const MAX_POSITIONS: usize = 1 << 15;
/// Largest work of one run: positions × (residual width + SSM memory + MLP hidden units) plus
/// the multiply-adds of every layer at every position (attention grows with the position).
pub const MAX_WORK: u64 = 1 << 33;
/// Largest trace (`freelunch trace`): positions × recorded rows (residual coordinates and SSM
/// memory slots), 2^25 values = 256 MiB of f64.
pub const MAX_TRACE_VALUES: u64 = 1 << 25;
/// Largest model file `run`/`trace` read.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// `value` of `name` in `lo..=hi`, else [`ModelError::OutOfRange`].
pub fn in_range(name: &str, value: u64, lo: u64, hi: u64) -> Result<usize, ModelError> {
    if value < lo || value > hi {
        return Err(ModelError::OutOfRange {
            name: name.to_string(),
            value: value.to_string(),
            range: format!("it must be in {lo}..={hi}"),
        });
    }
    usize::try_from(value).map_err(|_| ModelError::OutOfRange {
        name: name.to_string(),
        value: value.to_string(),
        range: format!("it must be at most {}", usize::MAX),
    })
}

/// A dimension: `1..=MAX_DIM` (or `0..=MAX_DIM` when `zero_ok`).
pub fn dim(name: &str, value: u64, zero_ok: bool) -> Result<usize, ModelError> {
    in_range(name, value, u64::from(!zero_ok), MAX_DIM as u64)
}

/// `a × b`, checked for overflow and against `limit`.
pub fn product(name: &str, a: usize, b: usize, limit: u64) -> Result<usize, ModelError> {
    let too_large = |what: String| ModelError::TooLarge {
        name: name.to_string(),
        what,
        limit: limit.to_string(),
    };
    let p = a
        .checked_mul(b)
        .ok_or_else(|| too_large(format!("{a} × {b} overflows")))?;
    if p as u64 > limit {
        return Err(too_large(format!("{a} × {b} = {p}")));
    }
    Ok(p)
}

/// Refuse a model file larger than [`MAX_FILE_BYTES`] before reading it.
pub fn check_file_size(path: &std::path::Path) -> crate::error::Result<()> {
    let len = std::fs::metadata(path)
        .map_err(|e| crate::error::Error::io(format!("cannot read {}: {e}", path.display())))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(ModelError::TooLarge {
            name: path.display().to_string(),
            what: format!("{len} bytes"),
            limit: format!("{MAX_FILE_BYTES} bytes"),
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_that_wrap_are_refused_not_wrapped() {
        let big = 1usize << 32;
        assert!(matches!(
            product("channels × state", big, big, u64::MAX),
            Err(ModelError::TooLarge { .. })
        ));
        assert!(matches!(
            product("channels × state", MAX_DIM, MAX_DIM, MAX_SSM_MEMORY as u64),
            Err(ModelError::TooLarge { .. })
        ));
        assert_eq!(product("x", 3, 4, 12), Ok(12));
    }

    #[test]
    fn dimensions_outside_their_range_are_refused() {
        assert!(matches!(
            dim("state", 0, false),
            Err(ModelError::OutOfRange { .. })
        ));
        assert_eq!(dim("hidden", 0, true), Ok(0));
        assert!(dim("width", MAX_DIM as u64 + 1, false).is_err());
        assert_eq!(dim("width", MAX_DIM as u64, false), Ok(MAX_DIM));
    }
}
