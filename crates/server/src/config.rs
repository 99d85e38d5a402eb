//! Broker configuration, keyed by Kafka's property names.
//!
//! Sources, later ones winning: built-in defaults < config file (TOML whose keys are Kafka
//! property names, or a Java `.properties` file such as an existing `server.properties`) <
//! environment (`KAFKA_*`, the apache/kafka docker image's convention) < `--override key=value`.
//!
//! Raw values are kept as strings in a [`RawConfig`]; [`BrokerConfig::from_raw`] parses and
//! validates every key Sluice knows ([`BROKER_CONFIGS`]: its type, range or allowed values as
//! Kafka 4.3.1's `KafkaConfig` defines them, then Kafka's rules across keys) and reports the
//! first invalid one by the name the user wrote, with where it came from. Keys Sluice does not
//! know are reported by [`BrokerConfig::unknown_keys`] so the binary can warn about them.

use crate::config_def::{self, Check, ConfigType, Value};
use crate::topic_config::BrokerLayers;
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
    /// An invalid value: `message` names `key` (in Kafka's words where Kafka has them).
    #[error("{message}{}", origin.as_ref().map(|o| format!(" ({o})")).unwrap_or_default())]
    Invalid {
        key: String,
        message: String,
        origin: Option<Origin>,
    },
}

/// Where an invalid value was set, for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File,
    /// The environment, through this variable when known.
    Environment(Option<String>),
    Override,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File => write!(f, "set in the config file"),
            Self::Environment(Some(var)) => write!(f, "set by environment variable {var}"),
            Self::Environment(None) => write!(f, "set in the environment"),
            Self::Override => write!(f, "set by --override"),
        }
    }
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
    /// The environment variable each key from [`RawConfig::load_env`] came from.
    env_vars: BTreeMap<String, String>,
}

impl RawConfig {
    pub fn set(&mut self, key: &str, value: impl Into<String>, source: Source) {
        let key = key.trim();
        self.env_vars.remove(key);
        self.values.insert(key.to_string(), (value.into(), source));
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

    /// Where `key` was set, for messages: the environment variable's name when it came from one.
    pub fn origin(&self, key: &str) -> Option<Origin> {
        Some(match self.source(key)? {
            Source::File => Origin::File,
            Source::Environment => Origin::Environment(self.env_vars.get(key).cloned()),
            Source::Override => Origin::Override,
        })
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
            self.env_vars.insert(key, name);
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
    /// The first KRaft controller listener (`controller.listener.names`) as Kafka advertises
    /// it to voters: its `advertised.listeners` entry, else its `listeners` entry, an empty host
    /// read as localhost (Kafka's effectiveAdvertisedControllerListeners). Sluice does not open
    /// it; it names this node as a voter when it formats a dynamic quorum.
    pub controller_listener: Option<Endpoint>,
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
    /// The parsed value of every key of [`BROKER_CONFIGS`] that is set or has a default.
    values: BTreeMap<&'static str, Value>,
}

/// Default of `queued.max.request.bytes`. Kafka's is -1 (unbounded) because its network threads
/// read one request per connection at a time; Sluice reads ahead, so it bounds what is read ahead.
pub const DEFAULT_QUEUED_MAX_REQUEST_BYTES: usize = 100 * 1024 * 1024;

/// A broker config Sluice knows: its type, default and validator as Kafka 4.3.1 defines them
/// (`KafkaConfig`'s ConfigDef), unless noted.
#[derive(Debug, Clone, Copy)]
pub struct BrokerConfigDef {
    pub name: &'static str,
    pub kind: ConfigType,
    /// The default Sluice applies (and DescribeConfigs reports); None: no default (null).
    pub default: Option<&'static str>,
    pub check: Check,
    /// Listed by DescribeConfigs on a BROKER resource under its own name, with this
    /// documentation. Topic-config synonyms (log.segment.bytes, ...) are listed through
    /// [`crate::topic_config::TOPIC_CONFIGS`]; the other keys are accepted and checked only.
    pub described: bool,
    pub doc: &'static str,
}

/// A key Sluice accepts and checks.
const fn key(
    name: &'static str,
    kind: ConfigType,
    default: Option<&'static str>,
    check: Check,
) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        kind,
        default,
        check,
        described: false,
        doc: "",
    }
}

/// A key DescribeConfigs lists on its own.
const fn described(
    name: &'static str,
    kind: ConfigType,
    default: Option<&'static str>,
    check: Check,
    doc: &'static str,
) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        kind,
        default,
        check,
        described: true,
        doc,
    }
}

