//! DescribeGroups (API key 15), v0-6.
//!
//! - v1: throttle_time_ms. v3: authorized_operations. v4: group_instance_id. v5: flexible.
//!   v6: error_message; an unknown group is GROUP_ID_NOT_FOUND (earlier versions: state "Dead"
//!   with no error, as Kafka 4 answers them).
//! - Member metadata and assignments are shown once the group is Stable.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::describe_groups_response::{
    DescribedGroup, DescribedGroupMember,
};
use sluice_protocol::kafka_protocol::messages::{
    DescribeGroupsRequest, DescribeGroupsResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

/// READ, DELETE, DESCRIBE (Kafka's supported group operations without an authorizer).
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: DescribeGroupsRequest,
) -> Reply {
    let v = ctx.version;
    let mut resp = DescribeGroupsResponse::default();
    for id in &req.groups {
        let mut g = DescribedGroup::default().with_group_id(id.clone());
        if broker.consumer_groups.contains(id.as_str()) {
            // As Kafka 4.x: DescribeGroups only describes classic groups.
            g.group_state = StrBytes::from_static_str("Dead");
            if v >= 6 {
                g.error_code = KafkaError::GroupIdNotFound.code();
                g.error_message = Some(StrBytes::from_string(format!(
                    "Group {} is not a classic group.",
                    id.as_str()
                )));
            }
            resp.groups.push(g);
            continue;
        }
        match broker.groups.describe(id.as_str()) {
            None => {
                g.group_state = StrBytes::from_static_str("Dead");
                if v >= 6 {
                    g.error_code = KafkaError::GroupIdNotFound.code();
                    g.error_message = Some(StrBytes::from_string(format!(
                        "Group {} not found.",
                        id.as_str()
                    )));
                }
            }
            Some(d) => {
                g.group_state = StrBytes::from_static_str(d.state.name());
                g.protocol_type = StrBytes::from_string(d.protocol_type);
                g.protocol_data = StrBytes::from_string(d.protocol_name);
                g.members = d
                    .members
                    .into_iter()
                    .map(|(mid, instance, client, host, meta, assign)| {
                        let mut m = DescribedGroupMember::default()
                            .with_member_id(StrBytes::from_string(mid))
                            .with_client_id(StrBytes::from_string(client))
                            .with_client_host(StrBytes::from_string(host))
                            .with_member_metadata(meta)
                            .with_member_assignment(assign);
                        if v >= 4 {
                            m.group_instance_id = instance.map(StrBytes::from_string);
                        }
                        m
                    })
                    .collect();
            }
        }
        if v >= 3 {
            g.authorized_operations = if req.include_authorized_operations {
                GROUP_OPERATIONS
            } else {
                i32::MIN
            };
        }
        resp.groups.push(g);
    }
    Reply::Response(ResponseKind::DescribeGroups(resp))
}
