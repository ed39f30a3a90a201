//! Owns the plugin protocol: the ATP wire format ([`codec`], pure) and the plugin process that
//! speaks it ([`client`]).

pub mod client;
pub mod codec;

pub use client::{kill_group, AtpError, Forked, Launch, PluginProcess};
pub use codec::{Hello, WorkDone};
