//! One partition's log (Kafka's UnifiedLog + LocalLog): segments, offsets, append, read,
//! durability, recovery.
//!
//! Concurrency:
//! - Appends (and roll, truncation, close) are serialized by the `writer` mutex.
//! - After every change the writer publishes an immutable [`LogSnapshot`] (segment views with
//!   committed byte sizes and index entry counts, plus log start / end offset and high
//!   watermark) behind an `RwLock<Arc<_>>`. Readers clone the `Arc` and drop the lock before any
//!   I/O, so a read never waits on the writer's disk I/O, and only ever sees bytes that were
//!   completely written before the snapshot was published.
//! - Durability (`sync_to`, `flush`) works from a snapshot too and never takes the writer lock;
//!   `sync_to` is a group commit: one fsync at a time, covering the log end offset as of its
//!   start; later callers whose offset it covers just wait for it.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;
use sluice_protocol::batch::{self, BatchError, RecordBatch, HEADER_SIZE};
use sluice_protocol::records::{self, EndTxnMarker};
use uuid::Uuid;

use crate::checkpoint::sync_dir;
use crate::config::{LogConfig, MessageTimestampType};
use crate::error::{IoContext, Result, StorageError};
use crate::group_commit::{FlushMethod, GroupCommit, SyncDone};
use crate::index::NO_TIMESTAMP;
use crate::kafka_uuid;
use crate::leader_epoch::LeaderEpochFileCache;
use crate::partition_metadata::PartitionMetadataFile;
use crate::producer_state::{
    last_stable_offset, AppendCheck, CompletedTxnWithLso, ProducerBatch, ProducerStateEntry,
    ProducerStateManager, UnstableTxn, DEFAULT_PRODUCER_ID_EXPIRATION_MS,
};
use crate::segment::{
    self, BatchScanner, LogSegment, RollParams, RollReason, SegmentView, CLEANED_FILE_SUFFIX,
    DELETED_FILE_SUFFIX, INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX, SWAP_FILE_SUFFIX,
    TIME_INDEX_FILE_SUFFIX,
};
use crate::time::Time;
use crate::txn_index::{AbortedTxn, TXN_INDEX_FILE_SUFFIX};
use crate::TopicPartition;

mod replica;

/// Called with the new high watermark whenever it advances or the last stable offset moves
/// (a marker ending a transaction; in fsync mode the LSO passes a transaction when the high
/// watermark passes its marker, so an advancing high watermark covers that case). Runs on the
/// thread that moved them (an appender, or a syncer in fsync mode), after all locks are
/// released; it must not block. Calls for one partition may race, so treat the value as a hint
/// and re-read [`PartitionLog::high_watermark`] / [`PartitionLog::last_stable_offset`] (or one
/// [`PartitionLog::snapshot`] for a consistent pair).
pub type HighWatermarkListener = Arc<dyn Fn(&TopicPartition, i64) + Send + Sync>;
pub(crate) type ListenerSlot = Arc<RwLock<Option<HighWatermarkListener>>>;
/// `producer.id.expiration.ms`, shared by a LogManager with all its logs (a broker config).
pub(crate) type ExpirationSlot = Arc<AtomicI64>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
fn read_lock<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}
fn write_lock<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

/// How the log is being opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadParams {
    /// The log dir had a clean-shutdown marker: skip the recovery scan.
    pub had_clean_shutdown: bool,
    /// From `recovery-point-offset-checkpoint`: everything below is known flushed.
    pub recovery_point: i64,
    /// From `log-start-offset-checkpoint`.
    pub log_start_offset: i64,
}

impl LoadParams {
    /// Open after a crash with no checkpoints: scan everything.
    pub fn after_crash() -> Self {
        Self {
            had_clean_shutdown: false,
            recovery_point: 0,
            log_start_offset: 0,
        }
    }
}

/// What loading one log found and did (the LogManager sums them into its
/// [`LoadSummary`](crate::manager::LoadSummary)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogLoadStats {
    pub segments: usize,
    /// Segments whose batches were validated again and indexes rebuilt: those after the
    /// recovery point after an unclean shutdown, and those with missing or damaged indexes.
    pub segments_recovered: usize,
    /// Segments whose `.index`, `.timeindex` or `.txnindex` was missing or failed its check.
    pub indexes_rebuilt: usize,
    /// Invalid data cut from the end of the log, if any.
    pub truncated: Option<Truncation>,
    /// Damaged producer snapshots dropped (the state was rebuilt from the log instead).
    pub producer_snapshots_rebuilt: usize,
    /// The `leader-epoch-checkpoint` was damaged and was rebuilt from the log's batches.
    pub leader_epochs_rebuilt: bool,
}

/// Invalid data found by recovery: the log was cut at `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// The `.log` file that held the first invalid batch.
    pub file: PathBuf,
    /// The log's end offset after the cut.
    pub offset: i64,
    /// Bytes cut from `file`.
    pub bytes: u64,
    /// Later segments removed with it (renamed `.deleted`, removed after file.delete.delay.ms).
    pub segments_removed: usize,
    /// What was wrong with the first invalid batch.
    pub reason: String,
}

/// Result of an append (Kafka's LogAppendInfo).
///
/// When `duplicate` is set the payload retried an idempotent batch that is already in the log:
/// nothing was written, and `first_offset` / `last_offset` are the original batch's offsets
/// (acknowledge the produce with them, no error). As in Kafka, `log_append_time`,
/// `max_timestamp` then carry the original batch's max timestamp (whatever the topic's
/// timestamp type: Kafka's produce response does the same for duplicates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogAppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    /// Largest batch max timestamp appended (after LogAppendTime rewriting).
    pub max_timestamp: i64,
    /// Last offset of the batch that carried `max_timestamp`.
    pub shallow_offset_of_max_timestamp: i64,
    /// The broker time written into the batches, or -1 for CreateTime.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    pub num_batches: usize,
    pub num_messages: i64,
    pub valid_bytes: usize,
    /// The high watermark right after the append (in fsync mode it lags until synced).
    pub high_watermark: i64,
    /// Set if this append rolled a new segment.
    pub rolled: Option<RollReason>,
    /// The payload duplicated an idempotent batch already in the log and was not appended.
    pub duplicate: bool,
}

/// A transaction marker to append for the transaction coordinator
/// ([`PartitionLog::append_control_marker`]; one entry of a WriteTxnMarkers request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    /// COMMIT (true) or ABORT (false).
    pub commit: bool,
    /// The transaction version the coordinator uses (WriteTxnMarkers v2+ field; 0 before):
    /// from 2 on, every marker bumps the producer epoch, and the epoch check is strict.
    pub transaction_version: i16,
}

/// Result of a read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchDataInfo {
    /// Whole batches in offset order; one chunk per segment touched.
    pub records: Vec<Bytes>,
    pub high_watermark: i64,
    /// From the same snapshot as `high_watermark` (<= it).
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    /// Set by [`PartitionLog::read_committed`]: the aborted transactions overlapping the
    /// records returned (what a read_committed Fetch response lists).
    pub aborted_transactions: Option<Vec<AbortedTxn>>,
}

impl FetchDataInfo {
    pub fn size(&self) -> usize {
        self.records.iter().map(Bytes::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.records.iter().all(Bytes::is_empty)
    }
    /// One contiguous buffer: free when the read touched one segment, one copy otherwise.
    pub fn into_bytes(mut self) -> Bytes {
        match self.records.len() {
            0 => Bytes::new(),
            1 => self.records.pop().unwrap_or_default(),
            _ => {
                let mut out = bytes::BytesMut::with_capacity(self.size());
                for c in &self.records {
                    out.extend_from_slice(c);
                }
                out.freeze()
            }
        }
    }
}

/// Result of a timestamp lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampAndOffset {
    /// The max timestamp of the batch found.
    pub timestamp: i64,
    /// The batch's first offset (or the log start offset, if that lies inside the batch).
    pub offset: i64,
}

/// What readers see: an immutable, atomically published state of the log.
#[derive(Debug, Clone)]
pub struct LogSnapshot {
    inactive: Arc<Vec<SegmentView>>,
    active: SegmentView,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub high_watermark: i64,
    /// min(first offset of the oldest unstable transaction, high watermark): read_committed
    /// consumers read below it. Always <= `high_watermark`.
    pub last_stable_offset: i64,
    /// Transactions holding the last stable offset back, by first offset.
    unstable: Arc<Vec<UnstableTxn>>,
}

impl LogSnapshot {
    /// The active segment's `.log` file (any file of the log's file system, for `syncfs`).
    pub(crate) fn active_log_file(&self) -> &std::fs::File {
        &self.active.log
    }
    /// Set the high watermark and the last stable offset that goes with it.
    fn set_high_watermark(&mut self, hw: i64) {
        self.high_watermark = hw;
        self.last_stable_offset = lso_for(&self.unstable, hw, self.log_start_offset);
    }
    /// Open transactions and ended ones whose marker the high watermark has not passed yet.
    pub fn unstable_transactions(&self) -> &[UnstableTxn] {
        &self.unstable
    }
    /// The closed segments, oldest first (what the cleaner may read).
    pub(crate) fn inactive_segments(&self) -> &[SegmentView] {
        &self.inactive
    }
    /// Base offset of the active segment.
    pub fn active_segment_base_offset(&self) -> i64 {
        self.active.base_offset
    }
    fn segment(&self, i: usize) -> Option<&SegmentView> {
        match i.cmp(&self.inactive.len()) {
            std::cmp::Ordering::Less => self.inactive.get(i),
            std::cmp::Ordering::Equal => Some(&self.active),
            std::cmp::Ordering::Greater => None,
        }
    }
    fn num_segments(&self) -> usize {
        self.inactive.len() + 1
    }
    /// Index of the segment holding `offset`: the last with base offset <= offset.
    fn floor_segment(&self, offset: i64) -> usize {
        let n = self.inactive.partition_point(|s| s.base_offset <= offset);
        if self.active.base_offset <= offset {
            self.inactive.len()
        } else {
            n.saturating_sub(1)
        }
    }
    /// Segments that may hold data at or above `offset`.
    fn segments_from(&self, offset: i64) -> impl Iterator<Item = &SegmentView> {
        let start = self.floor_segment(offset);
        (start..self.num_segments()).filter_map(move |i| self.segment(i))
    }
}

struct WriterState {
    /// Ordered by base offset; the last one is the active segment. Never empty while open.
    segments: Vec<LogSegment>,
    inactive_views: Arc<Vec<SegmentView>>,
    log_end_offset: i64,
    log_start_offset: i64,
    closed: bool,
    /// Idempotent producers' state, covering every batch below `log_end_offset`.
    producers: ProducerStateManager,
}

impl WriterState {
    fn active(&self) -> Option<&LogSegment> {
        self.segments.last()
    }
}

/// Files of deleted segments (renamed to `.deleted`) waiting for file.delete.delay.ms.
#[derive(Debug)]
struct PendingDeletion {
    due_ms: i64,
    files: Vec<PathBuf>,
}

