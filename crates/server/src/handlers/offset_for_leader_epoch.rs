//! OffsetForLeaderEpoch (API key 23), v2-4 (kafka-protocol 0.18 models exactly these; Kafka
//! 4.x serves the same range). v3: replica_id. v4: flexible.
//!
//! - For each partition: the end offset of `leader_epoch` from the partition's leader-epoch
//!   cache (storage's `leader-epoch-checkpoint`, Kafka's LeaderEpochFileCache.endOffsetFor):
//!   the log end offset for the latest epoch (Sluice's is always 0, see
//!   the partition's leader epoch), the start of the next epoch for an older one, and
//!   epoch -1 / offset -1 with no error for epoch -1 or an epoch newer than every known one.
//! - `current_leader_epoch` is checked as Kafka's Partition.checkCurrentLeaderEpoch: -1 is not
//!   checked, an older epoch (including other negative values) is FENCED_LEADER_EPOCH, a newer
//!   one UNKNOWN_LEADER_EPOCH. An unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION
//!   (checked first).
//! - `replica_id` changes nothing: Kafka only authorizes followers (CLUSTER_ACTION) differently,
//!   and Sluice has no authorizer; every answer comes from the leader.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use sluice_protocol::kafka_protocol::messages::{
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, ResponseKind,
};

/// RecordBatch.NO_PARTITION_LEADER_EPOCH: "do not check".
const NO_PARTITION_LEADER_EPOCH: i32 = -1;

/// Kafka's Partition.checkCurrentLeaderEpoch: `current` (from the client) against the
/// partition's `leader_epoch`.
pub(crate) fn check_current_leader_epoch(current: i32, leader_epoch: i32) -> Option<KafkaError> {
    match current {
        NO_PARTITION_LEADER_EPOCH => None,
        e if e < leader_epoch => Some(KafkaError::FencedLeaderEpoch),
        e if e > leader_epoch => Some(KafkaError::UnknownLeaderEpoch),
        _ => None,
    }
}

pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext<'_>,
    req: OffsetForLeaderEpochRequest,
) -> Reply {
    let mut resp = OffsetForLeaderEpochResponse::default();
    for t in &req.topics {
        let mut tr = OffsetForLeaderTopicResult::default().with_topic(t.topic.clone());
        for p in &t.partitions {
            let mut pr = EpochEndOffset::default()
                .with_partition(p.partition)
                .with_leader_epoch(-1)
                .with_end_offset(-1);
            match broker.local_partition(t.topic.as_str(), p.partition) {
                Err(e) => pr.error_code = e.code(),
                Ok(part) => {
                    match check_current_leader_epoch(p.current_leader_epoch, part.leader_epoch()) {
                        Some(e) => pr.error_code = e.code(),
                        // Only the leader answers (Kafka's fetchOnlyFromLeader).
                        None if !part.is_leader() => {
                            pr.error_code = KafkaError::NotLeaderOrFollower.code()
                        }
                        None => {
                            let (epoch, end) = part.log().end_offset_for_epoch(p.leader_epoch);
                            pr.leader_epoch = epoch;
                            pr.end_offset = end;
                        }
                    }
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Reply::Response(ResponseKind::OffsetForLeaderEpoch(resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_leader_epoch_checks_as_kafka() {
        assert_eq!(check_current_leader_epoch(-1, 0), None);
        assert_eq!(check_current_leader_epoch(0, 0), None);
        assert_eq!(check_current_leader_epoch(3, 3), None);
        assert_eq!(
            check_current_leader_epoch(2, 3),
            Some(KafkaError::FencedLeaderEpoch)
        );
        assert_eq!(
            check_current_leader_epoch(-5, 0),
            Some(KafkaError::FencedLeaderEpoch)
        );
        assert_eq!(
            check_current_leader_epoch(1, 0),
            Some(KafkaError::UnknownLeaderEpoch)
        );
    }
}
