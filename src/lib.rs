//! freelunch: builds the constructions of arXiv 2410.03810 weight by weight and checks every bound.
pub mod certify;
pub mod claims;
pub mod copy;
pub mod dp;
pub mod error;
pub mod export;
pub mod gadgets;
pub mod io;
pub mod lower;
pub mod measure;
pub mod memory;
pub mod model;
pub mod num;
pub mod plot;
pub mod readme;
pub mod report;
pub mod rng;
