//! Mutants of an exported manifest, each of which Argo's validator rejects (research §2), and
//! the exported manifest itself, which must pass.

use super::*;
use crate::argo::testutil::diamond_json;
use serde_json::json;

fn findings(doc: &Value) -> Vec<String> {
    lint(doc, &Options::default()).iter().map(|f| f.to_string()).collect()
}

#[track_caller]
fn assert_finds(doc: &Value, needle: &str) {
    let f = findings(doc);
    assert!(f.iter().any(|x| x.contains(needle)), "no finding contains '{needle}': {f:#?}");
}

/// The index of the DAG task named `name` in the main template.
fn task<'a>(doc: &'a mut Value, name: &str) -> &'a mut Value {
    let tasks = doc.pointer_mut("/spec/templates/0/dag/tasks").and_then(Value::as_array_mut).unwrap();
    tasks.iter_mut().find(|t| t["name"] == name).unwrap()
}

fn step_template(doc: &mut Value) -> &mut Value {
    doc.pointer_mut("/spec/templates/1").unwrap()
}

#[test]
fn the_exported_manifest_passes() {
    assert_eq!(findings(&diamond_json()), Vec::<String>::new());
}

#[test]
fn misspelled_keys_fail_the_strict_schema() {
    let mut d = diamond_json();
    task(&mut d, "d")["dependz"] = json!("a");
    assert_finds(&d, "dependz");
    let mut d = diamond_json();
    step_template(&mut d)["retryStrategyy"] = json!({});
    assert_finds(&d, "retryStrategyy");
    let mut d = diamond_json();
    d["api_version"] = json!("x");
    assert_finds(&d, "api_version");
}

#[test]
fn wrong_kind_is_refused() {
    let mut d = diamond_json();
    d["kind"] = json!("Workflows");
    assert_finds(&d, "'Workflows' is not a kind");
}

#[test]
fn deadlines_must_be_seconds() {
    let mut d = diamond_json();
    step_template(&mut d)["activeDeadlineSeconds"] = json!("ten minutes");
    assert_finds(&d, "is not a number of seconds");
    let mut d = diamond_json();
    step_template(&mut d)["activeDeadlineSeconds"] = json!(600);
    assert_eq!(findings(&d), Vec::<String>::new(), "an integer is valid IntOrString");
}

#[test]
fn timeouts_must_be_durations() {
    let mut d = diamond_json();
    step_template(&mut d)["timeout"] = json!("10 minutes");
    assert_finds(&d, "is not a duration");
    let mut d = diamond_json();
    step_template(&mut d)["timeout"] = json!("600");
    assert_finds(&d, "is not a duration");
    let mut d = diamond_json();
    step_template(&mut d)["timeout"] = json!("1h30m");
    assert_eq!(findings(&d), Vec::<String>::new());
}

#[test]
fn missing_templates_are_found() {
    let mut d = diamond_json();
    task(&mut d, "d")["template"] = json!("nope");
    assert_finds(&d, "uses template 'nope', which is not defined");
    let mut d = diamond_json();
    d["spec"]["entrypoint"] = json!("nowhere");
    assert_finds(&d, "template 'nowhere' is not defined");
}

#[test]
fn a_missing_entrypoint_is_found() {
    let mut d = diamond_json();
    d["spec"].as_object_mut().unwrap().remove("entrypoint");
    assert_finds(&d, "spec.entrypoint is required");
}

#[test]
fn depends_syntax_and_unknown_tasks_are_found() {
    let mut d = diamond_json();
    task(&mut d, "d")["depends"] = json!("a.Succeeded &&");
    assert_finds(&d, "invalid depends 'a.Succeeded &&'");
    let mut d = diamond_json();
    task(&mut d, "d")["depends"] = json!("a.Finished");
    assert_finds(&d, "'Finished' in 'a.Finished' is not a task result");
    let mut d = diamond_json();
    task(&mut d, "d")["depends"] = json!("ghost.Succeeded");
    assert_finds(&d, "depends on 'ghost', which is not a task");
}

#[test]
fn cycles_are_found() {
    let mut d = diamond_json();
    task(&mut d, "a")["depends"] = json!("d.Succeeded");
    assert_finds(&d, "dependency cycle");
}

#[test]
fn unknown_parameter_references_are_found() {
    let mut d = diamond_json();
    task(&mut d, "d")["when"] = json!("'{{tasks.a.outputs.parameters.nope}}' == 'x'");
    assert_finds(&d, "failed to resolve {{tasks.a.outputs.parameters.nope}}");
    let mut d = diamond_json();
    step_template(&mut d)["script"]["source"] = json!("{{inputs.parameters.nope}}");
    assert_finds(&d, "the template has no input parameter 'nope'");
    let mut d = diamond_json();
    step_template(&mut d)["inputs"]["artifacts"][0]["raw"]["data"] = json!("{{workflow.parameters.nope}}");
    assert_finds(&d, "the workflow has no parameter 'nope'");
}

