//! Produce (API key 0), v3-13 (advertised from v0: see api_versions.rs; v0-2 are refused).
//!
//! - v3: transactional_id; record batches of magic 2 only, exactly one batch per partition.
//!   v5: + log_start_offset. v8: + record_errors and error_message. v9: flexible.
//!   v10: + current_leader / node_endpoints (tagged; only on NOT_LEADER errors). v12: implicit
//!   transaction partition add (KIP-890 transactions v2). v13: topics by topic_id
//!   (UNKNOWN_TOPIC_ID).
//! - acks 0: no response. 1 and -1 (single node: the same): answered once appended; topics with
//!   flush.messages=1 (fsync-before-ack mode) only once the append is on disk — one fsync covers
//!   every produce waiting on it. Other acks: INVALID_REQUIRED_ACKS.
//! - Each batch is checked before anything is written (Kafka's LogValidator): length, magic,
//!   CRC-32C, no control batches from clients, record count and offset deltas (compressed
//!   batches decompressed with a size cap), max.message.bytes (MESSAGE_TOO_LARGE), timestamps
//!   against message.timestamp.before/after.max.ms (INVALID_TIMESTAMP, with record_errors),
//!   keys on compacted topics (INVALID_RECORD). A failing partition does not fail the others.
//! - Offsets are assigned by rewriting baseOffset in place; LogAppendTime topics get the broker
//!   time and a recomputed CRC. A topic whose compression.type is a codec (not `producer`)
//!   stores every batch with that codec: a batch with another one is decompressed and
//!   compressed again (compression.gzip/zstd.level), as Kafka does.
//! - Idempotent producers (Kafka's ProducerStateManager, in storage): a retried duplicate of one
//!   of a producer's last 5 batches is not appended again and is acknowledged with its original
//!   base offset; sequence gaps give OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch
//!   INVALID_PRODUCER_EPOCH. A transactional batch must be to a partition of the producer's
//!   ongoing transaction (KIP-890 part 1 verification with the transaction coordinator;
//!   transaction.partition.verification.enable): otherwise TRANSACTION_ABORTABLE, or
//!   INVALID_PRODUCER_EPOCH for a fenced producer, with log_start_offset -1.
//! - Unknown topics are not created here (as in Kafka, producers create them through Metadata).

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::metadata_cache;
use crate::replica::delayed_produce::{wait_for_acks, PendingAck};
use crate::replica::{LeaderInfo, Partition, PartitionError};
use crate::topic_policy::TopicPolicy;
use sluice_protocol::batch::{BatchError, RecordBatch};
use sluice_protocol::compression;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use sluice_protocol::kafka_protocol::messages::produce_response::{LeaderIdAndEpoch, NodeEndpoint};
use sluice_protocol::kafka_protocol::messages::BrokerId;
use sluice_protocol::kafka_protocol::messages::{ProduceRequest, ProduceResponse, ResponseKind};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use sluice_protocol::records::{self, RecordError};
use sluice_storage::{PartitionLog, StorageError};
use std::sync::Arc;

/// A partition's failure: code, message, and the records it names (v8+ record_errors).
struct Failure {
    code: KafkaError,
    message: String,
    record_errors: Vec<(i32, String)>,
    /// The partition's log start offset, once the partition was found.
    log_start_offset: Option<i64>,
    /// NOT_LEADER_OR_FOLLOWER: the leader this broker knows of (v10+ current_leader).
    leader: Option<LeaderInfo>,
}

impl Failure {
    fn new(code: KafkaError, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            record_errors: Vec::new(),
            log_start_offset: None,
            leader: None,
        }
    }

    /// log_start_offset as Kafka's ReplicaManager reports it: -1 for the errors it maps
    /// without touching the log (unknown partition, not leader, too large, corrupt, storage),
    /// the partition's log start offset for every other append failure (sequence, epoch,
    /// timestamp and record validation errors); -1 for a failed transaction verification,
    /// which happens before the log is looked at.
    fn reported_log_start_offset(&self) -> i64 {
        match self.code {
            KafkaError::UnknownTopicOrPartition
            | KafkaError::NotLeaderOrFollower
            | KafkaError::MessageTooLarge
            | KafkaError::RecordListTooLarge
            | KafkaError::CorruptMessage
            | KafkaError::KafkaStorageError
            | KafkaError::UnknownTopicId
            | KafkaError::InvalidRequiredAcks
            | KafkaError::TransactionalIdAuthorizationFailed => -1,
            _ => self.log_start_offset.unwrap_or(-1),
        }
    }
}

