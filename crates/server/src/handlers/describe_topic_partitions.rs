//! DescribeTopicPartitions (API key 75), v0 (KIP-966; kafka-topics --describe uses it).
//!
//! - Topics are answered in name order (all topics when none are named), at most
//!   response_partition_limit partitions per response (capped at Kafka's default
//!   max.request.partition.size.limit, 2000); next_cursor names where the next page starts.
//!   A cursor whose topic is not among the requested topics is INVALID_REQUEST.
//! - Unknown topic: UNKNOWN_TOPIC_OR_PARTITION. Eligible leader replicas (ELR) are empty lists:
//!   with one node every replica is in the ISR.

use super::metadata::TOPIC_OPERATIONS;
use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use sluice_protocol::kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, ResponseKind,
    TopicName,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

/// Kafka's max.request.partition.size.limit default.
const MAX_PARTITIONS_PER_RESPONSE: i32 = 2000;

pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext<'_>,
    req: DescribeTopicPartitionsRequest,
) -> Reply {
    let image = broker.image();
    let snapshot = &image.topics;
    let mut names: Vec<String> = if req.topics.is_empty() {
        snapshot.iter().map(|t| t.name.clone()).collect()
    } else {
        req.topics.iter().map(|t| t.name.to_string()).collect()
    };
    names.sort();
    names.dedup();
    let mut resp = DescribeTopicPartitionsResponse::default();
    let (start_topic, mut start_partition) = match &req.cursor {
        Some(c) => {
            if !names.iter().any(|n| n == c.topic_name.as_str()) {
                // Kafka rejects the whole request.
                return Reply::Response(ResponseKind::DescribeTopicPartitions(resp_with_error(
                    &names,
                )));
            }
            (Some(c.topic_name.to_string()), c.partition_index.max(0))
        }
        None => (None, 0),
    };
    let mut budget = req
        .response_partition_limit
        .clamp(1, MAX_PARTITIONS_PER_RESPONSE);
    for name in names
        .iter()
        .filter(|n| start_topic.as_ref().is_none_or(|s| *n >= s))
    {
        let tname = TopicName(StrBytes::from_string(name.clone()));
        let Some(t) = snapshot.get(name) else {
            resp.topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_error_code(KafkaError::UnknownTopicOrPartition.code())
                    .with_name(Some(tname)),
            );
            continue;
        };
        if budget == 0 {
            resp.next_cursor = Some(
                Cursor::default()
                    .with_topic_name(tname)
                    .with_partition_index(0),
            );
            break;
        }
        let mut topic = DescribeTopicPartitionsResponseTopic::default()
            .with_name(Some(tname.clone()))
            .with_topic_id(t.id)
            .with_is_internal(t.is_internal())
            .with_topic_authorized_operations(TOPIC_OPERATIONS);
        let mut p = start_partition;
        while p < t.partition_count() {
            if budget == 0 {
                resp.next_cursor = Some(
                    Cursor::default()
                        .with_topic_name(tname.clone())
                        .with_partition_index(p),
                );
                break;
            }
            let Some(reg) = t.partition(p) else {
                break;
            };
            let ids = |v: &[i32]| v.iter().map(|b| BrokerId(*b)).collect::<Vec<_>>();
            topic.partitions.push(
                DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(p)
                    .with_leader_id(BrokerId(reg.leader))
                    .with_leader_epoch(reg.leader_epoch)
                    .with_replica_nodes(ids(&reg.replicas))
                    .with_isr_nodes(ids(&reg.isr))
                    .with_eligible_leader_replicas(Some(ids(&reg.elr)))
                    .with_last_known_elr(Some(ids(&reg.last_known_elr))),
            );
            budget -= 1;
            p += 1;
        }
        start_partition = 0;
        resp.topics.push(topic);
        if resp.next_cursor.is_some() {
            break;
        }
    }
    Reply::Response(ResponseKind::DescribeTopicPartitions(resp))
}

fn resp_with_error(names: &[String]) -> DescribeTopicPartitionsResponse {
    let mut resp = DescribeTopicPartitionsResponse::default();
    for n in names {
        resp.topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_error_code(KafkaError::InvalidRequest.code())
                .with_name(Some(TopicName(StrBytes::from_string(n.clone())))),
        );
    }
    resp
}
