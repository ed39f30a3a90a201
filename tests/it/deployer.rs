//! The python deployer: every spec form over file:// and loopback HTTP, ref resolution, pull
//! policies, concurrent builds, interrupted builds, injection and credentials.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::git_http::GitHttpServer;
use crate::support::{bin, complete_builds, echo_workflow, git, make_plugin_repo, Case, Repo};

fn echo_case(spec: &str, workdir: &Path) -> Case {
    let mut case = Case::new();
    case.workdir = workdir.to_path_buf();
    case.workflow(&echo_workflow(spec).replace("sleep: !expr $.input.sleep", "sleep: 0"));
    case
}

fn flavor(case: &Case) -> String {
    let out = case.run();
    out.assert_code(0);
    out.yaml()["output_data"]["flavor"].as_str().unwrap_or_default().to_string()
}

/// A repo with a tag `v1` on the first commit and a branch `dev` one commit ahead.
fn tagged_repo(dir: &Path) -> Repo {
    let repo = make_plugin_repo(dir, true);
    git(dir, &["tag", "v1"]);
    git(dir, &["checkout", "-q", "-b", "dev"]);
    fs::write(dir.join("arcaflow_plugin_testkit/flavor.py"), "FLAVOR = \"dev\"\n").unwrap();
    git(dir, &["commit", "-q", "-am", "dev flavor"]);
    git(dir, &["checkout", "-q", "main"]);
    repo
}

#[test]
fn every_spec_form_over_file_and_loopback_http() {
    let tmp = tempfile::tempdir().unwrap();
    let repos = tmp.path().join("repos");
    let repo = tagged_repo(&repos.join("testkit.git"));
    // A monorepo: the marker at the root, the plugin in a subdirectory.
    let mono = repos.join("mono.git");
    fs::create_dir_all(&mono).unwrap();
    crate::support::make_plugin_repo(&mono.join("plugins/testkit"), false);
    fs::remove_dir_all(mono.join("plugins/testkit/.git")).unwrap();
    fs::write(mono.join(".python_deployer_compat"), "").unwrap();
    git(&mono, &["-c", "init.defaultBranch=main", "init", "-q"]);
    git(&mono, &["add", "-A"]);
    git(&mono, &["commit", "-q", "-m", "mono"]);
    let mut server = GitHttpServer::start(&repos, None);
    let workdir = tmp.path().join("wd");
    let file_url = repo.url();
    let http_url = server.url("testkit.git");
    let cases = [
        (format!("arcaflow-plugin-testkit@git+{file_url}@{}", repo.head), "base"),
        (format!("arcaflow-plugin-testkit@git+{file_url}@v1"), "base"),
        (format!("arcaflow-plugin-testkit@git+{file_url}@dev"), "dev"),
        (format!("arcaflow-plugin-testkit@git+{file_url}"), "base"),
        (format!("arcaflow-plugin-testkit@git+{http_url}@{}", repo.head), "base"),
        (format!("arcaflow-plugin-testkit@git+{http_url}@dev"), "dev"),
        (format!("arcaflow-plugin-testkit @ git+{}@main#subdirectory=plugins/testkit", server.url("mono.git")), "base"),
    ];
    for (spec, expected) in &cases {
        let case = echo_case(spec, &workdir);
        assert_eq!(&flavor(&case), expected, "spec {spec}");
    }
    assert!(server.requests.load(std::sync::atomic::Ordering::SeqCst) > 0, "the HTTP server was used");
    server.stop();
    // One mirror per URL; the file and http URLs of the same repository are two.
    let mirrors = fs::read_dir(workdir.join("git")).unwrap().count();
    assert_eq!(mirrors, 3);
    // Branch moves are seen: a new commit on dev gives a new build.
    git(&repo.dir, &["checkout", "-q", "dev"]);
    fs::write(repo.dir.join("arcaflow_plugin_testkit/flavor.py"), "FLAVOR = \"dev2\"\n").unwrap();
    git(&repo.dir, &["commit", "-q", "-am", "dev2"]);
    let case = echo_case(&format!("arcaflow-plugin-testkit@git+{file_url}@dev"), &workdir);
    assert_eq!(flavor(&case), "dev2");
}

