//! Broker configuration, keyed by Kafka's property names.
//!
//! Sources, later ones winning: built-in defaults < config file (TOML whose keys are Kafka
//! property names, or a Java `.properties` file such as an existing `server.properties`) <
//! environment (`KAFKA_*`, the apache/kafka docker image's convention) < `--override key=value`.
//!
//! Raw values are kept as strings in a [`RawConfig`]; [`BrokerConfig::from_raw`] parses and
//! validates the keys Sluice understands and reports the first invalid one by name. Keys Sluice
//! does not know are reported by [`BrokerConfig::unknown_keys`] so the binary can warn about them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A configuration problem. Start-up stops with this message.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("config file {path}: key {key} has a value of unsupported type (use a string, number, boolean or array)")]
    TomlValue { path: PathBuf, key: String },
    #[error("--override {arg:?} is not of the form key=value")]
    BadOverride { arg: String },
    #[error("invalid value {value:?} for config {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
}

/// Where a raw value came from (for messages and DescribeConfigs later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    File,
    Environment,
    Override,
}

/// Raw `key -> value` pairs from every source, later sources overriding earlier ones.
#[derive(Debug, Clone, Default)]
pub struct RawConfig {
    values: BTreeMap<String, (String, Source)>,
}

impl RawConfig {
    pub fn set(&mut self, key: &str, value: impl Into<String>, source: Source) {
        self.values
            .insert(key.trim().to_string(), (value.into(), source));
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    pub fn source(&self, key: &str) -> Option<Source> {
        self.values.get(key).map(|(_, s)| *s)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Load a file: TOML, unless it ends in `.properties` or does not parse as TOML but parses as
    /// a properties file.
    pub fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let is_properties = path.extension().is_some_and(|e| e == "properties");
        if is_properties {
            self.load_properties(&text);
            return Ok(());
        }
        match text.parse::<toml::Table>() {
            Ok(table) => self.load_toml_table(path, "", &table),
            Err(e) => Err(ConfigError::Toml {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        }
    }

    fn load_toml_table(
        &mut self,
        path: &Path,
        prefix: &str,
        table: &toml::Table,
    ) -> Result<(), ConfigError> {
        for (k, v) in table {
            // `log.dirs = "x"` in TOML is a dotted key, i.e. nested tables: flatten them back.
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            let value = match v {
                toml::Value::Table(t) => {
                    self.load_toml_table(path, &key, t)?;
                    continue;
                }
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => {
                    let mut parts = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            toml::Value::String(s) => parts.push(s.clone()),
                            toml::Value::Integer(i) => parts.push(i.to_string()),
                            _ => {
                                return Err(ConfigError::TomlValue {
                                    path: path.to_path_buf(),
                                    key,
                                })
                            }
                        }
                    }
                    parts.join(",")
                }
                toml::Value::Datetime(_) => {
                    return Err(ConfigError::TomlValue {
                        path: path.to_path_buf(),
                        key,
                    })
                }
            };
            self.set(&key, value, Source::File);
        }
        Ok(())
    }

    /// Java properties: `key=value` or `key: value` or `key value`, `#`/`!` comments, `\`
    /// continuation lines. (Unicode escapes are not interpreted.)
    pub fn load_properties(&mut self, text: &str) {
        let mut logical = String::new();
        for line in text.lines() {
            let trimmed = line.trim_start();
            if logical.is_empty() && (trimmed.starts_with('#') || trimmed.starts_with('!')) {
                continue;
            }
            if let Some(stripped) = trimmed.strip_suffix('\\') {
                logical.push_str(stripped);
                continue;
            }
            logical.push_str(trimmed);
            let entry = std::mem::take(&mut logical);
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let split = entry.find(|c: char| c == '=' || c == ':' || c.is_whitespace());
            let (k, v) = match split {
                Some(i) => {
                    let rest = entry[i..].trim_start();
                    let rest = rest
                        .strip_prefix('=')
                        .or_else(|| rest.strip_prefix(':'))
                        .unwrap_or(rest);
                    (&entry[..i], rest.trim_start())
                }
                None => (entry, ""),
            };
            self.set(k, v, Source::File);
        }
    }

    /// The apache/kafka docker image's convention: `KAFKA_FOO_BAR=x` sets `foo.bar`; `__` stands
    /// for `_` and `___` for `-`. JVM settings (KAFKA_HEAP_OPTS, ...) are not broker configs.
    pub fn load_env<I: IntoIterator<Item = (String, String)>>(&mut self, vars: I) {
        const NOT_CONFIGS: &[&str] = &[
            "KAFKA_HEAP_OPTS",
            "KAFKA_JVM_PERFORMANCE_OPTS",
            "KAFKA_OPTS",
            "KAFKA_LOG4J_OPTS",
            "KAFKA_LOG4J_LOGGERS",
            "KAFKA_LOG4J_ROOT_LOGLEVEL",
            "KAFKA_TOOLS_LOG4J_LOGLEVEL",
            "KAFKA_JMX_OPTS",
            "KAFKA_JMX_PORT",
            "KAFKA_GC_LOG_OPTS",
            "KAFKA_DEBUG",
            "KAFKA_HOME",
            "KAFKA_VERSION",
        ];
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("KAFKA_") else {
                continue;
            };
            if rest.is_empty() || NOT_CONFIGS.contains(&name.as_str()) {
                continue;
            }
            let key = rest
                .to_ascii_lowercase()
                .replace("___", "\u{1}")
                .replace("__", "\u{2}")
                .replace('_', ".")
                .replace('\u{1}', "-")
                .replace('\u{2}', "_");
            self.set(&key, value, Source::Environment);
        }
    }

