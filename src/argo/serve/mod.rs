//! Owns `arcaflow-py serve-plugin`: the Argo executor plugin (research §3). The HTTP side is in
//! [`http`], the executions and their idempotency in [`executions`], the wire types in [`wire`],
//! and the `plugin.yaml`/ConfigMap that install it in [`manifest`]. A step runs with the same code
//! as the pod runner (`argo::node::execute_request`).

pub mod executions;
pub mod http;
pub mod manifest;
pub mod wire;

/// The port Argo's agent calls (the sidecar's first containerPort).
pub const DEFAULT_PORT: u16 = 4355;
/// The only path served: Argo's `template.execute` method.
pub const EXECUTE_PATH: &str = "/api/v1/template.execute";
/// Where Argo's agent mounts the token (`/var/run/argo/<sidecar>/token`, mounted with subPath).
pub const DEFAULT_TOKEN_FILE: &str = "/var/run/argo/token";
/// The key of our object in a template's `plugin` field.
pub const DEFAULT_KEY: &str = "arcaflow";
