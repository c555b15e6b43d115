//! The `freelunch` command line: parse, call the library, print.

use clap::{Parser, Subcommand};
use freelunch::claims::{self, Mode, RunConfig};
use freelunch::error::{Error, Result};
use freelunch::num::{parse_precision, Arith};
use freelunch::report::{render_table, write_atomic, ClaimReport};
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
        /// Instead of printing, write the claim's example models as JSON to this file, runnable
        /// with `freelunch run` (format: docs/export.md).
        #[arg(long)]
        export: Option<PathBuf>,
        /// Lower the claim's example models into Hugging Face checkpoints under this directory
        /// (one subdirectory each; `freelunch lower` with its defaults).
        #[arg(long)]
        hf: Option<PathBuf>,
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
        /// Also write the reports as JSON to this file (schema: docs/report-json.md).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Include each claim's run time (`seconds`) in the JSON; without it, two runs with the
        /// same seed write byte-identical JSON.
        #[arg(long)]
        timings: bool,
        #[arg(long, default_value_t = 2410_03810, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: u64,
    },
    /// Regenerate every figure.
    Figures {
        #[arg(long, default_value = "figures")]
        out: PathBuf,
        /// Draw the figures a JSON report carries (`reproduce --json FILE`) instead of computing them.
        #[arg(long)]
        from: Option<PathBuf>,
        #[arg(long, default_value_t = 2410_03810, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: u64,
    },
    /// Compile one DP problem into a model, decode its chain of thought, compare with the solver.
    Dp(Box<DpArgs>),
    /// Run an exported model (docs/export.md) and decode greedily.
    Run(Box<RunArgs>),
    /// Lower an exported token model into a stock Hugging Face checkpoint directory
    /// (`MambaForCausalLM`) that `from_pretrained` + `generate()` run; see proofs/lowering.md.
    Lower(Box<LowerArgs>),
    /// Record an exported model's subspaces, memory slots and logit margins per position.
    ///
    /// Writes every named residual subspace, every SSM memory slot and the logit margin at every
    /// position as CSV/JSON, a heat-map (coordinates × time), or the `selective_scan_ref`
    /// arguments of each SSM layer.
    Trace {
        #[command(flatten)]
        run: RunArgs,
        /// Write the trace as long-format CSV (`t,fed,decoded,margin,group,kind,row,value`).
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Write the trace as JSON (per group, rows × positions).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the heat-map as STEM.png and STEM.svg (STEM is the path without an extension:
        /// `t` writes t.png and t.svg; a STEM ending in another extension such as `t.v2` is refused).
        #[arg(long)]
        heatmap: Option<PathBuf>,
        /// Write each SSM layer's run as the arguments of the reference `selective_scan_ref`.
        #[arg(long)]
        scan_args: Option<PathBuf>,
    },
    /// Verify every claim and regenerate every figure: the main job.
    Reproduce {
        #[arg(long, default_value = "figures")]
        out: PathBuf,
        /// Also write the reports as JSON to this file (schema: docs/report-json.md).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Include each claim's run time (`seconds`) in the JSON.
        #[arg(long)]
        timings: bool,
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
    /// A catalog problem (`freelunch dp --list` lists them).
    #[arg(required_unless_present_any = ["spec", "list"], conflicts_with = "spec")]
    problem: Option<String>,
    /// A DP spec file (proofs/dp-problems.md) instead of a catalog problem.
    #[arg(long)]
    spec: Option<PathBuf>,
    /// List the catalog problems and their parameters, then exit.
    #[arg(long)]
    list: bool,
    /// A problem parameter `name=value` (a list as `name=1,2,3`); repeatable. `--list` shows
    /// each problem's parameters, defaults and ranges.
    #[arg(long = "param", allow_hyphen_values = true)]
    params: Vec<String>,
    /// The size: sets the problem's size parameters (edit |a| = |b|, lis length, linrec terms,
    /// eca rows, ...). Real limits: the slot memory holds at most 4000 slots, the position-key
    /// memory at most T = 4000, and every chain of thought at most 20000 tokens; the message
    /// names the limit hit.
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    n: Option<usize>,
    /// Input symbols s_1 … s_n: comma- or space-separated integers (`0,1,1`, `"0 1 1"`), or one
    /// digit string (`011`) when the alphabet has at most 10 symbols; edit takes a then b
    /// (|a| + |b| symbols). Default: random from --seed.
    #[arg(long, allow_hyphen_values = true)]
    input: Option<String>,
    /// slot, position or attention.
    #[arg(long, default_value = "slot")]
    memory: String,
    /// Slots of the slot memory (default: the dependency distance).
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    slots: Option<usize>,
    /// relu, gelu or silu.
    #[arg(long, default_value = "relu")]
    activation: String,
    /// λ of the smooth activation (default: the prescribed one).
    #[arg(long, allow_hyphen_values = true)]
    lambda: Option<f64>,
    /// `f64` or a number of bits.
    #[arg(long, value_parser = parse_arith, default_value = "f64", allow_hyphen_values = true)]
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
    /// Lower the model into a Hugging Face checkpoint directory (`freelunch lower` defaults).
    #[arg(long)]
    hf: Option<PathBuf>,
    #[arg(long, default_value_t = 2410_03810, value_parser = parse_seed, allow_hyphen_values = true)]
    seed: u64,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The exported model (from `dp … --export` or `explain <claim> --export`).
    model: PathBuf,
    /// In a file of several models (`explain --export`): the model's name or 0-based index.
    #[arg(long, allow_hyphen_values = true)]
    pick: Option<String>,
    /// Input symbols (token names or ids, `0,1,1` or `011`); the file's suffix (e.g. SEP) is
    /// appended. Default: the prompt stored in the file.
    #[arg(long, allow_hyphen_values = true)]
    input: Option<String>,
    /// Tokens to generate, at least 1 (default: the file's `decoding.generate`); the prompt and
    /// the generated tokens together are at most the model context of 32768 positions.
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    generate: Option<usize>,
    /// `f64` or a number of bits (default: the arithmetic the file was written in).
    #[arg(long, value_parser = parse_arith, allow_hyphen_values = true)]
    precision: Option<Arith>,
    /// `exact` (default: ln(1+e^x) at the working precision) or `torch` (the identity above 20,
    /// as PyTorch's softplus in `selective_scan_ref` and the CUDA kernel).
    #[arg(long, value_enum, default_value = "exact")]
    softplus: SoftplusArg,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LowerTarget {
    /// `MambaForCausalLM` (Mamba-1 blocks).
    Mamba,
    /// `NemotronHForCausalLM` (Mamba-2, MLP and attention blocks).
    NemotronH,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum TargetAct {
    /// SiLU (Mamba's own), or GeLU when the model has GeLU units.
    Auto,
    Silu,
    Relu,
    Gelu,
}

impl TargetAct {
    /// The activation asked for (`None`: the model's natural one).
    fn activation(self) -> Option<freelunch::model::Activation> {
        use freelunch::model::Activation;
        match self {
            TargetAct::Auto => None,
            TargetAct::Silu => Some(Activation::Silu),
            TargetAct::Relu => Some(Activation::Relu),
            TargetAct::Gelu => Some(Activation::Gelu),
        }
    }
}

/// How SSM layers evaluate Δ's softplus.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SoftplusArg {
    /// ln(1+e^x) at the working precision.
    Exact,
    /// The identity above 20, as PyTorch's softplus in `selective_scan_ref` and the CUDA kernel.
    Torch,
}

impl From<SoftplusArg> for freelunch::model::Softplus {
    fn from(s: SoftplusArg) -> Self {
        match s {
            SoftplusArg::Exact => freelunch::model::Softplus::Exact,
            SoftplusArg::Torch => freelunch::model::Softplus::Torch,
        }
    }
}

#[derive(clap::Args)]
struct LowerArgs {
    /// The exported model (from `dp … --export` or `explain <claim> --export`).
    model: PathBuf,
    /// The checkpoint directory to write (created if missing).
    dir: PathBuf,
    #[arg(long, value_enum, default_value = "mamba")]
    target: LowerTarget,
    /// In a file of several models: the model's name or 0-based index.
    #[arg(long)]
    pick: Option<String>,
    /// The target's `hidden_act` (the conv activation); ReLU units run as act(λz)/λ.
    #[arg(long, value_enum, default_value = "auto")]
    act: TargetAct,
    /// Random inputs (besides the stored prompt) decoded and stored for the real client.
    #[arg(long, default_value_t = 10, value_parser = parse_count, allow_hyphen_values = true)]
    cases: usize,
    /// Override the shift K of every SSM block (default: the input bound + a margin).
    #[arg(long, allow_hyphen_values = true)]
    shift: Option<f64>,
    /// Override λ of the ReLU units (default: from the output weights' bound).
    #[arg(long, allow_hyphen_values = true)]
    lambda: Option<f64>,
    /// Override the norm's eps exponent e (eps = 2^e; default: from the residual bound).
    #[arg(long, allow_hyphen_values = true)]
    eps_log2: Option<i32>,
    /// Print the lowered model's blocks.
    #[arg(long)]
    summary: bool,
    #[arg(long, default_value_t = 2410_03810, value_parser = parse_seed, allow_hyphen_values = true)]
    seed: u64,
}

/// `freelunch lower`'s defaults ([`freelunch::export::lowering::lower_default`]; kept by name
/// for the `dp --hf` code).
fn lower_default(json: &serde_json::Value, dir: &Path) -> Result<String> {
    freelunch::export::lowering::lower_default(json, dir)
}

fn run_lower(a: &LowerArgs) -> Result<ExitCode> {
    use freelunch::export::{hf, lowering};
    let overrides = lowering::Overrides {
        act: a.act.activation(),
        shift: a.shift,
        lambda: a.lambda,
        eps_log2: a.eps_log2,
    };
    lowering::check_overrides(&overrides)?;
    let json = lowering::read_export(&a.model, a.pick.as_deref())?;
    let req = hf::Request {
        lower: lowering::options(&json, &overrides)?,
        cases: a.cases,
        seed: a.seed,
    };
    if let LowerTarget::NemotronH = a.target {
        return run_lower_nemotron_h(a, &json, &req);
    }
    let w = hf::lower_export(&json, &a.dir, &req)?;
    let m = &w.lowered.model;
    outln!("lowered   {} -> {}", a.model.display(), a.dir.display());
    outln!(
        "target    MambaForCausalLM, hidden_act {}, λ = {}, eps = 2^{}",
        m.act.name(),
        w.lowered.lambda,
        w.lowered.eps_log2
    );
    outln!(
        "size      {} (abstract model: {} nonzeros)",
        hf::summary_size(m),
        w.abstract_nonzeros
    );
    for g in &w.lowered.gadgets {
        outln!(
            "gadget    {:<10} {:<28} parameter {:<10} range {:.3e}  bound {:.3e}",
            g.gadget,
            g.block,
            g.parameter,
            g.hypothesis,
            g.bound
        );
    }
    if a.summary {
        for b in &m.blocks {
            outln!(
                "  block `{}`: {} channels, state {}, nonzeros {}",
                b.name,
                b.inner,
                b.state,
                b.nonzeros()
            );
        }
    }
    if !w.block_cases.is_empty() {
        let worst = (w.block_cases.iter())
            .map(|c| (c.lowered - c.expected).abs())
            .fold(0.0, f64::max);
        let tol = w.usage.tolerance.unwrap_or(0.0);
        outln!(
            "cases     {} input sequences: max |lowered − abstract| = {worst:.3e} (agreement: ≤ 2^-12·max(1, |value|) or ε/4, the claim's accuracy ε = {tol:.3e})",
            w.block_cases.len()
        );
        let ok = (w.block_cases.iter())
            .all(|c| hf::block_agrees(c.lowered, c.expected, w.usage.tolerance));
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let agree = w.cases.iter().filter(|c| c.lowered == c.expected).count();
    outln!(
        "cases     {agree}/{} inputs: freelunch's run of the lowered blocks equals the abstract model's tokens",
        w.cases.len()
    );
    let certified = w.cases.iter().filter(|c| c.certified).count();
    outln!(
        "certified {certified}/{} inputs: in {}-bit ball arithmetic every generated token's margin has a positive lower end",
        w.cases.len(),
        hf::CERTIFY_BITS
    );
    Ok(if agree == w.cases.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_lower_nemotron_h(
    a: &LowerArgs,
    json: &serde_json::Value,
    req: &freelunch::export::hf::Request,
) -> Result<ExitCode> {
    use freelunch::export::{hf, hf_nemotron};
    let w = hf_nemotron::lower_export_nemotron_h(json, &a.dir, req)?;
    let m = &w.lowered.model;
    outln!("lowered   {} -> {}", a.model.display(), a.dir.display());
    outln!(
        "target    NemotronHForCausalLM, pattern {}, mlp_hidden_act {}, eps = 2^{}, counter K = {}",
        m.pattern(),
        m.mlp_act.name(),
        w.lowered.eps_log2,
        w.lowered.counter_constant
    );
    outln!(
        "size      {} (abstract model: {} nonzeros)",
        hf_nemotron::summary_size(m),
        w.abstract_nonzeros
    );
    for g in &w.lowered.gadgets {
        outln!(
            "gadget    {:<15} {:<22} parameter {:<10} range {:.3e}  bound {:.3e}",
            g.gadget,
            g.block,
            g.parameter,
            g.hypothesis,
            g.bound
        );
    }
    let (agree, total) = if w.block_cases.is_empty() {
        let agree = w.cases.iter().filter(|c| c.lowered == c.expected).count();
        outln!(
            "cases     {agree}/{} inputs: freelunch's run of the lowered blocks equals the abstract model's tokens",
            w.cases.len()
        );
        (agree, w.cases.len())
    } else {
        let agree = (w.block_cases.iter())
            .filter(|c| hf::block_agrees(c.lowered, c.expected, w.usage.tolerance))
            .count();
        outln!(
            "cases     {agree}/{} inputs: freelunch's run of the lowered blocks reads the abstract block's value",
            w.block_cases.len()
        );
        (agree, w.block_cases.len())
    };
    if a.summary {
        for b in &m.blocks {
            outln!(
                "  block `{}` ({}): nonzeros {}",
                b.name,
                b.mixer.letter(),
                b.nonzeros()
            );
        }
    }
    Ok(if agree == total {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_dp(a: DpArgs) -> Result<ExitCode> {
    use freelunch::dp::{self, DpProblem};
    if a.list {
        for spec in dp::catalog()? {
            outln!("{:<12} {}", spec.id, spec.doc);
            for line in spec.param_lines() {
                outln!("{:<12}   --param {line}", "");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let spec = match (&a.spec, &a.problem) {
        (Some(path), _) => dp::catalog::load_file(path)?,
        (None, Some(name)) => dp::catalog::spec(name)?,
        (None, None) => {
            return Err(Error::input(
                "give a catalog problem, --spec FILE or --list",
            ))
        }
    };
    let mut given = (a.params.iter())
        .map(|p| dp::parse_param(p))
        .collect::<Result<Vec<_>>>()?;
    // --n sets every size parameter that --param does not
    if let Some(n) = a.n {
        for s in &spec.size {
            if !given.iter().any(|(k, _)| k == s) {
                given.push((s.clone(), dp::Val::Int(n as i64)));
            }
        }
    }
    let problem: Box<dyn DpProblem> = Box::new(spec.instance(&given)?);
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
    warn_if_slow(a.precision);
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
        "memory    {} (dependency distance m = {}, {}), activation {} (λ = {}), {} arithmetic at {} bits",
        opt.memory.name(),
        c.info.distance,
        if problem.local() {
            "m-local: m stays fixed as the size grows"
        } else {
            "not m-local: m grows with the size"
        },
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
    if r.exact {
        outln!(
            "agreement exact: every token equals the reference solver's ({} generated tokens, T = {}, min logit margin {})",
            r.generated.len(),
            c.info.total_len,
            freelunch::report::fmt_log10(r.min_margin_log10)
        );
    } else {
        // The model's own margins are positive by definition; report the reference token's.
        let full = problem.solve(input);
        let (margin, at) =
            reference_margin(&c.model, &full[..problem.input_len() + 1], &r.expected);
        outln!(
            "agreement MISMATCH at generated token {} ({} generated tokens, T = {}); reference-token margin {:.3e} at generated token {} (logit of the reference token minus the best other: negative means the model decodes another token)",
            r.first_mismatch.unwrap_or(r.generated.len()),
            r.generated.len(),
            c.info.total_len,
            margin,
            at
        );
    }
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
    if a.export.is_some() || a.hf.is_some() {
        let decoding = freelunch::export::examples::dp_decoding(problem, input);
        let v = freelunch::export::to_json(&c.model, Some(&decoding));
        if let Some(path) = &a.export {
            write_json(path, &v, "the weights")?;
            outln!("weights written to {}", path.display());
        }
        if let Some(dir) = &a.hf {
            outln!("hf        {}", lower_default(&v, dir)?);
        }
    }
    Ok(if r.exact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Parse a whole number for a flag; says which rule a bad value breaks (negative, too large,
/// not a number) instead of clap's "use -- -1" tip.
fn parse_whole(s: &str, what: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('-') {
        if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("{what} must not be negative, got `{s}`"));
        }
    }
    if !t.is_empty()
        && t.trim_start_matches('+')
            .chars()
            .all(|c| c.is_ascii_digit())
    {
        return t
            .parse::<u64>()
            .map_err(|_| format!("{what} `{s}` is too large (at most {})", u64::MAX));
    }
    Err(format!("{what} must be a whole number, got `{s}`"))
}

fn parse_count(s: &str) -> std::result::Result<usize, String> {
    let v = parse_whole(s, "the value")?;
    usize::try_from(v).map_err(|_| format!("the value `{s}` is too large"))
}

/// Teacher-forced check of the reference chain of thought ([`freelunch::measure::reference_margin`]).
fn reference_margin<S: freelunch::num::Scalar>(
    m: &freelunch::model::Model<S>,
    prompt: &[usize],
    expected: &[usize],
) -> (f64, usize) {
    freelunch::measure::reference_margin(m, prompt, expected)
}

fn models_len(v: &serde_json::Value) -> usize {
    v["models"].as_array().map_or(0, Vec::len)
}

/// Serialise `v` (pretty, with a final newline) and write it to `path`.
fn write_json(path: &Path, v: &serde_json::Value, what: &str) -> Result<()> {
    let mut s = serde_json::to_string_pretty(v)
        .map_err(|e| Error::compute(format!("cannot serialise {what}: {e}")))?;
    s.push('\n');
    write_atomic(path, s.as_bytes())
}

/// Load an export (one model of a collection with --pick) and plan the run.
fn prepare(a: &RunArgs) -> Result<freelunch::export::run::Plan> {
    let plan = freelunch::export::run::Plan::new(
        freelunch::export::lowering::read_export(&a.model, a.pick.as_deref())?,
        &freelunch::export::run::Options {
            input: a.input.as_deref(),
            generate: a.generate,
            arith: a.precision,
            softplus: a.softplus.into(),
        },
    )?;
    warn_if_slow(plan.arith);
    Ok(plan)
}

fn run_export(a: &RunArgs) -> Result<ExitCode> {
    let l = prepare(a)?;
    let tr = l.run()?;
    if l.prompt.is_some() && tr.margin.iter().any(|m| m.is_nan()) {
        return Err(Error::compute(
            "the run produced a logit that is not a number (the model overflows in this arithmetic), so greedy decoding is undefined",
        ));
    }
    let d = l.decoding.clone().unwrap_or_default();
    outln!(
        "model     {} ({} arithmetic, softplus {:?})",
        tr.model,
        l.arith,
        l.softplus
    );
    if let Some((prompt, _)) = &l.prompt {
        outln!("prompt    {}", tr.fed[..prompt.len()].join(" "));
        let generated = tr.generated();
        outln!("generated {}", generated.join(" "));
        let margin = tr.margin[prompt.len() - 1..]
            .iter()
            .fold(f64::INFINITY, |a, &m| a.min(m));
        outln!("min logit margin {margin:.3e} (top logit minus runner-up, over generated tokens)");
        if let Some(exp) = d.expected.as_ref().filter(|_| *prompt == d.prompt) {
            let want: Vec<String> = exp
                .iter()
                .map(|&t| freelunch::export::run::render_tokens(&[t], &l.vocab))
                .collect();
            if want == generated {
                outln!("agreement exact: equals the expected tokens stored in the file");
            } else {
                outln!("agreement MISMATCH: the file expects {}", want.join(" "));
                return Ok(ExitCode::from(1));
            }
        }
    } else {
        let last = tr.values.last().cloned().unwrap_or_default();
        let names: Vec<&String> = tr.groups.iter().flat_map(|g| g.rows.iter()).collect();
        let get = |n: &str| names.iter().position(|x| x.as_str() == n).map(|i| last[i]);
        if let Some(read) = &d.read {
            let mut v = get(read).ok_or_else(|| {
                Error::input(format!(
                    "decoding.read names no residual coordinate `{read}`"
                ))
            })?;
            if let Some(div) = &d.read_divisor {
                v /= get(div).ok_or_else(|| {
                    Error::input(format!("decoding.read_divisor names no coordinate `{div}`"))
                })?;
            }
            outln!(
                "read      {} = {v:.6e} at position {}",
                match &d.read_divisor {
                    Some(div) => format!("{read} / {div}"),
                    None => read.clone(),
                },
                tr.values.len()
            );
            if let (Some(want), Some(tol)) = (d.expected_read, d.tolerance) {
                let err = (v - want).abs();
                outln!("expected  {want:.6e} (|error| {err:.3e}, tolerance {tol:.3e})");
                if err.is_nan() || err > tol {
                    return Ok(ExitCode::from(1));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn trace_export(
    a: &RunArgs,
    csv: Option<PathBuf>,
    json: Option<PathBuf>,
    heatmap: Option<PathBuf>,
    scan_args: Option<PathBuf>,
) -> Result<ExitCode> {
    if csv.is_none() && json.is_none() && heatmap.is_none() && scan_args.is_none() {
        return Err(Error::input(
            "say what to write: --csv FILE, --json FILE, --heatmap STEM or --scan-args FILE",
        ));
    }
    check_json_target("the CSV trace", &csv)?;
    check_json_target("the JSON trace", &json)?;
    if let Some(stem) = &heatmap {
        let (svg, png) = freelunch::plot::heatmap::heatmap_paths(stem)?;
        check_json_target("the heat-map", &Some(svg))?;
        check_json_target("the heat-map", &Some(png))?;
    }
    check_json_target("the scan arguments", &scan_args)?;
    let l = prepare(a)?;
    let tr = l.trace()?;
    if let Some(p) = &csv {
        write_atomic(p, tr.to_csv().as_bytes())?;
        outln!("wrote {}", p.display());
    }
    if let Some(p) = &json {
        write_json(p, &tr.to_json(), "the trace")?;
        outln!("wrote {}", p.display());
    }
    if let Some(stem) = &heatmap {
        for p in freelunch::plot::heatmap::write_heatmap(&tr, stem)? {
            outln!("wrote {}", p.display());
        }
    }
    if let Some(p) = &scan_args {
        let v = l.scan_args()?;
        write_json(p, &v, "the scan arguments")?;
        outln!("wrote {}", p.display());
    }
    outln!(
        "{} positions, {} residual coordinates, {} memory slots",
        tr.values.len(),
        tr.groups
            .iter()
            .filter(|g| g.kind == "residual")
            .map(|g| g.rows.len())
            .sum::<usize>(),
        tr.groups
            .iter()
            .filter(|g| g.kind == "memory")
            .map(|g| g.rows.len())
            .sum::<usize>()
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_arith(s: &str) -> std::result::Result<Arith, String> {
    let t = s.trim();
    let digits = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit());
    if t.strip_prefix('-').is_some_and(digits) {
        return Err(format!(
            "the precision must be `f64` or a positive number of bits, got `{s}`"
        ));
    }
    if digits(t) && t.parse::<u64>().is_err() {
        return Err(format!(
            "precision {t} bits is beyond the supported maximum of {} bits",
            freelunch::num::MAX_PRACTICAL_BITS
        ));
    }
    parse_precision(s).map_err(|e| e.to_string())
}

fn parse_seed(s: &str) -> std::result::Result<u64, String> {
    parse_whole(s, "the seed").map_err(|e| {
        format!(
            "the seed must be a whole number from 0 to {}: {}",
            u64::MAX,
            e.trim_start_matches("the seed ")
        )
    })
}

fn main() -> ExitCode {
    // A value a parser refused (e.g. `--precision -5`) gets its one sentence, without clap's
    // usage tip; every other parse outcome (help, version, unknown flags) is clap's.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: invalid value"));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Check, before any work, that an output file (`what`) can be written.
fn check_json_target(what: &str, p: &Option<PathBuf>) -> Result<()> {
    match p {
        Some(p) => freelunch::io::check_writable(what, p),
        None => Ok(()),
    }
}

/// Check, before any work, that the figure directory exists and accepts new files.
fn check_figure_dir(out: &Path) -> Result<()> {
    freelunch::io::check_dir_writable(out)
        .map_err(|e| Error::io(format!("cannot write figures to {}: {e}", out.display())))
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
        Cmd::Explain { claim, export, hf } => {
            let c = claims::find(&claim)?;
            check_json_target("the weights", &export)?;
            if let Some(dir) = &hf {
                let mut failed = false;
                for (name, lowered) in claims::lower_examples(c.as_ref(), dir)? {
                    match lowered {
                        Ok(line) => outln!("{name}: {line}"),
                        Err(e) => {
                            failed = true;
                            outln!("{name}: not lowered: {e}");
                        }
                    }
                }
                if export.is_none() {
                    return Ok(if failed {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    });
                }
            }
            if let Some(path) = &export {
                let all = claims::export_collection(c.as_ref())?;
                write_json(path, &all, "the weights")?;
                let n = models_len(&all);
                let plural = if n == 1 { "" } else { "s" };
                outln!("{n} model{plural} written to {}", path.display());
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
            timings,
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
            let selected = claims::select(&ids)?;
            if let Some(arith) = precision {
                warn_if_slow(arith);
                if arith.bits() < 53 {
                    eprintln!(
                        "note: {arith} is coarser than f64: a case whose enclosures are too wide at {arith} is reported as undecided (too coarse to decide), and a construction that cannot even hold its weights or inputs at {arith} fails at that precision, not in theory"
                    );
                }
                for c in &selected {
                    if !c.honours_precision() {
                        eprintln!(
                            "note: {} ignores --precision (it runs in its own fixed arithmetic)",
                            c.info().id
                        );
                    }
                }
            }
            let cfg = RunConfig {
                mode,
                arith: precision,
                seed,
                progress: true,
                figures: false,
            };
            let reports = verify(&selected, &cfg)?;
            out!("{}", render_table(&reports));
            finish(&reports, json.as_deref(), timings)
        }
        Cmd::Figures { out, seed, from } => {
            check_figure_dir(&out)?;
            let written = match from {
                Some(report) => claims::batch::render_figures(
                    &freelunch::report::figures_from_file(&report)?,
                    &out,
                )?,
                None => {
                    let cfg = RunConfig {
                        seed,
                        ..RunConfig::default()
                    };
                    claims::batch::figures_all(&claims::registry(), &out, &cfg)?
                }
            };
            for p in written {
                outln!("wrote {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Dp(a) => run_dp(*a),
        Cmd::Run(a) => run_export(&a),
        Cmd::Lower(a) => run_lower(&a),
        Cmd::Trace {
            run,
            csv,
            json,
            heatmap,
            scan_args,
        } => trace_export(&run, csv, json, heatmap, scan_args),
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
        Cmd::Reproduce {
            out,
            json,
            timings,
            seed,
        } => {
            check_json_target("the JSON report", &json)?;
            check_figure_dir(&out)?;
            let cfg = RunConfig {
                seed,
                progress: true,
                figures: true,
                ..RunConfig::default()
            };
            let reports = verify(&claims::registry(), &cfg)?;
            out!("{}", render_table(&reports));
            eprintln!("drawing the reports' figures in {}", out.display());
            for p in claims::batch::render_reports(&reports, &out)? {
                outln!("wrote {}", p.display());
            }
            finish(&reports, json.as_deref(), timings)
        }
    }
}

fn verify(selected: &[Box<dyn claims::Claim>], cfg: &RunConfig) -> Result<Vec<ClaimReport>> {
    use std::io::IsTerminal;
    // A bar on a terminal; without one (CI logs, pipes) only the per-claim lines.
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(selected.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let start = std::time::Instant::now();
    bar.set_message("claims run in parallel");
    let done = |k: usize, r: &ClaimReport| {
        let line = format!(
            "[{:>w$}/{}] {:<13} {:<13} {:>7.1}s (elapsed {:.1}s)",
            k + 1,
            selected.len(),
            r.id,
            r.status.word(),
            r.seconds,
            start.elapsed().as_secs_f64(),
            w = selected.len().to_string().len()
        );
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
        bar.inc(1);
    };
    let reports = claims::batch::run_all(selected, cfg, &done)?;
    bar.finish_and_clear();
    Ok(reports)
}

/// Write the JSON report (if asked) and the summary line; the exit code.
fn finish(reports: &[ClaimReport], json: Option<&Path>, timings: bool) -> Result<ExitCode> {
    if let Some(p) = json {
        write_atomic(p, freelunch::report::to_json(reports, timings)?.as_bytes())?;
        outln!("report written to {}", p.display());
    }
    let freelunch::report::Summary {
        passed,
        failed,
        undecided,
        not_built,
    } = freelunch::report::Summary::of(reports);
    outln!(
        "{passed} passed, {} failed, {} undecided, {not_built} not built yet",
        failed.len(),
        undecided.len()
    );
    if !undecided.is_empty() {
        eprintln!(
            "undecided claims: {} (the precision run is too coarse to decide them: no case certainly fails, but some enclosures are too wide; rerun with more bits)",
            undecided.join(", ")
        );
    }
    if failed.is_empty() && undecided.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        if !failed.is_empty() {
            eprintln!("failed claims: {}", failed.join(", "));
        }
        Ok(ExitCode::from(1))
    }
}

/// Warn (with a measured estimate) when MPFR at `arith` will be very slow.
fn warn_if_slow(arith: Arith) {
    let Arith::Mpfr(p) = arith else { return };
    if let Some((slow, ratio)) = freelunch::measure::bench::mpfr_slowdown(p.bits()) {
        eprintln!(
            "warning: at {} bits one MPFR multiply/divide takes {:.1} µs here, {ratio:.0}× its cost at 256 bits; a sweep that takes a minute at 256 bits would take about {ratio:.0} minutes",
            p.bits(),
            slow * 1e6,
        );
    }
}