    /// `--override key=value`.
    pub fn apply_override(&mut self, arg: &str) -> Result<(), ConfigError> {
        let (k, v) = arg
            .split_once('=')
            .ok_or_else(|| ConfigError::BadOverride {
                arg: arg.to_string(),
            })?;
        if k.trim().is_empty() {
            return Err(ConfigError::BadOverride {
                arg: arg.to_string(),
            });
        }
        self.set(k, v, Source::Override);
        Ok(())
    }
}

/// The security protocol of a listener. Only PLAINTEXT is served today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
}

/// One `NAME://host:port` entry of `listeners`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub security_protocol: SecurityProtocol,
}

impl Listener {
    /// The address to bind; an empty host binds every interface.
    pub fn bind_addr(&self) -> String {
        let host = if self.host.is_empty() {
            "0.0.0.0"
        } else {
            &self.host
        };
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// An advertised endpoint: what Metadata tells clients to connect to for a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub listener: String,
    pub host: String,
    pub port: u16,
}

/// Validated broker configuration.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub node_id: i32,
    pub listeners: Vec<Listener>,
    pub advertised: Vec<Endpoint>,
    pub inter_broker_listener_name: String,
    pub log_dirs: Vec<PathBuf>,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub socket_request_max_bytes: usize,
    /// Broker-wide bound on request bytes read ahead of the requests being served
    /// (`queued.max.request.bytes`; None = unbounded: zero or less, Kafka's default -1).
    pub queued_max_request_bytes: Option<usize>,
    pub offsets_topic_num_partitions: i32,
    pub cluster_id: Option<String>,
    /// Every raw value, for topic-config defaults (log.* keys) and DescribeConfigs.
    pub raw: RawConfig,
}

/// Default of `queued.max.request.bytes`. Kafka's is -1 (unbounded) because its network threads
/// read one request per connection at a time; Sluice reads ahead, so it bounds what is read ahead.
pub const DEFAULT_QUEUED_MAX_REQUEST_BYTES: usize = 100 * 1024 * 1024;

