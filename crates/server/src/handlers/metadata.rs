//! Metadata (API key 3), v0-13.
//!
//! - v0: topics (empty array = all topics). v1: null = all topics; + controller_id, is_internal,
//!   rack. v2: + cluster_id. v3: + throttle_time_ms. v4: + allow_auto_topic_creation (earlier
//!   versions always allow). v5: + offline_replicas. v7: + leader_epoch. v8-10: +
//!   include_cluster_authorized_operations. v8+: + include_topic_authorized_operations.
//!   v9: flexible. v10: + topic_id (request and response). v11: cluster authorized operations
//!   removed. v13: + top-level error_code.
//! - Brokers: this node, at the advertised endpoint of the listener the request arrived on.
//! - Unknown topic: auto-created when auto.create.topics.enable and the request allows it
//!   (answered with the new topic at once, where Kafka may first answer LEADER_NOT_AVAILABLE),
//!   otherwise UNKNOWN_TOPIC_OR_PARTITION. Illegal names: INVALID_TOPIC_EXCEPTION. Unknown topic
//!   ids: UNKNOWN_TOPIC_ID.
//! - Without an authorizer, Kafka reports every operation a resource type supports as
//!   authorized; so do we.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::metadata_cache;
use crate::topics;
use sluice_metadata::{MetadataImage, TopicImage};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use sluice_protocol::kafka_protocol::messages::{
    BrokerId, MetadataRequest, MetadataResponse, ResponseKind, TopicName,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

/// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
pub const TOPIC_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
pub const CLUSTER_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);
const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: MetadataRequest) -> Reply {
    let v = ctx.version;
    let node = broker.node_id();
    let mut resp = MetadataResponse::default();
    let image = broker.image();
    let cluster = broker.member().is_some().then(|| Cluster {
        image: &image,
        listener: ctx.listener(),
    });

    match &cluster {
        // A cluster broker: every alive broker with an endpoint on this listener; the
        // controller id is an alive broker's, picked at random (Kafka's KRaft metadata cache:
        // clients send controller-bound requests to a broker, which forwards them).
        Some(c) => {
            let alive = metadata_cache::alive_brokers(c.image, c.listener);
            if v >= 1 {
                resp.controller_id = BrokerId(random_pick(&alive).map(|b| b.id).unwrap_or(-1));
            }
            for b in alive {
                resp.brokers.push(
                    MetadataResponseBroker::default()
                        .with_node_id(BrokerId(b.id))
                        .with_host(StrBytes::from_string(b.host))
                        .with_port(i32::from(b.port))
                        .with_rack(b.rack.map(StrBytes::from_string)),
                );
            }
        }
        None => {
            if let Some(ep) = broker
                .config
                .endpoint_for(ctx.listener())
                .or_else(|| broker.config.advertised.first())
            {
                resp.brokers.push(
                    MetadataResponseBroker::default()
                        .with_node_id(BrokerId(node))
                        .with_host(StrBytes::from_string(ep.host.clone()))
                        .with_port(i32::from(ep.port)),
                );
            }
            if v >= 1 {
                resp.controller_id = BrokerId(node);
            }
        }
    }
    if v >= 2 {
        resp.cluster_id = Some(StrBytes::from_string(broker.cluster_id.clone()));
    }
    if (8..=10).contains(&v) && req.include_cluster_authorized_operations {
        resp.cluster_authorized_operations = CLUSTER_OPERATIONS;
    }
    let topic_ops = v >= 8 && req.include_topic_authorized_operations;

    let all_topics = match &req.topics {
        None => true,
        Some(t) => v == 0 && t.is_empty(),
    };
    if all_topics {
        for t in image.topics.iter() {
            resp.topics
                .push(topic_entry(t, v, topic_ops, cluster.as_ref()));
        }
    } else {
        let allow_auto =
            broker.config.auto_create_topics_enable && (v < 4 || req.allow_auto_topic_creation);
        for requested in req.topics.iter().flatten() {
            // As Kafka: a non-zero topic id wins over the name (v10+ clients send an empty
            // name with the id).
            let entry = match &requested.name {
                Some(name) if requested.topic_id.is_nil() => by_name(
                    broker,
                    name.as_str(),
                    allow_auto,
                    v,
                    topic_ops,
                    cluster.as_ref(),
                ),
                _ => by_id(&image, requested.topic_id, v, topic_ops, cluster.as_ref()),
            };
            resp.topics.push(entry);
        }
    }
    Reply::Response(ResponseKind::Metadata(resp))
}

