//! Partition log append: `PartitionLog::append_as_leader`, the call the produce handler makes
//! for every validated batch (server `handlers/produce.rs`, `append`). Per batch it re-checks
//! the framing, checks idempotent producers' sequences, rewrites baseOffset and
//! partitionLeaderEpoch in place, writes the bytes with one positional write (page cache: the
//! default config has no fsync per append), updates the indexes and publishes a new snapshot
//! for readers. This is the serialized part of a produce (the writer lock), so its per-batch
//! cost caps one partition's produce rate.
//!
//! Input: the Java producer's default batch, ~15 KiB (15 records of 1 KiB), appended over and
//! over to a log in a temp dir with the default LogConfig (1 GiB segments, so no roll happens
//! inside a measurement). `plain` has no producer id; `idempotent` carries one (the Java
//! producer's default since Kafka 3.0) with a base sequence advanced before each append, which
//! adds the producer-state check and update. The same buffer is appended each time (the log
//! rewrites baseOffset itself; the CRC does not cover it), so the handler's one copy of the
//! batch out of the request (`records.to_vec()`) is not included.
//!
//! To bound disk use, every 4096 appends (~60 MiB) the log is dropped and a fresh one opened in
//! a new temp dir, outside the timed section.
//!
//! Run: `cargo bench -p sluice-storage --bench log_append`.

#[path = "../../protocol/benches/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_protocol::batch::BASE_SEQUENCE_OFFSET;
use sluice_storage::{LoadParams, LogConfig, PartitionLog, SystemTime, TopicPartition};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Appends per log before it is replaced (~60 MiB of data).
const APPENDS_PER_LOG: u64 = 4096;
const PRODUCER_ID: i64 = 1000;

fn fresh_log() -> (tempfile::TempDir, PartitionLog) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = PartitionLog::open(
        dir.path().join("bench-0"),
        TopicPartition::new("bench", 0),
        LogConfig::default(),
        Arc::new(SystemTime),
        LoadParams::after_crash(),
    )
    .expect("open log");
    (dir, log)
}

/// Time `iters` appends of `batch`, on as many fresh logs as needed. `idempotent`: advance the
/// batch's base sequence before each append, starting at 0 on each new log.
fn timed_appends(iters: u64, batch: &mut [u8], idempotent: bool) -> Duration {
    let records = common::RECORDS_PER_BATCH as i32;
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let (dir, log) = fresh_log();
        let n = (iters - done).min(APPENDS_PER_LOG);
        let start = Instant::now();
        for i in 0..n {
            if idempotent {
                let seq = (i as i32) * records;
                batch[BASE_SEQUENCE_OFFSET..BASE_SEQUENCE_OFFSET + 4]
                    .copy_from_slice(&seq.to_be_bytes());
            }
            let info = log.append_as_leader(batch, 0).expect("append");
            debug_assert!(!info.duplicate);
        }
        total += start.elapsed();
        done += n;
        drop(log);
        drop(dir);
    }
    total
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("log_append");
    let mut plain = common::producer_batch(None);
    let mut idempotent = common::producer_batch(Some((PRODUCER_ID, 0, 0)));
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.bench_function("plain/15KiB", |b| {
        b.iter_custom(|iters| timed_appends(iters, &mut plain, false))
    });
    g.bench_function("idempotent/15KiB", |b| {
        b.iter_custom(|iters| timed_appends(iters, &mut idempotent, true))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
