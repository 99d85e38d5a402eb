//! Apache Kafka's own `DumpLogSegments` must read our segments, indexes and producer snapshots
//! without complaint, and we must read producer snapshots Kafka writes.
//!
//! Runs only when `SLUICE_KAFKA_LIBS` names a directory holding the Kafka 4.3.1 broker and tools
//! jars with their dependencies (see the crate README); otherwise it only checks the files exist.
//! `SLUICE_KAFKA_KEEP=<dir>` copies the written log there for manual inspection.

mod common;

use std::process::Command;

use common::*;
use sluice_protocol::batch::testing::build_batch_with;
use sluice_storage::{LogConfig, LogManager, MessageTimestampType, TopicPartition};

#[test]
fn dump_log_segments_accepts_our_files() {
    let root = tempfile::tempdir().unwrap();
    let time = clock();
    let config = LogConfig {
        segment_bytes: 24 * 1024,
        ..LogConfig::default()
    };
    let mgr = LogManager::open(
        vec![root.path().to_path_buf()],
        config.clone(),
        time.clone(),
    )
    .unwrap();
    let tp = TopicPartition::new("compat", 0);
    let log = mgr
        .get_or_create_log(&tp, sluice_storage::kafka_uuid::random(), None)
        .unwrap();
    let mut seq42 = 0i32;
    let mut last_offset_42 = -1;
    let mut txn_first_offset = -1;
    for i in 0..400u64 {
        // Vary batch shapes: sizes, record counts, single and multi-batch payloads.
        let mut payload = producer_batch(i, (i % 7 + 1) as usize, 1_000 + i as i64 * 3);
        if i % 5 == 0 {
            payload.extend_from_slice(&producer_batch(i + 1000, 2, 1_000 + i as i64 * 3 + 1));
        }
        if i % 11 == 0 {
            let v = vec![b'p'; 300];
            payload.extend_from_slice(&build_batch_with(
                0,
                1_000 + i as i64 * 3 + 2,
                &[&v, &v],
                0,
                42,
                0,
                seq42,
            ));
            seq42 += 2;
        }
        let info = log.append_as_leader(&mut payload, 3).unwrap();
        if i == 7 {
            // A transactional producer whose transaction stays open: its snapshot entry
            // carries currentTxnFirstOffset.
            let mut txn = build_batch_with(0, 1_000, &[b"t"], 0x10, 43, 2, 0);
            txn_first_offset = log.append_as_leader(&mut txn, 3).unwrap().first_offset;
        }
        last_offset_42 = if i % 11 == 0 {
            info.last_offset
        } else {
            last_offset_42
        };
    }
    // A LogAppendTime topic too.
    let tp2 = TopicPartition::new("compat-lat", 0);
    let lat = mgr
        .get_or_create_log(
            &tp2,
            sluice_storage::kafka_uuid::random(),
            Some(LogConfig {
                message_timestamp_type: MessageTimestampType::LogAppendTime,
                ..config
            }),
        )
        .unwrap();
    for i in 0..50u64 {
        time.sleep(5);
        lat.append_as_leader(&mut producer_batch(i, 3, 7), 0)
            .unwrap();
    }
    assert!(log.segment_base_offsets().len() > 2);
    mgr.shutdown().unwrap();

    let mut files = Vec::new();
    for d in [
        root.path().join("compat-0"),
        root.path().join("compat-lat-0"),
    ] {
        files.extend(common::files(&d).into_iter().filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".log") || n.ends_with(".index") || n.ends_with(".timeindex")
        }));
    }
    assert!(files.len() >= 9);
    let snapshots: Vec<_> = common::files(&root.path().join("compat-0"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".snapshot"))
        .collect();
    let log_end = log.log_end_offset();
    assert!(
        snapshots.len() >= 2,
        "rolls and shutdown wrote producer snapshots"
    );
    assert!(snapshots
        .last()
        .is_some_and(|p| p.ends_with(format!("{log_end:020}.snapshot"))));
    if let Ok(keep) = std::env::var("SLUICE_KAFKA_KEEP") {
        let _ = Command::new("cp")
            .arg("-r")
            .arg(root.path())
            .arg(&keep)
            .status();
    }
    let Ok(libs) = std::env::var("SLUICE_KAFKA_LIBS") else {
        eprintln!("SLUICE_KAFKA_LIBS not set: skipping the DumpLogSegments check");
        return;
    };
    let files: Vec<String> = files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    for extra in [
        &["--deep-iteration", "--verify-index-only"][..],
        &["--index-sanity-check"][..],
    ] {
        let out = Command::new("java")
            .arg("-cp")
            .arg(format!("{libs}/*"))
            .arg("org.apache.kafka.tools.DumpLogSegments")
            .args(extra)
            .arg("--files")
            .arg(files.join(","))
            .output()
            .expect("run java");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{stdout}\n{stderr}");
        assert!(out.status.success(), "DumpLogSegments failed");
        assert_eq!(
            problems(&stderr),
            Vec::<String>::new(),
            "DumpLogSegments reported problems"
        );
        assert!(!stdout.contains("Found ") && !stdout.contains("isvalid: false"));
        if extra.contains(&"--index-sanity-check") {
            let passed = stdout.matches("passed sanity check").count();
            let indexes = files.iter().filter(|f| f.ends_with("index")).count();
            assert_eq!(passed, indexes, "every index passes Kafka's sanity check");
        }
    }
    // Deep iteration over the logs prints every batch; check the offsets we expect are there.
    let out = Command::new("java")
        .arg("-cp")
        .arg(format!("{libs}/*"))
        .arg("org.apache.kafka.tools.DumpLogSegments")
        .arg("--deep-iteration")
        .arg("--files")
        .arg(
            files
                .iter()
                .filter(|f| f.ends_with(".log"))
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
        )
        .output()
        .expect("run java");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success());
    assert_eq!(
        problems(&stderr),
        Vec::<String>::new(),
        "DumpLogSegments reported problems"
    );
    assert!(stdout.contains("isTransactional: false"), "batches listed");

    assert!(stdout.contains("CreateTime") && stdout.contains("LogAppendTime"));
    assert!(!stdout.contains("isvalid: false") && !stdout.contains("isValid: false"));

    // Producer snapshots: Kafka's reader (ProducerStateManager.readSnapshot, which checks the
    // version and CRC) must parse every one, and the newest must hold both producers.
    let out = Command::new("java")
        .arg("-cp")
        .arg(format!("{libs}/*"))
        .arg("org.apache.kafka.tools.DumpLogSegments")
        .arg("--files")
        .arg(
            snapshots
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(","),
        )
        .output()
        .expect("run java");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert!(out.status.success());
    assert_eq!(problems(&stderr), Vec::<String>::new());
    assert_eq!(stdout.matches("Dumping ").count(), snapshots.len());
    let newest = stdout
        .rsplit("Dumping ")
        .next()
        .unwrap_or_default()
        .to_owned();
    let expect42 = format!(
        "producerId: 42 producerEpoch: 0 coordinatorEpoch: -1 currentTxnFirstOffset: \
         OptionalLong.empty lastTimestamp: {ts42} firstSequence: {first} lastSequence: {last} \
         lastOffset: {last_offset_42} offsetDelta: 1 timestamp: {ts42}",
        ts42 = 1_000 + 396 * 3 + 2,
        first = seq42 - 2,
        last = seq42 - 1,
    );
    assert!(newest.contains(&expect42), "{newest}\nexpected {expect42}");
    let expect43 = format!(
        "producerId: 43 producerEpoch: 2 coordinatorEpoch: -1 currentTxnFirstOffset: \
         OptionalLong[{txn_first_offset}] lastTimestamp: 1000 firstSequence: 0 lastSequence: 0 \
         lastOffset: {txn_first_offset} offsetDelta: 0 timestamp: 1000"
    );
    assert!(newest.contains(&expect43), "{newest}\nexpected {expect43}");
}

