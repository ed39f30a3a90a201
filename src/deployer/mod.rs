//! Owns turning a module spec into a runnable plugin: source resolution, compat check, a cached
//! venv built at most once across processes, and the plugin's schema cached beside it.

pub mod git;
pub mod inline;
pub mod local;
pub mod python;
pub mod spec;
pub mod tools;
pub mod venv;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::atp::{Launch, PluginProcess};
use crate::config::{Installer, PullPolicy, PythonDeployer};
use crate::error::{Error, Result};
use crate::events::{Observer, RunEvent};
use crate::schema::PluginSchema;
use crate::value::Value;
use crate::workdir::key::{entry_key, KeyParts, BUILD_FORMAT};
use crate::workdir::{self, BuildDir, EntryDir, LockGuard, Workdir};
use python::Interpreter;
use spec::{ModuleSpec, Source};
use venv::{Build, InstallerKind};

/// The PyPI classifier that marks a package as runnable by this deployer.
pub const RUNNABLE_CLASSIFIER: &str = "Arcaflow :: Python Deployer :: Runnable";

/// What `meta.json` records about a complete build; its presence is what "complete" means.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildMeta {
    pub format: u32,
    pub name: String,
    pub module: String,
    pub source: String,
    pub commit: Option<String>,
    pub subdirectory: Option<String>,
    pub python: String,
    pub python_version: String,
    pub installer: String,
    pub created_unix: u64,
    /// Whether the source carried the compat marker (or classifier). A build made under
    /// `overrideModuleCompatibility` is not used later without it.
    #[serde(default)]
    pub compatible: bool,
    /// Milliseconds, for `Always`: was this build made during the current run?
    #[serde(default)]
    pub created_ms: u128,
    pub build_seconds: f64,
}

/// A plugin ready to launch. Holding it keeps its build marked as in use.
pub struct Plugin {
    pub spec: ModuleSpec,
    pub python: PathBuf,
    pub module: String,
    pub schema: PluginSchema,
    pub schema_value: Value,
    pub build_dir: PathBuf,
    pub meta: BuildMeta,
    pub built_now: bool,
    /// How long the plugin may take to send its hello.
    pub startup_timeout: Duration,
    /// The process that read the schema of a fresh build, kept for the first step that needs
    /// it: a cold run then starts Python once per step, like a warm one.
    pub spare: std::sync::Mutex<Option<Spare>>,
    /// The environment its processes get (`pluginEnv`).
    pub env: Vec<(String, String)>,
    /// Interpreter arguments instead of `-m <module> --atp` (inline steps run the runner script).
    pub args: Option<Vec<String>>,
    /// Its fork server in this run (started by the first step that is forked).
    pub fork_server: crate::zygote::ForkServer,
    /// Held shared while the build may be used; `None` for an inline step without a venv.
    _in_use: Option<LockGuard>,
}

/// A started plugin process whose hello was read, and its scratch working directory.
pub struct Spare {
    pub process: Option<PluginProcess>,
    pub cwd: PathBuf,
}

impl Drop for Spare {
    fn drop(&mut self) {
        // An unused spare is killed (PluginProcess's Drop) and its directory removed.
        self.process.take();
        let _ = std::fs::remove_dir_all(&self.cwd);
    }
}

impl Plugin {
    /// Takes the spare process, if there is one and it is still alive.
    pub fn take_spare(&self) -> Option<Spare> {
        self.spare.lock().ok()?.take()
    }
}

impl Plugin {
    /// A plugin that runs `python -m <module>` with `env`, for engine tests that drive a fake
    /// ATP peer (what a real plugin cannot do on demand: take a chosen time at each point).
    #[cfg(test)]
    pub(crate) fn for_engine_tests(
        python: PathBuf,
        module: &str,
        schema_value: Value,
        env: Vec<(String, String)>,
        in_use_lock: &Path,
    ) -> Result<Plugin> {
        let schema = PluginSchema::from_value(&schema_value)
            .map_err(|e| Error::Deploy { plugin: module.into(), message: e.to_string() })?;
        let meta = BuildMeta {
            format: BUILD_FORMAT,
            name: module.into(),
            module: module.into(),
            source: "test".into(),
            commit: None,
            subdirectory: None,
            python: python.display().to_string(),
            python_version: String::new(),
            installer: String::new(),
            created_unix: 0,
            compatible: true,
            created_ms: 0,
            build_seconds: 0.0,
        };
        Ok(Plugin {
            spec: ModuleSpec {
                name: module.into(),
                module: module.into(),
                source: Source::Local { path: PathBuf::from("/") },
            },
            python,
            module: module.into(),
            schema,
            schema_value,
            build_dir: PathBuf::new(),
            meta,
            built_now: false,
            startup_timeout: Duration::from_secs(30),
            spare: std::sync::Mutex::new(None),
            env,
            args: None,
            fork_server: Default::default(),
            _in_use: Some(workdir::lock_shared(in_use_lock)?),
        })
    }
}

