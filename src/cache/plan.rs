//! Owns deciding what `cache prune` and `cache clean` remove, and why; nothing here touches the disk.

use crate::workdir::{BuildDir, MIRROR_LOCK_PREFIX, RUN_LOCK_PREFIX};
use std::collections::HashSet;
use std::path::PathBuf;

use super::scan::{Build, Inventory};

/// A run lock this young may belong to a run that opened it and is about to lock it.
pub(super) const LOCK_GRACE_SECS: u64 = 60;
/// A scratch dir without any run lock, or a temporary file, is left alone this long: it may belong
/// to a process that does not take a run lock.
pub(super) const LEFTOVER_GRACE_SECS: u64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Kind {
    Build,
    Interrupted,
    Entry,
    Mirror,
    Scratch,
    RunState,
    Lock,
    Temp,
    Stray,
    Tool,
}

impl Kind {
    pub(super) fn label(self, count: usize) -> String {
        let (one, many) = match self {
            Kind::Build => ("venv build", "venv builds"),
            Kind::Interrupted => ("interrupted build", "interrupted builds"),
            Kind::Entry => ("empty venv entry", "empty venv entries"),
            Kind::Mirror => ("git mirror", "git mirrors"),
            Kind::Scratch => ("run scratch dir", "run scratch dirs"),
            Kind::RunState => ("run state file", "run state files"),
            Kind::Lock => ("stale lock", "stale locks"),
            Kind::Temp => ("temporary file", "temporary files"),
            Kind::Stray => ("stray link or file", "stray links or files"),
            Kind::Tool => ("installed tool", "installed tools"),
        };
        format!("{count} {}", if count == 1 { one } else { many })
    }
}

/// What must be free before an item may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Guard {
    None,
    /// A build's `use.lock`: held by every process using the build.
    Use(PathBuf),
    /// A run's lock or a mirror's lock: held while the run (or a fetch) lives.
    Lock(PathBuf),
}

#[derive(Debug, Clone)]
pub(super) struct Item {
    pub kind: Kind,
    pub path: PathBuf,
    pub size: u64,
    pub why: String,
    pub guard: Guard,
}

/// What to do with a build a running process uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InUse {
    /// Leave it, with a message.
    #[default]
    Skip,
    /// Wait until it is released, then remove it.
    Wait,
    /// Remove it anyway.
    Force,
}

/// What `--keep` protects.
#[derive(Debug, Default)]
pub(super) struct Keep {
    pub builds: HashSet<PathBuf>,
    pub mirrors: HashSet<PathBuf>,
}

#[derive(Debug, Default)]
pub(super) struct Rules {
    pub now: u64,
    pub older_than: Option<u64>,
    pub max_size: Option<u64>,
    pub ci: bool,
    pub in_use: InUse,
    pub keep: Keep,
}

#[derive(Debug, Default)]
pub(super) struct Plan {
    pub items: Vec<Item>,
    /// Builds left because a running process uses them.
    pub skipped: Vec<PathBuf>,
    pub notes: Vec<String>,
    /// The workdir's size now, and once the plan is carried out (as `du` would report them: a
    /// file hard-linked from a build that stays is not freed by removing another).
    pub total: u64,
    pub projected: u64,
}

impl Plan {
    pub(super) fn freed(&self) -> u64 {
        self.total.saturating_sub(self.projected)
    }
}

struct Planner<'a> {
    inv: &'a Inventory,
    rules: &'a Rules,
    build_gone: Vec<bool>,
    mirror_gone: Vec<bool>,
    entry_gone: Vec<bool>,
    skipped: HashSet<usize>,
    planned: HashSet<PathBuf>,
    unit_gone: Vec<bool>,
    plan: Plan,
}

