//! The broker's shared state: configuration, cluster identity, the metadata (through this
//! node's [`Controller`]), the partition logs and coordinators, and the topic operations that
//! several APIs share (CreateTopics, Metadata auto-creation, DeleteTopics, configs).
//!
//! Topic operations are decided and committed by the controller (records in the metadata log,
//! durable before they are visible); the broker applies what they mean for its logs (Kafka's
//! BrokerMetadataPublisher): creates partition logs before the new image is published, renames
//! a deleted topic's directories for deletion after it, applies config changes to live logs.

use crate::cluster::member::{ClusterMember, NewTopicRequest};
use crate::config::BrokerConfig;
use crate::controller::{self, replication, startup, Controller};
use crate::coordinator::group::{GroupConfig, GroupCoordinator, OFFSETS_TOPIC};
use crate::dynamic_config::{self, DynamicState, Scope};
use crate::fetch_session::{FetchSessionCache, DEFAULT_CACHE_SLOTS, DEFAULT_EVICTION_MS};
use crate::meta_properties::{self, MetaProperties, MetaPropertiesError};
use crate::metadata_publisher::MetadataPublisher;
use crate::producer_ids::ProducerIdManager;
use crate::purgatory::FetchPurgatory;
use crate::replica::fetcher::ReplicaFetcherManager;
use crate::replica::partition::IsrProposal;
use crate::replica::{ReplicaConfig, ReplicaManager};
use crate::topic_config::{self, BrokerLayers};
use crate::topic_policy::TopicPolicies;
use crate::topics;
use sluice_metadata::{ConfigResource, MetadataImage, PartitionRegistration, TopicImage};
use sluice_protocol::error::KafkaError;
use sluice_storage::group_commit::FlushMethod;
use sluice_storage::{
    CleanerConfig, CleanerPassSummary, LogCleaner, LogConfig, LogManager, MessageTimestampType,
    PartitionLog, ProducerStateConfig, StorageError, SystemTime, Time, TopicPartition,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
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
    #[error("cluster metadata: {0}")]
    Metadata(sluice_metadata::MetadataError),
    #[error("writing the cluster metadata failed: {0}")]
    MetadataWrite(String),
    #[error(transparent)]
    Migration(#[from] controller::migration::MigrationError),
    #[error("log storage: {0}")]
    Storage(#[from] StorageError),
    #[error("invalid config {key}: {message}")]
    Config { key: String, message: String },
    #[error(
        "{} holds partition directories (e.g. {}) but no cluster metadata (no {}-0 log and no sluice-topics.toml). \
         Sluice never deletes data it cannot account for: restore the metadata these partitions belong to, \
         or move the partition directories out of the log dirs, and start again",
        dir.display(), example.display(), sluice_metadata::CLUSTER_METADATA_TOPIC
    )]
    MissingMetadata { dir: PathBuf, example: PathBuf },
    #[error("{}{}", unknown_dirs_message(.dirs), .metadata_note.as_deref().map(|n| format!(". Note: {n}")).unwrap_or_default())]
    UnknownPartitionDirs {
        dirs: Vec<startup::UnknownPartitionDir>,
        /// What loading the metadata log found wrong with it, if anything (the likely cause).
        metadata_note: Option<String>,
    },
    #[error("{0}")]
    ForeignCluster(String),
}

fn unknown_dirs_message(dirs: &[startup::UnknownPartitionDir]) -> String {
    let list: Vec<String> = dirs
        .iter()
        .take(10)
        .map(|d| match d.topic_id {
            Some(id) => format!(
                "{} (topic id {})",
                d.dir.display(),
                sluice_storage::kafka_uuid::to_base64(id)
            ),
            None => d.dir.display().to_string(),
        })
        .collect();
    format!(
        "{} partition director{} in the log dirs belong{} to no partition of the cluster metadata: {}{}. \
         Sluice never deletes data it cannot account for: move {} out of the log dirs (or restore the metadata {} belong{} to) and start again",
        dirs.len(),
        if dirs.len() == 1 { "y" } else { "ies" },
        if dirs.len() == 1 { "s" } else { "" },
        list.join(", "),
        if dirs.len() > 10 { ", ..." } else { "" },
        if dirs.len() == 1 { "it" } else { "them" },
        if dirs.len() == 1 { "it" } else { "they" },
        if dirs.len() == 1 { "s" } else { "" },
    )
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

/// A topic as CreateTopics reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    pub name: String,
    pub id: uuid::Uuid,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
}

