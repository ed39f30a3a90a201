//! Owns everything a person sees: the result document and tables on stdout ([`Printer::out`]),
//! messages on stderr, the progress display, log lines and the JUnit report. Nothing outside
//! this module prints: the `print_stdout`/`print_stderr` lints refuse it.

#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod errors;
pub mod junit;
pub mod logging;
pub mod output;
pub mod progress;
pub mod terminal;

/// The one printer of a command. stdout carries only what the command produces (a document, a
/// table, a path); everything else goes to stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    /// --quiet: only warnings and errors on stderr.
    pub quiet: bool,
    /// -v: also the many small details.
    pub verbose: bool,
}

impl Printer {
    /// `verbosity`: -1 for --quiet, 0 default, 1 for -v, 2 for -vv.
    pub fn new(verbosity: i8) -> Printer {
        Printer { quiet: verbosity < 0, verbose: verbosity > 0 }
    }

    /// Writes to stdout; a reader that went away (closed pipe) is not an error for us.
    pub fn out(&self, text: &str) {
        output::print(text);
    }

    /// A line on stderr that --quiet silences.
    pub fn say(&self, line: &str) {
        if !self.quiet {
            self.notice(line);
        }
    }

    /// A line on stderr only with -v.
    pub fn detail(&self, line: &str) {
        if self.verbose && !self.quiet {
            self.notice(line);
        }
    }

    /// A line on stderr that is always shown: what the command was asked to report.
    /// Messages quote inputs, plugins and files: their escape sequences are shown, not obeyed.
    pub fn notice(&self, line: &str) {
        let line = terminal::neutralise(line, false);
        progress::suspend(|| eprintln!("{line}"));
    }

    /// Text on stderr as it is (a plugin's debug output), always shown; escape sequences are
    /// shown, not obeyed.
    pub fn raw(&self, text: &str) {
        let text = terminal::neutralise(text, false);
        progress::suspend(|| eprint!("{text}"));
    }

    pub fn warn(&self, line: &str) {
        self.notice(&format!("warning: {line}"));
    }

    pub fn error(&self, message: &str) {
        self.notice(&format!("error: {message}"));
    }

    /// An error laid out as headline, place, detail and hint ([`errors`]), coloured on a terminal.
    pub fn error_report(&self, e: &crate::error::Error) {
        let text = errors::render(&errors::report(e));
        // anstream drops the styles when stderr is not a terminal or NO_COLOR is set.
        progress::suspend(|| {
            use std::io::Write as _;
            let _ = anstream::stderr().write_all(text.as_bytes());
        });
    }
}
