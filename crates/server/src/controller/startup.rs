//! Start-up of the metadata: open `__cluster_metadata-0`, load it, and bring it in line with
//! this node and its log dirs before anything is served.
//!
//! 1. [`open`], once the log dirs are loaded (partition directories are loaded and recovered,
//!    never removed): the metadata log (in `metadata.log.dir`, else the first log dir) is
//!    recovered in full and replayed into an image; this node starts a new epoch as the
//!    quorum's leader.
//! 2. [`reconcile`]:
//!    - a new cluster gets its bootstrap records (Kafka's `bootstrap.checkpoint` if `kafka-storage
//!      format` left one, else Sluice's), and a data dir written by Sluice before the metadata
//!      log existed is migrated (controller::migration);
//!    - every partition directory must belong to a partition of the metadata (same topic id,
//!      from `partition.metadata`). One whose topic the log shows deleted (the broker stopped
//!      between the RemoveTopicRecord and the directory's `-delete` rename) finishes its
//!      deletion. Any other stops the start-up with an error naming it: nothing is removed that
//!      the broker did not itself decide to remove.
//!    - this broker registers and takes the lead of every partition (controller::registration);
//!    - logs missing for partitions of the metadata are created, in the log dir the metadata
//!      assigns (or the emptiest one), with `partition.metadata`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_metadata::{LocalVoter, MetadataImage, MetadataLog, RemovedTopic, SnapshotPolicy};
use sluice_storage::{LogConfig, LogManager, Time, TopicPartition};
use uuid::Uuid;

use super::registration::{self, LocalBroker};
use super::{bootstrap, features, migration, Controller};
use crate::broker::StartError;
use crate::config::BrokerConfig;
use crate::meta_properties::MetaProperties;

/// What [`open`] found.
pub struct OpenedMetadata {
    pub controller: Arc<Controller>,
    pub removed_topics: Vec<RemovedTopic>,
    /// The dir holding `__cluster_metadata-0`.
    pub metadata_dir: PathBuf,
    /// What loading found wrong with the metadata log (cut by recovery, behind its snapshot,
    /// a snapshot passed over), for errors it may explain.
    pub note: Option<String>,
}

/// The log dir of the metadata log: `metadata.log.dir`, else the first of `log.dirs`.
pub fn metadata_dir(config: &BrokerConfig) -> PathBuf {
    match config.get_string("metadata.log.dir").map(str::trim) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => config.log_dirs[0].clone(),
    }
}

/// The storage settings of the metadata log (Kafka's KafkaRaftLog.createLog): 1 GiB segments
/// (`metadata.log.segment.bytes`), no retention, every append fsynced before it counts.
pub(crate) fn metadata_log_config(config: &BrokerConfig) -> LogConfig {
    let d = LogConfig::default();
    LogConfig {
        segment_bytes: config
            .get_int("metadata.log.segment.bytes")
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1024 * 1024 * 1024),
        segment_ms: config
            .get_long("metadata.log.segment.ms")
            .unwrap_or(d.segment_ms),
        retention_ms: -1,
        retention_bytes: -1,
        fsync_before_ack: true,
        flush_messages: i64::MAX,
        // Kafka's internal max batch size (8 MiB) plus the batch header.
        max_message_bytes: 8 * 1024 * 1024 + 1024,
        ..d
    }
}

fn snapshot_policy(config: &BrokerConfig) -> SnapshotPolicy {
    let d = SnapshotPolicy::default();
    SnapshotPolicy {
        max_bytes_between: config
            .get_long("metadata.log.max.record.bytes.between.snapshots")
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(d.max_bytes_between),
        max_interval_ms: config
            .get_long("metadata.log.max.snapshot.interval.ms")
            .unwrap_or(d.max_interval_ms),
    }
}

