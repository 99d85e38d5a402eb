//! Heartbeat (API key 12), v0-4.
//!
//! - v1: throttle_time_ms. v3: group_instance_id. v4: flexible.
//! - Keeps the member's session alive. REBALANCE_IN_PROGRESS tells it to rejoin;
//!   ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID and FENCED_INSTANCE_ID as Kafka gives them.
//! - A classic member of a KIP-848 group is told to rejoin when the group epoch moved past its
//!   own or it has partitions to revoke or to pick up (coordinator::consumer_group).

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, ResponseKind,
};

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: HeartbeatRequest) -> Reply {
    let instance = if ctx.version >= 3 {
        req.group_instance_id.as_ref().map(|s| s.as_str())
    } else {
        None
    };
    let err = match broker.consumer_groups.classic_heartbeat(
        req.group_id.as_str(),
        req.member_id.as_str(),
        instance,
        req.generation_id,
    ) {
        Some(err) => err,
        None => broker.groups.heartbeat(
            req.group_id.as_str(),
            req.member_id.as_str(),
            req.generation_id,
            instance,
        ),
    };
    Reply::Response(ResponseKind::Heartbeat(
        HeartbeatResponse::default().with_error_code(err.map(|e| e.code()).unwrap_or(0)),
    ))
}
