//! Owns cache maintenance (`cache list|size|prune|clean`): what the workdir holds, and removing what is stale safely.
//!
//! Safety rules, whatever the options:
//! - nothing outside the workdir is removed, and no symbolic link is followed (a link inside the
//!   workdir is removed as a link; its target is untouched);
//! - `prune` and `clean` hold `locks/cache.lock` exclusively, so no run is deploying meanwhile;
//! - a build whose `use.lock` a running process holds is skipped (`--wait` waits for it,
//!   `--force` removes it anyway), and a scratch dir whose run lock is held is never removed;
//! - sizes are allocated blocks, as `du -s --block-size=1` counts them (hard links once).

mod keep;
mod plan;
mod remove;
mod scan;
pub mod units;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use plan::InUse;
use plan::{Guard, Item, Kind, Plan, Rules};
use remove::{remove, try_hold, LockState};
use scan::{Build, Inventory};
use units::human;

use crate::config::Config;
use crate::deployer::spec::{redact_url, ModuleSpec, Source};
use crate::deployer::{git, now_unix};
use crate::error::{exit, Error, Result};
use crate::ui::Printer;
use crate::workdir::{self, EntryDir, LockGuard, Workdir};

/// How removals are carried out, for `prune` and `clean`.
#[derive(Debug, Clone, Default)]
pub struct Removal {
    /// Print what would go and how much it frees; change nothing (and take no lock).
    pub dry_run: bool,
    pub in_use: InUse,
}

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    pub older_than: Option<Duration>,
    pub max_size: Option<u64>,
    /// Workflow files (absolute paths) whose plugins must stay.
    pub keep: Vec<PathBuf>,
    pub ci: bool,
    /// Keep the state files and artifacts of this many newest runs; remove the older ones.
    pub keep_runs: Option<usize>,
    pub removal: Removal,
}

