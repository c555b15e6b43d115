//! `copy-linear` (proofs/copy-linear.md): a Mamba block with state O(T) copies exactly.

use super::{Claim, ClaimInfo, Mode, RunConfig};
use crate::copy::linear::{build_copy_model, run_copy, CopyOutcome, CopyTask, MemoryKind};
use crate::error::Result;
use crate::memory::Use;
use crate::num::{Arith, Real, Scalar};
use crate::plot::{Chart, Figure, Series, Style};
use crate::report::{Case, ClaimReport, ConstructionSize, Relation};
use crate::rng::Rng;

pub struct CopyLinear;

pub const VOCAB: usize = 16;

/// The memories the claim sweeps: every COPY memory of the catalog.
pub fn kinds() -> Vec<MemoryKind> {
    MemoryKind::usable_for(Use::Copy)
}

pub fn random_prompt(rng: &mut Rng, len: usize, vocab: usize) -> Vec<usize> {
    (0..len).map(|_| rng.below(vocab)).collect()
}

/// The prompt of the minimal-precision search for `kind` at `T` (shared by `verify` and the
/// figure, whose searches are the same and cached).
fn precision_prompt(rng: &Rng, kind: MemoryKind, t: usize) -> Vec<usize> {
    let mut r = rng.stream(&format!("copy-linear/precision/{}/T={t}", kind.stream_id()));
    random_prompt(&mut r, t, VOCAB)
}

/// Measured outcome plus the model's size, at one arithmetic.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LinearRun {
    pub outcome: CopyOutcome,
    pub read_bound: f64,
    pub state: usize,
    pub max_abs_param: f64,
    /// Largest |weight| of the memory layers (SSM and selection MLP), without the readout.
    pub memory_max_abs_param: f64,
    pub nonzeros: usize,
    pub ops_per_token: u64,
}

pub fn run_linear<S: Scalar>(
    kind: MemoryKind,
    task: &CopyTask,
    prompt: &[usize],
    prec: u32,
) -> Result<LinearRun> {
    let cm = build_copy_model::<S>(kind, task, prec)?;
    let outcome = run_copy(&cm, task, prompt)?;
    let size = crate::measure::SizeMeasure::of(&cm.model, task.length);
    Ok(LinearRun {
        outcome,
        read_bound: cm.read_bound,
        state: size.state,
        max_abs_param: size.max_abs_param,
        memory_max_abs_param: size.layers_max_abs_param,
        nonzeros: size.nonzeros,
        ops_per_token: size.ops_per_token,
    })
}

pub fn run_linear_at(
    kind: MemoryKind,
    task: &CopyTask,
    prompt: &[usize],
    arith: Arith,
) -> Result<LinearRun> {
    match arith {
        Arith::F64 => run_linear::<f64>(kind, task, prompt, 53),
        Arith::Mpfr(p) => run_linear::<Real>(kind, task, prompt, p.bits()),
    }
}

/// Smallest MPFR precision (bits, in `2..=max_bits`, by [`crate::measure::minimal_bits`]) at which
/// greedy decoding is exact, and whether the next `confirm` precisions are exact as well.
pub fn minimal_bits(
    kind: MemoryKind,
    task: &CopyTask,
    prompt: &[usize],
    max_bits: u32,
    confirm: u32,
) -> Result<Option<(u32, bool)>> {
    let key = format!(
        "copy-linear/minimal_bits/{}/{task:?}/{prompt:?}/{max_bits}/{confirm}",
        kind.stream_id()
    );
    super::memo::cached(key, || {
        minimal_bits_uncached(kind, task, prompt, max_bits, confirm)
    })
}

fn minimal_bits_uncached(
    kind: MemoryKind,
    task: &CopyTask,
    prompt: &[usize],
    max_bits: u32,
    confirm: u32,
) -> Result<Option<(u32, bool)>> {
    let exact = |p: u32| -> Result<bool> {
        Ok(run_linear_at(kind, task, prompt, Arith::mpfr(p))?
            .outcome
            .exact())
    };
    let Some(p) = crate::measure::minimal_bits(2, max_bits, exact)? else {
        return Ok(None);
    };
    let mut stable = true;
    for q in p + 1..=p + confirm {
        stable &= exact(q)?;
    }
    Ok(Some((p, stable)))
}

