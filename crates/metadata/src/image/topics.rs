//! TopicsImage, TopicImage and PartitionRegistration: the topics of the cluster as the metadata
//! log describes them (Kafka's `org.apache.kafka.image.TopicsImage` and
//! `org.apache.kafka.metadata.PartitionRegistration`).

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_protocol::metadata::{PartitionChangeRecord, PartitionRecord};
use uuid::Uuid;

use super::ReplayError;

/// `LeaderRecoveryState` of a partition (Kafka's enum of the same name).
pub const RECOVERED: i8 = 0;
/// The leader was elected uncleanly and is recovering.
pub const RECOVERING: i8 = 1;
/// `PartitionChangeRecord.Leader` meaning "the leader does not change".
pub const NO_LEADER_CHANGE: i32 = -2;
/// `PartitionChangeRecord.LeaderRecoveryState` meaning "no change".
pub const NO_RECOVERY_STATE_CHANGE: i8 = -1;
/// `DirectoryId.MIGRATING`: a replica whose log directory is not known yet (all zero).
pub const DIRECTORY_MIGRATING: Uuid = Uuid::nil();

/// One partition's replicas, leader and epochs (Kafka's PartitionRegistration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRegistration {
    pub replicas: Vec<i32>,
    /// The log directory id of each replica, in `replicas` order (KIP-858).
    pub directories: Vec<Uuid>,
    pub isr: Vec<i32>,
    pub removing_replicas: Vec<i32>,
    pub adding_replicas: Vec<i32>,
    /// -1: no leader.
    pub leader: i32,
    pub leader_recovery_state: i8,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// Eligible leader replicas (KIP-966).
    pub elr: Vec<i32>,
    pub last_known_elr: Vec<i32>,
}

impl PartitionRegistration {
    /// A new partition as the controller creates it: `replicas` all in sync, the first one
    /// leading, epochs 0.
    pub fn new_leader(replicas: Vec<i32>, directories: Vec<Uuid>) -> Self {
        Self {
            leader: replicas.first().copied().unwrap_or(-1),
            isr: replicas.clone(),
            replicas,
            directories,
            removing_replicas: Vec::new(),
            adding_replicas: Vec::new(),
            leader_recovery_state: RECOVERED,
            leader_epoch: 0,
            partition_epoch: 0,
            elr: Vec::new(),
            last_known_elr: Vec::new(),
        }
    }

    fn from_record(r: &PartitionRecord) -> Result<Self, ReplayError> {
        let directories = checked_directories(&r.replicas, Some(&r.directories), r.partition_id)?
            .unwrap_or_default();
        Ok(Self {
            directories: default_to_migrating(directories, r.replicas.len()),
            replicas: r.replicas.clone(),
            isr: r.isr.clone(),
            removing_replicas: r.removing_replicas.clone(),
            adding_replicas: r.adding_replicas.clone(),
            leader: r.leader,
            leader_recovery_state: r.leader_recovery_state,
            leader_epoch: r.leader_epoch,
            partition_epoch: r.partition_epoch,
            elr: r.eligible_leader_replicas.clone().unwrap_or_default(),
            last_known_elr: r.last_known_elr.clone().unwrap_or_default(),
        })
    }

