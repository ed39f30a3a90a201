//! Git transports through the user's own git: dumb HTTP (static hosting), smart HTTP with basic
//! auth answered by a credential helper from the user's git config, and an HTTP proxy.

use std::fs;
use std::path::Path;

use crate::support::git_http::GitHttpServer;
use crate::support::servers::{bare_for_http, PyServer};
use crate::support::{echo_workflow, make_plugin_repo, Case};

fn echo_case(spec: &str, workdir: &Path) -> Case {
    let mut case = Case::new();
    case.workdir = workdir.to_path_buf();
    case.workflow(&echo_workflow(spec).replace("sleep: !expr $.input.sleep", "sleep: 0"));
    case
}

/// A HOME of its own whose git config is `gitconfig`; installer caches stay where they were.
fn with_home(case: Case, home: &Path, gitconfig: &str) -> Case {
    fs::create_dir_all(home).unwrap();
    fs::write(home.join(".gitconfig"), gitconfig).unwrap();
    let real_home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let uv_cache = std::env::var("UV_CACHE_DIR").unwrap_or(format!("{real_home}/.cache/uv"));
    let pip_cache = std::env::var("PIP_CACHE_DIR").unwrap_or(format!("{real_home}/.cache/pip"));
    case.env("HOME", home.to_str().unwrap())
        .env("XDG_CONFIG_HOME", home.join(".config").to_str().unwrap())
        .env("UV_CACHE_DIR", &uv_cache)
        .env("PIP_CACHE_DIR", &pip_cache)
}

#[test]
fn a_dumb_http_host_serves_branches_and_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("src"), true);
    let root = tmp.path().join("www");
    fs::create_dir_all(&root).unwrap();
    bare_for_http(&repo.dir, &root, "plugin.git");
    let server = PyServer::static_files(&root);
    let url = format!("{}/plugin.git", server.url());
    for reference in ["main", repo.head.as_str()] {
        let case = echo_case(&format!("arcaflow-plugin-testkit@git+{url}@{reference}"), &tmp.path().join("wd"));
        let out = case.run();
        out.assert_code(0);
        assert_eq!(out.yaml()["output_data"]["msg"].as_str(), Some("hi"));
    }
}

#[test]
fn a_credential_helper_in_the_users_git_config_answers_basic_auth() {
    let tmp = tempfile::tempdir().unwrap();
    let repos = tmp.path().join("repos");
    make_plugin_repo(&repos.join("private.git"), true);
    let server = GitHttpServer::start(&repos, Some("carol:helper-pw"));
    let spec = format!("arcaflow-plugin-testkit@git+{}@main", server.url("private.git"));
    let home = tmp.path().join("home");
    fs::write(tmp.path().join("creds"), format!("http://carol:helper-pw@127.0.0.1:{}\n", server.port)).unwrap();
    let gitconfig = format!("[credential]\n\thelper = store --file={}\n", tmp.path().join("creds").display());
    let case = with_home(echo_case(&spec, &tmp.path().join("wd")), &home, &gitconfig);
    let out = case.run();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["msg"].as_str(), Some("hi"));

    // Without the helper, git cannot ask anyone: a prompt-free failure naming the URL and git's message.
    let case = with_home(echo_case(&spec, &tmp.path().join("wd2")), &tmp.path().join("home2"), "");
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains(&server.url("private.git")), "{}", out.stderr);
    assert!(
        ["terminal prompts disabled", "Authentication failed", "unable to get password"]
            .iter()
            .any(|m| out.stderr.contains(m)),
        "git's own message is shown: {}",
        out.stderr
    );
}

#[test]
fn git_goes_through_the_users_http_proxy() {
    let tmp = tempfile::tempdir().unwrap();
    let repos = tmp.path().join("repos");
    let repo = make_plugin_repo(&repos.join("proxied.git"), true);
    let server = GitHttpServer::start(&repos, None);
    let log = tmp.path().join("proxy.log");
    let proxy = PyServer::proxy(&log);
    let spec = format!("arcaflow-plugin-testkit@git+{}@{}", server.url("proxied.git"), repo.head);
    let mut case = echo_case(&spec, &tmp.path().join("wd"));
    for k in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"] {
        case = case.env(k, &proxy.url());
    }
    let out = case.env("no_proxy", "").env("NO_PROXY", "").run();
    out.assert_code(0);
    let seen = fs::read_to_string(&log).unwrap_or_default();
    let via_proxy = format!("http://127.0.0.1:{}/proxied.git/", server.port);
    assert!(seen.lines().any(|l| l.contains(&via_proxy)), "the proxy saw no git request: {seen}");
}

#[test]
fn a_missing_ref_names_the_url_and_shows_gits_message() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    fs::create_dir_all(&root).unwrap();
    let server = PyServer::static_files(&root);
    let url = format!("{}/absent.git", server.url()).replace("http://", "http://dave:topsecret@");
    let case = echo_case(&format!("arcaflow-plugin-testkit@git+{url}@main"), &tmp.path().join("wd"));
    let out = case.run();
    out.assert_code(1);
    assert!(!out.stderr.contains("topsecret"), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("127.0.0.1:{}/absent.git", server.port)), "{}", out.stderr);
    assert!(out.stderr.contains("cannot fetch"), "{}", out.stderr);
}

#[test]
fn an_insteadof_rule_in_the_users_git_config_rewrites_the_url() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("src"), true);
    let root = tmp.path().join("www");
    fs::create_dir_all(&root).unwrap();
    bare_for_http(&repo.dir, &root, "plugin.git");
    let server = PyServer::static_files(&root);
    // The workflow names a host that does not exist; the user's git knows where it really is.
    let gitconfig = format!("[url \"{}/\"]\n\tinsteadOf = https://git.example.invalid/\n", server.url());
    let spec = format!("arcaflow-plugin-testkit@git+https://git.example.invalid/plugin.git@{}", repo.head);
    let case = with_home(echo_case(&spec, &tmp.path().join("wd")), &tmp.path().join("home"), &gitconfig);
    let out = case.run();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["msg"].as_str(), Some("hi"));
}
