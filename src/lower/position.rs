//! Positional features computed inside the model, from a counter `t` (an `A = 0` SSM channel).
//!
//! Every feature is an integer function of `t` on `1..=T`. On integers such a function is its
//! piecewise-linear interpolant: `f(t) = f(lo) + Σ_k a_k·ReLU(t − k)` with `a_k` the second
//! differences (one unit per kink). A feature that is periodic with period `P` except near the ends
//! is written `f(t) = g(t mod P) + corr(t)` instead (`corr` is zero but near the ends), and `t mod P`
//! is computed in ⌊log₂(T/P)⌋ + 1 stages `s ← s − c·[s ≥ c]`, `c = P·2^k`, with
//! `[s ≥ c] = ReLU(s − c + 1) − ReLU(s − c)` exact on integers. Width O(P + the kinks near the ends), not O(T).

use crate::model::PosKind;

/// `c0 + Σ coef·ReLU(x − kink)` on the integers of `[lo, lo + len)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kinks {
    pub c0: f64,
    pub units: Vec<(i64, f64)>,
}

impl Kinks {
    /// The interpolant of `values` (`values[i]` at `x = lo + i`).
    pub fn of(values: &[i64], lo: i64) -> Kinks {
        let mut out = Kinks {
            c0: values.first().copied().unwrap_or(0) as f64,
            units: Vec::new(),
        };
        let mut prev_slope = 0i64;
        for i in 0..values.len().saturating_sub(1) {
            let slope = values[i + 1] - values[i];
            if slope != prev_slope {
                out.units.push((lo + i as i64, (slope - prev_slope) as f64));
            }
            prev_slope = slope;
        }
        out
    }
    pub fn eval(&self, x: i64) -> f64 {
        self.c0
            + (self.units.iter())
                .map(|&(k, a)| a * (x - k).max(0) as f64)
                .sum::<f64>()
    }
}

/// How one feature is computed.
#[derive(Clone, Debug, PartialEq)]
pub enum FeatureProgram {
    /// A constant (no units).
    Constant(f64),
    /// Kinks on `t`.
    Plain(Kinks),
    /// `g(t mod P)` (kinks on `s = t mod P`) plus a correction with kinks on `t`.
    Periodic {
        period: usize,
        g: Kinks,
        corr: Kinks,
    },
}

impl FeatureProgram {
    pub fn units(&self) -> usize {
        match self {
            FeatureProgram::Constant(_) => 0,
            FeatureProgram::Plain(k) => k.units.len(),
            FeatureProgram::Periodic { g, corr, .. } => g.units.len() + corr.units.len(),
        }
    }
    pub fn eval(&self, t: usize) -> f64 {
        match self {
            FeatureProgram::Constant(c) => *c,
            FeatureProgram::Plain(k) => k.eval(t as i64),
            FeatureProgram::Periodic { period, g, corr } => {
                g.eval((t % period) as i64) + corr.eval(t as i64)
            }
        }
    }
}

/// The values of a feature on `t = 1..=t_max`.
pub fn table_of(kind: &PosKind, t_max: usize) -> Vec<i64> {
    (1..=t_max)
        .map(|t| match kind {
            PosKind::Constant { .. } => 0,
            PosKind::Position => t as i64,
            PosKind::PositionSquared => (t * t) as i64,
            PosKind::Equals { at } => (t == *at) as i64,
            PosKind::AtLeast { from } => (t >= *from) as i64,
            PosKind::Modulo { modulus, residue } => (t % modulus == *residue) as i64,
            PosKind::Table { values } => values.get(t - 1).copied().unwrap_or(0),
        })
        .collect()
}

/// Stages of `t mod P` for `t ≤ t_max`: the subtracted multiples `P·2^k`, largest first.
pub fn mod_stages(period: usize, t_max: usize) -> Vec<usize> {
    let mut c = Vec::new();
    let mut m = period;
    while m <= t_max {
        c.push(m);
        m *= 2;
    }
    c.reverse();
    c
}

/// The cheapest program for a feature on `t = 1..=t_max`: plain kinks, or periodic when that
/// needs fewer units (counting the 2 units of each mod stage once per new period).
pub fn program(kind: &PosKind, t_max: usize, periods_in_use: &[usize]) -> FeatureProgram {
    if let PosKind::Constant { num, den } = kind {
        return FeatureProgram::Constant(*num as f64 / *den as f64);
    }
    let f = table_of(kind, t_max);
    let plain = Kinks::of(&f, 1);
    let mut best = (plain.units.len(), FeatureProgram::Plain(plain));
    for p in 1..=t_max / 2 {
        // g: one period read from the middle of the sequence; corr: what differs from it
        // (a prefix and a suffix, e.g. the prompt and the answer).
        let w0 = (t_max - p) / 2 + 1;
        let g_vals: Vec<i64> = (0..p).map(|r| f[w0 + (r + p - w0 % p) % p - 1]).collect();
        let corr_vals: Vec<i64> = (1..=t_max).map(|t| f[t - 1] - g_vals[t % p]).collect();
        let g = Kinks::of(&g_vals, 0);
        let corr = Kinks::of(&corr_vals, 1);
        let stage_cost = if periods_in_use.contains(&p) {
            0
        } else {
            2 * mod_stages(p, t_max).len()
        };
        let cost = g.units.len() + corr.units.len() + stage_cost;
        if cost < best.0 {
            best = (cost, FeatureProgram::Periodic { period: p, g, corr });
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_program_reproduces_its_table() {
        let t_max = 97;
        let kinds = [
            PosKind::Position,
            PosKind::PositionSquared,
            PosKind::Equals { at: 5 },
            PosKind::AtLeast { from: 40 },
            PosKind::Modulo {
                modulus: 7,
                residue: 3,
            },
            PosKind::Table {
                values: (0..90)
                    .map(|i| {
                        if i < 9 {
                            i * 3
                        } else {
                            (i % 5 == 1) as i64 * 4
                        }
                    })
                    .collect(),
            },
        ];
        for k in &kinds {
            let p = program(k, t_max, &[]);
            let f = table_of(k, t_max);
            for t in 1..=t_max {
                assert_eq!(p.eval(t), f[t - 1] as f64, "{k:?} at t = {t} ({p:?})");
            }
        }
    }

    #[test]
    fn periodic_features_use_units_independent_of_t() {
        let k = PosKind::Modulo {
            modulus: 6,
            residue: 1,
        };
        let small = program(&k, 200, &[]).units();
        let large = program(&k, 4000, &[]).units();
        assert_eq!(small, large);
        assert!(large <= 6, "{large} units");
        // A wrong period is caught by the evaluation.
        if let FeatureProgram::Periodic { g, corr, .. } = program(&k, 200, &[]) {
            let wrong = FeatureProgram::Periodic { period: 5, g, corr };
            assert!((1..=200).any(|t| wrong.eval(t) != table_of(&k, 200)[t - 1] as f64));
        } else {
            panic!("a modulo feature should be periodic");
        }
    }
}
