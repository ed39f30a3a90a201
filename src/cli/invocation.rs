//! Owns resolving one invocation, once: the current directory, the context directory, the
//! config, the workdir, the log level and the printer.
//!
//! The relative-path rule: a relative path on the command line is relative to the current
//! directory, except in `run` and `validate` when `--context` is given: there the workflow,
//! `--input` and `--config` are relative to the context directory, as in the reference engine.
//! The context directory (`--context`; for `run`/`validate` without it the workflow's directory;
//! otherwise the current directory) is where local module specs, `read_file` and a relative
//! `workdir` in the config file are read from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::signals::Interrupts;
use crate::config::{Config, PullPolicy};
use crate::deployer::Deployer;
use crate::error::{Error, Result};
use crate::events::Observers;
use crate::ui::logging::LogLines;
use crate::ui::progress::ProgressObserver;
use crate::ui::Printer;
use crate::workdir::{absolute, Workdir};

/// What every command starts from: the process's current directory and verbosity.
pub(crate) struct Invocation {
    cwd: PathBuf,
    /// -1 for --quiet, 0 default, 1 for -v, 2 for -vv.
    verbosity: i8,
    pub(crate) interrupts: Interrupts,
}

/// The files a workflow command reads, resolved by the relative-path rule.
pub(crate) struct WorkflowPaths {
    pub(crate) context: PathBuf,
    pub(crate) workflow: PathBuf,
    pub(crate) input: Option<PathBuf>,
    pub(crate) config: Option<PathBuf>,
}

/// An invocation with its config loaded and logging started.
pub(crate) struct Settled {
    pub(crate) cwd: PathBuf,
    pub(crate) context: PathBuf,
    pub(crate) config: Config,
    /// The workdir's location (not opened: cache commands must not create it).
    pub(crate) workdir: PathBuf,
    pub(crate) printer: Printer,
}

impl Invocation {
    pub(crate) fn new(verbosity: i8, interrupts: Interrupts) -> Result<Invocation> {
        let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
        Ok(Invocation { cwd, verbosity, interrupts })
    }

    pub(crate) fn printer(&self) -> Printer {
        Printer::new(self.verbosity)
    }

    pub(crate) fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// `p` relative to the current directory.
    pub(crate) fn in_cwd(&self, p: &Path) -> PathBuf {
        absolute(p, &self.cwd)
    }

    /// The paths of `run` and `validate`: relative to `--context` when it is given.
    pub(crate) fn workflow_paths(
        &self,
        workflow: Option<&Path>,
        input: Option<&Path>,
        config: Option<&Path>,
        context: Option<&Path>,
    ) -> Result<WorkflowPaths> {
        let (context, base) = match context {
            Some(c) => {
                let c = self.in_cwd(c);
                if !c.is_dir() {
                    return Err(Error::Usage(format!("the context directory {} does not exist", c.display())));
                }
                (c.clone(), c)
            }
            None => {
                let wf = workflow.map(|w| self.in_cwd(w));
                let ctx = wf.as_ref().and_then(|w| w.parent().map(Path::to_path_buf)).unwrap_or(self.cwd.clone());
                (ctx, self.cwd.clone())
            }
        };
        Ok(WorkflowPaths {
            workflow: workflow.map(|w| absolute(w, &base)).unwrap_or_else(|| context.join("workflow.yaml")),
            input: input.map(|p| absolute(p, &base)),
            config: config.map(|p| absolute(p, &base)),
            context,
        })
    }

    /// Loads the config (the defaults without one), starts logging at the level the flags and
    /// the config ask for, and locates the workdir.
    pub(crate) fn settle(&self, config: Option<&Path>, context: PathBuf, workdir: Option<&Path>) -> Result<Settled> {
        let config = match config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        // Every file read after the config (workflow, input, readFile) is bounded by its limits.
        crate::limits::set(config.limits);
        crate::ui::progress::init(self.verbosity < 0);
        crate::ui::logging::init(self.verbosity, config.log.level);
        let workdir = Workdir::locate(workdir, config.python.workdir.as_deref(), &context, &self.cwd)?;
        let printer = Printer::new(self.verbosity);
        Ok(Settled { cwd: self.cwd.clone(), context, config, workdir, printer })
    }
}

impl Settled {
    /// A deployer on the (opened) workdir, showing its builds on the progress display and in log lines.
    pub(crate) fn deployer(&self, pull_policy: Option<PullPolicy>) -> Result<Arc<Deployer>> {
        let workdir = Workdir::open(self.workdir.clone())?;
        let policy = pull_policy.unwrap_or(self.config.python.module_pull_policy);
        Ok(Arc::new(Deployer::new(workdir, self.config.python.clone(), policy, Arc::new(shown_observers()))))
    }
}

/// What a person sees of a run: the progress display and the log lines.
pub(crate) fn shown_observers() -> Observers {
    Observers::new().with(Arc::new(ProgressObserver)).with(Arc::new(LogLines))
}
