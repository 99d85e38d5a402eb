//! A follower fed what a leader's metadata log holds (the network left out): it replays only
//! what the high watermark commits, catches up from a snapshot, and never cuts what it applied.

use std::sync::Arc;

use sluice_metadata::{
    LocalVoter, MetadataFollower, MetadataLog, SnapshotPolicy, CLUSTER_METADATA_TOPIC,
};
use sluice_protocol::metadata::{
    FeatureLevelRecord, PartitionRecord, TopicRecord, VersionedRecord,
};
use sluice_storage::{LoadParams, LogConfig, MockTime, PartitionLog, Time, TopicPartition};
use uuid::Uuid;

fn log_in(dir: &std::path::Path, time: Arc<dyn Time>, fsync: bool) -> Arc<PartitionLog> {
    Arc::new(
        PartitionLog::open(
            dir.join(format!("{CLUSTER_METADATA_TOPIC}-0")),
            TopicPartition::new(CLUSTER_METADATA_TOPIC, 0),
            LogConfig {
                fsync_before_ack: fsync,
                retention_ms: -1,
                max_message_bytes: 8 * 1024 * 1024 + 1024,
                ..LogConfig::default()
            },
            time,
            LoadParams::after_crash(),
        )
        .unwrap(),
    )
}

fn topic(name: &str, id: u128) -> Vec<VersionedRecord> {
    let id = Uuid::from_u128(id);
    vec![
        VersionedRecord::new(
            TopicRecord {
                name: name.into(),
                topic_id: id,
                ..Default::default()
            },
            0,
        ),
        VersionedRecord::new(
            PartitionRecord {
                partition_id: 0,
                topic_id: id,
                replicas: vec![1],
                isr: vec![1],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
                ..Default::default()
            },
            2,
        ),
    ]
}

/// What the leader holds from `offset` on (a Fetch response's records).
fn fetch(leader: &PartitionLog, offset: i64) -> Vec<u8> {
    leader
        .read(offset, 1 << 20, true, None)
        .unwrap()
        .into_bytes()
        .to_vec()
}

#[test]
fn only_committed_records_are_replayed_and_a_snapshot_catches_up() {
    let d = tempfile::tempdir().unwrap();
    let time: Arc<dyn Time> = Arc::new(MockTime::new(1_700_000_000_000));
    let leader_dir = d.path().join("leader");
    let leader_log = log_in(&leader_dir, time.clone(), true);
    let (leader, _) = MetadataLog::open(
        leader_log.clone(),
        LocalVoter {
            node_id: 3000,
            directory_id: Uuid::from_u128(1),
        },
        time.clone(),
        SnapshotPolicy::default(),
    )
    .unwrap();
    leader
        .append(&[VersionedRecord::new(
            FeatureLevelRecord {
                name: "metadata.version".into(),
                feature_level: 30,
                ..Default::default()
            },
            0,
        )])
        .unwrap();
    leader.append(&topic("a", 1)).unwrap();
    let hw_after_a = leader.end_offset();
    leader.append(&topic("b", 2)).unwrap();

    let follower_log = log_in(&d.path().join("follower"), time.clone(), true);
    let mut follower = MetadataFollower::open(follower_log).unwrap();
    assert_eq!(follower.position().fetch_offset, 0);
    assert_eq!(
        follower.position().last_fetched_epoch,
        0,
        "Kafka's value for an empty log"
    );
    let mut bytes = fetch(&leader_log, 0);
    // The leader's high watermark only covers topic a so far.
    assert!(follower
        .append(&mut bytes, leader.epoch(), hw_after_a)
        .unwrap());
    assert!(follower.image().topics.get("a").is_some());
    assert!(
        follower.image().topics.get("b").is_none(),
        "not committed yet"
    );
    assert_eq!(follower.position().fetch_offset, leader.end_offset());
    assert_eq!(follower.position().last_fetched_epoch, leader.epoch());
    // The high watermark moves: b is replayed without new records.
    assert!(follower
        .append(&mut [], leader.epoch(), leader.end_offset())
        .unwrap());
    assert!(follower.image().topics.get("b").is_some());
    // Committed records are never cut.
    assert!(follower.truncate(0).is_err());

    // A new follower catches up from a snapshot.
    let mut image = sluice_metadata::MetadataImage::empty();
    for r in [VersionedRecord::new(
        FeatureLevelRecord {
            name: "metadata.version".into(),
            feature_level: 30,
            ..Default::default()
        },
        0,
    )]
    .iter()
    .chain(topic("a", 1).iter())
    .chain(topic("b", 2).iter())
    {
        image.replay(&r.record).unwrap();
    }
    image.provenance.last_offset = leader.end_offset() - 1;
    image.provenance.last_epoch = leader.epoch();
    let id = leader.snapshot(&image).unwrap();
    let snapshot_bytes = std::fs::read(leader_log.dir().join(id.file_name())).unwrap();
    let mut late =
        MetadataFollower::open(log_in(&d.path().join("late"), time.clone(), true)).unwrap();
    late.install_snapshot(id, &snapshot_bytes).unwrap();
    assert_eq!(late.applied_offset(), id.end_offset);
    assert_eq!(late.position().fetch_offset, id.end_offset);
    assert_eq!(late.image().topics, follower.image().topics);
    // A damaged snapshot is refused, and nothing changes.
    let mut damaged = snapshot_bytes.clone();
    let n = damaged.len();
    damaged[n / 2] ^= 0xff;
    let mut other = MetadataFollower::open(log_in(&d.path().join("other"), time, true)).unwrap();
    assert!(other.install_snapshot(id, &damaged).is_err());
    assert!(other.image().topics.is_empty());
    assert!(
        sluice_metadata::snapshot::list(other.log().dir())
            .unwrap()
            .is_empty(),
        "no damaged snapshot left in place"
    );
}
