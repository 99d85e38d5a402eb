//! TxnOffsetCommit (API key 28), v0-5.
//!
//! - v1: no wire change. v2: committed_leader_epoch. v3: flexible; generation_id, member_id and
//!   group_instance_id (KIP-447: the group checks the member as for OffsetCommit). v4-5: more
//!   error codes. PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH below v2.
//! - The group's `__consumer_offsets` partition must be in the producer's ongoing transaction
//!   (AddOffsetsToTxn first): the producer is checked as for AddPartitionsToTxn, and a
//!   partition that was not added gets TRANSACTION_ABORTABLE (KIP-890). From v5 (transactions
//!   v2) the partition is added implicitly instead.
//! - The offsets are written as a transactional batch of the producer and stay pending until
//!   the transaction's marker: COMMIT makes them the group's committed offsets, ABORT drops them.
//!   OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for them meanwhile.
//! - Member checks: a classic group as Kafka's ClassicGroup.validateOffsetCommit for a
//!   transactional commit (any state; UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
//!   ILLEGAL_GENERATION); a KIP-848 group checks the member epoch, a stale one answered as
//!   ILLEGAL_GENERATION.

use super::txn_common::fenced_for_version;
use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::coordinator::group::OFFSETS_TOPIC;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use sluice_protocol::kafka_protocol::messages::{
    ResponseKind, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: TxnOffsetCommitRequest,
) -> Reply {
    let v = ctx.version;
    let group_id = req.group_id.as_str();
    let image = broker.image();
    let snapshot = &image.topics;
    let mut plan = Vec::new();
    let mut to_commit = Vec::new();
    for t in &req.topics {
        let known = snapshot.get(t.name.as_str());
        for p in &t.partitions {
            if known.is_some_and(|k| k.partition(p.partition_index).is_some()) {
                plan.push((
                    t.name.clone(),
                    p.partition_index,
                    None,
                    Some(to_commit.len()),
                ));
                to_commit.push((
                    t.name.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    if v >= 2 { p.committed_leader_epoch } else { -1 },
                    p.committed_metadata
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                ));
            } else {
                plan.push((
                    t.name.clone(),
                    p.partition_index,
                    Some(KafkaError::UnknownTopicOrPartition),
                    None,
                ));
            }
        }
    }
    let (member, generation, instance) = if v >= 3 {
        (
            req.member_id.as_str(),
            req.generation_id,
            req.group_instance_id.as_ref().map(|s| s.as_str()),
        )
    } else {
        ("", -1, None)
    };
    let results = if to_commit.is_empty() {
        Vec::new()
    } else {
        let n = to_commit.len();
        let offsets_partition = broker.groups.partition_for(group_id);
        let verified = if v >= 5 {
            // Transactions v2: the offsets partition joins the transaction implicitly.
            broker.txn.add_partitions(
                req.transactional_id.as_str(),
                req.producer_id.0,
                req.producer_epoch,
                &[(OFFSETS_TOPIC.to_string(), offsets_partition)],
                2,
            )
        } else {
            broker.txn.verify_partition(
                req.transactional_id.as_str(),
                req.producer_id.0,
                req.producer_epoch,
                OFFSETS_TOPIC,
                offsets_partition,
            )
        };
        match verified {
            Err(e) => vec![Some(e); n],
            Ok(()) => match broker
                .consumer_groups
                .check_member(group_id, member, generation)
            {
                Some(Err(e)) => {
                    let e = if e == KafkaError::StaleMemberEpoch {
                        KafkaError::IllegalGeneration
                    } else {
                        e
                    };
                    vec![Some(e); n]
                }
                Some(Ok(())) => broker.groups.write_txn_offsets(
                    group_id,
                    req.producer_id.0,
                    req.producer_epoch,
                    to_commit,
                ),
                None => broker.groups.txn_commit_offsets(
                    group_id,
                    req.producer_id.0,
                    req.producer_epoch,
                    member,
                    generation,
                    instance,
                    to_commit,
                ),
            },
        }
    };
    // Kafka lists the partitions it refused before asking the coordinator first, then the
    // coordinator's answers (compat-tests/differential, transactions).
    plan.sort_by_key(|(_, _, refused, _)| refused.is_none());
    let mut resp = TxnOffsetCommitResponse::default();
    for (name, partition, refused, idx) in plan {
        let err = refused.or_else(|| idx.and_then(|i| results.get(i).copied().flatten()));
        if !resp.topics.iter().any(|t| t.name == name) {
            resp.topics
                .push(TxnOffsetCommitResponseTopic::default().with_name(name.clone()));
        }
        if let Some(t) = resp.topics.iter_mut().find(|t| t.name == name) {
            t.partitions.push(
                TxnOffsetCommitResponsePartition::default()
                    .with_partition_index(partition)
                    .with_error_code(err.map(|e| fenced_for_version(e, v, 2).code()).unwrap_or(0)),
            );
        }
    }
    Reply::Response(ResponseKind::TxnOffsetCommit(resp))
}
