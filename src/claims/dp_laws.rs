//! The asymptotic statements of `dp-general` and `dp-local` as checked cases
//! (proofs/dp-general.md, proofs/dp-local.md): least-squares log-log exponents of the state,
//! residual width, nonzero parameters, largest |parameter|, per-token and total cost, measured
//! from compiled models over a sweep of sizes, against T, S (DP states) and m (dependency
//! distance); and the minimal precision of the local memory against T.
//!
//! A law case passes when the fitted exponent is at most the stated exponent plus a stated
//! tolerance ([`Law`]). Each law fails on a deliberately wrong model (a memory whose state grows
//! with T, or with T²): see `tests/dp_laws.rs`.

use super::dp::{minimal_precision, state_at, MAX_PRECISION_BITS};
use super::Mode;
use crate::dp::{compile, Compiled, DpProblem, MemoryKind, Options};
use crate::error::{Error, Result};
use crate::measure::fit::{bits_per_doubling, loglog_slope, SLOPE_TOL};
use crate::model::Activation;
use crate::report::Case;
use crate::rng::Rng;
use serde::Serialize;

/// Size and cost of one compiled model (f64, ReLU), with one decoded random input.
#[derive(Clone, Debug, Serialize)]
pub struct LawPoint {
    /// Sequence length T.
    pub t: usize,
    /// Number of DP states S.
    pub states: usize,
    /// Dependency distance m.
    pub m: usize,
    /// Largest token value M = V − 1.
    pub max_value: usize,
    /// State carried at the last position (SSM state, or the KV cache).
    pub state: usize,
    pub width: usize,
    pub nonzeros: usize,
    pub max_abs_param: f64,
    /// Operations for the token at position T.
    pub ops_last: u64,
    /// Operations to write the whole CoT.
    pub total_ops: u64,
    /// The decoded CoT equals the solver's.
    pub exact: bool,
}

/// Compile `p` with `opt` at f64, decode one random input, and read size and cost off the model.
pub fn measure(p: &dyn DpProblem, opt: &Options, seed: u64) -> Result<LawPoint> {
    let c: Compiled<f64> = compile(p, opt, 53)?;
    let x = p.random_input(&mut Rng::new(seed));
    let r = c.run(p, &x)?;
    let t = c.info.total_len;
    let s = c.model.size();
    Ok(LawPoint {
        t,
        states: c.info.states,
        m: c.info.distance,
        max_value: p.values() - 1,
        state: state_at(&c, t),
        width: s.residual_width,
        nonzeros: s.nonzero_params,
        max_abs_param: s.max_abs_param,
        ops_last: c.model.ops_at(t),
        total_ops: r.ops,
        exact: r.exact,
    })
}

/// A measured quantity of a [`LawPoint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Quantity {
    State,
    Width,
    Nonzeros,
    MaxParam,
    OpsLast,
    TotalOps,
}

impl Quantity {
    pub const ALL: [Quantity; 6] = [
        Quantity::State,
        Quantity::Width,
        Quantity::Nonzeros,
        Quantity::MaxParam,
        Quantity::OpsLast,
        Quantity::TotalOps,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Quantity::State => "state",
            Quantity::Width => "width",
            Quantity::Nonzeros => "nonzeros",
            Quantity::MaxParam => "max |param|",
            Quantity::OpsLast => "ops/token",
            Quantity::TotalOps => "total ops",
        }
    }
    pub fn of(self, p: &LawPoint) -> f64 {
        match self {
            Quantity::State => p.state as f64,
            Quantity::Width => p.width as f64,
            Quantity::Nonzeros => p.nonzeros as f64,
            Quantity::MaxParam => p.max_abs_param,
            Quantity::OpsLast => p.ops_last as f64,
            Quantity::TotalOps => p.total_ops as f64,
        }
    }
}

/// The size parameter a quantity is fitted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Against {
    T,
    S,
    M,
    /// The largest token value M = V − 1 (shown as `M`; the distance is `m`).
    MaxValue,
}

