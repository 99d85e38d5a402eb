//! Scenario tests for PartitionLog: append, read, roll, indexes, durability modes, truncation.

mod common;

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use sluice_protocol::batch::{self, RecordBatch, TimestampType};
use sluice_storage::{
    LoadParams, LogConfig, MessageTimestampType, RollReason, StorageError, Time, TimestampAndOffset,
};

#[test]
fn append_assigns_dense_offsets_and_keeps_bytes_identical() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), clock(), clean());
    let mut expected = Vec::new();
    for i in 0..10u64 {
        let mut b = producer_batch(i, (i % 3 + 1) as usize, 1000 + i as i64);
        let original = b.to_vec();
        let info = log.append_as_leader(&mut b, 7).unwrap();
        assert_eq!(info.num_messages, (i % 3 + 1) as i64);
        assert_eq!(info.last_offset - info.first_offset + 1, info.num_messages);
        assert_eq!(info.log_append_time, -1);
        // Only baseOffset (0..8) and partitionLeaderEpoch (12..16) differ.
        assert_eq!(&b[8..12], &original[8..12]);
        assert_eq!(&b[16..], &original[16..]);
        let parsed = RecordBatch::parse_validated(&b).unwrap();
        assert_eq!(parsed.base_offset(), info.first_offset);
        assert_eq!(parsed.partition_leader_epoch(), 7);
        expected.push(b.to_vec());
    }
    assert_eq!(log.log_end_offset(), 19);
    assert_eq!(log.high_watermark(), 19);
    assert_eq!(read_all(&log), expected);
    // Multi-batch payloads get consecutive offsets.
    let mut payload = producer_batch(1, 2, 5);
    payload.extend_from_slice(&producer_batch(2, 3, 6));
    let info = log.append_as_leader(&mut payload, 0).unwrap();
    assert_eq!(
        (info.first_offset, info.last_offset, info.num_batches),
        (19, 23, 2)
    );
}

