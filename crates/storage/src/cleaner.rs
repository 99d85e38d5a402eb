//! The log cleaner (Kafka's LogCleaner, Cleaner, LogCleanerManager, SkimpyOffsetMap,
//! CleanedTransactionMetadata): compaction of logs whose cleanup.policy contains `compact`.
//!
//! One cleaning round of a log, as Kafka does it:
//! 1. **Choose** ([`LogCleaner::clean_once`]): among compacted logs, the one with the highest
//!    dirty ratio above its min.cleanable.dirty.ratio (or any dirty bytes once its oldest
//!    dirty segment is older than max.compaction.lag.ms). The dirty section runs from the
//!    offset in `cleaner-offset-checkpoint` (or the log start) to the first uncleanable
//!    offset: the base of the segment holding the smallest of the last stable offset, the
//!    active segment's base, and the first segment newer than min.compaction.lag.ms.
//! 2. **Map** the dirty section into an [`OffsetMap`] (key hash -> latest offset), skipping
//!    records of aborted transactions. The map is bounded by log.cleaner.dedupe.buffer.size;
//!    when it fills, the round stops at the last batch mapped whole.
//! 3. **Clean** every closed segment below that end, in groups that fit one segment: a record
//!    is kept if it is the latest for its key (or past the mapped end), and a tombstone only
//!    until its batch's delete horizon (set to now + delete.retention.ms the first time the
//!    cleaner keeps it). Records of aborted transactions go; transaction markers go once no
//!    record of their transaction is left and their own delete horizon has passed. A batch
//!    that empties is dropped, unless it holds the last data of an active producer (or its
//!    last marker), or ends just below the first uncleanable offset: then an empty batch with
//!    the same offsets, producer fields and sequence stays (producer state; the log's last
//!    offset before the uncleanable part). Rewritten batches keep their base and last offsets and their
//!    codec; untouched batches are copied byte for byte. Offsets never change.
//! 4. **Swap** each cleaned group in ([`PartitionLog`]'s `replace_segments`): written as
//!    `.cleaned` files, flushed, then under the partition's lock (held only for the swap)
//!    renamed `.swap`, the old segments renamed `.deleted` (removed after
//!    file.delete.delay.ms; readers keep their handles), the `.swap` files renamed to their
//!    final names. If the log's segments changed meanwhile the round is abandoned.
//! 5. **Checkpoint** the end of the mapped section in the log dir's `cleaner-offset-checkpoint`.
//!
//! Nothing here holds the partition's writer lock while reading or writing segment data.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::hash::Hasher;
use std::sync::Arc;

use sluice_protocol::batch::{
    self, Compression, RecordBatch, TimestampType, ATTRIBUTES_OFFSET, CONTROL_BIT, CRC_OFFSET,
    HEADER_SIZE, LOG_OVERHEAD, TRANSACTIONAL_BIT,
};
use sluice_protocol::compression;
use sluice_protocol::records::{self, Record};

use crate::error::{Result, StorageError};
use crate::log::{collect_aborted, LogSnapshot, PartitionLog};
use crate::manager::LogManager;
use crate::segment::{add_suffix, LogSegment, SegmentView, CLEANED_FILE_SUFFIX};
use crate::txn_index::{txn_index_file, AbortedTxn};
use crate::TopicPartition;

/// Batch attribute bit 6: the base timestamp is the batch's delete horizon (KIP-534).
pub const DELETE_HORIZON_BIT: i16 = 0x40;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
/// Bytes of one [`OffsetMap`] slot: a 128-bit key hash and an offset.
pub const OFFSET_MAP_SLOT_BYTES: usize = 24;
/// How much segment data is read or written at once.
const IO_CHUNK: u64 = 1024 * 1024;

/// Broker settings of the cleaner.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanerConfig {
    /// log.cleaner.dedupe.buffer.size (default 128 MiB), shared by log.cleaner.threads (one
    /// thread here): the most memory the offset map may use.
    pub dedupe_buffer_size: usize,
    /// log.cleaner.io.buffer.load.factor (default 0.9): how full the map may get.
    pub dedupe_buffer_load_factor: f64,
    /// Largest decompressed batch the cleaner will rewrite (a bigger one makes the log
    /// uncleanable until restart, as an error does in Kafka).
    pub max_decompressed_batch_bytes: usize,
}

impl Default for CleanerConfig {
    fn default() -> Self {
        Self {
            dedupe_buffer_size: 128 * 1024 * 1024,
            dedupe_buffer_load_factor: 0.9,
            max_decompressed_batch_bytes: 128 * 1024 * 1024,
        }
    }
}

/// Kafka's SkimpyOffsetMap: key hash -> the key's latest offset, in open addressing with
/// linear probing. Keys are not stored, only a 128-bit hash of each (two SipHash passes), so
/// memory is 24 bytes a slot. The table starts small and doubles up to the dedupe buffer's
/// slots (a doubling briefly holds the old half-size table too); it is full at
/// `load_factor` of that maximum.
#[derive(Debug)]
pub struct OffsetMap {
    /// (hash high, hash low, offset + 1); offset + 1 == 0 marks an empty slot.
    slots: Vec<(u64, u64, i64)>,
    max_slots: usize,
    max_entries: usize,
    size: usize,
    latest_offset: i64,
}

impl OffsetMap {
    /// A map using at most `memory` bytes, full at `load_factor` of its slots.
    pub fn new(memory: usize, load_factor: f64) -> Self {
        let max_slots = (memory / OFFSET_MAP_SLOT_BYTES).max(2);
        let max_entries = ((max_slots as f64) * load_factor.clamp(0.0, 1.0)) as usize;
        Self {
            slots: vec![(0, 0, 0); max_slots.min(1024)],
            max_slots,
            // One slot always stays empty, so a probe for an absent key ends.
            max_entries: max_entries.clamp(1, max_slots - 1),
            size: 0,
            latest_offset: -1,
        }
    }

    fn hash(key: &[u8]) -> (u64, u64) {
        let mut a = std::collections::hash_map::DefaultHasher::new();
        a.write_u8(0);
        a.write(key);
        let mut b = std::collections::hash_map::DefaultHasher::new();
        b.write_u8(1);
        b.write(key);
        (a.finish(), b.finish())
    }

    fn find(slots: &[(u64, u64, i64)], h: (u64, u64)) -> usize {
        let n = slots.len();
        let mut i = (h.0 as usize) % n;
        loop {
            let s = slots[i];
            if s.2 == 0 || (s.0, s.1) == h {
                return i;
            }
            i = (i + 1) % n;
        }
    }

    /// Number of keys mapped.
    pub fn size(&self) -> usize {
        self.size
    }
    /// Whether another key would pass the load factor.
    pub fn is_full(&self) -> bool {
        self.size >= self.max_entries
    }
    /// The most keys the map takes.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }
    /// Last offset of the last batch mapped whole (-1: none).
    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }
    pub fn update_latest_offset(&mut self, offset: i64) {
        self.latest_offset = offset;
    }

    /// Map `key` to `offset`. A new key when [`is_full`](Self::is_full) is refused (false).
    pub fn put(&mut self, key: &[u8], offset: i64) -> bool {
        let h = Self::hash(key);
        let i = Self::find(&self.slots, h);
        if self.slots[i].2 != 0 {
            self.slots[i].2 = offset + 1;
            return true;
        }
        if self.is_full() {
            return false;
        }
        self.slots[i] = (h.0, h.1, offset + 1);
        self.size += 1;
        if self.size * 2 >= self.slots.len() && self.slots.len() < self.max_slots {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        let n = (self.slots.len() * 2).min(self.max_slots);
        let mut slots = vec![(0u64, 0u64, 0i64); n];
        for s in self.slots.iter().filter(|s| s.2 != 0) {
            let i = Self::find(&slots, (s.0, s.1));
            slots[i] = *s;
        }
        self.slots = slots;
    }

    /// The latest offset of `key`, if mapped.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        let s = self.slots[Self::find(&self.slots, Self::hash(key))];
        (s.2 != 0).then_some(s.2 - 1)
    }

    /// Empty the map (and give back a grown table).
    pub fn clear(&mut self) {
        self.slots = vec![(0, 0, 0); self.max_slots.min(1024)];
        self.size = 0;
        self.latest_offset = -1;
    }
}

/// Kafka's CleanedTransactionMetadata: which batches belong to aborted transactions, and
/// which markers may go, while batches are read in offset order.
#[derive(Debug, Default)]
struct TxnMetadata {
    /// Aborted transactions not reached yet, by first offset (min-heap).
    pending: BinaryHeap<std::cmp::Reverse<(i64, AbortedTxnKey)>>,
    /// Aborted transactions reached: producer -> (entry, last offset of a batch seen).
    ongoing_aborted: HashMap<i64, (AbortedTxn, Option<i64>)>,
    ongoing_committed: HashSet<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct AbortedTxnKey {
    producer_id: i64,
    last_offset: i64,
    last_stable_offset: i64,
}

impl TxnMetadata {
    fn add_aborted(&mut self, txns: &[AbortedTxn]) {
        for t in txns {
            self.pending.push(std::cmp::Reverse((
                t.first_offset,
                AbortedTxnKey {
                    producer_id: t.producer_id,
                    last_offset: t.last_offset,
                    last_stable_offset: t.last_stable_offset,
                },
            )));
        }
    }

