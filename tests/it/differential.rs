//! The differential suite (issue 14): fixture workflows run under arcaflow-py and under the
//! reference engine (PyPI `arcaflow==0.21.0`, the Go binary inside the wheel, installed by
//! `scripts/test` into `target/tools`) with identical files. Both output documents are read back
//! with PyYAML and must be equal, and so must the exit codes, except for the deliberate
//! deviations listed in the README, each encoded here as a [`Deviation`].
//!
//! The plugin is `tests/fixtures/difftest` (real `arcaflow-plugin-sdk`), committed to a git
//! repository and served over smart HTTP on a loopback address at port 80: the reference's python
//! deployer accepts only port-less URLs (so the suite needs root, as CI has). Venvs of both
//! engines are kept in `target/tmp/differential` between runs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value as J;

use crate::support::git_http::GitHttpServer;
use crate::support::{bin, git};

const PLUGIN: &str = "arcaflow-plugin-difftest";

/// What the suite shares: the engines, the served plugin and the config both engines read.
struct Env {
    reference: PathBuf,
    /// A python with PyYAML (the tools venv of scripts/test).
    yaml_python: PathBuf,
    /// `arcaflow-plugin-difftest@git+http://127.x.y.z/difftest@<sha>`
    spec: String,
    /// The config both engines read (the reference's workdir is in it; arcaflow-py gets `--workdir`).
    config: String,
    ours_workdir: PathBuf,
    _server: GitHttpServer,
}

fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools")
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let reference = tools().join("reference/arcaflow");
        let yaml_python = tools().join("venv/bin/python");
        assert!(
            reference.exists() && yaml_python.exists(),
            "the reference engine is not installed in {}: run scripts/test (it installs arcaflow==0.21.0 and PyYAML there)",
            tools().display()
        );
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("differential");
        let reference_workdir = root.join("reference-workdir");
        let ours_workdir = root.join("ours-workdir");
        tidy(&root, &reference_workdir);
        let repos = root.join(format!("repos-{}", std::process::id()));
        let _ = fs::remove_dir_all(&repos);
        let repo = repos.join("difftest");
        copy_fixture(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/difftest"), &repo);
        git(&repo, &["-c", "init.defaultBranch=main", "init", "-q"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "difftest plugin"]);
        let head = git(&repo, &["rev-parse", "HEAD"]);
        let server = serve_on_port_80(&repos);
        let spec = format!("{PLUGIN}@git+{}@{head}", server.url("difftest"));
        let python = String::from_utf8(
            Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().unwrap().stdout,
        )
        .unwrap()
        .trim()
        .to_string();
        fs::create_dir_all(&reference_workdir).unwrap();
        let config = format!(
            "deployers:\n  python:\n    deployer_name: python\n    modulePullPolicy: IfNotPresent\n    pythonPath: {python}\n    workdir: {}\nlog:\n  level: info\n",
            reference_workdir.display()
        );
        let env = Env { reference, yaml_python, spec, config, ours_workdir, _server: server };
        // Build both venvs once, before cases run in parallel: the reference does not lock its
        // workdir, so concurrent first runs would install into the same venv at once.
        let mut warm = env.run_both(&echo_only_workflow(&env.spec), None, &[]);
        if warm.reference.code != 0 {
            // The reference keeps a venv whose install was interrupted and uses it for ever
            // (README, deliberate differences): start its workdir over once.
            let _ = fs::remove_dir_all(&reference_workdir);
            fs::create_dir_all(&reference_workdir).unwrap();
            warm = env.run_both(&echo_only_workflow(&env.spec), None, &[]);
        }
        assert_eq!(
            (warm.reference.code, warm.ours.code),
            (0, 0),
            "warm-up runs failed\nreference stderr:\n{}\nours stderr:\n{}",
            warm.reference.stderr,
            warm.ours.stderr
        );
        env
    })
}

/// Removes what earlier runs left and no run can still use (older than an hour, so parallel
/// test processes keep theirs): their served repositories, and the empty directory the reference
/// engine creates (and never removes) for every plugin start in its connector directory.
fn tidy(root: &Path, reference_workdir: &Path) {
    let old = |p: &Path| {
        fs::metadata(p)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(3600))
    };
    for entry in fs::read_dir(root).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with("repos-") && old(&entry.path()) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    for connector in fs::read_dir(reference_workdir).into_iter().flatten().flatten() {
        for entry in fs::read_dir(connector.path()).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.bytes().all(|b| b.is_ascii_digit()) && old(&entry.path()) {
                let _ = fs::remove_dir(entry.path()); // only when empty
            }
        }
    }
}

