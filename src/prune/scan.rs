//! Owns reading the workdir into an inventory (builds, mirrors, scratch dirs, locks, leftovers) without changing it or following a symbolic link.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::remove::is_held;
use super::units::{disk_usage, Usage};
use crate::cache::Workdir;
use crate::deployer::BuildMeta;

/// One `venvs/<name>-<key>/` directory.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    /// The distribution name part of the directory name (`<name>` of `<name>-<key16>`).
    pub name: String,
    /// The build id that `current` names.
    pub current: Option<String>,
    /// Someone holds `build.lock`: a build is being written.
    pub building: bool,
    /// The directory without its builds (`current`, `build.lock`, the directory itself).
    pub own_size: u64,
}

/// One `venvs/<entry>/b<nanos>-<pid>/` build.
#[derive(Debug, Clone)]
pub struct Build {
    pub path: PathBuf,
    /// Index into [`Inventory::entries`].
    pub entry: usize,
    pub id: String,
    /// Present and readable: the build is complete.
    pub meta: Option<BuildMeta>,
    pub current: bool,
    /// Unix seconds: `last-used`, else `meta.created_unix`, else the directory's mtime.
    pub last_used: u64,
    pub size: u64,
    /// A running process holds `use.lock`.
    pub in_use: bool,
}

impl Build {
    pub fn complete(&self) -> bool {
        self.meta.is_some()
    }
}

/// One `git/<hash>/` mirror.
#[derive(Debug, Clone)]
pub struct Mirror {
    pub path: PathBuf,
    /// The redacted URL from its `arcaflow-source` file.
    pub source: Option<String>,
    pub size: u64,
    pub lock: PathBuf,
    pub held: bool,
}

impl Mirror {
    /// The `meta.source` of the builds made from this mirror.
    pub fn build_source(&self) -> Option<String> {
        self.source.as_ref().map(|s| format!("git+{s}"))
    }
}

/// One `scratch/<run-id>` (normally a directory; anything else is removed as it is).
#[derive(Debug, Clone)]
pub struct Scratch {
    pub path: PathBuf,
    pub lock: PathBuf,
    pub lock_exists: bool,
    pub held: bool,
    pub mtime: u64,
    pub size: u64,
}

/// A plain file: a lock in `locks/`, a run state, a temporary file left by an interrupted write.
#[derive(Debug, Clone)]
pub struct File {
    pub path: PathBuf,
    pub name: String,
    pub mtime: u64,
    pub size: u64,
    /// For locks: held now. For run states: the run's lock is held (it is running).
    pub held: bool,
}

/// Something arcaflow-py never creates where it is found: a symbolic link or a file in place of
/// a directory. Removed as it is (a link, never its target).
#[derive(Debug, Clone)]
pub struct Stray {
    pub path: PathBuf,
    pub size: u64,
}

#[derive(Debug, Default)]
pub struct Inventory {
    pub root: PathBuf,
    pub entries: Vec<Entry>,
    pub builds: Vec<Build>,
    pub mirrors: Vec<Mirror>,
    pub scratch: Vec<Scratch>,
    pub locks: Vec<File>,
    pub runs: Vec<File>,
    pub temps: Vec<File>,
    pub strays: Vec<Stray>,
    /// `du -s --block-size=1` of the whole workdir.
    pub total: u64,
    /// Things we did not look into, for the user.
    pub warnings: Vec<String>,
}

pub const TEMP_PREFIX: &str = ".tmp";