struct Plan {
    /// (kind, T, arithmetic)
    exact: Vec<(MemoryKind, usize, Arith)>,
    precision_ts: Vec<usize>,
    random_maps: usize,
}

fn plan(mode: Mode, arith: Option<Arith>) -> Plan {
    let mp = Arith::mpfr(128);
    let (f64_ts, mp_key, mp_slot, prec_ts): (&[usize], &[usize], &[usize], &[usize]) = match mode {
        Mode::Quick => (&[16, 256, 4096], &[16, 256], &[16, 128], &[16, 64, 256]),
        Mode::Default => (
            &[16, 256, 1024, 4096],
            &[16, 256, 1024, 4096],
            &[16, 256, 1024],
            &[16, 64, 256, 1024],
        ),
        Mode::Full => (
            &[16, 256, 1024, 4096, 8192],
            &[16, 256, 1024, 4096],
            &[16, 256, 1024, 4096],
            &[16, 64, 256, 1024, 4096],
        ),
    };
    let mut exact = Vec::new();
    for kind in kinds() {
        match arith {
            Some(a) => {
                for &t in f64_ts {
                    // same plan as without --precision at f64; large MPFR slot runs only in --full
                    let f64_default = a == Arith::F64 && mode != Mode::Quick;
                    if kind != MemoryKind::Slot || t <= 1024 || mode == Mode::Full || f64_default {
                        exact.push((kind, t, a));
                    }
                }
            }
            None => {
                for &t in f64_ts {
                    if kind != MemoryKind::Slot || t <= 1024 || mode != Mode::Quick {
                        exact.push((kind, t, Arith::F64));
                    }
                }
                let ts = if kind == MemoryKind::Slot {
                    mp_slot
                } else {
                    mp_key
                };
                for &t in ts {
                    exact.push((kind, t, mp));
                }
            }
        }
    }
    Plan {
        exact,
        precision_ts: prec_ts.to_vec(),
        random_maps: if mode == Mode::Quick { 2 } else { 6 },
    }
}

impl Claim for CopyLinear {
    fn info(&self) -> ClaimInfo {
        ClaimInfo {
            id: "copy-linear",
            paper_ref: "v1 Thm 2, v2 Thm 3",
            statement: "A Mamba block with state O(T) copies exactly; greedy decoding needs O(log T) bits at most (measured: a constant set by the vocabulary).",
        }
    }

    fn explain(&self) -> String {
        format!(
            "{}\n## Built examples (T = 8, V = 4)\n\n{}",
            include_str!("../../proofs/copy-linear.md"),
            super::example_summaries(self)
        )
    }

    fn examples(&self) -> Vec<(String, Result<crate::model::Model<f64>>)> {
        let task = CopyTask::copy_all(8, 4);
        kinds()
            .iter()
            .map(|&kind| {
                let model = build_copy_model::<f64>(kind, &task, 53).map(|cm| cm.model);
                (format!("{}, T = 8, V = 4", kind.label()), model)
            })
            .collect()
    }

    fn runnable_examples(&self) -> Vec<(String, Result<super::RunnableExample>)> {
        let task = CopyTask::copy_all(8, 4);
        let prompt = random_prompt(&mut Rng::new(2410_03810), 8, 4);
        kinds()
            .iter()
            .map(|&kind| {
                let ex = crate::export::examples::copy_linear(kind, &task, &prompt);
                (format!("{}, T = 8, V = 4", kind.label()), ex)
            })
            .collect()
    }

