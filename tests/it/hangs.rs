//! No hang, no lost signal, no swallowed panic (issue 13, items 1-4), with the real binary and
//! the real SDK plugin (`tests/fixtures/testkit`). The engine-level property with a fake peer at
//! every point of a step's life is `engine::cancel_tests` (src/engine/cancel_tests.rs).
//!
//! A hang is detected by an overall deadline far beyond the run's length (the run is then
//! killed and the test fails): a hang detector, not a timing assertion.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

/// Far beyond any of these runs' length: reaching it means the run hung.
const HANG: Duration = Duration::from_secs(120);

/// A running `arcaflow-py run` whose stderr is collected line by line as it comes.
struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(case: &Case) -> Running {
        let mut child = case.command("run").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Running { child, stderr, reader: Some(reader) }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits until stderr contains `text` (false when the process ended first or `HANG` passed).
    fn wait_for(&mut self, text: &str) -> bool {
        let deadline = Instant::now() + HANG;
        while Instant::now() < deadline {
            if self.stderr.lock().unwrap().contains(text) {
                return true;
            }
            if self.child.try_wait().unwrap().is_some() {
                return self.stderr.lock().unwrap().contains(text);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// The exit code, or a failure naming the hang (the process is killed then).
    fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + HANG;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the run hung (no end within {} s); stderr:\n{}", HANG.as_secs(), self.stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let stderr = self.stderr.lock().unwrap().clone();
        (status.code().unwrap_or(-1), stderr)
    }
}

fn wait_step_workflow(extra: &str, pid_file: &std::path::Path) -> String {
    with_spec(&format!(
        r#"version: v0.2.0
input: {{root: In, objects: {{In: {{id: In, properties: {{}}}}}}}}
steps:
  waiting:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: wait
    input: {{seconds: 30}}
{extra}
  hanging:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: hang
    input: {{pid_file: "{}"}}
outputs:
  success:
    a: !expr $.steps.waiting.outputs.success
    b: !expr $.steps.hanging.outputs.success
"#,
        pid_file.display()
    ))
}

#[test]
fn stop_if_already_true_when_the_real_plugin_starts_ends_the_run() {
    // Before the fix about half of these runs hung for ever.
    for round in 0..6 {
        let case = Case::new();
        let pid_file = case.path("pids");
        case.workflow(&wait_step_workflow("    stop_if: !expr 'true'", &pid_file));
        let (code, stderr) = Running::start(&case).finish();
        assert_eq!(code, 3, "round {round}: {stderr}");
        assert!(stderr.contains("stop_if"), "round {round}: {stderr}");
        if pid_file.exists() {
            let pids = read_pids(&pid_file);
            assert!(alive(&pids).is_empty(), "round {round}: plugin processes survived: {pids:?}");
        }
    }
}

#[test]
fn ctrl_c_shortly_after_step_started_ends_the_run_with_130() {
    // One Ctrl-C at a different moment of the plugins' start-up in each round.
    for (round, delay_ms) in [0u64, 15, 40, 80, 150, 300].into_iter().enumerate() {
        let case = Case::new().arg("-v");
        let pid_file = case.path("pids");
        case.workflow(&wait_step_workflow("", &pid_file));
        let mut run = Running::start(&case);
        assert!(run.wait_for("started ("), "round {round}: no step started");
        std::thread::sleep(Duration::from_millis(delay_ms));
        run.signal(libc::SIGINT);
        let (code, stderr) = run.finish();
        assert_eq!(code, 130, "round {round} ({delay_ms} ms): {stderr}");
        if pid_file.exists() {
            let pids = read_pids(&pid_file);
            assert!(alive(&pids).is_empty(), "round {round}: plugin processes survived: {pids:?}");
        }
    }
}

fn foreach_workflow(case: &Case) {
    case.file(
        "sub.yaml",
        &with_spec(
            r#"version: v0.2.0
input: {root: I, objects: {I: {id: I, properties: {msg: {type: {type_id: string}}}}}}
steps:
  e:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: !expr $.input.msg}
outputs:
  success: {m: !expr $.steps.e.outputs.success.msg}
"#,
        ),
    );
    case.workflow(
        r#"version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  f:
    kind: foreach
    items: [{msg: one}, {msg: two}]
    workflow: sub.yaml
outputs:
  success: {all: !expr $.steps.f.outputs.success.data}
"#,
    );
}

#[test]
fn a_panicking_step_task_is_a_crashed_step_and_the_run_ends() {
    // The panic is caused by a debug-build hook (src/testhooks.rs): no real input makes a step
    // task panic, which is the point of the guarantee.
    let case = Case::new().env("ARCAFLOW_PY_TEST_PANIC", "hello");
    case.workflow(&echo_workflow(&shared_repo(true).spec()));
    let (code, stderr) = Running::start(&case).finish();
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("internal error: the step's task panicked"), "{stderr}");
    assert!(stderr.contains("test hook ARCAFLOW_PY_TEST_PANIC: step hello panics"), "{stderr}");
}

