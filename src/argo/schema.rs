//! Owns the strict form of Argo's published JSON schema (research §2): the schema as published
//! (`workflow-schema.json`, unchanged, from argoproj/argo-workflows at f016ad89), made strict at
//! load time: `additionalProperties: false` on every object schema that lists its properties,
//! IntOrString as integer|string and Quantity as string|number with Kubernetes' pattern.

use std::sync::OnceLock;

use serde_json::{json, Value};

use super::overlay::QUANTITY_PATTERN;

const PUBLISHED: &str = include_str!("workflow-schema.json");
const WORKFLOW: &str = "io.argoproj.workflow.v1alpha1.Workflow";
const WORKFLOW_TEMPLATE: &str = "io.argoproj.workflow.v1alpha1.WorkflowTemplate";

/// One schema violation: where (a JSON pointer into the manifest) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub message: String,
}

/// The published schema's definitions with the strict transform applied.
pub fn strict_definitions() -> Result<Value, String> {
    let mut published: Value =
        serde_json::from_str(PUBLISHED).map_err(|e| format!("the embedded Argo schema is not JSON: {e}"))?;
    let defs = published
        .get_mut("definitions")
        .and_then(Value::as_object_mut)
        .ok_or("the embedded Argo schema has no definitions")?;
    let mut count = 0;
    for def in defs.values_mut() {
        close_objects(def, &mut count);
    }
    defs.insert("io.k8s.apimachinery.pkg.util.intstr.IntOrString".into(), json!({"type": ["integer", "string"]}));
    defs.insert(
        "io.k8s.apimachinery.pkg.api.resource.Quantity".into(),
        json!({"type": ["string", "number"], "pattern": QUANTITY_PATTERN}),
    );
    Ok(Value::Object(defs.clone()))
}

