//! The README's table of lowered checkpoints: the abstract model's size beside the
//! `MambaForCausalLM` it lowers to, and the real client's `generate()` time measured by
//! `examples/python/hf_measure.sh` (stored in `docs/hf-measured.json`).

use crate::error::{Error, Result};
use crate::export::hf::{prepare, stored_parameters, Request, Written};
use crate::lower::{natural_activation, LowerOptions};
use serde_json::Value;
use std::path::Path;

/// The checkpoints of the table and of `examples/python/hf_measure.sh`: `(id, export)`.
pub fn configurations() -> Result<Vec<(String, Value)>> {
    use crate::dp::{self, MemoryKind};
    let mut out = Vec::new();
    for (name, n) in [("edit", 3), ("lis", 5), ("linrec", 8), ("eca", 4)] {
        let p = dp::catalog::at_size(name, n)?;
        let memories = [MemoryKind::Slot, MemoryKind::Position];
        let models = crate::export::examples::dp_models(p.as_ref(), &memories, 2410_03810);
        for (memory, (_, ex)) in memories.into_iter().zip(models) {
            let (m, d) = ex?;
            out.push((
                format!("{name}-{}", memory.name()),
                crate::export::to_json(&m, d.as_ref()),
            ));
        }
    }
    for id in [
        "copy-linear",
        "mlp-mul",
        "mlp-relu",
        "mlp-select",
        "mlp-lookup",
        "gate-mul",
        "copy-const",
    ] {
        let claim = crate::claims::find(id)?;
        for (k, (_, run)) in claim.runnable_examples().into_iter().enumerate() {
            let (m, d) = run?;
            out.push((format!("{id}-{k}"), crate::export::to_json(&m, d.as_ref())));
        }
    }
    Ok(out)
}

fn lowered(json: &Value) -> Result<Written> {
    let mut lower = LowerOptions::new(1);
    lower.act = natural_activation(json)?;
    prepare(
        json,
        &Request {
            lower,
            cases: 0,
            seed: 0,
        },
    )
}

/// Seconds of the batched `generate()` (or forward) of each checkpoint id, if measured.
fn measured(path: &Path) -> Vec<(String, f64, usize)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(Value::Array(rows)) = serde_json::from_str::<Value>(&text) else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|r| {
            let id = Path::new(r["dir"].as_str()?)
                .file_name()?
                .to_str()?
                .to_string();
            let res = &r["results"]["float32"];
            Some((id, res["seconds"].as_f64()?, r["cases"].as_u64()? as usize))
        })
        .collect()
}

/// The table (markdown).
pub fn readme_table(measured_path: &Path) -> Result<String> {
    let times = measured(measured_path);
    let mut s = String::from(
        "| checkpoint | abstract: width, state, layers, nonzeros | lowered: hidden, intermediate, N, blocks | live state / HF state | parameters stored (× abstract nonzeros) | generate() float32, s (inputs) |\n|---|---|---|---|---|---|\n",
    );
    for (id, json) in configurations()? {
        let w = lowered(&json).map_err(|e| Error::compute(format!("{id}: {e}")))?;
        let abs = crate::export::from_json::<f64>(&json, 53)?.size();
        let m = &w.lowered.model;
        let (inner, state, _, _) = crate::export::hf::config_sizes(m);
        let live: usize = m.blocks.iter().map(|b| b.live_state()).sum();
        let stored = stored_parameters(m);
        let time = times
            .iter()
            .find(|t| t.0 == id)
            .map_or("—".to_string(), |t| format!("{:.2} ({})", t.1, t.2));
        s += &format!(
            "| `{id}` | {}, {}, {}, {} | {}, {inner}, {state}, {} | {live} / {} | {stored} ({:.0}×) | {time} |\n",
            abs.residual_width,
            abs.ssm_state,
            abs.layers,
            abs.nonzero_params,
            m.width(),
            m.blocks.len(),
            inner * state * m.blocks.len(),
            stored as f64 / abs.nonzero_params as f64,
        );
    }
    Ok(s)
}
