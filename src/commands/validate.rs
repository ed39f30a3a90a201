//! Owns `validate`: every static check a run makes (workflow, plugins deployed, expressions
//! typed, input valid when one is given) without running a step.

use std::path::Path;
use std::sync::Arc;

use crate::cli::invocation::Invocation;
use crate::cli::ValidateArgs;
use crate::engine;
use crate::error::{exit, Result};
use crate::ui::junit::JunitCollector;

pub(crate) async fn validate(inv: &Invocation, args: ValidateArgs) -> Result<i32> {
    let workflow = args.workflow.path().map(Path::to_path_buf);
    let context = args.common.context.clone();
    let collector = Arc::new(JunitCollector::default());
    super::run::with_junit(inv, args.junit.as_deref(), workflow.as_deref(), context.as_deref(), collector, async {
        let paths = inv.workflow_paths(
            args.workflow.path(),
            args.input.as_deref(),
            args.common.config.as_deref(),
            args.common.context.as_deref(),
        )?;
        let settled = inv.settle(paths.config.as_deref(), paths.context.clone(), args.common.workdir.as_deref())?;
        let deployer = settled.deployer(args.common.pull_policy)?;
        let loaded = engine::load(&paths.workflow, &paths.context, &settled.config, deployer).await?;
        let built = loaded.plugins.values().filter(|p| p.built_now).count();
        if built > 0 {
            // Schemas come from the plugins themselves: a first validate builds their venvs.
            settled
                .printer
                .say(&format!("built {built} plugin venv(s) to read their schemas (cached for the next run)"));
        }
        let unchecked = match paths.input.as_deref() {
            Some(path) => {
                let input = engine::read_input(Some(path), &loaded.workflow)?;
                engine::check_step_inputs(&loaded, &input, Some(path))?;
                ""
            }
            None => " (no --input: the workflow input and the step inputs computed from it were not checked)",
        };
        settled.printer.notice(&format!("{}: valid{unchecked}", paths.workflow.display()));
        Ok(exit::SUCCESS)
    })
    .await
}