impl Plugin {
    pub fn launch(&self, cwd: &Path) -> Launch {
        Launch {
            python: self.python.clone(),
            module: self.module.clone(),
            cwd: cwd.to_path_buf(),
            env: self.env.clone(),
            args: self.args.clone(),
        }
    }
}

pub struct Deployer {
    workdir: Workdir,
    cfg: PythonDeployer,
    policy: PullPolicy,
    /// Milliseconds since the epoch.
    run_started: u128,
    interpreter: OnceLock<std::result::Result<Interpreter, String>>,
    installer: OnceLock<std::result::Result<InstallerKind, String>>,
    /// Told when a venv build starts and ends.
    observer: Arc<dyn Observer>,
}

/// The source resolved to something immutable: what the venv key is computed from.
struct Resolved {
    identity: String,
    /// The compat marker is there (PyPI: known only after the install, so `true` until then).
    compatible: bool,
    commit: Option<String>,
    subdirectory: Option<String>,
    /// Fills `dest` with the files to install, or gives a requirement string.
    target: Target,
}

enum Target {
    /// `commit` is the full hex id.
    Git {
        url: String,
        commit: String,
        subdirectory: Option<String>,
    },
    Dir(PathBuf),
    Requirement(String),
}

impl Deployer {
    pub fn new(workdir: Workdir, cfg: PythonDeployer, policy: PullPolicy, observer: Arc<dyn Observer>) -> Deployer {
        Deployer {
            observer,
            workdir,
            cfg,
            policy,
            run_started: now_nanos() / 1_000_000,
            interpreter: OnceLock::new(),
            installer: OnceLock::new(),
        }
    }

    pub fn workdir(&self) -> &Workdir {
        &self.workdir
    }

