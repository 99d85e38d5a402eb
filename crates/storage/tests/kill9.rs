//! A child process appends in a loop and reports each acknowledged append on stdout; the parent
//! kills it with SIGKILL, reopens the log and checks every acknowledged batch is there and the
//! log is valid. All waits are bounded.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use sluice_storage::{LoadParams, LogConfig};

const DIR_ENV: &str = "SLUICE_KILL9_CHILD_DIR";

/// The child's body: a no-op unless started by the parent test.
#[test]
fn kill9_child_appender() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let config = LogConfig {
        segment_bytes: 16 * 1024,
        ..LogConfig::default()
    };
    let log = open(
        std::path::Path::new(&dir),
        config,
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
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "kill9_child_appender",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, dir.path())
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
    while acked.len() < 2_000 {
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

    let config = LogConfig {
        segment_bytes: 16 * 1024,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, clock(), LoadParams::after_crash());
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
