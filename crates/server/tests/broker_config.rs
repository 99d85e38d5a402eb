//! Broker config values are checked as Apache Kafka 4.3.1 checks them, before anything is
//! written, with messages that name the key the user wrote; and DescribeConfigs never reports an
//! invalid value.

mod common;

use common::Client;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    ApiKey, DescribeConfigsRequest, IncrementalAlterConfigsRequest, RequestKind, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::KafkaError;
use sluice_server::config::{self, BrokerConfig, ConfigError, RawConfig, Source};
use sluice_server::topic_config;

/// Kafka's verdict on each case of tests/data/kafka-4.3.1-broker-config-verdicts.tsv
/// (regenerated with tests/data/BrokerConfigVerdicts.java).
const VERDICTS: &str = include_str!("data/kafka-4.3.1-broker-config-verdicts.tsv");

/// Cases where Sluice refuses what Kafka 4.3.1 accepts, and why.
const STRICTER: &[(&str, &str)] = &[
    ("default.replication.factor=-5", "no replica can be placed"),
    ("default.replication.factor=-2", "no replica can be placed"),
    ("default.replication.factor=-1", "no replica can be placed"),
    ("default.replication.factor=0", "no replica can be placed"),
    ("default.replication.factor=32768", "an INT16 on the wire"),
    (
        "log.index.size.max.bytes= 7 ",
        "two time-index entries need 24 bytes",
    ),
    (
        "log.index.size.max.bytes=7",
        "two time-index entries need 24 bytes",
    ),
    (
        "log.cleaner.io.buffer.load.factor=-1",
        "the offset map could hold nothing",
    ),
    (
        "log.cleaner.io.buffer.load.factor=0",
        "the offset map could hold nothing",
    ),
    (
        "log.cleaner.io.buffer.load.factor=1.5",
        "more entries than slots",
    ),
    (
        "log.cleaner.io.buffer.load.factor=1e3",
        "more entries than slots",
    ),
    (
        "log.cleaner.io.buffer.load.factor=7d",
        "more entries than slots",
    ),
    ("log.cleaner.io.buffer.load.factor=NaN", "not a load factor"),
    (
        "log.cleaner.io.buffer.load.factor=Infinity",
        "more entries than slots",
    ),
    (
        "log.cleaner.min.cleanable.ratio=NaN",
        "no log would ever be cleaned",
    ),
];

/// Cases where Sluice accepts what Kafka 4.3.1 refuses, and why.
const LOOSER: &[(&str, &str)] = &[
    // Kafka: "queued.max.request.bytes must be larger or equal to socket.request.max.bytes".
    // Kafka's is a memory pool every request must fit in; Sluice's bounds only the bytes read
    // ahead (a connection always reads the request it is to serve next).
    ("queued.max.request.bytes=1", "a read-ahead budget"),
    ("queued.max.request.bytes= 7 ", "a read-ahead budget"),
    ("queued.max.request.bytes=32768", "a read-ahead budget"),
    ("queued.max.request.bytes=+3", "a read-ahead budget"),
];

/// The case over the config Kafka's verdicts were taken with (a KRaft combined node 1, whose
/// controller listener Sluice does not open).
fn from_pairs(case: &str) -> Result<BrokerConfig, ConfigError> {
    let mut raw = RawConfig::default();
    for (k, v) in [
        ("process.roles", "broker,controller"),
        ("node.id", "1"),
        ("controller.quorum.voters", "1@localhost:9093"),
        ("listeners", "PLAINTEXT://:9092,CONTROLLER://:9093"),
        ("controller.listener.names", "CONTROLLER"),
        ("log.dirs", "/tmp/verdicts-logs"),
    ] {
        raw.set(k, v, Source::File);
    }
    for kv in case.split(" ;; ") {
        let (k, v) = kv.split_once('=').expect("key=value");
        raw.set(k, v, Source::Override);
    }
    BrokerConfig::from_raw(raw)
}

