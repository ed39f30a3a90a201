//! The YAML we print is read back as the same data by PyYAML (YAML 1.1) and ruamel.yaml (YAML 1.2):
//! generated strings biased toward every form a reader could retype, inside nested values.

use std::io::Write;
use std::process::{Command, Stdio};

use arcaflow_py::ui::output::{render, Format};
use arcaflow_py::value::Value;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use crate::support::yaml_readers_python;

/// Loads each case with both readers and JSON, compares with types (1 is not 1.0, not True), and
/// prints the cases that differ.
const CHECK: &str = r#"
import json, sys, yaml
from ruamel.yaml import YAML
yaml12 = YAML(typ="safe", pure=True)
def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b
bad = []
for case in json.load(sys.stdin):
    want = json.loads(case["json"])
    for name, load in (("PyYAML", yaml.safe_load), ("ruamel.yaml", yaml12.load)):
        try:
            got = load(case["yaml"])
        except Exception as e:
            got = "<error: %s>" % e
        if not same(got, want):
            bad.append({"reader": name, "yaml": case["yaml"], "got": repr(got), "want": repr(want)})
json.dump(bad[:10], sys.stdout)
"#;

/// Runs the readers over the documents and returns the differences (empty when all agree).
fn differences(values: &[Value]) -> String {
    let cases: Vec<serde_json::Value> = values
        .iter()
        .map(|v| serde_json::json!({"yaml": render(v, Format::Yaml), "json": render(v, Format::Json)}))
        .collect();
    let mut child = Command::new(yaml_readers_python())
        .args(["-c", CHECK])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let input = serde_json::to_vec(&cases).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "checker failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    if text.trim() == "[]" {
        String::new()
    } else {
        text
    }
}

/// Texts some reader takes for a non-string, and texts that are awkward to print.
const TRICKY: &[&str] = &[
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "N",
    "true",
    "False",
    "null",
    "NULL",
    "~",
    "",
    " ",
    "=",
    "<<",
    ".inf",
    "-.Inf",
    "+.INF",
    ".nan",
    ".NaN",
    "nan",
    "inf",
    "0x1F",
    "0o17",
    "0b101",
    "017",
    "08",
    "+12",
    "-0",
    "1_000",
    "1__0",
    "1e3",
    "1E+3",
    "1.5e-3",
    "1.",
    ".5",
    "-.5",
    "12:30:00",
    "-1:30",
    "190:20:30.15",
    "1:2",
    "2026-12-01",
    "2026-1-1",
    "2026-12-01T02:13:22.846368+00:00",
    "2001-12-14 21:59:43.10 -5",
    "2001-12-14t21:59:43.10-05:00",
    "2002-12-14Z",
    "- ",
    ": ",
    " #",
    "#",
    "?",
    "- x",
    "? x",
    ": x",
    "&a",
    "*a",
    "!t",
    "!!str",
    "|",
    ">",
    "%",
    "@",
    "`",
    "'",
    "\"",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "\r",
    "\t",
    "\r\n",
    "\u{85}",
    "\u{2028}",
    "\u{2029}",
    "\u{FEFF}",
    "\u{0}",
    "\u{7}",
    "\u{1b}",
    "\u{7f}",
    "\u{9f}",
    "\u{a0}",
    "\u{FFFE}",
    "\u{FFFF}",
    "é",
    "日本",
    "😀",
    "---",
    "...",
    "a: b",
    "a #b",
    "\\",
    "\\n",
    "key:",
    "http://x/y#z",
];

fn tricky_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(TRICKY).prop_map(str::to_string),
        // Keywords in any case: yEs, oFF, nULL.
        1 => (proptest::sample::select(&["yes", "no", "on", "off", "true", "false", "null", "y", "n"][..]), any::<u32>())
            .prop_map(|(w, bits)| w
                .chars()
                .enumerate()
                .map(|(i, c)| if bits >> i & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect()),
        2 => "[-+]?[0-9_]{1,6}([.:][0-9_]{0,3}){0,3}([eE][-+]?[0-9]{1,2})?",
        1 => "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,6})? ?(Z|[-+][0-9]{1,2}(:[0-9]{2})?)?)?",
        2 => "[a-zA-Z ]{1,6}",
        2 => any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..4).prop_map(|p| p.concat())
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        6 => tricky_string().prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::Int),
        1 => any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite()).prop_map(Value::Float),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ];
    leaf.prop_recursive(3, 40, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            proptest::collection::btree_map(tricky_string(), inner, 0..5).prop_map(|m| Value::map_from(m.into_iter())),
        ]
    })
}

