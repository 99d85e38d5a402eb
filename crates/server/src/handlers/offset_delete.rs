//! OffsetDelete (API key 47), v0.
//!
//! - Deletes committed offsets of a group. Refused per partition with GROUP_SUBSCRIBED_TO_TOPIC
//!   while an active consumer-protocol member subscribes to the topic; an unknown group is
//!   GROUP_ID_NOT_FOUND.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use sluice_protocol::kafka_protocol::messages::{
    OffsetDeleteRequest, OffsetDeleteResponse, ResponseKind,
};

pub async fn handle(broker: &Broker, _ctx: &RequestContext<'_>, req: OffsetDeleteRequest) -> Reply {
    let partitions: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.to_string(), p.partition_index))
        })
        .collect();
    let mut resp = OffsetDeleteResponse::default();
    // A KIP-848 group refuses offsets of topics its members subscribe to.
    let subscribed = broker
        .consumer_groups
        .subscribed_topic_names(req.group_id.as_str())
        .unwrap_or_default();
    let deletable: Vec<(String, i32)> = partitions
        .iter()
        .filter(|(t, _)| !subscribed.contains(t))
        .cloned()
        .collect();
    let result = if subscribed.is_empty() {
        broker
            .groups
            .delete_offsets(req.group_id.as_str(), &partitions)
    } else {
        broker
            .groups
            .delete_offsets(req.group_id.as_str(), &deletable)
            .map(|mut done| {
                partitions
                    .iter()
                    .map(|(t, _)| {
                        if subscribed.contains(t) {
                            Some(sluice_protocol::error::KafkaError::GroupSubscribedToTopic)
                        } else {
                            done.remove(0)
                        }
                    })
                    .collect()
            })
    };
    match result {
        Err(e) => resp.error_code = e.code(),
        Ok(results) => {
            let mut it = results.into_iter();
            for t in &req.topics {
                let mut tr = OffsetDeleteResponseTopic::default().with_name(t.name.clone());
                for p in &t.partitions {
                    let err = it.next().flatten();
                    tr.partitions.push(
                        OffsetDeleteResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(err.map(|e| e.code()).unwrap_or(0)),
                    );
                }
                resp.topics.push(tr);
            }
        }
    }
    Reply::Response(ResponseKind::OffsetDelete(resp))
}
