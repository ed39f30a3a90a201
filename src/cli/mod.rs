//! Owns the command line: clap definitions and dispatch to `commands/`; the one place where
//! errors become messages and exit codes. How paths given here are read is stated (and done)
//! in [`invocation`].

pub(crate) mod argo;
pub(crate) mod invocation;
pub(crate) mod signals;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::config::PullPolicy;
use crate::error::{exit, Result};
use crate::ui::output::Format;
use crate::ui::Printer;
use invocation::Invocation;

/// The exit codes, as a literal so that `concat!` can put examples before it.
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0    the workflow produced a non-error output (or the command succeeded)
  1    invalid workflow, config, module spec or command line; a plugin could not be deployed
  2    the workflow ended on an error output
  3    the run failed: invalid input, or no output could be produced
  130  interrupted (Ctrl-C)"
    };
}
const EXIT_CODES: &str = exit_codes!();

#[derive(Parser, Debug)]
#[command(name = "arcaflow-py", version, about = "Run Arcaflow workflows whose plugins are Python modules, without a container runtime", after_help = EXIT_CODES)]
pub struct Cli {
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Global options")]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = "Global options")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a workflow and print its output document.
    #[command(after_help = concat!(
        "Examples:
  arcaflow-py run workflow.yaml -i input.yaml
  arcaflow-py run --context workflows/example --input input.yaml -o json
  arcaflow-py run workflow.yaml -i input.yaml --resume 20261201T101500-1a2b3c4d
  arcaflow-py run workflow.yaml --junit report.xml      # for CI

",
        exit_codes!()
    ))]
    Run(RunArgs),
    /// Build the venv of every plugin a workflow (or a spec) needs, without running anything.
    #[command(after_help = "Examples:
  arcaflow-py pull workflow.yaml                       # before going offline, or in a CI cache step
  arcaflow-py pull --spec 'arcaflow-plugin-example@git+https://github.com/arcalot/arcaflow-plugin-example@v0.2.0'")]
    Pull(PullArgs),
    /// Run every static check on a workflow (and input) without running a step.
    #[command(after_help = "Without --input, the workflow input and the step inputs computed from it are not checked.

Examples:
  arcaflow-py validate workflow.yaml
  arcaflow-py validate workflow.yaml -i input.yaml --junit validate.xml")]
    Validate(ValidateArgs),
    /// List recent runs and their status (newest first).
    #[command(after_help = "Examples:
  arcaflow-py runs
  arcaflow-py runs --limit 5 --json")]
    Runs(RunsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Example:
  arcaflow-py completions bash > ~/.local/share/bash-completion/completions/arcaflow-py")]
    Completions {
        /// The shell to write the script for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    #[command(after_help = "Example:
  arcaflow-py man > ~/.local/share/man/man1/arcaflow-py.1")]
    Man,
    /// Work with one plugin: print its schema, or run one of its steps.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// See and bound the cache of venvs and git mirrors (dir, list, size, prune, clean).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Export a workflow to another engine: `export argo` writes an Argo Workflows manifest.
    #[command(subcommand)]
    Export(argo::ExportCommand),
    /// Check (`lint`) and run (`simulate`) Argo manifests offline.
    #[command(subcommand)]
    Argo(argo::ArgoCommand),
    /// The runner inside exported pods (a versioned contract; see README).
    #[command(subcommand, hide = true)]
    Node(argo::NodeCommand),
    /// Serve steps as an Argo executor plugin (light steps without a pod each).
    #[command(after_help = "Examples:
  arcaflow-py serve-plugin --manifest > plugin.yaml     # the ExecutorPlugin, for `argo executor-plugin build`
  arcaflow-py serve-plugin --configmap | kubectl apply -f -
  arcaflow-py serve-plugin --port 4355 --max-concurrent 4   # what the sidecar runs")]
    ServePlugin(argo::ServePluginArgs),
}

#[derive(Subcommand, Debug)]
pub(crate) enum PluginCommand {
    /// Print a plugin's schema (building its venv if needed).
    #[command(after_help = "Examples:
  arcaflow-py plugin schema 'arcaflow-plugin-example@git+https://github.com/arcalot/arcaflow-plugin-example@v0.2.0'
  arcaflow-py plugin schema arcaflow_plugin_example@./plugins/example --step hello-world --json")]
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
    #[command(after_help = concat!(
        "Example:
  arcaflow-py plugin run arcaflow_plugin_example@./plugins/example --step hello-world -i step-input.yaml

",
        exit_codes!()
    ))]
    Run {
        /// The module spec, as in a workflow's `src`.
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
pub(crate) struct RunsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Show at most this many runs.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
    #[command(flatten)]
    pub(crate) place: CachePlace,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct Common {
    /// Engine config file (both the seed's `deployer:` and the engine's `deployers:` forms).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Base directory for relative paths. When given, relative --workflow/--input/--config are
    /// inside it (as in the reference engine); otherwise they are relative to the current directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) context: Option<PathBuf>,
    /// Cache directory for git mirrors and venvs (also ARCAFLOW_PY_WORKDIR, config workdir).
    #[arg(long, value_name = "DIR")]
    pub(crate) workdir: Option<PathBuf>,
    /// Override the config's modulePullPolicy: build when missing (IfNotPresent), rebuild
    /// (Always), or use only what is cached (Never).
    #[arg(long, value_name = "POLICY", value_parser = pull_policies())]
    pub(crate) pull_policy: Option<PullPolicy>,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) workflow: WorkflowArg,
    /// Input YAML file (default: an empty input).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// Format of the result document on stdout.
    #[arg(short, long, value_enum, default_value_t = Format::Yaml)]
    pub(crate) output: Format,
    /// Resume a run: steps that completed are not run again, unless the workflow or input changed.
    #[arg(long, value_name = "RUN_ID")]
    pub(crate) resume: Option<String>,
    /// Write a JUnit XML report (one test case per step) to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) common: Common,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct ValidateArgs {
    #[command(flatten)]
    pub(crate) workflow: WorkflowArg,
    /// Input YAML file to check as well (without one, the input is not checked).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// Write a JUnit XML report (the workflow as one failed test case when it is invalid) to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) common: Common,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct WorkflowArg {
    /// The workflow file (default: workflow.yaml in the context directory).
    #[arg(value_name = "WORKFLOW")]
    pub(crate) workflow_pos: Option<PathBuf>,
    /// The workflow file, as the reference engine's -workflow.
    #[arg(long = "workflow", value_name = "FILE", conflicts_with = "workflow_pos")]
    pub(crate) workflow_flag: Option<PathBuf>,
}

