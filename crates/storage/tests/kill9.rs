//! A child process appends in a loop and reports each acknowledged append on stdout; the parent
//! kills it with SIGKILL, reopens the log and checks every acknowledged batch is there and the
//! log is valid. All waits are bounded.
//!
//! The idempotent variant also retries batches (which must be acknowledged as duplicates,
//! never written twice) and checks that the rebuilt producer state still deduplicates after
//! the kill.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use sluice_protocol::batch::RecordBatch;
use sluice_storage::{LoadParams, LogConfig, LogManager, TopicPartition};

const DIR_ENV: &str = "SLUICE_KILL9_CHILD_DIR";
const IDEM_DIR_ENV: &str = "SLUICE_KILL9_IDEM_CHILD_DIR";
const MANAGER_DIR_ENV: &str = "SLUICE_KILL9_MANAGER_CHILD_DIR";
/// Partitions the LogManager child writes to.
const MANAGER_PARTITIONS: i32 = 4;
const PID: i64 = 77;

fn kill9_config() -> LogConfig {
    LogConfig {
        segment_bytes: 16 * 1024,
        ..LogConfig::default()
    }
}

/// Batch `i` of the idempotent child: 3 records, sequences 3i..3i+2.
fn idem(i: u64) -> bytes::BytesMut {
    // Timestamps near the mock clock: older ones would expire (producer.id.expiration.ms).
    idem_batch(PID, 0, (i * 3) as i32, 3, 1_700_000_000_000)
}

/// Start this test binary running only `test`, with `env` set to `dir`; collect its
/// `acked <offset> <tag>` lines until `want` arrived, then SIGKILL it.
fn run_and_kill(test: &str, env: &str, dir: &std::path::Path, want: usize) -> Vec<(i64, u64)> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(env, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("acked ") {
                let mut parts = rest.split(' ');
                let offset: i64 = parts.next().unwrap().parse().unwrap();
                let tag: u64 = parts.next().unwrap().parse().unwrap();
                if tx.send((offset, tag)).is_err() {
                    break;
                }
            }
        }
    });
    let mut acked = Vec::new();
    while acked.len() < want {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => acked.push(a),
            Err(e) => {
                let _ = child.kill();
                panic!("child stopped reporting: {e}");
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    acked.extend(rx.try_iter());
    acked
}

/// The child's body: a no-op unless started by the parent test.
#[test]
fn kill9_child_appender() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let log = open(
        std::path::Path::new(&dir),
        kill9_config(),
        clock(),
        LoadParams::after_crash(),
    );
    // Bounded: the parent kills us long before this ends.
    for i in 0..1_000_000u64 {
        let info = log
            .append_as_leader(&mut producer_batch(i, 3, 1000), 0)
            .unwrap();
        println!("acked {} {i}", info.first_offset);
    }
}

#[test]
fn kill9_loses_no_acknowledged_append() {
    let dir = tempfile::tempdir().unwrap();
    let acked = run_and_kill("kill9_child_appender", DIR_ENV, dir.path(), 2_000);
    let log = open(
        dir.path(),
        kill9_config(),
        clock(),
        LoadParams::after_crash(),
    );
    assert!(
        log.segment_base_offsets().len() > 1,
        "the child rolled segments"
    );
    let stored = read_all(&log); // validates every batch (CRC) and offset continuity
    assert!(stored.len() >= acked.len());
    for (offset, tag) in &acked {
        let got = log.read(*offset, 1, true, None).unwrap().into_bytes();
        let expected = {
            let mut b = producer_batch(*tag, 3, 1000);
            sluice_protocol::batch::set_base_offset(&mut b, *offset);
            b
        };
        assert_eq!(
            &got[..expected.len()],
            &expected[..],
            "acked batch at {offset} intact"
        );
    }
    assert_eq!(log.log_end_offset(), stored.len() as i64 * 3);
}

/// The idempotent child: appends batch i, and every few batches retries recent ones, which
/// must come back as duplicates with their original offsets.
#[test]
fn kill9_idempotent_child() {
    let Ok(dir) = std::env::var(IDEM_DIR_ENV) else {
        return;
    };
    let log = open(
        std::path::Path::new(&dir),
        kill9_config(),
        clock(),
        LoadParams::after_crash(),
    );
    let mut offsets = Vec::new();
    for i in 0..1_000_000u64 {
        let info = log.append_as_leader(&mut idem(i), 0).unwrap();
        assert!(!info.duplicate);
        offsets.push(info.first_offset);
        println!("acked {} {i}", info.first_offset);
        if i % 3 == 2 {
            for back in [0, 2, 4] {
                let j = i.saturating_sub(back);
                let dup = log.append_as_leader(&mut idem(j), 0).unwrap();
                assert!(dup.duplicate, "retry of {j} after {i}");
                assert_eq!(dup.first_offset, offsets[j as usize]);
            }
        }
    }
}

