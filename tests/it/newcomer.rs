//! What a new user meets in the first hour: usage errors, the uv bootstrap, one venv per local
//! directory, module names of local directories, error rendering, the display's summary, `runs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{bin, RunOutput};

fn cmd(args: &[&str]) -> RunOutput {
    Command::new(bin()).args(args).output().unwrap().into()
}

/// A PATH with no uv on it (the one scripts/test installs is removed), for first-run tests.
fn path_without_uv() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|d| !d.join("uv").exists())
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

fn example_plugin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/example")
}

#[test]
fn usage_errors_exit_1_not_the_error_output_code() {
    for args in [&[][..], &["run", "--no-such-flag"], &["run", "--pull-policy", "Sometimes"], &["frobnicate"]] {
        let out = cmd(args);
        assert_eq!(out.code, 1, "arcaflow-py {args:?} exit code; stderr:\n{}", out.stderr);
        assert!(
            out.stderr.contains("error") || out.stderr.contains("Usage:"),
            "{args:?} says what is wrong:\n{}",
            out.stderr
        );
    }
    cmd(&["--help"]).assert_code(0);
    cmd(&["run", "--help"]).assert_code(0);
    cmd(&["--version"]).assert_code(0);
}

fn pull_example(workdir: &Path, config: Option<&Path>) -> RunOutput {
    let spec = format!("arcaflow-plugin-example@{}", example_plugin().display());
    let mut c = Command::new(bin());
    c.args(["pull", "--spec", &spec, "--workdir"]).arg(workdir).env("PATH", path_without_uv()).env_remove("UV");
    if let Some(cfg) = config {
        c.arg("--config").arg(cfg);
    }
    c.output().unwrap().into()
}

fn installers(workdir: &Path) -> Vec<String> {
    let out: RunOutput =
        Command::new(bin()).args(["cache", "list", "--json", "--workdir"]).arg(workdir).output().unwrap().into();
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    rows.as_array().unwrap().iter().map(|r| r["installer"].as_str().unwrap_or("").to_string()).collect()
}

#[test]
fn without_uv_on_path_auto_bootstraps_uv_once_into_the_workdir() {
    let dir = tempfile::tempdir().unwrap();
    let wd = dir.path().join("wd");
    // What a bootstrap killed half-way (kill -9) leaves behind.
    let killed = wd.join("tools/.tmp-uv-4242/bin");
    fs::create_dir_all(&killed).unwrap();
    fs::write(killed.join("uv"), "half").unwrap();

    let out = pull_example(&wd, None);
    out.assert_code(0);
    assert!(wd.join("tools/uv/bin/uv").is_file(), "uv is installed into the workdir:\n{}", out.stderr);
    assert!(!wd.join("tools/.tmp-uv-4242").exists(), "the killed bootstrap's leftover is removed");
    let mentions = out.stderr.lines().filter(|l| l.contains("uv into")).count();
    assert_eq!(mentions, 1, "the bootstrap is one line of output:\n{}", out.stderr);
    assert_eq!(installers(&wd), ["uv"], "the build used the bootstrapped uv");

    // Once: a second build in the same workdir says nothing about uv.
    fs::remove_dir_all(wd.join("venvs")).unwrap();
    let again = pull_example(&wd, None);
    again.assert_code(0);
    assert!(!again.stderr.contains("uv into"), "no second bootstrap:\n{}", again.stderr);
    assert_eq!(installers(&wd), ["uv"]);

    // `cache clean` removes it.
    let clean: RunOutput = Command::new(bin()).args(["cache", "clean", "--workdir"]).arg(&wd).output().unwrap().into();
    clean.assert_code(0);
    assert!(!wd.join("tools/uv").exists(), "cache clean removes the bootstrapped uv:\n{}", clean.stderr);
}

#[test]
fn installer_pip_never_bootstraps_uv() {
    let dir = tempfile::tempdir().unwrap();
    let wd = dir.path().join("wd");
    let cfg = dir.path().join("config.yaml");
    fs::write(&cfg, "deployers:\n  python:\n    deployer_name: python\n    installer: pip\n").unwrap();
    pull_example(&wd, Some(&cfg)).assert_code(0);
    assert!(!wd.join("tools").exists(), "installer: pip installs no uv");
    assert!(installers(&wd).iter().all(|i| i.starts_with("pip")), "{:?}", installers(&wd));
}