    fn run(&self, cfg: &RunConfig) -> Result<ClaimReport> {
        let pl = plan(cfg.mode, cfg.arith);
        let rng = Rng::new(cfg.seed);
        let mut cases = Vec::new();
        let mut notes = Vec::new();
        let mut largest: Option<(usize, LinearRun, MemoryKind)> = None;
        let mut progress = super::progress::Progress::new(cfg, "copy-linear");
        // The runs are independent (each prompt from its own stream): run them on every core,
        // then read them in plan order.
        let bits_of = |arith: Arith| match arith {
            Arith::F64 => 53,
            Arith::Mpfr(p) => p.bits(),
        };
        let runs: Vec<Result<(LinearRun, crate::certify::copy::CertifiedCopy)>> = {
            use rayon::prelude::*;
            pl.exact
                .par_iter()
                .map(|&(kind, t, arith)| {
                    let mut r = rng.stream(&format!(
                        "copy-linear/exact/{}/T={t}/{arith}",
                        kind.stream_id()
                    ));
                    let task = CopyTask::copy_all(t, VOCAB);
                    let prompt = random_prompt(&mut r, t, VOCAB);
                    let run = run_linear_at(kind, &task, &prompt, arith)?;
                    let cert = crate::certify::copy::run(kind, &task, &prompt, bits_of(arith))?;
                    Ok((run, cert))
                })
                .collect()
        };
        for (k, (&(kind, t, arith), ran)) in pl.exact.iter().zip(runs).enumerate() {
            let (run, cert) = ran?;
            let label = format!("{} T={t} at {arith}", kind.label());
            cases.push(
                Case::boolean(
                    format!("exact greedy copy, {label}"),
                    run.outcome.exact(),
                    format!(
                        "{} of {} tokens wrong; min logit margin 10^{:.2}",
                        run.outcome.wrong, run.outcome.outputs, run.outcome.min_margin_log10
                    ),
                )
                .param("run", &run),
            );
            // The read error is decided on the same model run in ball arithmetic at the same
            // precision (enclosures of the exact reads; their widths are the proved rounding of a
            // p-bit run), against the exact-arithmetic read bound: no rounding allowance.
            let bits = bits_of(arith);
            let case = crate::certify::copy::read_case(
                &cert,
                &format!("{label} (ball run at {bits} bits)"),
            );
            let note = format!(
                "{}; measured at {arith}: 10^{:.2}",
                case.note.clone().unwrap_or_default(),
                run.outcome.max_read_error_log10
            );
            cases.push(
                case.with_note(note)
                    .param("exact_arithmetic_bound", run.read_bound),
            );
            if largest.as_ref().is_none_or(|l| t >= l.0) {
                largest = Some((t, run, kind));
            }
            progress.done(|| {
                format!(
                    "exact copy {} of {}: {} T={t} at {arith} and its ball run",
                    k + 1,
                    pl.exact.len(),
                    kind.label()
                )
            });
        }
        // Random target maps (any p(q) ≤ T), every memory.
        for kind in kinds() {
            for m in 0..pl.random_maps {
                let mut r = rng.stream(&format!("copy-linear/random-map/{}/{m}", kind.stream_id()));
                let t = 64 + r.below(192);
                let q = 1 + r.below(2 * t);
                let task = CopyTask {
                    length: t,
                    vocab: VOCAB,
                    targets: (0..q).map(|_| 1 + r.below(t)).collect(),
                };
                let prompt = random_prompt(&mut r, t, VOCAB);
                let arith = cfg.arith.unwrap_or(Arith::mpfr(64));
                let run = run_linear_at(kind, &task, &prompt, arith)?;
                cases.push(Case::boolean(
                    format!(
                        "exact copy, random target map, {} T={t} Q={q} at {arith}",
                        kind.label()
                    ),
                    run.outcome.exact(),
                    format!("{} of {q} wrong", run.outcome.wrong),
                ));
            }
        }
        // Minimal precision vs T (the searches in parallel, read in order).
        let searches: Vec<(MemoryKind, usize)> = kinds()
            .into_iter()
            .flat_map(|kind| pl.precision_ts.iter().map(move |&t| (kind, t)))
            .collect();
        let mut found_all = {
            use rayon::prelude::*;
            searches
                .par_iter()
                .map(|&(kind, t)| {
                    let task = CopyTask::copy_all(t, VOCAB);
                    let prompt = precision_prompt(&rng, kind, t);
                    minimal_bits(kind, &task, &prompt, 96, 2)
                })
                .collect::<Vec<_>>()
                .into_iter()
        };
        for kind in kinds() {
            let mut row = Vec::new();
            for &t in &pl.precision_ts {
                let found = found_all.next().expect("one search per (kind, T)")?;
                let budget = (t as f64).log2().ceil() as u32 + 16;
                let (p, stable) = found.unwrap_or((u32::MAX, false));
                cases.push(
                    Case::from_values(
                        format!(
                            "minimal precision ≤ ⌈log2 T⌉+16 bits, {} T={t}",
                            kind.label()
                        ),
                        p as f64,
                        budget as f64,
                        Relation::AtMost,
                    )
                    .with_note(format!(
                        "exact from {p} bits (next 2 precisions exact: {stable})"
                    )),
                );
                row.push(format!("T={t}: {p}"));
                progress.done(|| format!("minimal precision, {} T={t}", kind.label()));
            }
            notes.push(format!(
                "minimal bits for exact decoding, {}: {}",
                kind.label(),
                row.join(", ")
            ));
        }
        progress.done(|| "random target maps and minimal precisions".to_string());
        cases.extend(crate::certify::copy::copy_linear_cases_at(
            cfg.mode,
            cfg.seed,
            cfg.arith.map(|a| a.bits()),
        )?);
        let (t, run, kind) = largest.expect("plan is never empty");
        notes.push(format!(
            "largest T decoded exactly: {t} ({}); state {}, max |param| {:.3e}",
            kind.label(),
            run.state,
            run.max_abs_param
        ));
        let size = ConstructionSize {
            description: format!("one Mamba block, state T, T ≤ {t}"),
            state_size: run.state,
            residual_width: 0,
            mlp_width: 0,
            nonzero_params: run.nonzeros,
            max_abs_param: run.max_abs_param,
            ops_per_token: run.ops_per_token,
        };
        let mut rep = ClaimReport::new(self.info().id, self.info().paper_ref, size, cases);
        rep.notes = notes;
        Ok(rep)
    }

