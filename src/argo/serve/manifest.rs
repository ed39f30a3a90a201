//! Owns what installs the executor plugin: its `plugin.yaml` (`kind: ExecutorPlugin`) and the
//! ConfigMap that `argo executor-plugin build` makes of it (Argo's
//! `cmd/argo/commands/executorplugin` and `workflow/util/plugin/configmap.go`), so users without
//! the argo CLI can `kubectl apply` it. Argo reads both strictly and requires a port, non-empty
//! resource requests and limits, and a securityContext (`Sidecar.Validate`).

use serde_json::{json, Map, Value};

use super::DEFAULT_PORT;
use crate::argo::overlay::QUANTITY_PATTERN;

/// The label by which Argo's controller finds executor plugin ConfigMaps.
pub const CONFIGMAP_TYPE_LABEL: &str = "workflows.argoproj.io/configmap-type";
/// The first line `argo executor-plugin build` writes.
pub const GENERATED_HEADER: &str = "# This is an auto-generated file. DO NOT EDIT";
/// The user the image runs as (`argo::image`): it owns the venv cache.
pub const RUN_AS_USER: u32 = 65532;

#[derive(Debug, Clone)]
pub struct Options {
    /// The plugin's name: the ConfigMap is `<name>-executor-plugin`, and so must be the
    /// ServiceAccount whose token the sidecar gets.
    pub name: String,
    pub namespace: Option<String>,
    pub image: String,
    pub port: u16,
    pub requests: Resources,
    pub limits: Resources,
    /// Mount the ServiceAccount token (steps that call the Kubernetes API need it).
    pub service_account_token: bool,
}

#[derive(Debug, Clone)]
pub struct Resources {
    pub cpu: String,
    pub memory: String,
}

impl Options {
    pub fn new(image: &str) -> Options {
        Options {
            name: "arcaflow".into(),
            namespace: None,
            image: image.into(),
            port: DEFAULT_PORT,
            requests: Resources { cpu: "250m".into(), memory: "256Mi".into() },
            limits: Resources { cpu: "1".into(), memory: "1Gi".into() },
            service_account_token: true,
        }
    }

    /// What Argo would refuse (or Kubernetes, for names and quantities), said before printing.
    pub fn check(&self) -> Result<(), String> {
        if let Some(p) = crate::argo::names::object_name_problem(&format!("{}-executor-plugin", self.name), false) {
            return Err(format!("--name: {p}"));
        }
        if let Some(ns) = &self.namespace {
            if let Some(p) = crate::argo::names::object_name_problem(ns, false) {
                return Err(format!("--namespace: {p}"));
            }
        }
        if self.image.trim().is_empty() {
            return Err("--image must not be empty".into());
        }
        if self.port == 0 {
            return Err("--port must be a port number (1-65535) in a manifest".into());
        }
        let re = regex::Regex::new(QUANTITY_PATTERN).map_err(|e| e.to_string())?;
        for (flag, q) in [
            ("--cpu-request", &self.requests.cpu),
            ("--memory-request", &self.requests.memory),
            ("--cpu-limit", &self.limits.cpu),
            ("--memory-limit", &self.limits.memory),
        ] {
            if !re.is_match(q) {
                return Err(format!("{flag}: '{q}' is not a Kubernetes quantity (e.g. 500m, 2, 1Gi)"));
            }
        }
        Ok(())
    }
}

fn container_name(o: &Options) -> String {
    format!("{}-executor-plugin", o.name)
}

/// The sidecar container (a Kubernetes Container), keys sorted as Argo marshals them.
pub fn container(o: &Options) -> Value {
    json!({
        "command": ["arcaflow-py", "serve-plugin", "--port", o.port.to_string()],
        "image": o.image,
        "name": container_name(o),
        "ports": [{"containerPort": o.port}],
        "resources": {
            "limits": {"cpu": o.limits.cpu, "memory": o.limits.memory},
            "requests": {"cpu": o.requests.cpu, "memory": o.requests.memory},
        },
        // Not readOnlyRootFilesystem: the sidecar builds venvs into the image's cache directory
        // (plugin.yaml can declare no volumes).
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": true,
            "runAsUser": RUN_AS_USER,
        },
    })
}

fn annotations() -> Value {
    json!({
        "workflows.argoproj.io/description": "Runs Arcaflow python-module steps (templates with plugin.arcaflow, from `arcaflow-py export argo` with mode: plugin) without a pod each, with the same code as the step pods.",
        "workflows.argoproj.io/version": ">= v3.3",
    })
}

fn metadata(o: &Options, name: String, extra: &[(&str, Value)]) -> Value {
    let mut m = Map::new();
    m.insert("annotations".into(), annotations());
    for (k, v) in extra {
        m.insert((*k).into(), v.clone());
    }
    m.insert("name".into(), Value::String(name));
    if let Some(ns) = &o.namespace {
        m.insert("namespace".into(), Value::String(ns.clone()));
    }
    crate::argo::model::sorted(Value::Object(m))
}

/// `plugin.yaml`: the input of `argo executor-plugin build`.
pub fn plugin(o: &Options) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ExecutorPlugin",
        "metadata": metadata(o, o.name.clone(), &[]),
        "spec": {"sidecar": {"automountServiceAccountToken": o.service_account_token, "container": container(o)}},
    })
}

pub fn plugin_yaml(o: &Options) -> String {
    crate::argo::yamlio::to_string(&crate::argo::model::sorted(plugin(o)))
}

/// The ConfigMap `argo executor-plugin build` writes: the sidecar as YAML text in `data`, the
/// annotations copied, the label Argo's controller selects plugins by.
pub fn configmap(o: &Options) -> Value {
    let sidecar = crate::argo::yamlio::to_string(&crate::argo::model::sorted(container(o)));
    json!({
        "apiVersion": "v1",
        "data": {
            "sidecar.automountServiceAccountToken": o.service_account_token.to_string(),
            "sidecar.container": sidecar,
        },
        "kind": "ConfigMap",
        "metadata": metadata(
            o,
            container_name(o),
            &[("creationTimestamp", Value::Null), ("labels", json!({CONFIGMAP_TYPE_LABEL: "ExecutorPlugin"}))],
        ),
    })
}

pub fn configmap_yaml(o: &Options) -> String {
    format!("{GENERATED_HEADER}\n{}", crate::argo::yamlio::to_string(&crate::argo::model::sorted(configmap(o))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_and_quantities_are_refused_before_printing() {
        let mut o = Options::new("img");
        assert_eq!(o.check(), Ok(()));
        o.limits.memory = "lots".into();
        assert!(o.check().unwrap_err().contains("--memory-limit: 'lots'"));
        let mut o = Options::new("img");
        o.name = "Bad_Name".into();
        assert!(o.check().unwrap_err().starts_with("--name"));
    }

    #[test]
    fn the_configmap_carries_the_sidecar_as_text_and_argos_label() {
        let o = Options::new("img");
        let cm = configmap(&o);
        assert_eq!(cm["metadata"]["labels"][CONFIGMAP_TYPE_LABEL], "ExecutorPlugin");
        assert_eq!(cm["metadata"]["name"], "arcaflow-executor-plugin");
        let text = cm["data"]["sidecar.container"].as_str().unwrap();
        let back = crate::yaml::parse_text(text).unwrap().to_json();
        assert_eq!(back, container(&o));
    }
}
