//! Owns virtualenv builds: picking the installer (uv, pip from outside, pip inside) and running it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::python::{find_program, Interpreter};
use crate::config::{Installer, PythonDeployer};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallerKind {
    /// `uv venv` + `uv pip install --compile-bytecode`: fastest.
    Uv(PathBuf),
    /// A venv without pip, filled by the base interpreter's pip (`pip --python`).
    PipOutside,
    /// `python -m venv` with pip, then the venv's own pip: slow but works everywhere.
    PipInside,
}

impl InstallerKind {
    pub fn name(&self) -> &'static str {
        match self {
            InstallerKind::Uv(_) => "uv",
            InstallerKind::PipOutside => "pip",
            InstallerKind::PipInside => "pip (in venv)",
        }
    }

    /// Picks the installer once per run.
    pub fn detect(cfg: &PythonDeployer, python: &Interpreter) -> Result<InstallerKind> {
        let uv = || {
            cfg.uv_path
                .as_deref()
                .and_then(find_program)
                .or_else(|| std::env::var("UV").ok().as_deref().and_then(find_program))
                .or_else(|| find_program("uv"))
        };
        match cfg.installer {
            Installer::Uv => uv().map(InstallerKind::Uv).ok_or_else(|| Error::Deploy {
                plugin: "installer".into(),
                message: "installer is 'uv' but no uv was found (install it with 'pip install uv' or set uvPath)"
                    .into(),
            }),
            Installer::Auto => Ok(match uv() {
                Some(p) => InstallerKind::Uv(p),
                None => pip_kind(python),
            }),
            Installer::Pip => Ok(pip_kind(python)),
        }
    }
}

/// `pip --python` needs pip >= 22.3 in the base interpreter.
fn pip_kind(python: &Interpreter) -> InstallerKind {
    let out = Command::new(&python.path).args(["-m", "pip", "--version"]).output();
    let version = out
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().nth(1).map(str::to_string));
    let new_enough = version
        .map(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
            let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
            (major, minor) >= (22, 3)
        })
        .unwrap_or(false);
    if new_enough {
        InstallerKind::PipOutside
    } else {
        InstallerKind::PipInside
    }
}

pub struct Build<'a> {
    pub installer: &'a InstallerKind,
    pub python: &'a Interpreter,
    pub cfg: &'a PythonDeployer,
    /// Where the venv goes (`<build>/venv`).
    pub venv: &'a Path,
    /// What to install: a directory or requirements such as `name==1.0` (one argument each).
    pub targets: &'a [String],
    /// A git requirement's repository URL and the local mirror that already holds the commit:
    /// uv's git fetches from the mirror instead of the network (see [`from_mirror`]).
    pub mirror: Option<(&'a str, &'a Path)>,
}

impl Build<'_> {
    pub fn venv_python(venv: &Path) -> PathBuf {
        venv.join("bin").join("python")
    }

    /// Creates the venv and installs the target; on failure the error carries the installer's output.
    pub fn run(&self) -> std::result::Result<(), String> {
        let venv = self.venv.to_string_lossy().to_string();
        let py = Self::venv_python(self.venv).to_string_lossy().to_string();
        let base = self.python.path.to_string_lossy().to_string();
        match self.installer {
            InstallerKind::Uv(uv) => {
                run(Command::new(uv).args(["venv", "--quiet", "--no-config", "--python", &base, &venv]), "uv venv")?;
                let mut cmd = Command::new(uv);
                cmd.args(["pip", "install", "--no-config", "--compile-bytecode", "--python", &py]);
                index_options(self.cfg, &mut cmd, true);
                cmd.arg("--").args(self.targets);
                if let Some((url, mirror)) = self.mirror {
                    from_mirror(&mut cmd, url, mirror);
                }
                run(&mut cmd, "uv pip install")
            }
            InstallerKind::PipOutside => {
                run(Command::new(&base).args(["-m", "venv", "--without-pip", &venv]), "python -m venv")?;
                let mut cmd = Command::new(&base);
                cmd.args([
                    "-m",
                    "pip",
                    "--python",
                    &py,
                    "install",
                    "--no-input",
                    "--disable-pip-version-check",
                    "--compile",
                ]);
                index_options(self.cfg, &mut cmd, false);
                cmd.arg("--").args(self.targets);
                run(&mut cmd, "pip install")
            }
            InstallerKind::PipInside => {
                run(Command::new(&base).args(["-m", "venv", &venv]), "python -m venv")?;
                let mut cmd = Command::new(&py);
                cmd.args(["-m", "pip", "install", "--no-input", "--disable-pip-version-check", "--compile"]);
                index_options(self.cfg, &mut cmd, false);
                cmd.arg("--").args(self.targets);
                run(&mut cmd, "pip install")
            }
        }
    }
}

