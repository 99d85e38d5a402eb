//! Scenario tests of the admin APIs against a live broker: AlterConfigs,
//! IncrementalAlterConfigs (topics and dynamic broker configs), CreatePartitions,
//! DeleteRecords, DescribeCluster, DescribeLogDirs, and retention deleting segments.

mod common;

use bytes::Bytes;
use common::{wait_until, Client};
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::batch::testing::build_batch_with;
use sluice_protocol::error::KafkaError;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}
fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

use common::create_topic as create;

async fn produce(c: &mut Client, topic: &str, partition: i32, values: &[&[u8]], ts: i64) {
    let batch = build_batch_with(0, ts, values, 0, -1, -1, -1);
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(Bytes::from(batch)))])]);
    let ResponseKind::Produce(r) = c.call(ApiKey::Produce, 11, RequestKind::Produce(req)).await
    else {
        panic!("not a Produce response")
    };
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0, "{:?}", p.error_message);
}

/// (earliest, latest) offsets of a partition, or the error code.
async fn offsets(c: &mut Client, topic: &str, partition: i32) -> Result<(i64, i64), i16> {
    let mut out = [0i64; 2];
    for (i, ts) in [-2i64, -1].into_iter().enumerate() {
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(partition)
                    .with_timestamp(ts)])]);
        let ResponseKind::ListOffsets(r) = c
            .call(ApiKey::ListOffsets, 7, RequestKind::ListOffsets(req))
            .await
        else {
            panic!("not a ListOffsets response")
        };
        let p = &r.topics[0].partitions[0];
        if p.error_code != 0 {
            return Err(p.error_code);
        }
        out[i] = p.offset;
    }
    Ok((out[0], out[1]))
}

async fn alter(
    c: &mut Client,
    version: i16,
    resource_type: i8,
    resource: &str,
    configs: &[(&str, &str)],
    validate_only: bool,
) -> (i16, Option<String>) {
    use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let req = AlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(s(resource))
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        AlterableConfig::default()
                            .with_name(s(k))
                            .with_value(Some(s(v)))
                    })
                    .collect(),
            )]);
    let ResponseKind::AlterConfigs(r) = c
        .call(
            ApiKey::AlterConfigs,
            version,
            RequestKind::AlterConfigs(req),
        )
        .await
    else {
        panic!("not an AlterConfigs response")
    };
    let x = &r.responses[0];
    (
        x.error_code,
        x.error_message.as_ref().map(|m| m.to_string()),
    )
}

/// IncrementalAlterConfigs with (key, op, value) entries.
async fn incremental(
    c: &mut Client,
    resource_type: i8,
    resource: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> (i16, Option<String>) {
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    let req = IncrementalAlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(s(resource))
            .with_configs(
                ops.iter()
                    .map(|(k, op, v)| {
                        AlterableConfig::default()
                            .with_name(s(k))
                            .with_config_operation(*op)
                            .with_value(v.map(s))
                    })
                    .collect(),
            )]);
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

/// DescribeConfigs: key -> (value, source).
async fn describe(
    c: &mut Client,
    resource_type: i8,
    resource: &str,
    key: &str,
) -> Option<(Option<String>, i8)> {
    let req =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(s(resource))
            .with_configuration_keys(Some(vec![s(key)]))]);
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
        .first()
        .map(|e| (e.value.as_ref().map(|v| v.to_string()), e.config_source))
}

