//! IncrementalAlterConfigs (API key 44), v0-1 (v1 is flexible, no other change).
//!
//! - Each entry edits one key: SET (0) sets it, DELETE (1) removes the override (deleting a
//!   key that is not set, or unknown, is fine, as Kafka), APPEND (2) adds list items that are
//!   not there yet, SUBTRACT (3) removes list items. APPEND/SUBTRACT on a non-list config:
//!   INVALID_CONFIG "Can't APPEND to key k because its type is not LIST."; they start from the
//!   current effective value (override, broker setting or default). A null value for SET /
//!   APPEND / SUBTRACT: INVALID_REQUEST. An unknown operation or a key given twice:
//!   INVALID_REQUEST ("Error due to duplicate config keys").
//! - The resulting set is checked and applied as AlterConfigs does (`alter_configs.rs`):
//!   TOPIC: INVALID_CONFIG naming the key, then UNKNOWN_TOPIC_OR_PARTITION; persisted in the
//!   topic registry and applied live. BROKER ("" = cluster default, or this node's id):
//!   dynamic topic-default keys only, INVALID_REQUEST "Cannot update these configs
//!   dynamically: [k]" otherwise.
//! - validate_only: every check, nothing changed.

use super::alter_configs::{duplicate_resource, resource_counts, unsupported_type};
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use super::{Reply, RequestContext};
use crate::broker::{ApiError, Broker};
use crate::topic_config::{self, ConfigType};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use sluice_protocol::kafka_protocol::messages::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, HashSet};

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// One requested edit.
struct Op {
    key: String,
    op: i8,
    value: Option<String>,
}

pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext<'_>,
    req: IncrementalAlterConfigsRequest,
) -> Reply {
    let counts = resource_counts(
        req.resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str())),
    );
    let mut resp = IncrementalAlterConfigsResponse::default();
    for r in &req.resources {
        let name = r.resource_name.as_str();
        let ops: Vec<Op> = r
            .configs
            .iter()
            .map(|c| Op {
                key: c.name.to_string(),
                op: c.config_operation,
                value: c.value.as_ref().map(|v| v.to_string()),
            })
            .collect();
        let result = if counts
            .get(&(r.resource_type, name.to_string()))
            .copied()
            .unwrap_or(0)
            > 1
        {
            Err(duplicate_resource(r.resource_type, name))
        } else {
            alter(broker, r.resource_type, name, &ops, req.validate_only)
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
    Reply::Response(ResponseKind::IncrementalAlterConfigs(resp))
}

fn alter(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    ops: &[Op],
    validate_only: bool,
) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    for o in ops {
        if !seen.insert(o.key.as_str()) {
            return Err(ApiError::new(
                KafkaError::InvalidRequest,
                "Error due to duplicate config keys",
            ));
        }
        if !(SET..=SUBTRACT).contains(&o.op) {
            // Kafka fails the resource with UNKNOWN_SERVER_ERROR (its OpType lookup throws).
            return Err(ApiError::new(
                KafkaError::UnknownServerError,
                format!("Unknown operation type {} for config {}", o.op, o.key),
            ));
        }
        if o.op != DELETE && o.value.is_none() {
            return Err(ApiError::new(
                KafkaError::InvalidRequest,
                format!("Null value not supported for : {}", o.key),
            ));
        }
    }
    match resource_type {
        RESOURCE_TOPIC => {
            let base = broker.image().configs.topic(name).clone();
            let dynamic = broker.dynamic();
            let layers = dynamic.layers(&broker.config.raw);
            let next = edit(base, ops, |key, overrides| {
                let def = topic_config::lookup(key)?;
                Some((def.kind, topic_config::effective(def, overrides, &layers).0))
            });
            // Validation errors (naming the key) come before the topic's existence, as Kafka.
            broker.alter_topic_configs(name, next?, validate_only)
        }
        RESOURCE_BROKER => {
            let scope = broker.broker_scope(name)?;
            let dynamic = broker.dynamic();
            let layers = dynamic.layers(&broker.config.raw);
            broker.alter_broker_configs(
                scope,
                |current| {
                    let next = edit(current.clone(), ops, |key, set| {
                        let (def, syn) = topic_config::for_broker_key(key)?;
                        let value = set
                            .get(key)
                            .cloned()
                            .or_else(|| layers.get(key).map(|(v, _)| v))
                            .unwrap_or_else(|| {
                                if syn.factor == 1 {
                                    def.default.to_string()
                                } else {
                                    String::new()
                                }
                            });
                        Some((def.kind, value))
                    })?;
                    *current = next;
                    Ok(())
                },
                validate_only,
            )
        }
        other => Err(unsupported_type(other)),
    }
}

/// Apply `ops` to `configs`. `current(key, configs)` gives a key's type and current effective
/// value (None for an unknown key) for APPEND / SUBTRACT.
fn edit(
    mut configs: BTreeMap<String, String>,
    ops: &[Op],
    current: impl Fn(&str, &BTreeMap<String, String>) -> Option<(ConfigType, String)>,
) -> Result<BTreeMap<String, String>, ApiError> {
    for o in ops {
        let value = o.value.clone().unwrap_or_default();
        match o.op {
            SET => {
                configs.insert(o.key.clone(), value);
            }
            DELETE => {
                configs.remove(&o.key);
            }
            _ => {
                let verb = if o.op == APPEND { "APPEND" } else { "SUBTRACT" };
                let Some((kind, now)) = current(&o.key, &configs) else {
                    return Err(ApiError::new(
                        KafkaError::InvalidConfig,
                        format!("Unknown topic config name: {}", o.key),
                    ));
                };
                if kind != ConfigType::List {
                    return Err(ApiError::new(
                        KafkaError::InvalidConfig,
                        format!(
                            "Can't {verb} to key {} because its type is not LIST.",
                            o.key
                        ),
                    ));
                }
                let mut items: Vec<String> = split(&now);
                let given = split(&value);
                if o.op == APPEND {
                    for g in given {
                        if !items.contains(&g) {
                            items.push(g);
                        }
                    }
                } else {
                    items.retain(|i| !given.contains(i));
                }
                configs.insert(o.key.clone(), items.join(","));
            }
        }
    }
    Ok(configs)
}

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