impl<'a> Planner<'a> {
    fn new(inv: &'a Inventory, rules: &'a Rules) -> Planner<'a> {
        Planner {
            inv,
            rules,
            build_gone: vec![false; inv.builds.len()],
            mirror_gone: vec![false; inv.mirrors.len()],
            entry_gone: vec![false; inv.entries.len()],
            skipped: HashSet::new(),
            planned: HashSet::new(),
            unit_gone: vec![false; inv.ledger.units()],
            plan: Plan { total: inv.total, ..Plan::default() },
        }
    }

    fn push(&mut self, kind: Kind, unit: usize, path: PathBuf, size: u64, why: impl Into<String>, guard: Guard) {
        if self.planned.insert(path.clone()) {
            if let Some(g) = self.unit_gone.get_mut(unit) {
                *g = true;
            }
            self.plan.items.push(Item { kind, path, size, why: why.into(), guard });
        }
    }

    /// Plans build `i` unless it is kept, being built, or in use (and in-use builds are skipped).
    fn take_build(&mut self, i: usize, why: &str, honour_keep: bool) -> bool {
        let b = &self.inv.builds[i];
        if self.build_gone[i] || (honour_keep && self.rules.keep.builds.contains(&b.path)) {
            return false;
        }
        if !b.complete() && self.inv.entries[b.entry].building {
            return false; // its builder holds build.lock: it is being written right now
        }
        if b.in_use && self.rules.in_use == InUse::Skip {
            if self.skipped.insert(i) {
                self.plan.skipped.push(b.path.clone());
            }
            return false;
        }
        self.build_gone[i] = true;
        let kind = if b.complete() { Kind::Build } else { Kind::Interrupted };
        let why = if b.in_use { format!("{why}; in use by a running workflow") } else { why.to_string() };
        self.push(kind, b.unit, b.path.clone(), b.size, why, Guard::Use(BuildDir::at(b.path.clone()).use_lock()));
        true
    }

    /// Interrupted builds, superseded builds, and (with `--older-than`) builds unused for that long.
    fn default_builds(&mut self) {
        for i in 0..self.inv.builds.len() {
            let b = &self.inv.builds[i];
            if !b.complete() {
                self.take_build(i, "interrupted build (no meta.json)", true);
            } else if !b.current {
                self.take_build(i, "superseded by a newer build", true);
            } else if let Some(age) = self.rules.older_than {
                if self.rules.now.saturating_sub(b.last_used) >= age {
                    let days = self.rules.now.saturating_sub(b.last_used) / 86400;
                    self.take_build(i, &format!("unused for {days} day(s)"), true);
                }
            }
        }
    }

    fn mirror_needed(&self, needed: &HashSet<String>, m: usize) -> bool {
        let mirror = &self.inv.mirrors[m];
        mirror.build_source().is_some_and(|s| needed.contains(&s))
    }

    /// The sources that builds staying in the cache were made from.
    fn needed_sources(&self) -> HashSet<String> {
        self.inv
            .builds
            .iter()
            .enumerate()
            .filter(|(i, b)| !self.build_gone[*i] && b.complete())
            .filter_map(|(_, b)| b.meta.as_ref().map(|m| m.source.clone()))
            .collect()
    }

    /// Entries every build of which is planned (or that have none).
    fn entries_left_empty(&self) -> Vec<usize> {
        (0..self.inv.entries.len())
            .filter(|e| !self.entry_gone[*e] && !self.inv.entries[*e].building)
            .filter(|e| self.inv.builds.iter().enumerate().all(|(i, b)| b.entry != *e || self.build_gone[i]))
            .collect()
    }

    /// Mirrors that go given the builds planned so far: all of them (`--ci`, clean), or those no
    /// staying build needs; never a kept one or one being fetched.
    fn mirrors_to_go(&self, all: bool, only_sources: Option<&HashSet<String>>) -> Vec<usize> {
        let needed = self.needed_sources();
        (0..self.inv.mirrors.len())
            .filter(|m| !self.mirror_gone[*m])
            .filter(|m| {
                let mirror = &self.inv.mirrors[*m];
                if mirror.held || self.rules.keep.mirrors.contains(&mirror.path) {
                    return false;
                }
                if let Some(only) = only_sources {
                    return mirror.build_source().is_some_and(|s| only.contains(&s))
                        && !self.mirror_needed(&needed, *m);
                }
                all || !self.mirror_needed(&needed, *m)
            })
            .collect()
    }

    fn finish_entries(&mut self, only: Option<&HashSet<usize>>) {
        for e in self.entries_left_empty() {
            if only.is_some_and(|o| !o.contains(&e)) {
                continue;
            }
            self.entry_gone[e] = true;
            let entry = &self.inv.entries[e];
            let has_builds = self.inv.builds.iter().any(|b| b.entry == e);
            let why = if has_builds { "all its builds are removed" } else { "no build in it" };
            // Its builds are separate items: the entry counts only what is left around them.
            self.push(Kind::Entry, entry.unit, entry.path.clone(), entry.own_size, why, Guard::None);
        }
    }

    fn finish_mirrors(&mut self, all: Option<&str>, only_sources: Option<&HashSet<String>>) {
        for m in self.mirrors_to_go(all.is_some(), only_sources) {
            self.mirror_gone[m] = true;
            let mirror = &self.inv.mirrors[m];
            let why = match (&mirror.source, all) {
                (None, _) => "unfinished mirror (no arcaflow-source)".to_string(),
                (Some(s), Some(reason)) => format!("{s}: {reason}"),
                (Some(s), None) => format!("no venv needs {s}"),
            };
            self.push(
                Kind::Mirror,
                mirror.unit,
                mirror.path.clone(),
                mirror.size,
                why,
                Guard::Lock(mirror.lock.clone()),
            );
        }
    }

    /// The tools arcaflow-py installed for itself (uv): only `cache clean` removes them, and the
    /// next build that wants one installs it again.
    fn tools(&mut self) {
        for t in &self.inv.tools {
            let why = "installed by arcaflow-py; installed again when a build needs it";
            self.push(Kind::Tool, t.unit, t.path.clone(), t.size, why, Guard::None);
        }
    }

    /// Scratch dirs of runs that ended, stale locks, temporary files and strays.
    fn leftovers(&mut self) {
        let now = self.rules.now;
        for s in &self.inv.scratch {
            if !s.held && (s.lock_exists || now.saturating_sub(s.mtime) >= LEFTOVER_GRACE_SECS) {
                self.push(
                    Kind::Scratch,
                    s.unit,
                    s.path.clone(),
                    s.size,
                    "its run has ended",
                    Guard::Lock(s.lock.clone()),
                );
            }
        }
        for t in &self.inv.temps {
            if now.saturating_sub(t.mtime) >= LEFTOVER_GRACE_SECS {
                self.push(Kind::Temp, t.unit, t.path.clone(), t.size, "left by an interrupted write", Guard::None);
            }
        }
        for s in &self.inv.strays {
            self.push(
                Kind::Stray,
                s.unit,
                s.path.clone(),
                s.size,
                "not made by arcaflow-py (removed as a link, never followed)",
                Guard::None,
            );
        }
        if let Some(age) = self.rules.older_than {
            for r in &self.inv.runs {
                if !r.held && now.saturating_sub(r.mtime) >= age {
                    self.push(Kind::RunState, r.unit, r.path.clone(), r.size, "older than --older-than", Guard::None);
                }
            }
        }
    }

    /// Run locks of runs that ended; mirror locks whose mirror is gone or going.
    fn stale_locks(&mut self, mirror_locks_only: bool) {
        let now = self.rules.now;
        let mirrors_left: HashSet<String> = self
            .inv
            .mirrors
            .iter()
            .enumerate()
            .filter(|(m, _)| !self.mirror_gone[*m])
            .filter_map(|(_, mirror)| mirror.lock.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        for l in &self.inv.locks {
            if l.held {
                continue;
            }
            let stale = if l.name.starts_with(RUN_LOCK_PREFIX) && !mirror_locks_only {
                now.saturating_sub(l.mtime) >= LOCK_GRACE_SECS
            } else if l.name.starts_with(MIRROR_LOCK_PREFIX) {
                !mirrors_left.contains(&l.name)
            } else {
                false // cache.lock, and anything we do not know
            };
            if stale {
                self.push(Kind::Lock, l.unit, l.path.clone(), l.size, "nobody holds it", Guard::Lock(l.path.clone()));
            }
        }
    }

    fn size_after(&self, extra_entries: &[usize], extra_mirrors: &[usize]) -> u64 {
        let mut gone = self.unit_gone.clone();
        let units = extra_entries
            .iter()
            .map(|e| self.inv.entries[*e].unit)
            .chain(extra_mirrors.iter().map(|m| self.inv.mirrors[*m].unit));
        for u in units {
            if let Some(g) = gone.get_mut(u) {
                *g = true;
            }
        }
        self.inv.ledger.total_without(self.inv.total, &gone)
    }

    /// Evicts least recently used complete builds until the workdir fits in `max`.
    fn evict_to(&mut self, max: u64) {
        let mut candidates: Vec<usize> =
            (0..self.inv.builds.len()).filter(|i| self.inv.builds[*i].complete() && !self.build_gone[*i]).collect();
        let by_age = |b: &Build| (b.last_used, std::cmp::Reverse(b.size));
        candidates.sort_by(|a, b| by_age(&self.inv.builds[*a]).cmp(&by_age(&self.inv.builds[*b])));
        let mut next = candidates.into_iter();
        loop {
            let after = self.size_after(&self.entries_left_empty(), &self.mirrors_to_go(self.rules.ci, None));
            if after <= max {
                return;
            }
            match next.next() {
                Some(i) => {
                    let days = self.rules.now.saturating_sub(self.inv.builds[i].last_used) / 86400;
                    self.take_build(i, &format!("least recently used ({days} day(s) ago), to fit --max-size"), true);
                }
                None => {
                    self.plan.notes.push(format!(
                        "cannot get the cache under {}: {} would remain in builds that are in use or kept",
                        super::units::human(max),
                        super::units::human(after)
                    ));
                    return;
                }
            }
        }
    }

    fn finish(mut self) -> Plan {
        self.plan.projected = self.size_after(&[], &[]);
        self.plan
    }
}

