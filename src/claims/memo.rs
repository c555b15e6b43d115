//! Sweeps shared by a claim's cases and its figures, computed once per process: `reproduce`
//! runs `verify` and then draws the figures in one process, and a figure that plots a sweep
//! `verify` already ran reads it from here instead of running it again. Entries are keyed by
//! the sweep's whole configuration (function, arguments, seed), so a hit is the same
//! computation; errors are not kept.

use crate::error::Result;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

type Slot = Arc<OnceLock<Box<dyn Any + Send + Sync>>>;

fn table() -> &'static Mutex<HashMap<String, Slot>> {
    static TABLE: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// `f()`, or the value an earlier call with the same `key` computed.
pub fn cached<T: Clone + Send + Sync + 'static>(
    key: String,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let slot = table()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_default()
        .clone();
    if let Some(v) = slot.get().and_then(|v| v.downcast_ref::<T>()) {
        return Ok(v.clone());
    }
    let v = f()?;
    let _ = slot.set(Box::new(v.clone()));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_computed_once_and_errors_are_not_kept() {
        let mut calls = 0;
        let key = || "memo-test/a".to_string();
        let a: u32 = cached(key(), || {
            calls += 1;
            Ok(7)
        })
        .unwrap();
        let b: u32 = cached(key(), || {
            calls += 1;
            Ok(8)
        })
        .unwrap();
        assert_eq!((a, b, calls), (7, 7, 1));
        let e: Result<u32> = cached("memo-test/b".into(), || {
            Err(crate::error::Error::compute("x"))
        });
        assert!(e.is_err());
        let c: u32 = cached("memo-test/b".into(), || Ok(3)).unwrap();
        assert_eq!(c, 3);
    }
}