    pub fn interpreter(&self) -> Result<&Interpreter> {
        self.interpreter
            .get_or_init(|| {
                python::resolve(
                    self.cfg.python_path.as_deref(),
                    self.cfg.python_semver.as_deref(),
                    Some(self.workdir.root()),
                )
                .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|m| Error::Deploy { plugin: "python".into(), message: m.clone() })
    }

    fn installer(&self) -> Result<&InstallerKind> {
        let python = self.interpreter()?;
        self.installer
            .get_or_init(|| {
                let found = InstallerKind::detect(&self.cfg, python).map_err(|e| e.to_string())?;
                if self.cfg.installer != Installer::Auto || matches!(found, InstallerKind::Uv(_)) {
                    return Ok(found);
                }
                // No uv on PATH: one bootstrap into the workdir makes every later build fast.
                Ok(match tools::bootstrap_uv(&self.workdir, python, &self.cfg, &*self.observer) {
                    Ok(uv) => InstallerKind::Uv(uv),
                    Err(e) => {
                        let why = e.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(&e).trim().to_string();
                        tracing::warn!("could not install uv ({why}); building with pip (slower)");
                        found
                    }
                })
            })
            .as_ref()
            .map_err(|m| Error::Deploy { plugin: "installer".into(), message: m.clone() })
    }

    /// Resolves, checks, builds if needed, and loads the schema of one plugin. Blocking: call it
    /// from a blocking thread. `rt` is used to read the schema of a freshly built plugin.
    pub fn prepare(&self, spec: &ModuleSpec, rt: &tokio::runtime::Handle) -> Result<Plugin> {
        let shown = spec.to_string();
        let deploy_err = |message: String| Error::Deploy { plugin: shown.clone(), message };
        // A spec pinned to a full commit whose build is complete needs no mirror at all (no git
        // process): its marker was checked when it was built.
        if self.policy != PullPolicy::Always {
            if let Some(pinned) = pinned_commit(spec) {
                let python = self.interpreter()?.clone();
                let entry = self.entry_dir(spec, &pinned, &python);
                if let Some(p) = self.use_current(spec, &entry, false)? {
                    return self.checked(p);
                }
            }
        }
        let resolved = self.resolve(spec)?;
        let python = self.interpreter()?.clone();
        let entry = self.entry_dir(spec, &resolved, &python);
        workdir::create_private_dir(entry.path())?;

        if self.policy != PullPolicy::Always {
            if let Some(p) = self.use_current(spec, &entry, false)? {
                return self.checked(p);
            }
            if self.policy == PullPolicy::Never {
                return Err(deploy_err(
                    "its venv is not in the cache and the pull policy is Never; run 'arcaflow-py pull' first or use IfNotPresent".into(),
                ));
            }
        }
        let _build_lock = workdir::lock_exclusive(&entry.build_lock())?;
        // Another process may have finished the same build while we waited for the lock.
        if let Some(p) = self.use_current(spec, &entry, self.policy == PullPolicy::Always)? {
            return self.checked(p);
        }
        self.remove_incomplete(&entry);
        let started = std::time::Instant::now();
        let build_id = format!("b{}-{}", now_nanos(), std::process::id());
        let build = entry.build(&build_id);
        let build_dir = build.path().to_path_buf();
        let key = format!("build:{}", entry.path().display());
        self.observer.on_event(&RunEvent::BuildStarted { key: key.clone(), plugin: shown.clone() });
        let result = self.build(spec, &resolved, &python, &build_dir, rt);
        self.observer.on_event(&RunEvent::BuildFinished {
            key,
            plugin: shown.clone(),
            ok: result.is_ok(),
            seconds: started.elapsed().as_secs_f64(),
            installer: result.as_ref().ok().map(|(_, installer, _)| installer.to_string()),
        });
        match result {
            Ok((spare, installer, compatible)) => {
                let meta = BuildMeta {
                    format: BUILD_FORMAT,
                    name: spec.name.clone(),
                    module: spec.module.clone(),
                    source: resolved.identity.clone(),
                    commit: resolved.commit.clone(),
                    subdirectory: resolved.subdirectory.clone(),
                    python: python.path.display().to_string(),
                    python_version: python.version.clone(),
                    installer,
                    compatible,
                    created_unix: now_unix(),
                    created_ms: now_nanos() / 1_000_000,
                    build_seconds: started.elapsed().as_secs_f64(),
                };
                let meta_json = serde_json::to_vec_pretty(&meta).map_err(|e| deploy_err(e.to_string()))?;
                workdir::write_atomic(&build.meta(), &meta_json)?;
                workdir::write_atomic(&entry.current(), build_id.as_bytes())?;
                let mut p = self
                    .use_current(spec, &entry, false)?
                    .ok_or_else(|| deploy_err("the new build vanished".into()))?;
                p.built_now = true;
                p.spare = std::sync::Mutex::new(Some(spare));
                Ok(p)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&build_dir);
                Err(e)
            }
        }
    }

    /// The cache entry of `spec` resolved as `r`, with `python`.
    fn entry_dir(&self, spec: &ModuleSpec, r: &Resolved, python: &Interpreter) -> EntryDir {
        let key = entry_key(&KeyParts {
            spec,
            commit: r.commit.as_deref(),
            subdirectory: r.subdirectory.as_deref(),
            python,
            cfg: &self.cfg,
        });
        self.workdir.entry(&spec.name, &key)
    }