    fn figures(&self, cfg: &RunConfig) -> Result<Vec<Figure>> {
        let ts = [8usize, 16, 32, 64, 128, 256, 512, 1024];
        let rng = Rng::new(cfg.seed);
        let mut prec_series = Vec::new();
        let mut param_series = Vec::new();
        let mut readout = Vec::new();
        for (k, kind) in kinds().into_iter().enumerate() {
            let mut pts = Vec::new();
            let mut params = Vec::new();
            for &t in &ts {
                // the prompts of verify's precision cases (its searches are reused)
                let task = CopyTask::copy_all(t, VOCAB);
                let prompt = precision_prompt(&rng, kind, t);
                // no exact decoding up to 96 bits is a failure of the figure, not a gap in it
                let bits =
                    minimal_bits(kind, &task, &prompt, 96, 2)?.map_or(f64::NAN, |b| b.0 as f64);
                pts.push(((t as f64).log2(), bits));
                let run = run_linear_at(kind, &task, &prompt, Arith::F64)?;
                params.push(((t as f64).log2(), run.memory_max_abs_param.log10()));
                if k == 0 {
                    readout.push(((t as f64).log2(), run.max_abs_param.log10()));
                }
            }
            prec_series.push(Series::new(
                format!("measured minimal bits, {}", kind.label()),
                pts,
                Style::LinePoints,
            ));
            param_series.push(Series::new(
                format!("memory layers (SSM + selection), {}", kind.label()),
                params,
                Style::LinePoints,
            ));
        }
        prec_series.push(Series::new(
            "the original specification's expectation log2 T + c (c = 4), for comparison",
            ts.iter()
                .map(|&t| ((t as f64).log2(), (t as f64).log2() + 4.0))
                .collect(),
            Style::Dashed,
        ));
        let mut out = vec![Figure::one(
            "copy-linear-precision",
            Chart {
                title: format!("copy-linear: minimal precision for exact greedy copy (V={VOCAB})"),
                x_label: "log2 T".into(),
                y_label: "bits".into(),
                series: prec_series,
            },
        )];
        param_series.push(Series::new(
            format!(
                "max |weight| of the whole model (readout bias (V−1)² = {})",
                (VOCAB - 1) * (VOCAB - 1)
            ),
            readout,
            Style::Dashed,
        ));
        out.push(Figure::one(
            "copy-linear-params",
            Chart {
                title: format!("copy-linear: largest weight vs T (V={VOCAB})"),
                x_label: "log2 T".into(),
                y_label: "log10 max |weight|".into(),
                series: param_series,
            },
        ));
        Ok(out)
    }
}
