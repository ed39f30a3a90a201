//! `cache dir|list|size|prune|clean` against workdirs filled by real runs: what each prune option
//! removes and keeps, builds in use, symbolic links, dry runs that change nothing, sizes as `du`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::support::{bin, echo_workflow, git, make_plugin_repo, Case, Repo, RunOutput};

/// A test's own workdir, the repositories it runs plugins from, and helpers to fill and inspect it.
struct Fixture {
    tmp: tempfile::TempDir,
    wd: PathBuf,
    repo: Repo,
}

impl Fixture {
    /// A repo with the plugin on `main` and a `dev` branch one commit ahead (another flavor).
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        let repo = make_plugin_repo(&dir, true);
        git(&dir, &["checkout", "-q", "-b", "dev"]);
        fs::write(dir.join("arcaflow_plugin_testkit/flavor.py"), "FLAVOR = \"dev\"\n").unwrap();
        git(&dir, &["commit", "-q", "-am", "dev flavor"]);
        git(&dir, &["checkout", "-q", "main"]);
        let wd = tmp.path().join("wd");
        Fixture { tmp, wd, repo }
    }

    fn spec(&self, reference: &str) -> String {
        format!("arcaflow-plugin-testkit@git+{}@{reference}", self.repo.url())
    }

    fn case(&self, spec: &str) -> Case {
        let mut case = Case::new();
        case.workdir = self.wd.clone();
        case.workflow(&echo_workflow(spec));
        case
    }

    /// Runs the echo workflow with `spec`; the run must succeed.
    fn run(&self, spec: &str, extra: &[&str]) -> RunOutput {
        let mut case = self.case(spec);
        for a in extra {
            case = case.arg(a);
        }
        let out = case.run();
        out.assert_code(0);
        assert_eq!(out.yaml()["output_data"]["msg"].as_str(), Some("hi"));
        out
    }

    /// Starts a run whose step sleeps `seconds`; returns once its build is marked in use.
    fn start_slow_run(&self, spec: &str, seconds: f64) -> (Case, Child) {
        let case = self.case(spec);
        case.input(&format!("sleep: {seconds}\n"));
        let child = case.command("run").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.list().iter().any(|b| b["in_use"] == true) {
            assert!(Instant::now() < deadline, "the run never marked its build in use");
            std::thread::sleep(Duration::from_millis(50));
        }
        (case, child)
    }

    fn cache(&self, args: &[&str]) -> RunOutput {
        let sub = args.first().copied().unwrap_or("list");
        Command::new(bin())
            .args(["cache", sub, "--workdir"])
            .arg(&self.wd)
            .args(&args[1..])
            .current_dir(self.tmp.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into()
    }

    /// `cache list --json`.
    fn list(&self) -> Vec<serde_json::Value> {
        let out = self.cache(&["list", "--json"]);
        out.assert_code(0);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout))
    }

    /// The complete builds, by the commit they were made from.
    fn builds(&self) -> Vec<(String, PathBuf)> {
        self.list()
            .iter()
            .filter(|b| b["complete"] == true)
            .map(|b| (b["commit"].as_str().unwrap_or("").to_string(), PathBuf::from(b["path"].as_str().unwrap())))
            .collect()
    }

    fn entries(&self) -> Vec<PathBuf> {
        children(&self.wd.join("venvs"))
    }

    /// Makes the build look last used `days` ago.
    fn age(&self, build: &Path, days: u64) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        fs::write(build.join("last-used"), (now - days * 86400).to_string()).unwrap();
    }

    fn head(&self, branch: &str) -> String {
        git(&self.repo.dir, &["rev-parse", branch])
    }
}

fn children(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    out.sort();
    out
}

