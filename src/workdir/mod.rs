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
//! <workdir>/artifacts/<run-id>/<step>/  files kept by steps that declare `artifacts:`
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

/// The file that marks a directory as an arcaflow-py workdir, and what it holds: the layout
/// version this code reads and writes.
const MARKER_NAME: &str = ".arcaflow-py-workdir";
const MARKER: &str = "arcaflow-py workdir\nlayout 1\n";

/// The directories of the layout, created when the workdir is opened for a run.
const LAYOUT_DIRS: [&str; 5] = ["git", "venvs", "runs", "scratch", "locks"];

enum Adoption {
    /// It carries our marker.
    Ours,
    /// Nothing in it yet.
    Empty,
    /// Only our layout in it: made by an arcaflow-py from before the marker, or being set up by
    /// another process right now.
    Legacy,
}

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

    /// Creates the workdir if needed (mode 0700, whatever the umask), checks that nobody else can
    /// plant code in it, and adopts it only when it is ours (its marker), empty, or a workdir an
    /// earlier arcaflow-py made (nothing but our layout in it).
    pub fn open(root: PathBuf) -> Result<Workdir> {
        let created = match fs::symlink_metadata(&root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = root.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|e| Error::io(format!("cannot create workdir {}", root.display()), e))?;
                }
                create_private_dir(&root)?;
                true
            }
            Err(e) => return Err(Error::io(format!("cannot inspect workdir {}", root.display()), e)),
            Ok(_) => false,
        };
        check_safe(&root)?;
        let wd = Workdir { root };
        match wd.adoption(false)? {
            Adoption::Ours => {}
            // Atomically: a concurrent process sees no marker or the whole one.
            Adoption::Empty | Adoption::Legacy => write_atomic(&wd.marker(), MARKER.as_bytes())?,
        }
        if created {
            tracing::debug!("created workdir {}", wd.root.display());
        }
        for sub in LAYOUT_DIRS {
            create_private_dir(&wd.root.join(sub))?;
        }
        let tag = wd.root.join("CACHEDIR.TAG");
        if fs::symlink_metadata(&tag).is_err() {
            write_atomic(&tag, CACHEDIR_TAG.as_bytes())?;
        }
        Ok(wd)
    }

    /// The workdir when it exists and is ours, for commands that only read (or only remove what
    /// we made): nothing is created, not even the workdir. `None` when it does not exist or is
    /// empty; an error when it is some other directory.
    pub fn open_existing(root: &Path) -> Result<Option<Workdir>> {
        match fs::symlink_metadata(root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("cannot inspect the workdir {}", root.display()), e)),
            Ok(_) => {}
        }
        check_safe(root)?;
        let wd = Workdir { root: root.to_path_buf() };
        match wd.adoption(true)? {
            Adoption::Empty => Ok(None),
            // Links among the layout's directories are the reader's to skip (cache scan warns).
            Adoption::Ours | Adoption::Legacy => Ok(Some(wd)),
        }
    }

    /// `<workdir>/.arcaflow-py-workdir`: what makes a directory ours.
    fn marker(&self) -> PathBuf {
        self.root.join(MARKER_NAME)
    }

    /// Whether this directory may be used as a workdir, and why.
    /// `legacy_needs_tag`: for commands that only read or remove, a directory without our marker
    /// is ours only with the CACHEDIR.TAG an earlier arcaflow-py wrote (a run may also adopt one
    /// that another process is setting up right now: no tag yet).
    fn adoption(&self, legacy_needs_tag: bool) -> Result<Adoption> {
        let refuse = |why: String| {
            Error::Cache(format!(
                "{} is not an arcaflow-py workdir ({why}); refusing to use it: give a new or empty directory (--workdir, {ENV_WORKDIR}, config workdir)",
                self.root.display()
            ))
        };
        match fs::symlink_metadata(self.marker()) {
            Ok(m) if m.is_file() => {
                let text = fs::read_to_string(self.marker()).unwrap_or_default();
                return if text == MARKER {
                    Ok(Adoption::Ours)
                } else {
                    Err(refuse(format!(
                        "its {MARKER_NAME} names another layout than '{}'",
                        MARKER.lines().nth(1).unwrap_or_default()
                    )))
                };
            }
            Ok(_) => return Err(refuse(format!("its {MARKER_NAME} is not a regular file"))),
            Err(_) => {}
        }
        let names: Vec<String> = fs::read_dir(&self.root)
            .map_err(|e| Error::io(format!("cannot read the workdir {}", self.root.display()), e))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if names.is_empty() {
            return Ok(Adoption::Empty);
        }
        // Nothing but our layout: a workdir made before the marker existed, or one another
        // process is setting up right now (it writes the marker first, atomically, but we may
        // have listed the directory in between).
        let only_layout = names.iter().all(|n| {
            // The marker itself: another process wrote it between our look at it and this listing.
            n == MARKER_NAME
                || LAYOUT_DIRS.contains(&n.as_str())
                || ["CACHEDIR.TAG", "tools", "inline", "artifacts", "interpreters.json"].contains(&n.as_str())
                || n.starts_with(".tmp")
        });
        let tag_is_ours = fs::symlink_metadata(self.root.join("CACHEDIR.TAG")).is_ok_and(|m| m.is_file())
            && fs::read_to_string(self.root.join("CACHEDIR.TAG")).is_ok_and(|t| t == CACHEDIR_TAG);
        if only_layout && (tag_is_ours || !legacy_needs_tag) {
            return Ok(Adoption::Legacy);
        }
        Err(refuse(format!("it is not empty and has no {MARKER_NAME} marker")))
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
    /// The artifacts of every run: `<run-id>/<step>/` (a foreach item's steps under
    /// `<run-id>/<foreach step>/<item>/<step>/`), removed with the run's state.
    pub fn artifacts_root(&self) -> PathBuf {
        self.root.join("artifacts")
    }
    pub fn artifacts_dir(&self, run_id: &str) -> PathBuf {
        self.artifacts_root().join(run_id)
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
    /// Whether a child directory of the entry is a build: `b<nanos>-<pid>`, exactly.
    pub fn is_build_name(name: &str) -> bool {
        let Some((nanos, pid)) = name.strip_prefix('b').and_then(|r| r.split_once('-')) else {
            return false;
        };
        let digits = |s: &str| !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_digit());
        digits(nanos) && digits(pid)
    }

    /// The build `current` names, when it names one in our format (an absolute path, `..` or
    /// anything else we never write is ignored, never followed). `current` itself must be a
    /// regular file.
    pub fn read_current(&self) -> Option<BuildDir> {
        let path = self.current();
        let meta = fs::symlink_metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > 128 {
            return None;
        }
        let text = fs::read_to_string(&path).ok()?;
        let id = text.trim();
        Self::is_build_name(id).then(|| self.build(id))
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

/// Creates one directory of ours: mode 0700 whatever the umask, never through a symbolic link.
/// An existing one is accepted when it is a real directory we own that nobody else can write.
pub fn create_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {
            // The umask may have taken bits away, never added any: set the mode we mean.
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(format!("cannot set the mode of {}", path.display()), e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_layout_dir(path),
        Err(e) => Err(Error::io(format!("cannot create {}", path.display()), e)),
    }
}

/// An existing directory of the layout: a real directory (not a link), ours, and writable by us
/// only. One an older arcaflow-py made group-writable (umask 002) is made private again.
fn check_layout_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("cannot inspect {}", path.display()), e)),
    };
    if !meta.is_dir() {
        return Err(Error::Cache(format!(
            "{} is not a real directory (a symbolic link or a file); refusing to use it",
            path.display()
        )));
    }
    let uid = crate::sys::effective_uid();
    if meta.uid() != uid {
        return Err(Error::Cache(format!(
            "{} belongs to uid {}, not to you (uid {uid}); refusing to use it",
            path.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() & 0o755))
            .map_err(|e| Error::io(format!("cannot make {} private", path.display()), e))?;
    }
    Ok(())
}

