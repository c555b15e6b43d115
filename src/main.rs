//! The `freelunch` command line: parse, call the library, print.

use clap::{Parser, Subcommand};
use freelunch::claims::{self, Mode, RunConfig};
use freelunch::error::{Error, Result};
use freelunch::num::{parse_precision, Arith};
use freelunch::report::{render_table, write_atomic, ClaimReport, Status};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Print to stdout; a closed pipe (e.g. `freelunch explain x | head`) ends the program quietly.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        if let Err(e) = write!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => {{
        out!($($arg)*);
        out!("\n");
    }};
}

#[derive(Parser)]
#[command(
    name = "freelunch",
    version,
    about = "Builds the constructions of arXiv 2410.03810 weight by weight and checks every bound."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List every claim: id, paper reference, status, one-line statement.
    Claims,
    /// Print a claim's statement, proof and construction.
    Explain {
        claim: String,
        /// Also write the weights of the claim's example constructions as JSON to this file.
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Check claims (all when none are named); exits non-zero if any fails.
    Verify {
        claims: Vec<String>,
        /// `f64` or a number of bits (2..=65536); default: each claim's own list.
        #[arg(long, value_parser = parse_arith, allow_hyphen_values = true)]
        precision: Option<Arith>,
        /// The seconds-long sweep.
        #[arg(long, conflicts_with = "full")]
        quick: bool,
        /// The long sweep.
        #[arg(long)]
        full: bool,
        /// Also write the reports as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 2410_03810, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: u64,
    },
    /// Regenerate every figure.
    Figures {
        #[arg(long, default_value = "figures")]
        out: PathBuf,
        #[arg(long, default_value_t = 2410_03810, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: u64,
    },
    /// Compile one DP problem into a model, decode its chain of thought, compare with the solver.
    Dp(Box<DpArgs>),
    /// Verify every claim and regenerate every figure: the main job.
    Reproduce {
        #[arg(long, default_value = "figures")]
        out: PathBuf,
        /// Also write the reports as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 2410_03810, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: u64,
    },
    /// Regenerate the README's claim table, DP comparison table and figure list (between its
    /// marker comments); with --check only compare, and exit 1 if they differ.
    Readme {
        #[arg(long)]
        check: bool,
        #[arg(long, default_value = "README.md")]
        path: PathBuf,
        #[arg(long, default_value = "figures")]
        figures: PathBuf,
        #[arg(long, default_value_t = 2410_03810, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: u64,
    },
}

#[derive(clap::Args)]
struct DpArgs {
    /// edit, lis, linrec or eca.
    problem: String,
    /// Size: edit |a|, lis length, linrec terms, eca rows.
    #[arg(long)]
    n: Option<usize>,
    /// edit: |b| (default n).
    #[arg(long)]
    n2: Option<usize>,
    /// Alphabet size (edit, lis).
    #[arg(long)]
    sigma: Option<usize>,
    /// edit: costs `ins,del,sub`.
    #[arg(long)]
    costs: Option<String>,
    /// linrec: coefficients `c1,c2,...` (order k = count).
    #[arg(long)]
    coeffs: Option<String>,
    /// linrec: modulus.
    #[arg(long)]
    q: Option<usize>,
    /// eca: ring width.
    #[arg(long)]
    width: Option<usize>,
    /// eca: rule number.
    #[arg(long)]
    rule: Option<usize>,
    /// Input symbols (`0,1,1` or `011`); default: random from --seed.
    #[arg(long)]
    input: Option<String>,
    /// slot, position or attention.
    #[arg(long, default_value = "slot")]
    memory: String,
    /// Slots of the slot memory (default: the dependency distance).
    #[arg(long)]
    slots: Option<usize>,
    /// relu, gelu or silu.
    #[arg(long, default_value = "relu")]
    activation: String,
    /// λ of the smooth activation (default: the prescribed one).
    #[arg(long, allow_hyphen_values = true)]
    lambda: Option<f64>,
    /// `f64` or a number of bits.
    #[arg(long, value_parser = parse_arith, default_value = "f64")]
    precision: Arith,
    /// Print the whole chain of thought.
    #[arg(long)]
    show_cot: bool,
    /// Print the model summary.
    #[arg(long)]
    summary: bool,
    /// Write the weights as JSON to this file.
    #[arg(long)]
    export: Option<PathBuf>,
    #[arg(long, default_value_t = 2410_03810, value_parser = parse_seed, allow_hyphen_values = true)]
    seed: u64,
}

fn parse_list(name: &str, s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .map(|x| {
            x.trim().parse::<usize>().map_err(|_| {
                Error::input(format!(
                    "{name} `{s}` must be comma-separated non-negative integers"
                ))
            })
        })
        .collect()
}