    fn consume_up_to(&mut self, offset: i64) {
        while let Some(std::cmp::Reverse((first, _))) = self.pending.peek() {
            if *first > offset {
                break;
            }
            let Some(std::cmp::Reverse((first, k))) = self.pending.pop() else {
                break;
            };
            self.ongoing_aborted.entry(k.producer_id).or_insert((
                AbortedTxn {
                    producer_id: k.producer_id,
                    first_offset: first,
                    last_offset: k.last_offset,
                    last_stable_offset: k.last_stable_offset,
                },
                None,
            ));
        }
    }

    /// A control batch: whether the marker may be discarded, and the aborted transaction to
    /// keep in the cleaned segment's `.txnindex` (its marker stays).
    fn on_control_batch(
        &mut self,
        b: &RecordBatch<'_>,
        marker: Option<records::EndTxnMarker>,
    ) -> (bool, Option<AbortedTxn>) {
        self.consume_up_to(b.last_offset());
        if b.records_count() == 0 {
            // Emptied by an earlier cleaning: nothing left to protect.
            return (true, None);
        }
        match marker {
            Some(m) if !m.commit => match self.ongoing_aborted.remove(&b.producer_id()) {
                Some((txn, Some(_))) => (false, Some(txn)),
                _ => (true, None),
            },
            Some(_) => (!self.ongoing_committed.remove(&b.producer_id()), None),
            None => (false, None),
        }
    }

    /// A data batch: true if it belongs to an aborted transaction (then it can go).
    fn on_batch(&mut self, b: &RecordBatch<'_>) -> bool {
        self.consume_up_to(b.last_offset());
        if !b.is_transactional() {
            return false;
        }
        match self.ongoing_aborted.get_mut(&b.producer_id()) {
            Some(entry) => {
                entry.1 = Some(b.last_offset());
                true
            }
            None => {
                self.ongoing_committed.insert(b.producer_id());
                false
            }
        }
    }
}

/// What one cleaning round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// The new cleaner checkpoint: everything below was mapped.
    pub end_offset: i64,
    /// Whether the offset map filled before the dirty section's end.
    pub map_full: bool,
    pub segments_cleaned: usize,
    /// Bytes of the dirty section read to build the offset map.
    pub map_bytes_read: u64,
    /// Bytes of the cleaned segments read, and written to the new ones.
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub records_read: u64,
    pub records_removed: u64,
    pub batches_removed: u64,
}

/// A log's dirty section, as the cleaner manager sees it (Kafka's LogToClean).
#[derive(Debug, Clone, PartialEq)]
pub struct LogToClean {
    pub first_dirty_offset: i64,
    /// A segment boundary; the dirty section is `[first_dirty_offset, this)`.
    pub first_uncleanable_offset: i64,
    pub clean_bytes: u64,
    pub cleanable_bytes: u64,
    /// max.compaction.lag.ms has passed for the oldest dirty segment.
    pub need_compaction_now: bool,
}

impl LogToClean {
    /// Dirty bytes / all bytes up to the first uncleanable offset.
    pub fn cleanable_ratio(&self) -> f64 {
        let total = self.clean_bytes + self.cleanable_bytes;
        if total == 0 {
            0.0
        } else {
            self.cleanable_bytes as f64 / total as f64
        }
    }

    /// Whether the cleaner should clean the log now (Kafka's filter in
    /// `grabFilthiestCompactedLog`).
    pub fn should_clean(&self, min_cleanable_dirty_ratio: f64) -> bool {
        (self.need_compaction_now && self.cleanable_bytes > 0)
            || self.cleanable_ratio() > min_cleanable_dirty_ratio
    }
}

/// Where the next segment starts (the active segment's base for the last closed one).
fn next_base(snap: &LogSnapshot, i: usize) -> i64 {
    snap.inactive_segments()
        .get(i + 1)
        .map_or(snap.active_segment_base_offset(), |s| s.base_offset)
}

/// Kafka's `cleanableOffsets` and LogToClean for one log, at `now`, given its checkpoint.
pub fn log_to_clean(log: &PartitionLog, checkpoint: Option<i64>, now: i64) -> Result<LogToClean> {
    let snap = log.snapshot();
    let config = log.config();
    let first_dirty = match checkpoint {
        Some(c) if c >= snap.log_start_offset && c <= snap.log_end_offset => c,
        _ => snap.log_start_offset,
    };
    let inactive = snap.inactive_segments();
    let active_base = snap.active_segment_base_offset();
    // Closed segments holding data at or above the first dirty offset.
    let dirty: Vec<usize> = (0..inactive.len())
        .filter(|&i| next_base(&snap, i) > first_dirty)
        .collect();
    let mut uncleanable = snap.last_stable_offset.min(active_base);
    if config.min_compaction_lag_ms > 0 {
        let limit = now.saturating_sub(config.min_compaction_lag_ms);
        if let Some(&i) = dirty.iter().find(|&&i| inactive[i].max_timestamp > limit) {
            uncleanable = uncleanable.min(inactive[i].base_offset);
        }
    }
    // Round down to the base of the segment holding it.
    let first_uncleanable = inactive
        .iter()
        .enumerate()
        .find(|&(i, s)| s.base_offset <= uncleanable && next_base(&snap, i) > uncleanable)
        .map_or(active_base, |(_, s)| s.base_offset);
    let mut need_compaction_now = false;
    if config.max_compaction_lag_ms < i64::MAX {
        let until = now.saturating_sub(config.max_compaction_lag_ms.max(0));
        let mut earliest = i64::MAX;
        for &i in &dirty {
            if let Some(ts) = first_batch_timestamp(&inactive[i])? {
                if ts > 0 {
                    earliest = earliest.min(ts);
                }
            }
        }
        need_compaction_now = earliest < until;
    }
    let overlaps =
        |i: usize, from: i64, to: i64| inactive[i].base_offset < to && next_base(&snap, i) > from;
    let mut clean_bytes = 0;
    let mut cleanable_bytes = 0;
    for (i, s) in inactive.iter().enumerate() {
        if s.base_offset < first_dirty {
            clean_bytes += s.size;
        }
        if overlaps(i, first_dirty, first_uncleanable.max(first_dirty)) {
            cleanable_bytes += s.size;
        }
    }
    Ok(LogToClean {
        first_dirty_offset: first_dirty,
        first_uncleanable_offset: first_uncleanable.max(first_dirty),
        clean_bytes,
        cleanable_bytes,
        need_compaction_now,
    })
}

/// The max timestamp of a segment's first batch (Kafka's `getFirstBatchTimestamp`).
fn first_batch_timestamp(seg: &SegmentView) -> Result<Option<i64>> {
    if seg.size < HEADER_SIZE as u64 {
        return Ok(None);
    }
    let buf = seg.read_at(0, HEADER_SIZE)?;
    Ok(batch::parse_header(&buf).ok().map(|h| h.max_timestamp))
}

fn corrupt(seg: &SegmentView, position: u64, reason: impl ToString) -> StorageError {
    StorageError::CorruptRecord {
        path: seg.log_path.to_path_buf(),
        position,
        reason: reason.to_string(),
    }
}

/// Call `f(position, batch bytes)` for every whole batch of a segment, reading in chunks.
/// `f` returns false to stop.
fn for_each_batch(seg: &SegmentView, mut f: impl FnMut(u64, &[u8]) -> Result<bool>) -> Result<()> {
    let mut pos = 0u64;
    while pos < seg.size {
        let len = IO_CHUNK.min(seg.size - pos) as usize;
        let mut buf = seg.read_at(pos, len)?;
        let mut used = 0usize;
        while buf.len() - used >= HEADER_SIZE {
            let size = batch::batch_size(&buf[used..]).map_err(|e| corrupt(seg, pos, e))?;
            if used + size > buf.len() {
                if used == 0 {
                    // A batch bigger than the chunk: read it whole.
                    if pos + size as u64 > seg.size {
                        return Err(corrupt(seg, pos, "batch runs past the segment end"));
                    }
                    buf = seg.read_at(pos, size)?;
                    continue;
                }
                break;
            }
            if !f(pos + used as u64, &buf[used..used + size])? {
                return Ok(());
            }
            used += size;
        }
        if used == 0 {
            return Err(corrupt(seg, pos, "truncated batch"));
        }
        pos += used as u64;
    }
    Ok(())
}

/// The records section of a batch, decompressed if need be.
fn record_bytes<'a>(
    b: &RecordBatch<'a>,
    limit: usize,
    scratch: &'a mut Vec<u8>,
) -> std::result::Result<&'a [u8], String> {
    match b.compression().map_err(|e| e.to_string())? {
        Compression::None => Ok(b.records()),
        codec => {
            scratch.clear();
            compression::decompress_into(codec, b.records(), limit, scratch)
                .map_err(|e| e.to_string())?;
            Ok(&scratch[..])
        }
    }
}

