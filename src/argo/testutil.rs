//! Owns helpers for the Argo unit tests: exporting a workflow text without deploying plugins.

use std::collections::BTreeMap;

use super::export::{self, ArgoVersion, Kind, Options};
use super::overlay::Overlay;
use crate::value::Value;
use crate::workflow::Workflow;

pub(super) const PINNED: &str =
    "arcaflow-plugin-testkit@git+file:///plugins/testkit@0123456789abcdef0123456789abcdef01234567";

pub(super) fn options() -> Options {
    Options {
        image: "img:1".into(),
        kind: Kind::Workflow,
        name: None,
        generate_name: None,
        namespace: None,
        overlay: Overlay::default(),
        argo_version: ArgoVersion::default(),
        secret_inputs: Vec::new(),
        inline_max: export::DEFAULT_INLINE_MAX,
    }
}

/// Exports `workflow` (plugin src `p` everywhere, pinned to [`PINNED`]); extra files go beside it.
pub(super) fn export_text(workflow: &str, files: &[(&str, &str)], opts: &Options) -> Result<export::Exported, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("workflow.yaml"), workflow).map_err(|e| e.to_string())?;
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).map_err(|e| e.to_string())?;
    }
    let wf = Workflow::load(&dir.path().join("workflow.yaml"), dir.path()).map_err(|e| e.to_string())?;
    let pins: BTreeMap<String, Result<String, String>> =
        [("p".to_string(), Ok(PINNED.to_string()))].into_iter().collect();
    let src = export::Source {
        workflow: &wf,
        context: dir.path(),
        config_text: String::new(),
        pins,
        config_step_timeout: None,
        input: Value::Map(Default::default()),
    };
    export::export(&src, opts)
}

/// A diamond: a → (b, c) → d, with an error-output edge and an optional read.
pub(super) const DIAMOND: &str = r#"
version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  a:
    plugin: {deployment_type: python, src: p}
    step: echo
    input: {msg: a}
  b_step:
    plugin: {deployment_type: python, src: p}
    step: echo
    input: {msg: !expr $.steps.a.outputs.success.msg}
  c:
    plugin: {deployment_type: python, src: p}
    step: echo
    input: {msg: !expr $.steps.a.outputs.error.error}
  d:
    plugin: {deployment_type: python, src: p}
    step: echo
    timeout: 30
    input:
      msg: !expr $.steps.b_step.outputs.success.msg
      extra: !wait-optional $.steps.c.outputs.success.msg
outputs:
  success: {d: !expr $.steps.d.outputs.success.msg}
"#;

pub(super) fn diamond_json() -> serde_json::Value {
    match export_text(DIAMOND, &[], &options()).and_then(|e| e.manifest.to_json_value()) {
        Ok(v) => v,
        Err(e) => panic!("the diamond does not export: {e}"),
    }
}
