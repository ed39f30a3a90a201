//! Owns validation and coercion of values against a scope: the normalized value we send to plugins.

use std::collections::BTreeMap;

use crate::value::{Key, Map, Value};

use super::model::{ObjectSchema, Scope, StringPattern, Type};
use super::units::{UnitNumber, Units};
use super::ValidationError;

/// Deepest value path we follow. Values come from YAML/CBOR decoders that already limit nesting;
/// this keeps hostile input from exhausting the stack here too.
const MAX_PATH: usize = 200;

impl Scope {
    /// Validates and coerces `v` against the root object and returns the normalized value:
    /// coerced scalars, defaults applied, unset optional properties left out.
    pub fn validate(&self, v: &Value) -> Result<Value, ValidationError> {
        let mut path = Vec::new();
        match self.root_object() {
            Some(object) => validate_object(object, self, v, &mut path),
            None => fail(&path, format!("Root object '{}' not found in scope", self.root)),
        }
    }
}

/// Text of the stand-in for a value known only at run time (see `Scope::check_known`). Inert in
/// ordinary validation: it is honoured only while a `check_known` call runs on this thread.
const UNKNOWN_TEXT: &str = "\u{0}arcaflow-py: known at run time\u{0}";

thread_local! {
    static ALLOW_UNKNOWN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A value known only at run time (it depends on a step output), for `Scope::check_known`.
pub fn unknown() -> Value {
    Value::String(UNKNOWN_TEXT.to_string())
}

fn is_unknown(v: &Value) -> bool {
    matches!(v, Value::String(s) if s == UNKNOWN_TEXT) && ALLOW_UNKNOWN.with(|a| a.get())
}

impl Scope {
    /// Checks what is known of a value before a run: parts that are [`unknown()`] match any
    /// type (and count as set), everything else is validated as by `validate`. So a literal that
    /// breaks the schema is found before anything starts, and nothing that may still become valid
    /// is rejected.
    pub fn check_known(&self, v: &Value) -> Result<(), ValidationError> {
        ALLOW_UNKNOWN.with(|a| a.set(true));
        let result = self.validate(v).map(|_| ());
        ALLOW_UNKNOWN.with(|a| a.set(false));
        result
    }
}

impl Type {
    /// `Scope::check_known` for a type whose refs resolve in `scope`.
    pub fn check_known_in(&self, scope: &Scope, v: &Value) -> Result<(), ValidationError> {
        ALLOW_UNKNOWN.with(|a| a.set(true));
        let result = self.validate_in(scope, v).map(|_| ());
        ALLOW_UNKNOWN.with(|a| a.set(false));
        result
    }

    /// Validates `v` against this type; refs resolve in `scope` (the scope the type was defined in).
    pub fn validate_in(&self, scope: &Scope, v: &Value) -> Result<Value, ValidationError> {
        validate_type(self, scope, v, &mut Vec::new())
    }
}

fn fail<T>(path: &[String], message: impl Into<String>) -> Result<T, ValidationError> {
    Err(ValidationError { path: path.to_vec(), message: message.into() })
}

/// Runs `f` with `segment` pushed on the path.
fn at<T>(
    path: &mut Vec<String>,
    segment: impl Into<String>,
    f: impl FnOnce(&mut Vec<String>) -> Result<T, ValidationError>,
) -> Result<T, ValidationError> {
    if path.len() >= MAX_PATH {
        return fail(path, "Value is nested too deeply");
    }
    path.push(segment.into());
    let result = f(path);
    path.pop();
    result
}

fn validate_type(ty: &Type, scope: &Scope, v: &Value, path: &mut Vec<String>) -> Result<Value, ValidationError> {
    if is_unknown(v) {
        return Ok(v.clone());
    }
    match ty {
        Type::String { min, max, pattern } => {
            let s = coerce_string(v).or_else(|m| fail(path, m))?;
            check_string(&s, *min, *max, pattern.as_ref()).or_else(|m| fail(path, m))?;
            Ok(Value::String(s))
        }
        Type::Pattern => {
            let s = coerce_string(v).or_else(|m| fail(path, m))?;
            check_regex(&s).or_else(|m| fail(path, m))?;
            Ok(Value::String(s))
        }
        Type::Integer { min, max, units } => {
            let i = coerce_int(v, units.as_ref()).or_else(|m| fail(path, m))?;
            if let Some(min) = min.filter(|min| i < *min) {
                return fail(path, format!("Must be at least {min}"));
            }
            if let Some(max) = max.filter(|max| i > *max) {
                return fail(path, format!("Must be at most {max}"));
            }
            Ok(Value::Int(i))
        }
        Type::Float { min, max, units } => {
            let f = coerce_float(v, units.as_ref()).or_else(|m| fail(path, m))?;
            if let Some(min) = min.filter(|min| f < *min) {
                return fail(path, format!("Must be at least {}", float_text(min)));
            }
            if let Some(max) = max.filter(|max| f > *max) {
                return fail(path, format!("Must be at most {}", float_text(max)));
            }
            Ok(Value::Float(f))
        }
        Type::Bool => coerce_bool(v).map(Value::Bool).or_else(|m| fail(path, m)),
        Type::EnumString { values } => {
            let s = coerce_string(v).or_else(|m| fail(path, m))?;
            if !values.contains_key(&s) {
                let expected: Vec<&str> = values.keys().map(String::as_str).collect();
                return fail(path, format!("'{s}' is not a valid value, expected one of: {}", expected.join(", ")));
            }
            Ok(Value::String(s))
        }
        Type::EnumInteger { values, units } => {
            let i = coerce_int(v, units.as_ref()).or_else(|m| fail(path, m))?;
            if !values.contains_key(&i) {
                let expected: Vec<String> = values.keys().map(i64::to_string).collect();
                return fail(path, format!("'{i}' is not a valid value, expected one of: {}", expected.join(", ")));
            }
            Ok(Value::Int(i))
        }
        Type::List { items, min, max } => {
            let Value::List(list) = v else {
                return fail(path, format!("Must be a list, got {}", v.type_name()));
            };
            check_count(list.len(), *min, *max).or_else(|m| fail(path, m))?;
            let mut out = Vec::with_capacity(list.len());
            for (i, item) in list.iter().enumerate() {
                out.push(at(path, format!("[{i}]"), |path| validate_type(items, scope, item, path))?);
            }
            Ok(Value::List(out))
        }
        Type::Map { keys, values, min, max } => {
            let Value::Map(map) = v else {
                return fail(path, format!("Must be a map, got {}", v.type_name()));
            };
            check_count(map.len(), *min, *max).or_else(|m| fail(path, m))?;
            let mut out = Map::new();
            for (key, value) in map {
                let new_key = at(path, format!("{{{key}}}"), |path| {
                    let key_value = match key {
                        Key::Str(s) => Value::String(s.clone()),
                        Key::Int(i) => Value::Int(*i),
                    };
                    let new_key = match validate_type(keys, scope, &key_value, path)? {
                        Value::String(s) => Key::Str(s),
                        Value::Int(i) => Key::Int(i),
                        other => {
                            return fail(
                                path,
                                format!("Map keys must be strings or integers, got {}", other.type_name()),
                            )
                        }
                    };
                    if out.contains_key(&new_key) {
                        return fail(path, format!("Duplicate map key '{new_key}' after conversion"));
                    }
                    Ok(new_key)
                })?;
                let new_value = at(path, format!("[{key}]"), |path| validate_type(values, scope, value, path))?;
                out.insert(new_key, new_value);
            }
            Ok(Value::Map(out))
        }
        Type::Object(object) => validate_object(object, scope, v, path),
        Type::Ref { id, namespace } => {
            let object = resolve_ref(id, namespace.as_deref(), scope).or_else(|m| fail(path, m))?;
            validate_object(object, scope, v, path)
        }
        Type::Scope(inner) => match inner.root_object() {
            Some(object) => validate_object(object, inner, v, path),
            None => fail(path, format!("Root object '{}' not found in scope", inner.root)),
        },
        Type::OneOfString { types, discriminator_field_name, .. } => {
            validate_one_of(types, discriminator_field_name, scope, v, path, |raw| {
                let s = coerce_string(raw)?;
                Ok((s.clone(), Value::String(s)))
            })
        }
        Type::OneOfInt { types, discriminator_field_name, .. } => {
            validate_one_of(types, discriminator_field_name, scope, v, path, |raw| {
                let i = coerce_int(raw, None)?;
                Ok((i, Value::Int(i)))
            })
        }
        Type::Any => Ok(v.clone()),
    }
}

/// The object a ref points to. Namespaced refs must have been resolved by the workflow loader
/// (`Scope::resolve_namespaced_refs`); one that is left is reported, not guessed.
pub(super) fn resolve_ref<'a>(id: &str, namespace: Option<&str>, scope: &'a Scope) -> Result<&'a ObjectSchema, String> {
    if let Some(namespace) = namespace {
        return Err(format!("Namespaced reference to object '{id}' in namespace '{namespace}' was not resolved"));
    }
    scope.objects.get(id).ok_or_else(|| format!("Referenced object '{id}' not found in scope"))
}

