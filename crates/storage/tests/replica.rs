//! A follower's log: batches fetched from the leader appended as they are, with the producer
//! state, transaction index and leader epochs the leader has; the high watermark limited by
//! replication.

mod common;

use common::*;
use sluice_protocol::batch::{self, testing::build_batch_with, TRANSACTIONAL_BIT};
use sluice_storage::{LogConfig, PartitionLog, StorageError, TxnMarker};

fn txn_batch(pid: i64, seq: i32, n: usize) -> Vec<u8> {
    let values: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("p{pid}-{seq}-{i}").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    build_batch_with(0, 1_700_000_000_000, &refs, TRANSACTIONAL_BIT, pid, 0, seq)
}

fn marker(pid: i64, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id: pid,
        producer_epoch: 0,
        coordinator_epoch: 1,
        commit,
        transaction_version: 0,
    }
}

/// Everything the leader has from `from` on, as a follower's fetch gets it (past the high
/// watermark).
fn fetch(leader: &PartitionLog, from: i64) -> Vec<u8> {
    let info = leader.read_to_log_end(from, 1 << 20, true).unwrap();
    info.records
        .iter()
        .flat_map(|c| c.iter().copied())
        .collect()
}

/// A leader with plain, idempotent and transactional batches (one transaction aborted, one
/// open) over two leader epochs.
fn leader_log(dir: &std::path::Path) -> PartitionLog {
    let leader = open(dir, small_config(), clock(), clean());
    leader
        .append_as_leader(&mut producer_batch(1, 3, 1_000), 0)
        .unwrap();
    leader
        .append_as_leader(&mut idem_batch(7, 0, 0, 2, 1_001), 0)
        .unwrap();
    leader.append_as_leader(&mut txn_batch(8, 0, 2), 0).unwrap();
    leader.append_control_marker(&marker(8, false), 0).unwrap();
    leader
        .append_as_leader(&mut idem_batch(7, 0, 2, 2, 1_002), 3)
        .unwrap();
    leader.append_as_leader(&mut txn_batch(9, 0, 1), 3).unwrap();
    leader
}

#[test]
fn a_follower_copies_the_leaders_log_producer_state_and_transactions() {
    let ldir = tempfile::tempdir().unwrap();
    let fdir = tempfile::tempdir().unwrap();
    let leader = leader_log(ldir.path());
    let follower = open(fdir.path(), small_config(), clock(), clean());
    // Fetch in two rounds, as a follower does.
    let mut first = fetch(&leader, 0);
    let cut = batch::batches(&first)
        .take(3)
        .map(|b| b.unwrap().as_bytes().len())
        .sum::<usize>();
    let info = follower.append_as_follower(&mut first[..cut], 3).unwrap();
    assert_eq!((info.first_offset, info.num_batches), (0, 3));
    let mut rest = fetch(&leader, follower.log_end_offset());
    follower.append_as_follower(&mut rest, 3).unwrap();

    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    assert_eq!(read_all_to_end(&follower), read_all_to_end(&leader));
    assert_eq!(
        follower.leader_epoch_entries(),
        leader.leader_epoch_entries()
    );
    assert_eq!(follower.leader_epoch(), 3);
    assert_eq!(follower.active_producers(), leader.active_producers());
    assert_eq!(
        follower.ongoing_transactions(),
        leader.ongoing_transactions()
    );
    assert_eq!(
        follower
            .collect_aborted_transactions(0, follower.log_end_offset())
            .unwrap(),
        leader
            .collect_aborted_transactions(0, leader.log_end_offset())
            .unwrap()
    );
    // The segments together are byte for byte the leader's (where a segment rolls may
    // differ: a follower rolls per append, as Kafka's followers do).
    assert_eq!(log_bytes(fdir.path()), log_bytes(ldir.path()));
}

fn log_bytes(dir: &std::path::Path) -> Vec<u8> {
    files(dir)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect()
}

fn read_all_to_end(log: &PartitionLog) -> Vec<u8> {
    fetch(log, log.log_start_offset())
}

