//! DeleteTopics (API key 20), v1-6 (Kafka 4 removed v0).
//!
//! - v1: + throttle_time_ms. v4: flexible. v5: + error_message. v6: topics by name or by
//!   topic_id (the `topics` array replaces `topic_names`); response gains topic_id.
//! - Unknown name: UNKNOWN_TOPIC_OR_PARTITION; unknown id: UNKNOWN_TOPIC_ID; the same topic twice
//!   in one request: INVALID_REQUEST; delete.topic.enable=false: TOPIC_DELETION_DISABLED.
//! - The topic's data is removed from disk.

use super::{Reply, RequestContext};
use crate::broker::{ApiError, Broker};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use sluice_protocol::kafka_protocol::messages::{
    DeleteTopicsRequest, DeleteTopicsResponse, ResponseKind, TopicName,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use std::collections::HashSet;
use uuid::Uuid;

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: DeleteTopicsRequest) -> Reply {
    let v = ctx.version;
    // (name as given, id as given)
    let targets: Vec<(Option<String>, Uuid)> = if v >= 6 {
        req.topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.to_string()), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .iter()
            .map(|n| (Some(n.to_string()), Uuid::nil()))
            .collect()
    };
    let mut seen_names = HashSet::new();
    let mut seen_ids = HashSet::new();
    let mut resp = DeleteTopicsResponse::default();
    for (name, id) in targets {
        let image = broker.image();
        let snapshot = &image.topics;
        // Resolve to a name.
        let resolved: Result<String, ApiError> = match (&name, id.is_nil()) {
            (Some(n), _) => Ok(n.clone()),
            (None, false) => snapshot
                .get_by_id(&id)
                .map(|t| t.name.clone())
                .ok_or_else(|| {
                    ApiError::new(
                        KafkaError::UnknownTopicId,
                        "This server does not host this topic ID.",
                    )
                }),
            (None, true) => Err(ApiError::new(
                KafkaError::InvalidRequest,
                "Neither topic name nor id were specified.",
            )),
        };
        let duplicate = match &resolved {
            Ok(n) => !seen_names.insert(n.clone()) || (!id.is_nil() && !seen_ids.insert(id)),
            Err(_) => false,
        };
        let result = match resolved {
            Ok(_) if duplicate => Err(ApiError::new(
                KafkaError::InvalidRequest,
                "Duplicate topic name or id in the request.",
            )),
            Ok(n) => broker.delete_topic(&n),
            Err(e) => Err(e),
        };
        let mut r = DeletableTopicResult::default()
            .with_name(name.clone().map(|n| TopicName(StrBytes::from_string(n))));
        match result {
            Ok(meta) => {
                if v >= 6 {
                    r.topic_id = meta.id;
                    r.name = Some(TopicName(StrBytes::from_string(meta.name.clone())));
                }
            }
            Err(e) => {
                r.error_code = e.code.code();
                if v >= 5 {
                    r.error_message = Some(StrBytes::from_string(e.message));
                }
                if v >= 6 {
                    r.topic_id = id;
                }
            }
        }
        resp.responses.push(r);
    }
    Reply::Response(ResponseKind::DeleteTopics(resp))
}
