//! The LogManager: owns the log dirs and every partition log in them; creates, loads and
//! deletes partitions, writes checkpoints and the clean-shutdown marker.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::checkpoint::{
    sync_dir, OffsetCheckpointFile, CLEANER_OFFSET_CHECKPOINT_FILE,
    LOG_START_OFFSET_CHECKPOINT_FILE, RECOVERY_POINT_CHECKPOINT_FILE,
};
use crate::config::LogConfig;
use crate::error::{IoContext, Result, StorageError};
use crate::group_commit::{FlushMethod, GroupCommit};
use crate::log::{
    lock, ExpirationSlot, HighWatermarkListener, ListenerSlot, LoadParams, LogDeps, PartitionLog,
};
use crate::producer_state::DEFAULT_PRODUCER_ID_EXPIRATION_MS;
use crate::time::Time;
use crate::TopicPartition;

/// Kafka's clean-shutdown marker, written in each log dir by a clean shutdown and removed once
/// the logs are loaded.
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
/// Suffix of a partition directory being deleted.
pub const DELETE_DIR_SUFFIX: &str = "-delete";
/// The leader epoch of every partition: one node that is always the leader (what Metadata
/// reports; Kafka 4.3's single node answers 0 for a new topic too). A log that is loaded or
/// created becomes leader with it (Kafka's `maybeAssignEpochStartOffset` in `makeLeader`).
pub const LEADER_EPOCH: i32 = 0;
const FUTURE_DIR_SUFFIX: &str = "-future";
const STRAY_DIR_SUFFIX: &str = "-stray";

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
    delete_counter: AtomicU64,
    /// Serializes checkpoint writers (they share the files' `.tmp` names).
    checkpoint_lock: Mutex<()>,
    /// `cleaner-offset-checkpoint` of every log dir: where each compacted log's dirty
    /// section starts.
    cleaner_checkpoints: Mutex<HashMap<TopicPartition, i64>>,
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
    /// recovered from their recovery point. The marker is removed once all logs are loaded.
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
        let mut logs = HashMap::new();
        let mut cleaner_checkpoints = HashMap::new();
        for (dir, group_commit) in log_dirs.iter().zip(&group_commits) {
            fs::create_dir_all(dir).at(dir)?;
            cleaner_checkpoints.extend(
                OffsetCheckpointFile::new(dir.join(CLEANER_OFFSET_CHECKPOINT_FILE)).read()?,
            );
            let marker = dir.join(CLEAN_SHUTDOWN_FILE);
            let clean = marker.exists();
            let rps = OffsetCheckpointFile::new(dir.join(RECOVERY_POINT_CHECKPOINT_FILE)).read()?;
            let starts =
                OffsetCheckpointFile::new(dir.join(LOG_START_OFFSET_CHECKPOINT_FILE)).read()?;
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
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if name.ends_with(DELETE_DIR_SUFFIX) {
                    tracing::info!(
                        "removing partition dir left from a deletion: {}",
                        path.display()
                    );
                    fs::remove_dir_all(&path).at(&path)?;
                    continue;
                }
                if name.ends_with(FUTURE_DIR_SUFFIX) || name.ends_with(STRAY_DIR_SUFFIX) {
                    tracing::warn!("ignoring {}", path.display());
                    continue;
                }
                let Ok(tp) = TopicPartition::from_dir_name(&name) else {
                    tracing::warn!("ignoring non-partition dir {}", path.display());
                    continue;
                };
                if logs.contains_key(&tp) {
                    return Err(StorageError::LogExists(tp));
                }
                let params = LoadParams {
                    had_clean_shutdown: clean,
                    recovery_point: rps.get(&tp).copied().unwrap_or(0),
                    log_start_offset: starts.get(&tp).copied().unwrap_or(0),
                };
                let log = PartitionLog::open_with_deps(
                    path,
                    tp.clone(),
                    default_config.clone(),
                    time.clone(),
                    params,
                    LogDeps {
                        listener: listener.clone(),
                        producer_id_expiration_ms: expiration.clone(),
                        group_commit: group_commit.clone(),
                    },
                )?;
                log.maybe_assign_epoch_start_offset(LEADER_EPOCH)?;
                logs.insert(tp, Arc::new(log));
            }
        }
        for dir in &log_dirs {
            let marker = dir.join(CLEAN_SHUTDOWN_FILE);
            if marker.exists() {
                fs::remove_file(&marker).at(&marker)?;
                sync_dir(dir)?;
            }
        }
        Ok(Self {
            log_dirs,
            default_config,
            time,
            logs: RwLock::new(logs),
            admin: Mutex::new(()),
            listener,
            producer_id_expiration_ms: expiration,
            group_commits,
            delete_counter: AtomicU64::new(0),
            checkpoint_lock: Mutex::new(()),
            cleaner_checkpoints: Mutex::new(cleaner_checkpoints),
        })
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
    /// `config` (or the default).
    pub fn get_or_create_log(
        &self,
        tp: &TopicPartition,
        config: Option<LogConfig>,
    ) -> Result<Arc<PartitionLog>> {
        if let Some(log) = self.get_log(tp) {
            return Ok(log);
        }
        tp.validate()?;
        let _g = lock(&self.admin);
        if let Some(log) = self.get_log(tp) {
            return Ok(log);
        }
        let config = config.unwrap_or_else(|| self.default_config.clone());
        let (dir, group_commit) = self.pick_log_dir();
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
        )?);
        log.maybe_assign_epoch_start_offset(LEADER_EPOCH)?;
        sync_dir(&dir)?;
        self.logs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tp.clone(), log.clone());
        Ok(log)
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

    /// Delete a partition: drop it from the manager, rename its directory to
    /// `<topic>-<partition>.<n>-delete` (durably), then remove it. A crash in between leaves a
    /// `-delete` dir that the next start removes. Readers holding the log keep their open files.
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
        let n = self.delete_counter.fetch_add(1, Ordering::SeqCst);
        let unique = format!("{:x}{:04x}", self.time.milliseconds(), n);
        let renamed = parent.join(format!("{}.{unique}{DELETE_DIR_SUFFIX}", tp.dir_name()));
        fs::rename(&dir, &renamed).at(&dir)?;
        sync_dir(&parent)?;
        fs::remove_dir_all(&renamed).at(&renamed)?;
        sync_dir(&parent)
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

    /// Write `recovery-point-offset-checkpoint` and `log-start-offset-checkpoint` in every log
    /// dir (call periodically; Kafka does every 60 s).
    pub fn checkpoint(&self) -> Result<()> {
        let _g = lock(&self.checkpoint_lock);
        let logs = self.all_logs();
        for dir in &self.log_dirs {
            let mut rps = Vec::new();
            let mut starts = Vec::new();
            for log in logs
                .iter()
                .filter(|l| l.dir().parent() == Some(dir.as_path()))
            {
                rps.push((log.topic_partition().clone(), log.recovery_point()));
                starts.push((log.topic_partition().clone(), log.log_start_offset()));
            }
            rps.sort();
            starts.sort();
            OffsetCheckpointFile::new(dir.join(RECOVERY_POINT_CHECKPOINT_FILE)).write(&rps)?;
            OffsetCheckpointFile::new(dir.join(LOG_START_OFFSET_CHECKPOINT_FILE)).write(&starts)?;
        }
        Ok(())
    }

    /// Clean shutdown: flush and close every log, write the checkpoints, then the
    /// clean-shutdown marker in each log dir whose logs all closed cleanly.
    pub fn shutdown(&self) -> Result<()> {
        let logs = self.all_logs();
        let mut first_err = None;
        let mut bad_dirs = Vec::new();
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
