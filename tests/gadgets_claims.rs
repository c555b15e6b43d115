//! The five gadget claims run (quick mode) and pass; the CLI explains them and rejects bad input.

use freelunch::claims::{find, Mode, RunConfig};
use freelunch::report::Status;
use std::process::Command;

const IDS: [&str; 5] = [
    "mlp-mul",
    "mlp-relu",
    "mlp-select",
    "mlp-lookup",
    "gate-mul",
];

#[test]
fn gadget_claims_pass_in_quick_mode() {
    let cfg = RunConfig {
        mode: Mode::Quick,
        ..RunConfig::default()
    };
    for id in IDS {
        let claim = find(id).unwrap();
        assert!(claim.built());
        let rep = claim.run(&cfg).unwrap();
        let failed: Vec<_> = rep.failed_cases().map(|c| c.label.clone()).collect();
        assert_eq!(rep.status, Status::Passed, "{id}: {failed:?}");
        assert!(rep.cases.len() >= 10);
        assert!(claim.explain().contains("## Statement"));
    }
}

#[test]
fn mlp_relu_records_the_arithmetic_it_ran_in() {
    use freelunch::num::Arith;
    // (requested, ran in, recorded as requested)
    for (arith, ran, requested) in [
        (Arith::F64, "53-bit MPFR", Some("f64")),
        (Arith::mpfr(8), "53-bit MPFR", Some("8 bits")),
        (Arith::mpfr(96), "96-bit MPFR", None),
    ] {
        let cfg = RunConfig {
            mode: Mode::Quick,
            arith: Some(arith),
            ..RunConfig::default()
        };
        let rep = find("mlp-relu").unwrap().run(&cfg).unwrap();
        let sups: Vec<_> = rep.cases.iter().filter(|c| c.is("sup-error")).collect();
        assert!(!sups.is_empty());
        for sup in sups {
            let key = sup.key.as_ref().unwrap();
            assert_eq!(key.arith.as_deref(), Some(ran), "{arith}: {}", sup.id);
            assert_eq!(key.requested.as_deref(), requested, "{arith}: {}", sup.id);
        }
    }
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_freelunch"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_explains_and_rejects_bad_input() {
    let out = cli(&["explain", "mlp-select"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("mlp-select"));
    let out = cli(&["verify", "mlp-mul", "--quick", "--precision", "1"]);
    assert!(!out.status.success());
    let out = cli(&["verify", "mlp-mull", "--quick"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown claim"));
}
