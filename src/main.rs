//! The `freelunch` command line: parse, call the library, print.

use clap::{Parser, Subcommand};
use freelunch::claims::{self, Mode, RunConfig};
use freelunch::error::{Error, Result};
use freelunch::num::{parse_precision, Arith};
use freelunch::report::{render_table, write_atomic, ClaimReport, Status};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    Explain { claim: String },
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

fn check_json_target(p: &Option<PathBuf>) -> Result<()> {
    if let Some(p) = p {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(Error::io(format!(
                "cannot write the JSON report to {}: directory {} does not exist",
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
            println!("{:<13} {:<28} {:<14} statement", "claim", "paper", "status");
            for c in claims::registry() {
                let i = c.info();
                let st = if c.built() { "built" } else { "not built yet" };
                println!(
                    "{:<13} {:<28} {:<14} {}",
                    i.id, i.paper_ref, st, i.statement
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Explain { claim } => {
            println!("{}", claims::find(&claim)?.explain());
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
            check_json_target(&json)?;
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
        Cmd::Reproduce { out, json, seed } => {
            check_json_target(&json)?;
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
    print!("{}", render_table(reports));
    if let Some(p) = json {
        let s = serde_json::to_string_pretty(reports)
            .map_err(|e| Error::compute(format!("cannot serialise the report: {e}")))?;
        write_atomic(p, s.as_bytes())?;
        println!("report written to {}", p.display());
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
    println!(
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
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}
