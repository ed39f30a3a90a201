//! Owns the in-memory schema model: plugin steps, scopes, objects, properties and the `Type` enum.

use std::collections::BTreeMap;

use crate::value::Value;

use super::units::Units;

/// The `schema` map of a plugin hello: every step the plugin offers.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSchema {
    pub steps: BTreeMap<String, StepSchema>,
}

impl PluginSchema {
    pub fn step(&self, id: &str) -> Option<&StepSchema> {
        self.steps.get(id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepSchema {
    pub id: String,
    pub input: Scope,
    pub outputs: BTreeMap<String, OutputSchema>,
    pub signal_handlers: BTreeMap<String, SignalSchema>,
    pub signal_emitters: BTreeMap<String, SignalSchema>,
    pub display: Option<Display>,
}

impl StepSchema {
    /// True when the step declares a `cancel` signal handler (Python `step_with_signals` steps);
    /// the engine sends it on timeout / `stop_if` before killing the process.
    pub fn has_cancel_signal(&self) -> bool {
        self.signal_handlers.contains_key("cancel")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputSchema {
    pub schema: Scope,
    /// Declared error output. Note that Python plugins emit `error: false` even for an output
    /// named `error`, so the engine must not rely on this flag alone.
    pub error: bool,
    pub display: Option<Display>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SignalSchema {
    pub id: String,
    pub data_schema: Scope,
    pub display: Option<Display>,
}

/// Human-facing names. An all-empty `display: {}` is normalized to `None` where it is optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Display {
    pub name: Option<String>,
    pub description: Option<String>,
    pub icon: Option<String>,
}

impl Display {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none() && self.icon.is_none()
    }
}

/// A set of objects that refer to each other by id, with one root object.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub root: String,
    pub objects: BTreeMap<String, ObjectSchema>,
    /// Set when this scope stands for a resolved namespaced `ref`: the namespace it was borrowed
    /// from. The reference engine exposes such root properties as namespaces of their own
    /// (`…execute.inputs.items.item`), so the origin must survive resolution.
    pub borrowed_from: Option<String>,
}

impl Scope {
    /// A scope of `objects` rooted at `root`, not borrowed from a namespace.
    pub fn new(root: impl Into<String>, objects: BTreeMap<String, ObjectSchema>) -> Scope {
        Scope { root: root.into(), objects, borrowed_from: None }
    }

    /// The root object. Parsing guarantees it exists; `None` only for hand-built, inconsistent scopes.
    pub fn root_object(&self) -> Option<&ObjectSchema> {
        self.objects.get(&self.root)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSchema {
    pub id: String,
    pub properties: BTreeMap<String, Property>,
    /// Wire field `id_unenforced` (Python 0.14+): kept for completeness, no effect on validation.
    pub id_unenforced: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub ty: Type,
    /// Defaults to `true` when the definition omits it (both SDKs).
    pub required: bool,
    /// The default, already decoded from its JSON text (not yet coerced to `ty`: that happens when
    /// it is applied, so a bad default is reported at the property's path).
    pub default: Option<Value>,
    pub required_if: Vec<String>,
    pub required_if_not: Vec<String>,
    pub conflicts: Vec<String>,
    pub display: Option<Display>,
    /// Examples as JSON text, as on the wire.
    pub examples: Vec<String>,
    /// Go-only `disabled` / `disabled_reason`: parsed and kept, no effect on validation.
    pub disabled: bool,
    pub disabled_reason: Option<String>,
}

impl Property {
    /// A required property of type `ty` with nothing else set (handy for building schemas in code).
    pub fn new(ty: Type) -> Property {
        Property {
            ty,
            required: true,
            default: None,
            required_if: Vec::new(),
            required_if_not: Vec::new(),
            conflicts: Vec::new(),
            display: None,
            examples: Vec::new(),
            disabled: false,
            disabled_reason: None,
        }
    }
}

/// A string `pattern` constraint. `compiled` is `^(?:source)` (Python `re.match` anchoring) or
/// `None` when the Rust regex crate cannot compile it (look-around, backreferences...); then the
/// check is skipped and left to the plugin.
#[derive(Debug, Clone)]
pub struct StringPattern {
    pub source: String,
    pub compiled: Option<regex::Regex>,
}

impl StringPattern {
    pub fn new(source: &str) -> StringPattern {
        StringPattern { source: source.to_string(), compiled: regex::Regex::new(&format!("^(?:{source})")).ok() }
    }
}

impl PartialEq for StringPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// `min`/`max` are lengths in Unicode code points.
    String {
        min: Option<i64>,
        max: Option<i64>,
        pattern: Option<StringPattern>,
    },
    Pattern,
    Integer {
        min: Option<i64>,
        max: Option<i64>,
        units: Option<Units>,
    },
    Float {
        min: Option<f64>,
        max: Option<f64>,
        units: Option<Units>,
    },
    Bool,
    EnumString {
        values: BTreeMap<String, Display>,
    },
    EnumInteger {
        values: BTreeMap<i64, Display>,
        units: Option<Units>,
    },
    List {
        items: Box<Type>,
        min: Option<i64>,
        max: Option<i64>,
    },
    /// `keys` is one of String, Integer, EnumString, EnumInteger (checked when parsing).
    Map {
        keys: Box<Type>,
        values: Box<Type>,
        min: Option<i64>,
        max: Option<i64>,
    },
    Object(ObjectSchema),
    /// A reference to an object of the nearest enclosing scope, or (workflow only) to an object
    /// of a step stage's scope when `namespace` is set.
    Ref {
        id: String,
        namespace: Option<String>,
    },
    Scope(Scope),
    /// Members are `Ref`, `Object` or `Scope` (checked when parsing).
    OneOfString {
        types: BTreeMap<String, Type>,
        discriminator_field_name: String,
        discriminator_inlined: bool,
    },
    OneOfInt {
        types: BTreeMap<i64, Type>,
        discriminator_field_name: String,
        discriminator_inlined: bool,
    },
    Any,
}

impl Type {
    /// The wire `type_id` of this type.
    pub fn type_id(&self) -> &'static str {
        match self {
            Type::String { .. } => "string",
            Type::Pattern => "pattern",
            Type::Integer { .. } => "integer",
            Type::Float { .. } => "float",
            Type::Bool => "bool",
            Type::EnumString { .. } => "enum_string",
            Type::EnumInteger { .. } => "enum_integer",
            Type::List { .. } => "list",
            Type::Map { .. } => "map",
            Type::Object(_) => "object",
            Type::Ref { .. } => "ref",
            Type::Scope(_) => "scope",
            Type::OneOfString { .. } => "one_of_string",
            Type::OneOfInt { .. } => "one_of_int",
            Type::Any => "any",
        }
    }

    /// A plain `string` with no constraints.
    pub fn string() -> Type {
        Type::String { min: None, max: None, pattern: None }
    }
}

/// Default discriminator field of `one_of_*` types (both SDKs).
pub const DEFAULT_DISCRIMINATOR: &str = "_type";
