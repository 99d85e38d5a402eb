//! ListOffsets (API key 2), v1-11 (kafka-protocol 0.18 models up to v10; v11 has v10's wire
//! layout and is decoded and answered as v10, see `handlers::wire_version`).
//!
//! - v1: one offset per partition (timestamp + offset). v2: isolation_level, throttle_time_ms.
//!   v4: current_leader_epoch, leader_epoch. v6: flexible. v7: MAX_TIMESTAMP (-3).
//!   v8: EARLIEST_LOCAL_TIMESTAMP (-4). v9: LATEST_TIERED_TIMESTAMP (-5, KIP-1005).
//!   v10: timeout_ms. v11: EARLIEST_PENDING_UPLOAD_TIMESTAMP (-6, KIP-1023).
//! - -2 earliest: the log start offset. -1 latest: the high watermark (read_committed: the last
//!   stable offset). -4: the log start offset (no tiered storage). -5 and -6: -1 (nothing is
//!   tiered, nothing is pending upload). -3: the first record carrying the
//!   largest timestamp of the local log — as Kafka, from every segment, also records below the
//!   log start offset that a segment still holds after DeleteRecords. t >= 0: the first record whose timestamp is >= t, found through the
//!   time index and then inside the batch (decompressing it if needed); -1/-1 when no record
//!   qualifies. Offsets and timestamps are never returned for data above the high watermark.
//! - Errors: UNKNOWN_TOPIC_OR_PARTITION, FENCED/UNKNOWN_LEADER_EPOCH, INVALID_REQUEST for a
//!   partition named twice, UNSUPPORTED_VERSION for a special timestamp the request version
//!   does not know (or an unknown negative one), as Kafka.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::batch::{Compression, RecordBatch, TimestampType};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use sluice_protocol::kafka_protocol::messages::{
    ListOffsetsRequest, ListOffsetsResponse, ResponseKind,
};
use sluice_protocol::records;
use sluice_storage::PartitionLog;
use std::collections::HashSet;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
const EARLIEST_PENDING_UPLOAD: i64 = -6;

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: ListOffsetsRequest) -> Reply {
    let v = ctx.version;
    let mut seen = HashSet::new();
    let mut resp = ListOffsetsResponse::default();
    for t in &req.topics {
        let mut tr = ListOffsetsTopicResponse::default().with_name(t.name.clone());
        for p in &t.partitions {
            let mut pr = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1);
            if v >= 4 {
                pr.leader_epoch = -1;
            }
            let local = broker.local_partition(t.name.as_str(), p.partition_index);
            let log = local.as_ref().ok().map(|l| l.log().clone());
            let result = if !seen.insert((t.name.to_string(), p.partition_index)) {
                Err(KafkaError::InvalidRequest)
            } else {
                match &local {
                    Err(e) => Err(*e),
                    Ok(part) => {
                        // As Kafka: the epoch first (v4+), then leadership, then the target.
                        let fenced = (v >= 4)
                            .then(|| {
                                super::offset_for_leader_epoch::check_current_leader_epoch(
                                    p.current_leader_epoch,
                                    part.leader_epoch(),
                                )
                            })
                            .flatten();
                        if let Some(e) = fenced {
                            Err(e)
                        } else if !part.is_leader() {
                            Err(KafkaError::NotLeaderOrFollower)
                        } else if !timestamp_allowed(p.timestamp, v) {
                            Err(KafkaError::UnsupportedVersion)
                        } else if req.replica_id.0 >= 0 && p.timestamp == LATEST {
                            // A follower asks for the log end offset (Kafka's isolation None).
                            Ok(Some((-1, part.log().log_end_offset())))
                        } else {
                            lookup(
                                broker,
                                part.log(),
                                p.timestamp,
                                v >= 2 && req.isolation_level == 1,
                            )
                        }
                    }
                }
            };
            match result {
                Ok(Some((timestamp, offset))) => {
                    pr.timestamp = timestamp;
                    pr.offset = offset;
                    if v >= 4 {
                        // The epoch of the batch holding the offset (Kafka's
                        // TimestampAndOffset.leaderEpoch); the current one at the log end.
                        pr.leader_epoch = log.as_ref().map_or(-1, |l| {
                            l.epoch_for_offset(offset)
                                .unwrap_or_else(|| l.leader_epoch())
                        });
                    }
                }
                Ok(None) => {}
                Err(e) => pr.error_code = e.code(),
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Reply::Response(ResponseKind::ListOffsets(resp))
}

/// Whether request version `v` may ask for `timestamp`: a special (negative) timestamp from the
/// version that introduced it on; another negative one never. Kafka answers the others with
/// UNSUPPORTED_VERSION for the partition (compat-tests/differential, offsets-edge).
fn timestamp_allowed(timestamp: i64, v: i16) -> bool {
    match timestamp {
        LATEST | EARLIEST => true,
        MAX_TIMESTAMP => v >= 7,
        EARLIEST_LOCAL => v >= 8,
        LATEST_TIERED => v >= 9,
        EARLIEST_PENDING_UPLOAD => v >= 11,
        t => t >= 0,
    }
}

/// (timestamp, offset) for a ListOffsets target, or None for "no such offset" (-1/-1).
fn lookup(
    broker: &Broker,
    log: &PartitionLog,
    target: i64,
    read_committed: bool,
) -> Result<Option<(i64, i64)>, KafkaError> {
    match target {
        LATEST if read_committed => Ok(Some((-1, log.last_stable_offset()))),
        LATEST => Ok(Some((-1, log.high_watermark()))),
        EARLIEST | EARLIEST_LOCAL => Ok(Some((-1, log.log_start_offset()))),
        LATEST_TIERED | EARLIEST_PENDING_UPLOAD => Ok(None),
        MAX_TIMESTAMP => {
            // As Kafka: the batch from every local segment, also below the log start offset.
            let Some(data) = log.max_timestamp_batch().map_err(|e| {
                tracing::error!(error = %e, "max timestamp lookup failed");
                KafkaError::KafkaStorageError
            })?
            else {
                return Ok(None);
            };
            let Ok(batch) = RecordBatch::parse(&data) else {
                return Ok(None);
            };
            Ok(first_record_at_or_after(
                broker,
                &batch,
                batch.max_timestamp(),
                i64::MIN,
            ))
        }
        t if t >= 0 => record_at_or_after(broker, log, t),
        _ => Err(KafkaError::InvalidRequest),
    }
}

/// The first record at or after `target` (by timestamp) below the high watermark.
fn record_at_or_after(
    broker: &Broker,
    log: &PartitionLog,
    target: i64,
) -> Result<Option<(i64, i64)>, KafkaError> {
    let storage_err = |e: sluice_storage::StorageError| {
        tracing::error!(error = %e, "timestamp lookup failed");
        KafkaError::KafkaStorageError
    };
    let mut found = log.fetch_offset_by_timestamp(target).map_err(storage_err)?;
    // The time index finds the first batch whose max timestamp reaches the target; the record
    // inside it (or a later batch, if records are out of order) gives the exact answer.
    while let Some(batch_hit) = found {
        let data = log
            .read(batch_hit.offset, 1, true, None)
            .map_err(storage_err)?
            .into_bytes();
        let mut next_offset = None;
        for batch in sluice_protocol::batch::batches(&data) {
            let Ok(batch) = batch else { break };
            next_offset = Some(batch.next_offset());
            if batch.max_timestamp() < target {
                continue;
            }
            if let Some(hit) =
                first_record_at_or_after(broker, &batch, target, log.log_start_offset())
            {
                return Ok(Some(hit));
            }
        }
        let Some(next) = next_offset else { break };
        if next >= log.high_watermark() {
            break;
        }
        // Look from the next batch on (only when max timestamps lied about their records).
        found = match log.read(next, 1, true, None) {
            Ok(d) => {
                let b = d.into_bytes();
                RecordBatch::parse(&b)
                    .ok()
                    .map(|rb| sluice_storage::TimestampAndOffset {
                        timestamp: rb.max_timestamp(),
                        offset: rb.base_offset(),
                    })
            }
            Err(_) => None,
        };
    }
    Ok(None)
}

fn first_record_at_or_after(
    broker: &Broker,
    batch: &RecordBatch<'_>,
    target: i64,
    log_start: i64,
) -> Option<(i64, i64)> {
    if batch.timestamp_type() == TimestampType::LogAppendTime {
        // Every record carries the append time.
        let offset = batch.base_offset().max(log_start);
        return Some((batch.max_timestamp(), offset));
    }
    let mut scratch = Vec::new();
    let data: &[u8] = match batch.compression().ok()? {
        Compression::None => batch.records(),
        codec => {
            sluice_protocol::compression::decompress_into(
                codec,
                batch.records(),
                broker.max_decompressed_batch_bytes,
                &mut scratch,
            )
            .ok()?;
            &scratch
        }
    };
    for r in records::records(data) {
        let r = r.ok()?;
        let offset = batch
            .base_offset()
            .saturating_add(i64::from(r.offset_delta));
        let ts = batch.base_timestamp().saturating_add(r.timestamp_delta);
        if offset >= log_start && ts >= target {
            return Some((ts, offset));
        }
    }
    None
}
