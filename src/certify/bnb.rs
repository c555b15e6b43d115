//! Interval branch-and-bound: prove `|e(x)| ≤ B` for every `x` in a box, or find a point where
//! it fails.
//!
//! Each box `X` is evaluated twice: in `Jet<N>` on balls covering `X` (a naive enclosure of
//! `e(X)` plus an enclosure of `∇e(X)`), and in [`Ball`] at the exact center `c`. The enclosure
//! used is the tighter of the naive one and the mean-value form `e(c) + ∇e(X)·(X − c)`. A box
//! is *certified* when the upper end of `|e(X)|` is at most the lower end of `B`; the search
//! stops with a *counterexample* as soon as a center has `|e(c)|` certainly above `B`'s upper
//! end; otherwise the box is bisected along its widest side (relative to the domain), boxes
//! with the largest enclosure first. A box budget turns an unfinished search into *undecided*.

use super::jet::{mean_value, Jet};
use crate::num::{Ball, Mag};
use rug::Float;
use std::collections::BinaryHeap;
use std::time::Instant;

/// A function of `N` real variables evaluated in ball arithmetic (the value at a point) and in
/// `Jet<N>` (value and gradient over a box). Both must compute the same real function.
pub trait BoxFn<const N: usize> {
    fn ball(&self, x: &[Ball; N]) -> Ball;
    fn jet(&self, x: &[Jet<N>; N]) -> Jet<N>;
}

/// Coordinates of boxes are kept at this precision (bisection midpoints stay exact for ~400
/// levels below the domain's scale).
const COORD_PREC: u32 = 512;

#[derive(Clone, Debug)]
pub struct Region<const N: usize> {
    pub lo: [Float; N],
    pub hi: [Float; N],
}

impl<const N: usize> Region<N> {
    pub fn new(lo: [f64; N], hi: [f64; N]) -> Self {
        Region {
            lo: lo.map(|v| Float::with_val(COORD_PREC, v)),
            hi: hi.map(|v| Float::with_val(COORD_PREC, v)),
        }
    }
    fn center(&self) -> [Float; N] {
        std::array::from_fn(|k| {
            let mut c = Float::with_val(COORD_PREC, &self.lo[k] + &self.hi[k]);
            c /= 2;
            c
        })
    }
    /// A description such as `[0.5, 0.75] × [−1, −0.5]`.
    pub fn describe(&self) -> String {
        (0..N)
            .map(|k| format!("[{:.6e}, {:.6e}]", self.lo[k].to_f64(), self.hi[k].to_f64()))
            .collect::<Vec<_>>()
            .join(" × ")
    }
    pub fn max_width(&self) -> f64 {
        (0..N)
            .map(|k| Float::with_val(64, &self.hi[k] - &self.lo[k]).to_f64())
            .fold(0.0, f64::max)
    }
}

/// The outcome of a search.
#[derive(Clone, Debug)]
pub enum Outcome<const N: usize> {
    /// `|e| ≤ B` on the whole domain.
    Certified,
    /// `|e(point)|` is certainly above `B`.
    Refuted { point: [Float; N], value: Ball },
    /// The box budget ran out; the box with the largest remaining enclosure.
    Undecided { region: Region<N>, upper: Mag },
}

#[derive(Clone, Debug)]
pub struct Search<const N: usize> {
    pub outcome: Outcome<N>,
    /// Boxes evaluated.
    pub boxes: usize,
    pub seconds: f64,
    /// The largest certified lower bound of `|e|` seen at a center (the attained error) and where.
    pub attained: Mag,
    pub attained_at: [f64; N],
    /// The largest enclosure upper end among certified boxes (the certified `sup |e|`).
    pub certified_sup: Mag,
}

struct Queued<const N: usize> {
    upper: Mag,
    seq: u64,
    region: Region<N>,
}
impl<const N: usize> PartialEq for Queued<N> {
    fn eq(&self, o: &Self) -> bool {
        self.upper == o.upper && self.seq == o.seq
    }
}
impl<const N: usize> Eq for Queued<N> {}
impl<const N: usize> PartialOrd for Queued<N> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<const N: usize> Ord for Queued<N> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.upper.cmp(&o.upper).then(o.seq.cmp(&self.seq))
    }
}

/// An upper bound of `|x|` over a ball, at the ball's precision plus guard bits (a [`Mag`] would
/// round to 32 bits, too coarse next to a bound with relative slack `2^-64`).
fn abs_upper(b: &Ball) -> Float {
    let (lo, hi) = (b.lower(), b.upper());
    let lo = Float::with_val(lo.prec(), -lo);
    if lo > hi {
        lo
    } else {
        hi
    }
}

