//! Module layering without import cycles: `certify` never imports `claims` (the claims call the
//! certificates), and the DP stages and options never import the compiler (which calls them).

use std::path::Path;

fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("source directory") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).expect("readable source");
            out.push((p.display().to_string(), text));
        }
    }
    out
}

/// Files under `dir` (or the file `dir`) whose code (not comments) names `path`.
fn importers(dir: &str, path: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let files = if root.is_dir() {
        sources(&root)
    } else {
        vec![(
            dir.to_string(),
            std::fs::read_to_string(&root).expect("file"),
        )]
    };
    files
        .into_iter()
        .filter(|(_, text)| {
            text.lines()
                .map(str::trim_start)
                .filter(|l| !l.starts_with("//"))
                .any(|l| l.contains(path))
        })
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn certify_does_not_import_claims() {
    assert_eq!(importers("src/certify", "claims::"), Vec::<String>::new());
    // the check can fail: the claims do import certify
    assert!(!importers("src/claims", "certify::").is_empty());
}

#[test]
fn the_dp_stages_do_not_import_the_compiler() {
    for f in ["src/dp/stages.rs", "src/dp/options.rs"] {
        assert_eq!(importers(f, "compiler::"), Vec::<String>::new(), "{f}");
    }
    assert!(!importers("src/dp/compiler.rs", "stages::").is_empty());
}

/// The stated layer order of the library's top-level modules, lowest first: a module may import
/// modules of its own layer or below, never above (so the module graph is a DAG up to imports
/// inside one layer, which the second test rules out too).
const LAYERS: &[&[&str]] = &[
    &["error", "rng"],
    &["io", "num"],
    &["model", "report"],
    &["measure"],
    &["gadgets", "lower"],
    &["memory"],
    &["copy", "dp"],
    &["certify"],
    &["export"],
    &["plot"],
    &["claims"],
    &["readme"],
    &["app"],
];

/// Top-level modules of `src/` (directories and files, without lib.rs and main.rs).
fn modules() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: Vec<String> = std::fs::read_dir(&src)
        .expect("src")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            if p.is_dir() {
                Some(name)
            } else {
                let stem = name.strip_suffix(".rs")?;
                (stem != "lib" && stem != "main").then(|| stem.to_string())
            }
        })
        .collect();
    out.sort();
    out
}

/// The top-level modules that module `m` names as `crate::<module>` (in `use crate::{a, b}`
/// groups too, across lines), comments left out.
fn imports(m: &str, all: &[String]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = if root.join(m).is_dir() {
        sources(&root.join(m))
    } else {
        let p = root.join(format!("{m}.rs"));
        vec![(
            p.display().to_string(),
            std::fs::read_to_string(&p).expect("file"),
        )]
    };
    let mut found = std::collections::BTreeSet::new();
    for (_, text) in files {
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut rest = code.as_str();
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                group[..end]
                    .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .filter_map(|w| w.split("::").next())
                    .collect()
            } else {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                vec![&rest[..end]]
            };
            for n in names {
                if n != m && all.iter().any(|a| a == n) {
                    found.insert(n.to_string());
                }
            }
        }
    }
    found.into_iter().collect()
}

/// Known imports against the layer order, each with the file that makes it; the test fails on
/// any other, and on an exception that is no longer needed (so the list only shrinks).
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

fn layer_of(m: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&m))
}

#[test]
fn every_module_imports_only_its_layer_or_below() {
    let all = modules();
    let mut violations = Vec::new();
    for m in &all {
        let lm = layer_of(m).unwrap_or_else(|| panic!("module `{m}` has no layer in LAYERS"));
        for d in imports(m, &all) {
            let ld = layer_of(&d).unwrap_or_else(|| panic!("module `{d}` has no layer"));
            if ld > lm && !EXCEPTIONS.iter().any(|e| e.0 == m && e.1 == d) {
                violations.push(format!("{m} (layer {lm}) imports {d} (layer {ld})"));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
    for (m, d, file) in EXCEPTIONS {
        assert!(
            imports(m, &all).iter().any(|x| x == d),
            "the exception {m} → {d} ({file}) is no longer needed: remove it"
        );
        assert_eq!(
            importers(file, &format!("crate::{d}::")),
            vec![file.to_string()]
        );
    }
    // the reader sees real edges: claims imports certify, and certify is below it
    assert!(imports("claims", &all).contains(&"certify".to_string()));
    assert!(imports("certify", &all).contains(&"model".to_string()));
}

#[test]
fn modules_of_one_layer_do_not_import_each_other() {
    let all = modules();
    for layer in LAYERS {
        for m in layer.iter() {
            for d in imports(m, &all) {
                assert!(
                    !layer.contains(&d.as_str()),
                    "{m} imports {d}, in its own layer"
                );
            }
        }
    }
}

/// The checker can fail: a layer order that puts `claims` below `certify` is refuted.
#[test]
fn a_wrong_layer_order_is_caught() {
    let all = modules();
    let claims_uses_certify = imports("claims", &all).iter().any(|d| d == "certify");
    let (lc, lf) = (layer_of("claims").unwrap(), layer_of("certify").unwrap());
    assert!(claims_uses_certify && lc > lf);
}
