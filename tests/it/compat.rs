//! Workflows written for the reference engine: namespaced references in schemas, step inputs
//! checked at load, and the data of disabled steps (issue 14).

use crate::support::*;

/// A workflow whose input forwards the whole `echo` input: `type: ref` with a step namespace.
fn forwarding_workflow(spec: &str, namespace: &str, id: &str) -> String {
    format!(
        r#"
version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        params:
          type: {{type_id: ref, id: {id}, namespace: {namespace}}}
steps:
  hello:
    plugin: {{deployment_type: python, src: "{spec}"}}
    step: echo
    input: !expr $.input.params
outputs:
  success: {{msg: !expr $.steps.hello.outputs.success.msg, length: !expr $.steps.hello.outputs.success.length}}
"#
    )
}

#[test]
fn a_namespaced_ref_forwards_a_whole_plugin_input() {
    let spec = shared_repo(true).spec();
    let case = Case::new();
    case.workflow(&forwarding_workflow(&spec, "$.steps.hello.starting.inputs.input", "EchoInput"))
        .input("params: {msg: hello, sleep: '0'}");
    let out = case.run();
    out.assert_code(0);
    let y = out.yaml();
    assert_eq!(y["output_data"]["msg"], "hello");
    assert_eq!(y["output_data"]["length"], 5);
}

#[test]
fn an_input_that_breaks_the_borrowed_object_is_an_invalid_input_with_its_path() {
    let spec = shared_repo(true).spec();
    let case = Case::new();
    case.workflow(&forwarding_workflow(&spec, "$.steps.hello.starting.inputs.input", "EchoInput"))
        .input("params: {sleep: 1}");
    let out = case.run();
    out.assert_code(3);
    assert!(out.stderr.contains("params -> msg: This field is required"), "{}", out.stderr);
    assert!(!out.stderr.contains("Namespaced"), "{}", out.stderr);
}

#[test]
fn a_namespace_that_does_not_exist_is_a_workflow_error_naming_the_field_and_the_namespaces() {
    let spec = shared_repo(true).spec();
    let case = Case::new();
    case.workflow(&forwarding_workflow(&spec, "$.steps.hello.starting.inputs.nope", "EchoInput"))
        .input("params: {msg: hello}");
    let out: RunOutput = case.command("validate").output().unwrap().into();
    out.assert_code(1);
    assert!(out.stderr.contains("workflow.yaml"), "{}", out.stderr);
    assert!(out.stderr.contains("input -> objects -> In -> properties -> params -> type"), "{}", out.stderr);
    assert!(out.stderr.contains("the namespace '$.steps.hello.starting.inputs.nope'"), "{}", out.stderr);
    // The namespaces that do exist are listed, with their objects.
    assert!(out.stderr.contains("$.steps.hello.starting.inputs.input: EchoInput"), "{}", out.stderr);
    assert!(out.stderr.contains("$.steps.hello.outputs.outputs.success: EchoOutput"), "{}", out.stderr);
    assert!(!out.stderr.contains("invalid input file"), "{}", out.stderr);
}

#[test]
fn an_object_the_namespace_lacks_is_a_workflow_error() {
    let spec = shared_repo(true).spec();
    let case = Case::new();
    case.workflow(&forwarding_workflow(&spec, "$.steps.hello.starting.inputs.input", "Nope"))
        .input("params: {msg: hello}");
    let out = case.run();
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("the namespace '$.steps.hello.starting.inputs.input' has no object 'Nope' (it has: EchoInput)"),
        "{}",
        out.stderr
    );
}

#[test]
fn output_namespaces_lend_output_objects_and_static_checks_see_them() {
    let spec = shared_repo(true).spec();
    let case = Case::new();
    // An input typed as the plugin's output object, read by an expression: the static check must
    // know its fields (a misspelled one is a load error).
    let wf = format!(
        r#"
version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        previous:
          type: {{type_id: ref, id: EchoOutput, namespace: $.steps.hello.outputs.outputs.success}}
steps:
  hello:
    plugin: {{deployment_type: python, src: "{spec}"}}
    step: echo
    input: {{msg: !expr $.input.previous.FIELD}}
outputs:
  success: {{msg: !expr $.steps.hello.outputs.success.msg}}
"#
    );
    case.workflow(&wf.replace("FIELD", "flavor"))
        .input("previous: {msg: a, length: 1, started: 1.5, ended: 2.5, pid: 7, flavor: sweet}");
    let out = case.run();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["msg"], "sweet");

    case.workflow(&wf.replace("FIELD", "flavour"));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("flavour"), "{}", out.stderr);
}