impl WorkflowArg {
    pub(crate) fn path(&self) -> Option<&std::path::Path> {
        self.workflow_pos.as_deref().or(self.workflow_flag.as_deref())
    }
}

#[derive(Args, Debug, Clone)]
pub(crate) struct PullArgs {
    /// Workflow files whose plugins to build.
    #[arg(value_name = "WORKFLOW")]
    pub(crate) workflows: Vec<PathBuf>,
    /// A module spec to build (repeatable).
    #[arg(long, value_name = "SPEC")]
    pub(crate) spec: Vec<String>,
    #[command(flatten)]
    pub(crate) common: Common,
}

/// The pull policies, listed in the help and checked by clap.
fn pull_policies() -> impl clap::builder::TypedValueParser<Value = PullPolicy> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["IfNotPresent", "Always", "Never"]).try_map(|s| s.parse::<PullPolicy>())
}

/// Parses the command line, runs it, and returns the process exit code.
pub fn main() -> i32 {
    // clap exits 2 on a usage error, the code of "the workflow ended on an error output": usage
    // errors exit 1 (invalid command line), as documented, so a script can tell a typo from a result.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit::INVALID } else { exit::SUCCESS };
        }
    };
    let verbosity: i8 = if cli.quiet { -1 } else { cli.verbose.min(2) as i8 };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            Printer::default().error(&format!("cannot start the async runtime: {e}"));
            return exit::INVALID;
        }
    };
    let result = runtime.block_on(dispatch(cli.command, verbosity));
    // Blocking tasks (builds) hold no process; don't wait for stragglers.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(e) => {
            Printer::default().error_report(&e);
            e.exit_code()
        }
    }
}

async fn dispatch(command: Command, verbosity: i8) -> Result<i32> {
    let interrupts = signals::Interrupts::install(Printer::new(verbosity));
    let inv = Invocation::new(verbosity, interrupts)?;
    match command {
        Command::Run(args) => commands::run::run(&inv, args).await,
        Command::Validate(args) => commands::validate::validate(&inv, args).await,
        Command::Pull(args) => commands::pull::pull(&inv, args).await,
        Command::Runs(args) => commands::runs::runs(&inv, args),
        Command::Plugin(cmd) => commands::plugin::plugin(&inv, cmd).await,
        Command::Cache(cmd) => commands::cache::cache(&inv, cmd),
        Command::Completions { shell } => commands::completions::completions(&inv, shell),
        Command::Man => commands::man::man(&inv),
        Command::Export(cmd) => commands::export::export(cmd, verbosity).await,
        Command::Argo(cmd) => commands::argo::argo(cmd, verbosity).await,
        Command::Node(cmd) => commands::node::node(cmd, verbosity).await,
        Command::ServePlugin(args) => commands::serve::serve(&inv, args, verbosity).await,
    }
}

