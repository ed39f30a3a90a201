//! An emulator of Argo's agent calling an executor plugin (argo-workflows at f016ad89:
//! `workflow/executor/plugins/rpc/plugin.go`, `util/plugin/plugin.go`, `executor/agent.go`),
//! with its time constants as parameters: a client timeout (30 s in Argo), retries with
//! backoff 1 s × 2ⁿ for 5 steps on timeouts, connection errors and 503, a 404 that disables the
//! plugin, any other non-200 status fatal, and the requeue loop (`if phase == Succeeded {return
//! 0}; return requeue`). Every request it sends and every reply it gets is validated against
//! Argo's swagger (`tests/fixtures/argo/executor-plugin-swagger.yml`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// One HTTP exchange's outcome as the agent's client sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    Status(u16, String),
    /// The client gave up waiting (a `Temporary()` error in Go: retried).
    TimedOut,
    /// Connection refused or reset (retried).
    Connection(String),
}

pub async fn post(port: u16, token: Option<&str>, method: &str, path: &str, body: Vec<u8>, timeout: Duration) -> Sent {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("localhost:{port}"))
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req.body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((status, String::from_utf8_lossy(&bytes).into_owned()))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok((s, b))) => Sent::Status(s, b),
        Ok(Err(e)) => Sent::Connection(e),
        Err(_) => Sent::TimedOut,
    }
}

/// How a node ended for the agent.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The last reply's node (`None`: `{}`, "no plugin executed the template").
    pub node: Option<Value>,
    /// Every reply body, in order (requeued calls included).
    pub replies: Vec<Value>,
    /// HTTP attempts made (retries included).
    pub attempts: usize,
    /// A fatal error, as the agent would put it in the node's message.
    pub error: Option<String>,
}

impl Outcome {
    pub fn phase(&self) -> &str {
        self.node.as_ref().and_then(|n| n["phase"].as_str()).unwrap_or("")
    }

    pub fn param(&self, name: &str) -> String {
        let params = self.node.as_ref().map(|n| n["outputs"]["parameters"].clone()).unwrap_or(Value::Null);
        params
            .as_array()
            .and_then(|a| a.iter().find(|p| p["name"] == name))
            .and_then(|p| p["value"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    pub fn phases(&self) -> Vec<String> {
        self.replies.iter().map(|r| r["node"]["phase"].as_str().unwrap_or("").to_string()).collect()
    }
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub port: u16,
    pub token: String,
    pub timeout: Duration,
    /// The first backoff (Argo: 1 s), doubled for each of the 5 steps.
    pub backoff: Duration,
}

impl Agent {
    pub fn new(port: u16, token: &str) -> Agent {
        Agent { port, token: token.into(), timeout: Duration::from_secs(30), backoff: Duration::from_millis(200) }
    }

    /// One `template.execute` call as Argo's rpc client makes it: retried on timeouts,
    /// connection errors and 503, up to 5 attempts.
    pub async fn call(&self, body: &Value) -> (Result<Value, String>, usize) {
        validate("ExecuteTemplateArgs", body);
        let bytes = serde_json::to_vec(body).unwrap();
        let mut wait = self.backoff;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let sent =
                post(self.port, Some(&self.token), "POST", "/api/v1/template.execute", bytes.clone(), self.timeout)
                    .await;
            let transient = match &sent {
                Sent::Status(200, text) => {
                    let reply: Value = serde_json::from_str(text).expect("a 200 reply is JSON");
                    validate("ExecuteTemplateReply", &reply);
                    return (Ok(reply), attempts);
                }
                Sent::Status(503, _) | Sent::TimedOut | Sent::Connection(_) => true,
                Sent::Status(404, _) => return (Err("404: the plugin is disabled for this agent".into()), attempts),
                Sent::Status(s, text) => return (Err(format!("{s}: {text}")), attempts),
            };
            assert!(transient);
            if attempts >= 5 {
                return (Err(format!("gave up after {attempts} attempts: {sent:?}")), attempts);
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }

    /// Runs a node to its end as `executePluginTemplate` does: calls again after each requeue
    /// until the phase is Succeeded or no requeue comes back.
    pub async fn execute(&self, body: &Value) -> Outcome {
        let mut out = Outcome { node: None, replies: Vec::new(), attempts: 0, error: None };
        for _ in 0..10_000 {
            let (reply, attempts) = self.call(body).await;
            out.attempts += attempts;
            let reply = match reply {
                Ok(r) => r,
                Err(e) => {
                    out.error = Some(e);
                    return out;
                }
            };
            out.replies.push(reply.clone());
            out.node = reply.get("node").cloned();
            let phase = out.phase().to_string();
            if phase == "Failed" {
                assert!(reply.get("requeue").is_none(), "a Failed node must not carry requeue: {reply}");
            }
            if phase == "Succeeded" {
                return out;
            }
            match reply.get("requeue").and_then(Value::as_str).map(go_duration) {
                Some(d) if !d.is_zero() => tokio::time::sleep(d).await,
                _ => return out,
            }
        }
        panic!("the node never finished");
    }
}

/// Go's `time.ParseDuration` for the forms a server sends (`10s`, `250ms`, `1.5s`, `1m30s`).
pub fn go_duration(s: &str) -> Duration {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let v: f64 = num.parse().unwrap_or_else(|_| panic!("bad duration {s:?}"));
        total += v * match unit.as_str() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => panic!("unit {other:?} in {s:?}"),
        };
        num.clear();
    }
    assert!(num.is_empty(), "a duration ends with a unit: {s:?}");
    Duration::from_secs_f64(total)
}

/// The swagger's definitions, with every object that lists properties closed (as the strict
/// workflow schema does), and `Duration`, `IntOrString` and `Quantity` as they are on the wire.
fn definitions() -> &'static Value {
    static DEFS: OnceLock<Value> = OnceLock::new();
    DEFS.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/argo/executor-plugin-swagger.yml");
        let text = std::fs::read_to_string(path).unwrap();
        let swagger = arcaflow_py::yaml::parse_text(&text).unwrap().to_json();
        let mut defs = swagger["definitions"].clone();
        for d in defs.as_object_mut().unwrap().values_mut() {
            close(d);
        }
        defs["Duration"] = json!({"type": "string"});
        // As in the strict workflow schema: Go marshals these as a number or a string, not as
        // the structs the swagger describes.
        defs["IntOrString"] = json!({"type": ["integer", "string"]});
        defs["Quantity"] = json!({"type": ["string", "number"]});
        defs
    })
}

