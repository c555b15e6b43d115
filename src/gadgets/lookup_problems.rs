//! The lookup test problems (integer table, pair-keyed table, one-hot table, indicator, the DP
//! compiler's one-hot decoder), shared by the `mlp-lookup` claim and its certificate.

use super::relu::ReluUnit;
use super::{lookup, residual};
use crate::error::Result;
use crate::model::{Coord, Layout, MlpBuilder, MlpLayer};
use crate::num::Scalar;
use crate::rng::Rng;

/// A lookup test problem: a layer, its inputs (residual vectors) and the expected outputs.
pub struct Problem<S> {
    pub name: String,
    pub layer: MlpLayer<S>,
    pub inputs: Vec<Vec<S>>,
    pub out: usize,
    pub expected: Vec<i64>,
    pub l1: S,
}

fn values(rng: &mut Rng, n: usize) -> Vec<i64> {
    (0..n).map(|_| rng.below(2001) as i64 - 1000).collect()
}

/// The five shapes: integer table, pair-keyed table (key 8x + y), one-hot table, indicator, and
/// the one-hot decoder the DP compiler uses.
pub fn problems<S: Scalar>(unit: &ReluUnit<S>, seed: u64, prec: u32) -> Result<Vec<Problem<S>>> {
    let mut rng = Rng::new(seed);
    let mut probs = Vec::new();
    let s = |v: i64| S::from_i64(v, prec);
    // f: {−10, …, 21} → [−1000, 1000].
    let domain: Vec<i64> = (-10..22).collect();
    let vals = values(&mut rng, domain.len());
    let (layer, lu) = lookup::standalone_table(&domain, &vals, unit, prec)?;
    probs.push(Problem {
        name: format!("table on {{−10..21}} ({} units)", layer.hidden_width()),
        inputs: domain
            .iter()
            .map(|&c| residual(2, prec, &[(0, s(c))]))
            .collect(),
        layer,
        out: 1,
        expected: vals,
        l1: lu.out_weight_l1,
    });
    // f(x, y) on {0..7}², key 8x + y, residual [x, y, out].
    let vals = values(&mut rng, 64);
    let mut lay = Layout::new();
    let (x, y) = (lay.coord("x", "row"), lay.coord("y", "column"));
    let out = lay.coord("out", "f(x, y)");
    let mut b = MlpBuilder::new(lay.width(), prec);
    let dom: Vec<i64> = (0..64).collect();
    let lu = lookup::add_table(&mut b, "pair", &[(x, 8), (y, 1)], &dom, &vals, out, unit)?;
    probs.push(Problem {
        name: "pair table on {0..7}², key 8x+y".into(),
        inputs: (0..64)
            .map(|k| residual(3, prec, &[(0, s(k / 8)), (1, s(k % 8))]))
            .collect(),
        layer: b.build("pair", unit.act),
        out: 2,
        expected: vals,
        l1: lu.out_weight_l1,
    });
    // One-hot over 12 values: residual [e_0..e_11, out].
    let vals = values(&mut rng, 12);
    let mut lay = Layout::new();
    let e = lay.block("e", 12, "one-hot value");
    let out = lay.coord("out", "f(value)");
    let mut b = MlpBuilder::new(lay.width(), prec);
    let coords: Vec<Coord> = e.coords().collect();
    let lu = lookup::add_onehot_table(&mut b, "onehot", &coords, &vals, out, unit)?;
    probs.push(Problem {
        name: "one-hot table over 12 values".into(),
        inputs: (0..12).map(|k| residual(13, prec, &[(k, s(1))])).collect(),
        layer: b.build("onehot", unit.act),
        out: 12,
        expected: vals,
        l1: lu.out_weight_l1,
    });
    // Indicator 1[x = 3] on {−5..10}.
    let mut lay = Layout::new();
    let (x, out) = (lay.coord("x", "key"), lay.coord("out", "1[x = 3]"));
    let mut b = MlpBuilder::new(lay.width(), prec);
    let lu = lookup::add_indicator(&mut b, "ind", &[(x, 1)], 3, out, &S::one(prec), unit)?;
    probs.push(Problem {
        name: "indicator 1[x = 3] on {−5..10}".into(),
        inputs: (-5..=10).map(|c| residual(2, prec, &[(0, s(c))])).collect(),
        layer: b.build("ind", unit.act),
        out: 1,
        expected: (-5..=10).map(|c| (c == 3) as i64).collect(),
        l1: lu.out_weight_l1,
    });
    // One-hot decode of x ∈ {0..11} with shared hats (the DP compiler's query decoder),
    // coordinate 5: 1[x = 5]; residual [x, e_0..e_11].
    let mut lay = Layout::new();
    let x = lay.coord("x", "key");
    let e = lay.block("e", 12, "one-hot of x");
    let mut b = MlpBuilder::new(lay.width(), prec);
    let outs: Vec<Coord> = e.coords().collect();
    let lu = lookup::add_one_hot(&mut b, "decode", &[(x, 1)], 0, &outs, unit)?;
    probs.push(Problem {
        name: "one-hot decode of {0..11} (shared hats), coordinate 5".into(),
        inputs: (0..12).map(|c| residual(13, prec, &[(0, s(c))])).collect(),
        layer: b.build("decode", unit.act),
        out: e.at(5).index(),
        expected: (0..12).map(|c| (c == 5) as i64).collect(),
        l1: lu.out_weight_l1,
    });
    Ok(probs)
}
