//! Running an export: the plan (`freelunch run`/`trace` options applied to a file), token input
//! parsing, and the recorded trace or `selective_scan_ref` arguments of the run.

use super::limits::{self, MAX_POSITIONS};
use super::trace::{record, Feed, Keep, Trace};
use super::{
    arithmetic, check_header, from_json, read_decoding, read_vocab, scan_args_of_run, Decoding,
    Fed, ScanArgsFile,
};
use crate::error::{Error, ModelError, Result};
use crate::model::Softplus;
use crate::num::{Arith, Precision, Real, Scalar};
use serde_json::Value;

/// What the user asked for (all optional: the file supplies the rest).
#[derive(Clone, Debug, Default)]
pub struct Options<'a> {
    /// Input symbols (names or ids); the file's suffix (e.g. SEP) is appended.
    pub input: Option<&'a str>,
    /// Tokens to generate instead of the file's `decoding.generate`.
    pub generate: Option<usize>,
    /// Arithmetic instead of the file's.
    pub arith: Option<Arith>,
    pub softplus: Softplus,
}

/// One model of an export with everything needed to run it.
pub struct Plan {
    pub json: Value,
    pub decoding: Option<Decoding>,
    pub vocab: Vec<String>,
    pub arith: Arith,
    pub softplus: Softplus,
    /// Token prompt and tokens to generate (None for a block fed vectors).
    pub prompt: Option<(Vec<usize>, usize)>,
}

impl Plan {
    /// Check the file and apply the options.
    pub fn new(json: Value, o: &Options<'_>) -> Result<Self> {
        check_header(&json)?;
        let (kind, bits) = arithmetic(&json)?;
        let arith = match o.arith {
            Some(a) => a,
            None if kind == "f64" => Arith::F64,
            None => Arith::Mpfr(Precision::new(bits as u64)?),
        };
        let decoding = read_decoding(&json)?;
        let vocab = read_vocab(&json)?;
        let prompt = if vocab.is_empty() {
            if o.input.is_some() {
                return Err(Error::input(
                    "this model is a block fed residual vectors (decoding.inputs), not tokens: --input does not apply",
                ));
            }
            None
        } else {
            let d = decoding.clone().unwrap_or_default();
            let prompt = match o.input {
                Some(text) => {
                    let mut p = parse_tokens(text, &vocab)?;
                    if d.input_len > 0 && p.len() != d.input_len {
                        return Err(Error::input(format!(
                            "--input has {} symbols, this model takes {} (then {} is appended)",
                            p.len(),
                            d.input_len,
                            render_tokens(&d.suffix, &vocab)
                        )));
                    }
                    p.extend(&d.suffix);
                    p
                }
                None if !d.prompt.is_empty() => d.prompt.clone(),
                None => {
                    return Err(Error::input(
                        "the file stores no prompt: give the input symbols with --input",
                    ))
                }
            };
            let (generate, name) = match (o.generate, decoding.as_ref()) {
                (Some(g), _) => (g, "--generate"),
                (None, Some(d)) => (d.generate, "decoding.generate"),
                (None, None) => {
                    return Err(Error::input(
                        "the file does not say how many tokens to generate: use --generate",
                    ))
                }
            };
            check_generate(name, generate, prompt.len())?;
            Some((prompt, generate))
        };
        Ok(Plan {
            json,
            decoding,
            vocab,
            arith,
            softplus: o.softplus,
            prompt,
        })
    }

    /// Run the model at the plan's arithmetic and record the trace (every position).
    pub fn trace(&self) -> Result<Trace> {
        self.record(Keep::All)
    }

    /// Run the model at the plan's arithmetic, keeping the residual and memory of the last
    /// position only (what `freelunch run` prints); the tokens and margins of every position
    /// are kept.
    pub fn run(&self) -> Result<Trace> {
        self.record(Keep::Last)
    }

    fn record(&self, keep: Keep) -> Result<Trace> {
        match self.arith {
            Arith::F64 => self.trace_at::<f64>(53, keep),
            Arith::Mpfr(p) => self.trace_at::<Real>(p.bits(), keep),
        }
    }

