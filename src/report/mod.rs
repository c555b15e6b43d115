//! Report types (serde) and their terminal rendering (file writing lives in `crate::io`).

pub mod figure;

use crate::num::{Ball, Real, Scalar};
use rug::float::Round;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Seconds: what `cargo test` and `verify --quick` run.
    Quick,
    /// The default sweep.
    Default,
    /// Further sweeps (minutes).
    Full,
}

/// How a measured value is compared with its bound.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Relation {
    /// measured ≤ bound (an upper bound, e.g. an error bound).
    AtMost,
    /// measured ≥ bound (a necessary threshold).
    AtLeast,
    /// measured > bound, strictly (a positive margin: a certified decoding is `min margin > 0`).
    Above,
    /// |measured − bound| ≤ tol·|bound| (a bound claimed tight).
    Within { rel_tol: f64 },
}

/// How a case was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Decided on certified enclosures (ball arithmetic or a branch-and-bound proof): `passed`
    /// is a proof, and so is a failure (the measured value is certainly beyond the bound).
    Certified,
    /// Decided on computed floating-point values, compared exactly as values.
    Measured,
    /// The enclosures overlap: too wide to decide. Never a pass.
    Undecided,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Certified => "certified",
            Verdict::Measured => "measured",
            Verdict::Undecided => "undecided",
        }
    }
}

/// Certified enclosures of a case's measured value and bound, as decimal strings rounded
/// outward (so they stay enclosures, also far outside f64's range).
#[derive(Clone, Debug, Serialize)]
pub struct Enclosure {
    pub measured: [String; 2],
    pub bound: [String; 2],
    /// log10 of the measured enclosure's width (`None` when it is a point).
    pub measured_width_log10: Option<f64>,
}

impl Enclosure {
    /// The enclosures of a measured ball and a bound ball, rounded outward.
    pub fn of(measured: &Ball, bound: &Ball) -> Enclosure {
        Enclosure {
            measured: [
                decimal(&measured.lower(), false),
                decimal(&measured.upper(), true),
            ],
            bound: [
                decimal(&bound.lower(), false),
                decimal(&bound.upper(), true),
            ],
            measured_width_log10: finite(
                measured.rad().mul_2exp(1).log2() * std::f64::consts::LOG10_2,
            ),
        }
    }
}

/// One checked case. Values are kept as log10 as well, since many live far outside f64's range.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    /// A stable identifier: `<claim>/<slug of the label as first built>` (unique in its report;
    /// not changed by later notes on the label), for tests and tools to find a case by.
    pub id: String,
    pub label: String,
    /// The arithmetic the case ran in when it is not simply the run's (a certificate proved at
    /// a fixed working precision), so nobody reads it off the label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arith: Option<CaseArith>,
    /// What the case is, structured (the check, the arithmetic, the sizes), when recorded: tests
    /// and tools find a case by it instead of reading its label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<CaseKey>,
    pub params: BTreeMap<String, serde_json::Value>,
    /// The measured value and the bound the decision compared (for a certified case, the ends it
    /// used), when the case compares values; far outside f64's range they are ±∞ or 0 here and
    /// the log10 fields and the enclosure carry them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<f64>,
    pub measured_log10: Option<f64>,
    pub bound_log10: Option<f64>,
    pub relation: Relation,
    /// measured / bound (as a log10 difference when both are nonzero).
    pub margin_log10: Option<f64>,
    pub passed: bool,
    pub verdict: Verdict,
    pub enclosure: Option<Enclosure>,
    pub note: Option<String>,
}

/// The arithmetic a case ran in (see [`Case::arith`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseArith {
    /// Ball arithmetic at a fixed working precision, whatever `--precision` asked for.
    FixedBits(u32),
    /// Each certificate's own working precision.
    OwnPrecision,
    /// MPFR at more bits than requested (the check needs at least this many).
    Raised(u32),
}

/// What a case checks, structured: a stable name of the check, the arithmetic it ran in, and the
/// sizes that tell it from its siblings. It makes the case's id (`<claim>/<check>[/<arith>][/k=v…]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CaseKey {
    /// The check, as a short stable name (`step`, `rounding-scales`, `sup-error`, …), not prose.
    pub check: String,
    /// The arithmetic the case ran in (`f64`, `53-bit MPFR`, `ball 128 bits`), when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arith: Option<String>,
    /// The arithmetic `--precision` asked for, when the case ran in another one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested: Option<String>,
    /// Sizes and parameters, by name (T, N, λ, …).
    pub sizes: BTreeMap<String, serde_json::Value>,
}

