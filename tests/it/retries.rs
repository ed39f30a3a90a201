//! `retry:` (an arcaflow-py extension): a flaky plugin step retried with backoff, a step that
//! never succeeds, outcomes that are not retried, cancel during the backoff, and resume
//! continuing the attempt count. The testkit's `flaky` step fails its first N attempts, counted
//! in a file, so every attempt is a real, fresh plugin process.

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::support::{bin, with_spec, Case, RunOutput, EMPTY_INPUT};

fn wf(body: &str) -> String {
    with_spec(&format!("version: v0.2.0\n{EMPTY_INPUT}\n{body}"))
}

/// The run state of this case's latest run.
fn run_state(case: &Case) -> serde_json::Value {
    let out: RunOutput =
        Command::new(bin()).args(["runs", "--json", "--workdir"]).arg(&case.workdir).output().unwrap().into();
    out.assert_code(0);
    let runs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let prefix = case.dir.path().display().to_string();
    runs.as_array()
        .unwrap()
        .iter()
        .find(|r| r["workflow"].as_str().unwrap_or("").starts_with(&prefix))
        .cloned()
        .expect("a run of this case")
}

fn time(v: &serde_json::Value) -> SystemTime {
    humantime::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

fn outcomes(attempts: &serde_json::Value) -> Vec<String> {
    attempts.as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap().to_string()).collect()
}

fn lines(p: &std::path::Path) -> usize {
    fs::read_to_string(p).map(|t| t.lines().count()).unwrap_or(0)
}

fn flaky(counter: &std::path::Path, failures: u32, retry: &str) -> String {
    wf(&format!(
        r#"steps:
  flaky:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: flaky
    input: {{counter_file: "{}", failures: {failures}}}
{retry}outputs:
  success:
    attempt: !expr $.steps.flaky.outputs.success.attempt
"#,
        counter.display()
    ))
}

#[test]
fn a_flaky_step_fails_twice_then_succeeds_on_the_third_attempt_after_backing_off() {
    let case = Case::new();
    let report = case.path("report.xml");
    let case = case.arg("--junit").arg(report.to_str().unwrap());
    let counter = case.path("count");
    case.workflow(&flaky(&counter, 2, "    retry: {limit: 3, backoff: {duration: 1s, factor: 2, max: 30s}}\n"));
    let out = case.run();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["attempt"].as_i64(), Some(3));
    assert_eq!(lines(&counter), 3, "three processes ran the step");
    assert!(out.stderr.contains("attempt 1 crashed"), "{}", out.stderr);

    let state = run_state(&case);
    let attempts = &state["attempts"]["flaky"];
    assert_eq!(outcomes(attempts), ["crashed", "crashed", "success"]);
    assert!(attempts[0]["message"].as_str().unwrap().contains("attempt 1 fails on purpose"));
    for (i, a) in attempts.as_array().unwrap().iter().enumerate() {
        assert_eq!(a["number"].as_u64(), Some(i as u64 + 1));
        assert!(time(&a["ended"]) >= time(&a["started"]));
    }
    // The backoff is visible in the recorded times: 1 s before the 2nd attempt, 2 s before the 3rd.
    let waited = |i: usize| time(&attempts[i + 1]["started"]).duration_since(time(&attempts[i]["ended"])).unwrap();
    assert!(waited(0) >= Duration::from_millis(1000), "{attempts}");
    assert!(waited(1) >= Duration::from_millis(2000), "{attempts}");

    let junit = fs::read_to_string(&report).unwrap();
    assert!(junit.contains(r#"<property name="attempts" value="3"/>"#), "{junit}");
    assert!(junit.contains("attempt 2, "), "{junit}");
}

#[test]
fn a_step_that_never_succeeds_stops_at_the_limit_from_the_workflow_default() {
    let case = Case::new();
    let counter = case.path("count");
    let body = flaky(&counter, 100, "").replace("steps:\n", "retry: {limit: 2}\nsteps:\n");
    case.workflow(&body);
    let out = case.run();
    out.assert_code(3);
    assert_eq!(lines(&counter), 3, "one attempt and two retries");
    let state = run_state(&case);
    assert_eq!(outcomes(&state["attempts"]["flaky"]), ["crashed", "crashed", "crashed"]);
    assert!(out.stderr.contains("attempt 3 fails on purpose"), "{}", out.stderr);
}

#[test]
fn error_outputs_are_data_unless_on_lists_error() {
    let step = |id: &str, counter: &std::path::Path, retry: &str| {
        format!(
            "  {id}:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: flaky\n    input: {{counter_file: \"{}\", failures: 1, error_output: true}}\n    retry: {retry}\n",
            counter.display()
        )
    };
    let case = Case::new();
    let (plain, asked) = (case.path("plain"), case.path("asked"));
    case.workflow(&wf(&format!(
        "steps:\n{}{}outputs:\n  success:\n    plain: !expr $.steps.plain.outputs.error.error\n    asked: !expr $.steps.asked.outputs.success.attempt\n",
        step("plain", &plain, "{limit: 3}"),
        step("asked", &asked, "{limit: 3, on: [crashed, error]}"),
    )));
    let out = case.run();
    out.assert_code(0);
    let d = &out.yaml()["output_data"];
    assert_eq!(d["plain"].as_str(), Some("attempt 1 fails on purpose"));
    assert_eq!(d["asked"].as_i64(), Some(2));
    assert_eq!((lines(&plain), lines(&asked)), (1, 2));
    let state = run_state(&case);
    assert_eq!(outcomes(&state["attempts"]["asked"]), ["error", "success"]);
}

#[test]
fn a_bad_retry_is_refused_at_load_naming_the_field() {
    let case = Case::new();
    let counter = case.path("count");
    case.workflow(&flaky(&counter, 0, "    retry: {limit: 2, on: [timeout]}\n"));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("steps -> flaky -> retry -> on: timeout"), "{}", out.stderr);
    assert_eq!(lines(&counter), 0);
}

