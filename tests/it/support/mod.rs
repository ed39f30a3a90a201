//! Test support: real git repositories holding the test plugin, a shared plugin cache, and a
//! small builder that runs the real binary against a workflow written into a temp dir.

#![allow(dead_code)]

pub mod agent;
pub mod git_http;
pub mod servers;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// A workflow `input` scope with no properties, for workflows that take no input.
pub const EMPTY_INPUT: &str = "input: {root: In, objects: {In: {id: In, properties: {}}}}";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_arcaflow-py")
}

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/testkit")
}

fn tmp_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// A git repository holding the test plugin.
#[derive(Debug, Clone)]
pub struct Repo {
    pub dir: PathBuf,
    pub head: String,
}

impl Repo {
    pub fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// The seed-form spec pinned to HEAD.
    pub fn spec(&self) -> String {
        format!("arcaflow-plugin-testkit@git+{}@{}", self.url(), self.head)
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        // Fixed dates make the same content give the same commit, so the venv cache is shared.
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let n = name.to_string_lossy();
        if n == "__pycache__" || n.ends_with(".egg-info") || n == "build" {
            continue;
        }
        let dest = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// Creates a repository at `dest` with the test plugin committed, with or without the compat marker.
pub fn make_plugin_repo(dest: &Path, marker: bool) -> Repo {
    copy_dir(&fixture_dir(), dest);
    if marker {
        fs::write(dest.join(".python_deployer_compat"), "").unwrap();
    } else {
        let _ = fs::remove_file(dest.join(".python_deployer_compat"));
    }
    git(dest, &["-c", "init.defaultBranch=main", "init", "-q"]);
    git(dest, &["add", "-A"]);
    git(dest, &["commit", "-q", "-m", "test plugin"]);
    let head = git(dest, &["rev-parse", "HEAD"]);
    Repo { dir: dest.to_path_buf(), head }
}

fn fixture_hash() -> String {
    let mut h = Sha256::new();
    let mut files: Vec<PathBuf> = walk(&fixture_dir());
    files.sort();
    for f in files {
        h.update(f.strip_prefix(fixture_dir()).unwrap().to_string_lossy().as_bytes());
        h.update(fs::read(&f).unwrap());
    }
    hex::encode(&h.finalize()[..8])
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        if n == "__pycache__" || n.ends_with(".egg-info") {
            continue;
        }
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// A repository shared by every test in this run (and later runs while the fixture is unchanged).
pub fn shared_repo(marker: bool) -> &'static Repo {
    static WITH: OnceLock<Repo> = OnceLock::new();
    static WITHOUT: OnceLock<Repo> = OnceLock::new();
    let cell = if marker { &WITH } else { &WITHOUT };
    cell.get_or_init(|| {
        let root = tmp_root().join("fixtures");
        fs::create_dir_all(&root).unwrap();
        // Test processes may run in parallel (nextest): one creates, the others wait.
        let lock = File::create(root.join(".lock")).unwrap();
        lock.lock().unwrap();
        let dir = root.join(format!("testkit-{}-{}", fixture_hash(), if marker { "compat" } else { "nocompat" }));
        let repo = if dir.join(".git").exists() {
            Repo { head: git(&dir, &["rev-parse", "HEAD"]), dir }
        } else {
            let tmp = root.join(format!(".tmp-{}", std::process::id()));
            let _ = fs::remove_dir_all(&tmp);
            make_plugin_repo(&tmp, marker);
            fs::rename(&tmp, &dir).unwrap();
            Repo { head: git(&dir, &["rev-parse", "HEAD"]), dir }
        };
        drop(lock);
        repo
    })
}

/// The workdir shared by tests that are not about building venvs: built once, then warm.
pub fn shared_workdir() -> PathBuf {
    let p = tmp_root().join("shared-workdir");
    fs::create_dir_all(&p).unwrap();
    p
}

pub struct RunOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    /// The result document, read back with our own reader (tests/it/yaml_readers.rs checks the
    /// printer against PyYAML and ruamel.yaml).
    pub fn yaml(&self) -> arcaflow_py::yaml::Yaml {
        arcaflow_py::yaml::parse_text(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not YAML ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

impl From<Output> for RunOutput {
    fn from(o: Output) -> Self {
        RunOutput {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A workflow run in its own temp context directory.
pub struct Case {
    pub dir: tempfile::TempDir,
    pub workdir: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Case {
    pub fn new() -> Case {
        Case { dir: tempfile::tempdir().unwrap(), workdir: shared_workdir(), args: Vec::new(), env: Vec::new() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn file(&self, name: &str, text: &str) -> &Self {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(p, text).unwrap();
        self
    }

    pub fn workflow(&self, yaml: &str) -> &Self {
        self.file("workflow.yaml", yaml)
    }

    pub fn input(&self, yaml: &str) -> &Self {
        self.file("input.yaml", yaml)
    }

    pub fn config(&self, yaml: &str) -> &Self {
        self.file("config.yaml", yaml)
    }

    pub fn own_workdir(mut self) -> Case {
        self.workdir = self.dir.path().join("workdir");
        self
    }

    pub fn arg(mut self, a: &str) -> Case {
        self.args.push(a.to_string());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Case {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn command(&self, sub: &str) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg(sub).arg("--context").arg(self.dir.path()).arg("--workdir").arg(&self.workdir);
        if self.path("input.yaml").exists() {
            cmd.arg("--input").arg("input.yaml");
        }
        if self.path("config.yaml").exists() {
            cmd.arg("--config").arg("config.yaml");
        }
        cmd.args(&self.args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    pub fn run(&self) -> RunOutput {
        self.command("run").output().expect("the binary runs").into()
    }
}

/// Substitutes `SPEC` in a workflow template with the shared compatible repo's spec.
pub fn with_spec(template: &str) -> String {
    template.replace("SPEC", &shared_repo(true).spec())
}

/// Processes whose pid is in `pids` that still exist (zombies excluded).
pub fn alive(pids: &[i32]) -> Vec<i32> {
    pids.iter()
        .copied()
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
                .unwrap_or(false)
        })
        .collect()
}

/// A one-step workflow running the test plugin's `echo` on `spec`; input `sleep` (seconds) is optional.
pub fn echo_workflow(spec: &str) -> String {
    format!(
        r#"
version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        sleep: {{type: {{type_id: float}}, required: false, default: "0"}}
steps:
  hello:
    plugin: {{deployment_type: python, src: "{spec}"}}
    step: echo
    input: {{msg: hi, sleep: !expr $.input.sleep}}
outputs:
  success: {{msg: !expr $.steps.hello.outputs.success.msg, flavor: !expr $.steps.hello.outputs.success.flavor}}
"#
    )
}

/// Complete builds (those with meta.json) in a workdir.
pub fn complete_builds(workdir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(workdir.join("venvs")).into_iter().flatten().flatten() {
        for b in fs::read_dir(entry.path()).into_iter().flatten().flatten() {
            if b.path().join("meta.json").exists() {
                out.push(b.path());
            }
        }
    }
    out
}

/// Waits (up to 30 s) for a file a plugin step writes, e.g. the `hang` step's pid file.
pub fn wait_for_file(p: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !p.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
}

/// The pids a `hang` step wrote: its own and its child's.
pub fn read_pids(p: &Path) -> Vec<i32> {
    fs::read_to_string(p).unwrap().split_whitespace().map(|x| x.parse().unwrap()).collect()
}

/// A Python with PyYAML and ruamel.yaml (the YAML 1.1 and 1.2 readers our output is checked
/// against), in `target/tools/yaml-readers`: scripts/test installs it; built here once if missing.
pub fn yaml_readers_python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/yaml-readers");
        let py = dir.join("bin/python");
        let ready =
            || Command::new(&py).args(["-c", "import yaml, ruamel.yaml"]).output().is_ok_and(|o| o.status.success());
        if !ready() {
            let ok = Command::new("python3").arg("-m").arg("venv").arg(&dir).status().is_ok_and(|s| s.success());
            assert!(ok, "python3 -m venv {} failed", dir.display());
            let ok = Command::new(dir.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "PyYAML", "ruamel.yaml"])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok && ready(), "cannot install PyYAML and ruamel.yaml into {}", dir.display());
        }
        py
    })
    .clone()
}