#[test]
fn local_path_and_pypi_forms() {
    let tmp = tempfile::tempdir().unwrap();
    let workdir = tmp.path().join("wd");
    // A local directory: keyed by content, so an edit is picked up.
    let local = tmp.path().join("local-plugin");
    make_plugin_repo(&local, true);
    let case = echo_case(&format!("arcaflow-plugin-testkit@{}", local.display()), &workdir);
    assert_eq!(flavor(&case), "base");
    fs::write(local.join("arcaflow_plugin_testkit/flavor.py"), "FLAVOR = \"edited\"\n").unwrap();
    assert_eq!(flavor(&case), "edited");

    // PyPI form, served from a local wheel directory through findLinks.
    let wheels = tmp.path().join("wheels");
    let out = Command::new("python3")
        .args(["-m", "pip", "wheel", "--no-deps", "--quiet", "-w"])
        .arg(&wheels)
        .arg(&local)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let case = echo_case("arcaflow-plugin-testkit==0.1.0", &workdir);
    case.config(&format!(
        "deployers:\n  python:\n    deployer_name: python\n    findLinks: [\"{}\"]\n",
        wheels.display()
    ));
    assert_eq!(flavor(&case), "edited");
}

#[test]
fn never_fails_clearly_when_the_venv_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let case = echo_case(&repo.spec(), &tmp.path().join("wd")).arg("--pull-policy").arg("Never");
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("Never"), "{}", out.stderr);
    assert!(out.stderr.contains("arcaflow-py pull"), "the message says what to do: {}", out.stderr);
}

#[test]
fn always_rebuilds_while_another_process_keeps_using_the_old_venv() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let workdir = tmp.path().join("wd");
    let slow = Case::new();
    let mut slow = slow;
    slow.workdir = workdir.clone();
    slow.workflow(&echo_workflow(&repo.spec())).input("sleep: 4\n");
    // Build first, then start a long run on that build.
    let warm = echo_case(&repo.spec(), &workdir);
    assert_eq!(flavor(&warm), "base");
    let first = complete_builds(&workdir);
    assert_eq!(first.len(), 1);
    let running = slow.command("run").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let rebuild = echo_case(&repo.spec(), &workdir).arg("--pull-policy").arg("Always");
    assert_eq!(flavor(&rebuild), "base");
    let out: crate::support::RunOutput = running.wait_with_output().unwrap().into();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["msg"].as_str(), Some("hi"));
    let builds = complete_builds(&workdir);
    assert_eq!(builds.len(), 2, "Always made a second build: {builds:?}");
    assert!(builds.contains(&first[0]), "the old build is still there for its user");
}

#[test]
fn concurrent_runs_on_an_empty_workdir_build_once_and_all_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let workdir = tmp.path().join("wd");
    let cases: Vec<Case> = (0..4).map(|_| echo_case(&repo.spec(), &workdir)).collect();
    let children: Vec<_> =
        cases.iter().map(|c| c.command("run").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()).collect();
    for child in children {
        let out: crate::support::RunOutput = child.wait_with_output().unwrap().into();
        out.assert_code(0);
        assert_eq!(out.yaml()["output_data"]["msg"].as_str(), Some("hi"));
    }
    assert_eq!(complete_builds(&workdir).len(), 1, "one build for four processes");
}

/// Waits (at most 60 s) until some build in `workdir` has a venv python, i.e. is installing.
fn wait_until_a_venv_is_being_populated(workdir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let building = fs::read_dir(workdir.join("venvs"))
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|e| fs::read_dir(e.path()).into_iter().flatten().flatten())
            .any(|b| b.path().join("venv/bin/python").exists());
        if building || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_build_killed_mid_install_is_never_used_and_the_next_run_rebuilds() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let workdir = tmp.path().join("wd");
    let mut pull = Command::new(bin())
        .args(["pull", "--workdir"])
        .arg(&workdir)
        .args(["--spec", &repo.spec()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_a_venv_is_being_populated(&workdir);
    pull.kill().unwrap();
    pull.wait().unwrap();
    assert!(complete_builds(&workdir).is_empty(), "a killed build must not look complete");
    let case = echo_case(&repo.spec(), &workdir);
    assert_eq!(flavor(&case), "base");
    let builds = complete_builds(&workdir);
    assert_eq!(builds.len(), 1);
    let entry = builds[0].parent().unwrap();
    let dirs: Vec<_> = fs::read_dir(entry).unwrap().flatten().filter(|e| e.path().is_dir()).collect();
    assert_eq!(dirs.len(), 1, "the interrupted build was cleaned up: {dirs:?}");
}

#[test]
fn injection_specs_are_rejected() {
    for spec in [
        "--index-url=http://evil.example/simple",
        "x@git+https://h.example/r.git;touch /tmp/pwned",
        "x@git+https://h.example/r.git@--upload-pack=touch",
        "x@git+https://h.example/r.git@$(id)",
        "x@git+https://h.example/../../etc/passwd",
        "x @ git+https://h.example/r.git#subdirectory=../../etc",
        "x y z",
        "x@git+ftp://h.example/r.git",
    ] {
        let case = echo_case(spec, &crate::support::shared_workdir());
        let out = case.run();
        assert_eq!(out.code, 1, "spec {spec:?} was not refused:\n{}", out.stderr);
        assert!(out.stderr.contains("invalid module spec"), "{}", out.stderr);
    }
}

fn files_containing(root: &Path, needle: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            fs::read(e.path()).map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())).unwrap_or(false)
        })
        .map(|e| e.path().to_path_buf())
        .collect()
}

