//! "Never panics" properties for the readers of files we do not fully control (issue 13, item 5):
//! the config, a workflow input, run-state files, and the cache's own files (`current`,
//! `meta.json`, `last-used`, `arcaflow-source`) as `cache list` and `cache size` read them. Each
//! reader gets arbitrary bytes and real-shaped files whose values are numeric extremes. (The
//! workflow file, `schema.cbor` and the ATP stream have their own properties: see RELIABILITY.md.)

use std::path::Path;

use proptest::prelude::*;

use crate::config::Config;
use crate::ui::Printer;
use crate::workdir::Workdir;

fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Numbers (and a few non-numbers) at and beyond the edges of what the fields hold.
const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1e20",
    "9.3e18",
    "-1e308",
    "1e308",
    "5e-324",
    ".nan",
    ".inf",
    "-.inf",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "340282366920938463463374607431768211456",
    "'12'",
    "[]",
    "{}",
    "null",
    "true",
];

fn extreme() -> impl Strategy<Value = String> {
    prop::sample::select(EXTREMES).prop_map(str::to_string)
}

/// A config whose numeric fields hold extremes.
fn config_text() -> impl Strategy<Value = String> {
    (extreme(), extreme(), extreme(), extreme(), extreme(), any::<u8>()).prop_map(|(a, b, c, d, e, pick)| {
        let mut parts = Vec::new();
        if pick & 1 != 0 {
            parts.push(format!("maxStepTimeout: {a}"));
        }
        if pick & 2 != 0 {
            parts.push(format!("deployers:\n  python:\n    deployer_name: python\n    pluginStartupTimeout: {b}"));
        }
        if pick & 4 != 0 {
            parts.push(format!("limits: {{maxFileBytes: {c}, maxDepth: {d}, maxNodes: {e}, maxAliasNodes: {a}}}"));
        }
        if pick & 8 != 0 {
            parts.push(format!("log: {{level: {c}}}"));
        }
        parts.join("\n") + "\n"
    })
}

fn workdir(dir: &Path) -> Workdir {
    Workdir::open(dir.join("wd")).expect("workdir")
}

