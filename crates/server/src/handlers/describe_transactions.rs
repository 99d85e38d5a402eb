//! DescribeTransactions (API key 65), v0 (flexible).
//!
//! Each transactional id's state (Kafka's state names), timeout, start time (-1 when no
//! transaction has started), producer id and epoch, and the partitions of its transaction.
//! An unknown id: TRANSACTIONAL_ID_NOT_FOUND.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::describe_transactions_response::{
    TopicData, TransactionState,
};
use sluice_protocol::kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, ResponseKind, TopicName,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext<'_>,
    req: DescribeTransactionsRequest,
) -> Reply {
    let mut resp = DescribeTransactionsResponse::default();
    for id in &req.transactional_ids {
        // An unknown id keeps the schema defaults (empty state, zeros), as Kafka answers it.
        let mut s = TransactionState::default()
            .with_transactional_id(id.clone())
            .with_transaction_state(StrBytes::from_static_str(""));
        match broker.txn.describe(id.as_str()) {
            None => s.error_code = KafkaError::TransactionalIdNotFound.code(),
            Some(d) => {
                s.transaction_state = StrBytes::from_static_str(d.state.name());
                s.transaction_timeout_ms = d.timeout_ms;
                s.transaction_start_time_ms = d.start_ms;
                s.producer_id = ProducerId(d.producer_id);
                s.producer_epoch = d.producer_epoch;
                s.topics = d
                    .partitions
                    .iter()
                    .map(|(t, ps)| {
                        TopicData::default()
                            .with_topic(TopicName(StrBytes::from_string(t.clone())))
                            .with_partitions(ps.iter().copied().collect())
                    })
                    .collect();
            }
        }
        resp.transaction_states.push(s);
    }
    Reply::Response(ResponseKind::DescribeTransactions(resp))
}