fn du(path: &Path) -> u64 {
    let out = Command::new("du").args(["-s", "--block-size=1"]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().parse().unwrap()
}

fn set_mtime(path: &Path, when: &str) {
    let out = Command::new("touch").args(["-h", "-d", when]).arg(path).output().unwrap();
    assert!(out.status.success());
}

/// Leftovers a killed run or build leaves: an interrupted build, a scratch dir and a run lock.
fn plant_leftovers(wd: &Path, entry: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let interrupted = entry.join("b1000-1");
    fs::create_dir_all(interrupted.join("venv/lib")).unwrap();
    fs::write(interrupted.join("venv/lib/half-written.py"), "x = 1\n").unwrap();
    let scratch = wd.join("scratch/20200101T000000-0000dead");
    fs::create_dir_all(scratch.join("hello")).unwrap();
    fs::write(scratch.join("hello/out.txt"), "left behind").unwrap();
    let lock = wd.join("locks/run-20200101T000000-0000dead.lock");
    fs::write(&lock, "").unwrap();
    set_mtime(&lock, "2 hours ago");
    (interrupted, scratch, lock)
}

/// Paths, types, sizes, contents and link targets of everything below `root`.
fn tree_hash(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).follow_links(false) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(root).unwrap().display().to_string();
        let meta = fs::symlink_metadata(e.path()).unwrap();
        let what = if meta.file_type().is_symlink() {
            format!("link -> {}", fs::read_link(e.path()).unwrap().display())
        } else if meta.is_file() {
            format!("file {} {}", meta.len(), hex::encode(Sha256::digest(fs::read(e.path()).unwrap())))
        } else {
            "dir".to_string()
        };
        out.insert(rel, what);
    }
    out
}

#[test]
fn prune_by_default_removes_only_what_nothing_will_use() {
    let f = Fixture::new();
    let spec = f.spec("main");
    f.run(&spec, &[]);
    // A rebuild (pull policy Always, in a later second) supersedes the first build.
    std::thread::sleep(Duration::from_millis(1100));
    f.run(&spec, &["--pull-policy", "Always"]);
    let builds = f.builds();
    assert_eq!(builds.len(), 2, "{builds:?}");
    let entry = builds[0].1.parent().unwrap().to_path_buf();
    let current = entry.join(fs::read_to_string(entry.join("current")).unwrap().trim());
    let superseded = builds.iter().map(|b| b.1.clone()).find(|p| *p != current).unwrap();
    // A repository without the compat marker: its mirror is fetched, no venv is ever built from it.
    let nocompat = make_plugin_repo(&f.tmp.path().join("nocompat"), false);
    let out = f.case(&format!("arcaflow-plugin-testkit@git+{}@main", nocompat.url())).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(children(&f.wd.join("git")).len(), 2);
    let (interrupted, scratch, lock) = plant_leftovers(&f.wd, &entry);

    let out = f.cache(&["prune"]);
    out.assert_code(0);
    assert!(out.stderr.contains("Removed "), "{}", out.stderr);
    assert!(current.join("meta.json").exists(), "the current build stays");
    assert!(!superseded.exists(), "the superseded build goes");
    assert!(!interrupted.exists() && !scratch.exists() && !lock.exists(), "leftovers go");
    let mirrors = children(&f.wd.join("git"));
    assert_eq!(mirrors.len(), 1, "only the mirror a venv needs stays: {mirrors:?}");
    assert_eq!(fs::read_to_string(mirrors[0].join("arcaflow-source")).unwrap(), f.repo.url());
    assert!(f.wd.join("locks/cache.lock").exists());
    assert!(!children(&f.wd.join("runs")).is_empty(), "run history is not pruned by default");

    // What stays still runs offline, and a second prune has nothing to do.
    f.run(&spec, &["--pull-policy", "Never"]);
    let out = f.cache(&["prune"]);
    out.assert_code(0);
    assert!(out.stderr.contains("Nothing to remove"), "{}", out.stderr);
}

#[test]
fn prune_older_than_removes_venvs_unused_for_that_long() {
    let f = Fixture::new();
    f.run(&f.spec("main"), &[]);
    f.run(&f.spec("dev"), &[]);
    let builds = f.builds();
    assert_eq!(builds.len(), 2);
    let (old, recent) = if builds[0].0 == f.head("main") { (&builds[0], &builds[1]) } else { (&builds[1], &builds[0]) };
    f.age(&old.1, 40);
    f.age(&recent.1, 5);

    let out = f.cache(&["prune", "--older-than", "30d"]);
    out.assert_code(0);
    assert!(!old.1.exists(), "unused for 40 days: removed");
    assert!(!old.1.parent().unwrap().exists(), "its entry went with it");
    assert!(recent.1.join("meta.json").exists(), "used 5 days ago: kept");
    assert_eq!(children(&f.wd.join("git")).len(), 1, "the mirror is still needed");
    // Used again, the kept one is not old any more.
    f.run(&f.spec("dev"), &[]);
    let out = f.cache(&["prune", "--older-than", "1d"]);
    out.assert_code(0);
    assert!(recent.1.join("meta.json").exists());
}