/// Build the offset map over `[start, end)` (Kafka's `buildOffsetMap`). Returns whether the
/// map filled before `end`.
fn build_offset_map(
    snap: &LogSnapshot,
    start: i64,
    end: i64,
    map: &mut OffsetMap,
    config: &CleanerConfig,
    stats: &mut CleanStats,
) -> Result<bool> {
    map.clear();
    let mut txns = TxnMetadata::default();
    txns.add_aborted(&collect_aborted(snap, start, end)?);
    let mut scratch = Vec::new();
    let mut full = false;
    for (i, seg) in snap.inactive_segments().iter().enumerate() {
        if full || seg.base_offset >= end {
            break;
        }
        if next_base(snap, i) <= start {
            continue;
        }
        for_each_batch(seg, |pos, bytes| {
            let b = RecordBatch::parse(bytes).map_err(|e| corrupt(seg, pos, e))?;
            stats.map_bytes_read += bytes.len() as u64;
            if b.last_offset() < start {
                return Ok(true);
            }
            if b.is_control() {
                let marker = records::parse_end_txn_marker(&b).ok().flatten();
                txns.on_control_batch(&b, marker);
            } else if !txns.on_batch(&b) {
                let data = record_bytes(&b, config.max_decompressed_batch_bytes, &mut scratch)
                    .map_err(|e| corrupt(seg, pos, e))?;
                for r in records::records(data) {
                    let r = r.map_err(|e| corrupt(seg, pos, e))?;
                    let offset = b.base_offset() + i64::from(r.offset_delta);
                    if let (Some(key), true) = (r.key, offset >= start) {
                        if !map.put(key, offset) {
                            full = true;
                            return Ok(false);
                        }
                    }
                }
            }
            map.update_latest_offset(b.last_offset());
            Ok(true)
        })?;
        if !full {
            // Mapped whole: the map covers the segment's offset range, gaps included.
            map.update_latest_offset(next_base(snap, i).min(end) - 1);
        }
    }
    Ok(full)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchRetention {
    Delete,
    DeleteEmpty,
    RetainEmpty,
}

/// Filters one round's batches (Kafka's LogCleaner RecordFilter + MemoryRecords.filterTo).
struct Filter<'a> {
    map: &'a OffsetMap,
    now: i64,
    delete_retention_ms: i64,
    last_records: HashMap<i64, (Option<i64>, i16)>,
    txns: &'a mut TxnMetadata,
    /// The round's first uncleanable offset: the batch ending just below it stays (emptied if
    /// need be), so the log keeps its last offset before the uncleanable part.
    round_upper: i64,
    limit: usize,
    scratch: Vec<u8>,
}

impl Filter<'_> {
    /// Append the cleaned form of batch `b` (if anything of it stays) to `out`; returns the
    /// aborted transaction to index in the cleaned segment (its marker stayed).
    fn filter_batch(
        &mut self,
        b: &RecordBatch<'_>,
        out: &mut Vec<u8>,
        stats: &mut CleanStats,
    ) -> std::result::Result<Option<AbortedTxn>, String> {
        let horizon = b.has_delete_horizon().then(|| b.base_timestamp());
        let (can_discard, keep_txn, marker) = if b.is_control() {
            let marker = records::parse_end_txn_marker(b).ok().flatten();
            let (d, t) = self.txns.on_control_batch(b, marker);
            (d, t, true)
        } else {
            (self.txns.on_batch(b), None, false)
        };
        let discard_records = if marker {
            can_discard && horizon.is_some_and(|h| h <= self.now)
        } else {
            can_discard
        };
        let last_of_producer = b.has_producer_id()
            && self
                .last_records
                .get(&b.producer_id())
                .is_some_and(|(last_data, epoch)| match last_data {
                    Some(offset) => b.last_offset() == *offset,
                    None => b.is_control() && b.producer_epoch() == *epoch,
                });
        let retention = if last_of_producer || b.next_offset() == self.round_upper {
            BatchRetention::RetainEmpty
        } else if discard_records {
            BatchRetention::Delete
        } else {
            BatchRetention::DeleteEmpty
        };
        let marker_for_empty_txn = can_discard && b.is_control();
        let count = u64::try_from(b.records_count()).unwrap_or(0);
        stats.records_read += count;
        if retention == BatchRetention::Delete {
            stats.records_removed += count;
            stats.batches_removed += 1;
            return Ok(None);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = (|| {
            let data = record_bytes(b, self.limit, &mut scratch)?;
            let mut retained: Vec<Record<'_>> = Vec::new();
            let mut all = 0u64;
            let mut tombstones = false;
            for r in records::records(data) {
                let r = r.map_err(|e| e.to_string())?;
                all += 1;
                if !discard_records && (b.is_control() || self.retain_record(b, &r, horizon)) {
                    tombstones |= r.value.is_none();
                    retained.push(r);
                }
            }
            stats.records_removed += all - retained.len() as u64;
            let need_horizon = (tombstones || marker_for_empty_txn) && horizon.is_none();
            if !retained.is_empty() {
                if retained.len() as u64 == all && !need_horizon {
                    out.extend_from_slice(b.as_bytes());
                } else {
                    let h = if need_horizon {
                        Some(self.now.saturating_add(self.delete_retention_ms))
                    } else {
                        horizon
                    };
                    encode_retained(b, &retained, h, out)?;
                }
            } else if retention == BatchRetention::RetainEmpty {
                encode_empty(b, out);
            } else {
                stats.batches_removed += 1;
            }
            Ok(keep_txn)
        })();
        self.scratch = scratch;
        result
    }

    /// Kafka's `shouldRetainRecord` for a data record.
    fn retain_record(&self, b: &RecordBatch<'_>, r: &Record<'_>, horizon: Option<i64>) -> bool {
        let offset = b.base_offset() + i64::from(r.offset_delta);
        if offset > self.map.latest_offset() {
            return true;
        }
        let Some(key) = r.key else {
            // A record without a key has no place in a compacted log.
            return false;
        };
        let latest = self.map.get(key).is_none_or(|found| offset >= found);
        let retain_deletes = horizon.is_none_or(|h| self.now < h);
        latest && (r.value.is_some() || retain_deletes)
    }
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            put_varint(out, b.len() as i64);
            out.extend_from_slice(b);
        }
        None => put_varint(out, -1),
    }
}