fn close(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else { return };
    if obj.get("properties").is_some_and(Value::is_object) && !obj.contains_key("additionalProperties") {
        obj.insert("additionalProperties".into(), Value::Bool(false));
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        props.values_mut().for_each(close);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(s) = obj.get_mut(key) {
            close(s);
        }
    }
}

/// Panics with every violation when `value` does not match the swagger definition `name`.
pub fn validate(name: &str, value: &Value) {
    let schema = json!({"$ref": format!("#/definitions/{name}"), "definitions": definitions()});
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(value).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{name} does not match Argo's swagger: {errors:#?}\n{value:#}");
}

/// A running `arcaflow-py serve-plugin`, killed (by its pid) when dropped.
pub struct Plugin {
    pub child: Child,
    pub port: u16,
    pub stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Plugin {
    /// Starts the server with `args` after the command; waits until it listens.
    pub fn start(token_file: &Path, workdir: &Path, args: &[&str]) -> Plugin {
        use std::io::BufRead;
        let mut child = Command::new(super::bin())
            .args(["serve-plugin", "--port", "0", "--token-file"])
            .arg(token_file)
            .arg("--workdir")
            .arg(workdir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::io::BufReader::new(child.stderr.take().unwrap());
        let log = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.rsplit(':').next().unwrap_or_default().trim().parse::<u16>().unwrap());
                }
                log.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let port = rx.recv_timeout(Duration::from_secs(60)).expect("serve-plugin listens");
        Plugin { child, port, stderr, reader: Some(reader) }
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for the exit code, and for the last of its stderr to be read.
    pub fn terminate(&mut self) -> i32 {
        send_signal(self.child.id() as i32, "TERM");
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        code
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kill -SIG pid` through the kill command (the test binary uses no unsafe code).
pub fn send_signal(pid: i32, sig: &str) {
    let ok = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap().success();
    assert!(ok, "kill -{sig} {pid}");
}

/// The body Argo's agent sends for a plugin template: `plugin` is already substituted.
pub fn body(uid: &str, template_name: &str, plugin: Value) -> Value {
    json!({
        "workflow": {"metadata": {"name": "wf-abc", "namespace": "argo", "uid": uid}},
        "template": {"name": template_name, "inputs": {}, "outputs": {}, "metadata": {}, "plugin": plugin},
    })
}
