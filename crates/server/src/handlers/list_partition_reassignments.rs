//! ListPartitionReassignments (API key 46), v0 (flexible).
//!
//! A single node finishes every reassignment it accepts at once (the only possible target is
//! the replica set it already has), so none is ever in progress: the answer is always an empty
//! topic list with no error — also for unknown topics and partitions, as Kafka 4.3 answers
//! (compat-tests/differential `leadership`).

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::kafka_protocol::messages::{
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, ResponseKind,
};

pub async fn handle(
    _broker: &Broker,
    _ctx: &RequestContext<'_>,
    _req: ListPartitionReassignmentsRequest,
) -> Reply {
    // (The codec's default message is an empty string; Kafka sends null.)
    Reply::Response(ResponseKind::ListPartitionReassignments(
        ListPartitionReassignmentsResponse::default().with_error_message(None),
    ))
}
