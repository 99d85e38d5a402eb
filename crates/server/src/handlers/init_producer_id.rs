//! InitProducerId (API key 22), v0-5.
//!
//! - v1: no wire change. v2: flexible. v3: producer_id / producer_epoch (KIP-360: a producer may
//!   ask to bump its epoch after a fatal error). v4-5: more error codes (PRODUCER_FENCED,
//!   TRANSACTION_ABORTABLE). (v6, KIP-939 two-phase commit, is unstable in Kafka and not served.)
//! - Without a transactional id (idempotent producers): a new producer id with epoch 0, always —
//!   as Kafka's TransactionCoordinator does for a null transactional id.
//! - An empty transactional id: INVALID_REQUEST, as Kafka (compat-tests/differential).
//! - With a transactional id: transactions are not implemented yet, so the transaction
//!   coordinator is reported as not available (COORDINATOR_NOT_AVAILABLE).

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProducerId, ResponseKind,
};

pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext<'_>,
    req: InitProducerIdRequest,
) -> Reply {
    let mut resp = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if req.transactional_id.as_ref().is_some_and(|t| t.is_empty()) {
        resp.error_code = KafkaError::InvalidRequest.code();
    } else if req.transactional_id.is_some() {
        resp.error_code = KafkaError::CoordinatorNotAvailable.code();
    } else {
        match broker.producer_ids.generate() {
            Ok(id) => {
                resp.producer_id = ProducerId(id);
                resp.producer_epoch = 0;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot allocate a producer id");
                resp.error_code = KafkaError::UnknownServerError.code();
            }
        }
    }
    Reply::Response(ResponseKind::InitProducerId(resp))
}
