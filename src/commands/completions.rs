//! Owns `completions`: the shell completion script for the whole command line.

use crate::error::{exit, Result};
use crate::output;

pub(crate) fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::command(), "arcaflow-py", &mut out);
    output::print(&String::from_utf8_lossy(&out));
    Ok(exit::SUCCESS)
}
