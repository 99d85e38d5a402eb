//! Fetch (API key 1), v4-18 (Kafka 4 removed v0-3).
//!
//! - v4: isolation_level, last_stable_offset, aborted_transactions. v5: log_start_offset.
//!   v7: fetch sessions (session_id, session_epoch, forgotten_topics_data; top-level
//!   error_code). v9: current_leader_epoch. v11: rack_id, preferred_read_replica (-1 here).
//!   v12: flexible; last_fetched_epoch, diverging_epoch. v13: topics by topic_id
//!   (UNKNOWN_TOPIC_ID). v15: replica_state replaces replica_id. v16: node_endpoints.
//!   v17: replica_directory_id. v18: high_watermark in the request (follower fetches).
//! - Long poll: if fewer than min_bytes are available the fetch waits, up to max_wait_ms, in the
//!   purgatory and is woken by appends to the partitions it reads; any partition error answers
//!   at once. max_bytes and partition_max_bytes follow KIP-74: the first batch of the first
//!   non-empty partition is returned even when larger than the limits.
//! - Data is served only below the high watermark; read_committed stops at the last stable
//!   offset and returns the aborted transactions overlapping the data; read_uncommitted
//!   returns no list (clients skip control batches and aborted data themselves).
//! - Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID, OFFSET_OUT_OF_RANGE,
//!   FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH against the partition's leader epoch.
//!   Session errors (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH) are top-level.
//! - Empty records are sent as an empty byte string, never null (librdkafka rejects null).

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::fetch_session::{FetchContext, PartitionFetch, SentState, SessionPartition};
use crate::metadata_cache;
use crate::purgatory::PartitionKey;
use crate::replica::{LeaderInfo, Partition};
use bytes::Bytes;
use sluice_protocol::error::KafkaError;
use sluice_protocol::fetch_response::{
    self, AbortedTxn as AbortedTxnWire, EpochEndOffset, FetchResponseParts, LeaderIdAndEpoch,
    NodeEndpoint, PartitionPart, TopicPart,
};
use sluice_protocol::kafka_protocol::messages::{FetchRequest, TopicName};
use sluice_storage::{AbortedTxn, StorageError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

struct PartitionResult {
    error: Option<KafkaError>,
    /// KIP-951: the leader, with NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH.
    leader: Option<LeaderInfo>,
    /// A follower's log diverges from the leader's here.
    diverging: Option<EpochEndOffset>,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
    /// read_committed only: aborted transactions overlapping the records.
    aborted: Option<Vec<AbortedTxn>>,
    records: Vec<Bytes>,
    size: usize,
}

impl PartitionResult {
    fn error(e: KafkaError) -> Self {
        Self {
            error: Some(e),
            leader: None,
            diverging: None,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted: None,
            records: Vec::new(),
            size: 0,
        }
    }
}

struct Plan {
    partitions: Vec<(SessionPartition, PartitionFetch)>,
    /// current_leader_epoch sent with a partition in this request (-1: not checked).
    epochs: HashMap<SessionPartition, i32>,
    /// v18: the follower's high watermark per partition in this request.
    follower_hws: HashMap<SessionPartition, i64>,
    max_bytes: usize,
    read_committed: bool,
    /// The fetching follower replica, if it is one (replica id >= 0).
    follower: Option<FollowerFetch>,
    /// Consumers may read from a follower from v11 on (KIP-392: the request carries rack_id);
    /// older versions only from the leader.
    consumer_may_read_follower: bool,
}

#[derive(Debug, Clone, Copy)]
struct FollowerFetch {
    replica_id: i32,
    broker_epoch: i64,
}

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: FetchRequest) -> Reply {
    let v = ctx.version;
    let image = broker.image();
    let snapshot = &image.topics;
    let resolve = |name: &TopicName, id: Uuid| -> SessionPartitionTopic {
        if v >= 13 {
            match snapshot.get_by_id(&id) {
                Some(t) => SessionPartitionTopic {
                    id,
                    name: Arc::from(t.name.as_str()),
                },
                None => SessionPartitionTopic {
                    id,
                    name: Arc::from(""),
                },
            }
        } else {
            SessionPartitionTopic {
                id: Uuid::nil(),
                name: Arc::from(name.as_str()),
            }
        }
    };
    let mut requested = Vec::new();
    let mut epochs = HashMap::new();
    let mut follower_hws = HashMap::new();
    for t in &req.topics {
        let topic = resolve(&t.topic, t.topic_id);
        for p in &t.partitions {
            let sp = SessionPartition {
                topic_id: topic.id,
                topic: topic.name.clone(),
                partition: p.partition,
            };
            epochs.insert(sp.clone(), p.current_leader_epoch);
            if v >= 18 {
                follower_hws.insert(sp.clone(), p.high_watermark);
            }
            requested.push((
                sp,
                PartitionFetch {
                    fetch_offset: p.fetch_offset,
                    partition_max_bytes: p.partition_max_bytes,
                    log_start_offset: p.log_start_offset,
                    last_fetched_epoch: if v >= 12 { p.last_fetched_epoch } else { -1 },
                },
            ));
        }
    }
    let mut forgotten = Vec::new();
    for t in &req.forgotten_topics_data {
        let topic = resolve(&t.topic, t.topic_id);
        for p in &t.partitions {
            forgotten.push(SessionPartition {
                topic_id: topic.id,
                topic: topic.name.clone(),
                partition: *p,
            });
        }
    }
    let (session_id, session_epoch) = if v >= 7 {
        (req.session_id, req.session_epoch)
    } else {
        (0, -1)
    };
    let now = broker.now_ms();
    let (fctx, partitions) =
        match broker
            .fetch_sessions
            .begin(session_id, session_epoch, requested, &forgotten, now)
        {
            Ok(x) => x,
            Err(code) => {
                let parts = FetchResponseParts {
                    error_code: code.code(),
                    ..Default::default()
                };
                return Reply::Frame(fetch_response::encode(v, ctx.header.correlation_id, &parts));
            }
        };
    let (replica_id, broker_epoch) = if v >= 15 {
        (
            req.replica_state.replica_id.0,
            req.replica_state.replica_epoch,
        )
    } else {
        (req.replica_id.0, -1)
    };
    let plan = Plan {
        partitions,
        epochs,
        follower_hws,
        max_bytes: if req.max_bytes <= 0 {
            0
        } else {
            req.max_bytes as usize
        },
        read_committed: req.isolation_level == 1,
        follower: (replica_id >= 0).then_some(FollowerFetch {
            replica_id,
            broker_epoch,
        }),
        consumer_may_read_follower: v >= 11,
    };

    let min_bytes = req.min_bytes.max(0) as usize;
    let mut results = read_all(broker, &plan);
    if !satisfied(&results, min_bytes, &plan) && req.max_wait_ms > 0 {
        let keys: Vec<PartitionKey> = plan
            .partitions
            .iter()
            .map(|(sp, _)| (sp.topic.clone(), sp.partition))
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(req.max_wait_ms as u64);
        loop {
            // Register, then look again, so an append in between is not missed.
            let waiter = broker.purgatory.register(keys.iter());
            results = read_all(broker, &plan);
            // Shutting down: answer with what there is rather than hold the connection.
            if satisfied(&results, min_bytes, &plan) || broker.purgatory.is_shut_down() {
                break;
            }
            if tokio::time::timeout_at(deadline, waiter.notified())
                .await
                .is_err()
            {
                results = read_all(broker, &plan);
                break;
            }
        }
    }

    let states: Vec<(SentState, bool)> = results
        .iter()
        .map(|r| {
            (
                SentState {
                    high_watermark: r.high_watermark,
                    last_stable_offset: r.last_stable_offset,
                    log_start_offset: r.log_start_offset,
                },
                r.error.is_some() || r.size > 0,
            )
        })
        .collect();
    let (response_session, keep) =
        broker
            .fetch_sessions
            .finish(&fctx, &plan.partitions, &states, broker.now_ms());
    if let FetchContext::Full { .. } = fctx {
        if response_session == 0 && session_epoch == 0 {
            tracing::debug!("fetch session cache full; serving a sessionless fetch");
        }
    }

    let mut parts = FetchResponseParts {
        session_id: if v >= 7 { response_session } else { 0 },
        ..Default::default()
    };
    let mut leaders: Vec<i32> = Vec::new();
    for (((sp, _), r), keep) in plan.partitions.iter().zip(results).zip(keep) {
        if !keep {
            continue;
        }
        let same = parts.responses.last().is_some_and(|t| {
            if v >= 13 {
                t.topic_id == sp.topic_id
            } else {
                t.topic == *sp.topic
            }
        });
        if !same {
            parts.responses.push(TopicPart {
                topic: sp.topic.to_string(),
                topic_id: sp.topic_id,
                partitions: Vec::new(),
            });
        }
        let Some(topic) = parts.responses.last_mut() else {
            continue;
        };
        topic.partitions.push(PartitionPart {
            partition_index: sp.partition,
            error_code: r.error.map(|e| e.code()).unwrap_or(0),
            high_watermark: r.high_watermark,
            last_stable_offset: r.last_stable_offset,
            log_start_offset: r.log_start_offset,
            aborted_transactions: if plan.read_committed && r.error.is_none() {
                Some(
                    r.aborted
                        .unwrap_or_default()
                        .iter()
                        .map(|a| AbortedTxnWire {
                            producer_id: a.producer_id,
                            first_offset: a.first_offset,
                        })
                        .collect(),
                )
            } else if matches!(
                r.error,
                Some(KafkaError::UnknownTopicOrPartition | KafkaError::UnknownTopicId)
            ) {
                // Kafka answers partitions it rejects before reading (unknown topic, id or
                // partition) with an empty list, not null (compat-tests/differential, fetch).
                Some(Vec::new())
            } else {
                None
            },
            preferred_read_replica: -1,
            records: r.records,
            diverging_epoch: r.diverging,
            current_leader: r.leader.filter(|l| l.leader_id >= 0).map(|l| {
                if !leaders.contains(&l.leader_id) {
                    leaders.push(l.leader_id);
                }
                LeaderIdAndEpoch {
                    leader_id: l.leader_id,
                    leader_epoch: l.leader_epoch,
                }
            }),
        });
    }
    if v >= 16 && !leaders.is_empty() {
        let image = broker.image();
        for id in leaders {
            if let Some(ep) = metadata_cache::endpoint(&image, id, ctx.listener()) {
                parts.node_endpoints.push(NodeEndpoint {
                    node_id: ep.id,
                    host: ep.host,
                    port: i32::from(ep.port),
                    rack: ep.rack,
                });
            }
        }
    }
    Reply::Frame(fetch_response::encode(v, ctx.header.correlation_id, &parts))
}

