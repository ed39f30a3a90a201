//! Owns the command line: clap definitions, path rules, and dispatch to the library; the one
//! place where errors become messages and exit codes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::cache::Workdir;
use crate::config::{Config, PullPolicy};
use crate::deployer::spec::ModuleSpec;
use crate::deployer::Deployer;
use crate::engine::{self, ExecError, Interrupt};
use crate::error::{exit, Error, Result};
use crate::events::{Observer, Observers};
use crate::logging::LogLines;
use crate::output::{self, Format};
use crate::progress::ProgressObserver;
use crate::report::JunitCollector;
use crate::session::{ResumeDecision, RunSession};
use crate::state::{self, RunState};

const EXIT_CODES: &str = "Exit codes:
  0    the workflow produced a non-error output (or the command succeeded)
  1    invalid workflow, config, module spec or command line; a plugin could not be deployed
  2    the workflow ended on an error output
  3    the run failed: invalid input, or no output could be produced
  130  interrupted (Ctrl-C)";

#[derive(Parser, Debug)]
#[command(name = "arcaflow-py", version, about = "Run Arcaflow workflows whose plugins are Python modules, without a container runtime", after_help = EXIT_CODES)]
pub struct Cli {
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a workflow and print its output document.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Build the venv of every plugin a workflow (or a spec) needs, without running anything.
    Pull(PullArgs),
    /// Run every static check on a workflow (and input) without running a step.
    Validate(RunArgs),
    /// List recent runs and their status (newest first).
    Runs(RunsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff) to stdout.
    Man,
    /// Work with one plugin: print its schema, or run one of its steps.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// See and bound the cache of venvs and git mirrors (dir, list, size, prune, clean).
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Subcommand, Debug)]
enum PluginCommand {
    /// Print a plugin's schema (building its venv if needed).
    Schema {
        /// The module spec, as in a workflow's `src`.
        spec: String,
        /// Only this step.
        #[arg(long)]
        step: Option<String>,
        /// JSON instead of YAML.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Run one step of a plugin with an input file and print its output document.
    #[command(after_help = EXIT_CODES)]
    Run {
        spec: String,
        /// The step to run (required when the plugin has several).
        #[arg(long)]
        step: Option<String>,
        /// The step's input, as YAML.
        #[arg(short, long, value_name = "FILE")]
        input: PathBuf,
        /// Seconds before the step is cancelled and killed.
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<f64>,
        #[arg(short, long, value_enum, default_value_t = Format::Yaml)]
        output: Format,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args, Debug, Clone)]
struct RunsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Show at most this many runs.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Engine config file (both the seed's `deployer:` and the engine's `deployers:` forms).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Base directory for relative paths. When given, relative --workflow/--input/--config are
    /// inside it (as in the reference engine); otherwise they are relative to the current directory.
    #[arg(long, value_name = "DIR")]
    context: Option<PathBuf>,
    /// Cache directory for git mirrors and venvs (also ARCAFLOW_PY_WORKDIR, config workdir).
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// Override the config's modulePullPolicy.
    #[arg(long, value_name = "POLICY", value_parser = parse_policy)]
    pull_policy: Option<PullPolicy>,
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// The workflow file (default: workflow.yaml in the context directory).
    #[arg(value_name = "WORKFLOW")]
    workflow_pos: Option<PathBuf>,
    /// The workflow file, as the reference engine's -workflow.
    #[arg(long = "workflow", value_name = "FILE", conflicts_with = "workflow_pos")]
    workflow_flag: Option<PathBuf>,
    /// Input YAML file (default: an empty input).
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Format of the result document on stdout.
    #[arg(short, long, value_enum, default_value_t = Format::Yaml)]
    output: Format,
    /// Resume a run: steps that completed are not run again, unless the workflow or input changed.
    #[arg(long, value_name = "RUN_ID")]
    resume: Option<String>,
    /// Write a JUnit XML report (one test case per step) to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug, Clone)]
struct PullArgs {
    /// Workflow files whose plugins to build.
    #[arg(value_name = "WORKFLOW")]
    workflows: Vec<PathBuf>,
    /// A module spec to build (repeatable).
    #[arg(long, value_name = "SPEC")]
    spec: Vec<String>,
    #[command(flatten)]
    common: Common,
}

fn parse_policy(s: &str) -> std::result::Result<PullPolicy, String> {
    s.parse()
}

/// Parses the command line, runs it, and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let verbosity: i8 = if cli.quiet { -1 } else { cli.verbose.min(2) as i8 };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    let result = runtime.block_on(dispatch(cli.command, verbosity));
    // Blocking tasks (builds) hold no process; don't wait for stragglers.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

async fn dispatch(command: Command, verbosity: i8) -> Result<i32> {
    match command {
        Command::Run(args) => run(args, verbosity, false).await,
        Command::Validate(args) => run(args, verbosity, true).await,
        Command::Pull(args) => pull(args, verbosity).await,
        Command::Runs(args) => runs(args, verbosity),
        Command::Plugin(cmd) => plugin(cmd, verbosity).await,
        Command::Cache(cmd) => cache_command(cmd, verbosity),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "arcaflow-py", &mut out);
            output::print(&String::from_utf8_lossy(&out));
            Ok(exit::SUCCESS)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut out)
                .map_err(|e| Error::io("cannot render the man page", e))?;
            output::print(&String::from_utf8_lossy(&out));
            Ok(exit::SUCCESS)
        }
    }
}

