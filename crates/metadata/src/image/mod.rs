//! MetadataImage: the state the metadata log describes, as Kafka's `org.apache.kafka.image`
//! keeps it — features, cluster (broker and controller registrations), topics and their
//! partitions, configs, client quotas, the producer-id high mark, ACLs, SCRAM credentials and
//! delegation tokens.
//!
//! An image is immutable once published; a change is a [`MetadataImage::replay`] of records on a
//! copy (the maps share their unchanged entries through `Arc`), as Kafka's MetadataDelta. The
//! image can also write itself back as records ([`MetadataImage::records`]), in Kafka's order,
//! for snapshots.

pub mod topics;

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_protocol::metadata::{
    AccessControlEntryRecord, BrokerRegistrationChangeRecord, ClientQuotaRecord, ConfigRecord,
    DelegationTokenRecord, FeatureLevelRecord, MetadataRecord, ProducerIdsRecord,
    RegisterBrokerRecord, RegisterControllerRecord, UserScramCredentialRecord, VersionedRecord,
};
use thiserror::Error;
use uuid::Uuid;

pub use topics::{PartitionRegistration, TopicImage, TopicsImage};

use crate::metadata_version::MetadataVersion;

/// A record that does not fit the image it is replayed on (Kafka throws the same cases).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ReplayError {
    #[error("{0}")]
    Inconsistent(String),
    #[error("unsupported metadata.version {0} (Sluice reads metadata versions {min} to {max})", min = MetadataVersion::MINIMUM.level(), max = MetadataVersion::LATEST.level())]
    UnsupportedMetadataVersion(i16),
}

/// Where the image was read up to (Kafka's MetadataProvenance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetadataProvenance {
    /// The offset of the last record applied; -1 for none.
    pub last_offset: i64,
    /// The epoch of the batch that held it.
    pub last_epoch: i32,
    /// That batch's append time.
    pub last_timestamp: i64,
}

impl MetadataProvenance {
    pub const EMPTY: Self = Self {
        last_offset: -1,
        last_epoch: -1,
        last_timestamp: -1,
    };
}

/// Kafka's ConfigResource.Type ids, as ConfigRecord stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigResourceType(pub i8);

impl ConfigResourceType {
    pub const TOPIC: Self = Self(2);
    pub const BROKER: Self = Self(4);
    pub const BROKER_LOGGER: Self = Self(8);
    pub const CLIENT_METRICS: Self = Self(16);
    pub const GROUP: Self = Self(32);
}

/// The thing a set of configs belongs to: a topic, a broker ("" is the cluster default), ...
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigResource {
    pub kind: ConfigResourceType,
    pub name: String,
}

impl ConfigResource {
    pub fn topic(name: impl Into<String>) -> Self {
        Self {
            kind: ConfigResourceType::TOPIC,
            name: name.into(),
        }
    }

    /// The dynamic configs of broker `id`.
    pub fn broker(id: i32) -> Self {
        Self {
            kind: ConfigResourceType::BROKER,
            name: id.to_string(),
        }
    }

    /// The cluster-wide default of every broker's dynamic configs.
    pub fn cluster_default() -> Self {
        Self {
            kind: ConfigResourceType::BROKER,
            name: String::new(),
        }
    }
}

/// Configs by resource (Kafka's ConfigurationsImage).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigurationsImage {
    data: BTreeMap<ConfigResource, Arc<BTreeMap<String, String>>>,
}

static NO_CONFIGS: BTreeMap<String, String> = BTreeMap::new();

impl ConfigurationsImage {
    /// The configs set on `resource` (empty when none).
    pub fn get(&self, resource: &ConfigResource) -> &BTreeMap<String, String> {
        self.data.get(resource).map(|m| &**m).unwrap_or(&NO_CONFIGS)
    }

    /// A topic's config overrides.
    pub fn topic(&self, name: &str) -> &BTreeMap<String, String> {
        self.get(&ConfigResource::topic(name))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ConfigResource, &BTreeMap<String, String>)> {
        self.data.iter().map(|(k, v)| (k, &**v))
    }

    fn replay(&mut self, r: &ConfigRecord) {
        let resource = ConfigResource {
            kind: ConfigResourceType(r.resource_type),
            name: r.resource_name.clone(),
        };
        let entry = self.data.entry(resource.clone()).or_default();
        let map = Arc::make_mut(entry);
        match &r.value {
            Some(v) => {
                map.insert(r.name.clone(), v.clone());
            }
            None => {
                map.remove(&r.name);
            }
        }
        if map.is_empty() {
            self.data.remove(&resource);
        }
    }