impl Workdir {
    /// Checks, before `program` (inside the workdir) is executed: every directory from the
    /// workdir down to it is a real directory we own (one an older arcaflow-py left writable by
    /// the group is made private), and `program` itself is ours. What another user made is never
    /// run.
    pub fn check_before_exec(&self, program: &Path) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let rel = program.strip_prefix(&self.root).map_err(|_| {
            Error::Cache(format!("{} is outside the workdir {}", program.display(), self.root.display()))
        })?;
        let mut dir = self.root.clone();
        let parts: Vec<_> = rel.components().collect();
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            dir.push(part);
            check_layout_dir(&dir)?;
        }
        let meta =
            fs::symlink_metadata(program).map_err(|e| Error::io(format!("cannot inspect {}", program.display()), e))?;
        let uid = crate::sys::effective_uid();
        if meta.uid() != uid {
            return Err(Error::Cache(format!(
                "{} belongs to uid {}, not to you (uid {uid}); refusing to run it",
                program.display(),
                meta.uid()
            )));
        }
        Ok(())
    }
}

/// Opens `path` for writing, mode 0600 when created, refusing a symbolic link at `path` (and
/// truncating when asked).
pub fn open_nofollow(path: &Path, truncate: bool) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .write(true)
        .read(true)
        .truncate(truncate)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            let e = if e.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::other("it is a symbolic link, which is never followed")
            } else {
                e
            };
            Error::io(format!("cannot open {}", path.display()), e)
        })
}

