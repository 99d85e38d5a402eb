//! LeaveGroup (API key 13), v0-5.
//!
//! - v1: throttle_time_ms. v3: batched members (member_id, group_instance_id) with a result
//!   per member (KIP-345). v4: flexible. v5: reason.
//! - A member leaving starts a rebalance for the others. Unknown member: UNKNOWN_MEMBER_ID; an
//!   instance id held by another member: FENCED_INSTANCE_ID.
//! - To a KIP-848 group: the named members leave it, consumer-protocol members too as in
//!   Kafka 4.3 (coordinator::consumer_group::classic_leave); when only classic members remain
//!   the group becomes a classic group (group.consumer.migration.policy).

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::kafka_protocol::messages::leave_group_response::MemberResponse;
use sluice_protocol::kafka_protocol::messages::{
    LeaveGroupRequest, LeaveGroupResponse, ResponseKind,
};

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: LeaveGroupRequest) -> Reply {
    let v = ctx.version;
    let members: Vec<(String, Option<String>)> = if v >= 3 {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    let mut resp = LeaveGroupResponse::default();
    let outcome = match broker.consumer_groups.classic_leave(
        req.group_id.as_str(),
        &members,
        &super::consumer_group_heartbeat::topic_infos(broker),
    ) {
        Some(results) => Ok(results),
        None => broker.groups.leave(req.group_id.as_str(), &members),
    };
    match outcome {
        Err(e) => resp.error_code = e.code(),
        Ok(results) => {
            if v >= 3 {
                resp.members = req
                    .members
                    .iter()
                    .zip(results)
                    .map(|(m, e)| {
                        MemberResponse::default()
                            .with_member_id(m.member_id.clone())
                            .with_group_instance_id(m.group_instance_id.clone())
                            .with_error_code(e.map(|e| e.code()).unwrap_or(0))
                    })
                    .collect();
            } else if let Some(Some(e)) = results.first() {
                resp.error_code = e.code();
            }
        }
    }
    Reply::Response(ResponseKind::LeaveGroup(resp))
}
