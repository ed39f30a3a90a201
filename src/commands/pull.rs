//! Owns `pull`: build the venv of every plugin the given workflows and specs need, run nothing.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::invocation::Invocation;
use crate::cli::PullArgs;
use crate::deployer::spec::ModuleSpec;
use crate::engine;
use crate::error::{exit, Error, Result};

pub(crate) async fn pull(inv: &Invocation, args: PullArgs) -> Result<i32> {
    let context = args.common.context.as_deref().map(|c| inv.in_cwd(c));
    let config = args.common.config.as_deref().map(|p| inv.in_cwd(p));
    let settled = inv.settle(
        config.as_deref(),
        context.clone().unwrap_or(inv.cwd().to_path_buf()),
        args.common.workdir.as_deref(),
    )?;
    if args.workflows.is_empty() && args.spec.is_empty() {
        return Err(Error::Usage("give at least one workflow file or --spec SPEC".into()));
    }
    let deployer = settled.deployer(args.common.pull_policy)?;

    let mut specs = BTreeMap::new();
    for w in &args.workflows {
        let path = inv.in_cwd(w);
        // Without --context, a workflow's own directory is its context.
        let ctx =
            context.clone().unwrap_or_else(|| path.parent().map(Path::to_path_buf).unwrap_or(settled.cwd.clone()));
        let wf = crate::workflow::Workflow::load(&path, &ctx)?;
        specs.extend(crate::plan::module_specs(&wf, &settled.config, &ctx)?);
    }
    for s in &args.spec {
        specs.insert(format!("spec:{s}"), ModuleSpec::parse(s, &settled.context)?);
    }
    let plugins = engine::deploy_all(deployer, specs).await?;

    let mut lines: Vec<String> = plugins
        .values()
        .map(|p| {
            let what = if p.built_now { "built" } else { "cached" };
            format!("{what}: {} ({})", p.spec, p.meta.commit.as_deref().unwrap_or("pypi"))
        })
        .collect();
    lines.sort();
    for l in lines {
        settled.printer.notice(&l);
    }
    Ok(exit::SUCCESS)
}
