//! Owns git sources: one bare mirror per repository URL, fetched with the user's own `git` command
//! (so every transport, credential helper, `insteadOf` rule, proxy and ssh setting they have works),
//! refs resolved to commits, the compat marker checked at the commit, and the tree exported.
//!
//! git runs non-interactively: no terminal (its own session), `GIT_TERMINAL_PROMPT=0`, askpass
//! programs that fail, `credential.interactive=never`, and a timeout. Only what is needed is
//! fetched: the pinned commit, or the one tag or branch, or the remote HEAD.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::spec::strip_userinfo;
use crate::error::{Error, Result};
use crate::workdir::{self, Workdir};

pub const COMPAT_MARKER: &str = ".python_deployer_compat";

/// How long one git command may take (a fetch of a large repository over a slow link included).
const GIT_TIMEOUT: Duration = Duration::from_secs(600);

/// Where the remote HEAD is kept in the mirror.
const REMOTE_HEAD: &str = "refs/arcaflow/HEAD";

pub struct Mirror {
    path: PathBuf,
    url: String,
    shown: String,
    /// Created by this `open`: a first fetch that fails leaves nothing behind.
    fresh: bool,
}

/// Whether the network may be used to bring the mirror up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Fetch only when the ref is not a commit already in the mirror.
    IfNeeded,
    /// Never touch the network (pull policy `Never`).
    Offline,
}

