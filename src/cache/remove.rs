//! Owns deleting: only paths inside the workdir, symbolic links removed as links, never followed.

use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path};

use crate::error::{Error, Result};
use crate::workdir::{self, LockGuard};

/// Removes `path`, which must be inside `root` through real directories only. A symbolic link
/// (or a file) is unlinked; a directory is removed recursively without following the links in it
/// (`std::fs::remove_dir_all` never follows them), so nothing outside the workdir is touched.
/// A path that is already gone is not an error.
pub(super) fn remove(root: &Path, path: &Path) -> Result<()> {
    check_inside(root, path)?;
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("cannot inspect {}", path.display()), e)),
    };
    let result = if meta.is_dir() {
        fs::remove_dir_all(path).or_else(|first| {
            if first.kind() == ErrorKind::NotFound {
                return Ok(());
            }
            // Read-only directories (some packages ship them) cannot be emptied: open them up.
            make_writable(path);
            fs::remove_dir_all(path)
        })
    } else {
        fs::remove_file(path)
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("cannot remove {}", path.display()), e)),
    }
}

/// `root` joined with plain names only, and every directory on the way is a real directory.
fn check_inside(root: &Path, path: &Path) -> Result<()> {
    let refuse = |why: &str| Error::Cache(format!("refusing to remove {}: {why}", path.display()));
    let rel = path.strip_prefix(root).map_err(|_| refuse("it is outside the workdir"))?;
    let parts: Vec<Component> = rel.components().collect();
    if parts.is_empty() || parts.iter().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(refuse("it is not a path below the workdir"));
    }
    let mut dir = root.to_path_buf();
    for part in &parts[..parts.len() - 1] {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(refuse(&format!("{} is not a real directory", dir.display()))),
            Err(e) => return Err(Error::io(format!("cannot inspect {}", dir.display()), e)),
        }
    }
    Ok(())
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in walkdir::WalkDir::new(path).follow_links(false).follow_root_links(false).into_iter().flatten() {
        // Only real directories: chmod on a symbolic link would change its target.
        if entry.file_type().is_dir() {
            if let Ok(m) = entry.metadata() {
                let mut perms = m.permissions();
                perms.set_mode(perms.mode() | 0o700);
                let _ = fs::set_permissions(entry.path(), perms);
            }
        }
    }
}

/// The state of a lock file, found without creating it (looking must change nothing).
pub(super) enum LockState {
    /// Nobody holds it; the guard (when the file exists) keeps it ours until dropped.
    Free(Option<LockGuard>),
    /// A running process holds it.
    Held,
}

/// Tries to take the lock at `path` exclusively. A missing lock file, or something that is not a
/// regular file (a planted link is never opened), is free.
pub(super) fn try_hold(path: &Path) -> LockState {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => match workdir::try_lock_exclusive(path) {
            Ok(Some(guard)) => LockState::Free(Some(guard)),
            // An unreadable lock file might be held: be safe.
            Ok(None) | Err(_) => LockState::Held,
        },
        _ => LockState::Free(None),
    }
}

pub(super) fn is_held(path: &Path) -> bool {
    matches!(try_hold(path), LockState::Held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_outside_or_through_links() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("wd");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(root.join("venvs")).unwrap();
        fs::create_dir_all(outside.join("keep")).unwrap();
        fs::write(outside.join("keep/file"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("venvs/link")).unwrap();
        assert!(remove(&root, &outside).is_err());
        assert!(remove(&root, &root).is_err());
        assert!(remove(&root, &root.join("venvs/../../outside")).is_err());
        assert!(remove(&root, &root.join("venvs/link/keep")).is_err());
        // The link itself goes, its target stays.
        remove(&root, &root.join("venvs/link")).unwrap();
        assert!(!root.join("venvs/link").exists());
        assert!(outside.join("keep/file").exists());
        // Gone already: fine.
        remove(&root, &root.join("venvs/nothing")).unwrap();
    }
}