    /// Apply a PartitionChangeRecord (Kafka's `PartitionRegistration.merge`): absent fields keep
    /// their value; a new leader bumps the leader epoch; every change bumps the partition epoch.
    fn merge(&self, r: &PartitionChangeRecord) -> Result<Self, ReplayError> {
        let replicas = r.replicas.clone().unwrap_or_else(|| self.replicas.clone());
        let directories = match &r.directories {
            Some(d) if !d.is_empty() => {
                checked_directories(&replicas, Some(d), r.partition_id)?.unwrap_or_default()
            }
            Some(_) | None => self.directories.clone(),
        };
        let (leader, leader_epoch) = if r.leader == NO_LEADER_CHANGE {
            (self.leader, self.leader_epoch)
        } else {
            (r.leader, self.leader_epoch.saturating_add(1))
        };
        let leader_recovery_state = if r.leader_recovery_state == NO_RECOVERY_STATE_CHANGE {
            self.leader_recovery_state
        } else {
            r.leader_recovery_state
        };
        Ok(Self {
            directories: default_to_migrating(directories, replicas.len()),
            replicas,
            isr: r.isr.clone().unwrap_or_else(|| self.isr.clone()),
            removing_replicas: r
                .removing_replicas
                .clone()
                .unwrap_or_else(|| self.removing_replicas.clone()),
            adding_replicas: r
                .adding_replicas
                .clone()
                .unwrap_or_else(|| self.adding_replicas.clone()),
            leader,
            leader_recovery_state,
            leader_epoch,
            partition_epoch: self.partition_epoch.saturating_add(1),
            elr: r
                .eligible_leader_replicas
                .clone()
                .unwrap_or_else(|| self.elr.clone()),
            last_known_elr: r
                .last_known_elr
                .clone()
                .unwrap_or_else(|| self.last_known_elr.clone()),
        })
    }

    /// The record that recreates this partition (Kafka's `PartitionRegistration.toRecord`):
    /// directories from metadata.version 3.7-IV2, ELR fields only when non-empty.
    pub fn to_record(&self, topic_id: Uuid, partition_id: i32, version: i16) -> PartitionRecord {
        PartitionRecord {
            partition_id,
            topic_id,
            replicas: self.replicas.clone(),
            isr: self.isr.clone(),
            removing_replicas: self.removing_replicas.clone(),
            adding_replicas: self.adding_replicas.clone(),
            leader: self.leader,
            leader_recovery_state: self.leader_recovery_state,
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
            directories: if version >= 1 {
                self.directories.clone()
            } else {
                Vec::new()
            },
            eligible_leader_replicas: (version >= 2 && !self.elr.is_empty())
                .then(|| self.elr.clone()),
            last_known_elr: (version >= 2 && !self.last_known_elr.is_empty())
                .then(|| self.last_known_elr.clone()),
            ..Default::default()
        }
    }

    /// The log directory of `replica`, if it is a replica.
    pub fn directory(&self, replica: i32) -> Option<Uuid> {
        let i = self.replicas.iter().position(|r| *r == replica)?;
        self.directories.get(i).copied()
    }
}

fn checked_directories(
    replicas: &[i32],
    directories: Option<&Vec<Uuid>>,
    partition_id: i32,
) -> Result<Option<Vec<Uuid>>, ReplayError> {
    match directories {
        Some(d) if !d.is_empty() && d.len() != replicas.len() => {
            Err(ReplayError::Inconsistent(format!(
                "partition {partition_id} lists {} replicas but {} directories",
                replicas.len(),
                d.len()
            )))
        }
        other => Ok(other.cloned()),
    }
}

fn default_to_migrating(directories: Vec<Uuid>, replicas: usize) -> Vec<Uuid> {
    if directories.iter().all(|d| *d == DIRECTORY_MIGRATING) {
        vec![DIRECTORY_MIGRATING; replicas]
    } else {
        directories
    }
}

/// One topic: name, id and partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: BTreeMap<i32, PartitionRegistration>,
}

impl TopicImage {
    /// The number of partitions (ids are 0..n-1).
    pub fn partition_count(&self) -> i32 {
        i32::try_from(self.partitions.len()).unwrap_or(i32::MAX)
    }

    /// The replication factor: the replica count of partition 0 (as kafka-topics reports it).
    pub fn replication_factor(&self) -> i16 {
        self.partitions
            .values()
            .next()
            .map(|p| i16::try_from(p.replicas.len()).unwrap_or(i16::MAX))
            .unwrap_or(0)
    }

    pub fn partition(&self, id: i32) -> Option<&PartitionRegistration> {
        self.partitions.get(&id)
    }

    pub fn is_internal(&self) -> bool {
        is_internal(&self.name)
    }
}