#[test]
fn a_panicking_foreach_item_or_foreach_task_fails_the_foreach_and_the_run_ends() {
    for (target, expected) in [
        (
            "f[1] -> e",
            "internal error: the step's task panicked: test hook ARCAFLOW_PY_TEST_PANIC: step f[1] -> e panics",
        ),
        ("f", "internal error: the step's task panicked: test hook ARCAFLOW_PY_TEST_PANIC: step f panics"),
    ] {
        let case = Case::new().env("ARCAFLOW_PY_TEST_PANIC", target);
        foreach_workflow(&case);
        let (code, stderr) = Running::start(&case).finish();
        assert_eq!(code, 3, "{target}: {stderr}");
        assert!(stderr.contains(expected), "{target}: {stderr}");
    }
}

#[test]
fn without_a_panic_the_foreach_workflow_succeeds() {
    // The control for the test above: the same workflow runs when nothing panics.
    let case = Case::new();
    foreach_workflow(&case);
    let out = case.run();
    out.assert_code(0);
    assert!(out.stdout.contains("one") && out.stdout.contains("two"), "{}", out.stdout);
}

#[test]
fn two_ctrl_c_while_the_run_loop_is_busy_end_the_run_with_130() {
    // The loop is kept busy (src/testhooks.rs) while both interrupts arrive, as a long
    // expression would keep it; before the fix it never acted on the second one (a kill that
    // came without the graceful one having been seen) and the run ended 0 when the step finished.
    let case = Case::new().arg("-v");
    let busy = case.path("busy");
    let case = case.env("ARCAFLOW_PY_TEST_BUSY", busy.to_str().unwrap());
    case.workflow(&with_spec(
        r#"version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  waiting:
    plugin: {deployment_type: python, src: "SPEC"}
    step: wait
    input: {seconds: 3}
outputs:
  success: {w: !expr $.steps.waiting.outputs.success}
"#,
    ));
    let mut run = Running::start(&case);
    wait_for_file(&busy);
    assert!(busy.exists(), "the run loop never got busy");
    run.signal(libc::SIGINT);
    assert!(run.wait_for("interrupted: cancelling"), "the first interrupt was not seen");
    run.signal(libc::SIGINT);
    // Pacing only (the signal watcher runs on another thread): the loop is still busy.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::remove_file(&busy).unwrap();
    let (code, stderr) = run.finish();
    assert_eq!(code, 130, "{stderr}");
}

#[test]
fn read_file_of_a_fifo_or_a_device_is_refused_naming_the_file_and_never_blocks() {
    let case = Case::new();
    let fifo = case.path("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for path in [fifo.display().to_string(), "/dev/zero".to_string()] {
        case.input(&format!("path: {path}\n"));
        case.workflow(&with_spec(
            r#"version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {path: {type: {type_id: string}}}}}}
steps:
  e:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: !expr readFile($.input.path)}
outputs:
  success: {m: !expr $.steps.e.outputs.success.msg}
"#,
        ));
        let (code, stderr) = Running::start(&case).finish();
        assert_ne!(code, 0, "{path}: {stderr}");
        assert!(stderr.contains(&path) && stderr.contains("not a regular file"), "{path}: {stderr}");
    }
}

