//! SyncGroup (API key 14), v0-5.
//!
//! - v1: throttle_time_ms. v3: group_instance_id. v4: flexible. v5: protocol_type and
//!   protocol_name in request and response (INCONSISTENT_GROUP_PROTOCOL on mismatch).
//! - The leader's assignments are handed to each member byte for byte; followers wait for them.
//!   The group (with assignments) is written to `__consumer_offsets` before anyone is answered.
//! - A classic member of a KIP-848 group gets the partitions the server-side assignor gave it
//!   (coordinator::consumer_group::classic_sync), in its protocol's version.
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
    let (ptype, pname) = if v >= 5 {
        (
            req.protocol_type.as_ref().map(|s| s.as_str()),
            req.protocol_name.as_ref().map(|s| s.as_str()),
        )
    } else {
        (None, None)
    };
    let instance = if v >= 3 {
        req.group_instance_id.as_ref().map(|s| s.as_str())
    } else {
        None
    };
    if let Some(r) = broker.consumer_groups.classic_sync(
        req.group_id.as_str(),
        req.member_id.as_str(),
        instance,
        req.generation_id,
        ptype,
        pname,
        &super::consumer_group_heartbeat::topic_infos(broker),
    ) {
        return respond(v, r);
    }
    let pending = broker.groups.sync(
        req.group_id.as_str(),
        req.member_id.as_str(),
        req.generation_id,
        ptype,
        pname,
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
    respond(v, r)
}

fn respond(v: i16, r: SyncResult) -> Reply {
    let mut resp = SyncGroupResponse::default()
        .with_error_code(r.error.map(|e| e.code()).unwrap_or(0))
        .with_assignment(r.assignment);
    if v >= 5 {
        resp.protocol_type = r.protocol_type.map(StrBytes::from_string);
        resp.protocol_name = r.protocol_name.map(StrBytes::from_string);
    }
    Reply::Response(ResponseKind::SyncGroup(resp))
}
