//! Owns the recursive-descent parser that turns tokens into a depth-bounded syntax tree.
//!
//! Binary operators are resolved on an explicit operator stack (shunting-yard) and prefix
//! operators with a loop, so the parser recurses only through parentheses, brackets and call
//! arguments; that recursion and the height of the tree are both capped at `MAX_DEPTH`.
//!
//! The functions on the recursive path (`expr` → `binary` → `unary` → `postfix` → `primary` →
//! `call`) are kept small and leave messages and node building to helpers: unoptimised builds give
//! every temporary its own stack slot, and those slots are multiplied by the nesting depth.

use super::ast::{BinOp, Kind, Node, Prefix, Step, StepKind, UnOp, MAX_DEPTH};
use super::functions;
use super::lexer::{tokenize, SyntaxError, Tok, Token};

/// Parses a complete expression.
pub(crate) fn parse(src: &str) -> Result<Node, SyntaxError> {
    let tokens = tokenize(src)?;
    let mut parser = Parser { tokens, pos: 0, nesting: 0 };
    let node = parser.expr()?;
    if parser.peek().kind != Tok::Eof {
        return Err(parser.expected("expected an operator or the end of the expression"));
    }
    Ok(node)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    nesting: usize,
}

/// Stands in for a token when the stream is somehow exhausted, so lookups never index out of range.
static EOF: Token = Token { kind: Tok::Eof, start: 0, end: 0, column: 1 };