#[test]
fn kill9_idempotent_dedup_survives() {
    let dir = tempfile::tempdir().unwrap();
    let acked = run_and_kill("kill9_idempotent_child", IDEM_DIR_ENV, dir.path(), 1_500);
    let log = open(
        dir.path(),
        kill9_config(),
        clock(),
        LoadParams::after_crash(),
    );
    assert!(log.segment_base_offsets().len() > 1, "the child rolled");
    // Every stored batch is batch k of the child, in order: no retry was ever written.
    let stored = read_all(&log);
    for (k, b) in stored.iter().enumerate() {
        let b = RecordBatch::parse(b).unwrap();
        assert_eq!(b.producer_id(), PID);
        assert_eq!(b.base_sequence(), (k * 3) as i32, "batch {k}");
        assert_eq!(b.base_offset(), (k * 3) as i64);
    }
    assert!(stored.len() >= acked.len());
    for (offset, tag) in &acked {
        assert_eq!(
            *offset,
            (*tag * 3) as i64,
            "acked batch {tag} at its offset"
        );
    }
    // The producer's last batch is recognised after the crash; the next one continues.
    let last = stored.len() as u64 - 1;
    let dup = log.append_as_leader(&mut idem(last), 0).unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.first_offset, (last * 3) as i64);
    assert!(log.append_as_leader(&mut idem(last + 2), 0).is_err(), "gap");
    let next = log.append_as_leader(&mut idem(last + 1), 0).unwrap();
    assert!(!next.duplicate);
    assert_eq!(next.first_offset, ((last + 1) * 3) as i64);
}

/// The LogManager child: appends round-robin to [`MANAGER_PARTITIONS`] partitions of one log
/// dir; a tag `p * 1_000_000 + i` reports batch i of partition p.
#[test]
fn kill9_manager_child() {
    let Ok(dir) = std::env::var(MANAGER_DIR_ENV) else {
        return;
    };
    let mgr = LogManager::open(vec![dir.into()], kill9_config(), clock()).unwrap();
    let logs: Vec<_> = (0..MANAGER_PARTITIONS)
        .map(|p| {
            mgr.get_or_create_log(
                &TopicPartition::new("k", p),
                sluice_storage::kafka_uuid::random(),
                None,
            )
            .unwrap()
        })
        .collect();
    for i in 0..1_000_000u64 {
        for (p, log) in logs.iter().enumerate() {
            let info = log
                .append_as_leader(&mut producer_batch(i, 3, 1000), 0)
                .unwrap();
            println!("acked {} {}", info.first_offset, p as u64 * 1_000_000 + i);
        }
    }
}

/// After kill -9 the LogManager recovers every partition and says so in one summary: the dir
/// was not shut down cleanly, every log was recovered, each active segment's pre-allocated
/// indexes were rebuilt, nothing acknowledged was truncated; every acknowledged batch is there. A clean
/// restart afterwards recovers nothing.
#[test]
fn kill9_load_summary_counts_the_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let acked = run_and_kill("kill9_manager_child", MANAGER_DIR_ENV, dir.path(), 2_000);
    let dirs = vec![dir.path().to_path_buf()];
    let mgr = LogManager::open(dirs.clone(), kill9_config(), clock()).unwrap();
    let s = mgr.load_summary().clone();
    let n = MANAGER_PARTITIONS as usize;
    assert_eq!(s.log_dirs, 1);
    assert_eq!(s.unclean_dirs, dirs);
    assert_eq!(s.partitions, n);
    assert_eq!(s.logs_recovered, n, "{s:?}");
    assert_eq!(
        s.indexes_rebuilt, n,
        "one active segment per partition: {s:?}"
    );
    assert!(s.segments > n, "the child rolled: {s:?}");
    // The batch being written when SIGKILL arrived may be cut short (the kernel ends a file
    // write early for a fatal signal): recovery may cut that tail, never an acknowledged
    // batch.
    for (tp, t) in &s.truncated {
        let acked_end = acked
            .iter()
            .filter(|(_, tag)| (*tag / 1_000_000) as i32 == tp.partition)
            .map(|(offset, _)| offset + 3)
            .max()
            .unwrap_or(0);
        assert!(
            t.offset >= acked_end,
            "{tp}: cut at {} below acknowledged {acked_end}",
            t.offset
        );
        assert!(t.segments_removed == 0, "{s:?}");
    }
    assert_eq!(
        (
            s.producer_snapshots_rebuilt,
            s.leader_epochs_rebuilt,
            s.deletions_queued
        ),
        (0, 0, 0)
    );
    assert!(s.damaged_checkpoints.is_empty() && s.left_alone.is_empty());
    for (offset, tag) in &acked {
        let p = (*tag / 1_000_000) as i32;
        let i = *tag % 1_000_000;
        let log = mgr.get_log(&TopicPartition::new("k", p)).unwrap();
        let got = log.read(*offset, 1, true, None).unwrap().into_bytes();
        let mut expected = producer_batch(i, 3, 1000);
        sluice_protocol::batch::set_base_offset(&mut expected, *offset);
        assert_eq!(
            &got[..expected.len()],
            &expected[..],
            "acked batch {tag} intact"
        );
    }
    mgr.shutdown().unwrap();
    drop(mgr);
    let mgr = LogManager::open(dirs, kill9_config(), clock()).unwrap();
    let s = mgr.load_summary();
    assert!(s.unclean_dirs.is_empty());
    assert_eq!(
        (s.partitions, s.logs_recovered, s.indexes_rebuilt),
        (n, 0, 0)
    );
}