#[test]
fn credentials_in_urls_are_never_printed_or_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let repos = tmp.path().join("repos");
    let repo = make_plugin_repo(&repos.join("private.git"), true);
    let server = GitHttpServer::start(&repos, Some("alice:s3cretpw"));
    let workdir = tmp.path().join("wd");
    let url = server.url("private.git").replace("http://", "http://alice:s3cretpw@");
    let case = echo_case(&format!("arcaflow-plugin-testkit@git+{url}@{}", repo.head), &workdir).arg("-vv");
    let out = case.run();
    out.assert_code(0);
    assert!(!out.stderr.contains("s3cretpw") && !out.stdout.contains("s3cretpw"), "{}", out.stderr);
    // A wrong password fails without echoing it.
    let bad = server.url("private.git").replace("http://", "http://alice:wrongpw@");
    let case = echo_case(&format!("arcaflow-plugin-testkit@git+{bad}@main"), &tmp.path().join("wd2")).arg("-vv");
    let out = case.run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!out.stderr.contains("wrongpw"), "{}", out.stderr);
    assert!(files_containing(&workdir, "s3cretpw").is_empty(), "the workdir holds the password");
}

#[test]
fn the_pip_installer_builds_working_venvs_too() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let case = echo_case(&repo.spec(), &tmp.path().join("wd"));
    case.config("deployers:\n  python:\n    deployer_name: python\n    installer: pip\n");
    assert_eq!(flavor(&case), "base");
    let builds = complete_builds(&case.workdir);
    let meta: serde_json::Value = serde_json::from_slice(&fs::read(builds[0].join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["installer"], "pip");
    assert_eq!(meta["commit"], repo.head.as_str());
    assert!(meta["python_version"].as_str().unwrap().starts_with('3'));
}

#[test]
fn a_python_semver_mismatch_is_refused() {
    let case = echo_case(&crate::support::shared_repo(true).spec(), &crate::support::shared_workdir());
    case.config("deployers:\n  python:\n    deployer_name: python\n    pythonSemver: \"2.7\"\n");
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("pythonSemver is 2.7"), "{}", out.stderr);
    // Unquoted, YAML would read 3.10 as 3.1: refused with the fix in the message.
    case.config("deployers:\n  python:\n    deployer_name: python\n    pythonSemver: 3.10\n");
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("must be quoted"), "{}", out.stderr);
}

#[test]
fn one_python_start_per_step_cold_or_warm() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let log = tmp.path().join("launches");
    let case = echo_case(&repo.spec(), &tmp.path().join("wd")).env("ARCAFLOW_PLUGIN_LAUNCH_LOG", log.to_str().unwrap());
    let launches = || fs::read_to_string(&log).map(|t| t.lines().count()).unwrap_or(0);
    // Cold: the process that read the schema of the new build runs the step.
    assert_eq!(flavor(&case), "base");
    assert_eq!(launches(), 1, "a cold run started Python more than once for one step");
    // Warm: the schema comes from the cache; the step's own process is the only launch.
    assert_eq!(flavor(&case), "base");
    assert_eq!(launches(), 2);
    let scratch: Vec<_> = fs::read_dir(case.workdir.join("scratch")).unwrap().flatten().collect();
    assert!(scratch.is_empty(), "scratch dirs left behind: {scratch:?}");
}

