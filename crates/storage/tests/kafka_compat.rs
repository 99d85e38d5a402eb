//! Apache Kafka's own `DumpLogSegments` must read our segments and indexes without complaint.
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
    let log = mgr.get_or_create_log(&tp, None).unwrap();
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
                i as i32,
            ));
        }
        log.append_as_leader(&mut payload, 3).unwrap();
    }
    // A LogAppendTime topic too.
    let tp2 = TopicPartition::new("compat-lat", 0);
    let lat = mgr
        .get_or_create_log(
            &tp2,
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