/// Resolved file locations of one invocation.
struct Paths {
    context: PathBuf,
    workflow: PathBuf,
    input: Option<PathBuf>,
    config: Option<PathBuf>,
}

fn resolve_paths(args: &RunArgs) -> Result<Paths> {
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    let abs = |p: &Path, base: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let (context, base) = match &args.common.context {
        Some(c) => {
            let c = abs(c, &cwd);
            if !c.is_dir() {
                return Err(Error::Usage(format!("the context directory {} does not exist", c.display())));
            }
            (c.clone(), c)
        }
        None => {
            let wf = args.workflow_pos.as_ref().or(args.workflow_flag.as_ref()).map(|w| abs(w, &cwd));
            let ctx = wf.as_ref().and_then(|w| w.parent().map(Path::to_path_buf)).unwrap_or_else(|| cwd.clone());
            (ctx, cwd.clone())
        }
    };
    let workflow = match (&args.workflow_pos, &args.workflow_flag) {
        (Some(p), _) => abs(p, &if args.common.context.is_some() { context.clone() } else { cwd.clone() }),
        (None, Some(p)) => abs(p, &base),
        (None, None) => context.join("workflow.yaml"),
    };
    Ok(Paths {
        context,
        workflow,
        input: args.input.as_ref().map(|p| abs(p, &base)),
        config: args.common.config.as_ref().map(|p| abs(p, &base)),
    })
}

fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => Config::load(p),
        None => Ok(Config::parse("").unwrap_or_default()),
    }
}

/// What a person sees of builds: the progress display and the log lines.
fn build_observers() -> Arc<dyn Observer> {
    Arc::new(Observers::new().with(Arc::new(ProgressObserver)).with(Arc::new(LogLines)))
}

fn deployer(common: &Common, config: &Config, context: &Path) -> Result<Arc<Deployer>> {
    let root = Workdir::locate(common.workdir.as_deref(), config.python.workdir.as_deref(), context)?;
    let workdir = Workdir::open(root)?;
    let policy = engine::effective_policy(config, common.pull_policy);
    Ok(Arc::new(Deployer::new(workdir, config.python.clone(), policy, build_observers())))
}

async fn run(args: RunArgs, verbosity: i8, validate_only: bool) -> Result<i32> {
    let started = std::time::Instant::now();
    let junit = args.junit.clone();
    let collector = Arc::new(JunitCollector::default());
    let result = run_workflow(args.clone(), verbosity, validate_only, collector.clone()).await;
    let steps = collector.take();
    crate::progress::clear();
    if let Some(path) = junit {
        let name = resolve_paths(&args).map(|p| p.workflow.display().to_string()).unwrap_or_else(|_| "workflow".into());
        let run_error = result.as_ref().err().map(|e| e.to_string());
        let summary = crate::report::Summary {
            name: &name,
            seconds: started.elapsed().as_secs_f64(),
            steps: &steps,
            run_error: run_error.as_deref(),
        };
        crate::report::write_junit(&path, &summary)?;
    }
    result
}

