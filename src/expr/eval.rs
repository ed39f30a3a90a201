//! Owns evaluation of a syntax tree against data, including the runtime rules of every operator.

use std::borrow::Cow;

use super::ast::{BinOp, Kind, Node, Prefix, Step, StepKind, UnOp};
use super::{eval_error, functions, EvalContext, ExprError};
use crate::value::{Key, Map, Value};

/// How many keys a "missing key" message lists before summarising the rest.
const LISTED_KEYS: usize = 20;

pub(crate) fn evaluate(src: &str, node: &Node, root: &Value, ctx: &EvalContext) -> Result<Value, ExprError> {
    Evaluator { src, root, ctx }.eval(node)
}

struct Evaluator<'a> {
    src: &'a str,
    root: &'a Value,
    ctx: &'a EvalContext<'a>,
}

impl Evaluator<'_> {
    fn fail(&self, start: usize, end: usize, message: impl Into<String>) -> ExprError {
        eval_error(self.src, start, end, message)
    }

    fn text(&self, start: usize, end: usize) -> &str {
        self.src.get(start..end).unwrap_or("")
    }

    /// Dispatches on the node kind; each kind has its own method so that this frame, which is
    /// repeated at every nesting level, stays small in unoptimised builds.
    fn eval(&self, node: &Node) -> Result<Value, ExprError> {
        match &node.kind {
            Kind::Int(i) => Ok(Value::Int(*i)),
            Kind::Float(f) => Ok(Value::Float(*f)),
            Kind::Str(s) => Ok(Value::String(s.clone())),
            Kind::Bool(b) => Ok(Value::Bool(*b)),
            Kind::Root => Ok(self.root.clone()),
            Kind::Call { name, args } => self.call(node, name, args),
            Kind::Unary { ops, operand } => self.unary(ops, operand),
            Kind::Binary { first, rest } => self.binary(first, rest),
            Kind::Access { base, steps } => self.access(base, steps),
        }
    }

    fn call(&self, node: &Node, name: &str, args: &[Node]) -> Result<Value, ExprError> {
        let Some(builtin) = functions::lookup(name) else {
            return Err(self.fail(node.start, node.end, format!("unknown function '{name}'")));
        };
        // A plain loop rather than `collect`: iterator adapters add frames at every nesting level.
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            values.push(self.eval(arg)?);
        }
        builtin.call(&values, self.ctx).map_err(|m| self.fail(node.start, node.end, m))
    }

    fn unary(&self, ops: &[Prefix], operand: &Node) -> Result<Value, ExprError> {
        let mut value = self.eval(operand)?;
        for prefix in ops.iter().rev() {
            value = unary(prefix.op, value).map_err(|m| self.fail(prefix.start, operand.end, m))?;
        }
        Ok(value)
    }

    fn binary(&self, first: &Node, rest: &[(BinOp, Node)]) -> Result<Value, ExprError> {
        let mut value = self.eval(first)?;
        for (op, operand) in rest {
            let right = self.eval(operand)?;
            value = binary(*op, value, &right).map_err(|m| self.fail(first.start, operand.end, m))?;
        }
        Ok(value)
    }

    fn access(&self, base: &Node, steps: &[Step]) -> Result<Value, ExprError> {
        // Paths on `$` walk the data by reference and clone only the result.
        let base_value = match base.kind {
            Kind::Root => Cow::Borrowed(self.root),
            _ => Cow::Owned(self.eval(base)?),
        };
        let mut current: &Value = &base_value;
        let mut done = base.end;
        for step in steps {
            let path = self.text(base.start, done);
            current = match &step.kind {
                StepKind::Field(name) => field(current, name, path),
                StepKind::Index(key) => index(current, &self.eval(key)?, path),
            }
            .map_err(|m| self.fail(base.start, step.end, m))?;
            done = step.end;
        }
        Ok(current.clone())
    }
}

fn field<'v>(value: &'v Value, name: &str, path: &str) -> Result<&'v Value, String> {
    match value {
        Value::Map(map) => {
            map.get(&Key::Str(name.to_string())).ok_or_else(|| missing_key(map, &format!("{name:?}"), path))
        }
        other => Err(format!("cannot read property {name:?}: {path} is {}, not a map or object", article(other))),
    }
}

fn index<'v>(value: &'v Value, key: &Value, path: &str) -> Result<&'v Value, String> {
    match (value, key) {
        (Value::List(items), Value::Int(i)) => {
            let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
            let position = if *i < 0 { len.checked_add(*i) } else { Some(*i) };
            position
                .and_then(|p| usize::try_from(p).ok())
                .and_then(|p| items.get(p))
                .ok_or_else(|| format!("index {i} is out of range for {path} (a list of length {len})"))
        }
        (Value::List(_), other) => Err(format!("list index must be an integer, got {} in {path}", article(other))),
        (Value::Map(map), Value::Int(i)) => {
            map.get(&Key::Int(*i)).ok_or_else(|| missing_key(map, &i.to_string(), path))
        }
        (Value::Map(map), Value::String(s)) => {
            map.get(&Key::Str(s.clone())).ok_or_else(|| missing_key(map, &format!("{s:?}"), path))
        }
        (Value::Map(_), other) => {
            Err(format!("map keys are strings or integers, got {} as a key of {path}", article(other)))
        }
        (other, _) => Err(format!("cannot index {path}: it is {}, not a list or map", article(other))),
    }
}

