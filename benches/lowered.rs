//! Speed of the lowered checkpoints run by freelunch itself: the abstract model, the lowered
//! Mamba-1 blocks in f64, and in 128-bit balls (certified), per generated token, on the README
//! table's checkpoints. HF's own `generate()` on the same checkpoints is timed by
//! `examples/python/hf_check.py` (docs/hf-measured.json); the ratio goes in the notes.
//!   cargo bench --bench lowered

#[allow(dead_code)] // the helpers other benches use
mod support;

use freelunch::export::hf;
use freelunch::model::Softplus;
use freelunch::num::Ball;
use freelunch::num::Scalar as _;
use freelunch::readme::hf_table;

fn main() {
    println!(
        "{:<16} {:>14} {:>14} {:>16}",
        "checkpoint", "abstract µs/tok", "lowered µs/tok", "ball-128 µs/tok"
    );
    for (id, json) in hf_table::configurations().expect("configurations") {
        let Ok(dec) = freelunch::export::read_decoding(&json) else {
            continue;
        };
        let Some(dec) = dec.filter(|d| d.generate > 0) else {
            continue;
        };
        let abs = freelunch::export::from_json::<f64>(&json, 53).expect("model");
        let mut lower = freelunch::lower::LowerOptions::new(dec.prompt.len() + dec.generate);
        lower.act = freelunch::lower::natural_activation(&json).expect("activation");
        let low = freelunch::lower::lower_mamba(&abs, &lower)
            .expect("lowers")
            .model;
        let ball = low.convert(hf::CERTIFY_BITS, |x| Ball::from_f64(*x, hf::CERTIFY_BITS));
        let tokens = (dec.prompt.len() + dec.generate) as f64;
        let per = |s: f64| 1e6 * s / tokens;
        let a = support::time(5, || {
            abs.generate(&dec.prompt, dec.generate, None);
        });
        let l = support::time(5, || {
            low.generate(&dec.prompt, dec.generate, Softplus::Exact);
        });
        let b = support::time(1, || {
            ball.generate(&dec.prompt, dec.generate, Softplus::Exact);
        });
        println!(
            "{id:<16} {:>14.1} {:>14.1} {:>16.1}",
            per(a),
            per(l),
            per(b)
        );
    }
}