/// Broker keys Sluice reads. Topic-level broker keys (log.segment.bytes, ...) are known through
/// [`crate::topic_config`].
const BROKER_KEYS: &[&str] = &[
    "node.id",
    "broker.id",
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "inter.broker.listener.name",
    "log.dirs",
    "log.dir",
    "num.partitions",
    "default.replication.factor",
    "auto.create.topics.enable",
    "delete.topic.enable",
    "socket.request.max.bytes",
    "queued.max.request.bytes",
    "offsets.topic.num.partitions",
    "cluster.id",
    "sluice.log.level",
    "sluice.max.decompressed.batch.bytes",
    "sluice.log.flush.method",
    "max.incremental.fetch.session.cache.slots",
    "producer.id.expiration.ms",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "group.max.size",
    "offset.metadata.max.bytes",
    "offsets.retention.minutes",
    "group.consumer.session.timeout.ms",
    "group.consumer.heartbeat.interval.ms",
    "group.consumer.min.session.timeout.ms",
    "group.consumer.max.session.timeout.ms",
    "group.consumer.min.heartbeat.interval.ms",
    "group.consumer.max.heartbeat.interval.ms",
    "group.consumer.max.size",
    "group.consumer.assignors",
    "group.consumer.migration.policy",
    "offsets.retention.check.interval.ms",
    // Accepted because docker-compose files and server.properties for KRaft carry them; a
    // single-node Sluice has no controller quorum, so they have no effect.
    "process.roles",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "controller.listener.names",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
    "group.initial.rebalance.delay.ms",
    "num.network.threads",
    "num.io.threads",
    "num.recovery.threads.per.data.dir",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "log.retention.check.interval.ms",
    "log.cleaner.enable",
    "log.cleaner.backoff.ms",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.io.buffer.load.factor",
    // One cleaner thread whatever this says (the dedupe buffer is the whole budget); no I/O
    // throttle, no separate I/O buffers: accepted and described as Kafka's, without effect.
    "log.cleaner.threads",
    "log.cleaner.io.buffer.size",
    "log.cleaner.io.max.bytes.per.second",
];

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn parse_num<T: std::str::FromStr>(
    raw: &RawConfig,
    key: &str,
    default: T,
) -> Result<T, ConfigError> {
    match raw.get(key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| invalid(key, v, "not a valid number")),
    }
}

fn parse_bool(raw: &RawConfig, key: &str, default: bool) -> Result<bool, ConfigError> {
    match raw.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(invalid(key, &v, "expected true or false")),
    }
}

/// Parse `NAME://host:port[,...]`.
fn parse_endpoints(key: &str, value: &str) -> Result<Vec<(String, String, u16)>, ConfigError> {
    let mut out: Vec<(String, String, u16)> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, rest) = item
            .split_once("://")
            .ok_or_else(|| invalid(key, value, format!("{item:?} is not NAME://host:port")))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid(key, value, format!("{item:?} has no port")))?;
        let port: u16 = port
            .parse()
            .map_err(|_| invalid(key, value, format!("{item:?} has an invalid port")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = name.to_ascii_uppercase();
        if name.is_empty() {
            return Err(invalid(
                key,
                value,
                format!("{item:?} has no listener name"),
            ));
        }
        if out.iter().any(|(n, _, _)| *n == name) {
            return Err(invalid(
                key,
                value,
                format!("listener name {name} appears twice"),
            ));
        }
        out.push((name, host.to_string(), port));
    }
    if out.is_empty() {
        return Err(invalid(key, value, "no listener given"));
    }
    Ok(out)
}

impl BrokerConfig {
    /// Validate `raw`. Defaults: listeners PLAINTEXT://0.0.0.0:9092 advertised as localhost:9092,
    /// log.dirs ./data, node.id 1.
    pub fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        let node_id = match raw.get("node.id").or_else(|| raw.get("broker.id")) {
            None => 1,
            Some(v) => {
                let key = if raw.get("node.id").is_some() {
                    "node.id"
                } else {
                    "broker.id"
                };
                let id: i32 = v
                    .trim()
                    .parse()
                    .map_err(|_| invalid(key, v, "not a number"))?;
                if id < 0 {
                    return Err(invalid(key, v, "must be >= 0"));
                }
                id
            }
        };