/// Topics whose names Kafka reserves for its own state.
pub const CONSUMER_OFFSETS: &str = "__consumer_offsets";
pub const TRANSACTION_STATE: &str = "__transaction_state";
/// Kafka's KRaft metadata topic: never a topic of the image, its one partition is the
/// metadata log itself.
pub const CLUSTER_METADATA: &str = "__cluster_metadata";
/// `Uuid.METADATA_TOPIC_ID`, the topic id in `__cluster_metadata-0/partition.metadata`.
pub const METADATA_TOPIC_ID: Uuid = Uuid::from_u128(1);

pub fn is_internal(name: &str) -> bool {
    name == CONSUMER_OFFSETS || name == TRANSACTION_STATE
}

/// Every topic, by id and by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicsImage {
    by_id: BTreeMap<Uuid, Arc<TopicImage>>,
    by_name: BTreeMap<String, Uuid>,
}

impl TopicsImage {
    pub fn get(&self, name: &str) -> Option<&Arc<TopicImage>> {
        self.by_name.get(name).and_then(|id| self.by_id.get(id))
    }

    pub fn get_by_id(&self, id: &Uuid) -> Option<&Arc<TopicImage>> {
        self.by_id.get(id)
    }

    /// Topics in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<TopicImage>> {
        self.by_name.values().filter_map(|id| self.by_id.get(id))
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// A topic whose name differs from `name` only by '.' vs '_' (Kafka refuses such pairs,
    /// because metric names cannot tell them apart).
    pub fn collision(&self, name: &str) -> Option<&str> {
        let norm = name.replace('.', "_");
        self.by_name
            .keys()
            .find(|k| k.as_str() != name && k.replace('.', "_") == norm)
            .map(String::as_str)
    }

    pub(super) fn replay_topic(&mut self, name: &str, id: Uuid) -> Result<(), ReplayError> {
        if let Some(existing) = self.by_id.get(&id) {
            return Err(ReplayError::Inconsistent(format!(
                "TopicRecord {name} reuses the topic id {id} of {}",
                existing.name
            )));
        }
        if self.by_name.contains_key(name) {
            return Err(ReplayError::Inconsistent(format!(
                "TopicRecord for {name}, which already exists"
            )));
        }
        self.by_name.insert(name.to_string(), id);
        self.by_id.insert(
            id,
            Arc::new(TopicImage {
                name: name.to_string(),
                id,
                partitions: BTreeMap::new(),
            }),
        );
        Ok(())
    }

    pub(super) fn replay_partition(&mut self, r: &PartitionRecord) -> Result<(), ReplayError> {
        let registration = PartitionRegistration::from_record(r)?;
        let topic = self.topic_mut(&r.topic_id, "PartitionRecord")?;
        topic.partitions.insert(r.partition_id, registration);
        Ok(())
    }

    pub(super) fn replay_partition_change(
        &mut self,
        r: &PartitionChangeRecord,
    ) -> Result<(), ReplayError> {
        let topic = self.topic_mut(&r.topic_id, "PartitionChangeRecord")?;
        let current = topic.partitions.get(&r.partition_id).ok_or_else(|| {
            ReplayError::Inconsistent(format!(
                "PartitionChangeRecord for unknown partition {} of topic {}",
                r.partition_id, topic.name
            ))
        })?;
        let merged = current.merge(r)?;
        topic.partitions.insert(r.partition_id, merged);
        Ok(())
    }

    /// Remove a topic; returns it.
    pub(super) fn replay_remove(&mut self, id: &Uuid) -> Result<Arc<TopicImage>, ReplayError> {
        let topic = self.by_id.remove(id).ok_or_else(|| {
            ReplayError::Inconsistent(format!("RemoveTopicRecord for unknown topic id {id}"))
        })?;
        self.by_name.remove(&topic.name);
        Ok(topic)
    }

