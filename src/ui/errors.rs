//! Owns how an error reads: a short headline (what failed, and in which file), the place in the
//! file (`at:` the field path), the detail, and a `hint:` line when we know what usually fixes it.
//! Coloured on a terminal; plain when stderr is not one or `NO_COLOR` is set (anstream decides).

use std::fmt::Write as _;
use std::path::Path;

use anstyle::{AnsiColor, Style};

use crate::error::Error;

/// An error laid out for a person.
#[derive(Debug, PartialEq)]
pub struct Report {
    pub headline: String,
    /// The field path inside the file (`steps -> a -> input -> msg`).
    pub at: Option<String>,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

/// Lays out `e`. The one-line form (`e.to_string()`) stays what JUnit reports and logs carry.
pub fn report(e: &Error) -> Report {
    let file = |kind: &str, path: &Path| {
        if path.as_os_str().is_empty() {
            kind.to_string()
        } else {
            format!("{kind} {}", path.display())
        }
    };
    let (headline, message) = match e {
        Error::Config { path, message } => (file("invalid config file", path), message.clone()),
        Error::Workflow { path, message } => (file("invalid workflow", path), message.clone()),
        Error::Input { path, message } if path.as_os_str().is_empty() => {
            ("invalid workflow input (no --input file was given, so the input is {})".to_string(), message.clone())
        }
        Error::Input { path, message } => (file("invalid input file", path), message.clone()),
        Error::Spec { spec, message } => (format!("invalid module spec '{spec}'"), message.clone()),
        Error::Deploy { plugin, message } => (format!("cannot deploy plugin {plugin}"), message.clone()),
        Error::Run(message) => ("workflow execution failed".to_string(), message.clone()),
        other => return Report { headline: other.to_string(), at: None, detail: None, hint: hint(e, "") },
    };
    let (at, detail) = split_field_path(&message);
    Report { headline, at, detail: Some(detail.to_string()), hint: hint(e, &message) }
}

/// `a -> b -> c: rest` or `name: rest` (one word) → the field path and the rest.
fn split_field_path(message: &str) -> (Option<String>, &str) {
    let Some((head, rest)) = message.split_once(": ") else { return (None, message) };
    let is_field = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
    let path = head.contains(" -> ") && head.split(" -> ").all(is_field) || is_field(head) && !head.ends_with('.');
    if path {
        (Some(head.to_string()), rest)
    } else {
        (None, message)
    }
}

/// What usually fixes it, for the situations we can recognise.
fn hint(e: &Error, message: &str) -> Option<String> {
    match e {
        Error::Input { path, .. } if path.as_os_str().is_empty() => {
            return Some("give the workflow input as a YAML file: --input FILE (or -i FILE)".into());
        }
        Error::Workflow { path, message } if message.starts_with("cannot read it") && !path.exists() => {
            // The default name: most likely no workflow was given at all.
            return Some(if path.file_name().is_some_and(|n| n == "workflow.yaml") {
                "give the workflow file as the first argument (without one, workflow.yaml in the context \
                 directory is read)"
                    .into()
            } else {
                "check the path: it is read from the current directory, or from --context when that is given".into()
            });
        }
        _ => {}
    }
    // `... named "helo"; properties: hello, other` and `unknown field `x`, expected one of `a`, `b``
    if let Some((wrong, choices)) = named_choice(message) {
        let best = choices
            .iter()
            .map(|c| (strsim::jaro_winkler(&wrong, c), c))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((_, c)) = best {
            return Some(format!("did you mean '{c}'?"));
        }
    }
    None
}

fn named_choice(message: &str) -> Option<(String, Vec<String>)> {
    let strip = |s: &str| s.trim().trim_matches(|c| c == '`' || c == '"' || c == '\'').to_string();
    if let Some(i) = message.find("does not have a property named ") {
        let rest = &message[i + "does not have a property named ".len()..];
        let (wrong, after) = rest.split_once(';')?;
        let list = after.trim_start().strip_prefix("properties:")?;
        let list = list.split(" in '").next().unwrap_or(list);
        return Some((strip(wrong), list.split(',').map(strip).collect()));
    }
    if let Some(i) = message.find("unknown field ") {
        let rest = &message[i + "unknown field ".len()..];
        let (wrong, after) = rest.split_once(", expected ")?;
        let list = after.strip_prefix("one of ").unwrap_or(after);
        return Some((strip(wrong), list.split(',').map(strip).collect()));
    }
    None
}

/// The report as text with ANSI styles (the printer drops them when not wanted). What the error
/// quotes (inputs, plugin output, file names) is neutralised first: shown, never obeyed.
pub fn render(r: &Report) -> String {
    let safe = |t: &str| super::terminal::neutralise(t, false).into_owned();
    let r = Report {
        headline: safe(&r.headline),
        at: r.at.as_deref().map(safe),
        detail: r.detail.as_deref().map(safe),
        hint: r.hint.as_deref().map(safe),
    };
    let red = Style::new().bold().fg_color(Some(AnsiColor::Red.into()));
    let bold = Style::new().bold();
    let cyan = Style::new().bold().fg_color(Some(AnsiColor::Cyan.into()));
    let dim = Style::new().fg_color(Some(AnsiColor::Blue.into())).bold();
    let mut out = format!("{red}error{red:#}: {bold}{}{bold:#}\n", r.headline);
    // The field path leads the detail on one line: `  steps -> a -> input -> n: not a number`.
    let at = r.at.as_ref().map(|a| format!("{dim}{a}{dim:#}: ")).unwrap_or_default();
    let mut lines = r.detail.as_deref().unwrap_or_default().lines();
    match lines.next() {
        Some(first) => {
            let _ = writeln!(out, "  {at}{first}");
        }
        None if !at.is_empty() => {
            let _ = writeln!(out, "  {}", at.trim_end());
        }
        None => {}
    }
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(h) = &r.hint {
        let _ = writeln!(out, "{cyan}hint{cyan:#}: {h}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn field_paths_are_split_off_and_sentences_are_not() {
        assert_eq!(
            split_field_path("steps -> a -> plugin -> src: bad"),
            (Some("steps -> a -> plugin -> src".into()), "bad")
        );
        assert_eq!(split_field_path("name: This field is required"), (Some("name".into()), "This field is required"));
        assert_eq!(split_field_path("not valid YAML: oops"), (None, "not valid YAML: oops"));
        assert_eq!(split_field_path("no colon here"), (None, "no colon here"));
    }

    #[test]
    fn hints_for_a_missing_input_a_typo_and_an_unknown_key() {
        let e = Error::Input { path: PathBuf::new(), message: "name: This field is required".into() };
        let r = report(&e);
        assert!(r.headline.contains("no --input file"), "{r:?}");
        assert_eq!(r.at.as_deref(), Some("name"));
        assert!(r.hint.unwrap().contains("--input FILE"));
        let e = Error::Workflow {
            path: "w.yaml".into(),
            message: "outputs -> success -> m: $.steps.helo.x: in '$.steps.helo': object steps does not have a property named \"helo\"; properties: hello, other".into(),
        };
        assert_eq!(report(&e).hint.as_deref(), Some("did you mean 'hello'?"));
        let e = Error::Config {
            path: "c.yaml".into(),
            message: "deployers.python: unknown field `pythonpath`, expected one of `pythonPath`, `workdir`".into(),
        };
        let r = report(&e);
        assert_eq!(r.at.as_deref(), Some("deployers.python"));
        assert_eq!(r.hint.as_deref(), Some("did you mean 'pythonPath'?"));
        let e = Error::Workflow { path: "/nonexistent/w.yaml".into(), message: "cannot read it: gone".into() };
        assert!(report(&e).hint.unwrap().contains("check the path"));
        let e = Error::Workflow { path: "/nonexistent/workflow.yaml".into(), message: "cannot read it: gone".into() };
        assert!(report(&e).hint.unwrap().contains("first argument"));
        let e = Error::Workflow { path: "w.yaml".into(), message: "a: nothing like it; properties: zzz".into() };
        assert_eq!(report(&e).hint, None);
    }
}
