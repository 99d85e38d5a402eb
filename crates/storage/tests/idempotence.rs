//! Idempotent producers: duplicate detection, sequence and epoch checks through
//! `PartitionLog::append_as_leader`, and producer state surviving restarts, crashes and
//! truncation.

mod common;

use std::fs::OpenOptions;
use std::sync::Arc;

use common::*;
use sluice_storage::{
    LoadParams, LogConfig, LogManager, MessageTimestampType, MockTime, PartitionLog,
    ProducerStateConfig, StorageError, Time,
};

const PID: i64 = 4242;
const TS: i64 = 1_700_000_000_000;

/// Append `count` batches of 3 records from PID, epoch 0, starting at sequence `from_seq`.
/// Returns the first offset of each.
fn append_run(log: &PartitionLog, from_seq: i32, count: i32) -> Vec<i64> {
    (0..count)
        .map(|i| {
            let info = log
                .append_as_leader(&mut idem_batch(PID, 0, from_seq + i * 3, 3, TS), 0)
                .unwrap();
            assert!(!info.duplicate);
            info.first_offset
        })
        .collect()
}

fn retry(log: &PartitionLog, seq: i32) -> sluice_storage::Result<sluice_storage::LogAppendInfo> {
    log.append_as_leader(&mut idem_batch(PID, 0, seq, 3, TS), 0)
}

fn assert_duplicate(log: &PartitionLog, seq: i32, first_offset: i64) {
    let leo = log.log_end_offset();
    let info = retry(log, seq).unwrap();
    assert!(info.duplicate, "seq {seq} should be a duplicate: {info:?}");
    assert_eq!(info.first_offset, first_offset);
    assert_eq!(info.last_offset, first_offset + 2);
    assert_eq!(log.log_end_offset(), leo, "a duplicate is not written");
}

fn big_segments() -> LogConfig {
    LogConfig::default()
}

#[test]
fn duplicate_returns_original_offsets_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), big_segments(), clock(), clean());
    // Interleave with a non-idempotent producer.
    log.append_as_leader(&mut producer_batch(0, 2, TS), 0)
        .unwrap();
    let offsets = append_run(&log, 0, 8);
    log.append_as_leader(&mut producer_batch(1, 2, TS), 0)
        .unwrap();
    let bytes_before = read_all(&log);
    for i in 3..8 {
        assert_duplicate(&log, i * 3, offsets[i as usize]);
    }
    assert_eq!(read_all(&log), bytes_before);
    // Out of order and fenced epochs are typed errors with Kafka's codes.
    let gap = retry(&log, 8 * 3 + 1).unwrap_err();
    assert!(
        matches!(gap, StorageError::OutOfOrderSequence { .. }),
        "{gap}"
    );
    assert_eq!(gap.kafka_error_code(), 45);
    log.append_as_leader(&mut idem_batch(PID, 1, 0, 3, TS), 0)
        .unwrap();
    let old = retry(&log, 8 * 3).unwrap_err();
    assert!(
        matches!(old, StorageError::InvalidProducerEpoch { .. }),
        "{old}"
    );
    assert_eq!(old.kafka_error_code(), 47);
    // Non-idempotent batches are never deduplicated.
    let a = log
        .append_as_leader(&mut producer_batch(0, 2, TS), 0)
        .unwrap();
    let b = log
        .append_as_leader(&mut producer_batch(0, 2, TS), 0)
        .unwrap();
    assert!(!a.duplicate && !b.duplicate && b.first_offset == a.first_offset + 2);
}

#[test]
fn duplicate_on_log_append_time_topic_reports_original_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let config = LogConfig {
        message_timestamp_type: MessageTimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, time.clone(), clean());
    let first = log
        .append_as_leader(&mut idem_batch(PID, 0, 0, 3, 5), 0)
        .unwrap();
    time.sleep(1_000);
    let dup = log
        .append_as_leader(&mut idem_batch(PID, 0, 0, 3, 5), 0)
        .unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.first_offset, first.first_offset);
    assert_eq!(dup.log_append_time, first.log_append_time);
}

