//! Owns the Arcaflow schema language: model, parser (plugin hello and workflow `input`), validator and expression types.
//!
//! # Parsing (`PluginSchema::from_value`, `Scope::from_value`)
//!
//! Both the plugin wire form (the CBOR schema in a plugin's hello) and the workflow YAML form
//! (a workflow's `input:` section) are accepted: maps keyed by text, `type_id` next to a type's fields,
//! `display: {}` (normalized to `None`), integer keys for `enum_integer` values, `one_of_int`
//! types and unit multipliers (`Key::Int`, or text that parses as an integer, e.g. YAML `"1":`).
//! Scalars may be typed or text (`min: 1`, `min: "1"`, `required: false`, `required: "no"`);
//! an explicit null counts as absent. Everything that is wrong is a `SchemaError` with the path
//! of the definition, never a panic:
//! * unknown keys (`Invalid parameter 'x', expected one of: ...`), unknown `type_id`;
//! * an `id` that differs from its map key (a missing `id` in a keyed map defaults to the key);
//! * a `root` that names no object; a `ref` without namespace to an object its scope lacks;
//! * IDs of steps, outputs, signals, objects and refs not matching `^[$@a-zA-Z0-9-_]+$` (1–255
//!   chars). Property names only need to be non-empty (as in the Go SDK);
//! * map key types other than string / integer / enum_string / enum_integer; one_of members
//!   other than ref / object / scope; empty enum values or one_of types.
//!
//! Defaults are JSON text, decoded when parsing: `'"x"'` → `x`, `'1'` → 1, `'[]'`. For text
//! types (string, pattern, enum_string) text that is not JSON is the literal string (`10s`, `''`);
//! for other types it is a SchemaError. Typed YAML values (`default: 60`, `default: [1]`) are used
//! as they are, and a JSON `null` default means "no default". Defaults are coerced when applied,
//! so an unusable default is reported at the property's path during validation.
//!
//! `ref` with a `namespace` is kept; `Scope::resolve_namespaced_refs` replaces such refs with
//! the borrowed object (as a nested scope) once the workflow loader knows the step schemas.
//!
//! # Validation (`Scope::validate`)
//!
//! Values arrive with real types (YAML scalars keep theirs). The result is the normalized value we
//! send to the plugin, so coercions below are what the Python plugin then receives:
//! * string: text; int / float / bool → their text (`5`, `1.5`, `2.0`, `true`). `min`/`max` count
//!   Unicode code points. `pattern` uses Python `re.match` semantics (anchored at the start only):
//!   `^(?:pattern)`; a pattern the Rust regex crate cannot compile is not checked (the plugin will).
//! * pattern: text that compiles as a regex; syntax Rust lacks (look-around, backreferences) is
//!   accepted and left to the plugin.
//! * integer: int; float with zero fraction; text `^-?\d+$`; with `units`, unit strings such as
//!   `5MB`, `1kB512B`, `90s`, `1H` (case-sensitive names, parts summed, see `Units::parse`).
//!   Bools are rejected (Go and Python accept them as 0/1, which is never what a user means).
//! * float: float; int; numeric text; unit strings. Bools are rejected.
//! * bool: bool; int 0/1; text `1 yes y on true enable enabled` / `0 no n off false disable
//!   disabled`, case-insensitive.
//! * enum_string / enum_integer: coerced like string / integer, then must be a key.
//! * list: items validated with path segment `[i]`; `min`/`max` item counts.
//! * map: keys validated against the key type (text digits become `Key::Int` for integer keys),
//!   path `{key}` for a key error and `[key]` for a value error; `min`/`max` counts.
//! * object / ref / scope: a map; unknown keys rejected; null = unset; defaults applied; then each
//!   property in sorted order: its type and `conflicts` when set, `required`, `required_if`,
//!   `required_if_not` when not. "Set" means given non-null or defaulted (what the plugin sees).
//!   The result omits unset optional properties (no nulls). The Go quirk of accepting a bare
//!   value for a one-property object is not copied.
//! * one_of_string / one_of_int: a map with the discriminator (default `_type`), coerced to
//!   text / int. It is removed before validating the member unless the member object declares it
//!   (inlined), and it is always present in the result.
//! * any: anything, null included.
//!
//! Errors stop at the first problem. Path segments are property ids, `[i]`, `{k}`, `[k]`, and the
//! discriminator field for one_of errors. Messages follow the SDKs: `This field is required`,
//! `Must be at most 5`, `String must match the pattern ^[a-z]+$`, `Field conflicts 'b', set one
//! of the two, not both`, `Invalid value for field: 'zzz' expected one of: 'full', 'nick'` ...
//!
//! # Expression types (`Scope::expr_type`)
//!
//! Refs resolve within their scope; object nesting deeper than `EXPR_TYPE_MAX_DEPTH` and
//! unresolved namespaced refs are `ExprType::Any`. One-of members always get the discriminator
//! field. Optional properties have their plain type (there is no optional in `ExprType`).

mod model;
mod parse;
mod types;
mod units;
mod validate;

#[cfg(test)]
mod tests;

pub use model::{
    Display, ObjectSchema, OutputSchema, PluginSchema, Property, Scope, SignalSchema, StepSchema, StringPattern, Type,
    DEFAULT_DISCRIMINATOR,
};
pub use types::EXPR_TYPE_MAX_DEPTH;
pub use units::{Unit, UnitNumber, Units};
pub use validate::unknown;

/// A schema definition that cannot be used. `path` locates it in the definition
/// (e.g. `steps -> greet -> input -> objects -> GreetInput -> properties -> name -> type`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", render(.path, .message))]
pub struct SchemaError {
    pub path: Vec<String>,
    pub message: String,
}

/// A value that does not match a schema. `path` segments are property ids, `[i]` list items,
/// `{k}` map keys and `[k]` map values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", render(.path, .message))]
pub struct ValidationError {
    pub path: Vec<String>,
    pub message: String,
}

impl SchemaError {
    /// The same error seen from a parent definition (e.g. prefix `["input"]` for a workflow).
    pub fn prefixed(mut self, prefix: &[&str]) -> SchemaError {
        let mut path: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        path.append(&mut self.path);
        self.path = path;
        self
    }
}

fn render(path: &[String], message: &str) -> String {
    if path.is_empty() {
        message.to_string()
    } else {
        format!("{}: {message}", path.join(" -> "))
    }
}
