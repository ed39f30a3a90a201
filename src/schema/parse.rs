//! Owns turning a schema definition (plugin hello wire form or workflow YAML form) into the model, with SchemaErrors instead of panics.

use std::collections::BTreeMap;

use crate::value::{Key, Map, Value};

use super::model::{
    Display, ObjectSchema, OutputSchema, PluginSchema, Property, Scope, SignalSchema, StepSchema, StringPattern, Type,
    DEFAULT_DISCRIMINATOR,
};
use super::units::{Unit, Units};
use super::validate::{coerce_bool, coerce_float, coerce_int, scalar_text};
use super::SchemaError;

/// Deepest schema definition path we follow. Real schemas are a few dozen segments deep; this only
/// stops hostile input (deeply nested CBOR) from exhausting the stack.
const MAX_PATH: usize = 128;

const TYPE_IDS: &[&str] = &[
    "any",
    "bool",
    "enum_integer",
    "enum_string",
    "float",
    "integer",
    "list",
    "map",
    "object",
    "one_of_int",
    "one_of_string",
    "pattern",
    "ref",
    "scope",
    "string",
];

impl PluginSchema {
    /// Parses the hello's `schema` map: `{steps: {<id>: <step>}}`.
    pub fn from_value(v: &Value) -> Result<PluginSchema, SchemaError> {
        let mut path = Vec::new();
        let fields = Fields::new(v, &path, "plugin schema", &["steps"])?;
        let steps_value = fields.require(&path, "steps")?;
        let steps =
            at(&mut path, "steps", |path| id_map(steps_value, path, "steps", |key, v, path| parse_step(v, path, key)))?;
        Ok(PluginSchema { steps })
    }
}

impl Scope {
    /// Parses a scope map `{root, objects}` (a `type_id: scope` next to them is tolerated), e.g. a
    /// workflow's `input` or a step output's `schema`.
    pub fn from_value(v: &Value) -> Result<Scope, SchemaError> {
        parse_scope(v, &mut Vec::new())
    }
}

fn err<T>(path: &[String], message: impl Into<String>) -> Result<T, SchemaError> {
    Err(SchemaError { path: path.to_vec(), message: message.into() })
}

/// Runs `f` with `segment` pushed on the path; also enforces the depth limit.
fn at<T>(
    path: &mut Vec<String>,
    segment: impl Into<String>,
    f: impl FnOnce(&mut Vec<String>) -> Result<T, SchemaError>,
) -> Result<T, SchemaError> {
    if path.len() >= MAX_PATH {
        return err(path, "Schema definition is nested too deeply");
    }
    path.push(segment.into());
    let result = f(path);
    path.pop();
    result
}

/// A definition map whose keys have been checked against the allowed field names.
struct Fields<'a> {
    map: &'a Map,
}

impl<'a> Fields<'a> {
    fn new(v: &'a Value, path: &[String], what: &str, allowed: &[&str]) -> Result<Fields<'a>, SchemaError> {
        let map = match v {
            Value::Map(m) => m,
            other => return err(path, format!("{what} must be a map, got {}", other.type_name())),
        };
        for key in map.keys() {
            let known = matches!(key, Key::Str(s) if allowed.contains(&s.as_str()));
            if !known {
                let mut names = allowed.to_vec();
                names.sort_unstable();
                return err(path, format!("Invalid parameter '{key}', expected one of: {}", names.join(", ")));
            }
        }
        Ok(Fields { map })
    }

    /// A field's value; an explicit null counts as absent (YAML `min: ~`).
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(&Key::Str(name.to_string())).filter(|v| !matches!(v, Value::Null))
    }

