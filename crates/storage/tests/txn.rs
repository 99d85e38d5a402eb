//! Transactions in the log: ongoing transactions, markers, the last stable offset, the
//! `.txnindex` and its recovery.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use sluice_protocol::batch::{self, testing::build_batch_with, TRANSACTIONAL_BIT};
use sluice_storage::{AbortedTxn, LoadParams, LogConfig, PartitionLog, StorageError, TxnMarker};

/// A transactional batch of `n` records from `pid` (epoch 0) starting at sequence `seq`.
fn txn_batch(pid: i64, seq: i32, n: usize) -> Vec<u8> {
    let values: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("p{pid}-{seq}-{i}").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    build_batch_with(0, 1_700_000_000_000, &refs, TRANSACTIONAL_BIT, pid, 0, seq)
}

fn append(log: &PartitionLog, mut b: Vec<u8>) -> (i64, i64) {
    let info = log.append_as_leader(&mut b, 0).expect("append");
    (info.first_offset, info.last_offset)
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

fn end(log: &PartitionLog, pid: i64, commit: bool) -> i64 {
    log.append_control_marker(&marker(pid, commit), 0)
        .expect("marker")
        .first_offset
}

fn txnindex_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "txnindex"))
        .collect()
}

#[test]
fn lso_follows_the_oldest_open_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), clock(), clean());
    let moves = Arc::new(AtomicUsize::new(0));
    let m = moves.clone();
    log.set_high_watermark_listener(Arc::new(move |_, _| {
        m.fetch_add(1, Ordering::SeqCst);
    }));
    append(&log, producer_batch(1, 2, 1_000).to_vec()); // 0..=1 plain
    assert_eq!(log.last_stable_offset(), 2);
    let (a0, _) = append(&log, txn_batch(10, 0, 2)); // 2..=3 txn A
    let (b0, _) = append(&log, txn_batch(20, 0, 1)); // 4 txn B
    append(&log, txn_batch(10, 2, 1)); // 5 more of A
    append(&log, producer_batch(2, 1, 1_000).to_vec()); // 6 plain
    assert_eq!(log.ongoing_transactions(), vec![(10, a0), (20, b0)]);
    assert_eq!(log.high_watermark(), 7);
    assert_eq!(log.last_stable_offset(), a0, "stuck at A's first offset");
    // A read_committed read stops there.
    let r = log.read_committed(0, 1 << 20, true).unwrap();
    assert_eq!((r.high_watermark, r.last_stable_offset), (7, 2));
    let got: Vec<i64> = batch::batches(&r.clone().into_bytes())
        .map(|b| b.unwrap().base_offset())
        .collect();
    assert_eq!(got, vec![0]);
    assert_eq!(r.aborted_transactions, Some(vec![]));
    // Commit B: A still holds the LSO.
    let before = moves.load(Ordering::SeqCst);
    let cb = end(&log, 20, true);
    assert_eq!(cb, 7);
    assert_eq!(log.last_stable_offset(), a0);
    // Abort A: everything is decided.
    let ca = end(&log, 10, false);
    assert_eq!(log.last_stable_offset(), 9);
    assert_eq!(log.last_stable_offset(), log.high_watermark());
    assert!(
        moves.load(Ordering::SeqCst) >= before + 2,
        "the listener heard the markers"
    );
    let aborted = log.collect_aborted_transactions(0, 9).unwrap();
    assert_eq!(
        aborted,
        vec![AbortedTxn {
            producer_id: 10,
            first_offset: a0,
            last_offset: ca,
            last_stable_offset: ca + 1,
        }]
    );
    let r = log.read_committed(0, 1 << 20, true).unwrap();
    assert_eq!(r.aborted_transactions, Some(aborted.clone()));
    // Kafka's bounds: nothing for a range wholly after the marker or wholly before the data.
    assert!(log
        .collect_aborted_transactions(ca + 1, 100)
        .unwrap()
        .is_empty());
    assert!(log.collect_aborted_transactions(0, a0).unwrap().is_empty());
    assert_eq!(log.collect_aborted_transactions(5, 6).unwrap(), aborted);
    // A plain write by A is fine again; a new transaction of A starts at its first batch.
    let (n0, _) = append(&log, txn_batch(10, 3, 1));
    assert_eq!(log.last_stable_offset(), n0);
    // The LSO entry of an abort with another producer's transaction open is that one's start.
    let (c0, _) = append(&log, txn_batch(30, 0, 1));
    let ca2 = end(&log, 30, false);
    let e = log.collect_aborted_transactions(c0, ca2 + 1).unwrap();
    assert_eq!(
        e.last().map(|t| (t.first_offset, t.last_stable_offset)),
        Some((c0, n0))
    );
}