#[test]
fn prune_max_size_evicts_least_recently_used_first() {
    let f = Fixture::new();
    f.run(&f.spec("main"), &[]);
    f.run(&f.spec("dev"), &[]);
    let builds = f.builds();
    let (lru, mru) = if builds[0].0 == f.head("main") { (&builds[0], &builds[1]) } else { (&builds[1], &builds[0]) };
    f.age(&lru.1, 3);
    f.age(&mru.1, 1);
    let total = du(&f.wd);
    let limit = total - 1;

    let out = f.cache(&["prune", "--max-size", &limit.to_string()]);
    out.assert_code(0);
    assert!(!lru.1.exists(), "the least recently used build goes first");
    assert!(mru.1.join("meta.json").exists(), "one eviction was enough");
    assert!(du(&f.wd) <= limit);
    // Units: the survivor alone is above 1 KiB, so it goes too.
    let out = f.cache(&["prune", "--max-size", "1KiB"]);
    out.assert_code(0);
    assert!(!mru.1.exists());
    assert!(f.entries().is_empty(), "{:?}", f.entries());
}

#[test]
fn prune_keep_never_removes_what_a_workflow_needs() {
    let f = Fixture::new();
    f.run(&f.spec("main"), &[]);
    f.run(&f.spec("dev"), &[]);
    let builds = f.builds();
    for (_, b) in &builds {
        f.age(b, 100);
    }
    // The workflow names a branch: it is resolved in the mirror, offline.
    let keep = f.tmp.path().join("keep/workflow.yaml");
    fs::create_dir_all(keep.parent().unwrap()).unwrap();
    fs::write(&keep, echo_workflow(&f.spec("dev"))).unwrap();

    let out = f.cache(&["prune", "--older-than", "30d", "--ci", "--keep", keep.to_str().unwrap()]);
    out.assert_code(0);
    let left = f.builds();
    assert_eq!(left.len(), 1, "{}", out.stderr);
    assert_eq!(left[0].0, f.head("dev"), "the build the kept workflow needs stays");
    assert_eq!(children(&f.wd.join("git")).len(), 1, "its mirror stays too, even with --ci");
    // It still runs offline.
    f.run(&f.spec("dev"), &["--pull-policy", "Never"]);
}

#[test]
fn prune_ci_keeps_venvs_and_drops_what_is_cheap_to_fetch() {
    let f = Fixture::new();
    let spec = f.spec("main");
    f.run(&spec, &[]);
    let builds = f.builds();
    let entry = builds[0].1.parent().unwrap().to_path_buf();
    let (interrupted, scratch, lock) = plant_leftovers(&f.wd, &entry);

    let out = f.cache(&["prune", "--ci"]);
    out.assert_code(0);
    assert!(children(&f.wd.join("git")).is_empty(), "mirrors go: {}", out.stderr);
    assert!(builds[0].1.join("meta.json").exists(), "the venv stays");
    assert!(!interrupted.exists() && !scratch.exists() && !lock.exists());
    // The next run fetches the repository again and reuses the venv.
    let out = f.run(&spec, &[]);
    assert!(!out.stderr.contains("building a venv"), "{}", out.stderr);
    assert_eq!(f.builds(), builds);
    assert_eq!(children(&f.wd.join("git")).len(), 1);
}

