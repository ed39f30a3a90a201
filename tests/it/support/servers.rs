//! Loopback helpers started (and killed, by pid) by the tests that use them: a static-file HTTP
//! server (a dumb-HTTP git host) and an HTTP proxy that logs what went through it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct PyServer {
    child: Child,
    pub port: u16,
}

impl PyServer {
    fn start(script: &str, arg: &Path) -> PyServer {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/py").join(script);
        let mut child = Command::new("python3")
            .arg(path)
            .arg(arg)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("{script} did not print its port: {line:?}"));
        PyServer { child, port }
    }

    /// Serves the files under `root` over plain HTTP.
    pub fn static_files(root: &Path) -> PyServer {
        PyServer::start("static_http.py", root)
    }

    /// An HTTP proxy appending each request line to `log`.
    pub fn proxy(log: &Path) -> PyServer {
        PyServer::start("proxy.py", log)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare copy of `repo` under `root/name`, ready for dumb HTTP (`git update-server-info`).
pub fn bare_for_http(repo: &Path, root: &Path, name: &str) -> PathBuf {
    let dest = root.join(name);
    super::git(root, &["clone", "-q", "--bare", &repo.to_string_lossy(), &dest.to_string_lossy()]);
    super::git(&dest, &["update-server-info"]);
    dest
}
