//! Kafka's topic-level configs: names, defaults, types, validation and broker-level synonyms
//! (Apache Kafka 4.x `TopicConfig` / `LogConfig`).
//!
//! A topic's effective value comes from, in order: the topic's own override, the broker's
//! synonym (e.g. `log.retention.hours` for `retention.ms`), the default here.

use crate::config::RawConfig;
use std::collections::BTreeMap;

pub use crate::config_def::{Check, ConfigType};

/// A broker-level synonym and the factor that turns its unit into the topic config's unit.
#[derive(Debug, Clone, Copy)]
pub struct Synonym {
    pub name: &'static str,
    pub factor: i64,
}

const fn syn(name: &'static str) -> Synonym {
    Synonym { name, factor: 1 }
}

/// One topic config.
#[derive(Debug, Clone, Copy)]
pub struct TopicConfigDef {
    pub name: &'static str,
    pub default: &'static str,
    pub kind: ConfigType,
    pub check: Check,
    /// Broker synonyms, most specific first (`log.retention.ms` before `.minutes`/`.hours`).
    pub synonyms: &'static [Synonym],
    pub doc: &'static str,
}

const LONG_MAX: &str = "9223372036854775807";
const HOUR_MS: i64 = 3_600_000;

/// Every topic config of Apache Kafka 4.x, sorted by name.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    TopicConfigDef { name: "cleanup.policy", default: "delete", kind: ConfigType::List, check: Check::ListOf(&["compact", "delete"]), synonyms: &[syn("log.cleanup.policy")], doc: "Either \"delete\" or \"compact\" or both: the retention policy of old log segments." },
    TopicConfigDef { name: "compression.gzip.level", default: "-1", kind: ConfigType::Int, check: Check::MinusOneOrBetween(1, 9), synonyms: &[syn("compression.gzip.level")], doc: "The compression level to use if compression.type is set to gzip." },
    TopicConfigDef { name: "compression.lz4.level", default: "9", kind: ConfigType::Int, check: Check::Between(1, 17), synonyms: &[syn("compression.lz4.level")], doc: "The compression level to use if compression.type is set to lz4." },
    TopicConfigDef { name: "compression.type", default: "producer", kind: ConfigType::String, check: Check::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]), synonyms: &[syn("compression.type")], doc: "The final compression type for a given topic; 'producer' retains the codec set by the producer." },
    TopicConfigDef { name: "compression.zstd.level", default: "3", kind: ConfigType::Int, check: Check::Between(-131072, 22), synonyms: &[syn("compression.zstd.level")], doc: "The compression level to use if compression.type is set to zstd." },
    TopicConfigDef { name: "delete.retention.ms", default: "86400000", kind: ConfigType::Long, check: Check::AtLeast(0), synonyms: &[syn("log.cleaner.delete.retention.ms")], doc: "How long delete tombstones are retained for log compacted topics." },
    TopicConfigDef { name: "file.delete.delay.ms", default: "60000", kind: ConfigType::Long, check: Check::AtLeast(0), synonyms: &[syn("log.segment.delete.delay.ms")], doc: "The time to wait before deleting a file from the filesystem." },
    TopicConfigDef { name: "flush.messages", default: LONG_MAX, kind: ConfigType::Long, check: Check::AtLeast(1), synonyms: &[syn("log.flush.interval.messages")], doc: "The number of messages written to a log partition before it is forced to disk." },
    TopicConfigDef { name: "flush.ms", default: LONG_MAX, kind: ConfigType::Long, check: Check::AtLeast(0), synonyms: &[syn("log.flush.interval.ms")], doc: "The maximum time a message may sit in the page cache before it is forced to disk." },
    TopicConfigDef { name: "follower.replication.throttled.replicas", default: "", kind: ConfigType::List, check: Check::None, synonyms: &[], doc: "A list of replicas for which log replication should be throttled on the follower side." },
    TopicConfigDef { name: "index.interval.bytes", default: "4096", kind: ConfigType::Int, check: Check::AtLeast(0), synonyms: &[syn("log.index.interval.bytes")], doc: "How frequently Kafka adds an index entry to its offset index." },
    TopicConfigDef { name: "leader.replication.throttled.replicas", default: "", kind: ConfigType::List, check: Check::None, synonyms: &[], doc: "A list of replicas for which log replication should be throttled on the leader side." },
    TopicConfigDef { name: "local.retention.bytes", default: "-2", kind: ConfigType::Long, check: Check::AtLeast(-2), synonyms: &[syn("log.local.retention.bytes")], doc: "The maximum size of local log segments before deletion (tiered storage); -2 means retention.bytes." },
    TopicConfigDef { name: "local.retention.ms", default: "-2", kind: ConfigType::Long, check: Check::AtLeast(-2), synonyms: &[syn("log.local.retention.ms")], doc: "How long a local log segment is kept before deletion (tiered storage); -2 means retention.ms." },
    TopicConfigDef { name: "max.compaction.lag.ms", default: LONG_MAX, kind: ConfigType::Long, check: Check::AtLeast(1), synonyms: &[syn("log.cleaner.max.compaction.lag.ms")], doc: "The maximum time a message will remain ineligible for compaction in the log." },
    TopicConfigDef { name: "max.message.bytes", default: "1048588", kind: ConfigType::Int, check: Check::AtLeast(0), synonyms: &[syn("message.max.bytes")], doc: "The largest record batch size allowed by Kafka (after compression if compression is enabled)." },
    TopicConfigDef { name: "message.timestamp.after.max.ms", default: "3600000", kind: ConfigType::Long, check: Check::AtLeast(0), synonyms: &[syn("log.message.timestamp.after.max.ms")], doc: "The maximum allowed difference between a record's timestamp, when ahead of the broker's, and the broker's timestamp." },
    TopicConfigDef { name: "message.timestamp.before.max.ms", default: LONG_MAX, kind: ConfigType::Long, check: Check::AtLeast(0), synonyms: &[syn("log.message.timestamp.before.max.ms")], doc: "The maximum allowed difference between the broker's timestamp and a record's timestamp when it lies behind." },
    TopicConfigDef { name: "message.timestamp.type", default: "CreateTime", kind: ConfigType::String, check: Check::OneOf(&["CreateTime", "LogAppendTime"]), synonyms: &[syn("log.message.timestamp.type")], doc: "Whether the timestamp in the message is message create time or log append time." },
    TopicConfigDef { name: "min.cleanable.dirty.ratio", default: "0.5", kind: ConfigType::Double, check: Check::Between(0, 1), synonyms: &[syn("log.cleaner.min.cleanable.ratio")], doc: "How frequently the log compactor will attempt to clean the log." },
    TopicConfigDef { name: "min.compaction.lag.ms", default: "0", kind: ConfigType::Long, check: Check::AtLeast(0), synonyms: &[syn("log.cleaner.min.compaction.lag.ms")], doc: "The minimum time a message will remain uncompacted in the log." },
    TopicConfigDef { name: "min.insync.replicas", default: "1", kind: ConfigType::Int, check: Check::AtLeast(1), synonyms: &[syn("min.insync.replicas")], doc: "The minimum number of replicas that must acknowledge a write with acks=all." },
    TopicConfigDef { name: "preallocate", default: "false", kind: ConfigType::Boolean, check: Check::None, synonyms: &[syn("log.preallocate")], doc: "True if we should preallocate the file on disk when creating a new log segment." },
    TopicConfigDef { name: "remote.log.copy.disable", default: "false", kind: ConfigType::Boolean, check: Check::None, synonyms: &[], doc: "Disables copying local log segments to remote storage (tiered storage)." },
    TopicConfigDef { name: "remote.log.delete.on.disable", default: "false", kind: ConfigType::Boolean, check: Check::None, synonyms: &[], doc: "Whether remote data is deleted when tiered storage is disabled on the topic." },
    TopicConfigDef { name: "remote.storage.enable", default: "false", kind: ConfigType::Boolean, check: Check::None, synonyms: &[], doc: "Whether tiered storage is enabled for the topic." },
    TopicConfigDef { name: "retention.bytes", default: "-1", kind: ConfigType::Long, check: Check::None, synonyms: &[syn("log.retention.bytes")], doc: "The maximum size a partition can grow to before old log segments are discarded; -1 means no limit." },
    TopicConfigDef { name: "retention.ms", default: "604800000", kind: ConfigType::Long, check: Check::AtLeast(-1), synonyms: &[syn("log.retention.ms"), Synonym { name: "log.retention.minutes", factor: 60_000 }, Synonym { name: "log.retention.hours", factor: HOUR_MS }], doc: "The maximum time a log is retained before old log segments are discarded; -1 means no limit." },
    TopicConfigDef { name: "segment.bytes", default: "1073741824", kind: ConfigType::Int, check: Check::AtLeast(1_048_576), synonyms: &[syn("log.segment.bytes")], doc: "The segment file size for the log." },
    TopicConfigDef { name: "segment.index.bytes", default: "10485760", kind: ConfigType::Int, check: Check::AtLeast(4), synonyms: &[syn("log.index.size.max.bytes")], doc: "The size of the index that maps offsets to file positions." },
    TopicConfigDef { name: "segment.jitter.ms", default: "0", kind: ConfigType::Long, check: Check::AtLeast(0), synonyms: &[syn("log.roll.jitter.ms"), Synonym { name: "log.roll.jitter.hours", factor: HOUR_MS }], doc: "The maximum random jitter subtracted from the scheduled segment roll time." },
    TopicConfigDef { name: "segment.ms", default: "604800000", kind: ConfigType::Long, check: Check::AtLeast(1), synonyms: &[syn("log.roll.ms"), Synonym { name: "log.roll.hours", factor: HOUR_MS }], doc: "The period of time after which Kafka will force the log to roll even if the segment file isn't full." },
    TopicConfigDef { name: "unclean.leader.election.enable", default: "false", kind: ConfigType::Boolean, check: Check::None, synonyms: &[syn("unclean.leader.election.enable")], doc: "Whether to enable replicas not in the ISR to be elected as leader as a last resort." },
];

