//! Owns reading the workdir into an inventory of removable units, changing nothing and following no link.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::remove::is_held;
use crate::deployer::BuildMeta;
use crate::workdir::{EntryDir, Workdir, MIRROR_SOURCE};

/// One `venvs/<name>-<key>/` directory.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub path: PathBuf,
    /// The distribution name part of the directory name (`<name>` of `<name>-<key16>`).
    pub name: String,
    /// Someone holds `build.lock`: a build is being written.
    pub building: bool,
    /// The directory without its builds (`current`, `build.lock`, the directory itself).
    pub own_size: u64,
    pub unit: usize,
}

/// One `venvs/<entry>/b<nanos>-<pid>/` build.
#[derive(Debug, Clone)]
pub(super) struct Build {
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
    pub unit: usize,
}

impl Build {
    pub(super) fn complete(&self) -> bool {
        self.meta.is_some()
    }
}

/// One `git/<hash>/` mirror.
#[derive(Debug, Clone)]
pub(super) struct Mirror {
    pub path: PathBuf,
    /// The redacted URL from its `arcaflow-source` file.
    pub source: Option<String>,
    pub size: u64,
    pub lock: PathBuf,
    pub held: bool,
    pub unit: usize,
}

impl Mirror {
    /// The `meta.source` of the builds made from this mirror.
    pub(super) fn build_source(&self) -> Option<String> {
        self.source.as_ref().map(|s| format!("git+{s}"))
    }
}

/// One `scratch/<run-id>` (normally a directory; anything else is removed as it is).
#[derive(Debug, Clone)]
pub(super) struct Scratch {
    pub path: PathBuf,
    pub lock: PathBuf,
    pub lock_exists: bool,
    pub held: bool,
    pub mtime: u64,
    pub size: u64,
    pub unit: usize,
}

/// A plain file: a lock in `locks/`, a run state, a temporary file left by an interrupted write.
#[derive(Debug, Clone)]
pub(super) struct File {
    pub path: PathBuf,
    pub name: String,
    pub mtime: u64,
    pub size: u64,
    /// For locks: held now. For run states: the run's lock is held (it is running).
    pub held: bool,
    pub unit: usize,
}

/// Something arcaflow-py never creates where it is found: a symbolic link or a file in place of
/// a directory. Removed as it is (a link, never its target).
#[derive(Debug, Clone)]
pub(super) struct Stray {
    pub path: PathBuf,
    pub size: u64,
    pub unit: usize,
}

#[derive(Debug, Default)]
pub(super) struct Inventory {
    pub entries: Vec<Entry>,
    pub builds: Vec<Build>,
    pub mirrors: Vec<Mirror>,
    pub scratch: Vec<Scratch>,
    /// `artifacts/<run-id>/`: what a run's steps kept (the lock is the run's).
    pub artifacts: Vec<Scratch>,
    pub locks: Vec<File>,
    pub runs: Vec<File>,
    pub temps: Vec<File>,
    pub strays: Vec<Stray>,
    /// What `tools/` holds: tools arcaflow-py installed for itself (uv).
    pub tools: Vec<Stray>,
    /// `du -s --block-size=1` of the whole workdir.
    pub total: u64,
    /// Every removable thing above is a unit; what each holds on disk.
    pub ledger: Ledger,
    unit_roots: Vec<PathBuf>,
    /// Things we did not look into, for the user.
    pub warnings: Vec<String>,
}

pub(super) const TEMP_PREFIX: &str = ".tmp";

/// Disk usage by unit, exact about hard links: a file linked from several units is freed (from
/// the workdir's point of view, which is what `du` sees) only when all of them go.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// Per unit: blocks of its directories and of files linked once.
    exclusive: Vec<u64>,
    /// Per unit: `du -s` of the unit's path alone.
    sizes: Vec<u64>,
    /// Files with several links: their bytes, the units they appear in, and whether they also
    /// appear outside every unit (then they never leave the workdir).
    shared: Vec<(u64, Vec<usize>, bool)>,
}