#[test]
fn a_plugin_answering_for_another_run_or_with_an_unknown_message_fails_the_step_clearly() {
    // Fake ATP peers (tests/fixtures/testkit/arcaflow_plugin_testkit/fakes.py): no real plugin
    // breaks the protocol on demand. Both then wait for ever, so waiting on would hang the run.
    for (mode, expected) in [
        (
            "wrong_run_id",
            "protocol violation: the plugin sent a result for run 'someone-else', but this step's run is 'f'",
        ),
        ("unknown_message", "protocol violation: the plugin sent an unknown ATP message type 9"),
    ] {
        let case = Case::new().env("ARCAFLOW_PLUGIN_FAKE", mode);
        case.workflow(&with_spec(&format!(
            "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  f:\n    plugin: {{deployment_type: python, src: \"SPEC\", module: arcaflow_plugin_testkit.fakes}}\n    step: echo\n    input: {{msg: x}}\noutputs:\n  success: {{m: !expr $.steps.f.outputs.success.msg}}\n"
        )));
        let (code, stderr) = Running::start(&case).finish();
        assert_eq!(code, 3, "{mode}: {stderr}");
        assert!(stderr.contains(expected), "{mode}: {stderr}");
    }
}

#[test]
fn resuming_a_run_that_is_still_running_is_refused_naming_its_pid() {
    let case = Case::new().arg("-v");
    let pid_file = case.path("pids");
    case.workflow(&wait_step_workflow("", &pid_file));
    let mut run = Running::start(&case);
    // Both steps started: the run writes its state no more until they end.
    assert!(
        run.wait_for("step waiting: started (") && run.wait_for("step hanging: started ("),
        "the steps did not start"
    );
    wait_for_file(&pid_file);
    let runs: RunOutput = std::process::Command::new(bin())
        .args(["runs", "--json", "--workdir"])
        .arg(&case.workdir)
        .output()
        .unwrap()
        .into();
    let runs: serde_json::Value = serde_json::from_str(&runs.stdout).unwrap();
    let mine = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["workflow"].as_str().unwrap_or("").starts_with(&case.dir.path().display().to_string()))
        .cloned()
        .unwrap();
    let id = mine["id"].as_str().unwrap().to_string();
    let state_file = case.workdir.join("runs").join(format!("{id}.json"));
    let before = std::fs::read_to_string(&state_file).unwrap();

    let out: RunOutput = case.command("run").args(["--resume", &id]).output().unwrap().into();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let expected = format!("run {id} is still running (pid {})", run.pid());
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    // Its state was not touched.
    assert_eq!(std::fs::read_to_string(&state_file).unwrap(), before);

    run.signal(libc::SIGINT);
    let (code, stderr) = run.finish();
    assert_eq!(code, 130, "{stderr}");
}

#[test]
fn a_plugins_child_in_a_session_of_its_own_is_killed_when_the_run_ends() {
    // `orphan` starts `sleep 3600` with setsid and returns: the step's process-group kill cannot
    // reach it; it is re-parented to arcaflow-py (the child subreaper) when the plugin exits.
    let case = Case::new();
    let pid_file = case.path("orphan");
    case.workflow(&with_spec(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  o:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: orphan\n    input: {{pid_file: \"{}\"}}\noutputs:\n  success: {{o: !expr $.steps.o.outputs.success}}\n",
        pid_file.display()
    )));
    let (code, stderr) = Running::start(&case).finish();
    assert_eq!(code, 0, "{stderr}");
    let pids = read_pids(&pid_file);
    assert!(alive(&pids).is_empty(), "the plugin's orphan survived the run: {pids:?}");
}