/// A cache entry with one build whose files hold `current`, `meta`, `last_used`, `source`.
fn cache_with(wd: &Workdir, current: &[u8], meta: &[u8], last_used: &[u8], source: &[u8]) {
    let entry = wd.venvs_dir().join("plugin-0123456789abcdef");
    let build = entry.join("b1700000000000000000-42");
    std::fs::create_dir_all(build.join("venv")).expect("build");
    std::fs::write(entry.join("current"), current).expect("current");
    std::fs::write(build.join("meta.json"), meta).expect("meta");
    std::fs::write(build.join("last-used"), last_used).expect("last-used");
    let mirror = wd.git_dir().join("0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(&mirror).expect("mirror");
    std::fs::write(mirror.join("arcaflow-source"), source).expect("source");
}

fn list_and_size(wd: &Workdir) {
    let quiet = Printer::new(-1);
    let _ = crate::cache::list(wd.root(), false, &quiet);
    let _ = crate::cache::list(wd.root(), true, &quiet);
    for format in [crate::cache::SizeFormat::Human, crate::cache::SizeFormat::Json] {
        let _ = crate::cache::size(wd.root(), format, &quiet);
    }
}

/// A real-shaped `meta.json` with extreme numbers in its numeric fields.
fn meta_json(created_unix: &str, created_ms: &str, format: &str, seconds: &str) -> String {
    format!(
        r#"{{"format": {format}, "name": "plugin", "module": "plugin", "source": "local:/x", "commit": null, "subdirectory": null, "python": "/usr/bin/python3", "python_version": "3.11.2", "installer": "uv", "created_unix": {created_unix}, "compatible": true, "created_ms": {created_ms}, "build_seconds": {seconds}}}"#
    )
}

fn json_number() -> impl Strategy<Value = String> {
    prop::sample::select(
        &[
            "0",
            "-1",
            "1e20",
            "1e400",
            "18446744073709551615",
            "18446744073709551616",
            "340282366920938463463374607431768211455",
            "-9223372036854775808",
            "1.5",
            "\"x\"",
            "null",
        ][..],
    )
    .prop_map(str::to_string)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases_or(256), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_config_text_never_panics(text in ".{0,300}") {
        if let Ok(c) = Config::parse(&text) {
            let _ = c.python.startup_timeout();
        }
    }

    #[test]
    fn configs_with_extreme_numbers_never_panic(text in config_text()) {
        if let Ok(c) = Config::parse(&text) {
            let _ = c.python.startup_timeout();
            if let Some(t) = c.max_step_timeout {
                prop_assert!(crate::seconds::check("maxStepTimeout", t).is_ok());
            }
        }
    }

    #[test]
    fn arbitrary_input_files_never_panic(text in ".{0,300}", extreme in extreme()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let wf_path = dir.path().join("workflow.yaml");
        std::fs::write(&wf_path, INPUT_WORKFLOW).expect("workflow");
        let wf = crate::workflow::Workflow::load(&wf_path, dir.path()).expect("the workflow loads");
        for body in [text.clone(), format!("n: {extreme}\nf: {extreme}\ns: {extreme}\nl: [{extreme}]\n")] {
            let input = dir.path().join("input.yaml");
            std::fs::write(&input, &body).expect("input");
            let _ = crate::engine::read_input(Some(&input), &wf);
        }
    }

    #[test]
    fn arbitrary_run_state_files_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        n in json_number(),
        field in 0usize..16,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let wd = workdir(dir.path());
        std::fs::create_dir_all(wd.runs_dir()).expect("runs");
        std::fs::write(wd.runs_dir().join("20260101T000000-00000001.json"), &bytes).expect("state");
        // A real state file with one field's value replaced by an extreme.
        let real = crate::state::RunState::new("20260101T000000-00000002", Path::new("/w.yaml"), "h".into(), "h".into());
        let serde_json::Value::Object(map) = serde_json::to_value(&real).expect("json") else { unreachable!() };
        let entries: Vec<String> = map
            .iter()
            .enumerate()
            .map(|(i, (k, v))| if i == field % map.len() { format!("\"{k}\": {n}") } else { format!("\"{k}\": {v}") })
            .collect();
        let shaped = format!("{{{}}}", entries.join(", "));
        std::fs::write(wd.runs_dir().join("20260101T000000-00000002.json"), shaped).expect("state");
        let _ = crate::state::RunState::load(&wd, "20260101T000000-00000001");
        let _ = crate::state::RunState::load(&wd, "20260101T000000-00000002");
        let _ = crate::state::list(&wd);
    }

    #[test]
    fn arbitrary_cache_files_never_panic(
        current in prop::collection::vec(any::<u8>(), 0..64),
        meta in prop::collection::vec(any::<u8>(), 0..200),
        last_used in prop::collection::vec(any::<u8>(), 0..32),
        source in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let wd = workdir(dir.path());
        cache_with(&wd, &current, &meta, &last_used, &source);
        list_and_size(&wd);
    }

    #[test]
    fn cache_files_with_extreme_numbers_never_panic(
        a in json_number(), b in json_number(), c in json_number(), d in json_number(), last in json_number(),
        current in prop::sample::select(&["b1700000000000000000-42", "../../etc", "/etc", "", "b", "b1700000000000000000-42\n"][..]),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let wd = workdir(dir.path());
        cache_with(&wd, current.as_bytes(), meta_json(&a, &b, &c, &d).as_bytes(), last.as_bytes(), b"https://example.invalid/x.git");
        list_and_size(&wd);
    }
}

const INPUT_WORKFLOW: &str = r#"version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        n: {required: false, type: {type_id: integer, min: 1, max: 10}}
        f: {required: false, type: {type_id: float, min: 0.5}}
        s: {required: false, type: {type_id: string, min: 1, max: 5, pattern: '^[a-z]+$'}}
        l: {required: false, type: {type_id: list, items: {type_id: integer}, max: 3}}
steps:
  a:
    plugin: {deployment_type: python, src: x}
    input: {n: !expr $.input.n}
outputs:
  success: {n: !expr $.input.n}
"#;