#[tokio::test]
async fn alter_configs_replaces_the_set_and_applies_it_live() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(
        &mut c,
        "a",
        2,
        &[("retention.ms", "1000"), ("cleanup.policy", "compact")],
    )
    .await;

    // Errors: the key is named; validation comes before existence, as Kafka.
    let (code, msg) = alter(&mut c, 2, TOPIC, "a", &[("retention.ms", "abc")], false).await;
    assert_eq!(code, KafkaError::InvalidConfig.code());
    assert_eq!(
        msg.as_deref(),
        Some("Invalid value abc for configuration retention.ms: Not a number of type LONG")
    );
    let (code, msg) = alter(&mut c, 0, TOPIC, "nope", &[("no.such", "1")], false).await;
    assert_eq!(code, KafkaError::InvalidConfig.code());
    assert_eq!(msg.as_deref(), Some("Unknown topic config name: no.such"));
    let (code, msg) = alter(&mut c, 1, TOPIC, "nope", &[("retention.ms", "1")], false).await;
    assert_eq!(code, KafkaError::UnknownTopicOrPartition.code());
    assert_eq!(msg.as_deref(), Some("The topic 'nope' does not exist."));
    let (code, _) = alter(&mut c, 2, 8, "x", &[], false).await;
    assert_eq!(code, KafkaError::InvalidRequest.code());

    // validate_only changes nothing.
    let (code, _) = alter(&mut c, 2, TOPIC, "a", &[("segment.ms", "60000")], true).await;
    assert_eq!(code, 0);
    assert_eq!(
        describe(&mut c, TOPIC, "a", "retention.ms").await,
        Some((Some("1000".into()), 1))
    );

    // The whole set is replaced: retention.ms and cleanup.policy go back to defaults.
    let (code, msg) = alter(&mut c, 2, TOPIC, "a", &[("segment.ms", "60000")], false).await;
    assert_eq!(code, 0, "{msg:?}");
    assert_eq!(
        describe(&mut c, TOPIC, "a", "retention.ms").await,
        Some((Some("604800000".into()), 5))
    );
    assert_eq!(
        describe(&mut c, TOPIC, "a", "segment.ms").await,
        Some((Some("60000".into()), 1))
    );
    // Live: the partition logs got the new config.
    let log = server.broker.log("a", 1).unwrap();
    assert_eq!(log.config().segment_ms, 60000);
    assert_eq!(log.config().retention_ms, 604_800_000);
    assert!(log.config().cleanup_policy_delete);
    // And it is persisted.
    let image = server.broker.image();
    assert_eq!(
        image
            .configs
            .topic("a")
            .get("segment.ms")
            .map(String::as_str),
        Some("60000")
    );
    server.shutdown().await;
    let server = common::start(dir.path(), &[]).await;
    assert_eq!(
        server.broker.log("a", 0).unwrap().config().segment_ms,
        60000
    );
    server.shutdown().await;
}

#[tokio::test]
async fn incremental_alter_configs_set_delete_append_subtract() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "b", 1, &[("retention.ms", "5000")]).await;

    let (code, msg) = incremental(
        &mut c,
        TOPIC,
        "b",
        &[
            ("cleanup.policy", 2, Some("compact")),
            ("segment.ms", 0, Some("70000")),
        ],
        false,
    )
    .await;
    assert_eq!(code, 0, "{msg:?}");
    // APPEND starts from the effective value (the default "delete").
    assert_eq!(
        describe(&mut c, TOPIC, "b", "cleanup.policy").await,
        Some((Some("delete,compact".into()), 1))
    );
    // retention.ms untouched (incremental).
    assert_eq!(
        describe(&mut c, TOPIC, "b", "retention.ms").await,
        Some((Some("5000".into()), 1))
    );
    let (code, _) = incremental(
        &mut c,
        TOPIC,
        "b",
        &[
            ("cleanup.policy", 3, Some("delete")),
            ("retention.ms", 1, None),
        ],
        false,
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        describe(&mut c, TOPIC, "b", "cleanup.policy").await,
        Some((Some("compact".into()), 1))
    );
    assert_eq!(
        describe(&mut c, TOPIC, "b", "retention.ms").await,
        Some((Some("604800000".into()), 5))
    );
    let log = server.broker.log("b", 0).unwrap();
    assert!(!log.config().cleanup_policy_delete);
    assert_eq!(log.config().segment_ms, 70000);

    // Errors.
    let (code, msg) =
        incremental(&mut c, TOPIC, "b", &[("retention.ms", 2, Some("1"))], false).await;
    assert_eq!(code, KafkaError::InvalidConfig.code());
    assert_eq!(
        msg.as_deref(),
        Some("Can't APPEND to key retention.ms because its type is not LIST.")
    );
    let (code, _) = incremental(
        &mut c,
        TOPIC,
        "b",
        &[("segment.ms", 0, Some("1")), ("segment.ms", 1, None)],
        false,
    )
    .await;
    assert_eq!(code, KafkaError::InvalidRequest.code());
    let (code, msg) = incremental(
        &mut c,
        TOPIC,
        "b",
        &[("segment.bytes", 0, Some("1000"))],
        false,
    )
    .await;
    assert_eq!(code, KafkaError::InvalidConfig.code());
    assert!(msg.unwrap().contains("segment.bytes"));
    let (code, _) = incremental(&mut c, TOPIC, "zz", &[("segment.ms", 0, Some("1"))], false).await;
    assert_eq!(code, KafkaError::UnknownTopicOrPartition.code());
    // validate_only.
    let (code, _) = incremental(&mut c, TOPIC, "b", &[("segment.ms", 0, Some("1"))], true).await;
    assert_eq!(code, 0);
    assert_eq!(log.config().segment_ms, 70000);
    server.shutdown().await;
}