impl Against {
    pub fn name(self) -> &'static str {
        match self {
            Against::T => "T",
            Against::S => "S",
            Against::M => "m",
            Against::MaxValue => "M",
        }
    }
    pub fn of(self, p: &LawPoint) -> f64 {
        match self {
            Against::T => p.t as f64,
            Against::S => p.states as f64,
            Against::M => p.m as f64,
            Against::MaxValue => p.max_value as f64,
        }
    }
}

/// Least-squares exponent of `q` against `x` over `points` (NaN with fewer than two distinct x).
pub fn exponent(points: &[LawPoint], q: Quantity, x: Against) -> f64 {
    let pts: Vec<(f64, f64)> = points.iter().map(|p| (x.of(p), q.of(p))).collect();
    let distinct = pts.iter().any(|p| p.0 != pts[0].0);
    if pts.len() < 2 || !distinct || pts.iter().any(|p| p.0 <= 0.0 || p.1 <= 0.0) {
        return f64::NAN;
    }
    loglog_slope(&pts)
}

/// A stated law `quantity = O(against^max)`, checked as: fitted exponent ≤ max + tol.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Law {
    pub quantity: Quantity,
    pub against: Against,
    pub max: f64,
    pub tol: f64,
}

impl Law {
    pub const fn new(quantity: Quantity, against: Against, max: f64, tol: f64) -> Self {
        Law {
            quantity,
            against,
            max,
            tol,
        }
    }
}

/// Fewest sizes a law is fitted over.
pub const MIN_SIZES: usize = 4;

pub use crate::report::{distinct, fmt_fit, MIN_DISTINCT};

/// One family of sizes of one problem with one memory.
#[derive(Clone, Debug, Serialize)]
pub struct Family {
    pub name: String,
    pub points: Vec<LawPoint>,
}

impl Family {
    /// Measure every problem of the sweep with `opt` (or with `opt_for(p)` when given).
    pub fn sweep(
        name: impl Into<String>,
        problems: &[Box<dyn DpProblem>],
        opt_for: &dyn Fn(&dyn DpProblem) -> Options,
        seed: u64,
    ) -> Result<Family> {
        let points = problems
            .iter()
            .map(|p| measure(p.as_ref(), &opt_for(p.as_ref()), seed))
            .collect::<Result<Vec<_>>>()?;
        Ok(Family {
            name: name.into(),
            points,
        })
    }

    /// The case of one law on this family: passes when the fitted exponent is finite and at most
    /// `max + tol`, over at least [`MIN_SIZES`] sizes.
    pub fn law_case(&self, law: &Law) -> Case {
        let e = exponent(&self.points, law.quantity, law.against);
        let xs: Vec<String> = self
            .points
            .iter()
            .map(|p| format!("{}", law.against.of(p)))
            .collect();
        let n = distinct(self.points.iter().map(|p| law.against.of(p)));
        let ok = self.points.len() >= MIN_SIZES
            && n >= MIN_DISTINCT
            && e.is_finite()
            && e <= law.max + law.tol;
        Case::boolean(
            format!(
                "law: {} = O({}^{}), {}",
                law.quantity.name(),
                law.against.name(),
                law.max,
                self.name
            ),
            ok,
            format!(
                "fitted exponent {} ≤ {} + {} over {} = {} ({} sizes, {n} distinct; at least {MIN_SIZES} sizes and {MIN_DISTINCT} distinct needed)",
                fmt_fit(e),
                law.max,
                law.tol,
                law.against.name(),
                xs.join(", "),
                self.points.len(),
            ),
        )
        .param("exponent", e)
        .param("law", law)
    }

    /// A lower-bound law: the state grows at least as `T^STATE_GROWTH_MIN` (the general
    /// memories index every position, so their state is Θ(T); it fails on a memory whose state
    /// does not grow, e.g. a fixed number of slots).
    pub fn state_grows_case(&self) -> Case {
        let e = exponent(&self.points, Quantity::State, Against::T);
        let ok = self.points.len() >= MIN_SIZES && e.is_finite() && e >= STATE_GROWTH_MIN;
        Case::boolean(
            format!(
                "law: state grows as T^{STATE_GROWTH_MIN} or faster, {}",
                self.name
            ),
            ok,
            format!(
                "fitted exponent of state against T: {} ≥ {STATE_GROWTH_MIN} ({} sizes)",
                fmt_fit(e),
                self.points.len()
            ),
        )
        .param("exponent", e)
    }

