//! The measure layer, below `copy`, `dp`, `certify` and `claims`: what every claim measures, written
//! once.
//! - [`probe`]: one decoding loop (greedy or teacher-forced) yielding the residual and the logits
//!   at each output position, and one [`Tally`](probe::Tally) of decoding errors, read errors and
//!   (certified) logit margins;
//! - [`search`]: one minimal-precision search;
//! - [`fit`]: one least-squares slope and one tolerance for growth laws;
//! - [`size`]: the state and size measures of a built model;
//! - [`bench`]: the MPFR cost at a precision (for `--precision`'s slowdown warning).

pub mod bench;
pub mod fit;
pub mod probe;
pub mod search;
pub mod size;

pub use probe::{probe, reference_margin, Feed, Tally};
pub use search::minimal_bits;
pub use size::SizeMeasure;
