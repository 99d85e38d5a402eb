//! DescribeProducers (API key 61), v0 (flexible).
//!
//! The active producers of each partition from its producer state (Kafka's
//! ProducerStateManager): producer id and epoch, last sequence, last timestamp, the epoch of
//! the coordinator that wrote the producer's last marker, and the first offset of its open
//! transaction (-1: none). `kafka-transactions.sh describe-producers` and `find-hanging` use
//! it. An unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use sluice_protocol::kafka_protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, ProducerId, ResponseKind,
};

pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext<'_>,
    req: DescribeProducersRequest,
) -> Reply {
    let mut resp = DescribeProducersResponse::default();
    for t in &req.topics {
        let mut tr = TopicResponse::default().with_name(t.name.clone());
        for p in &t.partition_indexes {
            let mut pr = PartitionResponse::default().with_partition_index(*p);
            match broker.leader_log(t.name.as_str(), *p) {
                Err(e) => pr.error_code = e.code(),
                Ok(log) => {
                    pr.active_producers = log
                        .active_producers()
                        .into_iter()
                        .map(|e| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(e.producer_id))
                                .with_producer_epoch(i32::from(e.producer_epoch))
                                .with_last_sequence(e.last_seq())
                                .with_last_timestamp(e.last_timestamp)
                                .with_coordinator_epoch(e.coordinator_epoch)
                                .with_current_txn_start_offset(
                                    e.current_txn_first_offset.unwrap_or(-1),
                                )
                        })
                        .collect();
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Reply::Response(ResponseKind::DescribeProducers(resp))
}