/// Every broker config Sluice knows, sorted by name: the ones it reads, the broker synonyms of
/// topic configs (log.retention.ms, ... whose topic config is named in
/// [`crate::topic_config::TOPIC_CONFIGS`]), and ones accepted without effect because
/// server.properties files and docker-compose files carry them (KRaft quorum settings, thread
/// counts, replication factors of internal topics: a single-node Sluice has no use for them, but
/// checks them as Kafka does). Static (changing them needs a restart) except the topic defaults
/// and the log cleaner's, which are dynamic as in Kafka ([`crate::dynamic_config::is_dynamic`]).
pub const BROKER_CONFIGS: &[BrokerConfigDef] = {
    use Check::*;
    use ConfigType::*;
    const LONG_MAX: Option<&str> = Some("9223372036854775807");
    const INT_MAX: Option<&str> = Some("2147483647");
    const NULL: Option<&str> = Option::None;
    &[
        described("advertised.listeners", List, NULL, None, "Listeners to publish to clients, per listener name."),
        described("auto.create.topics.enable", Boolean, Some("true"), None, "Enable auto creation of topics on the server."),
        described("broker.id", Int, Some("-1"), None, "The broker id (synonym of node.id)."),
        // Sluice's own: the cluster id of a new data dir (the docker image's CLUSTER_ID).
        key("cluster.id", String, NULL, None),
        key("compression.gzip.level", Int, Some("-1"), MinusOneOrBetween(1, 9)),
        key("compression.lz4.level", Int, Some("9"), Between(1, 17)),
        key("compression.type", String, Some("producer"), OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"])),
        key("compression.zstd.level", Int, Some("3"), Between(-131072, 22)),
        key("controller.listener.names", List, NULL, None),
        key("controller.quorum.bootstrap.servers", List, Some(""), None),
        key("controller.quorum.voters", List, Some(""), None),
        // Sluice: at least 1 (no replica could be placed otherwise) and an INT16 on the wire;
        // Kafka takes any INT here.
        described("default.replication.factor", Int, Some("1"), Between(1, 32767), "The replication factor for automatically created topics."),
        described("delete.topic.enable", Boolean, Some("true"), None, "Enables topic deletion."),
        key("group.consumer.assignors", List, Some("uniform,range"), NonEmptyList),
        key("group.consumer.heartbeat.interval.ms", Int, Some("5000"), AtLeast(1)),
        key("group.consumer.max.heartbeat.interval.ms", Int, Some("15000"), AtLeast(1)),
        key("group.consumer.max.session.timeout.ms", Int, Some("60000"), AtLeast(1)),
        key("group.consumer.max.size", Int, INT_MAX, AtLeast(1)),
        key("group.consumer.migration.policy", String, Some("bidirectional"), OneOfIgnoreCase(&["DISABLED", "DOWNGRADE", "UPGRADE", "BIDIRECTIONAL"])),
        key("group.consumer.min.heartbeat.interval.ms", Int, Some("5000"), AtLeast(1)),
        key("group.consumer.min.session.timeout.ms", Int, Some("45000"), AtLeast(1)),
        key("group.consumer.session.timeout.ms", Int, Some("45000"), AtLeast(1)),
        key("group.initial.rebalance.delay.ms", Int, Some("3000"), None),
        key("group.max.session.timeout.ms", Int, Some("1800000"), None),
        key("group.max.size", Int, INT_MAX, AtLeast(1)),
        key("group.min.session.timeout.ms", Int, Some("6000"), None),
        described("inter.broker.listener.name", String, NULL, None, "Name of listener used for communication between brokers."),
        described("listener.security.protocol.map", String, Some("SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"), None, "Map between listener names and security protocols."),
        described("listeners", List, Some("PLAINTEXT://:9092"), None, "Listener List - comma-separated list of URIs and listener names."),
        described("log.cleaner.backoff.ms", Long, Some("15000"), AtLeast(0), "The amount of time to sleep when there are no logs to clean."),
        described("log.cleaner.dedupe.buffer.size", Long, Some("134217728"), None, "The total memory used for log deduplication across all cleaner threads."),
        key("log.cleaner.delete.retention.ms", Long, Some("86400000"), AtLeast(0)),
        described("log.cleaner.enable", Boolean, Some("true"), None, "Enable the log cleaner process to run on the server."),
        // Sluice: Kafka takes any double; its cleaner fails on a load factor of 0 or less.
        described("log.cleaner.io.buffer.load.factor", Double, Some("0.9"), AboveZeroAtMostOne, "Log cleaner dedupe buffer load factor: how full the dedupe buffer may become."),
        described("log.cleaner.io.buffer.size", Int, Some("524288"), AtLeast(0), "The total memory used for log cleaner I/O buffers across all cleaner threads."),
        described("log.cleaner.io.max.bytes.per.second", Double, Some("1.7976931348623157E308"), None, "The log cleaner will be throttled so that the sum of its read and write i/o will be less than this value on average."),
        key("log.cleaner.max.compaction.lag.ms", Long, LONG_MAX, AtLeast(1)),
        key("log.cleaner.min.cleanable.ratio", Double, Some("0.5"), Between(0, 1)),
        key("log.cleaner.min.compaction.lag.ms", Long, Some("0"), AtLeast(0)),
        described("log.cleaner.threads", Int, Some("1"), AtLeast(0), "The number of background threads to use for log cleaning."),
        key("log.cleanup.policy", List, Some("delete"), ListOf(&["compact", "delete"])),
        // Sluice's default data dir is ./data (Kafka's log.dir default is /tmp/kafka-logs).
        key("log.dir", List, NULL, NonEmptyList),
        described("log.dirs", List, NULL, NonEmptyList, "The directories in which the log data is kept."),
        key("log.flush.interval.messages", Long, LONG_MAX, AtLeast(1)),
        // Kafka checks this one as flush.ms (at least 0) once the broker's topic defaults are
        // built; Sluice checks it under the name the user wrote.
        key("log.flush.interval.ms", Long, NULL, AtLeast(0)),
        key("log.index.interval.bytes", Int, Some("4096"), AtLeast(0)),
        // Sluice also needs room for two time-index entries (24 bytes; see check_layers).
        key("log.index.size.max.bytes", Int, Some("10485760"), AtLeast(4)),
        key("log.local.retention.bytes", Long, Some("-2"), AtLeast(-2)),
        key("log.local.retention.ms", Long, Some("-2"), AtLeast(-2)),
        key("log.message.timestamp.after.max.ms", Long, Some("3600000"), AtLeast(0)),
        key("log.message.timestamp.before.max.ms", Long, LONG_MAX, AtLeast(0)),
        key("log.message.timestamp.type", String, Some("CreateTime"), OneOf(&["CreateTime", "LogAppendTime"])),
        key("log.preallocate", Boolean, Some("false"), None),
        key("log.retention.bytes", Long, Some("-1"), None),
        key("log.retention.check.interval.ms", Long, Some("300000"), AtLeast(1)),
        key("log.retention.hours", Int, Some("168"), None),
        key("log.retention.minutes", Int, NULL, None),
        key("log.retention.ms", Long, NULL, None),
        key("log.roll.hours", Int, Some("168"), AtLeast(1)),
        key("log.roll.jitter.hours", Int, Some("0"), AtLeast(0)),
        key("log.roll.jitter.ms", Long, NULL, None),
        key("log.roll.ms", Long, NULL, None),
        key("log.segment.bytes", Int, Some("1073741824"), AtLeast(1_048_576)),
        key("log.segment.delete.delay.ms", Long, Some("60000"), AtLeast(0)),
        described("max.incremental.fetch.session.cache.slots", Int, Some("1000"), AtLeast(0), "The maximum number of incremental fetch sessions."),
        key("message.max.bytes", Int, Some("1048588"), AtLeast(0)),
        described("metadata.log.dir", String, NULL, None, "The directory of the cluster metadata log (__cluster_metadata-0); the first log dir when unset."),
        described("metadata.log.max.record.bytes.between.snapshots", Long, Some("20971520"), AtLeast(1), "Bytes of metadata records appended since the last snapshot after which a new snapshot is written."),
        described("metadata.log.max.snapshot.interval.ms", Long, Some("3600000"), AtLeast(0), "Milliseconds after which a snapshot is written if records were appended since the last one; 0 disables this trigger."),
        described("metadata.log.segment.bytes", Int, Some("1073741824"), AtLeast(8 * 1024 * 1024), "The size of a segment of the metadata log."),
        described("metadata.log.segment.ms", Long, Some("604800000"), None, "The time after which a segment of the metadata log is rolled."),
        key("min.insync.replicas", Int, Some("1"), AtLeast(1)),
        // Kafka's node.id has no default (DescribeConfigs lists no DEFAULT_CONFIG synonym);
        // Sluice runs as node 1 unless told otherwise.
        described("node.id", Int, NULL, AtLeast(0), "The node ID associated with the roles this process is playing."),
        key("num.io.threads", Int, Some("8"), AtLeast(1)),
        key("num.network.threads", Int, Some("3"), AtLeast(1)),
        described("num.partitions", Int, Some("1"), AtLeast(1), "The default number of log partitions per topic."),
        key("num.recovery.threads.per.data.dir", Int, Some("2"), AtLeast(1)),
        key("offset.metadata.max.bytes", Int, Some("4096"), None),
        key("offsets.retention.check.interval.ms", Long, Some("600000"), AtLeast(1)),
        key("offsets.retention.minutes", Int, Some("10080"), AtLeast(1)),
        described("offsets.topic.num.partitions", Int, Some("50"), AtLeast(1), "The number of partitions for the offset commit topic."),
        key("offsets.topic.replication.factor", Short, Some("3"), AtLeast(1)),
        key("process.roles", List, NULL, NonEmptyListOf(&["broker", "controller"])),
        described("producer.id.expiration.ms", Int, Some("86400000"), AtLeast(1), "The time a topic partition leader waits before expiring producer IDs."),
        described(
            "queued.max.request.bytes",
            Long,
            Some("104857600"),
            None,
            "The number of request bytes read ahead of the requests being served, broker-wide, \
             before no more are read (each connection may always read the request it is to \
             serve next); zero or less for no bound.",
        ),
        key("share.coordinator.state.topic.min.isr", Short, Some("2"), AtLeast(1)),
        key("share.coordinator.state.topic.replication.factor", Short, Some("3"), AtLeast(1)),
        // Sluice's own keys.
        key("sluice.log.flush.method", String, NULL, OneOf(&["syncfs", "fdatasync"])),
        key("sluice.log.level", String, Some("info"), None),
        key("sluice.max.decompressed.batch.bytes", Long, Some("134217728"), AtLeast(1)),
        key("socket.receive.buffer.bytes", Int, Some("102400"), None),
        described("socket.request.max.bytes", Int, Some("104857600"), AtLeast(1), "The maximum number of bytes in a socket request."),
        key("socket.send.buffer.bytes", Int, Some("102400"), None),
        key("transaction.abort.timed.out.transaction.cleanup.interval.ms", Int, Some("10000"), AtLeast(1)),
        key("transaction.max.timeout.ms", Int, Some("900000"), AtLeast(1)),
        key("transaction.partition.verification.enable", Boolean, Some("true"), None),
        key("transaction.state.log.min.isr", Int, Some("2"), AtLeast(1)),
        key("transaction.state.log.num.partitions", Int, Some("50"), AtLeast(1)),
        key("transaction.state.log.replication.factor", Short, Some("3"), AtLeast(1)),
        key("transaction.state.log.segment.bytes", Int, Some("104857600"), AtLeast(1)),
        key("transactional.id.expiration.ms", Int, Some("604800000"), AtLeast(1)),
        key("unclean.leader.election.enable", Boolean, Some("false"), None),
    ]
};

/// The definition of broker config `name`.
pub fn lookup(name: &str) -> Option<&'static BrokerConfigDef> {
    BROKER_CONFIGS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .and_then(|i| BROKER_CONFIGS.get(i))
}