    /// The complete build that `current` names, marked in use; `None` if there is none (or, when
    /// `fresh_only`, if it was made before this run started).
    fn use_current(&self, spec: &ModuleSpec, entry: &EntryDir, fresh_only: bool) -> Result<Option<Plugin>> {
        let Some(build) = entry.read_current() else {
            return Ok(None);
        };
        let build_dir = build.path().to_path_buf();
        let Ok(meta_text) = crate::limits::read_bytes(&build.meta()) else {
            return Ok(None);
        };
        let Ok(meta) = serde_json::from_slice::<BuildMeta>(&meta_text) else {
            return Ok(None);
        };
        if meta.format != BUILD_FORMAT || (fresh_only && meta.created_ms < self.run_started) {
            return Ok(None);
        }
        let in_use = workdir::lock_shared(&build.use_lock())?;
        // A damaged build (a truncated or garbled schema.cbor, a venv whose python is gone) is
        // never used: it is treated as absent, so it is built again and `current` moves to the
        // new build; prune removes the old one.
        let damaged = |why: String| -> Result<Option<Plugin>> {
            tracing::warn!("{}: the cached build is damaged ({why}); building it again", build_dir.display());
            Ok(None)
        };
        let schema_bytes = match crate::limits::read_bytes(&build.schema()) {
            Ok(b) => b,
            Err(e) => return damaged(format!("cannot read schema.cbor: {e}")),
        };
        let schema_value = match ciborium::from_reader::<ciborium::Value, _>(&schema_bytes[..]) {
            Ok(c) => Value::from_cbor(&c),
            Err(e) => return damaged(format!("schema.cbor is not valid CBOR: {e}")),
        };
        let schema = match PluginSchema::from_value(&schema_value) {
            Ok(s) => s,
            Err(e) => return damaged(format!("schema.cbor is not a plugin schema: {e}")),
        };
        if !Build::venv_python(&build.venv()).is_file() {
            return damaged("its venv has no python".into());
        }
        let python = Build::venv_python(&build.venv());
        // Nothing another user made (or could have changed) is ever run.
        self.workdir.check_before_exec(&python)?;
        workdir::touch(&build.last_used(), now_unix());
        let env = plugin_env(&python, &self.cfg.plugin_env);
        Ok(Some(Plugin {
            spec: spec.clone(),
            python,
            module: spec.module.clone(),
            schema,
            schema_value,
            build_dir,
            meta,
            built_now: false,
            startup_timeout: self.cfg.startup_timeout(),
            spare: std::sync::Mutex::new(None),
            env,
            args: None,
            fork_server: Default::default(),
            _in_use: Some(in_use),
        }))
    }

    /// Builds that `current` does not name and that nobody uses are leftovers of interrupted
    /// builds; we hold the build lock, so none of them is still being written.
    fn remove_incomplete(&self, entry: &EntryDir) {
        let current = entry.read_current().map(|b| b.path().to_path_buf());
        let Ok(dirs) = std::fs::read_dir(entry.path()) else {
            return;
        };
        for d in dirs.flatten() {
            let name = d.file_name().to_string_lossy().to_string();
            if !EntryDir::is_build_name(&name) || current.as_deref() == Some(d.path().as_path()) || !d.path().is_dir() {
                continue;
            }
            let build = BuildDir::at(d.path());
            if build.meta().exists() {
                continue; // a complete older build: prune decides when it goes
            }
            if let Ok(Some(_g)) = workdir::try_lock_exclusive(&build.use_lock()) {
                let _ = std::fs::remove_dir_all(d.path());
            }
        }
    }