    fn require(&self, path: &[String], name: &str) -> Result<&'a Value, SchemaError> {
        match self.get(name) {
            Some(v) => Ok(v),
            None => err(path, format!("Missing required field '{name}'")),
        }
    }

    fn text(&self, path: &mut Vec<String>, name: &str) -> Result<Option<String>, SchemaError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => at(path, name, |path| match scalar_text(v) {
                Some(s) => Ok(Some(s)),
                None => err(path, format!("Must be a string, got {}", v.type_name())),
            }),
        }
    }

    fn int(&self, path: &mut Vec<String>, name: &str, non_negative: bool) -> Result<Option<i64>, SchemaError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => at(path, name, |path| match coerce_int(v, None) {
                Ok(i) if non_negative && i < 0 => err(path, format!("Must be at least 0, got {i}")),
                Ok(i) => Ok(Some(i)),
                Err(message) => err(path, message),
            }),
        }
    }

    fn float(&self, path: &mut Vec<String>, name: &str) -> Result<Option<f64>, SchemaError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => at(path, name, |path| coerce_float(v, None).map(Some).or_else(|m| err(path, m))),
        }
    }

    fn bool(&self, path: &mut Vec<String>, name: &str, default: bool) -> Result<bool, SchemaError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => at(path, name, |path| coerce_bool(v).or_else(|m| err(path, m))),
        }
    }

    /// A list of names; a single scalar is taken as a one-item list (YAML `conflicts: b`).
    fn text_list(&self, path: &mut Vec<String>, name: &str) -> Result<Vec<String>, SchemaError> {
        let Some(v) = self.get(name) else {
            return Ok(Vec::new());
        };
        at(path, name, |path| match v {
            Value::List(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match scalar_text(item) {
                    Some(s) => Ok(s),
                    None => at(path, format!("[{i}]"), |path| {
                        err(path, format!("Must be a string, got {}", item.type_name()))
                    }),
                })
                .collect(),
            other => match scalar_text(other) {
                Some(s) => Ok(vec![s]),
                None => err(path, format!("Must be a list of strings, got {}", other.type_name())),
            },
        })
    }
}

/// IDs of steps, objects, outputs, signals and refs: 1–255 characters of `[$@a-zA-Z0-9-_]`.
fn check_id(path: &[String], id: &str) -> Result<(), SchemaError> {
    let valid_chars = id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '$' | '@' | '-' | '_'));
    let len = id.chars().count();
    if !valid_chars || len == 0 || len > 255 {
        return err(path, format!("Invalid ID '{id}': must be 1-255 characters matching ^[$@a-zA-Z0-9-_]+$"));
    }
    Ok(())
}

/// The text of a map key; integer keys are accepted where text is expected (YAML `1:`).
fn key_text(key: &Key) -> String {
    match key {
        Key::Str(s) => s.clone(),
        Key::Int(i) => i.to_string(),
    }
}

/// An integer key: `Key::Int`, or text that parses as one (YAML authors may write `"1":`).
fn key_int(path: &[String], key: &Key) -> Result<i64, SchemaError> {
    match key {
        Key::Int(i) => Ok(*i),
        Key::Str(s) => match s.trim().parse::<i64>() {
            Ok(i) => Ok(i),
            Err(_) => err(path, format!("Key '{s}' must be an integer")),
        },
    }
}

fn as_map<'a>(v: &'a Value, path: &[String], what: &str) -> Result<&'a Map, SchemaError> {
    match v {
        Value::Map(m) => Ok(m),
        other => err(path, format!("{what} must be a map, got {}", other.type_name())),
    }
}

/// Parses a map keyed by IDs; `f` gets the key, the value and the path of the entry.
fn id_map<T>(
    v: &Value,
    path: &mut Vec<String>,
    what: &str,
    mut f: impl FnMut(&str, &Value, &mut Vec<String>) -> Result<T, SchemaError>,
) -> Result<BTreeMap<String, T>, SchemaError> {
    let map = as_map(v, path, what)?;
    let mut out = BTreeMap::new();
    for (key, value) in map {
        let key = key_text(key);
        let parsed = at(path, key.clone(), |path| {
            check_id(path, &key)?;
            f(&key, value, path)
        })?;
        out.insert(key, parsed);
    }
    Ok(out)
}

/// The `id` field of a keyed definition: optional, but when present it must equal the key
/// (the reference engine panics on a mismatch).
fn keyed_id(fields: &Fields, path: &mut Vec<String>, key: &str, what: &str) -> Result<String, SchemaError> {
    match fields.text(path, "id")? {
        None => Ok(key.to_string()),
        Some(id) if id == key => Ok(id),
        Some(id) => err(path, format!("{what} ID '{id}' does not match its key '{key}'")),
    }
}

