//! Owns how the Argo front-end reads and writes YAML: through the project's own reader (bounded,
//! `crate::yaml`) and emitter, so manifests are quoted the same way as every other document we print.

use serde::de::DeserializeOwned;

use crate::value::Value;

/// Reads one YAML document into a typed value (unknown fields are refused where the type says so).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let json = crate::yaml::parse_text(text).map_err(|e| e.to_string())?.to_json();
    serde_json::from_value(json).map_err(|e| e.to_string())
}

/// Reads every document of a multi-document stream (documents separated by `---` lines); empty
/// documents are dropped. Our reader takes one document at a time, so the stream is split first.
pub fn documents(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut flush = |chunk: &mut String| -> Result<(), String> {
        if !chunk.trim().is_empty() {
            let v = crate::yaml::parse_text(chunk).map_err(|e| e.to_string())?.to_json();
            if !v.is_null() {
                docs.push(v);
            }
        }
        chunk.clear();
        Ok(())
    };
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            flush(&mut current)?;
            current.push_str(line.strip_prefix("---").unwrap_or_default().trim_start());
            current.push('\n');
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    flush(&mut current)?;
    Ok(docs)
}

/// Renders a JSON value as YAML with the project's emitter (keys in the value's order).
pub fn to_string(v: &serde_json::Value) -> String {
    crate::yaml::emit::to_string(&Value::from_json(v))
}
