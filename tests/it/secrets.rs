//! Credentials in module specs and index URLs: wherever a run, `runs` or `cache list` writes, the
//! secret is not there.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::git_http::GitHttpServer;
use crate::support::{bin, echo_workflow, make_plugin_repo, Case, RunOutput};

/// Every file below `root` whose bytes hold `needle`.
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

/// A small deterministic generator: the cases are the same in every run, so a failure reproduces.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// A password made of `SECRET<n>` pieces joined by characters that break naive URL parsing, so any
/// fragment of it that leaks shows `SECRET`.
fn password(rng: &mut Lcg, specials: &[&str]) -> String {
    let mut p = String::from("SECRET0");
    for i in 1..=1 + rng.next(4) {
        p.push_str(specials[rng.next(specials.len())]);
        p.push_str(&format!("SECRET{i}"));
    }
    p
}

fn command(sub: &[&str], workdir: &Path) -> RunOutput {
    Command::new(bin()).args(sub).arg("--workdir").arg(workdir).output().expect("the binary runs").into()
}

#[test]
fn credential_urls_never_leak_to_output_junit_state_or_the_workdir() {
    let tmp = tempfile::tempdir().unwrap();
    let repos = tmp.path().join("repos");
    let repo = make_plugin_repo(&repos.join("private.git"), true);
    // The password the server wants holds '#', '@', ':' and '?', written raw in the spec.
    let good = "SECRET0#SECRET1@SECRET2:SECRET3?SECRET4";
    let server = GitHttpServer::start(&repos, Some(&format!("alice:{good}")));
    let workdir = tmp.path().join("wd");
    let url = |password: &str| server.url("private.git").replace("http://", &format!("http://alice:{password}@"));

    let mut specs = vec![format!("arcaflow-plugin-testkit@git+{}@{}", url(good), repo.head)];
    let mut rng = Lcg(13);
    let specials = ["#", "/", "@", ":", "?", "%", "&", "=", " ", "'", "\"", ";", "://", "%2F", "$"];
    for i in 0..16 {
        let pw = password(&mut rng, &specials);
        let u = url(&pw);
        specs.push(match i % 8 {
            0 => format!("git+{u}@main"),                           // the module name forgotten
            1 => format!("arcaflow-plugin-testkit@git+{u}@ma..in"), // a bad ref
            2 => format!("arcaflow-plugin-testkit@git+{u}#what"),   // a bad fragment
            3 => format!("arcaflow-plugin-testkit@git+{}", u.replace("http:", "ftp:")),
            4 => format!("not a name@git+{u}"),
            5 => format!("arcaflow-plugin-testkit @ git+{u}@main#subdirectory=../x"),
            6 => format!("arcaflow-plugin-testkit@git+{u}@main"), // wrong password, or refused
            _ => format!("arcaflow-plugin-testkit@git+{}@main", url(&pw.replace('/', "%2F"))),
        });
    }
    let mut seen = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let mut case = Case::new();
        case.workdir = workdir.clone();
        case.workflow(&echo_workflow(&spec.replace('"', "\\\"")).replace("sleep: !expr $.input.sleep", "sleep: 0"));
        let junit = tmp.path().join(format!("junit-{i}.xml"));
        let out = case.arg("-vv").arg("--junit").arg(junit.to_str().unwrap()).run();
        if i == 0 {
            out.assert_code(0);
        } else {
            assert_ne!(out.code, 0, "{spec}: {}", out.stderr);
        }
        seen.push((format!("run {spec}"), format!("{}{}", out.stdout, out.stderr)));
    }
    for sub in [&["runs"][..], &["runs", "--json"], &["cache", "list"]] {
        let out = command(sub, &workdir);
        seen.push((sub.join(" "), format!("{}{}", out.stdout, out.stderr)));
    }
    for (what, text) in &seen {
        assert!(!text.contains("SECRET"), "{what} printed a secret:\n{text}");
    }
    // The workdir (mirror, venvs, run states, scratch) and every JUnit file.
    let leaks =
        files_containing(tmp.path(), "SECRET").into_iter().filter(|p| !p.starts_with(&repos)).collect::<Vec<_>>();
    assert!(leaks.is_empty(), "files holding a secret: {leaks:?}");
    // What was scanned is there: the run states, the mirror and its source file, a build.
    assert!(fs::read_dir(workdir.join("runs")).unwrap().count() >= 1);
    assert_eq!(files_containing(&workdir.join("git"), "alice").len(), 0, "the user name is stored too");
    assert!(!crate::support::complete_builds(&workdir).is_empty());
}

/// Every process's command line that holds `needle` (what any local user can read).
fn command_lines_holding(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(bytes) = fs::read(entry.path().join("cmdline")) {
            let line = String::from_utf8_lossy(&bytes).replace('\0', " ");
            if line.contains(needle) {
                found.push(line);
            }
        }
    }
    found
}

#[test]
fn index_credentials_reach_the_installer_but_no_command_line() {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::{Arc, Mutex};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // What the index saw: the Authorization headers, and command lines holding the secret while
    // the installer was talking to it.
    let seen: Arc<Mutex<(Vec<String>, Vec<String>)>> = Arc::default();
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut auth = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("authorization") {
                        auth = Some(v.trim().to_string());
                    }
                }
            }
            let mut out = stream;
            match auth {
                None => {
                    let _ = out.write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"idx\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
                Some(a) => {
                    let mut s = seen2.lock().unwrap();
                    s.0.push(a);
                    s.1.extend(command_lines_holding("SECRETpw"));
                    let _ = out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("plugin"), true);
    let case = Case::new().own_workdir();
    case.workflow(
        &echo_workflow(&format!("arcaflow-plugin-testkit@{}", repo.dir.display()))
            .replace("sleep: !expr $.input.sleep", "sleep: 0"),
    );
    case.config(&format!(
        "deployers:\n  python:\n    deployer_name: python\n    indexUrl: http://alice:SECRETpw@127.0.0.1:{port}/simple\n"
    ));
    let out = case.run();
    // Nothing can be installed from an index that answers 404 to everything.
    out.assert_code(1);
    assert!(!out.stderr.contains("SECRETpw") && !out.stdout.contains("SECRETpw"), "{}", out.stderr);
    let seen = seen.lock().unwrap();
    // "alice:SECRETpw" in base64: the installer got the credentials.
    assert!(seen.0.iter().any(|a| a == "Basic YWxpY2U6U0VDUkVUcHc="), "the index saw {:?}", seen.0);
    assert!(seen.1.is_empty(), "command lines holding the password: {:?}", seen.1);
}