    fn trace_at<S: Scalar>(&self, bits: u32, keep: Keep) -> Result<Trace> {
        let model = from_json::<S>(&self.json, bits)?;
        match &self.prompt {
            Some((prompt, generate)) => record(
                &model,
                Feed::Tokens {
                    prompt,
                    generate: *generate,
                },
                self.softplus,
                keep,
            ),
            None => record(
                &model,
                Feed::Vectors(self.block_inputs()?),
                self.softplus,
                keep,
            ),
        }
    }

    fn block_inputs(&self) -> Result<&[Vec<f64>]> {
        let inputs = self
            .decoding
            .as_ref()
            .map(|d| d.inputs.as_slice())
            .unwrap_or(&[]);
        if inputs.is_empty() {
            return Err(Error::input(
                "this block stores no input vectors (decoding.inputs)",
            ));
        }
        Ok(inputs)
    }

    /// Each SSM layer's run as `selective_scan_ref` arguments (see [`super::selective_scan_args`]).
    pub fn scan_args(&self) -> Result<ScanArgsFile> {
        match self.arith {
            Arith::F64 => self.scan_args_at::<f64>(53),
            Arith::Mpfr(p) => self.scan_args_at::<Real>(p.bits()),
        }
    }

    fn scan_args_at<S: Scalar>(&self, bits: u32) -> Result<ScanArgsFile> {
        let model = from_json::<S>(&self.json, bits)?;
        let fed = match &self.prompt {
            Some(_) => Fed::Tokens(self.trace_at::<S>(bits, Keep::Last)?.fed_tokens),
            None => Fed::Vectors(self.block_inputs()?.to_vec()),
        };
        Ok(scan_args_of_run(&model, &fed, self.softplus))
    }
}

/// Check a number of tokens to generate (`name`: the option or field it came from): at least
/// one, and the prompt plus the generated tokens within the context of [`MAX_POSITIONS`].
pub fn check_generate(name: &str, generate: usize, prompt_len: usize) -> Result<()> {
    let room = MAX_POSITIONS.saturating_sub(prompt_len);
    if room == 0 {
        return Err(ModelError::OutOfRange {
            name: "the prompt".into(),
            value: format!("{prompt_len} tokens"),
            range: format!("a run feeds at most {MAX_POSITIONS} positions (the model context), prompt and generated tokens together"),
        }
        .into());
    }
    limits::in_range(name, generate as u64, 1, room as u64).map_err(|e| match e {
        ModelError::OutOfRange { name, value, .. } => ModelError::OutOfRange {
            name,
            value,
            range: format!(
                "generate 1..={room} tokens (the model context is {MAX_POSITIONS} positions, the prompt takes {prompt_len})"
            ),
        },
        e => e,
    })?;
    Ok(())
}

/// Parse input symbols: token names or ids, separated by commas or spaces, or one string of
/// one-character names such as `0110`.
pub fn parse_tokens(text: &str, vocab: &[String]) -> Result<Vec<usize>> {
    let t = text.trim();
    let one = |s: &str| -> Result<usize> {
        if let Some(i) = vocab.iter().position(|v| v == s) {
            return Ok(i);
        }
        match s.parse::<usize>() {
            Ok(i) if i < vocab.len() => Ok(i),
            _ => Err(Error::input(format!(
                "`{s}` is neither a token name nor a token id below {} (tokens: {})",
                vocab.len(),
                vocab.join(" ")
            ))),
        }
    };
    let parts: Vec<&str> = if t.contains(',') {
        t.split(',').map(str::trim).collect()
    } else if t.contains(char::is_whitespace) {
        t.split_whitespace().collect()
    } else if t.chars().all(|c| {
        vocab
            .iter()
            .any(|v| v.len() == c.len_utf8() && v.starts_with(c))
    }) {
        t.split("").filter(|s| !s.is_empty()).collect()
    } else {
        vec![t]
    };
    if let Some(k) = parts.iter().position(|s| s.is_empty()) {
        return Err(Error::input(format!(
            "input `{text}` has an empty field at position {}",
            k + 1
        )));
    }
    parts.into_iter().map(one).collect()
}

/// Token names for ids.
pub fn render_tokens(toks: &[usize], vocab: &[String]) -> String {
    toks.iter()
        .map(|&t| vocab.get(t).cloned().unwrap_or_else(|| t.to_string()))
        .collect::<Vec<_>>()
        .join(" ")
}
