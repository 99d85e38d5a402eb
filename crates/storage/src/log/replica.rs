//! What a replicated partition's log does beyond a leader's appends (Kafka's UnifiedLog
//! `appendAsFollower`, `updateHighWatermark`, `maybeIncrementHighWatermark`):
//!
//! - a follower appends the batches it fetched from the leader as they are — offsets, leader
//!   epochs, producer ids and transaction markers included — and keeps the same producer state
//!   and aborted-transaction index the leader keeps, so that it can take over as leader;
//! - the high watermark of a replicated log is not its end: it is limited to what the
//!   partition's replication decides (the leader: the offset every in-sync replica has
//!   reached; a follower: the leader's high watermark). [`PartitionLog::limit_high_watermark`]
//!   sets that limit; the log's own rule (its end, or in fsync-before-ack mode the fsynced
//!   offset) still applies below it. A log no one replicates has no limit.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use sluice_protocol::batch::{self, RecordBatch};
use sluice_protocol::records;

use super::{lock, write_aborted_txns, write_lock, AppendOrigin, LogAppendInfo, PartitionLog};
use crate::error::{Result, StorageError};
use crate::index::NO_TIMESTAMP;
use crate::producer_state::ProducerBatch;
use crate::segment::RollParams;

/// The partitionLeaderEpoch of a batch written before leader epochs (Kafka's
/// RecordBatch.NO_PARTITION_LEADER_EPOCH).
const NO_PARTITION_LEADER_EPOCH: i32 = -1;