/// Checks a map against an object: unknown keys, then each property in sorted order (type and
/// `conflicts` when set; `required`, `required_if`, `required_if_not` when not). "Set" means given
/// with a non-null value or having a default, which is what the plugin will see.
fn validate_object(
    object: &ObjectSchema,
    scope: &Scope,
    v: &Value,
    path: &mut Vec<String>,
) -> Result<Value, ValidationError> {
    if is_unknown(v) {
        return Ok(v.clone());
    }
    let Value::Map(map) = v else {
        return fail(path, format!("Must be a map, got {}", v.type_name()));
    };
    // Integer keys are looked up by their text, so YAML `1: x` finds a property named "1".
    let mut given: BTreeMap<String, &Value> = BTreeMap::new();
    for (key, value) in map {
        let name = match key {
            Key::Str(s) => s.clone(),
            Key::Int(i) => i.to_string(),
        };
        if !object.properties.contains_key(&name) {
            let expected: Vec<&str> = object.properties.keys().map(String::as_str).collect();
            return fail(path, format!("Invalid parameter '{name}', expected one of: {}", expected.join(", ")));
        }
        if !matches!(value, Value::Null) {
            given.insert(name, value);
        }
    }
    let is_set =
        |name: &str| given.contains_key(name) || object.properties.get(name).is_some_and(|p| p.default.is_some());
    let mut out = Map::new();
    for (name, property) in &object.properties {
        let value = given.get(name).copied().or(property.default.as_ref());
        at(path, name.clone(), |path| {
            let Some(value) = value else {
                if property.required {
                    return fail(path, "This field is required");
                }
                if let Some(other) = property.required_if.iter().find(|other| is_set(other)) {
                    return fail(path, format!("This field is required because '{other}' is set"));
                }
                match property.required_if_not.as_slice() {
                    [] => {}
                    [other] if !is_set(other) => {
                        return fail(path, format!("This field is required because '{other}' is not set"));
                    }
                    others if !others.iter().any(|o| is_set(o)) => {
                        return fail(
                            path,
                            format!("This field is required because none of '{}' are set", others.join("', '")),
                        );
                    }
                    _ => {}
                }
                return Ok(());
            };
            let normalized = validate_type(&property.ty, scope, value, path)?;
            if let Some(other) = property.conflicts.iter().find(|other| is_set(other)) {
                return fail(path, format!("Field conflicts '{other}', set one of the two, not both"));
            }
            out.insert(Key::Str(name.clone()), normalized);
            Ok(())
        })?;
    }
    Ok(Value::Map(out))
}

