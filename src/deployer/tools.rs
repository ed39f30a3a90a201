//! Owns the tools arcaflow-py installs for itself into `<workdir>/tools`: today uv, bootstrapped
//! once with the base interpreter's pip when the installer is `auto` and no uv is on PATH (a
//! venv build takes 1–2 s with uv against 7–19 s with pip).
//!
//! Layout: `<workdir>/tools/uv/bin/uv` is complete when it is there: it is installed into
//! `tools/.tmp-uv-*` and renamed into place, under `locks/tools.lock`. A bootstrap killed half-way
//! (even by kill -9) leaves only a `.tmp-*` directory, removed by the next bootstrap (which holds
//! the lock, so nobody is writing it) or by `cache prune`; `cache clean` removes the tools.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::python::Interpreter;
use super::venv;
use crate::config::PythonDeployer;
use crate::events::{Observer, RunEvent};
use crate::workdir::{self, Workdir};

/// Where a bootstrapped uv lives (whether or not it is there).
pub fn uv_path(workdir: &Workdir) -> PathBuf {
    workdir.tools_dir().join("uv").join("bin").join("uv")
}

/// The bootstrapped uv if it is complete.
pub fn installed_uv(workdir: &Workdir) -> Option<PathBuf> {
    let p = uv_path(workdir);
    // Run only a uv we installed: ours, in directories nobody else can write.
    (p.is_file() && workdir.check_before_exec(&p).is_ok()).then_some(p)
}

/// Installs uv into `<workdir>/tools` (once) and returns its path; `Err` says why it could not
/// (the caller then builds with pip). Announced as one line through the observer.
pub fn bootstrap_uv(
    workdir: &Workdir,
    python: &Interpreter,
    cfg: &PythonDeployer,
    observer: &dyn Observer,
) -> Result<PathBuf, String> {
    if let Some(p) = installed_uv(workdir) {
        return Ok(p);
    }
    let _lock = workdir::lock_exclusive(&workdir.tools_lock()).map_err(|e| e.to_string())?;
    // Another process may have installed it while we waited for the lock.
    if let Some(p) = installed_uv(workdir) {
        return Ok(p);
    }
    let tools = workdir.tools_dir();
    workdir::create_private_dir(&tools).map_err(|e| e.to_string())?;
    remove_leftovers(&tools);
    let started = Instant::now();
    let shown = format!("uv into {} (once per workdir: venv builds are faster with it)", tools.display());
    observer.on_event(&RunEvent::ToolInstallStarted { tool: "uv".into(), detail: shown.clone() });
    let tmp = tools.join(format!(".tmp-uv-{}", std::process::id()));
    let result = install(python, cfg, &tmp).and_then(|()| {
        // The final place must be free: a directory without bin/uv is an unusable leftover.
        let dest = tools.join("uv");
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::rename(&tmp, &dest).map_err(|e| format!("cannot move uv into {}: {e}", dest.display()))?;
        Ok(uv_path(workdir))
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    observer.on_event(&RunEvent::ToolInstallFinished {
        tool: "uv".into(),
        detail: shown,
        error: result.as_ref().err().cloned(),
        seconds: started.elapsed().as_secs_f64(),
    });
    result
}

/// `.tmp-*` directories of bootstraps that were killed; we hold the tools lock, so none is live.
fn remove_leftovers(tools: &Path) {
    for entry in std::fs::read_dir(tools).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(".tmp") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Installs uv into `dir`: with the base interpreter's pip (`pip install --target`), or, when
/// the base interpreter has no pip, into a venv at `dir` made with `python -m venv`. Either way
/// the binary ends up at `dir/bin/uv`. The index settings and offline mode are the builds' own.
fn install(python: &Interpreter, cfg: &PythonDeployer, dir: &Path) -> Result<(), String> {
    let base_has_pip = Command::new(&python.path)
        .args(["-m", "pip", "--version"])
        .stdin(std::process::Stdio::null())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let mut cmd;
    if base_has_pip {
        cmd = Command::new(&python.path);
        cmd.args(["-m", "pip", "install", "--target"]).arg(dir);
    } else {
        venv::run(Command::new(&python.path).arg("-m").arg("venv").arg(dir), "python -m venv")?;
        cmd = Command::new(dir.join("bin").join("python"));
        cmd.args(["-m", "pip", "install"]);
    }
    cmd.args(["--no-input", "--disable-pip-version-check", "--quiet"]);
    // pip's warning about running as root says nothing about what we do.
    cmd.env("PIP_ROOT_USER_ACTION", "ignore");
    venv::index_options(cfg, &mut cmd, false);
    cmd.arg("--").arg("uv");
    venv::run(&mut cmd, "pip install uv")?;
    let uv = dir.join("bin").join("uv");
    let check = Command::new(&uv).arg("--version").stdin(std::process::Stdio::null()).output();
    match check {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("the installed uv does not run: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => Err(format!("the installed uv does not run ({}): {e}", uv.display())),
    }
}