        let mut protocol_map: BTreeMap<String, String> = [
            ("PLAINTEXT", "PLAINTEXT"),
            ("SSL", "SSL"),
            ("SASL_PLAINTEXT", "SASL_PLAINTEXT"),
            ("SASL_SSL", "SASL_SSL"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        if let Some(map) = raw.get("listener.security.protocol.map") {
            protocol_map.clear();
            for pair in map.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (name, proto) = pair.split_once(':').ok_or_else(|| {
                    invalid(
                        "listener.security.protocol.map",
                        map,
                        format!("{pair:?} is not NAME:PROTOCOL"),
                    )
                })?;
                protocol_map.insert(
                    name.trim().to_ascii_uppercase(),
                    proto.trim().to_ascii_uppercase(),
                );
            }
        }

        let listeners_value = raw.get("listeners").unwrap_or("PLAINTEXT://0.0.0.0:9092");
        let controller_names: Vec<String> = raw
            .get("controller.listener.names")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_ascii_uppercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut listeners = Vec::new();
        for (name, host, port) in parse_endpoints("listeners", listeners_value)? {
            if controller_names.contains(&name) {
                // A KRaft controller listener in a copied server.properties: Sluice has no
                // controller quorum, so it does not open it.
                continue;
            }
            let proto = protocol_map.get(&name).ok_or_else(|| {
                invalid(
                    "listeners",
                    listeners_value,
                    format!("listener {name} is not in listener.security.protocol.map"),
                )
            })?;
            let security_protocol = match proto.as_str() {
                "PLAINTEXT" => SecurityProtocol::Plaintext,
                other => {
                    return Err(invalid(
                        "listeners",
                        listeners_value,
                        format!("listener {name} uses security protocol {other}; Sluice serves PLAINTEXT only"),
                    ))
                }
            };
            listeners.push(Listener {
                name,
                host,
                port,
                security_protocol,
            });
        }
        if listeners.is_empty() {
            return Err(invalid(
                "listeners",
                listeners_value,
                "no broker listener left after removing controller listeners",
            ));
        }

        let advertised = match raw.get("advertised.listeners") {
            Some(v) => {
                let mut out = Vec::new();
                for (name, host, port) in parse_endpoints("advertised.listeners", v)? {
                    if !listeners.iter().any(|l| l.name == name) {
                        if controller_names.contains(&name) {
                            continue;
                        }
                        return Err(invalid(
                            "advertised.listeners",
                            v,
                            format!("{name} is not a listener in listeners"),
                        ));
                    }
                    if host.is_empty() || host == "0.0.0.0" || host == "::" {
                        return Err(invalid(
                            "advertised.listeners",
                            v,
                            "cannot advertise the non-routable meta-address 0.0.0.0",
                        ));
                    }
                    out.push(Endpoint {
                        listener: name,
                        host,
                        port,
                    });
                }
                // Listeners with no advertised entry advertise themselves.
                for l in &listeners {
                    if !out.iter().any(|e| e.listener == l.name) {
                        out.push(default_endpoint(l));
                    }
                }
                out
            }
            None => listeners.iter().map(default_endpoint).collect(),
        };

        let inter_broker_listener_name = match raw.get("inter.broker.listener.name") {
            Some(v) => {
                let name = v.trim().to_ascii_uppercase();
                if !listeners.iter().any(|l| l.name == name) {
                    return Err(invalid(
                        "inter.broker.listener.name",
                        v,
                        "not one of the listeners",
                    ));
                }
                name
            }
            None => listeners[0].name.clone(),
        };

        let log_dirs_value = raw
            .get("log.dirs")
            .or_else(|| raw.get("log.dir"))
            .unwrap_or("./data");
        let log_dirs: Vec<PathBuf> = log_dirs_value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        if log_dirs.is_empty() {
            return Err(invalid("log.dirs", log_dirs_value, "no directory given"));
        }

        let num_partitions: i32 = parse_num(&raw, "num.partitions", 1)?;
        if num_partitions < 1 {
            return Err(invalid(
                "num.partitions",
                &num_partitions.to_string(),
                "must be >= 1",
            ));
        }
        let default_replication_factor: i16 = parse_num(&raw, "default.replication.factor", 1)?;
        if default_replication_factor < 1 {
            return Err(invalid(
                "default.replication.factor",
                &default_replication_factor.to_string(),
                "must be >= 1",
            ));
        }
        let socket_request_max_bytes: usize = parse_num(
            &raw,
            "socket.request.max.bytes",
            sluice_protocol::frame::DEFAULT_MAX_REQUEST_SIZE,
        )?;
        if socket_request_max_bytes < 64 || socket_request_max_bytes > i32::MAX as usize {
            return Err(invalid(
                "socket.request.max.bytes",
                &socket_request_max_bytes.to_string(),
                "must be between 64 and 2147483647",
            ));
        }
        // Kafka takes any value; zero or less means no bound (no memory pool).
        let queued: i64 = parse_num(
            &raw,
            "queued.max.request.bytes",
            DEFAULT_QUEUED_MAX_REQUEST_BYTES as i64,
        )?;
        let queued_max_request_bytes = usize::try_from(queued).ok().filter(|&n| n > 0);
        let offsets_topic_num_partitions: i32 =
            parse_num(&raw, "offsets.topic.num.partitions", 50)?;
        if offsets_topic_num_partitions < 1 {
            return Err(invalid(
                "offsets.topic.num.partitions",
                &offsets_topic_num_partitions.to_string(),
                "must be >= 1",
            ));
        }

        Ok(Self {
            node_id,
            listeners,
            advertised,
            inter_broker_listener_name,
            log_dirs,
            num_partitions,
            default_replication_factor,
            auto_create_topics_enable: parse_bool(&raw, "auto.create.topics.enable", true)?,
            delete_topic_enable: parse_bool(&raw, "delete.topic.enable", true)?,
            socket_request_max_bytes,
            queued_max_request_bytes,
            offsets_topic_num_partitions,
            cluster_id: raw.get("cluster.id").map(str::to_string),
            raw,
        })
    }

