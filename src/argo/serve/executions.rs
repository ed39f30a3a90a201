//! Owns the executions of the executor plugin: one per workflow uid + node name + attempt, so a
//! repeated call (after a requeue, a client retry of a timed-out call, an agent restart) gets the
//! stored execution back and never runs the step twice; a bound on concurrent steps; a bounded
//! memory of finished results; and cancelling every running step on shutdown.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::{watch, Semaphore};

use super::wire::{NodeResult, Outputs, Parameter, Phase, Reply};
use crate::argo::node::{self, exit, Sourced, StepRequest, StepResult};
use crate::engine::Interrupt;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The key of our object in the template's `plugin` field.
    pub key: String,
    /// Steps running at once; more calls get `Pending` and are asked to come back.
    pub max_concurrent: usize,
    /// How long a call waits for its step before answering `Running` (below the agent's 30 s timeout).
    pub reply_within: Duration,
    /// The shortest requeue; it grows with the step's running time up to six times this.
    pub requeue: Duration,
    /// Finished results kept; older ones are dropped (their keys are remembered, see `Table`).
    pub max_finished: usize,
    /// The cache of venvs and git mirrors (over the plan config's).
    pub workdir: Option<PathBuf>,
    pub verbosity: i8,
}

/// The longest a step's failure message gets in a reply: its tail is what explains it.
const MESSAGE_MAX: usize = 4096;
/// Keys of dropped results remembered so that their node is never run again (32 bytes each).
const FORGOTTEN_MAX: usize = 100_000;

type Key = [u8; 32];
type Done = watch::Receiver<Option<Arc<NodeResult>>>;

struct Entry {
    started: Instant,
    done: Done,
}

#[derive(Default)]
struct Table {
    entries: HashMap<Key, Entry>,
    /// Finished keys, oldest first, for the memory bound.
    finished: VecDeque<Key>,
    forgotten: HashSet<Key>,
    forgotten_order: VecDeque<Key>,
}

pub struct Executions {
    settings: Settings,
    table: Mutex<Table>,
    slots: Arc<Semaphore>,
    interrupt: watch::Receiver<Interrupt>,
}

/// Where a call stands after it was looked up.
enum Lookup {
    Wait(Instant, Done),
    Reply(Reply),
}

impl Executions {
    pub fn new(settings: Settings, interrupt: watch::Receiver<Interrupt>) -> Arc<Executions> {
        let slots = Arc::new(Semaphore::new(settings.max_concurrent.max(1)));
        Arc::new(Executions { settings, table: Mutex::new(Table::default()), slots, interrupt })
    }

    /// Answers one `template.execute` call (its JSON body).
    pub async fn call(self: &Arc<Self>, body: &serde_json::Value) -> Reply {
        let Some(ours) = body.pointer("/template/plugin").and_then(|p| p.get(&self.settings.key)) else {
            return Reply::default();
        };
        let uid = body.pointer("/workflow/metadata/uid").and_then(serde_json::Value::as_str).unwrap_or_default();
        let node_name = ours.get("node").and_then(text);
        let key = match &node_name {
            Some(n) => digest(&[uid, n, &ours.get("attempt").and_then(text).unwrap_or_else(|| "0".into())]),
            None => {
                tracing::warn!(
                    "a template names no 'node' in plugin.{}: identical templates of this workflow share one execution",
                    self.settings.key
                );
                let template = body.get("template").map(|t| crate::argo::model::sorted(t.clone())).unwrap_or_default();
                digest(&[uid, &template.to_string()])
            }
        };
        let request = match self.request(ours) {
            Ok(r) => r,
            Err(message) => return Reply::done(failed_node(&format!("plugin.{}: {message}", self.settings.key))),
        };
        let label = node_name.unwrap_or_else(|| request.params.get("step").cloned().unwrap_or_default());
        let (started, mut done) = match self.lookup(key, request, label) {
            Lookup::Wait(started, done) => (started, done),
            Lookup::Reply(r) => return r,
        };
        let waited = tokio::time::timeout(self.settings.reply_within, done.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(node)) => match node.as_ref() {
                Some(n) => Reply::done(n.as_ref().clone()),
                None => Reply::done(failed_node("internal error: the step's result is missing")),
            },
            // The step's task ended without a result (it panicked): the step is not run again.
            Ok(Err(_)) => Reply::done(failed_node("internal error: the step's task ended without a result")),
            Err(_) => {
                let elapsed = started.elapsed();
                let after = requeue_after(self.settings.requeue, elapsed);
                Reply::again(Phase::Running, format!("running for {} s", elapsed.as_secs()), after)
            }
        }
    }

    /// Finds the call's execution, or starts it when a slot is free.
    fn lookup(self: &Arc<Self>, key: Key, request: StepRequest, label: String) -> Lookup {
        let Ok(mut table) = self.table.lock() else {
            return Lookup::Reply(failed_reply("internal error: the execution table is poisoned"));
        };
        if let Some(e) = table.entries.get(&key) {
            return Lookup::Wait(e.started, e.done.clone());
        }
        if table.forgotten.contains(&key) {
            return Lookup::Reply(failed_reply(
                "this node's result was dropped from memory (more finished nodes than --max-finished); the step is not run twice",
            ));
        }
        if *self.interrupt.borrow() != Interrupt::None {
            return Lookup::Reply(failed_reply("the plugin is shutting down; the step was not started"));
        }
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            let message = format!("waiting for a free slot ({} steps running)", self.settings.max_concurrent);
            return Lookup::Reply(Reply::again(Phase::Pending, message, self.settings.requeue));
        };
        let (tx, done) = watch::channel(None);
        let started = Instant::now();
        table.entries.insert(key, Entry { started, done: done.clone() });
        let this = self.clone();
        tokio::spawn(async move {
            tracing::info!("node {label}: starting step '{}'", request.params.get("step").cloned().unwrap_or_default());
            let result = node::execute_request(&request, this.settings.verbosity, this.interrupt.clone()).await;
            let n = node_of(&request, &result);
            tracing::info!("node {label}: {:?} {}", n.phase, n.message);
            let _ = tx.send(Some(Arc::new(n)));
            drop(permit);
            this.remember(key);
        });
        Lookup::Wait(started, done)
    }

    /// Keeps at most `max_finished` results; a dropped one leaves its key behind.
    fn remember(&self, key: Key) {
        let Ok(mut t) = self.table.lock() else { return };
        t.finished.push_back(key);
        while t.finished.len() > self.settings.max_finished {
            let Some(old) = t.finished.pop_front() else { break };
            t.entries.remove(&old);
            t.forgotten.insert(old);
            t.forgotten_order.push_back(old);
            if t.forgotten_order.len() > FORGOTTEN_MAX {
                if let Some(f) = t.forgotten_order.pop_front() {
                    t.forgotten.remove(&f);
                }
            }
        }
    }

    /// Waits until no step runs (after an interrupt has cancelled them).
    pub async fn drained(&self) {
        let n = u32::try_from(self.settings.max_concurrent.max(1)).unwrap_or(u32::MAX);
        let _ = self.slots.acquire_many(n).await;
    }

    /// The step request in our `plugin` object: `plan` and `input` (texts, as the workflow
    /// parameters hold them), `step`, `upstream`.
    fn request(&self, ours: &serde_json::Value) -> Result<StepRequest, String> {
        let field = |name: &str| -> Result<String, String> {
            match ours.get(name) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(v) if !v.is_null() => Ok(v.to_string()),
                _ => Err(format!("no '{name}'")),
            }
        };
        let origin = |name: &str| PathBuf::from(format!("plugin.{}.{name}", self.settings.key));
        let mut params = std::collections::BTreeMap::new();
        params.insert("step".to_string(), field("step")?);
        params.insert("upstream".to_string(), field("upstream").unwrap_or_else(|_| "{}".into()));
        Ok(StepRequest {
            plan: Sourced { text: field("plan")?, origin: origin("plan") },
            input: Sourced { text: field("input").unwrap_or_else(|_| "{}".into()), origin: origin("input") },
            params,
            secrets: None,
            workdir: self.settings.workdir.clone(),
        })
    }
}

