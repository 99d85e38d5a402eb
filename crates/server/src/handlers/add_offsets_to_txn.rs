//! AddOffsetsToTxn (API key 25), v0-4.
//!
//! - v1: no wire change. v2: PRODUCER_FENCED (below v2 answered as INVALID_PRODUCER_EPOCH).
//!   v3: flexible. v4: more error codes.
//! - Adds the group's `__consumer_offsets` partition to the producer's transaction, so that
//!   the transaction's marker reaches the offsets TxnOffsetCommit writes there.

use super::txn_common::fenced_for_version;
use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::coordinator::group::OFFSETS_TOPIC;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, ResponseKind,
};

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: AddOffsetsToTxnRequest,
) -> Reply {
    let result = match broker.ensure_offsets_topic() {
        Err(e) => {
            tracing::error!(error = %e.message, "cannot create __consumer_offsets");
            Err(KafkaError::CoordinatorNotAvailable)
        }
        Ok(()) => {
            let partition = broker.groups.partition_for(req.group_id.as_str());
            broker.txn.add_partitions(
                req.transactional_id.as_str(),
                req.producer_id.0,
                req.producer_epoch,
                &[(OFFSETS_TOPIC.to_string(), partition)],
                0,
            )
        }
    };
    let resp = AddOffsetsToTxnResponse::default().with_error_code(
        result
            .err()
            .map(|e| fenced_for_version(e, ctx.version, 2).code())
            .unwrap_or(0),
    );
    Reply::Response(ResponseKind::AddOffsetsToTxn(resp))
}
