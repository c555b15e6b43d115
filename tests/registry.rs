//! The registry: every claim id once; a not-built claim is reported as such, never passed.

use freelunch::claims::Claim;
use freelunch::claims::{registry, ClaimInfo, NotBuilt, RunConfig};
use freelunch::report::{render_table, Status};

#[test]
fn every_claim_id_once_with_a_proof_file() {
    let ids: Vec<&str> = registry().iter().map(|c| c.info().id).collect();
    let want = [
        "scan-unroll",
        "copy-const",
        "copy-attn",
        "copy-linear",
        "copy-rank",
        "mlp-mul",
        "mlp-relu",
        "mlp-select",
        "mlp-lookup",
        "gate-mul",
        "dp-general",
        "dp-local",
    ];
    assert_eq!(ids, want);
    for id in want {
        let path = format!("{}/proofs/{id}.md", env!("CARGO_MANIFEST_DIR"));
        assert!(std::path::Path::new(&path).exists(), "missing {path}");
    }
}

#[test]
fn not_built_is_never_passed() {
    let c = NotBuilt(ClaimInfo {
        id: "future-claim",
        paper_ref: "-",
        statement: "later",
    });
    let r = c.run(&RunConfig::default()).unwrap();
    assert_eq!(r.status, Status::NotBuilt);
    assert!(r.cases.is_empty());
    assert!(render_table(&[r]).contains("not built yet"));
    assert!(!c.built());
}
