//! The LogManager: owns the log dirs and every partition log in them; creates, loads and
//! deletes partitions, writes checkpoints and the clean-shutdown marker.
//!
//! Nothing on disk is removed unless the broker itself decided to remove it: at load, every
//! partition directory is loaded (which ones the metadata still knows is the server's call);
//! `-delete` directories (a deletion the broker decided: renamed first) are removed
//! file.delete.delay.ms later; `-stray` and `-future` directories, the KRaft metadata log
//! (`__cluster_metadata-0`, opened by [`LogManager::open_metadata_log`]) and directories whose
//! name is no partition are left alone. Damaged checkpoint files are ignored (recovery starts
//! from the log itself) and rewritten at the next checkpoint.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::checkpoint::{
    sync_dir, OffsetCheckpointFile, CLEANER_OFFSET_CHECKPOINT_FILE,
    LOG_START_OFFSET_CHECKPOINT_FILE, RECOVERY_POINT_CHECKPOINT_FILE,
    REPLICATION_OFFSET_CHECKPOINT_FILE,
};
use crate::config::LogConfig;
use crate::error::{IoContext, Result, StorageError};
use crate::group_commit::{FlushMethod, GroupCommit};
use crate::kafka_uuid::METADATA_TOPIC_ID;
use crate::log::{
    lock, ExpirationSlot, HighWatermarkListener, ListenerSlot, LoadParams, LogDeps, PartitionLog,
    Truncation,
};
use crate::producer_state::DEFAULT_PRODUCER_ID_EXPIRATION_MS;
use crate::time::Time;
use crate::TopicPartition;

/// Kafka's clean-shutdown marker, written in each log dir by a clean shutdown and removed once
/// its presence was noted at load.
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
/// Suffix of a partition directory being deleted (`<topic>-<partition>.<id>-delete`).
pub const DELETE_DIR_SUFFIX: &str = "-delete";
/// Suffix of a partition directory Kafka found it should not host (left alone).
pub const STRAY_DIR_SUFFIX: &str = "-stray";
/// Suffix of a partition directory being moved between log dirs by Kafka (left alone).
pub const FUTURE_DIR_SUFFIX: &str = "-future";
/// The topic of Kafka's KRaft metadata log (`__cluster_metadata-0`): never loaded as a topic
/// partition.
pub const METADATA_TOPIC: &str = "__cluster_metadata";
/// How often loading logs reports its progress.
const PROGRESS_INTERVAL_MS: i64 = 5_000;

/// Broker-level settings of the idempotent-producer state (Kafka's
/// ProducerStateManagerConfig).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerStateConfig {
    /// producer.id.expiration.ms (default one day): a producer whose last batch timestamp is
    /// this old is forgotten (at load and by `remove_expired_producers`).
    pub producer_id_expiration_ms: i64,
}

impl Default for ProducerStateConfig {
    fn default() -> Self {
        Self {
            producer_id_expiration_ms: DEFAULT_PRODUCER_ID_EXPIRATION_MS,
        }
    }
}

impl ProducerStateConfig {
    pub fn validate(&self) -> Result<()> {
        if self.producer_id_expiration_ms < 1 {
            return Err(StorageError::InvalidConfig(format!(
                "producer.id.expiration.ms {} must be >= 1",
                self.producer_id_expiration_ms
            )));
        }
        Ok(())
    }
}

/// What [`LogManager::open`] found and did; logged as one INFO line when loading ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    pub log_dirs: usize,
    /// Log dirs without the clean-shutdown marker: their logs were recovered from their
    /// recovery points.
    pub unclean_dirs: Vec<PathBuf>,
    pub partitions: usize,
    pub segments: usize,
    /// Partitions with at least one segment validated again (recovery, or a missing index).
    pub logs_recovered: usize,
    pub segments_recovered: usize,
    /// Segments whose index files were missing or failed their check (rebuilt from the log).
    pub indexes_rebuilt: usize,
    /// Partitions that lost data: invalid data cut from the end of their log.
    pub truncated: Vec<(TopicPartition, Truncation)>,
    /// Bytes cut by those truncations.
    pub bytes_truncated: u64,
    /// Damaged producer snapshots replaced by replaying the log.
    pub producer_snapshots_rebuilt: usize,
    /// Damaged `leader-epoch-checkpoint` files rebuilt from the log.
    pub leader_epochs_rebuilt: usize,
    /// Checkpoint files of the log dirs that failed to parse: ignored (as Kafka does, the
    /// logs recover from their start) and rewritten at the next checkpoint.
    pub damaged_checkpoints: Vec<PathBuf>,
    /// `-delete` directories found: removed after file.delete.delay.ms.
    pub deletions_queued: usize,
    /// Directories left alone: `-stray`, `-future`, the metadata log, names that are no
    /// partition.
    pub left_alone: Vec<PathBuf>,
    pub elapsed: Duration,
}