impl Ledger {
    /// What `du -s --block-size=1` of the workdir would say once the units in `gone` are removed.
    pub(super) fn total_without(&self, total: u64, gone: &[bool]) -> u64 {
        let is_gone = |u: usize| gone.get(u).copied().unwrap_or(false);
        let exclusive: u64 = self.exclusive.iter().enumerate().filter(|(u, _)| is_gone(*u)).map(|(_, b)| b).sum();
        let shared: u64 = self
            .shared
            .iter()
            .filter(|(_, units, outside)| !outside && !units.is_empty() && units.iter().all(|u| is_gone(*u)))
            .map(|(b, _, _)| b)
            .sum();
        total.saturating_sub(exclusive).saturating_sub(shared)
    }

    pub(super) fn units(&self) -> usize {
        self.exclusive.len()
    }
}

impl Inventory {
    fn unit(&mut self, path: &Path) -> usize {
        self.unit_roots.push(path.to_path_buf());
        self.unit_roots.len() - 1
    }
}

/// Reads the workdir. Every lock is probed with a non-blocking try-lock on an existing file only.
pub(super) fn scan(wd: &Workdir) -> Inventory {
    let mut inv = Inventory::default();
    if let Some(children) = managed_dir(&mut inv, &wd.venvs_dir()) {
        for (path, meta) in children {
            if !shape::entry(&file_name(&path)) {
                not_ours(&mut inv, &path);
            } else if meta.is_dir() {
                scan_entry(&mut inv, &path);
            } else {
                push_stray(&mut inv, path);
            }
        }
    }
    if let Some(children) = managed_dir(&mut inv, &wd.git_dir()) {
        for (path, meta) in children {
            if !shape::mirror(&file_name(&path)) {
                not_ours(&mut inv, &path);
                continue;
            }
            if !meta.is_dir() {
                push_stray(&mut inv, path);
                continue;
            }
            let hash = file_name(&path);
            let lock = wd.mirror_lock(&hash);
            let unit = inv.unit(&path);
            inv.mirrors.push(Mirror {
                source: read_small(&path.join(MIRROR_SOURCE)).map(|s| s.trim().to_string()),
                size: 0,
                held: is_held(&lock),
                lock,
                path,
                unit,
            });
        }
    }
    inv.scratch = run_dirs(&mut inv, wd, &wd.scratch_dir(), shape::scratch);
    inv.artifacts = run_dirs(&mut inv, wd, &wd.artifacts_root(), shape::run_id);
    if let Some(children) = managed_dir(&mut inv, &wd.tools_dir()) {
        for (path, meta) in children {
            if !(file_name(&path) == "uv" || file_name(&path).starts_with(TEMP_PREFIX)) {
                not_ours(&mut inv, &path);
                continue;
            }
            let unit = inv.unit(&path);
            if file_name(&path).starts_with(TEMP_PREFIX) {
                let name = file_name(&path);
                inv.temps.push(File { mtime: mtime(&meta), size: 0, held: false, name, path, unit });
            } else if meta.is_dir() {
                inv.tools.push(Stray { path, size: 0, unit });
            } else {
                inv.strays.push(Stray { path, size: 0, unit });
            }
        }
    }
    if let Some(children) = managed_dir(&mut inv, &wd.root().join("locks")) {
        for (path, meta) in children {
            if !shape::lock(&file_name(&path)) {
                not_ours(&mut inv, &path);
                continue;
            }
            if meta.is_file() {
                let unit = inv.unit(&path);
                inv.locks.push(File {
                    name: file_name(&path),
                    mtime: mtime(&meta),
                    size: 0,
                    held: is_held(&path),
                    path,
                    unit,
                });
            } else if meta.file_type().is_symlink() {
                push_stray(&mut inv, path);
            }
        }
    }
    if let Some(children) = managed_dir(&mut inv, &wd.runs_dir()) {
        for (path, meta) in children {
            let name = file_name(&path);
            if !meta.is_file() {
                if meta.file_type().is_symlink() && name.strip_suffix(".json").is_some_and(shape::run_id) {
                    push_stray(&mut inv, path);
                }
                continue;
            }
            if name.starts_with(TEMP_PREFIX) {
                let unit = inv.unit(&path);
                inv.temps.push(File { mtime: mtime(&meta), size: 0, held: false, name, path, unit });
            } else if let Some(id) = name.strip_suffix(".json").filter(|id| shape::run_id(id)) {
                let held = is_held(&wd.run_lock(id));
                let unit = inv.unit(&path);
                inv.runs.push(File { mtime: mtime(&meta), size: 0, held, name, path, unit });
            }
        }
    }
    measure(&mut inv, wd.root());
    inv
}

