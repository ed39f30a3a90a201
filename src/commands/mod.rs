//! Owns the use cases behind the command line, one file per verb; each reads top to bottom.

pub(crate) mod argo;
pub(crate) mod cache;
pub(crate) mod completions;
pub(crate) mod export;
pub(crate) mod man;
pub(crate) mod node;
pub(crate) mod plugin;
pub(crate) mod pull;
pub(crate) mod run;
pub(crate) mod runs;
pub(crate) mod serve;
pub(crate) mod validate;