/// One-of: find the member by the (coerced) discriminator, validate the map against it and keep
/// the discriminator in the result. The discriminator is removed before validating unless the
/// member object has a property of that name (Python's rule, equivalent to the
/// `discriminator_inlined` flag for well-formed schemas).
fn validate_one_of<K: Ord + std::fmt::Display>(
    types: &BTreeMap<K, Type>,
    field: &str,
    scope: &Scope,
    v: &Value,
    path: &mut Vec<String>,
    coerce: impl Fn(&Value) -> Result<(K, Value), String>,
) -> Result<Value, ValidationError> {
    let Value::Map(map) = v else {
        return fail(path, format!("Must be a map, got {}", v.type_name()));
    };
    let field_key = Key::Str(field.to_string());
    let picked = at(path, field, |path| {
        let raw = match map.get(&field_key) {
            Some(raw) if !matches!(raw, Value::Null) => raw,
            _ => return fail(path, "Required discriminator field not found"),
        };
        if is_unknown(raw) {
            return Ok(None);
        }
        let (key, discriminator) = coerce(raw).or_else(|m| fail(path, m))?;
        match types.get(&key) {
            Some(member) => Ok(Some((member, discriminator))),
            None => {
                let expected: Vec<String> = types.keys().map(ToString::to_string).collect();
                fail(path, format!("Invalid value for field: '{key}' expected one of: '{}'", expected.join("', '")))
            }
        }
    })?;
    // An unknown discriminator picks no member: nothing more can be checked.
    let Some((member, discriminator)) = picked else {
        return Ok(v.clone());
    };
    let (object, member_scope) = match member {
        Type::Ref { id, namespace } => {
            (resolve_ref(id, namespace.as_deref(), scope).or_else(|m| fail(path, m))?, scope)
        }
        Type::Object(object) => (object, scope),
        Type::Scope(inner) => match inner.root_object() {
            Some(object) => (object, inner),
            None => return fail(path, format!("Root object '{}' not found in scope", inner.root)),
        },
        other => return fail(path, format!("Invalid one_of member type {}", other.type_id())),
    };
    let mut input = map.clone();
    if object.properties.contains_key(field) {
        input.insert(field_key.clone(), discriminator.clone());
    } else {
        input.remove(&field_key);
    }
    let mut out = validate_object(object, member_scope, &Value::Map(input), path)?;
    if let Value::Map(m) = &mut out {
        m.entry(field_key).or_insert(discriminator);
    }
    Ok(out)
}