/// Write a batch header and fill in length and CRC.
#[allow(clippy::too_many_arguments)]
fn write_batch(
    orig: &RecordBatch<'_>,
    attributes: i16,
    base_timestamp: i64,
    max_timestamp: i64,
    count: i32,
    records: &[u8],
    out: &mut Vec<u8>,
) {
    let start = out.len();
    out.extend_from_slice(&orig.base_offset().to_be_bytes());
    let length = (HEADER_SIZE - LOG_OVERHEAD + records.len()) as i32;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&orig.partition_leader_epoch().to_be_bytes());
    out.push(2);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&attributes.to_be_bytes());
    out.extend_from_slice(&orig.last_offset_delta().to_be_bytes());
    out.extend_from_slice(&base_timestamp.to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&orig.producer_id().to_be_bytes());
    out.extend_from_slice(&orig.producer_epoch().to_be_bytes());
    out.extend_from_slice(&orig.base_sequence().to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(records);
    let crc = crc32c::crc32c(&out[start + ATTRIBUTES_OFFSET..]);
    out[start + CRC_OFFSET..start + CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Kafka's `buildRetainedRecordsInto`: the kept records in a batch with the original's base
/// and last offset, producer fields, codec and timestamp type; the base timestamp is the
/// delete horizon if there is one (bit 6 set), else the first record's timestamp.
fn encode_retained(
    orig: &RecordBatch<'_>,
    retained: &[Record<'_>],
    horizon: Option<i64>,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let ts = |r: &Record<'_>| orig.base_timestamp().saturating_add(r.timestamp_delta);
    let base_ts = horizon.unwrap_or_else(|| retained.first().map_or(-1, ts));
    let mut plain = Vec::new();
    let mut body = Vec::new();
    let mut max_ts = i64::MIN;
    for r in retained {
        let t = ts(r);
        max_ts = max_ts.max(t);
        body.clear();
        body.push(r.attributes as u8);
        put_varint(&mut body, t.wrapping_sub(base_ts));
        put_varint(&mut body, i64::from(r.offset_delta));
        put_bytes(&mut body, r.key);
        put_bytes(&mut body, r.value);
        put_varint(&mut body, i64::from(r.header_count));
        body.extend_from_slice(r.headers);
        put_varint(&mut plain, body.len() as i64);
        plain.extend_from_slice(&body);
    }
    let codec = orig.compression().map_err(|e| e.to_string())?;
    let mut records = Vec::new();
    compression::compress_into(codec, None, &plain, &mut records).map_err(|e| e.to_string())?;
    if orig.timestamp_type() == TimestampType::LogAppendTime {
        max_ts = orig.max_timestamp();
    }
    let mut attributes = orig.attributes() & !DELETE_HORIZON_BIT;
    if horizon.is_some() {
        attributes |= DELETE_HORIZON_BIT;
    }
    write_batch(
        orig,
        attributes,
        base_ts,
        max_ts,
        retained.len() as i32,
        &records,
        out,
    );
    Ok(())
}

/// Kafka's `writeEmptyHeader`: a batch with no records that keeps the original's offsets,
/// producer fields and sequence (for producer state), uncompressed.
fn encode_empty(orig: &RecordBatch<'_>, out: &mut Vec<u8>) {
    let mut attributes = orig.attributes() & (TRANSACTIONAL_BIT | CONTROL_BIT);
    if orig.timestamp_type() == TimestampType::LogAppendTime {
        attributes |= TIMESTAMP_TYPE_BIT;
    }
    write_batch(orig, attributes, -1, orig.max_timestamp(), 0, &[], out);
}

/// Consecutive segments (indexes into the snapshot's closed segments) that fit in one
/// segment (Kafka's `groupSegmentsBySize`).
fn group_segments(
    snap: &LogSnapshot,
    count: usize,
    max_size: u64,
    max_index_size: u64,
) -> Vec<Vec<usize>> {
    let segs = snap.inactive_segments();
    let mut groups = Vec::new();
    let mut i = 0;
    while i < count {
        let mut group = vec![i];
        let mut size = segs[i].size;
        let mut index = segs[i].offset_index.entries() * 8;
        let mut time_index = segs[i].time_index.entries() * 12;
        let first_base = segs[i].base_offset;
        i += 1;
        while i < count {
            let s = &segs[i];
            let last_offset = next_base(snap, i) - 1;
            if size + s.size > max_size
                || index + s.offset_index.entries() * 8 > max_index_size
                || time_index + s.time_index.entries() * 12 > max_index_size
                || last_offset - first_base > i64::from(i32::MAX)
            {
                break;
            }
            size += s.size;
            index += s.offset_index.entries() * 8;
            time_index += s.time_index.entries() * 12;
            group.push(i);
            i += 1;
        }
        groups.push(group);
    }
    groups
}

/// Remove leftover `.cleaned` files of `base` (an earlier round that failed).
fn remove_stale_cleaned(dir: &std::path::Path, base: i64) -> Result<()> {
    use crate::segment::{index_file, log_file, time_index_file};
    for p in [
        log_file(dir, base),
        index_file(dir, base),
        time_index_file(dir, base),
        txn_index_file(dir, base),
    ] {
        let p = add_suffix(&p, CLEANED_FILE_SUFFIX);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StorageError::Io { path: p, source }),
        }
    }
    Ok(())
}

/// Clean one log's `[first_dirty, first_uncleanable)` section and every closed segment below
/// it (Kafka's `Cleaner.doClean`). Returns None when nothing was cleaned (nothing to map, or
/// the log's segments changed under the round, which is then abandoned).
pub fn clean_log(
    log: &PartitionLog,
    to_clean: &LogToClean,
    map: &mut OffsetMap,
    config: &CleanerConfig,
    now: i64,
) -> Result<Option<CleanStats>> {
    let snap = log.snapshot();
    let log_config = log.config();
    let mut stats = CleanStats::default();
    let start = to_clean.first_dirty_offset;
    let upper = to_clean.first_uncleanable_offset;
    if start >= upper {
        return Ok(None);
    }
    stats.map_full = build_offset_map(&snap, start, upper, map, config, &mut stats)?;
    let end = map.latest_offset() + 1;
    if end <= start {
        tracing::warn!(
            "{}: the offset map ({} keys) cannot hold one batch at {start}; not cleaning",
            log.topic_partition(),
            map.max_entries()
        );
        return Ok(None);
    }
    stats.end_offset = end;
    let segs = snap.inactive_segments();
    let count = segs.iter().take_while(|s| s.base_offset < end).count();
    let groups = group_segments(
        &snap,
        count,
        u64::from(log_config.segment_bytes),
        u64::from(log_config.segment_index_bytes),
    );
    let mut txns = TxnMetadata::default();
    for group in groups {
        // Kafka keeps the last replaced segment's modification time on the cleaned one.
        let mtime = group
            .last()
            .and_then(|&i| segs[i].log.metadata().ok())
            .and_then(|m| m.modified().ok());
        let views: Vec<SegmentView> = group.iter().map(|&i| segs[i].clone()).collect();
        let base = views[0].base_offset;
        remove_stale_cleaned(log.dir(), base)?;
        let mut cleaned = LogSegment::create_with_suffix(
            log.dir(),
            base,
            CLEANED_FILE_SUFFIX,
            log_config.index_interval_bytes,
            log_config.segment_index_bytes,
            now,
        )?;
        let res = (|| -> Result<()> {
            let mut filter = Filter {
                map,
                now,
                delete_retention_ms: log_config.delete_retention_ms,
                last_records: log.last_records_of_active_producers(),
                txns: &mut txns,
                round_upper: upper,
                limit: config.max_decompressed_batch_bytes,
                scratch: Vec::new(),
            };
            let mut out = Vec::new();
            for &i in &group {
                let seg = &segs[i];
                filter.txns.add_aborted(&collect_aborted(
                    &snap,
                    seg.base_offset,
                    next_base(&snap, i),
                )?);
                for_each_batch(seg, |pos, bytes| {
                    let b = RecordBatch::parse(bytes).map_err(|e| corrupt(seg, pos, e))?;
                    stats.bytes_read += bytes.len() as u64;
                    let keep = filter
                        .filter_batch(&b, &mut out, &mut stats)
                        .map_err(|e| corrupt(seg, pos, e))?;
                    if let Some(txn) = keep {
                        // The marker is in `out` or already written: index it with them.
                        cleaned.append(&out)?;
                        stats.bytes_written += out.len() as u64;
                        out.clear();
                        cleaned.append_aborted_txn(&txn)?;
                    }
                    if out.len() as u64 >= IO_CHUNK {
                        cleaned.append(&out)?;
                        stats.bytes_written += out.len() as u64;
                        out.clear();
                    }
                    Ok(true)
                })?;
            }
            cleaned.append(&out)?;
            stats.bytes_written += out.len() as u64;
            cleaned.on_become_inactive()?;
            cleaned.flush()?;
            if let Some(t) = mtime {
                cleaned.set_last_modified(t)?;
            }
            Ok(())
        })();
        if let Err(e) = res {
            let _ = cleaned.delete();
            return Err(e);
        }
        if !log.replace_segments(cleaned, &views)? {
            tracing::info!(
                "{}: segments changed while cleaning; round abandoned",
                log.topic_partition()
            );
            return Ok(None);
        }
        stats.segments_cleaned += views.len();
    }
    Ok(Some(stats))
}

/// What one pass over all logs did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanerPassSummary {
    /// Logs cleaned, with their stats.
    pub cleaned: Vec<(TopicPartition, CleanStats)>,
}

/// The cleaner: one offset map (log.cleaner.threads = 1), used by one pass at a time.
#[derive(Debug)]
pub struct LogCleaner {
    /// Reconfigurable while running, as Kafka's cleaner (log.cleaner.* are dynamic configs).
    config: std::sync::Mutex<CleanerConfig>,
    map: std::sync::Mutex<OffsetMap>,
    /// Logs that failed to clean (Kafka's uncleanable partitions), skipped from then on.
    uncleanable: std::sync::Mutex<HashSet<TopicPartition>>,
}

impl LogCleaner {
    pub fn new(config: CleanerConfig) -> Self {
        let map = OffsetMap::new(config.dedupe_buffer_size, config.dedupe_buffer_load_factor);
        Self {
            config: std::sync::Mutex::new(config),
            map: std::sync::Mutex::new(map),
            uncleanable: std::sync::Mutex::new(HashSet::new()),
        }
    }

    pub fn config(&self) -> CleanerConfig {
        crate::log::lock(&self.config).clone()
    }

    /// New dedupe settings (log.cleaner.dedupe.buffer.size, log.cleaner.io.buffer.load.factor
    /// changed dynamically): the offset map is rebuilt with them, at the latest when the pass
    /// running now ends. Nothing happens when they are unchanged.
    pub fn reconfigure(&self, dedupe_buffer_size: usize, dedupe_buffer_load_factor: f64) {
        let mut config = crate::log::lock(&self.config);
        if config.dedupe_buffer_size == dedupe_buffer_size
            && config.dedupe_buffer_load_factor == dedupe_buffer_load_factor
        {
            return;
        }
        config.dedupe_buffer_size = dedupe_buffer_size;
        config.dedupe_buffer_load_factor = dedupe_buffer_load_factor;
        let fresh = OffsetMap::new(dedupe_buffer_size, dedupe_buffer_load_factor);
        drop(config);
        *crate::log::lock(&self.map) = fresh;
    }

