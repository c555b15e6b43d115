//! `copy-rank` (proofs/copy-rank.md): copying from T positions needs state linear in T.

use super::{Claim, ClaimInfo, Mode, RunConfig};
use crate::copy::linear::MemoryKind;
use crate::copy::rank::{
    analyse, best_r_allowed, literal_counterexample, neumann_holds, position_key_m, random_block_m,
    row_normalised, slot_m, stated_formula, step_holds, RankReport,
};
use crate::error::Result;
use crate::plot::{Chart, Figure, Series, Style};
use crate::report::{Case, CaseKey, ClaimReport, ConstructionSize};
use crate::rng::Rng;

pub struct CopyRank;

/// The cases one M gets: the step where `N < T` (measured r against 1, exact f64 comparison)
/// and `r < 1 ⇒ rank M = T` where the measured r is below 1. The stated bound itself is not a
/// case: with its hypothesis r ≤ 1 it follows from the step (proofs/copy-rank.md).
pub fn step_cases(label: &str, rep: &RankReport) -> Vec<Case> {
    let case = |check: &str, what: &str, ok: bool, note: String| {
        Case::boolean(format!("{what}, {label}"), ok, note)
            .keyed(
                CaseKey::new(check)
                    .size("T", rep.t)
                    .size("N", rep.state)
                    .size("construction", label),
            )
            .param("report", rep)
    };
    let mut v = Vec::new();
    if rep.state < rep.t {
        v.push(case(
            "step",
            "step: N < T ⇒ r ≥ 1",
            step_holds(rep),
            format!("N={}, T={}, measured r={:.4}", rep.state, rep.t, rep.r),
        ));
    }
    if rep.r < 1.0 {
        v.push(case(
            "full-rank",
            "r < 1 ⇒ rank M = T",
            neumann_holds(rep),
            format!("r={:.4}, rank {} of T={}", rep.r, rep.rank, rep.t),
        ));
    }
    v
}

/// The best copy error reached at one (T, N) over every construction, and by which.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Reach {
    pub t: usize,
    pub n: usize,
    pub best_r: f64,
    pub best_by: String,
    /// (construction, r) for every construction measured at this (T, N).
    pub all: Vec<(String, f64)>,
}

/// The step is tight at (T, N) when the best r reached is exactly the step's value: 1 for N < T,
/// 0 for N ≥ T (compared exactly in f64).
pub fn tight_case(reach: &Reach) -> Case {
    let want = if reach.n < reach.t { 1.0 } else { 0.0 };
    Case::boolean(
        format!(
            "step attained: best r = {want} at T={} N={}",
            reach.t, reach.n
        ),
        reach.best_r == want,
        format!("best r = {:e} by {}", reach.best_r, reach.best_by),
    )
    .keyed(
        CaseKey::new("step-attained")
            .size("T", reach.t)
            .size("N", reach.n),
    )
    .param("reach", reach)
}

/// Every construction's M at (T, N), with its label. Random blocks: `seeds` draws, raw and
/// row-normalised readouts.
pub fn constructions_at(
    rng: &Rng,
    t: usize,
    n: usize,
    seeds: usize,
) -> Result<Vec<(String, RankReport)>> {
    let mut out = Vec::new();
    for s in 0..seeds {
        let mut r = rng.stream(&format!("copy-rank/T={t}/N={n}/{s}"));
        let m = random_block_m(&mut r, t, n)?;
        out.push((format!("random block seed {s}"), analyse(&m, n)));
        out.push((
            format!("random block seed {s} normalised"),
            analyse(&row_normalised(&m), n),
        ));
    }
    for kind in [MemoryKind::Position, MemoryKind::PositionEta] {
        out.push((
            format!("{} with {n} keys", kind.label()),
            analyse(&position_key_m(t, n, kind)?, n),
        ));
    }
    out.push((
        format!("selective-slot memory with {n} slots"),
        analyse(&slot_m(t, n)?, n),
    ));
    Ok(out)
}

fn sizes(mode: Mode) -> (Vec<usize>, usize) {
    match mode {
        Mode::Quick => (vec![16, 48], 2),
        Mode::Default => (vec![16, 32, 64, 128], 3),
        Mode::Full => (vec![16, 32, 64, 128, 256], 6),
    }
}

/// State sizes swept at T: N/T ∈ {1/4, 1/2, 3/4, 0.9, 1}.
pub fn states_at(t: usize) -> Vec<usize> {
    [0.25, 0.5, 0.75, 0.9, 1.0]
        .iter()
        .map(|f| ((t as f64 * f).round() as usize).max(1))
        .collect()
}

