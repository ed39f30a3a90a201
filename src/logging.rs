//! Owns diagnostics on stderr: level from flags, config and RUST_LOG, plain timestamped lines.

use tracing_subscriber::EnvFilter;

use crate::config::LogLevel;

/// `verbosity`: -1 for --quiet, 0 default, 1 for -v, 2 for -vv.
pub fn init(verbosity: i8, config_level: Option<LogLevel>) {
    crate::progress::init(verbosity < 0);
    let level = match verbosity {
        i8::MIN..=-1 => "error",
        0 => match config_level {
            Some(LogLevel::Debug) => "debug",
            Some(LogLevel::Warning) => "warn",
            Some(LogLevel::Error) => "error",
            Some(LogLevel::Info) => "info",
            // On a terminal the progress display says what info lines would.
            None if crate::progress::active() => "warn",
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
        .with_writer(|| ProgressAwareStderr)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}

/// Writes log lines through the progress display, so bars and lines do not tear each other.
struct ProgressAwareStderr;

impl std::io::Write for ProgressAwareStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::progress::suspend(|| std::io::stderr().write(buf))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
