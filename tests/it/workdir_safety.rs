//! The workdir and the user's own files: what is adopted as a workdir, the modes of what we create
//! (whatever the umask), links planted where we write, and what read-only commands leave behind.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{bin, complete_builds, echo_workflow, git, make_plugin_repo, Case, RunOutput};

/// Paths, types, modes, contents and link targets of everything below `root`.
fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).follow_links(false).into_iter().flatten() {
        let rel = e.path().strip_prefix(root).unwrap().display().to_string();
        let meta = fs::symlink_metadata(e.path()).unwrap();
        let what = if meta.file_type().is_symlink() {
            format!("link -> {}", fs::read_link(e.path()).unwrap().display())
        } else if meta.is_file() {
            format!("file {:o} {:?}", meta.mode(), fs::read(e.path()).unwrap())
        } else {
            format!("dir {:o}", meta.mode())
        };
        out.insert(rel, what);
    }
    out
}

/// `arcaflow-py ARGS` in `dir` under umask `umask`, through `sh` (the umask is the shell's).
fn in_dir(dir: &Path, umask: &str, args: &[&str], env: &[(&str, &str)]) -> RunOutput {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!("umask {umask} && exec \"$0\" \"$@\"")).arg(bin()).args(args).current_dir(dir);
    cmd.env_remove("ARCAFLOW_PY_WORKDIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).output().unwrap().into()
}

fn echo_case(spec: &str, workdir: &Path) -> Case {
    let mut case = Case::new();
    case.workdir = workdir.to_path_buf();
    case.workflow(&echo_workflow(spec).replace("sleep: !expr $.input.sleep", "sleep: 0"));
    case
}

#[test]
fn a_new_workdir_is_private_under_umask_002_and_the_first_run_works() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let case = echo_case(&repo.spec(), &tmp.path().join("cache/wd"));
    case.workflow(&echo_workflow(&repo.spec()).replace("sleep: !expr $.input.sleep", "sleep: 0"));
    let wd = tmp.path().join("cache/wd");
    let args = ["run", "--context", case.dir.path().to_str().unwrap(), "--workdir", wd.to_str().unwrap()];
    let out = in_dir(tmp.path(), "002", &args, &[]);
    out.assert_code(0);
    assert_eq!(fs::metadata(&wd).unwrap().mode() & 0o777, 0o700, "the workdir is 0700");
    // Every directory we make (the layout, entries, builds, mirrors) and every file we write
    // (marker, tag, run state, locks, current, meta.json, schema.cbor, last-used) is private.
    let builds = complete_builds(&wd);
    assert_eq!(builds.len(), 1);
    let mut ours: Vec<PathBuf> = vec![wd.join(".arcaflow-py-workdir"), wd.join("CACHEDIR.TAG")];
    for sub in ["git", "venvs", "runs", "scratch", "locks"] {
        ours.push(wd.join(sub));
        ours.extend(fs::read_dir(wd.join(sub)).unwrap().flatten().map(|e| e.path()));
    }
    let entry = builds[0].parent().unwrap();
    ours.extend(fs::read_dir(entry).unwrap().flatten().map(|e| e.path()));
    for f in ["meta.json", "schema.cbor", "last-used", "use.lock"] {
        ours.push(builds[0].join(f));
    }
    for p in &ours {
        let mode = fs::symlink_metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", p.display());
    }
}

#[test]
fn only_an_empty_or_marked_directory_is_adopted_and_prune_leaves_the_users_files() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("project");
    // The user's own things: a git repository, a venv, a notes folder, and a CACHEDIR.TAG like the
    // one an earlier arcaflow-py wrote when it adopted this directory.
    fs::create_dir_all(home.join("notes")).unwrap();
    fs::write(home.join("notes/todo.txt"), "buy milk").unwrap();
    git(&home, &["-c", "init.defaultBranch=main", "init", "-q"]);
    fs::write(home.join("main.py"), "print('hi')\n").unwrap();
    git(&home, &["add", "-A"]);
    git(&home, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"]);
    let venv = Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(home.join("venv")).status().unwrap();
    assert!(venv.success());
    fs::create_dir_all(home.join("venvs/mine")).unwrap();
    fs::write(home.join("venvs/mine/keep.txt"), "mine").unwrap();
    let tag = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by arcaflow-py.\n# For information about cache directory tags see https://bford.info/cachedir/\n";
    fs::write(home.join("CACHEDIR.TAG"), tag).unwrap();
    let before = tree(&home);

    let case = echo_case(&crate::support::shared_repo(true).spec(), &home);
    let context = case.dir.path().to_str().unwrap().to_string();
    fs::write(
        case.path("config-dot.yaml"),
        format!("deployers:\n  python:\n    deployer_name: python\n    workdir: {}\n", home.display()),
    )
    .unwrap();
    let config = case.path("config-dot.yaml").to_str().unwrap().to_string();
    type Attempt<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let attempts: Vec<Attempt> = vec![
        (vec!["run", "--context", &context, "--workdir", "."], vec![]),
        (vec!["run", "--context", &context], vec![("ARCAFLOW_PY_WORKDIR", home.to_str().unwrap())]),
        (vec!["run", "--context", &context, "--config", &config], vec![]),
        (vec!["runs", "--workdir", "."], vec![]),
        (vec!["runs", "--json"], vec![("ARCAFLOW_PY_WORKDIR", home.to_str().unwrap())]),
        (vec!["cache", "list", "--workdir", "."], vec![]),
        (vec!["cache", "size", "--workdir", "."], vec![]),
        (vec!["cache", "prune", "--workdir", ".", "--older-than", "0s"], vec![]),
        (vec!["cache", "clean", "--workdir", "."], vec![]),
    ];
    for (args, env) in &attempts {
        let out = in_dir(&home, "022", args, env);
        assert_eq!(out.code, 1, "{args:?} {env:?}: {}", out.stderr);
        assert!(out.stderr.contains("is not an arcaflow-py workdir"), "{args:?}: {}", out.stderr);
        assert_eq!(tree(&home), before, "{args:?} {env:?} changed the user's directory");
    }

    // An empty directory is adopted, and marked.
    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    fs::set_permissions(&empty, fs::Permissions::from_mode(0o700)).unwrap();
    let out = echo_case(&crate::support::shared_repo(true).spec(), &empty).run();
    out.assert_code(0);
    assert!(empty.join(".arcaflow-py-workdir").is_file());
}