/// A copy of the example plugin at `<root>/plugins/example`, with `<root>/workflows/w/` beside it.
fn example_tree(root: &Path) -> PathBuf {
    let dest = root.join("plugins/example");
    copy_tree(&example_plugin(), &dest);
    fs::create_dir_all(root.join("workflows/w")).unwrap();
    dest
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name == "__pycache__" || name.ends_with(".egg-info") || name == "build" {
            continue;
        }
        if e.path().is_dir() {
            copy_tree(&e.path(), &to.join(&name));
        } else {
            fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

fn in_dir(dir: &Path, args: &[&str], workdir: &Path) -> RunOutput {
    Command::new(bin()).args(args).arg("--workdir").arg(workdir).current_dir(dir).output().unwrap().into()
}

#[test]
fn one_local_directory_gets_one_venv_however_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let plugin = example_tree(&root);
    let wd = root.join("wd");
    let forms = [
        format!("arcaflow-plugin-example@{}/workflows/w/../../plugins/example", root.display()),
        format!("arcaflow-plugin-example@{}", plugin.display()),
        "arcaflow-plugin-example@./plugins/example".to_string(),
        // A bare path takes its name from pyproject.toml, so it is the same plugin too.
        "./plugins/example".to_string(),
    ];
    for spec in &forms {
        in_dir(&root, &["pull", "--spec", spec], &wd).assert_code(0);
    }
    let builds = crate::support::complete_builds(&wd);
    assert_eq!(builds.len(), 1, "one venv for {forms:?}: {builds:?}");
    // A change to the directory's content is a new build.
    fs::write(plugin.join("NOTES"), "changed").unwrap();
    in_dir(&root, &["pull", "--spec", "./plugins/example"], &wd).assert_code(0);
    assert_eq!(crate::support::complete_builds(&wd).len(), 2, "changed content, new venv");
}

#[test]
fn a_local_directorys_module_comes_from_its_pyproject() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    example_tree(&root);
    let wd = root.join("wd");
    let out = in_dir(&root, &["plugin", "schema", "./plugins/example"], &wd);
    out.assert_code(0);
    assert!(out.stdout.contains("greet"), "the example's schema:\n{}", out.stdout);
}

#[test]
fn a_wrong_module_guess_shows_the_spec_forms_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let plugin = example_tree(&root);
    // Two packages: the name's module is neither, and nothing settles which one runs.
    fs::create_dir_all(plugin.join("extra")).unwrap();
    fs::write(plugin.join("extra/__init__.py"), "").unwrap();
    let toml = fs::read_to_string(plugin.join("pyproject.toml")).unwrap();
    fs::write(
        plugin.join("pyproject.toml"),
        toml.replace(r#"packages = ["arcaflow_plugin_example"]"#, r#"packages = ["arcaflow_plugin_example", "extra"]"#),
    )
    .unwrap();
    let out = in_dir(&root, &["plugin", "schema", "my-plugin@./plugins/example"], &root.join("wd"));
    out.assert_code(1);
    let want = format!("'arcaflow-plugin-example@{}'", plugin.display());
    assert!(out.stderr.contains("hint:") && out.stderr.contains(&want), "the hint shows {want}:\n{}", out.stderr);
}

