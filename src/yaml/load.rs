//! Owns reading YAML text into nodes from saphyr-parser's events, within the limits: nesting depth
//! and nodes (aliases count the nodes they expand to) are checked as events arrive, so a hostile
//! file is refused after a bounded amount of work and memory.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::{Mapping, ReadError, Tagged, Yaml};
use crate::limits::Limits;

const CORE: &str = "tag:yaml.org,2002:";

/// One collection being built.
struct Frame {
    anchor: usize,
    tag: Option<String>,
    /// Nodes inside this collection, itself included (what an alias to it costs).
    nodes: usize,
    kind: Kind,
}

enum Kind {
    Seq(Vec<Yaml>),
    Map(Mapping, Option<Yaml>),
}

/// Reads one YAML document (an empty text is null). More than one document is an error.
///
/// Flow content (quoted scalars spread over lines, `[...]`/`{...}` over lines) indented no deeper
/// than its parent key is against the YAML spec, but libyaml (and so the reference engine, PyYAML
/// and kubectl) reads it, and real files are written that way. saphyr-parser refuses it, so on
/// that refusal the offending lines are indented further and the text is read again: leading
/// white space inside flow content carries no meaning, so the value is the one libyaml reads.
pub fn parse(text: &str, limits: &Limits) -> Result<Yaml, ReadError> {
    let mut first_error = None;
    let mut repaired: Option<String> = None;
    for _ in 0..=MAX_REPAIRS {
        let current = repaired.as_deref().unwrap_or(text);
        let mut fault = None;
        match parse_once(current, limits, &mut fault) {
            Ok(y) => return Ok(y),
            Err(error) => {
                // A re-indented text that still fails is reported as the original failed: its
                // positions are the file's own.
                first_error.get_or_insert(error);
                match fault.and_then(|f| reindent(current, f)) {
                    Some(next) => repaired = Some(next),
                    None => break,
                }
            }
        }
    }
    Err(first_error.unwrap_or_else(|| ReadError::Syntax("unreadable".into())))
}

/// How many re-indentations one read may make: each is a full parse, so hostile input stays bounded.
const MAX_REPAIRS: usize = 64;

/// saphyr-parser's refusal of under-indented flow content.
#[derive(Clone, Copy)]
struct Fault {
    /// 1-based line and 0-based column of the position it names.
    line: usize,
    col: usize,
    /// The position is the start of a quoted scalar whose later lines are at fault (otherwise the
    /// flow token at fault itself).
    quoted: bool,
}

/// Indents the lines at fault; None when there is nothing to indent (then the error stands).
fn reindent(text: &str, Fault { line, col, quoted }: Fault) -> Option<String> {
    let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
    let first = line.checked_sub(1)?;
    if first >= lines.len() {
        return None;
    }
    let indent = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
    if quoted {
        // The continuation lines of the scalar that starts at (line, col), up to its closing quote.
        let last = closing_line(&lines, first, col)?;
        if last == first {
            return None;
        }
        let target = col + 1;
        for l in &mut lines[first + 1..=last] {
            let have = indent(l);
            if have < target {
                l.insert_str(0, &" ".repeat(target - have));
            }
        }
    } else {
        // A flow token at the start of its line: indent it two columns past the line above.
        let above = lines[..first].iter().rev().find(|l| !l.trim().is_empty()).map_or(0, |l| indent(l));
        let have = indent(&lines[first]);
        let target = (above + 2).max(have + 2);
        if have != col || target > 4096 {
            return None;
        }
        lines[first].insert_str(0, &" ".repeat(target - have));
    }
    Some(lines.join("\n"))
}

