//! Dynamic broker configs (Kafka's `DynamicBrokerConfig`): the cluster-wide default (resource
//! name "") and this broker's own overrides (resource name = node id), set with AlterConfigs /
//! IncrementalAlterConfigs and persisted in the first log dir (`sluice-broker-configs.toml`).
//!
//! Only the broker keys that set topic defaults (`log.retention.ms`, `log.segment.bytes`, ...)
//! can change dynamically; everything else is refused as Kafka refuses its static keys
//! ("Cannot update these configs dynamically: [...]"). Changes are persisted before they are
//! visible; readers take a snapshot and never wait on I/O.

use crate::config::RawConfig;
use crate::fsutil;
use crate::topic_config::{self, BrokerLayers};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use thiserror::Error;

pub const FILE_NAME: &str = "sluice-broker-configs.toml";

#[derive(Debug, Error)]
pub enum DynamicConfigError {
    #[error("dynamic broker configs {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("dynamic broker configs {path} are corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
}

/// Which set of dynamic configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Resource name "": the default of every broker in the cluster.
    ClusterDefault,
    /// Resource name = this node's id.
    ThisBroker,
}

/// Both sets, as one immutable value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynamicState {
    #[serde(default)]
    pub cluster_default: BTreeMap<String, String>,
    #[serde(default)]
    pub broker: BTreeMap<String, String>,
}

impl DynamicState {
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

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    #[serde(flatten)]
    state: DynamicState,
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

/// Drop the values of `configs` that are not valid for their key, as Kafka ignores invalid
/// dynamic configs it finds at start-up (with an error in its log).
fn drop_invalid(configs: &mut BTreeMap<String, String>, what: &str, path: &Path) {
    let invalid: Vec<String> = configs
        .iter()
        .filter(|(k, v)| crate::config::validate_value(k, v).is_err())
        .map(|(k, _)| k.clone())
        .collect();
    if !invalid.is_empty() {
        tracing::error!(
            path = %path.display(),
            "dynamic {what} config contains invalid values in: [{}], these configs will be ignored",
            invalid.join(", ")
        );
        for k in invalid {
            configs.remove(&k);
        }
    }
}

/// The persisted dynamic configs.
pub struct DynamicConfigs {
    path: PathBuf,
    current: RwLock<Arc<DynamicState>>,
    admin: Mutex<()>,
}

impl DynamicConfigs {
    /// Load `dir/sluice-broker-configs.toml`, or start empty.
    pub fn load(dir: &Path) -> Result<Self, DynamicConfigError> {
        let path = dir.join(FILE_NAME);
        let state = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let file: FileFormat =
                    toml::from_str(&text).map_err(|e| DynamicConfigError::Corrupt {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                let mut state = file.state;
                drop_invalid(&mut state.cluster_default, "default cluster", &path);
                drop_invalid(&mut state.broker, "broker", &path);
                state
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DynamicState::default(),
            Err(source) => return Err(DynamicConfigError::Io { path, source }),
        };
        Ok(Self {
            path,
            current: RwLock::new(Arc::new(state)),
            admin: Mutex::new(()),
        })
    }

    /// The current dynamic configs; never blocks on I/O.
    pub fn snapshot(&self) -> Arc<DynamicState> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Replace the configs of `scope` with what `change` makes of them, after `check` accepts
    /// the result; persisted before visible. `check` runs under the admin lock with the new
    /// full state, so it sees no concurrent change. Nothing changes if either fails.
    pub fn update<E>(
        &self,
        scope: Scope,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), E>,
        check: impl FnOnce(&DynamicState) -> Result<(), E>,
        persist_error: impl FnOnce(DynamicConfigError) -> E,
        validate_only: bool,
    ) -> Result<Arc<DynamicState>, E> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = (*self.snapshot()).clone();
        match scope {
            Scope::ClusterDefault => change(&mut next.cluster_default)?,
            Scope::ThisBroker => change(&mut next.broker)?,
        }
        check(&next)?;
        if validate_only {
            return Ok(Arc::new(next));
        }
        self.persist(&next).map_err(persist_error)?;
        let next = Arc::new(next);
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        *cur = next.clone();
        Ok(next)
    }

    fn persist(&self, state: &DynamicState) -> Result<(), DynamicConfigError> {
        let file = FileFormat {
            version: 1,
            state: state.clone(),
        };
        let text = toml::to_string(&file).map_err(|e| DynamicConfigError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let tmp = self.path.with_extension("toml.tmp");
        fsutil::write_atomically(&tmp, &self.path, text.as_bytes()).map_err(|source| {
            DynamicConfigError::Io {
                path: self.path.clone(),
                source,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persist_reload_and_validation() {
        let d = tempfile::tempdir().unwrap();
        let c = DynamicConfigs::load(d.path()).unwrap();
        let set = |scope, k: &str, v: &str| {
            let (k, v) = (k.to_string(), v.to_string());
            c.update(
                scope,
                |m| {
                    m.insert(k, v);
                    Ok::<(), String>(())
                },
                |s| validate(s, scope, &RawConfig::default()),
                |e| e.to_string(),
                false,
            )
        };
        set(Scope::ClusterDefault, "log.retention.ms", "1000").unwrap();
        set(Scope::ThisBroker, "log.segment.bytes", "2000000").unwrap();
        assert_eq!(
            set(Scope::ThisBroker, "log.dirs", "/x").unwrap_err(),
            "Cannot update these configs dynamically: [log.dirs]"
        );
        // Other units are static in Kafka (not in DynamicLogConfig's set).
        assert_eq!(
            set(Scope::ThisBroker, "log.retention.hours", "5").unwrap_err(),
            "Cannot update these configs dynamically: [log.retention.hours]"
        );
        assert_eq!(
            set(Scope::ClusterDefault, "log.roll.hours", "5").unwrap_err(),
            "Cannot update these configs dynamically: [log.roll.hours]"
        );
        assert_eq!(
            set(Scope::ThisBroker, "log.retention.ms", "abc").unwrap_err(),
            "Invalid value abc for configuration log.retention.ms: Not a number of type LONG"
        );
        let again = DynamicConfigs::load(d.path()).unwrap().snapshot();
        assert_eq!(
            again.cluster_default.get("log.retention.ms").unwrap(),
            "1000"
        );
        assert_eq!(again.broker.get("log.segment.bytes").unwrap(), "2000000");
        assert_eq!(again.broker.len(), 1, "refused changes left nothing behind");
    }
}
