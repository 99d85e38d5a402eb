//! OffsetFetch (API key 9), v1-10 (v10 is decoded by sluice_protocol::offsets_v10).
//!
//! - v2: topics may be null (= every committed partition of the group), top-level error_code.
//!   v3: throttle_time_ms. v5: committed_leader_epoch. v6: flexible. v7: require_stable
//!   (a partition with transactional offsets not yet committed or aborted answers
//!   UNSTABLE_OFFSET_COMMIT). v8: several groups per
//!   request. v9: member_id / member_epoch (KIP-848: a member of a consumer group is checked,
//!   UNKNOWN_MEMBER_ID / STALE_MEMBER_EPOCH as the group's error). v10: topics by topic id in
//!   request and response (an unknown id: its partitions answer UNKNOWN_TOPIC_ID).
//! - Partitions without a commit (or groups that do not exist) answer offset -1 with no error.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::coordinator::group::CommittedOffset;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use sluice_protocol::kafka_protocol::messages::{
    OffsetFetchRequest, OffsetFetchResponse, ResponseKind, TopicName,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

/// A partition's committed offset, or UNSTABLE_OFFSET_COMMIT (Err).
type Answer = Result<Option<CommittedOffset>, KafkaError>;
type Fetched = Vec<(String, i32, Answer)>;

/// With `require_stable`, a partition for which a transaction has written offsets that are not
/// committed or aborted yet answers UNSTABLE_OFFSET_COMMIT (Kafka 2.5+, KIP-447).
fn fetch(
    broker: &Broker,
    group: &str,
    topics: Option<Vec<(String, i32)>>,
    require_stable: bool,
) -> Fetched {
    broker
        .groups
        .fetch_offsets(group, topics.as_deref())
        .into_iter()
        .map(|(t, p, c)| {
            let answer = if require_stable && broker.groups.has_pending_txn_offset(group, &t, p) {
                Err(KafkaError::UnstableOffsetCommit)
            } else {
                Ok(c)
            };
            (t, p, answer)
        })
        .collect()
}

type PartitionOffsets = Vec<(i32, Answer)>;

fn grouped(rows: Fetched) -> Vec<(String, PartitionOffsets)> {
    let mut out: Vec<(String, PartitionOffsets)> = Vec::new();
    for (t, p, c) in rows {
        match out.last_mut() {
            Some((name, parts)) if *name == t => parts.push((p, c)),
            _ => out.push((t, vec![(p, c)])),
        }
    }
    out
}

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: OffsetFetchRequest) -> Reply {
    let v = ctx.version;
    let mut resp = OffsetFetchResponse::default();
    if v >= 8 {
        let image = broker.image();
        let snapshot = &image.topics;
        for g in &req.groups {
            let mut unknown_ids = Vec::new();
            let topics = g.topics.as_ref().map(|ts| {
                let mut rows = Vec::new();
                for t in ts {
                    let name = if v >= 10 {
                        match snapshot.get_by_id(&t.topic_id) {
                            Some(m) => m.name.clone(),
                            None => {
                                unknown_ids.push(t);
                                continue;
                            }
                        }
                    } else {
                        t.name.to_string()
                    };
                    rows.extend(t.partition_indexes.iter().map(|p| (name.clone(), *p)));
                }
                rows
            });
            let mut gr = OffsetFetchResponseGroup::default().with_group_id(g.group_id.clone());
            // v9+: a KIP-848 member fetching with its id and epoch is checked as Kafka's
            // ConsumerGroup.validateOffsetFetch does (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH);
            // a fetch without a member (admin tools) and classic groups are not.
            if v >= 9 && (g.member_id.is_some() || g.member_epoch >= 0) {
                let member = g.member_id.as_ref().map(|m| m.as_str()).unwrap_or_default();
                if let Some(Err(e)) =
                    broker
                        .consumer_groups
                        .check_member(g.group_id.as_str(), member, g.member_epoch)
                {
                    resp.groups.push(gr.with_error_code(e.code()));
                    continue;
                }
            }
            for (t, parts) in grouped(fetch(
                broker,
                g.group_id.as_str(),
                topics,
                req.require_stable,
            )) {
                let topic_id = if v >= 10 {
                    snapshot.get(&t).map(|m| m.id).unwrap_or_default()
                } else {
                    Default::default()
                };
                gr.topics.push(
                    OffsetFetchResponseTopics::default()
                        .with_topic_id(topic_id)
                        .with_name(TopicName(StrBytes::from_string(t)))
                        .with_partitions(
                            parts
                                .into_iter()
                                .map(|(p, c)| {
                                    let (offset, epoch, meta, error) = split(c);
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(offset)
                                        .with_committed_leader_epoch(epoch)
                                        .with_metadata(Some(StrBytes::from_string(meta)))
                                        .with_error_code(error)
                                })
                                .collect(),
                        ),
                );
            }
            for t in unknown_ids {
                gr.topics.push(
                    OffsetFetchResponseTopics::default()
                        .with_topic_id(t.topic_id)
                        .with_partitions(
                            t.partition_indexes
                                .iter()
                                .map(|p| {
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(*p)
                                        .with_committed_offset(-1)
                                        .with_metadata(Some(StrBytes::from_static_str("")))
                                        .with_error_code(
                                            sluice_protocol::error::KafkaError::UnknownTopicId
                                                .code(),
                                        )
                                })
                                .collect(),
                        ),
                );
            }
            resp.groups.push(gr);
        }
    } else {
        let topics = req.topics.as_ref().map(|ts| {
            ts.iter()
                .flat_map(|t| {
                    t.partition_indexes
                        .iter()
                        .map(move |p| (t.name.to_string(), *p))
                })
                .collect()
        });
        let require_stable = v >= 7 && req.require_stable;
        for (t, parts) in grouped(fetch(broker, req.group_id.as_str(), topics, require_stable)) {
            resp.topics.push(
                OffsetFetchResponseTopic::default()
                    .with_name(TopicName(StrBytes::from_string(t)))
                    .with_partitions(
                        parts
                            .into_iter()
                            .map(|(p, c)| {
                                let (offset, epoch, meta, error) = split(c);
                                let mut part = OffsetFetchResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(offset)
                                    .with_metadata(Some(StrBytes::from_string(meta)))
                                    .with_error_code(error);
                                if v >= 5 {
                                    part.committed_leader_epoch = epoch;
                                }
                                part
                            })
                            .collect(),
                    ),
            );
        }
    }
    Reply::Response(ResponseKind::OffsetFetch(resp))
}

fn split(c: Answer) -> (i64, i32, String, i16) {
    match c {
        Ok(Some(c)) => (c.offset, c.leader_epoch, c.metadata, 0),
        Ok(None) => (-1, -1, String::new(), 0),
        Err(e) => (-1, -1, String::new(), e.code()),
    }
}
