//! Links the system's Arb (ball arithmetic; `src/num/arb_sys.rs` declares what is used).
//! Debian/Ubuntu ship it as `libflint-arb` (`apt-get install libflint-arb-dev`), other systems
//! as `libarb`; `ARB_LIB_DIR` adds a directory to search.

use std::path::{Path, PathBuf};

fn main() {
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
            return;
        }
    }
    panic!(
        "freelunch needs the Arb library (ball arithmetic) and did not find libflint-arb or libarb; \
         install it with `apt-get install libflint-arb-dev` (Debian/Ubuntu), or set ARB_LIB_DIR"
    );
}
