//! ConsumerGroupHeartbeat (API key 68), v0-1 (KIP-848; flexible).
//!
//! - v0: the coordinator generates the member id on the first heartbeat (epoch 0).
//!   v1 (KIP-1082): the client generates it and sends it from the first heartbeat on;
//!   SubscribedTopicRegex is honoured from v1 (RE2/J syntax, matched with the `regex` crate:
//!   the same syntax for what Java clients send — character classes, alternation, repetition;
//!   no backreferences or lookaround in either).
//! - Member epoch 0 joins, -1 leaves, -2 leaves as a static member (kept for its session).
//! - Errors as Kafka: INVALID_REQUEST for malformed fields, UNKNOWN_MEMBER_ID,
//!   FENCED_MEMBER_EPOCH, UNRELEASED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED, UNSUPPORTED_ASSIGNOR,
//!   INVALID_REGULAR_EXPRESSION, GROUP_ID_NOT_FOUND for a classic group with members.
//! - See coordinator::consumer_group for the protocol itself.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::coordinator::consumer_group::{Assignment, HeartbeatRequest, TopicInfo};
use sluice_protocol::kafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment as WireAssignment, TopicPartitions,
};
use sluice_protocol::kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

/// Every topic of the broker, as the assignor sees it. Internal topics included, as Kafka's
/// metadata image: a subscription (by name or regex) to `__consumer_offsets` is assigned it
/// (franz-go's Test848RegexBrokerResolves checks that on Kafka 4.3); clients that should not
/// read internal topics leave them out of their subscriptions.
pub fn topic_infos(broker: &Broker) -> Vec<TopicInfo> {
    broker
        .image()
        .topics
        .iter()
        .map(|t| TopicInfo {
            name: t.name.clone(),
            id: t.id,
            partitions: t.partition_count(),
        })
        .collect()
}

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: ConsumerGroupHeartbeatRequest,
) -> Reply {
    if let Err(e) = broker.ensure_offsets_topic() {
        tracing::error!(error = %e.message, "cannot create __consumer_offsets");
    }
    let owned = req.topic_partitions.as_ref().map(|tps| {
        let mut a = Assignment::new();
        for tp in tps {
            a.entry(tp.topic_id)
                .or_default()
                .extend(tp.partitions.iter().copied());
        }
        a
    });
    let hb = HeartbeatRequest {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.as_ref().map(|s| s.to_string()),
        rack_id: req.rack_id.as_ref().map(|s| s.to_string()),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_topic_names: req
            .subscribed_topic_names
            .as_ref()
            .map(|v| v.iter().map(|t| t.to_string()).collect()),
        subscribed_topic_regex: if ctx.version >= 1 {
            req.subscribed_topic_regex.as_ref().map(|s| s.to_string())
        } else {
            None
        },
        server_assignor: req.server_assignor.as_ref().map(|s| s.to_string()),
        owned,
        client_id: ctx.header.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.conn.peer.ip()),
        client_member_id: ctx.version >= 1,
    };
    let classic_active = broker.groups.has_members(req.group_id.as_str());
    let r = broker
        .consumer_groups
        .heartbeat(hb, &topic_infos(broker), classic_active);
    let mut resp = ConsumerGroupHeartbeatResponse::default()
        .with_member_epoch(r.member_epoch)
        .with_heartbeat_interval_ms(r.heartbeat_interval_ms)
        .with_member_id((!r.member_id.is_empty()).then(|| StrBytes::from_string(r.member_id)));
    resp.error_message = None;
    if let Some((e, msg)) = r.error {
        resp.error_code = e.code();
        resp.error_message = msg.map(StrBytes::from_string);
        resp.member_id = None;
    }
    resp.assignment = r.assignment.map(|a| {
        WireAssignment::default().with_topic_partitions(
            a.into_iter()
                .map(|(id, ps)| {
                    TopicPartitions::default()
                        .with_topic_id(id)
                        .with_partitions(ps.into_iter().collect())
                })
                .collect(),
        )
    });
    Reply::Response(ResponseKind::ConsumerGroupHeartbeat(resp))
}
