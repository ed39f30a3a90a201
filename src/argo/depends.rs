//! Owns Argo's `depends` expressions: parsing (`a.Succeeded && (b || !c.Failed)`), the tasks they
//! name, and evaluating them against task phases, as Argo's DAG controller does.

use std::collections::BTreeMap;

/// The results a `depends` term may test (Argo `common.DependencyType`).
pub const RESULTS: &[&str] =
    &["Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed"];

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `task` alone means `task.Succeeded || task.Skipped || task.Daemoned`.
    Task {
        task: String,
        result: Option<String>,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// A finished task's phase, as the simulator and Argo see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Succeeded,
    Failed,
    Errored,
    Skipped,
    Omitted,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
            Phase::Errored => "Errored",
            Phase::Skipped => "Skipped",
            Phase::Omitted => "Omitted",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    And,
    Or,
    Not,
    Open,
    Close,
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1
            }
            ')' => {
                out.push(Tok::Close);
                i += 1
            }
            '!' => {
                out.push(Tok::Not);
                i += 1
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                out.push(Tok::And);
                i += 2
            }
            '|' if chars.get(i + 1) == Some(&'|') => {
                out.push(Tok::Or);
                i += 2
            }
            c if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '-' | '.' | '_')) {
                    i += 1;
                }
                out.push(Tok::Name(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character '{other}' at position {i}")),
        }
    }
    Ok(out)
}

/// Parses a `depends` expression; the error says what is wrong and where.
pub fn parse(text: &str) -> Result<Expr, String> {
    let toks = lex(text)?;
    if toks.is_empty() {
        return Err("the expression is empty".into());
    }
    let mut p = Parser { toks, pos: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected {:?} after a complete expression", p.toks[p.pos]));
    }
    Ok(e)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.toks.get(self.pos) == Some(&Tok::Or) {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.toks.get(self.pos) == Some(&Tok::And) {
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Not) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.or()?;
                if self.toks.get(self.pos) != Some(&Tok::Close) {
                    return Err("a '(' is not closed".into());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Name(n)) => {
                self.pos += 1;
                let (task, result) = match n.split_once('.') {
                    None => (n.clone(), None),
                    Some((t, r)) => {
                        if !RESULTS.contains(&r) {
                            return Err(format!(
                                "'{r}' in '{n}' is not a task result (one of: {})",
                                RESULTS.join(", ")
                            ));
                        }
                        (t.to_string(), Some(r.to_string()))
                    }
                };
                if task.is_empty() {
                    return Err(format!("'{n}' names no task"));
                }
                Ok(Expr::Task { task, result })
            }
            Some(other) => Err(format!("expected a task, '!' or '(' but found {other:?}")),
            None => Err("the expression ends where a task, '!' or '(' is expected".into()),
        }
    }
}

impl Expr {
    /// Every task the expression names, in order of first mention.
    pub fn tasks(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<String>) {
        match self {
            Expr::Task { task, .. } => {
                if !out.contains(task) {
                    out.push(task.clone())
                }
            }
            Expr::Not(e) => e.collect(out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }

    /// Evaluates with every named task finished (Argo evaluates `depends` only then).
    pub fn eval(&self, phases: &BTreeMap<String, Phase>) -> bool {
        match self {
            Expr::Task { task, result } => {
                let Some(phase) = phases.get(task).copied() else {
                    return false;
                };
                match result.as_deref() {
                    None => matches!(phase, Phase::Succeeded | Phase::Skipped),
                    Some("AnySucceeded") | Some("Succeeded") => phase == Phase::Succeeded,
                    Some("AllFailed") | Some("Failed") => phase == Phase::Failed,
                    Some(r) => phase.name() == r,
                }
            }
            Expr::Not(e) => !e.eval(phases),
            Expr::And(a, b) => a.eval(phases) && b.eval(phases),
            Expr::Or(a, b) => a.eval(phases) || b.eval(phases),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_tasks() {
        let e = parse("(a.Succeeded || a.Failed) && !b.Skipped && c").unwrap();
        assert_eq!(e.tasks(), vec!["a", "b", "c"]);
    }

    #[test]
    fn syntax_errors_are_reported() {
        for bad in ["a.Succeeded &&", "a.Nope", "(a", "a b", "&& a", "a.Succeeded | b", ""] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn evaluates_like_argo() {
        let phases: BTreeMap<String, Phase> =
            [("a".to_string(), Phase::Skipped), ("b".to_string(), Phase::Failed)].into_iter().collect();
        assert!(parse("a").unwrap().eval(&phases), "a bare task accepts Skipped");
        assert!(!parse("a.Succeeded").unwrap().eval(&phases));
        assert!(parse("a.Skipped && b.Failed").unwrap().eval(&phases));
        assert!(parse("!b.Succeeded").unwrap().eval(&phases));
    }
}