impl CaseKey {
    pub fn new(check: &str) -> Self {
        CaseKey {
            check: check.to_string(),
            ..CaseKey::default()
        }
    }
    pub fn arith(mut self, a: impl std::fmt::Display) -> Self {
        self.arith = Some(a.to_string());
        self
    }
    pub fn requested(mut self, a: Option<impl std::fmt::Display>) -> Self {
        self.requested = a.map(|a| a.to_string());
        self
    }
    pub fn size(mut self, name: &str, v: impl Serialize) -> Self {
        self.sizes.insert(
            name.to_string(),
            serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
        );
        self
    }
    /// The id part: `<check>[/<arith>][/k=v,…]`, slugged.
    pub fn id(&self) -> String {
        let mut o = slug(&self.check);
        if let Some(a) = &self.arith {
            o = format!("{o}/{}", slug(a));
        }
        if !self.sizes.is_empty() {
            let kv: Vec<String> = (self.sizes.iter())
                .map(|(k, v)| format!("{k}={}", slug(v.to_string().trim_matches('"'))))
                .collect();
            o = format!("{o}/{}", kv.join(","));
        }
        o
    }
    /// The size `name` as an integer (when recorded as one).
    pub fn size_u64(&self, name: &str) -> Option<u64> {
        self.sizes.get(name).and_then(|v| v.as_u64())
    }
}