fn run_dp(a: DpArgs) -> Result<ExitCode> {
    use freelunch::dp::{self, problems::ProblemParams};
    let costs = match &a.costs {
        Some(c) => {
            let v = parse_list("--costs", c)?;
            if v.len() != 3 {
                return Err(Error::input(format!(
                    "--costs `{c}` must be three numbers ins,del,sub"
                )));
            }
            Some((v[0], v[1], v[2]))
        }
        None => None,
    };
    let params = ProblemParams {
        n: a.n,
        n2: a.n2,
        sigma: a.sigma,
        costs,
        coeffs: a
            .coeffs
            .as_deref()
            .map(|c| parse_list("--coeffs", c))
            .transpose()?,
        q: a.q,
        width: a.width,
        rule: a.rule,
    };
    let problem = dp::problem_by_name(&a.problem, &params)?;
    let memory = dp::MemoryKind::parse(&a.memory)?;
    let act = freelunch::model::Activation::parse(&a.activation)?;
    if let Some(l) = a.lambda {
        freelunch::error::require_finite("--lambda", l)?;
        if act == freelunch::model::Activation::Relu {
            return Err(Error::input(
                "--lambda sets the scale of a smooth activation: use it with --activation gelu or silu",
            ));
        }
    }
    if a.slots.is_some() && memory != dp::MemoryKind::Slot {
        return Err(Error::input(format!(
            "--slots applies to the slot memory only, not to --memory {}",
            memory.name()
        )));
    }
    check_json_target("the weights", &a.export)?;
    let input = match &a.input {
        Some(s) => dp::parse_input(problem.as_ref(), s)?,
        None => problem.random_input(&mut freelunch::rng::Rng::new(a.seed)),
    };
    let opt = dp::Options {
        memory,
        slots: a.slots,
        activation: act,
        lambda: a.lambda,
        memory_override: None,
    };
    match a.precision {
        Arith::F64 => dp_report::<f64>(&a, problem.as_ref(), &input, &opt, 53),
        Arith::Mpfr(p) => {
            dp_report::<freelunch::num::Real>(&a, problem.as_ref(), &input, &opt, p.bits())
        }
    }
}