/// Step 1 (see the module docs), once the log dirs are loaded (`logs`).
pub fn open(
    config: &BrokerConfig,
    meta: &MetaProperties,
    logs: &LogManager,
    time: Arc<dyn Time>,
) -> Result<OpenedMetadata, StartError> {
    let dir = metadata_dir(config);
    let directory_id = config
        .log_dirs
        .iter()
        .position(|d| *d == dir)
        .and_then(|i| meta.directory_ids.get(i).copied())
        .unwrap_or_else(Uuid::nil);
    let log = logs.open_metadata_log(metadata_log_config(config), Some(&dir))?;
    let partition_dir = log.dir().to_path_buf();
    let mut notes = Vec::new();
    if let Some(t) = &log.load_stats().truncated {
        notes.push(format!(
            "the metadata log {} held invalid data: recovery cut it at offset {} ({} bytes)",
            t.file.display(),
            t.offset,
            t.bytes
        ));
    }
    let (mlog, loaded) = MetadataLog::open(
        log,
        LocalVoter {
            node_id: config.node_id,
            directory_id,
        },
        time.clone(),
        snapshot_policy(config),
    )
    .map_err(StartError::Metadata)?;
    let s = &loaded.summary;
    tracing::info!(
        dir = %partition_dir.display(),
        snapshot = ?s.snapshot.map(|id| id.file_name()),
        records = s.records,
        log_end_offset = s.log_end_offset,
        epoch = s.epoch,
        "loaded the cluster metadata"
    );
    if s.incomplete_transaction {
        tracing::warn!(
            "the metadata log ends inside a metadata transaction; its records were not applied"
        );
        notes.push("the metadata log ends inside a metadata transaction".into());
    }
    for id in &s.unreadable_snapshots {
        notes.push(format!(
            "metadata snapshot {} could not be read",
            id.file_name()
        ));
    }
    if let Some(id) = s.snapshot.filter(|id| id.end_offset > s.log_end_offset) {
        notes.push(format!(
            "the metadata log ended at offset {}, before its snapshot {}",
            s.log_end_offset,
            id.file_name()
        ));
    }
    let removed_topics = loaded.removed_topics.clone();
    let controller = Arc::new(Controller::new(config.node_id, mlog, loaded, time));
    Ok(OpenedMetadata {
        controller,
        removed_topics,
        metadata_dir: dir,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}

/// A partition directory the metadata does not account for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPartitionDir {
    pub dir: PathBuf,
    pub topic_id: Option<Uuid>,
}

/// Step 2 (see the module docs). Returns where each partition lives.
pub fn reconcile(
    config: &BrokerConfig,
    meta: &MetaProperties,
    opened: &OpenedMetadata,
    logs: &LogManager,
) -> Result<(), StartError> {
    let controller = &opened.controller;
    let first_dir = &config.log_dirs[0];
    let dir_id = |path: &Path| -> Uuid {
        let parent = path.parent().unwrap_or(path);
        config
            .log_dirs
            .iter()
            .position(|d| d == parent)
            .and_then(|i| meta.directory_ids.get(i).copied())
            .unwrap_or_else(Uuid::nil)
    };
    if controller.image().metadata_version().is_none() {
        // A new cluster, or a dir from before the metadata log.
        if let Some(kraft) = standalone_quorum(config, meta, &opened.metadata_dir) {
            tracing::info!(
                "new cluster with a dynamic controller quorum (controller.quorum.bootstrap.servers): kraft.version 1, this node its only voter"
            );
            controller
                .log()
                .format_kraft(kraft)
                .map_err(StartError::Metadata)?;
        }
        let mut records = match bootstrap::read_kafka_bootstrap_file(&opened.metadata_dir)
            .map_err(StartError::Metadata)?
        {
            Some(r) => {
                tracing::info!(
                    "new cluster: bootstrap records from {}",
                    bootstrap::BOOTSTRAP_FILE
                );
                r
            }
            None => bootstrap::records(config.raw.get("min.insync.replicas").unwrap_or("1")),
        };
        if migration::present(first_dir) {
            let old = migration::read(first_dir)?;
            tracing::info!(
                topics = old.topics.len(),
                "migrating sluice-topics.toml, sluice-broker-configs.toml and sluice-producer-id-block into the metadata log"
            );
            let placement: BTreeMap<(String, i32), Uuid> = logs
                .all_logs()
                .iter()
                .map(|l| {
                    let tp = l.topic_partition();
                    ((tp.topic.clone(), tp.partition), dir_id(l.dir()))
                })
                .collect();
            // The partitions' logs learn their topic ids first (a crash before the commit
            // migrates again, with the same ids).
            for (t, id) in &old.topics {
                for p in 0..t.partitions {
                    if let Some(log) = logs.get_log(&TopicPartition::new(t.name.clone(), p)) {
                        log.assign_topic_id(*id)?;
                    }
                }
            }
            let least_loaded = dir_id(&first_dir.join("x"));
            records.extend(bootstrap::in_transaction(
                "Sluice metadata migration",
                migration::records(
                    &old,
                    sluice_metadata::MetadataVersion::LATEST,
                    config.node_id,
                    |t, p| {
                        placement
                            .get(&(t.to_string(), p))
                            .copied()
                            .unwrap_or(least_loaded)
                    },
                ),
            ));
            controller
                .commit_records(records)
                .map_err(api_start_error)?;
            migration::retire(first_dir)?;
        } else {
            if let Some(log) = logs.all_logs().first() {
                return Err(StartError::MissingMetadata {
                    dir: opened.metadata_dir.clone(),
                    example: log.dir().to_path_buf(),
                });
            }
            controller
                .commit_records(records)
                .map_err(api_start_error)?;
        }
    } else if migration::present(first_dir) {
        // The migration was committed; the broker stopped before renaming the old files.
        migration::retire(first_dir)?;
    }

    let image = controller.image();
    registration::check_single_node(&image, config.node_id)
        .map_err(|e| StartError::ForeignCluster(e.to_string()))?;
    for line in features::unserved(&image) {
        tracing::info!("{line}");
    }
    crate::dynamic_config::report_invalid(&image, config.node_id);

    // Every partition directory must be a partition of the metadata.
    let mut unknown = Vec::new();
    for log in logs.all_logs() {
        let tp = log.topic_partition().clone();
        let topic_id = log.topic_id();
        let known = image.topics.get(&tp.topic).filter(|t| {
            t.partitions.contains_key(&tp.partition) && topic_id.is_none_or(|id| id == t.id)
        });
        match known {
            Some(t) => {
                if topic_id.is_none() {
                    log.assign_topic_id(t.id)?;
                }
            }
            None => {
                let removed = topic_id.and_then(|id| {
                    opened
                        .removed_topics
                        .iter()
                        .find(|r| r.id == id && r.name == tp.topic)
                });
                match removed {
                    Some(r) => {
                        tracing::info!(%tp, "finishing the deletion of topic {} (removed at metadata offset {})", r.name, r.offset);
                        logs.delete_log(&tp)?;
                    }
                    None => unknown.push(UnknownPartitionDir {
                        dir: log.dir().to_path_buf(),
                        topic_id,
                    }),
                }
            }
        }
    }
    if !unknown.is_empty() {
        return Err(StartError::UnknownPartitionDirs {
            dirs: unknown,
            metadata_note: opened.note.clone(),
        });
    }

    // Registration and leadership.
    let placement: BTreeMap<(String, i32), Uuid> = logs
        .all_logs()
        .iter()
        .map(|l| {
            let tp = l.topic_partition();
            ((tp.topic.clone(), tp.partition), dir_id(l.dir()))
        })
        .collect();
    let me = LocalBroker {
        node_id: config.node_id,
        endpoints: config
            .advertised
            .iter()
            .map(|e| (e.listener.clone(), e.host.clone(), e.port, 0))
            .collect(),
        rack: config.raw.get("broker.rack").map(|r| r.trim().to_string()),
        log_dir_ids: meta.directory_ids.clone(),
    };
    let records =
        registration::start_records(&image, &me, &placement, controller.log().end_offset());
    if !records.is_empty() {
        controller
            .commit_records(records)
            .map_err(api_start_error)?;
    }
    Ok(())
}

/// The voter set of a new cluster whose config asks for a dynamic quorum, as `kafka-storage
/// format --standalone` writes it: no static `controller.quorum.voters`, a
/// `controller.quorum.bootstrap.servers`, and a controller listener to name this node's
/// endpoint. Otherwise the cluster has static voters (kraft.version 0): Kafka started on these
/// dirs then takes them from its `controller.quorum.voters`.
fn standalone_quorum(
    config: &BrokerConfig,
    meta: &MetaProperties,
    metadata_dir: &Path,
) -> Option<sluice_metadata::KRaftState> {
    let set = |key: &str| config.raw.get(key).is_some_and(|v| !v.trim().is_empty());
    if set("controller.quorum.voters") || !set("controller.quorum.bootstrap.servers") {
        return None;
    }
    let endpoint = config.controller_listener.as_ref()?;
    let directory_id = config
        .log_dirs
        .iter()
        .position(|d| d == metadata_dir)
        .and_then(|i| meta.directory_ids.get(i).copied())?;
    Some(MetadataLog::standalone_voters(
        sluice_metadata::LocalVoter {
            node_id: config.node_id,
            directory_id,
        },
        vec![sluice_protocol::metadata::Endpoint {
            name: endpoint.listener.clone(),
            host: endpoint.host.clone(),
            port: endpoint.port,
            ..Default::default()
        }],
    ))
}

fn api_start_error(e: crate::broker::ApiError) -> StartError {
    StartError::MetadataWrite(e.message)
}

/// The log dir a new partition goes to: the one its metadata names, else the emptiest.
pub fn directory_for(
    image: &MetadataImage,
    config: &BrokerConfig,
    meta: &MetaProperties,
    tp: &TopicPartition,
) -> Option<PathBuf> {
    let t = image.topics.get(&tp.topic)?;
    let dir = t.partition(tp.partition)?.directory(config.node_id)?;
    let i = meta.directory_ids.iter().position(|d| *d == dir)?;
    config.log_dirs.get(i).cloned()
}
