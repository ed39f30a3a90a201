//! Owns the Arcaflow expression language: parsing, static type checking, dependency discovery and evaluation.
//!
//! The language follows the reference engine's expression language except where that engine is
//! surprising: unary `-` and `!` bind tightest, integers are always `i64` with checked
//! arithmetic, `readFile` resolves against the workflow's context directory, and no input can make
//! any of these functions panic (nesting is capped at [`MAX_NESTING`] levels).

pub mod ty;

pub use ty::{ExprType, ObjectType};

mod ast;
mod check;
mod eval;
mod functions;
mod gostrconv;
mod lexer;
mod parser;

#[cfg(test)]
mod tests;

use std::path::Path;

use crate::value::Value;

/// How deeply expressions may nest (parentheses, operators, brackets, calls) before parsing fails.
pub const MAX_NESTING: usize = ast::MAX_DEPTH;

/// A parsed expression: its source text and syntax tree.
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
    root: ast::Node,
}

/// What evaluation needs besides the data.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext<'a> {
    /// The workflow's context directory; `readFile` resolves relative paths against it.
    pub context_dir: &'a Path,
}

/// Why an expression could not be parsed, type checked or evaluated. `Display` gives a complete
/// message that quotes the offending (sub-)expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprError {
    /// The text is not a valid expression.
    #[error("syntax error at column {column}: {message}{} (in '{}')", found_suffix(.found), quote(.expr))]
    Parse {
        /// The whole expression source.
        expr: String,
        /// 1-based character column of the problem.
        column: usize,
        message: String,
        /// The token found where something else was expected, if that is the problem.
        found: Option<String>,
    },
    /// The expression is well formed but cannot work on the types it is given.
    #[error("{message} in '{}'{}", quote(.at), whole_suffix(.at, .expr))]
    Type {
        /// The whole expression source.
        expr: String,
        /// The sub-expression at fault.
        at: String,
        message: String,
    },
    /// Evaluation failed on the actual data.
    #[error("{message} in '{}'{}", quote(.at), whole_suffix(.at, .expr))]
    Eval {
        /// The whole expression source.
        expr: String,
        /// The sub-expression at fault.
        at: String,
        message: String,
    },
}

impl ExprError {
    /// The message for a reader who was just shown the whole expression: the sub-expression at
    /// fault (when it is not the whole) and what is wrong, without repeating the expression.
    pub fn within(&self) -> String {
        match self {
            ExprError::Parse { column, message, found, .. } => {
                format!("syntax error at column {column}: {message}{}", found_suffix(found))
            }
            ExprError::Type { expr, at, message } | ExprError::Eval { expr, at, message } => {
                if at == expr {
                    message.clone()
                } else {
                    format!("in '{}': {message}", quote(at))
                }
            }
        }
    }
}

fn found_suffix(found: &Option<String>) -> String {
    found.as_ref().map(|f| format!(", found {f}")).unwrap_or_default()
}

fn whole_suffix(at: &str, expr: &str) -> String {
    if at == expr {
        String::new()
    } else {
        format!(" (expression '{}')", quote(expr))
    }
}

/// Expressions are quoted in messages, but a pathological one is cut short rather than flooding
/// the terminal.
fn quote(text: &str) -> String {
    const LIMIT: usize = 200;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_string(),
    }
}