/// The line index where the quoted scalar opening at (first, col) closes.
fn closing_line(lines: &[String], first: usize, col: usize) -> Option<usize> {
    let open_line = &lines[first];
    let start = open_line.char_indices().nth(col)?.0;
    let quote = open_line[start..].chars().next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let mut skip_from = start + 1;
    for (i, l) in lines.iter().enumerate().skip(first) {
        let from = if i == first { skip_from } else { 0 };
        let mut chars = l[from..].chars().peekable();
        while let Some(c) = chars.next() {
            if quote == '"' && c == '\\' {
                chars.next();
            } else if c == quote {
                if quote == '\'' && chars.peek() == Some(&'\'') {
                    chars.next();
                } else {
                    return Some(i);
                }
            }
        }
        skip_from = 0;
    }
    None
}

fn parse_once(text: &str, limits: &Limits, fault: &mut Option<Fault>) -> Result<Yaml, ReadError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Yaml, usize)> = HashMap::new();
    let mut total = 0usize;
    let mut aliased = 0usize;
    let mut root: Option<Yaml> = None;
    let mut documents = 0;
    let syntax = |span: &Span, what: String| {
        ReadError::Syntax(format!("{what} at line {} column {}", span.start.line(), span.start.col() + 1))
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            if e.info() == "recursion limit exceeded" {
                // The scanner stops flow collections at 255 levels, before our own bound would.
                return ReadError::Limit(format!(
                    "collections are nested more than {} deep at line {} (limits.maxDepth in the config)",
                    limits.max_depth.min(255),
                    e.marker().line()
                ));
            }
            let (line, col) = (e.marker().line(), e.marker().col());
            *fault = match e.info() {
                "invalid indentation in quoted scalar" => Some(Fault { line, col, quoted: true }),
                "invalid indentation" | "invalid indentation in flow construct" => {
                    Some(Fault { line, col, quoted: false })
                }
                _ => None,
            };
            ReadError::Syntax(format!("{} at line {} column {}", e.info(), line, col + 1))
        })?;
        // (node, anchor, nodes it counts for)
        let done: Option<(Yaml, usize, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(syntax(&span, "more than one document in the file".into()));
                }
                None
            }
            Event::Alias(id) => {
                let (node, nodes) = anchors.get(&id).ok_or_else(|| syntax(&span, "unknown alias".into()))?;
                aliased = aliased.saturating_add(*nodes);
                if aliased > limits.max_alias_nodes {
                    return Err(ReadError::Limit(format!(
                        "aliases expand to more than {} nodes at line {} (limits.maxAliasNodes in the config)",
                        limits.max_alias_nodes,
                        span.start.line()
                    )));
                }
                total = count(total, *nodes, limits)?;
                Some((node.clone(), 0, *nodes))
            }
            Event::Scalar(text, style, anchor, tag) => {
                total = count(total, 1, limits)?;
                Some((scalar(text, style, tag), anchor, 1))
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                total = count(total, 1, limits)?;
                if stack.len() >= limits.max_depth {
                    return Err(ReadError::Limit(format!(
                        "collections are nested more than {} deep at line {} (limits.maxDepth in the config)",
                        limits.max_depth,
                        span.start.line()
                    )));
                }
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    Kind::Seq(Vec::new())
                } else {
                    Kind::Map(Mapping::new(), None)
                };
                stack.push(Frame { anchor, tag: tag.clone().map(tag_text), nodes: 1, kind });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop().ok_or_else(|| syntax(&span, "unbalanced collection".into()))?;
                let node = match frame.kind {
                    Kind::Seq(items) => Yaml::Seq(items),
                    Kind::Map(m, _) => Yaml::Map(m),
                };
                Some((tagged(node, frame.tag), frame.anchor, frame.nodes))
            }
        };
        let Some((node, anchor, nodes)) = done else { continue };
        if anchor > 0 {
            anchors.insert(anchor, (node.clone(), nodes));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(parent) => {
                parent.nodes = parent.nodes.saturating_add(nodes);
                match &mut parent.kind {
                    Kind::Seq(items) => items.push(node),
                    Kind::Map(_, key @ None) => *key = Some(node),
                    Kind::Map(m, key @ Some(_)) => {
                        let k = key.take().unwrap_or(Yaml::Null);
                        let shown = k.to_string();
                        if !m.insert_new(k, node) {
                            return Err(syntax(&span, format!("duplicate key {shown}")));
                        }
                    }
                }
            }
        }
    }
    Ok(root.unwrap_or(Yaml::Null))
}

