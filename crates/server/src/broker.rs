//! The broker's shared state: configuration, cluster identity and the topic registry, and the
//! topic operations that several APIs share (CreateTopics, Metadata auto-creation, DeleteTopics).

use crate::config::BrokerConfig;
use crate::meta_properties::{self, MetaPropertiesError};
use crate::topic_config;
use crate::topics::{self, RegistryError, TopicMeta, TopicRegistry};
use sluice_protocol::error::KafkaError;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

/// Sluice refuses to create more partitions than this in one topic, so that one request cannot
/// exhaust file descriptors or disk (Kafka has no such limit; its controller would suffer first).
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 100_000;

#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    MetaProperties(#[from] MetaPropertiesError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// A Kafka error code plus the message that goes with it in responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: KafkaError,
    pub message: String,
}

impl ApiError {
    pub fn new(code: KafkaError, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// What a client asked for when creating a topic.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    /// -1: num.partitions.
    pub num_partitions: i32,
    /// -1: default.replication.factor.
    pub replication_factor: i16,
    /// Manual assignment: (partition index, replica broker ids).
    pub assignments: Vec<(i32, Vec<i32>)>,
    /// Config overrides; a `None` value is refused as Kafka does.
    pub configs: Vec<(String, Option<String>)>,
}

pub struct Broker {
    pub config: BrokerConfig,
    pub cluster_id: String,
    pub topics: TopicRegistry,
    pub started: Instant,
}

impl Broker {
    /// Open the data dirs: meta.properties checked or created, topic registry loaded.
    pub fn open(config: BrokerConfig) -> Result<Arc<Self>, StartError> {
        let cluster_id = meta_properties::ensure(
            &config.log_dirs,
            config.node_id,
            config.cluster_id.as_deref(),
        )?;
        let topics = TopicRegistry::load(&config.log_dirs[0])?;
        Ok(Arc::new(Self {
            config,
            cluster_id,
            topics,
            started: Instant::now(),
        }))
    }

    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    /// Validate, and unless `validate_only`, create a topic. Checks follow Kafka's controller
    /// order: name, existence, partitions and replication factor, assignment, configs.
    pub fn create_topic(
        &self,
        t: &NewTopic,
        validate_only: bool,
    ) -> Result<(TopicMeta, BTreeMap<String, String>), ApiError> {
        topics::validate_name(&t.name)
            .map_err(|m| ApiError::new(KafkaError::InvalidTopicException, m))?;
        let snapshot = self.topics.snapshot();
        if snapshot.get(&t.name).is_some() {
            return Err(ApiError::new(
                KafkaError::TopicAlreadyExists,
                format!("Topic '{}' already exists.", t.name),
            ));
        }
        if let Some(existing) = snapshot.collision(&t.name) {
            return Err(ApiError::new(
                KafkaError::InvalidTopicException,
                format!(
                    "Topic '{}' collides with existing topic: {existing}",
                    t.name
                ),
            ));
        }
        let (partitions, replication_factor) = if t.assignments.is_empty() {
            let partitions = match t.num_partitions {
                -1 => self.config.num_partitions,
                n if n <= 0 => {
                    return Err(ApiError::new(
                        KafkaError::InvalidPartitions,
                        "Number of partitions was set to an invalid non-positive value.",
                    ))
                }
                n => n,
            };
            let rf =
                match t.replication_factor {
                    -1 => self.config.default_replication_factor,
                    n if n <= 0 => return Err(ApiError::new(
                        KafkaError::InvalidReplicationFactor,
                        "Replication factor must be larger than 0, or -1 to use the default value.",
                    )),
                    n => n,
                };
            (partitions, rf)
        } else {
            if t.num_partitions != -1 || t.replication_factor != -1 {
                return Err(ApiError::new(
                    KafkaError::InvalidRequest,
                    "A manual partition assignment was specified, but numPartitions or replicationFactor was not set to -1.",
                ));
            }
            let mut rf = None;
            for (i, (index, replicas)) in t.assignments.iter().enumerate() {
                if *index != i as i32 {
                    return Err(ApiError::new(
                        KafkaError::InvalidReplicaAssignment,
                        format!("Partitions should be sequentially numbered, but partition {index} was found at position {i}."),
                    ));
                }
                if replicas.is_empty() {
                    return Err(ApiError::new(
                        KafkaError::InvalidReplicaAssignment,
                        format!("The manual partition assignment includes an empty replica list for partition {index}."),
                    ));
                }
                let mut seen = replicas.clone();
                seen.sort_unstable();
                seen.dedup();
                if seen.len() != replicas.len() {
                    return Err(ApiError::new(
                        KafkaError::InvalidReplicaAssignment,
                        format!("The manual partition assignment includes the broker {} more than once.", replicas[0]),
                    ));
                }
                if let Some(b) = replicas.iter().find(|b| **b != self.node_id()) {
                    return Err(ApiError::new(
                        KafkaError::InvalidReplicaAssignment,
                        format!("The manual partition assignment includes broker {b}, but no such broker is registered."),
                    ));
                }
                rf.get_or_insert(replicas.len());
            }
            (t.assignments.len() as i32, rf.unwrap_or(1) as i16)
        };
        if partitions > MAX_PARTITIONS_PER_TOPIC {
            return Err(ApiError::new(
                KafkaError::InvalidPartitions,
                format!("Number of partitions {partitions} exceeds this broker's limit of {MAX_PARTITIONS_PER_TOPIC} per topic."),
            ));
        }
        if replication_factor > 1 {
            return Err(ApiError::new(
                KafkaError::InvalidReplicationFactor,
                format!("Unable to replicate the partition {replication_factor} time(s): The target replication factor of {replication_factor} cannot be reached because only 1 broker(s) are registered."),
            ));
        }
        let mut configs = BTreeMap::new();
        for (k, v) in &t.configs {
            let Some(v) = v else {
                return Err(ApiError::new(
                    KafkaError::InvalidConfig,
                    format!("Null value not supported for topic configs: {k}"),
                ));
            };
            configs.insert(k.clone(), v.clone());
        }
        topic_config::validate_overrides(&configs)
            .map_err(|m| ApiError::new(KafkaError::InvalidConfig, m))?;
        if validate_only {
            let meta = TopicMeta {
                name: t.name.clone(),
                id: uuid::Uuid::nil(),
                partitions,
                replication_factor,
                configs: configs.clone(),
            };
            return Ok((meta, configs));
        }
        let meta = self
            .topics
            .create(&t.name, partitions, replication_factor, configs.clone())
            .map_err(|e| match e {
                RegistryError::AlreadyExists(_) => {
                    ApiError::new(KafkaError::TopicAlreadyExists, e.to_string())
                }
                RegistryError::Collides { .. } => {
                    ApiError::new(KafkaError::InvalidTopicException, e.to_string())
                }
                other => ApiError::new(KafkaError::UnknownServerError, other.to_string()),
            })?;
        tracing::info!(topic = %meta.name, partitions, "created topic");
        Ok(((*meta).clone(), configs))
    }

