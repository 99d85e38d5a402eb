//! ListTransactions (API key 66), v0-2 (flexible).
//!
//! - v0: state_filters (Kafka's state names; unknown ones are echoed in
//!   unknown_state_filters) and producer_id_filters. v1: duration_filter (only transactions
//!   running for longer than this many ms; -1: no filter). v2: transactional_id_pattern (a
//!   regular expression the whole id must match; an invalid one is INVALID_REGULAR_EXPRESSION).
//! - Empty filters match everything.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::coordinator::txn_records::TxnState;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::list_transactions_response::TransactionState;
use sluice_protocol::kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, ResponseKind, TransactionalId,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: ListTransactionsRequest,
) -> Reply {
    let mut resp = ListTransactionsResponse::default();
    let mut states = Vec::new();
    for f in &req.state_filters {
        match TxnState::from_name(f.as_str()) {
            Some(s) => states.push(s),
            None => resp.unknown_state_filters.push(f.clone()),
        }
    }
    let pattern = match req
        .transactional_id_pattern
        .as_ref()
        .filter(|_| ctx.version >= 2)
    {
        Some(p) if !p.is_empty() => match regex::Regex::new(&format!("^(?:{})$", p.as_str())) {
            Ok(r) => Some(r),
            Err(_) => {
                resp.error_code = KafkaError::InvalidRegularExpression.code();
                return Reply::Response(ResponseKind::ListTransactions(resp));
            }
        },
        _ => None,
    };
    let now = broker.now_ms();
    let min_duration = if ctx.version >= 1 {
        req.duration_filter
    } else {
        -1
    };
    for d in broker.txn.list() {
        if !states.is_empty() && !states.contains(&d.state) {
            continue;
        }
        if !req.producer_id_filters.is_empty()
            && !req.producer_id_filters.contains(&ProducerId(d.producer_id))
        {
            continue;
        }
        if min_duration >= 0 && (d.start_ms < 0 || now - d.start_ms <= min_duration) {
            continue;
        }
        if pattern
            .as_ref()
            .is_some_and(|r| !r.is_match(&d.transactional_id))
        {
            continue;
        }
        resp.transaction_states.push(
            TransactionState::default()
                .with_transactional_id(TransactionalId(StrBytes::from_string(d.transactional_id)))
                .with_producer_id(ProducerId(d.producer_id))
                .with_transaction_state(StrBytes::from_static_str(d.state.name())),
        );
    }
    Reply::Response(ResponseKind::ListTransactions(resp))
}
