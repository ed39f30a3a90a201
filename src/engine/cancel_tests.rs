//! The cancellation property: whatever stops a step (Ctrl-C, a second Ctrl-C, `stop_if`, a
//! timeout) and whenever it comes in the step's life (before launch, during the handshake,
//! before its input, during its work, after its result), the run ends, every step has a final
//! status and no plugin process is left.
//!
//! The plugin is `tests/fixtures/fake_peer.py`, a fake ATP peer with no dependencies: it is a
//! fake only because a real plugin cannot take a chosen time at each point of its life, and it
//! starts in milliseconds so the property can try many cases. The real-plugin side of the same
//! guarantee is in `tests/it/hangs.rs`.
//!
//! "No hang" is checked with an overall deadline that is far beyond any case's length (a case
//! lasts well under two seconds): it is a hang detector, not a timing assertion.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use tokio::sync::watch;

use super::exec::{self, Context, ExecError, Interrupt, Resume, StepStatus};
use crate::config::Config;
use crate::deployer::Plugin;
use crate::events::{Observer, Recording};
use crate::value::Value;
use crate::workflow::Workflow;

/// Far beyond any case's length: reaching it means the run hung.
const HANG: Duration = Duration::from_secs(90);

const SCHEMA: &str = r#"
steps:
  work:
    id: work
    input: {root: P, objects: {P: {id: P, properties: {x: {required: false, display: {}, type: {type_id: any}}}}}}
    outputs:
      success: {error: false, schema: {root: S, objects: {S: {id: S, properties: {v: {required: false, display: {}, type: {type_id: any}}}}}}}
      cancelled: {error: false, schema: {root: C, objects: {C: {id: C, properties: {}}}}}
    signal_handlers:
      cancel: {id: cancel, data_schema: {root: X, objects: {X: {id: X, properties: {}}}}}
"#;

#[derive(Debug, Clone)]
struct Peer {
    hello_ms: u64,
    result_ms: u64,
    answer_cancel: bool,
}

#[derive(Debug, Clone)]
enum StopIf {
    Never,
    /// Already true when the step starts.
    Always,
    /// True once the trigger step `t` has its result, after this many milliseconds of work.
    AfterTrigger(Peer),
}

#[derive(Debug, Clone)]
struct Case {
    /// `a` has no upstream step; `b` waits for `a`'s output; `w` runs in each of two foreach items.
    a: Peer,
    b: Peer,
    w: Peer,
    stop_if: StopIf,
    timeout_ms: Option<u64>,
    /// Ctrl-C after this many milliseconds, and a second one this many milliseconds later.
    interrupt: Option<(u64, Option<u64>)>,
}

fn peer() -> impl Strategy<Value = Peer> {
    (0u64..300, 0u64..400, any::<bool>()).prop_map(|(hello_ms, result_ms, answer_cancel)| Peer {
        hello_ms,
        result_ms,
        answer_cancel,
    })
}

fn case() -> impl Strategy<Value = Case> {
    let stop_if = prop_oneof![Just(StopIf::Never), Just(StopIf::Always), peer().prop_map(StopIf::AfterTrigger)];
    (
        peer(),
        peer(),
        peer(),
        stop_if,
        proptest::option::of(0u64..500),
        proptest::option::of((0u64..700, proptest::option::of(0u64..300))),
    )
        .prop_map(|(a, b, w, stop_if, timeout_ms, interrupt)| Case { a, b, w, stop_if, timeout_ms, interrupt })
}

