//! Owns the static types that expressions are checked against at load time.
//!
//! Built from plugin and input schemas (see `schema`), consumed by the expression type checker.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub enum ExprType {
    /// Unknown or unconstrained (`any` in a schema, or a recursion cut-off): every operation is allowed.
    Any,
    Null,
    Bool,
    Int,
    Float,
    String,
    List(Box<ExprType>),
    Map(Box<ExprType>, Box<ExprType>),
    Object(Arc<ObjectType>),
    /// One of several object types (a schema `one_of_*`); fields resolve if any member has them.
    OneOf(Vec<ExprType>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectType {
    /// The object id, used in messages such as `object EchoOutput does not have a property named "x"`.
    pub id: String,
    pub fields: BTreeMap<String, ExprType>,
}

impl ExprType {
    pub fn object(id: impl Into<String>, fields: BTreeMap<String, ExprType>) -> ExprType {
        ExprType::Object(Arc::new(ObjectType { id: id.into(), fields }))
    }
}

impl fmt::Display for ExprType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExprType::Any => f.write_str("any"),
            ExprType::Null => f.write_str("null"),
            ExprType::Bool => f.write_str("bool"),
            ExprType::Int => f.write_str("integer"),
            ExprType::Float => f.write_str("float"),
            ExprType::String => f.write_str("string"),
            ExprType::List(t) => write!(f, "list[{t}]"),
            ExprType::Map(k, v) => write!(f, "map[{k}, {v}]"),
            ExprType::Object(o) => write!(f, "object {}", o.id),
            ExprType::OneOf(ts) => {
                f.write_str("one of (")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(")")
            }
        }
    }
}