fn copy_fixture(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        let n = name.to_string_lossy();
        if n == "__pycache__" || n.ends_with(".egg-info") || n == "build" {
            continue;
        }
        if entry.path().is_dir() {
            copy_fixture(&entry.path(), &to.join(&name));
        } else {
            fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// Binds port 80 on a loopback address no other process uses (other test runs may hold one).
fn serve_on_port_80(repos: &Path) -> GitHttpServer {
    let mut last = None;
    for n in 1..=40u32 {
        let address = format!("127.80.{}.{}:80", std::process::id() % 200, n);
        match GitHttpServer::start_on(repos, &address) {
            Ok(server) => return server,
            Err(e) => last = Some(e),
        }
    }
    panic!(
        "cannot bind port 80 on a loopback address ({:?}); the reference engine accepts only port-less git URLs, so the differential suite needs root",
        last
    )
}

fn echo_only_workflow(spec: &str) -> String {
    format!(
        r#"version: v0.2.0
input: {{root: In, objects: {{In: {{id: In, properties: {{}}}}}}}}
steps:
  e:
    plugin: {{deployment_type: python, src: "{spec}"}}
    step: echo
    input: {{msg: warm}}
outputs:
  success: {{m: !expr $.steps.e.outputs.success.msg}}
"#
    )
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

struct Both {
    reference: Ran,
    ours: Ran,
    /// Both stdout documents as PyYAML reads them (`null` for an empty stdout); values PyYAML
    /// turns into non-JSON types (datetime, date) show as their Python repr.
    reference_doc: J,
    ours_doc: J,
}

impl Env {
    /// Runs both engines on `workflow` (+ `files`, + `input`) in one context directory each.
    fn run_both(&self, workflow: &str, input: Option<&str>, files: &[(&str, &str)]) -> Both {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        };
        write("workflow.yaml", &workflow.replace("SPEC", &self.spec));
        write("config.yaml", &self.config);
        for (name, text) in files {
            write(name, &text.replace("SPEC", &self.spec));
        }
        if let Some(input) = input {
            write("input.yaml", input);
        }
        let mut reference = Command::new(&self.reference);
        reference.args(["-config", "config.yaml", "-context"]).arg(dir.path()).args(["-workflow", "workflow.yaml"]);
        let mut ours = Command::new(bin());
        ours.args(["run", "--config", "config.yaml", "--context"])
            .arg(dir.path())
            .args(["--workflow", "workflow.yaml", "--workdir"])
            .arg(&self.ours_workdir);
        if input.is_some() {
            reference.args(["-input", "input.yaml"]);
            ours.args(["--input", "input.yaml"]);
        }
        let reference = run(reference, dir.path());
        let ours = run(ours, dir.path());
        fs::write(dir.path().join("reference.out"), &reference.stdout).unwrap();
        fs::write(dir.path().join("ours.out"), &ours.stdout).unwrap();
        let read = Command::new(&self.yaml_python)
            .arg("-c")
            .arg(READ_BACK)
            .arg(dir.path().join("reference.out"))
            .arg(dir.path().join("ours.out"))
            .output()
            .unwrap();
        assert!(
            read.status.success(),
            "PyYAML cannot read an output document: {}\nreference stdout:\n{}\nours stdout:\n{}",
            String::from_utf8_lossy(&read.stderr),
            reference.stdout,
            ours.stdout
        );
        let docs: Vec<J> = serde_json::from_slice(&read.stdout).unwrap();
        Both { reference, ours, reference_doc: docs[0].clone(), ours_doc: docs[1].clone() }
    }
}

/// Reads both documents with PyYAML's safe loader (what a Python user of the output does).
const READ_BACK: &str = r#"
import json, sys, yaml
def load(path):
    text = open(path).read()
    return yaml.safe_load(text) if text.strip() else None
print(json.dumps([load(sys.argv[1]), load(sys.argv[2])], default=repr))
"#;

/// Runs a command in `cwd` with a generous bound: a hung engine fails the test instead of the run.
fn run(mut cmd: Command, cwd: &Path) -> Ran {
    let out_dir = tempfile::tempdir().unwrap();
    let (out, err) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let mut child = cmd
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish in 300 s\nstderr:\n{}", fs::read_to_string(&err).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: fs::read_to_string(&out).unwrap(),
        stderr: fs::read_to_string(&err).unwrap(),
    }
}

impl Both {
    fn report(&self) -> String {
        format!(
            "reference: exit {}\n{}\nstderr (last lines):\n{}\n\narcaflow-py: exit {}\n{}\nstderr (last lines):\n{}",
            self.reference.code,
            self.reference.stdout,
            tail(&self.reference.stderr),
            self.ours.code,
            self.ours.stdout,
            tail(&self.ours.stderr)
        )
    }

    /// Same exit code, and the same document as PyYAML reads it.
    #[track_caller]
    fn assert_same(&self, code: i32) -> &Self {
        assert_eq!((self.reference.code, self.ours.code), (code, code), "exit codes\n{}", self.report());
        assert_eq!(self.reference_doc, self.ours_doc, "documents read back by PyYAML differ\n{}", self.report());
        self
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// A deliberate difference, named by its README row ("Where we deliberately differ"): each
/// engine's exit code, and what arcaflow-py's document must be (the reference's is not ours to fix).
struct Deviation {
    readme: &'static str,
    reference_code: i32,
    ours_code: i32,
}

impl Deviation {
    #[track_caller]
    fn assert(&self, both: &Both) {
        assert_eq!(
            (both.reference.code, both.ours.code),
            (self.reference_code, self.ours_code),
            "deviation '{}': exit codes changed\n{}",
            self.readme,
            both.report()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// cases

const GREET_INPUT_NAMESPACED: &str = r#"version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        params:
          type: {type_id: ref, id: GreetInput, namespace: $.steps.greet.starting.inputs.input}
steps:
  greet:
    plugin: {deployment_type: python, src: "SPEC"}
    step: greet
    input: !expr $.input.params
outputs:
  success:
    message: !expr $.steps.greet.outputs.success.message
"#;

#[test]
fn differential_namespaced_scope_forwards_a_whole_plugin_input() {
    let both = env().run_both(
        GREET_INPUT_NAMESPACED,
        Some("params:\n  name: {_type: fullname, first_name: Arca, last_name: Lot}\n  greeting: Hi\n"),
        &[],
    );
    both.assert_same(0);
    assert_eq!(both.ours_doc["output_data"]["message"], "Hi, Arca Lot!");
}

#[test]
fn differential_namespaced_scope_rejects_an_input_that_breaks_the_borrowed_object() {
    let both =
        env().run_both(GREET_INPUT_NAMESPACED, Some("params:\n  name: {_type: nickname, nick: 'two words'}\n"), &[]);
    both.assert_same(3);
    assert_eq!(both.ours_doc, J::Null);
}

#[test]
fn differential_namespaced_ref_to_an_object_the_namespace_lacks() {
    let both = env().run_both(&GREET_INPUT_NAMESPACED.replace("id: GreetInput", "id: Nope"), Some("params: {}\n"), &[]);
    Deviation {
        readme: "a namespaced ref to an object the namespace lacks panics (exit 2)",
        reference_code: 2,
        ours_code: 1,
    }
    .assert(&both);
    assert!(both.ours.stderr.contains("has no object 'Nope'"), "{}", both.report());
}

#[test]
fn differential_namespace_that_does_not_exist() {
    let both = env().run_both(
        &GREET_INPUT_NAMESPACED.replace("starting.inputs.input", "starting.inputs.nope"),
        Some("params: {}\n"),
        &[],
    );
    both.assert_same(1);
}

const BIND_SUB: &str = r#"version: v0.2.0
input:
  root: Both
  objects:
    Both:
      id: Both
      properties:
        item:
          type: {type_id: ref, id: Nickname, namespace: $.steps.greet.starting.inputs.input}
        constant:
          type: {type_id: ref, id: EchoInput, namespace: $.steps.echo.starting.inputs.input}
steps:
  greet:
    plugin: {deployment_type: python, src: "SPEC"}
    step: greet
    input:
      name: {_type: nickname, nick: !expr $.input.item.nick}
  echo:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: !expr $.input.constant
outputs:
  success:
    greeting: !expr $.steps.greet.outputs.success.message
    echoed: !expr $.steps.echo.outputs.success.repeated
"#;

/// The shape of arcaflow-workflows' stressng-pcp example: the sub-workflow borrows plugin
/// objects, the parent borrows them again through `…execute.inputs.items.item` / `.constant`.
#[test]
fn differential_bind_constants_with_item_and_constant_namespaces() {
    let both = env().run_both(
        r#"version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        names:
          type:
            type_id: list
            items: {type_id: ref, id: Nickname, namespace: $.steps.loop.execute.inputs.items.item}
        common:
          type: {type_id: ref, id: EchoInput, namespace: $.steps.loop.execute.inputs.items.constant}
steps:
  loop:
    kind: foreach
    workflow: sub.yaml
    items: !expr 'bindConstants($.input.names, $.input.common)'
    parallelism: 2
outputs:
  success:
    results: !expr $.steps.loop.outputs.success.data
"#,
        Some("names: [{nick: John}, {nick: Paul}, {nick: George}]\ncommon: {msg: Beatle, count: 2}\n"),
        &[("sub.yaml", BIND_SUB)],
    );
    both.assert_same(0);
    assert_eq!(both.ours_doc["output_data"]["results"][2]["greeting"], "Hello, George!");
}

/// The shape of arcaflow-workflows' bind-constants example: the sub-workflow declares its
/// objects, the parent borrows them from `…execute.inputs.items`.
#[test]
fn differential_bind_constants_with_the_sub_workflows_own_objects() {
    let sub = r#"version: v0.2.0
input:
  root: Pair
  objects:
    Pair:
      id: Pair
      properties:
        constant: {type: {type_id: ref, id: Band}}
        item: {type: {type_id: ref, id: Member}}
    Band:
      id: Band
      properties:
        band: {type: {type_id: string}}
    Member:
      id: Member
      properties:
        nick: {type: {type_id: string}}
        loop_id: {type: {type_id: integer}}
steps:
  greet:
    plugin: {deployment_type: python, src: "SPEC"}
    step: greet
    input:
      name: {_type: nickname, nick: !expr $.input.item.nick}
      greeting: !expr $.input.constant.band
outputs:
  success:
    loop_id: !expr $.input.item.loop_id
    message: !expr $.steps.greet.outputs.success.message
"#;
    let both = env().run_both(
        r#"version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        band:
          type: {type_id: ref, id: Band, namespace: $.steps.loop.execute.inputs.items}
        members:
          type:
            type_id: list
            items: {type_id: ref, id: Member, namespace: $.steps.loop.execute.inputs.items}
steps:
  loop:
    kind: foreach
    workflow: sub.yaml
    items: !expr 'bindConstants($.input.members, $.input.band)'
outputs:
  success:
    all: !expr $.steps.loop.outputs.success.data
"#,
        Some("band: {band: Beatle}\nmembers: [{nick: Ringo, loop_id: 4}, {nick: John, loop_id: 1}]\n"),
        &[("sub.yaml", sub)],
    );
    both.assert_same(0);
    assert_eq!(both.ours_doc["output_data"]["all"][0]["message"], "Beatle, Ringo!");
}

#[test]
fn differential_foreach_collects_item_outputs_in_order_and_reports_a_failed_item() {
    let sub = r#"version: v0.2.0
input:
  root: Item
  objects:
    Item:
      id: Item
      properties:
        msg: {type: {type_id: string}}
        fail: {type: {type_id: bool}, required: false, default: "false"}
steps:
  echo:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: !expr $.input.msg, fail: !expr $.input.fail, count: 2}
outputs:
  success:
    repeated: !expr $.steps.echo.outputs.success.repeated
"#;
    let workflow = r#"version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        items:
          type: {type_id: list, items: {type_id: ref, id: Item, namespace: $.steps.loop.execute.inputs.items}}
steps:
  loop:
    kind: foreach
    workflow: sub.yaml
    items: !expr $.input.items
    parallelism: 2
outputs:
  success:
    data: !expr $.steps.loop.outputs.success.data
"#;
    let both = env().run_both(workflow, Some("items: [{msg: a}, {msg: b}, {msg: c}]\n"), &[("sub.yaml", sub)]);
    both.assert_same(0);
    assert_eq!(both.ours_doc["output_data"]["data"][1]["repeated"], serde_json::json!(["b", "b"]));
    // One item ends on its error output: the foreach fails and nothing else can be printed.
    let both = env().run_both(workflow, Some("items: [{msg: a}, {msg: b, fail: true}]\n"), &[("sub.yaml", sub)]);
    both.assert_same(3);
}

#[test]
fn differential_error_output_exits_2_with_its_data() {
    let workflow = r#"version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        fail: {type: {type_id: bool}}
steps:
  echo:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: careful, fail: !expr $.input.fail}
outputs:
  success:
    msg: !expr $.steps.echo.outputs.success.msg
  error:
    reason: !expr $.steps.echo.outputs.error.error
"#;
    let both = env().run_both(workflow, Some("fail: true\n"), &[]);
    both.assert_same(2);
    assert_eq!(
        both.ours_doc,
        serde_json::json!({"output_id": "error", "output_data": {"reason": "asked to fail: careful"}})
    );
    env().run_both(workflow, Some("fail: false\n"), &[]).assert_same(0);
}

#[test]
fn differential_disabled_step_message_through_ordisabled() {
    let both = env().run_both(
        r#"version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        run: {type: {type_id: bool}}
steps:
  a:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: maybe}
    enabled: !expr $.input.run
outputs:
  success:
    result: !ordisabled $.steps.a.outputs.success
"#,
        Some("run: false\n"),
        &[],
    );
    both.assert_same(0);
    assert_eq!(both.ours_doc["output_data"]["result"]["message"], "Step a/echo disabled");
}

#[test]
fn differential_literal_step_input_that_breaks_the_schema_is_an_invalid_workflow() {
    for input in ["{msg: x, count: 9}", "{msg: x, colour: red}", "{count: 2}", "{msg: x, count: many}"] {
        let both = env().run_both(
            &format!(
                "version: v0.2.0\ninput: {{root: In, objects: {{In: {{id: In, properties: {{}}}}}}}}\nsteps:\n  echo:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: echo\n    input: {input}\noutputs:\n  success: {{m: !expr $.steps.echo.outputs.success.msg}}\n"
            ),
            None,
            &[],
        );
        both.assert_same(1);
        assert!(both.ours.stderr.contains("steps -> echo -> input"), "{input}\n{}", both.report());
    }
}

#[test]
fn differential_step_input_from_the_workflow_input_that_breaks_the_schema_fails_the_run() {
    let both = env().run_both(
        r#"version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        n: {type: {type_id: integer}}
steps:
  echo:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: x, count: !expr $.input.n}
outputs:
  success: {m: !expr $.steps.echo.outputs.success.msg}
"#,
        Some("n: 9\n"),
        &[],
    );
    both.assert_same(3);
}

#[test]
fn differential_invalid_workflow_input() {
    let both =
        env().run_both(GREET_INPUT_NAMESPACED, Some("params: {name: {_type: nickname, nick: X}, extra: 1}\n"), &[]);
    both.assert_same(3);
}

/// Strings that YAML 1.1 readers (PyYAML) take for timestamps, numbers or booleans must come
/// back as the strings the plugin returned, keys included (arcaflow-py's emitter, src/yaml/emit.rs).
///
/// The reference quotes most of them, but not all: it prints `sexagesimal: 12:30:00` (PyYAML:
/// 45000), `off: Off` and `yes: yes` (PyYAML: `False: False`, `True: True`), and `y: y`, `n: n`
/// (booleans for Go yaml.v2 and Ruby) plain. That part is a deviation in our favour,
/// asserted below so a change in the reference shows.
#[test]
fn differential_yaml_1_1_looking_strings_survive_pyyaml() {
    let both = env().run_both(
        r#"version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  s:
    plugin: {deployment_type: python, src: "SPEC"}
    step: strings
    input: {}
outputs:
  success: !expr $.steps.s.outputs.success
"#,
        None,
        &[],
    );
    // What the plugin returned (tests/fixtures/difftest `strings`), as JSON.
    let returned = serde_json::json!({
        "timestamp": "2026-12-01T02:13:22.846368+00:00", "date": "2026-12-01", "sexagesimal": "12:30:00",
        "underscored": "1_000", "off": "Off", "yes": "yes", "y": "y", "n": "n", "null": "null", "tilde": "~",
        "octal": "0o17", "hexadecimal": "0x1F", "infinity": ".inf", "not_a_number": ".NaN", "exponent": "1e3",
        "empty": "", "integer": 7, "real": 2.5, "flag": true,
    });
    assert_eq!((both.reference.code, both.ours.code), (0, 0), "{}", both.report());
    assert_eq!(
        both.ours_doc,
        serde_json::json!({"output_id": "success", "output_data": returned}),
        "{}",
        both.report()
    );
    // The reference's own YAML 1.1 slips (json.dumps shows PyYAML's bool keys as "false"/"true").
    let mut reference_reads = returned.clone();
    let fields = reference_reads.as_object_mut().unwrap();
    fields.insert("sexagesimal".into(), serde_json::json!(45000));
    fields.remove("off");
    fields.remove("yes");
    fields.insert("false".into(), serde_json::json!(false));
    fields.insert("true".into(), serde_json::json!(true));
    Deviation {
        readme: "prints `12:30:00`, `Off`, `yes`, `y`, `n` (values and keys) unquoted",
        reference_code: 0,
        ours_code: 0,
    }
    .assert(&both);
    assert_eq!(both.reference_doc["output_data"], reference_reads, "{}", both.report());
}

/// The reference reads every YAML scalar as text, so a literal `enabled: true` is the string
/// "true" and disables the step; arcaflow-py keeps YAML types and runs it.
#[test]
fn differential_literal_enabled_true() {
    let both = env().run_both(
        r#"version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  a:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: ran}
    enabled: true
outputs:
  success:
    result: !ordisabled $.steps.a.outputs.success
"#,
        None,
        &[],
    );
    Deviation {
        readme: "every YAML scalar is a string, so `enabled: true` *disables* a step",
        reference_code: 0,
        ours_code: 0,
    }
    .assert(&both);
    assert_eq!(both.reference_doc["output_data"]["result"]["result"], "disabled", "{}", both.report());
    assert_eq!(both.ours_doc["output_data"]["result"]["result"], "enabled", "{}", both.report());
}

/// The shape of arcaflow-workflows' quoting example: a literal `items` list whose elements hold
/// string literals with every quoting style of the expression language.
#[test]
fn differential_literal_items_with_quoted_string_literals() {
    let sub = r#"version: v0.2.0
input:
  root: Sub
  objects:
    Sub:
      id: Sub
      properties:
        name: {type: {type_id: string}}
steps:
  echo:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: !expr $.input.name}
outputs:
  success:
    name: !expr $.steps.echo.outputs.success.msg
"#;
    let workflow = r#"version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  loop:
    kind: foreach
    workflow: sub.yaml
    items:
      - name: !expr '"Here''s an apostrophe and \"embedded quotes\"."'
      - name: !expr "'Here\\'s an apostrophe and \"embedded quotes\".'"
      - name: !expr |-
          'Here\'s an apostrophe and "embedded quotes".'
      - name: !expr '`Here''s a raw \n string`'
      - name: plain text, no expression
outputs:
  success:
    names: !expr $.steps.loop.outputs.success.data
"#;
    let both = env().run_both(workflow, None, &[("sub.yaml", sub)]);
    both.assert_same(0);
    assert_eq!(both.ours_doc["output_data"]["names"][0]["name"], "Here's an apostrophe and \"embedded quotes\".");
    assert_eq!(both.ours_doc["output_data"]["names"][3]["name"], "Here's a raw \\n string");
}

/// Data passed along a chain, a `wait_for` on a whole output stage and one on `starting.started`
/// (the serial-data_passing and serial-wait_for examples).
#[test]
fn differential_chained_steps_with_wait_for() {
    let both = env().run_both(
        r#"version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        nick: {type: {type_id: string}}
        times: {type: {type_id: integer}, required: false, default: "2"}
steps:
  first:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: !expr $.input.nick, count: !expr $.input.times}
  second:
    plugin: {deployment_type: python, src: "SPEC"}
    step: greet
    input:
      name: {_type: nickname, nick: !expr $.steps.first.outputs.success.msg}
      greeting: Howdy
    wait_for: !expr $.steps.first.outputs
  third:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: after start}
    wait_for: !expr $.steps.second.starting.started
outputs:
  success:
    repeated: !expr $.steps.first.outputs.success.repeated
    greeting: !expr $.steps.second.outputs.success.message
    third: !expr $.steps.third.outputs.success.length
"#,
        Some("nick: Arca\n"),
        &[],
    );
    both.assert_same(0);
    assert_eq!(both.ours_doc["output_data"]["greeting"], "Howdy, Arca!");
}

