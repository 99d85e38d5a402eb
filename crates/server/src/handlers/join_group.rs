//! JoinGroup (API key 11), v0-9.
//!
//! - v1: rebalance_timeout_ms (v0: the session timeout is used). v2: throttle_time_ms.
//!   v4: new dynamic members get MEMBER_ID_REQUIRED with an id and must rejoin with it
//!   (KIP-394). v5: group_instance_id (static membership, KIP-345; FENCED_INSTANCE_ID).
//!   v6: flexible. v7: protocol_type/protocol_name in the response. v8: reason.
//!   v9: skip_assignment (false here: the leader always computes the assignment).
//! - The response waits until the rebalance completes (see coordinator::group).
//! - Errors: INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT (group.min/max.session.timeout.ms),
//!   INCONSISTENT_GROUP_PROTOCOL, UNKNOWN_MEMBER_ID, GROUP_MAX_SIZE_REACHED,
//!   FENCED_INSTANCE_ID, COORDINATOR_NOT_AVAILABLE.
//! - To a KIP-848 consumer group with members, the member joins as a classic member of it
//!   (coordinator::consumer_group::classic_join: answered at once, generation = its member
//!   epoch, no leader, the server-side assignor's partitions served by SyncGroup); an empty
//!   KIP-848 group is converted to a classic group first.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::coordinator::group::{JoinRequest, JoinResult, Pending};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use sluice_protocol::kafka_protocol::messages::{
    JoinGroupRequest, JoinGroupResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: JoinGroupRequest) -> Reply {
    let v = ctx.version;
    if let Err(e) = broker.ensure_offsets_topic() {
        tracing::error!(error = %e.message, "cannot create __consumer_offsets");
        return respond(
            v,
            JoinResult {
                error: Some(KafkaError::CoordinatorNotAvailable),
                generation: -1,
                member_id: req.member_id.to_string(),
                ..Default::default()
            },
        );
    }
    // An empty KIP-848 group converts to the classic protocol: it goes (tombstoned in
    // __consumer_offsets; its committed offsets stay), and the classic group takes the id.
    if let Some(Err(e)) = broker
        .consumer_groups
        .delete_if_empty(req.group_id.as_str())
    {
        if e != KafkaError::NonEmptyGroup {
            return respond(
                v,
                JoinResult {
                    error: Some(KafkaError::CoordinatorNotAvailable),
                    generation: -1,
                    member_id: req.member_id.to_string(),
                    ..Default::default()
                },
            );
        }
    }
    let jr = JoinRequest {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        group_instance_id: if v >= 5 {
            req.group_instance_id.as_ref().map(|s| s.to_string())
        } else {
            None
        },
        client_id: ctx.header.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.conn.peer.ip()),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if v >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
        require_known_member_id: v >= 4,
    };
    // A KIP-848 group with members: the member joins it as a classic member (Kafka's
    // classicGroupJoinToConsumerGroup).
    if let Some(r) = broker
        .consumer_groups
        .classic_join(&jr, &super::consumer_group_heartbeat::topic_infos(broker))
    {
        return respond(v, r);
    }
    let member_id = jr.member_id.clone();
    let result = match broker.groups.join(jr) {
        Pending::Ready(r) => r,
        Pending::Wait(rx) => rx.await.unwrap_or_else(|_| JoinResult {
            error: Some(KafkaError::UnknownMemberId),
            generation: -1,
            member_id,
            ..Default::default()
        }),
    };
    respond(v, result)
}

fn respond(v: i16, r: JoinResult) -> Reply {
    let mut resp = JoinGroupResponse::default()
        .with_error_code(r.error.map(|e| e.code()).unwrap_or(0))
        .with_generation_id(r.generation)
        .with_leader(StrBytes::from_string(r.leader))
        .with_member_id(StrBytes::from_string(r.member_id));
    if v >= 7 {
        resp.protocol_type = r.protocol_type.map(StrBytes::from_string);
        resp.protocol_name = r.protocol_name.map(StrBytes::from_string);
    } else {
        resp.protocol_name = Some(StrBytes::from_string(r.protocol_name.unwrap_or_default()));
    }
    resp.members = r
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            let mut m = JoinGroupResponseMember::default()
                .with_member_id(StrBytes::from_string(id))
                .with_metadata(metadata);
            if v >= 5 {
                m.group_instance_id = instance.map(StrBytes::from_string);
            }
            m
        })
        .collect();
    Reply::Response(ResponseKind::JoinGroup(resp))
}