/// One walk of the whole workdir, as `du` makes it, charging every directory entry to the unit
/// whose path is its nearest ancestor.
fn measure(inv: &mut Inventory, root: &Path) {
    let units: HashMap<PathBuf, usize> = inv.unit_roots.iter().cloned().enumerate().map(|(u, p)| (p, u)).collect();
    let n = units.len();
    let mut ledger = Ledger { exclusive: vec![0; n], sizes: vec![0; n], shared: Vec::new() };
    let mut shared_index: HashMap<(u64, u64), usize> = HashMap::new();
    let mut seen_in_unit: HashSet<(usize, usize)> = HashSet::new();
    let mut total = 0u64;
    for entry in walkdir::WalkDir::new(root).follow_links(false).follow_root_links(false).into_iter().flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        let blocks = meta.blocks().saturating_mul(512);
        let unit = entry.path().ancestors().take_while(|a| a.starts_with(root)).find_map(|a| units.get(a).copied());
        if meta.is_dir() || meta.nlink() <= 1 {
            total = total.saturating_add(blocks);
            if let Some(u) = unit {
                ledger.exclusive[u] += blocks;
                ledger.sizes[u] += blocks;
            }
            continue;
        }
        let key = (meta.dev(), meta.ino());
        let index = *shared_index.entry(key).or_insert_with(|| {
            total = total.saturating_add(blocks);
            ledger.shared.push((blocks, Vec::new(), false));
            ledger.shared.len() - 1
        });
        match unit {
            Some(u) => {
                if seen_in_unit.insert((u, index)) {
                    ledger.shared[index].1.push(u);
                    ledger.sizes[u] += blocks;
                }
            }
            None => ledger.shared[index].2 = true,
        }
    }
    let size = |u: usize| ledger.sizes.get(u).copied().unwrap_or(0);
    for b in &mut inv.builds {
        b.size = size(b.unit);
    }
    for e in &mut inv.entries {
        e.own_size = size(e.unit);
    }
    for m in &mut inv.mirrors {
        m.size = size(m.unit);
    }
    for s in inv.scratch.iter_mut().chain(inv.artifacts.iter_mut()) {
        s.size = size(s.unit);
    }
    for f in inv.locks.iter_mut().chain(inv.runs.iter_mut()).chain(inv.temps.iter_mut()) {
        f.size = size(f.unit);
    }
    for s in inv.strays.iter_mut().chain(inv.tools.iter_mut()) {
        s.size = size(s.unit);
    }
    inv.total = total;
    inv.ledger = ledger;
}

