//! Owns the mapping from schemas to the static `ExprType`s that workflow expressions are checked against.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::expr::ty::{ExprType, ObjectType};

use super::model::{ObjectSchema, Scope, Type};

/// Object nesting depth after which a type becomes `ExprType::Any`. Recursive schemas (a `Tree`
/// whose `children` are `Tree`s) would otherwise never end; past this depth expressions are
/// simply not checked statically.
pub const EXPR_TYPE_MAX_DEPTH: usize = 12;

impl Scope {
    /// Static type of the root object. Refs resolve within the scope; unresolved (namespaced) refs
    /// and anything deeper than `EXPR_TYPE_MAX_DEPTH` objects are `ExprType::Any`.
    pub fn expr_type(&self) -> ExprType {
        Builder::default().scope(self, 0)
    }
}

/// Builds types with memoization of (scope, object id, depth): without it a schema whose objects
/// refer to each other several times would take exponential time to expand to the depth limit.
#[derive(Default)]
struct Builder {
    memo: HashMap<(usize, String, usize), ExprType>,
}

impl Builder {
    fn scope(&mut self, scope: &Scope, depth: usize) -> ExprType {
        self.referenced(&scope.root, scope, depth)
    }

    fn referenced(&mut self, id: &str, scope: &Scope, depth: usize) -> ExprType {
        // The scope's address identifies it for the duration of this build (scopes are borrowed).
        let key = (scope as *const Scope as usize, id.to_string(), depth);
        if let Some(found) = self.memo.get(&key) {
            return found.clone();
        }
        let result = match scope.objects.get(id) {
            Some(object) => self.object(object, scope, depth),
            None => ExprType::Any,
        };
        self.memo.insert(key, result.clone());
        result
    }

    fn object(&mut self, object: &ObjectSchema, scope: &Scope, depth: usize) -> ExprType {
        if depth >= EXPR_TYPE_MAX_DEPTH {
            return ExprType::Any;
        }
        let fields = object
            .properties
            .iter()
            .map(|(name, property)| (name.clone(), self.ty(&property.ty, scope, depth + 1)))
            .collect();
        ExprType::Object(Arc::new(ObjectType { id: object.id.clone(), fields }))
    }

    fn ty(&mut self, ty: &Type, scope: &Scope, depth: usize) -> ExprType {
        match ty {
            Type::String { .. } | Type::Pattern | Type::EnumString { .. } => ExprType::String,
            Type::Integer { .. } | Type::EnumInteger { .. } => ExprType::Int,
            Type::Float { .. } => ExprType::Float,
            Type::Bool => ExprType::Bool,
            Type::List { items, .. } => ExprType::List(Box::new(self.ty(items, scope, depth))),
            Type::Map { keys, values, .. } => {
                ExprType::Map(Box::new(self.ty(keys, scope, depth)), Box::new(self.ty(values, scope, depth)))
            }
            Type::Object(object) => self.object(object, scope, depth),
            Type::Ref { id, namespace: None } => self.referenced(id, scope, depth),
            Type::Ref { namespace: Some(_), .. } => ExprType::Any,
            Type::Scope(inner) => self.scope(inner, depth),
            Type::OneOfString { types, discriminator_field_name, .. } => {
                let members = types
                    .values()
                    .map(|member| self.ty(member, scope, depth))
                    .map(|t| with_field(t, discriminator_field_name, ExprType::String))
                    .collect();
                ExprType::OneOf(members)
            }
            Type::OneOfInt { types, discriminator_field_name, .. } => {
                let members = types
                    .values()
                    .map(|member| self.ty(member, scope, depth))
                    .map(|t| with_field(t, discriminator_field_name, ExprType::Int))
                    .collect();
                ExprType::OneOf(members)
            }
            Type::Any => ExprType::Any,
        }
    }
}

/// The values of a one-of member always carry the discriminator, even when the member object does
/// not declare it (non-inlined discriminator), so expressions may read it.
fn with_field(t: ExprType, name: &str, field_type: ExprType) -> ExprType {
    match t {
        ExprType::Object(object) if !object.fields.contains_key(name) => {
            let mut fields: BTreeMap<String, ExprType> = object.fields.clone();
            fields.insert(name.to_string(), field_type);
            ExprType::Object(Arc::new(ObjectType { id: object.id.clone(), fields }))
        }
        other => other,
    }
}
