//! Owns the `kind: python` extension (arcaflow-py, not in the reference format): an inline Python
//! function run as a step. The step is parsed into a [`super::PluginStep`] whose `inline` part
//! holds the source, so the engine checks and runs it like any plugin step (same client,
//! timeouts, cancellation, retries); `deployer::inline` turns it into a runnable plugin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::schema::Scope;
use crate::value::Value;
use crate::yaml::{Mapping, Yaml as Y};

/// The plugin step id an inline step's runner offers.
pub const INLINE_STEP: &str = "main";

#[derive(Debug, Clone, PartialEq)]
pub struct InlineSource {
    /// The Python source text.
    pub source: String,
    /// The file the source was read from (`file:`, joined to the context directory).
    pub file: Option<PathBuf>,
    /// The function that is called (default `main`).
    pub function: String,
    /// PEP 508 lines, sorted and without duplicates (one venv per distinct set).
    pub requirements: Vec<String>,
    /// Declared output schemas (`outputs:`); `success` is `any` when not declared.
    pub outputs: BTreeMap<String, Scope>,
}

impl InlineSource {
    /// What steps with the same source, function, requirements and outputs share: one deployed
    /// "plugin" (the key of `plan::plugin_key`).
    pub fn digest(&self) -> String {
        let outputs: BTreeMap<&String, String> = self.outputs.iter().map(|(k, v)| (k, format!("{v:?}"))).collect();
        let parts = serde_json::json!([self.source, self.function, self.requirements, outputs]);
        hex::encode(&Sha256::digest(parts.to_string().as_bytes())[..16])
    }
}

/// The keys a `kind: python` step may have.
pub const KEYS: &[&str] = &[
    "kind",
    "source",
    "file",
    "function",
    "requirements",
    "input",
    "outputs",
    "enabled",
    "wait_for",
    "closure_wait_timeout",
    "timeout",
    "retry",
    "artifacts",
];

/// Parses the inline part of a `kind: python` step; `at` is `steps -> <id>`.
pub fn parse(at: &str, m: &Mapping, context: &Path) -> Result<InlineSource, String> {
    let text = |key: &str| -> Result<Option<String>, String> {
        match m.get(key) {
            None => Ok(None),
            Some(Y::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("{at} -> {key} must be a string, got {other}")),
        }
    };
    let (source, file) = match (text("source")?, text("file")?) {
        (Some(_), Some(_)) => return Err(format!("{at}: give either source or file, not both")),
        (None, None) => {
            return Err(format!(
                "{at}: a python step needs source: (the code) or file: (a .py file relative to the context)"
            ))
        }
        (Some(s), None) => (s, None),
        (None, Some(f)) => {
            let rel = PathBuf::from(&f);
            if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                return Err(format!("{at} -> file: '{f}' must be a path inside the context directory"));
            }
            let full = context.join(&rel);
            let s = crate::limits::read_text(&full).map_err(|e| format!("{at} -> file: {e}"))?;
            (s, Some(full))
        }
    };
    if source.trim().is_empty() {
        return Err(format!("{at} -> source is empty"));
    }
    let function = text("function")?.unwrap_or_else(|| "main".to_string());
    if !is_identifier(&function) {
        return Err(format!("{at} -> function: '{function}' is not a Python identifier"));
    }
    let mut requirements = Vec::new();
    match m.get("requirements") {
        None => {}
        Some(Y::Seq(items)) => {
            for item in items {
                let line = item
                    .as_str()
                    .map(str::trim)
                    .ok_or(format!("{at} -> requirements: {item} is not a string (PEP 508 lines)"))?;
                check_requirement(line).map_err(|e| format!("{at} -> requirements: '{line}' {e}"))?;
                requirements.push(line.to_string());
            }
        }
        Some(other) => return Err(format!("{at} -> requirements must be a list of PEP 508 lines, got {other}")),
    }
    requirements.sort();
    requirements.dedup();
    let mut outputs = BTreeMap::new();
    if let Some(node) = m.get("outputs") {
        let om = node.as_mapping().ok_or(format!("{at} -> outputs must be a map from output id to a schema scope"))?;
        for (k, v) in om {
            let id = k.as_str().ok_or(format!("{at} -> outputs: output ids must be strings"))?;
            let scope = Scope::from_value(&Value::from_yaml(v)).map_err(|e| format!("{at} -> outputs -> {id}: {e}"))?;
            outputs.insert(id.to_string(), scope);
        }
    }
    Ok(InlineSource { source, file, function, requirements, outputs })
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A requirement is handed to pip or uv as one argument after `--`: it must look like a PEP 508
/// line, not an option or several lines.
fn check_requirement(line: &str) -> Result<(), &'static str> {
    if line.is_empty() {
        return Err("is empty");
    }
    if line.starts_with('-') {
        return Err("is an installer option, not a requirement");
    }
    if line.chars().any(|c| c.is_control()) {
        return Err("has a control character");
    }
    if !line.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
        return Err("must start with a distribution name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<InlineSource, String> {
        let y = crate::yaml::parse_text(text).unwrap();
        parse("steps -> s", y.as_mapping().unwrap(), Path::new("/nonexistent"))
    }

    #[test]
    fn requirements_are_sorted_and_deduplicated_and_options_refused() {
        let s = parse_text("{source: 'def main(): pass', requirements: [b==1, a, b==1]}").unwrap();
        assert_eq!(s.requirements, ["a", "b==1"]);
        let e = parse_text("{source: x, requirements: ['--index-url=http://evil']}").unwrap_err();
        assert!(e.contains("is an installer option"), "{e}");
    }

    #[test]
    fn source_or_file_and_a_function_name() {
        assert!(parse_text("{}").unwrap_err().contains("needs source:"));
        assert!(parse_text("{source: x, file: y.py}").unwrap_err().contains("not both"));
        assert!(parse_text("{file: ../y.py}").unwrap_err().contains("inside the context"));
        assert!(parse_text("{source: x, function: 'a b'}").unwrap_err().contains("not a Python identifier"));
        let a = parse_text("{source: x}").unwrap();
        let b = parse_text("{source: x, function: main}").unwrap();
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), parse_text("{source: y}").unwrap().digest());
    }
}