#[test]
fn dedup_survives_clean_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let log = open(dir.path(), small_config(), time.clone(), clean());
    let offsets = append_run(&log, 0, 20);
    assert!(log.segment_base_offsets().len() > 2, "rolled");
    log.close().unwrap();
    let leo = log.log_end_offset();
    drop(log);
    assert!(
        snapshot_offsets_on_disk(dir.path()).contains(&leo),
        "clean close writes a snapshot at the log end"
    );
    let log = open(dir.path(), small_config(), time, clean());
    // A snapshot keeps the producer's last batch.
    assert_duplicate(&log, 19 * 3, offsets[19]);
    let err = retry(&log, 20 * 3 + 3).unwrap_err();
    assert!(matches!(err, StorageError::OutOfOrderSequence { .. }));
    let next = retry(&log, 20 * 3).unwrap();
    assert!(!next.duplicate);
    assert_eq!(next.first_offset, leo);
}

#[test]
fn dedup_survives_crash_without_snapshots() {
    // No roll, so no snapshot: the state is rebuilt from the whole log.
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), big_segments(), clock(), clean());
    let offsets = append_run(&log, 0, 12);
    drop(log); // no close: no snapshot at the log end
    assert!(snapshot_offsets_on_disk(dir.path()).is_empty());
    let log = open(
        dir.path(),
        big_segments(),
        clock(),
        LoadParams::after_crash(),
    );
    for i in 7..12 {
        assert_duplicate(&log, i * 3, offsets[i as usize]);
    }
    assert!(retry(&log, 6 * 3).is_err(), "older than the last five");
    assert_eq!(log.producer_snapshot_offsets(), vec![36], "load writes one");
}

#[test]
fn dedup_survives_crash_with_snapshots_from_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    let offsets = append_run(&log, 0, 35); // the last segment holds fewer than 5 batches
    let bases = log.segment_base_offsets();
    assert!(bases.len() > 3);
    let last_base = *bases.last().unwrap();
    let snaps = snapshot_offsets_on_disk(dir.path());
    assert_eq!(snaps.len(), 3, "only the newest three are kept: {snaps:?}");
    assert_eq!(snaps.last(), Some(&last_base), "snapshot at each roll");
    drop(log);
    let log = open(
        dir.path(),
        small_config(),
        clock(),
        LoadParams::after_crash(),
    );
    // The snapshot keeps the last batch before it; the batches after it are replayed. Of
    // these, the last five are remembered.
    let before = offsets.iter().rposition(|&o| o < last_base).unwrap();
    let remembered: Vec<usize> = (before..offsets.len()).rev().take(5).collect();
    assert!(remembered.contains(&before), "{remembered:?} {before}");
    for &i in &remembered {
        assert_duplicate(&log, i as i32 * 3, offsets[i]);
    }
    let oldest = *remembered.last().unwrap();
    if oldest > 0 {
        assert!(retry(&log, (oldest as i32 - 1) * 3).is_err());
    }
    assert!(!retry(&log, 35 * 3).unwrap().duplicate);
}

#[test]
fn torn_tail_is_not_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), big_segments(), clock(), clean());
    let offsets = append_run(&log, 0, 5);
    let path = dir.path().join("00000000000000000000.log");
    drop(log);
    // Cut the last batch in half, as a crash during the write would.
    let len = std::fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 20)
        .unwrap();
    let log = open(
        dir.path(),
        big_segments(),
        clock(),
        LoadParams::after_crash(),
    );
    assert_eq!(log.log_end_offset(), offsets[4]);
    // The producer's retry of the torn batch is appended, not acknowledged as a duplicate.
    let info = retry(&log, 4 * 3).unwrap();
    assert!(!info.duplicate);
    assert_eq!(info.first_offset, offsets[4]);
    assert_duplicate(&log, 3 * 3, offsets[3]);
}

#[test]
fn corrupt_snapshot_falls_back_to_older_one_and_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    let offsets = append_run(&log, 0, 30);
    log.close().unwrap();
    let leo = log.log_end_offset();
    drop(log);
    let newest = dir.path().join(format!("{leo:020}.snapshot"));
    let mut bytes = std::fs::read(&newest).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 1;
    std::fs::write(&newest, bytes).unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    assert_duplicate(&log, 29 * 3, offsets[29]);
    assert!(!snapshot_offsets_on_disk(dir.path()).is_empty());
}

