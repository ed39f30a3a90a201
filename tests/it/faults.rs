//! Faults: plugins that die, lie or go quiet; a git server that vanishes; installs that fail; a
//! full disk; arcaflow-py itself killed. Nothing is lost, nothing half-built is used later.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::git_http::GitHttpServer;
use crate::support::{
    alive, bin, complete_builds, git, make_plugin_repo, read_pids as pids, shared_repo, wait_for_file, with_spec, Case,
    RunOutput, EMPTY_INPUT,
};

#[test]
fn a_plugin_killed_mid_step_crashes_that_step_only() {
    let case = Case::new();
    let pid_file = case.path("pids");
    case.workflow(&with_spec(&format!(
        r#"version: v0.2.0
{EMPTY_INPUT}
steps:
  victim:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: hang
    input: {{pid_file: "{}"}}
  bystander:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: still here, sleep: 1.5}}
  after:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr $.steps.bystander.outputs.success.msg, fail_if_exists: "{}"}}
outputs:
  # Either output could still resolve after the victim dies, so the bystander goes on; then
  # `after` fails too and the run ends with no output.
  success: !oneof
    discriminator: via
    one_of:
      victim: {{v: !expr $.steps.victim.outputs.success}}
      after: {{b: !expr $.steps.after.outputs.success.msg}}
"#,
        pid_file.display(),
        pid_file.display()
    )));
    let child = case.command("run").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_file(&pid_file);
    unsafe {
        libc::kill(pids(&pid_file)[0], libc::SIGKILL);
    }
    let out: RunOutput = child.wait_with_output().unwrap().into();
    out.assert_code(3);
    assert!(out.stderr.contains("victim"), "{}", out.stderr);
    assert!(out.stderr.contains("signal 9"), "the message says how it died: {}", out.stderr);
    assert!(out.stderr.contains("step bystander: finished"), "the other step went on: {}", out.stderr);
    assert!(alive(&pids(&pid_file)).is_empty(), "the killed step's child was left running");
}

fn fake_case(mode: &str) -> Case {
    let case = Case::new().env("ARCAFLOW_PLUGIN_FAKE", mode);
    case.workflow(&with_spec(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  f:\n    plugin: {{deployment_type: python, src: \"SPEC\", module: arcaflow_plugin_testkit.fakes}}\n    step: echo\n    input: {{msg: x}}\noutputs:\n  success: {{m: !expr $.steps.f.outputs.success.msg}}\n"
    )));
    case.config("deployers:\n  python:\n    deployer_name: python\n    pluginStartupTimeout: 3\n");
    case
}

#[test]
fn a_fake_peer_that_behaves_works() {
    let out = fake_case("").run();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["m"].as_str(), Some("fake"));
}

#[test]
fn garbage_on_stdout_fails_the_step_clearly() {
    let out = fake_case("garbage").run();
    out.assert_code(3);
    assert!(out.stderr.contains("not valid CBOR"), "{}", out.stderr);
}

#[test]
fn a_plugin_that_closes_stdout_but_keeps_running_fails_the_step() {
    let started = Instant::now();
    let out = fake_case("close_stdout").run();
    out.assert_code(3);
    assert!(out.stderr.contains("without a result"), "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(20), "the run waited for the silent process");
}

#[test]
fn a_plugin_that_never_says_hello_hits_the_startup_timeout() {
    // Built (and its schema read) with a well-behaved hello first, then silent at run time.
    fake_case("").run().assert_code(0);
    let out = fake_case("silent").run();
    out.assert_code(3);
    assert!(out.stderr.contains("no ATP hello within 3 s"), "{}", out.stderr);
}

#[test]
fn the_git_server_vanishing_mid_fetch_is_a_clear_error_and_a_retry_works() {
    let tmp = tempfile::tempdir().unwrap();
    let repos = tmp.path().join("repos");
    let repo = make_plugin_repo(&repos.join("r.git"), true);
    let workdir = tmp.path().join("wd");
    let spec_for = |server: &GitHttpServer| format!("arcaflow-plugin-testkit@git+{}@main", server.url("r.git"));
    let workflow = |spec: &str| {
        format!("version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"{spec}\"}}\n    step: echo\n    input: {{msg: x}}\noutputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n")
    };
    let flaky = GitHttpServer::start_flaky(&repos, 200);
    let mut case = Case::new();
    case.workdir = workdir.clone();
    case.workflow(&workflow(&spec_for(&flaky)));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("cannot fetch"), "{}", out.stderr);
    drop(flaky);
    let good = GitHttpServer::start(&repos, None);
    case.workflow(&workflow(&spec_for(&good)));
    let out = case.run();
    out.assert_code(0);
    let _ = repo;
}

