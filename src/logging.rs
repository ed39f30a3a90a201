//! Owns diagnostics on stderr: level from flags, config and RUST_LOG, plain timestamped lines.

use tracing_subscriber::EnvFilter;

use crate::config::LogLevel;

/// `verbosity`: -1 for --quiet, 0 default, 1 for -v, 2 for -vv.
pub fn init(verbosity: i8, config_level: Option<LogLevel>) {
    let level = match verbosity {
        i8::MIN..=-1 => "error",
        0 => match config_level {
            Some(LogLevel::Debug) => "debug",
            Some(LogLevel::Warning) => "warn",
            Some(LogLevel::Error) => "error",
            Some(LogLevel::Info) | None => "info",
        },
        1 => "debug",
        _ => "trace",
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("arcaflow_py={level},warn")));
    let ansi = std::env::var_os("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}
