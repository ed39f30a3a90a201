//! Owns the JUnit XML report (`--junit FILE`): one test case per step, which CI systems show natively.

use std::fmt::Write;
use std::path::Path;
use std::sync::Mutex;

use crate::engine::{StepReport, StepStatus};
use crate::error::{Error, Result};
use crate::events::{Observer, RunEvent};

pub struct Summary<'a> {
    /// The suite name: the workflow file.
    pub name: &'a str,
    pub seconds: f64,
    pub steps: &'a [StepReport],
    /// A failure of the whole run that no step carries (load errors, no output).
    pub run_error: Option<&'a str>,
}

pub fn write_junit(path: &Path, s: &Summary) -> Result<()> {
    std::fs::write(path, junit(s))
        .map_err(|e| Error::Usage(format!("cannot write the JUnit report {}: {e}", path.display())))
}

pub fn junit(s: &Summary) -> String {
    let failed = |r: &StepReport| matches!(r.status, StepStatus::Crashed | StepStatus::ErrorOutput);
    let skipped = |r: &StepReport| {
        matches!(r.status, StepStatus::Disabled | StepStatus::Skipped | StepStatus::NotRun | StepStatus::Cancelled)
    };
    let tests = s.steps.len() + usize::from(s.run_error.is_some());
    let failures = s.steps.iter().filter(|r| failed(r)).count() + usize::from(s.run_error.is_some());
    let skips = s.steps.iter().filter(|r| skipped(r)).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"arcaflow-py\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skips}\" time=\"{:.3}\">",
        s.seconds
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skips}\" time=\"{:.3}\">",
        esc(s.name),
        s.seconds
    );
    if let Some(e) = s.run_error {
        let _ = writeln!(x, "    <testcase classname=\"{}\" name=\"workflow\" time=\"{:.3}\">", esc(s.name), s.seconds);
        let _ = writeln!(x, "      <failure message=\"{}\">{}</failure>", esc(first_line(e)), esc(e));
        x.push_str("    </testcase>\n");
    }
    for r in s.steps {
        let _ = writeln!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            esc(s.name),
            esc(&r.id),
            r.seconds
        );
        let message = r.message.as_deref().unwrap_or("");
        match r.status {
            StepStatus::Crashed => {
                let _ = writeln!(
                    x,
                    "      <failure message=\"{}\" type=\"crashed\">{}</failure>",
                    esc(first_line(message)),
                    esc(message)
                );
            }
            StepStatus::ErrorOutput => {
                let id = r.output_id.as_deref().unwrap_or("error");
                let _ = writeln!(
                    x,
                    "      <failure message=\"the step returned its error output '{}'\" type=\"error_output\"/>",
                    esc(id)
                );
            }
            StepStatus::Disabled | StepStatus::Skipped | StepStatus::NotRun | StepStatus::Cancelled => {
                let why =
                    if message.is_empty() { format!("{:?}", r.status).to_lowercase() } else { message.to_string() };
                let _ = writeln!(x, "      <skipped message=\"{}\"/>", esc(first_line(&why)));
            }
            StepStatus::Succeeded | StepStatus::Running => {}
        }
        if r.attempts.len() > 1 {
            // Retried steps (the `retry:` extension) list every attempt; CI shows system-err.
            let lines: Vec<String> = r
                .attempts
                .iter()
                .map(|a| {
                    let why = a.message.as_deref().and_then(|m| m.lines().next()).unwrap_or_default();
                    let sep = if why.is_empty() { "" } else { ": " };
                    format!("attempt {}, {} to {}: {}{sep}{why}", a.number, a.started, a.ended, a.outcome)
                })
                .collect();
            let _ = writeln!(
                x,
                "      <properties><property name=\"attempts\" value=\"{}\"/></properties>",
                r.attempts.len()
            );
            let _ = writeln!(x, "      <system-err>{}</system-err>", esc(&lines.join("\n")));
        }
        if !r.debug_logs.is_empty() {
            let _ = writeln!(x, "      <system-out>{}</system-out>", esc(&r.debug_logs));
        }
        x.push_str("    </testcase>\n");
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// XML-escapes text; characters XML 1.0 cannot carry at all are replaced.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            // Not XML 1.0 characters at all: a parser refuses the whole file.
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_counts() {
        let steps = vec![
            StepReport {
                id: "a<b".into(),
                status: StepStatus::Crashed,
                output_id: None,
                message: Some("x & y\nmore".into()),
                debug_logs: "log\u{1}".into(),
                seconds: 1.5,
                attempts: Vec::new(),
            },
            StepReport {
                id: "ok".into(),
                status: StepStatus::Succeeded,
                output_id: Some("success".into()),
                message: None,
                debug_logs: String::new(),
                seconds: 0.25,
                attempts: ["crashed", "success"]
                    .iter()
                    .enumerate()
                    .map(|(i, o)| crate::events::Attempt {
                        number: i as u32 + 1,
                        outcome: o.to_string(),
                        output_id: None,
                        message: (i == 0).then(|| "exit 1".to_string()),
                        started: "t0".into(),
                        ended: "t1".into(),
                    })
                    .collect(),
            },
        ];
        let x = junit(&Summary { name: "w.yaml", seconds: 2.0, steps: &steps, run_error: None });
        assert!(x.contains("tests=\"2\" failures=\"1\""));
        assert!(x.contains("name=\"a&lt;b\""));
        assert!(x.contains("message=\"x &amp; y\""));
        assert!(x.contains("log\u{fffd}"));
        assert!(x.contains("<property name=\"attempts\" value=\"2\"/>"), "{x}");
        assert!(x.contains("attempt 1, t0 to t1: crashed: exit 1\nattempt 2, t0 to t1: success"), "{x}");
    }
}

/// Collects the step reports of a run, for the JUnit report written when the command ends.
#[derive(Default)]
pub struct JunitCollector {
    steps: Mutex<Vec<StepReport>>,
}

impl JunitCollector {
    pub fn take(&self) -> Vec<StepReport> {
        self.steps.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }
}

impl Observer for JunitCollector {
    fn on_event(&self, event: &RunEvent) {
        if let RunEvent::RunFinished { steps } = event {
            if let Ok(mut s) = self.steps.lock() {
                s.clone_from(steps);
            }
        }
    }
}