/// Polls a long step less often: half its running time, between `base` and six times `base`
/// (5 s → 30 s by default; Argo's agent reports results every 10 s anyway).
fn requeue_after(base: Duration, elapsed: Duration) -> Duration {
    (elapsed / 2).clamp(base, base * 6)
}

/// A field that Argo substituted as a string, or a number such as `attempt: 1`.
fn text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn digest(parts: &[&str]) -> Key {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

fn failed_node(message: &str) -> NodeResult {
    NodeResult { phase: Phase::Failed, message: tail(message), outputs: None, progress: "1/1".into() }
}

fn failed_reply(message: &str) -> Reply {
    Reply::done(failed_node(message))
}

/// The node of a finished step, with the pod's output parameters: `Succeeded` whenever the
/// runner would exit 0 (error outputs included), else `Failed` with why.
fn node_of(request: &StepRequest, r: &StepResult) -> NodeResult {
    let step = request.params.get("step").cloned().unwrap_or_default();
    let outputs = Some(Outputs {
        parameters: vec![
            Parameter { name: "output-id".into(), value: r.output_id.clone() },
            Parameter { name: "result".into(), value: r.result.clone().unwrap_or_else(|| "null".into()) },
        ],
    });
    if r.code == exit::OK {
        NodeResult {
            phase: Phase::Succeeded,
            message: format!("step '{step}': {}", r.output_id),
            outputs,
            progress: "1/1".into(),
        }
    } else {
        let why = r.message.clone().unwrap_or_else(|| format!("failed with runner code {}", r.code));
        NodeResult {
            phase: Phase::Failed,
            message: tail(&format!("step '{step}': {why}")),
            outputs,
            progress: "1/1".into(),
        }
    }
}

/// The end of a long message (a stderr tail explains a crash at its end).
fn tail(message: &str) -> String {
    if message.len() <= MESSAGE_MAX {
        return message.to_string();
    }
    let mut start = message.len() - MESSAGE_MAX;
    while !message.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &message[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_attempt_and_do_not_collide_on_concatenation() {
        assert_ne!(digest(&["u", "n", "0"]), digest(&["u", "n", "1"]));
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]));
    }

    #[test]
    fn requeue_grows_with_the_running_time_within_bounds() {
        let base = Duration::from_secs(5);
        assert_eq!(requeue_after(base, Duration::from_secs(1)), base);
        assert_eq!(requeue_after(base, Duration::from_secs(24)), Duration::from_secs(12));
        assert_eq!(requeue_after(base, Duration::from_secs(3600)), Duration::from_secs(30));
    }

    #[test]
    fn long_messages_keep_their_tail() {
        let m = format!("{}END", "é".repeat(5000));
        let t = tail(&m);
        assert!(t.ends_with("END") && t.len() <= MESSAGE_MAX + 4);
    }
}
