//! Owns `completions`: the shell completion script for the whole command line.

use crate::cli::invocation::Invocation;
use crate::error::{exit, Result};

pub(crate) fn completions(inv: &Invocation, shell: clap_complete::Shell) -> Result<i32> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::command(), "arcaflow-py", &mut out);
    inv.printer().out(&String::from_utf8_lossy(&out));
    Ok(exit::SUCCESS)
}