fn count(total: usize, more: usize, limits: &Limits) -> Result<usize, ReadError> {
    let total = total.saturating_add(more);
    if total > limits.max_nodes {
        return Err(ReadError::Limit(format!(
            "the document has more than {} nodes once aliases are expanded (limits.maxNodes in the config)",
            limits.max_nodes
        )));
    }
    Ok(total)
}

fn tag_text(tag: Cow<'_, Tag>) -> String {
    format!("{}{}", tag.handle, tag.suffix)
}

fn tagged(node: Yaml, tag: Option<String>) -> Yaml {
    match tag {
        None => node,
        Some(t) if t == format!("{CORE}seq") || t == format!("{CORE}map") => node,
        Some(tag) => Yaml::Tagged(Box::new(Tagged { tag, value: node })),
    }
}

fn scalar(text: Cow<'_, str>, style: ScalarStyle, tag: Option<Cow<'_, Tag>>) -> Yaml {
    let plain = style == ScalarStyle::Plain;
    let Some(tag) = tag else {
        return if plain { resolve(&text) } else { Yaml::String(text.into_owned()) };
    };
    let tag = tag_text(tag);
    match tag.strip_prefix(CORE) {
        Some("str") => Yaml::String(text.into_owned()),
        Some("null") | Some("bool") | Some("int") | Some("float") => resolve(&text),
        _ => {
            // An application tag (`!expr`): the value is read as it would be without it.
            let value = if plain { resolve(&text) } else { Yaml::String(text.into_owned()) };
            Yaml::Tagged(Box::new(Tagged { tag, value }))
        }
    }
}

