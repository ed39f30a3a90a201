//! Owns the cache key: what a venv entry's name is computed from. The deployer files its builds
//! under it and `cache prune --keep` finds them with it, so it is computed here only.

use sha2::{Digest, Sha256};

use crate::config::PythonDeployer;
use crate::deployer::python::Interpreter;
use crate::deployer::spec::{redact_url, ModuleSpec};

/// Bumped when the layout of a build changes, so old builds are never mistaken for new ones.
pub const BUILD_FORMAT: u32 = 2;

/// Everything a build depends on. Two specs with equal parts share one venv.
pub struct KeyParts<'a> {
    pub spec: &'a ModuleSpec,
    /// The resolved commit (git), `content-<digest>` (a local directory), or none (PyPI).
    pub commit: Option<&'a str>,
    pub subdirectory: Option<&'a str>,
    pub python: &'a Interpreter,
    /// The installer options that change what gets installed.
    pub cfg: &'a PythonDeployer,
}

/// The venv entry name of inline Python steps (`venvs/inline-python-<key16>/`).
pub const INLINE_ENTRY: &str = "inline-python";

/// The key of the venv of an inline step's requirements: the same parts as a plugin's, with the
/// sorted requirement lines in place of a commit, so the same set with the same interpreter and
/// index settings shares one venv.
pub fn inline_key(requirements: &[String], python: &Interpreter, cfg: &PythonDeployer) -> String {
    let spec = ModuleSpec {
        name: INLINE_ENTRY.to_string(),
        module: String::new(),
        source: crate::deployer::spec::Source::PyPi { version: None },
    };
    let reqs = serde_json::json!(requirements).to_string();
    let digest = hex::encode(Sha256::digest(reqs.as_bytes()));
    entry_key(&KeyParts {
        spec: &spec,
        commit: Some(&format!("requirements-{digest}")),
        subdirectory: None,
        python,
        cfg,
    })
}

/// The hex SHA-256 of the parts; the entry directory uses its first 16 characters.
pub fn entry_key(p: &KeyParts) -> String {
    let installer_options = serde_json::json!({
        "index_url": p.cfg.index_url.as_deref().map(redact_url),
        "extra_index_urls": p.cfg.extra_index_urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
        "find_links": p.cfg.find_links,
    });
    let parts = serde_json::json!([
        BUILD_FORMAT,
        p.spec.name,
        p.spec.module,
        p.spec.source_identity(),
        p.commit,
        p.subdirectory,
        p.python.path,
        p.python.version,
        installer_options,
    ]);
    hex::encode(Sha256::digest(parts.to_string().as_bytes()))
}