#[test]
fn non_transactional_write_inside_a_transaction_and_client_markers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), clock(), clean());
    append(&log, txn_batch(5, 0, 1));
    let mut plain = build_batch_with(0, 1_000, &[b"x"], 0, 5, 0, 1);
    let err = log.append_as_leader(&mut plain, 0).unwrap_err();
    assert_eq!(err.kafka_error_code(), 48);
    // A control batch in a produce payload.
    let mut ctl = sluice_protocol::records::encode_end_txn_marker(
        5,
        0,
        sluice_protocol::records::EndTxnMarker {
            commit: true,
            coordinator_epoch: 0,
        },
        1_000,
    );
    let err = log.append_as_leader(&mut ctl, 0).unwrap_err();
    assert!(
        matches!(err, StorageError::InvalidControlBatch { .. }),
        "{err:?}"
    );
    assert_eq!(err.kafka_error_code(), 87);
    assert_eq!(log.ongoing_transactions(), vec![(5, 0)]);
}

#[test]
fn marker_fencing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), clock(), clean());
    let mut b = build_batch_with(0, 1_000, &[b"x"], TRANSACTIONAL_BIT, 7, 3, 0);
    log.append_as_leader(&mut b, 0).unwrap();
    let old_epoch = TxnMarker {
        producer_epoch: 2,
        ..marker(7, true)
    };
    let err = log.append_control_marker(&old_epoch, 0).unwrap_err();
    assert_eq!(err.kafka_error_code(), 47, "{err:?}");
    // TV2 needs a bumped epoch.
    let same_tv2 = TxnMarker {
        producer_epoch: 3,
        transaction_version: 2,
        coordinator_epoch: 4,
        ..marker(7, false)
    };
    assert_eq!(
        log.append_control_marker(&same_tv2, 0)
            .unwrap_err()
            .kafka_error_code(),
        47
    );
    let bumped = TxnMarker {
        producer_epoch: 4,
        ..same_tv2
    };
    let info = log.append_control_marker(&bumped, 0).unwrap();
    assert_eq!(info.first_offset, 1);
    assert_eq!(log.last_stable_offset(), 2);
    let zombie = TxnMarker {
        producer_epoch: 5,
        coordinator_epoch: 3,
        ..bumped
    };
    let err = log.append_control_marker(&zombie, 0).unwrap_err();
    assert!(matches!(
        err,
        StorageError::TransactionCoordinatorFenced { .. }
    ));
    assert_eq!(err.kafka_error_code(), 52);
    assert_eq!(
        log.log_end_offset(),
        2,
        "nothing written for refused markers"
    );
    // The marker is a proper control batch.
    let r = log.read(1, 1 << 20, true, None).unwrap().into_bytes();
    let m = batch::batches(&r).next().unwrap().unwrap();
    assert!(m.is_control() && m.is_transactional());
    assert_eq!(
        (m.producer_id(), m.producer_epoch(), m.base_sequence()),
        (7, 4, -1)
    );
    assert_eq!(
        sluice_protocol::records::parse_end_txn_marker(&m).unwrap(),
        Some(sluice_protocol::records::EndTxnMarker {
            commit: false,
            coordinator_epoch: 4
        })
    );
}

/// Interleaved transactions over many small segments; returns the expected aborted entries.
fn busy_log(log: &PartitionLog) -> Vec<AbortedTxn> {
    let mut aborted = Vec::new();
    let mut seq = [0i32; 4];
    let mut open: [Option<i64>; 4] = [None; 4];
    for round in 0..30usize {
        let p = round % 4;
        let pid = 100 + p as i64;
        if round % 3 == 2 {
            if let Some(first) = open[p].take() {
                let commit = round % 2 == 0;
                let at = end(log, pid, commit);
                if !commit {
                    aborted.push((pid, first, at));
                }
                continue;
            }
        }
        let (f, _) = append(log, txn_batch(pid, seq[p], 3));
        seq[p] += 3;
        open[p].get_or_insert(f);
        append(log, producer_batch(round as u64, 2, 1_000).to_vec());
    }
    let all = log
        .collect_aborted_transactions(0, log.log_end_offset())
        .unwrap();
    let got: Vec<(i64, i64, i64)> = all
        .iter()
        .map(|t| (t.producer_id, t.first_offset, t.last_offset))
        .collect();
    assert_eq!(got, aborted);
    all
}

#[test]
fn aborted_transactions_span_segment_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    let all = busy_log(&log);
    assert!(
        log.segment_base_offsets().len() > 4,
        "{:?}",
        log.segment_base_offsets()
    );
    assert!(all.len() >= 2);
    // Each entry is in the segment of its marker, and a fetch range that only covers the
    // data (far below the marker's segment) still finds it.
    let t = all[0];
    let got = log
        .collect_aborted_transactions(t.first_offset, t.first_offset + 1)
        .unwrap();
    assert_eq!(got.first(), Some(&t));
    let bases = log.segment_base_offsets();
    let holder = bases.iter().rposition(|&b| b <= t.last_offset).unwrap();
    let f = &txnindex_files(dir.path())[holder];
    assert!(std::fs::metadata(f).unwrap().len() >= 34);
    assert_eq!(txnindex_files(dir.path()).len(), bases.len());
    // Invariants.
    for t in &all {
        assert!(t.first_offset < t.last_offset && t.last_stable_offset <= t.last_offset + 1);
    }
    assert!(log.last_stable_offset() <= log.high_watermark());
}

