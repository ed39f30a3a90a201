//! Owns `run`: load and check the workflow, deploy its plugins, run it in a session that Ctrl-C
//! can interrupt, print the output document, and write the JUnit report when asked.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use crate::cli::invocation::{shown_observers, Invocation};
use crate::cli::RunArgs;
use crate::engine::{self, ExecError};
use crate::error::{exit, Error, Result};
use crate::session::{ResumeDecision, RunSession};
use crate::ui::junit::JunitCollector;
use crate::ui::output;

pub(crate) async fn run(inv: &Invocation, args: RunArgs) -> Result<i32> {
    let collector = Arc::new(JunitCollector::default());
    let workflow = args.workflow.path().map(Path::to_path_buf);
    let context = args.common.context.clone();
    with_junit(inv, args.junit.as_deref(), workflow.as_deref(), context.as_deref(), collector.clone(), async {
        run_workflow(inv, &args, collector.clone()).await
    })
    .await
}

async fn run_workflow(inv: &Invocation, args: &RunArgs, junit: Arc<JunitCollector>) -> Result<i32> {
    // From here on, a descendant whose parent dies (an installer's or a plugin's child that left
    // its process group) becomes ours; the session kills what is left when the run ends.
    crate::orphans::adopt_orphans();
    let paths = inv.workflow_paths(
        args.workflow.path(),
        args.input.as_deref(),
        args.common.config.as_deref(),
        args.common.context.as_deref(),
    )?;
    let settled = inv.settle(paths.config.as_deref(), paths.context.clone(), args.common.workdir.as_deref())?;
    let deployer = settled.deployer(args.common.pull_policy)?;
    let prepared = async {
        let loaded = engine::load(&paths.workflow, &paths.context, &settled.config, deployer.clone()).await?;
        let input = engine::read_input(paths.input.as_deref(), &loaded.workflow)?;
        engine::check_step_inputs(&loaded, &input, paths.input.as_deref())?;
        Ok::<_, Error>((loaded, input))
    }
    .await;
    let (loaded, input) = match prepared {
        Ok(p) => p,
        Err(e) => {
            // Recorded, so `runs` shows it with its reason (there is nothing to resume).
            if let Some(id) = RunSession::record_failed_start(deployer.workdir(), &paths.workflow, &e.to_string()) {
                tracing::info!("run {id} failed before any step ran");
            }
            return Err(e);
        }
    };

    let started = RunSession::start_workflow(deployer.workdir(), &loaded, &input, args.resume.as_deref())?;
    let run_id = started.run_id().to_string();
    match started.decision() {
        ResumeDecision::Fresh => {}
        ResumeDecision::Resumed(r) => {
            tracing::info!("resuming run {run_id}: {} completed step(s) are not run again", r.outputs.len());
        }
        ResumeDecision::StartedOver => {
            settled.printer.notice(&format!("the workflow or its input changed since run {run_id}; starting it over"));
        }
    }
    let int_rx = inv.interrupts.claim();
    tracing::info!("run {run_id}: {}", paths.workflow.display());
    let observers = shown_observers().with(junit);
    let result = started.execute(&loaded, input, Arc::new(settled.config.clone()), int_rx, observers).await;
    crate::ui::progress::clear();
    if crate::ui::progress::active() {
        // The display's lines stay as the summary; the run id is what --resume needs.
        settled.printer.say(&format!("run {run_id}"));
    }

    match result {
        Ok(r) => {
            settled.printer.out(&output::render(&output::document(&r.output_id, &r.output_data), args.output));
            Ok(if r.is_error { exit::ERROR_OUTPUT } else { exit::SUCCESS })
        }
        Err(ExecError::Interrupted { .. }) => Err(Error::Interrupted),
        Err(ExecError::Failed { message, .. }) => Err(Error::Run(format!("{message} (run {run_id})"))),
    }
}

/// Runs `work`, then writes the JUnit report to `junit` (when given) from the step reports
/// `collector` saw and the error `work` ended with, whatever happened.
pub(crate) async fn with_junit(
    inv: &Invocation,
    junit: Option<&Path>,
    workflow: Option<&Path>,
    context: Option<&Path>,
    collector: Arc<JunitCollector>,
    work: impl Future<Output = Result<i32>>,
) -> Result<i32> {
    let started = std::time::Instant::now();
    let result = work.await;
    crate::ui::progress::clear();
    if let Some(path) = junit {
        let name = inv
            .workflow_paths(workflow, None, None, context)
            .map(|p| p.workflow.display().to_string())
            .unwrap_or_else(|_| "workflow".into());
        let run_error = result.as_ref().err().map(|e| e.to_string());
        let steps = collector.take();
        let summary = crate::ui::junit::Summary {
            name: &name,
            seconds: started.elapsed().as_secs_f64(),
            steps: &steps,
            run_error: run_error.as_deref(),
        };
        crate::ui::junit::write_junit(path, &summary)?;
    }
    result
}