/// Parse and check a value of broker config `key` as Kafka does; the error is Kafka's message,
/// naming `key`. A key Sluice does not know is an error too.
pub fn validate_value(key: &str, value: &str) -> Result<Value, String> {
    let def = lookup(key).ok_or_else(|| format!("Unknown broker config name: {key}"))?;
    config_def::parse(def.name, def.kind, def.check, value)
}

/// Kafka's rules across the broker's topic defaults and log cleaner settings, over every layer
/// (static config, and the dynamic ones when AlterConfigs changes them). The values are already
/// checked one by one. The error names the key the offending value was set under.
pub fn check_layers(layers: &BrokerLayers<'_>) -> Result<(), (String, String)> {
    // (key, value, where) of the first of `keys` set in any layer, most specific key first.
    let first_set =
        |keys: &[&'static str]| -> Result<Option<(&'static str, i64)>, (String, String)> {
            for k in keys {
                if let Some((v, _)) = layers.get(k) {
                    return match validate_value(k, &v) {
                        Ok(Value::Number(n)) => Ok(Some((k, n))),
                        Ok(_) => Ok(None),
                        Err(message) => Err((k.to_string(), message)),
                    };
                }
            }
            Ok(None)
        };
    let number = |k: &'static str| -> Result<(i64, bool), (String, String)> {
        match first_set(&[k])? {
            Some((_, n)) => Ok((n, true)),
            None => Ok((
                lookup(k)
                    .and_then(|d| d.default)
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0),
                false,
            )),
        }
    };
    // KafkaConfig.validateValues. Retention in hours or minutes is a time too: any negative
    // value means unlimited; zero is refused under the name it was set with.
    if let Some((k, n)) = first_set(&[
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ])? {
        if n == 0 {
            return Err((
                k.to_string(),
                format!(
                    "requirement failed: {k} must be unlimited (-1) or, greater than or equal to 1"
                ),
            ));
        }
    }
    if let Some(("log.roll.ms", n)) = first_set(&["log.roll.ms", "log.roll.hours"])? {
        if n < 1 {
            return Err((
                "log.roll.ms".into(),
                "requirement failed: log.roll.ms must be greater than or equal to 1".into(),
            ));
        }
    }
    if let Some(("log.roll.jitter.ms", n)) =
        first_set(&["log.roll.jitter.ms", "log.roll.jitter.hours"])?
    {
        if n < 0 {
            return Err((
                "log.roll.jitter.ms".into(),
                "requirement failed: log.roll.jitter.ms must be greater than or equal to 0".into(),
            ));
        }
    }
    let (threads, threads_set) = number("log.cleaner.threads")?;
    let (dedupe, dedupe_set) = number("log.cleaner.dedupe.buffer.size")?;
    if threads == 0 {
        return Err((
            "log.cleaner.threads".into(),
            config_def::invalid(
                "log.cleaner.threads",
                0,
                "Value must be at least 1 (log.cleaner.dedupe.buffer.size is shared by the cleaner threads)",
            ),
        ));
    }
    if dedupe / threads <= 1024 * 1024 {
        let message = "requirement failed: log.cleaner.dedupe.buffer.size must be at least 1MB \
                       per cleaner thread.";
        // Kafka's message; when only log.cleaner.threads was set, it is named too.
        return Err(if dedupe_set || !threads_set {
            ("log.cleaner.dedupe.buffer.size".into(), message.into())
        } else {
            (
                "log.cleaner.threads".into(),
                format!("{message} log.cleaner.threads is {threads}."),
            )
        });
    }
    // Sluice's own: an index holds at least two time-index entries (Kafka: 4 bytes).
    let (index_bytes, _) = number("log.index.size.max.bytes")?;
    if index_bytes < 24 {
        return Err((
            "log.index.size.max.bytes".into(),
            config_def::invalid(
                "log.index.size.max.bytes",
                index_bytes,
                "Value must be at least 24 in Sluice, room for two time-index entries",
            ),
        ));
    }
    // LogConfig.validateValues, on the broker's defaults.
    let (min_lag, _) = number("log.cleaner.min.compaction.lag.ms")?;
    let (max_lag, _) = number("log.cleaner.max.compaction.lag.ms")?;
    if min_lag > max_lag {
        return Err((
            "log.cleaner.min.compaction.lag.ms".into(),
            format!(
                "conflict broker config setting log.cleaner.min.compaction.lag.ms ({min_lag}) > \
                 log.cleaner.max.compaction.lag.ms ({max_lag})"
            ),
        ));
    }
    Ok(())
}

