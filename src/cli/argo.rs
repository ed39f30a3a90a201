//! Owns the command-line definitions of the Argo verbs: `export argo`, `argo lint`,
//! `argo simulate` and the hidden `node` runner (the use cases are in `commands/`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::argo::export::{self, ArgoVersion, Kind, SecretInput};

pub(crate) const DEFAULT_IMAGE: &str = concat!("localhost/arcaflow-py:", env!("CARGO_PKG_VERSION"));

#[derive(Subcommand, Debug)]
pub(crate) enum ExportCommand {
    /// Write an Argo Workflows manifest that runs the workflow, one pod per step.
    #[command(after_help = "Examples:
  arcaflow-py export argo workflow.yaml -i input.yaml -o manifest.yaml
  arcaflow-py export argo workflow.yaml --overlay overlay.yaml --image registry.example/arcaflow-py:0.1 --check
  argo submit manifest.yaml                          # on the cluster")]
    Argo(Box<ExportArgo>),
    /// Print the Containerfile of the image the exported pods run.
    Containerfile,
}

#[derive(Args, Debug)]
pub(crate) struct ExportArgo {
    /// The workflow file (default: workflow.yaml in the context directory).
    #[arg(value_name = "WORKFLOW")]
    pub(crate) workflow: Option<PathBuf>,
    /// Input YAML file: becomes the manifest's `input` parameter (override with `argo submit -p input=…`).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// Engine config file; it travels in the plan the pods read.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Base directory for relative paths and sub-workflows.
    #[arg(long, value_name = "DIR")]
    pub(crate) context: Option<PathBuf>,
    /// Cache directory used to resolve and check the plugins at export time.
    #[arg(long, value_name = "DIR")]
    pub(crate) workdir: Option<PathBuf>,
    /// The container image with arcaflow-py, Python and uv (see the Containerfile).
    #[arg(long, value_name = "IMG", default_value = DEFAULT_IMAGE)]
    pub(crate) image: String,
    /// Write the manifest to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Kind::Workflow)]
    pub(crate) kind: Kind,
    /// metadata.name.
    #[arg(long, value_name = "N")]
    pub(crate) name: Option<String>,
    /// metadata.generateName (default: the workflow file's name and '-').
    #[arg(long, value_name = "P", conflicts_with = "name")]
    pub(crate) generate_name: Option<String>,
    #[arg(long, value_name = "NS")]
    pub(crate) namespace: Option<String>,
    /// Per-step Kubernetes settings and fusing (README: "Exporting to Argo Workflows").
    #[arg(long, value_name = "FILE")]
    pub(crate) overlay: Option<PathBuf>,
    /// The oldest Argo version the manifest must run on (3.5 or newer).
    #[arg(long, value_name = "V", default_value = "3.6")]
    pub(crate) argo_version: ArgoVersion,
    /// A top-level input field read from a Kubernetes Secret in the pod, never put in the manifest.
    #[arg(long, value_name = "FIELD=SECRET/KEY")]
    pub(crate) secret_input: Vec<SecretInput>,
    /// Largest step result (bytes) handed on inline as an Argo parameter.
    #[arg(long, value_name = "BYTES", default_value_t = export::DEFAULT_INLINE_MAX)]
    pub(crate) inline_max: u64,
    /// Check only: build and verify the manifest, write nothing, exit 1 on any problem.
    #[arg(long)]
    pub(crate) check: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ArgoCommand {
    /// Check manifests offline: the strict schema and Argo's validator rules for what we emit.
    #[command(after_help = "Example:
  arcaflow-py argo lint manifest.yaml")]
    Lint {
        /// Argo Workflow manifests (YAML, several documents per file allowed).
        #[arg(value_name = "MANIFEST", required = true)]
        manifests: Vec<PathBuf>,
        /// Size budgets for this Argo version.
        #[arg(long, value_name = "V", default_value = "3.6")]
        argo_version: ArgoVersion,
    },
    /// Run a manifest here with Argo's semantics and print the workflow's result document.
    #[command(after_help = "Example:
  arcaflow-py argo simulate manifest.yaml -i input.yaml --keep sandboxes/

Exit codes as for `run`: 0 success, 2 error output, 3 no output, 1 invalid manifest.")]
    Simulate(SimulateArgs),
}

#[derive(Args, Debug)]
pub(crate) struct SimulateArgs {
    /// The Argo Workflow manifest to run (as written by `export argo`).
    #[arg(value_name = "MANIFEST")]
    pub(crate) manifest: PathBuf,
    /// Input YAML file, replacing the manifest's `input` parameter.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// A plugin cache shared by every task (like a pre-built image); default: each task builds its own.
    #[arg(long, value_name = "DIR")]
    pub(crate) cache: Option<PathBuf>,
    /// Keep every task's sandbox (files, logs) under DIR.
    #[arg(long, value_name = "DIR")]
    pub(crate) keep: Option<PathBuf>,
    /// Kubernetes Secrets as directories: DIR/SECRET/KEY.
    #[arg(long, value_name = "DIR")]
    pub(crate) secrets: Option<PathBuf>,
    /// The binary that stands for arcaflow-py in the image (default: this one).
    #[arg(long, value_name = "PATH")]
    pub(crate) binary: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum NodeCommand {
    /// Run one step from the plan (the pod of a step's task).
    Run(NodeArgs),
    /// Decide every `enabled` that reads only the input (the plan task).
    Plan(NodeArgs),
    /// Compute the workflow's outputs from every step's result (the final task).
    Outputs(NodeArgs),
    /// Run the whole workflow in this pod (fused mode).
    RunAll(NodeArgs),
}

#[derive(Args, Debug)]
pub(crate) struct NodeArgs {
    #[arg(long, value_name = "FILE")]
    pub(crate) plan: PathBuf,
    #[arg(long, value_name = "FILE")]
    pub(crate) input: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    #[arg(long, value_name = "FILE")]
    pub(crate) params_file: PathBuf,
    /// The directory where Secrets for secret inputs are mounted.
    #[arg(long, value_name = "DIR")]
    pub(crate) secrets: Option<PathBuf>,
}

/// `serve-plugin`: the Argo executor plugin (README "Light steps as an Argo executor plugin").
#[derive(Args, Debug)]
pub(crate) struct ServePluginArgs {
    /// The port Argo's agent calls (the sidecar's containerPort).
    #[arg(long, default_value_t = crate::argo::serve::DEFAULT_PORT)]
    pub(crate) port: u16,
    /// The address to listen on (the agent calls localhost inside its pod).
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub(crate) address: std::net::IpAddr,
    /// The file holding the bearer token Argo's agent sends.
    #[arg(long, value_name = "FILE", default_value = crate::argo::serve::DEFAULT_TOKEN_FILE)]
    pub(crate) token_file: PathBuf,
    /// The key of our object in a template's `plugin` field.
    #[arg(long, default_value = crate::argo::serve::DEFAULT_KEY)]
    pub(crate) key: String,
    /// Steps running at once; more are answered Pending and called again.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_concurrent: u32,
    /// Finished results kept in memory (a dropped one is answered Failed, never run again).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_finished: u32,
    /// Cache directory for git mirrors and venvs (also ARCAFLOW_PY_WORKDIR, the plan's config).
    #[arg(long, value_name = "DIR")]
    pub(crate) workdir: Option<PathBuf>,
    /// Seconds a call waits for its step before answering Running (below the agent's 30 s timeout).
    #[arg(long, value_name = "SECONDS", default_value_t = 20.0, hide = true)]
    pub(crate) reply_within: f64,
    /// The shortest requeue in seconds (it grows with a step's running time, up to 6 times this).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, hide = true)]
    pub(crate) requeue: f64,
    /// Print the plugin.yaml (`kind: ExecutorPlugin`) that installs this plugin, and exit.
    #[arg(long, help_heading = "Installing", conflicts_with = "configmap")]
    pub(crate) manifest: bool,
    /// Print the ConfigMap `argo executor-plugin build` would make (ready to `kubectl apply`), and exit.
    #[arg(long, help_heading = "Installing")]
    pub(crate) configmap: bool,
    /// The sidecar's image: arcaflow-py, Python, uv and git (see `export containerfile`).
    #[arg(long, value_name = "IMG", default_value = DEFAULT_IMAGE, help_heading = "Installing")]
    pub(crate) image: String,
    /// The plugin's name (the ConfigMap and the ServiceAccount are `<name>-executor-plugin`).
    #[arg(long, value_name = "N", default_value = "arcaflow", help_heading = "Installing")]
    pub(crate) name: String,
    #[arg(long, value_name = "NS", help_heading = "Installing")]
    pub(crate) namespace: Option<String>,
    #[arg(long, value_name = "Q", default_value = "250m", help_heading = "Installing")]
    pub(crate) cpu_request: String,
    #[arg(long, value_name = "Q", default_value = "256Mi", help_heading = "Installing")]
    pub(crate) memory_request: String,
    #[arg(long, value_name = "Q", default_value = "1", help_heading = "Installing")]
    pub(crate) cpu_limit: String,
    #[arg(long, value_name = "Q", default_value = "1Gi", help_heading = "Installing")]
    pub(crate) memory_limit: String,
    /// Do not mount the ServiceAccount token (steps then cannot call the Kubernetes API).
    #[arg(long, help_heading = "Installing")]
    pub(crate) no_service_account_token: bool,
}