    /// Every quantity's fitted exponent against each of `against`, as one line.
    pub fn measured_laws(&self, against: &[Against]) -> String {
        let mut parts = Vec::new();
        for q in Quantity::ALL {
            let es: Vec<String> = against
                .iter()
                .map(|&x| {
                    let e = exponent(&self.points, q, x);
                    if e.is_finite() {
                        format!("{}^{e:.2}", x.name())
                    } else {
                        format!("{}^? (no fit)", x.name())
                    }
                })
                .collect();
            parts.push(format!("{} ~ {}", q.name(), es.join(" / ")));
        }
        let t: Vec<String> = self.points.iter().map(|p| p.t.to_string()).collect();
        format!(
            "measured laws, {} (T = {}): {}",
            self.name,
            t.join(", "),
            parts.join("; ")
        )
    }

    /// A case that every model of the sweep decoded its input exactly (the laws are measured on
    /// working models only).
    pub fn exact_case(&self) -> Case {
        let bad: Vec<String> = self
            .points
            .iter()
            .filter(|p| !p.exact)
            .map(|p| p.t.to_string())
            .collect();
        Case::boolean(
            format!("law sweep decodes exactly: {}", self.name),
            bad.is_empty(),
            if bad.is_empty() {
                format!("{} sizes, all exact", self.points.len())
            } else {
                format!("not exact at T = {}", bad.join(", "))
            },
        )
    }
}

/// The laws `dp-general` states for its main construction (slot memory with m = distance):
/// state O(T), total cost O(T²), width and nonzeros O(T), and the largest weight O(M²) in the
/// largest value M (the readout bias −c²; the decode biases reach m = O(T) = O(M²) on edit
/// distance and LIS, where M = Θ(n) and T = Θ(n²)) (proofs/dp-general.md). The tolerance 0.2
/// covers the lower-order terms at the sizes swept (m = T − O(√T), so the local exponent of m is
/// T/(T − O(√T)) > 1).
pub const GENERAL_LAWS: [Law; 5] = [
    Law::new(Quantity::State, Against::T, 1.0, 0.2),
    Law::new(Quantity::TotalOps, Against::T, 2.0, 0.2),
    Law::new(Quantity::Width, Against::T, 1.0, 0.2),
    Law::new(Quantity::Nonzeros, Against::T, 1.0, 0.2),
    Law::new(Quantity::MaxParam, Against::MaxValue, 2.0, 0.2),
];

/// The laws `dp-local` states at fixed m as T grows: state, size and per-token cost O(1), total
/// cost O(T) (proofs/dp-local.md).
pub const LOCAL_T_LAWS: [Law; 6] = [
    Law::new(Quantity::State, Against::T, 0.0, 0.05),
    Law::new(Quantity::Width, Against::T, 0.0, 0.05),
    Law::new(Quantity::Nonzeros, Against::T, 0.0, 0.05),
    Law::new(Quantity::MaxParam, Against::T, 0.0, 0.05),
    Law::new(Quantity::OpsLast, Against::T, 0.0, 0.05),
    Law::new(Quantity::TotalOps, Against::T, 1.0, 0.05),
];

/// The laws `dp-local` states as m grows: state and per-token cost O(m) (so total O(mT)).
pub const LOCAL_M_LAWS: [Law; 2] = [
    Law::new(Quantity::State, Against::M, 1.0, 0.15),
    Law::new(Quantity::OpsLast, Against::M, 1.0, 0.15),
];

fn relu(memory: MemoryKind) -> Options {
    Options::new(memory, Activation::Relu)
}

/// The catalog problem `id` with `params` (space-separated `k=v`, the rest at their defaults)
/// at each size of its size parameter.
pub fn sweep(id: &str, params: &str, sizes: &[usize]) -> Result<Vec<Box<dyn DpProblem>>> {
    let base = crate::dp::problem(id, params)?;
    sizes.iter().map(|&s| base.resized(s)).collect()
}