    fn resolve(&self, spec: &ModuleSpec) -> Result<Resolved> {
        let shown = spec.to_string();
        match &spec.source {
            Source::Git { url, reference, subdirectory } => {
                let _lock = git::lock_mirror(&self.workdir, url)?;
                let mirror = git::Mirror::open(&self.workdir, url)?;
                let fetch = if self.policy == PullPolicy::Never { git::Fetch::Offline } else { git::Fetch::IfNeeded };
                let commit = mirror.resolve(reference.as_deref(), fetch).inspect_err(|_| mirror.discard_if_fresh())?;
                // The plugin's root is its subdirectory: the marker is looked for there first.
                let marker = mirror.marker_at(&commit, subdirectory.as_deref())?;
                let compatible = marker.is_some();
                if let Some(at) = &marker {
                    tracing::debug!("{shown}: compat marker found at {at}");
                }
                if !compatible {
                    let place = match subdirectory {
                        Some(d) => format!("in its subdirectory '{d}' or at its root"),
                        None => "at its root".to_string(),
                    };
                    self.compat_failure(
                        &shown,
                        &format!("the repository has no {} file {place} at commit {commit}", git::COMPAT_MARKER),
                    )?;
                }
                tracing::debug!("{shown} resolved to commit {commit}");
                Ok(Resolved {
                    identity: spec.source_identity(),
                    compatible,
                    commit: Some(commit.to_string()),
                    subdirectory: subdirectory.clone(),
                    target: Target::Git {
                        url: url.clone(),
                        commit: commit.to_string(),
                        subdirectory: subdirectory.clone(),
                    },
                })
            }
            Source::Local { path } => {
                if !path.is_dir() {
                    return Err(Error::Deploy {
                        plugin: shown,
                        message: format!("{} is not a directory", path.display()),
                    });
                }
                let compatible = path.join(git::COMPAT_MARKER).exists();
                if !compatible {
                    self.compat_failure(&shown, &format!("{} has no {} file", path.display(), git::COMPAT_MARKER))?;
                }
                // A local plugin changes while it is developed: key it by its content.
                let digest = tree_digest(path)?;
                Ok(Resolved {
                    identity: spec.source_identity(),
                    compatible,
                    commit: Some(format!("content-{}", &digest[..16])),
                    subdirectory: None,
                    target: Target::Dir(path.clone()),
                })
            }
            Source::PyPi { version } => Ok(Resolved {
                identity: spec.source_identity(),
                compatible: true,
                commit: None,
                subdirectory: None,
                target: Target::Requirement(match version {
                    Some(v) => format!("{}=={v}", spec.name),
                    None => spec.name.clone(),
                }),
            }),
        }
    }

    /// A cached build made without the compat marker (under the override) needs the override now too.
    fn checked(&self, p: Plugin) -> Result<Plugin> {
        if !p.meta.compatible {
            self.compat_failure(
                &p.spec.to_string(),
                &format!(
                    "the plugin has no {} marker (its cached venv was built under the override)",
                    git::COMPAT_MARKER
                ),
            )?;
        }
        Ok(p)
    }

    fn compat_failure(&self, plugin: &str, why: &str) -> Result<()> {
        if self.cfg.override_module_compatibility {
            tracing::warn!("{plugin}: {why}; running it anyway because overrideModuleCompatibility is true");
            Ok(())
        } else {
            Err(Error::Deploy {
                plugin: plugin.to_string(),
                message: format!(
                    "{why}, so it is not marked compatible with the python deployer (set overrideModuleCompatibility: true to run it anyway)"
                ),
            })
        }
    }