fn parse_step(v: &Value, path: &mut Vec<String>, key: &str) -> Result<StepSchema, SchemaError> {
    let fields =
        Fields::new(v, path, "step", &["id", "input", "outputs", "signal_handlers", "signal_emitters", "display"])?;
    let id = keyed_id(&fields, path, key, "Step")?;
    let input_value = fields.require(path, "input")?;
    let input = at(path, "input", |path| parse_scope(input_value, path))?;
    let outputs_value = fields.require(path, "outputs")?;
    let outputs =
        at(path, "outputs", |path| id_map(outputs_value, path, "outputs", |_, v, path| parse_output(v, path)))?;
    let signal_handlers = parse_signals(&fields, path, "signal_handlers")?;
    let signal_emitters = parse_signals(&fields, path, "signal_emitters")?;
    let display = optional_display(&fields, path)?;
    Ok(StepSchema { id, input, outputs, signal_handlers, signal_emitters, display })
}

fn parse_output(v: &Value, path: &mut Vec<String>) -> Result<OutputSchema, SchemaError> {
    let fields = Fields::new(v, path, "output", &["schema", "display", "error"])?;
    let schema_value = fields.require(path, "schema")?;
    let schema = at(path, "schema", |path| parse_scope(schema_value, path))?;
    let error = fields.bool(path, "error", false)?;
    let display = optional_display(&fields, path)?;
    Ok(OutputSchema { schema, error, display })
}

fn parse_signals(
    fields: &Fields,
    path: &mut Vec<String>,
    name: &str,
) -> Result<BTreeMap<String, SignalSchema>, SchemaError> {
    let Some(v) = fields.get(name) else {
        return Ok(BTreeMap::new());
    };
    at(path, name, |path| {
        id_map(v, path, name, |key, v, path| {
            let fields = Fields::new(v, path, "signal", &["id", "data_schema", "display"])?;
            let id = keyed_id(&fields, path, key, "Signal")?;
            let data_value = fields.require(path, "data_schema")?;
            let data_schema = at(path, "data_schema", |path| parse_scope(data_value, path))?;
            let display = optional_display(&fields, path)?;
            Ok(SignalSchema { id, data_schema, display })
        })
    })
}

fn optional_display(fields: &Fields, path: &mut Vec<String>) -> Result<Option<Display>, SchemaError> {
    match fields.get("display") {
        None => Ok(None),
        Some(v) => {
            let display = at(path, "display", |path| parse_display(v, path))?;
            Ok(if display.is_empty() { None } else { Some(display) })
        }
    }
}

fn parse_display(v: &Value, path: &mut Vec<String>) -> Result<Display, SchemaError> {
    if matches!(v, Value::Null) {
        return Ok(Display::default());
    }
    let fields = Fields::new(v, path, "display", &["name", "description", "icon"])?;
    Ok(Display {
        name: fields.text(path, "name")?,
        description: fields.text(path, "description")?,
        icon: fields.text(path, "icon")?,
    })
}

fn parse_scope(v: &Value, path: &mut Vec<String>) -> Result<Scope, SchemaError> {
    let fields = Fields::new(v, path, "scope", &["root", "objects", "type_id"])?;
    expect_type_id(&fields, path, "scope")?;
    let objects_value = fields.require(path, "objects")?;
    let objects = at(path, "objects", |path| {
        id_map(objects_value, path, "objects", |key, v, path| parse_object(v, path, Some(key)))
    })?;
    let root = match fields.text(path, "root")? {
        Some(root) => root,
        None => return err(path, "Missing required field 'root'"),
    };
    at(path, "root", |path| {
        check_id(path, &root)?;
        if !objects.contains_key(&root) {
            let known: Vec<&str> = objects.keys().map(String::as_str).collect();
            return err(path, format!("Root object '{root}' not found in objects (known: {})", known.join(", ")));
        }
        Ok(())
    })?;
    let scope = Scope::new(root, objects);
    check_scope_refs(&scope, path)?;
    Ok(scope)
}

/// When a definition carries `type_id` where it is optional (scope and object maps), it must name that kind.
fn expect_type_id(fields: &Fields, path: &mut Vec<String>, expected: &str) -> Result<(), SchemaError> {
    match fields.text(path, "type_id")? {
        Some(t) if t != expected => {
            at(path, "type_id", |path| err(path, format!("Expected type_id '{expected}', got '{t}'")))
        }
        _ => Ok(()),
    }
}