#[test]
fn the_compat_marker_of_a_plugin_in_a_subdirectory_is_found_there() {
    let tmp = tempfile::tempdir().unwrap();
    // Two plugins in one repository, each marked in its own directory, nothing at the root.
    let mono = tmp.path().join("mono");
    fs::create_dir_all(&mono).unwrap();
    crate::support::make_plugin_repo(&mono.join("plugins/marked"), true);
    crate::support::make_plugin_repo(&mono.join("plugins/unmarked"), false);
    fs::remove_dir_all(mono.join("plugins/marked/.git")).unwrap();
    fs::remove_dir_all(mono.join("plugins/unmarked/.git")).unwrap();
    git(&mono, &["-c", "init.defaultBranch=main", "init", "-q"]);
    git(&mono, &["add", "-A"]);
    git(&mono, &["commit", "-q", "-m", "mono"]);
    let url = format!("file://{}", mono.display());
    let workdir = tmp.path().join("wd");
    let marked = echo_case(&format!("arcaflow-plugin-testkit @ git+{url}@main#subdirectory=plugins/marked"), &workdir);
    assert_eq!(flavor(&marked), "base");
    let unmarked =
        echo_case(&format!("arcaflow-plugin-testkit @ git+{url}@main#subdirectory=plugins/unmarked"), &workdir);
    let out = unmarked.run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("no .python_deployer_compat file in its subdirectory 'plugins/unmarked' or at its root"),
        "{}",
        out.stderr
    );
}

/// Ctrl-C while a venv is being built stops at once with exit 130 and says what happened and that
/// nothing half-built will be used; the next run builds and runs normally.
#[test]
fn ctrl_c_during_a_build_says_so_exits_130_and_the_next_run_works() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let workdir = tmp.path().join("wd");
    let pull = Command::new(bin())
        .args(["pull", "--workdir"])
        .arg(&workdir)
        .args(["--spec", &repo.spec()])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_a_venv_is_being_populated(&workdir);
    assert!(complete_builds(&workdir).is_empty(), "the build finished before the test could interrupt it");
    // The pid of the child this test started.
    let status = Command::new("kill").args(["-INT", &pull.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out: crate::support::RunOutput = pull.wait_with_output().unwrap().into();
    out.assert_code(130);
    assert!(out.stderr.contains("interrupted before any step ran"), "{}", out.stderr);
    assert!(out.stderr.contains("nothing half-built will be used"), "{}", out.stderr);
    assert!(complete_builds(&workdir).is_empty(), "an interrupted build must not look complete");
    let case = echo_case(&repo.spec(), &workdir);
    assert_eq!(flavor(&case), "base");
}

#[test]
fn the_installer_fetches_the_commit_from_the_local_mirror_not_the_network() {
    let tmp = tempfile::tempdir().unwrap();
    let repos = tmp.path().join("repos");
    let repo = make_plugin_repo(&repos.join("testkit.git"), true);
    let mut server = GitHttpServer::start(&repos, None);
    let workdir = tmp.path().join("wd");
    let spec = format!("arcaflow-plugin-testkit@git+{}@{}", server.url("testkit.git"), repo.head);
    // uv's caches start empty each time: only the network or our mirror can give it the commit.
    let case = echo_case(&spec, &workdir).env("UV_CACHE_DIR", &tmp.path().join("uv1").display().to_string());
    assert_eq!(flavor(&case), "base");
    server.stop();
    // The server is gone: the rebuild works only if the installer's git reads the mirror.
    let case = echo_case(&spec, &workdir)
        .env("UV_CACHE_DIR", &tmp.path().join("uv2").display().to_string())
        .arg("--pull-policy")
        .arg("Always");
    assert_eq!(flavor(&case), "base");
    assert_eq!(complete_builds(&workdir).len(), 2, "the second run built again");
}

/// A first fetch that fails (a mistyped URL) leaves no empty mirror in the cache; a mirror that
/// already held commits is kept when a later fetch fails.
#[test]
fn a_failed_first_fetch_leaves_no_empty_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let workdir = tmp.path().join("wd");
    let missing = format!("arcaflow-plugin-testkit@git+file://{}/nowhere@main", tmp.path().display());
    let out = echo_case(&missing, &workdir).run();
    out.assert_code(1);
    assert!(out.stderr.contains("cannot fetch"), "{}", out.stderr);
    let mirrors: Vec<_> = fs::read_dir(workdir.join("git")).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(mirrors.is_empty(), "an empty mirror was left: {mirrors:?}");

    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    assert_eq!(flavor(&echo_case(&repo.spec(), &workdir)), "base");
    let unknown = repo.spec().replace(&repo.head, "no-such-branch");
    echo_case(&unknown, &workdir).run().assert_code(1);
    let mirrors = fs::read_dir(workdir.join("git")).unwrap().flatten().count();
    assert_eq!(mirrors, 1, "the mirror that holds the plugin's commits stays");
}