    /// Keys present in the raw config that Sluice neither uses nor knows as topic-level defaults.
    pub fn unknown_keys(&self) -> Vec<String> {
        self.raw
            .keys()
            .filter(|k| !BROKER_KEYS.contains(k) && !crate::topic_config::is_broker_synonym(k))
            .map(str::to_string)
            .collect()
    }

    /// The advertised endpoint for the listener named `listener`.
    pub fn endpoint_for(&self, listener: &str) -> Option<&Endpoint> {
        self.advertised.iter().find(|e| e.listener == listener)
    }

    /// Parse a bind address for tests and tools.
    pub fn bind_addr(listener: &Listener) -> Option<SocketAddr> {
        listener.bind_addr().parse().ok()
    }
}

fn default_endpoint(l: &Listener) -> Endpoint {
    let host = if l.host.is_empty() || l.host == "0.0.0.0" || l.host == "::" {
        "localhost".to_string()
    } else {
        l.host.clone()
    };
    Endpoint {
        listener: l.name.clone(),
        host,
        port: l.port,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = BrokerConfig::from_raw(RawConfig::default()).unwrap();
        assert_eq!(c.node_id, 1);
        assert_eq!(c.listeners[0].bind_addr(), "0.0.0.0:9092");
        assert_eq!(c.advertised[0].host, "localhost");
        assert_eq!(c.advertised[0].port, 9092);
        assert_eq!(c.log_dirs, vec![PathBuf::from("./data")]);
        assert!(c.auto_create_topics_enable);
    }

    #[test]
    fn precedence_file_env_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sluice.toml");
        std::fs::write(
            &path,
            "log.dirs = \"/from/file\"\nnum.partitions = 3\nnode.id = 4\n[socket.request]\n\"max.bytes\" = 1000\n",
        )
        .unwrap();
        let mut raw = RawConfig::default();
        raw.load_file(&path).unwrap();
        assert_eq!(raw.get("socket.request.max.bytes"), Some("1000"));
        raw.load_env([
            ("KAFKA_NUM_PARTITIONS".to_string(), "5".to_string()),
            ("KAFKA_HEAP_OPTS".to_string(), "-Xmx1g".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ]);
        raw.apply_override("node.id=7").unwrap();
        let c = BrokerConfig::from_raw(raw).unwrap();
        assert_eq!(c.log_dirs, vec![PathBuf::from("/from/file")]);
        assert_eq!(c.num_partitions, 5);
        assert_eq!(c.node_id, 7);
        assert_eq!(c.socket_request_max_bytes, 1000);
        assert!(c.raw.get("heap.opts").is_none());
        assert_eq!(c.raw.source("num.partitions"), Some(Source::Environment));
    }

    #[test]
    fn env_name_mangling() {
        let mut raw = RawConfig::default();
        raw.load_env([
            (
                "KAFKA_ADVERTISED_LISTENERS".into(),
                "PLAINTEXT://h:1".into(),
            ),
            (
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP".into(),
                "A:PLAINTEXT".into(),
            ),
            ("KAFKA_SOME__UNDERSCORE".into(), "x".into()),
            ("KAFKA_SOME___DASH".into(), "y".into()),
        ]);
        assert_eq!(raw.get("advertised.listeners"), Some("PLAINTEXT://h:1"));
        assert_eq!(
            raw.get("listener.security.protocol.map"),
            Some("A:PLAINTEXT")
        );
        assert_eq!(raw.get("some_underscore"), Some("x"));
        assert_eq!(raw.get("some-dash"), Some("y"));
    }

    #[test]
    fn properties_file() {
        let mut raw = RawConfig::default();
        raw.load_properties(
            "# comment\nprocess.roles=broker,controller\nnode.id = 2\nlisteners=PLAINTEXT://:9092,CONTROLLER://:9093\n\
             controller.listener.names=CONTROLLER\nlog.dirs=/a,\\\n  /b\n! other comment\nnum.partitions: 4\n",
        );
        let c = BrokerConfig::from_raw(raw).unwrap();
        assert_eq!(c.node_id, 2);
        assert_eq!(c.listeners.len(), 1, "controller listener is not opened");
        assert_eq!(c.log_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(c.num_partitions, 4);
    }

    #[test]
    fn named_listeners() {
        let mut raw = RawConfig::default();
        raw.set(
            "listeners",
            "PLAINTEXT://0.0.0.0:9092,INTERNAL://0.0.0.0:29092",
            Source::File,
        );
        raw.set(
            "advertised.listeners",
            "PLAINTEXT://localhost:9092,INTERNAL://kafka:29092",
            Source::File,
        );
        raw.set(
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
            Source::File,
        );
        raw.set("inter.broker.listener.name", "INTERNAL", Source::File);
        let c = BrokerConfig::from_raw(raw).unwrap();
        assert_eq!(c.endpoint_for("INTERNAL").unwrap().host, "kafka");
        assert_eq!(c.endpoint_for("PLAINTEXT").unwrap().port, 9092);
        assert_eq!(c.inter_broker_listener_name, "INTERNAL");
    }

    #[test]
    fn invalid_values_name_the_key() {
        for (k, v) in [
            ("num.partitions", "zero"),
            ("num.partitions", "0"),
            ("listeners", "PLAINTEXT:/x"),
            ("listeners", "SSL://:9093"),
            ("listeners", "FOO://:9093"),
            ("auto.create.topics.enable", "yes"),
            ("advertised.listeners", "PLAINTEXT://0.0.0.0:9092"),
            ("queued.max.request.bytes", "many"),
        ] {
            let mut raw = RawConfig::default();
            raw.set(k, v, Source::Override);
            let err = BrokerConfig::from_raw(raw).unwrap_err().to_string();
            assert!(err.contains(k), "{err} should name {k}");
        }
        assert!(RawConfig::default().apply_override("novalue").is_err());
    }

    #[test]
    fn queued_max_request_bytes() {
        let parse = |v: Option<&str>| {
            let mut raw = RawConfig::default();
            if let Some(v) = v {
                raw.set("queued.max.request.bytes", v, Source::Override);
            }
            BrokerConfig::from_raw(raw)
                .unwrap()
                .queued_max_request_bytes
        };
        assert_eq!(parse(None), Some(DEFAULT_QUEUED_MAX_REQUEST_BYTES));
        assert_eq!(parse(Some("1048576")), Some(1048576));
        // As in Kafka 4.3.1 (checked: a broker with 0 starts), zero or less is no bound.
        for unbounded in ["-1", "0", "-2"] {
            assert_eq!(parse(Some(unbounded)), None, "{unbounded}");
        }
        assert_eq!(parse(Some("4294967296")), Some(4294967296));
    }

    #[test]
    fn unknown_keys_are_reported() {
        let mut raw = RawConfig::default();
        raw.set("log.segment.bytes", "1000", Source::File);
        raw.set("no.such.key", "1", Source::File);
        let c = BrokerConfig::from_raw(raw).unwrap();
        assert_eq!(c.unknown_keys(), vec!["no.such.key".to_string()]);
    }
}

/// A broker config as DescribeConfigs reports it.
#[derive(Debug, Clone, Copy)]
pub struct BrokerConfigDef {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub kind: crate::topic_config::ConfigType,
    pub doc: &'static str,
}

const fn bdef(
    name: &'static str,
    default: Option<&'static str>,
    kind: crate::topic_config::ConfigType,
    doc: &'static str,
) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        default,
        kind,
        doc,
    }
}