/// Upper bound of `|e|` over the region and the center's enclosure.
fn enclose<F: BoxFn<N>, const N: usize>(f: &F, r: &Region<N>, prec: u32) -> (Float, Ball) {
    let c = r.center();
    let center_balls: [Ball; N] = std::array::from_fn(|k| Ball::from_float(&c[k], prec));
    let at_center = f.ball(&center_balls);
    let vars: [Jet<N>; N] =
        std::array::from_fn(|k| Jet::variable(Ball::from_endpoints(&r.lo[k], &r.hi[k], prec), k));
    let j = f.jet(&vars);
    // max(hi − c, c − lo), rounded up: valid even if the center were not the exact midpoint.
    let half: [Mag; N] = std::array::from_fn(|k| {
        use rug::ops::AssignRound;
        let (mut up, mut down) = (Float::new(64), Float::new(64));
        up.assign_round(&r.hi[k] - &c[k], rug::float::Round::Up);
        down.assign_round(&c[k] - &r.lo[k], rug::float::Round::Up);
        Mag::from_float_up(&up).max(Mag::from_float_up(&down))
    });
    let mv = mean_value(&at_center, &j.d, &half);
    let (naive, mvu) = (abs_upper(&j.v), abs_upper(&mv));
    (if naive < mvu { naive } else { mvu }, at_center)
}

/// Prove `|e(x)| ≤ bound` on `domain`, within `max_boxes` evaluations.
pub fn prove_abs_le<F: BoxFn<N>, const N: usize>(
    f: &F,
    domain: &Region<N>,
    bound: &Ball,
    prec: u32,
    max_boxes: usize,
) -> Search<N> {
    let start = Instant::now();
    let b_lo = bound.lower();
    let b_hi = Mag::from_float_up(&bound.upper());
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    let mut s = Search {
        outcome: Outcome::Certified,
        boxes: 0,
        seconds: 0.0,
        attained: Mag::ZERO,
        attained_at: [0.0; N],
        certified_sup: Mag::ZERO,
    };
    heap.push(Queued {
        upper: Mag::INF,
        seq,
        region: domain.clone(),
    });
    while let Some(q) = heap.pop() {
        if s.boxes >= max_boxes {
            s.outcome = Outcome::Undecided {
                region: q.region,
                upper: q.upper,
            };
            break;
        }
        s.boxes += 1;
        let (upper, center) = enclose(f, &q.region, prec);
        let low = center.mag_down();
        if low > s.attained {
            s.attained = low;
            let c = q.region.center();
            s.attained_at = std::array::from_fn(|k| c[k].to_f64());
        }
        if low > b_hi {
            s.outcome = Outcome::Refuted {
                point: q.region.center(),
                value: center,
            };
            break;
        }
        let upper_mag = Mag::from_float_up(&upper);
        if upper <= b_lo {
            s.certified_sup = s.certified_sup.max(upper_mag);
            continue;
        }
        for r in bisect(q.region, domain) {
            seq += 1;
            heap.push(Queued {
                upper: upper_mag,
                seq,
                region: r,
            });
        }
    }
    s.seconds = start.elapsed().as_secs_f64();
    s
}

/// Enclose `sup |e|` over `domain` to within a relative gap: returns `(lower, upper, point)`
/// with `lower ≤ sup|e| ≤ upper` certified, `lower = |e(point)|`'s certified lower end, stopping
/// when `upper ≤ lower·(1 + rel_gap)` or after `max_boxes` evaluations (then the gap is wider).
pub fn maximize_abs<F: BoxFn<N>, const N: usize>(
    f: &F,
    domain: &Region<N>,
    prec: u32,
    rel_gap: f64,
    max_boxes: usize,
) -> (Mag, Mag, [f64; N]) {
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    let mut best = (Mag::ZERO, [0.0; N]);
    heap.push(Queued {
        upper: Mag::INF,
        seq,
        region: domain.clone(),
    });
    let factor = Mag::from_f64_up(1.0 + rel_gap);
    let mut boxes = 0;
    while let Some(q) = heap.pop() {
        if boxes >= max_boxes || (!q.upper.is_inf() && q.upper <= best.0.mul(factor)) {
            // Every remaining box is below the popped one: this is the certified upper end.
            return (best.0, q.upper.max(best.0), best.1);
        }
        boxes += 1;
        let (upper, center) = enclose(f, &q.region, prec);
        let low = center.mag_down();
        if low > best.0 {
            let c = q.region.center();
            best = (low, std::array::from_fn(|k| c[k].to_f64()));
        }
        let upper = Mag::from_float_up(&upper);
        for r in bisect(q.region, domain) {
            seq += 1;
            heap.push(Queued {
                upper,
                seq,
                region: r,
            });
        }
    }
    (best.0, best.0, best.1)
}

/// The two halves of `r`, split at the center of its side widest relative to the domain's (both
/// halves share the split point, so together they cover `r` whatever its rounding).
fn bisect<const N: usize>(r: Region<N>, domain: &Region<N>) -> [Region<N>; 2] {
    let k = widest_side(&r, domain);
    let mid = r.center()[k].clone();
    let mut left = r.clone();
    left.hi[k] = mid.clone();
    let mut right = r;
    right.lo[k] = mid;
    [left, right]
}

/// The side of `r` widest relative to the domain's.
fn widest_side<const N: usize>(r: &Region<N>, domain: &Region<N>) -> usize {
    (0..N)
        .max_by(|&a, &b| {
            let rel = |k: usize| {
                Float::with_val(64, &r.hi[k] - &r.lo[k])
                    / Float::with_val(64, &domain.hi[k] - &domain.lo[k])
            };
            rel(a)
                .partial_cmp(&rel(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .unwrap_or(0)
}
