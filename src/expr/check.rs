//! Owns static type checking of a syntax tree against the type of `$`.
//!
//! `any` is permissive everywhere: an operand or container typed `any` is accepted and the
//! runtime rules in `eval` have the final word.

use super::ast::{BinOp, Kind, Node, Prefix, Step, StepKind, UnOp};
use super::ty::ExprType;
use super::{functions, type_error, ExprError};

pub(crate) fn check(src: &str, node: &Node, root: &ExprType) -> Result<ExprType, ExprError> {
    Checker { src, root }.type_of(node)
}

struct Checker<'a> {
    src: &'a str,
    root: &'a ExprType,
}

impl Checker<'_> {
    /// Dispatches on the node kind; see `eval::Evaluator::eval` for why the arms are methods.
    fn type_of(&self, node: &Node) -> Result<ExprType, ExprError> {
        match &node.kind {
            Kind::Int(_) => Ok(ExprType::Int),
            Kind::Float(_) => Ok(ExprType::Float),
            Kind::Str(_) => Ok(ExprType::String),
            Kind::Bool(_) => Ok(ExprType::Bool),
            Kind::Root => Ok(self.root.clone()),
            Kind::Call { name, args } => self.call(node, name, args),
            Kind::Unary { ops, operand } => self.unary(ops, operand),
            Kind::Binary { first, rest } => self.binary(first, rest),
            Kind::Access { base, steps } => self.access(base, steps),
        }
    }

    fn call(&self, node: &Node, name: &str, args: &[Node]) -> Result<ExprType, ExprError> {
        let fail = |m: String| type_error(self.src, node.start, node.end, m);
        let Some(builtin) = functions::lookup(name) else {
            return Err(fail(format!("unknown function '{name}'")));
        };
        // A plain loop rather than `collect`: iterator adapters add frames at every nesting level.
        let mut types = Vec::with_capacity(args.len());
        for arg in args {
            types.push(self.type_of(arg)?);
        }
        builtin.check(&types).map_err(fail)
    }

    fn unary(&self, ops: &[Prefix], operand: &Node) -> Result<ExprType, ExprError> {
        let mut t = self.type_of(operand)?;
        for prefix in ops.iter().rev() {
            t = unary_type(prefix.op, &t).map_err(|m| type_error(self.src, prefix.start, operand.end, m))?;
        }
        Ok(t)
    }

    fn binary(&self, first: &Node, rest: &[(BinOp, Node)]) -> Result<ExprType, ExprError> {
        let mut t = self.type_of(first)?;
        for (op, operand) in rest {
            let right = self.type_of(operand)?;
            t = binary_type(*op, &t, &right).map_err(|m| type_error(self.src, first.start, operand.end, m))?;
        }
        Ok(t)
    }

    fn access(&self, base: &Node, steps: &[Step]) -> Result<ExprType, ExprError> {
        let mut current = self.type_of(base)?;
        for step in steps {
            let next = match &step.kind {
                StepKind::Field(name) => field_type(&current, name),
                StepKind::Index(key) => index_type(&current, &self.type_of(key)?, key.as_str_literal()),
            };
            current = next.map_err(|m| type_error(self.src, base.start, step.end, m))?;
        }
        Ok(current)
    }
}

/// The type of `.name` on `t`.
fn field_type(t: &ExprType, name: &str) -> Result<ExprType, String> {
    match t {
        ExprType::Any => Ok(ExprType::Any),
        ExprType::Object(o) => o
            .fields
            .get(name)
            .cloned()
            .ok_or_else(|| missing_property(&format!("object {}", o.id), name, o.fields.keys().map(String::as_str))),
        ExprType::Map(key, value) if matches!(**key, ExprType::String | ExprType::Any) => Ok((**value).clone()),
        ExprType::Map(..) => Err(format!("cannot use .{name} on {t}: its keys are not strings; use [..]")),
        ExprType::OneOf(members) => one_of_field(t, members, name),
        other => Err(format!("cannot read property {name:?} of {other}")),
    }
}

fn missing_property<'a>(what: &str, name: &str, properties: impl Iterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = properties.collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        format!("{what} does not have a property named {name:?}; it has no properties")
    } else {
        format!("{what} does not have a property named {name:?}; properties: {}", names.join(", "))
    }
}

