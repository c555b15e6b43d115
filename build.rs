//! Build script: links the system's Arb and embeds the DP catalog.
//!
//! Links the system's Arb (ball arithmetic; `src/num/arb_sys.rs` declares what is used).
//! Debian/Ubuntu ship it as `libflint-arb` (`apt-get install libflint-arb-dev`), other systems
//! as `libarb`; `ARB_LIB_DIR` adds a directory to search.
//!
//! Embeds the DP catalog: every `catalog/dp/*.toml` becomes an entry of `CATALOG_FILES`
//! (src/dp/catalog.rs), so adding a problem touches its spec file only.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    embed_dp_catalog();
    link_arb();
}

/// Links the system's Arb.
fn link_arb() {
    println!("cargo:rerun-if-env-changed=ARB_LIB_DIR");
    let mut dirs: Vec<PathBuf> = std::env::var_os("ARB_LIB_DIR")
        .map(|d| vec![PathBuf::from(d)])
        .unwrap_or_default();
    for d in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
        "/opt/homebrew/lib",
    ] {
        dirs.push(PathBuf::from(d));
    }
    let has = |dir: &Path, name: &str| {
        ["so", "dylib", "a"]
            .iter()
            .any(|ext| dir.join(format!("lib{name}.{ext}")).exists())
    };
    for name in ["flint-arb", "arb"] {
        if let Some(dir) = dirs.iter().find(|d| has(d, name)) {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib={name}");
            println!("cargo:rustc-link-lib=flint");
            // Keep the static archives (rug's GMP/MPFR, bundled in its rlib) private to the
            // executable, so the shared Arb uses the GMP/MPFR it was built against (the
            // system's: measured faster here) instead of binding to the executable's copies
            // (tests/arb_link.rs checks it).
            if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
                println!("cargo:rustc-link-arg=-Wl,--exclude-libs,ALL");
            }
            return;
        }
    }
    panic!(
        "freelunch needs the Arb library (ball arithmetic) and did not find libflint-arb or libarb; \
         install it with `apt-get install libflint-arb-dev` (Debian/Ubuntu), or set ARB_LIB_DIR"
    );
}

/// Embeds the DP catalog.
fn embed_dp_catalog() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("catalog/dp");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    let mut out = String::from("/// (file name, contents) of every catalog spec, sorted by name.\npub const CATALOG_FILES: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_string_lossy();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join("dp_catalog.rs");
    fs::write(dest, out).unwrap();
}