#[test]
fn rejects_bad_payloads_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        max_message_bytes: 200,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, clock(), clean());
    let mut big = producer_batch(0, 20, 1);
    assert!(matches!(
        log.append_as_leader(&mut big, 0),
        Err(StorageError::RecordTooLarge { .. })
    ));
    let mut torn = producer_batch(0, 1, 1);
    torn.truncate(torn.len() - 1);
    assert!(matches!(
        log.append_as_leader(&mut torn, 0),
        Err(StorageError::InvalidRecords { position: 0, .. })
    ));
    let mut trailing = producer_batch(0, 1, 1);
    let at = trailing.len();
    trailing.extend_from_slice(&[0, 0, 0]);
    match log.append_as_leader(&mut trailing, 0) {
        Err(StorageError::InvalidRecords { position, .. }) => assert_eq!(position, at),
        other => panic!("{other:?}"),
    }
    assert!(log.append_as_leader(&mut [], 0).is_err());
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn read_returns_whole_batches_from_the_one_holding_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    let mut sizes = Vec::new();
    for i in 0..40u64 {
        let mut b = producer_batch(i, 3, 1000);
        sizes.push(b.len());
        log.append_as_leader(&mut b, 0).unwrap();
    }
    assert!(
        log.segment_base_offsets().len() > 3,
        "small segments rolled"
    );
    // Fetch from the middle of batch 5 (offsets 15..=17).
    let info = log.read(16, sizes[5] + sizes[6], false, None).unwrap();
    let got: Vec<_> = info
        .records
        .iter()
        .flat_map(|c| {
            batch::batches(c)
                .map(|b| b.unwrap().base_offset())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(got, vec![15, 18]);
    assert_eq!(info.high_watermark, 120);
    assert_eq!(info.log_end_offset, 120);
    // max_bytes smaller than the first batch: nothing, unless min_one_batch (KIP-74).
    assert!(log.read(16, 10, false, None).unwrap().is_empty());
    let one = log.read(16, 10, true, None).unwrap();
    assert_eq!(one.size(), sizes[5]);
    // A read spans segments when the budget allows.
    let all = log.read(0, 1 << 20, false, None).unwrap();
    assert!(all.records.len() > 1);
    assert_eq!(all.size(), sizes.iter().sum::<usize>());
    // Upper bound (e.g. last stable offset) is exclusive and respected.
    let bounded = log.read(0, 1 << 20, false, Some(30)).unwrap().into_bytes();
    let last = batch::batches(&bounded).last().unwrap().unwrap();
    assert_eq!(last.next_offset(), 30);
    // At the log end: empty; beyond or below the log: OFFSET_OUT_OF_RANGE.
    assert!(log.read(120, 100, true, None).unwrap().is_empty());
    assert!(matches!(
        log.read(121, 100, true, None),
        Err(StorageError::OffsetOutOfRange {
            offset: 121,
            log_end_offset: 120,
            ..
        })
    ));
    assert!(matches!(
        log.read(-1, 100, true, None),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn rolls_on_segment_bytes_and_trims_indexes_kafka_style() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 2000,
        index_interval_bytes: 100,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, clock(), clean());
    let active_index = dir.path().join("00000000000000000000.index");
    assert_eq!(
        std::fs::metadata(&active_index).unwrap().len(),
        10 * 1024 * 1024
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("00000000000000000000.timeindex"))
            .unwrap()
            .len(),
        10 * 1024 * 1024 / 12 * 12
    );
    let mut rolled = None;
    let mut n = 0;
    while rolled.is_none() {
        let mut b = producer_batch(n, 2, 1000 + n as i64);
        rolled = log
            .append_as_leader(&mut b, 0)
            .unwrap()
            .rolled
            .map(|r| (r, n));
        n += 1;
    }
    let (reason, at) = rolled.unwrap();
    assert_eq!(reason, RollReason::SegmentBytes);
    let second = log.segment_base_offsets()[1];
    assert_eq!(second, at as i64 * 2);
    assert!(
        log.recovery_point() >= second,
        "the rolled segment was flushed"
    );
    let log_len = std::fs::metadata(dir.path().join("00000000000000000000.log"))
        .unwrap()
        .len();
    assert!(log_len <= 2000);
    // The rolled segment's indexes are trimmed to their entries; the new one is pre-allocated.
    let idx_len = std::fs::metadata(&active_index).unwrap().len();
    assert!(
        idx_len > 0 && idx_len.is_multiple_of(8) && idx_len < 2000,
        "{idx_len}"
    );
    let tidx_len = std::fs::metadata(dir.path().join("00000000000000000000.timeindex"))
        .unwrap()
        .len();
    assert!(tidx_len.is_multiple_of(12) && tidx_len >= 12, "{tidx_len}");
    let new_index = dir.path().join(format!("{second:020}.index"));
    assert_eq!(
        std::fs::metadata(new_index).unwrap().len(),
        10 * 1024 * 1024
    );
    // Closing trims the active segment's indexes too.
    log.close().unwrap();
    let new_index = dir.path().join(format!("{second:020}.index"));
    assert!(std::fs::metadata(new_index).unwrap().len() < 2000);
    assert!(matches!(
        log.append_as_leader(&mut producer_batch(0, 1, 1), 0),
        Err(StorageError::LogClosed { .. })
    ));
}

#[test]
fn rolls_on_segment_ms_by_first_batch_timestamp_or_creation_time() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let config = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, time.clone(), clean());
    // Record timestamps drive the roll when they are set...
    assert!(log
        .append_as_leader(&mut producer_batch(0, 1, 10_000), 0)
        .unwrap()
        .rolled
        .is_none());
    assert!(log
        .append_as_leader(&mut producer_batch(1, 1, 10_900), 0)
        .unwrap()
        .rolled
        .is_none());
    let info = log
        .append_as_leader(&mut producer_batch(2, 1, 11_001), 0)
        .unwrap();
    assert_eq!(info.rolled, Some(RollReason::SegmentMs));
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    // ...and the segment's creation time when they are not (NO_TIMESTAMP).
    let dir2 = tempfile::tempdir().unwrap();
    let log = open(
        dir2.path(),
        LogConfig {
            segment_ms: 1000,
            ..LogConfig::default()
        },
        time.clone(),
        clean(),
    );
    assert!(log
        .append_as_leader(&mut producer_batch(0, 1, -1), 0)
        .unwrap()
        .rolled
        .is_none());
    time.sleep(1000);
    assert!(log
        .append_as_leader(&mut producer_batch(0, 1, -1), 0)
        .unwrap()
        .rolled
        .is_none());
    time.sleep(1);
    assert_eq!(
        log.append_as_leader(&mut producer_batch(0, 1, -1), 0)
            .unwrap()
            .rolled,
        Some(RollReason::SegmentMs)
    );
}

#[test]
fn rolls_when_an_index_is_full_or_offsets_would_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        index_interval_bytes: 1,
        segment_index_bytes: 40, // 5 offset entries, 3 time entries (one kept free)
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, clock(), clean());
    let mut reasons = Vec::new();
    for i in 0..12 {
        if let Some(r) = log
            .append_as_leader(&mut producer_batch(i, 1, 1000 + i as i64), 0)
            .unwrap()
            .rolled
        {
            reasons.push(r);
        }
    }
    assert!(reasons.contains(&RollReason::TimeIndexFull), "{reasons:?}");

    // A batch claiming ~2^31 offsets leaves the next append unable to use relative offsets.
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), clock(), clean());
    log.append_as_leader(&mut producer_batch(0, 1, 1), 0)
        .unwrap();
    let mut huge = producer_batch(1, 1, 1);
    huge[batch::LAST_OFFSET_DELTA_OFFSET..batch::LAST_OFFSET_DELTA_OFFSET + 4]
        .copy_from_slice(&(i32::MAX - 1).to_be_bytes());
    let info = log.append_as_leader(&mut huge, 0).unwrap();
    assert_eq!(info.last_offset, i64::from(i32::MAX));
    let info = log
        .append_as_leader(&mut producer_batch(2, 1, 1), 0)
        .unwrap();
    assert_eq!(info.rolled, Some(RollReason::OffsetOverflow));
    assert_eq!(log.segment_base_offsets(), vec![0, i64::from(i32::MAX) + 1]);
}

