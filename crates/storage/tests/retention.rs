//! Retention (Kafka's deleteOldSegments): retention.ms by each segment's largest timestamp,
//! retention.bytes, the log start offset; asynchronous deletion through `.deleted` files and
//! file.delete.delay.ms; reads racing with deletion. Time is a MockTime: nothing sleeps.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use sluice_storage::{LogConfig, LogManager, StorageError, Time, TopicPartition};

const HOUR: i64 = 3_600_000;

/// .log, .index, .timeindex and .txnindex.
const FILES_PER_SEGMENT: usize = 4;

fn retention_config(retention_ms: i64, retention_bytes: i64) -> LogConfig {
    LogConfig {
        retention_ms,
        retention_bytes,
        file_delete_delay_ms: 60_000,
        ..small_config()
    }
}

/// Append batches stamped `ts` until the log has `segments` segments.
fn fill(log: &sluice_storage::PartitionLog, segments: usize, ts: i64) {
    let mut n = 0;
    while log.segment_base_offsets().len() < segments {
        log.append_as_leader(&mut producer_batch(n, 3, ts), 0)
            .unwrap();
        n += 1;
    }
}

fn deleted_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    files(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".deleted"))
        .collect()
}

#[test]
fn retention_ms_deletes_old_segments_by_largest_timestamp_then_files_after_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let log = open(
        dir.path(),
        retention_config(HOUR, -1),
        time.clone(),
        clean(),
    );
    let t0 = time.milliseconds();
    fill(&log, 3, t0);
    // Newer data in later segments.
    time.sleep(HOUR / 2);
    let before = log.segment_base_offsets();
    let newer_from = log.log_end_offset();
    fill(&log, before.len() + 2, t0 + HOUR / 2);
    let segs = log.segment_base_offsets();
    // Nothing is old enough yet.
    assert_eq!(log.delete_old_segments().unwrap(), 0);
    // One hour and a bit after t0: only the segments holding nothing newer than t0 go. The
    // segment where the newer data starts is kept (its largest timestamp is newer).
    time.set(t0 + HOUR + 1);
    let n = log.delete_old_segments().unwrap();
    let kept_from = segs
        .iter()
        .rposition(|b| *b <= newer_from)
        .expect("segment holding the first newer batch");
    assert_eq!(n, kept_from);
    assert_eq!(log.segment_base_offsets(), segs[kept_from..].to_vec());
    assert_eq!(log.log_start_offset(), segs[kept_from]);
    assert!(matches!(
        log.read(segs[kept_from] - 1, 1 << 20, true, None),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    // The deleted segments' files are renamed, not yet removed.
    let renamed = deleted_files(dir.path());
    assert_eq!(renamed.len(), FILES_PER_SEGMENT * n, "{renamed:?}");
    assert_eq!(log.pending_deleted_files().len(), FILES_PER_SEGMENT * n);
    assert!(!dir.path().join("00000000000000000000.log").exists());
    assert_eq!(log.delete_due_files().unwrap(), 0, "delay not over");
    time.sleep(59_999);
    assert_eq!(log.delete_due_files().unwrap(), 0);
    time.sleep(1);
    assert_eq!(log.delete_due_files().unwrap(), FILES_PER_SEGMENT * n);
    assert!(deleted_files(dir.path()).is_empty());
    assert!(log.pending_deleted_files().is_empty());
    // The rest reads fine from the new start.
    assert!(!read_all(&log).is_empty());
}

#[test]
fn every_segment_expired_rolls_the_active_one_and_empties_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let log = open(
        dir.path(),
        retention_config(1000, -1),
        time.clone(),
        clean(),
    );
    fill(&log, 2, time.milliseconds());
    log.append_as_leader(&mut producer_batch(1, 1, time.milliseconds()), 0)
        .unwrap();
    let leo = log.log_end_offset();
    time.sleep(1001);
    let n = log.delete_old_segments().unwrap();
    assert_eq!(n, 2, "the old segment and the (rolled) active one");
    assert_eq!(log.segment_base_offsets(), vec![leo]);
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.high_watermark()
        ),
        (leo, leo, leo)
    );
    // The empty active segment is never deleted.
    time.sleep(10_000);
    assert_eq!(log.delete_old_segments().unwrap(), 0);
    // Appends continue at the same offsets.
    let info = log
        .append_as_leader(&mut producer_batch(2, 1, time.milliseconds()), 0)
        .unwrap();
    assert_eq!(info.first_offset, leo);
}

#[test]
fn retention_ms_minus_one_and_compact_only_keep_everything() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let log = open(dir.path(), retention_config(-1, -1), time.clone(), clean());
    fill(&log, 3, time.milliseconds());
    time.sleep(365 * 24 * HOUR);
    assert_eq!(log.delete_old_segments().unwrap(), 0);
    log.update_config(LogConfig {
        cleanup_policy_delete: false,
        ..retention_config(1, 1)
    })
    .unwrap();
    assert_eq!(log.delete_old_segments().unwrap(), 0);
    assert_eq!(log.log_start_offset(), 0);
    // A shorter retention applied live takes effect on the next check.
    log.update_config(retention_config(1, -1)).unwrap();
    assert_eq!(log.delete_old_segments().unwrap(), 3);
}