impl Claim for CopyRank {
    fn info(&self) -> ClaimInfo {
        ClaimInfo {
            id: "copy-rank",
            paper_ref: "toolkit addition",
            statement:
                "Copying T positions with error r < 1 needs state N ≥ T (sharp); the stated N ≥ T(1−r)²/((1+r)²+r²) − 1 needs r ≤ 1.",
        }
    }
    fn honours_precision(&self) -> bool {
        false // rank and singular values in f64 (nalgebra)
    }

    fn explain(&self) -> String {
        include_str!("../../proofs/copy-rank.md").to_string()
    }

    fn run(&self, cfg: &RunConfig) -> Result<ClaimReport> {
        let (ts, seeds) = sizes(cfg.mode);
        let rng = Rng::new(cfg.seed);
        let mut cases = Vec::new();
        let mut notes = Vec::new();
        for &t in &ts {
            let mut row = Vec::new();
            for n in states_at(t) {
                let built = constructions_at(&rng, t, n, seeds)?;
                for (label, rep) in &built {
                    cases.extend(step_cases(&format!("{label}, T={t}"), rep));
                }
                let (best_by, best) = built
                    .iter()
                    .min_by(|a, b| a.1.r.total_cmp(&b.1.r))
                    .map(|(l, r)| (l.clone(), r.r))
                    .unwrap_or_default();
                let reach = Reach {
                    t,
                    n,
                    best_r: best,
                    best_by,
                    all: built.iter().map(|(l, r)| (l.clone(), r.r)).collect(),
                };
                row.push(format!("N={n}: {:.3}", reach.best_r));
                cases.push(tight_case(&reach));
            }
            notes.push(format!("best r reached at T={t}: {}", row.join(", ")));
        }
        let m = literal_counterexample(16, 10.0);
        let rep = analyse(&m, 1);
        notes.push(format!(
            "hypothesis r ≤ 1 is needed: M = 10·11ᵀ (T=16, rank {}) has r = {}, and the formula read literally asks N ≥ {:.2} > 1 (tests/copy_rank.rs)",
            rep.rank,
            rep.r,
            stated_formula(16, rep.r)
        ));
        notes.push(
            "the stated bound is not a case: with r ≤ 1 it follows from the step (N < T ⇒ r ≥ 1), and on M built from a layer it is the identity rank M ≤ N".to_string(),
        );
        let t_max = *ts.last().unwrap_or(&0);
        let size = ConstructionSize {
            description: format!("M matrices of 1-channel blocks, T ≤ {t_max}"),
            state_size: t_max,
            ..Default::default()
        };
        let mut rep = ClaimReport::new(self.info().id, self.info().paper_ref, size, cases);
        rep.notes = notes;
        Ok(rep)
    }

    fn figures(&self, cfg: &RunConfig) -> Result<Vec<Figure>> {
        let t = 64;
        let rng = Rng::new(cfg.seed);
        let (mut allowed, mut random, mut keys, mut sharp) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // every fourth N, and N = T − 1, T where the sharp minimum jumps
        let mut ns: Vec<usize> = (4..t - 1).step_by(4).collect();
        ns.extend([t - 1, t]);
        for n in ns {
            let x = n as f64 / t as f64;
            allowed.push((x, best_r_allowed(n, t)));
            let mut best = f64::INFINITY;
            for s in 0..3 {
                let m = random_block_m(
                    &mut rng.stream(&format!("copy-rank/figure/N={n}/{s}")),
                    t,
                    n,
                )?;
                best = best.min(analyse(&m, n).r);
            }
            random.push((x, best.min(3.0)));
            keys.push((
                x,
                analyse(&position_key_m(t, n, MemoryKind::Position)?, n).r,
            ));
            sharp.push((x, if n + 1 >= t { 0.0 } else { 1.0 }));
        }
        let chart = Chart {
            title: format!("copy-rank: copy error r vs state N/T (T={t}; random r capped at 3)"),
            x_label: "N / T".into(),
            y_label: "r (worst-case error / σ)".into(),
            series: vec![
                Series::new("smallest r the stated bound allows", allowed, Style::Line),
                Series::new(
                    "smallest r possible (sharp: Neumann series; drawn as steps)",
                    sharp,
                    Style::Steps,
                ),
                Series::new(
                    "random block, least-squares queries (best of 3)",
                    random,
                    Style::Points,
                ),
                Series::new("position-key memory with N keys", keys, Style::Steps),
            ],
        };
        Ok(vec![Figure::one("copy-rank", chart)])
    }
}
