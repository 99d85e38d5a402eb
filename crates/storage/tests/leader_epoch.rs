//! The leader-epoch cache of a partition log (Kafka's LeaderEpochFileCache and its
//! `leader-epoch-checkpoint` file) through appends, log start offset moves, truncation and a
//! reopen; and the MAX_TIMESTAMP batch lookup once DeleteRecords passed every record.

mod common;

use common::*;
use sluice_storage::leader_epoch::LEADER_EPOCH_CHECKPOINT_FILE;
use sluice_storage::{LogManager, TopicPartition};

fn checkpoint(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join(LEADER_EPOCH_CHECKPOINT_FILE)).unwrap()
}

#[test]
fn epochs_follow_appends_start_moves_truncation_and_survive_a_reopen() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), small_config(), clock(), clean());
    assert!(log.leader_epoch_entries().is_empty());
    assert_eq!(log.end_offset_for_epoch(0), (-1, -1));
    for i in 0..3 {
        log.append_as_leader(&mut producer_batch(i, 2, 1_000), 0)
            .unwrap();
    }
    assert_eq!(log.leader_epoch_entries(), vec![(0, 0)]);
    log.append_as_leader(&mut producer_batch(9, 2, 1_000), 2)
        .unwrap();
    assert_eq!(log.leader_epoch_entries(), vec![(0, 0), (2, 6)]);
    assert_eq!(checkpoint(d.path()), "0\n2\n0 0\n2 6\n");
    assert_eq!(log.end_offset_for_epoch(2), (2, 8));
    assert_eq!(log.end_offset_for_epoch(0), (0, 6));
    assert_eq!(log.end_offset_for_epoch(1), (0, 6));
    assert_eq!(log.epoch_for_offset(7), Some(2));

    log.maybe_increment_log_start_offset(3).unwrap();
    assert_eq!(log.leader_epoch_entries(), vec![(0, 3), (2, 6)]);
    log.truncate_to(6).unwrap();
    assert_eq!(log.leader_epoch_entries(), vec![(0, 3)]);
    assert_eq!(log.end_offset_for_epoch(0), (0, 6));
    log.close().unwrap();

    let log = open(d.path(), small_config(), clock(), clean());
    assert_eq!(log.leader_epoch_entries(), vec![(0, 3)]);
    log.truncate_fully_and_start_at(20).unwrap();
    assert!(log.leader_epoch_entries().is_empty());
    assert_eq!(checkpoint(d.path()), "0\n0\n");
}

/// The LogManager assigns no epoch of its own: the caller makes a log leader in the epoch the
/// metadata gives, it survives a reopen, and an older epoch is refused rather than letting it
/// truncate the cache's history.
#[test]
fn a_log_leads_in_the_epoch_it_is_given_and_never_an_older_one() {
    let d = tempfile::tempdir().unwrap();
    let tp = TopicPartition::new("t", 0);
    {
        let logs = LogManager::open(vec![d.path().to_path_buf()], small_config(), clock()).unwrap();
        let log = logs
            .get_or_create_log(&tp, sluice_storage::kafka_uuid::random(), None)
            .unwrap();
        assert!(log.leader_epoch_entries().is_empty());
        log.maybe_assign_epoch_start_offset(4).unwrap();
        // An empty partition already answers its epoch up to its end, as Kafka's new leader.
        assert_eq!(log.leader_epoch_entries(), vec![(4, 0)]);
        assert_eq!(log.end_offset_for_epoch(4), (4, 0));
        log.append_as_leader(&mut producer_batch(1, 3, 1_000), log.leader_epoch())
            .unwrap();
        assert_eq!(log.end_offset_for_epoch(4), (4, 3));
        logs.shutdown().unwrap();
    }
    let logs = LogManager::open(vec![d.path().to_path_buf()], small_config(), clock()).unwrap();
    let log = logs.get_log(&tp).unwrap();
    assert_eq!(
        log.leader_epoch(),
        4,
        "the cache's latest epoch until made leader again"
    );
    assert_eq!(log.leader_epoch_entries(), vec![(4, 0)]);
    assert!(log.maybe_assign_epoch_start_offset(3).is_err());
    assert_eq!(log.leader_epoch_entries(), vec![(4, 0)], "history kept");
    log.maybe_assign_epoch_start_offset(5).unwrap();
    assert_eq!(log.leader_epoch_entries(), vec![(4, 0), (5, 3)]);
    assert_eq!(log.leader_epoch(), 5);
}

#[test]
fn max_timestamp_batch_is_found_below_the_log_start_offset() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), small_config(), clock(), clean());
    assert!(log.max_timestamp_batch().unwrap().is_none());
    for (i, ts) in [1_000, 3_000, 2_000].into_iter().enumerate() {
        log.append_as_leader(&mut producer_batch(i as u64, 1, ts), 0)
            .unwrap();
    }
    let b = log.max_timestamp_batch().unwrap().unwrap();
    let rb = sluice_protocol::batch::RecordBatch::parse(&b).unwrap();
    assert_eq!((rb.base_offset(), rb.max_timestamp()), (1, 3_000));
    // DeleteRecords to the end: the segment still holds the batch, and Kafka still answers it.
    log.maybe_increment_log_start_offset(3).unwrap();
    let b = log.max_timestamp_batch().unwrap().unwrap();
    let rb = sluice_protocol::batch::RecordBatch::parse(&b).unwrap();
    assert_eq!((rb.base_offset(), rb.max_timestamp()), (1, 3_000));
}
