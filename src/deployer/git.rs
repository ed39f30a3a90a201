//! Owns git sources: one bare mirror per repository URL, fetched incrementally, refs resolved to
//! commits, the compat marker checked at the commit, and the tree exported for installation.

use std::path::{Path, PathBuf};

use git2::{FetchOptions, RemoteCallbacks, Repository};
use sha2::{Digest, Sha256};

use super::spec::redact_url;
use crate::error::{Error, Result};
use crate::workdir::{self, Workdir};

pub const COMPAT_MARKER: &str = ".python_deployer_compat";

pub struct Mirror {
    repo: Repository,
    url: String,
    shown: String,
}

/// Whether the network may be used to bring the mirror up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Fetch only when the ref is not a commit already in the mirror.
    IfNeeded,
    /// Never touch the network (pull policy `Never`).
    Offline,
}

impl Mirror {
    /// Opens (creating it if needed) the mirror of `url`. The caller holds the mirror lock.
    pub fn open(workdir: &Workdir, url: &str) -> Result<Mirror> {
        let path = mirror_path(workdir, url);
        let shown = redact_url(url);
        let repo = match Repository::open_bare(&path) {
            Ok(r) => r,
            Err(_) => {
                if path.exists() {
                    // An interrupted clone: nothing in it can be trusted to be complete.
                    std::fs::remove_dir_all(&path)
                        .map_err(|e| Error::io(format!("cannot remove {}", path.display()), e))?;
                }
                let r = Repository::init_bare(&path).map_err(|e| git_err(&shown, "cannot create mirror", e))?;
                // Recorded for `cache list`; never the URL with credentials.
                let _ = std::fs::write(path.join(workdir::MIRROR_SOURCE), &shown);
                r
            }
        };
        Ok(Mirror { repo, url: url.to_string(), shown })
    }

    /// Resolves `reference` (commit, tag, branch, or the remote HEAD when absent) to a commit id.
    pub fn resolve(&self, reference: Option<&str>, fetch: Fetch) -> Result<git2::Oid> {
        if let Some(r) = reference {
            if looks_like_sha(r) {
                if let Ok(obj) = self.repo.revparse_single(r) {
                    if let Ok(c) = obj.peel_to_commit() {
                        return Ok(c.id());
                    }
                }
            }
        }
        match fetch {
            Fetch::IfNeeded => self.fetch()?,
            Fetch::Offline => {}
        }
        let candidates: Vec<String> = match reference {
            None => vec!["refs/arcaflow/HEAD".into()],
            Some(r) => vec![format!("refs/tags/{r}"), format!("refs/heads/{r}"), r.to_string()],
        };
        for c in &candidates {
            if let Ok(obj) = self.repo.revparse_single(c) {
                if let Ok(commit) = obj.peel_to_commit() {
                    return Ok(commit.id());
                }
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

    fn fetch(&self) -> Result<()> {
        let mut callbacks = RemoteCallbacks::new();
        let url = self.url.clone();
        let mut tried_userpass = false;
        let mut tried_agent = false;
        callbacks.credentials(move |_u, username, allowed| {
            if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) && !tried_userpass {
                tried_userpass = true;
                if let Some((user, pass)) = url_credentials(&url) {
                    return git2::Cred::userpass_plaintext(&user, &pass);
                }
            }
            if allowed.contains(git2::CredentialType::SSH_KEY) && !tried_agent {
                tried_agent = true;
                return git2::Cred::ssh_key_from_agent(username.unwrap_or("git"));
            }
            Err(git2::Error::from_str("no credentials available (arcaflow-py never prompts)"))
        });
        let mut opts = FetchOptions::new();
        opts.remote_callbacks(callbacks);
        opts.download_tags(git2::AutotagOption::None);
        let mut remote = self.repo.remote_anonymous(&self.url).map_err(|e| git_err(&self.shown, "bad remote", e))?;
        remote
            .fetch(
                &["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", "+HEAD:refs/arcaflow/HEAD"],
                Some(&mut opts),
                None,
            )
            .map_err(|e| git_err(&self.shown, "cannot fetch", e))
    }

    pub fn has_marker(&self, commit: git2::Oid) -> Result<bool> {
        let tree = self.tree(commit)?;
        let found = tree.get_name(COMPAT_MARKER).is_some();
        Ok(found)
    }

    fn tree(&self, commit: git2::Oid) -> Result<git2::Tree<'_>> {
        self.repo.find_commit(commit).and_then(|c| c.tree()).map_err(|e| git_err(&self.shown, "cannot read commit", e))
    }

    /// Writes the files of `commit` into `dest` (which must not exist yet).
    pub fn export(&self, commit: git2::Oid, dest: &Path) -> Result<()> {
        std::fs::create_dir_all(dest).map_err(|e| Error::io(format!("cannot create {}", dest.display()), e))?;
        let commit_obj =
            self.repo.find_object(commit, None).map_err(|e| git_err(&self.shown, "cannot read commit", e))?;
        let mut co = git2::build::CheckoutBuilder::new();
        co.target_dir(dest).force().recreate_missing(true);
        self.repo.checkout_tree(&commit_obj, Some(&mut co)).map_err(|e| git_err(&self.shown, "cannot check out", e))
    }
}

pub fn mirror_path(workdir: &Workdir, url: &str) -> PathBuf {
    workdir.mirror(&url_hash(url))
}

fn url_hash(url: &str) -> String {
    let digest = Sha256::digest(redact_url(url).as_bytes());
    hex::encode(&digest[..12])
}

fn looks_like_sha(r: &str) -> bool {
    (7..=40).contains(&r.len()) && r.chars().all(|c| c.is_ascii_hexdigit())
}

fn url_credentials(url: &str) -> Option<(String, String)> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    match userinfo.split_once(':') {
        Some((u, p)) => Some((u.to_string(), p.to_string())),
        None => Some((userinfo.to_string(), String::new())),
    }
}

fn git_err(shown: &str, what: &str, e: git2::Error) -> Error {
    // libgit2 messages can echo the URL; make sure credentials never leak through them.
    let message = scrub(e.message());
    Error::Deploy { plugin: shown.to_string(), message: format!("{what}: {message}") }
}

/// Redacts every URL found in a free-form message.
pub fn scrub(message: &str) -> String {
    message
        .split(' ')
        .map(|w| if w.contains("://") { redact_url(w) } else { w.to_string() })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn lock_mirror(workdir: &Workdir, url: &str) -> Result<workdir::LockGuard> {
    workdir::lock_exclusive(&workdir.mirror_lock(&url_hash(url)))
}