/// The catalog problem `id` with one parameter `name` taking each value (the size fixed).
pub fn param_sweep(
    id: &str,
    params: &str,
    name: &str,
    values: &[usize],
) -> Result<Vec<Box<dyn DpProblem>>> {
    values
        .iter()
        .map(|&v| {
            let p = crate::dp::problem(id, &format!("{params} {name}={v}"))?;
            Ok(Box::new(p) as Box<dyn DpProblem>)
        })
        .collect()
}

struct Sizes {
    /// Edit distance n for the position and attention memories.
    edit: &'static [usize],
    /// Ring widths of the rule-110 sweep in m.
    widths: &'static [usize],
    /// Rule-110 rows of the precision sweep.
    prec_rows: &'static [usize],
    /// Catalog sweeps: at most this many sizes, T at most this.
    catalog: (usize, usize),
}

fn sizes(mode: Mode) -> Sizes {
    match mode {
        Mode::Quick => Sizes {
            edit: &[2, 3, 4, 5],
            widths: &[3, 4, 6, 8],
            prec_rows: &[2, 4, 8, 16],
            catalog: (4, 300),
        },
        Mode::Default => Sizes {
            edit: &[2, 3, 4, 6, 8, 12],
            widths: &[3, 4, 6, 8, 12, 16],
            prec_rows: &[4, 32, 250],
            catalog: (6, 800),
        },
        Mode::Full => Sizes {
            edit: &[2, 3, 4, 6, 8, 12, 16],
            widths: &[3, 4, 6, 8, 12, 16, 24],
            prec_rows: &[4, 32, 250, 500],
            catalog: (7, 3000),
        },
    }
}

/// The laws checked on every general catalog problem with the slot memory (m = its distance):
/// state, width and nonzeros O(T), total cost O(T²) (the tolerance of [`GENERAL_LAWS`]), and
/// the state O(m) (proofs/dp-general.md).
pub const CATALOG_GENERAL_LAWS: [Law; 5] = [
    Law::new(Quantity::State, Against::T, 1.0, 0.2),
    Law::new(Quantity::Width, Against::T, 1.0, 0.2),
    Law::new(Quantity::Nonzeros, Against::T, 1.0, 0.2),
    Law::new(Quantity::TotalOps, Against::T, 2.0, 0.2),
    Law::new(Quantity::State, Against::M, 1.0, 0.15),
];

/// Sizes of a catalog sweep of `p`: `count` sizes of the size parameter whose T spreads
/// geometrically over `[t_cap/8, t_cap]` (the largest size with T ≤ `t_cap`, then the sizes
/// closest to T/8^(k/(count−1)) below it; sizes the spec refuses are skipped).
pub fn catalog_sizes(p: &dyn DpProblem, count: usize, t_cap: usize) -> Vec<usize> {
    let mut cands: Vec<(usize, usize)> = Vec::new();
    let mut s = 1usize;
    while s <= crate::dp::MAX_TOTAL_LEN {
        if let Ok(q) = p.resized(s) {
            let t = crate::dp::total_len(q.as_ref());
            if t > t_cap {
                break;
            }
            cands.push((s, t));
        }
        s += (s / 16).max(1);
    }
    let Some(&(_, t_max)) = cands.last() else {
        return Vec::new();
    };
    let mut out: Vec<usize> = (0..count)
        .map(|k| {
            let want = t_max as f64 / 8f64.powf((count - 1 - k) as f64 / (count - 1).max(1) as f64);
            let best = cands.iter().min_by(|a, b| {
                (a.1 as f64 - want)
                    .abs()
                    .total_cmp(&(b.1 as f64 - want).abs())
            });
            best.map_or(0, |c| c.0)
        })
        .collect();
    out.dedup();
    out
}