/// The definition of topic config `name`.
pub fn lookup(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Why a value was refused; goes into INVALID_CONFIG error messages as Kafka words them.
pub fn validate(def: &TopicConfigDef, value: &str) -> Result<(), String> {
    let parsed = crate::config_def::parse(def.name, def.kind, def.check, value)?;
    if def.name == "cleanup.policy" && parsed == crate::config_def::Value::List(Vec::new()) {
        // Kafka 4.x accepts an empty cleanup.policy (KIP-1155 "none") on a topic only with
        // remote storage; refuse it here.
        return Err(format!(
            "Invalid value {value} for configuration {}: Empty list",
            def.name
        ));
    }
    Ok(())
}

/// Validate a set of topic overrides: names must be known, values valid. The message names the
/// offending key, as Kafka's INVALID_CONFIG messages do.
pub fn validate_overrides(overrides: &BTreeMap<String, String>) -> Result<(), String> {
    for (k, v) in overrides {
        let def = lookup(k).ok_or_else(|| format!("Unknown topic config name: {k}"))?;
        validate(def, v)?;
    }
    Ok(())
}

/// Where an effective value comes from, with DescribeConfigs' source codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueSource {
    TopicOverride = 1,
    DynamicBroker = 2,
    DynamicDefaultBroker = 3,
    StaticBroker = 4,
    Default = 5,
}