struct Appended {
    partition: Arc<Partition>,
    log: Arc<PartitionLog>,
    base_offset: i64,
    last_offset: i64,
    log_append_time: i64,
    log_start_offset: i64,
}

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: ProduceRequest) -> Reply {
    let v = ctx.version;
    let acks = req.acks;
    let now = broker.now_ms();
    let image = broker.image();
    let snapshot = &image.topics;
    let mut resp = ProduceResponse::default();
    // (topic index, partition index) of appends waiting for an fsync.
    let mut to_sync: Vec<(usize, usize, Arc<PartitionLog>, i64)> = Vec::new();
    // acks=all appends to replicated partitions, waiting for the ISR.
    let mut to_replicate: Vec<(usize, usize, PendingAck)> = Vec::new();
    // Leaders named in NOT_LEADER_OR_FOLLOWER answers (v10+ node_endpoints).
    let mut leaders: Vec<i32> = Vec::new();

    // Transactional batches need a transactional id to authorize: without one Kafka fails the
    // whole request with TRANSACTIONAL_ID_AUTHORIZATION_FAILED (KafkaApis.handleProduceRequest).
    let unauthorized_txn = req.transactional_id.is_none()
        && req.topic_data.iter().any(|t| {
            t.partition_data.iter().any(|p| {
                p.records
                    .as_deref()
                    .and_then(|r| RecordBatch::parse(r).ok())
                    .is_some_and(|b| b.is_transactional())
            })
        });

    for (ti, topic) in req.topic_data.into_iter().enumerate() {
        let resolved = if v >= 13 {
            snapshot.get_by_id(&topic.topic_id).map(|t| t.name.clone())
        } else {
            Some(topic.name.to_string())
        };
        let mut tr = TopicProduceResponse::default();
        if v >= 13 {
            tr.topic_id = topic.topic_id;
        } else {
            tr.name = topic.name.clone();
        }
        for (pi, part) in topic.partition_data.into_iter().enumerate() {
            let result = if unauthorized_txn {
                Err(Failure::new(
                    KafkaError::TransactionalIdAuthorizationFailed,
                    "Transactional records without a transactional id.",
                ))
            } else if !matches!(acks, -1..=1) {
                Err(Failure::new(
                    KafkaError::InvalidRequiredAcks,
                    "Invalid required acks value; must be -1, 0 or 1.",
                ))
            } else {
                match &resolved {
                    None => Err(Failure::new(
                        KafkaError::UnknownTopicId,
                        "This server does not host this topic ID.",
                    )),
                    Some(name) => append(
                        broker,
                        v,
                        acks,
                        req.transactional_id.as_ref().map(|t| t.as_str()),
                        name,
                        part.index,
                        part.records,
                        now,
                    ),
                }
            };
            let mut pr = PartitionProduceResponse::default().with_index(part.index);
            match result {
                Ok(a) => {
                    pr.base_offset = a.base_offset;
                    pr.log_append_time_ms = a.log_append_time;
                    if v >= 5 {
                        pr.log_start_offset = a.log_start_offset;
                    }
                    if a.log.config().fsync_before_ack {
                        to_sync.push((ti, pi, a.log.clone(), a.last_offset));
                    }
                    if acks == -1 && a.partition.is_replicated() {
                        to_replicate.push((
                            ti,
                            pi,
                            PendingAck {
                                partition: a.partition.clone(),
                                required_offset: a.last_offset + 1,
                            },
                        ));
                    }
                }
                Err(f) => {
                    pr.error_code = f.code.code();
                    if v >= 10 {
                        if let Some(l) = f.leader.filter(|l| l.leader_id >= 0) {
                            pr.current_leader = LeaderIdAndEpoch::default()
                                .with_leader_id(BrokerId(l.leader_id))
                                .with_leader_epoch(l.leader_epoch);
                            if !leaders.contains(&l.leader_id) {
                                leaders.push(l.leader_id);
                            }
                        }
                    }
                    pr.base_offset = -1;
                    pr.log_append_time_ms = -1;
                    if v >= 5 {
                        pr.log_start_offset = f.reported_log_start_offset();
                    }
                    if v >= 8 {
                        // Kafka sends a message only with the record-level errors of its
                        // RecordValidationException (compat-tests/differential, produce).
                        pr.error_message =
                            (!f.record_errors.is_empty()).then(|| StrBytes::from_string(f.message));
                        pr.record_errors = f
                            .record_errors
                            .into_iter()
                            .map(|(i, m)| {
                                BatchIndexAndErrorMessage::default()
                                    .with_batch_index(i)
                                    .with_batch_index_error_message(Some(StrBytes::from_string(m)))
                            })
                            .collect();
                    }
                }
            }
            tr.partition_responses.push(pr);
        }
        resp.responses.push(tr);
    }

    if !leaders.is_empty() {
        let image = broker.image();
        for id in leaders {
            if let Some(ep) = metadata_cache::endpoint(&image, id, ctx.listener()) {
                resp.node_endpoints.push(
                    NodeEndpoint::default()
                        .with_node_id(BrokerId(ep.id))
                        .with_host(StrBytes::from_string(ep.host))
                        .with_port(i32::from(ep.port))
                        .with_rack(ep.rack.map(StrBytes::from_string)),
                );
            }
        }
    }
    if to_sync.is_empty() && to_replicate.is_empty() {
        if acks == 0 {
            return Reply::None;
        }
        return Reply::Response(ResponseKind::Produce(resp));
    }
    let timeout = std::time::Duration::from_millis(req.timeout_ms.max(0) as u64);
    let purgatory = broker.purgatory.clone();
    if to_sync.is_empty() {
        // acks=all on replicated partitions: the reply waits for the ISR (Kafka's
        // DelayedProduce), while the connection serves its next requests.
        return Reply::Deferred(Box::pin(async move {
            let (places, pending): (Vec<_>, Vec<_>) = to_replicate
                .into_iter()
                .map(|(ti, pi, p)| ((ti, pi), p))
                .unzip();
            let outcome = wait_for_acks(&purgatory, &pending, timeout).await;
            for ((ti, pi), err) in places.into_iter().zip(outcome) {
                if let Some(e) = err {
                    let pr = &mut resp.responses[ti].partition_responses[pi];
                    pr.error_code = e.code();
                }
            }
            Reply::Response(ResponseKind::Produce(resp))
        }));
    }
    // fsync-before-ack: the reply waits for the group-commit round covering each append (even
    // with acks=0 the high watermark only moves once synced); one round covers every partition
    // of this request and of whatever else waits with it. The reply is deferred: the
    // connection serves the next pipelined produce meanwhile, whose appends the next round
    // then covers too.
    let (places, items): (Vec<_>, Vec<_>) = to_sync
        .into_iter()
        .map(|(ti, pi, log, last_offset)| ((ti, pi), (log, last_offset)))
        .unzip();
    let (tx, rx) = tokio::sync::oneshot::channel();
    PartitionLog::sync_many(
        items,
        Box::new(move |results| {
            let _ = tx.send(results);
        }),
    );
    Reply::Deferred(Box::pin(async move {
        let results = rx.await.unwrap_or_default();
        for (i, (ti, pi)) in places.into_iter().enumerate() {
            let failed = match results.get(i) {
                Some(Ok(())) => None,
                Some(Err(e)) => Some(e.to_string()),
                None => Some("the group commit ended without an answer".to_string()),
            };
            if let Some(msg) = failed {
                tracing::error!(error = %msg, "fsync before ack failed");
                let pr = &mut resp.responses[ti].partition_responses[pi];
                pr.error_code = KafkaError::KafkaStorageError.code();
                if v >= 8 {
                    pr.error_message = Some(StrBytes::from_string(msg));
                }
            }
        }
        if !to_replicate.is_empty() {
            let (places, pending): (Vec<_>, Vec<_>) = to_replicate
                .into_iter()
                .map(|(ti, pi, p)| ((ti, pi), p))
                .unzip();
            let outcome = wait_for_acks(&purgatory, &pending, timeout).await;
            for ((ti, pi), err) in places.into_iter().zip(outcome) {
                let pr = &mut resp.responses[ti].partition_responses[pi];
                if let (Some(e), 0) = (err, pr.error_code) {
                    pr.error_code = e.code();
                }
            }
        }
        if acks == 0 {
            return Reply::None;
        }
        Reply::Response(ResponseKind::Produce(resp))
    }))
}

