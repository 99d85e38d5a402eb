//! Scenario tests of the broker foundation: ApiVersions, Metadata, CreateTopics, DeleteTopics,
//! pipelining, listeners, persistence and hostile input.

mod common;

use common::Client;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::KafkaError;

fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create_req(topics: Vec<CreatableTopic>, validate_only: bool) -> RequestKind {
    RequestKind::CreateTopics(
        CreateTopicsRequest::default()
            .with_topics(topics)
            .with_timeout_ms(10_000)
            .with_validate_only(validate_only),
    )
}

fn new_topic(name: &str, partitions: i32, rf: i16) -> CreatableTopic {
    CreatableTopic::default()
        .with_name(topic_name(name))
        .with_num_partitions(partitions)
        .with_replication_factor(rf)
}

fn metadata_req(topics: Option<&[&str]>, auto_create: bool) -> RequestKind {
    RequestKind::Metadata(
        MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
                    .collect()
            }))
            .with_allow_auto_topic_creation(auto_create),
    )
}

async fn metadata(c: &mut Client, v: i16, topics: Option<&[&str]>, auto: bool) -> MetadataResponse {
    match c
        .call(ApiKey::Metadata, v, metadata_req(topics, auto))
        .await
    {
        ResponseKind::Metadata(m) => m,
        other => panic!("unexpected {other:?}"),
    }
}

async fn create(
    c: &mut Client,
    v: i16,
    topics: Vec<CreatableTopic>,
    validate_only: bool,
) -> CreateTopicsResponse {
    match c
        .call(ApiKey::CreateTopics, v, create_req(topics, validate_only))
        .await
    {
        ResponseKind::CreateTopics(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn api_versions_every_version_and_unsupported_version() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    for v in 0..=4 {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("sluice-test"))
            .with_client_software_version(StrBytes::from_static_str("1.0"));
        let ResponseKind::ApiVersions(r) = c
            .call(ApiKey::ApiVersions, v, RequestKind::ApiVersions(req))
            .await
        else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
        let keys: Vec<i16> = r.api_keys.iter().map(|k| k.api_key).collect();
        for k in [
            ApiKey::ApiVersions,
            ApiKey::Metadata,
            ApiKey::CreateTopics,
            ApiKey::DeleteTopics,
        ] {
            assert!(keys.contains(&(k as i16)), "{k:?} advertised at v{v}");
        }
    }
    // A version from the future: UNSUPPORTED_VERSION with our ranges, encoded as v0.
    let (corr, bytes) = c.encode(
        ApiKey::ApiVersions,
        0,
        &RequestKind::ApiVersions(ApiVersionsRequest::default()),
    );
    let mut bytes = bytes.to_vec();
    bytes[6..8].copy_from_slice(&99i16.to_be_bytes());
    c.send_raw(&bytes).await;
    let frame = c.read_frame().await.unwrap();
    let (got, ResponseKind::ApiVersions(r)) = Client::decode(ApiKey::ApiVersions, 0, frame) else {
        panic!()
    };
    assert_eq!(got, corr);
    assert_eq!(r.error_code, KafkaError::UnsupportedVersion.code());
    assert!(r
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::Metadata as i16 && k.max_version == 13));
    // The connection stays usable.
    let m = metadata(&mut c, 12, None, false).await;
    assert_eq!(m.brokers.len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_client_software_name_is_invalid_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let req = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("bad name!"))
        .with_client_software_version(StrBytes::from_static_str("1.0"));
    let ResponseKind::ApiVersions(r) = c
        .call(ApiKey::ApiVersions, 3, RequestKind::ApiVersions(req))
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, KafkaError::InvalidRequest.code());
    server.shutdown().await;
}

