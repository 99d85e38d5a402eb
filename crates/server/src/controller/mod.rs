//! This node's controller: the only voter of a single-node KRaft quorum, and so the only writer
//! of the metadata log `__cluster_metadata-0` (Kafka's QuorumController, without the quorum).
//!
//! Every change to the cluster's metadata — topics and partitions, topic and broker configs,
//! producer-id blocks, features, the broker's registration — is decided here as Kafka's
//! control managers decide it, written as Kafka's metadata records, made durable, replayed into
//! a new [`MetadataImage`] and only then published: readers take the current image
//! ([`Controller::image`]) and never wait on I/O.
//!
//! - [`replication`]: the records of topics, partitions and configs (Kafka's
//!   ReplicationControlManager and ConfigurationControlManager)
//! - [`producer_ids`]: producer-id blocks (ProducerIdControlManager)
//! - [`features`]: the features Sluice supports and finalizes (FeatureControlManager)
//! - [`registration`]: this broker's registration and leadership at start-up
//! - [`startup`]: loading the metadata and bringing it in line with this node at start-up
//! - [`bootstrap`], [`migration`]: the records of a new cluster, and of a data dir written by
//!   Sluice before the metadata log existed (sluice-topics.toml and friends)
//!
//! Blocking I/O: [`Controller::commit`] appends and fsyncs. Callers on the async runtime go
//! through [`crate::blocking::run`].

pub mod bootstrap;
pub mod features;
pub mod migration;
pub mod producer_ids;
pub mod registration;
pub mod replication;
pub mod startup;

use std::sync::{Arc, Mutex, RwLock};

use sluice_metadata::{LoadedMetadata, MetadataError, MetadataImage, MetadataLog, MetadataVersion};
use sluice_protocol::error::KafkaError;
use sluice_protocol::metadata::{MetadataRecord, VersionedRecord};
use sluice_storage::Time;

use crate::broker::ApiError;

/// See the module docs.
pub struct Controller {
    node_id: i32,
    log: MetadataLog,
    image: RwLock<Arc<MetadataImage>>,
    /// Serializes changes: decide on the current image, append, replay, publish.
    write: Mutex<()>,
    time: Arc<dyn Time>,
    producer_ids: producer_ids::ProducerIdControlManager,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("node_id", &self.node_id)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

/// A change the controller made: the image it produced and the offset of its last record.
#[derive(Debug, Clone)]
pub struct Committed {
    pub image: Arc<MetadataImage>,
    pub last_offset: i64,
}

impl Controller {
    pub fn new(
        node_id: i32,
        log: MetadataLog,
        loaded: LoadedMetadata,
        time: Arc<dyn Time>,
    ) -> Self {
        Self {
            node_id,
            log,
            image: RwLock::new(Arc::new(loaded.image)),
            write: Mutex::new(()),
            time,
            producer_ids: producer_ids::ProducerIdControlManager::default(),
        }
    }

    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// The current metadata; never blocks on I/O.
    pub fn image(&self) -> Arc<MetadataImage> {
        match self.image.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The metadata.version in effect (every cluster Sluice opens or creates has one).
    pub fn metadata_version(&self) -> MetadataVersion {
        self.image()
            .metadata_version()
            .unwrap_or(MetadataVersion::LATEST)
    }

    pub fn log(&self) -> &MetadataLog {
        &self.log
    }

    /// Decide a change on the current image and commit it: `decide` returns the records (or
    /// refuses); they are replayed on a copy of the image (a record that does not apply is
    /// refused before anything is written), appended and fsynced, then `apply` runs with the
    /// new image (e.g. to create partition logs) and the image is published. `apply` runs
    /// after the records are durable: whatever it fails to do is redone from the image at
    /// the next start, so its errors are its own to report. Blocks on I/O.
    pub fn commit<T>(
        &self,
        decide: impl FnOnce(&MetadataImage) -> Result<(Vec<VersionedRecord>, T), ApiError>,
        apply: impl FnOnce(&Arc<MetadataImage>),
    ) -> Result<(T, Committed), ApiError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.image();
        let (records, out) = decide(&current)?;
        let committed = self.append_locked(&current, &records)?;
        apply(&committed.image);
        self.publish(committed.image.clone());
        self.maybe_snapshot(&committed.image);
        Ok((out, committed))
    }