/// Reads the workdir. Every lock is probed with a non-blocking try-lock on an existing file only.
pub fn scan(wd: &Workdir) -> Inventory {
    let mut inv = Inventory { root: wd.root().to_path_buf(), ..Default::default() };
    if let Some(children) = managed_dir(&mut inv, &wd.venvs_dir()) {
        for (path, meta) in children {
            if meta.is_dir() {
                scan_entry(&mut inv, &path);
            } else {
                push_stray(&mut inv, path, &meta);
            }
        }
    }
    if let Some(children) = managed_dir(&mut inv, &wd.git_dir()) {
        for (path, meta) in children {
            if !meta.is_dir() {
                push_stray(&mut inv, path, &meta);
                continue;
            }
            let hash = file_name(&path);
            let lock = wd.lock_path(&format!("git-{hash}"));
            inv.mirrors.push(Mirror {
                source: read_small(&path.join("arcaflow-source")).map(|s| s.trim().to_string()),
                size: disk_usage(&path),
                held: is_held(&lock),
                lock,
                path,
            });
        }
    }
    if let Some(children) = managed_dir(&mut inv, &wd.scratch_dir()) {
        for (path, meta) in children {
            let lock = wd.lock_path(&format!("run-{}", file_name(&path)));
            inv.scratch.push(Scratch {
                lock_exists: fs::symlink_metadata(&lock).is_ok(),
                held: is_held(&lock),
                lock,
                mtime: mtime(&meta),
                size: disk_usage(&path),
                path,
            });
        }
    }
    if let Some(children) = managed_dir(&mut inv, &wd.root().join("locks")) {
        for (path, meta) in children {
            if meta.is_file() {
                inv.locks.push(File {
                    name: file_name(&path),
                    mtime: mtime(&meta),
                    size: disk_usage(&path),
                    held: is_held(&path),
                    path,
                });
            } else if meta.file_type().is_symlink() {
                push_stray(&mut inv, path, &meta);
            }
        }
    }
    if let Some(children) = managed_dir(&mut inv, &wd.runs_dir()) {
        for (path, meta) in children {
            let name = file_name(&path);
            if !meta.is_file() {
                if meta.file_type().is_symlink() {
                    push_stray(&mut inv, path, &meta);
                }
                continue;
            }
            let file = File { mtime: mtime(&meta), size: disk_usage(&path), held: false, name, path };
            if file.name.starts_with(TEMP_PREFIX) {
                inv.temps.push(file);
            } else if let Some(id) = file.name.strip_suffix(".json") {
                let held = is_held(&wd.lock_path(&format!("run-{id}")));
                inv.runs.push(File { held, ..file });
            }
        }
    }
    inv.total = disk_usage(wd.root());
    inv
}

fn scan_entry(inv: &mut Inventory, path: &Path) {
    let dir_name = file_name(path);
    let name = match dir_name.rsplit_once('-') {
        Some((n, key)) if key.len() == 16 && key.chars().all(|c| c.is_ascii_hexdigit()) => n.to_string(),
        _ => dir_name.clone(),
    };
    let current = read_small(&path.join("current")).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let index = inv.entries.len();
    let mut own = Usage::default();
    let mut own_size = fs::symlink_metadata(path).map(|m| m.blocks() * 512).unwrap_or(0);
    let children = list_dir(path);
    for (child, meta) in children {
        let child_name = file_name(&child);
        if meta.is_dir() && child_name.starts_with('b') {
            let meta_json = read_small(&child.join("meta.json"))
                .and_then(|t| serde_json::from_str::<BuildMeta>(&t).ok());
            let last_used = read_small(&child.join("last-used"))
                .and_then(|t| t.trim().parse::<u64>().ok())
                .or(meta_json.as_ref().map(|m| m.created_unix))
                .unwrap_or_else(|| mtime(&meta));
            inv.builds.push(Build {
                entry: index,
                current: current.as_deref() == Some(child_name.as_str()),
                id: child_name,
                meta: meta_json,
                last_used,
                size: disk_usage(&child),
                in_use: is_held(&child.join("use.lock")),
                path: child,
            });
        } else if meta.file_type().is_symlink() {
            push_stray(inv, child, &meta);
        } else if meta.is_file() && child_name.starts_with(TEMP_PREFIX) {
            inv.temps.push(File { name: child_name, mtime: mtime(&meta), size: disk_usage(&child), held: false, path: child });
        } else {
            own_size += own.of(&child);
        }
    }
    inv.entries.push(Entry {
        path: path.to_path_buf(),
        name,
        current,
        building: is_held(&path.join("build.lock")),
        own_size,
    });
}

/// The children of one of the workdir's own directories; `None` (with a warning) when it is a
/// symbolic link, which is never followed.
fn managed_dir(inv: &mut Inventory, dir: &Path) -> Option<Vec<(PathBuf, fs::Metadata)>> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Some(list_dir(dir)),
        Ok(m) if m.file_type().is_symlink() => {
            inv.warnings.push(format!("{} is a symbolic link: not following it, nothing in it is touched", dir.display()));
            None
        }
        _ => None,
    }
}

/// Children with their own (not followed) metadata, sorted by name.
fn list_dir(dir: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    let mut out: Vec<(PathBuf, fs::Metadata)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| fs::symlink_metadata(e.path()).ok().map(|m| (e.path(), m)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn push_stray(inv: &mut Inventory, path: PathBuf, meta: &fs::Metadata) {
    inv.strays.push(Stray { size: meta.blocks() * 512, path });
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn mtime(meta: &fs::Metadata) -> u64 {
    u64::try_from(meta.mtime()).unwrap_or(0)
}

/// A small regular file's text; never follows a link.
pub fn read_small(path: &Path) -> Option<String> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return None;
    }
    fs::read_to_string(path).ok()
}