/// What the parser remembers about an opening `(` or `[` until its partner arrives.
#[derive(Clone, Copy)]
struct Opening {
    start: usize,
    column: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).or_else(|| self.tokens.last()).unwrap_or(&EOF)
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        self.tokens.get(self.pos + ahead).map_or(&Tok::Eof, |t| &t.kind)
    }

    /// Consumes the current token and returns where it was.
    fn bump(&mut self) -> Opening {
        let token = self.peek();
        let opening = Opening { start: token.start, column: token.column };
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        opening
    }

    /// End offset of the last consumed token.
    fn last_end(&self) -> usize {
        self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)).map_or(0, |t| t.end)
    }

    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError { column: self.peek().column, message: message.into(), found: None }
    }

    /// An error about the current token not being what `message` says was expected.
    fn expected(&self, message: impl Into<String>) -> SyntaxError {
        let token = self.peek();
        SyntaxError { column: token.column, message: message.into(), found: Some(token.kind.to_string()) }
    }

    fn too_deep(&self) -> SyntaxError {
        self.error(format!("expression is nested too deeply (more than {MAX_DEPTH} levels)"))
    }

    /// Refuses trees taller than `MAX_DEPTH`.
    fn bounded(&self, node: Node) -> Result<Node, SyntaxError> {
        if node.depth > MAX_DEPTH {
            Err(self.too_deep())
        } else {
            Ok(node)
        }
    }

    // --- the recursive path

    fn expr(&mut self) -> Result<Node, SyntaxError> {
        if self.nesting >= MAX_DEPTH {
            return Err(self.too_deep());
        }
        self.nesting += 1;
        let result = self.binary();
        self.nesting -= 1;
        result
    }

    /// binary := unary (binop unary)*
    fn binary(&mut self) -> Result<Node, SyntaxError> {
        let mut stack = OperatorStack::default();
        loop {
            let operand = self.unary()?;
            let op = self.take_binop();
            self.push_operand(&mut stack, operand, op)?;
            if op.is_none() {
                return self.finish_binary(stack);
            }
        }
    }

    /// unary := ("-" | "!")* postfix. Prefix operators bind tighter than every binary operator.
    fn unary(&mut self) -> Result<Node, SyntaxError> {
        let prefixes = self.take_prefixes();
        let operand = self.postfix()?;
        self.wrap_unary(prefixes, operand)
    }

    /// postfix := primary ("." IDENT | "[" expr "]")*
    fn postfix(&mut self) -> Result<Node, SyntaxError> {
        let bare_literal = self.at_literal();
        let base = self.primary()?;
        if bare_literal {
            return self.refuse_postfix(base);
        }
        match self.peek().kind {
            Tok::Dot | Tok::LBracket | Tok::LParen => self.steps(base),
            _ => Ok(base),
        }
    }

    /// The postfix chain after `base`; separate from `postfix` so that parenthesised operands do
    /// not pay for this frame on their way down.
    fn steps(&mut self, base: Node) -> Result<Node, SyntaxError> {
        let mut steps = Vec::new();
        loop {
            match self.peek().kind {
                Tok::Dot => steps.push(self.field_step()?),
                Tok::LBracket => {
                    let open = self.bump();
                    let key = self.expr()?;
                    steps.push(self.close_bracket(open, key)?);
                }
                Tok::LParen => return Err(self.error("only built-in functions can be called")),
                _ => return self.finish_access(base, steps),
            }
        }
    }

    fn primary(&mut self) -> Result<Node, SyntaxError> {
        match (&self.peek().kind, self.peek_at(1)) {
            (Tok::LParen, _) => {
                let open = self.bump();
                let inner = self.expr()?;
                self.close_paren(open, inner)
            }
            (Tok::Ident(_), Tok::LParen) => self.call(),
            _ => self.atom(),
        }
    }

    /// call := IDENT "(" [expr ("," expr)*] ")"
    fn call(&mut self) -> Result<Node, SyntaxError> {
        let (name, open) = self.call_head()?;
        let mut args = Vec::new();
        if !self.take_close_paren() {
            loop {
                args.push(self.expr()?);
                if self.take_argument_separator(&name, open)? {
                    break;
                }
            }
        }
        self.finish_call(name, open, args)
    }

    // --- helpers off the recursive path

    fn take_binop(&mut self) -> Option<BinOp> {
        let op = match self.peek().kind {
            Tok::OrOr => BinOp::Or,
            Tok::AndAnd => BinOp::And,
            Tok::EqEq => BinOp::Eq,
            Tok::NotEq => BinOp::Ne,
            Tok::Lt => BinOp::Lt,
            Tok::Gt => BinOp::Gt,
            Tok::Le => BinOp::Le,
            Tok::Ge => BinOp::Ge,
            Tok::Plus => BinOp::Add,
            Tok::Minus => BinOp::Sub,
            Tok::Star => BinOp::Mul,
            Tok::Slash => BinOp::Div,
            Tok::Percent => BinOp::Rem,
            Tok::Caret => BinOp::Pow,
            _ => return None,
        };
        self.bump();
        Some(op)
    }

    /// Pushes an operand and the operator after it (if any), reducing what binds at least as tightly.
    fn push_operand(&self, stack: &mut OperatorStack, operand: Node, next: Option<BinOp>) -> Result<(), SyntaxError> {
        stack.operands.push(Operand { node: operand, chain: None });
        let floor = next.map_or(0, BinOp::precedence);
        while stack.operators.last().is_some_and(|top| top.precedence() >= floor) {
            self.reduce(stack)?;
        }
        if let Some(op) = next {
            stack.operators.push(op);
        }
        Ok(())
    }

    /// Combines the top two operands, extending the left one when it is an unparenthesised run
    /// of the same precedence (all levels are left-associative).
    fn reduce(&self, stack: &mut OperatorStack) -> Result<(), SyntaxError> {
        let (Some(op), Some(right), Some(left)) = (stack.operators.pop(), stack.operands.pop(), stack.operands.pop())
        else {
            return Err(self.error("internal error: unbalanced operator stack"));
        };
        let precedence = op.precedence();
        let (start, end) = (left.node.start, right.node.end);
        let node = match left.node.kind {
            Kind::Binary { first, mut rest } if left.chain == Some(precedence) => {
                // Depth is updated incrementally: recomputing it would make long runs quadratic.
                let depth = left.node.depth.max(right.node.depth + 1);
                rest.push((op, right.node));
                Node { kind: Kind::Binary { first, rest }, start, end, depth }
            }
            kind => {
                let first = Box::new(Node { kind, ..left.node });
                Node::inner(Kind::Binary { first, rest: vec![(op, right.node)] }, start, end)
            }
        };
        stack.operands.push(Operand { node: self.bounded(node)?, chain: Some(precedence) });
        Ok(())
    }

    fn finish_binary(&self, mut stack: OperatorStack) -> Result<Node, SyntaxError> {
        match (stack.operands.pop(), stack.operands.is_empty() && stack.operators.is_empty()) {
            (Some(operand), true) => Ok(operand.node),
            _ => Err(self.error("internal error: unbalanced operator stack")),
        }
    }

    fn take_prefixes(&mut self) -> Vec<Prefix> {
        let mut prefixes = Vec::new();
        loop {
            let op = match self.peek().kind {
                Tok::Minus => UnOp::Neg,
                Tok::Bang => UnOp::Not,
                _ => return prefixes,
            };
            let at = self.bump();
            prefixes.push(Prefix { op, start: at.start });
        }
    }

    fn wrap_unary(&self, prefixes: Vec<Prefix>, operand: Node) -> Result<Node, SyntaxError> {
        let Some(first) = prefixes.first() else {
            return Ok(operand);
        };
        let (start, end) = (first.start, operand.end);
        self.bounded(Node::inner(Kind::Unary { ops: prefixes, operand: Box::new(operand) }, start, end))
    }

    fn at_literal(&self) -> bool {
        match (&self.peek().kind, self.peek_at(1)) {
            (Tok::Int(_) | Tok::Float(_) | Tok::Str(_), _) => true,
            (Tok::Ident(name), next) => (name == "true" || name == "false") && *next != Tok::LParen,
            _ => false,
        }
    }

    /// A bare literal cannot be accessed or called; `(1).x` is left to the type checker.
    fn refuse_postfix(&self, literal: Node) -> Result<Node, SyntaxError> {
        match self.peek().kind {
            Tok::Dot | Tok::LBracket | Tok::LParen => {
                Err(self.error(format!("a literal cannot be followed by {}", self.peek().kind)))
            }
            _ => Ok(literal),
        }
    }

    fn field_step(&mut self) -> Result<Step, SyntaxError> {
        self.bump();
        let Tok::Ident(name) = &self.peek().kind else {
            return Err(self.expected("expected an identifier after '.'"));
        };
        let step = Step { kind: StepKind::Field(name.clone()), end: self.peek().end };
        self.bump();
        Ok(step)
    }

    fn close_bracket(&mut self, open: Opening, key: Node) -> Result<Step, SyntaxError> {
        if self.peek().kind != Tok::RBracket {
            return Err(self.expected(format!("expected ']' to close the '[' from column {}", open.column)));
        }
        self.bump();
        Ok(Step { kind: StepKind::Index(key), end: self.last_end() })
    }

    fn finish_access(&self, base: Node, steps: Vec<Step>) -> Result<Node, SyntaxError> {
        let Some(last) = steps.last() else {
            return Ok(base);
        };
        let (start, end) = (base.start, last.end);
        self.bounded(Node::inner(Kind::Access { base: Box::new(base), steps }, start, end))
    }

    fn close_paren(&mut self, open: Opening, inner: Node) -> Result<Node, SyntaxError> {
        if self.peek().kind != Tok::RParen {
            return Err(self.expected(format!("expected ')' to close the '(' from column {}", open.column)));
        }
        self.bump();
        // The span grows to cover the parentheses so quoted sub-expressions stay balanced.
        Ok(Node { start: open.start, end: self.last_end(), ..inner })
    }

    /// Consumes `name(`, refusing unknown functions.
    fn call_head(&mut self) -> Result<(String, Opening), SyntaxError> {
        let Tok::Ident(name) = &self.peek().kind else {
            return Err(self.expected("expected a function name"));
        };
        if functions::lookup(name).is_none() {
            return Err(self.error(format!("unknown function '{name}'")));
        }
        let name = name.clone();
        let at = self.bump();
        self.bump();
        Ok((name, at))
    }

    fn take_close_paren(&mut self) -> bool {
        let close = self.peek().kind == Tok::RParen;
        if close {
            self.bump();
        }
        close
    }

    /// After an argument: `true` at the closing `)`, `false` after a `,`.
    fn take_argument_separator(&mut self, name: &str, open: Opening) -> Result<bool, SyntaxError> {
        match self.peek().kind {
            Tok::Comma => {
                self.bump();
                Ok(false)
            }
            Tok::RParen => {
                self.bump();
                Ok(true)
            }
            _ => Err(self.expected(format!(
                "expected ',' or ')' after an argument of {name} (called at column {})",
                open.column
            ))),
        }
    }

    fn finish_call(&self, name: String, open: Opening, args: Vec<Node>) -> Result<Node, SyntaxError> {
        self.bounded(Node::inner(Kind::Call { name, args }, open.start, self.last_end()))
    }

    /// Literals, `$` and the errors for anything else that cannot start an operand.
    fn atom(&mut self) -> Result<Node, SyntaxError> {
        let token = self.peek();
        let kind = match &token.kind {
            Tok::Int(i) => Kind::Int(*i),
            Tok::Float(f) => Kind::Float(*f),
            Tok::Str(s) => Kind::Str(s.clone()),
            Tok::Dollar => Kind::Root,
            Tok::Ident(name) if name == "true" => Kind::Bool(true),
            Tok::Ident(name) if name == "false" => Kind::Bool(false),
            Tok::Ident(name) => return Err(self.error(format!("unknown identifier '{name}'; paths start with $"))),
            _ => return Err(self.expected("expected an expression")),
        };
        let node = Node::leaf(kind, token.start, token.end);
        self.bump();
        Ok(node)
    }
}

#[derive(Default)]
struct OperatorStack {
    operands: Vec<Operand>,
    operators: Vec<BinOp>,
}

struct Operand {
    node: Node,
    /// The precedence of the binary run this operand was built by, if it may still be extended.
    chain: Option<u8>,
}