fn article(value: &Value) -> String {
    let name = value.type_name();
    let a = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{a} {name}")
}

fn missing_key(map: &Map, key: &str, path: &str) -> String {
    if map.is_empty() {
        return format!("{path} has no key {key}; it is empty");
    }
    let mut names: Vec<String> = map.keys().take(LISTED_KEYS).map(Key::to_string).collect();
    if map.len() > LISTED_KEYS {
        names.push(format!("… ({} more)", map.len() - LISTED_KEYS));
    }
    format!("{path} has no key {key}; available keys: {}", names.join(", "))
}

fn unary(op: UnOp, value: Value) -> Result<Value, String> {
    match (op, value) {
        (UnOp::Neg, Value::Int(i)) => {
            i.checked_neg().map(Value::Int).ok_or_else(|| format!("integer overflow negating {i}"))
        }
        (UnOp::Neg, Value::Float(f)) => Ok(Value::Float(-f)),
        (UnOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (op, other) => Err(format!("operator '{op}' does not support {} operands", other.type_name())),
    }
}

/// The runtime operator rules: operands must have the same type, with no coercion. Beyond what
/// the type checker allows, `==` and `!=` also compare lists, maps and nulls deeply.
///
/// The left operand is taken by value so that a long run of `+` on strings appends in place
/// instead of copying the growing string at every step.
fn binary(op: BinOp, l: Value, r: &Value) -> Result<Value, String> {
    use Value::{Bool, Float, Int, String as Str};
    let l = match (op, l, r) {
        (BinOp::Add, Str(mut a), Str(b)) => {
            a.push_str(b);
            return Ok(Str(a));
        }
        (_, l, _) => l,
    };
    let l = &l;
    let unsupported = || format!("operator '{op}' does not support {} operands", l.type_name());
    if std::mem::discriminant(l) != std::mem::discriminant(r) {
        return Err(format!("type mismatch: left is {}, right is {}", l.type_name(), r.type_name()));
    }
    match op {
        BinOp::Eq => Ok(Bool(l == r)),
        BinOp::Ne => Ok(Bool(l != r)),
        BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
            let ordering = match (l, r) {
                (Int(a), Int(b)) => a.partial_cmp(b),
                (Float(a), Float(b)) => a.partial_cmp(b),
                (Str(a), Str(b)) => a.partial_cmp(b),
                _ => return Err(unsupported()),
            };
            // NaN compares unordered, so every comparison with it is false.
            Ok(Bool(ordering.is_some_and(|o| match op {
                BinOp::Lt => o.is_lt(),
                BinOp::Gt => o.is_gt(),
                BinOp::Le => o.is_le(),
                _ => o.is_ge(),
            })))
        }
        BinOp::And | BinOp::Or => match (l, r) {
            (Bool(a), Bool(b)) => Ok(Bool(if op == BinOp::And { *a && *b } else { *a || *b })),
            _ => Err(unsupported()),
        },
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem | BinOp::Pow => match (l, r) {
            (Int(a), Int(b)) => int_arithmetic(op, *a, *b).map(Int),
            (Float(a), Float(b)) => Ok(Float(float_arithmetic(op, *a, *b))),
            _ => Err(unsupported()),
        },
    }
}

fn int_arithmetic(op: BinOp, a: i64, b: i64) -> Result<i64, String> {
    let overflow = || format!("integer overflow ({a} {op} {b})");
    match op {
        BinOp::Add => a.checked_add(b).ok_or_else(overflow),
        BinOp::Sub => a.checked_sub(b).ok_or_else(overflow),
        BinOp::Mul => a.checked_mul(b).ok_or_else(overflow),
        BinOp::Div if b == 0 => Err(format!("integer division by zero ({a} / {b})")),
        BinOp::Div => a.checked_div(b).ok_or_else(overflow),
        BinOp::Rem if b == 0 => Err(format!("integer remainder by zero ({a} % {b})")),
        // i64::MIN % -1 is mathematically 0; only the quotient overflows.
        BinOp::Rem => Ok(a.wrapping_rem(b)),
        BinOp::Pow => int_pow(a, b).ok_or_else(|| {
            if b < 0 {
                format!("negative exponent in integer power ({a} ^ {b}); use floats")
            } else {
                overflow()
            }
        }),
        _ => Err(format!("operator '{op}' is not arithmetic")),
    }
}

/// Exact integer power; `None` on a negative exponent or overflow.
fn int_pow(base: i64, exp: i64) -> Option<i64> {
    if exp < 0 {
        return None;
    }
    match base {
        0 => Some(if exp == 0 { 1 } else { 0 }),
        1 => Some(1),
        -1 => Some(if exp % 2 == 0 { 1 } else { -1 }),
        _ => base.checked_pow(u32::try_from(exp).ok()?),
    }
}

fn float_arithmetic(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Rem => a % b,
        _ => a.powf(b),
    }
}
