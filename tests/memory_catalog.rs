//! The memory catalog: every kind parses from its name and back, every kind usable for DP
//! (resp. COPY) builds and decodes a small instance and the others are refused in one sentence,
//! and every memory in `src/memory/` has its catalog entry.

mod common;

use freelunch::copy::linear::{build_copy_model, run_copy, CopyTask};
use freelunch::dp::{compile, Compiled, DpProblem, Options};
use freelunch::error::ErrorKind;
use freelunch::memory::{MemoryKind, MemoryParams, QueryFeed, Use, CATALOG};
use freelunch::model::Activation;
use freelunch::rng::Rng;
use std::collections::HashSet;
use std::path::Path;

#[test]
fn every_kind_parses_from_its_name_and_names_are_unique() {
    for kind in MemoryKind::all() {
        assert_eq!(MemoryKind::parse(kind.name()).unwrap(), kind);
        assert_eq!(kind.entry().kind, kind);
        assert!(
            kind.usable(Use::Copy) || kind.usable(Use::Dp),
            "{kind:?} is usable nowhere"
        );
    }
    for field in [
        |k: MemoryKind| k.name(),
        |k: MemoryKind| k.label(),
        |k: MemoryKind| k.stream_id(),
    ] {
        let seen: HashSet<&str> = MemoryKind::all().map(field).collect();
        assert_eq!(seen.len(), CATALOG.len(), "{seen:?}");
    }
    // each use orders its memories without ties
    for u in [Use::Copy, Use::Dp] {
        let ranks: HashSet<u8> = MemoryKind::usable_for(u)
            .iter()
            .flat_map(|k| k.rank(u))
            .collect();
        assert_eq!(ranks.len(), MemoryKind::usable_for(u).len(), "{u:?}");
    }
}

#[test]
fn a_bad_name_gets_one_sentence_listing_every_name() {
    for bad in ["tape", "", "Slot", "position-key a=1"] {
        let e = MemoryKind::parse(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Input);
        let msg = e.to_string();
        assert!(msg.contains("unknown memory"), "{msg}");
        for kind in MemoryKind::all() {
            assert!(msg.contains(kind.name()), "{msg} lacks {}", kind.name());
        }
        assert_eq!(msg.lines().count(), 1, "{msg}");
    }
}

#[test]
fn every_dp_memory_compiles_and_decodes_and_the_others_are_refused() {
    let p = freelunch::dp::problem("edit", "n1=2 n2=2 sigma=3 ins=1 del=1 sub=1").unwrap();
    let input = p.random_input(&mut Rng::new(7));
    let dp = MemoryKind::usable_for(Use::Dp);
    assert!(!dp.is_empty());
    for kind in MemoryKind::all() {
        let built = compile::<f64>(&p, &Options::new(kind, Activation::Relu), 53);
        if dp.contains(&kind) {
            let c: Compiled<f64> = built.unwrap();
            assert_eq!(c.info.memory, kind);
            let r = c.run(&p, &input).unwrap();
            assert!(r.exact, "{kind:?}: {:?} vs {:?}", r.generated, r.expected);
        } else {
            let e = built.err().expect("a non-DP memory compiled");
            assert_eq!(e.kind(), ErrorKind::Input, "{e}");
            let msg = e.to_string();
            assert!(msg.contains(kind.name()), "{msg}");
            for k in &dp {
                assert!(msg.contains(k.name()), "{msg} lacks {}", k.name());
            }
        }
    }
}

#[test]
fn every_copy_memory_builds_and_decodes_and_the_others_are_refused() {
    let task = CopyTask::copy_all(8, 4);
    let prompt: Vec<usize> = (0..8).map(|i| (3 * i + 1) % 4).collect();
    let copy = MemoryKind::usable_for(Use::Copy);
    assert!(!copy.is_empty());
    for kind in MemoryKind::all() {
        let built = build_copy_model::<f64>(kind, &task, 53);
        if copy.contains(&kind) {
            let cm = built.unwrap();
            assert!(cm.model.name.contains(kind.label()), "{}", cm.model.name);
            let out = run_copy(&cm, &task, &prompt).unwrap();
            assert!(out.exact(), "{kind:?}: {out:?}");
        } else {
            let e = built.expect_err("a non-COPY memory built a COPY model");
            assert_eq!(e.kind(), ErrorKind::Input, "{e}");
            assert!(e.to_string().contains(kind.name()), "{e}");
        }
    }
}

