//! Hostile YAML and input (issue 13 item 14): alias fan-outs, deep nesting and huge files are
//! refused quickly with a message naming the file and the limit, never expanded into memory.

use crate::support::{echo_workflow, shared_repo, with_spec, Case, EMPTY_INPUT};

/// ~44 KB of aliases to aliases: fully expanded it would be 900^10 nodes.
fn alias_fan_out() -> String {
    let mut text = String::from("l0: &l0 [");
    text.push_str(&vec!["lol"; 900].join(", "));
    text.push_str("]\n");
    for i in 1..10 {
        let refs = vec![format!("*l{}", i - 1); 900].join(", ");
        text.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    text.push_str(&format!("sleep: 0\nbomb: {}\n", "*l9"));
    text
}

#[test]
fn an_alias_fan_out_input_is_refused_with_the_alias_limit() {
    let case = Case::new();
    let bomb = alias_fan_out();
    assert!(bomb.len() > 30_000 && bomb.len() < 60_000, "{} bytes", bomb.len());
    case.workflow(&echo_workflow(&shared_repo(true).spec())).input(&bomb);
    let out = case.run();
    out.assert_code(3);
    assert!(out.stderr.contains("input.yaml"), "{}", out.stderr);
    assert!(out.stderr.contains("limits.maxAliasNodes"), "{}", out.stderr);
}

#[test]
fn an_alias_fan_out_workflow_is_refused_by_validate() {
    let case = Case::new();
    case.workflow(&format!("{}version: v0.2.0\n", alias_fan_out()));
    let out: crate::support::RunOutput = case.command("validate").output().unwrap().into();
    out.assert_code(1);
    assert!(out.stderr.contains("workflow.yaml") && out.stderr.contains("limits.maxAliasNodes"), "{}", out.stderr);
}

#[test]
fn deeply_nested_brackets_are_refused_with_the_depth_limit() {
    let case = Case::new();
    case.workflow(&"[".repeat(200 * 1024));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("workflow.yaml"), "{}", out.stderr);
    assert!(out.stderr.contains("nested more than") && out.stderr.contains("limits.maxDepth"), "{}", out.stderr);

    // The same in an input file is an invalid input (exit 3).
    let case = Case::new();
    case.workflow(&echo_workflow(&shared_repo(true).spec())).input(&format!("sleep: {}", "[".repeat(200 * 1024)));
    let out = case.run();
    out.assert_code(3);
    assert!(out.stderr.contains("input.yaml") && out.stderr.contains("limits.maxDepth"), "{}", out.stderr);
}

#[test]
fn a_huge_input_list_is_refused_by_size_and_by_node_count() {
    let mut list = String::from("sleep: 0\nitems:\n");
    for i in 0..300_000 {
        list.push_str(&format!("- {i}\n"));
    }
    let case = Case::new();
    case.workflow(&echo_workflow(&shared_repo(true).spec())).input(&list).config("limits: {maxFileBytes: 1000000}\n");
    let out = case.run();
    out.assert_code(3);
    assert!(out.stderr.contains("input.yaml"), "{}", out.stderr);
    assert!(out.stderr.contains("larger than the limit of 1000000 bytes (limits.maxFileBytes"), "{}", out.stderr);

    let case = Case::new();
    case.workflow(&echo_workflow(&shared_repo(true).spec())).input(&list).config("limits: {maxNodes: 100000}\n");
    let out = case.run();
    out.assert_code(3);
    assert!(out.stderr.contains("more than 100000 nodes") && out.stderr.contains("limits.maxNodes"), "{}", out.stderr);
}

#[test]
fn read_file_is_bounded_too() {
    let case = Case::new();
    case.file("big.txt", &"x".repeat(20_000));
    case.config("limits: {maxFileBytes: 10000}\n");
    case.workflow(&with_spec(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: echo\n    input: {{msg: !expr 'readFile(\"big.txt\")'}}\noutputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n"
    )));
    let out = case.run();
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("big.txt") && out.stderr.contains("limits.maxFileBytes"), "{}", out.stderr);
}

#[test]
fn a_config_limit_of_zero_is_refused() {
    let case = Case::new();
    case.workflow(&echo_workflow(&shared_repo(true).spec())).config("limits: {maxDepth: 0}\n");
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("config.yaml") && out.stderr.contains("maxDepth"), "{}", out.stderr);
}