#[tokio::test]
async fn metadata_every_version_with_auto_creation_rules() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[("num.partitions", "3")]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    for v in 0..=13i16 {
        let name = format!("auto-{v}");
        let allow = true;
        let m = metadata(&mut c, v, Some(&[name.as_str()]), allow).await;
        assert_eq!(m.brokers[0].host.as_str(), "127.0.0.1");
        assert_eq!(m.brokers[0].port, 9, "advertised port of the listener");
        let t = &m.topics[0];
        assert_eq!(t.error_code, 0, "v{v}");
        assert_eq!(t.partitions.len(), 3);
        if v >= 10 {
            assert!(!t.topic_id.is_nil());
        }
        if v >= 2 {
            assert_eq!(m.cluster_id.as_ref().unwrap().len(), 22);
        }
    }
    // v4+ with allow_auto_topic_creation=false: not created.
    let m = metadata(&mut c, 12, Some(&["not-created"]), false).await;
    assert_eq!(
        m.topics[0].error_code,
        KafkaError::UnknownTopicOrPartition.code()
    );
    let m = metadata(&mut c, 12, Some(&["bad name"]), true).await;
    assert_eq!(
        m.topics[0].error_code,
        KafkaError::InvalidTopicException.code()
    );
    // All topics: null at v1+, empty array at v0.
    let all = metadata(&mut c, 12, None, false).await;
    assert_eq!(all.topics.len(), 14);
    let none = metadata(&mut c, 12, Some(&[]), false).await;
    assert!(none.topics.is_empty());
    let all_v0 = metadata(&mut c, 0, Some(&[]), true).await;
    assert_eq!(all_v0.topics.len(), 14);
    // Unknown topic id.
    let req = MetadataRequest::default().with_topics(Some(vec![MetadataRequestTopic::default()
        .with_topic_id(uuid::Uuid::from_u128(12345))
        .with_name(None)]));
    let ResponseKind::Metadata(m) = c
        .call(ApiKey::Metadata, 12, RequestKind::Metadata(req))
        .await
    else {
        panic!()
    };
    assert_eq!(m.topics[0].error_code, KafkaError::UnknownTopicId.code());
    server.shutdown().await;
}

