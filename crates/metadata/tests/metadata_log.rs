//! The metadata log through real files: appends survive a reopen, every open starts a new
//! epoch, snapshots are written and preferred, a damaged snapshot falls back to the log, and
//! metadata transactions apply whole or not at all.

use std::sync::Arc;

use sluice_metadata::{
    LocalVoter, MetadataImage, MetadataLog, SnapshotId, SnapshotPolicy, CLUSTER_METADATA_TOPIC,
};
use sluice_protocol::metadata::{
    BeginTransactionRecord, FeatureLevelRecord, MetadataRecord, PartitionRecord, TopicRecord,
    VersionedRecord,
};
use sluice_storage::{LoadParams, LogConfig, MockTime, PartitionLog, Time, TopicPartition};
use uuid::Uuid;

fn open_log(dir: &std::path::Path, time: Arc<dyn Time>) -> Arc<PartitionLog> {
    let config = LogConfig {
        fsync_before_ack: true,
        retention_ms: -1,
        max_message_bytes: 8 * 1024 * 1024 + 1024,
        ..LogConfig::default()
    };
    Arc::new(
        PartitionLog::open(
            dir.join(format!("{CLUSTER_METADATA_TOPIC}-0")),
            TopicPartition::new(CLUSTER_METADATA_TOPIC, 0),
            config,
            time,
            LoadParams::after_crash(),
        )
        .unwrap(),
    )
}

fn open(
    dir: &std::path::Path,
    time: &Arc<MockTime>,
    policy: SnapshotPolicy,
) -> (MetadataLog, MetadataImage, sluice_metadata::LoadSummary) {
    let t: Arc<dyn Time> = time.clone();
    let (log, loaded) = MetadataLog::open(
        open_log(dir, t.clone()),
        LocalVoter {
            node_id: 1,
            directory_id: Uuid::from_u128(99),
        },
        t,
        policy,
    )
    .unwrap();
    (log, loaded.image, loaded.summary)
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
                directories: vec![Uuid::from_u128(99)],
                ..Default::default()
            },
            2,
        ),
    ]
}

fn mv() -> VersionedRecord {
    VersionedRecord::new(
        FeatureLevelRecord {
            name: "metadata.version".into(),
            feature_level: 30,
            ..Default::default()
        },
        0,
    )
}

/// Apply records the way the controller does (replay, then append).
fn commit(log: &MetadataLog, image: &mut MetadataImage, records: &[VersionedRecord]) {
    for r in records {
        image.replay(&r.record).unwrap();
    }
    let last = log.append(records).unwrap();
    image.provenance.last_offset = last;
    image.provenance.last_epoch = log.epoch();
}

#[test]
fn appends_survive_reopen_and_each_open_is_a_new_epoch() {
    let d = tempfile::tempdir().unwrap();
    let time = Arc::new(MockTime::new(1_700_000_000_000));
    let (log, mut image, summary) = open(d.path(), &time, SnapshotPolicy::default());
    assert!(image.topics.is_empty());
    assert_eq!(summary.epoch, 0);
    commit(&log, &mut image, &[mv()]);
    commit(&log, &mut image, &topic("a", 7));
    drop(log);
    let (log, again, summary) = open(d.path(), &time, SnapshotPolicy::default());
    assert_eq!(summary.epoch, 1, "a new epoch per open");
    assert_eq!(again.topics.get("a").unwrap().id, Uuid::from_u128(7));
    assert_eq!(again.features.level("metadata.version"), 30);
    let state = |log: &MetadataLog| {
        let s = sluice_metadata::quorum_state::read(log.dir())
            .unwrap()
            .unwrap();
        (s.leader_id, s.leader_epoch)
    };
    // An open that changes nothing writes nothing; the first change starts the epoch.
    assert_eq!(state(&log), (1, 0));
    let end = log.end_offset();
    commit(&log, &mut image, &topic("b", 8));
    assert_eq!(state(&log), (1, 1));
    assert_eq!(
        log.end_offset(),
        end + 3,
        "the LeaderChange, then the two records, in one write"
    );
}

#[test]
fn snapshots_are_written_and_loaded_and_a_damaged_one_falls_back_to_the_log() {
    let d = tempfile::tempdir().unwrap();
    let time = Arc::new(MockTime::new(1_700_000_000_000));
    let policy = SnapshotPolicy {
        max_bytes_between: 1,
        max_interval_ms: 0,
    };
    let (log, mut image, _) = open(d.path(), &time, policy);
    commit(&log, &mut image, &[mv()]);
    commit(&log, &mut image, &topic("a", 7));
    let id = log
        .maybe_snapshot(&image)
        .unwrap()
        .expect("due after any bytes");
    assert_eq!(id.end_offset, image.provenance.last_offset + 1);
    assert!(log.maybe_snapshot(&image).unwrap().is_none(), "nothing new");
    commit(&log, &mut image, &topic("b", 8));
    drop(log);

    let (log, again, summary) = open(d.path(), &time, policy);
    assert_eq!(summary.snapshot, Some(id));
    assert_eq!(
        summary.records, 2,
        "only the records after the snapshot are replayed"
    );
    assert_eq!(again.topics.len(), 2);
    drop(log);

    // Damage the snapshot: the log still covers everything, so the image is the same.
    let path = log_dir(d.path()).join(id.file_name());
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let (_log, again2, summary) = open(d.path(), &time, policy);
    assert_eq!(summary.snapshot, None);
    assert_eq!(summary.unreadable_snapshots, vec![id]);
    assert_eq!(again2.topics, again.topics);
    assert!(path.exists(), "a damaged snapshot is left where it is");
}