/// The label as an identifier: lower case, runs of other characters as one `-`.
pub fn slug(label: &str) -> String {
    let mut o = String::with_capacity(label.len());
    for ch in label.chars().flat_map(|c| c.to_lowercase()) {
        if ch.is_alphanumeric() {
            o.push(ch);
        } else if !o.ends_with('-') && !o.is_empty() {
            o.push('-');
        }
    }
    while o.ends_with('-') {
        o.pop();
    }
    o
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// A decimal string of `x` with 17 significant digits, rounded up (`up`) or down.
fn decimal(x: &rug::Float, up: bool) -> String {
    let r = if up { Round::Up } else { Round::Down };
    x.to_string_radix_round(10, Some(17), r)
}

impl Case {
    /// A case that shows `measured` and `bound` as log10 values (`-inf` means exactly zero) and
    /// records `passed`, decided by the caller on the values themselves (never on these log10s).
    pub fn decided(
        label: impl Into<String>,
        passed: bool,
        measured_log10: f64,
        bound_log10: f64,
        relation: Relation,
    ) -> Self {
        let label = label.into();
        Case {
            id: slug(&label),
            arith: None,
            label,
            key: None,
            params: BTreeMap::new(),
            measured: None,
            bound: None,
            measured_log10: finite(measured_log10),
            bound_log10: finite(bound_log10),
            relation,
            margin_log10: finite(measured_log10 - bound_log10),
            passed: passed && !measured_log10.is_nan() && !bound_log10.is_nan(),
            verdict: Verdict::Measured,
            enclosure: None,
            note: None,
        }
    }
    /// A case from plain values, decided exactly on the values (never on their log10). Signs
    /// matter: for `Within` the two values must be nonzero with the same sign (a slope of −1 is
    /// not within 15% of 1); for `AtMost`/`AtLeast` both must be ≥ 0 (0 means exactly zero).
    /// Otherwise the case fails.
    pub fn from_values(
        label: impl Into<String>,
        measured: f64,
        bound: f64,
        relation: Relation,
    ) -> Self {
        Self::from_reals(
            label,
            &Real::from_f64(measured, 53),
            &Real::from_f64(bound, 53),
            relation,
        )
    }

    /// The one pass rule for computed values: an exact MPFR comparison of `measured` with
    /// `bound` (`Within`: `|measured − bound| ≤ tol·|bound|`, formed exactly), with the sign
    /// rules of [`Case::from_values`]; NaN fails. The log10 fields are for display only.
    pub fn from_reals(
        label: impl Into<String>,
        measured: &Real,
        bound: &Real,
        relation: Relation,
    ) -> Self {
        let (m, b) = (&measured.0, &bound.0);
        let signs_ok = match relation {
            Relation::Within { .. } => {
                !m.is_zero() && !b.is_zero() && m.is_sign_negative() == b.is_sign_negative()
            }
            Relation::AtMost | Relation::AtLeast => {
                (m.is_zero() || m.is_sign_positive()) && (b.is_zero() || b.is_sign_positive())
            }
            // a margin compared with its threshold: any signs
            Relation::Above => true,
        };
        let decided = !m.is_nan()
            && !b.is_nan()
            && match relation {
                Relation::AtMost => m <= b,
                Relation::AtLeast => m >= b,
                Relation::Above => m > b,
                Relation::Within { rel_tol } => {
                    let wp = m.prec().max(b.prec()) + 64;
                    let d = rug::Float::with_val(wp, m - b).abs();
                    let tol = rug::Float::with_val(wp, b.abs_ref()) * rel_tol;
                    d <= tol
                }
            };
        let mut c = Self::decided(
            label,
            decided && signs_ok,
            measured.log10_abs(),
            bound.log10_abs(),
            relation,
        );
        c.measured = Some(m.to_f64());
        c.bound = Some(b.to_f64());
        if !signs_ok {
            c.note = Some(format!(
                "measured {} and bound {}: signs not comparable on a log scale",
                m.to_f64(),
                b.to_f64()
            ));
        }
        c
    }

    /// A case decided on certified enclosures: `AtMost` passes when the upper end of `measured`
    /// is at most the lower end of `bound` (`AtLeast`: lower end of measured ≥ upper end of
    /// bound); it fails when the opposite holds certainly, and is `Undecided` (failed, with the
    /// enclosure width in the note) when the enclosures overlap. `Within` is not certifiable
    /// here and is undecided unless both balls are exact.
    pub fn certified(
        label: impl Into<String>,
        measured: &Ball,
        bound: &Ball,
        relation: Relation,
    ) -> Self {
        let (ml, mu) = (measured.lower(), measured.upper());
        let (bl, bu) = (bound.lower(), bound.upper());
        let nan = measured.is_nan() || bound.is_nan();
        let (pass, fail) = match relation {
            Relation::AtMost => (mu <= bl, ml > bu),
            Relation::AtLeast => (ml >= bu, mu < bl),
            Relation::Above => (ml > bu, mu <= bl),
            Relation::Within { .. } => {
                let exact = measured.rad().is_zero() && bound.rad().is_zero();
                let c = Self::from_reals("", &measured.to_real(), &bound.to_real(), relation);
                (exact && c.passed, exact && !c.passed)
            }
        };
        // Displayed values: the ends the decision uses (the larger |end| of measured for
        // `AtMost`, its smaller one for `AtLeast`; the bound's opposite end).
        let abs_end =
            |x: &rug::Float| Real(rug::Float::with_val(x.prec(), x.abs_ref())).log10_abs();
        let (m_disp, b_disp) = match relation {
            Relation::AtLeast | Relation::Above => (abs_end(&ml), abs_end(&bu)),
            _ => (abs_end(&mu).max(abs_end(&ml)), abs_end(&bl)),
        };
        let mut c = Self::decided(label, pass && !nan, m_disp, b_disp, relation);
        let (m_end, b_end) = match relation {
            Relation::AtLeast | Relation::Above => (&ml, &bu),
            _ => (&mu, &bl),
        };
        c.measured = Some(m_end.to_f64());
        c.bound = Some(b_end.to_f64());
        c.verdict = if pass || fail {
            Verdict::Certified
        } else {
            Verdict::Undecided
        };
        let width = measured.rad().mul_2exp(1);
        c.enclosure = Some(Enclosure::of(measured, bound));
        if c.verdict == Verdict::Undecided {
            c.note = Some(format!(
                "undecided: the enclosures overlap (measured ∈ [{}, {}], width 10^{:.2}; bound ∈ [{}, {}])",
                decimal(&ml, false),
                decimal(&mu, true),
                width.log2() * std::f64::consts::LOG10_2,
                decimal(&bl, false),
                decimal(&bu, true)
            ));
        }
        c
    }
    /// A yes/no check (e.g. exact decoding).
    pub fn boolean(label: impl Into<String>, ok: bool, note: impl Into<String>) -> Self {
        let label = label.into();
        Case {
            id: slug(&label),
            arith: None,
            label,
            key: None,
            params: BTreeMap::new(),
            measured: None,
            bound: None,
            measured_log10: None,
            bound_log10: None,
            relation: Relation::AtMost,
            margin_log10: None,
            passed: ok,
            verdict: Verdict::Measured,
            enclosure: None,
            note: Some(note.into()),
        }
    }
    /// A yes/no fact proved in certified arithmetic (a branch-and-bound certificate, or a
    /// decision on enclosures); `undecided` marks a proof that could not be completed.
    pub fn certificate(
        label: impl Into<String>,
        ok: bool,
        undecided: bool,
        note: impl Into<String>,
    ) -> Self {
        let mut c = Self::boolean(label, ok && !undecided, note);
        c.verdict = if undecided {
            Verdict::Undecided
        } else {
            Verdict::Certified
        };
        c
    }
    /// Mark a case as decided on certified values (for callers that decide on enclosures).
    pub fn with_verdict(mut self, v: Verdict) -> Self {
        if v == Verdict::Undecided {
            self.passed = false;
        }
        self.verdict = v;
        self
    }
    pub fn param(mut self, k: &str, v: impl Serialize) -> Self {
        self.params.insert(
            k.to_string(),
            serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
        );
        self
    }
    /// Record the arithmetic the case ran in (when it is not the run's).
    pub fn with_arith(mut self, a: Option<CaseArith>) -> Self {
        self.arith = a;
        self
    }
    pub fn with_note(mut self, n: impl Into<String>) -> Self {
        self.note = Some(n.into());
        self
    }
    /// Record what the case is ([`CaseKey`]); its id becomes the key's.
    pub fn keyed(mut self, key: CaseKey) -> Self {
        self.id = key.id();
        self.key = Some(key);
        self
    }
    /// Whether the case makes check `check` (its [`CaseKey`]).
    pub fn is(&self, check: &str) -> bool {
        self.key.as_ref().is_some_and(|k| k.check == check)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Status {
    Passed,
    Failed,
    /// No case certainly failed, but some could not be decided (enclosures too wide at the
    /// precision run): not a pass, and not a refutation either.
    Undecided,
    NotBuilt,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Passed => "pass",
            Status::Failed => "FAIL",
            Status::Undecided => "UNDECIDED",
            Status::NotBuilt => "not built yet",
        }
    }
}

/// The size of the construction a claim checked (the largest one, when it sweeps).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConstructionSize {
    pub description: String,
    pub state_size: usize,
    pub residual_width: usize,
    pub mlp_width: usize,
    pub nonzero_params: usize,
    pub max_abs_param: f64,
    pub ops_per_token: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClaimReport {
    pub id: String,
    pub paper_ref: String,
    pub status: Status,
    pub construction: ConstructionSize,
    pub cases: Vec<Case>,
    /// Largest measured/bound over upper-bound cases (log10).
    pub worst_margin_log10: Option<f64>,
    pub notes: Vec<String>,
    pub seconds: f64,
    /// The claim's figures, when the run was asked for them (`reproduce`, `figures`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub figures: Vec<figure::Figure>,
}

impl ClaimReport {
    pub fn new(
        id: &str,
        paper_ref: &str,
        construction: ConstructionSize,
        mut cases: Vec<Case>,
    ) -> Self {
        // `<claim>/<slug>`, a repeated slug numbered `#2`, `#3`, … in order.
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for c in &mut cases {
            let n = seen.entry(c.id.clone()).or_insert(0);
            *n += 1;
            c.id = if *n == 1 {
                format!("{id}/{}", c.id)
            } else {
                format!("{id}/{}#{n}", c.id)
            };
        }
        let status = if cases.iter().all(|c| c.passed) && !cases.is_empty() {
            Status::Passed
        } else if cases
            .iter()
            .all(|c| c.passed || c.verdict == Verdict::Undecided)
        {
            Status::Undecided
        } else {
            Status::Failed
        };
        let worst = cases
            .iter()
            .filter(|c| c.relation == Relation::AtMost)
            .filter_map(|c| c.margin_log10)
            .fold(None, |a: Option<f64>, m| Some(a.map_or(m, |a| a.max(m))));
        ClaimReport {
            id: id.to_string(),
            paper_ref: paper_ref.to_string(),
            status,
            construction,
            cases,
            worst_margin_log10: worst,
            notes: Vec::new(),
            seconds: 0.0,
            figures: Vec::new(),
        }
    }
    pub fn not_built(id: &str, paper_ref: &str) -> Self {
        ClaimReport {
            id: id.to_string(),
            paper_ref: paper_ref.to_string(),
            status: Status::NotBuilt,
            construction: ConstructionSize::default(),
            cases: Vec::new(),
            worst_margin_log10: None,
            notes: vec!["not built yet".to_string()],
            seconds: 0.0,
            figures: Vec::new(),
        }
    }
    pub fn failed_cases(&self) -> impl Iterator<Item = &Case> {
        self.cases.iter().filter(|c| !c.passed)
    }
}

/// The reports as JSON (docs/report-json.md), pretty, with a final newline: deterministic for a
/// seed unless `timings` (which keeps every `seconds` field).
pub fn to_json(reports: &[ClaimReport], timings: bool) -> crate::error::Result<String> {
    let err = |e: serde_json::Error| {
        crate::error::Error::compute(format!("cannot serialise the report: {e}"))
    };
    let mut v = serde_json::to_value(reports).map_err(err)?;
    if !timings {
        strip_seconds(&mut v);
    }
    let mut s = serde_json::to_string_pretty(&v).map_err(err)?;
    s.push('\n');
    Ok(s)
}

/// Largest JSON report `figures --from` reads (a full `reproduce --json` report is about 1.3 MB).
pub const MAX_REPORT_BYTES: u64 = 64 << 20;

/// The figures carried by a JSON report (`reproduce --json`), in the reports' order: one clear
/// error for a file that is too large, not a report, or carries no figure.
pub fn figures_from_file(path: &std::path::Path) -> crate::error::Result<Vec<figure::Figure>> {
    use crate::error::Error;
    #[derive(serde::Deserialize)]
    struct FiguresOf {
        #[serde(default)]
        figures: Vec<figure::Figure>,
    }
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io_at("read", path, e))?
        .len();
    if len > MAX_REPORT_BYTES {
        return Err(Error::input(format!(
            "{} has {len} bytes, more than a report's limit of {MAX_REPORT_BYTES}",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io_at("read", path, e))?;
    let reports: Vec<FiguresOf> = serde_json::from_str(&text).map_err(|e| {
        Error::input(format!(
            "{} is not a JSON report of `freelunch reproduce --json` ({e})",
            path.display()
        ))
    })?;
    let figures: Vec<figure::Figure> = reports.into_iter().flat_map(|r| r.figures).collect();
    if figures.is_empty() {
        return Err(Error::input(format!(
            "{} carries no figure (`verify --json` writes none; write it with `freelunch reproduce --json`)",
            path.display()
        )));
    }
    Ok(figures)
}

/// Remove every `seconds` field (claim run times, certificate search times), at any depth.
fn strip_seconds(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            o.remove("seconds");
            o.values_mut().for_each(strip_seconds);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_seconds),
        _ => {}
    }
}

/// How many claims passed, and which failed or are undecided.
#[derive(Clone, Debug, Default)]
pub struct Summary<'a> {
    pub passed: usize,
    pub failed: Vec<&'a str>,
    pub undecided: Vec<&'a str>,
    pub not_built: usize,
}