impl std::fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "loaded {} partition(s), {} segment(s) from {} log dir(s) in {} ms; ",
            self.partitions,
            self.segments,
            self.log_dirs,
            self.elapsed.as_millis()
        )?;
        if self.unclean_dirs.is_empty() {
            write!(f, "clean shutdown")?;
        } else {
            write!(
                f,
                "unclean shutdown of {} log dir(s): {} log(s) recovered ({} segment(s))",
                self.unclean_dirs.len(),
                self.logs_recovered,
                self.segments_recovered
            )?;
        }
        write!(
            f,
            "; {} index(es) rebuilt, {} partition(s) truncated ({} byte(s) cut), {} producer \
             snapshot(s) and {} leader epoch checkpoint(s) rebuilt, {} damaged log dir \
             checkpoint(s) ignored, {} deletion(s) pending, {} dir(s) left alone",
            self.indexes_rebuilt,
            self.truncated.len(),
            self.bytes_truncated,
            self.producer_snapshots_rebuilt,
            self.leader_epochs_rebuilt,
            self.damaged_checkpoints.len(),
            self.deletions_queued,
            self.left_alone.len()
        )
    }
}

/// A renamed `-delete` partition directory waiting for file.delete.delay.ms.
#[derive(Debug)]
struct DirDeletion {
    path: PathBuf,
    due_ms: i64,
}

/// What a directory in a log dir is.
enum DirKind {
    Partition(TopicPartition),
    /// `<topic>-<partition>.<id>-delete`.
    Deleted,
    /// `-stray`, `-future` or the metadata log: not ours to load or remove.
    NotOurs(&'static str),
    /// Not a partition directory name at all.
    Unknown,
}

/// Kafka's `LocalLog.parseTopicPartitionName` rules: `<topic>-<partition>`, or
/// `<topic>-<partition>.<unique id><suffix>` for the `-delete`, `-stray` and `-future` suffixes.
fn classify(name: &str) -> DirKind {
    for (suffix, what) in [
        (DELETE_DIR_SUFFIX, None),
        (STRAY_DIR_SUFFIX, Some("stray partition")),
        (FUTURE_DIR_SUFFIX, Some("future partition")),
    ] {
        if let Some(stem) = name.strip_suffix(suffix) {
            let tp = stem.rsplit_once('.').and_then(|(tp, id)| {
                let id_ok = !id.is_empty() && !id.chars().any(char::is_whitespace);
                id_ok
                    .then(|| TopicPartition::from_dir_name(tp).ok())
                    .flatten()
            });
            return match (tp, what) {
                (None, _) => DirKind::Unknown,
                (Some(tp), _) if tp.topic == METADATA_TOPIC => DirKind::NotOurs("metadata log"),
                (Some(_), None) => DirKind::Deleted,
                (Some(_), Some(what)) => DirKind::NotOurs(what),
            };
        }
    }
    match TopicPartition::from_dir_name(name) {
        Ok(tp) if tp.topic == METADATA_TOPIC => DirKind::NotOurs("metadata log"),
        Ok(tp) => DirKind::Partition(tp),
        Err(_) => DirKind::Unknown,
    }
}

/// A log-dir checkpoint file, or nothing if it is damaged (noted in `damaged`).
fn read_dir_checkpoint(
    path: PathBuf,
    damaged: &mut Vec<PathBuf>,
) -> Result<HashMap<TopicPartition, i64>> {
    match OffsetCheckpointFile::new(path.clone()).read() {
        Ok(m) => Ok(m),
        Err(e @ StorageError::CorruptCheckpoint { .. }) => {
            tracing::warn!("{e}; ignoring it (the logs it covers recover from their start)");
            damaged.push(path);
            Ok(HashMap::new())
        }
        Err(e) => Err(e),
    }
}

pub struct LogManager {
    log_dirs: Vec<PathBuf>,
    default_config: LogConfig,
    time: Arc<dyn Time>,
    logs: RwLock<HashMap<TopicPartition, Arc<PartitionLog>>>,
    /// Serializes creation and deletion.
    admin: Mutex<()>,
    listener: ListenerSlot,
    producer_id_expiration_ms: ExpirationSlot,
    /// One committer per log dir, in `log_dirs` order (fsync-before-ack mode).
    group_commits: Vec<Arc<GroupCommit>>,
    /// Serializes checkpoint writers (they share the files' `.tmp` names).
    checkpoint_lock: Mutex<()>,
    /// `cleaner-offset-checkpoint` of every log dir: where each compacted log's dirty
    /// section starts.
    cleaner_checkpoints: Mutex<HashMap<TopicPartition, i64>>,
    /// Renamed `-delete` directories waiting for file.delete.delay.ms.
    dir_deletions: Mutex<Vec<DirDeletion>>,
    /// The KRaft metadata log, once opened.
    metadata_log: Mutex<Option<Arc<PartitionLog>>>,
    load_summary: LoadSummary,
    /// Set by [`shutdown`](Self::shutdown); otherwise dropping the manager releases the logs.
    shut_down: AtomicBool,
}

impl std::fmt::Debug for LogManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogManager")
            .field("log_dirs", &self.log_dirs)
            .finish_non_exhaustive()
    }
}