async fn run_workflow(args: RunArgs, verbosity: i8, validate_only: bool, junit: Arc<JunitCollector>) -> Result<i32> {
    let paths = resolve_paths(&args)?;
    let config = load_config(paths.config.as_deref())?;
    crate::logging::init(verbosity, config.log.level);
    let deployer = deployer(&args.common, &config, &paths.context)?;
    let loaded = engine::load(&paths.workflow, &paths.context, &config, deployer.clone()).await?;
    let input = engine::read_input(paths.input.as_deref(), &loaded.workflow)?;
    if validate_only {
        eprintln!("{}: valid", paths.workflow.display());
        return Ok(exit::SUCCESS);
    }
    let workdir = deployer.workdir().clone();
    let started = RunSession::start_workflow(&workdir, &loaded, &input, args.resume.as_deref())?;
    let run_id = started.run_id().to_string();
    match started.decision() {
        ResumeDecision::Fresh => {}
        ResumeDecision::Resumed(r) => {
            tracing::info!("resuming run {run_id}: {} completed step(s) are not run again", r.outputs.len());
        }
        ResumeDecision::StartedOver => {
            eprintln!("the workflow or its input changed since run {run_id}; starting it over");
        }
    }
    let (int_tx, int_rx) = tokio::sync::watch::channel(Interrupt::None);
    let signals = tokio::spawn(watch_signals(int_tx));
    let observers = Observers::new().with(Arc::new(ProgressObserver)).with(Arc::new(LogLines)).with(junit);
    tracing::info!("run {run_id}: {}", paths.workflow.display());
    let result = started.execute(&loaded, input, Arc::new(config), int_rx, observers).await;
    signals.abort();
    crate::progress::clear();
    match result {
        Ok(r) => {
            output::print(&output::render(&output::document(&r.output_id, &r.output_data), args.output));
            Ok(if r.is_error { exit::ERROR_OUTPUT } else { exit::SUCCESS })
        }
        Err(ExecError::Interrupted { .. }) => Err(Error::Interrupted),
        Err(ExecError::Failed { message, .. }) => Err(Error::Run(format!("{message} (run {run_id})"))),
    }
}

fn runs(args: RunsArgs, verbosity: i8) -> Result<i32> {
    crate::logging::init(verbosity, None);
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    let config_path = args.common.config.as_ref().map(|p| if p.is_absolute() { p.clone() } else { cwd.join(p) });
    let config = load_config(config_path.as_deref())?;
    let root = Workdir::locate(args.common.workdir.as_deref(), config.python.workdir.as_deref(), &cwd)?;
    let workdir = Workdir::open(root)?;
    let runs: Vec<RunState> = state::list(&workdir).into_iter().take(args.limit).collect();
    if args.json {
        output::print(&format!("{}\n", serde_json::to_string_pretty(&runs).unwrap_or_default()));
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
    output::print(&text);
    Ok(exit::SUCCESS)
}

async fn plugin(cmd: PluginCommand, verbosity: i8) -> Result<i32> {
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    let (spec, common) = match &cmd {
        PluginCommand::Schema { spec, common, .. } | PluginCommand::Run { spec, common, .. } => {
            (spec.clone(), common.clone())
        }
    };
    let context =
        common.context.as_ref().map(|c| if c.is_absolute() { c.clone() } else { cwd.join(c) }).unwrap_or(cwd.clone());
    let config_path = common.config.as_ref().map(|p| if p.is_absolute() { p.clone() } else { cwd.join(p) });
    let config = load_config(config_path.as_deref())?;
    crate::logging::init(verbosity, config.log.level);
    let deployer = deployer(&common, &config, &context)?;
    let module = ModuleSpec::parse(&spec, &context)?;
    let plugins = engine::deploy_all(deployer.clone(), [("spec".to_string(), module)].into_iter().collect()).await?;
    let Some(plugin) = plugins.into_values().next() else {
        return Err(Error::Run("the plugin was not deployed".into()));
    };
    let pick_step = |step: &Option<String>| -> Result<String> {
        match step {
            Some(s) => Ok(s.clone()),
            None if plugin.schema.steps.len() == 1 => {
                Ok(plugin.schema.steps.keys().next().cloned().unwrap_or_default())
            }
            None => Err(Error::Usage(format!(
                "--step is required: the plugin has several steps ({})",
                plugin.schema.steps.keys().cloned().collect::<Vec<_>>().join(", ")
            ))),
        }
    };
    match cmd {
        PluginCommand::Schema { step, json, .. } => {
            let doc = match &step {
                None => plugin.schema_value.clone(),
                Some(s) => plugin.schema_value.get("steps").and_then(|st| st.get(s)).cloned().ok_or_else(|| {
                    Error::Usage(format!(
                        "the plugin has no step '{s}' (it has: {})",
                        plugin.schema.steps.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                })?,
            };
            output::print(&output::render(&doc, if json { Format::Json } else { Format::Yaml }));
            Ok(exit::SUCCESS)
        }
        PluginCommand::Run { step, input, timeout, output: format, .. } => {
            let step = pick_step(&step)?;
            let path = if input.is_absolute() { input.clone() } else { cwd.join(&input) };
            let err = |message: String| Error::Input { path: path.clone(), message };
            let text = std::fs::read_to_string(&path).map_err(|e| err(format!("cannot read it: {e}")))?;
            let y: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| err(format!("not valid YAML: {e}")))?;
            let value = crate::value::Value::from_yaml(&y);
            // Like a workflow run: prune leaves a scratch dir alone while its run lock is held.
            let session = RunSession::new(deployer.workdir())?;
            let timeout = timeout.filter(|t| *t >= 0.0 && t.is_finite()).map(std::time::Duration::from_secs_f64);
            let outcome = engine::run_single(plugin, &step, &value, session.scratch(), timeout).await;
            drop(session);
            match outcome? {
                engine::SingleOutcome::Output { output_id, data, debug_logs, is_error } => {
                    if !debug_logs.is_empty() {
                        eprint!("{debug_logs}");
                    }
                    output::print(&output::render(&output::document(&output_id, &data), format));
                    Ok(if is_error { exit::ERROR_OUTPUT } else { exit::SUCCESS })
                }
                engine::SingleOutcome::Failed(message) => Err(Error::Run(format!("step '{step}' failed: {message}"))),
            }
        }
    }
}

/// First SIGINT/SIGTERM: cancel gracefully. Second: kill everything now.
async fn watch_signals(tx: tokio::sync::watch::Sender<Interrupt>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return;
    };
    let mut count = 0;
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        count += 1;
        if count == 1 {
            eprintln!("interrupted: cancelling running steps (press Ctrl-C again to stop at once)");
            let _ = tx.send(Interrupt::Graceful);
        } else {
            let _ = tx.send(Interrupt::Kill);
        }
    }
}

