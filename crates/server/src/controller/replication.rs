//! The records of topic and partition changes (Kafka's ReplicationControlManager): a new topic
//! is a TopicRecord, one PartitionRecord per partition and a ConfigRecord per override; a
//! deletion is one RemoveTopicRecord (its configs go with it); new partitions are
//! PartitionRecords of the existing topic.

use std::collections::BTreeMap;

use sluice_metadata::{ConfigResource, MetadataVersion, PartitionRegistration};
use sluice_protocol::metadata::{
    ConfigRecord, MetadataRecord, RemoveTopicRecord, TopicRecord, VersionedRecord,
};
use uuid::Uuid;

use super::versioned;

/// A new partition led by `node` in log dir `directory`.
pub fn new_partition(node: i32, directory: Uuid) -> PartitionRegistration {
    PartitionRegistration::new_leader(vec![node], vec![directory])
}

/// TopicRecord + PartitionRecords + ConfigRecords of a new topic.
pub fn create_topic_records(
    mv: MetadataVersion,
    name: &str,
    id: Uuid,
    partitions: &[PartitionRegistration],
    configs: &BTreeMap<String, String>,
) -> Vec<VersionedRecord> {
    let mut out = Vec::with_capacity(1 + partitions.len() + configs.len());
    out.push(versioned(
        MetadataRecord::Topic(TopicRecord {
            name: name.to_string(),
            topic_id: id,
            ..Default::default()
        }),
        0,
    ));
    out.extend(partition_records(mv, id, 0, partitions));
    let resource = ConfigResource::topic(name);
    out.extend(
        configs
            .iter()
            .map(|(k, v)| config_record(&resource, k, Some(v))),
    );
    out
}

/// PartitionRecords for partitions `first..` of topic `id`.
pub fn partition_records(
    mv: MetadataVersion,
    id: Uuid,
    first: i32,
    partitions: &[PartitionRegistration],
) -> Vec<VersionedRecord> {
    let version = mv.partition_record_version();
    partitions
        .iter()
        .zip(first..)
        .map(|(p, index)| {
            versioned(
                MetadataRecord::Partition(p.to_record(id, index, version)),
                version,
            )
        })
        .collect()
}

pub fn remove_topic_record(id: Uuid) -> VersionedRecord {
    versioned(
        MetadataRecord::RemoveTopic(RemoveTopicRecord {
            topic_id: id,
            ..Default::default()
        }),
        0,
    )
}

/// One ConfigRecord (`None` removes the key).
pub fn config_record(
    resource: &ConfigResource,
    name: &str,
    value: Option<&String>,
) -> VersionedRecord {
    versioned(
        MetadataRecord::Config(ConfigRecord {
            resource_type: resource.kind.0,
            resource_name: resource.name.clone(),
            name: name.to_string(),
            value: value.cloned(),
            ..Default::default()
        }),
        0,
    )
}

/// The ConfigRecords that turn `old` into `new` for `resource`.
pub fn config_diff(
    resource: &ConfigResource,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<VersionedRecord> {
    let mut out: Vec<VersionedRecord> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| config_record(resource, k, Some(v)))
        .collect();
    out.extend(
        old.keys()
            .filter(|k| !new.contains_key(*k))
            .map(|k| config_record(resource, k, None)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_metadata::MetadataImage;

    #[test]
    fn records_build_the_topic() {
        let mut image = MetadataImage::empty();
        let id = Uuid::from_u128(5);
        let dir = Uuid::from_u128(77);
        let parts = vec![new_partition(1, dir), new_partition(1, dir)];
        let mut configs = BTreeMap::new();
        configs.insert("retention.ms".to_string(), "10".to_string());
        for r in create_topic_records(MetadataVersion::LATEST, "t", id, &parts, &configs) {
            image.replay(&r.record).unwrap();
        }
        let t = image.topics.get("t").unwrap();
        assert_eq!(
            (t.id, t.partition_count(), t.replication_factor()),
            (id, 2, 1)
        );
        assert_eq!(t.partition(1).unwrap().directories, vec![dir]);
        assert_eq!(t.partition(1).unwrap().leader, 1);
        let mut new = configs.clone();
        new.remove("retention.ms");
        new.insert("cleanup.policy".into(), "compact".into());
        for r in config_diff(&ConfigResource::topic("t"), &configs, &new) {
            image.replay(&r.record).unwrap();
        }
        assert_eq!(image.configs.topic("t"), &new);
        image.replay(&remove_topic_record(id).record).unwrap();
        assert!(image.topics.is_empty());
    }
}
