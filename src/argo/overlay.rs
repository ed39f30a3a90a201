//! Owns the export overlay file: per-step Kubernetes settings (resources, nodeSelector,
//! tolerations, serviceAccountName) and fusing, kept out of the workflow file itself.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::model::{Resources, Toleration};
use crate::error::{Error, Result};

/// The Kubernetes quantity syntax (resource.Quantity), as the strict schema checks it.
pub const QUANTITY_PATTERN: &str = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Overlay {
    /// Settings for every step (a step's own entry wins, key by key).
    #[serde(default)]
    pub defaults: StepOverlay,
    /// Settings by step id.
    #[serde(default)]
    pub steps: BTreeMap<String, StepOverlay>,
    /// `all`: run the whole workflow in one pod (as `arcaflow-py run` does).
    #[serde(default)]
    pub fuse: Option<Fuse>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fuse {
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Pod,
    Plugin,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StepOverlay {
    /// `pod` (the default): the step runs in a pod of its own; `plugin`: it runs in the
    /// `arcaflow-py serve-plugin` executor plugin, without a pod.
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub resources: Option<RawResources>,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    #[serde(default)]
    pub service_account_name: Option<String>,
}

/// Quantities as written: numbers (`cpu: 1`) or strings (`memory: 512Mi`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResources {
    #[serde(default)]
    pub limits: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub requests: BTreeMap<String, serde_json::Value>,
}

impl Overlay {
    pub fn load(path: &Path) -> Result<Overlay> {
        let err = |message: String| Error::Input { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read the overlay: {e}")))?;
        if text.trim().is_empty() {
            return Ok(Overlay::default());
        }
        crate::argo::yamlio::from_str(&text).map_err(|e| err(format!("invalid overlay: {e}")))
    }

    /// Whether step `id` runs in the executor plugin.
    pub fn plugin_mode(&self, id: &str) -> bool {
        self.for_step(id).mode == Some(Mode::Plugin)
    }

    /// The settings for one step: its own entry over the defaults.
    pub fn for_step(&self, id: &str) -> StepOverlay {
        let mut out = self.defaults.clone();
        if let Some(own) = self.steps.get(id) {
            if own.mode.is_some() {
                out.mode = own.mode;
            }
            if own.resources.is_some() {
                out.resources = own.resources.clone();
            }
            out.node_selector.extend(own.node_selector.clone());
            if !own.tolerations.is_empty() {
                out.tolerations = own.tolerations.clone();
            }
            if own.service_account_name.is_some() {
                out.service_account_name = own.service_account_name.clone();
            }
        }
        out
    }
}

impl RawResources {
    /// Every quantity as a string (IntOrString/Quantity values are always emitted as strings).
    pub fn to_model(&self, at: &str) -> std::result::Result<Resources, String> {
        let re = regex::Regex::new(QUANTITY_PATTERN).map_err(|e| e.to_string())?;
        let convert = |m: &BTreeMap<String, serde_json::Value>, kind: &str| {
            m.iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Number(n) => n.to_string(),
                        other => return Err(format!("{at} -> resources -> {kind} -> {k}: not a quantity: {other:?}")),
                    };
                    if !re.is_match(&text) {
                        return Err(format!("{at} -> resources -> {kind} -> {k}: '{text}' is not a Kubernetes quantity (e.g. 500m, 2, 1Gi)"));
                    }
                    Ok((k.clone(), text))
                })
                .collect::<std::result::Result<BTreeMap<_, _>, String>>()
        };
        Ok(Resources { limits: convert(&self.limits, "limits")?, requests: convert(&self.requests, "requests")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_string_quantities_and_bad_ones_are_refused() {
        let o: Overlay =
            crate::argo::yamlio::from_str("steps: {a: {resources: {requests: {cpu: 1, memory: 1Gi}}}}").unwrap();
        let r = o.for_step("a").resources.unwrap().to_model("a").unwrap();
        assert_eq!(r.requests["cpu"], "1");
        let bad: Overlay = crate::argo::yamlio::from_str("defaults: {resources: {limits: {cpu: lots}}}").unwrap();
        assert!(bad.for_step("x").resources.unwrap().to_model("x").unwrap_err().contains("'lots'"));
    }

    #[test]
    fn mode_is_per_step_over_the_default_and_unknown_modes_are_refused() {
        let o: Overlay =
            crate::argo::yamlio::from_str("defaults: {mode: plugin}\nsteps: {heavy: {mode: pod}}").unwrap();
        assert!(o.plugin_mode("light") && !o.plugin_mode("heavy"));
        assert!(!Overlay::default().plugin_mode("x"));
        assert!(crate::argo::yamlio::from_str::<Overlay>("steps: {a: {mode: sidecar}}").is_err());
    }

    #[test]
    fn unknown_overlay_keys_are_refused() {
        assert!(crate::argo::yamlio::from_str::<Overlay>("steps: {a: {nodeSelektor: {}}}").is_err());
    }
}
