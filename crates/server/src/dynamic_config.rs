//! Dynamic broker configs (Kafka's `DynamicBrokerConfig`): the cluster-wide default (resource
//! name "") and this broker's own overrides (resource name = node id), set with AlterConfigs /
//! IncrementalAlterConfigs and kept in the cluster metadata (ConfigRecords of BROKER resources
//! "" and the node id).
//!
//! Only the broker keys that set topic defaults (`log.retention.ms`, `log.segment.bytes`, ...)
//! can change dynamically; everything else is refused as Kafka refuses its static keys
//! ("Cannot update these configs dynamically: [...]").

use crate::config::RawConfig;
use crate::topic_config::{self, BrokerLayers};
use sluice_metadata::{ConfigResource, MetadataImage};
use std::collections::BTreeMap;

/// Which set of dynamic configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Resource name "": the default of every broker in the cluster.
    ClusterDefault,
    /// Resource name = this node's id.
    ThisBroker,
}

/// Both sets, as one immutable value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicState {
    pub cluster_default: BTreeMap<String, String>,
    pub broker: BTreeMap<String, String>,
}

impl DynamicState {
    /// The dynamic configs `image` holds for broker `node_id`.
    /// Invalid values are left out (see [`report_invalid`]).
    pub fn from_image(image: &MetadataImage, node_id: i32) -> Self {
        let valid = |resource: ConfigResource| {
            let mut configs = image.configs.get(&resource).clone();
            for k in invalid_keys(&configs) {
                configs.remove(&k);
            }
            configs
        };
        Self {
            cluster_default: valid(ConfigResource::cluster_default()),
            broker: valid(ConfigResource::broker(node_id)),
        }
    }

    pub fn get(&self, scope: Scope) -> &BTreeMap<String, String> {
        match scope {
            Scope::ClusterDefault => &self.cluster_default,
            Scope::ThisBroker => &self.broker,
        }
    }

    /// The broker layers topic defaults come from, over `static_cfg`.
    pub fn layers<'a>(&'a self, static_cfg: &'a RawConfig) -> BrokerLayers<'a> {
        BrokerLayers {
            dynamic_broker: &self.broker,
            dynamic_default: &self.cluster_default,
            static_cfg,
        }
    }
}

/// Broker-only configs Kafka reconfigures while running (its LogCleaner's reconfigurable
/// configs). log.cleaner.backoff.ms and the dedupe buffer settings take effect at the next
/// cleaner pass; log.cleaner.threads and the I/O settings are kept and described, without effect
/// (one cleaner thread, no throttle).
pub const RECONFIGURABLE: &[&str] = &[
    "log.cleaner.backoff.ms",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.io.buffer.load.factor",
    "log.cleaner.io.buffer.size",
    "log.cleaner.io.max.bytes.per.second",
    "log.cleaner.threads",
];

/// Whether `key` may be changed dynamically: a broker-level topic default under its primary
/// name (Kafka's DynamicLogConfig takes `log.retention.ms`, not `log.retention.hours` or
/// `log.roll.hours`), or one of the [`RECONFIGURABLE`] broker configs.
pub fn is_dynamic(key: &str) -> bool {
    RECONFIGURABLE.contains(&key)
        || topic_config::for_broker_key(key).is_some_and(|(_, syn)| syn.factor == 1)
}

/// The value of a broker-only config as this broker applies it: its own dynamic value, the
/// cluster-wide dynamic default, the static config, in that order.
pub fn effective<'a>(state: &'a DynamicState, raw: &'a RawConfig, key: &str) -> Option<&'a str> {
    state
        .broker
        .get(key)
        .or_else(|| state.cluster_default.get(key))
        .map(String::as_str)
        .or_else(|| raw.get(key))
}

/// Check the dynamic configs of `scope` in `state` as Kafka checks an AlterConfigs of a BROKER
/// resource: every key dynamic (else Kafka's "Cannot update these configs dynamically: [...]"),
/// every value valid for its key ([`crate::config::BROKER_CONFIGS`]), and Kafka's rules across
/// keys over every layer (static config, cluster default, this broker's). The message is
/// Kafka's, naming the key.
pub fn validate(state: &DynamicState, scope: Scope, static_cfg: &RawConfig) -> Result<(), String> {
    let configs = state.get(scope);
    let static_keys: Vec<&str> = configs
        .keys()
        .map(String::as_str)
        .filter(|k| !is_dynamic(k))
        .collect();
    if !static_keys.is_empty() {
        return Err(format!(
            "Cannot update these configs dynamically: [{}]",
            static_keys.join(", ")
        ));
    }
    for (k, v) in configs {
        crate::config::validate_value(k, v)?;
    }
    crate::config::check_layers(&state.layers(static_cfg)).map_err(|(_, message)| message)
}

/// The keys of `configs` whose values are not valid for them. Kafka ignores such dynamic
/// configs (with an error in its log at start-up); so does [`DynamicState::from_image`].
fn invalid_keys(configs: &BTreeMap<String, String>) -> Vec<String> {
    configs
        .iter()
        .filter(|(k, v)| crate::config::validate_value(k, v).is_err())
        .map(|(k, _)| k.clone())
        .collect()
}

/// Log, as Kafka does at start-up, the dynamic broker configs of `image` that are ignored
/// because their values are not valid.
pub fn report_invalid(image: &MetadataImage, node_id: i32) {
    for (what, resource) in [
        ("default cluster", ConfigResource::cluster_default()),
        ("broker", ConfigResource::broker(node_id)),
    ] {
        let invalid = invalid_keys(image.configs.get(&resource));
        if !invalid.is_empty() {
            tracing::error!(
                "dynamic {what} config contains invalid values in: [{}], these configs will be ignored",
                invalid.join(", ")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_refuses_static_keys_and_bad_values() {
        let check = |k: &str, v: &str| {
            let mut state = DynamicState::default();
            state.broker.insert(k.to_string(), v.to_string());
            validate(&state, Scope::ThisBroker, &RawConfig::default())
        };
        check("log.retention.ms", "1000").unwrap();
        check("log.segment.bytes", "2000000").unwrap();
        assert_eq!(
            check("log.dirs", "/x").unwrap_err(),
            "Cannot update these configs dynamically: [log.dirs]"
        );
        // Other units are static in Kafka (not in DynamicLogConfig's set).
        assert_eq!(
            check("log.retention.hours", "5").unwrap_err(),
            "Cannot update these configs dynamically: [log.retention.hours]"
        );
        assert_eq!(
            check("log.roll.hours", "5").unwrap_err(),
            "Cannot update these configs dynamically: [log.roll.hours]"
        );
        assert_eq!(
            check("log.retention.ms", "abc").unwrap_err(),
            "Invalid value abc for configuration log.retention.ms: Not a number of type LONG"
        );
    }
}