    fn remove(&mut self, resource: &ConfigResource) {
        self.data.remove(resource);
    }
}

/// Finalized feature levels (Kafka's FeaturesImage). `metadata.version` is kept apart, as
/// Kafka does; a level of 0 removes a feature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeaturesImage {
    pub metadata_version: Option<MetadataVersion>,
    pub finalized: BTreeMap<String, i16>,
}

impl FeaturesImage {
    /// The finalized level of `name` (0 when not finalized).
    pub fn level(&self, name: &str) -> i16 {
        if name == MetadataVersion::FEATURE_NAME {
            return self.metadata_version.map(|v| v.level()).unwrap_or(0);
        }
        self.finalized.get(name).copied().unwrap_or(0)
    }

    fn replay(&mut self, r: &FeatureLevelRecord) -> Result<(), ReplayError> {
        if r.name == MetadataVersion::FEATURE_NAME {
            self.metadata_version = Some(
                MetadataVersion::from_level(r.feature_level)
                    .ok_or(ReplayError::UnsupportedMetadataVersion(r.feature_level))?,
            );
        } else if r.name == crate::KRAFT_VERSION_FEATURE {
            // As Kafka (KAFKA-18979): kraft.version lives in the log's control records.
        } else if r.feature_level == 0 {
            self.finalized.remove(&r.name);
        } else {
            self.finalized.insert(r.name.clone(), r.feature_level);
        }
        Ok(())
    }
}

/// A broker registration: the RegisterBrokerRecord that made it, with the changes of later
/// BrokerRegistrationChange / Fence / Unfence records applied to it.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerRegistration {
    pub record: RegisterBrokerRecord,
}

impl BrokerRegistration {
    pub fn id(&self) -> i32 {
        self.record.broker_id
    }
    pub fn epoch(&self) -> i64 {
        self.record.broker_epoch
    }
    pub fn fenced(&self) -> bool {
        self.record.fenced
    }
}

/// Registered brokers and controllers (Kafka's ClusterImage).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterImage {
    pub brokers: BTreeMap<i32, BrokerRegistration>,
    pub controllers: BTreeMap<i32, RegisterControllerRecord>,
}

impl ClusterImage {
    fn broker_mut(
        &mut self,
        id: i32,
        epoch: i64,
        what: &str,
    ) -> Result<&mut RegisterBrokerRecord, ReplayError> {
        match self.brokers.get_mut(&id) {
            Some(b) if b.record.broker_epoch == epoch => Ok(&mut b.record),
            Some(b) => Err(ReplayError::Inconsistent(format!(
                "{what} for broker {id} epoch {epoch}, but its registration has epoch {}",
                b.record.broker_epoch
            ))),
            None => Err(ReplayError::Inconsistent(format!(
                "{what} for unregistered broker {id}"
            ))),
        }
    }

    fn replay_change(&mut self, r: &BrokerRegistrationChangeRecord) -> Result<(), ReplayError> {
        let b = self.broker_mut(
            r.broker_id,
            r.broker_epoch,
            "BrokerRegistrationChangeRecord",
        )?;
        // BrokerRegistrationFencingChange: -1 unfence, 0 none, 1 fence.
        match r.fenced {
            -1 => b.fenced = false,
            1 => b.fenced = true,
            _ => {}
        }
        // BrokerRegistrationInControlledShutdownChange: 0 none, 1 in controlled shutdown.
        if r.in_controlled_shutdown == 1 {
            b.in_controlled_shutdown = true;
        }
        if !r.log_dirs.is_empty() {
            b.log_dirs = r.log_dirs.clone();
        }
        if let Some(cordoned) = &r.cordoned_log_dirs {
            b.cordoned_log_dirs = Some(cordoned.clone());
        }
        Ok(())
    }
}

/// Client quotas by entity (Kafka's ClientQuotasImage): entity = (type, name) pairs.
pub type QuotaEntity = Vec<(String, Option<String>)>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientQuotasImage {
    pub entities: BTreeMap<QuotaEntity, BTreeMap<String, f64>>,
}

impl ClientQuotasImage {
    fn replay(&mut self, r: &ClientQuotaRecord) {
        let mut entity: QuotaEntity = r
            .entity
            .iter()
            .map(|e| (e.entity_type.clone(), e.entity_name.clone()))
            .collect();
        entity.sort();
        let quotas = self.entities.entry(entity.clone()).or_default();
        if r.remove {
            quotas.remove(&r.key);
        } else {
            quotas.insert(r.key.clone(), r.value);
        }
        if quotas.is_empty() {
            self.entities.remove(&entity);
        }
    }
}

