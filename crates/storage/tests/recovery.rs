//! Recovery: clean-shutdown marker, torn tails, corruption, damaged or missing indexes.

mod common;

use std::fs::{self, OpenOptions};
use std::path::Path;

use common::*;
use sluice_protocol::batch::RecordBatch;
use sluice_storage::{LoadParams, LogConfig, LogManager, PartitionLog, CLEAN_SHUTDOWN_FILE};

/// Write `n` two-record batches and "crash" (drop without closing). Returns the stored batches.
fn write_and_crash(dir: &Path, n: u64) -> Vec<Vec<u8>> {
    let log = open(dir, small_config(), clock(), clean());
    for i in 0..n {
        log.append_as_leader(&mut producer_batch(i, 2, 1000 + i as i64), 0)
            .unwrap();
    }
    let all = read_all(&log);
    drop(log);
    all
}

fn reopen_after_crash(dir: &Path) -> PartitionLog {
    open(dir, small_config(), clock(), LoadParams::after_crash())
}

fn last_log_file(dir: &Path) -> std::path::PathBuf {
    files(dir)
        .into_iter()
        .rfind(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap()
}

#[test]
fn clean_shutdown_marker_and_checkpoints() {
    let root = tempfile::tempdir().unwrap();
    let time = clock();
    let mgr = LogManager::open(vec![root.path().into()], small_config(), time.clone()).unwrap();
    let tp = tp();
    let log = mgr
        .get_or_create_log(&tp, sluice_storage::kafka_uuid::random(), None)
        .unwrap();
    for i in 0..20 {
        log.append_as_leader(&mut producer_batch(i, 2, 1000), 0)
            .unwrap();
    }
    mgr.shutdown().unwrap();
    assert!(root.path().join(CLEAN_SHUTDOWN_FILE).exists());
    assert_eq!(
        fs::read_to_string(root.path().join("recovery-point-offset-checkpoint")).unwrap(),
        "0\n1\nt 0 40\n"
    );
    assert_eq!(
        fs::read_to_string(root.path().join("log-start-offset-checkpoint")).unwrap(),
        "0\n1\nt 0 0\n"
    );
    let before = read_all(&log);
    drop((log, mgr));

    // Corrupt a record byte inside the first segment's first batch (CRC mismatch). A clean
    // start trusts the files (no scan), a crash start finds and truncates it.
    let part = root.path().join("t-0");
    let first = part.join("00000000000000000000.log");
    let mut bytes = fs::read(&first).unwrap();
    bytes[70] ^= 0xff;
    fs::write(&first, &bytes).unwrap();

    let mgr = LogManager::open(vec![root.path().into()], small_config(), time.clone()).unwrap();
    assert!(
        !root.path().join(CLEAN_SHUTDOWN_FILE).exists(),
        "marker removed after load"
    );
    let log = mgr.get_log(&tp).unwrap();
    assert_eq!(
        log.log_end_offset(),
        40,
        "no recovery scan after a clean shutdown"
    );
    drop((log, mgr));

    // Now a crash: no marker, and the checkpoint says nothing is flushed.
    fs::write(
        root.path().join("recovery-point-offset-checkpoint"),
        "0\n1\nt 0 0\n",
    )
    .unwrap();
    let mgr = LogManager::open(vec![root.path().into()], small_config(), time).unwrap();
    let log = mgr.get_log(&tp).unwrap();
    assert_eq!(
        log.log_end_offset(),
        0,
        "corrupt first batch truncates everything after it"
    );
    assert_eq!(log.segment_base_offsets(), vec![0]);
    assert!(before.len() == 20);
    let s = mgr.load_summary();
    assert_eq!(s.unclean_dirs, vec![root.path().to_path_buf()]);
    assert_eq!(s.truncated.len(), 1);
    assert_eq!(s.truncated[0].0, tp);
    assert_eq!(s.truncated[0].1.offset, 0);
    assert_eq!(s.bytes_truncated, s.truncated[0].1.bytes);
}

/// What is damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Damage {
    OffsetIndex,
    TimeIndex,
    TxnIndex,
    ProducerSnapshot,
    LeaderEpochCheckpoint,
    RecoveryPointCheckpoint,
    LogStartOffsetCheckpoint,
    CleanerOffsetCheckpoint,
    ReplicationOffsetCheckpoint,
}