fn workflow_text(c: &Case) -> String {
    let plugin = "plugin: {deployment_type: python, src: fake}\n    step: work";
    let mut a = format!("  a:\n    {plugin}\n    input: {{}}\n");
    match &c.stop_if {
        StopIf::Never => {}
        StopIf::Always => a.push_str("    stop_if: !expr 'true'\n"),
        StopIf::AfterTrigger(_) => a.push_str("    stop_if: !expr '$.steps.t.outputs.success.v == \"t\"'\n"),
    }
    if let Some(ms) = c.timeout_ms {
        a.push_str(&format!("    timeout: {}\n", ms as f64 / 1000.0));
    }
    let t = match c.stop_if {
        StopIf::AfterTrigger(_) => format!("  t:\n    {plugin}\n    input: {{}}\n"),
        _ => String::new(),
    };
    format!(
        "version: v0.2.0\ninput: {{root: I, objects: {{I: {{id: I, properties: {{}}}}}}}}\nsteps:\n{a}{t}  b:\n    {plugin}\n    input: {{x: !expr $.steps.a.outputs.success.v}}\n  f:\n    kind: foreach\n    items: [{{}}, {{}}]\n    workflow: sub.yaml\n    parallelism: 2\noutputs:\n  success: {{b: !expr $.steps.b.outputs.success, f: !expr $.steps.f.outputs.success}}\n"
    )
}

const SUB: &str = "version: v0.2.0\ninput: {root: I, objects: {I: {id: I, properties: {}}}}\nsteps:\n  w:\n    plugin: {deployment_type: python, src: fake}\n    step: work\n    input: {}\noutputs:\n  success: {w: !expr $.steps.w.outputs.success}\n";

fn plan_json(c: &Case) -> String {
    let mut plan = serde_json::Map::new();
    let mut put = |id: &str, p: &Peer| {
        plan.insert(
            id.into(),
            serde_json::json!({
                "hello_ms": p.hello_ms,
                "result_ms": p.result_ms,
                "on_cancel": if p.answer_cancel { "answer" } else { "ignore" },
            }),
        );
    };
    put("a", &c.a);
    put("b", &c.b);
    put("w", &c.w);
    if let StopIf::AfterTrigger(p) = &c.stop_if {
        put("t", p);
    }
    serde_json::Value::Object(plan).to_string()
}

fn schema_value() -> Value {
    Value::from_yaml(&crate::yaml::parse_text(SCHEMA).expect("schema yaml"))
}