/// bindConstants over a sub-workflow whose input borrows plugin objects, and a parent input that
/// borrows them again through the foreach namespaces `…execute.inputs.items.item` / `.constant`
/// (the shape of arcaflow-workflows' stressng-pcp example).
#[test]
fn foreach_item_and_constant_namespaces_chain_through_a_sub_workflow() {
    let spec = shared_repo(true).spec();
    let case = Case::new();
    case.file(
        "sub.yaml",
        &format!(
            r#"
version: v0.2.0
input:
  root: Both
  objects:
    Both:
      id: Both
      properties:
        item:
          type: {{type_id: ref, id: EchoInput, namespace: $.steps.first.starting.inputs.input}}
        constant:
          type: {{type_id: ref, id: EchoInput, namespace: $.steps.second.starting.inputs.input}}
steps:
  first:
    plugin: {{deployment_type: python, src: "{spec}"}}
    step: echo
    input: !expr $.input.item
  second:
    plugin: {{deployment_type: python, src: "{spec}"}}
    step: echo
    input: !expr $.input.constant
outputs:
  success:
    item: !expr $.steps.first.outputs.success.msg
    constant: !expr $.steps.second.outputs.success.msg
"#
        ),
    );
    case.workflow(
        r#"
version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        tests:
          type:
            type_id: list
            items: {type_id: ref, id: EchoInput, namespace: $.steps.loop.execute.inputs.items.item}
        common:
          type: {type_id: ref, id: EchoInput, namespace: $.steps.loop.execute.inputs.items.constant}
        whole:
          required: false
          type: {type_id: ref, id: Both, namespace: $.steps.loop.execute.inputs.items}
steps:
  loop:
    kind: foreach
    workflow: sub.yaml
    items: !expr bindConstants($.input.tests, $.input.common)
outputs:
  success: {data: !expr $.steps.loop.outputs.success.data}
"#,
    )
    .input("tests: [{msg: a}, {msg: bb}]\ncommon: {msg: shared}\n");
    let out = case.run();
    out.assert_code(0);
    let y = out.yaml();
    let data = y["output_data"]["data"].as_sequence().unwrap().clone();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["item"], "a");
    assert_eq!(data[1]["item"], "bb");
    assert_eq!(data[1]["constant"], "shared");

    // The item type is the plugin's: a wrong field is caught when the input is read.
    case.input("tests: [{msg: a, colour: red}]\ncommon: {msg: shared}\n");
    let out = case.run();
    out.assert_code(3);
    assert!(out.stderr.contains("Invalid parameter 'colour'"), "{}", out.stderr);
}

/// The `disabled` output carries the reference engine's message: step id and plugin step name
/// for plugin steps, `foreach` and the id for foreach steps.
#[test]
fn disabled_steps_report_the_reference_engines_message() {
    let spec = shared_repo(true).spec();
    let case = Case::new();
    case.file("sub.yaml", &with_spec(&format!("version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: echo\n    input: {{msg: x}}\noutputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n")));
    case.workflow(&format!(
        r#"
version: v0.2.0
{EMPTY_INPUT}
steps:
  a:
    plugin: {{deployment_type: python, src: "{spec}"}}
    step: echo
    input: {{msg: never}}
    enabled: !expr 1 == 2
  loop:
    kind: foreach
    workflow: sub.yaml
    items: [{{}}]
    enabled: !expr 1 == 2
outputs:
  success:
    a: !expr $.steps.a.disabled.output.message
    loop: !expr $.steps.loop.disabled.output.message
"#
    ));
    let out = case.run();
    out.assert_code(0);
    let y = out.yaml();
    assert_eq!(y["output_data"]["a"], "Step a/echo disabled");
    assert_eq!(y["output_data"]["loop"], "Step foreach loop disabled");
}

/// Two steps: `first` appends to a count file when it runs, `second` gets `SECOND` as input.
fn two_steps(second_input: &str, count_file: &std::path::Path) -> String {
    with_spec(&format!(
        r#"
version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        s: {{type: {{type_id: string}}, required: false}}
steps:
  first:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: one, count_file: "{}"}}
  second:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {second_input}
outputs:
  success: {{a: !expr $.steps.first.outputs.success.msg, b: !expr $.steps.second.outputs.success.msg}}
"#,
        count_file.display()
    ))
}

#[test]
fn a_literal_step_input_that_breaks_the_schema_is_an_invalid_workflow_before_anything_starts() {
    let case = Case::new();
    let count = case.path("count");
    case.workflow(&two_steps("{msg: two, sleep: soon}", &count));
    for command in ["validate", "run"] {
        let out: RunOutput = case.command(command).output().unwrap().into();
        out.assert_code(1);
        assert!(out.stderr.contains("workflow.yaml"), "{}", out.stderr);
        assert!(
            out.stderr.contains("steps -> second -> input -> sleep: Cannot parse 'soon' as a float"),
            "{}",
            out.stderr
        );
        assert!(!count.exists(), "a plugin step ran");
    }
    // Unknown fields and missing required ones are literal errors too.
    case.workflow(&two_steps("{sleep: 1}", &count));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("steps -> second -> input -> msg: This field is required"), "{}", out.stderr);
    case.workflow(&two_steps("{msg: two, colour: red}", &count));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("steps -> second -> input: Invalid parameter 'colour'"), "{}", out.stderr);
    assert!(!count.exists(), "a plugin step ran");
}