/// One slot-memory size sweep per catalog problem whose derived locality is `local` (default
/// parameters, [`catalog_sizes`]): the laws of `dp-general` or `dp-local` are checked on each.
pub fn catalog_families(
    local: bool,
    (count, t_cap): (usize, usize),
    seed: u64,
) -> Result<Vec<Family>> {
    let mut out = Vec::new();
    for spec in crate::dp::catalog()? {
        let p = spec.instance(&[])?;
        if p.local() != local {
            continue;
        }
        let sizes = catalog_sizes(&p, count, t_cap);
        let problems = sizes
            .iter()
            .map(|&s| p.resized(s))
            .collect::<Result<Vec<_>>>()?;
        let name = format!("catalog {}, slot memory", spec.id);
        out.push(Family::sweep(
            name,
            &problems,
            &|_| relu(MemoryKind::Slot),
            seed,
        )?);
    }
    Ok(out)
}

/// The smallest fitted exponent of state against T a general memory (position, attention)
/// may show: its state holds every position, Θ(T).
pub const STATE_GROWTH_MIN: f64 = 0.9;

/// `dp-general`'s law cases and the measured laws of every memory (notes).
pub fn general_law_cases(mode: Mode, seed: u64) -> Result<(Vec<Case>, Vec<String>)> {
    let z = sizes(mode);
    let mut cases = Vec::new();
    let mut notes = Vec::new();
    for fam in catalog_families(false, z.catalog, seed)? {
        cases.push(fam.exact_case());
        cases.extend(CATALOG_GENERAL_LAWS.iter().map(|l| fam.law_case(l)));
        notes.push(fam.measured_laws(&[Against::T, Against::S, Against::M, Against::MaxValue]));
    }
    for memory in [MemoryKind::Position, MemoryKind::Attention] {
        let name = format!("edit distance n×n, {} memory", memory.name());
        let fam = Family::sweep(name, &sweep("edit", "", z.edit)?, &|_| relu(memory), seed)?;
        cases.push(fam.exact_case());
        cases.extend(GENERAL_LAWS.iter().map(|l| fam.law_case(l)));
        cases.push(fam.state_grows_case());
        notes.push(fam.measured_laws(&[Against::T, Against::S, Against::M, Against::MaxValue]));
    }
    Ok((cases, notes))
}

/// Minimal MPFR bits for exact decoding (one random input) at each problem of a sweep.
pub fn precision_points(
    problems: &[Box<dyn DpProblem>],
    opt: &Options,
    seed: u64,
) -> Result<Vec<(usize, u32)>> {
    problems
        .iter()
        .map(|p| {
            let x = vec![p.random_input(&mut Rng::new(seed))];
            let bits = minimal_precision(p.as_ref(), opt, &x)?.ok_or_else(|| {
                Error::compute(format!(
                    "{} does not decode exactly even at {MAX_PRECISION_BITS} bits",
                    p.describe()
                ))
            })?;
            Ok((crate::dp::total_len(p.as_ref()), bits))
        })
        .collect()
}

/// "Minimal precision constant in T": the least-squares slope of bits against log2 T
/// ([`bits_per_doubling`]) is at most [`SLOPE_TOL`] (a position-indexed memory needs about one
/// bit per doubling of T).
pub fn precision_case(name: &str, points: &[(usize, u32)]) -> Case {
    let n = distinct(points.iter().map(|&(t, _)| (t as f64).log2()));
    let s = if n >= MIN_DISTINCT {
        bits_per_doubling(points)
    } else {
        f64::NAN
    };
    let shown: Vec<String> = points.iter().map(|(t, b)| format!("T={t}: {b}")).collect();
    Case::boolean(
        format!("law: minimal precision constant in T, {name}"),
        s.is_finite() && s <= SLOPE_TOL,
        format!(
            "bits {}; slope {} bits per doubling of T ≤ {SLOPE_TOL} ({n} distinct T, at least {MIN_DISTINCT} needed)",
            shown.join(", "),
            fmt_fit(s)
        ),
    )
    .param("slope", s.is_finite().then_some(s))
}

