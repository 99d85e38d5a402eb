//! ElectLeaders (API key 43), v0-2. v1: election_type, top-level error_code. v2: flexible.
//!
//! One node leads every partition with its only replica, which is also the preferred one, so
//! no election is ever needed. As Kafka 4.3's single node (compat-tests/differential
//! `leadership`, compat-tests/admin `leader-election`):
//! - each named partition answers ELECTION_NOT_NEEDED (84) with Kafka's default message, for
//!   preferred (0) and unclean (1) elections alike; an unknown topic "No such topic as T", an
//!   unknown partition "No such partition as T-P" (both UNKNOWN_TOPIC_OR_PARTITION);
//! - `topic_partitions` null (all partitions): an empty result list, since Kafka leaves out
//!   the partitions that need no election;
//! - another election type: INVALID_REQUEST at the top and for every named partition
//!   ("Unknown election type N").

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::elect_leaders_response::{
    PartitionResult, ReplicaElectionResult,
};
use sluice_protocol::kafka_protocol::messages::{
    ElectLeadersRequest, ElectLeadersResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: ElectLeadersRequest) -> Reply {
    let mut resp = ElectLeadersResponse::default();
    // v0 has no election type: always preferred.
    let kind = if ctx.version >= 1 {
        req.election_type
    } else {
        PREFERRED
    };
    let unknown_kind = kind != PREFERRED && kind != UNCLEAN;
    if unknown_kind {
        resp.error_code = KafkaError::InvalidRequest.code();
    }
    let image = broker.image();
    let topics = &image.topics;
    for t in req.topic_partitions.iter().flatten() {
        let mut tr = ReplicaElectionResult::default().with_topic(t.topic.clone());
        let meta = topics.get(t.topic.as_str());
        for &p in &t.partitions {
            let (code, message) = if unknown_kind {
                (
                    KafkaError::InvalidRequest,
                    format!("Unknown election type {kind}"),
                )
            } else {
                match meta {
                    None => (
                        KafkaError::UnknownTopicOrPartition,
                        format!("No such topic as {}", t.topic.as_str()),
                    ),
                    Some(m) if m.partition(p).is_none() => (
                        KafkaError::UnknownTopicOrPartition,
                        format!("No such partition as {}-{p}", t.topic.as_str()),
                    ),
                    Some(_) => (
                        KafkaError::ElectionNotNeeded,
                        "Leader election not needed for topic partition.".to_string(),
                    ),
                }
            };
            tr.partition_result.push(
                PartitionResult::default()
                    .with_partition_id(p)
                    .with_error_code(code.code())
                    .with_error_message(Some(StrBytes::from_string(message))),
            );
        }
        resp.replica_election_results.push(tr);
    }
    Reply::Response(ResponseKind::ElectLeaders(resp))
}