struct SessionPartitionTopic {
    id: Uuid,
    name: Arc<str>,
}

fn satisfied(results: &[PartitionResult], min_bytes: usize, plan: &Plan) -> bool {
    let mut total = 0usize;
    for (r, (sp, _)) in results.iter().zip(&plan.partitions) {
        if r.error.is_some() || r.diverging.is_some() {
            return true;
        }
        // v18: a follower whose high watermark is behind the leader's learns it at once.
        if plan
            .follower_hws
            .get(sp)
            .is_some_and(|hw| *hw >= 0 && *hw < r.high_watermark)
        {
            return true;
        }
        total += r.size;
    }
    total >= min_bytes.max(1) || (min_bytes == 0)
}

fn read_all(broker: &Broker, plan: &Plan) -> Vec<PartitionResult> {
    let mut remaining = plan.max_bytes;
    let mut any_data = false;
    plan.partitions
        .iter()
        .map(|(sp, pf)| {
            let r = read_one(broker, plan, sp, pf, remaining, !any_data);
            remaining = remaining.saturating_sub(r.size);
            any_data |= r.size > 0;
            r
        })
        .collect()
}

fn read_one(
    broker: &Broker,
    plan: &Plan,
    sp: &SessionPartition,
    pf: &PartitionFetch,
    remaining: usize,
    first_non_empty: bool,
) -> PartitionResult {
    if sp.topic.is_empty() {
        return PartitionResult::error(KafkaError::UnknownTopicId);
    }
    let partition = match broker.local_partition(&sp.topic, sp.partition) {
        Ok(p) => p,
        Err(e) => return PartitionResult::error(e),
    };
    let requested_epoch = plan.epochs.get(sp).copied().unwrap_or(-1);
    // Negative: not checked (Kafka's FetchRequest reads any negative epoch as none, unlike
    // ListOffsets and OffsetForLeaderEpoch; differential `leadership`). Older than ours:
    // fenced; newer: unknown.
    let leader = partition.leader_info();
    if requested_epoch > leader.leader_epoch {
        return PartitionResult::error(KafkaError::UnknownLeaderEpoch);
    }
    if requested_epoch >= 0 && requested_epoch < leader.leader_epoch {
        let mut r = PartitionResult::error(KafkaError::FencedLeaderEpoch);
        r.leader = Some(leader);
        return r;
    }
    let must_lead = plan.follower.is_some() || !plan.consumer_may_read_follower;
    if must_lead && !partition.is_leader() {
        let mut r = PartitionResult::error(KafkaError::NotLeaderOrFollower);
        r.leader = Some(leader);
        return r;
    }
    let log = partition.log();
    let limit = (pf.partition_max_bytes.max(0) as usize).min(remaining);
    if let Some(f) = plan.follower {
        return read_for_follower(broker, &partition, f, pf, limit, first_non_empty);
    }
    // read_committed stops at the last stable offset and lists the aborted transactions in
    // range; read_uncommitted returns everything below the high watermark and no list (clients
    // skip control batches themselves).
    let read = if plan.read_committed {
        log.read_committed(pf.fetch_offset, limit, first_non_empty)
    } else {
        log.read(pf.fetch_offset, limit, first_non_empty, None)
    };
    match read {
        Ok(data) => PartitionResult {
            error: None,
            leader: None,
            diverging: None,
            high_watermark: data.high_watermark,
            last_stable_offset: data.last_stable_offset,
            log_start_offset: data.log_start_offset,
            size: data.size(),
            aborted: data.aborted_transactions,
            records: data.records,
        },
        Err(StorageError::OffsetOutOfRange { .. }) => {
            PartitionResult::error(KafkaError::OffsetOutOfRange)
        }
        Err(e) => {
            tracing::error!(topic = %sp.topic, partition = sp.partition, error = %e, "read failed");
            PartitionResult::error(KafkaError::KafkaStorageError)
        }
    }
}