/// Every damaged index, checkpoint and producer snapshot is rebuilt from the log or ignored,
/// after a clean and after an unclean shutdown: the log itself keeps every batch, and the
/// load summary counts what was rebuilt.
#[test]
fn damaged_side_files_are_rebuilt_never_the_log() {
    use Damage::*;
    const PID: i64 = 7;
    for damage in [
        OffsetIndex,
        TimeIndex,
        TxnIndex,
        ProducerSnapshot,
        LeaderEpochCheckpoint,
        RecoveryPointCheckpoint,
        LogStartOffsetCheckpoint,
        CleanerOffsetCheckpoint,
        ReplicationOffsetCheckpoint,
    ] {
        for clean_start in [true, false] {
            let case = format!("{damage:?}, clean start {clean_start}");
            let root = tempfile::tempdir().unwrap();
            let dirs = vec![root.path().to_path_buf()];
            let time = clock();
            let tp = tp();
            let mgr = LogManager::open(dirs.clone(), small_config(), time.clone()).unwrap();
            let log = mgr
                .get_or_create_log(&tp, sluice_storage::kafka_uuid::random(), None)
                .unwrap();
            for i in 0..30 {
                log.append_as_leader(&mut idem_batch(PID, 0, i * 2, 2, 1_700_000_000_000), 0)
                    .unwrap();
            }
            let expected = read_all(&log);
            let cleaner = root.path().join("cleaner-offset-checkpoint");
            mgr.update_cleaner_checkpoint(&log, 10).unwrap();
            mgr.shutdown().unwrap();
            drop((log, mgr));
            assert!(cleaner.exists());

            let part = root.path().join("t-0");
            let garbage = b"\x01garbage\xff".to_vec();
            let target = match damage {
                OffsetIndex => part.join("00000000000000000000.index"),
                TimeIndex => part.join("00000000000000000000.timeindex"),
                TxnIndex => part.join("00000000000000000000.txnindex"),
                ProducerSnapshot => {
                    let newest = *snapshot_offsets_on_disk(&part).last().unwrap();
                    part.join(format!("{newest:020}.snapshot"))
                }
                LeaderEpochCheckpoint => part.join("leader-epoch-checkpoint"),
                RecoveryPointCheckpoint => root.path().join("recovery-point-offset-checkpoint"),
                LogStartOffsetCheckpoint => root.path().join("log-start-offset-checkpoint"),
                CleanerOffsetCheckpoint => cleaner.clone(),
                ReplicationOffsetCheckpoint => root.path().join("replication-offset-checkpoint"),
            };
            assert!(target.exists(), "{case}: {}", target.display());
            fs::write(&target, &garbage).unwrap();
            if !clean_start {
                fs::remove_file(root.path().join(CLEAN_SHUTDOWN_FILE)).unwrap();
            }

            let mgr = LogManager::open(dirs.clone(), small_config(), time.clone()).unwrap();
            let log = mgr.get_log(&tp).unwrap();
            assert_eq!(read_all(&log), expected, "{case}: every batch is there");
            assert_eq!(log.log_end_offset(), 60, "{case}");
            assert_eq!(log.log_start_offset(), 0, "{case}");
            let s = mgr.load_summary().clone();
            assert!(s.truncated.is_empty(), "{case}: {s:?}");
            assert_eq!(s.unclean_dirs.is_empty(), clean_start, "{case}");
            match damage {
                OffsetIndex | TimeIndex | TxnIndex => {
                    assert!(s.indexes_rebuilt >= 1, "{case}: {s:?}")
                }
                ProducerSnapshot => assert_eq!(s.producer_snapshots_rebuilt, 1, "{case}: {s:?}"),
                LeaderEpochCheckpoint => {
                    assert_eq!(s.leader_epochs_rebuilt, 1, "{case}: {s:?}");
                    assert_eq!(log.leader_epoch_entries(), vec![(0, 0)], "{case}");
                }
                RecoveryPointCheckpoint | LogStartOffsetCheckpoint | CleanerOffsetCheckpoint => {
                    assert_eq!(s.damaged_checkpoints, vec![target.clone()], "{case}")
                }
                ReplicationOffsetCheckpoint => assert!(s.damaged_checkpoints.is_empty(), "{case}"),
            }
            // Producer state survived (or was rebuilt): the last batch is a duplicate.
            let dup = log
                .append_as_leader(&mut idem_batch(PID, 0, 58, 2, 1_700_000_000_000), 0)
                .unwrap();
            assert!(dup.duplicate, "{case}");
            assert_eq!(dup.first_offset, 58, "{case}");
            // A clean shutdown rewrites what was damaged: the next start finds nothing wrong.
            mgr.shutdown().unwrap();
            drop((log, mgr));
            let mgr = LogManager::open(dirs, small_config(), time).unwrap();
            let s = mgr.load_summary();
            assert_eq!(
                (
                    s.indexes_rebuilt,
                    s.producer_snapshots_rebuilt,
                    s.leader_epochs_rebuilt,
                    s.damaged_checkpoints.len()
                ),
                (0, 0, 0, usize::from(damage == CleanerOffsetCheckpoint)),
                "{case}: after a clean restart {s:?}"
            );
            assert_eq!(read_all(&mgr.get_log(&tp).unwrap()), expected, "{case}");
        }
    }
}