/// The next producer id the controller hands out (Kafka's ProducerIdsImage); -1 before any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdsImage {
    pub next_producer_id: i64,
}

impl Default for ProducerIdsImage {
    fn default() -> Self {
        Self {
            next_producer_id: -1,
        }
    }
}

/// The whole image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetadataImage {
    pub provenance: MetadataProvenance,
    pub features: FeaturesImage,
    pub cluster: ClusterImage,
    pub topics: TopicsImage,
    pub configs: ConfigurationsImage,
    pub client_quotas: ClientQuotasImage,
    pub producer_ids: ProducerIdsImage,
    /// ACLs by id (AccessControlEntryRecord).
    pub acls: BTreeMap<Uuid, AccessControlEntryRecord>,
    /// SCRAM credentials by (user, mechanism).
    pub scram: BTreeMap<(String, i8), UserScramCredentialRecord>,
    /// Delegation tokens by token id.
    pub delegation_tokens: BTreeMap<String, DelegationTokenRecord>,
}

impl MetadataImage {
    pub fn empty() -> Self {
        Self {
            provenance: MetadataProvenance::EMPTY,
            ..Default::default()
        }
    }

    /// The metadata.version in effect, if the log has set one.
    pub fn metadata_version(&self) -> Option<MetadataVersion> {
        self.features.metadata_version
    }

    /// Apply one record (Kafka's MetadataDelta.replay). Begin/End/AbortTransaction records
    /// are handled by the loader, not here.
    pub fn replay(&mut self, record: &MetadataRecord) -> Result<(), ReplayError> {
        match record {
            MetadataRecord::RegisterBroker(r) => {
                self.cluster
                    .brokers
                    .insert(r.broker_id, BrokerRegistration { record: r.clone() });
            }
            MetadataRecord::UnregisterBroker(r) => {
                if let Some(b) = self.cluster.brokers.get(&r.broker_id) {
                    if b.record.broker_epoch == r.broker_epoch {
                        self.cluster.brokers.remove(&r.broker_id);
                    }
                }
            }
            MetadataRecord::FenceBroker(r) => {
                self.cluster
                    .broker_mut(r.id, r.epoch, "FenceBrokerRecord")?
                    .fenced = true;
            }
            MetadataRecord::UnfenceBroker(r) => {
                self.cluster
                    .broker_mut(r.id, r.epoch, "UnfenceBrokerRecord")?
                    .fenced = false;
            }
            MetadataRecord::BrokerRegistrationChange(r) => self.cluster.replay_change(r)?,
            MetadataRecord::RegisterController(r) => {
                self.cluster.controllers.insert(r.controller_id, r.clone());
            }
            MetadataRecord::Topic(r) => self.topics.replay_topic(&r.name, r.topic_id)?,
            MetadataRecord::Partition(r) => self.topics.replay_partition(r)?,
            MetadataRecord::PartitionChange(r) => self.topics.replay_partition_change(r)?,
            MetadataRecord::RemoveTopic(r) => {
                let removed = self.topics.replay_remove(&r.topic_id)?;
                self.configs
                    .remove(&ConfigResource::topic(removed.name.clone()));
            }
            MetadataRecord::ClearElr(r) => self.topics.replay_clear_elr(&r.topic_name)?,
            MetadataRecord::Config(r) => self.configs.replay(r),
            MetadataRecord::FeatureLevel(r) => self.features.replay(r)?,
            MetadataRecord::ClientQuota(r) => self.client_quotas.replay(r),
            MetadataRecord::ProducerIds(r) => self.replay_producer_ids(r)?,
            MetadataRecord::AccessControlEntry(r) => {
                self.acls.insert(r.id, r.clone());
            }
            MetadataRecord::RemoveAccessControlEntry(r) => {
                self.acls.remove(&r.id);
            }
            MetadataRecord::UserScramCredential(r) => {
                self.scram.insert((r.name.clone(), r.mechanism), r.clone());
            }
            MetadataRecord::RemoveUserScramCredential(r) => {
                self.scram.remove(&(r.name.clone(), r.mechanism));
            }
            MetadataRecord::DelegationToken(r) => {
                self.delegation_tokens.insert(r.token_id.clone(), r.clone());
            }
            MetadataRecord::RemoveDelegationToken(r) => {
                self.delegation_tokens.remove(&r.token_id);
            }
            MetadataRecord::NoOp(_)
            | MetadataRecord::ZkMigrationState(_)
            | MetadataRecord::BeginTransaction(_)
            | MetadataRecord::EndTransaction(_)
            | MetadataRecord::AbortTransaction(_) => {}
        }
        Ok(())
    }