#[tokio::test]
async fn dynamic_broker_configs_default_and_per_broker() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "d", 1, &[]).await;

    let (code, msg) = incremental(&mut c, BROKER, "", &[("log.dirs", 0, Some("/x"))], false).await;
    assert_eq!(code, KafkaError::InvalidRequest.code());
    assert_eq!(
        msg.as_deref(),
        Some("Cannot update these configs dynamically: [log.dirs]")
    );
    let (code, msg) = incremental(
        &mut c,
        BROKER,
        "1",
        &[("log.retention.ms", 0, Some("abc"))],
        false,
    )
    .await;
    assert_eq!(code, KafkaError::InvalidRequest.code());
    assert_eq!(
        msg.as_deref(),
        Some("Invalid value abc for configuration log.retention.ms: Not a number of type LONG")
    );
    let (code, _) = incremental(
        &mut c,
        BROKER,
        "7",
        &[("log.retention.ms", 0, Some("1"))],
        false,
    )
    .await;
    assert_eq!(code, KafkaError::InvalidRequest.code());

    // Cluster default, then this broker's own value wins over it.
    let (code, _) = incremental(
        &mut c,
        BROKER,
        "",
        &[("log.retention.ms", 0, Some("123456789"))],
        false,
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        describe(&mut c, BROKER, "", "log.retention.ms").await,
        Some((Some("123456789".into()), 3))
    );
    assert_eq!(
        describe(&mut c, TOPIC, "d", "retention.ms").await,
        Some((Some("123456789".into()), 3))
    );
    assert_eq!(
        server.broker.log("d", 0).unwrap().config().retention_ms,
        123_456_789
    );
    let (code, _) = alter(
        &mut c,
        0,
        BROKER,
        "1",
        &[("log.retention.ms", "5555")],
        false,
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        describe(&mut c, BROKER, "1", "log.retention.ms").await,
        Some((Some("5555".into()), 2))
    );
    assert_eq!(
        describe(&mut c, TOPIC, "d", "retention.ms").await,
        Some((Some("5555".into()), 2))
    );
    assert_eq!(
        server.broker.log("d", 0).unwrap().config().retention_ms,
        5555
    );
    // Persisted across a restart.
    server.shutdown().await;
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    assert_eq!(
        server.broker.log("d", 0).unwrap().config().retention_ms,
        5555
    );
    // Deleting the per-broker value falls back to the cluster default.
    let (code, _) = incremental(&mut c, BROKER, "1", &[("log.retention.ms", 1, None)], false).await;
    assert_eq!(code, 0);
    assert_eq!(
        describe(&mut c, TOPIC, "d", "retention.ms").await,
        Some((Some("123456789".into()), 3))
    );
    assert_eq!(
        server.broker.log("d", 0).unwrap().config().retention_ms,
        123_456_789
    );
    server.shutdown().await;
}

async fn create_partitions(
    c: &mut Client,
    version: i16,
    topic: &str,
    count: i32,
    assignments: Option<Vec<Vec<i32>>>,
    validate_only: bool,
) -> (i16, Option<String>) {
    let t = CreatePartitionsTopic::default()
        .with_name(name(topic))
        .with_count(count)
        .with_assignments(assignments.map(|a| {
            a.into_iter()
                .map(|b| {
                    CreatePartitionsAssignment::default()
                        .with_broker_ids(b.into_iter().map(BrokerId).collect())
                })
                .collect()
        }));
    let req = CreatePartitionsRequest::default()
        .with_timeout_ms(5000)
        .with_validate_only(validate_only)
        .with_topics(vec![t]);
    let ResponseKind::CreatePartitions(r) = c
        .call(
            ApiKey::CreatePartitions,
            version,
            RequestKind::CreatePartitions(req),
        )
        .await
    else {
        panic!("not a CreatePartitions response")
    };
    let x = &r.results[0];
    (
        x.error_code,
        x.error_message.as_ref().map(|m| m.to_string()),
    )
}

