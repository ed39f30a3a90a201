//! Owns the hooks that let integration tests cause, in the real binary, what no real part
//! produces on demand: a panic inside a step's task, and a run loop that is busy while signals
//! arrive. They exist in debug builds only (the tests drive `target/debug/arcaflow-py`); in a
//! release build every hook is an empty function. CONTRIBUTING.md lists them.

/// `ARCAFLOW_PY_TEST_PANIC=<step>`: the task of that step panics once its input has come
/// (`<step>` is the id as logs show it: `e`, or `loop[1] -> inner` inside a foreach; a foreach
/// step's own id makes its task panic when it starts).
#[cfg(debug_assertions)]
pub(crate) fn maybe_panic(step: &str) {
    if std::env::var("ARCAFLOW_PY_TEST_PANIC").is_ok_and(|v| v == step) {
        panic!("test hook ARCAFLOW_PY_TEST_PANIC: step {step} panics");
    }
}

#[cfg(not(debug_assertions))]
pub(crate) fn maybe_panic(_step: &str) {}

/// `ARCAFLOW_PY_TEST_BUSY=<file>`: the first time the top-level run loop waits for a step, it
/// first creates `<file>` and then stays busy (blocks its thread, as a long expression would)
/// until the test removes the file, at most 60 s.
#[cfg(debug_assertions)]
pub(crate) fn busy_once() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static DONE: AtomicBool = AtomicBool::new(false);
    let Some(path) = std::env::var_os("ARCAFLOW_PY_TEST_BUSY") else { return };
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let path = std::path::PathBuf::from(path);
    if std::fs::write(&path, b"busy").is_err() {
        return;
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while path.exists() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[cfg(not(debug_assertions))]
pub(crate) fn busy_once() {}