/// What a git command left: its exit status and outputs.
struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Mirror {
    /// Opens (creating it if needed) the mirror of `url`. The caller holds the mirror lock.
    pub fn open(workdir: &Workdir, url: &str) -> Result<Mirror> {
        let path = mirror_path(workdir, url);
        let shown = strip_userinfo(url);
        let mut mirror = Mirror { path: path.clone(), url: url.to_string(), shown, fresh: false };
        if !is_mirror(&path) {
            mirror.fresh = true;
            if path.exists() {
                // An interrupted clone: nothing in it can be trusted to be complete.
                std::fs::remove_dir_all(&path)
                    .map_err(|e| Error::io(format!("cannot remove {}", path.display()), e))?;
            }
            // Ours, 0700 whatever the umask; git fills the empty directory.
            workdir::create_private_dir(&path)?;
            let out = run_git(None, &["init", "--quiet", "--bare", &path.to_string_lossy()], &[], &mirror.shown)?;
            if !out.ok {
                return Err(mirror.failure("cannot create mirror", &out));
            }
            // Recorded for `cache list`; never the URL with credentials.
            let _ = workdir::write_atomic(&path.join(workdir::MIRROR_SOURCE), mirror.shown.as_bytes());
        }
        Ok(mirror)
    }

    /// An existing, intact mirror, or `None` (nothing is created).
    pub fn existing(workdir: &Workdir, url: &str) -> Option<Mirror> {
        let path = mirror_path(workdir, url);
        is_mirror(&path).then(|| Mirror { path, url: url.to_string(), shown: strip_userinfo(url), fresh: false })
    }

    /// Removes the mirror when this `open` created it: called when its first fetch failed, so a
    /// mistyped URL leaves no empty repository in the cache. The caller holds the mirror lock.
    pub fn discard_if_fresh(&self) {
        if self.fresh {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }

    /// The mirror's bare repository.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Resolves `reference` (commit, tag, branch, or the remote HEAD when absent) to a full commit id.
    pub fn resolve(&self, reference: Option<&str>, fetch: Fetch) -> Result<String> {
        if let Some(r) = reference.filter(|r| looks_like_sha(r)) {
            if let Some(c) = self.local_commit(r)? {
                return Ok(c);
            }
        }
        if fetch == Fetch::IfNeeded {
            self.fetch(reference)?;
        }
        let candidates: Vec<String> = match reference {
            None => vec![REMOTE_HEAD.into()],
            Some(r) => vec![format!("refs/tags/{r}"), format!("refs/heads/{r}"), r.to_string()],
        };
        for c in &candidates {
            if let Some(commit) = self.local_commit(c)? {
                return Ok(commit);
            }
        }
        let what = reference.unwrap_or("HEAD");
        let hint = if fetch == Fetch::Offline {
            " (the pull policy is Never, so nothing is fetched and the local mirror does not have it; run 'arcaflow-py pull' first or use IfNotPresent)"
        } else {
            ""
        };
        Err(Error::Deploy {
            plugin: self.shown.clone(),
            message: format!("'{what}' is not a commit, tag or branch of the repository{hint}"),
        })
    }

    /// The commit `rev` names in the mirror, if it has it.
    fn local_commit(&self, rev: &str) -> Result<Option<String>> {
        if rev.starts_with('-') {
            return Ok(None);
        }
        let spec = format!("{rev}^{{commit}}");
        let out = self.git(&["rev-parse", "--verify", "--quiet", "--end-of-options", &spec])?;
        let id = out.stdout.trim();
        Ok((out.ok && id.len() == 40).then(|| id.to_string()))
    }

    /// Fetches only what `reference` needs: a full commit id by itself (falling back to every
    /// branch and tag for servers that refuse that), a name as a tag and else as a branch.
    fn fetch(&self, reference: Option<&str>) -> Result<()> {
        let refspecs: Vec<Vec<String>> = match reference {
            None => vec![vec![format!("+HEAD:{REMOTE_HEAD}")]],
            Some(r) if r.len() == 40 && looks_like_sha(r) => vec![vec![r.to_string()], everything()],
            Some(r) if looks_like_sha(r) => vec![everything()],
            Some(r) => {
                vec![vec![format!("+refs/tags/{r}:refs/tags/{r}")], vec![format!("+refs/heads/{r}:refs/heads/{r}")]]
            }
        };
        let mut last = None;
        for specs in refspecs {
            let out = self.fetch_refspecs(&specs)?;
            if out.ok {
                return Ok(());
            }
            last = Some(out);
        }
        match last {
            Some(out) => Err(self.failure("cannot fetch", &out)),
            None => Ok(()),
        }
    }

    fn fetch_refspecs(&self, specs: &[String]) -> Result<Output> {
        let (url, secrets) = split_credentials(&self.url);
        let mut args: Vec<String> = Vec::new();
        let mut env: Vec<(&str, String)> = Vec::new();
        if let Some((user, password)) = &secrets {
            // The password goes to git through the environment, never on a command line that other
            // users can read; the URL's credentials win over any configured helper.
            args.extend(["-c".into(), "credential.helper=".into(), "-c".into(), CRED_HELPER.into()]);
            env.push(("ARCAFLOW_GIT_USERNAME", user.clone()));
            env.push(("ARCAFLOW_GIT_PASSWORD", password.clone()));
        }
        args.extend(
            ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--end-of-options"]
                .map(String::from),
        );
        args.push(url);
        args.extend(specs.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let git_dir = self.path.to_string_lossy().into_owned();
        let mut full = vec!["--git-dir", git_dir.as_str()];
        full.extend(args);
        run_git(None, &full, &env, &self.shown)
    }

    /// Whether the compat marker is at `commit`: in `subdirectory` (the plugin's root) first, then
    /// at the repository root. Returns where it was found.
    pub fn marker_at(&self, commit: &str, subdirectory: Option<&str>) -> Result<Option<String>> {
        let mut places = Vec::new();
        if let Some(d) = subdirectory.map(|d| d.trim_matches('/')).filter(|d| !d.is_empty()) {
            places.push(format!("{d}/{COMPAT_MARKER}"));
        }
        places.push(COMPAT_MARKER.to_string());
        let mut args = vec!["ls-tree", "--name-only", "--full-tree", commit, "--"];
        args.extend(places.iter().map(String::as_str));
        let out = self.git(&args)?;
        if !out.ok {
            return Err(self.failure("cannot read commit", &out));
        }
        let found: Vec<&str> = out.stdout.lines().collect();
        Ok(places.into_iter().find(|p| found.contains(&p.as_str())))
    }

    /// Writes the files of `commit` into `dest` (which must not exist yet).
    pub fn export(&self, commit: &str, dest: &Path) -> Result<()> {
        std::fs::create_dir_all(dest).map_err(|e| Error::io(format!("cannot create {}", dest.display()), e))?;
        // A throw-away index outside the mirror, so concurrent exports do not share one.
        let index = tempfile::NamedTempFile::new_in(&self.path)
            .map_err(|e| Error::io(format!("cannot create a file in {}", self.path.display()), e))?;
        let index_path = index.path().to_string_lossy().into_owned();
        let env = [("GIT_INDEX_FILE", index_path)];
        let git_dir = self.path.to_string_lossy().into_owned();
        let dest_text = dest.to_string_lossy().into_owned();
        for args in [vec!["read-tree", commit], vec!["checkout-index", "--all", "--force"]] {
            let mut full = vec!["--git-dir", git_dir.as_str(), "--work-tree", dest_text.as_str()];
            full.extend(args);
            let out = run_git(None, &full, &env, &self.shown)?;
            if !out.ok {
                return Err(self.failure("cannot check out", &out));
            }
        }
        Ok(())
    }

    fn git(&self, args: &[&str]) -> Result<Output> {
        let git_dir = self.path.to_string_lossy().into_owned();
        let mut full = vec!["--git-dir", git_dir.as_str()];
        full.extend_from_slice(args);
        run_git(None, &full, &[], &self.shown)
    }

    fn failure(&self, what: &str, out: &Output) -> Error {
        let stderr = scrub(out.stderr.trim());
        let detail = if stderr.is_empty() { "git failed without a message".to_string() } else { stderr };
        Error::Deploy { plugin: self.shown.clone(), message: format!("{what} {}: {detail}", self.shown) }
    }
}

/// Every branch and tag, for a short commit id or a server that refuses to send one commit.
fn everything() -> Vec<String> {
    vec!["+refs/heads/*:refs/heads/*".into(), "+refs/tags/*:refs/tags/*".into()]
}

/// A credential helper that answers with the URL's credentials from the environment.
const CRED_HELPER: &str = "credential.helper=!f() { test \"$1\" = get || exit 0; echo \"username=$ARCAFLOW_GIT_USERNAME\"; echo \"password=$ARCAFLOW_GIT_PASSWORD\"; }; f";

/// Runs git without a terminal or prompts, within the timeout; `Err` only when git cannot run.
fn run_git(cwd: Option<&Path>, args: &[&str], env: &[(&str, String)], shown: &str) -> Result<Output> {
    let mut cmd = Command::new("git");
    cmd.args(["-c", "credential.interactive=never", "-c", "core.askPass=false", "-c", "protocol.file.allow=always"]);
    cmd.args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "false")
        .env("SSH_ASKPASS", "false")
        .env("SSH_ASKPASS_REQUIRE", "never")
        .env("GCM_INTERACTIVE", "never")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("LC_ALL", "C");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // Its own session: no controlling terminal, so neither git nor ssh can ask for anything, and
    // the whole group (ssh, helpers) can be killed on timeout. It dies with us, too.
    crate::sys::new_session(&mut cmd);
    crate::sys::kill_child_with_parent(&mut cmd);
    let started = Instant::now();
    let shown_args: Vec<String> = args.iter().map(|a| crate::deployer::spec::redact_url(a)).collect();
    tracing::debug!("git {}", shown_args.join(" "));
    let mut child = cmd.spawn().map_err(|e| Error::Deploy {
        plugin: shown.to_string(),
        message: format!("cannot run git (is it installed and on PATH?): {e}"),
    })?;
    let pid = child.id() as i32;
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_end(&mut s);
        }
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(p) = err_pipe.as_mut() {
            // Bounded: only the tail of a chatty failure is shown.
            let _ = p.take(1 << 20).read_to_end(&mut s);
            let _ = std::io::copy(p, &mut std::io::sink());
        }
        s
    });
    let deadline = Instant::now() + GIT_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                crate::sys::kill_process_group(pid);
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    let stdout = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
    let mut stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    if status.is_none() {
        stderr.push_str(&format!("\ngit did not finish within {} s and was killed", GIT_TIMEOUT.as_secs()));
    }
    // The subcommand, after any `--git-dir DIR`.
    let verb = match args {
        ["--git-dir", _, verb, ..] => verb,
        [verb, ..] => verb,
        [] => "",
    };
    tracing::debug!("git {verb} ended in {:.2} s", started.elapsed().as_secs_f64());
    tracing::trace!(
        "git output:\n{}{}",
        crate::deployer::spec::redact_spec(&stdout),
        crate::deployer::spec::redact_spec(&stderr)
    );
    Ok(Output { ok: status.is_some_and(|s| s.success()), stdout, stderr })
}

