//! The fork server (issue 16): steps forked from one per-plugin Python process are isolated from
//! each other, a fork server that dies is replaced, and plugins that cannot be forked (threads
//! at import, an opt-out) or runs that opt out are launched plainly. The testkit's `isolation`
//! step reports whether its parent is a fork server (its command line carries the marker).

use crate::support::{alive, echo_workflow, shared_repo, with_spec, Case, EMPTY_INPUT};
use arcaflow_py::yaml::Yaml;

fn field<'a>(y: &'a Yaml, path: &[&str]) -> &'a Yaml {
    let mut at = y;
    for k in path {
        at = at.get(k).unwrap_or_else(|| panic!("no {k} in {y:?}"));
    }
    at
}

/// The value under the integer key `i` of a map (foreach results are keyed by item index).
fn entry(y: &Yaml, i: i64) -> &Yaml {
    let map = y.as_mapping().unwrap_or_else(|| panic!("not a map: {y:?}"));
    map.iter().find(|(k, _)| k.as_i64() == Some(i)).map(|(_, v)| v).unwrap_or_else(|| panic!("no item {i} in {y:?}"))
}

fn int(y: &Yaml, path: &[&str]) -> i64 {
    field(y, path).as_i64().unwrap_or_else(|| panic!("{path:?} is not an integer"))
}

fn boolean(y: &Yaml, path: &[&str]) -> bool {
    field(y, path).as_bool().unwrap_or_else(|| panic!("{path:?} is not a boolean"))
}

fn text(y: &Yaml, path: &[&str]) -> String {
    field(y, path).as_str().unwrap_or_else(|| panic!("{path:?} is not text")).to_string()
}

/// Builds the shared plugin's venv if needed: the first step after a fresh build runs in the
/// process that read the plugin's schema (never forked), which these tests must not meet.
fn warm() {
    let case = Case::new();
    case.workflow(&echo_workflow(&shared_repo(true).spec()));
    case.run().assert_code(0);
}

/// A foreach over `items` tags, one at a time, each running `isolation`; its output is the list.
fn isolation_loop(case: &Case, items: &str, top: &str) {
    warm();
    case.file(
        "sub.yaml",
        &with_spec(
            r#"version: v0.2.0
input: {root: Item, objects: {Item: {id: Item, properties: {tag: {type: {type_id: string}}, kill: {type: {type_id: string}, required: false, default: '""'}}}}}
steps:
  probe:
    plugin: {deployment_type: python, src: "SPEC"}
    step: isolation
    input: {tag: !expr $.input.tag, kill_parent_note: !expr $.input.kill}
outputs:
  success: !expr $.steps.probe.outputs.success
"#,
        ),
    );
    case.workflow(&format!(
        r#"version: v0.2.0
{top}{EMPTY_INPUT}
steps:
  loop:
    kind: foreach
    workflow: sub.yaml
    parallelism: 1
    items: {items}
outputs:
  success: {{all: !expr $.steps.loop.outputs.success.data}}
  error: !expr $.steps.loop.failed.error
"#
    ));
}

fn items(out: &Yaml) -> Vec<Yaml> {
    field(out, &["output_data", "all"]).as_sequence().expect("a list").to_vec()
}

#[test]
fn forked_steps_are_isolated_from_each_other() {
    let case = Case::new();
    isolation_loop(&case, "[{tag: a}, {tag: b}, {tag: c}]", "");
    let out = case.run();
    out.assert_code(0);
    let all = items(&out.yaml());
    assert_eq!(all.len(), 3);
    let zygote = int(&all[0], &["ppid"]);
    let mut pids = Vec::new();
    let mut randoms = Vec::new();
    for it in &all {
        // Each item ran after the one before had changed its own process's state.
        assert!(boolean(it, &["forked"]), "not forked from a fork server: {it:?}\n{}", out.stderr);
        assert_eq!(int(it, &["ppid"]), zygote, "one fork server per plugin and run");
        assert_eq!(int(it, &["touched"]), 0, "a module global leaked from another step: {it:?}");
        assert!(!boolean(it, &["env_seen"]), "an environment variable leaked: {it:?}");
        assert!(boolean(it, &["sigusr1_default"]), "a signal handler leaked: {it:?}");
        assert!(boolean(it, &["own_group"]), "not in a session and process group of its own: {it:?}");
        let cwd = text(it, &["cwd"]);
        assert!(cwd != "/" && cwd.contains("scratch"), "not in its scratch directory: {cwd}");
        pids.push(int(it, &["pid"]));
        randoms.push(format!("{:?}", field(it, &["random"])));
    }
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 3, "each step has its own process");
    randoms.sort();
    randoms.dedup();
    assert_eq!(randoms.len(), 3, "each forked step gets a fresh random seed");
    assert!(alive(&[zygote as i32]).is_empty(), "the fork server outlived the run");
}