/// The broker-only configs Sluice reads (topic-config synonyms come from
/// [`crate::topic_config`]). Static (changing them needs a restart) except the log cleaner's,
/// which are dynamic as in Kafka ([`crate::dynamic_config::RECONFIGURABLE`]).
pub const BROKER_CONFIGS: &[BrokerConfigDef] = {
    use crate::topic_config::ConfigType::*;
    &[
        bdef(
            "advertised.listeners",
            None,
            String,
            "Listeners to publish to clients, per listener name.",
        ),
        bdef(
            "auto.create.topics.enable",
            Some("true"),
            Boolean,
            "Enable auto creation of topics on the server.",
        ),
        bdef(
            "broker.id",
            Some("-1"),
            Int,
            "The broker id (synonym of node.id).",
        ),
        bdef(
            "default.replication.factor",
            Some("1"),
            Int,
            "The replication factor for automatically created topics.",
        ),
        bdef(
            "delete.topic.enable",
            Some("true"),
            Boolean,
            "Enables topic deletion.",
        ),
        bdef(
            "inter.broker.listener.name",
            None,
            String,
            "Name of listener used for communication between brokers.",
        ),
        bdef(
            "listener.security.protocol.map",
            Some("SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"),
            String,
            "Map between listener names and security protocols.",
        ),
        bdef(
            "listeners",
            Some("PLAINTEXT://:9092"),
            String,
            "Listener List - comma-separated list of URIs and listener names.",
        ),
        bdef(
            "log.cleaner.backoff.ms",
            Some("15000"),
            Long,
            "The amount of time to sleep when there are no logs to clean.",
        ),
        bdef(
            "log.cleaner.dedupe.buffer.size",
            Some("134217728"),
            Long,
            "The total memory used for log deduplication across all cleaner threads.",
        ),
        bdef(
            "log.cleaner.enable",
            Some("true"),
            Boolean,
            "Enable the log cleaner process to run on the server.",
        ),
        bdef(
            "log.cleaner.io.buffer.load.factor",
            Some("0.9"),
            Double,
            "Log cleaner dedupe buffer load factor: how full the dedupe buffer may become.",
        ),
        bdef(
            "log.cleaner.io.buffer.size",
            Some("524288"),
            Int,
            "The total memory used for log cleaner I/O buffers across all cleaner threads.",
        ),
        bdef(
            "log.cleaner.io.max.bytes.per.second",
            Some("1.7976931348623157E308"),
            Double,
            "The log cleaner will be throttled so that the sum of its read and write i/o will be less than this value on average.",
        ),
        bdef(
            "log.cleaner.threads",
            Some("1"),
            Int,
            "The number of background threads to use for log cleaning.",
        ),
        bdef(
            "log.dirs",
            None,
            String,
            "The directories in which the log data is kept.",
        ),
        bdef(
            "max.incremental.fetch.session.cache.slots",
            Some("1000"),
            Int,
            "The maximum number of incremental fetch sessions.",
        ),
        bdef(
            "node.id",
            // Kafka's node.id has no default (DescribeConfigs lists no DEFAULT_CONFIG synonym).
            None,
            Int,
            "The node ID associated with the roles this process is playing.",
        ),
        bdef(
            "num.partitions",
            Some("1"),
            Int,
            "The default number of log partitions per topic.",
        ),
        bdef(
            "offsets.topic.num.partitions",
            Some("50"),
            Int,
            "The number of partitions for the offset commit topic.",
        ),
        bdef(
            "producer.id.expiration.ms",
            Some("86400000"),
            Int,
            "The time a topic partition leader waits before expiring producer IDs.",
        ),
        bdef(
            "queued.max.request.bytes",
            Some("104857600"),
            Long,
            "The number of request bytes read ahead of the requests being served, broker-wide, \
             before no more are read (each connection may always read the request it is to \
             serve next); zero or less for no bound.",
        ),
        bdef(
            "socket.request.max.bytes",
            Some("104857600"),
            Int,
            "The maximum number of bytes in a socket request.",
        ),
    ]
};