/// A mirror directory that git created completely.
fn is_mirror(path: &Path) -> bool {
    path.join("HEAD").is_file() && path.join("objects").is_dir() && path.join("refs").is_dir()
}

pub fn mirror_path(workdir: &Workdir, url: &str) -> PathBuf {
    workdir.mirror(&url_hash(url))
}

fn url_hash(url: &str) -> String {
    let digest = Sha256::digest(strip_userinfo(url).as_bytes());
    hex::encode(&digest[..12])
}

fn looks_like_sha(r: &str) -> bool {
    (7..=40).contains(&r.len()) && r.chars().all(|c| c.is_ascii_hexdigit())
}

/// The URL without its password, and the (percent-decoded) user name and password when it has one.
fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Some(scheme_end) = url.find("://") else { return (url.to_string(), None) };
    let rest_at = scheme_end + 3;
    let rest = &url[rest_at..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else { return (url.to_string(), None) };
    let userinfo = &authority[..at];
    let Some((user, password)) = userinfo.split_once(':') else { return (url.to_string(), None) };
    let stripped = format!("{}{}@{}", &url[..rest_at], user, &rest[at + 1..]);
    (stripped, Some((percent_decode(user), percent_decode(password))))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Redacts every URL found in a free-form message (git quotes URLs: `'https://u:p@h/'`).
pub fn scrub(message: &str) -> String {
    crate::redact::redact_text(message)
}

pub fn lock_mirror(workdir: &Workdir, url: &str) -> Result<workdir::LockGuard> {
    workdir::lock_exclusive(&workdir.mirror_lock(&url_hash(url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_split_off_the_url() {
        let (url, c) = split_credentials("https://alice:p%40ss%2Fw@host:8080/r.git");
        assert_eq!(url, "https://alice@host:8080/r.git");
        assert_eq!(c, Some(("alice".into(), "p@ss/w".into())));
        assert_eq!(split_credentials("https://host/r.git"), ("https://host/r.git".into(), None));
        assert_eq!(split_credentials("ssh://git@host/r.git"), ("ssh://git@host/r.git".into(), None));
    }

    #[test]
    fn quoted_urls_in_git_messages_are_redacted() {
        let m = scrub("fatal: unable to access 'https://alice:secret@host/r.git/': 403");
        assert!(!m.contains("secret"), "{m}");
        assert!(m.contains("unable to access '"), "{m}");
    }
}