/// The broker-level settings a topic default can come from, most specific first: this broker's
/// dynamic config, the cluster-wide dynamic default, the static config (file, env, overrides).
#[derive(Debug, Clone, Copy)]
pub struct BrokerLayers<'a> {
    pub dynamic_broker: &'a BTreeMap<String, String>,
    pub dynamic_default: &'a BTreeMap<String, String>,
    pub static_cfg: &'a RawConfig,
}

static NO_DYNAMIC: BTreeMap<String, String> = BTreeMap::new();

impl<'a> BrokerLayers<'a> {
    /// Only the static config (no dynamic broker configs).
    pub fn static_only(raw: &'a RawConfig) -> Self {
        Self {
            dynamic_broker: &NO_DYNAMIC,
            dynamic_default: &NO_DYNAMIC,
            static_cfg: raw,
        }
    }

    /// The value of broker key `key` and where it comes from (the most specific layer).
    pub fn get(&self, key: &str) -> Option<(String, ValueSource)> {
        self.all(key).into_iter().next()
    }

    /// Every layer that sets `key`, most specific first.
    pub fn all(&self, key: &str) -> Vec<(String, ValueSource)> {
        let mut out = Vec::new();
        if let Some(v) = self.dynamic_broker.get(key) {
            out.push((v.clone(), ValueSource::DynamicBroker));
        }
        if let Some(v) = self.dynamic_default.get(key) {
            out.push((v.clone(), ValueSource::DynamicDefaultBroker));
        }
        if let Some(v) = self.static_cfg.get(key) {
            out.push((v.trim().to_string(), ValueSource::StaticBroker));
        }
        out
    }
}