    fn replay_producer_ids(&mut self, r: &ProducerIdsRecord) -> Result<(), ReplayError> {
        if r.next_producer_id < self.producer_ids.next_producer_id {
            return Err(ReplayError::Inconsistent(format!(
                "ProducerIdsRecord moves the next producer id back from {} to {}",
                self.producer_ids.next_producer_id, r.next_producer_id
            )));
        }
        self.producer_ids.next_producer_id = r.next_producer_id;
        Ok(())
    }

    /// The image as records, in Kafka's snapshot order (MetadataImage.write): features
    /// (metadata.version first), cluster, topics, configs, quotas, producer ids, ACLs, SCRAM
    /// credentials, delegation tokens. Record versions follow the image's metadata.version.
    pub fn records(&self) -> Vec<VersionedRecord> {
        let mv = self
            .features
            .metadata_version
            .unwrap_or(MetadataVersion::LATEST);
        let mut out = Vec::new();
        let mut push =
            |record: MetadataRecord, version: i16| out.push(VersionedRecord { record, version });
        if let Some(v) = self.features.metadata_version {
            push(
                MetadataRecord::FeatureLevel(FeatureLevelRecord {
                    name: MetadataVersion::FEATURE_NAME.to_string(),
                    feature_level: v.level(),
                    ..Default::default()
                }),
                0,
            );
        }
        for (name, level) in &self.features.finalized {
            push(
                MetadataRecord::FeatureLevel(FeatureLevelRecord {
                    name: name.clone(),
                    feature_level: *level,
                    ..Default::default()
                }),
                0,
            );
        }
        for b in self.cluster.brokers.values() {
            push(
                MetadataRecord::RegisterBroker(b.record.clone()),
                mv.register_broker_record_version(),
            );
        }
        for c in self.cluster.controllers.values() {
            push(MetadataRecord::RegisterController(c.clone()), 0);
        }
        for t in self.topics.iter() {
            push(
                MetadataRecord::Topic(sluice_protocol::metadata::TopicRecord {
                    name: t.name.clone(),
                    topic_id: t.id,
                    ..Default::default()
                }),
                0,
            );
            for (id, p) in &t.partitions {
                let version = mv.partition_record_version();
                push(
                    MetadataRecord::Partition(p.to_record(t.id, *id, version)),
                    version,
                );
            }
        }
        for (resource, configs) in self.configs.iter() {
            for (name, value) in configs {
                push(
                    MetadataRecord::Config(ConfigRecord {
                        resource_type: resource.kind.0,
                        resource_name: resource.name.clone(),
                        name: name.clone(),
                        value: Some(value.clone()),
                        ..Default::default()
                    }),
                    0,
                );
            }
        }
        for (entity, quotas) in &self.client_quotas.entities {
            for (key, value) in quotas {
                push(
                    MetadataRecord::ClientQuota(ClientQuotaRecord {
                        entity: entity
                            .iter()
                            .map(|(t, n)| sluice_protocol::metadata::EntityData {
                                entity_type: t.clone(),
                                entity_name: n.clone(),
                                ..Default::default()
                            })
                            .collect(),
                        key: key.clone(),
                        value: *value,
                        remove: false,
                        ..Default::default()
                    }),
                    0,
                );
            }
        }
        if self.producer_ids.next_producer_id >= 0 {
            push(
                MetadataRecord::ProducerIds(ProducerIdsRecord {
                    broker_id: -1,
                    broker_epoch: -1,
                    next_producer_id: self.producer_ids.next_producer_id,
                    ..Default::default()
                }),
                0,
            );
        }
        for acl in self.acls.values() {
            push(MetadataRecord::AccessControlEntry(acl.clone()), 0);
        }
        for cred in self.scram.values() {
            push(MetadataRecord::UserScramCredential(cred.clone()), 0);
        }
        for token in self.delegation_tokens.values() {
            push(MetadataRecord::DelegationToken(token.clone()), 0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_protocol::metadata::{PartitionRecord, RemoveTopicRecord, TopicRecord};

    fn topic(name: &str, id: u128, partitions: i32) -> Vec<MetadataRecord> {
        let id = Uuid::from_u128(id);
        let mut out = vec![MetadataRecord::Topic(TopicRecord {
            name: name.into(),
            topic_id: id,
            ..Default::default()
        })];
        for p in 0..partitions {
            out.push(MetadataRecord::Partition(PartitionRecord {
                partition_id: p,
                topic_id: id,
                replicas: vec![1],
                isr: vec![1],
                leader: 1,
                leader_epoch: 3,
                partition_epoch: 5,
                directories: vec![Uuid::from_u128(42)],
                ..Default::default()
            }));
        }
        out
    }

    fn config(
        kind: ConfigResourceType,
        name: &str,
        key: &str,
        value: Option<&str>,
    ) -> MetadataRecord {
        MetadataRecord::Config(ConfigRecord {
            resource_type: kind.0,
            resource_name: name.into(),
            name: key.into(),
            value: value.map(str::to_string),
            ..Default::default()
        })
    }

    #[test]
    fn configs_follow_records_and_topic_removal() {
        let mut image = MetadataImage::empty();
        for r in topic("t", 9, 2) {
            image.replay(&r).unwrap();
        }
        image
            .replay(&config(
                ConfigResourceType::TOPIC,
                "t",
                "retention.ms",
                Some("5"),
            ))
            .unwrap();
        image
            .replay(&config(
                ConfigResourceType::BROKER,
                "",
                "log.retention.ms",
                Some("7"),
            ))
            .unwrap();
        assert_eq!(image.configs.topic("t").get("retention.ms").unwrap(), "5");
        image
            .replay(&MetadataRecord::RemoveTopic(RemoveTopicRecord {
                topic_id: Uuid::from_u128(9),
                ..Default::default()
            }))
            .unwrap();
        assert!(
            image.configs.topic("t").is_empty(),
            "configs go with the topic"
        );
        assert_eq!(
            image
                .configs
                .get(&ConfigResource::cluster_default())
                .get("log.retention.ms")
                .unwrap(),
            "7"
        );
        image
            .replay(&config(
                ConfigResourceType::BROKER,
                "",
                "log.retention.ms",
                None,
            ))
            .unwrap();
        assert!(
            image.configs.iter().next().is_none(),
            "a null value deletes"
        );
    }

    #[test]
    fn features_and_producer_ids() {
        let mut image = MetadataImage::empty();
        let level = |name: &str, l: i16| {
            MetadataRecord::FeatureLevel(FeatureLevelRecord {
                name: name.into(),
                feature_level: l,
                ..Default::default()
            })
        };
        image.replay(&level("metadata.version", 30)).unwrap();
        image.replay(&level("group.version", 1)).unwrap();
        image.replay(&level("kraft.version", 1)).unwrap();
        assert_eq!(image.features.level("metadata.version"), 30);
        assert_eq!(image.features.level("group.version"), 1);
        assert_eq!(
            image.features.level("kraft.version"),
            0,
            "kept out, as Kafka"
        );
        image.replay(&level("group.version", 0)).unwrap();
        assert!(image.features.finalized.is_empty());
        assert!(matches!(
            image.replay(&level("metadata.version", 99)),
            Err(ReplayError::UnsupportedMetadataVersion(99))
        ));
        let pids = |next| {
            MetadataRecord::ProducerIds(ProducerIdsRecord {
                broker_id: 1,
                broker_epoch: 5,
                next_producer_id: next,
                ..Default::default()
            })
        };
        image.replay(&pids(1000)).unwrap();
        assert!(image.replay(&pids(10)).is_err());
        assert_eq!(image.producer_ids.next_producer_id, 1000);
    }

    #[test]
    fn records_recreate_the_image() {
        let mut image = MetadataImage::empty();
        let mut input = vec![MetadataRecord::FeatureLevel(FeatureLevelRecord {
            name: "metadata.version".into(),
            feature_level: 30,
            ..Default::default()
        })];
        input.extend(topic("b", 2, 3));
        input.extend(topic("a", 1, 1));
        input.push(config(
            ConfigResourceType::TOPIC,
            "a",
            "cleanup.policy",
            Some("compact"),
        ));
        input.push(MetadataRecord::ProducerIds(ProducerIdsRecord {
            broker_id: 1,
            broker_epoch: 5,
            next_producer_id: 2000,
            ..Default::default()
        }));
        for r in &input {
            image.replay(r).unwrap();
        }
        let mut again = MetadataImage::empty();
        for r in image.records() {
            again.replay(&r.record).unwrap();
        }
        assert_eq!(again, image);
    }
}