#[test]
fn cancel_during_the_backoff_stops_retrying() {
    let case = Case::new();
    let counter = case.path("count");
    case.workflow(&flaky(&counter, 100, "    retry: {limit: 3, backoff: {duration: 600s}}\n"));
    let mut child = case.command("run").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Wait until the first attempt is recorded: the run is now in its 600 s backoff.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let recorded = std::panic::catch_unwind(|| run_state(&case))
            .ok()
            .and_then(|s| s["attempts"]["flaky"].as_array().map(|a| a.len()));
        if recorded == Some(1) {
            break;
        }
        assert!(Instant::now() < deadline, "the first attempt was never recorded");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended early: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out: RunOutput = child.wait_with_output().unwrap().into();
    out.assert_code(130);
    assert_eq!(lines(&counter), 1, "no attempt started after the cancel");
    let state = run_state(&case);
    assert_eq!(state["status"], "Cancelled");
    assert_eq!(outcomes(&state["attempts"]["flaky"]), ["crashed"]);
}

#[test]
fn resume_continues_after_the_last_completed_attempt() {
    let case = Case::new().own_workdir();
    let counter = case.path("count");
    case.workflow(&flaky(&counter, 3, "    retry: {limit: 1}\n"));
    let out = case.run();
    out.assert_code(3);
    assert_eq!(lines(&counter), 2);
    let id = run_state(&case)["id"].as_str().unwrap().to_string();

    // The limit is used up: the resumed run makes one attempt of its own (the 3rd), which fails.
    let out: RunOutput = case.command("run").arg("--resume").arg(&id).output().unwrap().into();
    out.assert_code(3);
    assert_eq!(lines(&counter), 3);
    let out: RunOutput = case.command("run").arg("--resume").arg(&id).output().unwrap().into();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["attempt"].as_i64(), Some(4));
    let state = run_state(&case);
    let attempts = &state["attempts"]["flaky"];
    assert_eq!(outcomes(attempts), ["crashed", "crashed", "crashed", "success"]);
    let numbers: Vec<u64> = attempts.as_array().unwrap().iter().map(|a| a["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
}