fn scan_entry(inv: &mut Inventory, path: &Path) {
    let dir_name = file_name(path);
    let name = match dir_name.rsplit_once('-') {
        Some((n, key)) if key.len() == 16 && key.chars().all(|c| c.is_ascii_hexdigit()) => n.to_string(),
        _ => dir_name.clone(),
    };
    let entry = EntryDir::at(path.to_path_buf());
    let current = read_small(&entry.current()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let index = inv.entries.len();
    let unit = inv.unit(path);
    inv.entries.push(Entry {
        path: path.to_path_buf(),
        name,
        building: is_held(&entry.build_lock()),
        own_size: 0,
        unit,
    });
    for (child, meta) in list_dir(path) {
        let child_name = file_name(&child);
        if meta.is_dir() && EntryDir::is_build_name(&child_name) {
            let build = entry.build(&child_name);
            let meta_json = read_small(&build.meta()).and_then(|t| serde_json::from_str::<BuildMeta>(&t).ok());
            // A time after tomorrow is a damaged file, not a time: ignored like an unreadable one.
            let plausible = |t: &u64| *t <= now_unix().saturating_add(86_400);
            let last_used = read_small(&build.last_used())
                .and_then(|t| t.trim().parse::<u64>().ok())
                .filter(plausible)
                .or(meta_json.as_ref().map(|m| m.created_unix).filter(plausible))
                .unwrap_or_else(|| mtime(&meta).min(now_unix()));
            let unit = inv.unit(&child);
            inv.builds.push(Build {
                entry: index,
                current: current.as_deref() == Some(child_name.as_str()),
                id: child_name,
                meta: meta_json,
                last_used,
                size: 0,
                in_use: is_held(&build.use_lock()),
                path: child,
                unit,
            });
        } else if meta.file_type().is_symlink() {
            push_stray(inv, child);
        } else if meta.is_file() && child_name.starts_with(TEMP_PREFIX) {
            let unit = inv.unit(&child);
            inv.temps.push(File { name: child_name, mtime: mtime(&meta), size: 0, held: false, path: child, unit });
        }
    }
}

/// The children of one of the workdir's own directories; `None` (with a warning) when it is a
/// symbolic link, which is never followed.
fn managed_dir(inv: &mut Inventory, dir: &Path) -> Option<Vec<(PathBuf, fs::Metadata)>> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Some(list_dir(dir)),
        Ok(m) if m.file_type().is_symlink() => {
            inv.warnings
                .push(format!("{} is a symbolic link: not following it, nothing in it is touched", dir.display()));
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

/// Something in the workdir whose name we never write: never a unit, so never removed.
fn not_ours(inv: &mut Inventory, path: &Path) {
    inv.warnings.push(format!("{} was not made by arcaflow-py: left alone", path.display()));
}

/// The names arcaflow-py gives what it writes (`workdir/` spells them); prune removes nothing else.
pub(super) mod shape {
    use crate::workdir::{MIRROR_LOCK_PREFIX, RUN_LOCK_PREFIX};

    fn hex(s: &str, len: usize) -> bool {
        s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// `<name>-<16 hex>`.
    pub(in crate::cache) fn entry(name: &str) -> bool {
        name.rsplit_once('-').is_some_and(|(n, key)| !n.is_empty() && hex(key, 16))
    }

    /// `<24 hex>`.
    pub(in crate::cache) fn mirror(name: &str) -> bool {
        hex(name, 24)
    }

    /// `20240131T120000-1a2b3c4d` (session.rs), or `probe-<build id>` (the deployer's schema read).
    pub(in crate::cache) fn run_id(id: &str) -> bool {
        let b = id.as_bytes();
        b.len() == 24
            && b[..8].iter().all(u8::is_ascii_digit)
            && b[8] == b'T'
            && b[9..15].iter().all(u8::is_ascii_digit)
            && b[15] == b'-'
            && hex(&id[16..], 8)
    }

    pub(in crate::cache) fn scratch(name: &str) -> bool {
        run_id(name) || name.strip_prefix("probe-").is_some_and(crate::workdir::EntryDir::is_build_name)
    }

    /// `cache.lock`, `tools.lock`, `run-<run id>.lock`, `git-<24 hex>.lock`.
    pub(in crate::cache) fn lock(name: &str) -> bool {
        let Some(stem) = name.strip_suffix(".lock") else { return false };
        stem == "cache"
            || stem == "tools"
            || stem.strip_prefix(RUN_LOCK_PREFIX).is_some_and(run_id)
            || stem.strip_prefix(MIRROR_LOCK_PREFIX).is_some_and(mirror)
    }
}

/// The per-run directories under `dir` (scratch dirs, artifacts), each with its run's lock; names
/// that `named` does not accept are not ours, files there are strays.
fn run_dirs(inv: &mut Inventory, wd: &Workdir, dir: &Path, named: fn(&str) -> bool) -> Vec<Scratch> {
    let mut found = Vec::new();
    for (path, meta) in managed_dir(inv, dir).unwrap_or_default() {
        if !named(&file_name(&path)) {
            not_ours(inv, &path);
            continue;
        }
        if !meta.is_dir() {
            push_stray(inv, path);
            continue;
        }
        let lock = wd.run_lock(&file_name(&path));
        let unit = inv.unit(&path);
        found.push(Scratch {
            lock_exists: fs::symlink_metadata(&lock).is_ok(),
            held: is_held(&lock),
            lock,
            mtime: mtime(&meta),
            size: 0,
            path,
            unit,
        });
    }
    found
}

fn push_stray(inv: &mut Inventory, path: PathBuf) {
    let unit = inv.unit(&path);
    inv.strays.push(Stray { size: 0, path, unit });
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn mtime(meta: &fs::Metadata) -> u64 {
    u64::try_from(meta.mtime()).unwrap_or(0)
}

/// A small regular file's text; never follows a link.
pub(super) fn read_small(path: &Path) -> Option<String> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return None;
    }
    fs::read_to_string(path).ok()
}

fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
