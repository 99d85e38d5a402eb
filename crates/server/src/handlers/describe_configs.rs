//! DescribeConfigs (API key 32), v1-4 (Kafka 4 removed v0).
//!
//! - v1: include_synonyms, config_source, synonyms. v3: include_documentation, config_type,
//!   documentation. v4: flexible.
//! - TOPIC (2): every topic config with its effective value and source (DYNAMIC_TOPIC_CONFIG for
//!   overrides, STATIC_BROKER_CONFIG when a broker setting supplies it, DEFAULT_CONFIG
//!   otherwise), as Kafka lists them, defaults included. Unknown topic:
//!   UNKNOWN_TOPIC_OR_PARTITION.
//! - TOPIC values set by a dynamic broker config show DYNAMIC_BROKER_CONFIG (2) or
//!   DYNAMIC_DEFAULT_BROKER_CONFIG (3), with every layer among the synonyms, as Kafka.
//! - BROKER (4): name = this node's id: the broker configs Sluice reads and every topic-config
//!   default under its broker name, with dynamic values (sources 2 / 3) over static ones; "":
//!   only the cluster-wide dynamic defaults that are set (as Kafka). Another id:
//!   INVALID_REQUEST.
//! - configuration_keys limits the answer to those keys (unknown keys are left out, as Kafka).
//! - Other resource types (BROKER_LOGGER, CLIENT_METRICS, GROUP): INVALID_REQUEST.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::config::BROKER_CONFIGS;
use crate::dynamic_config;
use crate::topic_config::{self, ConfigType, TOPIC_CONFIGS};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use sluice_protocol::kafka_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
/// DescribeConfigs' source code for a broker config set statically.
const STATIC_BROKER_CONFIG: i8 = 4;
const DYNAMIC_BROKER_CONFIG: i8 = 2;
const DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
const DEFAULT_CONFIG: i8 = 5;

struct Entry {
    name: String,
    value: Option<String>,
    source: i8,
    read_only: bool,
    kind: ConfigType,
    doc: &'static str,
    synonyms: Vec<(String, String, i8)>,
}

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: DescribeConfigsRequest,
) -> Reply {
    let v = ctx.version;
    let mut resp = DescribeConfigsResponse::default();
    for r in &req.resources {
        let mut result = DescribeConfigsResult::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone());
        let entries = match r.resource_type {
            RESOURCE_TOPIC => topic_entries(broker, r.resource_name.as_str()),
            RESOURCE_BROKER => broker_entries(broker, r.resource_name.as_str()),
            other => Err((
                KafkaError::InvalidRequest,
                format!("Unsupported resource type {other} for DescribeConfigs"),
            )),
        };
        match entries {
            Ok(entries) => {
                let wanted = r.configuration_keys.as_ref();
                for e in entries {
                    if let Some(keys) = wanted {
                        if !keys.iter().any(|k| k.as_str() == e.name) {
                            continue;
                        }
                    }
                    result.configs.push(to_wire(e, v, &req));
                }
            }
            Err((code, message)) => {
                result.error_code = code.code();
                result.error_message = Some(StrBytes::from_string(message));
            }
        }
        resp.results.push(result);
    }
    Reply::Response(ResponseKind::DescribeConfigs(resp))
}

fn to_wire(e: Entry, v: i16, req: &DescribeConfigsRequest) -> DescribeConfigsResourceResult {
    let mut c = DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_string(e.name))
        .with_value(e.value.map(StrBytes::from_string))
        .with_read_only(e.read_only)
        .with_config_source(e.source);
    if req.include_synonyms {
        c.synonyms = e
            .synonyms
            .into_iter()
            .map(|(n, val, src)| {
                DescribeConfigsSynonym::default()
                    .with_name(StrBytes::from_string(n))
                    .with_value(Some(StrBytes::from_string(val)))
                    .with_source(src)
            })
            .collect();
    }
    if v >= 3 {
        c.config_type = e.kind as i8;
        // Kafka sends null, not an empty string, when documentation was not asked for.
        c.documentation = req
            .include_documentation
            .then(|| StrBytes::from_static_str(e.doc));
    }
    c
}

fn topic_entries(broker: &Broker, name: &str) -> Result<Vec<Entry>, (KafkaError, String)> {
    let image = broker.image();
    let snapshot = &image.topics;
    // Kafka answers an unknown topic with an empty message.
    let t = snapshot
        .get(name)
        .ok_or((KafkaError::UnknownTopicOrPartition, String::new()))?;
    let configs = image.configs.topic(&t.name);
    let dynamic = broker.dynamic();
    let layers = dynamic.layers(&broker.config.raw);
    Ok(TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let (value, source) = topic_config::effective(def, configs, &layers);
            Entry {
                name: def.name.to_string(),
                value: Some(value),
                source: source as i8,
                read_only: false,
                kind: def.kind,
                doc: def.doc,
                synonyms: topic_config::synonyms(def, configs, &layers)
                    .into_iter()
                    .map(|(n, v, s)| (n, v, s as i8))
                    .collect(),
            }
        })
        .collect())
}

/// Broker names of topic defaults whose broker config Kafka defines without a default.
const BROKER_KEYS_WITHOUT_DEFAULT: &[&str] = &["log.flush.interval.ms"];

