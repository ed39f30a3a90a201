//! Owns the library's error type and the one map from errors to process exit codes.

use std::path::PathBuf;

/// Exit codes: the reference engine's 0-3, plus 130 for an interrupt.
pub mod exit {
    /// A non-error output was produced (or a command succeeded).
    pub const SUCCESS: i32 = 0;
    /// Invalid workflow, config or command-line data; a plugin that cannot be deployed.
    pub const INVALID: i32 = 1;
    /// The workflow ended on an output its author declared as an error.
    pub const ERROR_OUTPUT: i32 = 2;
    /// The run failed: invalid input, or no output could be produced.
    pub const RUN_FAILED: i32 = 3;
    /// Interrupted by SIGINT/SIGTERM.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid config file {path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error("invalid workflow {path}: {message}")]
    Workflow { path: PathBuf, message: String },

    /// `path` is empty when no input file was given (the input is then `{}`).
    #[error("{}: {message}", input_place(.path))]
    Input { path: PathBuf, message: String },

    #[error("invalid module spec '{spec}': {message}")]
    Spec { spec: String, message: String },

    #[error("cannot deploy plugin {plugin}: {message}")]
    Deploy { plugin: String, message: String },

    #[error("cache: {0}")]
    Cache(String),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("workflow execution failed: {0}")]
    Run(String),

    #[error("interrupted")]
    Interrupted,

    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. }
            | Error::Workflow { .. }
            | Error::Spec { .. }
            | Error::Deploy { .. }
            | Error::Cache(_)
            | Error::Io { .. }
            | Error::Usage(_) => exit::INVALID,
            // The reference engine validates input at run start, so bad input is a failed run.
            Error::Input { .. } | Error::Run(_) => exit::RUN_FAILED,
            Error::Interrupted => exit::INTERRUPTED,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }
}

fn input_place(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        "invalid workflow input (no --input file was given, so the input is {})".into()
    } else {
        format!("invalid input file {}", path.display())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
