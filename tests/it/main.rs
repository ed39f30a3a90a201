//! Integration tests: the real binary, real git repositories, real venvs, real SDK plugins.

mod support;

mod cache;
mod cli;
mod compat;
mod deployer;
mod differential;
mod faults;
mod foundation;
mod lifecycle;
mod newcomer;
mod protocol;
mod reliability;
