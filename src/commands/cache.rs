//! Owns `cache dir|list|size|prune|clean`: where the workdir is, what it holds, and bounding it.

use crate::cache::{self, SizeFormat};
use crate::cli::invocation::Invocation;
use crate::cli::CacheCommand;
use crate::error::{exit, Result};

pub(crate) fn cache(inv: &Invocation, cmd: CacheCommand) -> Result<i32> {
    let place = match &cmd {
        CacheCommand::Dir(p) => p,
        CacheCommand::List { place, .. } | CacheCommand::Size { place, .. } => place,
        CacheCommand::Prune(a) => &a.place,
        CacheCommand::Clean(a) => &a.place,
    };
    let config = place.config.as_deref().map(|p| inv.in_cwd(p));
    // There is no workflow: a relative config workdir is relative to the current directory.
    let settled = inv.settle(config.as_deref(), inv.cwd().to_path_buf(), place.workdir.as_deref())?;
    let root = &settled.workdir;
    let out = &settled.printer;

    match cmd {
        CacheCommand::Dir(_) => {
            out.out(&format!("{}\n", root.display()));
            Ok(exit::SUCCESS)
        }
        CacheCommand::List { json, .. } => cache::list(root, json, out),
        CacheCommand::Size { bytes, json, .. } => {
            let format = match (bytes, json) {
                (true, _) => SizeFormat::Bytes,
                (_, true) => SizeFormat::Json,
                _ => SizeFormat::Human,
            };
            cache::size(root, format, out)
        }
        CacheCommand::Prune(a) => {
            let opts = cache::PruneOptions {
                older_than: a.older_than,
                max_size: a.max_size,
                keep: a.keep.iter().map(|w| inv.in_cwd(w)).collect(),
                ci: a.ci,
                keep_runs: a.keep_runs,
                removal: a.removal.options(),
            };
            cache::prune(root, &settled.config, &opts, out)
        }
        CacheCommand::Clean(a) => {
            let opts =
                cache::CleanOptions { specs: a.specs.clone(), cwd: settled.cwd.clone(), removal: a.removal.options() };
            cache::clean(root, &opts, out)
        }
    }
}