#[test]
fn differential_disabled_foreach_message() {
    let sub = r#"version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  echo:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: x}
outputs:
  success: {m: !expr $.steps.echo.outputs.success.msg}
"#;
    let both = env().run_both(
        r#"version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        run: {type: {type_id: bool}}
steps:
  loop:
    kind: foreach
    workflow: sub.yaml
    items: [{}]
    enabled: !expr $.input.run
outputs:
  success:
    result: !ordisabled $.steps.loop.outputs.success
"#,
        Some("run: false\n"),
        &[("sub.yaml", sub)],
    );
    both.assert_same(0);
    assert_eq!(both.ours_doc["output_data"]["result"]["message"], "Step foreach loop disabled");
}

#[test]
fn differential_reference_to_a_missing_step_is_an_invalid_workflow() {
    let both = env().run_both(
        r#"version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  echo:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: x}
outputs:
  success: {m: !expr $.steps.nope.outputs.success.msg}
"#,
        None,
        &[],
    );
    both.assert_same(1);
}

/// A failed foreach offers `failed.error` with the items' data and messages. The reference's
/// schema calls the messages `errors` but its data says `messages`, so reading it fails there.
#[test]
fn differential_foreach_failure_output() {
    let sub = r#"version: v0.2.0
input:
  root: Item
  objects:
    Item:
      id: Item
      properties:
        fail: {type: {type_id: bool}}
steps:
  echo:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: item, fail: !expr $.input.fail}