/// What a publish changed.
#[derive(Debug, Clone, Copy)]
struct Published {
    old_hw: i64,
    hw: i64,
    old_lso: i64,
    lso: i64,
}

impl Published {
    /// The listener should hear about it.
    fn moved(&self) -> bool {
        self.hw > self.old_hw || self.lso != self.old_lso
    }
}

/// Where an append comes from (Kafka's AppendOrigin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AppendOrigin {
    Client,
    Coordinator {
        transaction_version: i16,
    },
    /// The KRaft metadata log's leader: metadata records and KRaft control records (leader
    /// changes), no producer state.
    RaftLeader,
    /// Batches copied from the partition's leader ([`PartitionLog::append_as_follower`]): kept
    /// as the leader wrote them, not checked against max.message.bytes (Kafka's REPLICATION).
    Replication,
}

/// What the logs of a LogManager share.
pub(crate) struct LogDeps {
    pub listener: ListenerSlot,
    pub producer_id_expiration_ms: ExpirationSlot,
    /// The committer of the log's dir (fsync-before-ack mode).
    pub group_commit: Arc<GroupCommit>,
}

/// One partition's log.
pub struct PartitionLog {
    tp: TopicPartition,
    dir: PathBuf,
    config: RwLock<Arc<LogConfig>>,
    time: Arc<dyn Time>,
    writer: Mutex<WriterState>,
    snapshot: RwLock<Arc<LogSnapshot>>,
    /// Every offset below this is on disk (log data fsynced).
    synced: AtomicI64,
    /// The most the high watermark may be, as replication decides it (see the `replica`
    /// module); `i64::MAX` for a log nobody replicates, whose high watermark is its end.
    hw_limit: AtomicI64,
    /// Bumped by every truncation (under this lock, with `synced` lowered): a group-commit
    /// round that began before one must not raise `synced` over the truncated end.
    truncations: Mutex<u64>,
    group_commit: Arc<GroupCommit>,
    /// The device of the log's dir (one `syncfs` per device in a group-commit round).
    device: u64,
    flush_lock: Mutex<()>,
    /// Everything below is flushed, indexes included (persisted in the checkpoint file).
    recovery_point: AtomicI64,
    last_flush_ms: AtomicI64,
    offline: AtomicBool,
    listener: ListenerSlot,
    producer_id_expiration_ms: ExpirationSlot,
    pending_deletions: Mutex<Vec<PendingDeletion>>,
    /// The `leader-epoch-checkpoint` (Kafka's LeaderEpochFileCache). Lock order: `writer`
    /// first when both are held.
    leader_epochs: Mutex<LeaderEpochFileCache>,
    /// See [`PartitionLog::leader_epoch`].
    leader_epoch: std::sync::atomic::AtomicI32,
    /// From (or written to) `partition.metadata`.
    topic_id: Mutex<Option<Uuid>>,
    load_stats: LogLoadStats,
}

impl std::fmt::Debug for PartitionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.snapshot();
        f.debug_struct("PartitionLog")
            .field("tp", &self.tp)
            .field("dir", &self.dir)
            .field("log_start_offset", &s.log_start_offset)
            .field("log_end_offset", &s.log_end_offset)
            .field("high_watermark", &s.high_watermark)
            .finish()
    }
}

impl PartitionLog {
    /// Open (or create) the log in `dir`, recovering it as `params` says.
    pub fn open(
        dir: PathBuf,
        tp: TopicPartition,
        config: LogConfig,
        time: Arc<dyn Time>,
        params: LoadParams,
    ) -> Result<Self> {
        let group_commit = Arc::new(GroupCommit::new(
            dir.parent().unwrap_or(&dir),
            FlushMethod::default(),
        ));
        Self::open_with_deps(
            dir,
            tp,
            config,
            time,
            params,
            LogDeps {
                listener: Arc::new(RwLock::new(None)),
                producer_id_expiration_ms: Arc::new(AtomicI64::new(
                    DEFAULT_PRODUCER_ID_EXPIRATION_MS,
                )),
                group_commit,
            },
            None,
        )
    }

    /// Open (or create) the log in `dir` (Kafka's UnifiedLog.create + LogLoader). With
    /// `topic_id`, a log without `partition.metadata` gets one (written before anything else,
    /// so a new partition directory names its topic from the start) and one with another id is
    /// refused ([`StorageError::InconsistentTopicId`]); without, the file is only read.
    pub(crate) fn open_with_deps(
        dir: PathBuf,
        tp: TopicPartition,
        config: LogConfig,
        time: Arc<dyn Time>,
        params: LoadParams,
        deps: LogDeps,
        topic_id: Option<Uuid>,
    ) -> Result<Self> {
        config.validate()?;
        fs::create_dir_all(&dir).at(&dir)?;
        let metadata = PartitionMetadataFile::new(&dir);
        let topic_id = match (topic_id, metadata.read()?) {
            (Some(want), Some(have)) if want != have => {
                return Err(StorageError::InconsistentTopicId {
                    tp,
                    path: metadata.path().to_path_buf(),
                    expected: kafka_uuid::to_base64(want),
                    found: kafka_uuid::to_base64(have),
                })
            }
            (_, Some(have)) => Some(have),
            (Some(want), None) => {
                metadata.write(want)?;
                Some(want)
            }
            (None, None) => None,
        };
        let device = {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(&dir).at(&dir)?.dev()
        };
        let now = time.milliseconds();
        let mut stats = LogLoadStats::default();
        complete_interrupted_swaps(&dir)?;
        let bases = scan_dir(&dir)?;
        let mut segments = Vec::with_capacity(bases.len().max(1));
        let mut rebuild = Vec::with_capacity(bases.len());
        for base in bases {
            let (seg, r) = LogSegment::open(
                &dir,
                base,
                config.index_interval_bytes,
                config.segment_index_bytes,
                now,
            )?;
            segments.push(seg);
            rebuild.push(r);
        }
        stats.indexes_rebuilt = rebuild.iter().filter(|&&r| r).count();
        let mut recovered = Vec::new();
        let mut removed_files = Vec::new();
        if !segments.is_empty() {
            let recover_from = if params.had_clean_shutdown {
                segments.len()
            } else {
                segments
                    .iter()
                    .rposition(|s| s.base_offset() <= params.recovery_point)
                    .unwrap_or(0)
            };
            let mut i = 0;
            while i < segments.len() {
                if rebuild[i] || i >= recover_from {
                    let (truncated, reason) =
                        segments[i].recover_with_reason(config.segment_index_bytes)?;
                    recovered.push(i);
                    if truncated > 0 {
                        // Kafka's LogLoader: the segments after invalid data go too (renamed
                        // `.deleted`, removed after file.delete.delay.ms like any deletion).
                        let later: Vec<LogSegment> = segments.drain(i + 1..).collect();
                        let segments_removed = later.len();
                        for seg in later {
                            removed_files.extend(seg.rename_to_deleted()?);
                        }
                        let t = Truncation {
                            file: segments[i].log_path().to_path_buf(),
                            offset: segments[i].read_next_offset()?,
                            bytes: truncated,
                            segments_removed,
                            reason: reason.unwrap_or_default(),
                        };
                        tracing::warn!(
                            "{tp}: invalid data in {} ({}); log truncated at offset {}: {} \
                             byte(s) cut, {} later segment(s) removed",
                            t.file.display(),
                            t.reason,
                            t.offset,
                            t.bytes,
                            t.segments_removed
                        );
                        stats.truncated = Some(t);
                    }
                }
                i += 1;
            }
        } else {
            let base = params.log_start_offset.max(0);
            segments.push(LogSegment::create(
                &dir,
                base,
                config.index_interval_bytes,
                config.segment_index_bytes,
                now,
            )?);
            recovered.push(0);
        }
        stats.segments = segments.len();
        stats.segments_recovered = recovered.len();
        let last = segments.len() - 1;
        segments[last].make_active(config.segment_index_bytes)?;
        let log_end_offset = segments[last].read_next_offset()?;
        let first_base = segments[0].base_offset();
        let log_start_offset = params.log_start_offset.max(first_base).min(log_end_offset);
        // Producer state: newest usable snapshot, then the batches after it (recovery above has
        // already cut any torn tail, so this replays exactly what the log holds). The replay
        // also rebuilds the `.txnindex` of the recovered segments.
        let mut rebuild_txn = vec![false; segments.len()];
        for &i in &recovered {
            if let Some(r) = rebuild_txn.get_mut(i) {
                *r = true;
            }
        }
        let mut producers = ProducerStateManager::new(tp.clone(), dir.clone());
        rebuild_producer_state(
            &mut producers,
            &mut segments,
            log_end_offset,
            now,
            deps.producer_id_expiration_ms.load(Ordering::Relaxed),
            &rebuild_txn,
        )?;
        stats.producer_snapshots_rebuilt = producers.take_corrupt_snapshots_removed();
        if !recovered.is_empty() || !removed_files.is_empty() {
            for &i in &recovered {
                if let Some(s) = segments.get(i) {
                    s.flush()?;
                }
            }
            sync_dir(&dir)?;
        }
        producers.take_snapshot(false)?;
        // Kafka's LogLoader: epochs past the recovered end or wholly below the start go. A
        // damaged checkpoint is rebuilt from the epochs the batches carry.
        let mut leader_epochs = match LeaderEpochFileCache::load(&dir) {
            Ok(c) => c,
            Err(e @ StorageError::CorruptCheckpoint { .. }) => {
                tracing::debug!("{e}; rebuilding it from the log");
                stats.leader_epochs_rebuilt = true;
                rebuild_leader_epochs(&dir, &segments)?
            }
            Err(e) => return Err(e),
        };
        leader_epochs.truncate_from_end(log_end_offset)?;
        leader_epochs.truncate_from_start(log_start_offset)?;
        let inactive_views: Arc<Vec<SegmentView>> =
            Arc::new(segments[..last].iter().map(LogSegment::view).collect());
        let unstable = Arc::new(producers.unstable_transactions());
        let snapshot = LogSnapshot {
            inactive: inactive_views.clone(),
            active: segments[last].view(),
            log_start_offset,
            log_end_offset,
            high_watermark: log_end_offset,
            last_stable_offset: lso_for(&unstable, log_end_offset, log_start_offset),
            unstable,
        };
        let mut pending = Vec::new();
        if !removed_files.is_empty() {
            pending.push(PendingDeletion {
                due_ms: now.saturating_add(config.file_delete_delay_ms),
                files: removed_files,
            });
        }
        Ok(Self {
            tp,
            dir,
            config: RwLock::new(Arc::new(config)),
            time,
            writer: Mutex::new(WriterState {
                segments,
                inactive_views,
                log_end_offset,
                log_start_offset,
                closed: false,
                producers,
            }),
            snapshot: RwLock::new(Arc::new(snapshot)),
            synced: AtomicI64::new(log_end_offset),
            hw_limit: AtomicI64::new(i64::MAX),
            truncations: Mutex::new(0),
            group_commit: deps.group_commit,
            device,
            flush_lock: Mutex::new(()),
            recovery_point: AtomicI64::new(log_end_offset),
            last_flush_ms: AtomicI64::new(now),
            offline: AtomicBool::new(false),
            listener: deps.listener,
            producer_id_expiration_ms: deps.producer_id_expiration_ms,
            pending_deletions: Mutex::new(pending),
            leader_epoch: std::sync::atomic::AtomicI32::new(
                leader_epochs.entries().last().map_or(0, |e| e.epoch),
            ),
            leader_epochs: Mutex::new(leader_epochs),
            topic_id: Mutex::new(topic_id),
            load_stats: stats,
        })
    }