    fn build(
        &self,
        spec: &ModuleSpec,
        r: &Resolved,
        python: &Interpreter,
        build_dir: &Path,
        rt: &tokio::runtime::Handle,
    ) -> Result<(Spare, String, bool)> {
        let shown = spec.to_string();
        let deploy_err = |message: String| Error::Deploy { plugin: shown.clone(), message };
        workdir::create_private_dir(build_dir)?;
        let installer = self.installer()?.clone();
        // Debug: the display's spinner and the "built" line (the LogLines observer) say it.
        tracing::debug!("building a venv for {shown} with {}", installer.name());
        let src = build_dir.join("src");
        let target = match &r.target {
            // Without credentials, the installer gets the pinned git URL itself: uv and pip cache
            // the wheel they build for a commit, so the next build of it (another workdir, an
            // `Always` pull) skips the build. The mirror has already resolved and checked it.
            Target::Git { url, commit, subdirectory } if spec::redact_url(url) == *url => {
                let fragment = subdirectory.as_deref().map(|d| format!("#subdirectory={d}")).unwrap_or_default();
                // Named, so pip can find the wheel it cached for this commit; pip 23's `--python`
                // mode refuses a named `git+file://` requirement, so local repositories go bare.
                if url.starts_with("file://") {
                    format!("git+{url}@{commit}{fragment}")
                } else {
                    format!("{} @ git+{url}@{commit}{fragment}", spec.name)
                }
            }
            // With credentials, nothing may carry them to another process: install an export.
            Target::Git { url, commit, subdirectory } => {
                {
                    let _lock = git::lock_mirror(&self.workdir, url)?;
                    git::Mirror::open(&self.workdir, url)?.export(commit, &src)?;
                }
                let dir = match subdirectory {
                    Some(d) => src.join(d),
                    None => src.clone(),
                };
                if !dir.is_dir() {
                    return Err(deploy_err(format!(
                        "the subdirectory '{}' does not exist at commit {commit}",
                        subdirectory.as_deref().unwrap_or("")
                    )));
                }
                dir.display().to_string()
            }
            Target::Dir(path) => {
                copy_tree(path, &src)?;
                src.display().to_string()
            }
            Target::Requirement(req) => req.clone(),
        };
        let venv = BuildDir::at(build_dir.to_path_buf()).venv();
        // uv fetches a git requirement's commit from our mirror, which has it (see `venv::Build`).
        let mirror = match &r.target {
            Target::Git { url, .. } if spec::redact_url(url) == *url => {
                git::Mirror::existing(&self.workdir, url).map(|m| (url.as_str(), m.path().to_path_buf()))
            }
            _ => None,
        };
        let mirror = mirror.as_ref().map(|(u, p)| (*u, p.as_path()));
        Build { installer: &installer, python, cfg: &self.cfg, venv: &venv, targets: &[target], mirror }
            .run()
            .map_err(|e| deploy_err(format!("installing it failed: {e}")))?;
        let _ = std::fs::remove_dir_all(&src);
        let mut compatible = r.compatible;
        if let Target::Requirement(_) = r.target {
            compatible = has_runnable_classifier(&venv, &spec.name);
            if !compatible {
                self.compat_failure(
                    &shown,
                    &format!("the package metadata has no classifier '{RUNNABLE_CLASSIFIER}'"),
                )?;
            }
        }
        let build_id = build_dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let (schema, spare) = self.read_schema(spec, &venv, &build_id, rt)?;
        PluginSchema::from_value(&schema).map_err(|e| deploy_err(format!("the plugin's schema is invalid: {e}")))?;
        let mut bytes = Vec::new();
        ciborium::into_writer(&schema.to_cbor(), &mut bytes).map_err(|e| deploy_err(e.to_string()))?;
        workdir::write_atomic(&BuildDir::at(build_dir.to_path_buf()).schema(), &bytes)?;
        Ok((spare, installer.name().to_string(), compatible))
    }

    /// Launches the new plugin once: proves it starts, and caches its schema so that warm runs
    /// never launch a process only to read it.
    fn read_schema(
        &self,
        spec: &ModuleSpec,
        venv: &Path,
        build_id: &str,
        rt: &tokio::runtime::Handle,
    ) -> Result<(Value, Spare)> {
        // A scratch dir like any step's: the process may go on to run a step (see `Spare`).
        let cwd = self.workdir.scratch_dir().join(format!("probe-{build_id}"));
        workdir::create_private_dir(&cwd)?;
        let python = Build::venv_python(venv);
        let launch = Launch {
            python: python.clone(),
            module: spec.module.clone(),
            cwd: cwd.clone(),
            env: plugin_env(&python, &self.cfg.plugin_env),
            args: None,
        };
        let label = spec.name.clone();
        let timeout = self.cfg.startup_timeout();
        let result = rt.block_on(async move {
            let mut p = PluginProcess::spawn(&launch, &label)?;
            match p.handshake(timeout).await {
                Ok(hello) => Ok((hello, p)),
                Err(e) => {
                    p.kill().await;
                    Err(e)
                }
            }
        });
        let (hello, process) = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&cwd);
                return Err(Error::Deploy {
                    plugin: spec.to_string(),
                    message: format!(
                        "the installed plugin does not start (module '{}'): {e}{}",
                        spec.module,
                        module_hint(spec)
                    ),
                });
            }
        };
        // Bytes printed before the hello were logged by the handshake.
        Ok((hello.schema, Spare { process: Some(process), cwd }))
    }
}

/// For a local directory whose module was guessed wrong: the spec forms that would name it.
fn module_hint(spec: &ModuleSpec) -> String {
    let Source::Local { path } = &spec.source else { return String::new() };
    let forms: Vec<String> = local::packages(path)
        .into_iter()
        .filter(|m| *m != spec.module)
        .map(|m| format!("'{}@{}'", m.replace('_', "-"), path.display()))
        .collect();
    let named = if forms.is_empty() {
        format!("'<name>@{}', where <name>'s module (with '-' as '_') is the plugin's package", path.display())
    } else {
        forms.join(" or ")
    };
    format!(
        "\nhint: the module name '{}' was guessed from the spec's name (pyproject.toml did not settle it); write the spec as {named}, or set `module:` in the step's plugin map",
        spec.module
    )
}

