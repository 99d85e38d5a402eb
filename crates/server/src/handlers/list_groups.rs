//! ListGroups (API key 16), v0-5.
//!
//! - v1: throttle_time_ms. v3: flexible. v4: states_filter, group_state (KIP-518).
//!   v5: types_filter, group_type (KIP-848: "classic" for every group here).

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::kafka_protocol::messages::list_groups_response::ListedGroup;
use sluice_protocol::kafka_protocol::messages::{
    GroupId, ListGroupsRequest, ListGroupsResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: ListGroupsRequest) -> Reply {
    let v = ctx.version;
    let mut resp = ListGroupsResponse::default();
    let wanted = |state: &str, kind: &str| {
        (v < 4
            || req.states_filter.is_empty()
            || req
                .states_filter
                .iter()
                .any(|s| s.eq_ignore_ascii_case(state)))
            && (v < 5
                || req.types_filter.is_empty()
                || req
                    .types_filter
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(kind)))
    };
    let consumer: Vec<(String, &'static str)> = broker.consumer_groups.list();
    let mut all: Vec<(String, String, &'static str, &'static str)> = broker
        .groups
        .list()
        .into_iter()
        .filter(|(id, ..)| !consumer.iter().any(|(c, _)| c == id))
        .map(|(id, protocol_type, state)| (id, protocol_type, state.name(), "classic"))
        .collect();
    all.extend(
        consumer
            .into_iter()
            .map(|(id, state)| (id, "consumer".to_string(), state, "consumer")),
    );
    all.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, protocol_type, state, kind) in all {
        if !wanted(state, kind) {
            continue;
        }
        let mut g = ListedGroup::default()
            .with_group_id(GroupId(StrBytes::from_string(id)))
            .with_protocol_type(StrBytes::from_string(protocol_type));
        if v >= 4 {
            g.group_state = StrBytes::from_static_str(state);
        }
        if v >= 5 {
            g.group_type = StrBytes::from_static_str(kind);
        }
        resp.groups.push(g);
    }
    Reply::Response(ResponseKind::ListGroups(resp))
}