#[test]
fn values_are_checked_as_kafka_checks_them() {
    let mut mismatches = Vec::new();
    let mut cases = 0;
    for line in VERDICTS.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let (case, kafka) = (fields[0], &fields[1..]);
        cases += 1;
        let sluice = from_pairs(case);
        let keys: Vec<&str> = case
            .split(" ;; ")
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
            .collect();
        match (kafka, &sluice) {
            (["OK"], Ok(_)) => {}
            (["OK"], Err(e)) => {
                if !STRICTER.iter().any(|(c, _)| *c == case) {
                    mismatches.push(format!("{case}: Kafka accepts, Sluice says {e}"));
                }
            }
            (["ERR", _, message], Ok(_)) => {
                if !LOOSER.iter().any(|(c, _)| *c == case) {
                    mismatches.push(format!("{case}: Kafka says {message}, Sluice accepts"));
                }
            }
            (["ERR", class, message], Err(e)) => {
                let ConfigError::Invalid {
                    key, message: ours, ..
                } = e
                else {
                    mismatches.push(format!("{case}: unexpected error {e:?}"));
                    continue;
                };
                if !keys.contains(&key.as_str()) || !ours.contains(key.as_str()) {
                    mismatches.push(format!("{case}: {ours:?} does not name the key written"));
                }
                if !e.to_string().ends_with(" (set by --override)") {
                    mismatches.push(format!("{case}: {e} does not say where it was set"));
                }
                // Kafka's ConfigDef messages word for word, except that Sluice names the key
                // the user wrote where Kafka names another (flush.ms for
                // log.flush.interval.ms; broker.id for node.id, which Kafka copies into it).
                let expected = message
                    .replace(
                        "configuration flush.ms:",
                        "configuration log.flush.interval.ms:",
                    )
                    .replace(
                        "for configuration broker.id:",
                        &format!("for configuration {key}:"),
                    );
                if *class == "ConfigException" && *ours != expected {
                    mismatches.push(format!("{case}: Kafka says {message:?}, Sluice {ours:?}"));
                }
                // Kafka's rules across keys: its sentence, under the key the user wrote (a
                // retention in hours or minutes; Kafka says log.retention.ms), then Sluice's
                // details. Broker keys for LogConfig's topic names.
                let expected = message
                    .replace("log.retention.ms must", &format!("{key} must"))
                    .replace(
                        "conflict topic config setting min.compaction.lag.ms",
                        "conflict broker config setting log.cleaner.min.compaction.lag.ms",
                    )
                    .replace(
                        "> max.compaction.lag.ms",
                        "> log.cleaner.max.compaction.lag.ms",
                    );
                let same = match *class {
                    "IllegalArgumentException" | "InvalidConfigurationException" => {
                        ours.starts_with(&expected)
                    }
                    "KafkaException" => ours.contains(&expected),
                    _ => true,
                };
                if !same {
                    mismatches.push(format!("{case}: Kafka says {message:?}, Sluice {ours:?}"));
                }
            }
            (other, _) => mismatches.push(format!("{case}: bad verdict line {other:?}")),
        }
    }
    assert!(cases > 900, "{cases} cases");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// The binary's way to a config: a server.properties, the environment, --override. A bad
