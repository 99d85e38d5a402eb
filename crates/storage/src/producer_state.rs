//! Per-partition state of idempotent producers (Kafka's ProducerStateManager,
//! ProducerStateEntry, BatchMetadata and ProducerAppendInfo) and its `.snapshot` files.
//!
//! For every producer id seen in the partition: its epoch and the metadata of its last
//! [`NUM_BATCHES_TO_RETAIN`] batches, which is what lets a leader recognise a retried batch
//! (acknowledge it with its original offsets instead of appending it again) and reject
//! sequence gaps and zombie epochs. The rules are Apache Kafka 4.x's (see
//! [`ProducerStateManager::validate_append`]).
//!
//! Snapshot file (`<20-digit offset>.snapshot`, Kafka's producer snapshot version 1), big-endian:
//!
//! ```text
//! version i16 (=1) · crc u32 (CRC-32C of every byte after this field) · count i32 ·
//! count × { producerId i64 · epoch i16 · lastSequence i32 · lastOffset i64 ·
//!           offsetDelta i32 · timestamp i64 · coordinatorEpoch i32 · currentTxnFirstOffset i64 }
//! ```
//!
//! The file named `N.snapshot` holds the state produced by every batch below offset `N`.
//! An entry keeps only the producer's last batch (`lastOffset` -1 when it has none);
//! `currentTxnFirstOffset` is -1 when no transaction is open.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sluice_protocol::batch::{self, BatchHeader, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE};
use sluice_protocol::records::EndTxnMarker;

use crate::checkpoint::sync_dir;
use crate::error::{IoContext, Result, StorageError};
use crate::segment::{filename_prefix, offset_from_file_name};
use crate::TopicPartition;

/// Batches remembered per producer for duplicate detection (Kafka's
/// `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`; why producers allow at most 5 in-flight requests).
pub const NUM_BATCHES_TO_RETAIN: usize = 5;
/// Kafka's `producer.id.expiration.ms` default: one day.
pub const DEFAULT_PRODUCER_ID_EXPIRATION_MS: i64 = 24 * 60 * 60 * 1000;
pub const PRODUCER_SNAPSHOT_FILE_SUFFIX: &str = ".snapshot";
/// A snapshot being written; renamed to `.snapshot` once complete, deleted if found at load.
pub const PRODUCER_SNAPSHOT_TMP_SUFFIX: &str = ".snapshot.tmp";
pub const PRODUCER_SNAPSHOT_VERSION: i16 = 1;
/// Snapshot files kept per partition (the newest ones); older ones are deleted when a new one
/// is written.
pub const SNAPSHOTS_TO_RETAIN: usize = 3;

const CRC_FIELD_OFFSET: usize = 2;
const ENTRIES_OFFSET: usize = 6;
const SNAPSHOT_HEADER_SIZE: usize = ENTRIES_OFFSET + 4;
const SNAPSHOT_ENTRY_SIZE: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;

/// `<dir>/<20-digit offset>.snapshot`
pub fn snapshot_file(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!(
        "{}{PRODUCER_SNAPSHOT_FILE_SUFFIX}",
        filename_prefix(offset)
    ))
}

/// One appended batch of a producer (Kafka's BatchMetadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub last_seq: i32,
    pub last_offset: i64,
    /// last offset - first offset (= last sequence - first sequence).
    pub offset_delta: i32,
    /// The batch's max timestamp (after LogAppendTime rewriting).
    pub timestamp: i64,
}

impl BatchMetadata {
    pub fn first_seq(&self) -> i32 {
        batch::decrement_sequence(self.last_seq, self.offset_delta)
    }
    pub fn first_offset(&self) -> i64 {
        self.last_offset - i64::from(self.offset_delta)
    }
}

/// What a partition knows about one producer (Kafka's ProducerStateEntry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerStateEntry {
    pub producer_id: i64,
    /// -1 when unknown.
    pub producer_epoch: i16,
    /// Epoch of the transaction coordinator that wrote the producer's last marker (-1: none).
    /// A marker from an older coordinator epoch is fenced.
    pub coordinator_epoch: i32,
    /// Max timestamp of the producer's last batch: what `producer.id.expiration.ms` runs from.
    pub last_timestamp: i64,
    /// First offset of the producer's open transaction: set by its first transactional batch,
    /// cleared by a COMMIT or ABORT marker.
    pub current_txn_first_offset: Option<i64>,
    /// Oldest first, at most [`NUM_BATCHES_TO_RETAIN`], all of `producer_epoch`.
    batches: VecDeque<BatchMetadata>,
}

impl ProducerStateEntry {
    /// A producer this partition has never seen.
    pub fn empty(producer_id: i64) -> Self {
        Self {
            producer_id,
            producer_epoch: NO_PRODUCER_EPOCH,
            coordinator_epoch: -1,
            last_timestamp: -1,
            current_txn_first_offset: None,
            batches: VecDeque::new(),
        }
    }

    /// The retained batches, oldest first.
    pub fn batches(&self) -> impl ExactSizeIterator<Item = &BatchMetadata> {
        self.batches.iter()
    }
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
    pub fn last_batch(&self) -> Option<&BatchMetadata> {
        self.batches.back()
    }
    /// Last sequence written, or -1.
    pub fn last_seq(&self) -> i32 {
        self.batches.back().map_or(NO_SEQUENCE, |b| b.last_seq)
    }
    /// Last offset written, or -1.
    pub fn last_data_offset(&self) -> i64 {
        self.batches.back().map_or(-1, |b| b.last_offset)
    }
    pub fn last_offset_delta(&self) -> i32 {
        self.batches.back().map_or(0, |b| b.offset_delta)
    }

    /// The retained batch of this epoch with exactly this sequence range.
    pub fn find_duplicate(
        &self,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
    ) -> Option<BatchMetadata> {
        if epoch != self.producer_epoch {
            return None;
        }
        self.batches
            .iter()
            .find(|b| b.first_seq() == first_seq && b.last_seq == last_seq)
            .copied()
    }

    /// A new epoch forgets the batches of the old one.
    fn maybe_update_epoch(&mut self, epoch: i16) {
        if self.producer_epoch != epoch {
            self.batches.clear();
            self.producer_epoch = epoch;
        }
    }

    fn push_batch(&mut self, b: BatchMetadata) {
        if self.batches.len() == NUM_BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(b);
    }

    fn add_batch(&mut self, epoch: i16, b: BatchMetadata) {
        self.maybe_update_epoch(epoch);
        self.push_batch(b);
        self.last_timestamp = b.timestamp;
    }

    /// Merge the result of an append into the stored entry.
    fn update(&mut self, next: ProducerStateEntry) {
        self.maybe_update_epoch(next.producer_epoch);
        for b in next.batches {
            self.push_batch(b);
        }
        self.coordinator_epoch = next.coordinator_epoch;
        self.current_txn_first_offset = next.current_txn_first_offset;
        self.last_timestamp = next.last_timestamp;
    }

    /// A copy with no batches: what an append accumulates into (Kafka's `updatedEntry`).
    fn without_batches(&self) -> Self {
        Self {
            batches: VecDeque::new(),
            ..self.clone()
        }
    }
}

/// The fields of one batch that producer state looks at, with its real offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub is_transactional: bool,
    pub is_control: bool,
    /// For a control batch: its transaction marker, if it holds one (see
    /// [`sluice_protocol::records::parse_end_txn_marker`]). A control batch without one
    /// (empty, or another control type) changes nothing.
    pub marker: Option<EndTxnMarker>,
}

impl ProducerBatch {
    /// From a header whose baseOffset is already the batch's offset in the log.
    pub fn from_header(h: &BatchHeader) -> Self {
        Self::at(h, h.base_offset, h.max_timestamp)
    }

    /// From a header, with the offset the batch is about to get and its max timestamp as it
    /// will be stored (LogAppendTime rewrites it).
    pub fn at(h: &BatchHeader, first_offset: i64, max_timestamp: i64) -> Self {
        Self {
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            base_sequence: h.base_sequence,
            last_sequence: h.last_sequence(),
            first_offset,
            last_offset: first_offset + i64::from(h.last_offset_delta.max(0)),
            max_timestamp,
            is_transactional: h.is_transactional(),
            is_control: h.is_control(),
            marker: None,
        }
    }