#[test]
fn retention_bytes_keeps_the_log_at_or_above_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let log = open(dir.path(), retention_config(-1, -1), time.clone(), clean());
    fill(&log, 5, time.milliseconds());
    let total = log.size_in_bytes();
    let segs = log.segment_base_offsets();
    // A limit of the total minus a bit more than one segment: exactly one segment goes (the
    // log may shrink only by whole segments and never below the limit).
    let first_size = std::fs::metadata(dir.path().join("00000000000000000000.log"))
        .unwrap()
        .len();
    log.update_config(retention_config(-1, (total - first_size) as i64))
        .unwrap();
    assert_eq!(log.delete_old_segments().unwrap(), 1);
    assert_eq!(log.segment_base_offsets(), segs[1..].to_vec());
    assert_eq!(log.log_start_offset(), segs[1]);
    // One byte short of allowing the next segment to go: nothing is deleted.
    let total = log.size_in_bytes();
    log.update_config(retention_config(-1, total as i64 - 1))
        .unwrap();
    assert_eq!(log.delete_old_segments().unwrap(), 0);
    // Zero deletes everything, rolling the active segment.
    log.update_config(retention_config(-1, 0)).unwrap();
    assert!(log.delete_old_segments().unwrap() >= 1);
    assert_eq!(log.size_in_bytes(), 0);
    assert_eq!(log.log_start_offset(), log.log_end_offset());
}

#[test]
fn delete_records_moves_segments_to_deleted_files_and_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let config = retention_config(-1, -1);
    let tp = TopicPartition::new("t", 0);
    let start;
    {
        let mgr =
            LogManager::open(vec![dir.path().to_path_buf()], config.clone(), time.clone()).unwrap();
        let log = mgr
            .get_or_create_log(&tp, sluice_storage::kafka_uuid::random(), None)
            .unwrap();
        fill(&log, 4, time.milliseconds());
        let segs = log.segment_base_offsets();
        start = log.maybe_increment_log_start_offset(segs[2] + 1).unwrap();
        assert_eq!(start, segs[2] + 1);
        assert_eq!(log.segment_base_offsets(), segs[2..].to_vec());
        assert_eq!(deleted_files(log.dir()).len(), 2 * FILES_PER_SEGMENT);
        // A retention pass removes nothing more: the segment holding the start stays.
        assert_eq!(mgr.delete_old_segments(), 0);
        mgr.checkpoint_log_start_offsets().unwrap();
        // Crash: no shutdown, no clean marker.
    }
    let mgr = LogManager::open(vec![dir.path().to_path_buf()], config, time.clone()).unwrap();
    let log = mgr.get_log(&tp).unwrap();
    assert_eq!(log.log_start_offset(), start);
    assert!(
        deleted_files(log.dir()).is_empty(),
        "leftover .deleted files are removed at load"
    );
    assert!(matches!(
        log.read(start - 1, 1 << 20, true, None),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn reads_racing_with_retention_never_fail_on_io() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let config = LogConfig {
        file_delete_delay_ms: 0, // unlink at once: the harshest case for readers
        ..retention_config(-1, -1)
    };
    let log = Arc::new(open(dir.path(), config.clone(), time.clone(), clean()));
    fill(&log, 30, time.milliseconds());
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let log = log.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::SeqCst) || reads == 0 {
                // Read from wherever the log starts now; by the time the read runs the
                // start may have moved: OffsetOutOfRange is the only acceptable error.
                let from = log.log_start_offset();
                match log.read(from, 1 << 20, true, None) {
                    Ok(info) => {
                        for chunk in &info.records {
                            for b in sluice_protocol::batch::batches(chunk) {
                                b.expect("whole, readable batches");
                            }
                        }
                    }
                    Err(StorageError::OffsetOutOfRange { .. }) => {}
                    Err(e) => panic!("read failed: {e}"),
                }
                reads += 1;
            }
            reads
        })
    };
    // Shrink the log one segment at a time while the reader runs (DeleteRecords-style), then
    // drop the rest by retention.bytes = 0.
    loop {
        let segs = log.segment_base_offsets();
        if segs.len() <= 2 {
            break;
        }
        assert_eq!(
            log.maybe_increment_log_start_offset(segs[1]).unwrap(),
            segs[1]
        );
    }
    log.update_config(LogConfig {
        retention_bytes: 0,
        ..config.clone()
    })
    .unwrap();
    assert!(log.delete_old_segments().unwrap() >= 1);
    stop.store(true, Ordering::SeqCst);
    let reads = reader.join().expect("reader thread");
    assert!(reads > 0);
    assert!(deleted_files(dir.path()).is_empty());
}