#[test]
fn torn_tail_half_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let stored = write_and_crash(dir.path(), 30);
    let last = last_log_file(dir.path());
    let len = fs::metadata(&last).unwrap().len();
    let next = producer_batch(99, 2, 5);
    let mut f = OpenOptions::new().append(true).open(&last).unwrap();
    std::io::Write::write_all(&mut f, &next[..30]).unwrap();
    drop(f);
    let log = reopen_after_crash(dir.path());
    assert_eq!(fs::metadata(&last).unwrap().len(), len);
    assert_eq!(log.log_end_offset(), 60);
    assert_eq!(read_all(&log), stored);
    assert_eq!(
        log.append_as_leader(&mut producer_batch(1, 1, 1), 0)
            .unwrap()
            .first_offset,
        60
    );
}

#[test]
fn torn_tail_half_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let stored = write_and_crash(dir.path(), 30);
    let last = last_log_file(dir.path());
    let len = fs::metadata(&last).unwrap().len();
    let last_batch = stored.last().unwrap().len() as u64;
    fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .unwrap()
        .set_len(len - last_batch / 2)
        .unwrap();
    let log = reopen_after_crash(dir.path());
    assert_eq!(log.log_end_offset(), 58);
    assert_eq!(read_all(&log), stored[..29].to_vec());
    assert_eq!(fs::metadata(&last).unwrap().len(), len - last_batch);
}

#[test]
fn flipped_byte_in_the_middle_of_the_last_segment() {
    let dir = tempfile::tempdir().unwrap();
    let stored = write_and_crash(dir.path(), 30);
    let last = last_log_file(dir.path());
    let mut bytes = fs::read(&last).unwrap();
    // Find the batch in the middle of the file and flip a byte in its records.
    let mut pos = 0usize;
    let mut batches = Vec::new();
    while pos < bytes.len() {
        let b = RecordBatch::parse(&bytes[pos..]).unwrap();
        batches.push((pos, b.base_offset(), b.size()));
        pos += b.size();
    }
    let (at, base, size) = batches[batches.len() / 2];
    bytes[at + size - 3] ^= 0x5a;
    fs::write(&last, &bytes).unwrap();
    let log = reopen_after_crash(dir.path());
    assert_eq!(log.log_end_offset(), base);
    assert_eq!(read_all(&log), stored[..(base / 2) as usize].to_vec());
    assert_eq!(fs::metadata(&last).unwrap().len(), at as u64);
}

