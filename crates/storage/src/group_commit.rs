//! Group commit for logs in fsync-before-ack mode (`flush.messages=1`): a committer thread per
//! log dir makes appended data durable for every produce waiting on it, one round at a time.
//!
//! A round takes every request queued since the previous round began, notes the log end offset
//! of each log they name, makes those logs durable up to it, and answers the requests. A request
//! therefore waits for at most the round in progress and the next one, however many partitions,
//! requests and connections wait with it; the rounds run back to back while requests keep
//! coming. How a round makes data durable is the broker's [`FlushMethod`]:
//! - [`FlushMethod::Syncfs`] (default): one `syncfs(2)` of the file system holding the logs —
//!   one writeback of all their appended data and one device cache flush, where an `fdatasync`
//!   per partition costs a metadata write and a cache flush each (on this project's test
//!   machine: 8 partitions, 0.8 ms a round instead of 1.1 ms with 8 `fdatasync`s in parallel,
//!   and half the CPU). It also writes back whatever else is dirty on that file system
//!   (page-cache-mode topics, other programs), which the round then waits for. Should it fail,
//!   the round falls back to `fdatasync` per log, so that an I/O error takes offline only the
//!   logs it hit.
//! - [`FlushMethod::Fdatasync`]: one `fdatasync` per segment file written since the last round,
//!   the logs of a round in parallel.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::{Result, StorageError};
use crate::log::{LogSnapshot, PartitionLog};

/// How a group-commit round makes data durable (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushMethod {
    #[default]
    Syncfs,
    Fdatasync,
}

impl std::str::FromStr for FlushMethod {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "syncfs" => Ok(Self::Syncfs),
            "fdatasync" => Ok(Self::Fdatasync),
            other => Err(format!("{other:?} is not one of syncfs, fdatasync")),
        }
    }
}

/// Called once with one result per item of the request, in order.
pub type SyncDone = Box<dyn FnOnce(Vec<Result<()>>) + Send>;

struct Request {
    items: Vec<(Arc<PartitionLog>, i64)>,
    results: Vec<Option<Result<()>>>,
    done: SyncDone,
}

struct State {
    queue: Vec<Request>,
    shutdown: bool,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    /// The log dir, to name the thread and errors.
    dir: String,
    state: Mutex<State>,
    wake: Condvar,
    syncfs: AtomicBool,
    /// Rounds run so far.
    rounds: AtomicU64,
}