    /// With the transaction marker of a control batch.
    pub fn with_marker(mut self, marker: Option<EndTxnMarker>) -> Self {
        self.marker = marker;
        self
    }

    fn metadata(&self) -> BatchMetadata {
        BatchMetadata {
            last_seq: self.last_sequence,
            last_offset: self.last_offset,
            offset_delta: (self.last_offset - self.first_offset).clamp(0, i64::from(i32::MAX))
                as i32,
            timestamp: self.max_timestamp,
        }
    }
}

/// Outcome of [`ProducerStateManager::validate_append`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendCheck {
    /// The payload retries a batch already in the log: do not append, answer with the
    /// original batch's offsets.
    Duplicate(BatchMetadata),
    /// Every batch passed; apply the updates with [`ProducerStateManager::commit`] once the
    /// payload is written.
    Append(ProducerUpdates),
}

/// Producer entries as they will be after a validated append.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerUpdates {
    entries: Vec<PendingEntry>,
    /// Transactions begun by this append: (producer id, first offset).
    started: Vec<(i64, i64)>,
    /// Transactions ended by a marker in this append.
    completed: Vec<CompletedTxn>,
}

/// A transaction ended by a marker (Kafka's CompletedTxn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// Offset of the marker.
    pub last_offset: i64,
    pub is_aborted: bool,
}

/// An ended transaction with the last stable offset right after its marker (what an aborted
/// one's `.txnindex` entry records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxnWithLso {
    pub txn: CompletedTxn,
    pub last_stable_offset: i64,
}

/// A transaction that still holds the last stable offset back: open, or ended by a marker
/// that is not below the high watermark yet. Published with each log snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnstableTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// The marker's offset once it is written.
    pub marker_offset: Option<i64>,
}