/// Adds `additionalProperties: false` to every object schema that lists `properties`, walking
/// only schema positions (a `properties` map's keys are property names, not schemas).
fn close_objects(schema: &mut Value, count: &mut usize) {
    let Some(obj) = schema.as_object_mut() else { return };
    if obj.get("properties").is_some_and(Value::is_object) && !obj.contains_key("additionalProperties") {
        obj.insert("additionalProperties".into(), Value::Bool(false));
        *count += 1;
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for p in props.values_mut() {
            close_objects(p, count);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(s) = obj.get_mut(key) {
            close_objects(s, count);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = obj.get_mut(key).and_then(Value::as_array_mut) {
            list.iter_mut().for_each(|s| close_objects(s, count));
        }
    }
}

struct Validators {
    workflow: jsonschema::Validator,
    template: jsonschema::Validator,
}

fn validators() -> Result<&'static Validators, String> {
    static CELL: OnceLock<Result<Validators, String>> = OnceLock::new();
    CELL.get_or_init(|| {
        let defs = strict_definitions()?;
        let build = |root: &str| {
            let schema = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$ref": format!("#/definitions/{root}"),
                "definitions": defs.clone(),
            });
            jsonschema::validator_for(&schema).map_err(|e| format!("cannot compile the strict Argo schema: {e}"))
        };
        Ok(Validators { workflow: build(WORKFLOW)?, template: build(WORKFLOW_TEMPLATE)? })
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Validates a Workflow or WorkflowTemplate document against the strict schema.
pub fn validate(doc: &Value) -> Result<Vec<Violation>, String> {
    let v = validators()?;
    let validator = match doc.get("kind").and_then(Value::as_str) {
        Some("WorkflowTemplate") => &v.template,
        _ => &v.workflow,
    };
    let mut out: Vec<Violation> = validator
        .iter_errors(doc)
        .map(|e| Violation { path: e.instance_path().to_string(), message: e.to_string() })
        .collect();
    out.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    out.dedup();
    Ok(out)
}

/// Validates `doc` against one definition of the strict schema, e.g.
/// `io.argoproj.workflow.v1alpha1.ExecutorPluginSpec` or `io.k8s.api.core.v1.Container`.
pub fn validate_as(definition: &str, doc: &Value) -> Result<Vec<Violation>, String> {
    let defs = strict_definitions()?;
    if defs.get(definition).is_none() {
        return Err(format!("the Argo schema has no definition '{definition}'"));
    }
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/definitions/{definition}"),
        "definitions": defs,
    });
    let validator =
        jsonschema::validator_for(&schema).map_err(|e| format!("cannot compile the strict Argo schema: {e}"))?;
    Ok(validator
        .iter_errors(doc)
        .map(|e| Violation { path: e.instance_path().to_string(), message: e.to_string() })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(extra: &str) -> Value {
        let text = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{generateName: x-}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    activeDeadlineSeconds: 600\n    script:\n      image: img\n      command: [sh]\n      source: echo\n      resources: {{requests: {{cpu: 1, memory: 1Gi}}}}\n{extra}"
        );
        crate::argo::yamlio::from_str(&text).unwrap()
    }

    #[test]
    fn integers_in_int_or_string_and_quantities_are_accepted() {
        assert_eq!(validate(&manifest("")).unwrap(), vec![]);
    }

    #[test]
    fn misspelled_keys_and_bad_quantities_are_caught() {
        let v = validate(&manifest("    retryStrategyy: {limit: 2}\n")).unwrap();
        assert!(v.iter().any(|v| v.message.contains("retryStrategyy")), "{v:?}");
        let mut bad = manifest("");
        bad["spec"]["templates"][0]["script"]["resources"]["requests"]["cpu"] = json!("lots");
        let v = validate(&bad).unwrap();
        assert!(v.iter().any(|v| v.path.contains("cpu")), "{v:?}");
    }

    /// The strict form accepts every Workflow among Argo's own examples (copied unchanged into
    /// tests/fixtures/argo/examples), so it rejects nothing valid that Argo itself shows.
    #[test]
    fn strict_schema_accepts_all_of_argos_example_workflows() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/argo/examples");
        let mut checked = 0;
        let mut failures = Vec::new();
        let mut unreadable = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            // The files our reader refuses are listed so the set cannot grow unseen.
            let Ok(docs) = crate::argo::yamlio::documents(&text) else {
                unreadable.push(f.file_name().unwrap().to_string_lossy().into_owned());
                continue;
            };
            for mut doc in docs {
                yaml11_octal_modes(&mut doc);
                if doc.get("kind").and_then(Value::as_str) != Some("Workflow") {
                    continue;
                }
                checked += 1;
                let v = validate(&doc).unwrap();
                if !v.is_empty() {
                    failures.push(format!("{}: {:?}", f.display(), v));
                }
            }
        }
        // A duplicate `annotations` key: Go's YAML readers refuse it too.
        let known = ["k8s-patch-json-workflow.yaml"];
        assert_eq!(unreadable, known.map(String::from).to_vec());
        assert!(checked >= 165, "only {checked} example workflows found");
        assert!(failures.is_empty(), "{} rejected:\n{}", failures.len(), failures.join("\n"));
    }

    /// Kubernetes reads YAML 1.1, where an unquoted `mode: 0755` is an octal integer; serde_yaml
    /// (YAML 1.2) keeps it a string. Two examples use it; read them as Kubernetes does.
    fn yaml11_octal_modes(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if let (true, Some(s)) = (k == "mode", x.as_str()) {
                        if let Ok(n) = i64::from_str_radix(s, 8) {
                            *x = json!(n);
                            continue;
                        }
                    }
                    yaml11_octal_modes(x);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(yaml11_octal_modes),
            _ => {}
        }
    }

    #[test]
    fn the_transform_closes_hundreds_of_object_schemas() {
        let mut published: Value = serde_json::from_str(PUBLISHED).unwrap();
        let mut count = 0;
        for def in published["definitions"].as_object_mut().unwrap().values_mut() {
            close_objects(def, &mut count);
        }
        assert!(count >= 400, "{count}");
    }
}