#[tokio::test]
async fn create_partitions_grows_topics_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "g", 2, &[]).await;
    produce(&mut c, "g", 0, &[b"x", b"y"], now_ms()).await;

    let (code, msg) = create_partitions(&mut c, 3, "g", 1, None, false).await;
    assert_eq!(code, KafkaError::InvalidPartitions.code());
    assert_eq!(
        msg.as_deref(),
        Some("The topic g currently has 2 partition(s); 1 would not be an increase.")
    );
    let (code, msg) = create_partitions(&mut c, 0, "g", 2, None, false).await;
    assert_eq!(code, KafkaError::InvalidPartitions.code());
    assert_eq!(msg.as_deref(), Some("Topic already has 2 partition(s)."));
    let (code, _) = create_partitions(&mut c, 3, "nope", 4, None, false).await;
    assert_eq!(code, KafkaError::UnknownTopicOrPartition.code());
    let (code, msg) =
        create_partitions(&mut c, 3, "g", 4, Some(vec![vec![1], vec![7]]), false).await;
    assert_eq!(code, KafkaError::InvalidReplicaAssignment.code());
    assert_eq!(
        msg.as_deref(),
        Some(
            "The manual partition assignment includes broker 7, but no such broker is registered."
        )
    );
    let (code, _) = create_partitions(&mut c, 3, "g", 4, Some(vec![vec![1]]), false).await;
    assert_eq!(code, KafkaError::InvalidReplicaAssignment.code());
    let (code, _) = create_partitions(&mut c, 3, "g", 4, None, true).await;
    assert_eq!(code, 0);
    assert!(
        server.broker.log("g", 2).is_none(),
        "validate_only creates nothing"
    );

    let (code, msg) =
        create_partitions(&mut c, 3, "g", 4, Some(vec![vec![1], vec![1]]), false).await;
    assert_eq!(code, 0, "{msg:?}");
    assert_eq!(
        server
            .broker
            .image()
            .topics
            .get("g")
            .unwrap()
            .partition_count(),
        4
    );
    assert_eq!(
        offsets(&mut c, "g", 0).await,
        Ok((0, 2)),
        "existing data untouched"
    );
    assert_eq!(offsets(&mut c, "g", 3).await, Ok((0, 0)));
    produce(&mut c, "g", 3, &[b"z"], now_ms()).await;
    server.shutdown().await;
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    assert_eq!(offsets(&mut c, "g", 3).await, Ok((0, 1)), "persisted");
    server.shutdown().await;
}

async fn delete_records(c: &mut Client, topic: &str, partition: i32, offset: i64) -> (i16, i64) {
    let req = DeleteRecordsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![DeleteRecordsPartition::default()
                .with_partition_index(partition)
                .with_offset(offset)])]);
    let ResponseKind::DeleteRecords(r) = c
        .call(ApiKey::DeleteRecords, 2, RequestKind::DeleteRecords(req))
        .await
    else {
        panic!("not a DeleteRecords response")
    };
    let p = &r.topics[0].partitions[0];
    (p.error_code, p.low_watermark)
}