#[allow(clippy::too_many_arguments)]
fn append(
    broker: &Broker,
    version: i16,
    acks: i16,
    transactional_id: Option<&str>,
    topic: &str,
    partition: i32,
    records: Option<bytes::Bytes>,
    now: i64,
) -> Result<Appended, Failure> {
    let unknown = || {
        Failure::new(
            KafkaError::UnknownTopicOrPartition,
            "This server does not host this topic-partition.",
        )
    };
    let local = broker
        .local_partition(topic, partition)
        .map_err(|code| Failure::new(code, "This server does not host this topic-partition."))?;
    if !local.is_leader() {
        let mut f = Failure::new(
            KafkaError::NotLeaderOrFollower,
            "This server is not the leader for that topic-partition.",
        );
        f.leader = Some(local.leader_info());
        return Err(f);
    }
    let log = local.log().clone();
    let policy = broker.policies.get(topic).ok_or_else(unknown)?;
    let records = records.unwrap_or_default();
    let with_start = |mut f: Failure| {
        f.log_start_offset = Some(log.log_start_offset());
        f
    };
    verify_transaction(
        broker,
        version,
        transactional_id,
        topic,
        partition,
        &records,
    )?;
    validate(broker, &policy, topic, partition, &records, now).map_err(with_start)?;
    // The one copy of the record bytes on the produce path: into a buffer the log may rewrite
    // (baseOffset, partitionLeaderEpoch, LogAppendTime) before writing it — or, for a topic
    // whose compression.type names a codec the batch does not have, the batch rewritten with
    // that codec (Kafka's LogValidator recompresses too).
    let mut buf = match (policy.compression, RecordBatch::parse(&records)) {
        (Some((codec, level)), Ok(batch)) if batch.compression().ok() != Some(codec) => {
            compression::recompress_batch(&batch, codec, level, broker.max_decompressed_batch_bytes)
                .map_err(|e| {
                    with_start(Failure::new(
                        KafkaError::CorruptMessage,
                        format!("Recompressing the batch for {topic}-{partition} as {codec:?} failed: {e}"),
                    ))
                })?
        }
        _ => records.to_vec(),
    };
    let info = local
        .append_records_to_leader(&mut buf, acks, now)
        .map_err(|e| match e {
            PartitionError::Storage(e) => with_start(storage_failure(topic, partition, e)),
            PartitionError::NotEnoughReplicas { .. } => {
                with_start(Failure::new(KafkaError::NotEnoughReplicas, e.to_string()))
            }
            other => {
                let mut f = Failure::new(other.code(), other.to_string());
                f.leader = other.leader();
                f
            }
        })?;
    broker.replicas.on_leader_append(&local);
    // A retried duplicate (idempotent producer) is acknowledged with its original offsets, and
    // (as Kafka does, whatever the timestamp type) the original batch's max timestamp as
    // log_append_time.
    Ok(Appended {
        partition: local,
        log,
        base_offset: info.first_offset,
        last_offset: info.last_offset,
        log_append_time: info.log_append_time,
        log_start_offset: info.log_start_offset,
    })
}