#[test]
fn dry_runs_change_nothing() {
    let f = Fixture::new();
    let spec = f.spec("main");
    f.run(&spec, &[]);
    std::thread::sleep(Duration::from_millis(1100));
    f.run(&spec, &["--pull-policy", "Always"]);
    let entry = f.builds()[0].1.parent().unwrap().to_path_buf();
    plant_leftovers(&f.wd, &entry);
    let outside = f.tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    symlink(&outside, f.wd.join("venvs/planted")).unwrap();
    let keep = f.tmp.path().join("workflow.yaml");
    fs::write(&keep, echo_workflow(&spec)).unwrap();
    let before = tree_hash(&f.wd);

    for args in [
        vec!["prune", "--dry-run"],
        vec!["prune", "--dry-run", "--older-than", "0s", "--max-size", "0", "--ci"],
        vec!["prune", "--dry-run", "--keep", keep.to_str().unwrap()],
        vec!["clean", "--dry-run"],
        vec!["clean", "--dry-run", "arcaflow-plugin-testkit"],
    ] {
        let out = f.cache(&args);
        out.assert_code(0);
        assert!(out.stderr.contains("Would remove "), "{args:?}: {}", out.stderr);
        assert_eq!(tree_hash(&f.wd), before, "{args:?} changed the workdir");
    }
    let out = f.cache(&["clean", "--dry-run"]);
    assert!(out.stderr.contains("would remove venv build"), "{}", out.stderr);
    assert!(out.stderr.contains("MiB"), "it says how much it frees: {}", out.stderr);
}

#[test]
fn a_venv_in_use_is_not_removed_and_the_run_still_succeeds() {
    let f = Fixture::new();
    let spec = f.spec("main");
    f.run(&spec, &[]);
    let build = f.builds()[0].1.clone();

    let (_case, child) = f.start_slow_run(&spec, 4.0);
    for args in [vec!["clean"], vec!["prune", "--older-than", "0s", "--max-size", "0"]] {
        let out = f.cache(&args);
        out.assert_code(0);
        assert!(out.stderr.contains("in use"), "{args:?}: {}", out.stderr);
        assert!(build.join("meta.json").exists(), "{args:?} removed a build in use");
    }
    // --wait: returns once the run has released it, then removes it.
    let out = f.cache(&["clean", "--wait"]);
    out.assert_code(0);
    let run: RunOutput = child.wait_with_output().unwrap().into();
    run.assert_code(0);
    assert_eq!(run.yaml()["output_data"]["msg"].as_str(), Some("hi"));
    assert!(!build.exists(), "{}", out.stderr);

    // --force removes it under a running workflow, and says what that means.
    f.run(&spec, &[]);
    let build = f.builds()[0].1.clone();
    let (_case, child) = f.start_slow_run(&spec, 2.0);
    let out = f.cache(&["clean", "--force"]);
    out.assert_code(0);
    assert!(out.stderr.contains("new plugin launches"), "{}", out.stderr);
    assert!(!build.exists());
    let run: RunOutput = child.wait_with_output().unwrap().into();
    assert!([0, 3].contains(&run.code), "no crash, whatever happens to the plugin: {}", run.stderr);
}