/// A follower replica's fetch from this leader (Kafka's fetch with FetchIsolation LOG_END):
/// the log diverges if the leader ended the follower's last fetched epoch before its fetch
/// offset (answered with the diverging epoch, no records); otherwise records up to the log
/// end, and the follower's progress is recorded (high watermark, ISR).
fn read_for_follower(
    broker: &Broker,
    partition: &Partition,
    f: FollowerFetch,
    pf: &PartitionFetch,
    limit: usize,
    first_non_empty: bool,
) -> PartitionResult {
    let log = partition.log();
    if pf.last_fetched_epoch >= 0 {
        let (epoch, end) = log.end_offset_for_epoch(pf.last_fetched_epoch);
        if epoch >= 0 && (epoch < pf.last_fetched_epoch || end < pf.fetch_offset) {
            let snap = log.snapshot();
            return PartitionResult {
                error: None,
                leader: None,
                diverging: Some(EpochEndOffset {
                    epoch,
                    end_offset: end,
                }),
                high_watermark: snap.high_watermark,
                last_stable_offset: snap.last_stable_offset,
                log_start_offset: snap.log_start_offset,
                aborted: None,
                records: Vec::new(),
                size: 0,
            };
        }
    }
    match log.read_to_log_end(pf.fetch_offset, limit, first_non_empty) {
        Ok(data) => {
            if let Err(e) = broker.replicas.record_follower_fetch(
                partition,
                f.replica_id,
                pf.fetch_offset,
                pf.log_start_offset,
                f.broker_epoch,
                data.log_end_offset,
            ) {
                let mut r = PartitionResult::error(e.code());
                r.leader = e.leader();
                return r;
            }
            // The high watermark after this fetch moved it.
            let snap = log.snapshot();
            PartitionResult {
                error: None,
                leader: None,
                diverging: None,
                high_watermark: snap.high_watermark,
                last_stable_offset: snap.last_stable_offset,
                log_start_offset: snap.log_start_offset,
                size: data.size(),
                aborted: None,
                records: data.records,
            }
        }
        Err(StorageError::OffsetOutOfRange { .. }) => {
            PartitionResult::error(KafkaError::OffsetOutOfRange)
        }
        Err(e) => {
            tracing::error!(tp = %partition.topic_partition(), error = %e, "read for a follower failed");
            PartitionResult::error(KafkaError::KafkaStorageError)
        }
    }
}