    /// The topic id from `partition.metadata` (None for a log without one: an old Sluice data
    /// dir, or a creation interrupted before the file was written).
    pub fn topic_id(&self) -> Option<Uuid> {
        *lock(&self.topic_id)
    }

    /// Record that this log belongs to topic `topic_id` (Kafka's `assignTopicId`): a log
    /// without one gets `partition.metadata` written (atomically); the same id again is a
    /// no-op; another id is refused with [`StorageError::InconsistentTopicId`].
    pub fn assign_topic_id(&self, topic_id: Uuid) -> Result<()> {
        let mut current = lock(&self.topic_id);
        match *current {
            Some(have) if have == topic_id => Ok(()),
            Some(have) => Err(StorageError::InconsistentTopicId {
                tp: self.tp.clone(),
                path: PartitionMetadataFile::new(&self.dir).path().to_path_buf(),
                expected: kafka_uuid::to_base64(topic_id),
                found: kafka_uuid::to_base64(have),
            }),
            None => {
                PartitionMetadataFile::new(&self.dir).write(topic_id)?;
                *current = Some(topic_id);
                Ok(())
            }
        }
    }

    /// What loading this log found and did.
    pub fn load_stats(&self) -> &LogLoadStats {
        &self.load_stats
    }

    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn config(&self) -> Arc<LogConfig> {
        read_lock(&self.config).clone()
    }
    /// Replace the config (topic config change). Takes effect from the next append.
    pub fn update_config(&self, config: LogConfig) -> Result<()> {
        config.validate()?;
        *write_lock(&self.config) = Arc::new(config);
        Ok(())
    }
    /// Register the listener for this log alone (LogManager registers one for all its logs).
    pub fn set_high_watermark_listener(&self, listener: HighWatermarkListener) {
        *write_lock(&self.listener) = Some(listener);
    }