impl LogManager {
    /// Open the log dirs (created if missing) and load every partition in them with
    /// `default_config` (change per-topic configs afterwards with
    /// [`PartitionLog::update_config`]). Logs in a dir without the clean-shutdown marker are
    /// recovered from their recovery point. See the module docs for what is loaded and what
    /// is left alone; [`load_summary`](Self::load_summary) says what was found.
    pub fn open(
        log_dirs: Vec<PathBuf>,
        default_config: LogConfig,
        time: Arc<dyn Time>,
    ) -> Result<Self> {
        Self::open_with_producer_state_config(
            log_dirs,
            default_config,
            time,
            ProducerStateConfig::default(),
        )
    }

    /// [`open`](Self::open) with non-default producer-state settings (they apply while the
    /// logs load, e.g. to expire idle producers).
    pub fn open_with_producer_state_config(
        log_dirs: Vec<PathBuf>,
        default_config: LogConfig,
        time: Arc<dyn Time>,
        producer_config: ProducerStateConfig,
    ) -> Result<Self> {
        let started = Instant::now();
        default_config.validate()?;
        producer_config.validate()?;
        let expiration: ExpirationSlot =
            Arc::new(AtomicI64::new(producer_config.producer_id_expiration_ms));
        if log_dirs.is_empty() {
            return Err(StorageError::InvalidConfig("no log dirs".into()));
        }
        let listener: ListenerSlot = Arc::new(RwLock::new(None));
        let group_commits: Vec<Arc<GroupCommit>> = log_dirs
            .iter()
            .map(|d| Arc::new(GroupCommit::new(d, FlushMethod::default())))
            .collect();
        let mut summary = LoadSummary {
            log_dirs: log_dirs.len(),
            ..LoadSummary::default()
        };
        let now = time.milliseconds();
        let mut cleaner_checkpoints = HashMap::new();
        let mut dir_deletions = Vec::new();
        // First every log dir's checkpoints and partition directories, then the loading (so
        // that progress can say "n of m").
        struct ToLoad {
            path: PathBuf,
            tp: TopicPartition,
            params: LoadParams,
            dir_index: usize,
        }
        let mut to_load = Vec::new();
        for (dir_index, dir) in log_dirs.iter().enumerate() {
            fs::create_dir_all(dir).at(dir)?;
            let damaged = &mut summary.damaged_checkpoints;
            cleaner_checkpoints.extend(read_dir_checkpoint(
                dir.join(CLEANER_OFFSET_CHECKPOINT_FILE),
                damaged,
            )?);
            let rps = read_dir_checkpoint(dir.join(RECOVERY_POINT_CHECKPOINT_FILE), damaged)?;
            let starts = read_dir_checkpoint(dir.join(LOG_START_OFFSET_CHECKPOINT_FILE), damaged)?;
            // Kafka (KAFKA-10471): the marker goes as soon as it is noted, so that a crash
            // while loading counts as an unclean shutdown.
            let marker = dir.join(CLEAN_SHUTDOWN_FILE);
            let clean = marker.exists();
            if clean {
                fs::remove_file(&marker).at(&marker)?;
                sync_dir(dir)?;
            } else {
                summary.unclean_dirs.push(dir.clone());
            }
            let mut entries: Vec<_> = fs::read_dir(dir)
                .at(dir)?
                .collect::<std::io::Result<Vec<_>>>()
                .at(dir)?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                if !entry.file_type().at(&path)?.is_dir() {
                    continue;
                }
                let kind = match entry.file_name().to_str() {
                    Some(name) => classify(name),
                    None => DirKind::Unknown,
                };
                match kind {
                    DirKind::Partition(tp) => {
                        let params = LoadParams {
                            had_clean_shutdown: clean,
                            recovery_point: rps.get(&tp).copied().unwrap_or(0),
                            log_start_offset: starts.get(&tp).copied().unwrap_or(0),
                        };
                        to_load.push(ToLoad {
                            path,
                            tp,
                            params,
                            dir_index,
                        });
                    }
                    DirKind::Deleted => {
                        tracing::info!(
                            "{} is a deleted partition: removing it in {} ms \
                             (file.delete.delay.ms)",
                            path.display(),
                            default_config.file_delete_delay_ms
                        );
                        dir_deletions.push(DirDeletion {
                            path,
                            due_ms: now.saturating_add(default_config.file_delete_delay_ms),
                        });
                        summary.deletions_queued += 1;
                    }
                    DirKind::NotOurs(what) => {
                        if what == "metadata log" {
                            tracing::debug!(
                                "{} is the {what}: not a topic partition",
                                path.display()
                            );
                        } else {
                            tracing::info!("leaving {} alone: a {what}", path.display());
                        }
                        summary.left_alone.push(path);
                    }
                    DirKind::Unknown => {
                        tracing::warn!(
                            "leaving {} alone: its name is not a partition directory name \
                             (<topic>-<partition>)",
                            path.display()
                        );
                        summary.left_alone.push(path);
                    }
                }
            }
        }
        let total = to_load.len();
        let mut logs: HashMap<TopicPartition, Arc<PartitionLog>> = HashMap::with_capacity(total);
        let mut last_progress = time.milliseconds();
        for (done, item) in to_load.into_iter().enumerate() {
            if let Some(other) = logs.get(&item.tp) {
                return Err(StorageError::DuplicateLogDir {
                    tp: item.tp,
                    first: other.dir().to_path_buf(),
                    second: item.path,
                });
            }
            let log = PartitionLog::open_with_deps(
                item.path,
                item.tp.clone(),
                default_config.clone(),
                time.clone(),
                item.params,
                LogDeps {
                    listener: listener.clone(),
                    producer_id_expiration_ms: expiration.clone(),
                    group_commit: group_commits[item.dir_index].clone(),
                },
                None,
            )?;
            // Which epoch it leads in is the metadata's to say (the server makes it leader).
            let stats = log.load_stats();
            summary.partitions += 1;
            summary.segments += stats.segments;
            summary.segments_recovered += stats.segments_recovered;
            if stats.segments_recovered > 0 {
                summary.logs_recovered += 1;
            }
            summary.indexes_rebuilt += stats.indexes_rebuilt;
            summary.producer_snapshots_rebuilt += stats.producer_snapshots_rebuilt;
            summary.leader_epochs_rebuilt += usize::from(stats.leader_epochs_rebuilt);
            if let Some(t) = &stats.truncated {
                summary.bytes_truncated += t.bytes;
                summary.truncated.push((item.tp.clone(), t.clone()));
            }
            logs.insert(item.tp, Arc::new(log));
            let now = time.milliseconds();
            if now.saturating_sub(last_progress) >= PROGRESS_INTERVAL_MS && done + 1 < total {
                tracing::info!("loaded {} of {total} partitions", done + 1);
                last_progress = now;
            }
        }
        summary.elapsed = started.elapsed();
        tracing::info!("{summary}");
        Ok(Self {
            log_dirs,
            default_config,
            time,
            logs: RwLock::new(logs),
            admin: Mutex::new(()),
            listener,
            producer_id_expiration_ms: expiration,
            group_commits,
            checkpoint_lock: Mutex::new(()),
            cleaner_checkpoints: Mutex::new(cleaner_checkpoints),
            dir_deletions: Mutex::new(dir_deletions),
            metadata_log: Mutex::new(None),
            load_summary: summary,
            shut_down: AtomicBool::new(false),
        })
    }

    /// What opening found and did (the numbers of the INFO line logged then).
    pub fn load_summary(&self) -> &LoadSummary {
        &self.load_summary
    }

    /// Open Kafka's KRaft metadata log `__cluster_metadata-0` (created if missing, with
    /// Kafka's metadata topic id in `partition.metadata`) in `dir` — `metadata.log.dir` — or
    /// the first log dir. As Kafka's KafkaRaftLog does, it is recovered from its start at
    /// every open (no clean-shutdown shortcut, no recovery-point checkpoint). It is not one of
    /// [`all_logs`](Self::all_logs): no retention, flush, cleaning or checkpoint of topic
    /// partitions touches it; [`shutdown`](Self::shutdown) closes it. Its high-watermark
    /// listener is its own ([`PartitionLog::set_high_watermark_listener`]). Opening it again
    /// returns the same log.
    pub fn open_metadata_log(
        &self,
        config: LogConfig,
        dir: Option<&Path>,
    ) -> Result<Arc<PartitionLog>> {
        let _g = lock(&self.admin);
        let mut slot = lock(&self.metadata_log);
        if let Some(log) = slot.as_ref() {
            return Ok(log.clone());
        }
        let parent = dir.map_or_else(|| self.log_dirs[0].clone(), Path::to_path_buf);
        fs::create_dir_all(&parent).at(&parent)?;
        let group_commit = match self.log_dirs.iter().position(|d| d == &parent) {
            Some(i) => self.group_commits[i].clone(),
            None => Arc::new(GroupCommit::new(&parent, self.group_commits[0].method())),
        };
        let tp = TopicPartition::new(METADATA_TOPIC, 0);
        let log = Arc::new(PartitionLog::open_with_deps(
            parent.join(tp.dir_name()),
            tp,
            config,
            self.time.clone(),
            LoadParams::after_crash(),
            LogDeps {
                listener: Arc::new(RwLock::new(None)),
                // Kafka: Integer.MAX_VALUE for the metadata log's producer state.
                producer_id_expiration_ms: Arc::new(AtomicI64::new(i64::from(i32::MAX))),
                group_commit,
            },
            Some(METADATA_TOPIC_ID),
        )?);
        sync_dir(&parent)?;
        *slot = Some(log.clone());
        Ok(log)
    }

    /// The clock the logs use (milliseconds).
    pub fn now_ms(&self) -> i64 {
        self.time.milliseconds()
    }

    /// The log cleaner's checkpoint of a partition (`cleaner-offset-checkpoint`).
    pub fn cleaner_checkpoint(&self, tp: &TopicPartition) -> Option<i64> {
        lock(&self.cleaner_checkpoints).get(tp).copied()
    }

    /// Record that `log` is clean below `offset` and rewrite its log dir's
    /// `cleaner-offset-checkpoint` (entries of logs no longer here are dropped).
    pub fn update_cleaner_checkpoint(&self, log: &PartitionLog, offset: i64) -> Result<()> {
        let _g = lock(&self.checkpoint_lock);
        let tp = log.topic_partition().clone();
        let Some(dir) = log.dir().parent().map(Path::to_path_buf) else {
            return Ok(());
        };
        if self.get_log(&tp).is_none() {
            return Ok(());
        }
        let mut cps = lock(&self.cleaner_checkpoints);
        cps.insert(tp, offset);
        let logs = self.all_logs();
        let mut entries: Vec<(TopicPartition, i64)> = logs
            .iter()
            .filter(|l| l.dir().parent() == Some(dir.as_path()))
            .filter_map(|l| {
                let tp = l.topic_partition();
                cps.get(tp).map(|&o| (tp.clone(), o))
            })
            .collect();
        entries.sort();
        OffsetCheckpointFile::new(dir.join(CLEANER_OFFSET_CHECKPOINT_FILE)).write(&entries)
    }

    pub fn log_dirs(&self) -> &[PathBuf] {
        &self.log_dirs
    }
    pub fn default_config(&self) -> &LogConfig {
        &self.default_config
    }

    /// Register the callback run whenever a partition's high watermark advances or its last
    /// stable offset moves (wake long-polling fetches, read_uncommitted and read_committed,
    /// from it; it gets the hw, re-read `last_stable_offset()`). See [`HighWatermarkListener`]
    /// for the rules.
    pub fn set_high_watermark_listener(
        &self,
        f: impl Fn(&TopicPartition, i64) + Send + Sync + 'static,
    ) {
        let f: HighWatermarkListener = Arc::new(f);
        *self.listener.write().unwrap_or_else(|e| e.into_inner()) = Some(f);
    }

    pub fn get_log(&self, tp: &TopicPartition) -> Option<Arc<PartitionLog>> {
        self.logs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tp)
            .cloned()
    }

    pub fn all_logs(&self) -> Vec<Arc<PartitionLog>> {
        self.logs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The existing log, or a new empty one (in the log dir holding fewest partitions) with
    /// `config` (or the default), whose `partition.metadata` names `topic_id` (written before
    /// anything else in the new directory). An existing log without a topic id gets this one
    /// (Kafka's Partition.createLogIfNotExists); one with another id is refused
    /// ([`StorageError::InconsistentTopicId`]: a partition of an older topic of the same name).
    pub fn get_or_create_log(
        &self,
        tp: &TopicPartition,
        topic_id: Uuid,
        config: Option<LogConfig>,
    ) -> Result<Arc<PartitionLog>> {
        self.get_or_create_log_in(tp, topic_id, None, config)
    }

    /// [`get_or_create_log`](Self::get_or_create_log) in log dir `dir` (one of the log dirs;
    /// `None` or an unknown dir: the emptiest). The new log leads in no epoch yet: the caller
    /// makes it leader ([`PartitionLog::maybe_assign_epoch_start_offset`]).
    pub fn get_or_create_log_in(
        &self,
        tp: &TopicPartition,
        topic_id: Uuid,
        dir: Option<&Path>,
        config: Option<LogConfig>,
    ) -> Result<Arc<PartitionLog>> {
        if let Some(log) = self.get_log(tp) {
            log.assign_topic_id(topic_id)?;
            return Ok(log);
        }
        tp.validate()?;
        if tp.topic == METADATA_TOPIC {
            return Err(StorageError::InvalidTopicPartition(format!(
                "{tp} is the metadata log (open_metadata_log)"
            )));
        }
        if topic_id.is_nil() {
            return Err(StorageError::InvalidTopicPartition(format!(
                "{tp} with the all-zero topic id"
            )));
        }
        let _g = lock(&self.admin);
        if let Some(log) = self.get_log(tp) {
            log.assign_topic_id(topic_id)?;
            return Ok(log);
        }
        let config = config.unwrap_or_else(|| self.default_config.clone());
        let (dir, group_commit) = match dir.and_then(|d| self.log_dirs.iter().position(|l| l == d))
        {
            Some(i) => (self.log_dirs[i].clone(), self.group_commits[i].clone()),
            None => self.pick_log_dir(),
        };
        let path = dir.join(tp.dir_name());
        let log = Arc::new(PartitionLog::open_with_deps(
            path,
            tp.clone(),
            config,
            self.time.clone(),
            LoadParams::after_crash(),
            LogDeps {
                listener: self.listener.clone(),
                producer_id_expiration_ms: self.producer_id_expiration_ms.clone(),
                group_commit,
            },
            Some(topic_id),
        )?);
        sync_dir(&dir)?;
        self.logs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tp.clone(), log.clone());
        Ok(log)
    }

    /// Log dirs for `n` new partitions, each to the dir holding the fewest logs counting the
    /// ones placed before it (Kafka's placement of new replicas across a broker's log dirs).
    pub fn pick_log_dirs(&self, n: usize) -> Vec<PathBuf> {
        let logs = self.logs.read().unwrap_or_else(|e| e.into_inner());
        let mut counts: Vec<usize> = self
            .log_dirs
            .iter()
            .map(|d| {
                logs.values()
                    .filter(|l| l.dir().parent() == Some(d.as_path()))
                    .count()
            })
            .collect();
        (0..n)
            .map(|_| {
                let i = (0..counts.len()).min_by_key(|&i| counts[i]).unwrap_or(0);
                counts[i] += 1;
                self.log_dirs[i].clone()
            })
            .collect()
    }

    /// The log dir with the fewest logs, and its committer.
    fn pick_log_dir(&self) -> (PathBuf, Arc<GroupCommit>) {
        let logs = self.logs.read().unwrap_or_else(|e| e.into_inner());
        let count = |d: &Path| {
            logs.values()
                .filter(|l| l.dir().parent() == Some(d))
                .count()
        };
        let i = (0..self.log_dirs.len())
            .min_by_key(|&i| count(&self.log_dirs[i]))
            .unwrap_or(0);
        (self.log_dirs[i].clone(), self.group_commits[i].clone())
    }

    /// Group-commit rounds run so far, over all log dirs.
    pub fn group_commit_rounds(&self) -> u64 {
        self.group_commits.iter().map(|c| c.rounds()).sum()
    }

    /// How group-commit rounds make data durable (broker setting `sluice.log.flush.method`).
    pub fn set_flush_method(&self, method: FlushMethod) {
        for c in &self.group_commits {
            c.set_method(method);
        }
    }

    /// Delete a partition: drop it from the manager and rename its directory to
    /// `<topic>-<partition>.<uuid>-delete` (durably), Kafka's name; the directory is removed
    /// file.delete.delay.ms later by [`delete_due_logs`](Self::delete_due_logs) (a crash in
    /// between leaves the `-delete` dir, which the next start queues again). Readers holding
    /// the log keep their open files.
    pub fn delete_log(&self, tp: &TopicPartition) -> Result<()> {
        let _g = lock(&self.admin);
        let log = self
            .logs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tp)
            .ok_or_else(|| StorageError::UnknownTopicPartition(tp.clone()))?;
        lock(&self.cleaner_checkpoints).remove(tp);
        let dir = log.dir().to_path_buf();
        let parent = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        let renamed = parent.join(delete_dir_name(tp));
        fs::rename(&dir, &renamed).at(&dir)?;
        sync_dir(&parent)?;
        let now = self.time.milliseconds();
        let delay = self.default_config.file_delete_delay_ms;
        tracing::info!(
            "{tp}: renamed {} to {}, removing it in {delay} ms (file.delete.delay.ms)",
            dir.display(),
            renamed.display()
        );
        lock(&self.dir_deletions).push(DirDeletion {
            path: renamed,
            due_ms: now.saturating_add(delay),
        });
        Ok(())
    }

    /// Set aside the log of a partition the cluster's metadata does not assign to this broker
    /// (Kafka's stray logs): it is closed and its directory renamed
    /// `<topic>-<partition>.<id>-stray`, never deleted — an operator decides. Returns the new
    /// path.
    pub fn mark_stray(&self, tp: &TopicPartition) -> Result<PathBuf> {
        let _g = lock(&self.admin);
        let log = self
            .logs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tp)
            .ok_or_else(|| StorageError::UnknownTopicPartition(tp.clone()))?;
        lock(&self.cleaner_checkpoints).remove(tp);
        log.close()?;
        let dir = log.dir().to_path_buf();
        let parent = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        let renamed = parent.join(suffixed_dir_name(tp, STRAY_DIR_SUFFIX));
        fs::rename(&dir, &renamed).at(&dir)?;
        sync_dir(&parent)?;
        tracing::warn!(
            "{tp}: the cluster's metadata does not assign this partition to this broker; its log {} is set aside as {}",
            dir.display(),
            renamed.display()
        );
        Ok(renamed)
    }

    /// Remove the `-delete` directories whose file.delete.delay.ms has passed (Kafka's
    /// `deleteLogs`; call periodically, with [`delete_due_files`](Self::delete_due_files)).
    /// One that cannot be removed is reported and tried again next time. Returns how many were
    /// removed.
    pub fn delete_due_logs(&self) -> usize {
        let now = self.time.milliseconds();
        let due: Vec<DirDeletion> = {
            let mut pending = lock(&self.dir_deletions);
            let (due, keep) = pending.drain(..).partition(|d| d.due_ms <= now);
            *pending = keep;
            due
        };
        let mut removed = 0;
        for d in due {
            let res = match fs::remove_dir_all(&d.path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            }
            .at(&d.path)
            .and_then(|()| d.path.parent().map_or(Ok(()), sync_dir));
            match res {
                Ok(()) => {
                    tracing::info!("removed deleted partition dir {}", d.path.display());
                    removed += 1;
                }
                Err(e) => {
                    tracing::error!("removing deleted partition dir: {e}");
                    lock(&self.dir_deletions).push(d);
                }
            }
        }
        removed
    }

    /// `-delete` directories waiting for removal.
    pub fn pending_log_deletions(&self) -> Vec<PathBuf> {
        lock(&self.dir_deletions)
            .iter()
            .map(|d| d.path.clone())
            .collect()
    }

    /// Change producer.id.expiration.ms for every log (a dynamic broker config in Kafka).
    pub fn set_producer_id_expiration_ms(&self, ms: i64) -> Result<()> {
        ProducerStateConfig {
            producer_id_expiration_ms: ms,
        }
        .validate()?;
        self.producer_id_expiration_ms.store(ms, Ordering::Relaxed);
        Ok(())
    }

    /// Expire idle producers in every log (call every producer.id.expiration.check.interval.ms,
    /// Kafka's default 10 minutes, with the current time). Returns how many were removed.
    pub fn remove_expired_producers(&self, now_ms: i64) -> usize {
        self.all_logs()
            .iter()
            .map(|l| l.remove_expired_producers(now_ms))
            .sum()
    }

    /// Apply retention to every log (Kafka's `cleanupLogs`, every
    /// log.retention.check.interval.ms): see [`PartitionLog::delete_old_segments`]. A log that
    /// fails is reported and skipped. Returns the number of segments deleted.
    pub fn delete_old_segments(&self) -> usize {
        let mut total = 0;
        for log in self.all_logs() {
            match log.delete_old_segments() {
                Ok(n) => total += n,
                Err(StorageError::LogClosed { .. }) => {}
                Err(e) => tracing::error!("retention of {}: {e}", log.topic_partition()),
            }
        }
        total
    }

    /// Remove `.deleted` segment files whose file.delete.delay.ms has passed, in every log.
    pub fn delete_due_files(&self) -> usize {
        let mut total = 0;
        for log in self.all_logs() {
            match log.delete_due_files() {
                Ok(n) => total += n,
                Err(e) => {
                    tracing::error!("removing deleted files of {}: {e}", log.topic_partition())
                }
            }
        }
        total
    }

    /// Write `log-start-offset-checkpoint` in every log dir now (after DeleteRecords, so that a
    /// crash cannot bring deleted records back).
    pub fn checkpoint_log_start_offsets(&self) -> Result<()> {
        let _g = lock(&self.checkpoint_lock);
        let logs = self.all_logs();
        for dir in &self.log_dirs {
            let mut starts: Vec<_> = logs
                .iter()
                .filter(|l| l.dir().parent() == Some(dir.as_path()))
                .map(|l| (l.topic_partition().clone(), l.log_start_offset()))
                .collect();
            starts.sort();
            OffsetCheckpointFile::new(dir.join(LOG_START_OFFSET_CHECKPOINT_FILE)).write(&starts)?;
        }
        Ok(())
    }

    /// Flush logs whose flush.ms has passed (call periodically, e.g. every second).
    pub fn flush_dirty_logs(&self) -> Result<()> {
        for log in self.all_logs() {
            log.flush_if_due()?;
        }
        Ok(())
    }

    /// Write `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint` and
    /// `replication-offset-checkpoint` (the high watermarks, which Kafka's ReplicaManager
    /// writes; Sluice does not need it but Kafka opening this dir reads it) in every log dir
    /// (call periodically; Kafka does every 60 s, the high watermarks every 5 s).
    pub fn checkpoint(&self) -> Result<()> {
        let _g = lock(&self.checkpoint_lock);
        let logs = self.all_logs();
        for dir in &self.log_dirs {
            let mut rps = Vec::new();
            let mut starts = Vec::new();
            let mut hws = Vec::new();
            for log in logs
                .iter()
                .filter(|l| l.dir().parent() == Some(dir.as_path()))
            {
                let tp = log.topic_partition();
                let snap = log.snapshot();
                rps.push((tp.clone(), log.recovery_point()));
                starts.push((tp.clone(), snap.log_start_offset));
                hws.push((tp.clone(), snap.high_watermark));
            }
            rps.sort();
            starts.sort();
            hws.sort();
            OffsetCheckpointFile::new(dir.join(RECOVERY_POINT_CHECKPOINT_FILE)).write(&rps)?;
            OffsetCheckpointFile::new(dir.join(LOG_START_OFFSET_CHECKPOINT_FILE)).write(&starts)?;
            OffsetCheckpointFile::new(dir.join(REPLICATION_OFFSET_CHECKPOINT_FILE)).write(&hws)?;
        }
        Ok(())
    }

    /// Clean shutdown: flush and close every log, write the checkpoints, then the
    /// clean-shutdown marker in each log dir whose logs all closed cleanly.
    pub fn shutdown(&self) -> Result<()> {
        self.shut_down.store(true, Ordering::SeqCst);
        let logs = self.all_logs();
        let mut first_err = None;
        let mut bad_dirs = Vec::new();
        if let Some(meta) = lock(&self.metadata_log).clone() {
            if let Err(e) = meta.close() {
                tracing::error!("closing {}: {e}", meta.topic_partition());
                first_err.get_or_insert(e);
            }
        }
        for log in &logs {
            if let Err(e) = log.close() {
                tracing::error!("closing {}: {e}", log.topic_partition());
                bad_dirs.extend(log.dir().parent().map(Path::to_path_buf));
                first_err.get_or_insert(e);
            } else if log.is_offline() {
                bad_dirs.extend(log.dir().parent().map(Path::to_path_buf));
            }
        }
        self.checkpoint()?;
        for dir in &self.log_dirs {
            if bad_dirs.contains(dir) {
                continue;
            }
            let marker = dir.join(CLEAN_SHUTDOWN_FILE);
            {
                use std::io::Write;
                let mut f = fs::File::create(&marker).at(&marker)?;
                f.write_all(br#"{"version":0,"brokerEpoch":-1}"#)
                    .at(&marker)?;
                f.sync_all().at(&marker)?;
            }
            sync_dir(dir)?;
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for LogManager {
    /// A manager dropped without [`shutdown`](LogManager::shutdown) (a start-up that failed
    /// after the logs were opened) releases its logs: no more writes, and the active
    /// segments' pre-allocated indexes are trimmed to their entries, so nothing is left at its
    /// pre-allocated size. Nothing is flushed and no clean-shutdown marker is written: the
    /// next start recovers as after a crash.
    fn drop(&mut self) {
        if self.shut_down.load(Ordering::SeqCst) {
            return;
        }
        let meta = lock(&self.metadata_log).clone();
        for log in self.all_logs().iter().chain(meta.iter()) {
            if let Err(e) = log.release() {
                tracing::error!("releasing {}: {e}", log.topic_partition());
            }
        }
    }
}

/// Kafka's `logDeleteDirName`: `<topic>-<partition>.<uuid without dashes>-delete`, the topic
/// cut so that the name stays within 255 bytes.
fn delete_dir_name(tp: &TopicPartition) -> String {
    suffixed_dir_name(tp, DELETE_DIR_SUFFIX)
}

/// `<topic>-<partition>.<unique id><suffix>`, the topic cut to keep the name within 255 bytes.
fn suffixed_dir_name(tp: &TopicPartition, dir_suffix: &str) -> String {
    let suffix = format!("-{}.{}{dir_suffix}", tp.partition, Uuid::new_v4().simple());
    let keep = tp.topic.len().min(255usize.saturating_sub(suffix.len()));
    format!("{}{suffix}", &tp.topic[..keep])
}
