//! Subspace names quoted in proofs/copy-linear.md exist in the built copy models' layouts
//! (names formed at run time, e.g. `{name}_query{r}`, are invisible to grep).

use freelunch::copy::linear::{build_copy_model, CopyTask, MemoryKind};

/// Backticked `mem_…` names in `text`, with any `[index]` suffix dropped.
fn quoted_memory_names(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("mem_"))
        .map(|s| s.split('[').next().unwrap_or(s).to_string())
        .filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect()
}

#[test]
fn copy_linear_proof_names_exist_in_the_layouts() {
    let proof = include_str!("../proofs/copy-linear.md");
    let names = quoted_memory_names(proof);
    assert!(names.iter().any(|n| n == "mem_query0"), "{names:?}");
    let task = CopyTask::copy_all(6, 4);
    let models: Vec<_> = [MemoryKind::Position, MemoryKind::Slot]
        .into_iter()
        .map(|k| build_copy_model::<f64>(k, &task, 53).expect("builds"))
        .collect();
    for n in &names {
        assert!(
            models.iter().any(|m| m.model.layout.find(n).is_ok()),
            "proofs/copy-linear.md names `{n}`, which no copy-linear layout has"
        );
    }
    // the check can fail: a name no layout has
    assert!(models
        .iter()
        .all(|m| m.model.layout.find("mem_query").is_err()));
}