impl<'a> Summary<'a> {
    pub fn of(reports: &'a [ClaimReport]) -> Self {
        let mut s = Summary::default();
        for r in reports {
            match r.status {
                Status::Passed => s.passed += 1,
                Status::Failed => s.failed.push(&r.id),
                Status::Undecided => s.undecided.push(&r.id),
                Status::NotBuilt => s.not_built += 1,
            }
        }
        s
    }
}

/// Render `verify`'s table.
pub fn render_table(reports: &[ClaimReport]) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<13} {:<44} {:>6} {:>22} {:>8} {:>7}",
        "claim", "construction", "cases", "worst measured/bound", "status", "secs"
    );
    for r in reports {
        let worst = r
            .worst_margin_log10
            .map(fmt_log10)
            .unwrap_or_else(|| "-".into());
        let mut desc = r.construction.description.clone();
        if desc.chars().count() > 44 {
            desc = desc.chars().take(43).collect::<String>() + "…";
        }
        let _ = writeln!(
            o,
            "{:<13} {:<44} {:>6} {:>22} {:>8} {:>7.1}",
            r.id,
            desc,
            r.cases.len(),
            worst,
            r.status.word(),
            r.seconds
        );
        let count = |v: Verdict| r.cases.iter().filter(|c| c.verdict == v).count();
        let (cert, undec) = (count(Verdict::Certified), count(Verdict::Undecided));
        if cert + undec > 0 {
            let _ = writeln!(
                o,
                "    verdicts: {cert} certified, {} measured, {undec} undecided",
                count(Verdict::Measured)
            );
        }
        for c in r.failed_cases().take(5) {
            // A boolean case (a law, a certificate) has no measured value or bound to show.
            let values = match (c.measured_log10, c.bound_log10) {
                (Some(m), Some(b)) => {
                    format!(" (measured {}, bound {})", fmt_log10(m), fmt_log10(b))
                }
                _ => String::new(),
            };
            let head = if c.verdict == Verdict::Undecided {
                "undecided (too coarse to decide at this precision, not a pass)".to_string()
            } else {
                format!("failed ({})", c.verdict.word())
            };
            let _ = writeln!(
                o,
                "    {head}: {}{values} {}",
                c.label,
                c.note.clone().unwrap_or_default()
            );
        }
        for n in &r.notes {
            if r.status != Status::NotBuilt {
                let _ = writeln!(o, "    note: {n}");
            }
        }
    }
    o
}