#[tokio::test]
async fn delete_records_moves_the_log_start_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "r", 1, &[]).await;
    create(&mut c, "compacted", 1, &[("cleanup.policy", "compact")]).await;
    for i in 0..5u8 {
        produce(&mut c, "r", 0, &[&[i], &[i]], now_ms()).await;
    }
    assert_eq!(offsets(&mut c, "r", 0).await, Ok((0, 10)));
    assert_eq!(
        delete_records(&mut c, "r", 0, 11).await.0,
        KafkaError::OffsetOutOfRange.code()
    );
    assert_eq!(
        delete_records(&mut c, "r", 0, -5).await.0,
        KafkaError::OffsetOutOfRange.code()
    );
    assert_eq!(
        delete_records(&mut c, "r", 1, 0).await,
        (KafkaError::UnknownTopicOrPartition.code(), -1)
    );
    assert_eq!(
        delete_records(&mut c, "nope", 0, 0).await,
        (KafkaError::UnknownTopicOrPartition.code(), -1)
    );
    assert_eq!(
        delete_records(&mut c, "compacted", 0, 0).await.0,
        KafkaError::PolicyViolation.code()
    );
    assert_eq!(delete_records(&mut c, "r", 0, 3).await, (0, 3));
    assert_eq!(offsets(&mut c, "r", 0).await, Ok((3, 10)));
    // Lower than the current start: nothing changes.
    assert_eq!(delete_records(&mut c, "r", 0, 1).await, (0, 3));
    // A fetch below the start is out of range.
    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name("r"))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(1)
                .with_partition_max_bytes(1 << 20)])]);
    let ResponseKind::Fetch(f) = c.call(ApiKey::Fetch, 12, RequestKind::Fetch(req)).await else {
        panic!("not a Fetch response")
    };
    let fp = &f.responses[0].partitions[0];
    assert_eq!(fp.error_code, KafkaError::OffsetOutOfRange.code());
    // Kill-style restart (no clean shutdown of the logs): the checkpoint written before the
    // answer keeps the start.
    drop(c);
    drop(server);
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    assert_eq!(offsets(&mut c, "r", 0).await, Ok((3, 10)));
    // -1: up to the high watermark.
    assert_eq!(delete_records(&mut c, "r", 0, -1).await, (0, 10));
    assert_eq!(offsets(&mut c, "r", 0).await, Ok((10, 10)));
    server.shutdown().await;
}

#[tokio::test]
async fn describe_cluster_versions() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    for v in 0..=2 {
        let req = DescribeClusterRequest::default()
            .with_include_cluster_authorized_operations(v == 1)
            .with_endpoint_type(1);
        let ResponseKind::DescribeCluster(r) = c
            .call(
                ApiKey::DescribeCluster,
                v,
                RequestKind::DescribeCluster(req),
            )
            .await
        else {
            panic!("not a DescribeCluster response")
        };
        assert_eq!(r.error_code, 0);
        assert_eq!(r.cluster_id.as_str(), server.broker.cluster_id);
        assert_eq!(r.controller_id, BrokerId(1));
        assert_eq!(r.brokers.len(), 1);
        assert_eq!(
            (
                r.brokers[0].broker_id,
                r.brokers[0].host.as_str(),
                r.brokers[0].port
            ),
            (BrokerId(1), "127.0.0.1", 9)
        );
        if v == 1 {
            assert_ne!(r.cluster_authorized_operations, i32::MIN);
            assert_eq!(r.endpoint_type, 1);
        } else {
            assert_eq!(r.cluster_authorized_operations, i32::MIN);
        }
    }
    let req = DescribeClusterRequest::default().with_endpoint_type(2);
    let ResponseKind::DescribeCluster(r) = c
        .call(
            ApiKey::DescribeCluster,
            1,
            RequestKind::DescribeCluster(req),
        )
        .await
    else {
        panic!("not a DescribeCluster response")
    };
    // As Kafka 4.3: MISMATCHED_ENDPOINT_TYPE, and the type of the endpoint that answered.
    assert_eq!(r.error_code, KafkaError::MismatchedEndpointType.code());
    assert_eq!(r.endpoint_type, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn describe_log_dirs_lists_partitions_and_space() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "l", 2, &[]).await;
    produce(&mut c, "l", 1, &[b"hello"], now_ms()).await;
    for (v, topics) in [
        (1, None),
        (
            4,
            Some(vec![DescribableLogDirTopic::default()
                .with_topic(name("l"))
                .with_partitions(vec![1, 9])]),
        ),
    ] {
        let ResponseKind::DescribeLogDirs(r) = c
            .call(
                ApiKey::DescribeLogDirs,
                v,
                RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default().with_topics(topics)),
            )
            .await
        else {
            panic!("not a DescribeLogDirs response")
        };
        assert_eq!(r.results.len(), 1);
        let d = &r.results[0];
        assert_eq!(d.error_code, 0);
        assert_eq!(
            std::path::Path::new(d.log_dir.as_str()),
            std::fs::canonicalize(dir.path()).unwrap()
        );
        let t = d.topics.iter().find(|t| t.name.as_str() == "l").unwrap();
        let p1 = t
            .partitions
            .iter()
            .find(|p| p.partition_index == 1)
            .unwrap();
        assert!(p1.partition_size > 0);
        assert_eq!((p1.offset_lag, p1.is_future_key), (0, false));
        if v == 4 {
            assert_eq!(t.partitions.len(), 1, "only the partitions asked for");
            assert!(d.total_bytes > 0 && d.usable_bytes >= 0 && d.usable_bytes <= d.total_bytes);
        } else {
            assert_eq!(t.partitions.len(), 2);
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn retention_ms_set_live_deletes_rolled_segments() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(
        dir.path(),
        &[
            ("log.retention.check.interval.ms", "20"),
            ("log.segment.delete.delay.ms", "0"),
        ],
    )
    .await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "ret", 1, &[("segment.bytes", "1048576")]).await;
    // Old timestamps (an hour ago), ~1.5 MiB: at least one roll.
    let old = now_ms() - 3_600_000;
    let value = vec![7u8; 100 * 1024];
    for _ in 0..16 {
        produce(&mut c, "ret", 0, &[&value], old).await;
    }
    let log = server.broker.log("ret", 0).unwrap();
    assert!(log.segment_base_offsets().len() >= 2, "rolled");
    assert_eq!(offsets(&mut c, "ret", 0).await, Ok((0, 16)));
    // Default retention (7 days) keeps them; a 10-minute retention set live removes them all.
    let (code, _) = incremental(
        &mut c,
        TOPIC,
        "ret",
        &[("retention.ms", 0, Some("600000"))],
        false,
    )
    .await;
    assert_eq!(code, 0);
    let addr = server.addr("PLAINTEXT").unwrap();
    wait_until("retention to delete the old segments", || async move {
        let mut c = Client::connect(addr).await;
        offsets(&mut c, "ret", 0).await == Ok((16, 16))
    })
    .await;
    assert_eq!(log.segment_base_offsets(), vec![16]);
    let leftovers: Vec<_> = std::fs::read_dir(log.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    // New data is kept (fresh timestamps).
    produce(&mut c, "ret", 0, &[b"new"], now_ms()).await;
    assert_eq!(offsets(&mut c, "ret", 0).await, Ok((16, 17)));
    server.shutdown().await;
}