async fn pull(args: PullArgs, verbosity: i8) -> Result<i32> {
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    let context = args
        .common
        .context
        .as_ref()
        .map(|c| if c.is_absolute() { c.clone() } else { cwd.join(c) })
        .unwrap_or(cwd.clone());
    let config_path = args.common.config.as_ref().map(|p| if p.is_absolute() { p.clone() } else { cwd.join(p) });
    let config = load_config(config_path.as_deref())?;
    crate::logging::init(verbosity, config.log.level);
    if args.workflows.is_empty() && args.spec.is_empty() {
        return Err(Error::Usage("give at least one workflow file or --spec SPEC".into()));
    }
    let deployer = deployer(&args.common, &config, &context)?;
    let mut specs = std::collections::BTreeMap::new();
    for w in &args.workflows {
        let path = if w.is_absolute() { w.clone() } else { cwd.join(w) };
        let ctx = args
            .common
            .context
            .as_ref()
            .map(|_| context.clone())
            .unwrap_or_else(|| path.parent().map(Path::to_path_buf).unwrap_or(cwd.clone()));
        let wf = crate::workflow::Workflow::load(&path, &ctx)?;
        specs.extend(engine::module_specs(&wf, &config, &ctx)?);
    }
    for s in &args.spec {
        specs.insert(format!("spec:{s}"), ModuleSpec::parse(s, &context)?);
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
        eprintln!("{l}");
    }
    Ok(exit::SUCCESS)
}

