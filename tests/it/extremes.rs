//! Numeric extremes and damaged cache files (issue 13, item 5): a validation error naming the
//! field, or the damaged value ignored; never a panic (exit 101).

use std::fs;
use std::process::Command;

use crate::support::*;

fn echo_with(step_extra: &str, top_extra: &str) -> String {
    with_spec(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\n{top_extra}steps:\n  e:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: echo\n    input: {{msg: hi}}\n{step_extra}outputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n"
    ))
}

#[test]
fn out_of_range_timeouts_in_the_workflow_are_errors_naming_the_field() {
    for (step_extra, top_extra, field) in [
        ("    timeout: 1e20\n", "", "steps -> e -> timeout"),
        ("    timeout: 9.3e18\n", "", "steps -> e -> timeout"),
        ("    timeout: .inf\n", "", "steps -> e -> timeout"),
        ("", "maxStepTimeout: 1e20\n", "maxStepTimeout"),
    ] {
        let case = Case::new();
        case.workflow(&echo_with(step_extra, top_extra));
        for verb in ["validate", "run"] {
            let out: RunOutput = case.command(verb).output().unwrap().into();
            assert_eq!(out.code, 1, "{verb} {step_extra}{top_extra}: {}", out.stderr);
            assert!(out.stderr.contains(field) && out.stderr.contains("seconds"), "{field}: {}", out.stderr);
        }
    }
}

#[test]
fn out_of_range_timeouts_in_the_config_are_errors_naming_the_field() {
    for (config, field) in [
        ("maxStepTimeout: 1e20\n", "maxStepTimeout"),
        ("deployers:\n  python:\n    deployer_name: python\n    pluginStartupTimeout: 1e20\n", "pluginStartupTimeout"),
    ] {
        let case = Case::new();
        case.workflow(&echo_with("", "")).config(config);
        let out = case.run();
        assert_eq!(out.code, 1, "{field}: {}", out.stderr);
        assert!(out.stderr.contains("config.yaml") && out.stderr.contains(field), "{field}: {}", out.stderr);
    }
}

#[test]
fn plugin_run_with_an_out_of_range_timeout_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.yaml");
    fs::write(&input, "msg: hi\n").unwrap();
    let out: RunOutput = Command::new(bin())
        .args(["plugin", "run", &shared_repo(true).spec(), "--step", "echo", "--timeout", "1e20", "--input"])
        .arg(&input)
        .arg("--workdir")
        .arg(shared_workdir())
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("--timeout must be at most"), "{}", out.stderr);
}

#[test]
fn a_huge_foreach_parallelism_runs_the_items() {
    let case = Case::new();
    case.file(
        "sub.yaml",
        &with_spec("version: v0.2.0\ninput: {root: I, objects: {I: {id: I, properties: {msg: {type: {type_id: string}}}}}}\nsteps:\n  e:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: !expr $.input.msg}\noutputs:\n  success: {m: !expr $.steps.e.outputs.success.msg}\n"),
    );
    case.workflow(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  f:\n    kind: foreach\n    items: [{{msg: one}}, {{msg: two}}]\n    workflow: sub.yaml\n    parallelism: 9223372036854775807\noutputs:\n  success: {{all: !expr $.steps.f.outputs.success.data}}\n"
    ));
    let out = case.run();
    out.assert_code(0);
    assert!(out.stdout.contains("one") && out.stdout.contains("two"), "{}", out.stdout);
}

#[test]
fn a_damaged_last_used_file_is_ignored_by_cache_list() {
    let case = Case::new().own_workdir();
    case.workflow(&echo_workflow(&shared_repo(true).spec()));
    case.run().assert_code(0);
    let builds = complete_builds(&case.workdir);
    assert!(!builds.is_empty());
    for b in &builds {
        fs::write(b.join("last-used"), "18446744073709551615").unwrap();
    }
    for args in [&["cache", "list"][..], &["cache", "list", "--json"][..]] {
        let out: RunOutput =
            Command::new(bin()).args(args).arg("--workdir").arg(&case.workdir).output().unwrap().into();
        out.assert_code(0);
        assert!(!out.stdout.contains("18446744073709551615"), "{}", out.stdout);
    }
}
