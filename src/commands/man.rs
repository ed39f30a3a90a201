//! Owns `man`: the man page (roff) of the whole command line.

use crate::cli::invocation::Invocation;
use crate::error::{exit, Error, Result};

pub(crate) fn man(inv: &Invocation) -> Result<i32> {
    let mut out = Vec::new();
    clap_mangen::Man::new(crate::cli::command())
        .render(&mut out)
        .map_err(|e| Error::io("cannot render the man page", e))?;
    inv.printer().out(&String::from_utf8_lossy(&out));
    Ok(exit::SUCCESS)
}