#[test]
fn batches_must_continue_the_log() {
    let ldir = tempfile::tempdir().unwrap();
    let fdir = tempfile::tempdir().unwrap();
    let leader = leader_log(ldir.path());
    let follower = open(fdir.path(), small_config(), clock(), clean());
    let mut bytes = fetch(&leader, 3);
    match follower.append_as_follower(&mut bytes, 3) {
        Err(StorageError::UnexpectedAppendOffset {
            expected, found, ..
        }) => assert_eq!((expected, found), (0, 3)),
        other => panic!("expected UnexpectedAppendOffset, got {other:?}"),
    }
    assert_eq!(follower.log_end_offset(), 0);
}

#[test]
fn batches_of_a_later_epoch_than_the_followed_one_are_left_out() {
    let ldir = tempfile::tempdir().unwrap();
    let fdir = tempfile::tempdir().unwrap();
    let leader = leader_log(ldir.path());
    let follower = open(fdir.path(), small_config(), clock(), clean());
    let mut bytes = fetch(&leader, 0);
    // The follower still follows epoch 0: the epoch-3 batches wait for the next fetch.
    let info = follower.append_as_follower(&mut bytes, 0).unwrap();
    assert_eq!(info.last_offset, 7);
    assert_eq!(follower.log_end_offset(), 8);
    assert_eq!(follower.leader_epoch_entries(), vec![(0, 0)]);
    // Nothing appendable at all: nothing appended, no error.
    let mut later = fetch(&leader, 8);
    let info = follower.append_as_follower(&mut later, 0).unwrap();
    assert_eq!(info.num_batches, 0);
    assert_eq!(follower.log_end_offset(), 8);
}

#[test]
fn a_follower_takes_batches_above_its_max_message_bytes() {
    let ldir = tempfile::tempdir().unwrap();
    let fdir = tempfile::tempdir().unwrap();
    let leader = open(ldir.path(), LogConfig::default(), clock(), clean());
    leader
        .append_as_leader(&mut producer_batch(1, 20, 1_000), 0)
        .unwrap();
    let follower = open(
        fdir.path(),
        LogConfig {
            max_message_bytes: 64,
            ..LogConfig::default()
        },
        clock(),
        clean(),
    );
    let mut bytes = fetch(&leader, 0);
    follower.append_as_follower(&mut bytes, 0).unwrap();
    assert_eq!(follower.log_end_offset(), 20);
}

#[test]
fn replication_limits_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), clock(), clean());
    log.append_as_leader(&mut producer_batch(1, 5, 1_000), 0)
        .unwrap();
    assert_eq!(log.high_watermark(), 5, "unreplicated: the log end");
    // A replica whose log was loaded: its high watermark from the checkpoint.
    assert_eq!(log.update_high_watermark(2), Some(2));
    assert_eq!(log.high_watermark(), 2);
    assert_eq!(log.high_watermark_limit(), Some(2));
    log.append_as_leader(&mut producer_batch(2, 5, 1_001), 0)
        .unwrap();
    assert_eq!(log.high_watermark(), 2, "appends do not pass the limit");
    assert!(
        log.read(0, 1 << 20, true, None).unwrap().is_empty(),
        "no whole batch is below the high watermark"
    );
    assert_eq!(log.limit_high_watermark(Some(7)), Some(7));
    assert_eq!(log.high_watermark(), 7);
    assert_eq!(log.limit_high_watermark(Some(4)), None, "never lowered");
    assert_eq!(log.high_watermark(), 7);
    assert_eq!(
        log.limit_high_watermark(Some(100)),
        Some(10),
        "capped at the end"
    );
    assert_eq!(log.limit_high_watermark(None), None);
    assert_eq!(log.high_watermark_limit(), None);
    log.append_as_leader(&mut producer_batch(3, 1, 1_002), 0)
        .unwrap();
    assert_eq!(log.high_watermark(), 11, "no limit: the log end again");
    // Truncation still lowers it.
    log.limit_high_watermark(Some(11));
    log.truncate_to(5).unwrap();
    assert_eq!(log.high_watermark(), 5);
}