#[test]
fn symlinks_in_the_workdir_are_never_followed() {
    let f = Fixture::new();
    f.run(&f.spec("main"), &[]);
    let build = f.builds()[0].1.clone();
    let entry = build.parent().unwrap().to_path_buf();
    let outside = f.tmp.path().join("outside");
    fs::create_dir_all(outside.join("sub")).unwrap();
    fs::write(outside.join("precious.txt"), "do not delete").unwrap();
    fs::write(outside.join("sub/big.bin"), vec![7u8; 2 << 20]).unwrap();
    let size = || f.cache(&["size", "--bytes"]).stdout.trim().parse::<u64>().unwrap();
    let unlinked = size();
    // Links named as we name things are removed (as links); others are not ours: left alone.
    let links = [
        f.wd.join("venvs/planted-0123456789abcdef"),
        f.wd.join("git/0123456789abcdef01234567"),
        f.wd.join("scratch/20200101T000000-0000beef"),
        f.wd.join("locks/run-20200101T000000-0000beef.lock"),
        entry.join("b2000-1"),
        build.join("venv/planted"),
    ];
    let foreign = [f.wd.join("venvs/planted"), f.wd.join("git/planted"), f.wd.join("locks/run-planted.lock")];
    for l in links.iter().chain(&foreign) {
        symlink(&outside, l).unwrap();
    }
    // A workdir directory that is itself a link is not entered either.
    let elsewhere = f.tmp.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::write(elsewhere.join("20200101T000000-0000cafe.json"), "{}").unwrap();
    set_mtime(&elsewhere.join("20200101T000000-0000cafe.json"), "2 years ago");
    fs::remove_dir_all(f.wd.join("runs")).unwrap();
    symlink(&elsewhere, f.wd.join("runs")).unwrap();
    let before = tree_hash(&outside);
    let elsewhere_before = tree_hash(&elsewhere);

    let out = f.cache(&["size", "--bytes"]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim().parse::<u64>().unwrap(), du(&f.wd), "links are counted as links");
    assert!(size() < unlinked + (1 << 20), "the 2 MiB file outside is not counted");
    assert_eq!(f.builds().len(), 1, "a link named like a build is not a build");

    let out = f.cache(&["prune", "--older-than", "1d"]);
    out.assert_code(0);
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    let out = f.cache(&["clean"]);
    out.assert_code(0);
    assert_eq!(tree_hash(&outside), before, "nothing outside the workdir changed");
    assert_eq!(tree_hash(&elsewhere), elsewhere_before, "a linked workdir directory is not entered");
    for l in &links {
        assert!(fs::symlink_metadata(l).is_err(), "{} is left: {}", l.display(), out.stderr);
    }
    for l in &foreign {
        assert!(fs::symlink_metadata(l).is_ok(), "{} was removed: {}", l.display(), out.stderr);
    }
    assert_eq!(f.entries(), vec![f.wd.join("venvs/planted")], "only the link that is not ours is left");
    assert!(fs::symlink_metadata(f.wd.join("runs")).unwrap().file_type().is_symlink(), "the link itself stays");
}

#[test]
fn sizes_match_du() {
    let f = Fixture::new();
    let spec = f.spec("main");
    f.run(&spec, &[]);
    std::thread::sleep(Duration::from_millis(1100));
    f.run(&spec, &["--pull-policy", "Always"]);
    // A hard link between two builds is counted once, as du does.
    let builds = f.builds();
    fs::hard_link(builds[0].1.join("meta.json"), builds[1].1.join("meta-copy.json")).unwrap();

    let out = f.cache(&["size", "--bytes"]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim().parse::<u64>().unwrap(), du(&f.wd));
    let json: serde_json::Value = serde_json::from_str(&f.cache(&["size", "--json"]).stdout).unwrap();
    assert_eq!(json["total_bytes"].as_u64(), Some(du(&f.wd)));
    let parts: u64 = ["venvs_bytes", "git_bytes", "scratch_bytes", "runs_bytes", "other_bytes"]
        .iter()
        .map(|k| json[*k].as_u64().unwrap())
        .sum();
    assert_eq!(parts, du(&f.wd));
    assert_eq!(json["venvs_bytes"].as_u64(), Some(du(&f.wd.join("venvs"))));
    for b in f.list() {
        let path = PathBuf::from(b["path"].as_str().unwrap());
        assert_eq!(b["size_bytes"].as_u64(), Some(du(&path)), "{}", path.display());
    }
    let human = f.cache(&["size"]);
    assert!(human.stdout.contains("total") && human.stdout.contains("MiB"), "{}", human.stdout);
}