outputs:
  success: {m: !expr $.steps.echo.outputs.success.msg}
"#;
    let both = env().run_both(
        r#"version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  loop:
    kind: foreach
    workflow: sub.yaml
    items: [{fail: false}, {fail: true}]
outputs:
  success: {d: !expr $.steps.loop.outputs.success.data}
  failed: {failure: !expr $.steps.loop.failed.error}
"#,
        None,
        &[("sub.yaml", sub)],
    );
    Deviation { readme: "foreach failure output emits `messages`", reference_code: 3, ours_code: 0 }.assert(&both);
    let failure = &both.ours_doc["output_data"]["failure"];
    assert_eq!(both.ours_doc["output_id"], "failed");
    assert_eq!(failure["data"]["0"]["m"], "item", "{}", both.report());
    assert!(failure["errors"]["1"].is_string(), "{}", both.report());
}

/// The reference reads every YAML scalar as text, so a plain `5` in an output is the string "5";
/// arcaflow-py keeps the YAML type.
#[test]
fn differential_plain_scalars_in_outputs() {
    let both = env().run_both(
        r#"version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  echo:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: x}
outputs:
  success:
    m: !expr $.steps.echo.outputs.success.msg
    five: 5
    text: plain
"#,
        None,
        &[],
    );
    Deviation {
        readme: "every YAML scalar is a string, so `enabled: true` *disables* a step",
        reference_code: 0,
        ours_code: 0,
    }
    .assert(&both);
    let data = |d: &J| (d["output_data"]["five"].clone(), d["output_data"]["text"].clone());
    assert_eq!(data(&both.reference_doc), (J::from("5"), J::from("plain")), "{}", both.report());
    assert_eq!(data(&both.ours_doc), (J::from(5), J::from("plain")), "{}", both.report());
}

fn typed_chain(second_msg: &str) -> String {
    format!(
        r#"version: v0.2.0
input: {{root: In, objects: {{In: {{id: In, properties: {{}}}}}}}}
steps:
  first:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: one}}
  second:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: {second_msg}}}
outputs:
  success: {{m: !expr $.steps.second.outputs.success.msg}}
"#
    )
}

#[test]
fn differential_expression_of_a_type_the_field_can_never_take_is_an_invalid_workflow() {
    let both = env().run_both(&typed_chain("!expr $.steps.first.outputs.success"), None, &[]);
    both.assert_same(1);
    assert!(both.ours.stderr.contains("which can never be a string"), "{}", both.report());
}

/// The reference refuses an integer expression for a string field at load; arcaflow-py converts
/// it, as it converts a literal integer.
#[test]
fn differential_integer_expression_for_a_string_field() {
    let both = env().run_both(&typed_chain("!expr $.steps.first.outputs.success.length"), None, &[]);
    Deviation {
        readme: "an integer expression for a string field is an invalid workflow",
        reference_code: 1,
        ours_code: 0,
    }
    .assert(&both);
    assert_eq!(both.ours_doc["output_data"]["m"], "3", "{}", both.report());
}
