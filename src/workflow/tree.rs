//! Owns data trees: YAML values whose leaves may be expressions or dependency tags
//! (`!expr`, `!oneof`, `!ordisabled`, `!wait-optional`, `!soft-optional`).

use std::collections::BTreeMap;

use crate::expr::Expr;
use crate::value::{Key, Value};
use crate::yaml::Yaml;

#[derive(Debug, Clone)]
pub enum Tree {
    /// Plain data: YAML scalars keep their types.
    Value(Value),
    Expr(Expr),
    Map(BTreeMap<Key, Tree>),
    List(Vec<Tree>),
    /// The first option that resolves wins; the result gets `discriminator: <option key>`.
    OneOf {
        discriminator: String,
        options: BTreeMap<String, Tree>,
    },
    /// A map field that waits for its step to finish and is left out when it cannot resolve.
    WaitOptional(Expr),
    /// A map field that is included only if it has already resolved when its map is built.
    SoftOptional(Expr),
}

impl Tree {
    /// Builds a tree from YAML; `at` is the path used in error messages.
    pub fn from_yaml(y: &Yaml, at: &str) -> Result<Tree, String> {
        use Yaml as Y;
        match y {
            Y::Tagged(tagged) => {
                let tag = tagged.tag.trim_start_matches('!');
                match tag {
                    "expr" => Ok(Tree::Expr(parse_expr(&tagged.value, at, "!expr")?)),
                    "wait-optional" => Ok(Tree::WaitOptional(parse_expr(&tagged.value, at, "!wait-optional")?)),
                    "soft-optional" => Ok(Tree::SoftOptional(parse_expr(&tagged.value, at, "!soft-optional")?)),
                    "ordisabled" => ordisabled(&tagged.value, at),
                    "oneof" => oneof(&tagged.value, at),
                    // Unknown tags are kept as plain data, as the reference engine does.
                    _ => Tree::from_yaml(&tagged.value, at),
                }
            }
            Y::Map(m) => {
                let mut out = BTreeMap::new();
                for (k, v) in m {
                    let key = match Value::from_yaml(k) {
                        Value::Int(i) => Key::Int(i),
                        Value::String(s) => Key::Str(s),
                        other => Key::Str(other.to_string()),
                    };
                    let child_at = format!("{at} -> {key}");
                    out.insert(key, Tree::from_yaml(v, &child_at)?);
                }
                Ok(collapse(Tree::Map(out)))
            }
            Y::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    out.push(Tree::from_yaml(v, &format!("{at} -> [{i}]"))?);
                }
                Ok(collapse(Tree::List(out)))
            }
            other => Ok(Tree::Value(Value::from_yaml(other))),
        }
    }

    /// Every expression in the tree, for dependency and type analysis.
    pub fn expressions(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Expr>) {
        match self {
            Tree::Value(_) => {}
            Tree::Expr(e) | Tree::WaitOptional(e) | Tree::SoftOptional(e) => out.push(e),
            Tree::Map(m) => m.values().for_each(|t| t.collect(out)),
            Tree::List(l) => l.iter().for_each(|t| t.collect(out)),
            Tree::OneOf { options, .. } => options.values().for_each(|t| t.collect(out)),
        }
    }
}

/// A map or list with no expression inside is plain data; keeping it as one value makes resolution cheap.
fn collapse(tree: Tree) -> Tree {
    match tree {
        Tree::Map(m) if m.values().all(|t| matches!(t, Tree::Value(_))) => Tree::Value(Value::Map(
            m.into_iter()
                .map(|(k, t)| match t {
                    Tree::Value(v) => (k, v),
                    _ => (k, Value::Null),
                })
                .collect(),
        )),
        Tree::List(l) if l.iter().all(|t| matches!(t, Tree::Value(_))) => Tree::Value(Value::List(
            l.into_iter()
                .map(|t| match t {
                    Tree::Value(v) => v,
                    _ => Value::Null,
                })
                .collect(),
        )),
        other => other,
    }
}

fn parse_expr(y: &Yaml, at: &str, tag: &str) -> Result<Expr, String> {
    let text = match y {
        Yaml::String(s) => s.clone(),
        Yaml::Int(_) | Yaml::Float(_) | Yaml::Bool(_) => y.to_string(),
        _ => return Err(format!("{tag} found on a non-string node at {at}")),
    };
    Expr::parse(&text).map_err(|e| format!("failed to compile expression at {at} ({}): {e}", text.trim()))
}

fn ordisabled(y: &Yaml, at: &str) -> Result<Tree, String> {
    let Yaml::String(path) = y else {
        return Err(format!("!ordisabled found on a non-string node at {at}"));
    };
    let path = path.trim();
    let parts: Vec<&str> = path.trim_start_matches("$.").split('.').collect();
    if parts.len() < 3 || parts[0] != "steps" {
        return Err(format!("!ordisabled at {at} needs a path like $.steps.ID.outputs.success, got '{path}'"));
    }
    let full = if path.starts_with("$.") { path.to_string() } else { format!("$.{path}") };
    let enabled = Expr::parse(&full).map_err(|e| format!("failed to compile expression at {at}: {e}"))?;
    let disabled = Expr::parse(&format!("$.steps.{}.disabled.output", parts[1]))
        .map_err(|e| format!("failed to compile expression at {at}: {e}"))?;
    Ok(Tree::OneOf {
        discriminator: "result".into(),
        options: [("enabled".to_string(), Tree::Expr(enabled)), ("disabled".to_string(), Tree::Expr(disabled))]
            .into_iter()
            .collect(),
    })
}

fn oneof(y: &Yaml, at: &str) -> Result<Tree, String> {
    let Yaml::Map(m) = y else {
        return Err(format!("!oneof at {at} must be a map with 'discriminator' and 'one_of'"));
    };
    let mut discriminator = None;
    let mut options = BTreeMap::new();
    for (k, v) in m {
        match k.as_str() {
            Some("discriminator") => {
                discriminator = Some(v.as_str().ok_or(format!("{at} -> discriminator must be a string"))?.to_string())
            }
            Some("one_of") => {
                let Yaml::Map(opts) = v else {
                    return Err(format!("{at} -> one_of must be a map of options"));
                };
                for (ok, ov) in opts {
                    let key = Value::from_yaml(ok).to_string().trim_matches('"').to_string();
                    options.insert(key.clone(), Tree::from_yaml(ov, &format!("{at} -> one_of -> {key}"))?);
                }
            }
            _ => return Err(format!("{at}: invalid key {k} in !oneof, expected discriminator and one_of")),
        }
    }
    let discriminator = discriminator.ok_or(format!("{at}: !oneof needs a 'discriminator'"))?;
    if options.is_empty() {
        return Err(format!("{at}: !oneof needs at least one option in 'one_of'"));
    }
    Ok(Tree::OneOf { discriminator, options })
}
