//! Damaged cache entries are rebuilt; hostile text from inputs and plugins keeps the JUnit report
//! well-formed XML and reaches the terminal neutralised.

use std::fs;
use std::process::Command;

use crate::support::{complete_builds, echo_workflow, make_plugin_repo, Case};

#[test]
fn damaged_cache_entries_are_detected_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let mut case = Case::new();
    case.workdir = tmp.path().join("wd");
    case.workflow(&echo_workflow(&repo.spec()).replace("sleep: !expr $.input.sleep", "sleep: 0"));
    case.run().assert_code(0);
    let current = |c: &Case| {
        let builds = complete_builds(&c.workdir);
        let entry = builds[0].parent().unwrap().to_path_buf();
        entry.join(fs::read_to_string(entry.join("current")).unwrap().trim())
    };
    // A truncated schema.cbor.
    let first = current(&case);
    let schema = fs::read(first.join("schema.cbor")).unwrap();
    fs::write(first.join("schema.cbor"), &schema[..schema.len() / 2]).unwrap();
    let out = case.run();
    out.assert_code(0);
    assert!(out.stderr.contains("damaged"), "{}", out.stderr);
    let second = current(&case);
    assert_ne!(second, first, "the damaged build is still in use");
    // A venv without its python.
    fs::remove_file(second.join("venv/bin/python")).unwrap();
    let out = case.run();
    out.assert_code(0);
    assert!(out.stderr.contains("its venv has no python"), "{}", out.stderr);
    let third = current(&case);
    assert_ne!(third, second);
    assert!(third.join("venv/bin/python").exists());
}

#[test]
fn hostile_text_keeps_junit_well_formed_and_the_terminal_safe() {
    let case = Case::new();
    case.workflow(&crate::support::with_spec(
        "version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {msg: {type: {type_id: string}}}}}}\nsteps:\n  c:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: crash\n    input: {message: !expr $.input.msg}\noutputs:\n  success: {m: !expr $.steps.c.outputs.success}\n",
    ));
    // Characters XML 1.0 cannot carry, an OSC 52 clipboard write, a screen clear, a carriage
    // return, a C1 CSI, a NUL, and XML's own specials.
    case.input("msg: \"a\\uFFFEb\\uFFFFc\\e]52;c;ZXZpbA==\\ad\\e[2J\\re\\x9b31mf\\0g ]]> <x> &amp; 'q' \\\"\"\n");
    let report = case.path("report.xml");
    let case = case.arg("-v").arg("--junit").arg(report.to_str().unwrap());
    let out = case.run();
    out.assert_code(3);
    assert!(report.exists(), "no JUnit report: {}", out.stderr);
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E; t = E.parse(sys.argv[1]); print(t.find('.//failure').text)",
        ])
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "the JUnit report is not XML: {}\n{}",
        String::from_utf8_lossy(&parsed.stderr),
        fs::read_to_string(&report).unwrap()
    );
    let text = String::from_utf8_lossy(&parsed.stdout);
    assert!(text.contains("]]> <x> &amp; 'q'"), "the message is kept: {text}");
    // The terminal gets every byte of the message shown, none obeyed.
    for bad in ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\0'] {
        assert!(!out.stderr.contains(bad), "{bad:?} reached the terminal: {:?}", out.stderr);
    }
    assert!(out.stderr.contains("\\x1b]52;c;ZXZpbA=="), "the message is shown: {}", out.stderr);
}
