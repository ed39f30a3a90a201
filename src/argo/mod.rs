//! Owns running workflows on Argo Workflows: the manifest model, `export argo`, the offline
//! checks (`argo lint`: strict schema + ported validator rules), `argo simulate`, and the
//! in-pod runner (`node …`; flags in `cli/argo.rs`, use cases in `commands/`). The engine is
//! reached only through `engine::node` and the
//! public loading functions, so this module stays apart from the engine's internals.

pub mod depends;
pub mod export;
pub mod image;
pub mod lint;
pub mod model;
pub mod names;
pub mod node;
pub mod overlay;
pub mod plan;
pub mod schema;
pub mod serve;
pub mod simulate;
#[cfg(test)]
mod testutil;
pub mod yamlio;
