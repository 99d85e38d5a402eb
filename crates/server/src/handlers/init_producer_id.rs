//! InitProducerId (API key 22), v0-5.
//!
//! - v1: no wire change. v2: flexible. v3: producer_id / producer_epoch (KIP-360: a producer may
//!   ask to bump its epoch after a fatal error). v4-5: more error codes (PRODUCER_FENCED,
//!   TRANSACTION_ABORTABLE); below v4 PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH.
//!   (v6, KIP-939 two-phase commit, is unstable in Kafka and not served.)
//! - Without a transactional id (idempotent producers): a new producer id with epoch 0, always —
//!   as Kafka's TransactionCoordinator does for a null transactional id.
//! - An empty transactional id: INVALID_REQUEST, as Kafka (compat-tests/differential).
//! - With a transactional id: the transaction coordinator (see
//!   [`crate::coordinator::transaction`]): a timeout over transaction.max.timeout.ms is
//!   INVALID_TRANSACTION_TIMEOUT; an ongoing transaction is aborted (fencing its producer) and
//!   the caller gets CONCURRENT_TRANSACTIONS and retries.

use super::txn_common::fenced_for_version;
use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProducerId, ResponseKind,
};

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: InitProducerIdRequest,
) -> Reply {
    let mut resp = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    match req.transactional_id.as_ref().map(|t| t.as_str()) {
        Some("") => resp.error_code = KafkaError::InvalidRequest.code(),
        Some(txn_id) => {
            let expected = (ctx.version >= 3 && req.producer_id.0 >= 0)
                .then_some((req.producer_id.0, req.producer_epoch));
            let result = match broker.ensure_transaction_state_topic() {
                Err(e) => {
                    tracing::error!(error = %e.message, "cannot create __transaction_state");
                    Err(KafkaError::CoordinatorNotAvailable)
                }
                Ok(()) => broker
                    .txn
                    .init_producer_id(txn_id, req.transaction_timeout_ms, expected),
            };
            match result {
                Ok((pid, epoch)) => {
                    resp.producer_id = ProducerId(pid);
                    resp.producer_epoch = epoch;
                }
                Err(e) => resp.error_code = fenced_for_version(e, ctx.version, 4).code(),
            }
        }
        None => match broker.producer_ids.generate() {
            Ok(id) => {
                resp.producer_id = ProducerId(id);
                resp.producer_epoch = 0;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot allocate a producer id");
                resp.error_code = e.kafka_error().code();
            }
        },
    }
    Reply::Response(ResponseKind::InitProducerId(resp))
}
