//! `freelunch lower`: an exported token model or block as a stock Hugging Face checkpoint.

use crate::error::Result;
use crate::export::hf::{self, BlockCase, Case, Request as HfRequest, Written};
use crate::export::hf_nemotron::{self, WrittenNh};
use crate::export::lowering::{self, Overrides};
use std::path::PathBuf;

/// The checkpoint class to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `MambaForCausalLM` (Mamba-1 blocks).
    Mamba,
    /// `NemotronHForCausalLM` (Mamba-2, MLP and attention blocks).
    NemotronH,
}

/// What the user asked for.
pub struct Request {
    /// The export file, and the model of a collection (name or 0-based index).
    pub model: PathBuf,
    pub pick: Option<String>,
    /// The checkpoint directory.
    pub dir: PathBuf,
    pub target: Target,
    pub overrides: Overrides,
    /// Random inputs besides the stored prompt.
    pub cases: usize,
    pub seed: u64,
}

/// The written checkpoint.
pub enum Lowered {
    Mamba(Written),
    NemotronH(WrittenNh),
}

/// How freelunch's run of the lowered blocks agrees with the abstract model.
pub struct Tally {
    /// Inputs (token models) or input sequences (blocks) that agree, of `total`.
    pub agree: usize,
    pub total: usize,
    /// Token models: inputs whose ball-arithmetic run certifies every generated token.
    pub certified: usize,
    /// Blocks: the largest |lowered − abstract| read value (0 for token models).
    pub worst: f64,
}

impl Tally {
    fn of(cases: &[Case], block_cases: &[BlockCase], tolerance: Option<f64>) -> Self {
        if block_cases.is_empty() {
            Tally {
                agree: cases.iter().filter(|c| c.lowered == c.expected).count(),
                total: cases.len(),
                certified: cases.iter().filter(|c| c.certified).count(),
                worst: 0.0,
            }
        } else {
            Tally {
                agree: (block_cases.iter())
                    .filter(|c| hf::block_agrees(c.lowered, c.expected, tolerance))
                    .count(),
                total: block_cases.len(),
                certified: 0,
                worst: (block_cases.iter())
                    .map(|c| (c.lowered - c.expected).abs())
                    .fold(0.0, f64::max),
            }
        }
    }

    /// Every case agrees.
    pub fn passed(&self) -> bool {
        self.agree == self.total
    }
}

impl Lowered {
    /// Whether the model is a block fed residual vectors (its cases are reads, not tokens).
    pub fn is_block(&self) -> bool {
        match self {
            Lowered::Mamba(w) => !w.block_cases.is_empty(),
            Lowered::NemotronH(w) => !w.block_cases.is_empty(),
        }
    }

    pub fn tally(&self) -> Tally {
        match self {
            Lowered::Mamba(w) => Tally::of(&w.cases, &w.block_cases, w.usage.tolerance),
            Lowered::NemotronH(w) => Tally::of(&w.cases, &w.block_cases, w.usage.tolerance),
        }
    }
}

/// Read the export, lower it and write the checkpoint.
pub fn lower(req: &Request) -> Result<Lowered> {
    lowering::check_overrides(&req.overrides)?;
    let json = lowering::read_export(&req.model, req.pick.as_deref())?;
    let hf_req = HfRequest {
        lower: lowering::options(&json, &req.overrides)?,
        cases: req.cases,
        seed: req.seed,
    };
    Ok(match req.target {
        Target::Mamba => Lowered::Mamba(hf::lower_export(&json, &req.dir, &hf_req)?),
        Target::NemotronH => Lowered::NemotronH(hf_nemotron::lower_export_nemotron_h(
            &json, &req.dir, &hf_req,
        )?),
    })
}