fn fake_plugin(dir: &Path) -> Arc<Plugin> {
    let schema = schema_value();
    let mut bytes = Vec::new();
    ciborium::into_writer(&schema.to_cbor(), &mut bytes).expect("encode");
    std::fs::write(dir.join("schema.cbor"), bytes).expect("schema");
    std::fs::create_dir_all(dir.join("pids")).expect("pids");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let env = vec![
        ("PATH".to_string(), std::env::var("PATH").unwrap_or_default()),
        ("PYTHONPATH".to_string(), fixtures.display().to_string()),
        ("FAKE_PEER_PLAN".to_string(), dir.join("plan.json").display().to_string()),
        ("FAKE_PEER_PIDS".to_string(), dir.join("pids").display().to_string()),
        ("FAKE_PEER_SCHEMA".to_string(), dir.join("schema.cbor").display().to_string()),
    ];
    let plugin = Plugin::for_engine_tests(PathBuf::from("python3"), "fake_peer", schema, env, &dir.join("use.lock"))
        .expect("plugin");
    Arc::new(plugin)
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn run_case(c: &Case) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(root.join("workflow.yaml"), workflow_text(c)).expect("workflow");
    std::fs::write(root.join("sub.yaml"), SUB).expect("sub");
    std::fs::write(root.join("plan.json"), plan_json(c)).expect("plan");
    let plugin = fake_plugin(root);
    let wf = Workflow::load(&root.join("workflow.yaml"), root).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (int_tx, int_rx) = watch::channel(Interrupt::None);
    let recording = Arc::new(Recording::default());
    let observer: Arc<dyn Observer> = recording.clone();
    let ctx = Arc::new(Context {
        context_dir: root.to_path_buf(),
        plugins: HashMap::from([("fake\u{0}".to_string(), plugin)]),
        config: Arc::new(Config::default()),
        interrupt: int_rx,
        observer,
        // Plain launches: the fake peer's timings are what these properties are about.
        fork_server: false,
    });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let interrupt = c.interrupt;
    let result = rt.block_on(async move {
        if let Some((at, then)) = interrupt {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(at)).await;
                let _ = int_tx.send(Interrupt::Graceful);
                if let Some(then) = then {
                    tokio::time::sleep(Duration::from_millis(then)).await;
                    let _ = int_tx.send(Interrupt::Kill);
                }
                // Keep the sender: a dropped sender is not an interrupt.
                std::future::pending::<()>().await;
            });
        }
        let run = exec::execute_top(
            Arc::new(wf),
            Value::Map(BTreeMap::new()),
            ctx,
            exec::Dirs { scratch: root.join("scratch"), artifacts: None },
            Resume::default(),
        );
        tokio::time::timeout(HANG, run).await
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    let Ok(result) = result else {
        return Err(TestCaseError::fail(format!("the run hung (no end within {} s)", HANG.as_secs())));
    };
    let steps = match &result {
        Ok(r) => r.steps.clone(),
        Err(e) => e.steps().to_vec(),
    };
    for s in &steps {
        prop_assert!(s.status != StepStatus::Running, "step {} is still running after the run: {s:?}", s.id);
    }
    // (Whether an interrupt that raced with the run's end makes it Interrupted is timing; the
    // exit code of an interrupted run is checked in tests/it/hangs.rs.)
    if let Err(ExecError::Failed { message, .. }) = &result {
        prop_assert!(!message.contains("internal error"), "{message}");
    }
    for s in &steps {
        let internal = s.message.as_deref().unwrap_or("").contains("internal error");
        prop_assert!(!internal, "step {}: {:?}", s.id, s.message);
    }
    // Exactly one final report per step that started, and the run's own end.
    let events = recording.events();
    let mut finished: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        if let crate::events::RunEvent::StepFinished(f) = e {
            *finished.entry(format!("{}{}", f.label, f.id)).or_default() += 1;
        }
    }
    for (id, n) in &finished {
        prop_assert!(*n == 1, "step {id} finished {n} times");
    }
    let pids: Vec<u32> = std::fs::read_dir(root.join("pids"))
        .expect("pids")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let left: Vec<String> = pids
        .into_iter()
        .filter(|p| alive(*p))
        .map(|p| {
            format!("{p} ({})", std::fs::read_to_string(root.join("pids").join(p.to_string())).unwrap_or_default())
        })
        .collect();
    prop_assert!(left.is_empty(), "plugin processes left after the run: {left:?}");
    Ok(())
}

fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

proptest! {
    // Each case runs about five step lifecycles (a, b, t, two foreach items), so the default
    // tries a few hundred; `scripts/fuzz-long` runs it for as long as it is given.
    #![proptest_config(ProptestConfig { cases: cases_or(64), failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn cancel_stop_if_and_timeout_at_any_point_never_hang_the_run(c in case()) {
        run_case(&c)?;
    }
}

#[test]
fn stop_if_already_true_while_the_plugin_starts_ends_the_run() {
    // The reported hang: stop_if true at start, the plugin still in its handshake.
    let slow = Peer { hello_ms: 250, result_ms: 50, answer_cancel: false };
    for _ in 0..8 {
        let c = Case {
            a: slow.clone(),
            b: slow.clone(),
            w: slow.clone(),
            stop_if: StopIf::Always,
            timeout_ms: None,
            interrupt: None,
        };
        if let Err(e) = run_case(&c) {
            panic!("{e}");
        }
    }
}

#[test]
fn ctrl_c_during_the_handshake_ends_the_run() {
    let slow = Peer { hello_ms: 300, result_ms: 50, answer_cancel: true };
    for at in [0, 20, 60, 120, 200] {
        let c = Case {
            a: slow.clone(),
            b: slow.clone(),
            w: slow.clone(),
            stop_if: StopIf::Never,
            timeout_ms: None,
            interrupt: Some((at, None)),
        };
        if let Err(e) = run_case(&c) {
            panic!("{e}");
        }
    }
}