#[test]
fn a_killed_fork_server_is_replaced() {
    let case = Case::new();
    let note = case.path("killed.txt");
    // Item 0 kills the fork server it was forked from (and dies with it); the items after it are
    // forked from a new one.
    isolation_loop(&case, &format!("[{{tag: a, kill: \"{}\"}}, {{tag: b}}, {{tag: c}}]", note.display()), "");
    let out = case.run();
    out.assert_code(2);
    let killed: i64 = std::fs::read_to_string(&note).expect("item 0 killed its fork server").trim().parse().unwrap();
    let y = out.yaml();
    let data = field(&y, &["output_data", "data"]);
    let (b, c) = (entry(data, 1), entry(data, 2));
    for it in [b, c] {
        assert!(boolean(it, &["forked"]), "not forked after the fork server died: {it:?}\n{}", out.stderr);
        assert_ne!(int(it, &["ppid"]), killed, "forked from the killed fork server");
        assert_eq!(int(it, &["touched"]), 0);
    }
    assert_eq!(int(b, &["ppid"]), int(c, &["ppid"]), "one replacement serves the rest of the run");
    entry(field(&y, &["output_data", "errors"]), 0);
}

#[test]
fn a_plugin_that_starts_threads_at_import_is_launched_plainly() {
    let case = Case::new();
    case.config(
        "deployers:\n  python:\n    deployer_name: python\n    pluginEnv:\n      set: {TESTKIT_THREAD_AT_IMPORT: 1}\n",
    );
    isolation_loop(&case, "[{tag: a}, {tag: b}]", "");
    let out = case.run();
    out.assert_code(0);
    for it in items(&out.yaml()) {
        assert!(!boolean(&it, &["forked"]), "forked although its import started a thread: {it:?}");
        assert_eq!(int(&it, &["touched"]), 0);
    }
    assert!(out.stderr.contains("started threads"), "the fallback is not explained:\n{}", out.stderr);
}

#[test]
fn runs_and_plugins_can_opt_out() {
    // The config's switch, the workflow's switch, and the plugin's own attribute.
    let by_config = Case::new();
    by_config.config("deployers:\n  python:\n    deployer_name: python\n    forkServer: false\n");
    isolation_loop(&by_config, "[{tag: a}, {tag: b}]", "");
    let by_workflow = Case::new();
    isolation_loop(&by_workflow, "[{tag: a}, {tag: b}]", "forkServer: false\n");
    let by_plugin = Case::new();
    by_plugin
        .config("deployers:\n  python:\n    deployer_name: python\n    pluginEnv:\n      set: {TESTKIT_NO_FORK: 1}\n");
    isolation_loop(&by_plugin, "[{tag: a}, {tag: b}]", "");
    for (what, case) in [("config", by_config), ("workflow", by_workflow), ("plugin", by_plugin)] {
        let out = case.run();
        out.assert_code(0);
        for it in items(&out.yaml()) {
            assert!(!boolean(&it, &["forked"]), "{what}: forked although it opted out: {it:?}");
        }
    }
    // And without any switch, the same loop is forked (the switches are what changed it).
    let default = Case::new();
    isolation_loop(&default, "[{tag: a}]", "");
    let out = default.run();
    out.assert_code(0);
    assert!(boolean(&items(&out.yaml())[0], &["forked"]), "{}", out.stderr);
}

#[test]
fn a_bad_fork_server_switch_is_refused_naming_it() {
    let case = Case::new();
    isolation_loop(&case, "[{tag: a}]", "forkServer: maybe\n");
    let out = case.run();
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("forkServer must be true or false"), "{}", out.stderr);
}
