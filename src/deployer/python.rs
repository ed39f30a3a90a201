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

/// Resolves the interpreter. Probing costs a Python start (and ~0.1 s more through a pyenv
/// shim), so pyenv shims are resolved the way `pyenv which` does, and versions are cached in
/// `cache` keyed by the real binary's path, size and modification time.
pub fn resolve(python_path: Option<&str>, semver: Option<&str>, cache: Option<&Path>) -> Result<Interpreter> {
    let given = python_path.unwrap_or(DEFAULT_PYTHON);
    let found = find_program(given).ok_or_else(|| Error::Deploy {
        plugin: "python".into(),
        message: format!("the interpreter '{given}' was not found (set pythonPath in the config)"),
    })?;
    let real = pyenv_target(&found).unwrap_or_else(|| found.clone());
    if is_elf(&real) {
        let real = real.canonicalize().unwrap_or(real);
        if let Some(version) = cached_version(cache, &real) {
            check_semver(&real, &version, semver)?;
            return Ok(Interpreter { path: real, version });
        }
    }
    let interp = probe(&found)?;
    if let Some(c) = cache {
        store_version(c, &interp);
    }
    check_semver(&interp.path, &interp.version, semver)?;
    Ok(interp)
}

fn probe(found: &Path) -> Result<Interpreter> {
    let out = Command::new(found).arg("-c").arg(PROBE).output().map_err(|e| Error::Deploy {
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
    let path = lines.next().map(PathBuf::from).filter(|p| p.is_absolute()).unwrap_or_else(|| found.to_path_buf());
    let path = path.canonicalize().unwrap_or(path);
    let version = lines.next().unwrap_or("").trim().to_string();
    Ok(Interpreter { path, version })
}

fn check_semver(path: &Path, version: &str, semver: Option<&str>) -> Result<()> {
    match semver {
        Some(want) if !version_matches(version, want) => Err(Error::Deploy {
            plugin: "python".into(),
            message: format!("pythonSemver is {want} but {} is Python {version}", path.display()),
        }),
        _ => Ok(()),
    }
}

fn is_elf(p: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(p).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF"
}

/// For a pyenv shim, the interpreter pyenv would run: PYENV_VERSION, else the nearest
/// `.python-version` above the current directory, else `$PYENV_ROOT/version`. `None` when that
/// cannot be told cheaply (several versions, `system`, no such binary): then we ask the shim.
fn pyenv_target(found: &Path) -> Option<PathBuf> {
    let shims = found.parent()?;
    if shims.file_name()? != "shims" {
        return None;
    }
    let root = shims.parent()?;
    let name = found.file_name()?;
    let from_file = |p: &Path| {
        std::fs::read_to_string(p).ok().map(|t| t.split_whitespace().map(str::to_string).collect::<Vec<_>>())
    };
    let versions: Vec<String> = match std::env::var("PYENV_VERSION") {
        Ok(v) if !v.is_empty() => v.split(':').map(str::to_string).collect(),
        _ => {
            let cwd = std::env::current_dir().ok()?;
            cwd.ancestors()
                .find_map(|d| from_file(&d.join(".python-version")))
                .or_else(|| from_file(&root.join("version")))?
        }
    };
    match versions.as_slice() {
        [one] if one != "system" => {
            let p = root.join("versions").join(one).join("bin").join(name);
            p.is_file().then_some(p)
        }
        _ => None,
    }
}

fn identity(p: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some(format!("{}:{}:{}", p.display(), m.size(), m.mtime()))
}

fn cached_version(cache: Option<&Path>, real: &Path) -> Option<String> {
    let text = crate::limits::read_bytes(&cache?.join("interpreters.json")).ok()?;
    let map: std::collections::BTreeMap<String, String> = serde_json::from_slice(&text).ok()?;
    map.get(&identity(real)?).cloned()
}

fn store_version(cache: &Path, interp: &Interpreter) {
    let Some(id) = identity(&interp.path) else { return };
    let file = cache.join("interpreters.json");
    let mut map: std::collections::BTreeMap<String, String> =
        crate::limits::read_bytes(&file).ok().and_then(|t| serde_json::from_slice(&t).ok()).unwrap_or_default();
    map.insert(id, interp.version.clone());
    if let Ok(bytes) = serde_json::to_vec_pretty(&map) {
        let _ = crate::workdir::write_atomic(&file, &bytes);
    }
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
