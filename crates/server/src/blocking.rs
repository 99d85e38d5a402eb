//! Where blocking I/O runs. The rule: code on the async runtime never blocks a worker thread on
//! file I/O directly. Work that must finish before a request is answered and that borrows
//! request state (a metadata commit, a checkpoint write) goes through [`run`], which hands the
//! worker's other tasks to another thread while it blocks (`block_in_place`); work that can own
//! its inputs goes to the blocking pool with `tokio::task::spawn_blocking`.

/// Run `f`, which blocks on I/O, from async code (see the module docs). Outside a runtime, or
/// on a current-thread runtime (tests), `f` simply runs.
pub fn run<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}
