//! Owns the bounds on files we read (size, nesting depth, nodes after alias expansion) and the
//! bounded file read every reader goes through, so hostile input is refused before it costs much.
//!
//! The limits are process-wide: one arcaflow-py process runs one command, and the config that sets
//! them is read before anything else (with the defaults).

use std::io::Read;
use std::path::Path;
use std::sync::RwLock;

use serde::Deserialize;

/// Bounds on what a YAML/JSON file may make us do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Limits {
    /// Bytes of one file (workflow, input, config, state files) and of one `readFile`.
    pub max_file_bytes: u64,
    /// Nesting depth of collections.
    pub max_depth: usize,
    /// Nodes in one file, aliases counted as the nodes they expand to.
    pub max_nodes: usize,
    /// Nodes that aliases expand to, in one file: a small file of aliases to aliases ("billion
    /// laughs") stops here, after little work and memory.
    pub max_alias_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        DEFAULT
    }
}

const DEFAULT: Limits =
    Limits { max_file_bytes: 64 * 1024 * 1024, max_depth: 256, max_nodes: 4_000_000, max_alias_nodes: 100_000 };

static CURRENT: RwLock<Limits> = RwLock::new(DEFAULT);

/// The limits in force.
pub fn current() -> Limits {
    CURRENT.read().map(|l| *l).unwrap_or_default()
}

/// Sets the limits for the rest of the process (from the config).
pub fn set(limits: Limits) {
    if let Ok(mut l) = CURRENT.write() {
        *l = limits;
    }
}

/// The text of a file, refused when it is larger than `limits.maxFileBytes` or not a regular file.
pub fn read_text(path: &Path) -> Result<String, String> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes).map_err(|e| format!("cannot read it: not UTF-8 text ({e})"))
}

/// The bytes of a file, refused when it is larger than `limits.maxFileBytes` or not a regular file.
/// The size is checked before reading and enforced while reading (a file that grows is cut off).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let limits = current();
    // stat first: opening a FIFO for reading would block until someone writes to it.
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("cannot read it: not a regular file".into());
    }
    // Opened non-blocking: if a FIFO took the file's place after the check, opening it still
    // does not wait for a writer (the check below then refuses it). Regular files ignore the flag.
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| format!("cannot read it: {e}"))?
    };
    let meta = file.metadata().map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("cannot read it: not a regular file".into());
    }
    let too_big = || {
        format!(
            "the file is larger than the limit of {} bytes (limits.maxFileBytes in the config)",
            limits.max_file_bytes
        )
    };
    if meta.len() > limits.max_file_bytes {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limits.max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_big());
    }
    Ok(bytes)
}