impl PartitionLog {
    /// Append batches fetched from the leader (Kafka's appendAsFollower). Their offsets and
    /// leader epochs stay as the leader wrote them: the first batch must start at the log end
    /// offset and each next one where the previous ended
    /// ([`StorageError::UnexpectedAppendOffset`] otherwise). Batches of an epoch above
    /// `leader_epoch` (the epoch this replica follows) and all after them are not appended
    /// (KAFKA-18723: the leader may have moved on between the fetch and this append). The
    /// leader-epoch cache learns every new epoch from the batches; producer state and the
    /// transaction index follow the batches without validation, as they do on log recovery.
    pub fn append_as_follower(
        &self,
        records: &mut [u8],
        leader_epoch: i32,
    ) -> Result<LogAppendInfo> {
        let config = self.config();
        self.analyze(records, &config, AppendOrigin::Replication)?;
        let mut w = lock(&self.writer);
        self.check_writable(&w)?;
        let first_offset = w.log_end_offset;
        let mut next = first_offset;
        let mut pos = 0usize;
        let mut epochs: Vec<(i32, i64)> = Vec::new();
        let mut producer_batches: Vec<ProducerBatch> = Vec::new();
        let mut max_timestamp = NO_TIMESTAMP;
        let mut offset_of_max = first_offset;
        let mut batches = 0usize;
        let mut messages = 0i64;
        while pos < records.len() {
            let h = batch::parse_header(&records[pos..]).map_err(|e| self.invalid(pos, e))?;
            if h.partition_leader_epoch != NO_PARTITION_LEADER_EPOCH
                && h.partition_leader_epoch > leader_epoch
            {
                tracing::info!(
                    "{}: not appending the batches from offset {} on: their leader epoch {} is above the epoch {leader_epoch} this replica follows",
                    self.tp,
                    h.base_offset,
                    h.partition_leader_epoch
                );
                break;
            }
            if h.base_offset != next {
                return Err(StorageError::UnexpectedAppendOffset {
                    tp: self.tp.clone(),
                    expected: next,
                    found: h.base_offset,
                });
            }
            if h.has_producer_id() {
                let mut b = ProducerBatch::from_header(&h);
                if h.is_control() {
                    let rb = RecordBatch::parse(&records[pos..pos + h.size])
                        .map_err(|e| self.invalid(pos, e))?;
                    let marker = records::parse_end_txn_marker(&rb).map_err(|e| {
                        StorageError::InvalidControlBatch {
                            tp: self.tp.clone(),
                            position: pos,
                            reason: e.to_string(),
                        }
                    })?;
                    b = b.with_marker(marker);
                }
                producer_batches.push(b);
            }
            if epochs
                .last()
                .is_none_or(|(e, _)| *e != h.partition_leader_epoch)
            {
                epochs.push((h.partition_leader_epoch, h.base_offset));
            }
            if h.max_timestamp > max_timestamp {
                max_timestamp = h.max_timestamp;
                offset_of_max = h.last_offset();
            }
            batches += 1;
            messages += i64::from(h.last_offset_delta) + 1;
            next = h.next_offset();
            pos += h.size;
        }
        let records = &records[..pos];
        let log_start_offset = w.log_start_offset;
        if records.is_empty() {
            return Ok(LogAppendInfo {
                first_offset,
                last_offset: first_offset - 1,
                max_timestamp,
                shallow_offset_of_max_timestamp: offset_of_max,
                log_append_time: NO_TIMESTAMP,
                log_start_offset,
                num_batches: 0,
                num_messages: 0,
                valid_bytes: 0,
                high_watermark: self.high_watermark(),
                rolled: None,
                duplicate: false,
            });
        }
        let now = self.time.milliseconds();
        let params = RollParams {
            max_segment_ms: config.segment_ms,
            max_segment_bytes: u64::from(config.segment_bytes),
            max_timestamp_in_messages: max_timestamp,
            max_offset_in_messages: next - 1,
            messages_size: records.len() as u64,
            now,
        };
        let roll_reason = w.active().and_then(|a| a.should_roll(&params));
        if roll_reason.is_some() {
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
        {
            let mut cache = lock(&self.leader_epochs);
            for (epoch, start) in &epochs {
                if *epoch != NO_PARTITION_LEADER_EPOCH
                    && cache.latest_epoch().is_none_or(|l| *epoch > l)
                {
                    if let Err(e) = cache.assign(*epoch, *start) {
                        return self.fail(e);
                    }
                }
            }
        }
        if let Some((epoch, _)) = epochs.last() {
            self.leader_epoch.fetch_max(*epoch, Ordering::SeqCst);
        }
        let mut completed = Vec::new();
        for b in &producer_batches {
            completed.extend(w.producers.load_batch(b));
        }
        w.producers.set_map_end_offset(next);
        if let Err(e) = write_aborted_txns(&mut w.segments, &completed) {
            return self.fail(e);
        }
        let p = self.publish(&mut w);
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
            last_offset: next - 1,
            max_timestamp,
            shallow_offset_of_max_timestamp: offset_of_max,
            log_append_time: NO_TIMESTAMP,
            log_start_offset,
            num_batches: batches,
            num_messages: messages,
            valid_bytes: records.len(),
            high_watermark: self.high_watermark().max(p.hw),
            rolled: roll_reason,
            duplicate: false,
        })
    }

    /// Limit the high watermark to `limit` (None: no limit, the log's own rule alone) and
    /// raise it as far as the limit and the log allow. The high watermark never goes down
    /// here. Returns the new high watermark if it moved (the log's listener has been told).
    pub fn limit_high_watermark(&self, limit: Option<i64>) -> Option<i64> {
        self.hw_limit
            .store(limit.unwrap_or(i64::MAX), Ordering::SeqCst);
        let local = if self.config().fsync_before_ack {
            self.synced_offset()
        } else {
            i64::MAX
        };
        let raised = self.raise_hw(local);
        if let Some(hw) = raised {
            self.notify(hw);
        }
        raised
    }

    /// The limit set by [`limit_high_watermark`](Self::limit_high_watermark), if any.
    pub fn high_watermark_limit(&self) -> Option<i64> {
        let l = self.hw_limit.load(Ordering::SeqCst);
        (l != i64::MAX).then_some(l)
    }

    /// Set the high watermark to `hw` (within the log start and end offsets), lower or higher
    /// than it is (Kafka's `updateHighWatermark`): a follower takes its leader's, a replica
    /// whose log was just loaded the `replication-offset-checkpoint`'s. The limit becomes the
    /// new high watermark. Returns the new high watermark if it changed (the log's listener
    /// has been told when it rose).
    pub fn update_high_watermark(&self, hw: i64) -> Option<i64> {
        let w = lock(&self.writer);
        let hw = hw.clamp(w.log_start_offset, w.log_end_offset);
        self.hw_limit.store(hw, Ordering::SeqCst);
        let mut slot = write_lock(&self.snapshot);
        let old = slot.high_watermark;
        if old != hw {
            let mut s = (**slot).clone();
            s.set_high_watermark(hw);
            *slot = Arc::new(s);
        }
        drop(slot);
        drop(w);
        if hw > old {
            self.notify(hw);
        }
        (hw != old).then_some(hw)
    }
}
