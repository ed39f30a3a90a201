//! Owns making an inline Python step (`kind: python`) runnable: the embedded runner and the
//! step's source written into the workdir (content-addressed), the step's input schema read from
//! the function's signature, and a venv per distinct requirements set (and interpreter), built
//! and locked like a plugin's. A step without requirements runs on the base interpreter in
//! isolated mode (`-I`): no venv at all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::python::Interpreter;
use super::spec::{ModuleSpec, Source};
use super::venv::Build;
use super::{now_nanos, now_unix, plugin_env, BuildMeta, Deployer, Plugin};
use crate::config::PullPolicy;
use crate::error::{Error, Result};
use crate::events::RunEvent;
use crate::schema::{OutputSchema, PluginSchema, Scope, StepSchema};
use crate::value::Value;
use crate::workdir::key::{inline_key, BUILD_FORMAT, INLINE_ENTRY};
use crate::workdir::{self, EntryDir, LockGuard};
use crate::workflow::python::INLINE_STEP;
use crate::workflow::InlineSource;

/// The runner, speaking ATP v1 on one side and calling the function on the other.
const RUNNER: &str = include_str!("../inline/runner.py");

/// What `-I runner.py --describe` prints.
#[derive(serde::Deserialize)]
struct Described {
    input: Option<serde_json::Value>,
    error: Option<String>,
}

impl Deployer {
    /// The runnable form of the inline step `id`. Blocking (it may build a venv and runs Python
    /// once to read the function's signature).
    pub fn prepare_inline(&self, id: &str, inline: &Arc<InlineSource>) -> Result<Plugin> {
        let label = format!("python step '{id}'");
        let err = |message: String| Error::Deploy { plugin: label.clone(), message };
        let base = self.interpreter()?.clone();
        let dir = self.workdir().inline_dir();
        workdir::create_private_dir(&dir)?;
        let runner = content_file(&dir, "runner", RUNNER)?;
        let source = content_file(&dir, "src", &inline.source)?;
        let input = describe(&base.path, &runner, &source, &inline.function).map_err(err)?;
        let schema = step_schema(input, inline).map_err(err)?;
        let (python, build_dir, meta, in_use, built_now) = if inline.requirements.is_empty() {
            let meta = meta_for(&base, "base interpreter", 0.0);
            (base.path.clone(), dir.clone(), meta, None, false)
        } else {
            let (build_dir, meta, lock, built) = self.requirements_venv(&label, &base, &inline.requirements)?;
            (Build::venv_python(&build_dir.join("venv")), build_dir, meta, Some(lock), built)
        };
        let args =
            vec!["-I".to_string(), runner.display().to_string(), source.display().to_string(), inline.function.clone()];
        Ok(Plugin {
            spec: ModuleSpec { name: label, module: String::new(), source: Source::PyPi { version: None } },
            env: plugin_env(&python, &self.cfg.plugin_env),
            python,
            module: String::new(),
            schema: PluginSchema { steps: [(INLINE_STEP.to_string(), schema)].into_iter().collect() },
            schema_value: Value::Map(Default::default()),
            build_dir,
            meta,
            built_now,
            startup_timeout: self.cfg.startup_timeout(),
            spare: std::sync::Mutex::new(None),
            args: Some(args),
            fork_server: Default::default(),
            _in_use: in_use,
        })
    }

    /// The complete venv of `requirements`, built at most once across processes, held in use.
    fn requirements_venv(
        &self,
        label: &str,
        python: &Interpreter,
        requirements: &[String],
    ) -> Result<(PathBuf, BuildMeta, LockGuard, bool)> {
        let err = |message: String| Error::Deploy { plugin: label.to_string(), message };
        let entry = self.workdir().entry(INLINE_ENTRY, &inline_key(requirements, python, &self.cfg));
        if let Some(found) = current_build(self.workdir(), &entry)? {
            return Ok((found.0, found.1, found.2, false));
        }
        if self.policy == PullPolicy::Never {
            return Err(err(
                "its venv is not in the cache and the pull policy is Never; run it once with IfNotPresent".into(),
            ));
        }
        workdir::create_private_dir(entry.path())?;
        let _build_lock = workdir::lock_exclusive(&entry.build_lock())?;
        // Another process may have finished the same build while we waited for the lock.
        if let Some(found) = current_build(self.workdir(), &entry)? {
            return Ok((found.0, found.1, found.2, false));
        }
        self.remove_incomplete(&entry);
        let started = std::time::Instant::now();
        let build_id = format!("b{}-{}", now_nanos(), std::process::id());
        let build = entry.build(&build_id);
        let key = format!("build:{}", entry.path().display());
        let shown = format!("{label} ({})", requirements.join(", "));
        self.observer.on_event(&RunEvent::BuildStarted { key: key.clone(), plugin: shown.clone() });
        let result = (|| -> Result<String> {
            workdir::create_private_dir(build.path())?;
            let installer = self.installer()?.clone();
            tracing::debug!("building a venv for {shown} with {}", installer.name());
            let venv = build.venv();
            Build { installer: &installer, python, cfg: &self.cfg, venv: &venv, targets: requirements, mirror: None }
                .run()
                .map_err(|e| err(format!("installing its requirements failed: {e}")))?;
            Ok(installer.name().to_string())
        })();
        self.observer.on_event(&RunEvent::BuildFinished {
            key,
            plugin: shown,
            ok: result.is_ok(),
            seconds: started.elapsed().as_secs_f64(),
            installer: result.as_ref().ok().cloned(),
        });
        let installer = match result {
            Ok(i) => i,
            Err(e) => {
                let _ = std::fs::remove_dir_all(build.path());
                return Err(e);
            }
        };
        let mut meta = meta_for(python, &requirements.join(", "), started.elapsed().as_secs_f64());
        meta.installer = installer;
        let meta_json = serde_json::to_vec_pretty(&meta).map_err(|e| err(e.to_string()))?;
        workdir::write_atomic(&build.meta(), &meta_json)?;
        workdir::write_atomic(&entry.current(), build_id.as_bytes())?;
        let (dir, meta, lock) =
            current_build(self.workdir(), &entry)?.ok_or_else(|| err("the new build vanished".into()))?;
        Ok((dir, meta, lock, true))
    }
}