#[test]
fn prune_in_our_own_workdir_removes_only_what_we_named() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let wd = tmp.path().join("wd");
    echo_case(&repo.spec(), &wd).run().assert_code(0);
    // Things somebody put into our directories under names we never use.
    let foreign = [wd.join("venvs/notes"), wd.join("git/my-repo"), wd.join("scratch/keep"), wd.join("tools/mine")];
    for d in &foreign {
        fs::create_dir_all(d).unwrap();
        fs::write(d.join("file.txt"), "mine").unwrap();
    }
    fs::write(wd.join("locks/mine.txt"), "mine").unwrap();
    fs::write(wd.join("runs/notes.json"), "{}").unwrap();
    for args in [&["prune", "--older-than", "0s", "--max-size", "0"][..], &["clean"]] {
        let out: RunOutput =
            Command::new(bin()).arg("cache").args(args).arg("--workdir").arg(&wd).output().unwrap().into();
        out.assert_code(0);
        assert!(out.stderr.contains("was not made by arcaflow-py: left alone"), "{args:?}: {}", out.stderr);
    }
    for d in &foreign {
        assert_eq!(fs::read_to_string(d.join("file.txt")).unwrap(), "mine", "{}", d.display());
    }
    assert!(wd.join("locks/mine.txt").exists() && wd.join("runs/notes.json").exists());
    assert!(complete_builds(&wd).is_empty(), "clean removed our own build");
}

#[test]
fn read_only_commands_create_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("not-yet");
    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    for wd in [&missing, &empty] {
        for args in
            [&["runs"][..], &["runs", "--json"], &["cache", "list"], &["cache", "list", "--json"], &["cache", "size"]]
        {
            let out: RunOutput = Command::new(bin()).args(args).arg("--workdir").arg(wd).output().unwrap().into();
            out.assert_code(0);
        }
    }
    assert!(!missing.exists(), "a read-only command created the workdir");
    assert_eq!(fs::read_dir(&empty).unwrap().count(), 0, "a read-only command wrote into the workdir");
}

#[test]
fn links_planted_where_we_write_are_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let wd = tmp.path().join("wd");
    let case = echo_case(&repo.spec(), &wd);
    case.run().assert_code(0);
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("precious"), "do not truncate").unwrap();
    // last-used, written at every use of a build.
    let build = complete_builds(&wd)[0].clone();
    fs::remove_file(build.join("last-used")).unwrap();
    symlink(outside.join("precious"), build.join("last-used")).unwrap();
    case.run().assert_code(0);
    assert_eq!(fs::read_to_string(outside.join("precious")).unwrap(), "do not truncate");
    // A lock file: a link is refused, never created through.
    fs::remove_file(wd.join("locks/cache.lock")).unwrap();
    symlink(outside.join("created"), wd.join("locks/cache.lock")).unwrap();
    let out = case.run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert!(!outside.join("created").exists(), "a file was created through the link");
}

#[test]
fn a_current_pointer_outside_the_entry_is_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("repo"), true);
    let wd = tmp.path().join("wd");
    let case = echo_case(&repo.spec(), &wd);
    case.run().assert_code(0);
    let build = complete_builds(&wd)[0].clone();
    let entry = build.parent().unwrap().to_path_buf();
    // Somebody else's "build": a copy of ours whose python records that it ran.
    let evil = tmp.path().join("evil");
    let ran = tmp.path().join("evil-ran");
    fs::create_dir_all(evil.join("venv/bin")).unwrap();
    for f in ["meta.json", "schema.cbor"] {
        fs::copy(build.join(f), evil.join(f)).unwrap();
    }
    fs::write(evil.join("venv/bin/python"), format!("#!/bin/sh\ntouch {}\nexit 1\n", ran.display())).unwrap();
    fs::set_permissions(evil.join("venv/bin/python"), fs::Permissions::from_mode(0o755)).unwrap();
    let relative = format!("../../../{}", evil.strip_prefix(tmp.path()).unwrap().display());
    for pointer in [evil.to_str().unwrap().to_string(), relative] {
        fs::write(entry.join("current"), &pointer).unwrap();
        let out = case.run();
        out.assert_code(0);
        assert!(!ran.exists(), "current = {pointer} was followed");
    }
}