fn storage_failure(topic: &str, partition: i32, e: StorageError) -> Failure {
    let code = match e {
        // A batch over max.message.bytes is MESSAGE_TOO_LARGE on Kafka's produce path.
        StorageError::RecordTooLarge { .. } | StorageError::RecordBatchTooLarge { .. } => {
            KafkaError::MessageTooLarge
        }
        ref other => KafkaError::try_from_code(other.kafka_error_code())
            .unwrap_or(KafkaError::UnknownServerError),
    };
    if code == KafkaError::KafkaStorageError {
        tracing::error!(topic, partition, error = %e, "append failed");
    } else {
        tracing::debug!(topic, partition, error = %e, "append refused");
    }
    Failure::new(code, e.to_string())
}

/// KIP-890, before anything else is checked (as Kafka's ReplicaManager asks the transaction
/// coordinator before appending): a transactional batch must be to a partition of the
/// producer's ongoing transaction, or it would open a transaction here that no marker ever
/// ends. Produce v3-11 (transactions v1) only verifies; from v12 (transactions v2) the
/// partition is added to the transaction implicitly. The coordinator's error is answered as
/// Kafka does — a fenced producer as INVALID_PRODUCER_EPOCH, a partition outside the
/// transaction as TRANSACTION_ABORTABLE — with no log start offset (compat-tests/differential,
/// transactions).
fn verify_transaction(
    broker: &Broker,
    version: i16,
    transactional_id: Option<&str>,
    topic: &str,
    partition: i32,
    records: &[u8],
) -> Result<(), Failure> {
    let Ok(batch) = RecordBatch::parse(records) else {
        return Ok(());
    };
    if !batch.is_transactional() || batch.is_control() || !broker.txn.config().verification {
        return Ok(());
    }
    let txn_id = transactional_id.unwrap_or_default();
    let (pid, epoch) = (batch.producer_id(), batch.producer_epoch());
    let checked = if version >= 12 {
        broker
            .txn
            .add_partitions(txn_id, pid, epoch, &[(topic.to_string(), partition)], 2)
    } else {
        broker
            .txn
            .verify_partition(txn_id, pid, epoch, topic, partition)
    };
    checked.map_err(|e| {
            let code = match e {
                KafkaError::ProducerFenced => KafkaError::InvalidProducerEpoch,
                other => other,
            };
            Failure::new(
                code,
                format!("The producer attempted a transactional write to {topic}-{partition}, which is not part of its ongoing transaction ({e:?})"),
            )
        })
}