/// The last stable offset for a high watermark, given the unstable transactions (sorted by
/// first offset): the first offset of the oldest one that is open or whose marker is not
/// below `high_watermark`, capped at `high_watermark`.
pub fn last_stable_offset(unstable: &[UnstableTxn], high_watermark: i64) -> i64 {
    unstable
        .iter()
        .find(|t| t.marker_offset.is_none_or(|m| m >= high_watermark))
        .map_or(high_watermark, |t| t.first_offset.min(high_watermark))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingEntry {
    /// Of the stored entry before this append (NO_PRODUCER_EPOCH if none).
    current_epoch: i16,
    current_last_seq: i32,
    updated: ProducerStateEntry,
}

impl ProducerUpdates {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Where an append comes from: a client (full validation), the transaction coordinator
/// (markers, validated with its transaction version), or the log itself at load (no
/// validation: what is in the log is the truth; Kafka's REPLICATION origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Client,
    Coordinator { transaction_version: i16 },
    Log,
}

/// The producer state of one partition. Not synchronized: [`crate::PartitionLog`] keeps it
/// under its append lock.
#[derive(Debug)]
pub struct ProducerStateManager {
    tp: TopicPartition,
    dir: PathBuf,
    producers: HashMap<i64, ProducerStateEntry>,
    /// Open transactions: first offset -> producer id.
    ongoing: BTreeMap<i64, i64>,
    /// Ended transactions whose marker is not below the high watermark yet:
    /// first offset -> (producer id, marker offset).
    unreplicated: BTreeMap<i64, (i64, i64)>,
    /// Offsets of the snapshot files on disk.
    snapshots: BTreeSet<i64>,
    /// The state covers every batch below this offset.
    map_end_offset: i64,
    /// Offset of the last snapshot written or loaded.
    last_snap_offset: i64,
    /// Damaged snapshot files deleted since the last
    /// [`take_corrupt_snapshots_removed`](Self::take_corrupt_snapshots_removed).
    corrupt_snapshots_removed: usize,
}

impl ProducerStateManager {
    /// Empty state for the partition in `dir`; nothing is read until
    /// [`truncate_and_reload`](Self::truncate_and_reload).
    pub fn new(tp: TopicPartition, dir: PathBuf) -> Self {
        Self {
            tp,
            dir,
            producers: HashMap::new(),
            ongoing: BTreeMap::new(),
            unreplicated: BTreeMap::new(),
            snapshots: BTreeSet::new(),
            map_end_offset: 0,
            last_snap_offset: 0,
            corrupt_snapshots_removed: 0,
        }
    }

    /// How many damaged snapshot files were deleted (and replaced by replaying the log) since
    /// the last call.
    pub fn take_corrupt_snapshots_removed(&mut self) -> usize {
        std::mem::take(&mut self.corrupt_snapshots_removed)
    }

    /// Count `n` damaged snapshots removed by a throw-away copy of this manager.
    pub(crate) fn add_corrupt_snapshots_removed(&mut self, n: usize) {
        self.corrupt_snapshots_removed += n;
    }

    /// A manager for the same partition and directory with no state loaded.
    pub fn empty_copy(&self) -> Self {
        Self::new(self.tp.clone(), self.dir.clone())
    }

    pub fn producer_count(&self) -> usize {
        self.producers.len()
    }
    pub fn last_entry(&self, producer_id: i64) -> Option<&ProducerStateEntry> {
        self.producers.get(&producer_id)
    }
    /// All producers, by producer id.
    pub fn active_producers(&self) -> Vec<ProducerStateEntry> {
        let mut v: Vec<_> = self.producers.values().cloned().collect();
        v.sort_by_key(|e| e.producer_id);
        v
    }
    pub fn map_end_offset(&self) -> i64 {
        self.map_end_offset
    }

    /// Open transactions as (producer id, first offset), oldest first.
    pub fn ongoing_transactions(&self) -> Vec<(i64, i64)> {
        self.ongoing.iter().map(|(&f, &p)| (p, f)).collect()
    }

    /// Kafka's firstUnstableOffset: the first offset of the oldest transaction that is open or
    /// whose marker is not below the high watermark yet.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        let a = self.ongoing.keys().next().copied();
        let b = self.unreplicated.keys().next().copied();
        match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }

    /// The transactions holding the last stable offset back, sorted by first offset.
    pub fn unstable_transactions(&self) -> Vec<UnstableTxn> {
        let mut v: Vec<UnstableTxn> = self
            .ongoing
            .iter()
            .map(|(&first_offset, &producer_id)| UnstableTxn {
                producer_id,
                first_offset,
                marker_offset: None,
            })
            .chain(
                self.unreplicated
                    .iter()
                    .map(|(&first_offset, &(producer_id, m))| UnstableTxn {
                        producer_id,
                        first_offset,
                        marker_offset: Some(m),
                    }),
            )
            .collect();
        v.sort_by_key(|t| t.first_offset);
        v
    }

    /// Forget ended transactions whose marker is below the new high watermark (Kafka's
    /// onHighWatermarkUpdated): the last stable offset may pass them now.
    pub fn on_high_watermark_updated(&mut self, high_watermark: i64) {
        self.unreplicated
            .retain(|_, &mut (_, m)| m >= high_watermark);
    }

    /// Kafka's `lastStableOffset(completedTxn)`: the first offset of the oldest open
    /// transaction of another producer, else the offset after the marker.
    fn last_stable_offset_after(&self, txn: &CompletedTxn) -> i64 {
        self.ongoing
            .iter()
            .find(|(_, &p)| p != txn.producer_id)
            .map_or(txn.last_offset + 1, |(&f, _)| f)
    }

    /// Insert an entry read from a snapshot, with its open transaction.
    fn load_entry(&mut self, e: ProducerStateEntry) {
        if let Some(f) = e.current_txn_first_offset {
            self.ongoing.insert(f, e.producer_id);
        }
        self.producers.insert(e.producer_id, e);
    }
    pub fn set_map_end_offset(&mut self, offset: i64) {
        self.map_end_offset = offset;
    }
    /// Offsets of the snapshot files, ascending.
    pub fn snapshot_offsets(&self) -> Vec<i64> {
        self.snapshots.iter().copied().collect()
    }
    pub fn latest_snapshot_offset(&self) -> Option<i64> {
        self.snapshots.last().copied()
    }

    /// Check a leader append, batch by batch, against the stored state and the batches before
    /// it in the same payload; nothing changes until [`commit`](Self::commit). As Kafka 4.x
    /// (`UnifiedLog.analyzeAndValidateProducerState`, `ProducerAppendInfo`), for each batch
    /// with a producer id:
    ///
    /// - a negative base sequence is an invalid record;
    /// - if the stored entry has a batch of the same epoch with the same first and last
    ///   sequence, the whole payload is a duplicate of it;
    /// - an epoch below the producer's current one fails with INVALID_PRODUCER_EPOCH;
    /// - a higher epoch must start at sequence 0 (OUT_OF_ORDER_SEQUENCE_NUMBER), unless the
    ///   producer is unknown here;
    /// - the same epoch must continue at last sequence + 1 (`i32::MAX` wraps to 0), unless
    ///   the producer is unknown here (no epoch: any sequence is accepted, as Kafka does since
    ///   KIP-360 removed UNKNOWN_PRODUCER_ID from the produce path);
    /// - a non-transactional batch while the producer has a transaction open fails with
    ///   INVALID_TXN_STATE.
    pub fn validate_append(&self, batches: &[ProducerBatch]) -> Result<AppendCheck> {
        let mut updates = ProducerUpdates::default();
        for b in batches {
            if b.producer_id <= NO_PRODUCER_ID {
                continue;
            }
            if b.base_sequence < 0 && !b.is_control {
                return Err(StorageError::InvalidProducerSequence {
                    tp: self.tp.clone(),
                    producer_id: b.producer_id,
                    base_sequence: b.base_sequence,
                });
            }
            if let Some(dup) = self
                .producers
                .get(&b.producer_id)
                .filter(|_| !b.is_control)
                .and_then(|e| e.find_duplicate(b.producer_epoch, b.base_sequence, b.last_sequence))
            {
                return Ok(AppendCheck::Duplicate(dup));
            }
            self.apply(&mut updates, b, Origin::Client)?;
        }
        Ok(AppendCheck::Append(updates))
    }

    /// Check a coordinator's own transactional data batch (the group coordinator writing a
    /// TxnOffsetCommit into `__consumer_offsets`; Kafka's append with origin COORDINATOR): as
    /// [`validate_append`](Self::validate_append) but without sequence checks, and a batch
    /// of an epoch below the producer's is logged, not refused (Kafka checks the producer's
    /// epoch at the transaction coordinator before the write).
    pub fn validate_coordinator_append(
        &self,
        batches: &[ProducerBatch],
        transaction_version: i16,
    ) -> Result<ProducerUpdates> {
        let mut updates = ProducerUpdates::default();
        for b in batches {
            if b.producer_id <= NO_PRODUCER_ID {
                continue;
            }
            self.apply(
                &mut updates,
                b,
                Origin::Coordinator {
                    transaction_version,
                },
            )?;
        }
        Ok(updates)
    }

    /// Check a transaction marker written by the transaction coordinator (Kafka's append with
    /// origin COORDINATOR, `ProducerAppendInfo.appendEndTxnMarker`):
    ///
    /// - producer epoch: with `transaction_version` >= 2 the coordinator bumps the epoch for
    ///   every marker, so it must be above the producer's current epoch — except a retry of a
    ///   marker already written (same epoch, no transaction open), which is accepted; before
    ///   version 2 it must not be below it. Otherwise INVALID_PRODUCER_EPOCH
    ///   ([`StorageError::InvalidProducerEpoch`]).
    /// - coordinator epoch: below the one of the producer's last marker is
    ///   TRANSACTION_COORDINATOR_FENCED ([`StorageError::TransactionCoordinatorFenced`]).
    ///
    /// A marker for a producer with no open transaction is valid and ends nothing.
    pub fn validate_marker(
        &self,
        b: &ProducerBatch,
        transaction_version: i16,
    ) -> Result<ProducerUpdates> {
        let mut updates = ProducerUpdates::default();
        self.apply(
            &mut updates,
            b,
            Origin::Coordinator {
                transaction_version,
            },
        )?;
        Ok(updates)
    }

    /// Store the entries of a validated append whose batches end below `next_offset`, record
    /// the transactions it began and end those its markers closed. Returns the ended
    /// transactions with the last stable offset after each marker (an aborted one needs a
    /// `.txnindex` entry in the segment holding the marker).
    pub fn commit(
        &mut self,
        updates: ProducerUpdates,
        next_offset: i64,
    ) -> Vec<CompletedTxnWithLso> {
        for p in updates.entries {
            let pid = p.updated.producer_id;
            match self.producers.get_mut(&pid) {
                Some(e) => e.update(p.updated),
                None => {
                    self.producers.insert(pid, p.updated);
                }
            }
        }
        for (pid, first) in updates.started {
            self.ongoing.insert(first, pid);
        }
        let mut out = Vec::with_capacity(updates.completed.len());
        for txn in updates.completed {
            let last_stable_offset = self.last_stable_offset_after(&txn);
            // Kafka's completeTxn.
            if self.ongoing.remove(&txn.first_offset).is_none() {
                tracing::warn!(
                    "{}: completing transaction of producer {} at {} that was not open",
                    self.tp,
                    txn.producer_id,
                    txn.first_offset
                );
            }
            self.unreplicated
                .insert(txn.first_offset, (txn.producer_id, txn.last_offset));
            out.push(CompletedTxnWithLso {
                txn,
                last_stable_offset,
            });
        }
        self.map_end_offset = next_offset;
        out
    }

    /// Apply a batch read from the log (load, truncation), without validation. Returns the
    /// transaction its marker ended, if any.
    pub fn load_batch(&mut self, b: &ProducerBatch) -> Option<CompletedTxnWithLso> {
        if b.producer_id <= NO_PRODUCER_ID {
            return None;
        }
        let mut updates = ProducerUpdates::default();
        // Origin::Log never fails validation.
        match self.apply(&mut updates, b, Origin::Log) {
            Ok(()) => self
                .commit(updates, self.map_end_offset.max(b.last_offset + 1))
                .pop(),
            Err(_) => None,
        }
    }

    /// Validate `b` (client origin) and record its effect in `updates`.
    fn apply(
        &self,
        updates: &mut ProducerUpdates,
        b: &ProducerBatch,
        origin: Origin,
    ) -> Result<()> {
        let pid = b.producer_id;
        let idx = match updates
            .entries
            .iter()
            .position(|p| p.updated.producer_id == pid)
        {
            Some(i) => i,
            None => {
                let pending = match self.producers.get(&pid) {
                    Some(e) => PendingEntry {
                        current_epoch: e.producer_epoch,
                        current_last_seq: e.last_seq(),
                        updated: e.without_batches(),
                    },
                    None => PendingEntry {
                        current_epoch: NO_PRODUCER_EPOCH,
                        current_last_seq: NO_SEQUENCE,
                        updated: ProducerStateEntry::empty(pid),
                    },
                };
                updates.entries.push(pending);
                updates.entries.len() - 1
            }
        };
        if b.is_control {
            return self.apply_marker(updates, idx, b, origin);
        }
        let p = &mut updates.entries[idx];
        // checkProducerEpoch
        if b.producer_epoch < p.updated.producer_epoch {
            if origin == Origin::Client {
                return Err(StorageError::InvalidProducerEpoch {
                    tp: self.tp.clone(),
                    producer_id: pid,
                    offset: b.first_offset,
                    epoch: b.producer_epoch,
                    current_epoch: p.updated.producer_epoch,
                });
            }
            tracing::warn!(
                "{}: producer {pid} at offset {} has epoch {} below the last seen {}",
                self.tp,
                b.first_offset,
                b.producer_epoch,
                p.updated.producer_epoch
            );
        }
        if origin == Origin::Client {
            check_sequence(&self.tp, p, b)?;
        }
        p.updated.add_batch(b.producer_epoch, b.metadata());
        match (p.updated.current_txn_first_offset, b.is_transactional) {
            (Some(_), false) if origin == Origin::Client => {
                return Err(StorageError::InvalidTxnState {
                    tp: self.tp.clone(),
                    producer_id: pid,
                    offset: b.first_offset,
                });
            }
            (None, true) => {
                p.updated.current_txn_first_offset = Some(b.first_offset);
                updates.started.push((pid, b.first_offset));
            }
            _ => {}
        }
        Ok(())
    }

    /// Kafka's `appendEndTxnMarker` (see [`validate_marker`](Self::validate_marker)).
    fn apply_marker(
        &self,
        updates: &mut ProducerUpdates,
        idx: usize,
        b: &ProducerBatch,
        origin: Origin,
    ) -> Result<()> {
        let Some(marker) = b.marker else {
            // An empty control batch (or not a transaction marker): nothing to do.
            return Ok(());
        };
        let pid = b.producer_id;
        let p = &mut updates.entries[idx];
        let current = p.updated.producer_epoch;
        let tv = match origin {
            Origin::Coordinator {
                transaction_version,
            } => transaction_version,
            Origin::Client | Origin::Log => 0,
        };
        let fenced_epoch = if tv >= 2 {
            b.producer_epoch <= current
                && !(b.producer_epoch == current && p.updated.current_txn_first_offset.is_none())
        } else {
            b.producer_epoch < current
        };
        if fenced_epoch {
            if origin == Origin::Log {
                tracing::warn!(
                    "{}: marker of producer {pid} at offset {} has epoch {} below the last seen {current}",
                    self.tp,
                    b.first_offset,
                    b.producer_epoch
                );
            } else {
                return Err(StorageError::InvalidProducerEpoch {
                    tp: self.tp.clone(),
                    producer_id: pid,
                    offset: b.first_offset,
                    epoch: b.producer_epoch,
                    current_epoch: current,
                });
            }
        }
        if p.updated.coordinator_epoch > marker.coordinator_epoch {
            if origin == Origin::Log {
                tracing::info!(
                    "{}: marker of producer {pid} at offset {} has coordinator epoch {} below {}",
                    self.tp,
                    b.first_offset,
                    marker.coordinator_epoch,
                    p.updated.coordinator_epoch
                );
            } else {
                return Err(StorageError::TransactionCoordinatorFenced {
                    tp: self.tp.clone(),
                    producer_id: pid,
                    offset: b.first_offset,
                    coordinator_epoch: marker.coordinator_epoch,
                    current_coordinator_epoch: p.updated.coordinator_epoch,
                });
            }
        }
        if let Some(first_offset) = p.updated.current_txn_first_offset {
            updates.completed.push(CompletedTxn {
                producer_id: pid,
                first_offset,
                last_offset: b.first_offset,
                is_aborted: !marker.commit,
            });
        }
        p.updated.maybe_update_epoch(b.producer_epoch);
        p.updated.coordinator_epoch = marker.coordinator_epoch;
        p.updated.last_timestamp = b.max_timestamp;
        p.updated.current_txn_first_offset = None;
        Ok(())
    }

    /// Drop producers whose last batch timestamp is `expiration_ms` or more before `now`
    /// and that have no open transaction (Kafka's `removeExpiredProducers`). Returns how many.
    pub fn remove_expired_producers(&mut self, now: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, e| !is_expired(e, now, expiration_ms));
        before - self.producers.len()
    }

    /// Forget the state and all snapshots; the log restarts empty at `offset`.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<()> {
        self.producers.clear();
        self.ongoing.clear();
        self.unreplicated.clear();
        let all: Vec<i64> = self.snapshots.iter().copied().collect();
        for o in all {
            self.delete_snapshot(o)?;
        }
        self.map_end_offset = offset;
        self.last_snap_offset = offset;
        Ok(())
    }

    /// Re-read the snapshot files in the directory, delete those outside
    /// `[first_offset, log_end_offset]` (below the oldest segment they cannot be completed
    /// from the log; above the log end they describe data that is gone), then load the newest
    /// readable one (skipping expired producers). Afterwards the state covers the log below
    /// [`map_end_offset`](Self::map_end_offset) — the snapshot's offset, or `first_offset`
    /// without one — and the caller replays the batches from there to the log end with
    /// [`load_batch`](Self::load_batch). Corrupt snapshots are deleted.
    pub fn truncate_and_reload(
        &mut self,
        first_offset: i64,
        log_end_offset: i64,
        now: i64,
        expiration_ms: i64,
    ) -> Result<()> {
        self.truncate_and_reload_at_or_below(
            first_offset,
            log_end_offset,
            log_end_offset,
            now,
            expiration_ms,
        )
    }

    /// [`truncate_and_reload`](Self::truncate_and_reload), loading the newest readable
    /// snapshot at or below `load_limit` (snapshots above it are kept): recovery replays from
    /// there to rebuild the `.txnindex` of the segments from `load_limit` on.
    pub fn truncate_and_reload_at_or_below(
        &mut self,
        first_offset: i64,
        log_end_offset: i64,
        load_limit: i64,
        now: i64,
        expiration_ms: i64,
    ) -> Result<()> {
        self.list_snapshot_files()?;
        let out_of_range: Vec<i64> = self
            .snapshots
            .iter()
            .copied()
            .filter(|&o| o < first_offset || o > log_end_offset)
            .collect();
        for o in out_of_range {
            tracing::info!(
                "{}: deleting producer snapshot at {o}: out of range",
                self.tp
            );
            self.delete_snapshot(o)?;
        }
        self.producers.clear();
        self.ongoing.clear();
        self.unreplicated.clear();
        while let Some(offset) = self.snapshots.range(..=load_limit).next_back().copied() {
            let path = snapshot_file(&self.dir, offset);
            match read_snapshot(&path) {
                Ok(entries) => {
                    for e in entries {
                        if !is_expired(&e, now, expiration_ms) {
                            self.load_entry(e);
                        }
                    }
                    self.map_end_offset = offset;
                    self.last_snap_offset = offset;
                    return Ok(());
                }
                Err(e @ StorageError::CorruptSnapshot { .. }) => {
                    tracing::debug!("{}: {e}; deleting it", self.tp);
                    self.delete_snapshot(offset)?;
                    self.corrupt_snapshots_removed += 1;
                }
                Err(e) => return Err(e),
            }
        }
        self.map_end_offset = first_offset;
        self.last_snap_offset = first_offset;
        Ok(())
    }

    /// Write `<map end offset>.snapshot` if the state moved past the last snapshot, then
    /// delete all but the newest [`SNAPSHOTS_TO_RETAIN`]. `sync` fsyncs the file and the
    /// directory. Returns whether a file was written.
    pub fn take_snapshot(&mut self, sync: bool) -> Result<bool> {
        let offset = self.map_end_offset;
        // Nothing new since the last snapshot (or, without one, since the log's first offset).
        if offset <= self.last_snap_offset {
            return Ok(false);
        }
        let bytes = encode_snapshot(self.producers.values());
        let path = snapshot_file(&self.dir, offset);
        let tmp = self.dir.join(format!(
            "{}{PRODUCER_SNAPSHOT_TMP_SUFFIX}",
            filename_prefix(offset)
        ));
        {
            let mut f = fs::File::create(&tmp).at(&tmp)?;
            f.write_all(&bytes).at(&tmp)?;
            if sync {
                f.sync_all().at(&tmp)?;
            }
        }
        fs::rename(&tmp, &path).at(&path)?;
        if sync {
            sync_dir(&self.dir)?;
        }
        self.snapshots.insert(offset);
        self.last_snap_offset = offset;
        while self.snapshots.len() > SNAPSHOTS_TO_RETAIN {
            if let Some(oldest) = self.snapshots.first().copied() {
                self.delete_snapshot(oldest)?;
            }
        }
        Ok(true)
    }

    /// Delete snapshots below `offset` (their segments are gone).
    pub fn delete_snapshots_before(&mut self, offset: i64) -> Result<()> {
        let old: Vec<i64> = self.snapshots.range(..offset).copied().collect();
        for o in old {
            self.delete_snapshot(o)?;
        }
        Ok(())
    }

    fn delete_snapshot(&mut self, offset: i64) -> Result<()> {
        self.snapshots.remove(&offset);
        let path = snapshot_file(&self.dir, offset);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StorageError::Io { path, source }),
        }
    }

    /// Find the snapshot files in the directory; delete leftovers of interrupted writes.
    fn list_snapshot_files(&mut self) -> Result<()> {
        self.snapshots.clear();
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StorageError::Io {
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        for entry in entries {
            let entry = entry.at(&self.dir)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(PRODUCER_SNAPSHOT_TMP_SUFFIX) {
                let path = entry.path();
                fs::remove_file(&path).at(&path)?;
            } else if let Some(o) = offset_from_file_name(name, PRODUCER_SNAPSHOT_FILE_SUFFIX) {
                self.snapshots.insert(o);
            }
        }
        Ok(())
    }
}

