//! Writing output files honestly.
//!
//! A regular file (new or existing) is replaced atomically: the bytes go to a temporary file
//! beside it, then a rename. Anything else is never replaced: a character device (`/dev/null`,
//! `/dev/full`), a FIFO or a socket is written through, as a shell redirection would; a symlink is
//! followed and its target written (atomically when the target is a regular file), so the link
//! stays a link. Every error names the user's path, and no temporary file is left behind.

use crate::error::{Error, Result};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a path currently is, as far as writing goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Nothing there yet (the directory exists).
    New,
    /// A regular file: replaced atomically.
    Regular,
    /// A device, FIFO or socket: written through, never replaced.
    Special,
}

/// The directory a path lives in (`.` for a bare file name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Follow `path` through any symlinks to the file that a write would reach (which need not exist).
fn resolve(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&p)
                    .map_err(|e| Error::io(format!("cannot write {}: {e}", path.display())))?;
                p = if link.is_absolute() {
                    link
                } else {
                    dir_of(&p).join(link)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::io(format!(
        "cannot write {}: too many levels of symbolic links",
        path.display()
    )))
}

/// What `path` is and the file a write must reach: the canonical path of an existing regular
/// file (so a symlink stays a link), the path itself for a special file (`/dev/stdout` is opened
/// as it is, whatever it points to), or the followed target of a new file or dangling link.
fn classify(path: &Path) -> Result<(Target, PathBuf)> {
    let io = |e: std::io::Error| Error::io(format!("cannot write {}: {e}", path.display()));
    if path.as_os_str().to_string_lossy().ends_with('/') {
        return Err(Error::io(format!(
            "cannot write {}: a path ending in `/` names a directory, not a file",
            path.display()
        )));
    }
    match fs::metadata(path) {
        Ok(m) if m.is_file() => Ok((Target::Regular, fs::canonicalize(path).map_err(io)?)),
        Ok(m) if m.is_dir() => Err(Error::io(format!(
            "cannot write {}: it is a directory",
            path.display()
        ))),
        Ok(_) => Ok((Target::Special, path.to_path_buf())),
        Err(_) => {
            let real = resolve(path)?;
            let dir = dir_of(&real);
            if dir.is_dir() {
                Ok((Target::New, real))
            } else {
                Err(Error::io(format!(
                    "cannot write {}: directory {} does not exist",
                    path.display(),
                    dir.display()
                )))
            }
        }
    }
}

/// Write `bytes` to `path` (see the module docs for what happens to special files and symlinks).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |f| f.write_all(bytes))
}

/// `write_file` with the contents produced by `fill` (used by tests to simulate a failing write).
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let (kind, real) = classify(path)?;
    let fail = |e: std::io::Error| Error::io(format!("cannot write {}: {e}", path.display()));
    match kind {
        Target::Special => {
            let mut f = OpenOptions::new().write(true).open(&real).map_err(fail)?;
            fill(&mut f).map_err(fail)?;
            f.flush().map_err(fail)
        }
        Target::New | Target::Regular => {
            let name = real.file_name().ok_or_else(|| {
                Error::io(format!("cannot write {}: not a file path", path.display()))
            })?;
            let tmp = dir_of(&real).join(format!(
                ".{}.tmp{}",
                name.to_string_lossy(),
                std::process::id()
            ));
            let result = (|| {
                let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
                fill(&mut f)?;
                f.sync_all()?;
                if kind == Target::Regular {
                    // Keep the permissions of the file being replaced.
                    if let Ok(m) = fs::metadata(&real) {
                        fs::set_permissions(&tmp, m.permissions())?;
                    }
                }
                fs::rename(&tmp, &real)
            })();
            if let Err(e) = result {
                let _ = fs::remove_file(&tmp);
                return Err(fail(e));
            }
            Ok(())
        }
    }
}

/// Check, before a long run, that `path` could be written: its directory exists and accepts a
/// new file (or the existing file/device opens for writing). Writes nothing that stays behind.
/// `what` names the output in the message (e.g. "the JSON report").
pub fn check_writable(what: &str, path: &Path) -> Result<()> {
    let (kind, real) = classify(path)?;
    let fail = |e: String| Error::io(format!("cannot write {what} to {}: {e}", path.display()));
    match kind {
        // Opening a FIFO for writing would block until a reader comes: accept it as it is.
        Target::Special => Ok(()),
        Target::Regular => OpenOptions::new()
            .append(true)
            .open(&real)
            .map(|_| ())
            .map_err(|e| fail(e.to_string())),
        Target::New => check_dir_writable(&dir_of(&real)).map_err(fail),
    }
}

/// Check that files can be created in `dir` (by creating and removing a probe file).
pub fn check_dir_writable(dir: &Path) -> std::result::Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if !dir.is_dir() {
        return Err(format!("directory {} does not exist", dir.display()));
    }
    let probe = dir.join(format!(".freelunch-probe{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("freelunch-io-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn leftovers(d: &Path) -> Vec<String> {
        fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect()
    }

    #[test]
    fn failing_write_leaves_no_temporary_and_keeps_the_old_file() {
        let d = scratch("fail");
        let p = d.join("out.json");
        fs::write(&p, "old").unwrap();
        let err = write_with(&p, |f| {
            f.write_all(b"partial")?;
            Err(std::io::Error::other("disk full (simulated)"))
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains(&p.display().to_string()), "{err}");
        assert!(leftovers(&d).is_empty(), "{:?}", leftovers(&d));
        assert_eq!(fs::read_to_string(&p).unwrap(), "old");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn symlink_is_followed_and_kept() {
        let d = scratch("link");
        let target = d.join("real.json");
        fs::write(&target, "old").unwrap();
        let link = d.join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write_file(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        // A dangling link creates its target.
        let dangling = d.join("dangling.json");
        std::os::unix::fs::symlink("made.json", &dangling).unwrap();
        write_file(&dangling, b"x").unwrap();
        assert_eq!(fs::read_to_string(d.join("made.json")).unwrap(), "x");
        assert!(leftovers(&d).is_empty());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_directory_and_directory_targets_are_refused() {
        let d = scratch("dir");
        let e = write_file(&d.join("no/such/file"), b"x").unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = write_file(&d, b"x").unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        assert!(check_writable("the report", &d.join("no/x.json")).is_err());
        assert!(check_writable("the report", &d.join("x.json")).is_ok());
        assert!(leftovers(&d).is_empty() && !d.join("x.json").exists());
        fs::remove_dir_all(&d).unwrap();
    }
}