/// `key` is the map key in a scope's `objects`; inline objects (`type_id: object`) have none and
/// must carry their `id`.
fn parse_object(v: &Value, path: &mut Vec<String>, key: Option<&str>) -> Result<ObjectSchema, SchemaError> {
    let fields = Fields::new(v, path, "object", &["id", "properties", "id_unenforced", "type_id"])?;
    expect_type_id(&fields, path, "object")?;
    let id = match key {
        Some(key) => keyed_id(&fields, path, key, "Object")?,
        None => match fields.text(path, "id")? {
            Some(id) => at(path, "id", |path| check_id(path, &id).map(|_| id.clone()))?,
            None => return err(path, "Missing required field 'id'"),
        },
    };
    let properties_value = fields.require(path, "properties")?;
    let properties = at(path, "properties", |path| {
        let map = as_map(properties_value, path, "properties")?;
        let mut out = BTreeMap::new();
        for (key, value) in map {
            let name = key_text(key);
            let property = at(path, name.clone(), |path| {
                // The Go SDK only asks for a non-empty property name; Python field names vary.
                if name.is_empty() {
                    return err(path, "Property names must not be empty");
                }
                parse_property(value, path)
            })?;
            out.insert(name, property);
        }
        Ok(out)
    })?;
    let id_unenforced = fields.bool(path, "id_unenforced", false)?;
    Ok(ObjectSchema { id, properties, id_unenforced })
}

fn parse_property(v: &Value, path: &mut Vec<String>) -> Result<Property, SchemaError> {
    let fields = Fields::new(
        v,
        path,
        "property",
        &[
            "type",
            "display",
            "default",
            "examples",
            "required",
            "required_if",
            "required_if_not",
            "conflicts",
            "disabled",
            "disabled_reason",
        ],
    )?;
    let type_value = fields.require(path, "type")?;
    let ty = at(path, "type", |path| parse_type(type_value, path))?;
    let default = match fields.get("default") {
        None => None,
        Some(v) => at(path, "default", |path| parse_default(v, &ty).or_else(|m| err(path, m)))?,
    };
    let examples = match fields.get("examples") {
        None => Vec::new(),
        Some(Value::List(items)) => items.iter().map(json_text).collect(),
        Some(other) => vec![json_text(other)],
    };
    Ok(Property {
        required: fields.bool(path, "required", true)?,
        default,
        required_if: fields.text_list(path, "required_if")?,
        required_if_not: fields.text_list(path, "required_if_not")?,
        conflicts: fields.text_list(path, "conflicts")?,
        display: optional_display(&fields, path)?,
        examples,
        disabled: fields.bool(path, "disabled", false)?,
        disabled_reason: fields.text(path, "disabled_reason")?,
        ty,
    })
}

/// Examples are JSON text on the wire; a typed YAML value is kept as its JSON rendering.
fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Defaults are JSON text (`'"x"'`, `'1'`, `'[]'`). Text that is not JSON is taken literally for
/// text-valued types (the Go SDK retries it wrapped in quotes: `10s`, `''`); for other types it is
/// an error. Typed YAML scalars (`default: 60`) and YAML lists/maps are used as they are. The
/// value is coerced to the property type only when applied.
fn parse_default(v: &Value, ty: &Type) -> Result<Option<Value>, String> {
    let Value::String(text) = v else {
        return Ok(Some(v.clone()));
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Null) => Ok(None),
        Ok(json) => Ok(Some(Value::from_json(&json))),
        Err(e) => match ty {
            Type::String { .. } | Type::Pattern | Type::EnumString { .. } => Ok(Some(Value::String(text.clone()))),
            _ => Err(format!("Default value {text:?} is not valid JSON ({e})")),
        },
    }
}

