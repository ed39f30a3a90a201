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
    let mut text = format!("{:<28} {:<10} {:<21} {:>5}  {}\n", "RUN", "STATUS", "CHANGED", "STEPS", "WORKFLOW");
    for r in &runs {
        text.push_str(&format!(
            "{:<28} {:<10} {:<21} {:>5}  {}\n",
            r.id,
            format!("{:?}", r.status),
            r.changed,
            format!("{}/{}", r.executed_steps.len(), r.started_steps.len().max(r.executed_steps.len())),
            r.workflow.display()
        ));
    }
    settled.printer.out(&text);
    Ok(exit::SUCCESS)
}