#[test]
fn a_step_input_from_the_workflow_input_is_checked_before_anything_starts() {
    let case = Case::new();
    let count = case.path("count");
    case.workflow(&two_steps("{msg: two, sleep: !expr $.input.s}", &count)).input("s: soon");
    for command in ["validate", "run"] {
        let out: RunOutput = case.command(command).output().unwrap().into();
        out.assert_code(3);
        assert!(out.stderr.contains("input.yaml"), "{}", out.stderr);
        assert!(
            out.stderr.contains("steps -> second -> input -> sleep: Cannot parse 'soon' as a float"),
            "{}",
            out.stderr
        );
        assert!(!count.exists(), "a plugin step ran");
    }
    case.input("s: '0.01'");
    case.run().assert_code(0);
    assert!(count.exists());
}

#[test]
fn parts_that_depend_on_step_outputs_are_left_to_the_run() {
    let case = Case::new();
    let count = case.path("count");
    // `msg` is required and comes from a step; the literal around it is checked and fine.
    case.workflow(&two_steps("{msg: !expr $.steps.first.outputs.success.msg, sleep: 0}", &count));
    let out = case.run();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["b"], "one");
}

#[test]
fn literal_foreach_items_are_checked_against_the_sub_workflow_input() {
    let case = Case::new();
    case.file(
        "sub.yaml",
        &with_spec(
            r#"
version: v0.2.0
input: {root: I, objects: {I: {id: I, properties: {n: {type: {type_id: integer}}}}}}
steps:
  e:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: !expr $.input.n}
outputs:
  success: {m: !expr $.steps.e.outputs.success.msg}
"#,
        ),
    );
    case.workflow(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  loop:\n    kind: foreach\n    workflow: sub.yaml\n    items: [{{n: 1}}, {{n: x}}]\noutputs:\n  success: {{d: !expr $.steps.loop.outputs.success.data}}\n"
    ));
    let out = case.run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("steps -> loop -> items -> [1] -> n: Cannot parse 'x' as an integer"),
        "{}",
        out.stderr
    );
}

/// An expression whose static type can never pass the field's validation is an invalid workflow
/// at load, also when its value comes from a step output; scalars that convert are accepted.
#[test]
fn an_expression_of_a_type_the_field_can_never_take_is_an_invalid_workflow() {
    let case = Case::new();
    let count = case.path("count");
    let body = |second: &str| two_steps(second, &count);
    case.workflow(&body("{msg: !expr $.steps.first.outputs.success}"));
    let out: RunOutput = case.command("validate").output().unwrap().into();
    out.assert_code(1);
    assert!(
        out.stderr.contains(
            "steps -> second -> input -> msg: $.steps.first.outputs.success is object EchoOutput, which can never be a string"
        ),
        "{}",
        out.stderr
    );
    case.workflow(&body("{msg: x, sleep: !expr $.steps.first.outputs.success}"));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("steps -> second -> input -> sleep:"), "{}", out.stderr);
    assert!(!count.exists(), "a plugin step ran");
    // An integer for a string field converts; a string for a float may be numeric text.
    case.workflow(&body(
        "{msg: !expr $.steps.first.outputs.success.length, sleep: !expr $.steps.first.outputs.success.msg}",
    ));
    let out: RunOutput = case.command("validate").output().unwrap().into();
    out.assert_code(0);
}

/// `outputSchema` may borrow step objects too (an arcaflow-py extension: the reference resolves
/// namespaces only in `input`).
#[test]
fn output_schemas_may_borrow_step_objects() {
    let spec = shared_repo(true).spec();
    let case = Case::new();
    let wf = |namespace: &str| {
        format!(
            r#"
version: v0.2.0
{EMPTY_INPUT}
steps:
  hello:
    plugin: {{deployment_type: python, src: "{spec}"}}
    step: echo
    input: {{msg: hi}}
outputs:
  success: {{r: !expr $.steps.hello.outputs.success}}
outputSchema:
  success:
    schema:
      root: Out
      objects:
        Out:
          id: Out
          properties:
            r: {{type: {{type_id: ref, id: EchoOutput, namespace: {namespace}}}}}
"#
        )
    };
    case.workflow(&wf("$.steps.hello.outputs.outputs.success"));
    let out = case.run();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["r"]["msg"], "hi");
    case.workflow(&wf("$.steps.hello.outputs.outputs.nope"));
    let out = case.run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("outputSchema -> success -> schema -> objects -> Out -> properties -> r -> type"),
        "{}",
        out.stderr
    );
}