fn check_string(s: &str, min: Option<i64>, max: Option<i64>, pattern: Option<&StringPattern>) -> Result<(), String> {
    let len = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
    if let Some(min) = min.filter(|min| len < *min) {
        return Err(format!("String must be at least {min} characters"));
    }
    if let Some(max) = max.filter(|max| len > *max) {
        return Err(format!("String must be at most {max} characters"));
    }
    if let Some(pattern) = pattern {
        if let Some(re) = &pattern.compiled {
            if !re.is_match(s) {
                return Err(format!("String must match the pattern {}", pattern.source));
            }
        }
    }
    Ok(())
}

/// A `pattern` value must be a regular expression. Python (the plugin) uses `re`; syntax the Rust
/// engine does not support (look-around, backreferences) or that is too big for it is accepted
/// and left to the plugin; everything else that does not compile is rejected.
fn check_regex(s: &str) -> Result<(), String> {
    match regex::Regex::new(s) {
        Ok(_) => Ok(()),
        Err(regex::Error::Syntax(message)) if !message.contains("not supported") => {
            let detail = message.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
            Err(format!("Invalid regular expression: {}", detail.trim()))
        }
        Err(_) => Ok(()),
    }
}

fn check_count(len: usize, min: Option<i64>, max: Option<i64>) -> Result<(), String> {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    if let Some(min) = min.filter(|min| n < *min) {
        return Err(format!("Must have at least {min} items, {n} given"));
    }
    if let Some(max) = max.filter(|max| n > *max) {
        return Err(format!("Must have at most {max} items, {n} given"));
    }
    Ok(())
}

/// Text of a float as a user would write it (`1.5`, `2.0`, `1e20`), not Rust's `2`.
pub(super) fn float_text(f: f64) -> String {
    if f.is_nan() {
        "nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string())
    }
}

/// The text of a scalar (for string coercion and schema fields), `None` for null, lists and maps.
pub(super) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(float_text(*f)),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::List(_) | Value::Map(_) => None,
    }
}

pub(super) fn coerce_string(v: &Value) -> Result<String, String> {
    scalar_text(v).ok_or_else(|| format!("Must be a string, got {}", v.type_name()))
}

/// `^-?\d+$`, as the SDKs' `int(...)` / `ParseInt` accept it (no spaces, no `+`).
fn plain_int(s: &str) -> Option<Result<i64, String>> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<i64>().map_err(|_| format!("Integer '{s}' is out of range")))
}

fn whole_float_to_int(f: f64) -> Result<i64, String> {
    if f.fract() != 0.0 || !f.is_finite() {
        return Err("Must be an integer, float given".to_string());
    }
    // i64::MAX is not representable; 2^63 as f64 is the first value out of range.
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
        return Err(format!("Integer {} is out of range", float_text(f)));
    }
    Ok(f as i64)
}

pub(super) fn coerce_int(v: &Value, units: Option<&Units>) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) => whole_float_to_int(*f),
        Value::String(s) => match plain_int(s) {
            Some(result) => result,
            None => match units {
                Some(units) => match units.parse(s)? {
                    UnitNumber::Int(i) => Ok(i),
                    UnitNumber::Float(f) => whole_float_to_int(f),
                },
                None => Err(format!("Cannot parse '{s}' as an integer")),
            },
        },
        other => Err(format!("Must be an integer, got {}", other.type_name())),
    }
}

pub(super) fn coerce_float(v: &Value, units: Option<&Units>) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::String(s) => match s.parse::<f64>() {
            Ok(f) => Ok(f),
            Err(_) => match units {
                Some(units) => match units.parse(s)? {
                    UnitNumber::Int(i) => Ok(i as f64),
                    UnitNumber::Float(f) => Ok(f),
                },
                None => Err(format!("Cannot parse '{s}' as a float")),
            },
        },
        other => Err(format!("Must be a float, got {}", other.type_name())),
    }
}

/// Bool words of both SDKs, case-insensitive.
pub(super) fn coerce_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Int(0) => Ok(false),
        Value::Int(1) => Ok(true),
        Value::Int(i) => Err(format!("Cannot convert {i} to a bool, expected 0 or 1")),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "yes" | "y" | "on" | "true" | "enable" | "enabled" => Ok(true),
            "0" | "no" | "n" | "off" | "false" | "disable" | "disabled" => Ok(false),
            _ => Err(format!("Cannot parse '{s}' as a bool")),
        },
        other => Err(format!("Must be a bool, got {}", other.type_name())),
    }
}