pub struct Broker {
    pub config: BrokerConfig,
    pub cluster_id: String,
    /// The log dirs' directory ids (meta.properties), in `log.dirs` order.
    pub meta: MetaProperties,
    /// Where the metadata comes from: this node's own controller, or the cluster's.
    role: MetadataRole,
    pub logs: Arc<LogManager>,
    /// The local replicas, leading or following.
    pub replicas: Arc<ReplicaManager>,
    /// The followers' fetchers (a cluster broker's).
    fetchers: Option<Arc<ReplicaFetcherManager>>,
    /// Applies each new metadata image to the logs and replicas.
    publisher: MetadataPublisher,
    pub groups: Arc<GroupCoordinator>,
    /// KIP-848 consumer groups (their offsets are kept by `groups`).
    pub consumer_groups: Arc<crate::coordinator::consumer_group::ConsumerGroupCoordinator>,
    pub purgatory: Arc<FetchPurgatory>,
    pub fetch_sessions: FetchSessionCache,
    pub time: Arc<dyn Time>,
    pub policies: TopicPolicies,
    pub producer_ids: Arc<ProducerIdManager>,
    /// Transactions; state in `__transaction_state`.
    pub txn: Arc<crate::coordinator::transaction::TransactionCoordinator>,
    /// Largest decompressed records section accepted in a produced batch.
    pub max_decompressed_batch_bytes: usize,
    /// The log cleaner (None when log.cleaner.enable is false).
    pub cleaner: Option<LogCleaner>,
    /// Request bytes read ahead of the requests being served (`queued.max.request.bytes`).
    pub request_budget: crate::network::RequestBudget,
    pub started: Instant,
}

/// How a cluster broker replicates: its settings and where ISR changes go (the
/// AlterPartition sender).
pub(crate) struct Replication {
    pub config: ReplicaConfig,
    pub isr_changes: tokio::sync::mpsc::UnboundedSender<IsrProposal>,
}

/// Where a broker's metadata comes from.
pub enum MetadataRole {
    /// The single-node broker's own controller (`process.roles` unset or
    /// `broker,controller`): the metadata and every change to it.
    Combined(Arc<Controller>),
    /// A broker of a KRaft cluster (`process.roles=broker`): the controller quorum decides.
    Member(Arc<ClusterMember>),
}

impl Broker {
    /// Open the data dirs and the metadata: a single-node broker loads (or bootstraps, or
    /// migrates) its own cluster metadata and checks the partition logs against it; a cluster
    /// broker (`process.roles=broker`) is started with [`crate::cluster::start`]. Must run on
    /// a tokio runtime for a cluster broker.
    pub fn open(config: BrokerConfig) -> Result<Arc<Self>, StartError> {
        Self::open_combined(config)
    }

    fn open_combined(config: BrokerConfig) -> Result<Arc<Self>, StartError> {
        let meta = meta_properties::ensure(
            &config.log_dirs,
            config.node_id,
            config.cluster_id.as_deref(),
        )?;
        let time: Arc<dyn Time> = Arc::new(SystemTime);
        let logs = Self::open_logs(&config, time.clone())?;
        let opened = startup::open(&config, &meta, &logs, time.clone())?;
        let controller = opened.controller.clone();
        startup::reconcile(&config, &meta, &opened, &logs)?;
        let producer_ids = Arc::new(ProducerIdManager::new(controller.clone()));
        let broker = Self::assemble(
            config,
            meta,
            logs,
            time,
            MetadataRole::Combined(controller),
            producer_ids,
            None,
            None,
        )?;
        broker.check_topic_configs(&broker.image())?;
        broker.publish(&broker.image());
        broker.groups.load();
        broker.consumer_groups.load();
        broker.txn.load();
        Ok(Arc::new(broker))
    }