/// `10^m` for display, never ambiguous: two decimals, or (when those would show `±0.00`)
/// two significant digits, so a ratio just below 1 never reads like one just above.
pub fn fmt_log10(m: f64) -> String {
    if m == 0.0 {
        "10^0".to_string()
    } else if m.is_finite() && m.abs() < 0.005 {
        format!("10^{m:.1e}")
    } else {
        format!("10^{m:.2}")
    }
}

/// Fewest distinct values of the fitted-against quantity (T, S, m, M) a law is fitted through,
/// and fewest distinct T of the minimal-precision laws: below this no law is fitted (and none
/// passes); the fit is never shown as NaN.
pub const MIN_DISTINCT: usize = 3;

/// Number of distinct values among `xs`.
pub fn distinct(xs: impl IntoIterator<Item = f64>) -> usize {
    let mut v: Vec<f64> = xs.into_iter().collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v.len()
}

/// A fitted exponent or slope for display: never `NaN` (a fit that could not be made says so).
pub fn fmt_fit(e: f64) -> String {
    if e.is_finite() {
        format!("{e:.3}")
    } else {
        "none (too few distinct sizes to fit)".to_string()
    }
}

/// Atomic file writes moved to [`crate::io`]; kept here under the old name.
pub use crate::io::write_file as write_atomic;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log10_display_keeps_the_sign() {
        assert_eq!(fmt_log10(-0.001), "10^-1.0e-3");
        assert_eq!(fmt_log10(0.001), "10^1.0e-3");
        assert_eq!(fmt_log10(-2.345), "10^-2.35");
        assert_eq!(fmt_log10(0.0), "10^0");
    }

    #[test]
    fn from_values_respects_signs() {
        let within = Relation::Within { rel_tol: 0.15 };
        assert!(Case::from_values("slope", 1.02, 1.0, within).passed);
        assert!(!Case::from_values("slope", -1.0, 1.0, within).passed);
        assert!(!Case::from_values("slope", -3.0, 3.0, within).passed);
        assert!(Case::from_values("both negative", -3.1, -3.0, within).passed);
        assert!(!Case::from_values("zero", 0.0, 0.0, within).passed);
        assert!(!Case::from_values("nan", f64::NAN, 1.0, within).passed);
        assert!(Case::from_values("zero error", 0.0, 1e-9, Relation::AtMost).passed);
        assert!(Case::from_values("ok", 1e-10, 1e-9, Relation::AtMost).passed);
        assert!(!Case::from_values("above", 2e-9, 1e-9, Relation::AtMost).passed);
        assert!(!Case::from_values("negative", -1e-3, 1e-9, Relation::AtMost).passed);
        assert!(!Case::from_values("negative bound", 0.0, -1.0, Relation::AtMost).passed);
        assert!(!Case::from_values("nan", f64::NAN, 1.0, Relation::AtMost).passed);
        assert!(!Case::from_values("nan", 1.0, f64::NAN, Relation::AtLeast).passed);
        // Exact, not log10: an excess of 1 ulp of f64 fails.
        let b = 0.3f64;
        let above = f64::from_bits(b.to_bits() + 1);
        assert!(!Case::from_values("1 ulp above", above, b, Relation::AtMost).passed);
        assert!(Case::from_values("equal", b, b, Relation::AtMost).passed);
    }

    fn ball(mid: f64, rad_log2: i64) -> Ball {
        let mut x = Ball::from_f64(mid, 128);
        x.set_rad(crate::num::Mag::pow2(rad_log2));
        x
    }

    #[test]
    fn certified_cases_decide_on_enclosure_ends() {
        let bound = ball(1.0, -40);
        let c = Case::certified("inside", &ball(0.9, -20), &bound, Relation::AtMost);
        assert!(c.passed && c.verdict == Verdict::Certified);
        let c = Case::certified("above", &ball(1.1, -20), &bound, Relation::AtMost);
        assert!(!c.passed && c.verdict == Verdict::Certified);
        // Overlapping enclosures: undecided, never a pass, width in the note and JSON.
        let c = Case::certified("overlap", &ball(0.99, -3), &bound, Relation::AtMost);
        assert!(!c.passed && c.verdict == Verdict::Undecided);
        assert!(c.note.as_deref().unwrap_or("").contains("undecided"));
        let e = c.enclosure.expect("enclosure");
        assert!(e.measured[0].starts_with("8.6") && e.measured[1].starts_with("1.11"));
        // Mid below the bound but upper end above: not a pass (a midpoint decision would pass).
        let c = Case::certified(
            "mid below",
            &ball(1.0 - 2f64.powi(-30), -20),
            &bound,
            Relation::AtMost,
        );
        assert!(!c.passed && c.verdict == Verdict::Undecided);
        let c = Case::certified("at least", &ball(2.0, -20), &bound, Relation::AtLeast);
        assert!(c.passed);
    }

    #[test]
    fn the_strict_relation_fails_on_a_tie_and_is_undecided_on_a_straddling_margin() {
        assert!(Case::from_values("m", 1e-300, 0.0, Relation::Above).passed);
        assert!(!Case::from_values("tie", 0.0, 0.0, Relation::Above).passed);
        assert!(!Case::from_values("below", -1.0, 0.0, Relation::Above).passed);
        let zero = Ball::zero(64);
        let ball = |x: f64, r: i64| {
            Ball::with_radius(&rug::Float::with_val(64, x), crate::num::Mag::pow2(r), 64)
        };
        let c = Case::certified("margin", &ball(1.0, -10), &zero, Relation::Above);
        assert!(c.passed && c.verdict == Verdict::Certified);
        let c = Case::certified("straddles", &ball(0.0, -10), &zero, Relation::Above);
        assert!(!c.passed && c.verdict == Verdict::Undecided);
        let c = Case::certified("certainly not", &ball(-1.0, -10), &zero, Relation::Above);
        assert!(!c.passed && c.verdict == Verdict::Certified);
        // an exact tie is certainly not above
        let c = Case::certified("exact tie", &zero, &zero, Relation::Above);
        assert!(!c.passed && c.verdict == Verdict::Certified);
    }

    #[test]
    fn a_keyed_case_takes_its_id_from_the_key() {
        let c = Case::boolean("some prose, T=16", true, "").keyed(
            CaseKey::new("step")
                .arith("53-bit MPFR")
                .size("T", 16)
                .size("memory", "position-key a=1"),
        );
        assert_eq!(c.id, "step/53-bit-mpfr/T=16,memory=position-key-a-1");
        assert!(c.is("step") && !c.is("full-rank"));
        assert_eq!(c.key.as_ref().unwrap().size_u64("T"), Some(16));
    }
}