    /// The current published state.
    pub fn snapshot(&self) -> Arc<LogSnapshot> {
        read_lock(&self.snapshot).clone()
    }
    pub fn log_start_offset(&self) -> i64 {
        self.snapshot().log_start_offset
    }
    pub fn log_end_offset(&self) -> i64 {
        self.snapshot().log_end_offset
    }
    pub fn high_watermark(&self) -> i64 {
        self.snapshot().high_watermark
    }
    /// The last stable offset: below it every transaction is decided (read_committed fetches
    /// stop there). <= the high watermark. For a pair consistent with the high watermark, read
    /// both from one [`snapshot`](Self::snapshot).
    pub fn last_stable_offset(&self) -> i64 {
        self.snapshot().last_stable_offset
    }
    /// Open transactions as (producer id, first offset), oldest first.
    pub fn ongoing_transactions(&self) -> Vec<(i64, i64)> {
        lock(&self.writer).producers.ongoing_transactions()
    }
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point.load(Ordering::SeqCst)
    }
    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::SeqCst)
    }
    /// Base offsets of all segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        let s = self.snapshot();
        (0..s.num_segments())
            .filter_map(|i| s.segment(i).map(|v| v.base_offset))
            .collect()
    }
    /// Size in bytes of all segments.
    pub fn size_in_bytes(&self) -> u64 {
        let s = self.snapshot();
        (0..s.num_segments())
            .filter_map(|i| s.segment(i).map(|v| v.size))
            .sum()
    }

    fn check_writable(&self, w: &WriterState) -> Result<()> {
        if self.is_offline() {
            return Err(StorageError::LogOffline {
                dir: self.dir.clone(),
            });
        }
        if w.closed {
            return Err(StorageError::LogClosed {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// Mark the log offline on I/O errors (the page cache state after a failed write or fsync
    /// is unknown).
    fn fail<T>(&self, e: StorageError) -> Result<T> {
        if matches!(e, StorageError::Io { .. }) {
            tracing::error!("log {} going offline: {e}", self.dir.display());
            self.offline.store(true, Ordering::SeqCst);
        }
        Err(e)
    }

    /// Append a produce payload as leader: one or more whole v2 batches, already validated by
    /// the server (CRC, magic, record counts). This re-checks lengths, checks idempotent
    /// producers' epochs and sequences (every batch before anything is written), assigns
    /// offsets by rewriting each batch's baseOffset (and partitionLeaderEpoch) in place, applies
    /// LogAppendTime if the topic uses it, rolls if needed and writes the bytes once.
    ///
    /// A retried idempotent batch is not appended again: the result has `duplicate` set and the
    /// original offsets. Producer errors: [`StorageError::OutOfOrderSequence`],
    /// [`StorageError::InvalidSequenceForNewEpoch`], [`StorageError::InvalidProducerEpoch`],
    /// [`StorageError::InvalidTxnState`], [`StorageError::InvalidProducerSequence`]
    /// (see [`StorageError::kafka_error_code`]).
    ///
    /// Clients may not write control batches ([`StorageError::InvalidControlBatch`]); the
    /// transaction coordinator's markers go through
    /// [`append_control_marker`](Self::append_control_marker).
    pub fn append_as_leader(&self, records: &mut [u8], leader_epoch: i32) -> Result<LogAppendInfo> {
        self.append(records, leader_epoch, AppendOrigin::Client)
    }

    /// Append batches written by a coordinator itself (Kafka's appendAsLeader with origin
    /// COORDINATOR): the group coordinator's transactional offset commits (TxnOffsetCommit),
    /// which carry the producer's id and epoch and open a transaction in this partition that
    /// the transaction coordinator's marker ends. Sequences are not checked; control batches
    /// go through [`append_control_marker`](Self::append_control_marker).
    pub fn append_as_coordinator(
        &self,
        records: &mut [u8],
        leader_epoch: i32,
    ) -> Result<LogAppendInfo> {
        if RecordBatch::parse(records).is_ok_and(|b| b.is_control()) {
            return Err(StorageError::InvalidControlBatch {
                tp: self.tp.clone(),
                position: 0,
                reason: "markers go through append_control_marker".into(),
            });
        }
        self.append(
            records,
            leader_epoch,
            AppendOrigin::Coordinator {
                transaction_version: 0,
            },
        )
    }

    /// Append batches as the leader of a KRaft metadata log (Kafka's appendAsLeader with origin
    /// RAFT_LEADER): data batches of metadata records and control batches of KRaft records
    /// (LeaderChange, ...), none with a producer id.
    pub fn append_as_raft_leader(
        &self,
        records: &mut [u8],
        leader_epoch: i32,
    ) -> Result<LogAppendInfo> {
        self.append(records, leader_epoch, AppendOrigin::RaftLeader)
    }

    /// Write a transaction marker for the transaction coordinator (Kafka's appendAsLeader with
    /// origin COORDINATOR, as for WriteTxnMarkers): a one-record control batch (transactional
    /// and control attributes; key version 0 · type 0 ABORT / 1 COMMIT; value version 0 ·
    /// coordinator epoch; the producer's id and epoch, base sequence -1) stamped with the
    /// broker's clock. It ends the producer's open transaction, if any: an ABORT adds a
    /// `.txnindex` entry to the active segment, and the last stable offset moves once the
    /// high watermark passes the marker.
    ///
    /// Errors: [`StorageError::InvalidProducerEpoch`] (INVALID_PRODUCER_EPOCH) for a marker
    /// epoch below the producer's (with `transaction_version` >= 2: not above it, unless it
    /// retries a marker already written), [`StorageError::TransactionCoordinatorFenced`] for a
    /// coordinator epoch below the one of the producer's last marker.
    pub fn append_control_marker(
        &self,
        marker: &TxnMarker,
        leader_epoch: i32,
    ) -> Result<LogAppendInfo> {
        if marker.producer_id < 0 {
            return Err(StorageError::InvalidControlBatch {
                tp: self.tp.clone(),
                position: 0,
                reason: format!("marker for producer id {}", marker.producer_id),
            });
        }
        let mut batch = records::encode_end_txn_marker(
            marker.producer_id,
            marker.producer_epoch,
            EndTxnMarker {
                commit: marker.commit,
                coordinator_epoch: marker.coordinator_epoch,
            },
            self.time.milliseconds(),
        );
        self.append(
            &mut batch,
            leader_epoch,
            AppendOrigin::Coordinator {
                transaction_version: marker.transaction_version,
            },
        )
    }

    fn append(
        &self,
        records: &mut [u8],
        leader_epoch: i32,
        origin: AppendOrigin,
    ) -> Result<LogAppendInfo> {
        let config = self.config();
        let stats = self.analyze(records, &config, origin)?;
        let mut w = lock(&self.writer);
        self.check_writable(&w)?;
        let now = self.time.milliseconds();
        let first_offset = w.log_end_offset;
        let log_append_time = match config.message_timestamp_type {
            MessageTimestampType::LogAppendTime => now,
            MessageTimestampType::CreateTime => NO_TIMESTAMP,
        };
        let lat =
            (config.message_timestamp_type == MessageTimestampType::LogAppendTime).then_some(now);
        let producer_batches = self.producer_batches(records, first_offset, lat)?;
        let producer_updates = if producer_batches.is_empty() {
            None
        } else if origin == AppendOrigin::RaftLeader {
            return Err(StorageError::InvalidControlBatch {
                tp: self.tp.clone(),
                position: 0,
                reason: "a metadata log batch carries a producer id".into(),
            });
        } else if let AppendOrigin::Coordinator {
            transaction_version,
        } = origin
        {
            if producer_batches.iter().all(|b| b.is_control) {
                let mut u = None;
                for b in &producer_batches {
                    u = Some(w.producers.validate_marker(b, transaction_version)?);
                }
                u
            } else {
                Some(
                    w.producers
                        .validate_coordinator_append(&producer_batches, transaction_version)?,
                )
            }
        } else {
            match w.producers.validate_append(&producer_batches)? {
                AppendCheck::Append(u) => Some(u),
                AppendCheck::Duplicate(d) => {
                    let log_start_offset = w.log_start_offset;
                    drop(w);
                    tracing::debug!(
                        "{}: duplicate batch, acknowledging offsets {}..={}",
                        self.tp,
                        d.first_offset(),
                        d.last_offset
                    );
                    return Ok(LogAppendInfo {
                        first_offset: d.first_offset(),
                        last_offset: d.last_offset,
                        max_timestamp: d.timestamp,
                        shallow_offset_of_max_timestamp: d.last_offset,
                        log_append_time: d.timestamp,
                        log_start_offset,
                        num_batches: stats.batches,
                        num_messages: stats.messages,
                        valid_bytes: records.len(),
                        high_watermark: self.high_watermark(),
                        rolled: None,
                        duplicate: true,
                    });
                }
            }
        };
        let mut next = first_offset;
        let mut pos = 0usize;
        let mut max_timestamp = NO_TIMESTAMP;
        let mut offset_of_max = first_offset;
        while pos < records.len() {
            // Sizes were checked by analyze().
            let size = batch::batch_size(&records[pos..]).map_err(|e| self.invalid(pos, e))?;
            let b = &mut records[pos..pos + size];
            batch::set_base_offset(b, next);
            batch::set_partition_leader_epoch(b, leader_epoch);
            if config.message_timestamp_type == MessageTimestampType::LogAppendTime {
                batch::set_log_append_time(b, now);
            }
            let h = batch::parse_header(b).map_err(|e| self.invalid(pos, e))?;
            if h.max_timestamp > max_timestamp {
                max_timestamp = h.max_timestamp;
                offset_of_max = h.last_offset();
            }
            next = h.next_offset();
            pos += size;
        }
        let last_offset = next - 1;
        let params = RollParams {
            max_segment_ms: config.segment_ms,
            max_segment_bytes: u64::from(config.segment_bytes),
            max_timestamp_in_messages: max_timestamp,
            max_offset_in_messages: last_offset,
            messages_size: records.len() as u64,
            now,
        };
        let roll_reason = w.active().and_then(|a| a.should_roll(&params));
        if let Some(reason) = roll_reason {
            tracing::debug!("{}: rolling at offset {first_offset} ({reason:?})", self.tp);
            if let Err(e) = self.roll(&mut w, first_offset, &config, now) {
                return self.fail(e);
            }
        }
        let Some(active) = w.segments.last_mut() else {
            return Err(StorageError::LogClosed {
                dir: self.dir.clone(),
            });
        };
        if let Err(e) = active.append(records) {
            return self.fail(e);
        }
        w.log_end_offset = next;
        // Every batch of one append carries the same partitionLeaderEpoch.
        if let Err(e) = lock(&self.leader_epochs).assign(leader_epoch, first_offset) {
            return self.fail(e);
        }
        let completed = match producer_updates {
            Some(u) => w.producers.commit(u, next),
            None => {
                w.producers.set_map_end_offset(next);
                Vec::new()
            }
        };
        if let Err(e) = write_aborted_txns(&mut w.segments, &completed) {
            return self.fail(e);
        }
        let p = self.publish(&mut w);
        let log_start_offset = w.log_start_offset;
        // Flush per flush.messages / flush.ms, and after a roll (Kafka flushes the rolled
        // segment right away, off the append path).
        let due = roll_reason.is_some()
            || next - self.recovery_point() >= config.flush_messages
            || now.saturating_sub(self.last_flush_ms.load(Ordering::SeqCst)) >= config.flush_ms;
        drop(w);
        if p.moved() {
            self.notify(p.hw);
        }
        if due {
            self.flush()?;
        }
        Ok(LogAppendInfo {
            first_offset,
            last_offset,
            max_timestamp,
            shallow_offset_of_max_timestamp: offset_of_max,
            log_append_time,
            log_start_offset,
            num_batches: stats.batches,
            num_messages: stats.messages,
            valid_bytes: records.len(),
            high_watermark: self.high_watermark().max(p.hw),
            rolled: roll_reason,
            duplicate: false,
        })
    }

    /// The batches of a payload that carry a producer id, with the offsets and max timestamps
    /// they are about to get. Empty (no allocation) when there are none.
    fn producer_batches(
        &self,
        records: &[u8],
        first_offset: i64,
        log_append_time: Option<i64>,
    ) -> Result<Vec<ProducerBatch>> {
        let mut out = Vec::new();
        let mut pos = 0usize;
        let mut next = first_offset;
        while pos < records.len() {
            let h = batch::parse_header(&records[pos..]).map_err(|e| self.invalid(pos, e))?;
            if h.has_producer_id() {
                let mut b = ProducerBatch::at(&h, next, log_append_time.unwrap_or(h.max_timestamp));
                if h.is_control() {
                    let rb =
                        RecordBatch::parse(&records[pos..]).map_err(|e| self.invalid(pos, e))?;
                    let marker = records::parse_end_txn_marker(&rb).map_err(|e| {
                        StorageError::InvalidControlBatch {
                            tp: self.tp.clone(),
                            position: pos,
                            reason: e.to_string(),
                        }
                    })?;
                    b = b.with_marker(marker);
                }
                out.push(b);
            }
            next += i64::from(h.last_offset_delta) + 1;
            pos += h.size;
        }
        Ok(out)
    }

    /// Idempotent producers known to this partition (for DescribeProducers and tests).
    pub fn active_producers(&self) -> Vec<ProducerStateEntry> {
        lock(&self.writer).producers.active_producers()
    }

    /// Offsets of this partition's producer snapshot files, ascending.
    pub fn producer_snapshot_offsets(&self) -> Vec<i64> {
        lock(&self.writer).producers.snapshot_offsets()
    }

    /// Forget producers whose last batch timestamp is `producer.id.expiration.ms` or more
    /// before `now_ms` and that have no open transaction (Kafka's periodic producer expiration;
    /// call every `producer.id.expiration.check.interval.ms`, default 10 minutes, or through
    /// `LogManager::remove_expired_producers`). Returns how many were removed.
    pub fn remove_expired_producers(&self, now_ms: i64) -> usize {
        let expiration = self.producer_id_expiration_ms.load(Ordering::Relaxed);
        lock(&self.writer)
            .producers
            .remove_expired_producers(now_ms, expiration)
    }

    fn invalid(&self, position: usize, source: BatchError) -> StorageError {
        StorageError::InvalidRecords {
            tp: self.tp.clone(),
            position,
            source,
        }
    }

    /// Re-check the payload's framing: whole batches, sane lengths, magic 2, record-count
    /// deltas, sizes within max.message.bytes and segment.bytes.
    fn analyze(
        &self,
        records: &[u8],
        config: &LogConfig,
        origin: AppendOrigin,
    ) -> Result<PayloadStats> {
        if records.is_empty() {
            return Err(self.invalid(
                0,
                BatchError::Truncated {
                    available: 0,
                    needed: HEADER_SIZE,
                },
            ));
        }
        if records.len() > config.segment_bytes as usize {
            return Err(StorageError::RecordBatchTooLarge {
                tp: self.tp.clone(),
                size: records.len(),
                max: config.segment_bytes as usize,
            });
        }
        let mut stats = PayloadStats::default();
        let mut pos = 0;
        while pos < records.len() {
            let b = RecordBatch::parse(&records[pos..]).map_err(|e| self.invalid(pos, e))?;
            if b.is_control() && origin == AppendOrigin::Client {
                return Err(StorageError::InvalidControlBatch {
                    tp: self.tp.clone(),
                    position: pos,
                    reason: "clients are not allowed to write control records".into(),
                });
            }
            if origin != AppendOrigin::Replication && b.size() > config.max_message_bytes as usize {
                return Err(StorageError::RecordTooLarge {
                    tp: self.tp.clone(),
                    size: b.size(),
                    max: config.max_message_bytes as usize,
                });
            }
            let delta = b.last_offset_delta();
            if delta < 0 {
                return Err(self.invalid(
                    pos,
                    BatchError::InvalidRecordCount {
                        count: b.records_count(),
                        last_offset_delta: delta,
                    },
                ));
            }
            stats.batches += 1;
            stats.messages += i64::from(delta) + 1;
            pos += b.size();
        }
        Ok(stats)
    }

    /// Make a new active segment at `new_base`, flushing and trimming the old one.
    /// The caller flushes afterwards, outside the writer lock.
    fn roll(&self, w: &mut WriterState, new_base: i64, config: &LogConfig, now: i64) -> Result<()> {
        let Some(mut old) = w.segments.pop() else {
            return Err(StorageError::LogClosed {
                dir: self.dir.clone(),
            });
        };
        if old.size() == 0 {
            // Kafka replaces an empty active segment rather than leaving it behind.
            if old.base_offset() == new_base {
                w.segments.push(old);
                return Ok(());
            }
            old.delete()?;
        } else {
            // Trim now; the fsync of the rolled segment happens after the writer lock is
            // released (see `append_as_leader` / `roll_now`), so appends don't wait for it.
            old.on_become_inactive()?;
            let mut views = Vec::with_capacity(w.inactive_views.len() + 1);
            views.extend(w.inactive_views.iter().cloned());
            views.push(old.view());
            w.inactive_views = Arc::new(views);
            w.segments.push(old);
        }
        let seg = LogSegment::create(
            &self.dir,
            new_base,
            config.index_interval_bytes,
            config.segment_index_bytes,
            now,
        )?;
        w.segments.push(seg);
        // Make the new file's directory entry durable before anything in it is acknowledged.
        sync_dir(&self.dir)?;
        // Producer state as of the new segment's base (not fsynced: a lost or torn snapshot
        // is detected at load and only costs a longer replay of the log).
        w.producers.set_map_end_offset(new_base);
        w.producers.take_snapshot(false)?;
        Ok(())
    }

    fn mark_synced(&self, offset: i64) {
        self.synced.fetch_max(offset, Ordering::SeqCst);
    }

    /// Publish a new snapshot from the writer state: segments, offsets, the high watermark and
    /// the last stable offset that goes with it.
    fn publish(&self, w: &mut WriterState) -> Published {
        let fsync_mode = self.config().fsync_before_ack;
        if w.active().is_none() {
            let s = self.snapshot();
            return Published {
                old_hw: s.high_watermark,
                hw: s.high_watermark,
                old_lso: s.last_stable_offset,
                lso: s.last_stable_offset,
            };
        }
        // Reading `synced` before taking the snapshot lock is safe: a syncer raises the
        // published hw itself before moving `synced`, and the hw here is never lowered below
        // the published one.
        let synced = self.synced.load(Ordering::SeqCst);
        let mut slot = write_lock(&self.snapshot);
        let old_hw = slot.high_watermark;
        let old_lso = slot.last_stable_offset;
        let local = if fsync_mode {
            synced.min(w.log_end_offset)
        } else {
            w.log_end_offset
        };
        let hw = local.min(self.hw_limit.load(Ordering::SeqCst)).max(old_hw);
        // Kafka's onHighWatermarkUpdated: ended transactions whose marker is below the hw no
        // longer hold the LSO back.
        w.producers.on_high_watermark_updated(hw);
        let unstable = if slot.unstable.is_empty() && w.producers.first_unstable_offset().is_none()
        {
            slot.unstable.clone()
        } else {
            Arc::new(w.producers.unstable_transactions())
        };
        let Some(active) = w.active() else {
            return Published {
                old_hw,
                hw: old_hw,
                old_lso,
                lso: old_lso,
            };
        };
        let lso = lso_for(&unstable, hw, w.log_start_offset);
        *slot = Arc::new(LogSnapshot {
            inactive: w.inactive_views.clone(),
            active: active.view(),
            log_start_offset: w.log_start_offset,
            log_end_offset: w.log_end_offset,
            high_watermark: hw,
            last_stable_offset: lso,
            unstable,
        });
        Published {
            old_hw,
            hw,
            old_lso,
            lso,
        }
    }

    /// Raise the published high watermark to `durable` (capped at the log end offset). Done
    /// *before* `synced` moves, so a `sync_to` caller that returns always finds the hw past its
    /// offset. Returns the new hw if it moved.
    fn raise_hw(&self, durable: i64) -> Option<i64> {
        let mut slot = write_lock(&self.snapshot);
        let hw = durable
            .min(slot.log_end_offset)
            .min(self.hw_limit.load(Ordering::SeqCst))
            .max(slot.high_watermark);
        if hw == slot.high_watermark {
            return None;
        }
        let mut s = (**slot).clone();
        s.set_high_watermark(hw);
        *slot = Arc::new(s);
        Some(hw)
    }

    fn notify(&self, hw: i64) {
        let listener = read_lock(&self.listener).clone();
        if let Some(f) = listener {
            f(&self.tp, hw);
        }
    }

    /// Segments that may hold data at or above `offset`, to be fsynced.
    fn views_from(snap: &LogSnapshot, offset: i64) -> Vec<SegmentView> {
        snap.segments_from(offset).cloned().collect()
    }

    /// Block until every offset <= `offset` is on disk, through the log dir's group commit
    /// ([`GroupCommit`]): the request joins the next round, which covers every log with
    /// requests waiting. In fsync-before-ack mode the high watermark moves only here (and in
    /// `flush`). Blocks the calling thread: call it from a blocking-capable thread.
    pub fn sync_to(self: &Arc<Self>, offset: i64) -> Result<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.group_commit.submit(
            vec![(self.clone(), offset)],
            Box::new(move |results| {
                let _ = tx.send(results);
            }),
        );
        match rx.recv().ok().and_then(|mut r| r.pop()) {
            Some(result) => result,
            None => Err(self.offline_error()),
        }
    }

    /// Make every `(log, offset)` durable (all offsets <= `offset`) without blocking: the
    /// requests join their log dirs' group commits, and `done` gets one result per item, in
    /// order, once all are settled (on a committer thread, or at once).
    pub fn sync_many(items: Vec<(Arc<PartitionLog>, i64)>, done: SyncDone) {
        let Some(first) = items.first() else {
            return done(Vec::new());
        };
        let committer = first.0.group_commit.clone();
        if items
            .iter()
            .all(|(log, _)| Arc::ptr_eq(&log.group_commit, &committer))
        {
            return committer.submit(items, done);
        }
        // Logs in several dirs: one request per committer, joined.
        struct Join {
            results: Vec<Option<Result<()>>>,
            left: usize,
            done: Option<SyncDone>,
        }
        let mut parts: Vec<(Arc<GroupCommit>, Vec<usize>)> = Vec::new();
        for (i, (log, _)) in items.iter().enumerate() {
            match parts
                .iter_mut()
                .find(|(c, _)| Arc::ptr_eq(c, &log.group_commit))
            {
                Some((_, idx)) => idx.push(i),
                None => parts.push((log.group_commit.clone(), vec![i])),
            }
        }
        let join = Arc::new(Mutex::new(Join {
            results: items.iter().map(|_| None).collect(),
            left: parts.len(),
            done: Some(done),
        }));
        for (committer, idx) in parts {
            let part = idx.iter().map(|&i| items[i].clone()).collect();
            let join = join.clone();
            committer.submit(
                part,
                Box::new(move |results| {
                    let mut j = lock(&join);
                    for (i, r) in idx.into_iter().zip(results) {
                        j.results[i] = Some(r);
                    }
                    j.left -= 1;
                    if j.left == 0 {
                        let results = j.results.drain(..).map(|r| r.unwrap_or(Ok(()))).collect();
                        let done = j.done.take();
                        drop(j);
                        if let Some(done) = done {
                            done(results);
                        }
                    }
                }),
            );
        }
    }

    /// Every offset below this is on disk.
    pub(crate) fn synced_offset(&self) -> i64 {
        self.synced.load(Ordering::SeqCst)
    }

    pub(crate) fn device(&self) -> u64 {
        self.device
    }

    pub(crate) fn offline_error(&self) -> StorageError {
        StorageError::LogOffline {
            dir: self.dir.clone(),
        }
    }

    /// fdatasync the `.log` files that may hold offsets from `from` on (a group-commit round
    /// without syncfs); an error takes the log offline.
    pub(crate) fn sync_segments(&self, snap: &LogSnapshot, from: i64) -> Result<()> {
        let res = Self::views_from(snap, from)
            .iter()
            .try_for_each(|v| v.log.sync_data().at(&v.log_path));
        match res {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    /// Where a group-commit round starts: the truncation count (for
    /// [`complete_sync`](Self::complete_sync)), the snapshot to make durable, and the offset
    /// below which the log is durable already.
    pub(crate) fn sync_start(&self) -> (u64, Arc<LogSnapshot>, i64) {
        let truncations = *lock(&self.truncations);
        (truncations, self.snapshot(), self.synced_offset())
    }

    /// A group-commit round that started at `truncations` made everything below `durable`
    /// durable: raise the high watermark first, then `synced` (so that a waiter that sees
    /// `synced` finds the hw past its offset) — unless the log was truncated meanwhile.
    pub(crate) fn complete_sync(&self, truncations: u64, durable: i64) {
        let t = lock(&self.truncations);
        if *t != truncations {
            return;
        }
        let raised = self.raise_hw(durable);
        self.mark_synced(durable);
        drop(t);
        if let Some(hw) = raised {
            self.notify(hw);
        }
    }

    /// Flush everything appended so far, indexes included, and advance the recovery point
    /// (Kafka's flush at flush.messages / flush.ms / shutdown).
    pub fn flush(&self) -> Result<()> {
        let _g = lock(&self.flush_lock);
        let snap = self.snapshot();
        let target = snap.log_end_offset;
        let rp = self.recovery_point();
        if target > rp {
            let views = Self::views_from(&snap, rp);
            let res = views.iter().try_for_each(|v| {
                v.log.sync_data().at(&v.log_path)?;
                v.offset_index.sync()?;
                v.time_index.sync()?;
                v.txn_index.sync()
            });
            if let Err(e) = res {
                return self.fail(e);
            }
            self.recovery_point.fetch_max(target, Ordering::SeqCst);
            let raised = self.raise_hw(target);
            self.mark_synced(target);
            if let Some(hw) = raised {
                self.notify(hw);
            }
        }
        self.last_flush_ms
            .store(self.time.milliseconds(), Ordering::SeqCst);
        Ok(())
    }

    /// Flush if flush.ms has passed since the last flush (the server calls this periodically
    /// through `LogManager::flush_dirty_logs`).
    pub fn flush_if_due(&self) -> Result<bool> {
        let ms = self.config().flush_ms;
        let now = self.time.milliseconds();
        let due = now.saturating_sub(self.last_flush_ms.load(Ordering::SeqCst)) >= ms
            && self.log_end_offset() > self.recovery_point();
        if due {
            self.flush()?;
        }
        Ok(due)
    }

    /// Read whole batches starting with the batch that contains `fetch_offset`, up to
    /// `max_bytes` (the first batch regardless of size if `min_one_batch`, KIP-74), never past
    /// the high watermark nor `max_offset` (exclusive; e.g. the last stable offset).
    pub fn read(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        max_offset: Option<i64>,
    ) -> Result<FetchDataInfo> {
        let snap = self.snapshot();
        let upper = max_offset.map_or(snap.high_watermark, |m| m.min(snap.high_watermark));
        self.read_snapshot(&snap, fetch_offset, max_bytes, min_one_batch, upper)
            .map(|(info, _)| info)
    }

    /// A read_committed read (Kafka's FetchIsolation TXN_COMMITTED): like [`read`](Self::read)
    /// bounded by the last stable offset, with the aborted transactions that overlap the
    /// records returned (from the segments' `.txnindex`, as Kafka's
    /// `LocalLog.addAbortedTransactions`), all from one snapshot.
    pub fn read_committed(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<FetchDataInfo> {
        let snap = self.snapshot();
        let lso = snap.last_stable_offset;
        let (mut info, next) =
            self.read_snapshot(&snap, fetch_offset, max_bytes, min_one_batch, lso)?;
        let aborted = if info.is_empty() {
            Vec::new()
        } else {
            collect_aborted(&snap, fetch_offset, next)?
        };
        info.aborted_transactions = Some(aborted);
        Ok(info)
    }

    /// The aborted transactions that overlap `[start_offset, upper_bound_offset)`: `.txnindex`
    /// entries with `lastOffset >= start_offset` and `firstOffset < upper_bound_offset`, from
    /// the segment holding `start_offset` onwards until an entry's last stable offset reaches
    /// the upper bound (Kafka's `collectAbortedTxns`). In marker order.
    pub fn collect_aborted_transactions(
        &self,
        start_offset: i64,
        upper_bound_offset: i64,
    ) -> Result<Vec<AbortedTxn>> {
        collect_aborted(&self.snapshot(), start_offset, upper_bound_offset)
    }

    /// A read of a follower replica (Kafka's FetchIsolation LOG_END): like
    /// [`read`](Self::read), but up to the log end offset, past the high watermark.
    pub fn read_to_log_end(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<FetchDataInfo> {
        let snap = self.snapshot();
        self.read_snapshot(
            &snap,
            fetch_offset,
            max_bytes,
            min_one_batch,
            snap.log_end_offset,
        )
        .map(|(info, _)| info)
    }

    /// [`read`](Self::read) on one snapshot, of the batches below `upper`; also returns the
    /// offset after the last batch read (`fetch_offset` if none).
    fn read_snapshot(
        &self,
        snap: &LogSnapshot,
        fetch_offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        upper: i64,
    ) -> Result<(FetchDataInfo, i64)> {
        let mut out = FetchDataInfo {
            records: Vec::new(),
            high_watermark: snap.high_watermark,
            last_stable_offset: snap.last_stable_offset,
            log_start_offset: snap.log_start_offset,
            log_end_offset: snap.log_end_offset,
            aborted_transactions: None,
        };
        if fetch_offset < snap.log_start_offset || fetch_offset > snap.log_end_offset {
            return Err(StorageError::OffsetOutOfRange {
                tp: self.tp.clone(),
                offset: fetch_offset,
                log_start_offset: snap.log_start_offset,
                log_end_offset: snap.log_end_offset,
            });
        }
        let mut target = fetch_offset;
        let mut budget = max_bytes;
        for seg in snap.segments_from(fetch_offset) {
            let first = out.records.is_empty();
            if target >= upper || (budget == 0 && !(first && min_one_batch)) {
                break;
            }
            let Some((pos, h)) = seg.translate_offset(target)? else {
                continue;
            };
            if h.last_offset() >= upper {
                break;
            }
            let avail = (seg.size - pos) as usize;
            let mut len = avail.min(budget);
            if first && min_one_batch {
                len = len.max(h.size);
            }
            if len < h.size {
                break;
            }
            let mut buf = seg.read_at(pos, len)?;
            let mut used = 0usize;
            while buf.len() - used >= HEADER_SIZE {
                let b =
                    batch::parse_header(&buf[used..]).map_err(|e| StorageError::CorruptRecord {
                        path: seg.log_path.to_path_buf(),
                        position: pos + used as u64,
                        reason: e.to_string(),
                    })?;
                if used + b.size > buf.len() || b.last_offset() >= upper {
                    break;
                }
                used += b.size;
                target = b.next_offset();
            }
            if used == 0 {
                break;
            }
            buf.truncate(used);
            out.records.push(buf.freeze());
            budget = budget.saturating_sub(used);
            if used < avail {
                break;
            }
        }
        Ok((out, target))
    }

    /// The largest batch max timestamp of the readable log (from the segments' time tracking),
    /// or `NO_TIMESTAMP` (-1) when the log holds no batch.
    pub fn max_timestamp(&self) -> i64 {
        let snap = self.snapshot();
        snap.segments_from(snap.log_start_offset)
            .map(|seg| seg.max_timestamp)
            .max()
            .unwrap_or(NO_TIMESTAMP)
    }

    /// The whole batch that holds the largest timestamp of the local log (ListOffsets
    /// MAX_TIMESTAMP), as Kafka's `fetchOffsetByTimestamp`: the first segment with the largest
    /// max timestamp, every local segment counting — also records below the log start offset
    /// that a segment still holds after DeleteRecords — and in it the first batch carrying
    /// that timestamp. None when no batch has a timestamp or the batch is not below the high
    /// watermark.
    pub fn max_timestamp_batch(&self) -> Result<Option<Bytes>> {
        let snap = self.snapshot();
        let mut best: Option<&SegmentView> = None;
        for seg in (0..snap.num_segments()).filter_map(|i| snap.segment(i)) {
            if seg.max_timestamp > best.map_or(NO_TIMESTAMP, |b| b.max_timestamp) {
                best = Some(seg);
            }
        }
        let Some(seg) = best else { return Ok(None) };
        let Some((pos, h)) = seg.find_offset_by_timestamp(seg.max_timestamp, seg.base_offset)?
        else {
            return Ok(None);
        };
        if h.last_offset() >= snap.high_watermark {
            return Ok(None);
        }
        Ok(Some(seg.read_at(pos, h.size)?.freeze()))
    }

    /// The (epoch, end offset) of `leader_epoch` for OffsetForLeaderEpoch (Kafka's
    /// `endOffsetForEpoch`): the log end offset for the latest epoch, else the start of the
    /// next epoch; (-1, -1) when unknown.
    pub fn end_offset_for_epoch(&self, leader_epoch: i32) -> (i32, i64) {
        let leo = self.log_end_offset();
        lock(&self.leader_epochs).end_offset_for(leader_epoch, leo)
    }

    /// The leader epoch cache's entries (epoch, start offset), oldest first.
    pub fn leader_epoch_entries(&self) -> Vec<(i32, i64)> {
        lock(&self.leader_epochs)
            .entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    /// The epoch the record at `offset` was written in, if the cache knows it.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        lock(&self.leader_epochs).epoch_for_offset(offset)
    }

    /// Becoming leader with `leader_epoch` (Kafka's `maybeAssignEpochStartOffset`): the epoch
    /// starts at the log end offset unless the cache already has it.
    pub fn maybe_assign_epoch_start_offset(&self, leader_epoch: i32) -> Result<()> {
        let w = lock(&self.writer);
        self.check_writable(&w)?;
        let leo = w.log_end_offset;
        let mut cache = lock(&self.leader_epochs);
        if let Some(latest) = cache.entries().last().map(|e| e.epoch) {
            if leader_epoch < latest {
                // Assigning it would drop the history of the newer epochs (Kafka's cache
                // truncates non-monotonic entries): the caller's epoch is stale.
                return Err(StorageError::StaleLeaderEpoch {
                    tp: self.tp.clone(),
                    epoch: leader_epoch,
                    latest,
                });
            }
        }
        if let Err(e) = cache.assign(leader_epoch, leo) {
            return self.fail(e);
        }
        self.leader_epoch.store(leader_epoch, Ordering::SeqCst);
        Ok(())
    }

    /// The leader epoch the log is led in (Kafka's Partition.leaderEpoch): the epoch it last
    /// became leader with ([`maybe_assign_epoch_start_offset`](Self::maybe_assign_epoch_start_offset)),
    /// else the latest epoch of its leader-epoch cache, else 0. Appends stamp it on batches.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::SeqCst)
    }

    /// The first batch at or after the log start offset, below the high watermark, whose max
    /// timestamp is >= `timestamp` (ListOffsets by timestamp). None if there is none.
    pub fn fetch_offset_by_timestamp(&self, timestamp: i64) -> Result<Option<TimestampAndOffset>> {
        let snap = self.snapshot();
        for seg in snap.segments_from(snap.log_start_offset) {
            if seg.max_timestamp < timestamp {
                continue;
            }
            if let Some((_, h)) = seg.find_offset_by_timestamp(timestamp, snap.log_start_offset)? {
                if h.last_offset() >= snap.high_watermark {
                    return Ok(None);
                }
                return Ok(Some(TimestampAndOffset {
                    timestamp: h.max_timestamp,
                    offset: h.base_offset.max(snap.log_start_offset),
                }));
            }
        }
        Ok(None)
    }

    /// Roll now (Kafka's `roll()`), e.g. for tests or admin requests.
    pub fn roll_now(&self) -> Result<()> {
        let config = self.config();
        let mut w = lock(&self.writer);
        self.check_writable(&w)?;
        let leo = w.log_end_offset;
        let now = self.time.milliseconds();
        if let Err(e) = self.roll(&mut w, leo, &config, now) {
            return self.fail(e);
        }
        let p = self.publish(&mut w);
        drop(w);
        if p.moved() {
            self.notify(p.hw);
        }
        self.flush()
    }

    /// Remove every batch at or after `offset` (whole batches: a batch containing `offset`
    /// goes entirely). Used by recovery and, later, replication.
    pub fn truncate_to(&self, offset: i64) -> Result<()> {
        let config = self.config();
        let mut w = lock(&self.writer);
        self.check_writable(&w)?;
        if offset >= w.log_end_offset {
            return Ok(());
        }
        let now = self.time.milliseconds();
        let first_base = w.segments.first().map_or(offset, LogSegment::base_offset);
        if offset <= first_base {
            drop(w);
            return self.truncate_fully_and_start_at(offset);
        }
        let res = (|| -> Result<()> {
            while w.segments.len() > 1
                && w.segments.last().is_some_and(|s| s.base_offset() >= offset)
            {
                if let Some(seg) = w.segments.pop() {
                    seg.delete()?;
                }
            }
            let n = w.segments.len();
            let views: Vec<SegmentView> =
                w.segments[..n - 1].iter().map(LogSegment::view).collect();
            w.inactive_views = Arc::new(views);
            let Some(active) = w.segments.last_mut() else {
                return Ok(());
            };
            active.make_active(config.segment_index_bytes)?;
            let new_end = active.truncate_to(offset, now)?;
            w.log_end_offset = match new_end {
                Some(e) => e,
                None => w.log_end_offset.min(offset),
            };
            w.log_start_offset = w.log_start_offset.min(w.log_end_offset);
            // Kafka's truncateAndReload + rebuildProducerState: snapshots above the new end go,
            // the state is rebuilt from the newest remaining one.
            let expiration = self.producer_id_expiration_ms.load(Ordering::Relaxed);
            lock(&self.leader_epochs).truncate_from_end(w.log_end_offset)?;
            let WriterState {
                segments,
                producers,
                log_end_offset,
                ..
            } = &mut *w;
            rebuild_producer_state(producers, segments, *log_end_offset, now, expiration, &[])
        })();
        if let Err(e) = res {
            return self.fail(e);
        }
        self.lower_durability_marks(w.log_end_offset);
        self.publish(&mut w);
        Ok(())
    }

    /// Delete all segments and start empty at `offset`.
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<()> {
        let config = self.config();
        let mut w = lock(&self.writer);
        self.check_writable(&w)?;
        let now = self.time.milliseconds();
        let res = (|| -> Result<()> {
            for seg in w.segments.drain(..) {
                seg.delete()?;
            }
            w.inactive_views = Arc::new(Vec::new());
            w.segments.push(LogSegment::create(
                &self.dir,
                offset,
                config.index_interval_bytes,
                config.segment_index_bytes,
                now,
            )?);
            w.producers.truncate_fully_and_start_at(offset)?;
            lock(&self.leader_epochs).clear_and_flush()?;
            sync_dir(&self.dir)?;
            Ok(())
        })();
        if let Err(e) = res {
            return self.fail(e);
        }
        w.log_end_offset = offset;
        w.log_start_offset = offset;
        self.recovery_point.store(offset, Ordering::SeqCst);
        {
            let mut t = lock(&self.truncations);
            *t += 1;
            self.synced.store(offset, Ordering::SeqCst);
        }
        // Force the hw to the new end even in fsync mode.
        {
            let mut slot = write_lock(&self.snapshot);
            let mut s = (**slot).clone();
            s.set_high_watermark(offset);
            *slot = Arc::new(s);
        }
        self.publish(&mut w);
        Ok(())
    }

    fn lower_durability_marks(&self, end: i64) {
        self.recovery_point.fetch_min(end, Ordering::SeqCst);
        let mut t = lock(&self.truncations);
        *t += 1;
        self.synced.fetch_min(end, Ordering::SeqCst);
        drop(t);
        let mut slot = write_lock(&self.snapshot);
        if slot.high_watermark > end {
            let mut s = (**slot).clone();
            s.set_high_watermark(end);
            *slot = Arc::new(s);
        }
    }

    /// Move the log start offset forward (DeleteRecords) and delete segments that lie wholly
    /// below it (asynchronously: renamed to `.deleted`, removed after file.delete.delay.ms).
    /// `offset` is capped at the high watermark. Returns the new log start offset.
    pub fn maybe_increment_log_start_offset(&self, offset: i64) -> Result<i64> {
        let config = self.config();
        let mut w = lock(&self.writer);
        self.check_writable(&w)?;
        let hw = self.high_watermark();
        let new_start = offset.min(hw);
        if new_start <= w.log_start_offset {
            return Ok(w.log_start_offset);
        }
        w.log_start_offset = new_start;
        // Segment i is wholly below if segment i+1 starts at or below the new start.
        let count = w
            .segments
            .windows(2)
            .take_while(|pair| pair[1].base_offset() <= new_start)
            .count();
        let now = self.time.milliseconds();
        if let Err(e) = self.remove_segments_async(&mut w, count, &config, now) {
            return self.fail(e);
        }
        if let Err(e) = lock(&self.leader_epochs).truncate_from_start(new_start) {
            return self.fail(e);
        }
        self.publish(&mut w);
        Ok(new_start)
    }

    /// Kafka's `deleteOldSegments`, run by the retention task every
    /// log.retention.check.interval.ms: delete the oldest segments that lie wholly below the
    /// log start offset, then — if cleanup.policy contains `delete` — those beyond
    /// retention.bytes (the log's total size minus the segment must stay >= retention.bytes)
    /// and those whose largest timestamp is more than retention.ms old. Only a prefix of the
    /// log goes, and only segments wholly below the high watermark. When every segment is
    /// deletable, the active one is rolled first (a log always keeps one segment). The log
    /// start offset moves to the new first segment. Files are renamed to `.deleted` and
    /// removed by [`delete_due_files`](Self::delete_due_files) after file.delete.delay.ms.
    /// Returns the number of segments deleted.
    pub fn delete_old_segments(&self) -> Result<usize> {
        let config = self.config();
        let mut w = lock(&self.writer);
        self.check_writable(&w)?;
        let now = self.time.milliseconds();
        let start = w.log_start_offset;
        let mut total = self.delete_prefix(&mut w, &config, now, |_, next| {
            Ok(next.is_some_and(|n| n.base_offset() <= start))
        })?;
        if config.cleanup_policy_delete {
            if config.retention_bytes >= 0 {
                let size: u64 = w.segments.iter().map(LogSegment::size).sum();
                let limit = config.retention_bytes as u64;
                if size >= limit {
                    let mut diff = size - limit;
                    total += self.delete_prefix(&mut w, &config, now, |seg, _| {
                        if diff >= seg.size() {
                            diff -= seg.size();
                            Ok(true)
                        } else {
                            Ok(false)
                        }
                    })?;
                }
            }
            if config.retention_ms >= 0 {
                let retention = config.retention_ms;
                total += self.delete_prefix(&mut w, &config, now, |seg, _| {
                    Ok(now.saturating_sub(seg.largest_timestamp()?) > retention)
                })?;
            }
        }
        Ok(total)
    }

    /// Delete the longest prefix of segments for which `predicate(segment, next)` holds and
    /// that are eligible (wholly below the high watermark, not the empty active segment).
    fn delete_prefix(
        &self,
        w: &mut WriterState,
        config: &LogConfig,
        now: i64,
        mut predicate: impl FnMut(&LogSegment, Option<&LogSegment>) -> Result<bool>,
    ) -> Result<usize> {
        let hw = self.high_watermark();
        let leo = w.log_end_offset;
        let mut count = 0;
        for (i, seg) in w.segments.iter().enumerate() {
            let next = w.segments.get(i + 1);
            let last_and_empty = next.is_none() && seg.size() == 0;
            let upper = next.map_or(leo, LogSegment::base_offset);
            if last_and_empty || hw < upper || !predicate(seg, next)? {
                break;
            }
            count += 1;
        }
        if count == 0 {
            return Ok(0);
        }
        let res = (|| -> Result<()> {
            if count == w.segments.len() {
                // A log always has a segment: roll a new active one first.
                self.roll(w, leo, config, now)?;
            }
            self.remove_segments_async(w, count, config, now)
        })();
        if let Err(e) = res {
            return self.fail(e);
        }
        let first_base = w.segments.first().map_or(leo, LogSegment::base_offset);
        w.log_start_offset = w.log_start_offset.max(first_base);
        if let Err(e) = lock(&self.leader_epochs).truncate_from_start(w.log_start_offset) {
            return self.fail(e);
        }
        // Nothing below the first segment is left to recover.
        self.recovery_point.fetch_max(first_base, Ordering::SeqCst);
        let p = self.publish(w);
        if p.moved() {
            self.notify(p.hw);
        }
        tracing::info!(
            "{}: deleted {count} segment(s); log start offset {}",
            self.tp,
            w.log_start_offset
        );
        Ok(count)
    }

    /// Take the oldest `count` segments out of the log (never the last one), rename their
    /// files to `.deleted` and schedule their removal. The caller publishes.
    fn remove_segments_async(
        &self,
        w: &mut WriterState,
        count: usize,
        config: &LogConfig,
        now: i64,
    ) -> Result<()> {
        let count = count.min(w.segments.len().saturating_sub(1));
        if count == 0 {
            return Ok(());
        }
        let removed: Vec<LogSegment> = w.segments.drain(..count).collect();
        let n = w.segments.len();
        w.inactive_views = Arc::new(w.segments[..n - 1].iter().map(LogSegment::view).collect());
        // Snapshots below the first segment can no longer be completed from the log.
        let first_base = w.segments[0].base_offset();
        w.producers.delete_snapshots_before(first_base)?;
        let mut files = Vec::new();
        for seg in removed {
            files.extend(seg.rename_to_deleted()?);
        }
        self.schedule_removal(files, config, now)
    }

    /// For the cleaner (Kafka's `lastRecordsOfActiveProducers`): per active producer, the last
    /// offset of its last data batch (None if it has none, e.g. after an epoch bump by a
    /// marker) and its epoch. The batches holding these are kept, emptied if need be, so the
    /// producer's sequence and epoch survive cleaning.
    pub(crate) fn last_records_of_active_producers(&self) -> HashMap<i64, (Option<i64>, i16)> {
        let w = lock(&self.writer);
        w.producers
            .active_producers()
            .into_iter()
            .map(|e| {
                let last = e.last_data_offset();
                (
                    e.producer_id,
                    ((last >= 0).then_some(last), e.producer_epoch),
                )
            })
            .collect()
    }

    /// Swap a cleaned segment in for `old`, consecutive closed segments read from an earlier
    /// snapshot (Kafka's `replaceSegments`). Under the writer lock: check `old` are still the
    /// log's segments (retention, DeleteRecords or truncation may have changed them since; then
    /// the cleaned files are deleted and this returns false), rename the cleaned files
    /// `.cleaned` -> `.swap`, put the segment in place of `old`, rename the old segments'
    /// files to `.deleted` (removed after file.delete.delay.ms; readers keep their handles),
    /// then `.swap` -> the final names. A crash at any point is finished or undone at the next
    /// load (`complete_interrupted_swaps`).
    pub(crate) fn replace_segments(
        &self,
        cleaned: LogSegment,
        old: &[SegmentView],
    ) -> Result<bool> {
        let config = self.config();
        let mut w = lock(&self.writer);
        let n = w.segments.len();
        let start = old
            .first()
            .and_then(|o| {
                w.segments
                    .iter()
                    .position(|s| s.base_offset() == o.base_offset)
            })
            .filter(|&i| {
                i + old.len() < n
                    && old
                        .iter()
                        .zip(&w.segments[i..])
                        .all(|(v, s)| s.is_viewed_by(v))
            });
        let Some(i) = start.filter(|_| self.check_writable(&w).is_ok()) else {
            drop(w);
            cleaned.delete()?;
            return Ok(false);
        };
        let now = self.time.milliseconds();
        let mut cleaned = cleaned;
        let res = (|| -> Result<()> {
            cleaned.change_file_suffixes(CLEANED_FILE_SUFFIX, SWAP_FILE_SUFFIX)?;
            sync_dir(&self.dir)?;
            let removed: Vec<LogSegment> = w
                .segments
                .splice(i..i + old.len(), std::iter::once(cleaned))
                .collect();
            let mut files = Vec::new();
            for seg in removed {
                files.extend(seg.rename_to_deleted()?);
            }
            w.segments[i].change_file_suffixes(SWAP_FILE_SUFFIX, "")?;
            sync_dir(&self.dir)?;
            self.schedule_removal(files, &config, now)
        })();
        if let Err(e) = res {
            return self.fail(e);
        }
        let n = w.segments.len();
        w.inactive_views = Arc::new(w.segments[..n - 1].iter().map(LogSegment::view).collect());
        let p = self.publish(&mut w);
        drop(w);
        if p.moved() {
            self.notify(p.hw);
        }
        Ok(true)
    }

    /// Remove `files` (renamed `.deleted`) after file.delete.delay.ms.
    fn schedule_removal(&self, files: Vec<PathBuf>, config: &LogConfig, now: i64) -> Result<()> {
        let pending = PendingDeletion {
            due_ms: now.saturating_add(config.file_delete_delay_ms),
            files,
        };
        if config.file_delete_delay_ms == 0 {
            remove_files(&pending.files)?;
        } else {
            lock(&self.pending_deletions).push(pending);
        }
        Ok(())
    }

    /// Remove `.deleted` files whose file.delete.delay.ms has passed. Returns how many files
    /// were removed.
    pub fn delete_due_files(&self) -> Result<usize> {
        let now = self.time.milliseconds();
        let due: Vec<PendingDeletion> = {
            let mut pending = lock(&self.pending_deletions);
            let (due, keep) = pending.drain(..).partition(|p| p.due_ms <= now);
            *pending = keep;
            due
        };
        let mut n = 0;
        for p in &due {
            n += remove_files(&p.files)?;
        }
        Ok(n)
    }

    /// Files renamed to `.deleted` and not yet removed.
    pub fn pending_deleted_files(&self) -> Vec<PathBuf> {
        lock(&self.pending_deletions)
            .iter()
            .flat_map(|p| p.files.iter().cloned())
            .collect()
    }

    /// Flush everything, write the active segment's final time-index entry and trim its
    /// indexes. The log refuses writes afterwards; reads keep working.
    pub fn close(&self) -> Result<()> {
        let mut w = lock(&self.writer);
        if w.closed {
            return Ok(());
        }
        // Refuse appends from here on, then flush outside the writer lock.
        w.closed = true;
        drop(w);
        if self.is_offline() {
            return Ok(());
        }
        self.flush()?;
        let mut w = lock(&self.writer);
        if let Some(active) = w.segments.last_mut() {
            active.on_become_inactive()?;
            active.flush()?;
        }
        // Producer state at the log end, so the next start needs no replay.
        let leo = w.log_end_offset;
        w.producers.set_map_end_offset(leo);
        w.producers.take_snapshot(true)?;
        Ok(())
    }

    /// Stop taking writes and trim the active segment's pre-allocated `.index` / `.timeindex`
    /// to their entries, without flushing or taking a producer snapshot (what a LogManager
    /// dropped without shutdown does to its logs; the next open recovers as after a crash).
    /// Reads keep working.
    pub fn release(&self) -> Result<()> {
        let mut w = lock(&self.writer);
        if w.closed {
            return Ok(());
        }
        w.closed = true;
        if self.is_offline() {
            return Ok(());
        }
        match w.segments.last_mut() {
            Some(active) => active.trim_indexes(),
            None => Ok(()),
        }
    }
}

/// Remove files (already gone is fine). Returns how many were removed.
fn remove_files(files: &[PathBuf]) -> Result<usize> {
    let mut n = 0;
    for f in files {
        match fs::remove_file(f) {
            Ok(()) => n += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StorageError::Io {
                    path: f.clone(),
                    source,
                })
            }
        }
    }
    Ok(n)
}

/// The last stable offset for a high watermark, never below the log start offset (Kafka's
/// `updateFirstUnstableOffset` raises a first unstable offset below the log start to it).
fn lso_for(unstable: &[UnstableTxn], hw: i64, log_start_offset: i64) -> i64 {
    last_stable_offset(unstable, hw).max(log_start_offset.min(hw))
}

/// Write the `.txnindex` entries of the aborted transactions among `completed` to the active
/// segment (where their markers are).
fn write_aborted_txns(
    segments: &mut [LogSegment],
    completed: &[CompletedTxnWithLso],
) -> Result<()> {
    for c in completed.iter().filter(|c| c.txn.is_aborted) {
        if let Some(active) = segments.last_mut() {
            active.append_aborted_txn(&aborted_entry(c))?;
        }
    }
    Ok(())
}

fn aborted_entry(c: &CompletedTxnWithLso) -> AbortedTxn {
    AbortedTxn {
        producer_id: c.txn.producer_id,
        first_offset: c.txn.first_offset,
        last_offset: c.txn.last_offset,
        last_stable_offset: c.last_stable_offset,
    }
}

/// Kafka's `LocalLog.collectAbortedTransactions` on one snapshot: every segment from the one
/// holding `start` (a transaction's entry sits with its marker, which may be far above its
/// data) until an entry completes the search.
pub(crate) fn collect_aborted(
    snap: &LogSnapshot,
    start: i64,
    upper: i64,
) -> Result<Vec<AbortedTxn>> {
    let mut out = Vec::new();
    for seg in snap.segments_from(start) {
        if seg.txn_index.collect_aborted(start, upper, &mut out)? {
            break;
        }
    }
    Ok(out)
}

/// The transaction marker of the control batch at `pos` (read whole; markers are tiny).
/// A marker that does not parse is logged and ignored: the log is the truth, and recovery has
/// already checked the CRC of every batch it rescanned.
fn read_marker(view: &SegmentView, pos: u64, size: usize) -> Result<Option<EndTxnMarker>> {
    let buf = view.read_at(pos, size)?;
    let parsed = RecordBatch::parse(&buf)
        .map_err(|e| e.to_string())
        .and_then(|b| records::parse_end_txn_marker(&b).map_err(|e| e.to_string()));
    match parsed {
        Ok(m) => Ok(m),
        Err(reason) => {
            tracing::warn!(
                "ignoring unreadable control batch in {} at byte {pos}: {reason}",
                view.log_path.display()
            );
            Ok(None)
        }
    }
}

/// A leader epoch cache built from the partitionLeaderEpoch of every batch (what Kafka's
/// recovery assigns from each batch it validates), written at once.
fn rebuild_leader_epochs(dir: &Path, segments: &[LogSegment]) -> Result<LeaderEpochFileCache> {
    let mut cache = LeaderEpochFileCache::empty(dir);
    for seg in segments {
        let view = seg.view();
        let mut scan = BatchScanner::new(&view.log, &view.log_path, 0, view.size);
        while let Some((_, h)) = scan.next_header()? {
            cache.assign(h.partition_leader_epoch, h.base_offset)?;
        }
    }
    cache.flush()?;
    Ok(cache)
}

/// Load the producer state for a log whose segments end at `log_end_offset`: drop snapshots
/// outside the segments' range, load the newest readable one (or start empty at the first
/// segment), replay the batches from there to the log end, expire idle producers.
///
/// `rebuild_txn[i]` marks segments whose `.txnindex` was emptied by recovery. Their entries
/// need the producer state at the segment's start (a transaction may begin in an earlier
/// segment; Kafka rebuilds producer state up to each recovered segment for this), so a first,
/// throw-away replay starts from a snapshot at or below the first such segment and writes the
/// aborted transactions whose markers lie in them. The state kept comes from the newest
/// snapshot as always, so what a restart remembers does not depend on recovery.
fn rebuild_producer_state(
    producers: &mut ProducerStateManager,
    segments: &mut [LogSegment],
    log_end_offset: i64,
    now: i64,
    expiration_ms: i64,
    rebuild_txn: &[bool],
) -> Result<()> {
    let first = segments
        .first()
        .map_or(log_end_offset, LogSegment::base_offset);
    let first_rebuilt = rebuild_txn
        .iter()
        .position(|&r| r)
        .and_then(|i| segments.get(i))
        .map(LogSegment::base_offset);
    if let Some(limit) = first_rebuilt {
        let mut tmp = producers.empty_copy();
        tmp.truncate_and_reload_at_or_below(first, log_end_offset, limit, now, expiration_ms)?;
        replay(&mut tmp, segments, log_end_offset, rebuild_txn)?;
        producers.add_corrupt_snapshots_removed(tmp.take_corrupt_snapshots_removed());
    }
    producers.truncate_and_reload(first, log_end_offset, now, expiration_ms)?;
    replay(producers, segments, log_end_offset, &[])?;
    producers.remove_expired_producers(now, expiration_ms);
    Ok(())
}

/// Apply the batches from the producer state's map end offset to the log end, writing the
/// aborted transactions of the segments marked in `rebuild_txn` to their `.txnindex`.
fn replay(
    producers: &mut ProducerStateManager,
    segments: &mut [LogSegment],
    log_end_offset: i64,
    rebuild_txn: &[bool],
) -> Result<()> {
    let from = producers.map_end_offset();
    if from < log_end_offset {
        for i in 0..segments.len() {
            if segments
                .get(i + 1)
                .is_some_and(|next| next.base_offset() <= from)
            {
                continue; // wholly below `from`
            }
            let rebuild = rebuild_txn.get(i).copied().unwrap_or(false);
            let view = segments[i].view();
            let start = if from > view.base_offset {
                match view.translate_offset(from)? {
                    Some((pos, _)) => pos,
                    None => continue,
                }
            } else {
                0
            };
            let mut scan = BatchScanner::new(&view.log, &view.log_path, start, view.size);
            while let Some((pos, h)) = scan.next_header()? {
                if h.base_offset >= from && h.has_producer_id() {
                    let mut b = ProducerBatch::from_header(&h);
                    if h.is_control() {
                        b = b.with_marker(read_marker(&view, pos, h.size)?);
                    }
                    if let Some(c) = producers.load_batch(&b) {
                        if rebuild && c.txn.is_aborted {
                            segments[i].append_aborted_txn(&aborted_entry(&c))?;
                        }
                    }
                }
            }
        }
    }
    producers.set_map_end_offset(log_end_offset);
    Ok(())
}

#[derive(Debug, Default)]
struct PayloadStats {
    batches: usize,
    messages: i64,
}

/// Base offset of a segment file name (`.log`, `.index`, `.timeindex`, `.txnindex`).
fn segment_file_offset(name: &str) -> Option<i64> {
    [
        LOG_FILE_SUFFIX,
        INDEX_FILE_SUFFIX,
        TIME_INDEX_FILE_SUFFIX,
        TXN_INDEX_FILE_SUFFIX,
    ]
    .iter()
    .find_map(|suffix| segment::offset_from_file_name(name, suffix))
}

/// Finish or undo a cleaner swap interrupted by a crash (Kafka's LogLoader
/// `removeTempFilesAndCollectSwapFiles` and the passes after it):
/// - `.cleaned` files are a cleaning that never started its swap: deleted. A `.swap` file
///   whose base offset is at or above the lowest `.cleaned` one belongs to a swap whose
///   renames were not all done: deleted too (the old segments are still complete).
/// - Every other `.swap` segment was complete: the old segments it replaces (base offsets in
///   [lowest swap base, highest swap next offset)) are deleted and the `.swap` files renamed
///   to their final names.
fn complete_interrupted_swaps(dir: &Path) -> Result<()> {
    let mut min_cleaned = i64::MAX;
    let mut swaps: Vec<(i64, PathBuf, String)> = Vec::new();
    let mut changed = false;
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Some(stem) = name.strip_suffix(CLEANED_FILE_SUFFIX) {
            if let Some(base) = segment_file_offset(stem) {
                min_cleaned = min_cleaned.min(base);
            }
            tracing::info!("deleting unfinished cleaner output {}", path.display());
            fs::remove_file(&path).at(&path)?;
            changed = true;
        } else if let Some(stem) = name.strip_suffix(SWAP_FILE_SUFFIX) {
            if let Some(base) = segment_file_offset(stem) {
                swaps.push((base, path, stem.to_owned()));
            }
        }
    }
    let (valid, invalid): (Vec<_>, Vec<_>) = swaps
        .into_iter()
        .partition(|(base, _, _)| *base < min_cleaned);
    for (_, path, _) in &invalid {
        tracing::info!(
            "deleting swap file of an unfinished swap {}",
            path.display()
        );
        fs::remove_file(path).at(path)?;
        changed = true;
    }
    let mut min_swap = i64::MAX;
    let mut max_swap = i64::MIN;
    for (base, path, stem) in &valid {
        if segment::offset_from_file_name(stem, LOG_FILE_SUFFIX).is_none() {
            continue;
        }
        let file = fs::File::open(path).at(path)?;
        let len = file.metadata().at(path)?.len();
        let mut scan = BatchScanner::new(&file, path, 0, len);
        let mut next = *base;
        while let Ok(Some((_, h))) = scan.next_header() {
            next = h.next_offset();
        }
        min_swap = min_swap.min(*base);
        max_swap = max_swap.max(next);
    }
    if min_swap < max_swap {
        for entry in fs::read_dir(dir).at(dir)? {
            let entry = entry.at(dir)?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if let Some(base) = segment_file_offset(&name) {
                if (min_swap..max_swap).contains(&base) {
                    tracing::info!(
                        "deleting {} replaced by a cleaned segment before a crash",
                        path.display()
                    );
                    fs::remove_file(&path).at(&path)?;
                    changed = true;
                }
            }
        }
    }
    for (_, path, stem) in &valid {
        let target = dir.join(stem);
        tracing::info!("finishing the swap of {}", target.display());
        fs::rename(path, &target).at(path)?;
        changed = true;
    }
    if changed {
        sync_dir(dir)?;
    }
    Ok(())
}

/// List the segment base offsets in a partition directory, deleting leftovers Kafka would
/// delete (`.deleted` files, index files with no `.log`).
fn scan_dir(dir: &Path) -> Result<Vec<i64>> {
    let mut logs = Vec::new();
    let mut indexes = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if name.ends_with(DELETED_FILE_SUFFIX) {
            fs::remove_file(&path).at(&path)?;
        } else if let Some(base) = segment::offset_from_file_name(name, LOG_FILE_SUFFIX) {
            logs.push(base);
        } else if let Some(base) = segment::offset_from_file_name(name, INDEX_FILE_SUFFIX)
            .or_else(|| segment::offset_from_file_name(name, TIME_INDEX_FILE_SUFFIX))
            .or_else(|| segment::offset_from_file_name(name, TXN_INDEX_FILE_SUFFIX))
        {
            indexes.push((base, path));
        }
    }
    logs.sort_unstable();
    for (base, path) in indexes {
        if logs.binary_search(&base).is_err() {
            tracing::warn!("deleting orphaned index {}", path.display());
            fs::remove_file(&path).at(&path)?;
        }
    }
    Ok(logs)
}