#[test]
fn name_rules_are_applied() {
    let mut d = diamond_json();
    task(&mut d, "d")["name"] = json!("count_name");
    assert_finds(&d, "'count_name' is invalid");
    let mut d = diamond_json();
    step_template(&mut d)["name"] = json!("Step_Count_Name");
    assert_finds(&d, "'Step_Count_Name' is invalid");
    let mut d = diamond_json();
    task(&mut d, "d")["name"] = json!("9d");
    assert_finds(&d, "cannot begin with a digit");
    let mut d = diamond_json();
    d["metadata"]["generateName"] = json!("My_Flow-");
    assert_finds(&d, "not a valid Kubernetes object name");
}

#[test]
fn duplicates_are_found() {
    let mut d = diamond_json();
    task(&mut d, "d")["name"] = json!("a");
    assert_finds(&d, "task name 'a' is not unique");
    let mut d = diamond_json();
    let first = d["spec"]["templates"][1]["name"].clone();
    d["spec"]["templates"][2]["name"] = first;
    assert_finds(&d, "is not unique");
}

#[test]
fn retry_policies_are_checked() {
    let mut d = diamond_json();
    step_template(&mut d)["retryStrategy"]["retryPolicy"] = json!("Sometimes");
    assert_finds(&d, "'Sometimes' is not one of");
}

#[test]
fn required_arguments_are_checked() {
    let mut d = diamond_json();
    task(&mut d, "d")["arguments"]["parameters"].as_array_mut().unwrap().retain(|p| p["name"] != "upstream");
    assert_finds(&d, "input parameter 'upstream' of its template is not supplied");
}

#[test]
fn template_types_are_exclusive() {
    let mut d = diamond_json();
    step_template(&mut d)["container"] = json!({"image": "x"});
    assert_finds(&d, "has more than one type (container, script)");
    let mut d = diamond_json();
    task(&mut d, "d")["withItems"] = json!(["x"]);
    task(&mut d, "d")["withParam"] = json!("[]");
    assert_finds(&d, "only one of withItems, withParam and withSequence");
}

#[test]
fn scripts_need_an_image_and_a_source() {
    let mut d = diamond_json();
    step_template(&mut d)["script"].as_object_mut().unwrap().remove("source");
    assert_finds(&d, "a script template needs a source");
    let mut d = diamond_json();
    step_template(&mut d)["script"]["image"] = json!("");
    assert_finds(&d, "a script template needs an image");
}

#[test]
fn undeclared_volumes_are_found() {
    let mut d = diamond_json();
    step_template(&mut d)["script"]["volumeMounts"] = json!([{"name": "cache", "mountPath": "/c"}]);
    assert_finds(&d, "volume 'cache' is not declared");
    d["spec"]["volumes"] = json!([{"name": "cache", "emptyDir": {}}]);
    assert_eq!(findings(&d), Vec::<String>::new());
}

#[test]
fn output_parameters_need_exactly_one_source() {
    let mut d = diamond_json();
    step_template(&mut d)["outputs"]["parameters"][0]["value"] = json!("x");
    assert_finds(&d, "has both value and valueFrom");
}

#[test]
fn size_budgets_depend_on_the_argo_version() {
    let mut d = diamond_json();
    let big = "x".repeat(200 * 1024);
    d["spec"]["arguments"]["parameters"][0]["value"] = json!(big);
    let old = lint(&d, &Options { argo_version: ArgoVersion(3, 5) });
    assert!(old.iter().any(|f| f.message.contains("one environment variable before Argo 3.6")), "{old:?}");
    assert_eq!(lint(&d, &Options { argo_version: ArgoVersion(3, 6) }), vec![]);
    d["spec"]["arguments"]["parameters"][0]["value"] = json!("x".repeat(1000 * 1024));
    assert!(findings(&d).iter().any(|f| f.contains("budget for an object kept in etcd")));
}

#[test]
fn all_input_parameters_need_a_template_with_inputs() {
    let mut d = diamond_json();
    step_template(&mut d)["inputs"].as_object_mut().unwrap().remove("parameters");
    assert_finds(&d, "failed to resolve {{inputs.parameters}}: the template has no input parameters");
}

/// A step as an executor plugin template: `{{node.name}}` resolves in any template, `{{retries}}`
/// only in one that retries.
#[test]
fn plugin_templates_resolve_node_name_and_retries_only_with_a_retry_strategy() {
    let mut d = diamond_json();
    let t = step_template(&mut d);
    let obj = t.as_object_mut().unwrap();
    obj.remove("script");
    obj.remove("activeDeadlineSeconds");
    obj.insert(
        "plugin".into(),
        json!({"arcaflow": {"step": "{{inputs.parameters.step}}", "node": "{{node.name}}", "attempt": "{{retries}}"}}),
    );
    assert_eq!(findings(&d), Vec::<String>::new());
    step_template(&mut d).as_object_mut().unwrap().remove("retryStrategy");
    assert_finds(&d, "failed to resolve {{retries}}: the template has no retryStrategy");
}
