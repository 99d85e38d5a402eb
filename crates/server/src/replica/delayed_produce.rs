//! DelayedProduce: an acks=all append waits until every in-sync replica has it — the leader's
//! high watermark reaches it — or the request's timeout passes (Kafka's DelayedProduce).
//! Waiters sleep in the purgatory, woken by high watermark moves and leadership changes of
//! their partitions; no polling.

use std::sync::Arc;
use std::time::Duration;

use sluice_protocol::error::KafkaError;

use super::partition::Partition;
use crate::purgatory::{FetchPurgatory, PartitionKey};

/// One partition's append waiting for replication: the offset after its last record.
pub struct PendingAck {
    pub partition: Arc<Partition>,
    pub required_offset: i64,
}

/// Wait until every pending append is replicated to the ISR (or failed), at most `timeout`.
/// Returns, in order, each append's outcome: None replicated, Some(error) otherwise
/// (NOT_LEADER_OR_FOLLOWER after a leadership change, NOT_ENOUGH_REPLICAS_AFTER_APPEND when
/// the ISR shrank below min.insync.replicas, REQUEST_TIMED_OUT).
pub async fn wait_for_acks(
    purgatory: &FetchPurgatory,
    pending: &[PendingAck],
    timeout: Duration,
) -> Vec<Option<KafkaError>> {
    let mut outcome: Vec<Option<Option<KafkaError>>> = vec![None; pending.len()];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let keys: Vec<PartitionKey> = pending
            .iter()
            .zip(&outcome)
            .filter(|(_, o)| o.is_none())
            .map(|(p, _)| {
                let tp = p.partition.topic_partition();
                (Arc::from(tp.topic.as_str()), tp.partition)
            })
            .collect();
        if keys.is_empty() {
            break;
        }
        // Register, then look, so that a move in between is not missed.
        let waiter = purgatory.register(keys.iter());
        for (p, o) in pending.iter().zip(outcome.iter_mut()) {
            if o.is_none() {
                *o = p
                    .partition
                    .check_enough_replicas_reach_offset(p.required_offset);
            }
        }
        if outcome.iter().all(Option::is_some) || purgatory.is_shut_down() {
            break;
        }
        if tokio::time::timeout_at(deadline, waiter.notified())
            .await
            .is_err()
        {
            break;
        }
    }
    outcome
        .into_iter()
        .map(|o| o.unwrap_or(Some(KafkaError::RequestTimedOut)))
        .collect()
}
