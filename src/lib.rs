//! freelunch: builds the constructions of arXiv 2410.03810 weight by weight and checks every bound.
pub mod error;
pub mod num;
