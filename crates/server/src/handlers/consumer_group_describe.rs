//! ConsumerGroupDescribe (API key 69), v0-1 (KIP-848; flexible).
//!
//! - Per group: state (Empty, Assigning, Reconciling, Stable), group and assignment epochs,
//!   assignor, and every member with its subscription, current and target assignment
//!   (topic ids and names). v1: member_type (1 = consumer protocol, 0 = a classic member inside the group).
//! - A group that is not a consumer group (a classic group, or none): GROUP_ID_NOT_FOUND, as
//!   Kafka answers (the AdminClient then falls back to DescribeGroups).
//! - authorized_operations: the GROUP operations when asked (no authorizer), else i32::MIN.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::coordinator::consumer_group::Assignment;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::consumer_group_describe_response::{
    Assignment as WireAssignment, DescribedGroup, Member, TopicPartitions,
};
use sluice_protocol::kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ResponseKind, TopicName,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

/// READ, DESCRIBE, DELETE (Kafka's AclOperation codes 3, 8, 6) as a bit field.
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: ConsumerGroupDescribeRequest,
) -> Reply {
    let image = broker.image();
    let snapshot = &image.topics;
    let wire = |a: &Assignment| {
        WireAssignment::default().with_topic_partitions(
            a.iter()
                .map(|(id, ps)| {
                    TopicPartitions::default()
                        .with_topic_id(*id)
                        .with_topic_name(TopicName(StrBytes::from_string(
                            snapshot
                                .get_by_id(id)
                                .map(|t| t.name.clone())
                                .unwrap_or_default(),
                        )))
                        .with_partitions(ps.iter().copied().collect())
                })
                .collect(),
        )
    };
    let mut resp = ConsumerGroupDescribeResponse::default();
    for id in &req.group_ids {
        let mut g = DescribedGroup::default().with_group_id(id.clone());
        g.error_message = None;
        g.authorized_operations = if req.include_authorized_operations {
            GROUP_OPERATIONS
        } else {
            i32::MIN
        };
        match broker.consumer_groups.describe(id.as_str()) {
            None => {
                g.error_code = KafkaError::GroupIdNotFound.code();
                g.error_message = Some(StrBytes::from_string(
                    if broker.groups.describe(id.as_str()).is_some() {
                        format!("Group {} is not a consumer group.", id.as_str())
                    } else {
                        format!("Group {} not found.", id.as_str())
                    },
                ));
            }
            Some(s) => {
                g.group_state = StrBytes::from_static_str(s.state);
                g.group_epoch = s.group_epoch;
                g.assignment_epoch = s.assignment_epoch;
                g.assignor_name = StrBytes::from_string(s.assignor);
                g.members = s
                    .members
                    .iter()
                    .map(|(m, target)| {
                        let mut w = Member::default()
                            .with_member_id(StrBytes::from_string(m.member_id.clone()))
                            .with_instance_id(m.instance_id.clone().map(StrBytes::from_string))
                            .with_rack_id(m.rack_id.clone().map(StrBytes::from_string))
                            .with_member_epoch(m.member_epoch)
                            .with_client_id(StrBytes::from_string(m.client_id.clone()))
                            .with_client_host(StrBytes::from_string(m.client_host.clone()))
                            .with_subscribed_topic_names(
                                m.subscribed_topic_names
                                    .iter()
                                    .map(|t| TopicName(StrBytes::from_string(t.clone())))
                                    .collect(),
                            )
                            // Kafka describes "no regex" as an empty string, not null.
                            .with_subscribed_topic_regex(Some(StrBytes::from_string(
                                m.subscribed_topic_regex.clone().unwrap_or_default(),
                            )))
                            .with_assignment(wire(&m.assigned))
                            .with_target_assignment(wire(target));
                        if ctx.version >= 1 {
                            w.member_type = if m.classic.is_some() { 0 } else { 1 };
                        }
                        w
                    })
                    .collect();
            }
        }
        resp.groups.push(g);
    }
    Reply::Response(ResponseKind::ConsumerGroupDescribe(resp))
}