/// Records the time of a use (the file is ours: a link planted in its place is refused).
pub fn touch(path: &Path, unix_seconds: u64) {
    if let Ok(mut f) = open_nofollow(path, true) {
        let _ = f.write_all(unix_seconds.to_string().as_bytes());
    }
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

impl LockGuard {
    /// Writes our pid into the lock file, so that whoever finds the lock held can say who holds
    /// it. Best effort: the lock itself is what counts.
    pub fn record_pid(&self) {
        use std::io::{Seek, SeekFrom};
        let mut f = &self._file;
        let _ =
            f.set_len(0).and_then(|()| f.seek(SeekFrom::Start(0))).and_then(|_| write!(f, "{}", std::process::id()));
    }
}

/// The pid a lock holder recorded with [`LockGuard::record_pid`], if any.
pub fn lock_holder_pid(path: &Path) -> Option<u32> {
    // Bounded and never blocking (a FIFO planted there is refused, not opened).
    crate::limits::read_text(path).ok()?.trim().parse().ok()
}

fn open_lock(path: &Path) -> Result<File> {
    open_nofollow(path, false)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Many openers racing on one new directory all adopt it: one may see the marker appear
    /// between its look at the marker and its listing of the directory.
    #[test]
    fn concurrent_openers_of_an_empty_directory_all_adopt_it() {
        for _ in 0..100 {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("wd");
            std::fs::create_dir(&root).unwrap();
            let results: Vec<_> = (0..8)
                .map(|_| {
                    let root = root.clone();
                    std::thread::spawn(move || Workdir::open(root).map(|_| ()))
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect();
            for r in results {
                assert!(r.is_ok(), "{r:?}");
            }
        }
    }

    #[test]
    fn current_names_only_a_build_of_ours() {
        let tmp = tempfile::tempdir().unwrap();
        let entry = EntryDir::at(tmp.path().to_path_buf());
        for (text, ok) in [
            ("b1712345678901234567-4242\n", true),
            ("b1-2", true),
            ("/etc", false),
            ("../../x", false),
            ("b1-2/../../x", false),
            ("b-2", false),
            ("bx-2", false),
            ("", false),
        ] {
            fs::write(entry.current(), text).unwrap();
            assert_eq!(entry.read_current().is_some(), ok, "{text:?}");
        }
        // A link in place of `current` is not read.
        fs::remove_file(entry.current()).unwrap();
        fs::write(tmp.path().join("elsewhere"), "b1-2").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), entry.current()).unwrap();
        assert!(entry.read_current().is_none());
    }

    #[test]
    fn nothing_is_executed_through_a_linked_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let wd = Workdir::open(tmp.path().join("wd")).unwrap();
        let real = tmp.path().join("real/bin");
        fs::create_dir_all(&real).unwrap();
        fs::write(real.join("python"), "").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("real"), wd.venvs_dir().join("x-0123456789abcdef")).unwrap();
        let program = wd.venvs_dir().join("x-0123456789abcdef/bin/python");
        let e = wd.check_before_exec(&program).unwrap_err().to_string();
        assert!(e.contains("not a real directory"), "{e}");
        assert!(wd.check_before_exec(Path::new("/usr/bin/python3")).is_err(), "outside the workdir");
    }
}
