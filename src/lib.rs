//! arcaflow-py: runs Arcaflow workflows whose plugins are Python modules, without containers.
//! ARCHITECTURE.md describes how the modules fit together.

// Every unsafe call lives in `sys` (which allows it for itself).
#![deny(unsafe_code)]

pub mod argo;
pub mod atp;
pub mod cache;
pub mod cli;
mod commands;
pub mod config;
pub mod deployer;
pub mod engine;
pub mod error;
pub mod events;
pub mod expr;
#[cfg(test)]
mod fuzz_files;
pub mod limits;
pub mod orphans;
pub mod plan;
pub mod redact;
pub mod schema;
pub mod seconds;
pub mod session;
pub mod state;
mod sys;
mod testhooks;
pub mod ui;
pub mod value;
pub mod workdir;
pub mod workflow;
pub mod yaml;
pub mod zygote;