#[test]
fn list_shows_every_build_and_dir_prints_the_workdir() {
    let f = Fixture::new();
    f.run(&f.spec("main"), &[]);
    let rows = f.list();
    assert_eq!(rows.len(), 1);
    let b = &rows[0];
    assert_eq!(b["name"], "arcaflow-plugin-testkit");
    assert_eq!(b["module"], "arcaflow_plugin_testkit");
    assert_eq!(b["source"].as_str(), Some(format!("git+{}", f.repo.url()).as_str()));
    assert_eq!(b["commit"].as_str(), Some(f.head("main").as_str()));
    assert!(b["python_version"].as_str().is_some_and(|v| v.starts_with("3.")), "{b}");
    assert!(b["size_bytes"].as_u64().is_some_and(|s| s > 1 << 20), "{b}");
    assert!(b["last_used_unix"].as_u64().is_some_and(|t| t > 1_600_000_000), "{b}");
    assert_eq!(b["in_use"], false);
    assert_eq!(b["state"], "current");
    let table = f.cache(&["list"]);
    table.assert_code(0);
    assert!(table.stdout.contains(&f.head("main")[..12]), "{}", table.stdout);
    assert!(table.stdout.contains("IN USE"), "{}", table.stdout);

    // dir: --workdir, then ARCAFLOW_PY_WORKDIR, then the config's workdir, then the per-user default.
    let dir = |args: &[&str], env: &[(&str, &Path)]| {
        let mut cmd = Command::new(bin());
        cmd.args(["cache", "dir"]).args(args).current_dir(f.tmp.path()).env_remove("ARCAFLOW_PY_WORKDIR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out: RunOutput = cmd.output().unwrap().into();
        out.assert_code(0);
        out.stdout.trim().to_string()
    };
    let env_wd = f.tmp.path().join("from-env");
    fs::write(
        f.tmp.path().join("config.yaml"),
        "deployers:\n  python:\n    deployer_name: python\n    workdir: from-config\n",
    )
    .unwrap();
    let xdg = f.tmp.path().join("xdg");
    assert_eq!(
        dir(&["--workdir", f.wd.to_str().unwrap()], &[("ARCAFLOW_PY_WORKDIR", &env_wd)]),
        f.wd.display().to_string()
    );
    assert_eq!(dir(&["--config", "config.yaml"], &[("ARCAFLOW_PY_WORKDIR", &env_wd)]), env_wd.display().to_string());
    assert_eq!(dir(&["--config", "config.yaml"], &[]), f.tmp.path().join("from-config").display().to_string());
    assert_eq!(dir(&[], &[("XDG_CACHE_HOME", &xdg)]), xdg.join("arcaflow-py").display().to_string());
    assert!(!xdg.exists() && !env_wd.exists(), "dir never creates the workdir");

    // A workdir that does not exist: nothing to do, and it is not created.
    let missing = Fixture { tmp: tempfile::tempdir().unwrap(), wd: env_wd.clone(), repo: f.repo.clone() };
    for args in [vec!["prune"], vec!["clean"], vec!["list"], vec!["size", "--bytes"]] {
        missing.cache(&args).assert_code(0);
    }
    assert!(!env_wd.exists());
    // A directory that is not a workdir (a mistyped --workdir) is refused, and left as it was.
    let home = Fixture { tmp: tempfile::tempdir().unwrap(), wd: f.tmp.path().join("keep"), repo: f.repo.clone() };
    fs::create_dir_all(home.wd.join("venvs/b1")).unwrap();
    let before = tree_hash(&home.wd);
    for args in [vec!["prune"], vec!["clean"], vec!["list"]] {
        let out = home.cache(&args);
        out.assert_code(1);
        assert!(out.stderr.contains("not an arcaflow-py workdir"), "{}", out.stderr);
    }
    assert_eq!(tree_hash(&home.wd), before);
}

#[test]
fn clean_by_module_name_or_full_spec() {
    let f = Fixture::new();
    f.run(&f.spec("main"), &[]);
    f.run(&f.spec("dev"), &[]);
    assert_eq!(f.builds().len(), 2);

    // A full spec, by branch (resolved in the mirror) or by commit.
    let out = f.cache(&["clean", &f.spec("dev")]);
    out.assert_code(0);
    let left = f.builds();
    assert_eq!(left.len(), 1, "{}", out.stderr);
    assert_eq!(left[0].0, f.head("main"));
    assert_eq!(children(&f.wd.join("git")).len(), 1, "the mirror is still needed");
    let out = f.cache(&["clean", "arcaflow-plugin-other"]);
    out.assert_code(0);
    assert!(out.stderr.contains("no cached build matches"), "{}", out.stderr);
    assert_eq!(f.builds().len(), 1);

    // A name: every build of it, and the mirrors nothing needs any more.
    let out = f.cache(&["clean", "arcaflow_plugin_testkit"]);
    out.assert_code(0);
    assert!(f.builds().is_empty(), "{}", out.stderr);
    assert!(f.entries().is_empty());
    assert!(children(&f.wd.join("git")).is_empty());
    assert!(out.stderr.contains("Removed "), "{}", out.stderr);
}