fn txn_index_bytes(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    txnindex_files(dir)
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

#[test]
fn txnindex_is_rebuilt_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config(), clock(), clean());
    let all = busy_log(&log);
    let lso = log.last_stable_offset();
    assert!(lso < log.high_watermark(), "transactions left open");
    log.close().unwrap();
    drop(log);
    let original = txn_index_bytes(dir.path());
    let with_entries: Vec<_> = original.iter().filter(|(_, b)| !b.is_empty()).collect();
    assert!(with_entries.len() >= 2);
    // Torn tail on one, missing file for another, garbage for a third (an empty one).
    let (torn, tb) = with_entries[0];
    std::fs::write(torn, &tb[..tb.len() - 7]).unwrap();
    let (gone, _) = with_entries[with_entries.len() - 1];
    std::fs::remove_file(gone).unwrap();
    // A clean shutdown marker does not skip these checks.
    let log = open(dir.path(), small_config(), clock(), clean());
    assert_eq!(txn_index_bytes(dir.path()), original);
    assert_eq!(
        log.collect_aborted_transactions(0, log.log_end_offset())
            .unwrap(),
        all
    );
    drop(log);
    // Full recovery after a crash rebuilds every one identically.
    for (p, _) in &original {
        std::fs::remove_file(p).unwrap();
    }
    let log = open(
        dir.path(),
        small_config(),
        clock(),
        LoadParams::after_crash(),
    );
    assert_eq!(txn_index_bytes(dir.path()), original);
    assert_eq!(log.last_stable_offset(), lso);
}

#[test]
fn open_transaction_and_lso_survive_restart_and_crash() {
    for crash in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), small_config(), clock(), clean());
        for i in 0..10u64 {
            append(&log, producer_batch(i, 3, 1_000).to_vec());
        }
        let (a0, _) = append(&log, txn_batch(1, 0, 2));
        // Roll past it so a snapshot carries the open transaction, then more data.
        log.roll_now().unwrap();
        for i in 0..10u64 {
            append(&log, producer_batch(i, 3, 1_000).to_vec());
        }
        let (b0, _) = append(&log, txn_batch(2, 0, 1));
        let ca = end(&log, 1, false);
        assert_eq!(log.last_stable_offset(), b0);
        let expected_aborted = log.collect_aborted_transactions(0, ca + 1).unwrap();
        let leo = log.log_end_offset();
        if crash {
            drop(log);
        } else {
            log.close().unwrap();
            drop(log);
        }
        let params = if crash {
            LoadParams::after_crash()
        } else {
            LoadParams {
                had_clean_shutdown: true,
                recovery_point: leo,
                log_start_offset: 0,
            }
        };
        let log = open(dir.path(), small_config(), clock(), params);
        assert_eq!(log.ongoing_transactions(), vec![(2, b0)], "crash={crash}");
        assert_eq!(log.last_stable_offset(), b0);
        assert_eq!(
            log.collect_aborted_transactions(0, ca + 1).unwrap(),
            expected_aborted
        );
        // Producer 2 is still inside its transaction.
        let mut plain = build_batch_with(0, 1_000, &[b"x"], 0, 2, 0, 1);
        assert_eq!(
            log.append_as_leader(&mut plain, 0)
                .unwrap_err()
                .kafka_error_code(),
            48
        );
        end(&log, 2, true);
        assert_eq!(log.last_stable_offset(), log.high_watermark());
        let _ = a0;
    }
}

#[test]
fn truncation_drops_txnindex_entries_and_reopens_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), clock(), clean());
    let (a0, _) = append(&log, txn_batch(1, 0, 2));
    let ca = end(&log, 1, false);
    append(&log, producer_batch(1, 1, 1_000).to_vec());
    assert_eq!(log.collect_aborted_transactions(0, 10).unwrap().len(), 1);
    log.truncate_to(ca).unwrap();
    assert!(log.collect_aborted_transactions(0, 10).unwrap().is_empty());
    assert_eq!(log.ongoing_transactions(), vec![(1, a0)]);
    assert_eq!(log.last_stable_offset(), a0);
    assert_eq!(
        std::fs::metadata(&txnindex_files(dir.path())[0])
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn fsync_mode_lso_waits_for_the_marker_to_be_durable() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        fsync_before_ack: true,
        ..LogConfig::default()
    };
    let log = std::sync::Arc::new(open(dir.path(), config, clock(), clean()));
    let (a0, last) = append(&log, txn_batch(1, 0, 2));
    assert_eq!(
        log.high_watermark(),
        0,
        "fsync mode: hw waits for the fsync"
    );
    log.sync_to(last).unwrap();
    assert_eq!((log.high_watermark(), log.last_stable_offset()), (2, a0));
    let ca = end(&log, 1, true);
    // Not durable yet: hw below the marker, LSO still at the transaction.
    assert_eq!((log.high_watermark(), log.last_stable_offset()), (2, a0));
    log.sync_to(ca).unwrap();
    assert_eq!((log.high_watermark(), log.last_stable_offset()), (3, 3));
    let snap = log.snapshot();
    assert!(snap.last_stable_offset <= snap.high_watermark);
}