/// `dp-local`'s law cases (in T at fixed m, in m, and the minimal precision in T) and the
/// measured laws (notes).
pub fn local_law_cases(mode: Mode, seed: u64) -> Result<(Vec<Case>, Vec<String>)> {
    let z = sizes(mode);
    let mut cases = Vec::new();
    let mut notes = Vec::new();
    for fam in catalog_families(true, z.catalog, seed)? {
        cases.push(fam.exact_case());
        cases.extend(LOCAL_T_LAWS.iter().map(|l| fam.law_case(l)));
        notes.push(fam.measured_laws(&[Against::T]));
    }
    let fam = Family::sweep(
        "rule 110, 8 rows, ring width w, slot memory",
        &param_sweep("eca", "rows=8 rule=110", "width", z.widths)?,
        &|_| relu(MemoryKind::Slot),
        seed,
    )?;
    cases.push(fam.exact_case());
    cases.extend(LOCAL_M_LAWS.iter().map(|l| fam.law_case(l)));
    notes.push(fam.measured_laws(&[Against::M, Against::T]));
    let pts = precision_points(
        &sweep("eca", "width=8 rule=110", z.prec_rows)?,
        &relu(MemoryKind::Slot),
        seed,
    )?;
    cases.push(precision_case("rule 110 w=8, slot memory", &pts));
    Ok((cases, notes))
}

/// One configuration of the cost comparison (proofs/dp-general.md): a problem family with one
/// memory, measured at every size of its sweep.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// `edit`, `eca` or `fib`.
    pub family: &'static str,
    pub label: String,
    pub memory: MemoryKind,
    pub points: Vec<LawPoint>,
}

impl Comparison {
    /// Fitted log-log exponent of the total cost against T.
    pub fn total_slope(&self) -> f64 {
        exponent(&self.points, Quantity::TotalOps, Against::T)
    }
    /// The largest instance measured.
    pub fn last(&self) -> Option<&LawPoint> {
        self.points.last()
    }
}

/// Sizes of the comparison sweeps: edit n, rule-110 rows (w = 8), Fibonacci terms.
pub const COMPARISON_EDIT: [usize; 6] = [2, 3, 4, 6, 8, 12];
pub const COMPARISON_ECA: [usize; 6] = [4, 8, 16, 32, 64, 125];
pub const COMPARISON_FIB: [usize; 5] = [10, 40, 160, 640, 2000];
/// The position-key memory is measured up to this T (its decode grows with T per token).
pub const POSITION_MAX_T: usize = 1200;

/// (family id, problems, problem name, label of the slot memory).
type ComparisonFamily = (
    &'static str,
    Vec<Box<dyn DpProblem>>,
    &'static str,
    &'static str,
);

/// The comparison the paper's title asks about, measured from built models (f64, ReLU): general
/// DPs (edit distance) and m-local ones (rule 110, Fibonacci mod 10), each with the Mamba slot
/// memory, the position-key memory and softmax attention. The README table and
/// `figures/dp-total-cost`, `figures/dp-state` are drawn from this one function.
pub fn comparison(seed: u64) -> Result<Vec<Comparison>> {
    let families: [ComparisonFamily; 3] = [
        (
            "edit",
            sweep("edit", "", &COMPARISON_EDIT)?,
            "edit",
            "Mamba general (slot m=dist)",
        ),
        (
            "eca",
            sweep("eca", "width=8 rule=110", &COMPARISON_ECA)?,
            "rule 110",
            "Mamba m-local (slot)",
        ),
        (
            "fib",
            sweep("linrec", "coeffs=1,1 q=10", &COMPARISON_FIB)?,
            "Fibonacci mod 10",
            "Mamba m-local (slot)",
        ),
    ];
    let mut out = Vec::new();
    for (family, problems, name, slot_label) in families {
        for (memory, what) in [
            (MemoryKind::Slot, slot_label),
            (MemoryKind::Position, "Mamba position-key"),
            (MemoryKind::Attention, "attention"),
        ] {
            let mut points = Vec::new();
            for p in &problems {
                if memory == MemoryKind::Position
                    && crate::dp::total_len(p.as_ref()) > POSITION_MAX_T
                {
                    continue;
                }
                points.push(measure(p.as_ref(), &relu(memory), seed)?);
            }
            out.push(Comparison {
                family,
                label: format!("{name}, {what}"),
                memory,
                points,
            });
        }
    }
    Ok(out)
}