/// A git source pinned to a full commit id, resolved without looking at the mirror.
fn pinned_commit(spec: &ModuleSpec) -> Option<Resolved> {
    let Source::Git { url, reference: Some(r), subdirectory } = &spec.source else { return None };
    if r.len() != 40 || !r.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let commit = r.to_ascii_lowercase();
    Some(Resolved {
        identity: spec.source_identity(),
        compatible: true,
        commit: Some(commit.clone()),
        subdirectory: subdirectory.clone(),
        target: Target::Git { url: url.clone(), commit, subdirectory: subdirectory.clone() },
    })
}

/// The environment a plugin process gets: ours, as `pluginEnv` restricts or extends it, without
/// the variables that would make the venv's Python load another installation (`PYTHONHOME`,
/// `PYTHONPATH`; `VIRTUAL_ENV` names the plugin's own venv), and with the venv's `bin` first on PATH.
pub fn plugin_env(python: &Path, cfg: &crate::config::PluginEnv) -> Vec<(String, String)> {
    const ISOLATION: &[&str] = &["PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV"];
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| cfg.inherit.passes(k) && !ISOLATION.contains(&k.as_str()))
        .collect();
    for k in &cfg.unset {
        env.remove(k);
    }
    env.extend(cfg.set.iter().map(|(k, v)| (k.clone(), v.clone())));
    if let Some(bin) = python.parent() {
        let path = match env.get("PATH") {
            Some(p) if !p.is_empty() => format!("{}:{p}", bin.display()),
            _ => bin.display().to_string(),
        };
        env.insert("PATH".into(), path);
        if let Some(venv) = bin.parent() {
            env.entry("VIRTUAL_ENV".into()).or_insert_with(|| venv.display().to_string());
        }
    }
    env.into_iter().collect()
}

fn has_runnable_classifier(venv: &Path, name: &str) -> bool {
    let normalized = name.to_lowercase().replace(['-', '.'], "_");
    for entry in walkdir::WalkDir::new(venv.join("lib")).max_depth(3).into_iter().flatten() {
        let file = entry.file_name().to_string_lossy().to_lowercase();
        if file.ends_with(".dist-info") && file.replace(['-', '.'], "_").starts_with(&format!("{normalized}_")) {
            if let Ok(meta) = std::fs::read_to_string(entry.path().join("METADATA")) {
                return meta.lines().any(|l| l.starts_with("Classifier:") && l.contains(RUNNABLE_CLASSIFIER));
            }
        }
    }
    false
}

fn skip_local(name: &str) -> bool {
    matches!(name, ".git" | "__pycache__" | ".venv" | "venv" | "build" | "dist" | ".mypy_cache" | ".pytest_cache")
        || name.ends_with(".egg-info")
}

/// A digest of a local plugin directory's files (what `content-<digest>` keys a local build by).
pub fn tree_digest(root: &Path) -> Result<String> {
    let mut h = Sha256::new();
    let walker = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !skip_local(&e.file_name().to_string_lossy()));
    for entry in walker {
        let entry = entry.map_err(|e| Error::Cache(format!("cannot read {}: {e}", root.display())))?;
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            let data = std::fs::read(entry.path())
                .map_err(|e| Error::io(format!("cannot read {}", entry.path().display()), e))?;
            h.update((data.len() as u64).to_le_bytes());
            h.update(&data);
        }
    }
    Ok(hex::encode(h.finalize()))
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let walker =
        walkdir::WalkDir::new(from).into_iter().filter_entry(|e| !skip_local(&e.file_name().to_string_lossy()));
    for entry in walker {
        let entry = entry.map_err(|e| Error::Cache(format!("cannot read {}: {e}", from.display())))?;
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let dest = to.join(rel);
        let io = |e| Error::io(format!("cannot copy {}", entry.path().display()), e);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).map_err(io)?;
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &dest).map_err(io)?;
        }
    }
    Ok(())
}

pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}
