//! Owns `cache prune --keep`: what the given workflows need, found offline (no fetch, no build,
//! nothing written) with the same cache key the deployer files builds under.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::plan::Keep;
use super::scan::Inventory;
use crate::config::{Config, PythonDeployer};
use crate::deployer::python::{self, Interpreter};
use crate::deployer::spec::{ModuleSpec, Source};
use crate::deployer::{git, tree_digest};
use crate::error::Result;
use crate::plan;
use crate::ui::Printer;
use crate::workdir::key::{entry_key, KeyParts};
use crate::workdir::{EntryDir, Workdir};

/// What the `--keep` workflows need: the current build of the entry each of their plugins maps
/// to (computed offline, as a run would), and the git mirror of each git source. When the entry
/// cannot be computed offline, or is not in the cache (another interpreter, say), every current
/// build of that module name and source is kept instead: keeping too much is the safe side.
pub(super) fn keep_set(
    wd: &Workdir,
    config: &Config,
    workflows: &[PathBuf],
    inv: &Inventory,
    out: &Printer,
) -> Result<Keep> {
    let mut keep = Keep::default();
    if workflows.is_empty() {
        return Ok(keep);
    }
    // Resolved once, like a run resolves it once.
    let python =
        python::resolve(config.python.python_path.as_deref(), config.python.python_semver.as_deref(), Some(wd.root()));
    let mut specs = BTreeMap::new();
    for w in workflows {
        let context = w.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
        let wf = crate::workflow::Workflow::load(w, &context)?;
        for spec in plan::module_specs(&wf, config, &context)?.into_values() {
            specs.insert(spec.to_string(), spec);
        }
    }
    for (shown, spec) in specs {
        if let Source::Git { url, .. } = &spec.source {
            keep.mirrors.insert(git::mirror_path(wd, url));
        }
        let entry = match python
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|py| offline_entry(wd, &config.python, py, &spec).map_err(|e| e.to_string()))
        {
            Ok(e) => e,
            Err(e) => {
                out.warn(&format!(
                    "--keep: cannot compute the cache entry of {shown} ({e}); keeping every build of it"
                ));
                None
            }
        };
        let exact = entry.and_then(|entry| inv.entries.iter().position(|e| e.path == entry.path()));
        let subdirectory = match &spec.source {
            Source::Git { subdirectory, .. } => subdirectory.clone(),
            _ => None,
        };
        let identity = spec.source_identity();
        for b in inv.builds.iter().filter(|b| b.current) {
            let Some(m) = &b.meta else { continue };
            let wanted = match exact {
                Some(e) => b.entry == e,
                None => m.name == spec.name && m.source == identity && m.subdirectory == subdirectory,
            };
            if wanted {
                keep.builds.insert(b.path.clone());
            }
        }
    }
    Ok(keep)
}

/// The cache entry (`venvs/<name>-<key>`) that `spec` maps to, computed without building,
/// fetching or writing anything. A branch or tag is resolved in the existing mirror only;
/// `Ok(None)` when the source cannot be resolved offline (no mirror, a ref it does not have, a
/// local directory that is gone).
fn offline_entry(
    wd: &Workdir,
    cfg: &PythonDeployer,
    python: &Interpreter,
    spec: &ModuleSpec,
) -> Result<Option<EntryDir>> {
    let (commit, subdirectory) = match &spec.source {
        Source::Git { url, reference, subdirectory } => {
            // `Mirror::open` would re-create a broken mirror: only open one that is intact.
            let in_mirror =
                git::Mirror::existing(wd, url).and_then(|m| m.resolve(reference.as_deref(), git::Fetch::Offline).ok());
            let full_sha = reference
                .as_deref()
                .filter(|r| r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit()))
                .map(str::to_ascii_lowercase);
            match in_mirror.or(full_sha) {
                Some(c) => (Some(c), subdirectory.clone()),
                None => return Ok(None),
            }
        }
        Source::Local { path } => {
            if !path.is_dir() {
                return Ok(None);
            }
            (Some(format!("content-{}", &tree_digest(path)?[..16])), None)
        }
        Source::PyPi { .. } => (None, None),
    };
    let key =
        entry_key(&KeyParts { spec, commit: commit.as_deref(), subdirectory: subdirectory.as_deref(), python, cfg });
    Ok(Some(wd.entry(&spec.name, &key)))
}
