//! Owns YAML: the node type that workflow, input and config files are read into (scalars keep their
//! types, tags are kept), the bounded reader, and the emitter of result documents.
//!
//! Reading uses `saphyr-parser` (a maintained, pure-Rust YAML 1.2 event parser) and builds nodes
//! here, so that alias expansion, nesting depth and node count are bounded while the file is read.
//! Printing is our own (`emit.rs`): it quotes every string that a YAML 1.1 or 1.2 reader would take
//! for another type.

pub mod emit;
mod load;

use std::fmt;

pub use crate::limits::Limits;

pub use load::parse;

/// Reads a YAML text within the limits in force (`limits::current()`).
pub fn parse_text(text: &str) -> Result<Yaml, ReadError> {
    parse(text, &crate::limits::current())
}

/// A YAML node. Plain scalars are resolved as serde_yaml did before (YAML 1.2 core schema, with
/// `0123` staying text); quoted and block scalars are strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Yaml>),
    Map(Mapping),
    Tagged(Box<Tagged>),
}

/// A node with a tag the core schema does not resolve (`!expr`, `!oneof`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged {
    /// `!expr` for a local tag, `tag:yaml.org,2002:x` for a global one.
    pub tag: String,
    pub value: Yaml,
}

/// A mapping in document order; keys are unique (a duplicate is a read error).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapping(Vec<(Yaml, Yaml)>);

static NULL: Yaml = Yaml::Null;

impl Yaml {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Yaml::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Yaml::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Yaml::Int(i) => Some(*i as f64),
            Yaml::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Yaml::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_mapping(&self) -> Option<&Mapping> {
        match self {
            Yaml::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_sequence(&self) -> Option<&Vec<Yaml>> {
        match self {
            Yaml::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Yaml::Null)
    }

    /// The value of a string key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        self.as_mapping().and_then(|m| m.get(key))
    }

    /// Plain data as JSON: tags are dropped, keys become text. Used for typed config reading.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Yaml::Null => J::Null,
            Yaml::Bool(b) => J::Bool(*b),
            Yaml::Int(i) => J::from(*i),
            Yaml::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Yaml::String(s) => J::String(s.clone()),
            Yaml::Seq(items) => J::Array(items.iter().map(Yaml::to_json).collect()),
            Yaml::Map(m) => J::Object(m.iter().map(|(k, v)| (k.key_text(), v.to_json())).collect()),
            Yaml::Tagged(t) => t.value.to_json(),
        }
    }

    /// A key as text: strings as they are, other scalars as they would be written.
    pub fn key_text(&self) -> String {
        match self {
            Yaml::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// A short rendering for messages (flow style, strings quoted only when needed).
impl fmt::Display for Yaml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Yaml::Null => f.write_str("null"),
            Yaml::Bool(b) => write!(f, "{b}"),
            Yaml::Int(i) => write!(f, "{i}"),
            Yaml::Float(x) => f.write_str(&emit::float_text(*x)),
            Yaml::String(s) => f.write_str(&emit::inline_string(s)),
            Yaml::Seq(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Yaml::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Yaml::Tagged(t) => write!(f, "{} {}", t.tag, t.value),
        }
    }
}

impl std::ops::Index<&str> for Yaml {
    type Output = Yaml;
    /// Like serde_yaml: a missing key (or a non-map) gives null.
    fn index(&self, key: &str) -> &Yaml {
        self.get(key).unwrap_or(&NULL)
    }
}

impl std::ops::Index<usize> for Yaml {
    type Output = Yaml;
    fn index(&self, i: usize) -> &Yaml {
        match self {
            Yaml::Seq(items) => items.get(i).unwrap_or(&NULL),
            Yaml::Map(m) => m.get_node(&Yaml::Int(i as i64)).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
}

impl Mapping {
    pub fn new() -> Mapping {
        Mapping(Vec::new())
    }

    pub fn get(&self, key: &str) -> Option<&Yaml> {
        self.0.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }

    pub fn get_node(&self, key: &Yaml) -> Option<&Yaml> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Takes a string key's value out.
    pub fn remove(&mut self, key: &str) -> Option<Yaml> {
        let at = self.0.iter().position(|(k, _)| k.as_str() == Some(key))?;
        Some(self.0.remove(at).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Yaml, &Yaml)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &Yaml> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds an entry; `false` when the key is already there (the entry is not added).
    fn insert_new(&mut self, key: Yaml, value: Yaml) -> bool {
        if self.get_node(&key).is_some() {
            return false;
        }
        self.0.push((key, value));
        true
    }
}

impl<'a> IntoIterator for &'a Mapping {
    type Item = (&'a Yaml, &'a Yaml);
    type IntoIter = Box<dyn Iterator<Item = (&'a Yaml, &'a Yaml)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Why a document was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("not valid YAML: {0}")]
    Syntax(String),
    #[error("{0}")]
    Limit(String),
}

/// Comparisons with plain Rust values, as serde_yaml's Value had them (handy in tests and checks).
impl PartialEq<str> for Yaml {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Yaml {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<i64> for Yaml {
    fn eq(&self, other: &i64) -> bool {
        self.as_i64() == Some(*other)
    }
}

impl PartialEq<i32> for Yaml {
    fn eq(&self, other: &i32) -> bool {
        self.as_i64() == Some(i64::from(*other))
    }
}

impl PartialEq<bool> for Yaml {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialEq<f64> for Yaml {
    fn eq(&self, other: &f64) -> bool {
        self.as_f64() == Some(*other)
    }
}
