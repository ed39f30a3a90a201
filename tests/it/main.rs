//! Integration tests: the real binary, real git repositories, real venvs, real SDK plugins.

// A test binary: its helpers are `pub` for the test modules, and a failed unwrap is a failed test.
#![allow(unreachable_pub, clippy::unwrap_used)]

mod support;

mod argo;
mod artifacts;
mod cache;
mod cli;
mod compat;
mod damage;
mod deployer;
mod differential;
mod extremes;
mod faults;
mod forkserver;
mod foundation;
mod hangs;
mod hostile;
mod inline;
mod lifecycle;
mod nesting;
mod newcomer;
mod protocol;
mod reliability;
mod retries;
mod secrets;
mod serve;
mod transports;
mod workdir_safety;
mod yaml_readers;
