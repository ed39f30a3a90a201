//! Owns deciding what `cache prune` and `cache clean` remove, and why; nothing here touches the disk.

use std::collections::HashSet;
use std::path::PathBuf;

use super::scan::{Build, File, Inventory};
use crate::workdir::{BuildDir, MIRROR_LOCK_PREFIX, RUN_LOCK_PREFIX};

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
    Artifacts,
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
            Kind::Artifacts => ("run artifacts dir", "run artifacts dirs"),
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
    /// `--keep-runs N`: the state files (and artifacts) of older runs go.
    pub keep_runs: Option<usize>,
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
        let mut runs: Vec<&File> = self.inv.runs.iter().filter(|r| !r.held).collect();
        // Newest first: the run id starts with its start time, the state file changes last.
        runs.sort_by(|a, b| b.mtime.cmp(&a.mtime).then(b.name.cmp(&a.name)));
        for (rank, r) in runs.into_iter().enumerate() {
            let why = match (self.rules.older_than, self.rules.keep_runs) {
                (Some(age), _) if now.saturating_sub(r.mtime) >= age => "older than --older-than".to_string(),
                (_, Some(n)) if rank >= n => format!("beyond the {n} newest runs (--keep-runs)"),
                _ => continue,
            };
            self.push(Kind::RunState, r.unit, r.path.clone(), r.size, why.clone(), Guard::None);
            let id = r.name.trim_end_matches(".json");
            if let Some(a) = self.inv.artifacts.iter().find(|a| a.path.file_name().is_some_and(|n| n == id)) {
                self.push(
                    Kind::Artifacts,
                    a.unit,
                    a.path.clone(),
                    a.size,
                    format!("its run's state goes: {why}"),
                    Guard::Lock(a.lock.clone()),
                );
            }
        }
        // Artifacts whose run state is gone (removed by hand, or an older arcaflow-py's prune).
        for a in &self.inv.artifacts {
            let id = a.path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let has_state = self.inv.runs.iter().any(|r| r.name == format!("{id}.json"));
            if !has_state && !a.held && now.saturating_sub(a.mtime) >= LEFTOVER_GRACE_SECS {
                self.push(
                    Kind::Artifacts,
                    a.unit,
                    a.path.clone(),
                    a.size,
                    "its run has no state file",
                    Guard::Lock(a.lock.clone()),
                );
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

#[cfg(test)]
mod tests {
    //! Table tests of the planner: a hand-made inventory and rules in, the removed paths out.

    use super::*;
    use crate::cache::scan::{Entry, Mirror, Scratch};
    use crate::deployer::BuildMeta;

    const NOW: u64 = 1_000_000_000;
    const DAY: u64 = 86_400;

    fn meta(source: &str) -> BuildMeta {
        serde_json::from_value(serde_json::json!({
            "format": 2, "name": "p", "module": "p", "source": source, "commit": null,
            "subdirectory": null, "python": "/usr/bin/python3", "python_version": "3.11.2",
            "installer": "uv", "created_unix": NOW - 10 * DAY, "build_seconds": 1.0
        }))
        .unwrap()
    }

    /// One entry `venvs/p-0` (being built when `building`) with builds `b1`... described as
    /// (complete, current, last used this many days ago, in use).
    fn with_builds(inv: &mut Inventory, building: bool, builds: &[(bool, bool, u64, bool)]) {
        let entry = inv.entries.len();
        inv.entries.push(Entry {
            path: PathBuf::from(format!("venvs/p-{entry}")),
            name: "p".into(),
            building,
            own_size: 0,
            unit: 0,
        });
        for (n, (complete, current, days, in_use)) in builds.iter().enumerate() {
            inv.builds.push(Build {
                path: PathBuf::from(format!("venvs/p-{entry}/b{n}")),
                entry,
                id: format!("b{n}"),
                meta: complete.then(|| meta("git+file:///repo")),
                current: *current,
                last_used: NOW - days * DAY,
                size: 100,
                in_use: *in_use,
                unit: 0,
            });
        }
    }

    fn mirror(inv: &mut Inventory, hash: &str, source: &str, held: bool) {
        inv.mirrors.push(Mirror {
            path: PathBuf::from(format!("git/{hash}")),
            source: Some(source.into()),
            size: 10,
            lock: PathBuf::from(format!("locks/git-{hash}.lock")),
            held,
            unit: 0,
        });
    }

    fn file(name: &str, dir: &str, age: u64, held: bool) -> File {
        File {
            path: PathBuf::from(format!("{dir}/{name}")),
            name: name.into(),
            mtime: NOW - age,
            size: 1,
            held,
            unit: 0,
        }
    }

    fn removed(plan: &Plan) -> Vec<String> {
        let mut v: Vec<String> = plan.items.iter().map(|i| i.path.display().to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn prune_plans_what_nothing_uses_again() {
        type Setup = fn(&mut Inventory, &mut Rules);
        let cases: &[(&str, Setup, &[&str], &[&str])] = &[
            (
                "interrupted and superseded builds go, the current one stays",
                |inv, _| {
                    with_builds(
                        inv,
                        false,
                        &[(false, false, 1, false), (true, false, 1, false), (true, true, 1, false)],
                    )
                },
                &["venvs/p-0/b0", "venvs/p-0/b1"],
                &[],
            ),
            (
                "a build being written (its entry's build.lock is held) is left alone",
                |inv, _| with_builds(inv, true, &[(false, false, 0, false), (true, true, 1, false)]),
                &[],
                &[],
            ),
            (
                "a superseded build in use is skipped, not removed",
                |inv, _| with_builds(inv, false, &[(true, false, 1, true), (true, true, 1, false)]),
                &[],
                &["venvs/p-0/b0"],
            ),
            (
                "--force removes a superseded build in use",
                |inv, rules| {
                    with_builds(inv, false, &[(true, false, 1, true), (true, true, 1, false)]);
                    rules.in_use = InUse::Force;
                },
                &["venvs/p-0/b0"],
                &[],
            ),
            (
                "--keep protects a superseded build",
                |inv, rules| {
                    with_builds(inv, false, &[(true, false, 1, false), (true, true, 1, false)]);
                    rules.keep.builds.insert(PathBuf::from("venvs/p-0/b0"));
                },
                &[],
                &[],
            ),
            (
                "--older-than takes current builds unused that long, then their empty entry",
                |inv, rules| {
                    with_builds(inv, false, &[(true, true, 40, false)]);
                    with_builds(inv, false, &[(true, true, 2, false)]);
                    rules.older_than = Some(30 * DAY);
                },
                &["venvs/p-0", "venvs/p-0/b0"],
                &[],
            ),
            (
                "--older-than takes old run states, not those of running runs",
                |inv, rules| {
                    inv.runs.push(file("old.json", "runs", 40 * DAY, false));
                    inv.runs.push(file("running.json", "runs", 40 * DAY, true));
                    inv.runs.push(file("new.json", "runs", DAY, false));
                    rules.older_than = Some(30 * DAY);
                },
                &["runs/old.json"],
                &[],
            ),
            (
                "--keep-runs keeps the newest runs; older runs go with their artifacts, a running one stays",
                |inv, rules| {
                    for (name, age, held) in [("r1", 3, false), ("r2", 2, false), ("r3", 1, false), ("r0", 9, true)] {
                        inv.runs.push(file(&format!("{name}.json"), "runs", age * DAY, held));
                        inv.artifacts.push(Scratch {
                            path: PathBuf::from(format!("artifacts/{name}")),
                            lock: PathBuf::from(format!("locks/run-{name}.lock")),
                            lock_exists: true,
                            held,
                            mtime: NOW - age * DAY,
                            size: 1,
                            unit: 0,
                        });
                    }
                    rules.keep_runs = Some(2);
                },
                &["artifacts/r1", "runs/r1.json"],
                &[],
            ),
            (
                "artifacts whose run state is gone go, unless their run is running",
                |inv, _| {
                    for (name, held) in [("orphan", false), ("running", true)] {
                        inv.artifacts.push(Scratch {
                            path: PathBuf::from(format!("artifacts/{name}")),
                            lock: PathBuf::from(format!("locks/run-{name}.lock")),
                            lock_exists: true,
                            held,
                            mtime: NOW - DAY,
                            size: 1,
                            unit: 0,
                        });
                    }
                },
                &["artifacts/orphan"],
                &[],
            ),
            (
                "run states stay without --older-than",
                |inv, _| inv.runs.push(file("old.json", "runs", 400 * DAY, false)),
                &[],
                &[],
            ),
            (
                "a mirror goes when no staying build was made from it; a held one stays",
                |inv, _| {
                    with_builds(inv, false, &[(true, true, 1, false)]);
                    mirror(inv, "used", "file:///repo", false);
                    mirror(inv, "unused", "file:///other", false);
                    mirror(inv, "fetching", "file:///third", true);
                },
                &["git/unused"],
                &[],
            ),
            (
                "--ci drops every mirror but keeps the current venvs",
                |inv, rules| {
                    with_builds(inv, false, &[(true, true, 1, false)]);
                    mirror(inv, "used", "file:///repo", false);
                    rules.ci = true;
                },
                &["git/used"],
                &[],
            ),
            (
                "scratch dirs of ended runs go; a running one, or a young one without a lock, stays",
                |inv, _| {
                    for (name, lock_exists, held, age) in
                        [("ended", true, false, 0), ("running", true, true, 0), ("young", false, false, 60)]
                    {
                        inv.scratch.push(Scratch {
                            path: PathBuf::from(format!("scratch/{name}")),
                            lock: PathBuf::from(format!("locks/run-{name}.lock")),
                            lock_exists,
                            held,
                            mtime: NOW - age,
                            size: 1,
                            unit: 0,
                        });
                    }
                },
                &["scratch/ended"],
                &[],
            ),
            (
                "stale locks: an old free run lock, a mirror lock without its mirror; never cache.lock",
                |inv, _| {
                    mirror(inv, "here", "file:///repo", false);
                    with_builds(inv, false, &[(true, true, 1, false)]);
                    inv.locks.push(file("run-old.lock", "locks", 2 * LOCK_GRACE_SECS, false));
                    inv.locks.push(file("run-young.lock", "locks", 1, false));
                    inv.locks.push(file("run-held.lock", "locks", 2 * LOCK_GRACE_SECS, true));
                    inv.locks.push(file("git-here.lock", "locks", DAY, false));
                    inv.locks.push(file("git-gone.lock", "locks", DAY, false));
                    inv.locks.push(file("cache.lock", "locks", DAY, false));
                },
                &["locks/git-gone.lock", "locks/run-old.lock"],
                &[],
            ),
            (
                "old temporary files go, fresh ones stay",
                |inv, _| {
                    inv.temps.push(file(".tmpOld", "runs", 2 * LEFTOVER_GRACE_SECS, false));
                    inv.temps.push(file(".tmpNew", "runs", 1, false));
                },
                &["runs/.tmpOld"],
                &[],
            ),
        ];
        for (name, setup, want_removed, want_skipped) in cases {
            let mut inv = Inventory::default();
            let mut rules = Rules { now: NOW, ..Rules::default() };
            setup(&mut inv, &mut rules);
            let plan = prune(&inv, &rules);
            assert_eq!(removed(&plan), *want_removed, "{name}");
            let skipped: Vec<String> = plan.skipped.iter().map(|p| p.display().to_string()).collect();
            assert_eq!(skipped, *want_skipped, "{name}");
        }
    }

    #[test]
    fn clean_all_takes_every_build_mirror_and_tool_but_not_run_states() {
        let mut inv = Inventory::default();
        with_builds(&mut inv, false, &[(true, true, 0, false), (true, false, 0, false)]);
        mirror(&mut inv, "m", "file:///repo", false);
        inv.runs.push(file("r.json", "runs", 0, false));
        inv.tools.push(crate::cache::scan::Stray { path: PathBuf::from("tools/uv"), size: 1, unit: 0 });
        let plan = clean_all(&inv, &Rules { now: NOW, ..Rules::default() });
        assert_eq!(removed(&plan), ["git/m", "tools/uv", "venvs/p-0", "venvs/p-0/b0", "venvs/p-0/b1"]);
    }
}
