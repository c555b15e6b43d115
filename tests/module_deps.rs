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