fn is_expired(e: &ProducerStateEntry, now: i64, expiration_ms: i64) -> bool {
    e.current_txn_first_offset.is_none() && now.saturating_sub(e.last_timestamp) >= expiration_ms
}

/// Kafka's `ProducerAppendInfo.checkSequence` for an append without transaction verification.
fn check_sequence(tp: &TopicPartition, p: &PendingEntry, b: &ProducerBatch) -> Result<()> {
    let first_seq = b.base_sequence;
    if b.producer_epoch != p.updated.producer_epoch {
        if first_seq != 0 && p.updated.producer_epoch != NO_PRODUCER_EPOCH {
            return Err(StorageError::InvalidSequenceForNewEpoch {
                tp: tp.clone(),
                producer_id: b.producer_id,
                offset: b.first_offset,
                epoch: b.producer_epoch,
                first_seq,
                current_epoch: p.updated.producer_epoch,
            });
        }
        return Ok(());
    }
    let current_last_seq = if !p.updated.is_empty() {
        p.updated.last_seq()
    } else if b.producer_epoch == p.current_epoch {
        p.current_last_seq
    } else {
        NO_SEQUENCE
    };
    // No epoch known (e.g. all of the producer's data was removed by retention or
    // DeleteRecords): any sequence is accepted.
    if p.current_epoch == NO_PRODUCER_EPOCH || in_sequence(current_last_seq, first_seq) {
        return Ok(());
    }
    Err(StorageError::OutOfOrderSequence {
        tp: tp.clone(),
        producer_id: b.producer_id,
        offset: b.first_offset,
        first_seq,
        last_seq: current_last_seq,
    })
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    i64::from(next_seq) == i64::from(last_seq) + 1 || (next_seq == 0 && last_seq == i32::MAX)
}

