//! The `freelunch` command line: parse, call the library, print.

use clap::{Parser, Subcommand, ValueEnum};
use freelunch::app;
use freelunch::claims::{self, Mode, RunConfig};
use freelunch::error::Result;
use freelunch::model::Activation;
use freelunch::num::{parse_precision, Arith};
use freelunch::report::{render_table, ClaimReport};
use std::path::PathBuf;
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
    /// The MLP activation.
    #[arg(long, default_value = "relu", value_parser = ActivationParser)]
    activation: ActivationArg,
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

impl From<LowerTarget> for app::lower::Target {
    fn from(t: LowerTarget) -> Self {
        match t {
            LowerTarget::Mamba => app::lower::Target::Mamba,
            LowerTarget::NemotronH => app::lower::Target::NemotronH,
        }
    }
}

/// The MLP activation of a DP model.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ActivationArg {
    Relu,
    Gelu,
    Silu,
}

impl From<ActivationArg> for Activation {
    fn from(a: ActivationArg) -> Self {
        match a {
            ActivationArg::Relu => Activation::Relu,
            ActivationArg::Gelu => Activation::Gelu,
            ActivationArg::Silu => Activation::Silu,
        }
    }
}

/// [`ActivationArg`]'s values, refused with the library's sentence (`unknown activation …`).
#[derive(Clone)]
struct ActivationParser;