/// Transaction markers and `.txnindex` files: DumpLogSegments must decode our control records
/// (`endTxnMarker`) and list our aborted transactions with the offsets we wrote.
#[test]
fn dump_log_segments_reads_our_transaction_index() {
    let root = tempfile::tempdir().unwrap();
    let time = clock();
    let config = LogConfig {
        segment_bytes: 2048,
        ..LogConfig::default()
    };
    let mgr = LogManager::open(vec![root.path().to_path_buf()], config, time.clone()).unwrap();
    let log = mgr
        .get_or_create_log(
            &TopicPartition::new("txn", 0),
            sluice_storage::kafka_uuid::random(),
            None,
        )
        .unwrap();
    let ts = 1_700_000_000_000;
    let mut expected = Vec::new();
    let mut seq = [0i32; 3];
    for round in 0..24usize {
        let p = round % 3;
        let pid = 500 + p as i64;
        let v = vec![b'v'; 100];
        let mut b = build_batch_with(0, ts, &[&v, &v], 0x10, pid, 1, seq[p]);
        seq[p] += 2;
        let first = log.append_as_leader(&mut b, 2).unwrap().first_offset;
        if round % 2 == 1 {
            let commit = round % 4 == 1;
            let m = sluice_storage::TxnMarker {
                producer_id: pid,
                producer_epoch: 1,
                coordinator_epoch: 9,
                commit,
                transaction_version: 0,
            };
            let at = log.append_control_marker(&m, 2).unwrap().first_offset;
            if !commit {
                expected.push((pid, first, at));
            }
        }
    }
    let all = log
        .collect_aborted_transactions(0, log.log_end_offset())
        .unwrap();
    let dir = root.path().join("txn-0");
    mgr.shutdown().unwrap();
    let pick = |suffix: &str| {
        common::files(&dir)
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    let txn_files = pick(".txnindex");
    assert!(txn_files.len() > 2);
    assert!(!all.is_empty());
    let Ok(libs) = std::env::var("SLUICE_KAFKA_LIBS") else {
        eprintln!("SLUICE_KAFKA_LIBS not set: skipping the DumpLogSegments check");
        return;
    };
    let dump = |args: &[&str], files: &[String]| {
        let out = Command::new("java")
            .arg("-cp")
            .arg(format!("{libs}/*"))
            .arg("org.apache.kafka.tools.DumpLogSegments")
            .args(args)
            .arg("--files")
            .arg(files.join(","))
            .output()
            .expect("run java");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        eprintln!("{stdout}\n{stderr}");
        assert!(out.status.success(), "DumpLogSegments failed");
        assert_eq!(problems(&stderr), Vec::<String>::new());
        stdout
    };
    let stdout = dump(&[], &txn_files);
    for t in &all {
        let line = format!(
            "version: 0 producerId: {} firstOffset: {} lastOffset: {} lastStableOffset: {}",
            t.producer_id, t.first_offset, t.last_offset, t.last_stable_offset
        );
        assert!(stdout.contains(&line), "missing {line}");
    }
    assert_eq!(stdout.matches("producerId: ").count(), expected.len());
    let stdout = dump(&["--deep-iteration"], &pick(".log"));
    assert!(stdout.contains("endTxnMarker: ABORT coordinatorEpoch: 9"));
    assert!(stdout.contains("endTxnMarker: COMMIT coordinatorEpoch: 9"));
    assert!(stdout.contains("isControl: true"));
    dump(&["--deep-iteration", "--verify-index-only"], &pick(".log"));
}

/// DumpLogSegments' complaints, minus logging noise and one artifact of the tool: its
/// consecutive-offset check starts every file at -1, so a segment whose base offset is N > 0
/// always reports "-1 is followed by N" (it does so for Kafka's own segments too).
fn problems(stderr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current_file = String::new();
    for line in stderr.lines() {
        if line.starts_with("SLF4J:") || line.trim().is_empty() {
            continue;
        }
        if let Some(file) = line.strip_prefix("Non-consecutive offsets in ") {
            current_file = file.to_owned();
            continue;
        }
        if let Some(next) = line.trim().strip_prefix("-1 is followed by ") {
            let base = std::path::Path::new(&current_file)
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<i64>().ok());
            if base.is_some() && next.parse::<i64>().ok() == base {
                continue;
            }
        }
        out.push(line.to_owned());
    }
    out
}

