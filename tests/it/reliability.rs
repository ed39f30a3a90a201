//! Load and security: many runs sharing one workdir, hostile workdirs, what plugins can see.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use crate::support::{alive, with_spec, Case, RunOutput, EMPTY_INPUT};

fn twenty_steps() -> String {
    let mut steps = String::new();
    let mut outputs = String::new();
    for i in 0..20 {
        steps.push_str(&format!(
            "  s{i}:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: echo\n    input: {{msg: m{i}}}\n"
        ));
        outputs.push_str(&format!("    s{i}: !expr $.steps.s{i}.outputs.success.pid\n"));
    }
    with_spec(&format!("version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n{steps}outputs:\n  success:\n{outputs}"))
}

/// One round in the default suite (it still shows the concurrency works); `scripts/test --load`
/// runs ten.
fn rounds() -> usize {
    std::env::var("ARCAFLOW_PY_LOAD_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
}

#[test]
fn eight_concurrent_twenty_step_runs_on_one_workdir_repeatedly() {
    let tmp = tempfile::tempdir().unwrap();
    let workdir = tmp.path().join("wd");
    let workflow = twenty_steps();
    let mut all_pids = BTreeSet::new();
    for round in 0..rounds() {
        let cases: Vec<Case> = (0..8)
            .map(|_| {
                let mut c = Case::new();
                c.workdir = workdir.clone();
                c.workflow(&workflow);
                c
            })
            .collect();
        let children: Vec<_> = cases
            .iter()
            .map(|c| c.command("run").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
            .collect();
        for child in children {
            let out: RunOutput = child.wait_with_output().unwrap().into();
            assert_eq!(out.code, 0, "round {round}: {}", out.stderr);
            let doc = out.yaml();
            let pids = doc["output_data"].as_mapping().unwrap();
            assert_eq!(pids.len(), 20);
            all_pids.extend(pids.values().map(|p| p.as_i64().unwrap() as i32));
        }
    }
    // One venv for the one module, however many runs raced to build it.
    let entries: Vec<_> = fs::read_dir(workdir.join("venvs")).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1);
    let builds =
        fs::read_dir(entries[0].path()).unwrap().flatten().filter(|e| e.path().join("meta.json").exists()).count();
    assert_eq!(builds, 1);
    // No plugin process and no run scratch directory is left behind.
    let pids: Vec<i32> = all_pids.into_iter().collect();
    assert!(alive(&pids).is_empty(), "leaked plugin processes: {:?}", alive(&pids));
    let scratch: Vec<_> = fs::read_dir(workdir.join("scratch")).unwrap().flatten().collect();
    assert!(scratch.is_empty(), "leaked scratch dirs: {scratch:?}");
}

fn echo_case() -> Case {
    let case = Case::new();
    case.workflow(&with_spec(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: echo\n    input: {{msg: x}}\noutputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n"
    )));
    case
}

#[test]
fn a_workdir_that_is_a_symlink_or_writable_by_others_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    fs::create_dir(&real).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut case = echo_case();
    case.workdir = link;
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);

    let open = tmp.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let mut case = echo_case();
    case.workdir = open.clone();
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("writable by other users"), "{}", out.stderr);
    assert!(fs::read_dir(&open).unwrap().next().is_none(), "nothing was written into the unsafe workdir");
}

#[test]
fn plugins_get_only_the_environment_they_need() {
    let case =
        Case::new().env("SECRET_TOKEN", "hunter2").env("ARCAFLOW_PLUGIN_SETTING", "on").env("PYTHONPATH", "/evil");
    case.workflow(&with_spec(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: env\n    input: {{}}\noutputs:\n  success: {{names: !expr $.steps.e.outputs.success.names, cwd: !expr $.steps.e.outputs.success.cwd}}\n"
    )));
    let out = case.run();
    out.assert_code(0);
    let doc = out.yaml();
    let names: Vec<&str> =
        doc["output_data"]["names"].as_sequence().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(!names.contains(&"SECRET_TOKEN"), "{names:?}");
    assert!(!names.contains(&"PYTHONPATH"), "{names:?}");
    assert!(names.contains(&"ARCAFLOW_PLUGIN_SETTING"), "{names:?}");
    assert!(names.contains(&"PATH") && names.contains(&"HOME"), "{names:?}");
    // Each step runs in its own scratch directory inside the workdir, removed after the run.
    let cwd = doc["output_data"]["cwd"].as_str().unwrap().to_string();
    assert!(cwd.starts_with(&case.workdir.join("scratch").display().to_string()), "{cwd}");
    assert!(!std::path::Path::new(&cwd).exists());
}

#[test]
fn read_file_reads_relative_to_the_context_directory() {
    let case = Case::new();
    case.file("data/greeting.txt", "from the context dir");
    case.workflow(&with_spec(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: echo\n    input: {{msg: !expr 'readFile(\"data/greeting.txt\")'}}\noutputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n"
    )));
    let out = case.run();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["m"].as_str(), Some("from the context dir"));
}