#[test]
fn log_append_time_rewrites_timestamps_and_crc() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let config = LogConfig {
        message_timestamp_type: MessageTimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, time.clone(), clean());
    let mut b = producer_batch(0, 2, 5);
    let info = log.append_as_leader(&mut b, 0).unwrap();
    assert_eq!(info.log_append_time, time.milliseconds());
    assert_eq!(info.max_timestamp, time.milliseconds());
    let stored = log.read(0, 1 << 20, true, None).unwrap().into_bytes();
    let batch = RecordBatch::parse_validated(&stored).unwrap();
    assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(batch.max_timestamp(), time.milliseconds());
}

#[test]
fn offset_for_timestamp_uses_batch_max_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    for i in 0..60i64 {
        log.append_as_leader(&mut producer_batch(i as u64, 2, 1000 + 10 * i), 0)
            .unwrap();
    }
    assert!(log.segment_base_offsets().len() > 2);
    assert_eq!(
        log.fetch_offset_by_timestamp(0).unwrap(),
        Some(TimestampAndOffset {
            timestamp: 1000,
            offset: 0
        })
    );
    assert_eq!(
        log.fetch_offset_by_timestamp(1255).unwrap(),
        Some(TimestampAndOffset {
            timestamp: 1260,
            offset: 52
        })
    );
    assert_eq!(
        log.fetch_offset_by_timestamp(1590).unwrap(),
        Some(TimestampAndOffset {
            timestamp: 1590,
            offset: 118
        })
    );
    assert_eq!(log.fetch_offset_by_timestamp(1591).unwrap(), None);
}

#[test]
fn fsync_mode_holds_the_high_watermark_until_synced_with_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        fsync_before_ack: true,
        ..LogConfig::default()
    };
    let log = Arc::new(open(dir.path(), config, clock(), clean()));
    let notified = Arc::new(AtomicI64::new(-1));
    let n2 = notified.clone();
    log.set_high_watermark_listener(Arc::new(move |_, hw| {
        n2.fetch_max(hw, Ordering::SeqCst);
    }));
    let info = log
        .append_as_leader(&mut producer_batch(0, 3, 1), 0)
        .unwrap();
    assert_eq!(info.high_watermark, 0);
    assert_eq!(log.high_watermark(), 0);
    assert!(
        log.read(0, 1 << 20, true, None).unwrap().is_empty(),
        "nothing past the hw"
    );
    log.sync_to(info.last_offset).unwrap();
    assert_eq!(log.high_watermark(), 3);
    assert_eq!(notified.load(Ordering::SeqCst), 3);
    assert!(matches!(
        log.sync_to(3),
        Err(StorageError::SyncBeyondLogEnd { .. })
    ));
    // Many appenders waiting for durability.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    let info = log
                        .append_as_leader(&mut producer_batch(t * 100 + i, 1, 1), 0)
                        .unwrap();
                    log.sync_to(info.last_offset).unwrap();
                    assert!(log.high_watermark() > info.last_offset);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(log.high_watermark(), 3 + 160);
    assert_eq!(notified.load(Ordering::SeqCst), 163);
    assert_eq!(read_all(&log).len(), 161);
}

#[test]
fn flush_messages_and_flush_ms_advance_the_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let config = LogConfig {
        flush_messages: 5,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, time.clone(), clean());
    for i in 0..4 {
        log.append_as_leader(&mut producer_batch(i, 1, 1), 0)
            .unwrap();
    }
    assert_eq!(log.recovery_point(), 0);
    log.append_as_leader(&mut producer_batch(4, 1, 1), 0)
        .unwrap();
    assert_eq!(log.recovery_point(), 5);

    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush_ms: 1000,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, time.clone(), clean());
    log.append_as_leader(&mut producer_batch(0, 2, 1), 0)
        .unwrap();
    assert!(!log.flush_if_due().unwrap());
    assert_eq!(log.recovery_point(), 0);
    time.sleep(1000);
    assert!(log.flush_if_due().unwrap());
    assert_eq!(log.recovery_point(), 2);
}