/// Resolves a plain scalar as serde_yaml 0.9 did (YAML 1.2 core schema; `0x`, `0o`, `0b`
/// integers; a decimal with a leading zero such as `0123` stays text).
pub(crate) fn resolve(s: &str) -> Yaml {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Yaml::Null,
        "true" | "True" | "TRUE" => return Yaml::Bool(true),
        "false" | "False" | "FALSE" => return Yaml::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Yaml::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Yaml::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Yaml::Float(f64::NAN),
        _ => {}
    }
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = unsigned.strip_prefix(prefix) {
            if !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix)) {
                if let Ok(v) = i128::from_str_radix(digits, radix) {
                    if let Ok(v) = i64::try_from(if negative { -v } else { v }) {
                        return Yaml::Int(v);
                    }
                }
            }
            return Yaml::String(s.to_string());
        }
    }
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        if unsigned.len() > 1 && unsigned.starts_with('0') {
            return Yaml::String(s.to_string());
        }
        return match s.parse::<i64>() {
            Ok(v) => Yaml::Int(v),
            Err(_) => s.parse::<f64>().map(Yaml::Float).unwrap_or_else(|_| Yaml::String(s.to_string())),
        };
    }
    if is_core_float(unsigned) {
        if let Ok(v) = s.parse::<f64>() {
            return Yaml::Float(v);
        }
    }
    Yaml::String(s.to_string())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float without its sign.
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int_digits = digits(&mut i);
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac = digits(&mut i);
        if int_digits == 0 && frac == 0 {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Yaml {
        parse(text, &Limits::default()).unwrap()
    }

    #[test]
    fn scalars_resolve_like_before() {
        let y = read(
            "a: true\nb: 5\nc: 1.5\nd: '5'\ne: null\nf: 0123\ng: 0x1f\nh: -.inf\ni: ~\nj: 1e3\nk: yes\nl: 1_000\nm:\n",
        );
        assert_eq!(y["a"], Yaml::Bool(true));
        assert_eq!(y["b"], Yaml::Int(5));
        assert_eq!(y["c"], Yaml::Float(1.5));
        assert_eq!(y["d"], Yaml::String("5".into()));
        assert_eq!(y["e"], Yaml::Null);
        assert_eq!(y["f"], Yaml::String("0123".into()));
        assert_eq!(y["g"], Yaml::Int(31));
        assert_eq!(y["h"], Yaml::Float(f64::NEG_INFINITY));
        assert_eq!(y["i"], Yaml::Null);
        assert_eq!(y["j"], Yaml::Float(1000.0));
        assert_eq!(y["k"], Yaml::String("yes".into()));
        assert_eq!(y["l"], Yaml::String("1_000".into()));
        assert_eq!(y["m"], Yaml::Null);
    }

    #[test]
    fn tags_are_kept() {
        let y = read("a: !expr $.input.x\nb: !!str 5\nc: !oneof {discriminator: d, one_of: {}}\n");
        match &y["a"] {
            Yaml::Tagged(t) => {
                assert_eq!(t.tag, "!expr");
                assert_eq!(t.value, Yaml::String("$.input.x".into()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(y["b"], Yaml::String("5".into()));
        assert!(matches!(&y["c"], Yaml::Tagged(t) if t.tag == "!oneof" && t.value.as_mapping().is_some()));
    }

    #[test]
    fn anchors_and_aliases_expand() {
        let y = read("a: &x {k: [1, 2]}\nb: *x\n");
        assert_eq!(y["a"], y["b"]);
    }

    #[test]
    fn duplicate_keys_and_several_documents_are_errors() {
        let e = parse("a: 1\na: 2\n", &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("duplicate key a"), "{e}");
        let e = parse("a: 1\n---\nb: 2\n", &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("more than one document"), "{e}");
    }

    /// What libyaml reads (PyYAML gave these values for the same text): flow content indented no
    /// deeper than its key, in a quoted scalar, a double-quoted one with an escaped line break, and
    /// a flow sequence whose closing bracket sits under its key.
    #[test]
    fn under_indented_flow_content_reads_as_libyaml_reads_it() {
        let text = "spec:\n  templates:\n    - name: a\n      args: ['\n        echo \"x\";\n        echo \"y\"\n      ']\n      cmd: \"one\n    two \\\n     three\"\n      list: [a,\n      b\n      ]\n";
        let y = read(text);
        let t = &y["spec"]["templates"][0];
        assert_eq!(t["args"][0], Yaml::String(" echo \"x\"; echo \"y\" ".into()));
        assert_eq!(t["cmd"], Yaml::String("one two three".into()));
        assert_eq!(t["list"], Yaml::Seq(vec![Yaml::String("a".into()), Yaml::String("b".into())]));
        assert_eq!(t["name"], Yaml::String("a".into()));
    }

    /// Only indentation is forgiven: other syntax errors stay errors, with their position, and a
    /// quoted scalar that never closes is not "repaired".
    #[test]
    fn other_syntax_errors_stay_errors() {
        let e = parse("a: 'open\n b\n", &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("line"), "{e}");
        let e = parse("a: [1, 2\nb: 3\n", &Limits::default()).unwrap_err();
        assert!(matches!(e, ReadError::Syntax(_)), "{e}");
        let e = parse("a:\n  b: 1\n c: 2\n", &Limits::default()).unwrap_err();
        assert!(matches!(e, ReadError::Syntax(_)), "{e}");
    }

    #[test]
    fn alias_fan_out_is_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..30 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&text, &Limits::default()).unwrap_err();
        assert!(matches!(e, ReadError::Limit(_)), "{e}");
        assert!(e.to_string().contains("limits.maxAliasNodes"), "{e}");
        let limits = Limits { max_nodes: 1000, max_alias_nodes: usize::MAX, ..Limits::default() };
        let e = parse(&text, &limits).unwrap_err();
        assert!(e.to_string().contains("limits.maxNodes"), "{e}");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let e = parse(&"[".repeat(200_000), &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("nested") || e.to_string().contains("recursion"), "{e}");
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&ok, &Limits::default()).is_ok());
    }
}