/// The committer of one log dir.
pub struct GroupCommit {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("dir", &self.shared.dir)
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl GroupCommit {
    /// A committer for the logs in `dir`; its thread starts with the first request.
    pub fn new(dir: &std::path::Path, method: FlushMethod) -> Self {
        Self {
            shared: Arc::new(Shared {
                dir: dir.display().to_string(),
                state: Mutex::new(State {
                    queue: Vec::new(),
                    shutdown: false,
                    thread: None,
                }),
                wake: Condvar::new(),
                syncfs: AtomicBool::new(method == FlushMethod::Syncfs),
                rounds: AtomicU64::new(0),
            }),
        }
    }

    pub fn set_method(&self, method: FlushMethod) {
        self.shared
            .syncfs
            .store(method == FlushMethod::Syncfs, Ordering::Relaxed);
    }

    pub fn method(&self) -> FlushMethod {
        if self.shared.syncfs.load(Ordering::Relaxed) {
            FlushMethod::Syncfs
        } else {
            FlushMethod::Fdatasync
        }
    }

    /// Rounds run so far.
    pub fn rounds(&self) -> u64 {
        self.shared.rounds.load(Ordering::SeqCst)
    }

    /// Queue a request to make every `(log, offset)` durable (all offsets <= `offset`);
    /// `done` gets the results from the committer thread (or at once, for items that need no
    /// round).
    pub fn submit(&self, items: Vec<(Arc<PartitionLog>, i64)>, done: SyncDone) {
        let mut req = Request {
            results: items.iter().map(|_| None).collect(),
            items,
            done,
        };
        if req.settle_without_round() {
            req.finish();
            return;
        }
        let mut st = lock(&self.shared.state);
        if st.thread.is_none() {
            let shared = self.shared.clone();
            match std::thread::Builder::new()
                .name(format!("group-commit {}", self.shared.dir))
                .spawn(move || shared.run())
            {
                Ok(h) => st.thread = Some(h),
                Err(e) => {
                    drop(st);
                    tracing::error!(dir = %self.shared.dir, "cannot start the group commit thread: {e}");
                    let dir = std::path::PathBuf::from(&self.shared.dir);
                    for r in req.results.iter_mut().filter(|r| r.is_none()) {
                        *r = Some(Err(StorageError::Io {
                            path: dir.clone(),
                            source: std::io::Error::new(e.kind(), e.to_string()),
                        }));
                    }
                    req.finish();
                    return;
                }
            }
        }
        st.queue.push(req);
        self.shared.wake.notify_one();
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        let handle = {
            let mut st = lock(&self.shared.state);
            st.shutdown = true;
            self.shared.wake.notify_all();
            st.thread.take()
        };
        // The last reference may go with a request the committer itself just answered: it
        // then ends on its own once the queue is empty.
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

impl Request {
    /// Settle the items that need no round: covered already, offline, or beyond the log end.
    /// True when none is left.
    fn settle_without_round(&mut self) -> bool {
        for (i, (log, offset)) in self.items.iter().enumerate() {
            if self.results[i].is_some() {
                continue;
            }
            if *offset < log.synced_offset() {
                self.results[i] = Some(Ok(()));
            } else if log.is_offline() {
                self.results[i] = Some(Err(log.offline_error()));
            } else {
                let log_end_offset = log.log_end_offset();
                if *offset >= log_end_offset {
                    self.results[i] = Some(Err(StorageError::SyncBeyondLogEnd {
                        tp: log.topic_partition().clone(),
                        offset: *offset,
                        log_end_offset,
                    }));
                }
            }
        }
        self.results.iter().all(Option::is_some)
    }

    fn finish(self) {
        let results = self
            .results
            .into_iter()
            .map(|r| r.unwrap_or(Ok(())))
            .collect();
        (self.done)(results);
    }
}

impl Shared {
    fn run(&self) {
        loop {
            let requests = {
                let mut st = lock(&self.state);
                while st.queue.is_empty() && !st.shutdown {
                    st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.queue.is_empty() {
                    return;
                }
                std::mem::take(&mut st.queue)
            };
            let mut seen = HashSet::new();
            let logs: Vec<&Arc<PartitionLog>> = requests
                .iter()
                .flat_map(|r| r.items.iter().map(|(log, _)| log))
                .filter(|log| seen.insert(Arc::as_ptr(log)))
                .collect();
            self.round(&logs);
            self.rounds.fetch_add(1, Ordering::SeqCst);
            let mut again = Vec::new();
            for mut req in requests {
                if req.settle_without_round() {
                    req.finish();
                } else {
                    // Not covered (its log was truncated below the offset and written again
                    // since): the next round.
                    again.push(req);
                }
            }
            if !again.is_empty() {
                lock(&self.state).queue.extend(again);
            }
        }
    }

    /// Make `logs` durable up to their log end offsets as of now.
    fn round(&self, logs: &[&Arc<PartitionLog>]) {
        let work: Vec<Work<'_>> = logs
            .iter()
            .filter(|log| !log.is_offline())
            .map(|log| {
                let (truncations, snap, from) = log.sync_start();
                Work {
                    log,
                    truncations,
                    snap,
                    from,
                }
            })
            .filter(|w| w.snap.log_end_offset > w.from)
            .collect();
        if work.is_empty() {
            return;
        }
        let rest = if self.syncfs.load(Ordering::Relaxed) {
            self.syncfs(work)
        } else {
            work
        };
        fdatasync_all(&rest);
    }

    /// One `syncfs` per file system among `work`'s logs; returns the logs of a file system
    /// whose `syncfs` failed, for `fdatasync` to find which of them the error hit.
    fn syncfs<'a>(&self, work: Vec<Work<'a>>) -> Vec<Work<'a>> {
        let mut by_device: Vec<(u64, Vec<Work<'_>>)> = Vec::new();
        for w in work {
            let dev = w.log.device();
            match by_device.iter_mut().find(|(d, _)| *d == dev) {
                Some((_, v)) => v.push(w),
                None => by_device.push((dev, vec![w])),
            }
        }
        let mut failed = Vec::new();
        for (_, group) in by_device {
            match syncfs(group[0].snap.active_log_file()) {
                Ok(()) => {
                    for w in &group {
                        w.complete();
                    }
                }
                Err(e) => {
                    tracing::warn!(dir = %self.dir, "syncfs failed ({e}); fsyncing each log");
                    failed.extend(group);
                }
            }
        }
        failed
    }
}

/// One log in a round.
struct Work<'a> {
    log: &'a Arc<PartitionLog>,
    truncations: u64,
    /// Made durable up to its log end offset.
    snap: Arc<LogSnapshot>,
    /// Durable below this already.
    from: i64,
}

impl Work<'_> {
    fn complete(&self) {
        self.log
            .complete_sync(self.truncations, self.snap.log_end_offset);
    }
}

/// `fdatasync` each log's segment files from its synced offset on, the logs in parallel.
fn fdatasync_all(work: &[Work<'_>]) {
    let one = |w: &Work<'_>| {
        // An error takes the log offline; its waiters find it so.
        if w.log.sync_segments(&w.snap, w.from).is_ok() {
            w.complete();
        }
    };
    match work {
        [] => {}
        [w] => one(w),
        _ => std::thread::scope(|s| {
            for w in work {
                if std::thread::Builder::new()
                    .spawn_scoped(s, move || one(w))
                    .is_err()
                {
                    one(w);
                }
            }
        }),
    }
}

#[cfg(target_os = "linux")]
fn syncfs(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor belongs to `file`, open for the duration of the call.
    if unsafe { libc::syncfs(file.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn syncfs(_file: &std::fs::File) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "syncfs is Linux-only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LogConfig;
    use crate::log::LoadParams;
    use crate::time::MockTime;
    use crate::TopicPartition;
    use bytes::BytesMut;
    use sluice_protocol::batch::testing::build_batch;

    fn fsync_log(dir: &std::path::Path) -> Arc<PartitionLog> {
        let config = LogConfig {
            fsync_before_ack: true,
            ..LogConfig::default()
        };
        let params = LoadParams {
            had_clean_shutdown: true,
            recovery_point: 0,
            log_start_offset: 0,
        };
        Arc::new(
            PartitionLog::open(
                dir.join("t-0"),
                TopicPartition::new("t", 0),
                config,
                Arc::new(MockTime::new(0)),
                params,
            )
            .unwrap(),
        )
    }

    fn append(log: &PartitionLog, n: usize) -> i64 {
        let values: Vec<Vec<u8>> = (0..n).map(|i| vec![b'x'; i + 1]).collect();
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let mut batch = BytesMut::from(&build_batch(0, 1, &refs)[..]);
        log.append_as_leader(&mut batch, 0).unwrap().last_offset
    }

    /// A round that began before a truncation must not mark the truncated range durable: the
    /// offsets it noted may be written again, unsynced, after the truncation.
    #[test]
    fn a_round_does_not_raise_the_synced_offset_over_a_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let log = fsync_log(dir.path());
        for _ in 0..5 {
            append(&log, 1);
        }
        let (truncations, snap, from) = log.sync_start();
        assert_eq!((snap.log_end_offset, from), (5, 0));
        log.truncate_to(2).unwrap();
        assert_eq!(log.log_end_offset(), 2);
        append(&log, 3);
        assert_eq!(log.log_end_offset(), 5);
        log.complete_sync(truncations, snap.log_end_offset);
        assert_eq!(log.synced_offset(), 0);
        assert_eq!(log.high_watermark(), 0);
        // A round that starts after it does.
        let (truncations, snap, _) = log.sync_start();
        log.complete_sync(truncations, snap.log_end_offset);
        assert_eq!((log.synced_offset(), log.high_watermark()), (5, 5));
    }

    #[test]
    fn requests_are_answered_and_the_thread_ends_with_its_committer() {
        let dir = tempfile::tempdir().unwrap();
        let log = fsync_log(dir.path());
        let committer = GroupCommit::new(dir.path(), FlushMethod::Fdatasync);
        let last = append(&log, 4);
        let (tx, rx) = std::sync::mpsc::channel();
        committer.submit(
            vec![(log.clone(), last)],
            Box::new(move |r| tx.send(r).unwrap()),
        );
        let results = rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
        assert!(matches!(results[..], [Ok(())]));
        assert_eq!(log.high_watermark(), 4);
        assert_eq!(committer.rounds(), 1);
        let shared = Arc::downgrade(&committer.shared);
        drop(committer);
        // The thread held the last other reference: dropping joined it.
        assert!(shared.upgrade().is_none());
    }

    #[test]
    fn flush_method_parses_its_two_names() {
        assert_eq!("syncfs".parse(), Ok(FlushMethod::Syncfs));
        assert_eq!(" fdatasync".parse(), Ok(FlushMethod::Fdatasync));
        assert!("fsync".parse::<FlushMethod>().is_err());
    }
}