#[test]
fn truncation_removes_newer_snapshots_and_rebuilds_state() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    let offsets = append_run(&log, 0, 40);
    let snaps = log.producer_snapshot_offsets();
    assert_eq!(snaps, snapshot_offsets_on_disk(dir.path()));
    let target = snaps[1]; // inside the kept range: the newest snapshot goes
    let cut = offsets.iter().position(|&o| o >= target + 4).unwrap();
    log.truncate_to(offsets[cut]).unwrap();
    assert_eq!(log.log_end_offset(), offsets[cut]);
    let after = log.producer_snapshot_offsets();
    assert!(after.iter().all(|&s| s <= offsets[cut]), "{after:?}");
    assert_eq!(after, snapshot_offsets_on_disk(dir.path()));
    // The state is that of the remaining log: batch cut-1 is the last one.
    assert_duplicate(&log, (cut as i32 - 1) * 3, offsets[cut - 1]);
    assert!(retry(&log, cut as i32 * 3 + 3).is_err());
    let info = retry(&log, cut as i32 * 3).unwrap();
    assert!(!info.duplicate);
    assert_eq!(info.first_offset, offsets[cut]);

    // Truncating everything forgets all producers and snapshots.
    log.truncate_fully_and_start_at(1000).unwrap();
    assert!(snapshot_offsets_on_disk(dir.path()).is_empty());
    assert!(log.active_producers().is_empty());
    let fresh = retry(&log, 77).unwrap(); // unknown producer: any sequence
    assert_eq!(fresh.first_offset, 1000);
}

#[test]
fn producers_expire_by_mock_time_and_at_load() {
    let root = tempfile::tempdir().unwrap();
    let time = Arc::new(MockTime::new(TS));
    let config = ProducerStateConfig {
        producer_id_expiration_ms: 60_000,
    };
    let mgr = LogManager::open_with_producer_state_config(
        vec![root.path().to_path_buf()],
        LogConfig::default(),
        time.clone(),
        config,
    )
    .unwrap();
    let log = mgr
        .get_or_create_log(&tp(), sluice_storage::kafka_uuid::random(), None)
        .unwrap();
    // Batch timestamps follow the clock (the expiration runs from them, as in Kafka).
    log.append_as_leader(&mut idem_batch(1, 0, 0, 1, time.milliseconds()), 0)
        .unwrap();
    time.sleep(30_000);
    log.append_as_leader(&mut idem_batch(2, 0, 0, 1, time.milliseconds()), 0)
        .unwrap();
    time.sleep(29_999);
    assert_eq!(mgr.remove_expired_producers(time.milliseconds()), 0);
    time.sleep(1);
    assert_eq!(mgr.remove_expired_producers(time.milliseconds()), 1);
    let left: Vec<i64> = log
        .active_producers()
        .iter()
        .map(|e| e.producer_id)
        .collect();
    assert_eq!(left, vec![2]);
    // Producer 1 is unknown now: it may continue at any sequence.
    log.append_as_leader(&mut idem_batch(1, 0, 50, 1, time.milliseconds()), 0)
        .unwrap();
    mgr.shutdown().unwrap();
    drop((log, mgr));

    // At load, producers already expired are not restored.
    time.sleep(30_001);
    let mgr = LogManager::open_with_producer_state_config(
        vec![root.path().to_path_buf()],
        LogConfig::default(),
        time.clone(),
        config,
    )
    .unwrap();
    let log = mgr.get_log(&tp()).unwrap();
    let left: Vec<i64> = log
        .active_producers()
        .iter()
        .map(|e| e.producer_id)
        .collect();
    assert_eq!(left, vec![1]);
    assert!(mgr.set_producer_id_expiration_ms(0).is_err());
    mgr.set_producer_id_expiration_ms(1).unwrap();
    assert_eq!(mgr.remove_expired_producers(time.milliseconds()), 1);
}

#[test]
fn dedup_survives_log_manager_restart_after_crash() {
    let root = tempfile::tempdir().unwrap();
    let time = clock();
    let mgr = LogManager::open(vec![root.path().into()], small_config(), time.clone()).unwrap();
    let log = mgr
        .get_or_create_log(&tp(), sluice_storage::kafka_uuid::random(), None)
        .unwrap();
    let offsets = append_run(&log, 0, 25);
    mgr.checkpoint().unwrap();
    drop((log, mgr)); // crash: no shutdown, no marker
    let mgr = LogManager::open(vec![root.path().into()], small_config(), time).unwrap();
    let log = mgr.get_log(&tp()).unwrap();
    assert_duplicate(&log, 24 * 3, offsets[24]);
    assert!(!retry(&log, 25 * 3).unwrap().duplicate);
}