#[test]
fn a_failed_install_shows_the_installers_output_and_caches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let pyproject = repo.dir.join("pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap().replace(
        "dependencies = [\"arcaflow-plugin-sdk==0.14.3\"]",
        "dependencies = [\"arcaflow-plugin-sdk==0.14.3\", \"arcaflow-py-no-such-dependency-xyz==9.9.9\"]",
    );
    fs::write(&pyproject, text).unwrap();
    git(&repo.dir, &["commit", "-q", "-am", "bad dependency"]);
    let head = git(&repo.dir, &["rev-parse", "HEAD"]);
    let mut case = Case::new();
    case.workdir = tmp.path().join("wd");
    case.workflow(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"arcaflow-plugin-testkit@git+{}@{head}\"}}\n    step: echo\n    input: {{msg: x}}\noutputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n",
        repo.url()
    ));
    let out = case.run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("arcaflow-py-no-such-dependency-xyz"),
        "the installer's output is shown: {}",
        out.stderr
    );
    assert_eq!(complete_builds(&case.workdir).len(), 0);
    // And nothing half-built is picked up by the next attempt either.
    let out = case.run();
    out.assert_code(1);
}

#[test]
#[ignore = "needs root to mount a tmpfs; .ci/run runs it when it is root"]
fn a_full_disk_is_a_clear_error_and_leaves_the_cache_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    let mount = tmp.path().join("small");
    fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs"]).arg(&mount).status();
    assert!(mounted.map(|s| s.success()).unwrap_or(false), "cannot mount a tmpfs: run this test as root");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(self.0).status();
        }
    }
    let _guard = Unmount(&mount);
    let repo = shared_repo(true);
    let mut case = Case::new();
    case.workdir = mount.join("wd");
    case.workflow(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"{}\"}}\n    step: echo\n    input: {{msg: x}}\noutputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n",
        repo.spec()
    ));
    let out = case.run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("No space left") || out.stderr.to_lowercase().contains("no space"),
        "the message says the disk is full: {}",
        out.stderr
    );
    assert_eq!(complete_builds(&case.workdir).len(), 0);
    // Make room: the same workdir now works.
    let grown = Command::new("mount").args(["-o", "remount,size=400m"]).arg(&mount).status().unwrap();
    assert!(grown.success());
    let out = case.run();
    out.assert_code(0);
    assert_eq!(complete_builds(&case.workdir).len(), 1);
}

#[test]
fn arcaflow_py_killed_mid_run_leaves_no_plugin_and_the_next_run_works() {
    let case = Case::new();
    let pid_file = case.path("pids");
    case.workflow(&with_spec(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  h:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: hang\n    input: {{pid_file: \"{}\"}}\noutputs:\n  success: {{x: !expr $.steps.h.outputs.success}}\n",
        pid_file.display()
    )));
    let mut child = case.command("run").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for_file(&pid_file);
    child.kill().unwrap();
    child.wait().unwrap();
    let p = pids(&pid_file);
    // The step process dies with us (PR_SET_PDEATHSIG); give the kernel a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !alive(&p[..1]).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(alive(&p[..1]).is_empty(), "the plugin outlived arcaflow-py");
    // Its own child is in the plugin's process group, which nobody is left to kill: clean up.
    for pid in alive(&p) {
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    let ok = Case::new();
    ok.workflow(&with_spec(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: echo\n    input: {{msg: again}}\noutputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n"
    )));
    let out = ok.run();
    out.assert_code(0);
    let _ = bin();
}