fn parse_type(v: &Value, path: &mut Vec<String>) -> Result<Type, SchemaError> {
    let map = as_map(v, path, "type")?;
    let type_id = match map.get(&Key::Str("type_id".to_string())) {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return at(path, "type_id", |path| err(path, format!("Must be a string, got {}", other.type_name())))
        }
        None => return err(path, "Missing required field 'type_id'"),
    };
    let fields_of = |path: &[String], names: &[&str]| {
        let mut allowed = names.to_vec();
        allowed.push("type_id");
        Fields::new(v, path, type_id, &allowed)
    };
    Ok(match type_id {
        "string" => {
            let f = fields_of(path, &["min", "max", "pattern"])?;
            Type::String {
                min: f.int(path, "min", true)?,
                max: f.int(path, "max", true)?,
                pattern: f.text(path, "pattern")?.map(|p| StringPattern::new(&p)),
            }
        }
        "pattern" => {
            fields_of(path, &[])?;
            Type::Pattern
        }
        "integer" => {
            let f = fields_of(path, &["min", "max", "units"])?;
            Type::Integer {
                min: f.int(path, "min", false)?,
                max: f.int(path, "max", false)?,
                units: parse_units_field(&f, path)?,
            }
        }
        "float" => {
            let f = fields_of(path, &["min", "max", "units"])?;
            Type::Float { min: f.float(path, "min")?, max: f.float(path, "max")?, units: parse_units_field(&f, path)? }
        }
        "bool" => {
            fields_of(path, &[])?;
            Type::Bool
        }
        "enum_string" => {
            let f = fields_of(path, &["values"])?;
            let values_value = f.require(path, "values")?;
            let values = at(path, "values", |path| {
                let map = non_empty_map(values_value, path)?;
                let mut out = BTreeMap::new();
                for (key, display) in map {
                    let name = key_text(key);
                    let display = at(path, name.clone(), |path| parse_display(display, path))?;
                    out.insert(name, display);
                }
                Ok(out)
            })?;
            Type::EnumString { values }
        }
        "enum_integer" => {
            let f = fields_of(path, &["values", "units"])?;
            let values_value = f.require(path, "values")?;
            let values = at(path, "values", |path| {
                let map = non_empty_map(values_value, path)?;
                let mut out = BTreeMap::new();
                for (key, display) in map {
                    let display = at(path, key_text(key), |path| {
                        let int = key_int(path, key)?;
                        Ok((int, parse_display(display, path)?))
                    })?;
                    out.insert(display.0, display.1);
                }
                Ok(out)
            })?;
            Type::EnumInteger { values, units: parse_units_field(&f, path)? }
        }
        "list" => {
            let f = fields_of(path, &["items", "min", "max"])?;
            let items_value = f.require(path, "items")?;
            Type::List {
                items: Box::new(at(path, "items", |path| parse_type(items_value, path))?),
                min: f.int(path, "min", true)?,
                max: f.int(path, "max", true)?,
            }
        }
        "map" => {
            let f = fields_of(path, &["keys", "values", "min", "max"])?;
            let keys_value = f.require(path, "keys")?;
            let keys = at(path, "keys", |path| {
                let keys = parse_type(keys_value, path)?;
                match keys {
                    Type::String { .. } | Type::Integer { .. } | Type::EnumString { .. } | Type::EnumInteger { .. } => {
                        Ok(keys)
                    }
                    other => err(
                        path,
                        format!(
                            "Map keys must be of type string, integer, enum_string or enum_integer, got {}",
                            other.type_id()
                        ),
                    ),
                }
            })?;
            let values_value = f.require(path, "values")?;
            Type::Map {
                keys: Box::new(keys),
                values: Box::new(at(path, "values", |path| parse_type(values_value, path))?),
                min: f.int(path, "min", true)?,
                max: f.int(path, "max", true)?,
            }
        }
        "object" => Type::Object(parse_object(v, path, None)?),
        "ref" => {
            let f = fields_of(path, &["id", "display", "namespace"])?;
            let id = match f.text(path, "id")? {
                Some(id) => at(path, "id", |path| check_id(path, &id).map(|_| id.clone()))?,
                None => return err(path, "Missing required field 'id'"),
            };
            // A ref's own display is checked for shape but not kept: the property's display is what
            // users see, and `Type::Ref` stays `{id, namespace}`.
            optional_display(&f, path)?;
            Type::Ref { id, namespace: f.text(path, "namespace")? }
        }
        "scope" => Type::Scope(parse_scope(v, path)?),
        "one_of_string" | "one_of_int" => {
            let f = fields_of(path, &["types", "discriminator_field_name", "discriminator_inlined"])?;
            let discriminator_field_name =
                f.text(path, "discriminator_field_name")?.unwrap_or_else(|| DEFAULT_DISCRIMINATOR.to_string());
            if discriminator_field_name.is_empty() {
                return at(path, "discriminator_field_name", |path| {
                    err(path, "The discriminator field name must not be empty")
                });
            }
            let discriminator_inlined = f.bool(path, "discriminator_inlined", false)?;
            let types_value = f.require(path, "types")?;
            let is_int = type_id == "one_of_int";
            // Keys are normalized first (Key::Int for one_of_int, text otherwise) so a bad key
            // is reported at its own path.
            let members = at(path, "types", |path| {
                let map = non_empty_map(types_value, path)?;
                let mut out = Vec::new();
                for (key, member) in map {
                    out.push(at(path, key_text(key), |path| {
                        let key = if is_int { Key::Int(key_int(path, key)?) } else { Key::Str(key_text(key)) };
                        match parse_type(member, path)? {
                            ty @ (Type::Ref { .. } | Type::Object(_) | Type::Scope(_)) => Ok((key, ty)),
                            other => err(
                                path,
                                format!("one_of members must be of type ref, object or scope, got {}", other.type_id()),
                            ),
                        }
                    })?);
                }
                Ok(out)
            })?;
            if is_int {
                let types = members
                    .into_iter()
                    .filter_map(|(k, t)| match k {
                        Key::Int(i) => Some((i, t)),
                        Key::Str(_) => None,
                    })
                    .collect();
                Type::OneOfInt { types, discriminator_field_name, discriminator_inlined }
            } else {
                let types = members.into_iter().map(|(k, t)| (key_text(&k), t)).collect();
                Type::OneOfString { types, discriminator_field_name, discriminator_inlined }
            }
        }
        "any" => {
            fields_of(path, &[])?;
            Type::Any
        }
        other => {
            return at(path, "type_id", |path| {
                err(path, format!("Unknown type_id '{other}', expected one of: {}", TYPE_IDS.join(", ")))
            })
        }
    })
}

