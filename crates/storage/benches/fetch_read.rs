//! Partition log read: `PartitionLog::read`, what the fetch handler calls per partition for a
//! read_uncommitted fetch (server `handlers/fetch.rs`, `read_one`). It takes the published
//! snapshot, finds the batch holding the fetch offset (offset index lookup, then a header scan
//! with positional reads), reads up to max_bytes of whole batches with one positional read into
//! a fresh buffer, and walks their headers to stop at the high watermark and at a batch
//! boundary. The returned `Bytes` are what the response carries to the socket, so this read is
//! the one copy of record bytes on the fetch path.
//!
//! Input: a log of 256 batches (~3.8 MiB, one segment, in the page cache right after being
//! written) of the Java producer's default shape (15 records of 1 KiB); a consumer fetch of
//! 1 MiB (max.partition.fetch.bytes default) at the start of batch 64, which returns 67 whole
//! batches (~1 MiB). Throughput is the bytes returned.
//!
//! Run: `cargo bench -p sluice-storage --bench fetch_read`.

#[path = "../../protocol/benches/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_storage::{LoadParams, LogConfig, PartitionLog, SystemTime, TopicPartition};
use std::hint::black_box;
use std::sync::Arc;

const BATCHES: usize = 256;
const FETCH_FROM_BATCH: usize = 64;
const MAX_BYTES: usize = 1024 * 1024;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = PartitionLog::open(
        dir.path().join("bench-0"),
        TopicPartition::new("bench", 0),
        LogConfig::default(),
        Arc::new(SystemTime),
        LoadParams::after_crash(),
    )
    .expect("open log");
    let mut batch = common::producer_batch(None);
    for _ in 0..BATCHES {
        log.append_as_leader(&mut batch, 0).expect("append");
    }
    let offset = (FETCH_FROM_BATCH * common::RECORDS_PER_BATCH) as i64;
    let read = log.read(offset, MAX_BYTES, true, None).expect("read");
    assert!(read.size() > MAX_BYTES - batch.len() && read.size() <= MAX_BYTES);

    let mut g = c.benchmark_group("fetch_read");
    g.throughput(Throughput::Bytes(read.size() as u64));
    g.bench_function("read/1MiB", |b| {
        b.iter(|| {
            log.read(black_box(offset), MAX_BYTES, true, None)
                .expect("read")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