fn invalid(key: &str, value: &str, reason: impl AsRef<str>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: config_def::invalid(key, value, reason.as_ref()),
        origin: None,
    }
}

fn rule(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
        origin: None,
    }
}

impl ConfigError {
    /// The same error, saying where its key was set in `raw`.
    fn with_origin(self, raw: &RawConfig) -> Self {
        match self {
            Self::Invalid {
                key,
                message,
                origin: None,
            } => {
                let origin = raw.origin(&key);
                Self::Invalid {
                    key,
                    message,
                    origin,
                }
            }
            other => other,
        }
    }
}

/// The KIP-848 assignor `name` (group.consumer.assignors) stands for: Kafka accepts the short
/// names and its own class names.
pub fn consumer_assignor(name: &str) -> Option<&'static str> {
    match name {
        "uniform" | "org.apache.kafka.coordinator.group.assignor.UniformAssignor" => {
            Some("uniform")
        }
        "range" | "org.apache.kafka.coordinator.group.assignor.RangeAssignor" => Some("range"),
        _ => None,
    }
}

/// Kafka's GroupCoordinatorConfig rules on the KIP-848 timeouts (checked against 4.3.1): both
/// values within their min/max, the heartbeat interval below the session timeout.
fn check_consumer_group_timeouts(
    raw: &RawConfig,
    values: &BTreeMap<&'static str, Value>,
) -> Result<(), ConfigError> {
    let num = |k: &str| match values.get(k) {
        Some(Value::Number(n)) => *n,
        _ => 0,
    };
    let session = "group.consumer.session.timeout.ms";
    let hb = "group.consumer.heartbeat.interval.ms";
    let min_session = "group.consumer.min.session.timeout.ms";
    let max_session = "group.consumer.max.session.timeout.ms";
    let min_hb = "group.consumer.min.heartbeat.interval.ms";
    let max_hb = "group.consumer.max.heartbeat.interval.ms";
    let (ge, le) = ("greater than or equal to", "less than or equal to");
    let rules = [
        (num(max_hb) >= num(min_hb), max_hb, ge, min_hb),
        (num(hb) >= num(min_hb), hb, ge, min_hb),
        (num(hb) <= num(max_hb), hb, le, max_hb),
        (
            num(max_session) >= num(min_session),
            max_session,
            ge,
            min_session,
        ),
        (num(session) >= num(min_session), session, ge, min_session),
        (num(session) <= num(max_session), session, le, max_session),
        (num(hb) < num(session), hb, "less than", session),
    ];
    for (ok, key, relation, bound) in rules {
        if !ok {
            // Kafka's message; the error is the key's the user set (the bound's, if only it).
            let set = if raw.get(key).is_none() && raw.get(bound).is_some() {
                bound
            } else {
                key
            };
            return Err(rule(set, format!("{key} must be {relation} {bound}")));
        }
    }
    Ok(())
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
    /// log.dirs ./data, node.id 1. The first invalid value stops it, with a message naming the
    /// key as the user wrote it and where it was set.
    pub fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        Self::build(&raw).map_err(|e| e.with_origin(&raw))
    }

    fn build(raw: &RawConfig) -> Result<Self, ConfigError> {
        // Every key on its own (Kafka's ConfigDef), then defaults for the keys not set.
        let mut values: BTreeMap<&'static str, Value> = BTreeMap::new();
        for def in BROKER_CONFIGS {
            let parsed = match raw.get(def.name) {
                Some(v) => config_def::parse(def.name, def.kind, def.check, v)
                    .map_err(|message| rule(def.name, message))?,
                None => match def.default {
                    // A default that does not parse is a mistake in the table, caught by tests.
                    Some(d) => match config_def::parse(def.name, def.kind, Check::None, d) {
                        Ok(v) => v,
                        Err(_) => continue,
                    },
                    None => continue,
                },
            };
            values.insert(def.name, parsed);
        }
        Self::check_rules(raw, &values)?;
        check_layers(&BrokerLayers::static_only(raw)).map_err(|(k, m)| rule(&k, m))?;

        let node_id = match raw.get("node.id").or_else(|| raw.get("broker.id")) {
            None => 1,
            Some(v) => {
                let key = if raw.get("node.id").is_some() {
                    "node.id"
                } else {
                    "broker.id"
                };
                match values.get(key) {
                    Some(Value::Number(id)) if *id >= 0 => *id as i32,
                    // broker.id alone stands for node.id (Kafka requires node.id itself).
                    _ => return Err(invalid(key, v.trim(), "Value must be at least 0")),
                }
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

        let controller_listener = controller_names.first().and_then(|name| {
            let advertised = raw
                .get("advertised.listeners")
                .and_then(|v| parse_endpoints("advertised.listeners", v).ok())
                .and_then(|eps| eps.into_iter().find(|(n, _, _)| n == name));
            let listed = parse_endpoints("listeners", listeners_value)
                .ok()
                .and_then(|eps| eps.into_iter().find(|(n, _, _)| n == name));
            advertised
                .or(listed)
                .map(|(listener, host, port)| Endpoint {
                    listener,
                    host: if host.is_empty() {
                        "localhost".to_string()
                    } else {
                        host
                    },
                    port,
                })
        });

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

        // log.dirs, else log.dir, else ./data; duplicates are dropped as Kafka drops them.
        let log_dirs: Vec<PathBuf> = match values.get("log.dirs").or_else(|| values.get("log.dir"))
        {
            Some(Value::List(dirs)) => dirs.iter().map(PathBuf::from).collect(),
            _ => vec![PathBuf::from("./data")],
        };

        let number = |k: &str| match values.get(k) {
            Some(Value::Number(n)) => *n,
            _ => 0,
        };
        let boolean = |k: &str| matches!(values.get(k), Some(Value::Bool(true)));
        // Kafka takes any value; zero or less means no bound (no memory pool).
        let queued_max_request_bytes = usize::try_from(number("queued.max.request.bytes"))
            .ok()
            .filter(|&n| n > 0);

        Ok(Self {
            node_id,
            listeners,
            advertised,
            controller_listener,
            inter_broker_listener_name,
            log_dirs,
            num_partitions: number("num.partitions") as i32,
            default_replication_factor: number("default.replication.factor") as i16,
            auto_create_topics_enable: boolean("auto.create.topics.enable"),
            delete_topic_enable: boolean("delete.topic.enable"),
            socket_request_max_bytes: number("socket.request.max.bytes") as usize,
            queued_max_request_bytes,
            offsets_topic_num_partitions: number("offsets.topic.num.partitions") as i32,
            cluster_id: raw.get("cluster.id").map(str::to_string),
            raw: raw.clone(),
            values,
        })
    }

    /// Kafka's rules across static keys (KafkaConfig.validateValues, GroupCoordinatorConfig),
    /// and Sluice's own on the values it reads.
    fn check_rules(
        raw: &RawConfig,
        values: &BTreeMap<&'static str, Value>,
    ) -> Result<(), ConfigError> {
        let number = |k: &str| match values.get(k) {
            Some(Value::Number(n)) => Some(*n),
            _ => None,
        };
        if raw.get("node.id").is_some()
            && raw.get("broker.id").is_some()
            && number("node.id") != number("broker.id")
        {
            return Err(rule(
                "broker.id",
                "You must set `node.id` to the same value as `broker.id`.",
            ));
        }
        // Not Kafka's "queued.max.request.bytes must be larger or equal to
        // socket.request.max.bytes": Kafka's is a memory pool every request must fit in;
        // Sluice's bounds only what is read ahead (a connection always reads the request it is
        // to serve next), so a smaller budget works and is kept.
        check_consumer_group_timeouts(raw, values)?;
        // Kafka loads each assignor by name (uniform, range) or class name.
        if let (Some(v), Some(Value::List(assignors))) = (
            raw.get("group.consumer.assignors"),
            values.get("group.consumer.assignors"),
        ) {
            for a in assignors {
                if consumer_assignor(a).is_none() {
                    return Err(invalid(
                        "group.consumer.assignors",
                        v.trim(),
                        format!("Class {a} cannot be found (Sluice serves the uniform and range assignors)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The parsed value of broker config `key`: the one set, else its default. None for a key
    /// that is not set and has no default, or that Sluice does not know.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// `key`'s value as a number (INT, SHORT and LONG keys).
    pub fn get_long(&self, key: &str) -> Option<i64> {
        match self.value(key)? {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// `key`'s value as an INT (or SHORT) key's number.
    pub fn get_int(&self, key: &str) -> Option<i32> {
        self.get_long(key).and_then(|n| i32::try_from(n).ok())
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.value(key)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn get_double(&self, key: &str) -> Option<f64> {
        match self.value(key)? {
            Value::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// `key`'s value as a STRING key's (trimmed) string.
    pub fn get_string(&self, key: &str) -> Option<&str> {
        match self.value(key)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// `key`'s value as a LIST key's items.
    pub fn get_list(&self, key: &str) -> Option<&[String]> {
        match self.value(key)? {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// Keys present in the raw config that Sluice does not know.
    pub fn unknown_keys(&self) -> Vec<String> {
        self.raw
            .keys()
            .filter(|k| lookup(k).is_none())
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
        // Below socket.request.max.bytes too, which Kafka refuses (tests/broker_config.rs).
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
        raw.set("log.segment.bytes", "1048576", Source::File);
        raw.set("transaction.max.timeout.ms", "60000", Source::File);
        raw.set("no.such.key", "1", Source::File);
        let c = BrokerConfig::from_raw(raw).unwrap();
        assert_eq!(c.unknown_keys(), vec!["no.such.key".to_string()]);
    }
    fn refused(kv: &[(&str, &str)]) -> String {
        let mut raw = RawConfig::default();
        for (k, v) in kv {
            raw.set(k, *v, Source::Override);
        }
        match BrokerConfig::from_raw(raw) {
            Ok(_) => panic!("{kv:?} accepted"),
            Err(e) => e.to_string(),
        }
    }

    fn accepted(kv: &[(&str, &str)]) -> BrokerConfig {
        let mut raw = RawConfig::default();
        for (k, v) in kv {
            raw.set(k, *v, Source::Override);
        }
        BrokerConfig::from_raw(raw).unwrap_or_else(|e| panic!("{kv:?}: {e}"))
    }

    /// Issue 17's examples: broker-level topic defaults are checked as Kafka 4.3.1 checks them
    /// (its messages, checked by starting it with each), naming the key the user wrote and
    /// where: the environment variable, the file, or --override.
    #[test]
    fn broker_topic_defaults_are_checked_naming_the_key() {
        let cases = [
            (
                "compression.type",
                "foo",
                "Invalid value foo for configuration compression.type: String must be one of: \
                 uncompressed, zstd, lz4, snappy, gzip, producer",
            ),
            (
                "log.cleanup.policy",
                "bogus",
                "Invalid value bogus for configuration log.cleanup.policy: String must be one \
                 of: compact, delete",
            ),
            (
                "log.retention.hours",
                "-5x",
                "Invalid value -5x for configuration log.retention.hours: Not a number of type INT",
            ),
            (
                "log.segment.bytes",
                "10",
                "Invalid value 10 for configuration log.segment.bytes: Value must be at least \
                 1048576",
            ),
        ];
        for (key, value, message) in cases {
            let var = format!("KAFKA_{}", key.replace('.', "_").to_ascii_uppercase());
            let mut raw = RawConfig::default();
            raw.load_env([(var.clone(), value.to_string())]);
            let err = BrokerConfig::from_raw(raw).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("{message} (set by environment variable {var})")
            );

            let mut raw = RawConfig::default();
            raw.load_properties(&format!("{key}={value}\n"));
            let err = BrokerConfig::from_raw(raw).unwrap_err().to_string();
            assert_eq!(err, format!("{message} (set in the config file)"));

            assert_eq!(
                refused(&[(key, value)]),
                format!("{message} (set by --override)")
            );
        }
    }

    /// Values Kafka 4.3.1 accepts are accepted (checked against KafkaConfig): any negative
    /// retention is unlimited, an empty cleanup policy, spaces around values.
    #[test]
    fn values_kafka_accepts_are_accepted() {
        for kv in [
            ("log.retention.hours", "-1"),
            ("log.retention.hours", "-5"),
            ("log.retention.minutes", "-1"),
            ("log.retention.ms", "-1"),
            ("log.retention.ms", "-5"),
            ("log.cleanup.policy", ""),
            ("log.cleanup.policy", "compact , delete,compact"),
            ("compression.type", " gzip "),
            ("log.cleaner.enable", "FALSE"),
            ("group.consumer.migration.policy", "UPGRADE"),
            (
                "group.consumer.assignors",
                "org.apache.kafka.coordinator.group.assignor.RangeAssignor",
            ),
            ("log.cleaner.dedupe.buffer.size", "1048577"),
            ("socket.request.max.bytes", "1"),
            ("log.cleaner.min.cleanable.ratio", "1"),
        ] {
            accepted(&[kv]);
        }
        let c = accepted(&[("log.dirs", "/a, /b,/a")]);
        assert_eq!(c.log_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        let c = accepted(&[("group.consumer.assignors", " range,uniform ")]);
        assert_eq!(
            c.get_list("group.consumer.assignors"),
            Some(&["range".to_string(), "uniform".to_string()][..])
        );
        assert_eq!(c.get_int("group.max.size"), Some(i32::MAX), "default");
        assert_eq!(c.get_long("log.retention.ms"), None, "no default");
    }

    /// Kafka's rules across keys (KafkaConfig.validateValues, LogConfig.validateValues), in
    /// its words, under the key the user set.
    #[test]
    fn rules_across_keys() {
        for key in [
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours",
        ] {
            assert_eq!(
                refused(&[(key, "0")]),
                format!(
                    "requirement failed: {key} must be unlimited (-1) or, greater than or equal \
                     to 1 (set by --override)"
                )
            );
        }
        // The most specific key decides, as in Kafka.
        accepted(&[("log.retention.ms", "5"), ("log.retention.hours", "0")]);
        assert!(refused(&[("log.roll.ms", "0"), ("log.roll.hours", "5")])
            .starts_with("requirement failed: log.roll.ms must be greater than or equal to 1"));
        assert!(refused(&[("log.roll.jitter.ms", "-1")]).starts_with(
            "requirement failed: log.roll.jitter.ms must be greater than or equal to 0"
        ));
        let err = refused(&[("log.cleaner.dedupe.buffer.size", "1048576")]);
        assert!(
            err.starts_with(
                "requirement failed: log.cleaner.dedupe.buffer.size must be at least 1MB per \
                 cleaner thread."
            ) && err.ends_with("(set by --override)"),
            "{err}"
        );
        let err = refused(&[("log.cleaner.threads", "200")]);
        assert!(err.contains("log.cleaner.threads is 200"), "{err}");
        assert!(refused(&[("log.cleaner.threads", "0")])
            .starts_with("Invalid value 0 for configuration log.cleaner.threads"));
        assert_eq!(
            refused(&[
                ("log.cleaner.min.compaction.lag.ms", "10"),
                ("log.cleaner.max.compaction.lag.ms", "5"),
            ]),
            "conflict broker config setting log.cleaner.min.compaction.lag.ms (10) > \
             log.cleaner.max.compaction.lag.ms (5) (set by --override)"
        );
        assert_eq!(
            refused(&[("node.id", "1"), ("broker.id", "2")]),
            "You must set `node.id` to the same value as `broker.id`. (set by --override)"
        );
        accepted(&[("node.id", "3"), ("broker.id", "3")]);
        assert_eq!(
            refused(&[("group.consumer.assignors", "uniform,sticky")]),
            "Invalid value uniform,sticky for configuration group.consumer.assignors: Class \
             sticky cannot be found (Sluice serves the uniform and range assignors) (set by \
             --override)"
        );
        assert!(refused(&[("group.consumer.assignors", "")])
            .starts_with("Configuration 'group.consumer.assignors' must not be empty."));
        assert!(refused(&[("log.index.size.max.bytes", "23")]).starts_with(
            "Invalid value 23 for configuration log.index.size.max.bytes: Value must be at \
             least 24 in Sluice"
        ));
    }

    /// The flush method is checked with the rest, before the broker opens its log dirs.
    #[test]
    fn an_unknown_flush_method_stops_the_start() {
        let err = refused(&[("sluice.log.flush.method", "fsync")]);
        assert!(
            err.contains("sluice.log.flush.method") && err.contains("syncfs, fdatasync"),
            "{err}"
        );
        accepted(&[("sluice.log.flush.method", "fdatasync")]);
    }

    #[test]
    fn consumer_group_timeouts_keep_kafkas_bounds() {
        let timeouts = |kv: &[(&str, &str)]| {
            let c = accepted(kv);
            (
                c.get_int("group.consumer.session.timeout.ms"),
                c.get_int("group.consumer.heartbeat.interval.ms"),
            )
        };
        assert_eq!(timeouts(&[]), (Some(45_000), Some(5_000)));
        // Below the default minimum: refused unless the minimum is lowered too.
        let err = refused(&[("group.consumer.session.timeout.ms", "10000")]);
        assert!(
            err.contains(
                "group.consumer.session.timeout.ms must be greater than or equal to \
                 group.consumer.min.session.timeout.ms"
            ),
            "{err}"
        );
        assert_eq!(
            timeouts(&[
                ("group.consumer.session.timeout.ms", "10000"),
                ("group.consumer.min.session.timeout.ms", "10000"),
            ]),
            (Some(10_000), Some(5_000))
        );
        let err = refused(&[
            ("group.consumer.session.timeout.ms", "6000"),
            ("group.consumer.min.session.timeout.ms", "6000"),
            ("group.consumer.heartbeat.interval.ms", "6000"),
        ]);
        assert!(
            err.contains(
                "group.consumer.heartbeat.interval.ms must be less than \
                 group.consumer.session.timeout.ms"
            ),
            "{err}"
        );
        // The message is Kafka's; the error is the key the user set.
        let err = refused(&[("group.consumer.min.session.timeout.ms", "70000")]);
        assert_eq!(
            err,
            "group.consumer.max.session.timeout.ms must be greater than or equal to \
             group.consumer.min.session.timeout.ms (set by --override)"
        );
    }

    #[test]
    fn table_is_sorted_complete_and_its_defaults_valid() {
        for w in BROKER_CONFIGS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for d in BROKER_CONFIGS {
            if let Some(default) = d.default {
                assert!(
                    config_def::parse(d.name, d.kind, d.check, default).is_ok(),
                    "default of {}",
                    d.name
                );
            }
            assert!(lookup(d.name).is_some());
        }
        // Every broker synonym of a topic config is known, as the type Kafka gives it.
        for t in crate::topic_config::TOPIC_CONFIGS {
            for s in t.synonyms {
                let d = lookup(s.name).unwrap_or_else(|| panic!("{} missing", s.name));
                if s.factor != 1 {
                    assert_eq!(d.kind, ConfigType::Int, "{}", s.name);
                }
            }
        }
        // DescribeConfigs lists these broker configs under their own names.
        let described: Vec<&str> = BROKER_CONFIGS
            .iter()
            .filter(|d| d.described)
            .map(|d| d.name)
            .collect();
        assert_eq!(described.len(), 28, "{described:?}");
        // Every config a default config (from_raw) applies parses as its type.
        let c = accepted(&[]);
        for d in BROKER_CONFIGS {
            assert_eq!(c.value(d.name).is_some(), d.default.is_some(), "{}", d.name);
        }
    }
}
