//! Lowering an export with the command line's choices (the `lower` command, `explain --hf`,
//! `dp --hf`): reading the file, the options, and the one-line outcome of the default lowering.

use super::{hf, hf_nemotron, pick};
use crate::error::{require_finite, Error, Result};
use crate::lower::{natural_activation, LowerOptions};
use crate::model::Activation;
use serde_json::Value;
use std::path::Path;

/// Read an export file (docs/export.md) and pick one model of a collection (`which`: its name or
/// 0-based index).
pub fn read_export(path: &Path, which: Option<&str>) -> Result<Value> {
    super::limits::check_file_size(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io_at("read", path, e))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| Error::input(format!("{} is not JSON: {e}", path.display())))?;
    pick(v, which)
}

/// The overrides `lower` accepts; `None` keeps the lowering's own choice.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overrides {
    /// The target's `hidden_act` (`None`: the model's natural one).
    pub act: Option<Activation>,
    pub shift: Option<f64>,
    pub lambda: Option<f64>,
    pub eps_log2: Option<i32>,
}

/// A shift or λ override must be finite and positive.
pub fn check_overrides(o: &Overrides) -> Result<()> {
    for (name, v) in [("--shift", o.shift), ("--lambda", o.lambda)] {
        if let Some(v) = v {
            require_finite(name, v)?;
            if v <= 0.0 {
                return Err(Error::input(format!("{name} must be positive, got {v}")));
            }
        }
    }
    Ok(())
}

/// The lowering options for `json` with `o` applied ([`check_overrides`]).
pub fn options(json: &Value, o: &Overrides) -> Result<LowerOptions> {
    check_overrides(o)?;
    let mut lower = LowerOptions::new(1);
    lower.act = match o.act {
        Some(a) => a,
        None => natural_activation(json)?,
    };
    lower.shift = o.shift;
    lower.lambda = o.lambda;
    lower.eps_log2 = o.eps_log2;
    Ok(lower)
}

/// Whether the export has attention layers (it then lowers to `NemotronHForCausalLM`).
pub fn has_attention(json: &Value) -> bool {
    (json["layers"].as_array().into_iter().flatten())
        .any(|l| l["kind"].as_str() == Some("attention"))
}

/// Lower an exported model with `freelunch lower`'s defaults into `dir`; one line saying what
/// was written and how freelunch's run of it agrees with the abstract model.
pub fn lower_default(json: &Value, dir: &Path) -> Result<String> {
    let req = hf::Request {
        lower: options(json, &Overrides::default())?,
        cases: 10,
        seed: 2410_03810,
    };
    let (target, blocks, cases, block_cases, tol) = if has_attention(json) {
        let w = hf_nemotron::lower_export_nemotron_h(json, dir, &req)?;
        let n = w.lowered.model.blocks.len();
        let t = w.usage.tolerance;
        ("NemotronHForCausalLM", n, w.cases, w.block_cases, t)
    } else {
        let w = hf::lower_export(json, dir, &req)?;
        let n = w.lowered.model.blocks.len();
        let t = w.usage.tolerance;
        ("MambaForCausalLM", n, w.cases, w.block_cases, t)
    };
    let agree = if block_cases.is_empty() {
        let n = (cases.iter())
            .filter(|c| c.lowered == c.expected && c.certified)
            .count();
        format!(
            "{n}/{} inputs decode like the abstract model, certified",
            cases.len()
        )
    } else {
        let n = (block_cases.iter())
            .filter(|c| hf::block_agrees(c.lowered, c.expected, tol))
            .count();
        format!(
            "{n}/{} input sequences read like the abstract block",
            block_cases.len()
        )
    };
    Ok(format!(
        "{target} checkpoint in {} ({blocks} blocks; freelunch's run of it: {agree})",
        dir.display()
    ))
}

/// A file-name slug of a model name: ASCII letters and digits in lower case, runs of anything
/// else as one `-`.
pub fn file_slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_refused_overrides() {
        assert_eq!(
            file_slug("copy-linear position-key a=1, T = 8"),
            "copy-linear-position-key-a-1-t-8"
        );
        let json = serde_json::json!({"layers": []});
        for bad in [0.0, -1.0, f64::NAN] {
            let o = Overrides {
                act: Some(Activation::Relu),
                shift: Some(bad),
                ..Overrides::default()
            };
            assert!(options(&json, &o).is_err(), "shift {bad} accepted");
        }
        assert!(!has_attention(&json));
    }
}
