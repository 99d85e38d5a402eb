//! CreatePartitions (API key 37), v0-3 (v2 is flexible; v1 and v3 change nothing on the wire).
//!
//! - Grows a topic to `count` partitions: new partition logs are created, existing partitions
//!   and their data are untouched; the new count is persisted in the topic registry first.
//! - Errors, worded as Kafka 4.3.1's controller: unknown topic UNKNOWN_TOPIC_OR_PARTITION;
//!   the same count INVALID_PARTITIONS "Topic already has N partition(s)."; fewer
//!   INVALID_PARTITIONS "The topic t currently has N partition(s); M would not be an
//!   increase."; assignments (one replica list per *new* partition) of the wrong number,
//!   empty, with duplicates, another broker or another replication factor:
//!   INVALID_REPLICA_ASSIGNMENT. A topic named twice: one INVALID_REQUEST result for it.
//!   Kafka sends no error_message with UNKNOWN_TOPIC_OR_PARTITION.
//! - validate_only: every check, nothing created.

use super::{Reply, RequestContext};
use crate::broker::{ApiError, Broker};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use sluice_protocol::kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use std::collections::HashMap;

pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext<'_>,
    req: CreatePartitionsRequest,
) -> Reply {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.as_str()).or_default() += 1;
    }
    let mut resp = CreatePartitionsResponse::default();
    let mut answered: HashMap<&str, ()> = HashMap::new();
    for t in &req.topics {
        let name = t.name.as_str();
        if answered.insert(name, ()).is_some() {
            continue;
        }
        let result = if counts.get(name).copied().unwrap_or(0) > 1 {
            Err(ApiError::new(
                KafkaError::InvalidRequest,
                "Duplicate topic name.",
            ))
        } else {
            let assignments: Option<Vec<Vec<i32>>> = t.assignments.as_ref().map(|a| {
                a.iter()
                    .map(|x| x.broker_ids.iter().map(|b| b.0).collect())
                    .collect()
            });
            broker.create_partitions(name, t.count, assignments.as_deref(), req.validate_only)
        };
        let mut r = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        if let Err(e) = result {
            r.error_code = e.code.code();
            r.error_message = (e.code != KafkaError::UnknownTopicOrPartition)
                .then(|| StrBytes::from_string(e.message));
        }
        resp.results.push(r);
    }
    Reply::Response(ResponseKind::CreatePartitions(resp))
}
