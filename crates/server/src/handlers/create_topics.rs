//! CreateTopics (API key 19), v2-7 (Kafka 4 removed v0-1).
//!
//! - v1+: error_message. v2: + throttle_time_ms. v4: no wire change. v5: flexible; response
//!   gains num_partitions, replication_factor and the topic's configs (with sources), plus
//!   topic_config_error_code. v7: + topic_id.
//! - num_partitions / replication_factor -1 take num.partitions / default.replication.factor.
//!   More replicas than brokers: INVALID_REPLICATION_FACTOR. Existing topic:
//!   TOPIC_ALREADY_EXISTS. Non-positive partitions: INVALID_PARTITIONS. Unknown or invalid config:
//!   INVALID_CONFIG. A name given twice in one request: one INVALID_REQUEST result for that
//!   name. As Kafka: error_message null on success, configs an empty array (not null) on error.
//! - validate_only: every check, nothing created.

use super::{Reply, RequestContext};
use crate::broker::{ApiError, Broker, NewTopic};
use crate::topic_config::{self, TOPIC_CONFIGS};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use sluice_protocol::kafka_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, HashMap};

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: CreateTopicsRequest) -> Reply {
    let v = ctx.version;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.as_str()).or_default() += 1;
    }
    let mut resp = CreateTopicsResponse::default();
    let mut answered: HashMap<&str, ()> = HashMap::new();
    for t in &req.topics {
        let name = t.name.as_str();
        if answered.insert(name, ()).is_some() {
            continue;
        }
        let result = if counts.get(name).copied().unwrap_or(0) > 1 {
            Err(ApiError::new(
                KafkaError::InvalidRequest,
                format!(
                    "Create topics request from client `{}` contains multiple entries for the following topics: {name}",
                    ctx.header.client_id.as_deref().unwrap_or("")
                ),
            ))
        } else {
            let new = NewTopic {
                name: name.to_string(),
                num_partitions: t.num_partitions,
                replication_factor: t.replication_factor,
                assignments: t
                    .assignments
                    .iter()
                    .map(|a| {
                        (
                            a.partition_index,
                            a.broker_ids.iter().map(|b| b.0).collect(),
                        )
                    })
                    .collect(),
                configs: t
                    .configs
                    .iter()
                    .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                    .collect(),
            };
            broker.create_topic(&new, req.validate_only)
        };
        let mut r = CreatableTopicResult::default().with_name(t.name.clone());
        match result {
            Ok((meta, overrides)) => {
                r.error_message = None;
                if v >= 5 {
                    r.num_partitions = meta.partitions;
                    r.replication_factor = meta.replication_factor;
                    r.configs = Some(configs_of(broker, &overrides));
                }
                if v >= 7 {
                    r.topic_id = meta.id;
                }
            }
            Err(e) => {
                r.error_code = e.code.code();
                r.error_message = Some(StrBytes::from_string(e.message));
                if v >= 5 {
                    r.num_partitions = -1;
                    r.replication_factor = -1;
                    r.configs = Some(Vec::new());
                }
            }
        }
        resp.topics.push(r);
    }
    Reply::Response(ResponseKind::CreateTopics(resp))
}

/// Every topic config with its effective value and source, as Kafka returns them (v5+).
fn configs_of(broker: &Broker, overrides: &BTreeMap<String, String>) -> Vec<CreatableTopicConfigs> {
    let dynamic = broker.dynamic();
    let layers = dynamic.layers(&broker.config.raw);
    TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let (value, source) = topic_config::effective(def, overrides, &layers);
            CreatableTopicConfigs::default()
                .with_name(StrBytes::from_static_str(def.name))
                .with_value(Some(StrBytes::from_string(value)))
                .with_config_source(source as i8)
        })
        .collect()
}