/// The effective value of `def` for a topic with `overrides`, on a broker with `broker`. As in
/// Kafka, the broker layers are merged key by key first, then the most specific synonym wins
/// (a static `log.retention.ms` beats a dynamic `log.retention.hours`).
pub fn effective(
    def: &TopicConfigDef,
    overrides: &BTreeMap<String, String>,
    broker: &BrokerLayers<'_>,
) -> (String, ValueSource) {
    if let Some(v) = overrides.get(def.name) {
        return (v.clone(), ValueSource::TopicOverride);
    }
    for s in def.synonyms {
        if let Some((v, source)) = broker.get(s.name) {
            let Ok(n) = v.trim().parse::<i64>() else {
                if s.factor == 1 {
                    return (v, source);
                }
                continue;
            };
            let n = n.saturating_mul(s.factor);
            // Kafka's KafkaConfig.logRetentionTimeMillis: any negative broker retention is
            // unlimited, -1.
            if def.name == "retention.ms" && n < 0 {
                return ("-1".to_string(), source);
            }
            return (n.to_string(), source);
        }
    }
    (def.default.to_string(), ValueSource::Default)
}

/// The synonyms of `def` in Kafka's precedence order, each (name, value, source), as
/// DescribeConfigs reports them with include_synonyms: the topic override, broker settings that
/// are present (per synonym: dynamic per-broker, dynamic default, static), and the default
/// (under the broker synonym's name, in its unit).
pub fn synonyms(
    def: &TopicConfigDef,
    overrides: &BTreeMap<String, String>,
    broker: &BrokerLayers<'_>,
) -> Vec<(String, String, ValueSource)> {
    let mut out = Vec::new();
    if let Some(v) = overrides.get(def.name) {
        out.push((def.name.to_string(), v.clone(), ValueSource::TopicOverride));
    }
    for s in def.synonyms {
        for (v, source) in broker.all(s.name) {
            out.push((s.name.to_string(), v, source));
        }
    }
    // Kafka lists a default synonym only where the exact-unit broker key has a default of its
    // own; log.retention.ms, log.roll.ms, log.roll.jitter.ms and log.flush.interval.ms default to
    // null (their defaults live in other keys or nowhere).
    const NO_DEFAULT_SYNONYM: &[&str] = &[
        "flush.ms",
        "retention.ms",
        "segment.ms",
        "segment.jitter.ms",
    ];
    // ...except that Kafka 4.3.1 does list the default of the last synonym (e.g.
    // log.retention.hours=168) once a dynamic broker config sets one of them (checked with
    // kafka-configs; the static case keeps the rule above).
    let broker_set = out.iter().any(|(_, _, s)| {
        matches!(
            s,
            ValueSource::DynamicBroker | ValueSource::DynamicDefaultBroker
        )
    });
    if let Some(last) = def
        .synonyms
        .last()
        .filter(|_| broker_set || !NO_DEFAULT_SYNONYM.contains(&def.name))
    {
        let default = if last.factor == 1 {
            def.default.to_string()
        } else {
            def.default
                .parse::<i64>()
                .map(|d| (d / last.factor).to_string())
                .unwrap_or_else(|_| def.default.to_string())
        };
        out.push((last.name.to_string(), default, ValueSource::Default));
    }
    out
}

