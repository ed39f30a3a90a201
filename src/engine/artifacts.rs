//! Owns step artifacts (the `artifacts:` extension): the environment variable that names a
//! step's artifacts directory, the paths `$.steps.X.artifacts.<name>` resolves to, and the list
//! of files (size, sha256) a step left there.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::events::ArtifactFile;
use crate::value::{Key, Value};
use crate::workflow::Step;

/// The variable that tells a step's process where to write its artifacts.
pub(super) const ENV: &str = "ARCAFLOW_PY_ARTIFACTS";

/// At most this many files are listed (and hashed) per step: a step that writes a million
/// files still ends, and its record stays readable.
const MAX_FILES: usize = 10_000;

/// `{name: path}` for the step's declared artifacts, the data of `$.steps.X.artifacts`.
pub(super) fn paths(step: &Step, dir: &Path) -> Value {
    let map = step
        .artifact_names()
        .into_iter()
        .map(|(name, _)| {
            let path = dir.join(&name).display().to_string();
            (Key::from(name.as_str()), Value::String(path))
        })
        .collect();
    Value::Map(map)
}

/// The declared artifacts the step did not leave (a file that is not a file, a directory that
/// is not a directory).
pub(super) fn missing(step: &Step, dir: &Path) -> Vec<String> {
    step.artifact_names()
        .into_iter()
        .filter(|(name, is_dir)| {
            let p = dir.join(name);
            if *is_dir {
                !p.is_dir()
            } else {
                !p.is_file()
            }
        })
        .map(|(name, _)| name)
        .collect()
}

/// Every regular file under `dir`, sorted, with its size and SHA-256 (links are not followed).
pub(super) fn list(dir: &Path) -> Vec<ArtifactFile> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(false).sort_by_file_name().into_iter().flatten() {
        if out.len() >= MAX_FILES {
            tracing::warn!("{}: more than {MAX_FILES} files; the run state lists the first", dir.display());
            break;
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(dir) else { continue };
        let Some((size, sha256)) = digest(entry.path()) else { continue };
        let path = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        out.push(ArtifactFile { path, size, sha256 });
    }
    out
}

fn digest(path: &Path) -> Option<(u64, String)> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Some((size, hex::encode(h.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_listed_sorted_with_size_and_sha256() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("traces")).unwrap();
        std::fs::write(dir.path().join("report"), "abc").unwrap();
        std::fs::write(dir.path().join("traces/b.txt"), "").unwrap();
        let files = list(dir.path());
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["report", "traces/b.txt"]);
        assert_eq!(files[0].size, 3);
        assert_eq!(files[0].sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