#[tokio::test]
async fn auto_creation_disabled_by_config() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[("auto.create.topics.enable", "false")]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let m = metadata(&mut c, 12, Some(&["x"]), true).await;
    assert_eq!(
        m.topics[0].error_code,
        KafkaError::UnknownTopicOrPartition.code()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn create_topics_errors_and_configs() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[("num.partitions", "2")]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let with_cfg = new_topic("cfg", 4, 1).with_configs(vec![CreatableTopicConfig::default()
        .with_name(StrBytes::from_static_str("retention.ms"))
        .with_value(Some(StrBytes::from_static_str("1000")))]);
    let bad_cfg = new_topic("badcfg", 1, 1).with_configs(vec![CreatableTopicConfig::default()
        .with_name(StrBytes::from_static_str("no.such.config"))
        .with_value(Some(StrBytes::from_static_str("1")))]);
    let bad_value = new_topic("badvalue", 1, 1).with_configs(vec![CreatableTopicConfig::default()
        .with_name(StrBytes::from_static_str("cleanup.policy"))
        .with_value(Some(StrBytes::from_static_str("shred")))]);
    let r = create(
        &mut c,
        7,
        vec![
            with_cfg,
            new_topic("defaults", -1, -1),
            new_topic("rf3", 1, 3),
            new_topic("zero", 0, 1),
            new_topic("bad/name", 1, 1),
            bad_cfg,
            bad_value,
            new_topic("dup", 1, 1),
            new_topic("dup", 1, 1),
        ],
        false,
    )
    .await;
    let code = |name: &str| {
        r.topics
            .iter()
            .find(|t| t.name.as_str() == name)
            .unwrap()
            .error_code
    };
    assert_eq!(code("cfg"), 0);
    assert_eq!(code("defaults"), 0);
    assert_eq!(code("rf3"), KafkaError::InvalidReplicationFactor.code());
    assert_eq!(code("zero"), KafkaError::InvalidPartitions.code());
    assert_eq!(code("bad/name"), KafkaError::InvalidTopicException.code());
    assert_eq!(code("badcfg"), KafkaError::InvalidConfig.code());
    assert_eq!(code("badvalue"), KafkaError::InvalidConfig.code());
    assert_eq!(code("dup"), KafkaError::InvalidRequest.code());
    let cfg = r.topics.iter().find(|t| t.name.as_str() == "cfg").unwrap();
    assert_eq!(cfg.num_partitions, 4);
    assert!(!cfg.topic_id.is_nil());
    let configs = cfg.configs.as_ref().unwrap();
    let retention = configs
        .iter()
        .find(|c| c.name.as_str() == "retention.ms")
        .unwrap();
    assert_eq!(retention.value.as_ref().unwrap().as_str(), "1000");
    assert_eq!(retention.config_source, 1, "DYNAMIC_TOPIC_CONFIG");
    let segment = configs
        .iter()
        .find(|c| c.name.as_str() == "segment.bytes")
        .unwrap();
    assert_eq!(segment.config_source, 5, "DEFAULT_CONFIG");
    let defaults = r
        .topics
        .iter()
        .find(|t| t.name.as_str() == "defaults")
        .unwrap();
    assert_eq!(defaults.num_partitions, 2);
    assert_eq!(defaults.replication_factor, 1);

    // Already exists; validate_only creates nothing.
    let r = create(&mut c, 2, vec![new_topic("cfg", 1, 1)], false).await;
    assert_eq!(
        r.topics[0].error_code,
        KafkaError::TopicAlreadyExists.code()
    );
    let r = create(&mut c, 5, vec![new_topic("dry", 3, 1)], true).await;
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(r.topics[0].num_partitions, 3);
    let m = metadata(&mut c, 12, Some(&["dry"]), false).await;
    assert_eq!(
        m.topics[0].error_code,
        KafkaError::UnknownTopicOrPartition.code()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn delete_topics_by_name_and_id_and_persistence_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let r = create(
        &mut c,
        7,
        vec![
            new_topic("a", 2, 1),
            new_topic("b", 1, 1),
            new_topic("c", 1, 1),
        ],
        false,
    )
    .await;
    let id_b = r.topics[1].topic_id;
    let id_c = r.topics[2].topic_id;
    server.shutdown().await;

    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let m = metadata(&mut c, 12, Some(&["b"]), false).await;
    assert_eq!(m.topics[0].topic_id, id_b, "topic id stable across restart");

    let req =
        DeleteTopicsRequest::default().with_topic_names(vec![topic_name("a"), topic_name("nope")]);
    let ResponseKind::DeleteTopics(r) = c
        .call(ApiKey::DeleteTopics, 5, RequestKind::DeleteTopics(req))
        .await
    else {
        panic!()
    };
    assert_eq!(r.responses[0].error_code, 0);
    assert_eq!(
        r.responses[1].error_code,
        KafkaError::UnknownTopicOrPartition.code()
    );

    let req = DeleteTopicsRequest::default().with_topics(vec![
        DeleteTopicState::default().with_topic_id(id_b),
        DeleteTopicState::default().with_topic_id(uuid::Uuid::from_u128(77)),
        DeleteTopicState::default()
            .with_name(Some(topic_name("c")))
            .with_topic_id(uuid::Uuid::nil()),
    ]);
    let ResponseKind::DeleteTopics(r) = c
        .call(ApiKey::DeleteTopics, 6, RequestKind::DeleteTopics(req))
        .await
    else {
        panic!()
    };
    assert_eq!(r.responses[0].error_code, 0);
    assert_eq!(r.responses[0].name.as_ref().unwrap().as_str(), "b");
    assert_eq!(r.responses[1].error_code, KafkaError::UnknownTopicId.code());
    assert_eq!(r.responses[2].error_code, 0);
    assert_eq!(r.responses[2].topic_id, id_c);
    server.shutdown().await;

    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let m = metadata(&mut c, 12, None, false).await;
    assert!(m.topics.is_empty(), "deletions persisted");
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let mut expected = Vec::new();
    let mut batch = Vec::new();
    for i in 0..20 {
        let (api, v, body) = if i % 2 == 0 {
            (ApiKey::Metadata, 12, metadata_req(Some(&["p"]), true))
        } else {
            (
                ApiKey::ApiVersions,
                3,
                RequestKind::ApiVersions(
                    ApiVersionsRequest::default()
                        .with_client_software_name(StrBytes::from_static_str("t"))
                        .with_client_software_version(StrBytes::from_static_str("1")),
                ),
            )
        };
        let (corr, bytes) = c.encode(api, v, &body);
        expected.push((corr, api, v));
        batch.extend_from_slice(&bytes);
    }
    c.send_raw(&batch).await;
    for (corr, api, v) in expected {
        let frame = c.read_frame().await.unwrap();
        let (got, _) = Client::decode(api, v, frame);
        assert_eq!(got, corr);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn metadata_answers_with_the_listener_of_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(
        dir.path(),
        &[
            (
                "listeners",
                "PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0",
            ),
            (
                "advertised.listeners",
                "PLAINTEXT://localhost:9092,INTERNAL://kafka:29092",
            ),
            (
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
            ),
            ("inter.broker.listener.name", "INTERNAL"),
        ],
    )
    .await;
    for (listener, host, port) in [
        ("PLAINTEXT", "localhost", 9092),
        ("INTERNAL", "kafka", 29092),
    ] {
        let mut c = Client::connect(server.addr(listener).unwrap()).await;
        let m = metadata(&mut c, 12, None, false).await;
        assert_eq!(m.brokers.len(), 1);
        assert_eq!(m.brokers[0].host.as_str(), host);
        assert_eq!(m.brokers[0].port, port);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn describe_configs_topics_and_broker() {
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[("log.retention.hours", "10")]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let cfg = CreatableTopicConfig::default()
        .with_name(StrBytes::from_static_str("cleanup.policy"))
        .with_value(Some(StrBytes::from_static_str("compact")));
    create(
        &mut c,
        7,
        vec![new_topic("dc", 1, 1).with_configs(vec![cfg])],
        false,
    )
    .await;
    let req = DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_include_documentation(true)
        .with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("dc"))
                .with_configuration_keys(None),
            DescribeConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("missing"))
                .with_configuration_keys(None),
            DescribeConfigsResource::default()
                .with_resource_type(4)
                .with_resource_name(StrBytes::from_static_str("1"))
                .with_configuration_keys(Some(vec![StrBytes::from_static_str(
                    "log.retention.hours",
                )])),
        ]);
    let ResponseKind::DescribeConfigs(r) = c
        .call(
            ApiKey::DescribeConfigs,
            4,
            RequestKind::DescribeConfigs(req),
        )
        .await
    else {
        panic!()
    };
    let topic = &r.results[0];
    assert_eq!(topic.error_code, 0);
    let get = |n: &str| topic.configs.iter().find(|c| c.name.as_str() == n).unwrap();
    assert_eq!(
        get("cleanup.policy").value.as_ref().unwrap().as_str(),
        "compact"
    );
    assert_eq!(get("cleanup.policy").config_source, 1);
    assert_eq!(
        get("retention.ms").value.as_ref().unwrap().as_str(),
        "36000000"
    );
    assert_eq!(get("retention.ms").config_source, 4, "STATIC_BROKER_CONFIG");
    assert_eq!(get("retention.ms").config_type, 5, "LONG");
    assert!(get("retention.ms").documentation.is_some());
    assert_eq!(
        get("max.message.bytes").value.as_ref().unwrap().as_str(),
        "1048588"
    );
    assert_eq!(
        r.results[1].error_code,
        KafkaError::UnknownTopicOrPartition.code()
    );
    let broker = &r.results[2];
    assert_eq!(broker.configs.len(), 1);
    assert_eq!(broker.configs[0].value.as_ref().unwrap().as_str(), "10");
    server.shutdown().await;
}