    /// One pass (what Kafka's cleaner thread does until it backs off): repeatedly take the
    /// filthiest compacted log that should be cleaned, clean it and checkpoint it; each log
    /// at most once. Blocks on file I/O: run it on a blocking thread.
    pub fn clean_once(&self, manager: &LogManager) -> CleanerPassSummary {
        let mut map = crate::log::lock(&self.map);
        let mut summary = CleanerPassSummary::default();
        // Logs cleaned in this pass; one whose offset map filled may go again (it progressed).
        let mut done: HashSet<TopicPartition> = HashSet::new();
        loop {
            let now = manager.now_ms();
            let mut best: Option<(f64, Arc<PartitionLog>, LogToClean)> = None;
            for log in manager.all_logs() {
                let tp = log.topic_partition();
                let config = log.config();
                if !config.cleanup_policy_compact
                    || done.contains(tp)
                    || crate::log::lock(&self.uncleanable).contains(tp)
                    || log.is_offline()
                {
                    continue;
                }
                let to_clean = match log_to_clean(&log, manager.cleaner_checkpoint(tp), now) {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::error!("cleaner: {tp}: {e}");
                        continue;
                    }
                };
                if !to_clean.should_clean(config.min_cleanable_dirty_ratio) {
                    continue;
                }
                let ratio = to_clean.cleanable_ratio();
                if best.as_ref().is_none_or(|(r, _, _)| ratio > *r) {
                    best = Some((ratio, log, to_clean));
                }
            }
            let Some((_, log, to_clean)) = best else {
                break;
            };
            let tp = log.topic_partition().clone();
            let config = self.config();
            match clean_log(&log, &to_clean, &mut map, &config, now) {
                Ok(Some(stats)) => {
                    if !stats.map_full {
                        done.insert(tp.clone());
                    }
                    tracing::info!(
                        "cleaned {tp}: {} segment(s), {} of {} records removed, {} -> {} bytes, \
                         checkpoint {}{}",
                        stats.segments_cleaned,
                        stats.records_removed,
                        stats.records_read,
                        stats.bytes_read,
                        stats.bytes_written,
                        stats.end_offset,
                        if stats.map_full {
                            " (offset map full)"
                        } else {
                            ""
                        }
                    );
                    if let Err(e) = manager.update_cleaner_checkpoint(&log, stats.end_offset) {
                        tracing::error!("cleaner checkpoint for {tp}: {e}");
                    }
                    summary.cleaned.push((tp, stats));
                }
                Ok(None) => {
                    done.insert(tp);
                }
                // Deleted (or closed) meanwhile: nothing to mark.
                Err(_) if !manager.get_log(&tp).is_some_and(|l| Arc::ptr_eq(&l, &log)) => {
                    done.insert(tp);
                }
                Err(e) => {
                    tracing::error!("cleaning {tp} failed, marking it uncleanable: {e}");
                    done.insert(tp.clone());
                    crate::log::lock(&self.uncleanable).insert(tp);
                }
            }
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LogConfig;
    use crate::log::{LoadParams, TxnMarker};
    use crate::time::{MockTime, Time};
    use sluice_protocol::batch::{encode_batch_with, KeyValue};
    use std::path::Path;

    const T0: i64 = 1_700_000_000_000;
    const HOUR: i64 = 3_600_000;

    fn compact_config() -> LogConfig {
        LogConfig {
            segment_bytes: 600,
            index_interval_bytes: 64,
            segment_index_bytes: 1024,
            cleanup_policy_delete: false,
            cleanup_policy_compact: true,
            min_cleanable_dirty_ratio: 0.01,
            delete_retention_ms: HOUR,
            file_delete_delay_ms: 0,
            ..LogConfig::default()
        }
    }

    fn tp() -> TopicPartition {
        TopicPartition::new("c", 0)
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        time: Arc<MockTime>,
        manager: LogManager,
        log: Arc<PartitionLog>,
    }

    fn fixture(config: LogConfig) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let time = Arc::new(MockTime::new(T0));
        let manager =
            LogManager::open(vec![dir.path().to_path_buf()], config.clone(), time.clone()).unwrap();
        let log = manager
            .get_or_create_log(&tp(), crate::kafka_uuid::random(), Some(config))
            .unwrap();
        Fixture {
            _dir: dir,
            time,
            manager,
            log,
        }
    }

    /// Append one batch of (key, value) records (None value: tombstone).
    fn put(log: &PartitionLog, entries: &[(Option<&str>, Option<&str>)], ts: i64) -> i64 {
        let kv: Vec<KeyValue<'_>> = entries
            .iter()
            .map(|(k, v)| (k.map(str::as_bytes), v.map(str::as_bytes)))
            .collect();
        let mut b = encode_batch_with(&kv, ts, 0, -1, -1, -1);
        log.append_as_leader(&mut b, 0).unwrap().first_offset
    }