    /// Create `name` with the broker defaults, as auto-creation does. An existing topic is fine.
    pub fn auto_create_topic(&self, name: &str) -> Result<(), ApiError> {
        let partitions = if name == topics::CONSUMER_OFFSETS {
            self.config.offsets_topic_num_partitions
        } else {
            -1
        };
        let t = NewTopic {
            name: name.to_string(),
            num_partitions: partitions,
            replication_factor: -1,
            assignments: Vec::new(),
            configs: Vec::new(),
        };
        match self.create_topic(&t, false) {
            Ok(_) => Ok(()),
            Err(e) if e.code == KafkaError::TopicAlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Delete a topic and its data.
    pub fn delete_topic(&self, name: &str) -> Result<Arc<TopicMeta>, ApiError> {
        if !self.config.delete_topic_enable {
            return Err(ApiError::new(
                KafkaError::TopicDeletionDisabled,
                "Topic deletion is disabled.",
            ));
        }
        let meta = self.topics.delete(name).map_err(|e| match e {
            RegistryError::Unknown(_) => ApiError::new(
                KafkaError::UnknownTopicOrPartition,
                "This server does not host this topic-partition.",
            ),
            other => ApiError::new(KafkaError::UnknownServerError, other.to_string()),
        })?;
        tracing::info!(topic = %meta.name, "deleted topic");
        Ok(meta)
    }
}