/// Kafka's produce-side checks, on the bytes as received.
fn validate(
    broker: &Broker,
    policy: &TopicPolicy,
    topic: &str,
    partition: i32,
    records: &[u8],
    now: i64,
) -> Result<(), Failure> {
    if records.is_empty() {
        return Err(Failure::new(
            KafkaError::InvalidRecord,
            "Produce requests with version 3+ must have at least one record batch per partition",
        ));
    }
    let batch = match RecordBatch::parse(records) {
        Ok(b) => b,
        Err(BatchError::UnsupportedMagic { magic }) => {
            return Err(Failure::new(
                KafkaError::InvalidRecord,
                format!("Produce requests with version 3+ are only allowed to contain record batches with magic version 2, found {magic}"),
            ))
        }
        Err(e) => return Err(Failure::new(KafkaError::CorruptMessage, e.to_string())),
    };
    if batch.size() != records.len() {
        return Err(Failure::new(
            KafkaError::InvalidRecord,
            "Produce requests with version 3+ must have exactly one record batch per partition",
        ));
    }
    if batch.size() > policy.max_message_bytes.max(0) as usize {
        return Err(Failure::new(
            KafkaError::MessageTooLarge,
            format!(
                "The record batch size in the append to {topic}-{partition} is {} bytes which exceeds the maximum configured value of {}.",
                batch.size(),
                policy.max_message_bytes
            ),
        ));
    }
    if let Err(e) = batch.verify_crc() {
        return Err(Failure::new(KafkaError::CorruptMessage, e.to_string()));
    }
    if batch.compression().is_err() {
        return Err(Failure::new(
            KafkaError::CorruptMessage,
            "Unknown compression codec",
        ));
    }
    if batch.is_control() {
        return Err(Failure::new(
            KafkaError::InvalidRecord,
            "Clients are not allowed to write control records",
        ));
    }
    let mut scratch = Vec::new();
    let summary =
        records::validate_records(&batch, &mut scratch, broker.max_decompressed_batch_bytes)
            .map_err(|e| match e {
                RecordError::Decompress(d) => {
                    Failure::new(KafkaError::CorruptMessage, d.to_string())
                }
                other => Failure::new(KafkaError::InvalidRecord, other.to_string()),
            })?;
    if policy.compacted && summary.has_null_key {
        let mut f = Failure::new(
            KafkaError::InvalidRecord,
            format!("Compacted topic cannot accept message without key in topic partition {topic}-{partition}."),
        );
        f.record_errors = record_indices(&batch, &scratch, |r| r.key.is_none())
            .into_iter()
            .map(|i| (i, f.message.clone()))
            .collect();
        return Err(f);
    }
    if !policy.log_append_time && summary.count > 0 {
        let earliest = now.saturating_sub(policy.timestamp_before_max_ms);
        let latest = now.saturating_add(policy.timestamp_after_max_ms);
        if summary.min_timestamp < earliest || summary.max_timestamp > latest {
            let base = batch.base_timestamp();
            let bad = record_indices(&batch, &scratch, |r| {
                let ts = base.saturating_add(r.timestamp_delta);
                ts < earliest || ts > latest
            });
            let message = format!(
                "One or more records have been rejected due to invalid timestamp: the timestamp should be within [{earliest}, {latest}]"
            );
            let mut f = Failure::new(KafkaError::InvalidTimestamp, message.clone());
            f.record_errors = bad
                .into_iter()
                .map(|i| {
                    (
                        i,
                        format!("Timestamp of record {i} is out of range. {message}"),
                    )
                })
                .collect();
            return Err(f);
        }
    }
    Ok(())
}

/// Indices of the records matching `pred` (only on the error path).
fn record_indices(
    batch: &RecordBatch<'_>,
    decompressed: &[u8],
    pred: impl Fn(&records::Record<'_>) -> bool,
) -> Vec<i32> {
    let data = if batch.compression().ok() == Some(sluice_protocol::batch::Compression::None) {
        batch.records()
    } else {
        decompressed
    };
    records::records(data)
        .enumerate()
        .filter_map(|(i, r)| r.ok().filter(|r| pred(r)).map(|_| i as i32))
        .collect()
}