    /// ClearElrRecord: clear the ELR of one topic's partitions, or of every topic's.
    pub(super) fn replay_clear_elr(&mut self, topic_name: &str) -> Result<(), ReplayError> {
        let ids: Vec<Uuid> = if topic_name.is_empty() {
            self.by_id.keys().copied().collect()
        } else {
            vec![*self.by_name.get(topic_name).ok_or_else(|| {
                ReplayError::Inconsistent(format!("ClearElrRecord for unknown topic {topic_name}"))
            })?]
        };
        for id in ids {
            let topic = self.topic_mut(&id, "ClearElrRecord")?;
            for p in topic.partitions.values_mut() {
                if !p.elr.is_empty() || !p.last_known_elr.is_empty() {
                    p.elr.clear();
                    p.last_known_elr.clear();
                    p.partition_epoch = p.partition_epoch.saturating_add(1);
                }
            }
        }
        Ok(())
    }

    fn topic_mut(&mut self, id: &Uuid, what: &str) -> Result<&mut TopicImage, ReplayError> {
        let topic = self.by_id.get_mut(id).ok_or_else(|| {
            ReplayError::Inconsistent(format!("{what} for unknown topic id {id}"))
        })?;
        Ok(Arc::make_mut(topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(topic_id: Uuid, id: i32) -> PartitionRecord {
        PartitionRecord {
            partition_id: id,
            topic_id,
            replicas: vec![1],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
            ..Default::default()
        }
    }

    #[test]
    fn topics_by_name_and_id() {
        let mut t = TopicsImage::default();
        let id = Uuid::from_u128(7);
        t.replay_topic("a.b", id).unwrap();
        t.replay_partition(&partition(id, 0)).unwrap();
        t.replay_partition(&partition(id, 1)).unwrap();
        assert_eq!(t.get("a.b").unwrap().partition_count(), 2);
        assert_eq!(t.get_by_id(&id).unwrap().name, "a.b");
        assert_eq!(t.collision("a_b"), Some("a.b"));
        assert!(t.replay_topic("a.b", Uuid::from_u128(8)).is_err());
        assert!(t.replay_topic("c", id).is_err());
        assert!(t
            .replay_partition(&partition(Uuid::from_u128(9), 0))
            .is_err());
        t.replay_remove(&id).unwrap();
        assert!(t.get("a.b").is_none() && t.is_empty());
    }

    #[test]
    fn partition_change_bumps_epochs_as_kafka() {
        let mut t = TopicsImage::default();
        let id = Uuid::from_u128(7);
        t.replay_topic("a", id).unwrap();
        t.replay_partition(&partition(id, 0)).unwrap();
        // An ISR change alone: partition epoch only.
        t.replay_partition_change(&PartitionChangeRecord {
            partition_id: 0,
            topic_id: id,
            isr: Some(vec![]),
            ..Default::default()
        })
        .unwrap();
        let p = t.get("a").unwrap().partition(0).unwrap().clone();
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (1, 0, 1));
        assert!(p.isr.is_empty());
        // A leader change: both.
        t.replay_partition_change(&PartitionChangeRecord {
            partition_id: 0,
            topic_id: id,
            leader: -1,
            ..Default::default()
        })
        .unwrap();
        let p = t.get("a").unwrap().partition(0).unwrap().clone();
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (-1, 1, 2));
        assert_eq!(p.replicas, vec![1], "absent fields keep their value");
    }

    #[test]
    fn directories_must_match_replicas() {
        let mut t = TopicsImage::default();
        let id = Uuid::from_u128(7);
        t.replay_topic("a", id).unwrap();
        let mut r = partition(id, 0);
        r.directories = vec![Uuid::from_u128(1), Uuid::from_u128(2)];
        assert!(t.replay_partition(&r).is_err());
        r.directories = vec![];
        t.replay_partition(&r).unwrap();
        assert_eq!(
            t.get("a").unwrap().partition(0).unwrap().directories,
            vec![DIRECTORY_MIGRATING]
        );
    }
}
