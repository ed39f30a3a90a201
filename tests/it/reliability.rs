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

fn env_workflow(show: &[&str]) -> String {
    let show = show.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
    with_spec(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: env\n    input: {{show: [{show}]}}\noutputs:\n  success: {{names: !expr $.steps.e.outputs.success.names, cwd: !expr $.steps.e.outputs.success.cwd, values: !expr $.steps.e.outputs.success.values}}\n"
    ))
}

fn names(doc: &arcaflow_py::yaml::Yaml) -> Vec<String> {
    doc["output_data"]["names"].as_sequence().unwrap().iter().filter_map(|v| v.as_str()).map(String::from).collect()
}

#[test]
fn plugins_get_our_whole_environment_with_the_venv_first_on_path() {
    let case = Case::new()
        .env("SECRET_TOKEN", "hunter2")
        .env("HOSTNAME", "box-1")
        .env("ARCAFLOW_PLUGIN_SETTING", "on")
        .env("PYTHONPATH", "/evil")
        .env("PYTHONHOME", "/evil");
    case.workflow(&env_workflow(&["PATH", "VIRTUAL_ENV", "HOSTNAME"]));
    let out = case.run();
    out.assert_code(0);
    let doc = out.yaml();
    let names = names(&doc);
    for passed in ["SECRET_TOKEN", "HOSTNAME", "ARCAFLOW_PLUGIN_SETTING", "HOME"] {
        assert!(names.iter().any(|n| n == passed), "{passed} missing: {names:?}");
    }
    // These would make the venv's Python load another installation.
    assert!(!names.iter().any(|n| n == "PYTHONPATH" || n == "PYTHONHOME"), "{names:?}");
    let values = &doc["output_data"]["values"];
    assert_eq!(values["HOSTNAME"].as_str(), Some("box-1"));
    let venv = values["VIRTUAL_ENV"].as_str().unwrap();
    let path = values["PATH"].as_str().unwrap();
    assert!(path.starts_with(&format!("{venv}/bin:")), "PATH {path} does not start with the venv's bin ({venv})");
    // Each step runs in its own scratch directory inside the workdir, removed after the run.
    let cwd = doc["output_data"]["cwd"].as_str().unwrap().to_string();
    assert!(cwd.starts_with(&case.workdir.join("scratch").display().to_string()), "{cwd}");
    assert!(!std::path::Path::new(&cwd).exists());
}

#[test]
fn plugin_env_in_the_config_restricts_and_extends_the_environment() {
    let case = Case::new().env("SECRET_TOKEN", "hunter2").env("KEEP_ME", "1").env("KEEP_NOT", "2");
    case.workflow(&env_workflow(&["ADDED", "FLAG", "PATH"]));
    case.config(
        "deployers:\n  python:\n    deployer_name: python\n    pluginEnv:\n      inherit: [PATH, HOME, \"KEEP_*\"]\n      set: {ADDED: 5, FLAG: yes}\n      unset: [KEEP_NOT]\n",
    );
    let out = case.run();
    out.assert_code(0);
    let doc = out.yaml();
    let names = names(&doc);
    assert!(names.iter().any(|n| n == "KEEP_ME"), "{names:?}");
    assert!(!names.iter().any(|n| n == "KEEP_NOT" || n == "SECRET_TOKEN"), "{names:?}");
    let values = &doc["output_data"]["values"];
    assert_eq!(values["ADDED"].as_str(), Some("5"));
    assert_eq!(values["FLAG"].as_str(), Some("yes"));
    assert!(values["PATH"].as_str().unwrap().contains("/venv/bin:"), "{:?}", values["PATH"]);

    // Nothing inherited: only what is set, and PATH with the venv's bin.
    case.config("deployers:\n  python:\n    deployer_name: python\n    pluginEnv: {inherit: false, set: {ONLY: x}}\n");
    let out = case.run();
    out.assert_code(0);
    let mut names = super::reliability::names(&out.yaml());
    // Python itself sets LC_CTYPE when the locale is C (PEP 538).
    names.retain(|n| n != "LC_CTYPE");
    assert_eq!(names, vec!["ONLY", "PATH", "VIRTUAL_ENV"], "{names:?}");
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
