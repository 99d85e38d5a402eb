//! OffsetCommit (API key 8), v2-10 (v10 is decoded by sluice_protocol::offsets_v10).
//!
//! - v2-4: retention_time_ms (ignored, as Kafka 4 does). v3: throttle_time_ms. v5: no
//!   retention. v6: committed_leader_epoch. v7: group_instance_id. v8: flexible. v9: the
//!   generation field may carry a KIP-848 member epoch (STALE_MEMBER_EPOCH). v10: topics by
//!   topic id in request and response (an unknown id: UNKNOWN_TOPIC_ID).
//! - Members commit with their generation (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
//!   REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID); a consumer outside group management commits with
//!   generation -1 to an empty or new group. Unknown topic or partition:
//!   UNKNOWN_TOPIC_OR_PARTITION. metadata over offset.metadata.max.bytes:
//!   OFFSET_METADATA_TOO_LARGE. Commits are written to `__consumer_offsets` before the answer.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use sluice_protocol::kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, ResponseKind, TopicName,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: OffsetCommitRequest) -> Reply {
    let v = ctx.version;
    let mut resp = OffsetCommitResponse::default();
    if let Err(e) = broker.ensure_offsets_topic() {
        tracing::error!(error = %e.message, "cannot create __consumer_offsets");
    }
    let image = broker.image();
    let snapshot = &image.topics;
    // (topic index, partition index) -> error, for partitions refused before the coordinator.
    let mut plan = Vec::new();
    let mut to_commit = Vec::new();
    for t in &req.topics {
        let known = if v >= 10 {
            snapshot.get_by_id(&t.topic_id).cloned()
        } else {
            snapshot.get(t.name.as_str()).cloned()
        };
        let unknown = if v >= 10 {
            KafkaError::UnknownTopicId
        } else {
            KafkaError::UnknownTopicOrPartition
        };
        let name = known
            .as_ref()
            .filter(|_| v >= 10)
            .map(|k| TopicName(StrBytes::from_string(k.name.clone())))
            .unwrap_or_else(|| t.name.clone());
        for p in &t.partitions {
            let exists = known
                .as_ref()
                .is_some_and(|k| k.partition(p.partition_index).is_some());
            if exists {
                plan.push((
                    (t.name.clone(), t.topic_id),
                    p.partition_index,
                    None,
                    Some(to_commit.len()),
                ));
                to_commit.push((
                    name.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    if v >= 6 { p.committed_leader_epoch } else { -1 },
                    p.committed_metadata
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                ));
            } else {
                let err = if known.is_none() {
                    unknown
                } else {
                    KafkaError::UnknownTopicOrPartition
                };
                plan.push((
                    (t.name.clone(), t.topic_id),
                    p.partition_index,
                    Some(err),
                    None,
                ));
            }
        }
    }
    let instance = if v >= 7 {
        req.group_instance_id.as_ref().map(|s| s.as_str())
    } else {
        None
    };
    let consumer_check = broker.consumer_groups.check_member(
        req.group_id.as_str(),
        req.member_id.as_str(),
        req.generation_id_or_member_epoch,
    );
    let results = if to_commit.is_empty() {
        Vec::new()
    } else if let Some(check) = consumer_check {
        // A KIP-848 group: the member epoch is checked there; the offsets are stored like a
        // simple consumer's under the same group id.
        match check {
            Err(e) => vec![Some(e); to_commit.len()],
            Ok(()) => broker
                .groups
                .commit_offsets(req.group_id.as_str(), "", -1, None, to_commit),
        }
    } else {
        broker.groups.commit_offsets(
            req.group_id.as_str(),
            req.member_id.as_str(),
            req.generation_id_or_member_epoch,
            instance,
            to_commit,
        )
    };
    for ((name, topic_id), partition, refused, idx) in plan {
        let err = refused.or_else(|| idx.and_then(|i| results.get(i).copied().flatten()));
        if resp
            .topics
            .last()
            .is_none_or(|t: &OffsetCommitResponseTopic| t.name != name || t.topic_id != topic_id)
        {
            let mut t = OffsetCommitResponseTopic::default().with_name(name);
            if v >= 10 {
                t.topic_id = topic_id;
            }
            resp.topics.push(t);
        }
        if let Some(t) = resp.topics.last_mut() {
            t.partitions.push(
                OffsetCommitResponsePartition::default()
                    .with_partition_index(partition)
                    .with_error_code(err.map(|e| e.code()).unwrap_or(0)),
            );
        }
    }
    Reply::Response(ResponseKind::OffsetCommit(resp))
}
