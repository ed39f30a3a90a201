//! Owns printing values as YAML that every reader reads back as the same data: a string is written
//! plain only when no YAML 1.1 or 1.2 reader could take it for anything else (number, timestamp,
//! sexagesimal, `yes/no/on/off/y/n`, null, `.inf`, ...); otherwise it is quoted. Floats always have
//! a `.` and a signed exponent, the form both YAML versions read as a float.

use crate::value::{Key, Value};

/// The document in block style, ending with a newline.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Map(m) if !m.is_empty() => map(&mut out, m, 0, false),
        Value::List(l) if !l.is_empty() => seq(&mut out, l, 0, false),
        // A top-level string never uses a block literal: its indentation rules differ between readers.
        Value::String(s) => {
            out.push_str(&inline_string(s));
            out.push('\n');
        }
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Entries at `indent`; `inline_first` when the first key follows a `- ` already written.
fn map(out: &mut String, m: &std::collections::BTreeMap<Key, Value>, indent: usize, inline_first: bool) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 || !inline_first {
            pad(out, indent);
        }
        let key = match k {
            Key::Int(i) => i.to_string(),
            Key::Str(s) => inline_string(s),
        };
        // Readers limit implicit keys to 1024 characters; a longer key is written as an explicit `? key`.
        if key.chars().count() > 1000 {
            out.push_str("? ");
            out.push_str(&key);
            out.push('\n');
            pad(out, indent);
            out.push(':');
        } else {
            out.push_str(&key);
            out.push(':');
        }
        value(out, v, indent, true);
    }
}

fn seq(out: &mut String, items: &[Value], indent: usize, inline_first: bool) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 || !inline_first {
            pad(out, indent);
        }
        out.push('-');
        value(out, v, indent, false);
    }
}

/// A value after `key:` or `-` at `indent`, up to and including its last newline.
fn value(out: &mut String, v: &Value, indent: usize, in_map: bool) {
    match v {
        Value::Map(m) if !m.is_empty() => {
            if in_map {
                out.push('\n');
                map(out, m, indent + 2, false);
            } else {
                out.push(' ');
                map(out, m, indent + 2, true);
            }
        }
        Value::List(l) if !l.is_empty() => {
            if in_map {
                // A sequence under a key is written at the key's indentation, as serde_yaml did.
                out.push('\n');
                seq(out, l, indent, false);
            } else {
                out.push(' ');
                seq(out, l, indent + 2, true);
            }
        }
        Value::String(s) if literal_ok(s) => {
            out.push_str(if s.ends_with('\n') { " |\n" } else { " |-\n" });
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                if !line.is_empty() {
                    pad(out, indent + 2);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float_text(*f),
        Value::String(s) => inline_string(s),
        Value::Map(_) => "{}".into(),
        Value::List(_) => "[]".into(),
    }
}

/// A float both YAML 1.1 (which needs a `.` and a signed exponent) and 1.2 read as that float.
pub fn float_text(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf".into() } else { "-.inf".into() };
    }
    // `{:?}` is the shortest text that reads back as the same f64, e.g. `1.5`, `1e20`, `1.5e-7`.
    let text = format!("{f:?}");
    match text.split_once('e') {
        None => text,
        Some((mantissa, exp)) => {
            let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
            let exp = if exp.starts_with('-') { exp.to_string() } else { format!("+{exp}") };
            format!("{mantissa}e{exp}")
        }
    }
}

/// A string on one line: plain when that is unambiguous, else single-quoted, else double-quoted.
pub fn inline_string(s: &str) -> String {
    if plain_ok(s) {
        s.to_string()
    } else if s.chars().all(single_ok) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        double_quoted(s)
    }
}

/// Words that some YAML reader (1.1, 1.2, or one of the common libraries) reads as a bool, null or
/// special float, compared without case.
const KEYWORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "infinity"];

