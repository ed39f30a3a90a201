//! Owns the workdir: where it is, whether it is safe to execute from, its layout and its file locks.
//!
//! Layout (everything below one directory, so prune can never reach outside it):
//! ```text
//! <workdir>/CACHEDIR.TAG
//! <workdir>/git/<hash>/                 bare mirror of one repository URL (fetched incrementally),
//!                                       with `arcaflow-source` naming its (redacted) URL
//! <workdir>/venvs/<name>-<key>/current  id of the complete build in use; build.lock while building
//! <workdir>/venvs/<name>-<key>/<build>/ venv/, meta.json (written last), schema.cbor, use.lock, last-used
//! <workdir>/runs/<run-id>.json          run state
//! <workdir>/scratch/<run-id>/           per-run working directories of plugin processes
//! <workdir>/locks/                      cross-process locks: cache.lock, run-<id>.lock, git-<hash>.lock,
//!                                       tools.lock
//! <workdir>/tools/uv/                   uv, when arcaflow-py installed it for itself
//! ```
//!
//! Every name in that layout is spelled once, here ([`Workdir`], [`EntryDir`], [`BuildDir`]);
//! the cache key that names an entry is computed once, in [`key`]. The deployer writes through
//! these types, the cache commands read and remove through them.

pub mod key;

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
    /// Held shared by runs while they deploy, exclusively by `cache prune` and `cache clean`.
    pub fn cache_lock(&self) -> PathBuf {
        self.lock_path("cache")
    }
    /// Held by a run while it lives: its scratch directory is in use.
    pub fn run_lock(&self, run_id: &str) -> PathBuf {
        self.lock_path(&format!("{RUN_LOCK_PREFIX}{run_id}"))
    }
    /// The inline-step runner and the sources of inline steps, content-addressed (see
    /// `deployer::inline`): `runner-<hash>.py`, `src-<hash>.py`.
    pub fn inline_dir(&self) -> PathBuf {
        self.root.join("inline")
    }
    /// Tools arcaflow-py installs for itself (uv): see `deployer::tools`.
    pub fn tools_dir(&self) -> PathBuf {
        self.root.join("tools")
    }
    /// Held while a tool is installed.
    pub fn tools_lock(&self) -> PathBuf {
        self.lock_path("tools")
    }
    /// The bare mirror of the repository whose URL hashes to `url_hash`.
    pub fn mirror(&self, url_hash: &str) -> PathBuf {
        self.git_dir().join(url_hash)
    }
    /// Held while a mirror is opened, fetched or read.
    pub fn mirror_lock(&self, url_hash: &str) -> PathBuf {
        self.lock_path(&format!("{MIRROR_LOCK_PREFIX}{url_hash}"))
    }
    /// The venv entry of a module whose cache key is `key` (see [`key::entry_key`]).
    pub fn entry(&self, name: &str, key: &str) -> EntryDir {
        EntryDir { path: self.venvs_dir().join(format!("{name}-{}", &key[..16.min(key.len())])) }
    }
}

/// How the names of run locks and mirror locks in `locks/` begin.
pub const RUN_LOCK_PREFIX: &str = "run-";
pub const MIRROR_LOCK_PREFIX: &str = "git-";

/// In a mirror: the file naming the (redacted) URL it mirrors, for `cache list`.
pub const MIRROR_SOURCE: &str = "arcaflow-source";

/// One `venvs/<name>-<key>/` directory: the builds of one module at one resolved source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDir {
    path: PathBuf,
}

impl EntryDir {
    pub fn at(path: PathBuf) -> EntryDir {
        EntryDir { path }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Names the complete build in use (written last, atomically, after the build's meta.json).
    pub fn current(&self) -> PathBuf {
        self.path.join("current")
    }
    /// Held exclusively while a build of this entry is written.
    pub fn build_lock(&self) -> PathBuf {
        self.path.join("build.lock")
    }
    pub fn build(&self, id: &str) -> BuildDir {
        BuildDir { path: self.path.join(id) }
    }
    /// Whether a child directory of the entry is a build (`b<nanos>-<pid>`).
    pub fn is_build_name(name: &str) -> bool {
        name.starts_with('b')
    }
}

/// One `venvs/<entry>/b<nanos>-<pid>/` build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildDir {
    path: PathBuf,
}

impl BuildDir {
    pub fn at(path: PathBuf) -> BuildDir {
        BuildDir { path }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Written last: its presence is what "complete" means.
    pub fn meta(&self) -> PathBuf {
        self.path.join("meta.json")
    }
    /// Held shared by every process that uses the build.
    pub fn use_lock(&self) -> PathBuf {
        self.path.join("use.lock")
    }
    /// Unix seconds of the last run that used the build.
    pub fn last_used(&self) -> PathBuf {
        self.path.join("last-used")
    }
    /// The plugin's schema, read once when the build was made.
    pub fn schema(&self) -> PathBuf {
        self.path.join("schema.cbor")
    }
    pub fn venv(&self) -> PathBuf {
        self.path.join("venv")
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
    let uid = crate::sys::effective_uid();
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