/// The snapshot file bytes for these entries (sorted by producer id).
pub fn encode_snapshot<'a>(entries: impl Iterator<Item = &'a ProducerStateEntry>) -> Vec<u8> {
    let mut entries: Vec<&ProducerStateEntry> = entries.collect();
    entries.sort_by_key(|e| e.producer_id);
    let mut out = Vec::with_capacity(SNAPSHOT_HEADER_SIZE + entries.len() * SNAPSHOT_ENTRY_SIZE);
    out.extend_from_slice(&PRODUCER_SNAPSHOT_VERSION.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let count = i32::try_from(entries.len()).unwrap_or(i32::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    for e in entries.iter().take(count as usize) {
        out.extend_from_slice(&e.producer_id.to_be_bytes());
        out.extend_from_slice(&e.producer_epoch.to_be_bytes());
        out.extend_from_slice(&e.last_seq().to_be_bytes());
        out.extend_from_slice(&e.last_data_offset().to_be_bytes());
        out.extend_from_slice(&e.last_offset_delta().to_be_bytes());
        out.extend_from_slice(&e.last_timestamp.to_be_bytes());
        out.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
        out.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
    }
    let crc = crc32c::crc32c(&out[ENTRIES_OFFSET..]);
    out[CRC_FIELD_OFFSET..ENTRIES_OFFSET].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Parse snapshot file bytes; `path` only names the file in errors.
pub fn decode_snapshot(bytes: &[u8], path: &Path) -> Result<Vec<ProducerStateEntry>> {
    let corrupt = |reason: String| StorageError::CorruptSnapshot {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < SNAPSHOT_HEADER_SIZE {
        return Err(corrupt(format!(
            "{} bytes, shorter than the {SNAPSHOT_HEADER_SIZE}-byte header",
            bytes.len()
        )));
    }
    let mut r = Reader { buf: bytes, pos: 0 };
    let version = r.i16();
    if version != PRODUCER_SNAPSHOT_VERSION {
        return Err(corrupt(format!("unknown snapshot version {version}")));
    }
    let stored = r.i32() as u32;
    let computed = crc32c::crc32c(&bytes[ENTRIES_OFFSET..]);
    if stored != computed {
        return Err(corrupt(format!(
            "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
        )));
    }
    let count = r.i32();
    let expected = usize::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(SNAPSHOT_ENTRY_SIZE))
        .and_then(|n| n.checked_add(SNAPSHOT_HEADER_SIZE))
        .ok_or_else(|| corrupt(format!("invalid entry count {count}")))?;
    if expected != bytes.len() {
        return Err(corrupt(format!(
            "{count} entries need {expected} bytes, file has {}",
            bytes.len()
        )));
    }
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count {
        let producer_id = r.i64();
        let producer_epoch = r.i16();
        let last_seq = r.i32();
        let last_offset = r.i64();
        let offset_delta = r.i32();
        let timestamp = r.i64();
        let coordinator_epoch = r.i32();
        let txn_first = r.i64();
        if offset_delta < 0 {
            return Err(corrupt(format!(
                "entry {i} (producer {producer_id}): negative offset delta {offset_delta}"
            )));
        }
        let mut e = ProducerStateEntry {
            producer_id,
            producer_epoch,
            coordinator_epoch,
            last_timestamp: timestamp,
            current_txn_first_offset: (txn_first >= 0).then_some(txn_first),
            batches: VecDeque::new(),
        };
        if last_offset >= 0 {
            e.batches.push_back(BatchMetadata {
                last_seq,
                last_offset,
                offset_delta,
                timestamp,
            });
        }
        out.push(e);
    }
    Ok(out)
}

/// Read and check a snapshot file.
pub fn read_snapshot(path: &Path) -> Result<Vec<ProducerStateEntry>> {
    let bytes = fs::read(path).at(path)?;
    decode_snapshot(&bytes, path)
}

/// Big-endian reads from a buffer whose length was checked beforehand.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        if let Some(s) = self.buf.get(self.pos..self.pos + N) {
            a.copy_from_slice(s);
        }
        self.pos += N;
        a
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: i64 = 1_000;

    fn mgr() -> ProducerStateManager {
        ProducerStateManager::new(TopicPartition::new("t", 0), PathBuf::from("/nonexistent"))
    }

    /// A batch of `n` records from producer `pid` at `offset`.
    fn b(pid: i64, epoch: i16, seq: i32, n: i32, offset: i64) -> ProducerBatch {
        ProducerBatch {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            last_sequence: batch::last_sequence(seq, n - 1),
            first_offset: offset,
            last_offset: offset + i64::from(n) - 1,
            max_timestamp: TS + offset,
            is_transactional: false,
            is_control: false,
            marker: None,
        }
    }

    /// A transactional data batch.
    fn tb(pid: i64, epoch: i16, seq: i32, n: i32, offset: i64) -> ProducerBatch {
        ProducerBatch {
            is_transactional: true,
            ..b(pid, epoch, seq, n, offset)
        }
    }

    /// A marker batch.
    fn mk(
        pid: i64,
        epoch: i16,
        offset: i64,
        commit: bool,
        coordinator_epoch: i32,
    ) -> ProducerBatch {
        ProducerBatch {
            is_transactional: true,
            is_control: true,
            marker: Some(EndTxnMarker {
                commit,
                coordinator_epoch,
            }),
            ..b(pid, epoch, -1, 1, offset)
        }
    }

    /// Validate and commit a marker; returns what it completed.
    fn marker(
        m: &mut ProducerStateManager,
        b: ProducerBatch,
        tv: i16,
    ) -> Result<Vec<CompletedTxnWithLso>> {
        let u = m.validate_marker(&b, tv)?;
        Ok(m.commit(u, b.last_offset + 1))
    }

    /// Validate and commit; returns the check result.
    fn append(m: &mut ProducerStateManager, batches: &[ProducerBatch]) -> Result<AppendCheck> {
        let check = m.validate_append(batches)?;
        if let AppendCheck::Append(u) = &check {
            let next = batches.iter().map(|b| b.last_offset + 1).max().unwrap_or(0);
            m.commit(u.clone(), next);
        }
        Ok(check)
    }

    fn ok(m: &mut ProducerStateManager, batch: ProducerBatch) {
        match append(m, &[batch]) {
            Ok(AppendCheck::Append(_)) => {}
            other => panic!("expected append of {batch:?}, got {other:?}"),
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Snapshots Apache Kafka 4.3.1 wrote (compat-tests/datadir's writer; DumpLogSegments
    /// prints them as in the comments): an idempotent producer, and two transactional producers
    /// whose transactions are complete (no batch metadata: last sequence and offset -1).
    #[test]
    fn reads_snapshots_kafka_wrote() {
        // producerId: 9 producerEpoch: 0 coordinatorEpoch: -1 currentTxnFirstOffset: empty
        // lastTimestamp: 1796686339049 firstSequence: 40 lastSequence: 49 lastOffset: 49
        // offsetDelta: 9
        let idem = decode_snapshot(
            &hex(
                "00015c31e6f5000000010000000000000009000000000031000000000000003100000009000001\
                 a252d9dbe9ffffffffffffffffffffffff",
            ),
            Path::new("00000000000000000050.snapshot"),
        )
        .unwrap();
        assert_eq!(idem.len(), 1);
        let e = &idem[0];
        assert_eq!(
            (e.producer_id, e.producer_epoch, e.coordinator_epoch),
            (9, 0, -1)
        );
        assert_eq!(e.current_txn_first_offset, None);
        assert_eq!(e.last_timestamp, 1_796_686_339_049);
        assert_eq!(
            e.last_batch(),
            Some(&BatchMetadata {
                last_seq: 49,
                last_offset: 49,
                offset_delta: 9,
                timestamp: 1_796_686_339_049,
            })
        );
        // producerId: 7 producerEpoch: 3 coordinatorEpoch: 0 lastTimestamp: 1796689944743;
        // producerId: 8 producerEpoch: 2 coordinatorEpoch: 0 lastTimestamp: 1796689944924.
        let txn = decode_snapshot(
            &hex(
                "000141a8b7230000000200000000000000070003ffffffffffffffffffffffff00000000000001a2\
                 5310e0a700000000ffffffffffffffff00000000000000080002ffffffffffffffffffffffff0000\
                 0000000001a25310e15c00000000ffffffffffffffff",
            ),
            Path::new("00000000000000000020.snapshot"),
        )
        .unwrap();
        let got: Vec<_> = txn
            .iter()
            .map(|e| {
                (
                    e.producer_id,
                    e.producer_epoch,
                    e.coordinator_epoch,
                    e.last_timestamp,
                    e.last_seq(),
                    e.current_txn_first_offset,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (7, 3, 0, 1_796_689_944_743, -1, None),
                (8, 2, 0, 1_796_689_944_924, -1, None)
            ]
        );
        assert!(txn.iter().all(ProducerStateEntry::is_empty));
    }

    #[test]
    fn duplicate_of_each_of_the_last_five_batches_returns_its_offsets() {
        let mut m = mgr();
        // 7 batches of 2 records: seqs 0-1, 2-3, ..., 12-13 at offsets 100, 102, ...
        for i in 0..7 {
            ok(&mut m, b(1, 0, i * 2, 2, 100 + i64::from(i) * 2));
        }
        assert_eq!(m.last_entry(1).map(|e| e.batches().len()), Some(5));
        for i in 2..7 {
            let retry = b(1, 0, i * 2, 2, 999);
            let want = BatchMetadata {
                last_seq: i * 2 + 1,
                last_offset: 101 + i64::from(i) * 2,
                offset_delta: 1,
                timestamp: TS + 100 + i64::from(i) * 2,
            };
            assert_eq!(
                m.validate_append(&[retry]).unwrap(),
                AppendCheck::Duplicate(want)
            );
            assert_eq!(want.first_offset(), 100 + i64::from(i) * 2);
            assert_eq!(want.first_seq(), i * 2);
        }
        // Older than the retained five: no longer recognised, so out of order.
        for i in 0..2 {
            assert!(matches!(
                m.validate_append(&[b(1, 0, i * 2, 2, 999)]),
                Err(StorageError::OutOfOrderSequence { last_seq: 13, .. })
            ));
        }
        // Same first sequence, different last sequence: not a duplicate.
        assert!(matches!(
            m.validate_append(&[b(1, 0, 12, 1, 999)]),
            Err(StorageError::OutOfOrderSequence { .. })
        ));
        // A duplicate in another epoch is judged on the epoch.
        assert!(matches!(
            m.validate_append(&[b(1, 1, 12, 2, 999)]),
            Err(StorageError::InvalidSequenceForNewEpoch { .. })
        ));
    }

    #[test]
    fn sequence_gaps_and_reordering_are_out_of_order() {
        let mut m = mgr();
        ok(&mut m, b(1, 0, 0, 3, 0));
        let gap = m.validate_append(&[b(1, 0, 4, 1, 3)]);
        assert!(
            matches!(
                gap,
                Err(StorageError::OutOfOrderSequence {
                    producer_id: 1,
                    offset: 3,
                    first_seq: 4,
                    last_seq: 2,
                    ..
                })
            ),
            "{gap:?}"
        );
        // Overlapping the last batch without matching it exactly.
        assert!(matches!(
            m.validate_append(&[b(1, 0, 1, 3, 3)]),
            Err(StorageError::OutOfOrderSequence { .. })
        ));
        ok(&mut m, b(1, 0, 3, 1, 3));
        assert_eq!(m.last_entry(1).map(ProducerStateEntry::last_seq), Some(3));
        let err = m.validate_append(&[b(1, 0, 9, 1, 4)]).unwrap_err();
        assert_eq!(err.kafka_error_code(), 45);
    }

    #[test]
    fn epoch_bump_must_restart_at_sequence_zero() {
        let mut m = mgr();
        ok(&mut m, b(1, 3, 0, 2, 0));
        let err = m.validate_append(&[b(1, 4, 2, 1, 2)]).unwrap_err();
        assert!(
            matches!(
                err,
                StorageError::InvalidSequenceForNewEpoch {
                    epoch: 4,
                    first_seq: 2,
                    current_epoch: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.kafka_error_code(), 45);
        ok(&mut m, b(1, 4, 0, 1, 2));
        let e = m.last_entry(1).cloned().unwrap();
        assert_eq!(e.producer_epoch, 4);
        assert_eq!(e.batches().len(), 1, "a new epoch forgets the old batches");
        // The old epoch is fenced now, even for a retry of its batch.
        let err = m.validate_append(&[b(1, 3, 0, 2, 3)]).unwrap_err();
        assert!(
            matches!(
                err,
                StorageError::InvalidProducerEpoch {
                    epoch: 3,
                    current_epoch: 4,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.kafka_error_code(), 47);
    }

    #[test]
    fn sequence_wraps_from_max_to_zero() {
        let mut m = mgr();
        ok(&mut m, b(1, 0, i32::MAX - 1, 2, 0)); // unknown producer: any sequence
        assert_eq!(
            m.last_entry(1).map(ProducerStateEntry::last_seq),
            Some(i32::MAX)
        );
        assert!(m.validate_append(&[b(1, 0, 1, 1, 2)]).is_err());
        ok(&mut m, b(1, 0, 0, 1, 2));
        // A batch spanning the wrap.
        let mut m = mgr();
        ok(&mut m, b(1, 0, 10, 1, 0));
        ok(&mut m, b(1, 0, 11, 1, 1));
        let mut m2 = mgr();
        ok(&mut m2, b(2, 0, i32::MAX - 3, 1, 0));
        let span = b(2, 0, i32::MAX - 2, 5, 1); // MAX-2 ..= 1
        assert_eq!(span.last_sequence, 1);
        ok(&mut m2, span);
        assert_eq!(
            m2.validate_append(&[b(2, 0, i32::MAX - 2, 5, 9)]).unwrap(),
            AppendCheck::Duplicate(BatchMetadata {
                last_seq: 1,
                last_offset: 5,
                offset_delta: 4,
                timestamp: TS + 1
            })
        );
        ok(&mut m2, b(2, 0, 2, 1, 6));
    }

    #[test]
    fn unknown_producer_is_accepted_at_any_sequence() {
        // Kafka 4.x: no UNKNOWN_PRODUCER_ID on the produce path; without a known epoch any
        // sequence starts the producer's state.
        let mut m = mgr();
        ok(&mut m, b(9, 2, 17, 3, 0));
        let e = m.last_entry(9).cloned().unwrap();
        assert_eq!((e.producer_epoch, e.last_seq()), (2, 19));
        assert!(m.validate_append(&[b(9, 2, 21, 1, 3)]).is_err());
        ok(&mut m, b(9, 2, 20, 1, 3));
        // Also a new producer with a higher-than-zero epoch and sequence 0.
        ok(&mut m, b(10, 5, 0, 1, 4));
    }

    #[test]
    fn known_epoch_without_batches_expects_sequence_zero() {
        // An entry from a snapshot whose last batch is unknown (e.g. after a marker).
        let mut m = mgr();
        let mut e = ProducerStateEntry::empty(4);
        e.producer_epoch = 1;
        m.producers.insert(4, e);
        assert!(matches!(
            m.validate_append(&[b(4, 1, 5, 1, 0)]),
            Err(StorageError::OutOfOrderSequence { last_seq: -1, .. })
        ));
        ok(&mut m, b(4, 1, 0, 1, 0));
    }

    #[test]
    fn every_batch_is_validated_before_any_is_committed() {
        let mut m = mgr();
        ok(&mut m, b(1, 0, 0, 1, 0));
        // Second batch continues the first one of the same payload.
        let payload = [b(1, 0, 1, 2, 1), b(1, 0, 3, 1, 3), b(2, 0, 0, 1, 4)];
        assert!(matches!(
            append(&mut m, &payload),
            Ok(AppendCheck::Append(_))
        ));
        assert_eq!(m.last_entry(1).map(ProducerStateEntry::last_seq), Some(3));
        assert_eq!(m.map_end_offset(), 5);
        // A bad third batch rejects the whole payload and changes nothing.
        let before = m.active_producers();
        let bad = [b(1, 0, 4, 1, 5), b(2, 0, 1, 1, 6), b(1, 0, 9, 1, 7)];
        assert!(m.validate_append(&bad).is_err());
        assert_eq!(m.active_producers(), before);
        // Non-idempotent batches are ignored.
        let plain = b(-1, -1, -1, 3, 8);
        assert_eq!(
            m.validate_append(&[plain]).unwrap(),
            AppendCheck::Append(ProducerUpdates::default())
        );
    }

    #[test]
    fn negative_sequence_with_producer_id_is_invalid() {
        let m = mgr();
        let err = m.validate_append(&[b(1, 0, -1, 1, 0)]).unwrap_err();
        assert!(matches!(
            err,
            StorageError::InvalidProducerSequence {
                base_sequence: -1,
                ..
            }
        ));
        assert_eq!(err.kafka_error_code(), 87);
    }

    #[test]
    fn transactional_then_plain_write_is_invalid_txn_state() {
        let mut m = mgr();
        let mut t = b(1, 0, 0, 1, 10);
        t.is_transactional = true;
        ok(&mut m, t);
        assert_eq!(
            m.last_entry(1).and_then(|e| e.current_txn_first_offset),
            Some(10)
        );
        let err = m.validate_append(&[b(1, 0, 1, 1, 11)]).unwrap_err();
        assert_eq!(err.kafka_error_code(), 48);
        // A marker (control batch) ends the transaction.
        marker(&mut m, mk(1, 0, 11, true, 0), 0).unwrap();
        assert_eq!(
            m.last_entry(1).and_then(|e| e.current_txn_first_offset),
            None
        );
    }

    #[test]
    fn ongoing_transactions_are_ordered_and_complete_with_kafkas_lso() {
        let mut m = mgr();
        ok(&mut m, tb(2, 0, 0, 2, 10)); // txn of 2 at 10
        ok(&mut m, b(9, 0, 0, 1, 12)); // plain idempotent data
        ok(&mut m, tb(1, 0, 0, 1, 13)); // txn of 1 at 13
        ok(&mut m, tb(2, 0, 2, 1, 14)); // more of 2's txn: not a new one
        assert_eq!(m.ongoing_transactions(), vec![(2, 10), (1, 13)]);
        assert_eq!(m.first_unstable_offset(), Some(10));
        // Abort 1's txn while 2's is open: LSO in the entry is 2's first offset.
        let c = marker(&mut m, mk(1, 0, 15, false, 3), 0).unwrap();
        assert_eq!(
            c,
            vec![CompletedTxnWithLso {
                txn: CompletedTxn {
                    producer_id: 1,
                    first_offset: 13,
                    last_offset: 15,
                    is_aborted: true
                },
                last_stable_offset: 10
            }]
        );
        assert_eq!(m.ongoing_transactions(), vec![(2, 10)]);
        let e1 = m.last_entry(1).cloned().unwrap();
        assert_eq!(
            (e1.coordinator_epoch, e1.current_txn_first_offset),
            (3, None)
        );
        // Commit 2's: nothing else open, so marker + 1.
        let c = marker(&mut m, mk(2, 0, 16, true, 3), 0).unwrap();
        assert_eq!(c[0].last_stable_offset, 17);
        assert!(!c[0].txn.is_aborted);
        assert!(m.ongoing_transactions().is_empty());
        // Ended, but the markers are not below the hw yet.
        assert_eq!(m.first_unstable_offset(), Some(10));
        let unstable = m.unstable_transactions();
        assert_eq!(last_stable_offset(&unstable, 16), 10);
        assert_eq!(
            last_stable_offset(&unstable, 17),
            17,
            "hw past both markers"
        );
        m.on_high_watermark_updated(16);
        assert_eq!(m.first_unstable_offset(), Some(10), "2's marker at 16");
        m.on_high_watermark_updated(17);
        assert_eq!(m.first_unstable_offset(), None);
        // A marker without an open transaction ends nothing.
        assert!(marker(&mut m, mk(2, 0, 17, false, 3), 0)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn marker_epochs_are_fenced_as_kafka_does() {
        let mut m = mgr();
        ok(&mut m, tb(1, 5, 0, 1, 0));
        // TV0/1: an older producer epoch is fenced; the same one is fine.
        let err = m.validate_marker(&mk(1, 4, 1, true, 0), 0).unwrap_err();
        assert!(matches!(
            err,
            StorageError::InvalidProducerEpoch {
                epoch: 4,
                current_epoch: 5,
                ..
            }
        ));
        assert_eq!(err.kafka_error_code(), 47);
        assert!(m.validate_marker(&mk(1, 5, 1, true, 0), 0).is_ok());
        // TV2: the marker must bump the epoch while a transaction is open.
        assert!(m.validate_marker(&mk(1, 5, 1, true, 0), 2).is_err());
        marker(&mut m, mk(1, 6, 1, false, 7), 2).unwrap();
        assert_eq!(m.last_entry(1).map(|e| e.producer_epoch), Some(6));
        // TV2 retry of the marker just written (same epoch, nothing open): accepted.
        assert!(marker(&mut m, mk(1, 6, 2, false, 7), 2).unwrap().is_empty());
        // An older coordinator epoch is a zombie coordinator.
        let err = m.validate_marker(&mk(1, 7, 3, true, 6), 2).unwrap_err();
        assert!(matches!(
            err,
            StorageError::TransactionCoordinatorFenced {
                coordinator_epoch: 6,
                current_coordinator_epoch: 7,
                ..
            }
        ));
        assert_eq!(err.kafka_error_code(), 52);
        // From the log nothing is fenced.
        assert!(m.load_batch(&mk(1, 0, 3, true, 0)).is_none());
    }

    #[test]
    fn snapshot_entries_restore_ongoing_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let tp = TopicPartition::new("t", 0);
        let mut m = ProducerStateManager::new(tp.clone(), dir.path().to_path_buf());
        m.truncate_and_reload(0, 0, TS, i64::MAX).unwrap();
        ok(&mut m, tb(4, 0, 0, 1, 0));
        ok(&mut m, tb(3, 0, 0, 1, 1));
        assert!(m.take_snapshot(false).unwrap());
        let mut r = ProducerStateManager::new(tp, dir.path().to_path_buf());
        r.truncate_and_reload(0, 2, TS, i64::MAX).unwrap();
        assert_eq!(r.ongoing_transactions(), vec![(4, 0), (3, 1)]);
        let c = r.load_batch(&mk(4, 0, 2, false, 0)).unwrap();
        assert_eq!((c.txn.first_offset, c.last_stable_offset), (0, 1));
    }

    #[test]
    fn expiration_spares_recent_producers_and_open_transactions() {
        let mut m = mgr();
        ok(&mut m, b(1, 0, 0, 1, 0)); // ts TS
        ok(&mut m, b(2, 0, 0, 1, 500)); // ts TS + 500
        let mut t = b(3, 0, 0, 1, 1); // ts TS + 1, open transaction
        t.is_transactional = true;
        ok(&mut m, t);
        assert_eq!(m.remove_expired_producers(TS + 99, 100), 0);
        assert_eq!(m.remove_expired_producers(TS + 100, 100), 1);
        assert!(m.last_entry(1).is_none());
        assert!(m.last_entry(3).is_some(), "open transactions never expire");
        assert_eq!(m.remove_expired_producers(TS + 600, 100), 1);
        assert_eq!(m.producer_count(), 1);
    }

    fn sample_entries() -> Vec<ProducerStateEntry> {
        let mut m = mgr();
        ok(&mut m, b(7, 2, 0, 3, 40));
        ok(&mut m, b(7, 2, 3, 2, 43));
        ok(&mut m, b(-5i64.abs(), 0, 100, 1, 45));
        let mut t = b(1 << 40, 1, 0, 1, 46);
        t.is_transactional = true;
        ok(&mut m, t);
        let mut empty = ProducerStateEntry::empty(3);
        empty.producer_epoch = 9;
        empty.coordinator_epoch = 4;
        empty.last_timestamp = 77;
        m.producers.insert(3, empty);
        m.active_producers()
    }

    /// What a snapshot keeps of an entry: its last batch only.
    fn as_restored(e: &ProducerStateEntry) -> ProducerStateEntry {
        let mut r = e.without_batches();
        if let Some(last) = e.last_batch() {
            r.batches.push_back(*last);
        }
        r
    }

    #[test]
    fn snapshot_round_trip_and_layout() {
        let entries = sample_entries();
        let bytes = encode_snapshot(entries.iter());
        assert_eq!(bytes.len(), 10 + 46 * entries.len());
        assert_eq!(&bytes[0..2], &1i16.to_be_bytes(), "version 1");
        assert_eq!(&bytes[6..10], &(entries.len() as i32).to_be_bytes());
        let crc = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        assert_eq!(
            crc,
            crc32c::crc32c(&bytes[6..]),
            "CRC covers the entries array"
        );
        // Entries sorted by producer id; the first is producer 3 with no batch.
        assert_eq!(&bytes[10..18], &3i64.to_be_bytes());
        assert_eq!(&bytes[18..20], &9i16.to_be_bytes());
        assert_eq!(&bytes[20..24], &(-1i32).to_be_bytes(), "last sequence");
        assert_eq!(&bytes[24..32], &(-1i64).to_be_bytes(), "last offset");
        assert_eq!(&bytes[32..36], &0i32.to_be_bytes(), "offset delta");
        assert_eq!(&bytes[36..44], &77i64.to_be_bytes(), "timestamp");
        assert_eq!(&bytes[44..48], &4i32.to_be_bytes(), "coordinator epoch");
        assert_eq!(&bytes[48..56], &(-1i64).to_be_bytes(), "no transaction");

        let back = decode_snapshot(&bytes, Path::new("x.snapshot")).unwrap();
        let want: Vec<_> = entries.iter().map(as_restored).collect();
        assert_eq!(back, want);
        let p7 = back.iter().find(|e| e.producer_id == 7).unwrap();
        assert_eq!(
            p7.last_batch().copied(),
            Some(BatchMetadata {
                last_seq: 4,
                last_offset: 44,
                offset_delta: 1,
                timestamp: TS + 43
            })
        );
        let txn = back.iter().find(|e| e.producer_id == 1 << 40).unwrap();
        assert_eq!(txn.current_txn_first_offset, Some(46));
        // Empty state.
        let empty = encode_snapshot(std::iter::empty());
        assert_eq!(empty.len(), 10);
        assert!(decode_snapshot(&empty, Path::new("e")).unwrap().is_empty());
    }

    #[test]
    fn corrupt_snapshots_are_detected() {
        let bytes = encode_snapshot(sample_entries().iter());
        let corrupt = |b: &[u8]| {
            matches!(
                decode_snapshot(b, Path::new("x")),
                Err(StorageError::CorruptSnapshot { .. })
            )
        };
        for i in 2..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(corrupt(&b), "flipped byte {i}");
        }
        let mut v2 = bytes.clone();
        v2[1] = 2;
        assert!(corrupt(&v2), "unknown version");
        for len in [0, 5, 9, 10, bytes.len() - 1] {
            assert!(corrupt(&bytes[..len]), "truncated to {len}");
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 46]);
        assert!(corrupt(&longer), "trailing bytes");
        // A count that does not match the length, with a valid CRC.
        let mut b = bytes[..10].to_vec();
        b[6..10].copy_from_slice(&(-1i32).to_be_bytes());
        let crc = crc32c::crc32c(&b[6..]);
        b[2..6].copy_from_slice(&crc.to_be_bytes());
        assert!(corrupt(&b), "negative count");
    }

    #[test]
    fn reload_uses_newest_valid_snapshot_in_range() {
        let dir = tempfile::tempdir().unwrap();
        let tp = TopicPartition::new("t", 0);
        let mut m = ProducerStateManager::new(tp.clone(), dir.path().to_path_buf());
        m.truncate_and_reload(0, 0, TS, i64::MAX).unwrap();
        for (i, end) in [10i64, 20, 30].iter().enumerate() {
            ok(&mut m, b(1, 0, i as i32, 1, end - 1));
            assert!(m.take_snapshot(false).unwrap());
            assert!(!m.take_snapshot(false).unwrap(), "nothing new");
        }
        assert_eq!(m.snapshot_offsets(), vec![10, 20, 30]);
        ok(&mut m, b(1, 0, 3, 1, 39));
        assert!(m.take_snapshot(false).unwrap());
        assert_eq!(m.snapshot_offsets(), vec![20, 30, 40], "three retained");
        assert!(!snapshot_file(dir.path(), 10).exists());
        // Leftover of an interrupted write.
        std::fs::write(dir.path().join("00000000000000000050.snapshot.tmp"), b"x").unwrap();
        // Corrupt the newest in range: fall back to the next.
        std::fs::write(snapshot_file(dir.path(), 30), b"garbage").unwrap();
        let mut r = ProducerStateManager::new(tp.clone(), dir.path().to_path_buf());
        r.truncate_and_reload(0, 35, TS, i64::MAX).unwrap();
        assert_eq!(r.map_end_offset(), 20);
        assert_eq!(
            r.snapshot_offsets(),
            vec![20],
            "40 above the end, 30 corrupt"
        );
        assert_eq!(r.last_entry(1).map(ProducerStateEntry::last_seq), Some(1));
        assert!(!dir
            .path()
            .join("00000000000000000050.snapshot.tmp")
            .exists());
        // Snapshots below the first segment are unusable; expired producers are not loaded.
        let mut r = ProducerStateManager::new(tp, dir.path().to_path_buf());
        r.truncate_and_reload(21, 35, TS + 20 + 100, 100).unwrap();
        assert_eq!(r.map_end_offset(), 21);
        assert!(r.snapshot_offsets().is_empty());
        assert_eq!(r.producer_count(), 0);
    }
}