/// Kafka's ProducerStateManager writes a snapshot; we must read it, and encode the same state
/// to the same bytes. Compiles a small Java program against the Kafka jars (package-private
/// `addBatch` needs the same package). Runs only with SLUICE_KAFKA_LIBS.
#[test]
fn we_read_snapshots_written_by_kafka() {
    let Ok(libs) = std::env::var("SLUICE_KAFKA_LIBS") else {
        eprintln!("SLUICE_KAFKA_LIBS not set: skipping");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("WriteSnapshot.java");
    std::fs::write(
        &src,
        r#"package org.apache.kafka.storage.internals.log;

import java.io.File;
import java.util.OptionalLong;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Time;

public class WriteSnapshot {
    public static void main(String[] args) throws Exception {
        ProducerStateManager m = new ProducerStateManager(new TopicPartition("t", 0),
            new File(args[0]), 60000, new ProducerStateManagerConfig(86400000, false), Time.SYSTEM);
        ProducerStateEntry e7 = new ProducerStateEntry(7L, (short) 3, 5, 1234L, OptionalLong.empty());
        e7.addBatch((short) 3, 41, 99L, 2, 1234L);
        m.loadProducerEntry(e7);
        m.loadProducerEntry(new ProducerStateEntry(8L, (short) 0, -1, 77L, OptionalLong.of(50L)));
        m.updateMapEndOffset(100L);
        m.takeSnapshot();
    }
}
"#,
    )
    .unwrap();
    let classes = work.path().join("classes");
    let javac = Command::new("javac")
        .arg("-cp")
        .arg(format!("{libs}/*"))
        .arg("-d")
        .arg(&classes)
        .arg(&src)
        .output()
        .expect("run javac");
    assert!(
        javac.status.success(),
        "{}",
        String::from_utf8_lossy(&javac.stderr)
    );
    let out_dir = work.path().join("t-0");
    std::fs::create_dir(&out_dir).unwrap();
    let run = Command::new("java")
        .arg("-cp")
        .arg(format!("{libs}/*:{}", classes.display()))
        .arg("org.apache.kafka.storage.internals.log.WriteSnapshot")
        .arg(&out_dir)
        .output()
        .expect("run java");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let path = out_dir.join("00000000000000000100.snapshot");
    let entries = sluice_storage::producer_state::read_snapshot(&path).unwrap();
    assert_eq!(entries.len(), 2);
    let e7 = entries.iter().find(|e| e.producer_id == 7).unwrap();
    assert_eq!(
        (e7.producer_epoch, e7.coordinator_epoch, e7.last_timestamp),
        (3, 5, 1234)
    );
    assert_eq!(e7.current_txn_first_offset, None);
    let b = *e7.last_batch().unwrap();
    assert_eq!((b.first_seq(), b.last_seq), (39, 41));
    assert_eq!(
        (b.first_offset(), b.last_offset, b.timestamp),
        (97, 99, 1234)
    );
    let e8 = entries.iter().find(|e| e.producer_id == 8).unwrap();
    assert!(e8.is_empty());
    assert_eq!(e8.current_txn_first_offset, Some(50));
    assert_eq!((e8.producer_epoch, e8.last_timestamp), (0, 77));
    // Same state, same bytes (Kafka orders these two ids ascending, as we do).
    let ours = sluice_storage::producer_state::encode_snapshot(entries.iter());
    assert_eq!(ours, std::fs::read(&path).unwrap());
}
