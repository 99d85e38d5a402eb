#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use sluice_protocol::batch::{self, testing::build_batch, RecordBatch};
use sluice_storage::{LoadParams, LogConfig, MockTime, PartitionLog, TopicPartition};

pub fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

pub fn clock() -> Arc<MockTime> {
    Arc::new(MockTime::new(1_700_000_000_000))
}

/// A small-segment config that exercises rolls and index entries.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 256,
        segment_index_bytes: 1024,
        ..LogConfig::default()
    }
}

pub fn open(
    dir: &Path,
    config: LogConfig,
    time: Arc<MockTime>,
    params: LoadParams,
) -> PartitionLog {
    PartitionLog::open(dir.to_path_buf(), tp(), config, time, params).expect("open log")
}

pub fn clean() -> LoadParams {
    LoadParams {
        had_clean_shutdown: true,
        recovery_point: 0,
        log_start_offset: 0,
    }
}

/// A producer batch (baseOffset 0) with `n` records whose values encode `tag`.
pub fn producer_batch(tag: u64, n: usize, ts: i64) -> BytesMut {
    let values: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("v{tag}-{i}-{}", "x".repeat((tag % 13) as usize)).into_bytes())
        .collect();
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    BytesMut::from(&build_batch(0, ts, &refs)[..])
}

/// Read the whole committed log as a list of batches (bytes), checking each is valid.
pub fn read_all(log: &PartitionLog) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    loop {
        let info = log.read(offset, 1 << 20, true, None).expect("read");
        if info.is_empty() {
            break;
        }
        for chunk in &info.records {
            for b in batch::batches(chunk) {
                let b = b.expect("whole batch");
                RecordBatch::parse_validated(b.as_bytes()).expect("valid batch");
                assert!(b.base_offset() <= offset || out.is_empty() || b.base_offset() == offset);
                offset = b.next_offset();
                out.push(b.as_bytes().to_vec());
            }
        }
    }
    out
}

/// The segment files in a partition dir, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}