impl Expr {
    /// Parses `src`. Unknown functions and unknown bare identifiers are syntax errors.
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        match parser::parse(src) {
            Ok(root) => Ok(Expr { source: src.to_string(), root }),
            Err(e) => {
                Err(ExprError::Parse { expr: src.to_string(), column: e.column, message: e.message, found: e.found })
            }
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every `$`-rooted path this expression reads (including inside function arguments and
    /// brackets), as its leading literal segments, in source order and without duplicates.
    ///
    /// A path stops at its first access that is not a `.name` or a string-literal key `["name"]`:
    /// `$.steps["my-step"].outputs` gives `["steps", "my-step", "outputs"]`, while
    /// `$.input.list[0].x` and `$.input.list[$.input.i]` give `["input", "list"]` (the latter
    /// also `["input", "i"]`). Integer indexes end a path because a segment string could not tell
    /// them apart from map keys. `$` alone gives an empty path.
    pub fn dependencies(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        collect_dependencies(&self.root, &mut out);
        let mut seen = std::collections::BTreeSet::new();
        out.retain(|path| seen.insert(path.clone()));
        out
    }

    /// Every call of the function `name`: `Some(text)` when its first argument is a string
    /// literal, `None` when it is computed (export needs to know which files a run reads).
    pub fn calls(&self, name: &str) -> Vec<Option<String>> {
        let mut out = Vec::new();
        collect_calls(&self.root, name, &mut out);
        out
    }

    /// Evaluates against the root data `$` (a `Value::Map` with keys such as `input` and `steps`).
    pub fn evaluate(&self, root: &Value, ctx: &EvalContext) -> Result<Value, ExprError> {
        eval::evaluate(&self.source, &self.root, root, ctx)
    }

    /// Type checks against the type of `$` and returns the expression's type.
    pub fn check(&self, root: &ExprType) -> Result<ExprType, ExprError> {
        check::check(&self.source, &self.root, root)
    }
}

fn collect_calls(node: &ast::Node, wanted: &str, out: &mut Vec<Option<String>>) {
    use ast::{Kind, StepKind};
    match &node.kind {
        Kind::Int(_) | Kind::Float(_) | Kind::Str(_) | Kind::Bool(_) | Kind::Root => {}
        Kind::Call { name, args } => {
            if name == wanted {
                out.push(match args.first().map(|a| &a.kind) {
                    Some(Kind::Str(s)) => Some(s.clone()),
                    _ => None,
                });
            }
            args.iter().for_each(|a| collect_calls(a, wanted, out));
        }
        Kind::Unary { operand, .. } => collect_calls(operand, wanted, out),
        Kind::Binary { first, rest } => {
            collect_calls(first, wanted, out);
            rest.iter().for_each(|(_, n)| collect_calls(n, wanted, out));
        }
        Kind::Access { base, steps } => {
            collect_calls(base, wanted, out);
            for s in steps {
                if let StepKind::Index(n) = &s.kind {
                    collect_calls(n, wanted, out);
                }
            }
        }
    }
}

fn collect_dependencies(node: &ast::Node, out: &mut Vec<Vec<String>>) {
    use ast::{Kind, StepKind};
    match &node.kind {
        Kind::Int(_) | Kind::Float(_) | Kind::Str(_) | Kind::Bool(_) => {}
        Kind::Root => out.push(Vec::new()),
        Kind::Call { args, .. } => args.iter().for_each(|a| collect_dependencies(a, out)),
        Kind::Unary { operand, .. } => collect_dependencies(operand, out),
        Kind::Binary { first, rest } => {
            collect_dependencies(first, out);
            rest.iter().for_each(|(_, n)| collect_dependencies(n, out));
        }
        Kind::Access { base, steps } => {
            let rooted = base.kind == Kind::Root;
            if !rooted {
                collect_dependencies(base, out);
            }
            let mut path = Vec::new();
            let mut literal = rooted;
            // The outer path is pushed before paths inside its brackets so results follow the source.
            let slot = out.len();
            for step in steps {
                match &step.kind {
                    StepKind::Field(name) if literal => path.push(name.clone()),
                    StepKind::Field(_) => {}
                    StepKind::Index(key) => {
                        match key.as_str_literal() {
                            Some(k) if literal => path.push(k.to_string()),
                            _ => literal = false,
                        }
                        collect_dependencies(key, out);
                    }
                }
            }
            if rooted {
                out.insert(slot, path);
            }
        }
    }
}

/// Builds a static type error quoting the sub-expression `src[start..end]`.
fn type_error(src: &str, start: usize, end: usize, message: impl Into<String>) -> ExprError {
    ExprError::Type { expr: src.to_string(), at: slice(src, start, end), message: message.into() }
}

/// Builds an evaluation error quoting the sub-expression `src[start..end]`.
fn eval_error(src: &str, start: usize, end: usize, message: impl Into<String>) -> ExprError {
    ExprError::Eval { expr: src.to_string(), at: slice(src, start, end), message: message.into() }
}

fn slice(src: &str, start: usize, end: usize) -> String {
    src.get(start..end).unwrap_or(src).to_string()
}