/// A cluster broker's view for partition answers: leaders must be alive and reachable on the
/// request's listener.
struct Cluster<'a> {
    image: &'a MetadataImage,
    listener: &'a str,
}

/// One of `brokers`, picked at random (Kafka's getRandomAliveBrokerId).
fn random_pick(
    brokers: &[metadata_cache::BrokerEndpoint],
) -> Option<&metadata_cache::BrokerEndpoint> {
    if brokers.is_empty() {
        return None;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as usize)
        .unwrap_or(0);
    brokers.get(nanos % brokers.len())
}

fn by_name(
    broker: &Broker,
    name: &str,
    allow_auto: bool,
    v: i16,
    topic_ops: bool,
    cluster: Option<&Cluster<'_>>,
) -> MetadataResponseTopic {
    if let Some(t) = broker.image().topics.get(name) {
        return topic_entry(t, v, topic_ops, cluster);
    }
    let error = if let Err(msg) = topics::validate_name(name) {
        tracing::debug!(topic = name, reason = %msg, "metadata for an illegal topic name");
        KafkaError::InvalidTopicException
    } else if allow_auto && !topics::is_internal(name) {
        match broker.auto_create_topic(name) {
            Ok(()) => {
                if let Some(t) = broker.image().topics.get(name) {
                    return topic_entry(t, v, topic_ops, cluster);
                }
                KafkaError::LeaderNotAvailable
            }
            // A cluster broker's creation is under way.
            Err(e) if e.code == KafkaError::LeaderNotAvailable => e.code,
            Err(e) => {
                tracing::info!(topic = name, error = %e.message, "auto-creation failed");
                e.code
            }
        }
    } else {
        KafkaError::UnknownTopicOrPartition
    };
    MetadataResponseTopic::default()
        .with_error_code(error.code())
        .with_name(Some(TopicName(StrBytes::from_string(name.to_string()))))
}

fn by_id(
    image: &MetadataImage,
    id: Uuid,
    v: i16,
    topic_ops: bool,
    cluster: Option<&Cluster<'_>>,
) -> MetadataResponseTopic {
    match image.topics.get_by_id(&id) {
        Some(t) if !id.is_nil() => topic_entry(t, v, topic_ops, cluster),
        _ => {
            let mut e = MetadataResponseTopic::default()
                .with_error_code(KafkaError::UnknownTopicId.code())
                .with_name(None);
            if v >= 10 {
                e.topic_id = id;
            }
            e
        }
    }
}

fn topic_entry(
    t: &TopicImage,
    v: i16,
    topic_ops: bool,
    cluster: Option<&Cluster<'_>>,
) -> MetadataResponseTopic {
    let mut e = MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))));
    if v >= 1 {
        e.is_internal = t.is_internal();
    }
    if v >= 10 {
        e.topic_id = t.id;
    }
    if topic_ops {
        e.topic_authorized_operations = TOPIC_OPERATIONS;
    } else if v >= 8 {
        e.topic_authorized_operations = OPERATIONS_NOT_REQUESTED;
    }
    let ids = |v: &[i32]| v.iter().map(|b| BrokerId(*b)).collect::<Vec<_>>();
    e.partitions = t
        .partitions
        .iter()
        .map(|(p, reg)| {
            let mut part = MetadataResponsePartition::default()
                .with_partition_index(*p)
                .with_leader_id(BrokerId(reg.leader))
                .with_replica_nodes(ids(&reg.replicas))
                .with_isr_nodes(ids(&reg.isr));
            match cluster {
                Some(c) => {
                    if metadata_cache::reachable_leader(c.image, reg, c.listener).is_none() {
                        part.error_code = KafkaError::LeaderNotAvailable.code();
                        part.leader_id = BrokerId(-1);
                    }
                    if v >= 5 {
                        part.offline_replicas =
                            ids(&metadata_cache::offline_replicas(c.image, reg));
                    }
                }
                None => {
                    if reg.leader < 0 {
                        part.error_code = KafkaError::LeaderNotAvailable.code();
                    }
                }
            }
            if v >= 7 {
                part.leader_epoch = reg.leader_epoch;
            }
            part
        })
        .collect();
    e
}
