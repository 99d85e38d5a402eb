//! AlterConfigs (API key 33), v0-2 (Kafka 4 serves 0-2; v2 is flexible, no other change).
//!
//! - Replaces the *whole* override set of each resource with the entries given (keys left out
//!   are removed), as Kafka's legacy AlterConfigs does. IncrementalAlterConfigs edits key by
//!   key instead (`incremental_alter_configs.rs`).
//! - TOPIC (2): checked as Kafka's controller does: every key known and valid, else
//!   INVALID_CONFIG with a message naming the key ("Unknown topic config name: x", "Invalid
//!   value abc for configuration retention.ms: Not a number of type LONG"); then the topic must
//!   exist, else UNKNOWN_TOPIC_OR_PARTITION ("The topic 't' does not exist."). A null value:
//!   INVALID_REQUEST. The new set is committed to the cluster metadata, then applied to the live
//!   logs (segment.ms, retention.ms, ... take effect without a restart).
//! - BROKER (4): name "" (cluster-wide default) or this node's id (another id:
//!   INVALID_REQUEST): the dynamic broker configs, kept in the cluster metadata. Only the
//!   broker keys that set topic defaults (log.retention.ms, log.segment.bytes, ...) are
//!   dynamic; others get INVALID_REQUEST "Cannot update these configs dynamically: [k]", an
//!   invalid value INVALID_REQUEST naming the key, as Kafka 4.3.1 answers.
//! - Other resource types (BROKER_LOGGER, CLIENT_METRICS, GROUP): INVALID_REQUEST. A resource
//!   given twice: INVALID_REQUEST for each.
//! - validate_only: every check, nothing changed.

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use super::{Reply, RequestContext};
use crate::broker::{ApiError, Broker};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use sluice_protocol::kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, HashMap};

pub async fn handle(broker: &Broker, _ctx: &RequestContext<'_>, req: AlterConfigsRequest) -> Reply {
    let counts = resource_counts(
        req.resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str())),
    );
    let mut resp = AlterConfigsResponse::default();
    for r in &req.resources {
        let name = r.resource_name.as_str();
        let result = if counts
            .get(&(r.resource_type, name.to_string()))
            .copied()
            .unwrap_or(0)
            > 1
        {
            Err(duplicate_resource(r.resource_type, name))
        } else {
            let entries: Vec<(String, Option<String>)> = r
                .configs
                .iter()
                .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                .collect();
            replace_all(broker, r.resource_type, name, &entries, req.validate_only)
        };
        let mut out = AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone());
        // As Kafka: no message on success (null, not ""), nor with UNKNOWN_SERVER_ERROR.
        out.error_message = None;
        if let Err(e) = result {
            out.error_code = e.code.code();
            if e.code != KafkaError::UnknownServerError {
                out.error_message = Some(StrBytes::from_string(e.message));
            }
        }
        resp.responses.push(out);
    }
    Reply::Response(ResponseKind::AlterConfigs(resp))
}

/// How often each (type, name) appears in a request.
pub(crate) fn resource_counts<'a>(
    resources: impl Iterator<Item = (i8, &'a str)>,
) -> HashMap<(i8, String), usize> {
    let mut counts = HashMap::new();
    for (t, n) in resources {
        *counts.entry((t, n.to_string())).or_default() += 1;
    }
    counts
}

pub(crate) fn duplicate_resource(resource_type: i8, name: &str) -> ApiError {
    ApiError::new(
        KafkaError::InvalidRequest,
        format!("Duplicate resource: type {resource_type}, name '{name}'"),
    )
}

pub(crate) fn unsupported_type(resource_type: i8) -> ApiError {
    ApiError::new(
        KafkaError::InvalidRequest,
        format!("Unsupported resource type {resource_type} for altering configs"),
    )
}

fn replace_all(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    entries: &[(String, Option<String>)],
    validate_only: bool,
) -> Result<(), ApiError> {
    let mut configs = BTreeMap::new();
    for (k, v) in entries {
        let Some(v) = v else {
            return Err(ApiError::new(
                KafkaError::InvalidRequest,
                format!("Null value not supported for : {k}"),
            ));
        };
        configs.insert(k.clone(), v.clone());
    }
    match resource_type {
        RESOURCE_TOPIC => broker.alter_topic_configs(name, configs, validate_only),
        RESOURCE_BROKER => {
            let scope = broker.broker_scope(name)?;
            broker.alter_broker_configs(
                scope,
                |current| {
                    *current = configs;
                    Ok(())
                },
                validate_only,
            )
        }
        other => Err(unsupported_type(other)),
    }
}