#[test]
fn corruption_in_an_earlier_segment_drops_the_later_ones() {
    let dir = tempfile::tempdir().unwrap();
    let stored = write_and_crash(dir.path(), 40);
    let logs: Vec<_> = files(dir.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert!(logs.len() >= 3);
    let mut bytes = fs::read(&logs[1]).unwrap();
    bytes[LOG_OVERHEAD_PLUS_MAGIC] = 7; // bad magic in the segment's first batch
    fs::write(&logs[1], &bytes).unwrap();
    let second_base: i64 = logs[1]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let time = clock();
    let log = open(
        dir.path(),
        small_config(),
        time.clone(),
        LoadParams::after_crash(),
    );
    assert_eq!(log.log_end_offset(), second_base);
    assert_eq!(log.segment_base_offsets(), vec![0, second_base]);
    assert_eq!(
        read_all(&log),
        stored[..(second_base / 2) as usize].to_vec()
    );
    let t = log.load_stats().truncated.clone().unwrap();
    assert_eq!(t.offset, second_base);
    assert_eq!(t.file, logs[1]);
    assert_eq!(t.segments_removed, logs.len() - 2);
    assert!(t.bytes > 0);
    // The later segments are renamed `.deleted` (as Kafka's LogLoader does) and removed
    // file.delete.delay.ms later, not at once.
    assert!(!logs[2].exists());
    let deleted = std::path::PathBuf::from(format!("{}.deleted", logs[2].display()));
    assert!(deleted.exists());
    assert_eq!(log.delete_due_files().unwrap(), 0);
    time.sleep(small_config().file_delete_delay_ms);
    assert!(log.delete_due_files().unwrap() >= logs.len() - 2);
    assert!(!deleted.exists());
}
const LOG_OVERHEAD_PLUS_MAGIC: usize = 16;

/// Close cleanly, return the first segment's index bytes (an inactive, trimmed segment).
fn write_and_close(dir: &Path, n: u64) -> (Vec<Vec<u8>>, Vec<u8>, Vec<u8>) {
    let log = open(dir, small_config(), clock(), clean());
    for i in 0..n {
        log.append_as_leader(&mut producer_batch(i, 2, 1000 + i as i64), 0)
            .unwrap();
    }
    log.close().unwrap();
    let all = read_all(&log);
    let idx = fs::read(dir.join("00000000000000000000.index")).unwrap();
    let tidx = fs::read(dir.join("00000000000000000000.timeindex")).unwrap();
    assert!(idx.len() >= 16 && tidx.len() >= 24, "indexes have entries");
    (all, idx, tidx)
}

#[test]
fn truncated_index_is_rebuilt_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (stored, idx, tidx) = write_and_close(dir.path(), 40);
    let idx_path = dir.path().join("00000000000000000000.index");
    let tidx_path = dir.path().join("00000000000000000000.timeindex");
    fs::OpenOptions::new()
        .write(true)
        .open(&idx_path)
        .unwrap()
        .set_len(idx.len() as u64 - 3)
        .unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    assert_eq!(read_all(&log), stored);
    assert_eq!(fs::read(&idx_path).unwrap(), idx);
    assert_eq!(fs::read(&tidx_path).unwrap(), tidx);
    // An index cut at an entry boundary still passes the cheap check: lookups just scan more.
    drop(log);
    fs::OpenOptions::new()
        .write(true)
        .open(&idx_path)
        .unwrap()
        .set_len(8)
        .unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    assert_eq!(read_all(&log), stored);
    for offset in [0, 7, 13, 20] {
        let got = log.read(offset, 1, true, None).unwrap().into_bytes();
        let b = RecordBatch::parse(&got).unwrap();
        assert!(b.base_offset() <= offset && offset <= b.last_offset());
    }
}

#[test]
fn missing_indexes_are_rebuilt_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (stored, idx, tidx) = write_and_close(dir.path(), 40);
    let idx_path = dir.path().join("00000000000000000000.index");
    let tidx_path = dir.path().join("00000000000000000000.timeindex");
    fs::remove_file(&idx_path).unwrap();
    fs::remove_file(&tidx_path).unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    assert_eq!(read_all(&log), stored);
    assert_eq!(fs::read(&idx_path).unwrap(), idx);
    assert_eq!(fs::read(&tidx_path).unwrap(), tidx);
    // Orphan index files (no .log) are removed.
    fs::write(dir.path().join("00000000000000099999.index"), [0u8; 8]).unwrap();
    drop(log);
    let _log = open(dir.path(), small_config(), clock(), clean());
    assert!(!dir.path().join("00000000000000099999.index").exists());
}

#[test]
fn crash_with_preallocated_active_indexes_recovers_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        index_interval_bytes: 100,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config.clone(), clock(), clean());
    for i in 0..50 {
        log.append_as_leader(&mut producer_batch(i, 2, 1000 + i as i64), 0)
            .unwrap();
    }
    let stored = read_all(&log);
    drop(log); // crash: the index is still pre-allocated (10 MiB of mostly zeros)
    let idx_path = dir.path().join("00000000000000000000.index");
    assert_eq!(fs::metadata(&idx_path).unwrap().len(), 10 * 1024 * 1024);
    let log = open(dir.path(), config, clock(), LoadParams::after_crash());
    assert_eq!(read_all(&log), stored);
    for offset in 0..100 {
        let got = log.read(offset, 1, true, None).unwrap().into_bytes();
        let b = RecordBatch::parse(&got).unwrap();
        assert!(b.base_offset() <= offset && offset <= b.last_offset());
    }
    assert_eq!(
        log.append_as_leader(&mut producer_batch(1, 1, 1), 0)
            .unwrap()
            .first_offset,
        100
    );
}