/// `cache prune`.
pub(super) fn prune(inv: &Inventory, rules: &Rules) -> Plan {
    let mut p = Planner::new(inv, rules);
    p.default_builds();
    p.leftovers();
    if let Some(max) = rules.max_size {
        p.evict_to(max);
    }
    p.finish_entries(None);
    p.finish_mirrors(rules.ci.then_some("--ci: cheap to fetch again"), None);
    p.stale_locks(false);
    p.finish()
}

/// `cache clean` with no spec: every build, mirror and leftover (run state files stay).
pub(super) fn clean_all(inv: &Inventory, rules: &Rules) -> Plan {
    let mut p = Planner::new(inv, rules);
    for i in 0..inv.builds.len() {
        p.take_build(i, "cache clean", false);
    }
    p.leftovers();
    p.finish_entries(None);
    p.finish_mirrors(Some("cache clean"), None);
    p.stale_locks(false);
    p.tools();
    p.finish()
}

/// `cache clean SPEC...`: every build of the matching entries, and their mirrors once no staying
/// build needs them.
pub(super) fn clean_entries(inv: &Inventory, rules: &Rules, entries: &HashSet<usize>) -> Plan {
    let mut p = Planner::new(inv, rules);
    let mut sources = HashSet::new();
    for i in 0..inv.builds.len() {
        let b = &inv.builds[i];
        if entries.contains(&b.entry) {
            if let Some(m) = &b.meta {
                sources.insert(m.source.clone());
            }
            p.take_build(i, "matches the spec", false);
        }
    }
    p.finish_entries(Some(entries));
    p.finish_mirrors(None, Some(&sources));
    p.stale_locks(true);
    p.finish()
}