/// A field of a one-of type resolves if any member has it; several different member types give
/// a one-of of them when they are all objects, else `any`.
fn one_of_field(t: &ExprType, members: &[ExprType], name: &str) -> Result<ExprType, String> {
    let mut found: Vec<ExprType> = Vec::new();
    for member in members {
        let candidate = match member {
            ExprType::Any => return Ok(ExprType::Any),
            ExprType::Object(o) => o.fields.get(name).cloned(),
            ExprType::Map(key, value) if matches!(**key, ExprType::String | ExprType::Any) => Some((**value).clone()),
            _ => None,
        };
        if let Some(c) = candidate.filter(|c| !found.contains(c)) {
            found.push(c);
        }
    }
    match found.len() {
        0 => {
            let properties = members.iter().flat_map(|m| match m {
                ExprType::Object(o) => o.fields.keys().map(String::as_str).collect::<Vec<_>>(),
                _ => Vec::new(),
            });
            Err(missing_property(&t.to_string(), name, properties))
        }
        1 => Ok(found.remove(0)),
        _ if found.iter().all(|f| matches!(f, ExprType::Object(_))) => Ok(ExprType::OneOf(found)),
        _ => Ok(ExprType::Any),
    }
}

/// The type of `[key]` on `t`; `literal` is the key's text when it is a string literal.
fn index_type(t: &ExprType, key: &ExprType, literal: Option<&str>) -> Result<ExprType, String> {
    let keyable = matches!(key, ExprType::Int | ExprType::String | ExprType::Any);
    match t {
        _ if !keyable => Err(format!("keys and indexes must be strings or integers, got {key}")),
        ExprType::Any => Ok(ExprType::Any),
        ExprType::List(item) => match key {
            ExprType::Int | ExprType::Any => Ok((**item).clone()),
            other => Err(format!("list index must be an integer, got {other}")),
        },
        ExprType::Map(map_key, value) => {
            if matches!(**map_key, ExprType::Any) || matches!(key, ExprType::Any) || **map_key == *key {
                Ok((**value).clone())
            } else {
                Err(format!("{t} needs {map_key} keys, got {key}"))
            }
        }
        // Bracket access on objects is allowed (the reference forbids it) because names with
        // dashes, such as step ids, can only be written as string keys.
        ExprType::Object(_) | ExprType::OneOf(_) => match (literal, key) {
            (Some(name), _) => field_type(t, name),
            (None, ExprType::String | ExprType::Any) => Ok(ExprType::Any),
            (None, other) => Err(format!("{t} can only be indexed with a string, got {other}")),
        },
        other => Err(format!("cannot index {other}")),
    }
}

fn unary_type(op: UnOp, t: &ExprType) -> Result<ExprType, String> {
    match (op, t) {
        (UnOp::Neg, ExprType::Int | ExprType::Float | ExprType::Any) => Ok(t.clone()),
        (UnOp::Not, ExprType::Bool | ExprType::Any) => Ok(ExprType::Bool),
        (op, other) => Err(format!("operator '{op}' does not support {other} operands")),
    }
}

/// The static operator rules, mirroring `eval::binary` for the types the checker knows.
fn binary_type(op: BinOp, l: &ExprType, r: &ExprType) -> Result<ExprType, String> {
    let (l_any, r_any) = (matches!(l, ExprType::Any), matches!(r, ExprType::Any));
    if !l_any && !r_any && l != r {
        return Err(format!("type mismatch: left is {l}, right is {r}"));
    }
    let operand = if l_any { r } else { l };
    let arithmetic = matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem | BinOp::Pow);
    if matches!(operand, ExprType::Any) {
        return Ok(if arithmetic { ExprType::Any } else { ExprType::Bool });
    }
    let supported = match op {
        BinOp::Add => matches!(operand, ExprType::Int | ExprType::Float | ExprType::String),
        BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem | BinOp::Pow => {
            matches!(operand, ExprType::Int | ExprType::Float)
        }
        BinOp::Eq | BinOp::Ne => {
            matches!(operand, ExprType::Int | ExprType::Float | ExprType::String | ExprType::Bool)
        }
        BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
            matches!(operand, ExprType::Int | ExprType::Float | ExprType::String)
        }
        BinOp::And | BinOp::Or => matches!(operand, ExprType::Bool),
    };
    if !supported {
        return Err(format!("operator '{op}' does not support {operand} operands"));
    }
    Ok(if arithmetic { operand.clone() } else { ExprType::Bool })
}