/// Runs `args` in a pseudo-terminal of 80 columns (`script`), as a person at a terminal would,
/// and returns what the terminal received with escape sequences and carriage returns removed.
fn on_a_terminal(case: &crate::support::Case, args: &[&str]) -> String {
    let mut line = vec![bin().to_string()];
    line.extend(args.iter().map(|a| a.to_string()));
    let quoted: Vec<String> = line.iter().map(|a| format!("'{}'", a.replace('\'', r"'\''"))).collect();
    let out = Command::new("script")
        .args(["-qefc", &format!("stty cols 80; {}", quoted.join(" ")), "/dev/null"])
        .current_dir(case.dir.path())
        .env_remove("CI")
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    let ansi = regex::Regex::new(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r").unwrap();
    ansi.replace_all(&raw, "").into_owned()
}

/// On a terminal, what was built (with which installer, how long), each step's outcome and time,
/// and the run id stay on the screen after the run; with `log.level: info` nothing is said twice.
#[test]
fn the_display_leaves_a_summary_and_never_says_a_line_twice() {
    let case = crate::support::Case::new().own_workdir();
    case.workflow(&crate::support::echo_workflow(&crate::support::shared_repo(true).spec()));
    case.config("log: {level: info}\n");
    let wd = case.workdir.display().to_string();
    let text = on_a_terminal(&case, &["run", "workflow.yaml", "--config", "config.yaml", "--workdir", &wd]);
    // What the screen keeps is printed after the last redraw: the summary, the run id, the document.
    let tail = &text[text.rfind("✓ built").unwrap_or_else(|| panic!("no build line:\n{text}"))..];
    assert!(tail.contains("with uv") || tail.contains("with pip"), "{tail}");
    assert!(tail.contains("✓ step hello: output 'success' ("), "{tail}");
    assert!(regex::Regex::new(r"\nrun \d{8}T\d{6}-[0-9a-f]{8}\n").unwrap().is_match(tail), "{tail}");
    assert!(tail.contains("output_id: success"), "{tail}");
    for twice in ["INFO built", "INFO step hello: finished", "INFO step hello: started", "building a venv"] {
        assert!(!text.contains(twice), "'{twice}' repeats what the display shows:\n{text}");
    }
    for line in tail.lines().filter(|l| l.starts_with('✓')) {
        assert!(line.chars().count() <= 80, "a summary line wraps at 80 columns: {line}");
    }
}

/// `-v` says what runs and how long it takes: git and installer commands, plugin launches and
/// protocol milestones; `-vv` adds the installer's own output. Credentials never appear.
#[test]
fn verbose_output_shows_commands_launches_and_protocol_milestones() {
    let case = crate::support::Case::new().own_workdir().arg("-vv");
    case.workflow(&crate::support::echo_workflow(&crate::support::shared_repo(true).spec()));
    // The first run builds the venv (and its first step reuses the process that read the schema).
    let first = case.run();
    first.assert_code(0);
    for said in ["DEBUG git ", " fetch ", "ended in ", "pip install: ", "install ended in ", "TRACE "] {
        assert!(first.stderr.contains(said), "-vv does not show '{said}':\n{}", first.stderr);
    }
    let second = case.run();
    second.assert_code(0);
    for said in [
        "step hello: plugin process ",
        "step hello: ATP hello (version ",
        "step hello: input sent to step 'echo'",
        "step hello: answered with output 'success' after ",
    ] {
        assert!(second.stderr.contains(said), "-vv does not show '{said}':\n{}", second.stderr);
    }
}

/// `runs` shows status, duration, steps done over started and why the run ended: a failed
/// one-step run reads `0/1` with its reason, not `1/1`.
#[test]
fn runs_shows_status_reason_duration_and_steps_done() {
    let case = crate::support::Case::new().own_workdir();
    case.workflow(&crate::support::with_spec(
        "version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  a:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: crash\n    input: {message: boom}\noutputs:\n  success: {m: !expr $.steps.a.outputs.success}\n",
    ));
    case.run().assert_code(3);
    let out = cmd(&["runs", "--workdir", &case.workdir.display().to_string()]);
    out.assert_code(0);
    let header = out.stdout.lines().next().unwrap_or_default().to_string();
    for column in ["RUN", "STATUS", "STARTED", "DURATION", "STEPS", "REASON", "WORKFLOW"] {
        assert!(header.contains(column), "{header}");
    }
    let row = out.stdout.lines().nth(1).unwrap_or_else(|| panic!("no run listed:\n{}", out.stdout));
    assert!(row.contains("Failed"), "{row}");
    assert!(row.contains(" 0/1 "), "{row}");
    assert!(row.contains("no output can be produced"), "{row}");

    // A run that fails before any step (here: its input) gets an id and a row too.
    case.input("nonsense: [");
    case.run().assert_code(3);
    let out = cmd(&["runs", "--workdir", &case.workdir.display().to_string()]);
    let rows: Vec<&str> = out.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    // Both runs may have started within the same second: find the row, whatever its place.
    assert!(rows.iter().any(|r| r.contains("Failed") && r.contains("before any step ran")), "{}", out.stdout);
}

/// Every page of help has examples and describes every argument it takes.
#[test]
fn every_help_page_has_examples_and_describes_its_arguments() {
    let undocumented = regex::Regex::new(r"(?m)^  [<\[][A-Z_]+[>\]](\.\.\.)? *$").unwrap();
    for page in [
        "run",
        "pull",
        "validate",
        "runs",
        "plugin schema",
        "plugin run",
        "cache dir",
        "cache list",
        "cache size",
        "cache prune",
        "cache clean",
        "export argo",
        "argo lint",
        "argo simulate",
        "serve-plugin",
        "completions",
        "man",
    ] {
        let mut args: Vec<&str> = page.split(' ').collect();
        args.push("--help");
        let out = cmd(&args);
        out.assert_code(0);
        assert!(out.stdout.contains("\nExample"), "`{page} --help` has no examples:\n{}", out.stdout);
        assert!(!undocumented.is_match(&out.stdout), "`{page} --help` leaves an argument undescribed:\n{}", out.stdout);
    }
}
