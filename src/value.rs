//! Owns the data model shared by every layer: workflow inputs, plugin outputs and expression results.
//!
//! YAML scalars keep their types (`"1"` stays text, `1` an integer, as in the reference engine), CBOR integers that fit are `Int(i64)` and maps are
//! ordered so that printed documents are stable (the reference engine sorts keys too).

use crate::yaml::Yaml;
use std::collections::BTreeMap;
use std::fmt;

/// A map key. Plugin schemas use integer keys (`enum_integer` values, `one_of_int` types, integer-keyed maps).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Int(i64),
    Str(String),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Str(s) => f.write_str(s),
        }
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::Str(s.to_string())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::Str(s)
    }
}

pub type Map = BTreeMap<Key, Value>;

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(Map),
}

impl Value {
    /// The name used in error messages, matching the schema vocabulary.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Field lookup by text key on a map value; `None` for other values.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(&Key::Str(key.to_string())),
            _ => None,
        }
    }

    pub fn map_from<I, K>(entries: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<Key>,
    {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Converts a YAML value, keeping scalar types. Tags are dropped here: the workflow loader
    /// interprets the tags it knows before it gets to plain data.
    pub fn from_yaml(y: &Yaml) -> Value {
        match y {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Int(i) => Value::Int(*i),
            Yaml::Float(f) => Value::Float(*f),
            Yaml::String(s) => Value::String(s.clone()),
            Yaml::Seq(items) => Value::List(items.iter().map(Value::from_yaml).collect()),
            Yaml::Map(m) => Value::Map(m.iter().map(|(k, v)| (key_from_yaml(k), Value::from_yaml(v))).collect()),
            Yaml::Tagged(t) => Value::from_yaml(&t.value),
        }
    }

    /// Converts a CBOR item from a plugin. Integers beyond i64 become floats rather than wrapping.
    pub fn from_cbor(c: &ciborium::Value) -> Value {
        use ciborium::Value as C;
        match c {
            C::Null => Value::Null,
            C::Bool(b) => Value::Bool(*b),
            C::Integer(i) => {
                let wide: i128 = (*i).into();
                match i64::try_from(wide) {
                    Ok(v) => Value::Int(v),
                    Err(_) => Value::Float(wide as f64),
                }
            }
            C::Float(f) => Value::Float(*f),
            C::Text(s) => Value::String(s.clone()),
            C::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
            C::Array(items) => Value::List(items.iter().map(Value::from_cbor).collect()),
            C::Map(entries) => {
                Value::Map(entries.iter().map(|(k, v)| (key_from_cbor(k), Value::from_cbor(v))).collect())
            }
            C::Tag(_, inner) => Value::from_cbor(inner),
            _ => Value::Null,
        }
    }

    pub fn to_cbor(&self) -> ciborium::Value {
        use ciborium::Value as C;
        match self {
            Value::Null => C::Null,
            Value::Bool(b) => C::Bool(*b),
            Value::Int(i) => C::Integer((*i).into()),
            Value::Float(f) => C::Float(*f),
            Value::String(s) => C::Text(s.clone()),
            Value::List(items) => C::Array(items.iter().map(Value::to_cbor).collect()),
            Value::Map(m) => C::Map(
                m.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Key::Int(i) => C::Integer((*i).into()),
                            Key::Str(s) => C::Text(s.clone()),
                        };
                        (key, v.to_cbor())
                    })
                    .collect(),
            ),
        }
    }

    pub fn from_json(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::String(s.clone()),
            J::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            J::Object(m) => Value::Map(m.iter().map(|(k, v)| (Key::Str(k.clone()), Value::from_json(v))).collect()),
        }
    }
}

fn key_from_yaml(k: &Yaml) -> Key {
    match k {
        Yaml::Int(i) => Key::Int(*i),
        Yaml::Tagged(t) => key_from_yaml(&t.value),
        other => Key::Str(other.key_text()),
    }
}

fn key_from_cbor(k: &ciborium::Value) -> Key {
    use ciborium::Value as C;
    match k {
        C::Integer(i) => {
            let wide: i128 = (*i).into();
            match i64::try_from(wide) {
                Ok(v) => Key::Int(v),
                Err(_) => Key::Str(wide.to_string()),
            }
        }
        C::Text(s) => Key::Str(s.clone()),
        C::Bool(b) => Key::Str(b.to_string()),
        C::Float(f) => Key::Str(f.to_string()),
        other => Key::Str(format!("{other:?}")),
    }
}

impl serde::Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Key::Int(i) => s.serialize_i64(*i),
            Key::Str(v) => s.serialize_str(v),
        }
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::String(v) => s.serialize_str(v),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl fmt::Display for Value {
    /// A compact JSON-like rendering for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{self:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_scalars_keep_their_types() {
        let y = crate::yaml::parse_text("a: true\nb: 5\nc: 1.5\nd: '5'\ne: null").unwrap();
        let v = Value::from_yaml(&y);
        assert_eq!(v.get("a"), Some(&Value::Bool(true)));
        assert_eq!(v.get("b"), Some(&Value::Int(5)));
        assert_eq!(v.get("c"), Some(&Value::Float(1.5)));
        assert_eq!(v.get("d"), Some(&Value::String("5".into())));
        assert_eq!(v.get("e"), Some(&Value::Null));
    }

    #[test]
    fn cbor_round_trip_keeps_integer_keys() {
        let v = Value::Map([(Key::Int(1), Value::String("x".into()))].into_iter().collect());
        assert_eq!(Value::from_cbor(&v.to_cbor()), v);
    }

    #[test]
    fn huge_cbor_integers_do_not_wrap() {
        let c = ciborium::Value::Integer(u64::MAX.into());
        assert!(matches!(Value::from_cbor(&c), Value::Float(_)));
    }
}
