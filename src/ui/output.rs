//! Owns what goes to stdout: the result document, in YAML (default) or JSON.

use std::io::Write;

use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    #[default]
    Yaml,
    Json,
}

/// The reference engine's document: `output_data` and `output_id`, keys sorted.
pub fn document(output_id: &str, output_data: &Value) -> Value {
    Value::map_from([("output_data", output_data.clone()), ("output_id", Value::String(output_id.to_string()))])
}

pub fn render(doc: &Value, format: Format) -> String {
    match format {
        Format::Yaml => crate::yaml::emit::to_string(doc),
        Format::Json => {
            let mut s =
                serde_json::to_string_pretty(doc).unwrap_or_else(|e| format!("\"cannot render the output: {e}\""));
            s.push('\n');
            s
        }
    }
}

/// Writes to stdout; a reader that went away (closed pipe) is not an error for us.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}