#[test]
fn an_unfinished_metadata_transaction_is_not_applied() {
    let d = tempfile::tempdir().unwrap();
    let time = Arc::new(MockTime::new(1_700_000_000_000));
    let (log, mut image, _) = open(d.path(), &time, SnapshotPolicy::default());
    commit(&log, &mut image, &[mv()]);
    let mut records = vec![VersionedRecord::new(
        BeginTransactionRecord {
            name: Some("test".into()),
            ..Default::default()
        },
        0,
    )];
    records.extend(topic("a", 7));
    log.append(&records).unwrap();
    drop(log);
    let (_log, again, summary) = open(d.path(), &time, SnapshotPolicy::default());
    assert!(summary.incomplete_transaction);
    assert!(again.topics.is_empty());
    assert_eq!(again.features.level("metadata.version"), 30);
}

#[test]
fn records_past_one_batch_go_in_a_metadata_transaction() {
    let d = tempfile::tempdir().unwrap();
    let time = Arc::new(MockTime::new(1_700_000_000_000));
    let (log, mut image, _) = open(d.path(), &time, SnapshotPolicy::default());
    let mut records = vec![mv()];
    // ~130 bytes a topic: 80k topics are past 8 MiB.
    for i in 0..80_000u128 {
        records.extend(topic(&format!("topic-{i:06}"), 1000 + i));
    }
    commit(&log, &mut image, &records);
    drop(log);
    let (_log, again, summary) = open(d.path(), &time, SnapshotPolicy::default());
    assert!(summary.batches > 2, "{summary:?}");
    assert_eq!(again.topics.len(), 80_000);
    assert!(!summary.incomplete_transaction);
}

fn log_dir(d: &std::path::Path) -> std::path::PathBuf {
    d.join(format!("{CLUSTER_METADATA_TOPIC}-0"))
}

#[test]
fn snapshot_file_names_are_kafkas() {
    let id = SnapshotId {
        end_offset: 42,
        epoch: 3,
    };
    assert_eq!(id.file_name(), "00000000000000000042-0000000003.checkpoint");
    assert_eq!(SnapshotId::parse(&id.file_name()), Some(id));
    assert_eq!(
        SnapshotId::parse("00000000000000000042-0000000003.checkpoint.part"),
        None
    );
    let _ = MetadataRecord::NoOp(Default::default());
}

/// Copy a directory tree (test data) into `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A metadata log Apache Kafka 4.3.1 wrote (single node, two log dirs: topics with configs, a
/// deleted topic, dynamic broker configs, an idempotent producer's id block, a replica moved
/// between log dirs, two controlled shutdowns), read as Kafka reads it.
#[test]
fn reads_a_metadata_log_kafka_wrote() {
    let d = tempfile::tempdir().unwrap();
    copy_tree(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kafka-4.3.1"),
        d.path(),
    );
    let time = Arc::new(MockTime::new(1_800_000_000_000));
    let t: Arc<dyn Time> = time.clone();
    let (log, loaded) = MetadataLog::open(
        open_log(d.path(), t.clone()),
        LocalVoter {
            node_id: 1,
            directory_id: Uuid::from_u128(99),
        },
        t,
        SnapshotPolicy::default(),
    )
    .unwrap();
    let image = loaded.image;
    assert_eq!(image.features.level("metadata.version"), 30);
    assert_eq!(image.features.level("group.version"), 1);
    assert_eq!(image.features.level("transaction.version"), 2);
    assert_eq!(image.features.level("share.version"), 1);
    let names: Vec<&str> = image.topics.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    let alpha = image.topics.get("alpha").unwrap();
    assert_eq!(
        sluice_storage::kafka_uuid::to_base64(alpha.id),
        "Yi0kZAGpSWy_zV2txw3D0Q"
    );
    assert_eq!(alpha.partition_count(), 3);
    // After Kafka's controlled shutdown of its only broker: no leader, epoch bumped.
    let p0 = alpha.partition(0).unwrap();
    assert_eq!((p0.leader, p0.leader_epoch), (-1, 3));
    assert_eq!(
        image
            .configs
            .topic("alpha")
            .get("cleanup.policy")
            .map(String::as_str),
        Some("compact")
    );
    assert_eq!(
        image
            .configs
            .get(&sluice_metadata::ConfigResource::cluster_default())
            .get("log.retention.ms")
            .map(String::as_str),
        Some("7200000")
    );
    assert_eq!(image.producer_ids.next_producer_id, 1000);
    assert!(image.cluster.brokers.contains_key(&1));
    assert_eq!(loaded.removed_topics.len(), 1);
    assert_eq!(loaded.removed_topics[0].name, "doomed");
    // kraft.version 1 with the formatted voter set, from the bootstrap snapshot.
    let kraft = log.kraft_state();
    assert_eq!(kraft.kraft_version, 1);
    assert_eq!(kraft.voters.as_ref().unwrap().voters[0].voter_id, 1);
    // Kafka's quorum-state said epoch 2: this open leads epoch 3.
    assert_eq!(loaded.summary.epoch, 3);
    assert_eq!(log.epoch(), 3);
}
