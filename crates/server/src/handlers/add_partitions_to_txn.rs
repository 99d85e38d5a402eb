//! AddPartitionsToTxn (API key 24), v0-5.
//!
//! - v1: no wire change. v2: PRODUCER_FENCED (below v2 answered as INVALID_PRODUCER_EPOCH).
//!   v3: flexible. v4: batched transactions with verify_only and a top-level error code
//!   (KIP-890, meant for brokers). v5: more error codes.
//! - v0-3: one transaction. A partition of a topic that does not exist fails the whole request:
//!   UNKNOWN_TOPIC_OR_PARTITION for it, OPERATION_NOT_ATTEMPTED for the others (as Kafka);
//!   otherwise every partition gets the coordinator's answer (see
//!   [`TransactionCoordinator::add_partitions`](crate::coordinator::transaction::TransactionCoordinator::add_partitions)).
//! - v4+: each transaction on its own; verify_only transactions are only checked (KIP-890
//!   part 1: TRANSACTION_ABORTABLE for a partition not in the transaction); v5 adds from a
//!   broker are transactions v2's implicit adds.

use super::txn_common::fenced_for_version;
use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use sluice_protocol::kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use sluice_protocol::kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ResponseKind,
};

/// The answer for every partition of one transaction.
fn add(
    broker: &Broker,
    version: i16,
    txn_id: &str,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    topics: &[AddPartitionsToTxnTopic],
) -> Vec<AddPartitionsToTxnTopicResult> {
    let image = broker.image();
    let snapshot = &image.topics;
    let mut unknown = Vec::new();
    let mut partitions = Vec::new();
    for t in topics {
        for p in &t.partitions {
            let known = snapshot
                .get(t.name.as_str())
                .is_some_and(|m| m.partition(*p).is_some());
            if known {
                partitions.push((t.name.to_string(), *p));
            } else {
                unknown.push((t.name.to_string(), *p));
            }
        }
    }
    let answer = |topic: &str, p: i32| -> Option<KafkaError> {
        if !unknown.is_empty() {
            return Some(if unknown.iter().any(|(t, q)| t == topic && *q == p) {
                KafkaError::UnknownTopicOrPartition
            } else {
                KafkaError::OperationNotAttempted
            });
        }
        None
    };
    let overall = if unknown.is_empty() && !verify_only {
        broker
            .txn
            .add_partitions(
                txn_id,
                producer_id,
                epoch,
                &partitions,
                if version >= 5 { 2 } else { 0 },
            )
            .err()
    } else {
        None
    };
    topics
        .iter()
        .map(|t| {
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name.clone())
                .with_results_by_partition(
                    t.partitions
                        .iter()
                        .map(|p| {
                            let err = answer(t.name.as_str(), *p).or(overall).or_else(|| {
                                verify_only
                                    .then(|| {
                                        broker
                                            .txn
                                            .verify_partition(
                                                txn_id,
                                                producer_id,
                                                epoch,
                                                t.name.as_str(),
                                                *p,
                                            )
                                            .err()
                                    })
                                    .flatten()
                            });
                            AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(*p)
                                .with_partition_error_code(
                                    err.map(|e| fenced_for_version(e, version, 2).code())
                                        .unwrap_or(0),
                                )
                        })
                        .collect(),
                )
        })
        .collect()
}

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: AddPartitionsToTxnRequest,
) -> Reply {
    let v = ctx.version;
    let mut resp = AddPartitionsToTxnResponse::default();
    if v <= 3 {
        resp.results_by_topic_v3_and_below = add(
            broker,
            v,
            req.v3_and_below_transactional_id.as_str(),
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            false,
            &req.v3_and_below_topics,
        );
    } else {
        for t in &req.transactions {
            resp.results_by_transaction.push(
                AddPartitionsToTxnResult::default()
                    .with_transactional_id(t.transactional_id.clone())
                    .with_topic_results(add(
                        broker,
                        v,
                        t.transactional_id.as_str(),
                        t.producer_id.0,
                        t.producer_epoch,
                        t.verify_only,
                        &t.topics,
                    )),
            );
        }
    }
    Reply::Response(ResponseKind::AddPartitionsToTxn(resp))
}