/// Plain only when the text starts with a letter (every number, timestamp, sexagesimal and special
/// float starts with a digit, a sign or `.`; every indicator is punctuation), is not a keyword, and
/// holds nothing a reader could take for syntax.
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if !(first.is_alphabetic() || first == '_' || first == '/') {
        return false;
    }
    if s.ends_with([' ', ':']) || s.contains(": ") || s.contains(" #") || s.contains("  ") {
        return false;
    }
    if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s)) {
        return false;
    }
    // Flow indicators (`,[]{}`) are plain text inside a block-context scalar; only the start matters.
    s.chars().all(|c| c.is_alphanumeric() || c == ' ' || c.is_ascii_graphic())
}

/// What a single-quoted scalar may hold on one line: printable text without line breaks or tabs.
fn single_ok(c: char) -> bool {
    printable(c) && !matches!(c, '\t' | '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// Characters YAML readers accept unescaped (PyYAML's set, which is the YAML 1.1 one).
fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A block literal for multi-line text that needs no escapes: it starts with a visible character
/// (so the indentation is detected from it), and ends with at most one newline.
fn literal_ok(s: &str) -> bool {
    let body = s.strip_suffix('\n').unwrap_or(s);
    body.contains('\n')
        && !body.ends_with('\n')
        && body.chars().next().is_some_and(|c| c != ' ' && c != '\n')
        && body.chars().all(|c| c == '\n' || single_ok(c))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if single_ok(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(pairs: &[(&str, Value)]) -> String {
        to_string(&Value::map_from(pairs.iter().map(|(k, v)| (*k, v.clone()))))
    }

    #[test]
    fn strings_other_readers_would_retype_are_quoted() {
        for s in [
            "2026-12-01T02:13:22.846368+00:00",
            "2026-12-01",
            "12:30:00",
            "1_000",
            "Off",
            "y",
            "N",
            "yEs",
            "~",
            "null",
            ".inf",
            "-.Inf",
            ".NaN",
            "0o17",
            "0x1F",
            "0b101",
            "017",
            "+12",
            "-1.5e3",
            "=",
            "<<",
            "",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "- x",
            "[x]",
            "{x}",
            "&a",
            "*a",
            "!t",
            "|",
            ">",
            "%x",
            "@x",
            "`x",
            "'q'",
            "\"q\"",
            "#c",
            "?x",
        ] {
            let text = inline_string(s);
            assert!(text.starts_with('\'') || text.starts_with('"'), "{s:?} printed as {text}");
        }
    }

    #[test]
    fn ordinary_text_stays_plain() {
        assert_eq!(inline_string("Hello, Arcaflow!"), "Hello, Arcaflow!");
        assert_eq!(inline_string("hello world"), "hello world");
        assert_eq!(inline_string("success"), "success");
        assert_eq!(inline_string("a/b.c-d_e"), "a/b.c-d_e");
    }

    #[test]
    fn awkward_strings_are_escaped() {
        assert_eq!(inline_string("a\u{7}b"), "\"a\\x07b\"");
        assert_eq!(inline_string("tab\there"), "\"tab\\there\"");
        assert_eq!(inline_string("it's"), "it's");
        assert_eq!(inline_string("\u{FEFF}x"), "\"\\uFEFFx\"");
    }

    #[test]
    fn floats_carry_a_dot_and_a_signed_exponent() {
        assert_eq!(float_text(1.0), "1.0");
        assert_eq!(float_text(1e20), "1.0e+20");
        assert_eq!(float_text(1.5e-7), "1.5e-7");
        assert_eq!(float_text(f64::NAN), ".nan");
        assert_eq!(float_text(f64::NEG_INFINITY), "-.inf");
    }

    #[test]
    fn block_layout() {
        let inner = Value::map_from([("a", Value::Int(1)), ("b", Value::List(vec![Value::Int(2), Value::Int(3)]))]);
        let text = doc(&[
            ("list", Value::List(vec![inner.clone(), Value::List(vec![Value::Bool(true)])])),
            ("map", inner),
            ("empty", Value::Map(Default::default())),
            ("none", Value::List(vec![])),
            ("text", Value::String("line one\nline two\n".into())),
        ]);
        assert_eq!(
            text,
            "empty: {}\nlist:\n- a: 1\n  b:\n  - 2\n  - 3\n- - true\nmap:\n  a: 1\n  b:\n  - 2\n  - 3\nnone: []\ntext: |\n  line one\n  line two\n"
        );
    }
}