/// Points uv's git at our mirror for `url`, through git's `url.<base>.insteadOf` given
/// in the environment (`GIT_CONFIG_COUNT`, after any entries the user set there): the installer
/// still sees, and caches its wheel under, the repository's own URL, so a later build of the same
/// commit reuses that wheel; but the commit, which the mirror already fetched, is not fetched
/// from the network again. uv fetches the commit by its id, which the mirror serves; pip clones
/// the repository's default branch first, which the mirror (refs only for what was asked) lacks,
/// so pip keeps fetching from the URL.
fn from_mirror(cmd: &mut Command, url: &str, mirror: &Path) {
    let first: usize = std::env::var("GIT_CONFIG_COUNT").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let entries = [
        (format!("url.file://{}.insteadOf", mirror.display()), url.to_string()),
        // The mirror keeps a pinned commit without a ref; protocol v2 serves it anyway, older
        // protocols only with this.
        ("uploadpack.allowAnySHA1InWant".to_string(), "true".to_string()),
    ];
    for (i, (key, value)) in entries.iter().enumerate() {
        cmd.env(format!("GIT_CONFIG_KEY_{}", first + i), key).env(format!("GIT_CONFIG_VALUE_{}", first + i), value);
    }
    cmd.env("GIT_CONFIG_COUNT", (first + entries.len()).to_string());
}

/// The config's index settings and offline mode, for uv or pip. Index URLs go through the
/// environment, never the command line: they may carry credentials, and any local user can read a
/// process's arguments (`/proc/<pid>/cmdline`) but not its environment.
pub(super) fn index_options(cfg: &PythonDeployer, cmd: &mut Command, uv: bool) {
    let (index, extra, newer) = if uv {
        // The newer names would win over the ones we set; the config's choice must.
        ("UV_INDEX_URL", "UV_EXTRA_INDEX_URL", Some(("UV_DEFAULT_INDEX", "UV_INDEX")))
    } else {
        ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", None)
    };
    if let Some(u) = &cfg.index_url {
        cmd.env(index, u);
        if let Some((default, _)) = newer {
            cmd.env_remove(default);
        }
    }
    if !cfg.extra_index_urls.is_empty() {
        // Both installers split this variable on whitespace, which a URL never holds.
        cmd.env(extra, cfg.extra_index_urls.join(" "));
        if let Some((_, more)) = newer {
            cmd.env_remove(more);
        }
    }
    for f in &cfg.find_links {
        cmd.arg("--find-links").arg(f);
    }
    if cfg.offline {
        // pip has no offline switch; no index means only find-links and local files.
        cmd.arg(if uv { "--offline" } else { "--no-index" });
    }
}

pub(super) fn run(cmd: &mut Command, what: &str) -> std::result::Result<(), String> {
    // Git must never ask for a password on a terminal nobody is watching.
    cmd.env("GIT_TERMINAL_PROMPT", "0");
    // These would point the new venv's Python at another installation.
    cmd.env_remove("PYTHONHOME").env_remove("PYTHONPATH");
    cmd.stdin(std::process::Stdio::null());
    // An installer must not outlive us: a build interrupted by kill -9 is discarded anyway.
    crate::sys::kill_child_with_parent(cmd);
    let shown = shown_command(cmd);
    tracing::debug!("{what}: {shown}");
    let started = std::time::Instant::now();
    let out: Output = cmd.output().map_err(|e| format!("cannot run {what}: {e}"))?;
    tracing::debug!("{what} ended in {:.2} s ({})", started.elapsed().as_secs_f64(), out.status);
    tracing::trace!(
        "{what} output:\n{}{}",
        redact_words(&String::from_utf8_lossy(&out.stdout)),
        redact_words(&String::from_utf8_lossy(&out.stderr))
    );
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    Err(format!("{what} failed ({}):\n{}", out.status, super::git::scrub(&tail)))
}

/// Text with credentials removed from every URL in it (installer output may quote index URLs).
fn redact_words(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|w| if w.contains("://") { crate::deployer::spec::redact_url(w) } else { w.to_string() })
        .collect()
}

/// A command line for the debug log, with credentials in URLs replaced.
fn shown_command(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| crate::deployer::spec::redact_url(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_urls_reach_the_installer_through_the_environment_only() {
        let cfg = PythonDeployer {
            index_url: Some("https://alice:s3cret@idx.example/simple".into()),
            extra_index_urls: vec!["https://bob:t0ken@x.example/simple".into(), "https://y.example/simple".into()],
            ..Default::default()
        };
        for uv in [true, false] {
            let mut cmd = Command::new("installer");
            index_options(&cfg, &mut cmd, uv);
            let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
            assert!(
                !args.iter().any(|a| a.contains("s3cret") || a.contains("t0ken") || a.contains("example")),
                "{args:?}"
            );
            let envs: Vec<(String, Option<String>)> = cmd
                .get_envs()
                .map(|(k, v)| (k.to_string_lossy().into_owned(), v.map(|v| v.to_string_lossy().into_owned())))
                .collect();
            let (index, extra) =
                if uv { ("UV_INDEX_URL", "UV_EXTRA_INDEX_URL") } else { ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL") };
            assert!(envs.contains(&(index.into(), cfg.index_url.clone())), "{envs:?}");
            assert!(envs.contains(&(extra.into(), Some(cfg.extra_index_urls.join(" ")))), "{envs:?}");
        }
    }
}