/// broker-level topic default stops it there, naming the key and where it was set, and the log
/// dir is never created.
#[test]
fn a_bad_default_stops_start_up_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let props = dir.path().join("server.properties");
    let load = |file: &str, env: &[(&str, &str)], overrides: &[&str]| {
        std::fs::write(&props, format!("log.dirs={}\n{file}", data.display())).unwrap();
        let mut raw = RawConfig::default();
        raw.load_file(&props).unwrap();
        raw.load_env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        for o in overrides {
            raw.apply_override(o).unwrap();
        }
        BrokerConfig::from_raw(raw)
    };
    let cases = [
        load("compression.type=foo\n", &[], &[]).map(|_| ()),
        load("", &[("KAFKA_LOG_CLEANUP_POLICY", "bogus")], &[]).map(|_| ()),
        load("", &[], &["log.retention.hours=-5x"]).map(|_| ()),
        load("log.segment.bytes=10\n", &[], &[]).map(|_| ()),
    ];
    let messages: Vec<String> = cases
        .into_iter()
        .map(|r| r.expect_err("refused").to_string())
        .collect();
    assert_eq!(
        messages,
        [
            "Invalid value foo for configuration compression.type: String must be one of: \
             uncompressed, zstd, lz4, snappy, gzip, producer (set in the config file)",
            "Invalid value bogus for configuration log.cleanup.policy: String must be one of: \
             compact, delete (set by environment variable KAFKA_LOG_CLEANUP_POLICY)",
            "Invalid value -5x for configuration log.retention.hours: Not a number of type INT \
             (set by --override)",
            "Invalid value 10 for configuration log.segment.bytes: Value must be at least \
             1048576 (set in the config file)",
        ]
    );
    assert!(!data.exists(), "nothing written");

    // The same dir with a good config: the broker opens it.
    let good = load("log.segment.bytes=1048576\n", &[], &[]).expect("valid");
    let broker = sluice_server::broker::Broker::open(good).expect("opens");
    assert!(data.join("meta.properties").exists());
    drop(broker);
}

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// IncrementalAlterConfigs SET of `configs` on a BROKER resource.
async fn set_broker(
    c: &mut Client,
    resource: &str,
    configs: &[(&str, &str)],
) -> (i16, Option<String>) {
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(BROKER)
            .with_resource_name(s(resource))
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        AlterableConfig::default()
                            .with_name(s(k))
                            .with_config_operation(0)
                            .with_value(Some(s(v)))
                    })
                    .collect(),
            ),
    ]);
    let ResponseKind::IncrementalAlterConfigs(r) = c
        .call(
            ApiKey::IncrementalAlterConfigs,
            1,
            RequestKind::IncrementalAlterConfigs(req),
        )
        .await
    else {
        panic!("not an IncrementalAlterConfigs response")
    };
    let x = &r.responses[0];
    (
        x.error_code,
        x.error_message.as_ref().map(|m| m.to_string()),
    )
}

/// Every (name, value) DescribeConfigs reports for a resource.
async fn describe_all(
    c: &mut Client,
    resource_type: i8,
    resource: &str,
) -> Vec<(String, Option<String>)> {
    let req =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(s(resource))
            .with_configuration_keys(None)]);
    let ResponseKind::DescribeConfigs(r) = c
        .call(
            ApiKey::DescribeConfigs,
            4,
            RequestKind::DescribeConfigs(req),
        )
        .await
    else {
        panic!("not a DescribeConfigs response")
    };
    assert_eq!(
        r.results[0].error_code, 0,
        "{:?}",
        r.results[0].error_message
    );
    r.results[0]
        .configs
        .iter()
        .map(|e| (e.name.to_string(), e.value.as_ref().map(|v| v.to_string())))
        .collect()
}