#[tokio::test]
async fn describe_topic_partitions_pages_with_a_cursor() {
    use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(
        &mut c,
        7,
        vec![new_topic("pa", 3, 1), new_topic("pb", 1, 1)],
        false,
    )
    .await;
    let topics = vec![
        TopicRequest::default().with_name(topic_name("pb")),
        TopicRequest::default().with_name(topic_name("pa")),
        TopicRequest::default().with_name(topic_name("nope")),
    ];
    let req = DescribeTopicPartitionsRequest::default()
        .with_topics(topics.clone())
        .with_response_partition_limit(2);
    let ResponseKind::DescribeTopicPartitions(r) = c
        .call(
            ApiKey::DescribeTopicPartitions,
            0,
            RequestKind::DescribeTopicPartitions(req),
        )
        .await
    else {
        panic!()
    };
    // Name order: "nope" (unknown), then "pa" (2 of 3 partitions), cursor at pa-2.
    assert_eq!(
        r.topics[0].error_code,
        KafkaError::UnknownTopicOrPartition.code()
    );
    assert_eq!(r.topics[1].name.as_ref().unwrap().as_str(), "pa");
    assert_eq!(r.topics[1].partitions.len(), 2);
    let cursor = r.next_cursor.unwrap();
    assert_eq!(
        (cursor.topic_name.as_str(), cursor.partition_index),
        ("pa", 2)
    );
    let req = DescribeTopicPartitionsRequest::default()
        .with_topics(topics)
        .with_response_partition_limit(2)
        .with_cursor(Some(
            Cursor::default()
                .with_topic_name(topic_name("pa"))
                .with_partition_index(2),
        ));
    let ResponseKind::DescribeTopicPartitions(r) = c
        .call(
            ApiKey::DescribeTopicPartitions,
            0,
            RequestKind::DescribeTopicPartitions(req),
        )
        .await
    else {
        panic!()
    };
    let parts: Vec<(String, i32)> = r
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.as_ref().unwrap().to_string(), p.partition_index))
        })
        .collect();
    assert_eq!(parts, vec![("pa".to_string(), 2), ("pb".to_string(), 0)]);
    assert!(r.next_cursor.is_none());
    server.shutdown().await;
}
