//! Owns `runs`: the recent runs of a workdir and their status, newest first.

use crate::cli::invocation::Invocation;
use crate::cli::RunsArgs;
use crate::error::{exit, Result};
use crate::state::{self, RunState};
use crate::workdir::Workdir;

pub(crate) fn runs(inv: &Invocation, args: RunsArgs) -> Result<i32> {
    let config = args.place.config.as_deref().map(|p| inv.in_cwd(p));
    let cwd = inv.cwd().to_path_buf();
    let settled = inv.settle(config.as_deref(), cwd, args.place.workdir.as_deref())?;
    // Reading changes nothing: a workdir that does not exist yet has no runs, and is not created.
    let runs: Vec<RunState> = match Workdir::open_existing(&settled.workdir)? {
        Some(workdir) => state::list(&workdir).into_iter().take(args.limit).collect(),
        None => Vec::new(),
    };

    if args.json {
        settled.printer.out(&format!("{}\n", serde_json::to_string_pretty(&runs).unwrap_or_default()));
        return Ok(exit::SUCCESS);
    }
    let mut text = format!(
        "{:<27} {:<9} {:<20} {:>8} {:>5}  {:<40} {}\n",
        "RUN", "STATUS", "STARTED", "DURATION", "STEPS", "REASON", "WORKFLOW"
    );
    for r in &runs {
        text.push_str(&format!(
            "{:<27} {:<9} {:<20} {:>8} {:>5}  {:<40} {}\n",
            r.id,
            format!("{:?}", r.status),
            r.created,
            duration(&r.created, &r.changed),
            steps_done(r),
            reason(&r.message),
            r.workflow.display()
        ));
    }
    settled.printer.out(&text);
    Ok(exit::SUCCESS)
}

/// `12.3s`, `4m05s`, `2h03m` from two RFC 3339 times (empty when unreadable).
fn duration(from: &str, to: &str) -> String {
    let (Ok(a), Ok(b)) = (humantime::parse_rfc3339_weak(from), humantime::parse_rfc3339_weak(to)) else {
        return String::new();
    };
    let secs = b.duration_since(a).map(|d| d.as_secs()).unwrap_or(0);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// Steps that produced an output (error outputs included) over the steps that started: a failed
/// or cancelled one-step run shows `0/1`, not `1/1`.
fn steps_done(r: &RunState) -> String {
    let done = r.steps.values().filter(|s| s.stage == "outputs").count();
    let started = r.started_steps.len().max(r.executed_steps.len()).max(done);
    format!("{done}/{started}")
}

/// Why the run ended, on one line of at most 40 characters.
fn reason(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    let shown = crate::ui::terminal::neutralise(line, false);
    if shown.chars().count() <= 40 {
        return shown.into_owned();
    }
    let cut: String = shown.chars().take(39).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_reasons_read_at_a_glance() {
        assert_eq!(duration("2026-12-01T10:00:00Z", "2026-12-01T10:00:07Z"), "7s");
        assert_eq!(duration("2026-12-01T10:00:00Z", "2026-12-01T10:04:05Z"), "4m05s");
        assert_eq!(duration("2026-12-01T10:00:00Z", "2026-12-01T12:03:00Z"), "2h03m");
        assert_eq!(duration("garbage", "2026-12-01T12:03:00Z"), "");
        assert_eq!(reason("short"), "short");
        assert_eq!(reason(&"x".repeat(100)).chars().count(), 40);
        assert_eq!(reason("a\x1b[2Jb\nsecond line"), "a\\x1b[2Jb");
    }
}