fn dp_report<S: freelunch::num::Scalar>(
    a: &DpArgs,
    problem: &dyn freelunch::dp::DpProblem,
    input: &[usize],
    opt: &freelunch::dp::Options,
    bits: u32,
) -> Result<ExitCode> {
    use freelunch::dp;
    let t0 = std::time::Instant::now();
    let c = dp::compile::<S>(problem, opt, bits)?;
    let build = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let r = c.run(problem, input)?;
    let secs = t1.elapsed().as_secs_f64();
    let size = c.model.size();
    outln!("problem   {}", problem.describe());
    outln!("input     {}", dp::render(problem, input));
    outln!(
        "memory    {} (distance m = {}, {}-local: {}), activation {} (λ = {}), {} arithmetic at {} bits",
        opt.memory.name(),
        c.info.distance,
        c.info.distance,
        problem.local(),
        opt.activation.name(),
        c.info.lambda,
        S::KIND,
        bits
    );
    if a.show_cot {
        outln!("CoT       {}", dp::render(problem, &r.generated));
    }
    outln!(
        "answer    {} (reference {})",
        r.generated
            .last()
            .map_or("-".into(), |t| dp::render(problem, &[*t])),
        r.expected
            .last()
            .map_or("-".into(), |t| dp::render(problem, &[*t]))
    );
    outln!(
        "agreement {} ({} generated tokens, T = {}, min logit margin 10^{:.2})",
        if r.exact {
            "exact: every token equals the reference solver's".to_string()
        } else {
            format!(
                "MISMATCH at generated token {}",
                r.first_mismatch.unwrap_or(r.generated.len())
            )
        },
        r.generated.len(),
        c.info.total_len,
        r.min_margin_log10
    );
    outln!(
        "size      state {} (SSM state, or KV-cache floats at T), residual width {}, max MLP width {}, layers {}, nonzeros {}, max |param| {:.3e}",
        freelunch::claims::dp::state_at(&c, c.info.total_len), size.residual_width, size.max_mlp_width, size.layers, size.nonzero_params, size.max_abs_param
    );
    outln!(
        "cost      {} ops in total, {} for the last token; build {:.2}s, decode {:.2}s ({:.0} tokens/s)",
        r.ops,
        c.model.ops_at(c.info.total_len),
        build,
        secs,
        c.info.total_len as f64 / secs
    );
    if a.summary {
        out!("{}", c.model.summary());
    }
    if let Some(path) = &a.export {
        let s = serde_json::to_string_pretty(&c.model.export())
            .map_err(|e| Error::compute(format!("cannot serialise the weights: {e}")))?;
        write_atomic(path, s.as_bytes())?;
        outln!("weights written to {}", path.display());
    }
    Ok(if r.exact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn parse_arith(s: &str) -> std::result::Result<Arith, String> {
    parse_precision(s).map_err(|e| e.to_string())
}

fn parse_seed(s: &str) -> std::result::Result<u64, String> {
    s.trim().parse().map_err(|_| {
        format!(
            "the seed must be a whole number from 0 to {}, got `{s}`",
            u64::MAX
        )
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Check, before any work, that the directory of a JSON output file (`what`) exists.
fn check_json_target(what: &str, p: &Option<PathBuf>) -> Result<()> {
    if let Some(p) = p {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(Error::io(format!(
                "cannot write {what} to {}: directory {} does not exist",
                p.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Claims => {
            outln!("{:<13} {:<28} {:<14} statement", "claim", "paper", "status");
            for c in claims::registry() {
                let i = c.info();
                let st = if c.built() { "built" } else { "not built yet" };
                outln!(
                    "{:<13} {:<28} {:<14} {}",
                    i.id,
                    i.paper_ref,
                    st,
                    i.statement
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Explain { claim, export } => {
            let c = claims::find(&claim)?;
            check_json_target("the weights", &export)?;
            if let Some(path) = &export {
                let examples = c.examples();
                if examples.is_empty() {
                    return Err(Error::input(format!(
                        "claim `{claim}` has no example construction to export (try `freelunch dp ... --export` for the DP models)"
                    )));
                }
                let mut all = serde_json::Map::new();
                for (name, model) in examples {
                    all.insert(name, model?.export());
                }
                let s = serde_json::to_string_pretty(&all)
                    .map_err(|e| Error::compute(format!("cannot serialise the weights: {e}")))?;
                write_atomic(path, s.as_bytes())?;
                outln!("weights written to {}", path.display());
            } else {
                outln!("{}", c.explain());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Verify {
            claims: ids,
            precision,
            quick,
            full,
            json,
            seed,
        } => {
            check_json_target("the JSON report", &json)?;
            let mode = if quick {
                Mode::Quick
            } else if full {
                Mode::Full
            } else {
                Mode::Default
            };
            let selected = if ids.is_empty() {
                claims::registry()
            } else {
                ids.iter()
                    .map(|i| claims::find(i))
                    .collect::<Result<Vec<_>>>()?
            };
            let cfg = RunConfig {
                mode,
                arith: precision,
                seed,
                progress: true,
            };
            let reports = verify(&selected, &cfg)?;
            finish(&reports, json.as_deref())
        }
        Cmd::Figures { out, seed } => {
            let cfg = RunConfig {
                seed,
                ..RunConfig::default()
            };
            figures(&out, &cfg)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Dp(a) => run_dp(*a),
        Cmd::Readme {
            check,
            path,
            figures,
            seed,
        } => {
            let differ = freelunch::readme::command(&path, &figures, seed, check)?;
            if differ.is_empty() {
                outln!("{} is up to date", path.display());
                Ok(ExitCode::SUCCESS)
            } else if check {
                eprintln!(
                    "{}: generated sections differ: {} (run `freelunch readme`)",
                    path.display(),
                    differ.join(", ")
                );
                Ok(ExitCode::from(1))
            } else {
                outln!("{}: rewrote {}", path.display(), differ.join(", "));
                Ok(ExitCode::SUCCESS)
            }
        }
        Cmd::Reproduce { out, json, seed } => {
            check_json_target("the JSON report", &json)?;
            if !out.is_dir() {
                return Err(Error::io(format!(
                    "figure directory {} does not exist",
                    out.display()
                )));
            }
            let cfg = RunConfig {
                seed,
                progress: true,
                ..RunConfig::default()
            };
            let reports = verify(&claims::registry(), &cfg)?;
            figures(&out, &cfg)?;
            finish(&reports, json.as_deref())
        }
    }
}

fn verify(selected: &[Box<dyn claims::Claim>], cfg: &RunConfig) -> Result<Vec<ClaimReport>> {
    let bar = indicatif::ProgressBar::new(selected.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut reports = Vec::new();
    for c in selected {
        bar.set_message(c.info().id.to_string());
        reports.push(claims::run_timed(c.as_ref(), cfg)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(reports)
}

fn finish(reports: &[ClaimReport], json: Option<&Path>) -> Result<ExitCode> {
    out!("{}", render_table(reports));
    if let Some(p) = json {
        let s = serde_json::to_string_pretty(reports)
            .map_err(|e| Error::compute(format!("cannot serialise the report: {e}")))?;
        write_atomic(p, s.as_bytes())?;
        outln!("report written to {}", p.display());
    }
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| r.status == Status::Failed)
        .map(|r| r.id.as_str())
        .collect();
    let not_built = reports
        .iter()
        .filter(|r| r.status == Status::NotBuilt)
        .count();
    let passed = reports
        .iter()
        .filter(|r| r.status == Status::Passed)
        .count();
    outln!(
        "{passed} passed, {} failed, {not_built} not built yet",
        failed.len()
    );
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("failed claims: {}", failed.join(", "));
        Ok(ExitCode::from(1))
    }
}

fn figures(out: &Path, cfg: &RunConfig) -> Result<()> {
    if !out.is_dir() {
        return Err(Error::io(format!(
            "figure directory {} does not exist",
            out.display()
        )));
    }
    for c in claims::registry() {
        for p in c.figures(out, cfg)? {
            outln!("wrote {}", p.display());
        }
    }
    Ok(())
}
