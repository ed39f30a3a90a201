//! Owns resolving data trees against the run's data: which expressions can be evaluated now,
//! which must wait, and which can never resolve (their step ended another way).

use std::collections::BTreeMap;
use std::path::Path;

use crate::expr::{EvalContext, Expr};
use crate::value::{Key, Value};
use crate::workflow::Tree;

#[derive(Debug, Clone, PartialEq)]
pub enum Res {
    Ready(Value),
    Pending,
    Unresolvable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStatus {
    Resolved,
    Pending,
    Unresolvable(String),
}

/// The run's data as expressions see it.
pub trait DataView {
    /// Whether the data at `path` (from `dependencies()`) exists, may still appear, or never will.
    fn status(&self, path: &[String]) -> PathStatus;
    fn root(&self) -> &Value;
    fn context_dir(&self) -> &Path;
}

pub fn resolve(tree: &Tree, data: &dyn DataView) -> Res {
    match tree {
        Tree::Value(v) => Res::Ready(v.clone()),
        Tree::Expr(e) => resolve_expr(e, data),
        Tree::WaitOptional(e) | Tree::SoftOptional(e) => resolve_expr(e, data),
        Tree::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut pending = false;
            for item in items {
                match resolve(item, data) {
                    Res::Ready(v) => out.push(v),
                    Res::Pending => pending = true,
                    u @ Res::Unresolvable(_) => return u,
                }
            }
            if pending {
                Res::Pending
            } else {
                Res::Ready(Value::List(out))
            }
        }
        Tree::Map(fields) => {
            let mut out = BTreeMap::new();
            let mut pending = false;
            for (k, t) in fields {
                match t {
                    Tree::SoftOptional(e) => {
                        if let Res::Ready(v) = resolve_expr(e, data) {
                            out.insert(k.clone(), v);
                        }
                    }
                    Tree::WaitOptional(e) => match resolve_expr(e, data) {
                        Res::Ready(v) => {
                            out.insert(k.clone(), v);
                        }
                        Res::Pending => pending = true,
                        Res::Unresolvable(_) => {}
                    },
                    _ => match resolve(t, data) {
                        Res::Ready(v) => {
                            out.insert(k.clone(), v);
                        }
                        Res::Pending => pending = true,
                        u @ Res::Unresolvable(_) => return u,
                    },
                }
            }
            if pending {
                Res::Pending
            } else {
                Res::Ready(Value::Map(out))
            }
        }
        Tree::OneOf { discriminator, options } => {
            let mut pending = false;
            let mut reasons = Vec::new();
            for (name, option) in options {
                match resolve(option, data) {
                    Res::Ready(Value::Map(mut m)) => {
                        m.insert(Key::Str(discriminator.clone()), Value::String(name.clone()));
                        return Res::Ready(Value::Map(m));
                    }
                    Res::Ready(other) => {
                        return Res::Unresolvable(format!(
                            "option '{name}' of a !oneof must be an object, got {}",
                            other.type_name()
                        ))
                    }
                    Res::Pending => pending = true,
                    Res::Unresolvable(r) => reasons.push(format!("{name}: {r}")),
                }
            }
            if pending {
                Res::Pending
            } else {
                Res::Unresolvable(format!("no option of the !oneof can resolve ({})", reasons.join("; ")))
            }
        }
    }
}

pub fn resolve_expr(e: &Expr, data: &dyn DataView) -> Res {
    let mut pending = false;
    for path in e.dependencies() {
        match data.status(&path) {
            PathStatus::Resolved => {}
            PathStatus::Pending => pending = true,
            PathStatus::Unresolvable(why) => return Res::Unresolvable(why),
        }
    }
    if pending {
        return Res::Pending;
    }
    let ctx = EvalContext { context_dir: data.context_dir() };
    match e.evaluate(data.root(), &ctx) {
        Ok(v) => Res::Ready(v),
        Err(err) => Res::Unresolvable(err.to_string()),
    }
}