async fn offset_for_epoch(
    c: &mut Client,
    topic: &str,
    partition: i32,
    current: i32,
    epoch: i32,
) -> (i16, i32, i64) {
    use kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    let req = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![OffsetForLeaderPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(current)
                .with_leader_epoch(epoch)])]);
    let ResponseKind::OffsetForLeaderEpoch(r) = c
        .call(
            ApiKey::OffsetForLeaderEpoch,
            4,
            RequestKind::OffsetForLeaderEpoch(req),
        )
        .await
    else {
        panic!("not an OffsetForLeaderEpoch response")
    };
    let p = &r.topics[0].partitions[0];
    (p.error_code, p.leader_epoch, p.end_offset)
}

#[tokio::test]
async fn offset_for_leader_epoch_from_the_epoch_cache() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "e", 2, &[]).await;
    // A new, empty partition already leads with epoch 0 from offset 0.
    assert_eq!(offset_for_epoch(&mut c, "e", 1, -1, 0).await, (0, 0, 0));
    produce(&mut c, "e", 0, &[b"a", b"b", b"c"], now_ms()).await;
    assert_eq!(offset_for_epoch(&mut c, "e", 0, -1, 0).await, (0, 0, 3));
    assert_eq!(offset_for_epoch(&mut c, "e", 0, 0, 0).await, (0, 0, 3));
    assert_eq!(offset_for_epoch(&mut c, "e", 0, -1, 5).await, (0, -1, -1));
    assert_eq!(offset_for_epoch(&mut c, "e", 0, -1, -1).await, (0, -1, -1));
    let fenced = KafkaError::FencedLeaderEpoch.code();
    let unknown = KafkaError::UnknownLeaderEpoch.code();
    assert_eq!(
        offset_for_epoch(&mut c, "e", 0, -3, 0).await,
        (fenced, -1, -1)
    );
    assert_eq!(
        offset_for_epoch(&mut c, "e", 0, 1, 0).await,
        (unknown, -1, -1)
    );
    let missing = KafkaError::UnknownTopicOrPartition.code();
    assert_eq!(
        offset_for_epoch(&mut c, "e", 7, 1, 0).await,
        (missing, -1, -1)
    );
    assert_eq!(
        offset_for_epoch(&mut c, "x", 0, -1, 0).await,
        (missing, -1, -1)
    );
    // The cache is Kafka's leader-epoch-checkpoint file in the partition's directory.
    let text = std::fs::read_to_string(dir.path().join("e-0/leader-epoch-checkpoint")).unwrap();
    assert_eq!(text, "0\n1\n0 0\n");
}