/// The clap definition of the whole command line (for completions and the man page).
pub(crate) fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
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
pub(crate) enum CacheCommand {
    /// Print the workdir (resolved like `run`: --workdir, ARCAFLOW_PY_WORKDIR, config workdir, per-user default).
    #[command(after_help = "Example:
  du -sh \"$(arcaflow-py cache dir)\"")]
    Dir(CachePlace),
    /// One row per venv build: name, commit, Python, size, last use, state, whether in use, source.
    #[command(after_help = "Examples:
  arcaflow-py cache list
  arcaflow-py cache list --json | jq '.[] | select(.state == \"superseded\")'")]
    List {
        /// Print JSON (an array of builds) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        place: CachePlace,
    },
    /// How much disk the workdir uses, counted like `du -s --block-size=1` (allocated blocks, hard links once).
    #[command(after_help = "Examples:
  arcaflow-py cache size
  arcaflow-py cache size --bytes")]
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
    #[command(after_help = "Examples:
  arcaflow-py cache clean                              # everything but run history
  arcaflow-py cache clean arcaflow-plugin-example      # one module's venvs")]
    Clean(CleanArgs),
}

#[derive(Args, Debug, Clone)]
pub(crate) struct CachePlace {
    /// Engine config file (its workdir is used when neither --workdir nor ARCAFLOW_PY_WORKDIR is set).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The workdir (also ARCAFLOW_PY_WORKDIR, config workdir).
    #[arg(long, value_name = "DIR")]
    pub(crate) workdir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct RemovalArgs {
    /// Print what would be removed and how much space it frees; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Wait until running workflows release the builds they use, then remove them.
    #[arg(long, conflicts_with = "force")]
    pub(crate) wait: bool,
    /// Remove builds even while running workflows use them: on Linux their plugin processes keep
    /// working with the files they have open, but new plugin launches from a removed venv fail.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct PruneArgs {
    /// Also remove venvs unused for this long (e.g. 30d, 12h, 2w, 90min, 1month; a bare `m` is
    /// refused as ambiguous), and run state files older than that.
    #[arg(long, value_name = "DURATION", value_parser = crate::cache::units::parse_age)]
    pub(crate) older_than: Option<std::time::Duration>,
    /// Then evict least recently used venvs until the workdir is under this size (e.g. 2GiB, 500MB).
    #[arg(long, value_name = "SIZE", value_parser = crate::cache::units::parse_size)]
    pub(crate) max_size: Option<u64>,
    /// Never remove what these workflows need: their plugins' current venvs and git mirrors.
    #[arg(long, value_name = "WORKFLOW", num_args = 1..)]
    pub(crate) keep: Vec<PathBuf>,
    /// For CI caches: keep the venvs (expensive to rebuild), drop every git mirror (cheap to fetch again).
    #[arg(long)]
    pub(crate) ci: bool,
    /// Keep the state files (and artifacts) of the N newest runs, remove those of older runs.
    #[arg(long, value_name = "N")]
    pub(crate) keep_runs: Option<usize>,
    #[command(flatten)]
    pub(crate) removal: RemovalArgs,
    #[command(flatten)]
    pub(crate) place: CachePlace,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct CleanArgs {
    /// Only these modules: a name (arcaflow-plugin-x, every build of it) or a full spec.
    #[arg(value_name = "SPEC")]
    pub(crate) specs: Vec<String>,
    #[command(flatten)]
    pub(crate) removal: RemovalArgs,
    #[command(flatten)]
    pub(crate) place: CachePlace,
}

impl RemovalArgs {
    pub(crate) fn options(&self) -> crate::cache::Removal {
        let in_use = match (self.wait, self.force) {
            (true, _) => crate::cache::InUse::Wait,
            (_, true) => crate::cache::InUse::Force,
            _ => crate::cache::InUse::Skip,
        };
        crate::cache::Removal { dry_run: self.dry_run, in_use }
    }
}
