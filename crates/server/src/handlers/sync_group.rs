//! SyncGroup (API key 14), v0-5.
//!
//! - v1: throttle_time_ms. v3: group_instance_id. v4: flexible. v5: protocol_type and
//!   protocol_name in request and response (INCONSISTENT_GROUP_PROTOCOL on mismatch).
//! - The leader's assignments are handed to each member byte for byte; followers wait for them.
//!   The group (with assignments) is written to `__consumer_offsets` before anyone is answered.
//! - Errors: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS,
//!   COORDINATOR_NOT_AVAILABLE.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::coordinator::group::{Pending, SyncResult};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::{
    ResponseKind, SyncGroupRequest, SyncGroupResponse,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: SyncGroupRequest) -> Reply {
    let v = ctx.version;
    let pending = broker.groups.sync(
        req.group_id.as_str(),
        req.member_id.as_str(),
        req.generation_id,
        if v >= 5 {
            req.protocol_type.as_ref().map(|s| s.as_str())
        } else {
            None
        },
        if v >= 5 {
            req.protocol_name.as_ref().map(|s| s.as_str())
        } else {
            None
        },
        req.assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect(),
    );
    let r = match pending {
        Pending::Ready(r) => r,
        Pending::Wait(rx) => rx.await.unwrap_or(SyncResult {
            error: Some(KafkaError::UnknownMemberId),
            ..Default::default()
        }),
    };
    let mut resp = SyncGroupResponse::default()
        .with_error_code(r.error.map(|e| e.code()).unwrap_or(0))
        .with_assignment(r.assignment);
    if v >= 5 {
        resp.protocol_type = r.protocol_type.map(StrBytes::from_string);
        resp.protocol_name = r.protocol_name.map(StrBytes::from_string);
    }
    Reply::Response(ResponseKind::SyncGroup(resp))
}