#[tokio::test]
async fn elections_and_reassignments_on_one_node() {
    use kafka_protocol::messages::alter_partition_reassignments_request::{
        ReassignablePartition, ReassignableTopic,
    };
    use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "r", 2, &[]).await;

    let elect = |kind: i8, parts: Option<Vec<TopicPartitions>>| {
        RequestKind::ElectLeaders(
            ElectLeadersRequest::default()
                .with_election_type(kind)
                .with_topic_partitions(parts),
        )
    };
    let parts = vec![
        TopicPartitions::default()
            .with_topic(name("r"))
            .with_partitions(vec![0, 5]),
        TopicPartitions::default()
            .with_topic(name("nope"))
            .with_partitions(vec![0]),
    ];
    let ResponseKind::ElectLeaders(r) = c
        .call(ApiKey::ElectLeaders, 2, elect(0, Some(parts.clone())))
        .await
    else {
        panic!("not an ElectLeaders response")
    };
    assert_eq!(r.error_code, 0);
    let got: Vec<(i32, i16, Option<String>)> = r
        .replica_election_results
        .iter()
        .flat_map(|t| &t.partition_result)
        .map(|p| {
            (
                p.partition_id,
                p.error_code,
                p.error_message.as_ref().map(|m| m.to_string()),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                0,
                KafkaError::ElectionNotNeeded.code(),
                Some("Leader election not needed for topic partition.".into())
            ),
            (
                5,
                KafkaError::UnknownTopicOrPartition.code(),
                Some("No such partition as r-5".into())
            ),
            (
                0,
                KafkaError::UnknownTopicOrPartition.code(),
                Some("No such topic as nope".into())
            ),
        ]
    );
    let ResponseKind::ElectLeaders(r) = c.call(ApiKey::ElectLeaders, 2, elect(0, None)).await
    else {
        panic!("not an ElectLeaders response")
    };
    assert_eq!((r.error_code, r.replica_election_results.len()), (0, 0));
    let ResponseKind::ElectLeaders(r) =
        c.call(ApiKey::ElectLeaders, 1, elect(3, Some(parts))).await
    else {
        panic!("not an ElectLeaders response")
    };
    assert_eq!(r.error_code, KafkaError::InvalidRequest.code());

    let target = |p: i32, replicas: Option<Vec<i32>>| {
        ReassignablePartition::default()
            .with_partition_index(p)
            .with_replicas(replicas.map(|v| v.into_iter().map(BrokerId).collect()))
    };
    let req = AlterPartitionReassignmentsRequest::default()
        .with_allow_replication_factor_change(false)
        .with_topics(vec![ReassignableTopic::default()
            .with_name(name("r"))
            .with_partitions(vec![
                target(0, Some(vec![1])),
                target(1, Some(vec![2])),
                target(0, None),
                target(9, Some(vec![1])),
            ])]);
    let ResponseKind::AlterPartitionReassignments(r) = c
        .call(
            ApiKey::AlterPartitionReassignments,
            1,
            RequestKind::AlterPartitionReassignments(req),
        )
        .await
    else {
        panic!("not an AlterPartitionReassignments response")
    };
    assert!(!r.allow_replication_factor_change);
    assert_eq!((r.error_code, r.error_message.as_ref()), (0, None));
    let codes: Vec<i16> = r.responses[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(
        codes,
        vec![
            0,
            KafkaError::InvalidReplicaAssignment.code(),
            KafkaError::NoReassignmentInProgress.code(),
            KafkaError::UnknownTopicOrPartition.code()
        ]
    );
    let ResponseKind::ListPartitionReassignments(r) = c
        .call(
            ApiKey::ListPartitionReassignments,
            0,
            RequestKind::ListPartitionReassignments(ListPartitionReassignmentsRequest::default()),
        )
        .await
    else {
        panic!("not a ListPartitionReassignments response")
    };
    assert_eq!((r.error_code, r.topics.len()), (0, 0));
}