#[derive(Debug, Clone, Default)]
pub struct CleanOptions {
    /// Module names (`arcaflow-plugin-x`) or full specs; empty: everything.
    pub specs: Vec<String>,
    /// The directory a local-path spec is relative to.
    pub cwd: PathBuf,
    pub removal: Removal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeFormat {
    Human,
    Bytes,
    Json,
}

/// A removed or planned item: the many small ones (locks, run states, temporary files, the
/// directory around removed builds) are listed one by one only with -v.
fn say_item(out: &Printer, kind: Kind, line: &str) {
    if matches!(kind, Kind::Lock | Kind::RunState | Kind::Temp | Kind::Entry) {
        out.detail(line);
    } else {
        out.say(line);
    }
}

/// The workdir if it exists and is ours (see [`Workdir::open_existing`]): a missing one is never
/// created, some other directory is never looked into.
fn open_existing(root: &Path) -> Result<Option<Workdir>> {
    Workdir::open_existing(root)
}

/// `locks/cache.lock`, exclusively: runs hold it shared while they deploy, so none is mid-deploy
/// while we hold it.
fn lock_cache(wd: &Workdir, announce: Option<&Printer>) -> Result<LockGuard> {
    let path = wd.cache_lock();
    if let Some(guard) = workdir::try_lock_exclusive(&path)? {
        return Ok(guard);
    }
    if let Some(out) = announce {
        out.say("waiting for running workflows to finish deploying their plugins...");
    }
    workdir::lock_exclusive(&path)
}

// ---------------------------------------------------------------------------------------------
// list and size

#[derive(Debug, Serialize)]
struct Row {
    name: String,
    module: Option<String>,
    source: Option<String>,
    commit: Option<String>,
    subdirectory: Option<String>,
    python: Option<String>,
    python_version: Option<String>,
    installer: Option<String>,
    /// current | superseded | interrupted | building
    state: &'static str,
    complete: bool,
    in_use: bool,
    size_bytes: u64,
    last_used_unix: u64,
    last_used: String,
    created_unix: Option<u64>,
    entry: String,
    build: String,
    path: PathBuf,
}

fn show_source(source: &str) -> String {
    match source.strip_prefix("git+") {
        Some(url) => format!("git+{}", redact_url(url)),
        None => redact_url(source),
    }
}

fn row(inv: &Inventory, b: &Build) -> Row {
    let entry = &inv.entries[b.entry];
    let state = match (&b.meta, b.current) {
        (Some(_), true) => "current",
        (Some(_), false) => "superseded",
        (None, _) if entry.building => "building",
        (None, _) => "interrupted",
    };
    let meta = b.meta.as_ref();
    Row {
        name: meta.map(|m| m.name.clone()).unwrap_or_else(|| entry.name.clone()),
        module: meta.map(|m| m.module.clone()),
        source: meta.map(|m| show_source(&m.source)),
        commit: meta.and_then(|m| m.commit.clone()),
        subdirectory: meta.and_then(|m| m.subdirectory.clone()),
        python: meta.map(|m| m.python.clone()),
        python_version: meta.map(|m| m.python_version.clone()),
        installer: meta.map(|m| m.installer.clone()),
        state,
        complete: b.complete(),
        in_use: b.in_use,
        size_bytes: b.size,
        last_used_unix: b.last_used,
        // The scan keeps only plausible times; a checked addition keeps any other from panicking.
        last_used: std::time::UNIX_EPOCH
            .checked_add(Duration::from_secs(b.last_used))
            .map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .unwrap_or_default(),
        created_unix: meta.map(|m| m.created_unix),
        entry: entry.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        build: b.id.clone(),
        path: b.path.clone(),
    }
}

/// `cache list`: one row per venv build.
pub fn list(root: &Path, json: bool, out: &Printer) -> Result<i32> {
    let rows: Vec<Row> = match open_existing(root)? {
        None => Vec::new(),
        Some(wd) => {
            let inv = scan::scan(&wd);
            for w in &inv.warnings {
                out.warn(w);
            }
            let mut rows: Vec<Row> = inv.builds.iter().map(|b| row(&inv, b)).collect();
            rows.sort_by(|a, b| {
                (a.name.to_lowercase(), a.state != "current", std::cmp::Reverse(a.last_used_unix)).cmp(&(
                    b.name.to_lowercase(),
                    b.state != "current",
                    std::cmp::Reverse(b.last_used_unix),
                ))
            });
            rows
        }
    };
    if json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| Error::Cache(e.to_string()))?;
        out.out(&format!("{text}\n"));
        return Ok(exit::SUCCESS);
    }
    if rows.is_empty() {
        out.notice(&format!("no venv build in {}", root.display()));
        return Ok(exit::SUCCESS);
    }
    let now = now_unix();
    let mut text = format!(
        "{:<32} {:<12} {:<8} {:>10} {:<10} {:<11} {:<6} {}\n",
        "NAME", "COMMIT", "PYTHON", "SIZE", "LAST USED", "STATE", "IN USE", "SOURCE"
    );
    for r in &rows {
        let commit = r.commit.as_deref().map(|c| c.chars().take(12).collect::<String>()).unwrap_or_else(|| "-".into());
        text.push_str(&format!(
            "{:<32} {:<12} {:<8} {:>10} {:<10} {:<11} {:<6} {}{}\n",
            r.name,
            commit,
            r.python_version.as_deref().unwrap_or("-"),
            human(r.size_bytes),
            units::ago(r.last_used_unix, now),
            r.state,
            if r.in_use { "yes" } else { "no" },
            r.source.as_deref().unwrap_or("-"),
            r.subdirectory.as_deref().map(|d| format!("#subdirectory={d}")).unwrap_or_default(),
        ));
    }
    out.out(&text);
    Ok(exit::SUCCESS)
}

#[derive(Debug, Serialize, Default)]
struct Sizes {
    path: PathBuf,
    total_bytes: u64,
    venvs_bytes: u64,
    git_bytes: u64,
    scratch_bytes: u64,
    runs_bytes: u64,
    other_bytes: u64,
    builds: usize,
    mirrors: usize,
}

