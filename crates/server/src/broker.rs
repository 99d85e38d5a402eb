//! The broker's shared state: configuration, cluster identity and the topic registry, and the
//! topic operations that several APIs share (CreateTopics, Metadata auto-creation, DeleteTopics).

use crate::config::BrokerConfig;
use crate::coordinator::group::{GroupConfig, GroupCoordinator, OFFSETS_TOPIC};
use crate::dynamic_config::{self, DynamicConfigError, DynamicConfigs, DynamicState, Scope};
use crate::fetch_session::{FetchSessionCache, DEFAULT_CACHE_SLOTS, DEFAULT_EVICTION_MS};
use crate::meta_properties::{self, MetaPropertiesError};
use crate::producer_ids::{ProducerIdError, ProducerIdManager};
use crate::purgatory::FetchPurgatory;
use crate::topic_config::{self, BrokerLayers};
use crate::topic_policy::{TopicPolicies, TopicPolicy};
use crate::topics::{self, RegistryError, TopicMeta, TopicRegistry};
use sluice_protocol::error::KafkaError;
use sluice_storage::group_commit::FlushMethod;
use sluice_storage::{
    CleanerConfig, CleanerPassSummary, LogCleaner, LogConfig, LogManager, MessageTimestampType,
    PartitionLog, ProducerStateConfig, StorageError, SystemTime, Time, TopicPartition,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

/// Sluice refuses to create more partitions than this in one topic, so that one request cannot
/// exhaust file descriptors or disk (Kafka has no such limit; its controller would suffer first).
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 100_000;

/// Default cap on a produced batch's decompressed records (sluice.max.decompressed.batch.bytes).
pub const DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES: usize = 128 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    MetaProperties(#[from] MetaPropertiesError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    ProducerIds(#[from] ProducerIdError),
    #[error(transparent)]
    DynamicConfig(#[from] DynamicConfigError),
    #[error("log storage: {0}")]
    Storage(#[from] StorageError),
    #[error("invalid config {key}: {message}")]
    Config { key: String, message: String },
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
    pub logs: Arc<LogManager>,
    pub groups: Arc<GroupCoordinator>,
    /// KIP-848 consumer groups (their offsets are kept by `groups`).
    pub consumer_groups: Arc<crate::coordinator::consumer_group::ConsumerGroupCoordinator>,
    pub purgatory: Arc<FetchPurgatory>,
    pub fetch_sessions: FetchSessionCache,
    pub time: Arc<dyn Time>,
    pub policies: TopicPolicies,
    /// Serializes topic creation, so the existence check and the creation of logs and registry
    /// entry happen as one step (admin path only).
    create_lock: std::sync::Mutex<()>,
    pub producer_ids: Arc<ProducerIdManager>,
    /// Transactions; state in `__transaction_state`.
    pub txn: Arc<crate::coordinator::transaction::TransactionCoordinator>,
    /// Dynamic broker configs (cluster default and this broker), over `config`.
    pub dynamic: DynamicConfigs,
    /// Largest decompressed records section accepted in a produced batch.
    pub max_decompressed_batch_bytes: usize,
    /// The log cleaner (None when log.cleaner.enable is false).
    pub cleaner: Option<LogCleaner>,
    /// Request bytes read ahead of the requests being served (`queued.max.request.bytes`).
    pub request_budget: crate::network::RequestBudget,
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
        let producer_ids = Arc::new(ProducerIdManager::load(&config.log_dirs[0])?);
        let time: Arc<dyn Time> = Arc::new(SystemTime);
        let formatted_now = !config.log_dirs[0].join(dynamic_config::FILE_NAME).exists();
        let dynamic = DynamicConfigs::load(&config.log_dirs[0])?;
        if formatted_now {
            // Kafka 4 writes the cluster-level min.insync.replicas (seeded from the static
            // value) when a cluster is formatted (KIP-966); do the same on a new data dir, so
            // DescribeConfigs reports it as Kafka does (DYNAMIC_DEFAULT_BROKER_CONFIG).
            let seed = config
                .raw
                .get("min.insync.replicas")
                .unwrap_or("1")
                .trim()
                .to_string();
            dynamic.update(
                Scope::ClusterDefault,
                |m| {
                    m.entry("min.insync.replicas".to_string()).or_insert(seed);
                    Ok::<(), StartError>(())
                },
                |_| Ok(()),
                StartError::from,
                false,
            )?;
        }
        let empty = BTreeMap::new();
        let default_log_config = log_config(&dynamic.snapshot().layers(&config.raw), &empty)
            .map_err(|(key, message)| StartError::Config {
                key: key.to_string(),
                message,
            })?;
        let expiration_ms: i64 =
            match config.raw.get("producer.id.expiration.ms") {
                None => 86_400_000,
                Some(v) => v.trim().parse().ok().filter(|ms| *ms >= 1).ok_or_else(|| {
                    StartError::Config {
                        key: "producer.id.expiration.ms".into(),
                        message: format!("{v:?} is not a positive number of milliseconds"),
                    }
                })?,
            };
        let logs = Arc::new(LogManager::open_with_producer_state_config(
            config.log_dirs.clone(),
            default_log_config,
            time.clone(),
            ProducerStateConfig {
                producer_id_expiration_ms: expiration_ms,
            },
        )?);
        if let Some(v) = config.raw.get("sluice.log.flush.method") {
            let method: FlushMethod = v.parse().map_err(|message| StartError::Config {
                key: "sluice.log.flush.method".into(),
                message,
            })?;
            logs.set_flush_method(method);
        }
        let group_config = group_config(&config)?;
        let groups = GroupCoordinator::new(group_config, logs.clone(), time.clone());
        let consumer_groups = crate::coordinator::consumer_group::ConsumerGroupCoordinator::new(
            consumer_group_config(&config)?,
            groups.clone(),
        );
        let txn = crate::coordinator::transaction::TransactionCoordinator::new(
            txn_config(&config)?,
            logs.clone(),
            groups.clone(),
            producer_ids.clone(),
            time.clone(),
        );
        let purgatory = Arc::new(FetchPurgatory::default());
        let waker = purgatory.clone();
        logs.set_high_watermark_listener(move |tp, _hw| waker.wake(&tp.topic, tp.partition));
        let slots = config
            .raw
            .get("max.incremental.fetch.session.cache.slots")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_CACHE_SLOTS);
        let max_decompressed_batch_bytes = config
            .raw
            .get("sluice.max.decompressed.batch.bytes")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES);
        let cleaner = cleaner_config(&config, max_decompressed_batch_bytes)?.map(LogCleaner::new);
        let request_budget = crate::network::RequestBudget::new(config.queued_max_request_bytes);
        let broker = Self {
            config,
            cluster_id,
            topics,
            logs,
            groups,
            consumer_groups,
            purgatory,
            fetch_sessions: FetchSessionCache::new(slots, DEFAULT_EVICTION_MS),
            time,
            policies: TopicPolicies::default(),
            create_lock: std::sync::Mutex::new(()),
            producer_ids,
            txn,
            dynamic,
            max_decompressed_batch_bytes,
            cleaner,
            request_budget,
            started: Instant::now(),
        };
        broker.reconcile_logs()?;
        broker.groups.load();
        broker.consumer_groups.load();
        broker.txn.load();
        Ok(Arc::new(broker))
    }

    /// Make the logs on disk match the registry: create missing partition logs (a crash between
    /// registering a topic and creating its logs), apply topic configs to loaded ones, and
    /// delete logs of topics that are gone (a crash between unregistering and deleting).
    fn reconcile_logs(&self) -> Result<(), StartError> {
        let snapshot = self.topics.snapshot();
        let dynamic = self.dynamic.snapshot();
        let layers = dynamic.layers(&self.config.raw);
        for log in self.logs.all_logs() {
            let tp = log.topic_partition().clone();
            let keep = snapshot
                .get(&tp.topic)
                .is_some_and(|t| tp.partition < t.partitions);
            if !keep {
                tracing::warn!(%tp, "deleting the log of a partition that no longer exists");
                self.logs.delete_log(&tp)?;
            }
        }
        for t in snapshot.iter() {
            let cfg = self.topic_log_config(t).map_err(|e| StartError::Config {
                key: t.name.clone(),
                message: e.message,
            })?;
            self.policies
                .set(&t.name, TopicPolicy::from_configs(&layers, &t.configs));
            for p in 0..t.partitions {
                let tp = TopicPartition::new(t.name.clone(), p);
                match self.logs.get_log(&tp) {
                    Some(log) => log.update_config(cfg.clone())?,
                    None => {
                        self.logs.get_or_create_log(&tp, t.id, Some(cfg.clone()))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The storage settings of topic `t` (its overrides over the broker's defaults).
    pub fn topic_log_config(&self, t: &TopicMeta) -> Result<LogConfig, ApiError> {
        let dynamic = self.dynamic.snapshot();
        log_config(&dynamic.layers(&self.config.raw), &t.configs).map_err(|(key, message)| {
            ApiError::new(
                KafkaError::InvalidConfig,
                format!("Invalid value for configuration {key}: {message}"),
            )
        })
    }

    /// The log of a partition, if the topic and partition exist.
    pub fn log(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        self.logs
            .get_log(&TopicPartition::new(topic.to_string(), partition))
    }

    /// Create `__consumer_offsets` on first use, as Kafka does: offsets.topic.num.partitions
    /// partitions, compacted, 100 MiB segments (offsets.topic.segment.bytes).
    pub fn ensure_offsets_topic(&self) -> Result<(), ApiError> {
        if self.topics.snapshot().get(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let t = NewTopic {
            name: OFFSETS_TOPIC.to_string(),
            num_partitions: self.config.offsets_topic_num_partitions,
            replication_factor: -1,
            assignments: Vec::new(),
            configs: vec![
                ("cleanup.policy".into(), Some("compact".into())),
                ("segment.bytes".into(), Some("104857600".into())),
                ("compression.type".into(), Some("producer".into())),
            ],
        };
        match self.create_topic(&t, false) {
            Ok(_) => Ok(()),
            Err(e) if e.code == KafkaError::TopicAlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Create `__transaction_state` on first use, as Kafka does:
    /// transaction.state.log.num.partitions partitions, compacted, uncompressed,
    /// transaction.state.log.segment.bytes segments.
    pub fn ensure_transaction_state_topic(&self) -> Result<(), ApiError> {
        use crate::coordinator::transaction::TRANSACTION_STATE_TOPIC;
        if self
            .topics
            .snapshot()
            .get(TRANSACTION_STATE_TOPIC)
            .is_some()
        {
            return Ok(());
        }
        let segment_bytes = self
            .config
            .raw
            .get("transaction.state.log.segment.bytes")
            .unwrap_or("104857600")
            .trim()
            .to_string();
        let t = NewTopic {
            name: TRANSACTION_STATE_TOPIC.to_string(),
            num_partitions: self.txn.config().partitions,
            replication_factor: -1,
            assignments: Vec::new(),
            configs: vec![
                ("cleanup.policy".into(), Some("compact".into())),
                ("segment.bytes".into(), Some(segment_bytes)),
                ("compression.type".into(), Some("uncompressed".into())),
                (
                    "unclean.leader.election.enable".into(),
                    Some("false".into()),
                ),
            ],
        };
        match self.create_topic(&t, false) {
            Ok(_) => Ok(()),
            Err(e) if e.code == KafkaError::TopicAlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One pass of the log cleaner over the compacted logs (the maintenance loop runs it every
    /// log.cleaner.backoff.ms; tests call it directly). Blocks on file I/O. Does nothing when
    /// log.cleaner.enable is false.
    pub fn clean_logs(&self) -> CleanerPassSummary {
        match &self.cleaner {
            Some(c) => {
                // The dedupe settings are dynamic (Kafka reconfigures its cleaner live).
                let dynamic = self.dynamic.snapshot();
                let current = c.config();
                let get = |key: &str| {
                    crate::dynamic_config::effective(&dynamic, &self.config.raw, key).map(str::trim)
                };
                let size = get("log.cleaner.dedupe.buffer.size")
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(current.dedupe_buffer_size);
                let factor = get("log.cleaner.io.buffer.load.factor")
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|f| *f > 0.0 && *f <= 1.0)
                    .unwrap_or(current.dedupe_buffer_load_factor);
                c.reconfigure(size, factor);
                c.clean_once(&self.logs)
            }
            None => CleanerPassSummary::default(),
        }
    }

    /// log.cleaner.backoff.ms as it applies now (dynamic, as in Kafka); Kafka's 15 s default.
    pub fn cleaner_backoff(&self) -> std::time::Duration {
        let dynamic = self.dynamic.snapshot();
        let ms =
            crate::dynamic_config::effective(&dynamic, &self.config.raw, "log.cleaner.backoff.ms")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(15_000)
                .max(1);
        std::time::Duration::from_millis(ms)
    }

    /// Milliseconds since the epoch, from the broker's clock.
    pub fn now_ms(&self) -> i64 {
        self.time.milliseconds()
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
        let _creating = self.create_lock.lock().unwrap_or_else(|p| p.into_inner());
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
            // As Kafka's ReplicationControlManager: assignments in any order, each partition
            // once, together 0..n-1.
            let mut indexes = std::collections::HashSet::new();
            for (index, replicas) in &t.assignments {
                if !indexes.insert(*index) {
                    return Err(ApiError::new(
                        KafkaError::InvalidReplicaAssignment,
                        format!(
                            "Found multiple manual partition assignments for partition {index}"
                        ),
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
            if (0..t.assignments.len() as i32).any(|i| !indexes.contains(&i)) {
                return Err(ApiError::new(
                    KafkaError::InvalidReplicaAssignment,
                    "partitions should be a consecutive 0-based integer sequence",
                ));
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
            // Kafka returns a (never used) fresh topic id for a validate-only creation too.
            let meta = TopicMeta {
                name: t.name.clone(),
                id: crate::kafka_uuid::random(),
                partitions,
                replication_factor,
                configs: configs.clone(),
            };
            return Ok((meta, configs));
        }
        // Logs and policy first, registry last: a topic other requests can see always has its
        // partition logs (a concurrent FindCoordinator must not find __consumer_offsets before
        // its partitions exist). Creations are serialized, so if registering fails the logs are
        // ours alone and are removed again.
        let pending = TopicMeta {
            name: t.name.clone(),
            id: crate::kafka_uuid::random(),
            partitions,
            replication_factor,
            configs: configs.clone(),
        };
        let cfg = self.topic_log_config(&pending)?;
        let dynamic = self.dynamic.snapshot();
        self.policies.set(
            &pending.name,
            TopicPolicy::from_configs(&dynamic.layers(&self.config.raw), &pending.configs),
        );
        for p in 0..partitions {
            let tp = TopicPartition::new(t.name.clone(), p);
            if let Err(e) = self
                .logs
                .get_or_create_log(&tp, pending.id, Some(cfg.clone()))
            {
                tracing::error!(%tp, error = %e, "cannot create partition log");
                return Err(ApiError::new(KafkaError::KafkaStorageError, e.to_string()));
            }
        }
        let registered = self.topics.create_with_id(
            &t.name,
            pending.id,
            partitions,
            replication_factor,
            configs.clone(),
        );
        if registered.is_err() {
            self.policies.remove(&t.name);
            for p in 0..partitions {
                let _ = self
                    .logs
                    .delete_log(&TopicPartition::new(t.name.clone(), p));
            }
        }
        let meta = registered.map_err(|e| match e {
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

    /// Make a topic's produce policy and its partitions' log configs match its configs (after
    /// a topic or broker config change): takes effect from the next append / retention check.
    pub fn apply_topic_configs(&self, meta: &TopicMeta) -> Result<(), ApiError> {
        let cfg = self.topic_log_config(meta)?;
        let dynamic = self.dynamic.snapshot();
        self.policies.set(
            &meta.name,
            TopicPolicy::from_configs(&dynamic.layers(&self.config.raw), &meta.configs),
        );
        for p in 0..meta.partitions {
            if let Some(log) = self.log(&meta.name, p) {
                log.update_config(cfg.clone())
                    .map_err(|e| ApiError::new(KafkaError::InvalidConfig, e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Replace topic `name`'s config overrides (AlterConfigs / IncrementalAlterConfigs):
    /// validated (the message names the key), persisted, then applied to the live logs.
    /// Checks follow Kafka: config validation first, then the topic's existence.
    pub fn alter_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        topic_config::validate_overrides(&configs)
            .map_err(|m| ApiError::new(KafkaError::InvalidConfig, m))?;
        let unknown = || {
            ApiError::new(
                KafkaError::UnknownTopicOrPartition,
                format!("The topic '{name}' does not exist."),
            )
        };
        let current = self
            .topics
            .snapshot()
            .get(name)
            .cloned()
            .ok_or_else(unknown)?;
        let mut candidate = (*current).clone();
        candidate.configs = configs.clone();
        // The combination must make a valid storage config too.
        self.topic_log_config(&candidate)?;
        if validate_only {
            return Ok(());
        }
        let meta = self
            .topics
            .update_topic(name, |t| {
                t.configs = configs;
                Ok(())
            })
            .map_err(|e| match e {
                RegistryError::Unknown(_) => unknown(),
                other => ApiError::new(KafkaError::UnknownServerError, other.to_string()),
            })?;
        self.apply_topic_configs(&meta)?;
        tracing::info!(topic = %name, configs = ?meta.configs, "topic configs changed");
        Ok(())
    }

    /// The dynamic-config scope of a BROKER resource name: "" (cluster default) or this node.
    pub fn broker_scope(&self, resource_name: &str) -> Result<Scope, ApiError> {
        if resource_name.is_empty() {
            return Ok(Scope::ClusterDefault);
        }
        if resource_name.trim().parse::<i32>().ok() == Some(self.node_id()) {
            return Ok(Scope::ThisBroker);
        }
        Err(ApiError::new(
            KafkaError::InvalidRequest,
            format!(
                "Unexpected broker id, expected {} or empty string, but received {resource_name}",
                self.node_id()
            ),
        ))
    }

    /// Change the dynamic broker configs of `scope` with `change` (AlterConfigs replaces the
    /// set, IncrementalAlterConfigs edits it): static-only keys and invalid values are refused
    /// with INVALID_REQUEST as Kafka does; persisted, then every topic's effective configs are
    /// re-applied to the live logs.
    pub fn alter_broker_configs(
        &self,
        scope: Scope,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), ApiError>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let raw = &self.config.raw;
        let topics = self.topics.snapshot();
        let check = |state: &DynamicState| -> Result<(), ApiError> {
            dynamic_config::validate(state, scope, raw)
                .map_err(|m| ApiError::new(KafkaError::InvalidRequest, m))?;
            // Every topic must still get a valid storage config from the new defaults.
            let layers = state.layers(raw);
            log_config(&layers, &BTreeMap::new())
                .map_err(|(k, m)| ApiError::new(KafkaError::InvalidRequest, format!("{k}: {m}")))?;
            for t in topics.iter() {
                log_config(&layers, &t.configs).map_err(|(k, m)| {
                    ApiError::new(KafkaError::InvalidRequest, format!("{k}: {m}"))
                })?;
            }
            Ok(())
        };
        self.dynamic.update(
            scope,
            change,
            check,
            |e| ApiError::new(KafkaError::UnknownServerError, e.to_string()),
            validate_only,
        )?;
        if validate_only {
            return Ok(());
        }
        tracing::info!(?scope, "dynamic broker configs changed");
        for t in self.topics.snapshot().iter() {
            if let Err(e) = self.apply_topic_configs(t) {
                tracing::error!(topic = %t.name, error = %e.message, "cannot apply broker config change");
            }
        }
        Ok(())
    }

    /// Grow topic `name` to `count` partitions (CreatePartitions). `assignments`, if given,
    /// lists the replicas of each new partition. Existing partitions are untouched; the new
    /// count is persisted before the new logs exist (start-up creates missing logs).
    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Option<&[Vec<i32>]>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let snapshot = self.topics.snapshot();
        let t = snapshot.get(name).cloned().ok_or_else(|| {
            ApiError::new(
                KafkaError::UnknownTopicOrPartition,
                format!("Unable to find topic {name}"),
            )
        })?;
        if count == t.partitions {
            return Err(ApiError::new(
                KafkaError::InvalidPartitions,
                format!("Topic already has {} partition(s).", t.partitions),
            ));
        }
        if count < t.partitions {
            return Err(ApiError::new(
                KafkaError::InvalidPartitions,
                format!(
                    "The topic {name} currently has {} partition(s); {count} would not be an increase.",
                    t.partitions
                ),
            ));
        }
        if count > MAX_PARTITIONS_PER_TOPIC {
            return Err(ApiError::new(
                KafkaError::InvalidPartitions,
                format!("Number of partitions {count} exceeds this broker's limit of {MAX_PARTITIONS_PER_TOPIC} per topic."),
            ));
        }
        let additional = count - t.partitions;
        if let Some(assignments) = assignments {
            if assignments.len() != additional as usize {
                return Err(ApiError::new(
                    KafkaError::InvalidReplicaAssignment,
                    format!(
                        "Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.",
                        assignments.len()
                    ),
                ));
            }
            for replicas in assignments {
                if replicas.is_empty() {
                    return Err(ApiError::new(
                        KafkaError::InvalidReplicaAssignment,
                        "The manual partition assignment includes an empty replica list.",
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
                if replicas.len() != t.replication_factor as usize {
                    return Err(ApiError::new(
                        KafkaError::InvalidReplicaAssignment,
                        format!(
                            "The manual partition assignment includes a partition with {} replica(s), but this is not consistent with previous partitions, which have {} replica(s).",
                            replicas.len(),
                            t.replication_factor
                        ),
                    ));
                }
            }
        }
        if validate_only {
            return Ok(());
        }
        let from = t.partitions;
        let meta = self
            .topics
            .update_topic(name, |m| {
                if m.partitions != from {
                    // A concurrent CreatePartitions won: re-check as Kafka's controller would.
                    return Err(RegistryError::Conflict(format!(
                        "Topic already has {} partition(s).",
                        m.partitions
                    )));
                }
                m.partitions = count;
                Ok(())
            })
            .map_err(|e| match e {
                RegistryError::Unknown(_) => ApiError::new(
                    KafkaError::UnknownTopicOrPartition,
                    format!("Unable to find topic {name}"),
                ),
                RegistryError::Conflict(message) => {
                    ApiError::new(KafkaError::InvalidPartitions, message)
                }
                other => ApiError::new(KafkaError::UnknownServerError, other.to_string()),
            })?;
        let cfg = self.topic_log_config(&meta)?;
        for p in from..count {
            let tp = TopicPartition::new(name.to_string(), p);
            if let Err(e) = self.logs.get_or_create_log(&tp, meta.id, Some(cfg.clone())) {
                tracing::error!(%tp, error = %e, "cannot create partition log");
                return Err(ApiError::new(KafkaError::KafkaStorageError, e.to_string()));
            }
        }
        tracing::info!(topic = %name, from, to = count, "added partitions");
        Ok(())
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
        self.policies.remove(&meta.name);
        for p in 0..meta.partitions {
            let tp = TopicPartition::new(meta.name.clone(), p);
            if let Err(e) = self.logs.delete_log(&tp) {
                // The registry no longer has the topic; start-up reconciliation retries.
                tracing::error!(%tp, error = %e, "cannot delete partition log");
            }
        }
        tracing::info!(topic = %meta.name, "deleted topic");
        Ok(meta)
    }
}

/// Build a partition's [`LogConfig`] from topic overrides over broker defaults (Kafka's
/// LogConfig). `flush.messages = 1` — Kafka's "fsync every message before answering" — selects
/// Sluice's fsync-before-ack mode, where one fsync covers every produce waiting on it (group
/// commit) instead of one fsync per batch.
pub fn log_config(
    config: &BrokerLayers<'_>,
    overrides: &BTreeMap<String, String>,
) -> Result<LogConfig, (&'static str, String)> {
    fn get<T: std::str::FromStr>(
        config: &BrokerLayers<'_>,
        overrides: &BTreeMap<String, String>,
        name: &'static str,
    ) -> Result<T, (&'static str, String)> {
        let def = topic_config::lookup(name).ok_or((name, "unknown config".to_string()))?;
        let (value, _) = topic_config::effective(def, overrides, config);
        value
            .trim()
            .parse()
            .map_err(|_| (name, format!("{value:?} is not a valid value")))
    }
    let flush_messages: i64 = get(config, overrides, "flush.messages")?;
    let timestamp_type: String = get(config, overrides, "message.timestamp.type")?;
    let segment_bytes: i32 = get(config, overrides, "segment.bytes")?;
    let index_bytes: i32 = get(config, overrides, "segment.index.bytes")?;
    let interval: i32 = get(config, overrides, "index.interval.bytes")?;
    let max_message: i32 = get(config, overrides, "max.message.bytes")?;
    let cleanup_policy: String = get(config, overrides, "cleanup.policy")?;
    let cfg = LogConfig {
        segment_bytes: u32::try_from(segment_bytes)
            .map_err(|_| ("segment.bytes", "negative".into()))?,
        segment_ms: get(config, overrides, "segment.ms")?,
        segment_index_bytes: u32::try_from(index_bytes)
            .map_err(|_| ("segment.index.bytes", "negative".into()))?,
        index_interval_bytes: u32::try_from(interval)
            .map_err(|_| ("index.interval.bytes", "negative".into()))?,
        flush_messages: if flush_messages == 1 {
            i64::MAX
        } else {
            flush_messages
        },
        flush_ms: get(config, overrides, "flush.ms")?,
        max_message_bytes: u32::try_from(max_message)
            .map_err(|_| ("max.message.bytes", "negative".into()))?,
        message_timestamp_type: if timestamp_type == "LogAppendTime" {
            MessageTimestampType::LogAppendTime
        } else {
            MessageTimestampType::CreateTime
        },
        fsync_before_ack: flush_messages == 1,
        retention_ms: get(config, overrides, "retention.ms")?,
        retention_bytes: get(config, overrides, "retention.bytes")?,
        file_delete_delay_ms: get(config, overrides, "file.delete.delay.ms")?,
        cleanup_policy_delete: cleanup_policy.split(',').any(|p| p.trim() == "delete"),
        cleanup_policy_compact: cleanup_policy.split(',').any(|p| p.trim() == "compact"),
        delete_retention_ms: get(config, overrides, "delete.retention.ms")?,
        min_cleanable_dirty_ratio: get(config, overrides, "min.cleanable.dirty.ratio")?,
        min_compaction_lag_ms: get(config, overrides, "min.compaction.lag.ms")?,
        max_compaction_lag_ms: get(config, overrides, "max.compaction.lag.ms")?,
    };
    cfg.validate().map_err(|e| ("log config", e.to_string()))?;
    Ok(cfg)
}

/// The log cleaner's settings (log.cleaner.enable, log.cleaner.dedupe.buffer.size,
/// log.cleaner.io.buffer.load.factor); None when the cleaner is disabled. The values were
/// checked when the config was read ([`BrokerConfig::from_raw`]).
fn cleaner_config(
    config: &BrokerConfig,
    max_decompressed_batch_bytes: usize,
) -> Result<Option<CleanerConfig>, StartError> {
    if config.get_bool("log.cleaner.enable") == Some(false) {
        return Ok(None);
    }
    let d = CleanerConfig::default();
    Ok(Some(CleanerConfig {
        dedupe_buffer_size: config
            .get_long("log.cleaner.dedupe.buffer.size")
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(d.dedupe_buffer_size),
        dedupe_buffer_load_factor: config
            .get_double("log.cleaner.io.buffer.load.factor")
            .unwrap_or(d.dedupe_buffer_load_factor),
        max_decompressed_batch_bytes,
    }))
}

/// The KIP-848 coordinator's settings from Kafka's group.consumer.* broker configs (checked,
/// with Kafka's rules across them, when the config was read).
fn consumer_group_config(
    config: &BrokerConfig,
) -> Result<crate::coordinator::consumer_group::ConsumerGroupConfig, StartError> {
    use crate::coordinator::consumer_group::MigrationPolicy;
    let d = crate::coordinator::consumer_group::ConsumerGroupConfig::default();
    let int = |key: &str, default: i32| config.get_int(key).unwrap_or(default);
    let assignors = match config.get_list("group.consumer.assignors") {
        Some(names) => names
            .iter()
            .filter_map(|a| crate::config::consumer_assignor(a))
            .map(str::to_string)
            .collect(),
        None => d.assignors.clone(),
    };
    Ok(crate::coordinator::consumer_group::ConsumerGroupConfig {
        session_timeout_ms: int("group.consumer.session.timeout.ms", d.session_timeout_ms),
        heartbeat_interval_ms: int(
            "group.consumer.heartbeat.interval.ms",
            d.heartbeat_interval_ms,
        ),
        max_size: int("group.consumer.max.size", i32::MAX).max(1) as usize,
        assignors,
        migration_policy: config
            .get_string("group.consumer.migration.policy")
            .and_then(MigrationPolicy::parse)
            .unwrap_or(d.migration_policy),
        classic_max_size: int("group.max.size", i32::MAX).max(1) as usize,
    })
}

/// The transaction coordinator's settings from Kafka's broker configs.
fn txn_config(
    config: &BrokerConfig,
) -> Result<crate::coordinator::transaction::TxnConfig, StartError> {
    let d = crate::coordinator::transaction::TxnConfig::default();
    let long = |key: &str, default: i64| config.get_long(key).unwrap_or(default);
    Ok(crate::coordinator::transaction::TxnConfig {
        partitions: config
            .get_int("transaction.state.log.num.partitions")
            .unwrap_or(d.partitions),
        max_timeout_ms: config
            .get_int("transaction.max.timeout.ms")
            .unwrap_or(d.max_timeout_ms),
        abort_interval_ms: long(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            d.abort_interval_ms,
        ),
        id_expiration_ms: long("transactional.id.expiration.ms", d.id_expiration_ms),
        verification: config
            .get_bool("transaction.partition.verification.enable")
            .unwrap_or(d.verification),
    })
}

/// The group coordinator's settings from Kafka's broker configs.
fn group_config(config: &BrokerConfig) -> Result<GroupConfig, StartError> {
    let d = GroupConfig::default();
    let int = |key: &str, default: i32| config.get_int(key).unwrap_or(default);
    let long = |key: &str, default: i64| config.get_long(key).unwrap_or(default);
    Ok(GroupConfig {
        min_session_timeout_ms: int("group.min.session.timeout.ms", d.min_session_timeout_ms),
        max_session_timeout_ms: int("group.max.session.timeout.ms", d.max_session_timeout_ms),
        initial_rebalance_delay_ms: int(
            "group.initial.rebalance.delay.ms",
            d.initial_rebalance_delay_ms,
        ),
        max_size: int("group.max.size", i32::MAX).max(1) as usize,
        offsets_partitions: config.offsets_topic_num_partitions,
        max_metadata_bytes: int("offset.metadata.max.bytes", 4096).max(0) as usize,
        offsets_retention_ms: long("offsets.retention.minutes", d.offsets_retention_ms / 60_000)
            .max(1)
            .saturating_mul(60_000),
        offsets_retention_check_interval_ms: long(
            "offsets.retention.check.interval.ms",
            d.offsets_retention_check_interval_ms,
        )
        .max(1),
    })
}
