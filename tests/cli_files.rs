//! Output files are honest: special files are written through (never replaced), symlinks are
//! followed, a full device leaves no temporary file and names the user's path, and an
//! unwritable destination is refused before any long run.

mod common;
use common::run;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A quick command that writes JSON to `path`.
fn export_to(path: &Path) -> (i32, String, String) {
    run(&["explain", "copy-linear", "--export", path.to_str().unwrap()])
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("freelunch-files-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn is_char_device(p: &str) -> bool {
    std::fs::symlink_metadata(p)
        .map(|m| m.file_type().is_char_device())
        .unwrap_or(false)
}

fn tmp_files_in(dir: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".tmp") || n.contains("freelunch-probe"))
                .collect()
        })
        .unwrap_or_default()
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn dev_null_is_written_through_not_replaced() {
    if !is_char_device("/dev/null") {
        println!("skipped: /dev/null is not a character device here");
        return;
    }
    let (code, out, err) = export_to(Path::new("/dev/null"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(is_char_device("/dev/null"), "/dev/null was replaced");
    let (code, out, err) = run(&[
        "verify",
        "scan-unroll",
        "--quick",
        "--precision",
        "64",
        "--json",
        "/dev/null",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(is_char_device("/dev/null"), "/dev/null was replaced");
    assert!(
        tmp_files_in("/dev").is_empty(),
        "{:?}",
        tmp_files_in("/dev")
    );
}

#[test]
fn dev_full_fails_with_the_users_path_and_leaves_nothing() {
    if !is_char_device("/dev/full") {
        println!("skipped: /dev/full does not exist here");
        return;
    }
    let (code, _out, err) = export_to(Path::new("/dev/full"));
    assert_ne!(code, 0);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("/dev/full"),
        "message must name the path: {err}"
    );
    assert!(
        err.to_lowercase().contains("no space"),
        "message must say why: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(is_char_device("/dev/full"), "/dev/full was replaced");
    assert!(
        tmp_files_in("/dev").is_empty(),
        "{:?}",
        tmp_files_in("/dev")
    );
}

#[test]
fn fifo_is_written_through() {
    let d = scratch("fifo");
    let fifo = d.join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.map(|s| s.success()).unwrap_or(false) {
        println!("skipped: mkfifo is not available");
        return;
    }
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let (code, out, err) = export_to(&fifo);
    assert_eq!(code, 0, "{out}{err}");
    let text = reader.join().unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).expect("the reader got the JSON");
    assert!(v.is_object());
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(tmp_files_in(d.to_str().unwrap()).is_empty());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn symlink_stays_a_link_and_its_target_is_written() {
    let d = scratch("symlink");
    let target = d.join("weights.json");
    std::fs::write(&target, "old").unwrap();
    let link = d.join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (code, out, err) = export_to(&link);
    assert_eq!(code, 0, "{out}{err}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert!(v.is_object());
    assert!(tmp_files_in(d.to_str().unwrap()).is_empty());
    std::fs::remove_dir_all(&d).unwrap();
}

/// A directory that refuses new files even to root: `/sys` (sysfs) when it does; otherwise a
/// mode-0555 directory when not running as root. `None` (with the reason printed) otherwise.
fn unwritable_dir() -> Option<(PathBuf, Option<PathBuf>)> {
    let sys = Path::new("/sys");
    if sys.is_dir() && std::fs::write(sys.join("freelunch-probe.json"), "x").is_err() {
        return Some((sys.to_path_buf(), None));
    }
    if running_as_root() {
        println!("skipped: running as root (permission bits do not apply) and /sys accepts files");
        return None;
    }
    use std::os::unix::fs::PermissionsExt;
    let d = scratch("readonly");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o555)).unwrap();
    Some((d.clone(), Some(d)))
}

#[test]
fn read_only_directory_is_refused_before_the_long_run() {
    let Some((dir, cleanup)) = unwritable_dir() else {
        return;
    };
    let json = dir.join("report.json");
    let json = json.to_str().unwrap();
    for args in [
        vec!["explain", "copy-linear", "--export", json],
        // Would take minutes if the check came after the run.
        vec!["reproduce", "--json", json],
        vec!["reproduce", "--out", dir.to_str().unwrap()],
        vec!["verify", "--json", json],
    ] {
        let t0 = std::time::Instant::now();
        let (code, _out, err) = run(&args);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(dir.to_str().unwrap()), "{args:?}: {err}");
        assert!(err.contains("cannot write"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            t0.elapsed().as_secs() < 30,
            "{args:?} ran before refusing: {:?}",
            t0.elapsed()
        );
    }
    if let Some(d) = cleanup {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn regular_file_is_replaced_whole() {
    let d = scratch("regular");
    let p = d.join("w.json");
    std::fs::write(&p, "x".repeat(1 << 20)).unwrap();
    let (code, out, err) = export_to(&p);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    assert!(v.is_object());
    assert!(tmp_files_in(d.to_str().unwrap()).is_empty());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn dev_stdout_writes_to_the_pipe() {
    if !Path::new("/dev/stdout").exists() {
        println!("skipped: /dev/stdout does not exist here");
        return;
    }
    let kind = || {
        std::fs::symlink_metadata("/dev/stdout")
            .unwrap()
            .file_type()
    };
    let before = kind();
    let (code, out, err) = export_to(Path::new("/dev/stdout"));
    assert_eq!(code, 0, "{out}{err}");
    let json_end = out.rfind('}').expect("JSON on stdout");
    let v: serde_json::Value = serde_json::from_str(&out[..=json_end]).unwrap();
    assert_eq!(v["format"], "freelunch-model-collection");
    assert_eq!(kind(), before, "/dev/stdout was replaced");
}