    fn append_locked(
        &self,
        current: &MetadataImage,
        records: &[VersionedRecord],
    ) -> Result<Committed, ApiError> {
        if records.is_empty() {
            return Ok(Committed {
                image: Arc::new(current.clone()),
                last_offset: current.provenance.last_offset,
            });
        }
        let mut next = current.clone();
        for r in records {
            next.replay(&r.record).map_err(|e| {
                ApiError::new(
                    KafkaError::UnknownServerError,
                    format!("metadata change refused: {e}"),
                )
            })?;
        }
        let last_offset = self.log.append(records).map_err(storage_error)?;
        next.provenance.last_offset = last_offset;
        next.provenance.last_epoch = self.log.epoch();
        next.provenance.last_timestamp = self.time.milliseconds();
        Ok(Committed {
            image: Arc::new(next),
            last_offset,
        })
    }

    fn publish(&self, image: Arc<MetadataImage>) {
        let mut cur = self.image.write().unwrap_or_else(|p| p.into_inner());
        *cur = image;
    }

    fn maybe_snapshot(&self, image: &MetadataImage) {
        if let Err(e) = self.log.maybe_snapshot(image) {
            // The log holds every change; a missing snapshot only makes the next start slower.
            tracing::error!("writing a metadata snapshot failed: {e}");
        }
    }

    /// Commit records decided elsewhere (start-up: bootstrap, migration, registration).
    pub fn commit_records(&self, records: Vec<VersionedRecord>) -> Result<Committed, ApiError> {
        self.commit(|_| Ok((records, ())), |_| {}).map(|(_, c)| c)
    }

    /// This broker's controlled shutdown, as Kafka's controller carries it out for a broker
    /// that is the only replica of its partitions: every partition it leads loses its leader
    /// (PartitionChangeRecord, leader -1: the leader epoch moves on, the ISR stays), then its
    /// registration is fenced. The next start takes the leadership back in a new epoch, so
    /// epochs move across a restart as on Kafka, and a Kafka node started on these log dirs
    /// registers at once.
    pub fn controlled_shutdown(&self) -> Result<(), ApiError> {
        let node = self.node_id;
        self.commit(
            |image| {
                let mv = image.metadata_version().unwrap_or(MetadataVersion::LATEST);
                let version = mv.partition_record_version();
                let mut records = Vec::new();
                for t in image.topics.iter() {
                    for (p, reg) in &t.partitions {
                        if reg.leader == node {
                            records.push(versioned(
                                MetadataRecord::PartitionChange(
                                    sluice_protocol::metadata::PartitionChangeRecord {
                                        partition_id: *p,
                                        topic_id: t.id,
                                        leader: -1,
                                        ..Default::default()
                                    },
                                ),
                                version,
                            ));
                        }
                    }
                }
                if let Some(b) = image.cluster.brokers.get(&node).filter(|b| !b.fenced()) {
                    records.push(versioned(
                        MetadataRecord::BrokerRegistrationChange(
                            sluice_protocol::metadata::BrokerRegistrationChangeRecord {
                                broker_id: node,
                                broker_epoch: b.epoch(),
                                fenced: 1,
                                ..Default::default()
                            },
                        ),
                        0,
                    ));
                }
                Ok((records, ()))
            },
            |_| {},
        )
        .map(|_| ())
    }

    /// A new block of producer ids (Kafka's AllocateProducerIds, answered locally).
    pub fn generate_producer_id(&self) -> Result<i64, ApiError> {
        self.producer_ids.generate(self)
    }

    /// Write a snapshot of the current image now (tests; clean shutdown does not need one).
    pub fn snapshot(&self) -> Result<sluice_metadata::SnapshotId, MetadataError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        self.log.snapshot(&self.image())
    }
}

/// A record at the version the metadata.version in effect asks for.
pub fn versioned(record: MetadataRecord, version: i16) -> VersionedRecord {
    VersionedRecord { record, version }
}

fn storage_error(e: MetadataError) -> ApiError {
    tracing::error!("writing the metadata log failed: {e}");
    ApiError::new(KafkaError::KafkaStorageError, e.to_string())
}
