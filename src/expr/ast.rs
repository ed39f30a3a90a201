//! Owns the syntax tree that the parser builds and the evaluator, checker and dependency walk read.

use std::fmt;

/// Deepest nesting the parser accepts, counted both as parser recursion (parentheses, brackets,
/// call arguments) and as the height of the tree built. Every later pass recurses over the tree,
/// so this bound is what keeps evaluation, checking and dropping the tree off the end of the stack.
pub(crate) const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    /// Byte range in the source, used to quote the sub-expression in messages.
    pub start: usize,
    pub end: usize,
    /// Height of this subtree (a leaf is 1), kept so the parser can refuse over-deep trees cheaply.
    pub depth: usize,
}

/// Sequences (paths, prefix operators, runs of one binary precedence) are stored flat rather than
/// nested, so `$.a.b.c…`, `!!x` and `1 + 2 + 3 + …` do not count against `MAX_DEPTH`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// `$`
    Root,
    Call {
        name: String,
        args: Vec<Node>,
    },
    /// A postfix chain such as `$.a["b"][0]`.
    Access {
        base: Box<Node>,
        steps: Vec<Step>,
    },
    /// Prefix operators in source order; the last one applies first.
    Unary {
        ops: Vec<Prefix>,
        operand: Box<Node>,
    },
    /// `first op1 x1 op2 x2 …`, evaluated left to right; every operator has the same precedence.
    Binary {
        first: Box<Node>,
        rest: Vec<(BinOp, Node)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Prefix {
    pub op: UnOp,
    /// Byte offset of the operator, so `source[prefix.start..operand.end]` is what it applies to.
    pub start: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    pub kind: StepKind,
    /// Byte offset just after this step, so `source[chain.start..step.end]` names the path so far.
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StepKind {
    Field(String),
    Index(Node),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

impl BinOp {
    /// Binding strength; every level is left-associative.
    pub(super) fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 5,
            BinOp::Pow => 6,
        }
    }

    pub(super) fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Pow => "^",
        }
    }
}

impl UnOp {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            UnOp::Neg => "-",
            UnOp::Not => "!",
        }
    }
}

impl fmt::Display for BinOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

impl fmt::Display for UnOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

impl Node {
    pub(super) fn leaf(kind: Kind, start: usize, end: usize) -> Node {
        Node { kind, start, end, depth: 1 }
    }

    /// Builds an inner node, computing its depth from the children it holds.
    pub(super) fn inner(kind: Kind, start: usize, end: usize) -> Node {
        let children = match &kind {
            Kind::Call { args, .. } => args.iter().map(|a| a.depth).max().unwrap_or(0),
            Kind::Access { base, steps } => steps
                .iter()
                .filter_map(|s| match &s.kind {
                    StepKind::Index(n) => Some(n.depth),
                    StepKind::Field(_) => None,
                })
                .fold(base.depth, usize::max),
            Kind::Unary { operand, .. } => operand.depth,
            Kind::Binary { first, rest } => rest.iter().map(|(_, n)| n.depth).fold(first.depth, usize::max),
            Kind::Int(_) | Kind::Float(_) | Kind::Str(_) | Kind::Bool(_) | Kind::Root => 0,
        };
        Node { kind, start, end, depth: children + 1 }
    }

    /// The literal text of a string-literal node, used for constant keys.
    pub(super) fn as_str_literal(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }
}
