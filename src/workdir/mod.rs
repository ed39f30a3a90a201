//! Owns the workdir: where it is, whether it is safe to execute from, its layout and its file locks.
//!
//! Layout (everything below one directory, so prune can never reach outside it):
//! ```text
//! <workdir>/CACHEDIR.TAG
//! <workdir>/git/<hash>/                 bare mirror of one repository URL (fetched incrementally)
//! <workdir>/venvs/<name>-<key>/current  id of the complete build in use
//! <workdir>/venvs/<name>-<key>/<build>/ venv/, meta.json (written last), schema.cbor, use.lock
//! <workdir>/runs/<run-id>.json          run state
//! <workdir>/scratch/<run-id>/           per-run working directories of plugin processes
//! <workdir>/locks/                      cross-process locks
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const ENV_WORKDIR: &str = "ARCAFLOW_PY_WORKDIR";

const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by arcaflow-py.\n# For information about cache directory tags see https://bford.info/cachedir/\n";

#[derive(Debug, Clone)]
pub struct Workdir {
    root: PathBuf,
}

impl Workdir {
    /// Picks the workdir: flag, then `ARCAFLOW_PY_WORKDIR`, then config, then the per-user cache dir.
    /// A relative flag or variable is relative to `cwd`; a relative config value to `context`.
    pub fn locate(flag: Option<&Path>, config: Option<&Path>, context: &Path, cwd: &Path) -> Result<PathBuf> {
        if let Some(p) = flag {
            return Ok(absolute(p, cwd));
        }
        if let Some(p) = std::env::var_os(ENV_WORKDIR).filter(|v| !v.is_empty()) {
            return Ok(absolute(Path::new(&p), cwd));
        }
        if let Some(p) = config {
            // A relative config workdir is relative to the context directory, like every other path.
            return Ok(absolute(p, context));
        }
        default_dir()
    }

    /// Creates the workdir if needed and checks that nobody else can plant code in it.
    pub fn open(root: PathBuf) -> Result<Workdir> {
        fs::create_dir_all(&root).map_err(|e| Error::io(format!("cannot create workdir {}", root.display()), e))?;
        check_safe(&root)?;
        let wd = Workdir { root };
        for sub in ["git", "venvs", "runs", "scratch", "locks"] {
            let p = wd.root.join(sub);
            if !p.is_dir() {
                fs::create_dir_all(&p).map_err(|e| Error::io(format!("cannot create {}", p.display()), e))?;
            }
        }
        let tag = wd.root.join("CACHEDIR.TAG");
        if !tag.exists() {
            write_atomic(&tag, CACHEDIR_TAG.as_bytes())?;
        }
        Ok(wd)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn git_dir(&self) -> PathBuf {
        self.root.join("git")
    }
    pub fn venvs_dir(&self) -> PathBuf {
        self.root.join("venvs")
    }
    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }
    pub fn scratch_dir(&self) -> PathBuf {
        self.root.join("scratch")
    }
    pub fn lock_path(&self, name: &str) -> PathBuf {
        self.root.join("locks").join(format!("{name}.lock"))
    }
}

fn default_dir() -> Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(x);
        if p.is_absolute() {
            return Ok(p.join("arcaflow-py"));
        }
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache").join("arcaflow-py")),
        None => Err(Error::Cache(
            "neither XDG_CACHE_HOME nor HOME is set; give a workdir with --workdir or ARCAFLOW_PY_WORKDIR".into(),
        )),
    }
}

/// `p` itself when it is absolute, else `p` inside `base`: the one place paths are made absolute.
pub fn absolute(p: &Path, base: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// A workdir that another local user can write to would let them plant a venv that we then run.
fn check_safe(root: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let link =
        fs::symlink_metadata(root).map_err(|e| Error::io(format!("cannot inspect workdir {}", root.display()), e))?;
    if link.file_type().is_symlink() {
        return Err(Error::Cache(format!(
            "the workdir {} is a symbolic link; refusing to use it (give its real path instead)",
            root.display()
        )));
    }
    let uid = unsafe { libc::geteuid() };
    if link.uid() != uid {
        return Err(Error::Cache(format!(
            "the workdir {} belongs to uid {}, not to you (uid {uid}); refusing to run code from it",
            root.display(),
            link.uid()
        )));
    }
    if link.mode() & 0o022 != 0 {
        return Err(Error::Cache(format!(
            "the workdir {} is writable by other users (mode {:o}); run 'chmod go-w {}' or choose another workdir",
            root.display(),
            link.mode() & 0o777,
            root.display()
        )));
    }
    Ok(())
}

/// Writes a file so that readers see either the old or the new content, never a torn one.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(format!("cannot write in {}", dir.display()), e))?;
    tmp.write_all(data).map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(format!("cannot sync {}", path.display()), e))?;
    tmp.persist(path).map_err(|e| Error::io(format!("cannot write {}", path.display()), e.error))?;
    Ok(())
}

/// An exclusive lock across processes; released when dropped or when the process dies.
pub struct LockGuard {
    _file: File,
}

fn open_lock(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(format!("cannot open lock file {}", path.display()), e))
}

pub fn lock_exclusive(path: &Path) -> Result<LockGuard> {
    let file = open_lock(path)?;
    file.lock().map_err(|e| Error::io(format!("cannot lock {}", path.display()), e))?;
    Ok(LockGuard { _file: file })
}

pub fn lock_shared(path: &Path) -> Result<LockGuard> {
    let file = open_lock(path)?;
    file.lock_shared().map_err(|e| Error::io(format!("cannot lock {}", path.display()), e))?;
    Ok(LockGuard { _file: file })
}

/// `Ok(None)` when someone else holds the lock.
pub fn try_lock_exclusive(path: &Path) -> Result<Option<LockGuard>> {
    let file = open_lock(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(LockGuard { _file: file })),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(Error::io(format!("cannot lock {}", path.display()), e)),
    }
}