/// What DescribeConfigs reports is always valid: values are checked as they are set (refused
/// with Kafka's INVALID_REQUEST and message), invalid dynamic values found at start-up are
/// ignored as Kafka ignores them, and a broker retention below zero is described as Kafka
/// describes it (-1, unlimited).
#[tokio::test]
async fn describe_configs_never_reports_an_invalid_value() {
    let dir = tempfile::tempdir().unwrap();
    // Dynamic configs persisted by hand (or by an older Sluice) with invalid values.
    std::fs::write(
        dir.path().join("sluice-broker-configs.toml"),
        "version = 1\n[cluster_default]\n\"compression.type\" = \"foo\"\n\
         \"log.retention.bytes\" = \"5000000\"\n[broker]\n\"log.segment.bytes\" = \"10\"\n",
    )
    .unwrap();
    let server = common::start(dir.path(), &[("log.retention.hours", "-5")]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    common::create_topic(&mut c, "t", 1, &[]).await;

    // Kafka 4.3.1's answers (kafka-configs --alter --entity-type brokers --entity-default).
    let refusals = [
        (
            ("compression.type", "foo"),
            "Invalid value foo for configuration compression.type: String must be one of: \
             uncompressed, zstd, lz4, snappy, gzip, producer",
        ),
        (
            ("log.cleanup.policy", "bogus"),
            "Invalid value bogus for configuration log.cleanup.policy: String must be one of: \
             compact, delete",
        ),
        (
            ("log.segment.bytes", "10"),
            "Invalid value 10 for configuration log.segment.bytes: Value must be at least 1048576",
        ),
        (
            ("log.retention.ms", "0"),
            "requirement failed: log.retention.ms must be unlimited (-1) or, greater than or \
             equal to 1",
        ),
        (
            ("log.roll.ms", "0"),
            "requirement failed: log.roll.ms must be greater than or equal to 1",
        ),
        (
            ("log.cleaner.min.cleanable.ratio", "1.5"),
            "Invalid value 1.5 for configuration log.cleaner.min.cleanable.ratio: Value must be \
             no more than 1",
        ),
        (
            ("log.retention.hours", "5"),
            "Cannot update these configs dynamically: [log.retention.hours]",
        ),
    ];
    for resource in ["", "1"] {
        for ((k, v), message) in refusals {
            assert_eq!(
                set_broker(&mut c, resource, &[(k, v)]).await,
                (KafkaError::InvalidRequest.code(), Some(message.to_string())),
                "{k}={v} on {resource:?}"
            );
        }
    }
    // Kafka accepts these dynamically and then fails to apply them to its topics; Sluice
    // refuses them with the key's name.
    let (code, msg) = set_broker(&mut c, "", &[("log.flush.interval.ms", "-5")]).await;
    assert_eq!(
        (code, msg.as_deref()),
        (
            KafkaError::InvalidRequest.code(),
            Some("Invalid value -5 for configuration log.flush.interval.ms: Value must be at least 0")
        )
    );

    let broker = describe_all(&mut c, BROKER, "1").await;
    let topic = describe_all(&mut c, TOPIC, "t").await;
    let cluster = describe_all(&mut c, BROKER, "").await;
    let value = |list: &[(String, Option<String>)], k: &str| {
        list.iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.clone())
    };
    // The invalid persisted values were ignored; the valid one was kept (beside the
    // min.insync.replicas every new cluster's metadata starts with, as Kafka 4's).
    assert_eq!(
        cluster,
        vec![
            (
                "log.retention.bytes".to_string(),
                Some("5000000".to_string())
            ),
            ("min.insync.replicas".to_string(), Some("1".to_string())),
        ]
    );
    assert_eq!(
        value(&broker, "compression.type").as_deref(),
        Some("producer")
    );
    assert_eq!(
        value(&broker, "log.segment.bytes").as_deref(),
        Some("1073741824")
    );
    assert_eq!(value(&topic, "retention.bytes").as_deref(), Some("5000000"));
    // A negative retention is unlimited: -1 on the topic, as Kafka describes it.
    assert_eq!(value(&broker, "log.retention.hours").as_deref(), Some("-5"));
    assert_eq!(value(&topic, "retention.ms").as_deref(), Some("-1"));

    // Every value described is valid for its key.
    assert!(
        broker.len() > 50 && topic.len() > 30,
        "{broker:?} {topic:?}"
    );
    for (k, v) in &broker {
        let Some(v) = v else { continue };
        if config::lookup(k).is_some() {
            assert!(config::validate_value(k, v).is_ok(), "broker {k}={v}");
        }
    }
    for (k, v) in &topic {
        let def = topic_config::lookup(k).unwrap_or_else(|| panic!("unknown topic config {k}"));
        let v = v.as_deref().unwrap_or_default();
        assert_eq!(topic_config::validate(def, v), Ok(()), "topic {k}={v}");
    }
    server.shutdown().await;
}

/// The example configs in config/ and the docker compose file's environment stay valid, with no
/// key Sluice does not know.
#[test]
fn the_example_configs_are_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for file in ["config/sluice.toml", "config/server.properties"] {
        let mut raw = RawConfig::default();
        raw.load_file(&root.join(file)).unwrap();
        let c = BrokerConfig::from_raw(raw).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(c.unknown_keys(), Vec::<String>::new(), "{file}");
    }
    let compose = std::fs::read_to_string(root.join("docker/docker-compose.yml")).unwrap();
    let env = compose.lines().filter_map(|l| {
        let (k, v) = l.trim().split_once(": ")?;
        k.starts_with("KAFKA_")
            .then(|| (k.to_string(), v.trim_matches('"').to_string()))
    });
    let mut raw = RawConfig::default();
    raw.load_env(env);
    let c = BrokerConfig::from_raw(raw).unwrap_or_else(|e| panic!("docker-compose.yml: {e}"));
    assert!(c.raw.keys().count() > 5);
    assert_eq!(c.unknown_keys(), Vec::<String>::new());
}