/// The broker keys whose description Kafka 4.3 gives differently from a topic default's:
/// other units are read-only INTs, node.id has no default, a static node.id makes broker.id
/// static, log.flush.interval.ms has no default (compat-tests/admin FINDINGS F2, F3).
#[tokio::test]
async fn broker_config_descriptions_as_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[("node.id", "1")]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let req = DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(BROKER)
            .with_resource_name(s("1"))
            .with_configuration_keys(Some(
                [
                    "log.retention.hours",
                    "node.id",
                    "broker.id",
                    "log.flush.interval.ms",
                ]
                .iter()
                .map(|k| s(k))
                .collect(),
            ))]);
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
    let get = |k: &str| {
        r.results[0]
            .configs
            .iter()
            .find(|e| e.name.as_str() == k)
            .unwrap_or_else(|| panic!("{k} missing"))
    };
    let hours = get("log.retention.hours");
    assert!(hours.read_only);
    assert_eq!(hours.config_type, 3, "INT");
    let sources = |k: &str| -> Vec<(String, i8)> {
        get(k)
            .synonyms
            .iter()
            .map(|s| {
                (
                    s.value.as_ref().map_or("null".into(), |v| v.to_string()),
                    s.source,
                )
            })
            .collect()
    };
    assert_eq!(sources("node.id"), vec![("1".into(), 4)]);
    assert_eq!(
        sources("broker.id"),
        vec![("1".into(), 4), ("-1".into(), 5)]
    );
    let flush = get("log.flush.interval.ms");
    assert_eq!((flush.value.as_ref(), flush.synonyms.len()), (None, 0));
}

/// The log cleaner's configs are dynamic broker configs, as Kafka's (Sarama's
/// TestFuncAdminIncrementalAlterConfigs reads log.cleaner.backoff.ms and sets it to value + 1).
#[tokio::test]
async fn cleaner_configs_are_dynamic() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[("node.id", "1")]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let key = "log.cleaner.backoff.ms";
    assert_eq!(
        describe(&mut c, BROKER, "1", key).await,
        Some((Some("15000".into()), 5)),
        "Kafka's default, DEFAULT_CONFIG"
    );
    let (code, msg) = incremental(&mut c, BROKER, "1", &[(key, 0, Some("-5"))], false).await;
    assert_eq!(code, KafkaError::InvalidRequest.code(), "{msg:?}");
    let (code, _) = incremental(&mut c, BROKER, "", &[(key, 0, Some("15500"))], false).await;
    assert_eq!(code, 0);
    let (code, _) = incremental(&mut c, BROKER, "1", &[(key, 0, Some("15001"))], false).await;
    assert_eq!(code, 0);
    assert_eq!(
        describe(&mut c, BROKER, "1", key).await,
        Some((Some("15001".into()), 2)),
        "DYNAMIC_BROKER_CONFIG over the cluster default"
    );
    assert_eq!(
        describe(&mut c, BROKER, "", key).await,
        Some((Some("15500".into()), 3))
    );
    assert_eq!(
        server.broker.cleaner_backoff(),
        std::time::Duration::from_millis(15001),
        "applied at the next pass"
    );
    // Kafka's rule: more than 1 MiB per cleaner thread.
    let (code, msg) = incremental(
        &mut c,
        BROKER,
        "1",
        &[("log.cleaner.dedupe.buffer.size", 0, Some("1048576"))],
        false,
    )
    .await;
    assert_eq!(code, KafkaError::InvalidRequest.code());
    assert!(
        msg.as_deref().is_some_and(|m| m.starts_with(
            "requirement failed: log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner \
             thread."
        )),
        "{msg:?}"
    );
    let (code, _) = incremental(
        &mut c,
        BROKER,
        "1",
        &[("log.cleaner.dedupe.buffer.size", 0, Some("2097152"))],
        false,
    )
    .await;
    assert_eq!(code, 0);
    server.broker.clean_logs();
    assert_eq!(
        server
            .broker
            .cleaner
            .as_ref()
            .unwrap()
            .config()
            .dedupe_buffer_size,
        2097152
    );
    server.shutdown().await;
}