fn non_empty_map<'a>(v: &'a Value, path: &[String]) -> Result<&'a Map, SchemaError> {
    let map = as_map(v, path, "values")?;
    if map.is_empty() {
        return err(path, "Must have at least 1 item");
    }
    Ok(map)
}

fn parse_units_field(fields: &Fields, path: &mut Vec<String>) -> Result<Option<Units>, SchemaError> {
    let Some(v) = fields.get("units") else {
        return Ok(None);
    };
    at(path, "units", |path| {
        let f = Fields::new(v, path, "units", &["base_unit", "multipliers"])?;
        let base_value = f.require(path, "base_unit")?;
        let base_unit = at(path, "base_unit", |path| parse_unit(base_value, path))?;
        let mut multipliers = BTreeMap::new();
        if let Some(m) = f.get("multipliers") {
            at(path, "multipliers", |path| {
                for (key, unit) in as_map(m, path, "multipliers")? {
                    at(path, key_text(key), |path| {
                        let multiplier = key_int(path, key)?;
                        if multiplier < 1 {
                            return err(path, "Unit multipliers must be at least 1");
                        }
                        multipliers.insert(multiplier, parse_unit(unit, path)?);
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
        }
        Ok(Some(Units { base_unit, multipliers }))
    })
}

fn parse_unit(v: &Value, path: &mut Vec<String>) -> Result<Unit, SchemaError> {
    let f = Fields::new(
        v,
        path,
        "unit",
        &["name_short_singular", "name_short_plural", "name_long_singular", "name_long_plural"],
    )?;
    Ok(Unit {
        name_short_singular: f.text(path, "name_short_singular")?.unwrap_or_default(),
        name_short_plural: f.text(path, "name_short_plural")?.unwrap_or_default(),
        name_long_singular: f.text(path, "name_long_singular")?.unwrap_or_default(),
        name_long_plural: f.text(path, "name_long_plural")?.unwrap_or_default(),
    })
}

/// Every ref without a namespace must name an object of its nearest enclosing scope (the reference
/// engine panics at run time otherwise). Nested `scope` types were checked when they were parsed.
fn check_scope_refs(scope: &Scope, path: &mut Vec<String>) -> Result<(), SchemaError> {
    at(path, "objects", |path| {
        for (id, object) in &scope.objects {
            at(path, id.clone(), |path| check_object_refs(object, scope, path))?;
        }
        Ok(())
    })
}

fn check_object_refs(object: &ObjectSchema, scope: &Scope, path: &mut Vec<String>) -> Result<(), SchemaError> {
    at(path, "properties", |path| {
        for (name, property) in &object.properties {
            at(path, name.clone(), |path| at(path, "type", |path| check_type_refs(&property.ty, scope, path)))?;
        }
        Ok(())
    })
}

fn check_type_refs(ty: &Type, scope: &Scope, path: &mut Vec<String>) -> Result<(), SchemaError> {
    match ty {
        Type::Ref { id, namespace: None } if !scope.objects.contains_key(id) => {
            let known: Vec<&str> = scope.objects.keys().map(String::as_str).collect();
            err(path, format!("Referenced object '{id}' not found in scope (known: {})", known.join(", ")))
        }
        Type::List { items, .. } => at(path, "items", |path| check_type_refs(items, scope, path)),
        Type::Map { keys, values, .. } => {
            at(path, "keys", |path| check_type_refs(keys, scope, path))?;
            at(path, "values", |path| check_type_refs(values, scope, path))
        }
        Type::Object(object) => check_object_refs(object, scope, path),
        Type::OneOfString { types, .. } => at(path, "types", |path| {
            for (key, member) in types {
                at(path, key.clone(), |path| check_type_refs(member, scope, path))?;
            }
            Ok(())
        }),
        Type::OneOfInt { types, .. } => at(path, "types", |path| {
            for (key, member) in types {
                at(path, key.to_string(), |path| check_type_refs(member, scope, path))?;
            }
            Ok(())
        }),
        _ => Ok(()),
    }
}

impl Scope {
    /// Resolves every `ref` that has a `namespace` (workflow input schemas borrowing a step's
    /// object, e.g. `namespace: $.steps.example.starting.inputs.input`). `resolve(namespace, id)`
    /// returns a scope rooted at `id` holding the objects `id` needs, or the message saying why
    /// it cannot (unknown namespace, no such object there). The ref is replaced by that scope
    /// (with `borrowed_from` set), so refs inside the borrowed object keep resolving in their own
    /// scope. Errors name the ref's path.
    pub fn resolve_namespaced_refs(
        &mut self,
        resolve: &mut dyn FnMut(&str, &str) -> Result<Scope, String>,
    ) -> Result<(), SchemaError> {
        let mut path = Vec::new();
        at(&mut path, "objects", |path| {
            for (id, object) in self.objects.iter_mut() {
                at(path, id.clone(), |path| resolve_in_object(object, resolve, path))?;
            }
            Ok(())
        })
    }
}

fn resolve_in_object(
    object: &mut ObjectSchema,
    resolve: &mut dyn FnMut(&str, &str) -> Result<Scope, String>,
    path: &mut Vec<String>,
) -> Result<(), SchemaError> {
    at(path, "properties", |path| {
        for (name, property) in object.properties.iter_mut() {
            at(path, name.clone(), |path| at(path, "type", |path| resolve_in_type(&mut property.ty, resolve, path)))?;
        }
        Ok(())
    })
}

fn resolve_in_type(
    ty: &mut Type,
    resolve: &mut dyn FnMut(&str, &str) -> Result<Scope, String>,
    path: &mut Vec<String>,
) -> Result<(), SchemaError> {
    match ty {
        Type::Ref { id, namespace: Some(namespace) } => {
            let mut borrowed = resolve(namespace, id).or_else(|m| err(path, m))?;
            borrowed.root = id.clone();
            borrowed.borrowed_from = Some(namespace.clone());
            *ty = Type::Scope(borrowed);
            Ok(())
        }
        Type::List { items, .. } => at(path, "items", |path| resolve_in_type(items, resolve, path)),
        Type::Map { keys, values, .. } => {
            at(path, "keys", |path| resolve_in_type(keys, resolve, path))?;
            at(path, "values", |path| resolve_in_type(values, resolve, path))
        }
        Type::Object(object) => resolve_in_object(object, resolve, path),
        Type::Scope(inner) => inner.resolve_namespaced_refs(resolve).map_err(|mut e| {
            let mut full = path.clone();
            full.append(&mut e.path);
            SchemaError { path: full, message: e.message }
        }),
        Type::OneOfString { types, .. } => at(path, "types", |path| {
            for (key, member) in types.iter_mut() {
                at(path, key.clone(), |path| resolve_in_type(member, resolve, path))?;
            }
            Ok(())
        }),
        Type::OneOfInt { types, .. } => at(path, "types", |path| {
            for (key, member) in types.iter_mut() {
                at(path, key.to_string(), |path| resolve_in_type(member, resolve, path))?;
            }
            Ok(())
        }),
        _ => Ok(()),
    }
}