#[test]
fn the_factory_builds_the_memory_of_the_entrys_module() {
    let params = MemoryParams {
        name: "m",
        feed: QueryFeed::Positional,
        len: 8,
        slots: Some(8),
        distance: 0,
        horizon: 16,
        value_bound: 3.0,
        accuracy: 0.25,
        overrides: None,
        context: "a test".into(),
    };
    for kind in MemoryKind::all() {
        let u = if kind.usable(Use::Dp) {
            Use::Dp
        } else {
            Use::Copy
        };
        let m = kind.build::<f64>(u, &params).unwrap();
        assert_eq!(m.kind(), kind.entry().module, "{kind:?}");
    }
}

/// What the catalog misses in a source tree: each `src/memory/NAME.rs` implementing `Memory`
/// whose NAME is no entry's module, and each variant of `enum MemoryKind` (in `catalog_src`)
/// that `listed` does not contain.
fn catalog_gaps(
    files: &[(String, String)],
    catalog_src: &str,
    modules: &[&str],
    listed: &[String],
) -> Vec<String> {
    let mut gaps = Vec::new();
    for (stem, src) in files {
        if src.contains("impl<S: Scalar> Memory<S> for") && !modules.contains(&stem.as_str()) {
            gaps.push(format!("file {stem}.rs"));
        }
    }
    let body = catalog_src
        .split_once("pub enum MemoryKind {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map_or("", |(body, _)| body);
    for line in body.lines().map(str::trim) {
        if let Some(variant) = line.strip_suffix(',') {
            if !variant.starts_with("//") && !listed.iter().any(|l| l == variant) {
                gaps.push(format!("variant {variant}"));
            }
        }
    }
    gaps
}

#[test]
fn every_memory_file_and_variant_is_in_the_catalog() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/memory");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            files.push((stem, std::fs::read_to_string(&path).unwrap()));
        }
    }
    let catalog_src = std::fs::read_to_string(dir.join("catalog.rs")).unwrap();
    let modules: Vec<&str> = CATALOG.iter().map(|e| e.module).collect();
    let listed: Vec<String> = MemoryKind::all().map(|k| format!("{k:?}")).collect();
    let implementing = files
        .iter()
        .filter(|(_, s)| s.contains("impl<S: Scalar> Memory<S> for"))
        .count();
    assert!(implementing >= 3, "found {implementing} memory files");
    assert!(listed.len() >= 3);
    assert_eq!(
        catalog_gaps(&files, &catalog_src, &modules, &listed),
        Vec::<String>::new()
    );
    // control: a memory file and a variant without entries are both reported
    files.push((
        "tape".into(),
        "impl<S: Scalar> Memory<S> for TapeMemory {}".into(),
    ));
    let with_tape =
        catalog_src.replace("pub enum MemoryKind {", "pub enum MemoryKind {\n    Tape,");
    assert_eq!(
        catalog_gaps(&files, &with_tape, &modules, &listed),
        vec!["file tape.rs".to_string(), "variant Tape".to_string()]
    );
}

#[test]
fn the_cli_refuses_a_copy_only_or_unknown_memory_in_one_sentence() {
    let copy_only: Vec<MemoryKind> = MemoryKind::all().filter(|k| !k.usable(Use::Dp)).collect();
    let mut cases: Vec<(String, String)> = copy_only
        .iter()
        .map(|k| {
            (
                k.name().to_string(),
                "not available to the DP compiler".to_string(),
            )
        })
        .collect();
    cases.push(("tape".into(), "unknown memory".into()));
    for (name, want) in cases {
        let (code, out, err) = common::run(&["dp", "edit", "--memory", &name]);
        assert!(code != 0, "--memory {name} exited 0: {out}");
        assert!(err.contains(&want), "--memory {name}: `{err}`");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
