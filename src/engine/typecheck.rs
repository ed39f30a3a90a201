//! Owns the static check of expression-valued step inputs against the plugin's schema: an
//! expression whose type can never pass the field's validation (an object where a string is
//! expected, a string where a list is) is an invalid workflow at load, as in the reference engine.
//!
//! Only definite mismatches are reported, judged by arcaflow-py's own coercions (an integer for a
//! string field is fine: it is converted). Fields of an object type are compared where both sides
//! have them; fields only the expression's type has are not reported, because optional fields may
//! be absent at run time. Everything the static types cannot decide is left to validation when
//! the step gets its input.

use crate::expr::ty::ExprType;
use crate::schema::{ObjectSchema, Scope, Type};
use crate::value::{Key, Value};
use crate::workflow::Tree;

/// How deep object types are followed (recursive schemas end here).
const MAX_DEPTH: usize = 32;

/// Checks the expressions in `tree` (the input of a field of type `ty`, defined in `scope`)
/// against their static types under `root` (the type of `$`). `at` names the field in errors.
pub(crate) fn check_tree(tree: &Tree, ty: &Type, scope: &Scope, root: &ExprType, at: &str) -> Result<(), String> {
    match tree {
        Tree::Expr(e) => match e.check(root) {
            // An expression that does not type-check is reported by the expression checks.
            Err(_) => Ok(()),
            Ok(t) => compatible(&t, ty, scope, 0).map_err(|why| format!("{at}: {} is {t}, {why}", e.source().trim())),
        },
        Tree::Map(fields) => match object_of(ty, scope) {
            Some((object, scope)) => {
                for (key, field) in fields {
                    if let Some(property) = object.properties.get(&key.to_string()) {
                        check_tree(field, &property.ty, scope, root, &format!("{at} -> {key}"))?;
                    }
                }
                Ok(())
            }
            None => match ty {
                Type::Map { values, .. } => {
                    for (key, field) in fields {
                        check_tree(field, values, scope, root, &format!("{at} -> {key}"))?;
                    }
                    Ok(())
                }
                Type::OneOfString { types, discriminator_field_name, .. } => {
                    match fields.get(&Key::Str(discriminator_field_name.clone())) {
                        Some(Tree::Value(Value::String(chosen))) => match types.get(chosen) {
                            Some(member) => check_tree(tree, member, scope, root, at),
                            None => Ok(()),
                        },
                        _ => Ok(()),
                    }
                }
                _ => Ok(()),
            },
        },
        Tree::List(items) => match ty {
            Type::List { items: item_type, .. } => {
                for (i, item) in items.iter().enumerate() {
                    check_tree(item, item_type, scope, root, &format!("{at} -> [{i}]"))?;
                }
                Ok(())
            }
            _ => Ok(()),
        },
        Tree::Value(_) | Tree::WaitOptional(_) | Tree::SoftOptional(_) | Tree::OneOf { .. } => Ok(()),
    }
}

/// The object a `ty` validates maps against, with the scope its refs resolve in.
fn object_of<'a>(ty: &'a Type, scope: &'a Scope) -> Option<(&'a ObjectSchema, &'a Scope)> {
    match ty {
        Type::Object(object) => Some((object, scope)),
        Type::Ref { id, namespace: None } => scope.objects.get(id).map(|o| (o, scope)),
        Type::Scope(inner) => inner.root_object().map(|o| (o, inner)),
        _ => None,
    }
}

/// `Ok` unless no value of static type `t` can pass validation against `ty`; the error says why.
fn compatible(t: &ExprType, ty: &Type, scope: &Scope, depth: usize) -> Result<(), String> {
    use ExprType as E;
    if depth > MAX_DEPTH || matches!(t, E::Any | E::Null | E::OneOf(_)) {
        return Ok(());
    }
    let scalar = matches!(t, E::Bool | E::Int | E::Float | E::String);
    let ok = match ty {
        Type::Any => true,
        Type::String { .. } | Type::Pattern | Type::EnumString { .. } => scalar,
        Type::Integer { .. } | Type::EnumInteger { .. } | Type::Float { .. } => {
            matches!(t, E::Int | E::Float | E::String)
        }
        Type::Bool => matches!(t, E::Bool | E::Int | E::String),
        Type::List { items, .. } => match t {
            E::List(inner) => {
                return compatible(inner, items, scope, depth + 1).map_err(|why| format!("its items: {why}"))
            }
            _ => false,
        },
        Type::Map { values, .. } => match t {
            E::Map(_, inner) => return compatible(inner, values, scope, depth + 1),
            E::Object(o) => {
                for (name, field) in &o.fields {
                    compatible(field, values, scope, depth + 1).map_err(|why| format!("field '{name}': {why}"))?;
                }
                return Ok(());
            }
            _ => false,
        },
        Type::Object(_) | Type::Ref { .. } | Type::Scope(_) => match (t, object_of(ty, scope)) {
            (E::Object(o), Some((object, scope))) => {
                for (name, field) in &o.fields {
                    if let Some(property) = object.properties.get(name) {
                        compatible(field, &property.ty, scope, depth + 1)
                            .map_err(|why| format!("field '{name}': {why}"))?;
                    }
                }
                return Ok(());
            }
            (E::Object(_) | E::Map(..), _) => true,
            _ => false,
        },
        Type::OneOfString { .. } | Type::OneOfInt { .. } => matches!(t, E::Object(_) | E::Map(..)),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("which can never be {}", expected(ty)))
    }
}

fn expected(ty: &Type) -> &'static str {
    match ty {
        Type::String { .. } | Type::Pattern | Type::EnumString { .. } => "a string",
        Type::Integer { .. } | Type::EnumInteger { .. } => "an integer",
        Type::Float { .. } => "a float",
        Type::Bool => "a bool",
        Type::List { .. } => "a list",
        Type::Map { .. } => "a map",
        Type::Object(_) | Type::Ref { .. } | Type::Scope(_) | Type::OneOfString { .. } | Type::OneOfInt { .. } => {
            "an object"
        }
        Type::Any => "anything",
    }
}
