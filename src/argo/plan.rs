//! Owns the plan: the self-contained description of an exported workflow that every pod reads
//! (workflow files, config, pinned plugin specs, bundled files), and the lossless JSON wire form
//! of values that travel between pods as Argo parameters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::value::{Key, Value};

/// The plan format this binary writes and the only one it reads. A runner refuses other
/// formats, so a manifest never runs under a binary that would read it differently.
pub const PLAN_FORMAT: u32 = 1;

/// Written into the plan so a failing pod says which binary exported it.
pub const EXPORTER: &str = concat!("arcaflow-py ", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format: u32,
    pub exporter: String,
    /// The main workflow file, relative to the context.
    pub workflow: String,
    /// Every file the run needs, by path relative to the context: the workflow, its foreach
    /// sub-workflows and the files read with literal `readFile` paths.
    pub files: BTreeMap<String, String>,
    /// The engine config (YAML text), or empty for the defaults.
    pub config: String,
    /// Plugin `src` as written in the workflow → the spec pinned at export time.
    pub plugins: BTreeMap<String, String>,
    /// Top-level input fields that come from mounted Kubernetes Secrets: field → file, relative
    /// to the runner's `--secrets` directory.
    pub secret_inputs: BTreeMap<String, String>,
    /// Largest result (bytes of its wire JSON) a step may hand on as a parameter.
    pub inline_max: u64,
    /// Argo task name → step id, for messages.
    pub steps: BTreeMap<String, String>,
}

impl Plan {
    pub fn parse(text: &str, path: &Path) -> Result<Plan> {
        let err = |message: String| Error::Input { path: path.to_path_buf(), message };
        let raw: serde_json::Value =
            serde_json::from_str(text).map_err(|e| err(format!("the plan is not JSON: {e}")))?;
        let format = raw.get("format").and_then(serde_json::Value::as_u64);
        if format != Some(u64::from(PLAN_FORMAT)) {
            return Err(err(format!(
                "plan format {} is not supported by {EXPORTER} (it reads format {PLAN_FORMAT}); run the pods with the binary version that exported the manifest",
                format.map(|f| f.to_string()).unwrap_or_else(|| "(none)".into())
            )));
        }
        serde_json::from_value(raw).map_err(|e| err(format!("invalid plan: {e}")))
    }

    /// Writes the plan's files under `dir` and returns the main workflow's path there.
    pub fn materialize(&self, dir: &Path) -> Result<PathBuf> {
        for (rel, text) in &self.files {
            let rel_path = Path::new(rel);
            if rel_path.is_absolute() || rel_path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                return Err(Error::Run(format!("the plan holds a file outside its context: {rel}")));
            }
            let path = dir.join(rel_path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
            }
            std::fs::write(&path, text).map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        }
        Ok(dir.join(&self.workflow))
    }
}

/// The key that marks a map with integer keys in the wire form (JSON objects only have text keys).
pub const INT_KEYED: &str = "$arcaflow-int-keyed";

/// Encodes a value as JSON without losing integer map keys.
pub fn to_wire(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
        Value::String(s) => J::String(s.clone()),
        Value::List(items) => J::Array(items.iter().map(to_wire).collect()),
        Value::Map(m) if m.keys().any(|k| matches!(k, Key::Int(_))) => {
            let pairs = m
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Key::Int(i) => J::from(*i),
                        Key::Str(s) => J::String(s.clone()),
                    };
                    J::Array(vec![key, to_wire(v)])
                })
                .collect();
            J::Object([(INT_KEYED.to_string(), J::Array(pairs))].into_iter().collect())
        }
        Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.to_string(), to_wire(v))).collect()),
    }
}

/// Decodes [`to_wire`]'s form.
pub fn from_wire(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Object(m) if m.len() == 1 && m.get(INT_KEYED).is_some_and(J::is_array) => {
            let mut out = BTreeMap::new();
            for pair in m.get(INT_KEYED).and_then(J::as_array).into_iter().flatten() {
                if let Some([k, v]) = pair.as_array().map(Vec::as_slice) {
                    let key = match k {
                        J::Number(n) if n.as_i64().is_some() => Key::Int(n.as_i64().unwrap_or_default()),
                        J::String(s) => Key::Str(s.clone()),
                        other => Key::Str(other.to_string()),
                    };
                    out.insert(key, from_wire(v));
                }
            }
            Value::Map(out)
        }
        J::Array(items) => Value::List(items.iter().map(from_wire).collect()),
        J::Object(m) => Value::Map(m.iter().map(|(k, v)| (Key::Str(k.clone()), from_wire(v))).collect()),
        other => Value::from_json(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_keeps_integer_keys_and_types() {
        let v = Value::map_from([
            ("errors", Value::Map([(Key::Int(3), Value::String("x".into()))].into_iter().collect())),
            ("f", Value::Float(1.0)),
            ("i", Value::Int(1)),
            ("l", Value::List(vec![Value::Null, Value::Bool(true)])),
        ]);
        let text = serde_json::to_string(&to_wire(&v)).unwrap();
        assert_eq!(from_wire(&serde_json::from_str(&text).unwrap()), v);
    }

    #[test]
    fn other_plan_formats_are_refused_with_the_reason() {
        let err = Plan::parse(r#"{"format": 99}"#, Path::new("plan.json")).unwrap_err();
        assert!(err.to_string().contains("plan format 99 is not supported"), "{err}");
    }
}
