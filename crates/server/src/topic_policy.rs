//! The per-topic settings the request path consults on every produce, parsed once from topic
//! configs (so no string parsing per request) and refreshed when a topic is created or loaded.

use crate::topic_config::{self, BrokerLayers};
use sluice_protocol::batch::Compression;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPolicy {
    pub log_append_time: bool,
    /// message.timestamp.before.max.ms / after.max.ms
    pub timestamp_before_max_ms: i64,
    pub timestamp_after_max_ms: i64,
    /// cleanup.policy contains compact: records need keys.
    pub compacted: bool,
    pub max_message_bytes: i32,
    /// compression.type other than `producer`: the codec (and its level from
    /// compression.{gzip,zstd}.level) every batch is stored with, as Kafka recompresses.
    pub compression: Option<(Compression, Option<i32>)>,
    /// min.insync.replicas: acks=all needs this many in-sync replicas.
    pub min_insync_replicas: usize,
}

impl TopicPolicy {
    pub fn from_configs(broker: &BrokerLayers<'_>, overrides: &BTreeMap<String, String>) -> Self {
        let get = |name: &str| -> String {
            topic_config::lookup(name)
                .map(|d| topic_config::effective(d, overrides, broker).0)
                .unwrap_or_default()
        };
        let num = |name: &str, default: i64| get(name).trim().parse().unwrap_or(default);
        Self {
            log_append_time: get("message.timestamp.type") == "LogAppendTime",
            timestamp_before_max_ms: num("message.timestamp.before.max.ms", i64::MAX),
            timestamp_after_max_ms: num("message.timestamp.after.max.ms", 3_600_000),
            compacted: get("cleanup.policy")
                .split(',')
                .any(|p| p.trim() == "compact"),
            max_message_bytes: num("max.message.bytes", 1_048_588) as i32,
            compression: {
                let level = |name: &str| get(name).trim().parse::<i32>().ok().filter(|l| *l != -1);
                match get("compression.type").as_str() {
                    "uncompressed" => Some((Compression::None, None)),
                    "gzip" => Some((Compression::Gzip, level("compression.gzip.level"))),
                    "snappy" => Some((Compression::Snappy, None)),
                    "lz4" => Some((Compression::Lz4, None)),
                    "zstd" => Some((Compression::Zstd, level("compression.zstd.level"))),
                    _ => None,
                }
            },
            min_insync_replicas: num("min.insync.replicas", 1).clamp(1, i64::from(i32::MAX))
                as usize,
        }
    }
}

/// Topic name -> parsed policy.
#[derive(Default)]
pub struct TopicPolicies {
    map: RwLock<HashMap<String, Arc<TopicPolicy>>>,
}

impl TopicPolicies {
    pub fn get(&self, topic: &str) -> Option<Arc<TopicPolicy>> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .cloned()
    }

    pub fn set(&self, topic: &str, policy: TopicPolicy) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(topic.to_string(), Arc::new(policy));
    }

    pub fn remove(&self, topic: &str) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(topic);
    }
}
