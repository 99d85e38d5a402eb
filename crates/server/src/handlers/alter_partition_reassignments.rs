//! AlterPartitionReassignments (API key 45), v0-1. v0 is flexible; v1 (KIP-860) adds
//! allow_replication_factor_change to the request and echoes it in the response.
//!
//! Checked per partition in Kafka's order (ReplicationControlManager), with its messages:
//! unknown topic "Unable to find a topic named T." and unknown partition "Unable to find
//! partition T:P." (UNKNOWN_TOPIC_OR_PARTITION); replicas null (cancel) NO_REASSIGNMENT_IN_PROGRESS
//! (nothing is ever in progress); an empty list, a broker that is not this node, or one named
//! twice INVALID_REPLICA_ASSIGNMENT (brokers checked in ascending id order). A valid target can
//! only be `[this node]`, the current replica set: accepted and complete at once (no error, no
//! leader epoch change, nothing to list). The replication factor cannot change on one node,
//! so allow_replication_factor_change=false never refuses a valid target.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use sluice_protocol::kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: AlterPartitionReassignmentsRequest,
) -> Reply {
    // (The codec's defaults for the messages are empty strings; Kafka sends null.)
    let mut resp = AlterPartitionReassignmentsResponse::default().with_error_message(None);
    if ctx.version >= 1 {
        resp.allow_replication_factor_change = req.allow_replication_factor_change;
    }
    let image = broker.image();
    let topics = &image.topics;
    let node = broker.node_id();
    for t in &req.topics {
        let mut tr = ReassignableTopicResponse::default().with_name(t.name.clone());
        let meta = topics.get(t.name.as_str());
        for p in &t.partitions {
            let name = t.name.as_str();
            let index = p.partition_index;
            let result = match meta {
                None => Err((
                    KafkaError::UnknownTopicOrPartition,
                    Some(format!("Unable to find a topic named {name}.")),
                )),
                Some(m) if m.partition(index).is_none() => Err((
                    KafkaError::UnknownTopicOrPartition,
                    Some(format!("Unable to find partition {name}:{index}.")),
                )),
                Some(_) => match &p.replicas {
                    None => Err((KafkaError::NoReassignmentInProgress, None)),
                    Some(replicas) => check_target(replicas, node)
                        .map_err(|m| (KafkaError::InvalidReplicaAssignment, Some(m))),
                },
            };
            let mut pr = ReassignablePartitionResponse::default()
                .with_partition_index(index)
                .with_error_message(None);
            if let Err((code, message)) = result {
                pr.error_code = code.code();
                pr.error_message = message.map(StrBytes::from_string);
            }
            tr.partitions.push(pr);
        }
        resp.responses.push(tr);
    }
    Reply::Response(ResponseKind::AlterPartitionReassignments(resp))
}

/// Kafka's validateManualPartitionAssignment with one registered broker (`node`).
fn check_target(replicas: &[BrokerId], node: i32) -> Result<(), String> {
    if replicas.is_empty() {
        return Err("The manual partition assignment includes an empty replica list.".into());
    }
    let mut sorted: Vec<i32> = replicas.iter().map(|b| b.0).collect();
    sorted.sort_unstable();
    let mut prev = None;
    for id in sorted {
        if id != node {
            return Err(format!(
                "The manual partition assignment includes broker {id}, but no such broker is registered."
            ));
        }
        if prev == Some(id) {
            return Err(format!(
                "The manual partition assignment includes the broker {id} more than once."
            ));
        }
        prev = Some(id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[i32]) -> Vec<BrokerId> {
        v.iter().copied().map(BrokerId).collect()
    }

    #[test]
    fn targets_are_checked_as_kafkas_controller() {
        assert_eq!(check_target(&ids(&[1]), 1), Ok(()));
        assert!(check_target(&ids(&[]), 1)
            .unwrap_err()
            .contains("empty replica list"));
        assert!(check_target(&ids(&[1, 1]), 1)
            .unwrap_err()
            .contains("broker 1 more than once"));
        assert!(check_target(&ids(&[2, 1]), 1)
            .unwrap_err()
            .contains("broker 2, but no such broker"));
        assert!(check_target(&ids(&[-1]), 1)
            .unwrap_err()
            .contains("broker -1, but no such broker"));
    }
}