#[test]
fn printed_yaml_reads_back_as_the_json_document_in_yaml_1_1_and_1_2() {
    let cases: usize = std::env::var("YAML_READER_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(3000);
    let mut runner = TestRunner::default();
    let strategy = value();
    let values: Vec<Value> = (0..cases)
        .map(|_| {
            let v = strategy.new_tree(&mut runner).unwrap().current();
            // Documents are maps, as our results are; the top-level value is one entry.
            Value::map_from([("output_data", v), ("output_id", Value::String("success".into()))])
        })
        .collect();
    // Our own reader must agree too.
    for v in &values {
        let back = Value::from_yaml(&arcaflow_py::yaml::parse_text(&render(v, Format::Yaml)).unwrap());
        assert_eq!(&back, v, "our reader differs on:\n{}", render(v, Format::Yaml));
    }
    let diff = differences(&values);
    assert!(diff.is_empty(), "readers read other data than the JSON document: {diff}");
}

#[test]
fn every_tricky_text_alone_and_as_a_key() {
    let mut values: Vec<Value> = TRICKY
        .iter()
        .map(|s| {
            Value::map_from([
                (*s, Value::String(s.to_string())),
                ("v", Value::List(vec![Value::String(s.to_string())])),
            ])
        })
        .collect();
    let long_key = "k".repeat(2000);
    values.push(Value::map_from([(long_key.as_str(), Value::Int(1))]));
    values.push(Value::map_from([("multi", Value::String("line one\n  indented\n\nlast\n".into()))]));
    values.push(Value::map_from([("f", Value::Float(1e20)), ("g", Value::Float(-2.5e-300)), ("h", Value::Float(3.0))]));
    let diff = differences(&values);
    assert!(diff.is_empty(), "readers read other data than the JSON document: {diff}");
}

/// Our reader reads real files as libyaml does: every document of Argo's example manifests (199
/// files written by people, several with flow content indented no deeper than its key) gives the
/// same data as PyYAML, the libyaml-family reader most users' tools use.
#[test]
fn argo_examples_read_as_pyyaml_reads_them() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/argo/examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let ours: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            match arcaflow_py::argo::yamlio::documents(&text) {
                Ok(docs) => serde_json::json!({"file": f.to_string_lossy(), "docs": docs}),
                Err(e) => serde_json::json!({"file": f.to_string_lossy(), "error": e}),
            }
        })
        .collect();
    // PyYAML reads YAML 1.1 (yes/no, 0755, timestamps) where we read 1.2: scalars of either kind
    // compare equal, text compares exactly.
    const COMPARE: &str = r#"
import json, sys, yaml, datetime
def norm(v):
    if isinstance(v, dict): return {str(k): norm(x) for k, x in v.items()}
    if isinstance(v, list): return [norm(x) for x in v]
    if isinstance(v, (datetime.date, datetime.datetime)): return "<scalar>"
    if isinstance(v, bool) or isinstance(v, (int, float)): return "<scalar>"
    if isinstance(v, str) and "\n" not in v:
        try:
            if not isinstance(yaml.safe_load(v), str): return "<scalar>"
        except Exception:
            pass
    return v
bad = []
for case in json.load(sys.stdin):
    text = open(case["file"]).read()
    try:
        theirs = [d for d in yaml.safe_load_all(text) if d is not None]
    except Exception as e:
        theirs = "<error>"
    ours = case.get("docs", "<error>")
    if theirs == "<error>" or ours == "<error>":
        if theirs != ours: bad.append((case["file"], "pyyaml" if theirs == "<error>" else case.get("error")))
        continue
    if norm(theirs) != norm(ours): bad.append((case["file"], "data differs"))
json.dump(bad, sys.stdout)
"#;
    let mut child = Command::new(yaml_readers_python())
        .args(["-c", COMPARE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let input = serde_json::to_vec(&ours).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "checker failed: {}", String::from_utf8_lossy(&out.stderr));
    let bad: Vec<(String, String)> = serde_json::from_slice(&out.stdout).unwrap();
    // PyYAML keeps the last of two equal keys; we refuse them, as Go's YAML readers (the
    // reference engine's) do.
    let bad: Vec<_> = bad.into_iter().filter(|(f, _)| !f.ends_with("k8s-patch-json-workflow.yaml")).collect();
    assert!(files.len() > 150, "{}", files.len());
    assert!(bad.is_empty(), "{bad:#?}");
}