fn broker_entries(broker: &Broker, name: &str) -> Result<Vec<Entry>, (KafkaError, String)> {
    let node = broker.node_id().to_string();
    let dynamic = broker.dynamic();
    if name.is_empty() {
        // Cluster-wide dynamic defaults: only those that are set.
        return Ok(dynamic
            .cluster_default
            .iter()
            .filter_map(|(k, v)| {
                let (kind, doc) = match topic_config::for_broker_key(k) {
                    Some((def, _)) => (def.kind, def.doc),
                    None => {
                        let d = BROKER_CONFIGS.iter().find(|d| d.name == k)?;
                        (d.kind, d.doc)
                    }
                };
                Some(Entry {
                    name: k.clone(),
                    value: Some(v.clone()),
                    source: DYNAMIC_DEFAULT_BROKER_CONFIG,
                    read_only: false,
                    kind,
                    doc,
                    synonyms: vec![(k.clone(), v.clone(), DYNAMIC_DEFAULT_BROKER_CONFIG)],
                })
            })
            .collect());
    }
    if name != node {
        return Err((
            KafkaError::InvalidRequest,
            format!("Unexpected broker id, expected {node} or empty string, but received {name}"),
        ));
    }
    let raw = &broker.config.raw;
    let layers = dynamic.layers(raw);
    let mut entries: Vec<Entry> = BROKER_CONFIGS
        .iter()
        .filter(|d| d.described)
        .map(|d| {
            let mut set = raw.get(d.name).map(str::to_string);
            if d.name == "broker.id" && set.is_none() && raw.get("node.id").is_some() {
                // Kafka copies a static node.id into broker.id: a static value too.
                set = Some(node.clone());
            }
            // The log cleaner's configs are dynamic (this broker's value, then the cluster
            // default, over the static one), as Kafka's.
            let dynamic_layers: Vec<(String, i8)> = if dynamic_config::is_dynamic(d.name) {
                [
                    (dynamic.broker.get(d.name), DYNAMIC_BROKER_CONFIG),
                    (
                        dynamic.cluster_default.get(d.name),
                        DYNAMIC_DEFAULT_BROKER_CONFIG,
                    ),
                ]
                .into_iter()
                .filter_map(|(v, src)| v.map(|v| (v.clone(), src)))
                .collect()
            } else {
                Vec::new()
            };
            let value = match d.name {
                "node.id" | "broker.id" => Some(node.clone()),
                _ => dynamic_layers
                    .first()
                    .map(|(v, _)| v.clone())
                    .or(set.clone())
                    .or(d.default.map(str::to_string)),
            };
            let source = if let Some((_, src)) = dynamic_layers.first() {
                *src
            } else if set.is_some() {
                STATIC_BROKER_CONFIG
            } else {
                DEFAULT_CONFIG
            };
            let mut synonyms: Vec<(String, String, i8)> = dynamic_layers
                .iter()
                .map(|(v, src)| (d.name.to_string(), v.clone(), *src))
                .collect();
            if let Some(v) = &set {
                synonyms.push((d.name.to_string(), v.clone(), STATIC_BROKER_CONFIG));
            }
            if let Some(def) = d.default {
                synonyms.push((d.name.to_string(), def.to_string(), DEFAULT_CONFIG));
            }
            Entry {
                name: d.name.to_string(),
                value,
                source,
                read_only: !dynamic_config::is_dynamic(d.name),
                kind: d.kind,
                doc: d.doc,
                synonyms,
            }
        })
        .collect();
    // Topic-config defaults under their broker names.
    for def in TOPIC_CONFIGS {
        for (i, syn) in def.synonyms.iter().enumerate() {
            if entries.iter().any(|e| e.name == syn.name) {
                continue;
            }
            let set = layers.all(syn.name);
            // Only the most specific synonym carries the default (log.retention.hours = 168,
            // not log.retention.ms).
            // log.flush.interval.ms has no default in Kafka (null, no synonym: the flush
            // scheduler's interval applies); flush.ms still defaults to Long.MAX_VALUE.
            let is_default_holder =
                i + 1 == def.synonyms.len() && !BROKER_KEYS_WITHOUT_DEFAULT.contains(&syn.name);
            let default = is_default_holder.then(|| {
                if syn.factor == 1 {
                    def.default.to_string()
                } else {
                    def.default
                        .parse::<i64>()
                        .map(|d| (d / syn.factor).to_string())
                        .unwrap_or_else(|_| def.default.to_string())
                }
            });
            let (value, source) = match (set.first(), &default) {
                (Some((v, src)), _) => (Some(v.clone()), *src as i8),
                (None, d) => (d.clone(), DEFAULT_CONFIG),
            };
            let mut synonyms: Vec<(String, String, i8)> = set
                .iter()
                .map(|(v, src)| (syn.name.to_string(), v.clone(), *src as i8))
                .collect();
            if !set.is_empty() {
                // A set key lists its less specific synonyms too (log.retention.ms:
                // log.retention.minutes, log.retention.hours), as Kafka does.
                for later in &def.synonyms[i + 1..] {
                    for (v, src) in layers.all(later.name) {
                        synonyms.push((later.name.to_string(), v, src as i8));
                    }
                }
            }
            if let Some(d) = &default {
                synonyms.push((syn.name.to_string(), d.clone(), DEFAULT_CONFIG));
            } else if set
                .iter()
                .any(|(_, src)| *src != topic_config::ValueSource::StaticBroker)
            {
                // Observed with dynamic values only (see topic_config::synonyms).
                if let Some(last) = def.synonyms.last().filter(|l| l.factor != 1) {
                    let d = def
                        .default
                        .parse::<i64>()
                        .map(|d| (d / last.factor).to_string())
                        .unwrap_or_else(|_| def.default.to_string());
                    synonyms.push((last.name.to_string(), d, DEFAULT_CONFIG));
                }
            }
            // Keys in other units (log.retention.hours, log.roll.hours) are INTs that Kafka
            // cannot change dynamically: read-only.
            let other_unit = syn.factor != 1;
            entries.push(Entry {
                name: syn.name.to_string(),
                value,
                source,
                read_only: other_unit,
                kind: if other_unit {
                    ConfigType::Int
                } else {
                    def.kind
                },
                doc: def.doc,
                synonyms,
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}
