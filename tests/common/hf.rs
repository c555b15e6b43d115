//! The real Hugging Face client shared by the checkpoint tests.

use std::path::PathBuf;
use std::process::Command;

/// Whether python3 imports torch, transformers and safetensors. Without them a test says loudly
/// that it skipped; under CI (the `CI` environment variable) it fails instead.
pub fn client_available(what: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import torch, transformers, safetensors"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = "python3 cannot import torch, transformers and safetensors \
                   (pip install -r examples/python/requirements-hf.txt)";
        if std::env::var_os("CI").is_some() {
            panic!("CI must run the {what} tests: {msg}");
        }
        println!("SKIPPED: the {what} tests did not run: {msg}");
        eprintln!("SKIPPED: the {what} tests did not run: {msg}");
    }
    ok
}

/// Run examples/python/hf_check.py on `dirs`: (exit code, stdout).
pub fn hf_check(dirs: &[PathBuf]) -> (i32, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python/hf_check.py");
    let out = Command::new("python3")
        .arg(script)
        .args(dirs.iter().map(|d| super::s(d)))
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}");
    (out.status.code().unwrap_or(-1), text)
}
