//! Owns the base interpreter: resolving `pythonPath` (pyenv shims included) to the real binary and its version.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// The real interpreter: a pyenv shim costs ~0.1 s per launch, so it is never used directly.
    pub path: PathBuf,
    pub version: String,
}

pub const DEFAULT_PYTHON: &str = "python3";

const PROBE: &str = "import sys, platform; print(sys.executable); print(platform.python_version())";

pub fn resolve(python_path: Option<&str>, semver: Option<&str>) -> Result<Interpreter> {
    let given = python_path.unwrap_or(DEFAULT_PYTHON);
    let found = find_program(given).ok_or_else(|| Error::Deploy {
        plugin: "python".into(),
        message: format!("the interpreter '{given}' was not found (set pythonPath in the config)"),
    })?;
    let out = Command::new(&found).arg("-c").arg(PROBE).output().map_err(|e| Error::Deploy {
        plugin: "python".into(),
        message: format!("cannot run {}: {e}", found.display()),
    })?;
    if !out.status.success() {
        return Err(Error::Deploy {
            plugin: "python".into(),
            message: format!("{} failed: {}", found.display(), String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let path = lines.next().map(PathBuf::from).filter(|p| p.is_absolute()).unwrap_or(found);
    let version = lines.next().unwrap_or("").trim().to_string();
    if let Some(want) = semver {
        if !version_matches(&version, want) {
            return Err(Error::Deploy {
                plugin: "python".into(),
                message: format!("pythonSemver is {want} but {} is Python {version}", path.display()),
            });
        }
    }
    Ok(Interpreter { path, version })
}

/// `3.11` matches `3.11.7`; `3.11.7` matches only itself.
fn version_matches(have: &str, want: &str) -> bool {
    let have: Vec<&str> = have.split('.').collect();
    let want: Vec<&str> = want.trim_start_matches('v').split('.').collect();
    want.len() <= have.len() && want.iter().zip(&have).all(|(w, h)| w == h)
}

/// Looks a program up like a shell would: a name with a slash is a path, else search PATH.
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = Path::new(name);
        return p.is_file().then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_prefixes() {
        assert!(version_matches("3.11.7", "3.11"));
        assert!(version_matches("3.11.7", "3.11.7"));
        assert!(!version_matches("3.11.7", "3.12"));
        assert!(!version_matches("3.11", "3.11.7"));
    }
}
