//! The DP catalog: the spec files shipped in `catalog/dp/` (embedded at build time by
//! `build.rs`), loaded once. Every consumer — the CLI, the claims, the laws, certify, the
//! benches, the README table — takes its problems from here.

use super::spec::{parse_param, Spec};
use super::{DpProblem, SpecProblem};
use crate::error::{Error, Result};
use std::sync::{Arc, OnceLock};

include!(concat!(env!("OUT_DIR"), "/dp_catalog.rs"));

/// Every catalog spec, loaded and validated (sorted by file name).
pub fn catalog() -> Result<&'static [Arc<Spec>]> {
    static CATALOG: OnceLock<std::result::Result<Vec<Arc<Spec>>, String>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            CATALOG_FILES
                .iter()
                .map(|(name, text)| {
                    Spec::load(&format!("catalog/dp/{name}"), text).map_err(|e| e.to_string())
                })
                .collect()
        })
        .as_ref()
        .map(Vec::as_slice)
        .map_err(|e| Error::compute(format!("a catalog spec does not load: {e}")))
}

/// The catalog's problem ids.
pub fn names() -> Result<Vec<String>> {
    Ok(catalog()?.iter().map(|s| s.id.clone()).collect())
}

/// The catalog spec with this id.
pub fn spec(id: &str) -> Result<Arc<Spec>> {
    let all = catalog()?;
    all.iter().find(|s| s.id == id).cloned().ok_or_else(|| {
        let known: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
        Error::input(format!(
            "unknown DP problem `{id}` (the catalog has: {}; or give a spec file with --spec)",
            known.join(", ")
        ))
    })
}

/// The catalog problem `id` with some parameters set as space-separated `k=v` (a list as
/// `k=1,2,3`), the rest at their defaults, e.g. `problem("edit", "n1=3 n2=3")`.
pub fn problem(id: &str, params: &str) -> Result<SpecProblem> {
    let given = params
        .split_whitespace()
        .map(parse_param)
        .collect::<Result<Vec<_>>>()?;
    Ok(spec(id)?.instance(&given)?)
}

/// The catalog problem `id` with parameters given as `k=v` texts (the CLI's `--param`).
pub fn problem_by_name(id: &str, params: &[String]) -> Result<Box<dyn DpProblem>> {
    let given = params
        .iter()
        .map(|p| parse_param(p))
        .collect::<Result<Vec<_>>>()?;
    Ok(Box::new(spec(id)?.instance(&given)?))
}

/// Load and validate a spec file from disk (the CLI's `--spec`).
pub fn load_file(path: &std::path::Path) -> Result<Arc<Spec>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read the DP spec {}: {e}", path.display())))?;
    Ok(Spec::load(&path.display().to_string(), &text)?)
}

/// The catalog problem `id` at its default parameters with the size parameter set to `size`.
pub fn at_size(id: &str, size: usize) -> Result<Box<dyn DpProblem>> {
    spec(id)?.instance(&[])?.resized(size)
}

/// The catalog as a markdown table, each problem at its default parameters: what it computes,
/// its size parameter, T, the number of states, read ports and rules, the dependency distance m
/// and the locality derived from the reads. The README's `dp-catalog` section and
/// proofs/dp-problems.md hold this table (`freelunch readme`, `tests/dp_catalog.rs`).
pub fn catalog_table() -> Result<String> {
    let mut o = String::from(
        "| problem | computes | size | parameters (defaults) | T | states | reads | rules | m | m-local |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for spec in catalog()? {
        let p = spec.instance(&[])?;
        let params: Vec<String> = p.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let rules = p.rules();
        o.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            spec.id,
            spec.doc.replace('|', "\\|"),
            spec.size.join(", "),
            params.join(" "),
            super::total_len(&p),
            p.steps().len() - 2,
            p.read_ports(),
            rules[..rules.len() - 1].join(", "),
            super::dependency_distance(&p),
            if p.local() { "yes" } else { "no" },
        ));
    }
    Ok(o)
}