const PRUNE_HELP: &str = "By default prune removes what nothing will use again:
  - interrupted builds (no meta.json) that no process holds,
  - superseded builds (not named by their entry's `current`) that no running workflow uses,
  - scratch dirs of runs that ended, stale locks, leftover temporary files,
  - symbolic links and files where arcaflow-py keeps directories (removed as links, never followed),
  - git mirrors that no cached venv was built from.
A build that a running workflow uses is skipped (--wait waits for it, --force removes it).

--ci keeps what is expensive to rebuild and drops what is cheap to fetch again: the current
venvs stay (rebuilding one means seconds of package installs), every git mirror goes (a fetch
brings it back in well under a second, and a CI cache stays small). Runs after `prune --ci`
fetch their repositories again, then reuse the venvs.

--force: on Linux, processes that use a removed venv keep the files they have open and go on
working, but every new plugin launch from it (the next step of a running workflow included) fails.

Sizes are allocated blocks, as `du -s --block-size=1` counts them (hard links once).
Example cron line: 0 3 * * * arcaflow-py cache prune --older-than 30d --max-size 5GiB -q";

#[derive(Subcommand, Debug)]
enum CacheCommand {
    /// Print the workdir (resolved like `run`: --workdir, ARCAFLOW_PY_WORKDIR, config workdir, per-user default).
    Dir(CachePlace),
    /// One row per venv build: name, commit, Python, size, last use, state, whether in use, source.
    List {
        /// Print JSON (an array of builds) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        place: CachePlace,
    },
    /// How much disk the workdir uses, counted like `du -s --block-size=1` (allocated blocks, hard links once).
    Size {
        /// Print only the total, in bytes.
        #[arg(long, conflicts_with = "json")]
        bytes: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        place: CachePlace,
    },
    /// Remove what is stale (see below); --older-than, --max-size and --ci remove more.
    #[command(after_help = PRUNE_HELP)]
    Prune(PruneArgs),
    /// Remove all cached venvs, git mirrors and leftovers (not run history), or the named modules' venvs.
    Clean(CleanArgs),
}

#[derive(Args, Debug, Clone)]
struct CachePlace {
    /// Engine config file (its workdir is used when neither --workdir nor ARCAFLOW_PY_WORKDIR is set).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The workdir (also ARCAFLOW_PY_WORKDIR, config workdir).
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct RemovalArgs {
    /// Print what would be removed and how much space it frees; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Wait until running workflows release the builds they use, then remove them.
    #[arg(long, conflicts_with = "force")]
    wait: bool,
    /// Remove builds even while running workflows use them: on Linux their plugin processes keep
    /// working with the files they have open, but new plugin launches from a removed venv fail.
    #[arg(long)]
    force: bool,
}

#[derive(Args, Debug, Clone)]
struct PruneArgs {
    /// Also remove venvs unused for this long (e.g. 30d, 12h, 2w), and run state files older than that.
    #[arg(long, value_name = "DURATION", value_parser = crate::prune::units::parse_age)]
    older_than: Option<std::time::Duration>,
    /// Then evict least recently used venvs until the workdir is under this size (e.g. 2GiB, 500MB).
    #[arg(long, value_name = "SIZE", value_parser = crate::prune::units::parse_size)]
    max_size: Option<u64>,
    /// Never remove what these workflows need: their plugins' current venvs and git mirrors.
    #[arg(long, value_name = "WORKFLOW", num_args = 1..)]
    keep: Vec<PathBuf>,
    /// For CI caches: keep the venvs (expensive to rebuild), drop every git mirror (cheap to fetch again).
    #[arg(long)]
    ci: bool,
    #[command(flatten)]
    removal: RemovalArgs,
    #[command(flatten)]
    place: CachePlace,
}

#[derive(Args, Debug, Clone)]
struct CleanArgs {
    /// Only these modules: a name (arcaflow-plugin-x, every build of it) or a full spec.
    #[arg(value_name = "SPEC")]
    specs: Vec<String>,
    #[command(flatten)]
    removal: RemovalArgs,
    #[command(flatten)]
    place: CachePlace,
}

impl RemovalArgs {
    fn options(&self) -> crate::prune::Removal {
        let in_use = match (self.wait, self.force) {
            (true, _) => crate::prune::InUse::Wait,
            (_, true) => crate::prune::InUse::Force,
            _ => crate::prune::InUse::Skip,
        };
        crate::prune::Removal { dry_run: self.dry_run, in_use }
    }
}

fn cache_command(cmd: CacheCommand, verbosity: i8) -> Result<i32> {
    use crate::prune::{self, SizeFormat};
    let place = match &cmd {
        CacheCommand::Dir(p) => p,
        CacheCommand::List { place, .. } | CacheCommand::Size { place, .. } => place,
        CacheCommand::Prune(a) => &a.place,
        CacheCommand::Clean(a) => &a.place,
    };
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    let config_path = place.config.as_ref().map(|p| cwd.join(p));
    let config = load_config(config_path.as_deref())?;
    crate::logging::init(verbosity, config.log.level);
    // A relative config workdir is relative to the current directory here (there is no workflow).
    let root = Workdir::locate(place.workdir.as_deref(), config.python.workdir.as_deref(), &cwd)?;
    let out = prune::Printer { quiet: verbosity < 0, verbose: verbosity > 0 };
    match cmd {
        CacheCommand::Dir(_) => {
            output::print(&format!("{}\n", root.display()));
            Ok(exit::SUCCESS)
        }
        CacheCommand::List { json, .. } => prune::list(&root, json),
        CacheCommand::Size { bytes, json, .. } => {
            let format = match (bytes, json) {
                (true, _) => SizeFormat::Bytes,
                (_, true) => SizeFormat::Json,
                _ => SizeFormat::Human,
            };
            prune::size(&root, format)
        }
        CacheCommand::Prune(a) => {
            let opts = prune::PruneOptions {
                older_than: a.older_than,
                max_size: a.max_size,
                keep: a.keep.clone(),
                ci: a.ci,
                removal: a.removal.options(),
            };
            prune::prune(&root, &config, &opts, &out)
        }
        CacheCommand::Clean(a) => {
            prune::clean(&root, &prune::CleanOptions { specs: a.specs.clone(), removal: a.removal.options() }, &out)
        }
    }
}
