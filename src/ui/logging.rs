//! Owns diagnostics on stderr: level from flags, config and RUST_LOG, plain timestamped lines.

use tracing_subscriber::EnvFilter;

use crate::config::LogLevel;
use crate::events::{Observer, RunEvent, StepFinished, StepKindTag};

/// `verbosity`: -1 for --quiet, 0 default, 1 for -v, 2 for -vv.
pub fn init(verbosity: i8, config_level: Option<LogLevel>) {
    let level = match verbosity {
        i8::MIN..=-1 => "error",
        0 => match config_level {
            Some(LogLevel::Debug) => "debug",
            Some(LogLevel::Warning) => "warn",
            Some(LogLevel::Error) => "error",
            Some(LogLevel::Info) => "info",
            // On a terminal the progress display says what info lines would.
            None if crate::ui::progress::active() => "warn",
            None => "info",
        },
        1 => "debug",
        _ => "trace",
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("arcaflow_py={level},warn")));
    let ansi = std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || ProgressAwareStderr { ansi })
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}

/// Writes log lines through the progress display, so bars and lines do not tear each other.
/// Log lines quote plugins and inputs: escape sequences in them are shown, not obeyed (only our
/// own colours pass, and only on a colour terminal).
struct ProgressAwareStderr {
    ansi: bool,
}

impl std::io::Write for ProgressAwareStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let shown = crate::ui::terminal::neutralise(&text, self.ansi);
        crate::ui::progress::suspend(|| std::io::stderr().write_all(shown.as_bytes()))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The info and warning lines a run writes about its builds and steps.
pub struct LogLines;

impl Observer for LogLines {
    fn on_event(&self, event: &RunEvent) {
        // The progress display already shows builds and steps as lines that stay: an info line
        // saying the same would print everything twice (warnings still come: they say why).
        if crate::ui::progress::active() && !tracing::enabled!(tracing::Level::DEBUG) {
            match event {
                RunEvent::StepFinished(f) if f.resumed_from.is_none() => {
                    if matches!(f.stage.as_ref().map(|(s, _, _)| s.as_str()), Some("failed" | "crashed")) {
                        step_finished(f);
                    }
                    return;
                }
                RunEvent::BuildFinished { .. }
                | RunEvent::ToolInstallFinished { .. }
                | RunEvent::StepStarted { .. } => return,
                _ => {}
            }
        }
        match event {
            RunEvent::BuildFinished { plugin, ok: true, seconds, installer, .. } => {
                let with = installer.as_ref().map(|i| format!(" with {i}")).unwrap_or_default();
                tracing::info!("built {plugin}{with} in {seconds:.1} s");
            }
            RunEvent::ToolInstallFinished { detail, error: None, seconds, .. } => {
                tracing::info!("installed {detail} in {seconds:.1} s");
            }
            RunEvent::StepStarted { label, id, what, .. } => tracing::info!("step {label}{id}: started ({what})"),
            RunEvent::StepFinished(f) => step_finished(f),
            RunEvent::AttemptFinished { label, id, attempt, retry_in: Some(wait) } => {
                let why = attempt.message.as_deref().and_then(|m| m.lines().next()).unwrap_or_default();
                let sep = if why.is_empty() { "" } else { ": " };
                tracing::warn!(
                    "step {label}{id}: attempt {} {}{sep}{why}; retrying in {wait:.1} s",
                    attempt.number,
                    attempt.outcome.replace('_', " ")
                );
            }
            RunEvent::AttemptFinished { .. }
            | RunEvent::ArtifactsKept { .. }
            | RunEvent::BuildStarted { .. }
            | RunEvent::BuildFinished { .. }
            | RunEvent::ToolInstallStarted { .. }
            | RunEvent::ToolInstallFinished { .. }
            | RunEvent::RunFinished { .. } => {}
        }
    }
}

fn step_finished(f: &StepFinished) {
    let (label, id) = (&f.label, &f.id);
    if let Some(from) = &f.resumed_from {
        let output = f.output_id.as_deref().unwrap_or_default();
        tracing::info!("step {label}{id}: reusing its '{output}' output from run {from}");
        return;
    }
    let message = f.message.as_deref().unwrap_or_default();
    match (f.stage.as_ref().map(|(stage, _, _)| stage.as_str()), f.kind) {
        (Some("outputs"), StepKindTag::Plugin) => {
            let output = f.output_id.as_deref().unwrap_or_default();
            tracing::info!("step {label}{id}: finished with output '{output}'");
        }
        (Some("outputs"), StepKindTag::Foreach) => tracing::info!("step {label}{id}: all items succeeded"),
        (Some("failed"), _) => tracing::warn!("step {label}{id}: {message}"),
        (Some("crashed"), _) => {
            tracing::warn!("step {label}{id}: failed: {}", message.lines().next().unwrap_or(""));
        }
        (Some("disabled"), _) => tracing::info!("step {label}{id}: disabled"),
        _ => {}
    }
}