/// The topic config that broker key `key` sets the default of, and the synonym entry.
pub fn for_broker_key(key: &str) -> Option<(&'static TopicConfigDef, &'static Synonym)> {
    TOPIC_CONFIGS
        .iter()
        .find_map(|d| d.synonyms.iter().find(|s| s.name == key).map(|s| (d, s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;

    #[test]
    fn synonyms_in_precedence_order() {
        let def = lookup("retention.ms").unwrap();
        let mut broker = RawConfig::default();
        broker.set("log.retention.minutes", "5", Source::File);
        let mut o = BTreeMap::new();
        o.insert("retention.ms".to_string(), "9".to_string());
        let s = synonyms(def, &o, &BrokerLayers::static_only(&broker));
        assert_eq!(
            s[0],
            (
                "retention.ms".into(),
                "9".into(),
                ValueSource::TopicOverride
            )
        );
        assert_eq!(
            s[1],
            (
                "log.retention.minutes".into(),
                "5".into(),
                ValueSource::StaticBroker
            )
        );
        assert_eq!(s.len(), 2, "no default synonym for retention.ms, as Kafka");
        let s = synonyms(
            lookup("cleanup.policy").unwrap(),
            &BTreeMap::new(),
            &BrokerLayers::static_only(&broker),
        );
        assert_eq!(
            s,
            vec![(
                "log.cleanup.policy".into(),
                "delete".into(),
                ValueSource::Default
            )]
        );
    }

    #[test]
    fn table_is_sorted_and_defaults_are_valid() {
        for w in TOPIC_CONFIGS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for d in TOPIC_CONFIGS {
            assert_eq!(validate(d, d.default), Ok(()), "default of {}", d.name);
        }
    }

    #[test]
    fn validation_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("retention.ms", "-1", true),
            ("retention.ms", "-2", false),
            ("retention.ms", "abc", false),
            ("cleanup.policy", "compact,delete", true),
            ("cleanup.policy", "compact,nope", false),
            ("compression.type", "zstd", true),
            ("compression.type", "brotli", false),
            ("min.cleanable.dirty.ratio", "1.5", false),
            ("max.message.bytes", "2147483648", false),
            ("segment.bytes", "1000", false),
            ("preallocate", "TRUE", true),
            ("preallocate", "1", false),
            ("compression.gzip.level", "-1", true),
            ("compression.gzip.level", "0", false),
            ("message.timestamp.type", "LogAppendTime", true),
        ];
        for (name, value, ok) in cases {
            let r = validate(lookup(name).unwrap(), value);
            assert_eq!(r.is_ok(), *ok, "{name}={value}: {r:?}");
        }
        let mut o = BTreeMap::new();
        o.insert("no.such".to_string(), "1".to_string());
        assert_eq!(
            validate_overrides(&o),
            Err("Unknown topic config name: no.such".to_string())
        );
    }

    #[test]
    fn effective_value_precedence_and_units() {
        let def = lookup("retention.ms").unwrap();
        let mut broker = RawConfig::default();
        let none = BTreeMap::new();
        assert_eq!(
            effective(def, &none, &BrokerLayers::static_only(&broker)),
            ("604800000".to_string(), ValueSource::Default)
        );
        broker.set("log.retention.hours", "1", Source::File);
        assert_eq!(
            effective(def, &none, &BrokerLayers::static_only(&broker)),
            ("3600000".to_string(), ValueSource::StaticBroker)
        );
        broker.set("log.retention.ms", "5", Source::File);
        assert_eq!(
            effective(def, &none, &BrokerLayers::static_only(&broker)).0,
            "5"
        );
        let mut o = BTreeMap::new();
        o.insert("retention.ms".to_string(), "7".to_string());
        assert_eq!(
            effective(def, &o, &BrokerLayers::static_only(&broker)),
            ("7".to_string(), ValueSource::TopicOverride)
        );
    }
}
