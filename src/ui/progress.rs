//! Owns what a person sees while a run works: an indicatif display of builds and steps on a
//! terminal; nothing extra (plain log lines only) in pipelines, under `CI`, or with --quiet.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::StepStatus;
use crate::events::{Observer, RunEvent};

struct Display {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// The ✓/✗ lines of what finished, in order: printed as plain lines at the end, so they stay.
    done: Mutex<Vec<String>>,
}

static DISPLAY: OnceLock<Display> = OnceLock::new();

/// Turns the display on when stderr is a terminal, `CI` is unset and we are not quiet.
pub fn init(quiet: bool) {
    let wanted = !quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if wanted {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let _ = DISPLAY.set(Display { multi, bars: Mutex::new(HashMap::new()), done: Mutex::new(Vec::new()) });
    }
}

pub fn active() -> bool {
    DISPLAY.get().is_some()
}

/// Runs `f` (which writes to stderr) without tearing the bars.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    match DISPLAY.get() {
        Some(d) => d.multi.suspend(f),
        None => f(),
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// A spinner for work that takes a while (an install, a running step).
pub fn start(key: &str, message: String) {
    let Some(d) = DISPLAY.get() else { return };
    let bar = d.multi.add(ProgressBar::new_spinner());
    bar.set_style(style("{spinner:.cyan} {msg} {elapsed:.dim}"));
    // Output ids and plugin names come from plugins and files: shown, never obeyed.
    bar.set_message(fit(&super::terminal::neutralise(&message, false)));
    bar.enable_steady_tick(Duration::from_millis(100));
    if let Ok(mut bars) = d.bars.lock() {
        if let Some(old) = bars.insert(key.to_string(), bar) {
            old.finish_and_clear();
        }
    }
}

/// Ends a spinner with a final line (`ok` decides the mark).
pub fn finish(key: &str, ok: bool, message: String) {
    let Some(d) = DISPLAY.get() else { return };
    let bar = d.bars.lock().ok().and_then(|mut b| b.remove(key));
    let bar = bar.unwrap_or_else(|| d.multi.add(ProgressBar::new_spinner()));
    bar.set_style(style("{msg}"));
    let mark = if ok { "✓" } else { "✗" };
    let line = fit(&format!("{mark} {}", super::terminal::neutralise(&message, false)));
    if let Ok(mut done) = d.done.lock() {
        done.push(line.clone());
    }
    bar.finish_with_message(line);
}

/// Clears the display before the result is printed, and leaves the ✓/✗ lines of what finished
/// (builds with their installer and time, steps with their outcome and time) as plain lines: the
/// run's summary stays on the terminal.
pub fn clear() {
    if let Some(d) = DISPLAY.get() {
        if let Ok(mut bars) = d.bars.lock() {
            for (_, b) in bars.drain() {
                b.finish_and_clear();
            }
        }
        let _ = d.multi.clear();
        let done = d.done.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default();
        for line in done {
            eprintln!("{line}");
        }
    }
}

/// The terminal's width (80 when unknown).
fn width() -> usize {
    console::Term::stderr().size_checked().map_or(80, |(_, w)| usize::from(w))
}

/// Cuts the middle out of a line that would wrap, keeping its start and its end (the times).
fn fit(line: &str) -> String {
    let room = width().saturating_sub(4).max(20);
    if console::measure_text_width(line) <= room {
        return line.to_string();
    }
    let chars: Vec<char> = line.chars().collect();
    let tail = room / 3;
    let head = room - tail - 1;
    let start: String = chars[..head.min(chars.len())].iter().collect();
    let end: String = chars[chars.len().saturating_sub(tail)..].iter().collect();
    format!("{start}…{end}")
}

/// `name@git+URL@<40 hex>` shown with a 12-character commit.
fn short_spec(spec: &str) -> String {
    match spec.rsplit_once('@') {
        Some((rest, commit)) if commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()) => {
            format!("{rest}@{}", &commit[..12])
        }
        _ => spec.to_string(),
    }
}

/// Shows builds and steps as spinners that end in a ✓ or ✗ line.
pub struct ProgressObserver;

impl Observer for ProgressObserver {
    fn on_event(&self, event: &RunEvent) {
        match event {
            RunEvent::BuildStarted { key, plugin } => start(key, format!("building {}", short_spec(plugin))),
            RunEvent::BuildFinished { key, plugin, ok, seconds, installer } => {
                let with = installer.as_ref().map(|i| format!(" with {i}")).unwrap_or_default();
                let what = if *ok { "built" } else { "failed to build" };
                finish(key, *ok, format!("{what} {}{with} ({seconds:.1} s)", short_spec(plugin)))
            }
            RunEvent::ToolInstallStarted { tool, detail } => {
                start(&format!("tool:{tool}"), format!("installing {detail}"))
            }
            RunEvent::ToolInstallFinished { tool, error, seconds, .. } => finish(
                &format!("tool:{tool}"),
                error.is_none(),
                match error {
                    None => format!("installed {tool} ({seconds:.1} s)"),
                    Some(_) => format!("could not install {tool}; building with pip"),
                },
            ),
            RunEvent::StepStarted { label, id, .. } => start(&format!("step:{label}{id}"), format!("step {label}{id}")),
            RunEvent::StepFinished(f) if f.started => {
                let what = match &f.output_id {
                    Some(o) => format!("output '{o}'"),
                    None => format!("{:?}", f.status).to_lowercase(),
                };
                finish(
                    &format!("step:{}{}", f.label, f.id),
                    matches!(f.status, StepStatus::Succeeded),
                    format!("step {}{}: {what} ({:.1} s)", f.label, f.id, f.seconds),
                );
            }
            RunEvent::StepFinished(_)
            | RunEvent::RunFinished { .. }
            | RunEvent::AttemptFinished { .. }
            | RunEvent::ArtifactsKept { .. } => {}
        }
    }
}