/// `cache size`: the workdir's disk usage, as `du -s --block-size=1` reports it.
pub fn size(root: &Path, format: SizeFormat, out: &Printer) -> Result<i32> {
    let mut s = Sizes { path: root.to_path_buf(), ..Default::default() };
    if let Some(wd) = open_existing(root)? {
        s.total_bytes = units::disk_usage(wd.root());
        // One walk per part, sharing the hard-link set, so the parts add up to the total.
        let mut usage = units::Usage::default();
        s.venvs_bytes = usage.of(&wd.venvs_dir());
        s.git_bytes = usage.of(&wd.git_dir());
        s.scratch_bytes = usage.of(&wd.scratch_dir());
        s.runs_bytes = usage.of(&wd.runs_dir());
        s.other_bytes = s.total_bytes.saturating_sub(s.venvs_bytes + s.git_bytes + s.scratch_bytes + s.runs_bytes);
        let inv = scan::scan(&wd);
        s.builds = inv.builds.len();
        s.mirrors = inv.mirrors.len();
    }
    let text = match format {
        SizeFormat::Bytes => format!("{}\n", s.total_bytes),
        SizeFormat::Json => {
            format!("{}\n", serde_json::to_string_pretty(&s).map_err(|e| Error::Cache(e.to_string()))?)
        }
        SizeFormat::Human => {
            let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
            format!(
                "venvs    {:>10}  ({})\ngit      {:>10}  ({})\nscratch  {:>10}\nruns     {:>10}\nother    {:>10}\ntotal    {:>10}  {}\n",
                human(s.venvs_bytes),
                plural(s.builds, "build", "builds"),
                human(s.git_bytes),
                plural(s.mirrors, "mirror", "mirrors"),
                human(s.scratch_bytes),
                human(s.runs_bytes),
                human(s.other_bytes),
                human(s.total_bytes),
                root.display()
            )
        }
    };
    out.out(&text);
    Ok(exit::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// prune and clean

/// `cache prune`.
pub fn prune(root: &Path, config: &Config, opts: &PruneOptions, out: &Printer) -> Result<i32> {
    let Some(wd) = open_existing(root)? else {
        out.say(&format!("Nothing to remove: the workdir {} does not exist", root.display()));
        return Ok(exit::SUCCESS);
    };
    let lock = if opts.removal.dry_run { None } else { Some(lock_cache(&wd, Some(out))?) };
    let inv = scan::scan(&wd);
    let keep = keep::keep_set(&wd, config, &opts.keep, &inv, out)?;
    let rules = Rules {
        now: now_unix(),
        older_than: opts.older_than.map(|d| d.as_secs()),
        max_size: opts.max_size,
        ci: opts.ci,
        keep_runs: opts.keep_runs,
        in_use: opts.removal.in_use,
        keep,
    };
    let plan = plan::prune(&inv, &rules);
    carry_out(&wd, &inv, plan, &opts.removal, out, lock)
}

/// `cache clean [SPEC...]`.
pub fn clean(root: &Path, opts: &CleanOptions, out: &Printer) -> Result<i32> {
    let Some(wd) = open_existing(root)? else {
        out.say(&format!("Nothing to remove: the workdir {} does not exist", root.display()));
        return Ok(exit::SUCCESS);
    };
    let patterns = opts.specs.iter().map(|s| Pattern::parse(s, &opts.cwd, &wd)).collect::<Result<Vec<_>>>()?;
    let lock = if opts.removal.dry_run { None } else { Some(lock_cache(&wd, Some(out))?) };
    let inv = scan::scan(&wd);
    let rules = Rules { now: now_unix(), in_use: opts.removal.in_use, ..Default::default() };
    let plan = if patterns.is_empty() {
        plan::clean_all(&inv, &rules)
    } else {
        let mut entries = HashSet::new();
        for p in &patterns {
            let matched: Vec<usize> = (0..inv.entries.len()).filter(|e| p.matches(&inv, *e)).collect();
            if matched.is_empty() {
                out.say(&format!("no cached build matches '{}'{}", p.shown, p.hint));
            }
            entries.extend(matched);
        }
        plan::clean_entries(&inv, &rules, &entries)
    };
    carry_out(&wd, &inv, plan, &opts.removal, out, lock)
}

/// What `cache clean SPEC` matches: a module name, or a full spec.
struct Pattern {
    shown: String,
    name: String,
    spec: Option<ModuleSpec>,
    commit: CommitMatch,
    hint: String,
}

enum CommitMatch {
    Any,
    Prefix(String),
    Nothing,
}

fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if matches!(c, '_' | '.') { '-' } else { c.to_ascii_lowercase() };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

impl Pattern {
    fn parse(text: &str, cwd: &Path, wd: &Workdir) -> Result<Pattern> {
        let spec = ModuleSpec::parse(text, cwd)?;
        let name = normalize(&spec.name);
        let shown = spec.to_string();
        if spec.source == (Source::PyPi { version: None }) {
            return Ok(Pattern { shown, name, spec: None, commit: CommitMatch::Any, hint: String::new() });
        }
        let (commit, hint) = match &spec.source {
            Source::Git { url, reference: Some(r), .. } => {
                if (7..=40).contains(&r.len()) && r.chars().all(|c| c.is_ascii_hexdigit()) {
                    (CommitMatch::Prefix(r.to_ascii_lowercase()), String::new())
                } else {
                    match resolve_offline(wd, url, r) {
                        Some(c) => (CommitMatch::Prefix(c), String::new()),
                        None => (
                            CommitMatch::Nothing,
                            format!(" ('{r}' is not in the local mirror; give a commit, or the name alone)"),
                        ),
                    }
                }
            }
            _ => (CommitMatch::Any, String::new()),
        };
        Ok(Pattern { shown, name, spec: Some(spec), commit, hint })
    }

    fn matches(&self, inv: &Inventory, entry: usize) -> bool {
        let builds = || inv.builds.iter().filter(move |b| b.entry == entry);
        let Some(spec) = &self.spec else {
            return normalize(&inv.entries[entry].name) == self.name
                || builds().any(|b| b.meta.as_ref().is_some_and(|m| normalize(&m.name) == self.name));
        };
        let subdirectory = match &spec.source {
            Source::Git { subdirectory, .. } => subdirectory.clone(),
            _ => None,
        };
        let identity = spec.source_identity();
        builds().any(|b| {
            b.meta.as_ref().is_some_and(|m| {
                normalize(&m.name) == self.name
                    && m.source == identity
                    && m.subdirectory == subdirectory
                    && match &self.commit {
                        CommitMatch::Any => true,
                        CommitMatch::Prefix(p) => m.commit.as_deref().is_some_and(|c| c.starts_with(p.as_str())),
                        CommitMatch::Nothing => false,
                    }
            })
        })
    }
}

/// A branch or tag resolved in the existing mirror, without fetching or creating anything.
fn resolve_offline(wd: &Workdir, url: &str, reference: &str) -> Option<String> {
    git::Mirror::existing(wd, url)?.resolve(Some(reference), git::Fetch::Offline).ok()
}

/// Prints the plan (dry run) or carries it out, then the summary.
fn carry_out(
    wd: &Workdir,
    inv: &Inventory,
    plan: Plan,
    removal: &Removal,
    out: &Printer,
    lock: Option<LockGuard>,
) -> Result<i32> {
    for w in &inv.warnings {
        out.warn(w);
    }
    let root = wd.root();
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    for note in &plan.notes {
        out.warn(note);
    }
    let skip_msg = "in use by a running workflow (--wait waits for it, --force removes it anyway)";
    if removal.dry_run {
        for item in &plan.items {
            say_item(
                out,
                item.kind,
                &format!(
                    "would remove {} {} ({}): {}",
                    kind_one(item.kind),
                    rel(&item.path),
                    human(item.size),
                    item.why
                ),
            );
        }
        for p in &plan.skipped {
            out.say(&format!("would skip {}: {skip_msg}", rel(p)));
        }
        if plan.items.is_empty() {
            out.say("Nothing to remove");
        } else {
            out.say(&format!(
                "Would remove {} entries, {} ({}); the cache would be {}",
                plan.items.len(),
                human(plan.freed()),
                breakdown(plan.items.iter().map(|i| i.kind)),
                human(plan.projected)
            ));
        }
        return Ok(exit::SUCCESS);
    }

    let mut done = Done::default();
    let (entries, items): (Vec<Item>, Vec<Item>) = plan.items.into_iter().partition(|i| i.kind == Kind::Entry);
    for p in &plan.skipped {
        out.say(&format!("skipped {}: {skip_msg}", rel(p)));
        done.skipped += 1;
    }
    let mut pending = Vec::new();
    for item in items {
        if let Some(item) = attempt(root, item, removal.in_use, out, &mut done) {
            pending.push(item);
        }
    }
    let mut lock = lock;
    if !pending.is_empty() {
        out.say(&format!("waiting for {} build(s) in use by running workflows to be released...", pending.len()));
        while !pending.is_empty() {
            // Runs take the cache lock before a build's use lock: never wait on one while holding the other.
            drop(lock.take());
            std::thread::sleep(Duration::from_millis(250));
            lock = Some(lock_cache(wd, None)?);
            let waiting = std::mem::take(&mut pending);
            for item in waiting {
                if let Some(item) = attempt(root, item, removal.in_use, out, &mut done) {
                    pending.push(item);
                }
            }
        }
    }
    for item in entries {
        // Only once no build is left in it (one may have been skipped because it is in use).
        let has_builds = std::fs::read_dir(&item.path).into_iter().flatten().flatten().any(|c| {
            EntryDir::is_build_name(&c.file_name().to_string_lossy()) && c.file_type().is_ok_and(|t| t.is_dir())
        });
        if !has_builds {
            finish(root, item, out, &mut done);
        }
    }
    drop(lock);
    // What `du` sees leave the workdir (hard links shared with what stays are not freed).
    let freed = inv.total.saturating_sub(units::disk_usage(root));

    if done.kinds.is_empty() {
        out.say("Nothing to remove");
    } else {
        out.say(&format!(
            "Removed {} entries, {} ({})",
            done.kinds.len(),
            human(freed),
            breakdown(done.kinds.iter().copied())
        ));
    }
    if done.skipped > 0 {
        out.say(&format!("Kept {} build(s) in use by running workflows", done.skipped));
    }
    match done.failed.first() {
        None => Ok(exit::SUCCESS),
        Some(first) => Err(Error::Cache(format!(
            "{} of {} removals failed; the first: {first}",
            done.failed.len(),
            done.failed.len() + done.kinds.len()
        ))),
    }
}

#[derive(Default)]
struct Done {
    kinds: Vec<Kind>,
    skipped: usize,
    failed: Vec<String>,
}

/// Removes one item if its guard allows; gives it back when it must be waited for.
fn attempt(root: &Path, item: Item, in_use: InUse, out: &Printer, done: &mut Done) -> Option<Item> {
    let rel = item.path.strip_prefix(root).unwrap_or(&item.path).display().to_string();
    let lock = match &item.guard {
        Guard::None => None,
        Guard::Use(l) | Guard::Lock(l) => Some(l.clone()),
    };
    // Held until the item is gone, so nobody starts using it meanwhile.
    let _guard = match lock.as_deref().map(try_hold) {
        None => None,
        Some(LockState::Free(g)) => g,
        Some(LockState::Held) => match (&item.guard, in_use) {
            (Guard::Use(_), InUse::Wait) => return Some(item),
            (Guard::Use(_), InUse::Force) => {
                out.warn(&format!(
                    "removing {rel} although a running workflow uses it: its running plugin processes keep the files they have open, but new plugin launches from this venv will fail"
                ));
                None
            }
            (Guard::Use(_), InUse::Skip) => {
                out.say(&format!("skipped {rel}: in use by a running workflow"));
                done.skipped += 1;
                return None;
            }
            (_, _) => {
                out.say(&format!("skipped {rel}: a running process holds its lock"));
                return None;
            }
        },
    };
    finish(root, item, out, done);
    None
}

fn finish(root: &Path, item: Item, out: &Printer, done: &mut Done) {
    let rel = item.path.strip_prefix(root).unwrap_or(&item.path).display().to_string();
    match remove(root, &item.path) {
        Ok(()) => {
            say_item(
                out,
                item.kind,
                &format!("removed {} {} ({}): {}", kind_one(item.kind), rel, human(item.size), item.why),
            );
            done.kinds.push(item.kind);
        }
        Err(e) => {
            out.warn(&e.to_string());
            done.failed.push(e.to_string());
        }
    }
}

fn kind_one(kind: Kind) -> String {
    kind.label(1).trim_start_matches("1 ").to_string()
}

fn breakdown(kinds: impl Iterator<Item = Kind>) -> String {
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for k in kinds {
        *counts.entry(k).or_default() += 1;
    }
    counts.into_iter().map(|(k, n)| k.label(n)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_like_pep_503() {
        assert_eq!(normalize("Arcaflow_Plugin.X"), "arcaflow-plugin-x");
        assert_eq!(normalize("a__b"), "a-b");
    }
}