impl clap::builder::TypedValueParser for ActivationParser {
    type Value = ActivationArg;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> std::result::Result<ActivationArg, clap::Error> {
        let s = value.to_string_lossy();
        ActivationArg::from_str(&s, true).map_err(|_| {
            let why = Activation::parse(&s).err().map(|e| e.to_string());
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                why.unwrap_or_else(|| format!("unknown activation `{s}`")),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            (ActivationArg::value_variants().iter()).filter_map(|v| v.to_possible_value()),
        ))
    }
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
    fn activation(self) -> Option<Activation> {
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

/// Print the slowness warning for `arith`, if any.
fn warn_if_slow(arith: Arith) {
    if let Some(w) = app::slow_warning(arith) {
        eprintln!("{w}");
    }
}

/// The exit code of a check: 0 when it passed, 1 when it did not.
fn code(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn lower(a: &LowerArgs) -> Result<ExitCode> {
    use app::lower::Lowered;
    use freelunch::export::{hf, hf_nemotron};
    let lowered = app::lower::lower(&app::lower::Request {
        model: a.model.clone(),
        pick: a.pick.clone(),
        dir: a.dir.clone(),
        target: a.target.into(),
        overrides: freelunch::export::lowering::Overrides {
            act: a.act.activation(),
            shift: a.shift,
            lambda: a.lambda,
            eps_log2: a.eps_log2,
        },
        cases: a.cases,
        seed: a.seed,
    })?;
    let tally = lowered.tally();
    outln!("lowered   {} -> {}", a.model.display(), a.dir.display());
    match &lowered {
        Lowered::Mamba(w) => {
            let m = &w.lowered.model;
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
            if lowered.is_block() {
                outln!(
                    "cases     {} input sequences: max |lowered − abstract| = {:.3e} (agreement: ≤ 2^-12·max(1, |value|) or ε/4, the claim's accuracy ε = {:.3e})",
                    tally.total,
                    tally.worst,
                    w.usage.tolerance.unwrap_or(0.0)
                );
            } else {
                outln!(
                    "cases     {}/{} inputs: freelunch's run of the lowered blocks equals the abstract model's tokens",
                    tally.agree,
                    tally.total
                );
                outln!(
                    "certified {}/{} inputs: in {}-bit ball arithmetic every generated token's margin has a positive lower end",
                    tally.certified,
                    tally.total,
                    hf::CERTIFY_BITS
                );
            }
        }
        Lowered::NemotronH(w) => {
            let m = &w.lowered.model;
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
            if lowered.is_block() {
                outln!(
                    "cases     {}/{} inputs: freelunch's run of the lowered blocks reads the abstract block's value",
                    tally.agree,
                    tally.total
                );
            } else {
                outln!(
                    "cases     {}/{} inputs: freelunch's run of the lowered blocks equals the abstract model's tokens",
                    tally.agree,
                    tally.total
                );
            }
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
        }
    }
    Ok(code(tally.passed()))
}

fn dp(a: DpArgs) -> Result<ExitCode> {
    use app::dp::{Agreement, Source};
    if a.list {
        for spec in freelunch::dp::catalog()? {
            outln!("{:<12} {}", spec.id, spec.doc);
            for line in spec.param_lines() {
                outln!("{:<12}   --param {line}", "");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let source = match (a.spec, a.problem) {
        (Some(path), _) => Source::Spec(path),
        (None, Some(name)) => Source::Catalog(name),
        (None, None) => {
            return Err(freelunch::error::Error::input(
                "give a catalog problem, --spec FILE or --list",
            ))
        }
    };
    let setup = app::dp::Setup::new(&app::dp::Request {
        source,
        params: a.params,
        n: a.n,
        memory: a.memory,
        slots: a.slots,
        activation: a.activation.into(),
        lambda: a.lambda,
        export: a.export.clone(),
        keep_export: a.export.is_some() || a.hf.is_some(),
        summary: a.summary,
    })?;
    warn_if_slow(a.precision);
    let r = setup.run(a.input.as_deref(), a.seed, a.precision)?;
    outln!("problem   {}", r.problem);
    outln!("input     {}", r.input);
    outln!(
        "memory    {} (dependency distance m = {}, {}), activation {} (λ = {}), {} arithmetic at {} bits",
        r.memory,
        r.distance,
        if r.local {
            "m-local: m stays fixed as the size grows"
        } else {
            "not m-local: m grows with the size"
        },
        r.activation,
        r.lambda,
        r.arithmetic,
        r.bits
    );
    if a.show_cot {
        outln!("CoT       {}", r.cot);
    }
    outln!("answer    {} (reference {})", r.answer, r.reference);
    match r.agreement {
        Agreement::Exact { min_margin_log10 } => outln!(
            "agreement exact: every token equals the reference solver's ({} generated tokens, T = {}, min logit margin {})",
            r.generated,
            r.total_len,
            freelunch::report::fmt_log10(min_margin_log10)
        ),
        Agreement::Mismatch {
            first,
            reference_margin,
            at,
        } => outln!(
            "agreement MISMATCH at generated token {first} ({} generated tokens, T = {}); reference-token margin {reference_margin:.3e} at generated token {at} (logit of the reference token minus the best other: negative means the model decodes another token)",
            r.generated,
            r.total_len,
        ),
    }
    let size = &r.size;
    outln!(
        "size      state {} (SSM state, or KV-cache floats at T), residual width {}, max MLP width {}, layers {}, nonzeros {}, max |param| {:.3e}",
        r.state, size.residual_width, size.max_mlp_width, size.layers, size.nonzero_params, size.max_abs_param
    );
    outln!(
        "cost      {} ops in total, {} for the last token; build {:.2}s, decode {:.2}s ({:.0} tokens/s)",
        r.ops,
        r.last_token_ops,
        r.build_seconds,
        r.decode_seconds,
        r.tokens_per_second()
    );
    if let Some(summary) = &r.summary {
        out!("{summary}");
    }
    if let Some(path) = &a.export {
        r.write_export(path)?;
        outln!("weights written to {}", path.display());
    }
    if let Some(dir) = &a.hf {
        outln!("hf        {}", r.lower_hf(dir)?);
    }
    Ok(code(r.exact()))
}

/// Load an export (one model of a collection with --pick) and plan the run.
fn plan(a: &RunArgs) -> Result<freelunch::export::run::Plan> {
    let plan = app::run::plan(
        &a.model,
        a.pick.as_deref(),
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

fn run_model(a: &RunArgs) -> Result<ExitCode> {
    use app::run::Outcome;
    let d = app::run::decode(&plan(a)?)?;
    outln!(
        "model     {} ({} arithmetic, softplus {:?})",
        d.model,
        d.arith,
        d.softplus
    );
    let passed = d.passed();
    match d.outcome {
        Outcome::Tokens {
            prompt,
            generated,
            min_margin,
            expected,
        } => {
            outln!("prompt    {}", prompt.join(" "));
            outln!("generated {}", generated.join(" "));
            outln!("min logit margin {min_margin:.3e} (top logit minus runner-up, over generated tokens)");
            match expected {
                Some(want) if want == generated => {
                    outln!("agreement exact: equals the expected tokens stored in the file")
                }
                Some(want) => outln!("agreement MISMATCH: the file expects {}", want.join(" ")),
                None => {}
            }
        }
        Outcome::Block { read: Some(read) } => {
            let r = read?;
            outln!(
                "read      {} = {:.6e} at position {}",
                r.label,
                r.value,
                r.position
            );
            if let (Some((want, tol)), Some(err)) = (r.expected, r.error()) {
                outln!("expected  {want:.6e} (|error| {err:.3e}, tolerance {tol:.3e})");
            }
        }
        Outcome::Block { read: None } => {}
    }
    Ok(code(passed))
}

fn trace(a: &RunArgs, outputs: &app::run::TraceOutputs) -> Result<ExitCode> {
    outputs.check()?;
    let plan = plan(a)?;
    let tr = plan.trace()?;
    outputs.write(&plan, &tr, |p| outln!("wrote {}", p.display()))?;
    let (positions, residual, memory) = app::run::trace_counts(&tr);
    outln!("{positions} positions, {residual} residual coordinates, {memory} memory slots");
    Ok(ExitCode::SUCCESS)
}

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
            app::check_output("the weights", export.as_deref())?;
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
                    return Ok(code(!failed));
                }
            }
            if let Some(path) = &export {
                let n = app::verify::export_examples(c.as_ref(), path)?;
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
            app::check_output("the JSON report", json.as_deref())?;
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
                for note in app::verify::precision_notes(arith, &selected) {
                    eprintln!("{note}");
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
            let cfg = RunConfig {
                seed,
                ..RunConfig::default()
            };
            for p in app::verify::figures(&out, &cfg, from.as_deref())? {
                outln!("wrote {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Dp(a) => dp(*a),
        Cmd::Run(a) => run_model(&a),
        Cmd::Lower(a) => lower(&a),
        Cmd::Trace {
            run,
            csv,
            json,
            heatmap,
            scan_args,
        } => trace(
            &run,
            &app::run::TraceOutputs {
                csv,
                json,
                heatmap,
                scan_args,
            },
        ),
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
            app::check_output("the JSON report", json.as_deref())?;
            app::check_figure_dir(&out)?;
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

/// Run the claims with a progress bar on a terminal (without one, CI logs and pipes get only
/// the per-claim lines).
fn verify(selected: &[Box<dyn claims::Claim>], cfg: &RunConfig) -> Result<Vec<ClaimReport>> {
    use std::io::IsTerminal;
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
    let reports = app::verify::run(selected, cfg, &done)?;
    bar.finish_and_clear();
    Ok(reports)
}

/// Write the JSON report (if asked) and print the summary line; the exit code.
fn finish(
    reports: &[ClaimReport],
    json: Option<&std::path::Path>,
    timings: bool,
) -> Result<ExitCode> {
    if let Some(p) = json {
        app::verify::write_report(reports, p, timings)?;
        outln!("report written to {}", p.display());
    }
    let summary = freelunch::report::Summary::of(reports);
    outln!(
        "{} passed, {} failed, {} undecided, {} not built yet",
        summary.passed,
        summary.failed.len(),
        summary.undecided.len(),
        summary.not_built
    );
    if !summary.undecided.is_empty() {
        eprintln!(
            "undecided claims: {} (the precision run is too coarse to decide them: no case certainly fails, but some enclosures are too wide; rerun with more bits)",
            summary.undecided.join(", ")
        );
    }
    if !summary.failed.is_empty() {
        eprintln!("failed claims: {}", summary.failed.join(", "));
    }
    Ok(code(app::verify::succeeded(&summary)))
}