    /// The log manager of `config`'s log dirs, loaded (Kafka's LogManager start-up).
    pub(crate) fn open_logs(
        config: &BrokerConfig,
        time: Arc<dyn Time>,
    ) -> Result<Arc<LogManager>, StartError> {
        // Partition logs load with the static topic defaults (the dynamic ones are in the
        // metadata); every topic's own config is applied once the metadata is loaded.
        let default_log_config =
            log_config(&BrokerLayers::static_only(&config.raw), &BTreeMap::new()).map_err(
                |(key, message)| StartError::Config {
                    key: key.to_string(),
                    message,
                },
            )?;
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
        // A failed start drops the LogManager, which releases the logs (indexes trimmed).
        let logs = Arc::new(LogManager::open_with_producer_state_config(
            config.log_dirs.clone(),
            default_log_config,
            time,
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
        Ok(logs)
    }

    /// The broker around its loaded logs and its metadata role: coordinators, purgatory,
    /// replica manager, fetch sessions, cleaner.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assemble(
        config: BrokerConfig,
        meta: MetaProperties,
        logs: Arc<LogManager>,
        time: Arc<dyn Time>,
        role: MetadataRole,
        producer_ids: Arc<ProducerIdManager>,
        fetchers: Option<Arc<ReplicaFetcherManager>>,
        replication: Option<Replication>,
    ) -> Result<Self, StartError> {
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
        let (replica_config, isr_changes) = match replication {
            Some(r) => (r.config, Some(r.isr_changes)),
            None => (ReplicaConfig::default(), None),
        };
        let replicas = Arc::new(ReplicaManager::new(
            config.node_id,
            replica_config,
            time.clone(),
            purgatory.clone(),
            isr_changes,
        ));
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
        Ok(Self {
            cluster_id: meta.cluster_id.clone(),
            meta,
            config,
            role,
            logs,
            replicas,
            fetchers,
            publisher: MetadataPublisher::default(),
            groups,
            consumer_groups,
            purgatory,
            fetch_sessions: FetchSessionCache::new(slots, DEFAULT_EVICTION_MS),
            time,
            policies: TopicPolicies::default(),
            producer_ids,
            txn,
            max_decompressed_batch_bytes,
            cleaner,
            request_budget,
            started: Instant::now(),
        })
    }

    /// Every topic's configs make a valid storage config (start-up: an invalid one stops it,
    /// naming the key and topic).
    fn check_topic_configs(&self, image: &MetadataImage) -> Result<(), StartError> {
        let dynamic = DynamicState::from_image(image, self.node_id());
        let layers = dynamic.layers(&self.config.raw);
        for t in image.topics.iter() {
            log_config(&layers, image.configs.topic(&t.name)).map_err(|(key, message)| {
                StartError::Config {
                    key: format!("{} (topic {})", key, t.name),
                    message,
                }
            })?;
        }
        Ok(())
    }

    /// Make the logs and replicas match `image` (see [`MetadataPublisher`]). Blocks on I/O.
    pub fn publish(&self, image: &Arc<MetadataImage>) -> crate::metadata_publisher::Published {
        self.publisher.publish(self, image)
    }

    /// The image the publisher applied last.
    pub fn publisher_last(&self) -> Arc<MetadataImage> {
        self.publisher.last()
    }

    /// How the metadata reaches this broker.
    pub fn role(&self) -> &MetadataRole {
        &self.role
    }

    /// This node's controller (single-node broker); a cluster broker has none: its metadata
    /// changes go to the controller quorum.
    pub fn controller(&self) -> Result<&Arc<Controller>, ApiError> {
        match &self.role {
            MetadataRole::Combined(c) => Ok(c),
            MetadataRole::Member(_) => Err(ApiError::new(
                KafkaError::NotController,
                "this broker is not a controller: metadata changes go to the controller quorum",
            )),
        }
    }

    /// The cluster this broker is a member of (a cluster broker's).
    pub fn member(&self) -> Option<&Arc<ClusterMember>> {
        match &self.role {
            MetadataRole::Member(m) => Some(m),
            MetadataRole::Combined(_) => None,
        }
    }

    /// The followers' fetchers (a cluster broker's).
    pub fn fetchers(&self) -> Option<&Arc<ReplicaFetcherManager>> {
        self.fetchers.as_ref()
    }

    /// Clean shutdown: Kafka's controlled shutdown in the metadata (the partitions lose their
    /// leader, the registration is fenced: see [`Controller::controlled_shutdown`]), then every
    /// log is closed with its checkpoints and the clean-shutdown marker. Blocks on I/O.
    pub fn shutdown(&self) -> Result<(), StorageError> {
        match &self.role {
            MetadataRole::Combined(c) => {
                if let Err(e) = c.controlled_shutdown() {
                    tracing::error!(
                        "the controlled shutdown's metadata change failed: {}",
                        e.message
                    );
                }
            }
            // A cluster broker's controlled shutdown happened before (the controller moved
            // its leaderships away): see crate::cluster::start.
            MetadataRole::Member(_) => {}
        }
        if let Some(f) = &self.fetchers {
            f.shutdown();
        }
        self.logs.shutdown()
    }

    /// The current cluster metadata; never blocks on I/O.
    pub fn image(&self) -> Arc<MetadataImage> {
        match &self.role {
            MetadataRole::Combined(c) => c.image(),
            MetadataRole::Member(m) => m.image(),
        }
    }

    /// The dynamic broker configs in effect (cluster default and this broker's).
    pub fn dynamic(&self) -> DynamicState {
        DynamicState::from_image(&self.image(), self.node_id())
    }

    /// Create the log of a partition of `image` in the log dir its metadata names (or the
    /// emptiest), with its `partition.metadata`.
    pub(crate) fn create_log(
        &self,
        image: &MetadataImage,
        tp: &TopicPartition,
        topic_id: uuid::Uuid,
        cfg: LogConfig,
    ) -> Result<Arc<PartitionLog>, StorageError> {
        let dir = startup::directory_for(image, &self.config, &self.meta, tp);
        self.logs
            .get_or_create_log_in(tp, topic_id, dir.as_deref(), Some(cfg))
    }

    /// The storage settings of topic `name` with `configs` (its overrides over the broker's
    /// defaults).
    pub fn topic_log_config(
        &self,
        configs: &BTreeMap<String, String>,
    ) -> Result<LogConfig, ApiError> {
        log_config(&self.dynamic().layers(&self.config.raw), configs).map_err(|(key, message)| {
            ApiError::new(
                KafkaError::InvalidConfig,
                format!("Invalid value for configuration {key}: {message}"),
            )
        })
    }

    /// The local replica of a partition (Kafka's getPartitionOrError):
    /// UNKNOWN_TOPIC_OR_PARTITION when the metadata has no such partition,
    /// NOT_LEADER_OR_FOLLOWER when this broker holds no replica of it.
    pub fn local_partition(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Arc<crate::replica::Partition>, KafkaError> {
        if let Some(p) = self.replicas.partition(topic, partition) {
            return Ok(p);
        }
        let known = self
            .image()
            .topics
            .get(topic)
            .is_some_and(|t| t.partition(partition).is_some());
        Err(if known {
            KafkaError::NotLeaderOrFollower
        } else {
            KafkaError::UnknownTopicOrPartition
        })
    }

    /// The log of a partition this broker leads (see [`local_partition`](Self::local_partition);
    /// NOT_LEADER_OR_FOLLOWER on a follower).
    pub fn leader_log(&self, topic: &str, partition: i32) -> Result<Arc<PartitionLog>, KafkaError> {
        let p = self.local_partition(topic, partition)?;
        if p.is_leader() {
            Ok(p.log().clone())
        } else {
            Err(KafkaError::NotLeaderOrFollower)
        }
    }

    /// The log of a partition, if the topic and partition exist.
    pub fn log(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        self.logs
            .get_log(&TopicPartition::new(topic.to_string(), partition))
    }

    /// A partition's registration (leader, epochs) in the current metadata.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<PartitionRegistration> {
        self.image()
            .topics
            .get(topic)
            .and_then(|t| t.partition(partition).cloned())
    }

    /// Create `__consumer_offsets` on first use, as Kafka does: offsets.topic.num.partitions
    /// partitions (offsets.topic.replication.factor replicas in a cluster), compacted,
    /// 100 MiB segments (offsets.topic.segment.bytes). A cluster broker asks the controller in
    /// the background and answers COORDINATOR_NOT_AVAILABLE meanwhile.
    pub fn ensure_offsets_topic(&self) -> Result<(), ApiError> {
        if self.image().topics.get(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let configs = vec![
            ("cleanup.policy".to_string(), "compact".to_string()),
            (
                "segment.bytes".to_string(),
                self.config
                    .raw
                    .get("offsets.topic.segment.bytes")
                    .unwrap_or("104857600")
                    .trim()
                    .to_string(),
            ),
            ("compression.type".to_string(), "producer".to_string()),
        ];
        if let Some(member) = self.member() {
            member.create_in_background(NewTopicRequest {
                name: OFFSETS_TOPIC.to_string(),
                partitions: self.config.offsets_topic_num_partitions,
                replication_factor: self
                    .config
                    .get_int("offsets.topic.replication.factor")
                    .unwrap_or(3) as i16,
                configs,
            });
            return Err(ApiError::new(
                KafkaError::CoordinatorNotAvailable,
                "__consumer_offsets is being created",
            ));
        }
        let t = NewTopic {
            name: OFFSETS_TOPIC.to_string(),
            num_partitions: self.config.offsets_topic_num_partitions,
            replication_factor: -1,
            assignments: Vec::new(),
            configs: configs.into_iter().map(|(k, v)| (k, Some(v))).collect(),
        };
        match self.create_topic(&t, false) {
            Ok(_) => Ok(()),
            Err(e) if e.code == KafkaError::TopicAlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Create `__transaction_state` on first use, as Kafka does:
    /// transaction.state.log.num.partitions partitions (transaction.state.log.replication.factor
    /// replicas in a cluster, transaction.state.log.min.isr in sync), compacted, uncompressed,
    /// transaction.state.log.segment.bytes segments. A cluster broker asks the controller in
    /// the background and answers COORDINATOR_NOT_AVAILABLE meanwhile.
    pub fn ensure_transaction_state_topic(&self) -> Result<(), ApiError> {
        use crate::coordinator::transaction::TRANSACTION_STATE_TOPIC;
        if self.image().topics.get(TRANSACTION_STATE_TOPIC).is_some() {
            return Ok(());
        }
        let segment_bytes = self
            .config
            .raw
            .get("transaction.state.log.segment.bytes")
            .unwrap_or("104857600")
            .trim()
            .to_string();
        let mut configs = vec![
            ("cleanup.policy".to_string(), "compact".to_string()),
            ("segment.bytes".to_string(), segment_bytes),
            ("compression.type".to_string(), "uncompressed".to_string()),
            (
                "unclean.leader.election.enable".to_string(),
                "false".to_string(),
            ),
        ];
        if let Some(member) = self.member() {
            configs.push((
                "min.insync.replicas".to_string(),
                self.config
                    .get_int("transaction.state.log.min.isr")
                    .unwrap_or(2)
                    .to_string(),
            ));
            member.create_in_background(NewTopicRequest {
                name: TRANSACTION_STATE_TOPIC.to_string(),
                partitions: self.txn.config().partitions,
                replication_factor: self
                    .config
                    .get_int("transaction.state.log.replication.factor")
                    .unwrap_or(3) as i16,
                configs,
            });
            return Err(ApiError::new(
                KafkaError::CoordinatorNotAvailable,
                "__transaction_state is being created",
            ));
        }
        let t = NewTopic {
            name: TRANSACTION_STATE_TOPIC.to_string(),
            num_partitions: self.txn.config().partitions,
            replication_factor: -1,
            assignments: Vec::new(),
            configs: configs.into_iter().map(|(k, v)| (k, Some(v))).collect(),
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
                let dynamic = self.dynamic();
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
        let dynamic = self.dynamic();
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
    ) -> Result<(CreatedTopic, BTreeMap<String, String>), ApiError> {
        topics::validate_name(&t.name)
            .map_err(|m| ApiError::new(KafkaError::InvalidTopicException, m))?;
        let (partitions, replication_factor) = self.check_new_topic(&self.image(), t)?;
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
        // The overrides must make a storage config with the broker's defaults.
        self.topic_log_config(&configs)?;
        if validate_only {
            // Kafka returns a (never used) fresh topic id for a validate-only creation too.
            let created = CreatedTopic {
                name: t.name.clone(),
                id: crate::kafka_uuid::random(),
                partitions,
                replication_factor,
                configs: configs.clone(),
            };
            return Ok((created, configs));
        }
        let controller = self.controller()?;
        let (created, _) = controller.commit(
            |image| {
                // Decided again on the image the change applies to: a concurrent creation
                // may have won.
                self.check_new_topic(image, t)?;
                let mut id = crate::kafka_uuid::random();
                while image.topics.get_by_id(&id).is_some() {
                    id = crate::kafka_uuid::random();
                }
                let dirs = self.logs.pick_log_dirs(partitions as usize);
                let regs: Vec<PartitionRegistration> = dirs
                    .iter()
                    .map(|d| replication::new_partition(self.node_id(), self.dir_id(d)))
                    .collect();
                let records = replication::create_topic_records(
                    controller.metadata_version(),
                    &t.name,
                    id,
                    &regs,
                    &configs,
                );
                Ok((records, id))
            },
            |image| {
                // The logs exist before the topic is visible (a concurrent FindCoordinator
                // must not find __consumer_offsets before its partitions exist).
                self.publish(image);
            },
        )?;
        tracing::info!(topic = %t.name, partitions, "created topic");
        Ok((
            CreatedTopic {
                name: t.name.clone(),
                id: created,
                partitions,
                replication_factor,
                configs: configs.clone(),
            },
            configs,
        ))
    }

    /// The directory id of log dir `dir`.
    fn dir_id(&self, dir: &std::path::Path) -> uuid::Uuid {
        self.config
            .log_dirs
            .iter()
            .position(|d| d == dir)
            .and_then(|i| self.meta.directory_ids.get(i).copied())
            .unwrap_or_else(uuid::Uuid::nil)
    }

    /// Kafka's controller checks of a new topic against `image`: existence, collision,
    /// partitions, replication factor, manual assignment. Returns (partitions, replication
    /// factor).
    fn check_new_topic(&self, image: &MetadataImage, t: &NewTopic) -> Result<(i32, i16), ApiError> {
        if image.topics.get(&t.name).is_some() {
            return Err(ApiError::new(
                KafkaError::TopicAlreadyExists,
                format!("Topic '{}' already exists.", t.name),
            ));
        }
        if let Some(existing) = image.topics.collision(&t.name) {
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
                self.check_replicas(replicas, None)?;
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
        Ok((partitions, replication_factor))
    }

    /// A manual assignment's replica list: not empty, no broker twice, only registered
    /// brokers (this one), and (for new partitions of a topic) its replication factor.
    fn check_replicas(&self, replicas: &[i32], rf: Option<i16>) -> Result<(), ApiError> {
        if replicas.is_empty() {
            return Err(ApiError::new(
                KafkaError::InvalidReplicaAssignment,
                if rf.is_some() {
                    "The manual partition assignment includes an empty replica list.".to_string()
                } else {
                    "The manual partition assignment includes an empty replica list for partition."
                        .to_string()
                },
            ));
        }
        let mut seen = replicas.to_vec();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != replicas.len() {
            return Err(ApiError::new(
                KafkaError::InvalidReplicaAssignment,
                format!(
                    "The manual partition assignment includes the broker {} more than once.",
                    replicas[0]
                ),
            ));
        }
        if let Some(b) = replicas.iter().find(|b| **b != self.node_id()) {
            return Err(ApiError::new(
                KafkaError::InvalidReplicaAssignment,
                format!("The manual partition assignment includes broker {b}, but no such broker is registered."),
            ));
        }
        if let Some(rf) = rf {
            if replicas.len() != rf as usize {
                return Err(ApiError::new(
                    KafkaError::InvalidReplicaAssignment,
                    format!(
                        "The manual partition assignment includes a partition with {} replica(s), but this is not consistent with previous partitions, which have {} replica(s).",
                        replicas.len(),
                        rf
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Replace topic `name`'s config overrides (AlterConfigs / IncrementalAlterConfigs):
    /// validated (the message names the key), committed, then applied to the live logs.
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
        if self.image().topics.get(name).is_none() {
            return Err(unknown());
        }
        // The combination must make a valid storage config too.
        self.topic_log_config(&configs)?;
        if validate_only {
            return Ok(());
        }
        let resource = ConfigResource::topic(name);
        self.controller()?.commit(
            |image| {
                if image.topics.get(name).is_none() {
                    return Err(unknown());
                }
                let records =
                    replication::config_diff(&resource, image.configs.get(&resource), &configs);
                Ok((records, ()))
            },
            |image| {
                self.publish(image);
            },
        )?;
        tracing::info!(topic = %name, configs = ?configs, "topic configs changed");
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
    /// with INVALID_REQUEST as Kafka does; committed, then every topic's effective configs are
    /// re-applied to the live logs.
    pub fn alter_broker_configs(
        &self,
        scope: Scope,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), ApiError>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let resource = match scope {
            Scope::ClusterDefault => ConfigResource::cluster_default(),
            Scope::ThisBroker => ConfigResource::broker(self.node_id()),
        };
        if validate_only {
            self.propose_broker_configs(&self.image(), scope, change)?;
            return Ok(());
        }
        self.controller()?.commit(
            |image| {
                // Values the image holds that are not valid (ignored, as Kafka ignores them)
                // are dropped by the change.
                let new = self.propose_broker_configs(image, scope, change)?;
                let records =
                    replication::config_diff(&resource, image.configs.get(&resource), &new);
                Ok((records, ()))
            },
            |image| {
                self.publish(image);
            },
        )?;
        tracing::info!(?scope, "dynamic broker configs changed");
        Ok(())
    }

    /// The dynamic configs of `scope` after `change`, checked on `image` as Kafka checks them:
    /// static-only keys and invalid values refused, and every topic must still get a valid
    /// storage config from the new defaults.
    fn propose_broker_configs(
        &self,
        image: &MetadataImage,
        scope: Scope,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), ApiError>,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        let raw = &self.config.raw;
        let mut state = DynamicState::from_image(image, self.node_id());
        let map = match scope {
            Scope::ClusterDefault => &mut state.cluster_default,
            Scope::ThisBroker => &mut state.broker,
        };
        change(map)?;
        let new = map.clone();
        dynamic_config::validate(&state, scope, raw)
            .map_err(|m| ApiError::new(KafkaError::InvalidRequest, m))?;
        let layers = state.layers(raw);
        log_config(&layers, &BTreeMap::new())
            .map_err(|(k, m)| ApiError::new(KafkaError::InvalidRequest, format!("{k}: {m}")))?;
        for t in image.topics.iter() {
            log_config(&layers, image.configs.topic(&t.name))
                .map_err(|(k, m)| ApiError::new(KafkaError::InvalidRequest, format!("{k}: {m}")))?;
        }
        Ok(new)
    }

    /// Grow topic `name` to `count` partitions (CreatePartitions). `assignments`, if given,
    /// lists the replicas of each new partition. Existing partitions are untouched; the new
    /// partitions' logs exist before the new count is visible.
    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Option<&[Vec<i32>]>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let check = |image: &MetadataImage| -> Result<Arc<TopicImage>, ApiError> {
            let t = image.topics.get(name).cloned().ok_or_else(|| {
                ApiError::new(
                    KafkaError::UnknownTopicOrPartition,
                    format!("Unable to find topic {name}"),
                )
            })?;
            let current = t.partition_count();
            if count == current {
                return Err(ApiError::new(
                    KafkaError::InvalidPartitions,
                    format!("Topic already has {current} partition(s)."),
                ));
            }
            if count < current {
                return Err(ApiError::new(
                    KafkaError::InvalidPartitions,
                    format!(
                        "The topic {name} currently has {current} partition(s); {count} would not be an increase."
                    ),
                ));
            }
            if count > MAX_PARTITIONS_PER_TOPIC {
                return Err(ApiError::new(
                    KafkaError::InvalidPartitions,
                    format!("Number of partitions {count} exceeds this broker's limit of {MAX_PARTITIONS_PER_TOPIC} per topic."),
                ));
            }
            let additional = count - current;
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
                    self.check_replicas(replicas, Some(t.replication_factor()))?;
                }
            }
            Ok(t)
        };
        let t = check(&self.image())?;
        if validate_only {
            return Ok(());
        }
        // The new partitions' logs get the topic's configs: they must make a storage config.
        self.topic_log_config(self.image().configs.topic(name))?;
        let from = t.partition_count();
        let controller = self.controller()?;
        controller.commit(
            |image| {
                let t = check(image)?;
                let first = t.partition_count();
                let dirs = self.logs.pick_log_dirs((count - first) as usize);
                let regs: Vec<PartitionRegistration> = dirs
                    .iter()
                    .map(|d| replication::new_partition(self.node_id(), self.dir_id(d)))
                    .collect();
                let records = replication::partition_records(
                    controller.metadata_version(),
                    t.id,
                    first,
                    &regs,
                );
                Ok((records, ()))
            },
            |image| {
                self.publish(image);
            },
        )?;
        tracing::info!(topic = %name, from, to = count, "added partitions");
        Ok(())
    }

    /// Create `name` with the broker defaults, as auto-creation does. An existing topic is fine.
    /// A cluster broker asks the controller in the background (num.partitions,
    /// default.replication.factor) and answers LEADER_NOT_AVAILABLE meanwhile, as Kafka's
    /// AutoTopicCreationManager.
    pub fn auto_create_topic(&self, name: &str) -> Result<(), ApiError> {
        if let Some(member) = self.member() {
            member.create_in_background(NewTopicRequest {
                name: name.to_string(),
                partitions: self.config.num_partitions,
                replication_factor: self.config.default_replication_factor,
                configs: Vec::new(),
            });
            return Err(ApiError::new(
                KafkaError::LeaderNotAvailable,
                format!("topic {name} is being created"),
            ));
        }
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

    /// Delete a topic: a RemoveTopicRecord (durable), then its partitions' directories are
    /// renamed `-delete` and removed after file.delete.delay.ms (Kafka's protocol). A stop in
    /// between is finished at the next start (the log shows the removal).
    pub fn delete_topic(&self, name: &str) -> Result<Arc<TopicImage>, ApiError> {
        if !self.config.delete_topic_enable {
            return Err(ApiError::new(
                KafkaError::TopicDeletionDisabled,
                "Topic deletion is disabled.",
            ));
        }
        let unknown = || {
            ApiError::new(
                KafkaError::UnknownTopicOrPartition,
                "This server does not host this topic-partition.",
            )
        };
        // The logs are renamed for deletion once the removal is durable (what fails is
        // finished at the next start: the log shows the removal).
        let (topic, _) = self.controller()?.commit(
            |image| {
                let t = image.topics.get(name).cloned().ok_or_else(unknown)?;
                Ok((vec![replication::remove_topic_record(t.id)], t))
            },
            |image| {
                self.publish(image);
            },
        )?;
        tracing::info!(topic = %name, "deleted topic");
        Ok(topic)
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