#[test]
fn truncation_and_log_start_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    for i in 0..50 {
        log.append_as_leader(&mut producer_batch(i, 2, 1000), 0)
            .unwrap();
    }
    let segs = log.segment_base_offsets();
    assert!(segs.len() > 3);
    // Truncate into an earlier segment: later segments are deleted.
    log.truncate_to(segs[1] + 4).unwrap();
    assert_eq!(log.log_end_offset(), segs[1] + 4);
    assert_eq!(log.segment_base_offsets(), segs[..2].to_vec());
    assert_eq!(read_all(&log).len() as i64, (segs[1] + 4) / 2);
    let info = log
        .append_as_leader(&mut producer_batch(99, 1, 1000), 0)
        .unwrap();
    assert_eq!(info.first_offset, segs[1] + 4);
    // DeleteRecords: the log start moves, whole segments below it go.
    let start = log.maybe_increment_log_start_offset(segs[1] + 1).unwrap();
    assert_eq!(start, segs[1] + 1);
    assert_eq!(log.segment_base_offsets(), vec![segs[1]]);
    assert!(matches!(
        log.read(segs[1] - 1, 100, true, None),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    let first = log.read(start, 1 << 20, true, None).unwrap().into_bytes();
    // The batch holding the log start offset is returned whole.
    assert_eq!(RecordBatch::parse(&first).unwrap().base_offset(), segs[1]);
    log.truncate_fully_and_start_at(1000).unwrap();
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.high_watermark()
        ),
        (1000, 1000, 1000)
    );
    assert_eq!(log.segment_base_offsets(), vec![1000]);
    assert_eq!(
        log.append_as_leader(&mut producer_batch(0, 1, 1), 0)
            .unwrap()
            .first_offset,
        1000
    );
}

#[test]
fn readers_run_alongside_the_writer_and_see_only_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path(), small_config(), clock(), clean()));
    let done = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (log, done) = (log.clone(), done.clone());
            std::thread::spawn(move || {
                let mut reads = 0;
                while done.load(Ordering::SeqCst) == 0 || reads < 10 {
                    let hw = log.high_watermark();
                    let info = log.read(0, 1 << 20, true, None).unwrap();
                    let mut expect = 0;
                    for c in &info.records {
                        for b in batch::batches(c) {
                            let b = b.unwrap();
                            RecordBatch::parse_validated(b.as_bytes()).unwrap();
                            assert_eq!(b.base_offset(), expect);
                            expect = b.next_offset();
                        }
                    }
                    assert!(expect >= hw.min(expect), "dense prefix");
                    assert!(expect <= info.high_watermark);
                    reads += 1;
                }
            })
        })
        .collect();
    for i in 0..300 {
        log.append_as_leader(&mut producer_batch(i, 2, 1000), 0)
            .unwrap();
    }
    done.store(1, Ordering::SeqCst);
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(read_all(&log).len(), 300);
}

#[test]
fn reopen_after_clean_close_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let time = clock();
    let log = open(dir.path(), small_config(), time.clone(), clean());
    for i in 0..30 {
        log.append_as_leader(&mut producer_batch(i, 2, 1000 + i as i64), 0)
            .unwrap();
    }
    let before = read_all(&log);
    log.close().unwrap();
    drop(log);
    let log = open(
        dir.path(),
        small_config(),
        time,
        LoadParams {
            recovery_point: 60,
            ..clean()
        },
    );
    assert_eq!(log.log_end_offset(), 60);
    assert_eq!(read_all(&log), before);
    assert_eq!(
        log.append_as_leader(&mut producer_batch(0, 1, 1), 0)
            .unwrap()
            .first_offset,
        60
    );
}

#[test]
fn fsync_mode_appenders_syncers_and_readers_together() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        fsync_before_ack: true,
        segment_bytes: 4096,
        ..LogConfig::default()
    };
    let log = Arc::new(open(dir.path(), config, clock(), clean()));
    let stop = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while stop.load(Ordering::SeqCst) == 0 || reads < 5 {
                let info = log.read(0, 1 << 20, true, None).unwrap();
                let mut end = 0;
                for c in &info.records {
                    for b in batch::batches(c) {
                        let b = b.unwrap();
                        assert_eq!(b.base_offset(), end);
                        end = b.next_offset();
                    }
                }
                assert!(end <= info.high_watermark);
                reads += 1;
            }
        })
    };
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let info = log
                        .append_as_leader(&mut producer_batch(t * 1000 + i, 2, 1), 0)
                        .unwrap();
                    log.sync_to(info.last_offset).unwrap();
                    assert!(log.high_watermark() > info.last_offset);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(1, Ordering::SeqCst);
    reader.join().unwrap();
    assert_eq!(log.high_watermark(), 400);
    assert!(log.segment_base_offsets().len() > 1);
}