/// The build `current` names, if it is complete, marked in use.
fn current_build(wd: &workdir::Workdir, entry: &EntryDir) -> Result<Option<(PathBuf, BuildMeta, LockGuard)>> {
    // Only a build id of ours: never a path elsewhere.
    let Some(build) = entry.read_current() else {
        return Ok(None);
    };
    let Ok(text) = crate::limits::read_bytes(&build.meta()) else {
        return Ok(None);
    };
    let Ok(meta) = serde_json::from_slice::<BuildMeta>(&text) else {
        return Ok(None);
    };
    if meta.format != BUILD_FORMAT || !Build::venv_python(&build.venv()).exists() {
        return Ok(None);
    }
    let lock = workdir::lock_shared(&build.use_lock())?;
    wd.check_before_exec(&Build::venv_python(&build.venv()))?;
    workdir::touch(&build.last_used(), now_unix());
    Ok(Some((build.path().to_path_buf(), meta, lock)))
}

fn meta_for(python: &Interpreter, source: &str, seconds: f64) -> BuildMeta {
    BuildMeta {
        format: BUILD_FORMAT,
        name: INLINE_ENTRY.to_string(),
        module: String::new(),
        source: format!("requirements: {source}"),
        commit: None,
        subdirectory: None,
        python: python.path.display().to_string(),
        python_version: python.version.clone(),
        installer: String::new(),
        created_unix: now_unix(),
        compatible: true,
        created_ms: now_nanos() / 1_000_000,
        build_seconds: seconds,
    }
}

/// `<dir>/<prefix>-<sha16>.py` holding `text`, written once (its name is its content).
fn content_file(dir: &Path, prefix: &str, text: &str) -> Result<PathBuf> {
    let hash = hex::encode(&Sha256::digest(text.as_bytes())[..8]);
    let path = dir.join(format!("{prefix}-{hash}.py"));
    // The name says what the content must be: anything else there (a planted file, a link) is
    // replaced, never run.
    let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
        && std::fs::read(&path).is_ok_and(|b| b == text.as_bytes());
    if !ours {
        workdir::write_atomic(&path, text.as_bytes())?;
    }
    Ok(path)
}

/// The function's input scope, from its signature (the runner parses the source with `ast`:
/// nothing is imported or run, so no requirement is needed).
fn describe(python: &Path, runner: &Path, source: &Path, function: &str) -> std::result::Result<Scope, String> {
    let mut cmd = Command::new(python);
    cmd.arg("-I").arg(runner).arg("--describe").arg(source).arg(function);
    cmd.stdin(Stdio::null()).env_remove("PYTHONHOME").env_remove("PYTHONPATH");
    crate::sys::kill_child_with_parent(&mut cmd);
    let out = cmd.output().map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        return Err(format!("reading the function's signature failed ({}): {last}", out.status));
    }
    let d: Described =
        serde_json::from_str(stdout.trim()).map_err(|e| format!("the runner's description is unreadable: {e}"))?;
    if let Some(e) = d.error {
        return Err(e);
    }
    let input = d.input.ok_or("the runner described no input")?;
    Scope::from_value(&Value::from_json(&input)).map_err(|e| format!("the function's parameters: {e}"))
}

/// The step schema the engine checks an inline step against: the function's input, the
/// declared outputs, `success` as an object of anything when undeclared (`engine::check` types
/// it as `any`), and the `error` output the runner gives for an exception.
fn step_schema(input: Scope, inline: &InlineSource) -> std::result::Result<StepSchema, String> {
    let mut outputs: BTreeMap<String, OutputSchema> = inline
        .outputs
        .iter()
        .map(|(id, scope)| (id.clone(), OutputSchema { schema: scope.clone(), error: id == "error", display: None }))
        .collect();
    if !outputs.contains_key("success") {
        outputs.insert("success".into(), OutputSchema { schema: any_object()?, error: false, display: None });
    }
    if !outputs.contains_key("error") {
        outputs.insert("error".into(), OutputSchema { schema: error_scope()?, error: true, display: None });
    }
    Ok(StepSchema {
        id: INLINE_STEP.to_string(),
        input,
        outputs,
        signal_handlers: BTreeMap::new(),
        signal_emitters: BTreeMap::new(),
        display: None,
    })
}

fn scope_from_json(v: serde_json::Value) -> std::result::Result<Scope, String> {
    Scope::from_value(&Value::from_json(&v)).map_err(|e| e.to_string())
}

fn any_object() -> std::result::Result<Scope, String> {
    scope_from_json(serde_json::json!({"root": "Any", "objects": {"Any": {"id": "Any", "properties": {}}}}))
}

/// What the runner returns for an exception: its type, message and formatted traceback.
fn error_scope() -> std::result::Result<Scope, String> {
    let s = serde_json::json!({"type": {"type_id": "string"}});
    scope_from_json(serde_json::json!({
        "root": "InlineError",
        "objects": {"InlineError": {"id": "InlineError", "properties": {
            "type": s, "message": s, "traceback": s
        }}}
    }))
}