    /// A batch with its records section compressed with `codec`.
    fn compressed(entries: &[KeyValue<'_>], ts: i64, codec: Compression) -> Vec<u8> {
        let plain = encode_batch_with(entries, ts, 0, -1, -1, -1);
        let mut records = Vec::new();
        compression::compress_into(codec, None, &plain[HEADER_SIZE..], &mut records).unwrap();
        let orig = RecordBatch::parse(&plain).unwrap();
        let mut out = Vec::new();
        write_batch(
            &orig,
            codec.id(),
            orig.base_timestamp(),
            orig.max_timestamp(),
            orig.records_count(),
            &records,
            &mut out,
        );
        out
    }

    /// (offset, key, value, batch codec, batch is control) of a record read back.
    type Rec = (i64, Option<String>, Option<String>, Compression, bool);

    /// Every record readable now, checking every batch's CRC.
    fn read_records(log: &PartitionLog) -> Vec<Rec> {
        let mut out = Vec::new();
        let mut offset = log.log_start_offset();
        let end = log.high_watermark();
        while offset < end {
            let info = log.read(offset, 1 << 20, true, None).unwrap();
            if info.is_empty() {
                break;
            }
            for chunk in &info.records {
                for b in batch::batches(chunk) {
                    let b = b.unwrap();
                    let b = RecordBatch::parse_stored(b.as_bytes()).expect("valid batch");
                    let codec = b.compression().unwrap();
                    let mut scratch = Vec::new();
                    let data = record_bytes(&b, 1 << 24, &mut scratch).unwrap();
                    let mut n = 0;
                    for r in records::records(data) {
                        let r = r.unwrap();
                        n += 1;
                        let s = |x: Option<&[u8]>| x.map(|v| String::from_utf8_lossy(v).into());
                        out.push((
                            b.base_offset() + i64::from(r.offset_delta),
                            s(r.key),
                            s(r.value),
                            codec,
                            b.is_control(),
                        ));
                    }
                    assert_eq!(n, b.records_count());
                    offset = b.next_offset();
                }
            }
        }
        out
    }

    fn kv(recs: &[Rec]) -> Vec<String> {
        recs.iter()
            .filter(|r| !r.4)
            .map(|r| {
                format!(
                    "{}:{}={}",
                    r.0,
                    r.1.as_deref().unwrap_or("null"),
                    r.2.as_deref().unwrap_or("null")
                )
            })
            .collect()
    }

    fn clean(f: &Fixture, cleaner: &LogCleaner) -> Option<CleanStats> {
        cleaner
            .clean_once(&f.manager)
            .cleaned
            .into_iter()
            .find(|(t, _)| *t == tp())
            .map(|(_, s)| s)
    }

    #[test]
    fn offset_map_keeps_latest_offset_and_fills_at_the_load_factor() {
        let mut m = OffsetMap::new(OFFSET_MAP_SLOT_BYTES * 100, 0.9);
        assert_eq!(m.max_entries(), 90);
        for i in 0..90i64 {
            assert!(m.put(format!("k{i}").as_bytes(), i));
        }
        assert!(m.is_full());
        assert!(!m.put(b"new", 1000), "a new key is refused when full");
        assert!(m.put(b"k3", 500), "an existing key is updated");
        assert_eq!(m.get(b"k3"), Some(500));
        assert_eq!(m.get(b"k89"), Some(89));
        assert_eq!(m.get(b"absent"), None);
        m.clear();
        assert_eq!(m.size(), 0);
        assert_eq!(m.get(b"k3"), None);
    }

    #[test]
    fn dedupe_keeps_the_latest_value_per_key_and_offsets_unchanged() {
        let f = fixture(compact_config());
        let log = &f.log;
        let mut latest = HashMap::new();
        for round in 0..6 {
            for k in 0..5 {
                let key = format!("k{k}");
                let value = format!("v{round}");
                let off = put(log, &[(Some(&key), Some(&value))], T0);
                latest.insert(key, (off, value));
            }
        }
        log.roll_now().unwrap();
        assert!(log.segment_base_offsets().len() > 3);
        let before = read_records(log);
        assert_eq!(before.len(), 30);
        let cleaner = LogCleaner::new(CleanerConfig::default());
        let stats = clean(&f, &cleaner).expect("cleaned");
        assert_eq!(stats.end_offset, 30);
        assert_eq!(stats.records_removed, 25);
        let after = read_records(log);
        let mut want: Vec<String> = latest
            .iter()
            .map(|(k, (o, v))| format!("{o}:{k}={v}"))
            .collect();
        want.sort_by_key(|s| s.split(':').next().unwrap().parse::<i64>().unwrap());
        assert_eq!(kv(&after), want);
        // Offsets unchanged, log end unchanged, checkpoint written in Kafka's format.
        assert_eq!(log.log_end_offset(), 30);
        let cp = std::fs::read_to_string(
            log.dir()
                .parent()
                .unwrap()
                .join(crate::checkpoint::CLEANER_OFFSET_CHECKPOINT_FILE),
        )
        .unwrap();
        assert_eq!(cp, "0\n1\nc 0 30\n");
        // Nothing left to clean: a second pass does nothing.
        assert!(clean(&f, &cleaner).is_none());
        // The old segment files went through `.deleted` and are removed (delay 0).
        let names = files(log.dir());
        assert!(
            names
                .iter()
                .all(|n| !n.ends_with(".deleted") && !n.ends_with(".cleaned")),
            "{names:?}"
        );
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn compact_and_delete_logs_get_both_retention_and_cleaning() {
        let f = fixture(LogConfig {
            cleanup_policy_delete: true,
            retention_ms: HOUR,
            ..compact_config()
        });
        let log = &f.log;
        // Old data (two hours ago), then new data with duplicate keys.
        for i in 0..6 {
            put(
                log,
                &[(Some(&format!("old{}", i % 2)), Some("v"))],
                T0 - 2 * HOUR,
            );
        }
        log.roll_now().unwrap();
        let new_from = log.log_end_offset();
        for i in 0..6 {
            put(
                log,
                &[(Some(&format!("k{}", i % 2)), Some(&i.to_string()))],
                T0,
            );
        }
        log.roll_now().unwrap();
        let cleaner = LogCleaner::new(CleanerConfig::default());
        clean(&f, &cleaner).expect("cleaned");
        assert_eq!(
            kv(&read_records(log)),
            ["4:old0=v", "5:old1=v", "10:k0=4", "11:k1=5"]
        );
        assert_eq!(f.manager.cleaner_checkpoint(&tp()), Some(12));
        // Retention removes the old segment(s); the log start moves past the checkpoint's
        // segments, and the next round starts from the log start.
        assert!(log.delete_old_segments().unwrap() > 0);
        assert!(log.log_start_offset() >= new_from);
        assert_eq!(kv(&read_records(log)), ["10:k0=4", "11:k1=5"]);
        let t = log_to_clean(log, Some(0), T0).unwrap();
        assert_eq!(t.first_dirty_offset, log.log_start_offset());
    }

    #[test]
    fn the_active_segment_is_never_cleaned() {
        let f = fixture(compact_config());
        for _ in 0..3 {
            put(&f.log, &[(Some("k"), Some("v"))], T0);
        }
        assert_eq!(f.log.segment_base_offsets().len(), 1);
        let cleaner = LogCleaner::new(CleanerConfig::default());
        assert!(clean(&f, &cleaner).is_none());
        assert_eq!(read_records(&f.log).len(), 3);
    }

    #[test]
    fn tombstones_go_only_after_delete_retention_ms() {
        let f = fixture(compact_config());
        let log = &f.log;
        put(log, &[(Some("a"), Some("1")), (Some("b"), Some("1"))], T0);
        put(log, &[(Some("a"), None)], T0);
        log.roll_now().unwrap();
        let cleaner = LogCleaner::new(CleanerConfig::default());
        clean(&f, &cleaner).expect("round 1");
        assert_eq!(kv(&read_records(log)), ["1:b=1", "2:a=null"]);
        // Recovery after a crash accepts the rewritten batch (fewer records than offsets).
        log.flush().unwrap();
        let copy = tempfile::tempdir().unwrap();
        copy_dir(log.dir(), copy.path());
        let reopened = reopen(copy.path(), f.time.clone());
        assert_eq!(kv(&read_records(&reopened)), ["1:b=1", "2:a=null"]);
        // The tombstone's batch now carries its delete horizon: now + delete.retention.ms.
        let info = log.read(2, 1 << 20, true, None).unwrap().into_bytes();
        let b = RecordBatch::parse(&info).unwrap();
        assert!(b.has_delete_horizon());
        assert_eq!(b.base_timestamp(), T0 + HOUR);
        // Before the horizon, another round keeps it.
        f.time.sleep(HOUR - 1);
        put(log, &[(Some("c"), Some("1"))], T0);
        log.roll_now().unwrap();
        clean(&f, &cleaner).expect("round 2");
        assert_eq!(kv(&read_records(log)), ["1:b=1", "2:a=null", "3:c=1"]);
        // At the horizon it goes.
        f.time.sleep(1);
        put(log, &[(Some("d"), Some("1"))], T0);
        log.roll_now().unwrap();
        clean(&f, &cleaner).expect("round 3");
        assert_eq!(kv(&read_records(log)), ["1:b=1", "3:c=1", "4:d=1"]);
    }

    #[test]
    fn min_compaction_lag_holds_back_recent_segments() {
        let f = fixture(LogConfig {
            min_compaction_lag_ms: HOUR,
            ..compact_config()
        });
        let log = &f.log;
        for _ in 0..4 {
            put(log, &[(Some("k"), Some("v"))], T0);
        }
        log.roll_now().unwrap();
        let cleaner = LogCleaner::new(CleanerConfig::default());
        let to_clean = log_to_clean(log, None, f.time.milliseconds()).unwrap();
        assert_eq!(to_clean.first_uncleanable_offset, 0);
        assert!(clean(&f, &cleaner).is_none());
        assert_eq!(read_records(log).len(), 4);
        f.time.sleep(HOUR + 1);
        clean(&f, &cleaner).expect("cleaned once the lag has passed");
        assert_eq!(kv(&read_records(log)), ["3:k=v"]);
    }

    #[test]
    fn max_compaction_lag_cleans_below_the_dirty_ratio() {
        let f = fixture(LogConfig {
            min_cleanable_dirty_ratio: 0.99,
            max_compaction_lag_ms: HOUR,
            ..compact_config()
        });
        let log = &f.log;
        put(log, &[(Some("k"), Some("v")), (Some("k"), Some("w"))], T0);
        log.roll_now().unwrap();
        // Clean section first, so the ratio stays below 0.99.
        f.manager.update_cleaner_checkpoint(log, 0).unwrap();
        let cleaner = LogCleaner::new(CleanerConfig::default());
        let t = log_to_clean(log, Some(0), f.time.milliseconds()).unwrap();
        assert!(!t.need_compaction_now);
        assert!(t.should_clean(0.99), "all dirty: ratio 1.0 > 0.99");
        assert!(!t.should_clean(1.0));
        f.time.sleep(HOUR + 1);
        let t = log_to_clean(log, Some(0), f.time.milliseconds()).unwrap();
        assert!(t.need_compaction_now);
        assert!(t.should_clean(1.0));
        clean(&f, &cleaner).expect("cleaned");
    }

    #[test]
    fn dirty_ratio_selects_what_to_clean() {
        let f = fixture(LogConfig {
            min_cleanable_dirty_ratio: 0.5,
            ..compact_config()
        });
        let log = &f.log;
        for i in 0..8 {
            put(log, &[(Some(&format!("k{i}")), Some("v"))], T0);
        }
        log.roll_now().unwrap();
        let cleaner = LogCleaner::new(CleanerConfig::default());
        clean(&f, &cleaner).expect("all dirty: ratio 1");
        // One small new segment: dirty ratio well below 0.5.
        put(log, &[(Some("k0"), Some("w"))], T0);
        log.roll_now().unwrap();
        let t = log_to_clean(log, f.manager.cleaner_checkpoint(&tp()), T0).unwrap();
        assert_eq!(t.first_dirty_offset, 8);
        assert_eq!(t.first_uncleanable_offset, 9);
        assert!(t.cleanable_ratio() > 0.0 && t.cleanable_ratio() < 0.5);
        assert!(!t.should_clean(0.5));
        assert!(clean(&f, &cleaner).is_none());
        // Lower the threshold (a topic config change): now it is cleaned.
        log.update_config(LogConfig {
            min_cleanable_dirty_ratio: 0.01,
            ..compact_config()
        })
        .unwrap();
        clean(&f, &cleaner).expect("cleaned");
        assert_eq!(read_records(log).first().map(|r| r.0), Some(1));
    }

    #[test]
    fn the_filthiest_log_is_cleaned_first_and_delete_only_logs_never() {
        let f = fixture(compact_config());
        let other = f
            .manager
            .get_or_create_log(
                &TopicPartition::new("c", 1),
                crate::kafka_uuid::random(),
                Some(compact_config()),
            )
            .unwrap();
        let plain = f
            .manager
            .get_or_create_log(
                &TopicPartition::new("d", 0),
                crate::kafka_uuid::random(),
                Some(LogConfig {
                    cleanup_policy_compact: false,
                    cleanup_policy_delete: true,
                    ..compact_config()
                }),
            )
            .unwrap();
        for l in [&f.log, &other, &plain] {
            for _ in 0..3 {
                put(l, &[(Some("k"), Some("v"))], T0);
            }
            l.roll_now().unwrap();
        }
        // c-0: its first segment is clean already (checkpoint), so half its bytes are dirty;
        // c-1 is all dirty, so it goes first.
        for _ in 0..3 {
            put(&f.log, &[(Some("k"), Some("v"))], T0);
        }
        f.log.roll_now().unwrap();
        f.manager.update_cleaner_checkpoint(&f.log, 3).unwrap();
        let ratio = log_to_clean(&f.log, Some(3), T0).unwrap().cleanable_ratio();
        assert!((ratio - 0.5).abs() < 1e-9, "{ratio}");
        let cleaner = LogCleaner::new(CleanerConfig::default());
        let s = cleaner.clean_once(&f.manager);
        let cleaned: Vec<String> = s.cleaned.iter().map(|(t, _)| t.to_string()).collect();
        assert_eq!(cleaned, ["c-1", "c-0"]);
        assert_eq!(read_records(&plain).len(), 3);
    }

    fn txn_batch(log: &PartitionLog, pid: i64, seq: i32, entries: &[KeyValue<'_>]) -> i64 {
        let mut b = encode_batch_with(entries, T0, TRANSACTIONAL_BIT, pid, 0, seq);
        log.append_as_coordinator(&mut b, 0).unwrap().first_offset
    }

    fn marker(log: &PartitionLog, pid: i64, commit: bool) -> i64 {
        log.append_control_marker(
            &TxnMarker {
                producer_id: pid,
                producer_epoch: 0,
                coordinator_epoch: 0,
                commit,
                transaction_version: 0,
            },
            0,
        )
        .unwrap()
        .first_offset
    }

    #[test]
    fn aborted_transactions_are_dropped_and_their_markers_removed_after_the_horizon() {
        let f = fixture(LogConfig {
            segment_bytes: 10_000,
            ..compact_config()
        });
        let log = &f.log;
        put(log, &[(Some("x"), Some("plain"))], T0); // 0
        txn_batch(
            log,
            7,
            0,
            &[(Some(b"a"), Some(b"aborted")), (Some(b"x"), Some(b"ab"))],
        ); // 1-2
        let abort = marker(log, 7, false); // 3
        txn_batch(log, 7, 2, &[(Some(b"c"), Some(b"committed"))]); // 4
        let commit = marker(log, 7, true); // 5
        put(log, &[(Some("d"), Some("1"))], T0); // 6
        log.roll_now().unwrap();
        assert_eq!(
            log.read_committed(0, 1 << 20, true)
                .unwrap()
                .aborted_transactions
                .map(|a| a.len()),
            Some(1)
        );
        let cleaner = LogCleaner::new(CleanerConfig::default());
        clean(&f, &cleaner).expect("round 1");
        let recs = read_records(log);
        assert_eq!(kv(&recs), ["0:x=plain", "4:c=committed", "6:d=1"]);
        let markers: Vec<i64> = recs.iter().filter(|r| r.4).map(|r| r.0).collect();
        assert_eq!(
            markers,
            [abort, commit],
            "the abort marker stays while its data was seen"
        );
        // Its .txnindex entry moved to the cleaned segment.
        let aborted = log
            .read_committed(0, 1 << 20, true)
            .unwrap()
            .aborted_transactions;
        assert_eq!(aborted.map(|a| a.len()), Some(1));
        // Round 2: the aborted data is gone, the marker gets a delete horizon.
        put(log, &[(Some("e"), Some("1"))], T0);
        log.roll_now().unwrap();
        clean(&f, &cleaner).expect("round 2");
        let markers: Vec<i64> = read_records(log)
            .iter()
            .filter(|r| r.4)
            .map(|r| r.0)
            .collect();
        assert_eq!(markers, [abort, commit]);
        // Round 3, past delete.retention.ms: the abort marker goes; the commit marker stays
        // while its transaction's record does.
        f.time.sleep(HOUR);
        put(log, &[(Some("g"), Some("1"))], T0);
        log.roll_now().unwrap();
        clean(&f, &cleaner).expect("round 3");
        let recs = read_records(log);
        let markers: Vec<i64> = recs.iter().filter(|r| r.4).map(|r| r.0).collect();
        assert_eq!(markers, [commit]);
        assert_eq!(
            kv(&recs),
            ["0:x=plain", "4:c=committed", "6:d=1", "7:e=1", "8:g=1"]
        );
        // Producer state survives a reopen of the cleaned log.
        assert_eq!(log.log_end_offset(), 9);
    }

    #[test]
    fn the_last_batch_of_an_active_producer_is_kept_empty() {
        let f = fixture(LogConfig {
            segment_bytes: 10_000,
            ..compact_config()
        });
        let log = &f.log;
        // An idempotent producer's batch whose only record is superseded later.
        let mut b = encode_batch_with(&[(Some(b"k"), Some(b"old"))], T0, 0, 9, 0, 0);
        let first = log.append_as_leader(&mut b, 0).unwrap().first_offset;
        put(log, &[(Some("k"), Some("new"))], T0);
        log.roll_now().unwrap();
        let cleaner = LogCleaner::new(CleanerConfig::default());
        clean(&f, &cleaner).expect("cleaned");
        let info = log.read(0, 1 << 20, true, None).unwrap().into_bytes();
        let batches: Vec<_> = batch::batches(&info).map(|b| b.unwrap()).collect();
        assert_eq!(batches.len(), 2);
        let empty = RecordBatch::parse_stored(batches[0].as_bytes()).unwrap();
        assert_eq!(empty.base_offset(), first);
        assert_eq!(empty.records_count(), 0);
        assert_eq!(empty.producer_id(), 9);
        assert_eq!(empty.base_sequence(), 0);
        assert_eq!(kv(&read_records(log)), ["1:k=new"]);
    }

    #[test]
    fn compressed_batches_are_recompressed_with_their_codec() {
        let f = fixture(LogConfig {
            segment_bytes: 10_000,
            ..compact_config()
        });
        let log = &f.log;
        let codecs = [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ];
        for (i, codec) in codecs.iter().enumerate() {
            let v = format!("v{i}");
            let own = format!("own{i}");
            let mut b = compressed(
                &[
                    (Some(b"shared"), Some(v.as_bytes())),
                    (Some(own.as_bytes()), Some(b"x")),
                ],
                T0,
                *codec,
            );
            log.append_as_leader(&mut b, 0).unwrap();
        }
        log.roll_now().unwrap();
        let cleaner = LogCleaner::new(CleanerConfig::default());
        clean(&f, &cleaner).expect("cleaned");
        let recs = read_records(log);
        let got: Vec<(String, Compression)> = recs
            .iter()
            .map(|r| (format!("{}:{}", r.0, r.1.clone().unwrap()), r.3))
            .collect();
        assert_eq!(
            got,
            [
                ("1:own0".to_string(), Compression::Gzip),
                ("3:own1".to_string(), Compression::Snappy),
                ("5:own2".to_string(), Compression::Lz4),
                ("6:shared".to_string(), Compression::Zstd),
                ("7:own3".to_string(), Compression::Zstd),
            ]
        );
    }

    #[test]
    fn a_full_offset_map_cleans_up_to_where_it_filled() {
        let f = fixture(compact_config());
        let log = &f.log;
        // 3 rounds of 12 distinct keys, 3 keys a batch.
        for round in 0..3 {
            for k in (0..12).step_by(3) {
                let keys: Vec<String> = (k..k + 3).map(|i| format!("k{i}")).collect();
                let v = format!("r{round}");
                let e: Vec<(Option<&str>, Option<&str>)> = keys
                    .iter()
                    .map(|k| (Some(k.as_str()), Some(v.as_str())))
                    .collect();
                put(log, &e, T0);
            }
        }
        log.roll_now().unwrap();
        // 10 slots, 9 keys: the map fills inside the fourth batch.
        let config = CleanerConfig {
            dedupe_buffer_size: OFFSET_MAP_SLOT_BYTES * 10,
            ..CleanerConfig::default()
        };
        let mut map = OffsetMap::new(config.dedupe_buffer_size, config.dedupe_buffer_load_factor);
        let t = log_to_clean(log, None, T0).unwrap();
        assert_eq!(t.first_uncleanable_offset, 36);
        let s = clean_log(log, &t, &mut map, &config, T0)
            .unwrap()
            .expect("partial round");
        assert!(s.map_full);
        assert_eq!(s.end_offset, 9, "three whole batches mapped");
        // Nothing lost: every key still has its latest value.
        let latest = |recs: &[Rec]| {
            let mut m = HashMap::new();
            for r in recs {
                m.insert(r.1.clone().unwrap(), r.2.clone().unwrap());
            }
            m
        };
        let recs = read_records(log);
        assert_eq!(
            recs.len(),
            36,
            "keys k0-k8 of round 0 are their latest so far"
        );
        assert!(latest(&recs).values().all(|v| v == "r2"));
        // A pass of the cleaner goes on from its checkpoint while the map keeps filling.
        f.manager
            .update_cleaner_checkpoint(log, s.end_offset)
            .unwrap();
        let cleaner = LogCleaner::new(config);
        let pass = cleaner.clean_once(&f.manager);
        let rounds: Vec<(i64, bool)> = pass
            .cleaned
            .iter()
            .map(|(_, s)| (s.end_offset, s.map_full))
            .collect();
        assert_eq!(rounds.last(), Some(&(36, false)), "{rounds:?}");
        assert!(rounds.len() >= 3, "{rounds:?}");
        assert_eq!(f.manager.cleaner_checkpoint(&tp()), Some(36));
        let recs = read_records(log);
        assert_eq!(recs.len(), 12, "{:?}", kv(&recs));
        assert!(latest(&recs).values().all(|v| v == "r2"));
    }

    #[test]
    fn records_without_a_key_do_not_stop_the_cleaner() {
        let f = fixture(compact_config());
        let log = &f.log;
        put(log, &[(None, Some("nokey")), (Some("k"), Some("1"))], T0);
        put(log, &[(Some("k"), Some("2"))], T0);
        put(log, &[(None, Some("last"))], T0);
        log.roll_now().unwrap();
        let cleaner = LogCleaner::new(CleanerConfig::default());
        clean(&f, &cleaner).expect("cleaned");
        // Kafka's cleaner drops them (they cannot be compacted).
        assert_eq!(kv(&read_records(log)), ["2:k=2"]);
        // The round's last batch stays, emptied, so the log keeps its last offset before the
        // uncleanable part (Kafka's rule).
        let info = log.read(3, 1 << 20, true, None).unwrap().into_bytes();
        let b = RecordBatch::parse_stored(&info).unwrap();
        assert_eq!(
            (b.base_offset(), b.last_offset(), b.records_count()),
            (3, 3, 0)
        );
    }

    #[test]
    fn a_swap_is_abandoned_when_the_segments_changed() {
        let f = fixture(compact_config());
        let log = &f.log;
        for i in 0..10 {
            put(log, &[(Some(&format!("k{}", i % 2)), Some("v"))], T0);
        }
        log.roll_now().unwrap();
        let snap = log.snapshot();
        let old: Vec<SegmentView> = snap.inactive_segments().to_vec();
        // DeleteRecords removes the first segment meanwhile.
        log.maybe_increment_log_start_offset(old[1].base_offset)
            .unwrap();
        let cleaned = LogSegment::create_with_suffix(
            log.dir(),
            old[0].base_offset,
            CLEANED_FILE_SUFFIX,
            64,
            1024,
            T0,
        )
        .unwrap();
        assert!(!log.replace_segments(cleaned, &old[..2]).unwrap());
        assert!(files(log.dir()).iter().all(|n| !n.ends_with(".cleaned")));
        // A round that starts after the change cleans what is there.
        let cleaner = LogCleaner::new(CleanerConfig::default());
        clean(&f, &cleaner).expect("cleaned");
        assert_eq!(kv(&read_records(log)), ["8:k0=v", "9:k1=v"]);
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }

    fn reopen(dir: &Path, time: Arc<MockTime>) -> PartitionLog {
        PartitionLog::open(
            dir.to_path_buf(),
            tp(),
            compact_config(),
            time,
            LoadParams::after_crash(),
        )
        .unwrap()
    }

    /// Crash states of a swap, rebuilt from a log before and after cleaning.
    #[test]
    fn a_crash_mid_swap_loses_nothing_and_duplicates_nothing() {
        let f = fixture(LogConfig {
            segment_bytes: 10_000,
            ..compact_config()
        });
        let log = &f.log;
        for i in 0..12 {
            put(
                log,
                &[(Some(&format!("k{}", i % 3)), Some(&format!("v{i}")))],
                T0,
            );
            if i % 4 == 3 {
                log.roll_now().unwrap();
            }
        }
        log.flush().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let before_dir = scratch.path().join("before");
        copy_dir(log.dir(), &before_dir);
        let before = kv(&read_records(log));
        let cleaner = LogCleaner::new(CleanerConfig::default());
        clean(&f, &cleaner).expect("cleaned");
        let after = kv(&read_records(log));
        assert_eq!(after, ["9:k0=v9", "10:k1=v10", "11:k2=v11"]);
        // Everything was in one group: one cleaned segment at base 0.
        let seg_files = |suffix: &str| -> Vec<(String, String)> {
            ["log", "index", "timeindex", "txnindex"]
                .iter()
                .map(|ext| {
                    let n = format!("{:020}.{ext}", 0);
                    (n.clone(), format!("{n}{suffix}"))
                })
                .collect()
        };
        let case = |name: &str, setup: &dyn Fn(&Path)| -> Vec<String> {
            let d = scratch.path().join(name);
            copy_dir(&before_dir, &d);
            setup(&d);
            let l = reopen(&d, f.time.clone());
            let got = kv(&read_records(&l));
            let left: Vec<String> = files(&d)
                .into_iter()
                .filter(|n| n.ends_with(".cleaned") || n.ends_with(".swap"))
                .collect();
            assert!(left.is_empty(), "{name}: {left:?}");
            got
        };
        // 1. Crash while writing `.cleaned`: discarded.
        let got = case("cleaned", &|d| {
            for (n, target) in seg_files(".cleaned") {
                std::fs::copy(log.dir().join(&n), d.join(target)).unwrap();
            }
            // A torn one.
            let p = d.join(format!("{:020}.log.cleaned", 0));
            let len = std::fs::metadata(&p).unwrap().len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .unwrap()
                .set_len(len / 2)
                .unwrap();
        });
        assert_eq!(got, before);
        // 2. Crash while renaming `.cleaned` -> `.swap`: discarded.
        let got = case("half-renamed", &|d| {
            for (i, (n, target)) in seg_files(".swap").into_iter().enumerate() {
                let target = if i == 0 {
                    format!("{n}.cleaned")
                } else {
                    target
                };
                std::fs::copy(log.dir().join(&n), d.join(target)).unwrap();
            }
        });
        assert_eq!(got, before);
        // 3. All `.swap` files written, old segments still there: finished.
        let got = case("swapped", &|d| {
            for (n, target) in seg_files(".swap") {
                std::fs::copy(log.dir().join(&n), d.join(target)).unwrap();
            }
        });
        assert_eq!(got, after);
        // 4. Old segments renamed `.deleted` too: finished.
        let got = case("old-deleted", &|d| {
            for (n, target) in seg_files(".swap") {
                std::fs::copy(log.dir().join(&n), d.join(target)).unwrap();
            }
            for name in files(d) {
                if name.ends_with(".log") || name.ends_with("index") {
                    std::fs::rename(d.join(&name), d.join(format!("{name}.deleted"))).unwrap();
                }
            }
        });
        assert_eq!(got, after);
        // 5. Some `.swap` files already renamed to their final names: finished.
        let got = case("partly-final", &|d| {
            for (i, (n, target)) in seg_files(".swap").into_iter().enumerate() {
                let target = if i == 1 { n.clone() } else { target };
                std::fs::copy(log.dir().join(&n), d.join(target)).unwrap();
            }
        });
        assert_eq!(got, after);
    }

    #[test]
    fn reads_of_a_cleaned_range_return_valid_batches() {
        let f = fixture(compact_config());
        let log = &f.log;
        for i in 0..40 {
            put(
                log,
                &[(Some(&format!("k{}", i % 7)), Some(&"x".repeat(i)))],
                T0 + i as i64,
            );
        }
        log.roll_now().unwrap();
        // A read in progress holds the pre-clean snapshot: its segment views keep their open
        // files, which the swap renames and (file.delete.delay.ms = 0) unlinks at once.
        let snap = log.snapshot();
        let cleaner = LogCleaner::new(CleanerConfig::default());
        clean(&f, &cleaner).expect("cleaned");
        assert!(files(log.dir()).iter().all(|n| !n.ends_with(".deleted")));
        let mut old_records = 0;
        for seg in snap.inactive_segments() {
            for_each_batch(seg, |_, bytes| {
                let b = RecordBatch::parse_stored(bytes).expect("old batch still readable");
                old_records += b.records_count();
                Ok(true)
            })
            .unwrap();
        }
        assert_eq!(old_records, 40);
        let recs = read_records(log);
        assert_eq!(recs.len(), 7);
        // Fetch from every offset: the batch holding (or following) it comes back whole.
        for o in 0..40 {
            let info = log.read(o, 100, true, None).unwrap().into_bytes();
            let b = RecordBatch::parse_stored(&info[..batch::batch_size(&info).unwrap()]).unwrap();
            assert!(b.last_offset() >= o);
        }
        // Timestamps still find the right records.
        let found = log.fetch_offset_by_timestamp(T0 + 39).unwrap().unwrap();
        assert_eq!(found.offset, 39);
    }
}
