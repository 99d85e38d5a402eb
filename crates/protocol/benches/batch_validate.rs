//! Produce-side record batch validation: what every produced batch goes through before the log
//! sees it (server `handlers/produce.rs`, `validate`): header parse, size checks, CRC-32C over
//! the batch, codec, control bit, then every record's structure, offset deltas and timestamps
//! (`records::validate_records`, which decompresses a compressed batch into a scratch buffer
//! first). It touches every byte of every produced batch, so it bounds produce throughput.
//!
//! Input: one ~15 KiB batch of 15 records of 1 KiB (the Java producer's default batch.size at
//! 1 KiB records), uncompressed, LZ4 and zstd. Throughput is counted in *uncompressed* batch
//! bytes for every case, so the numbers compare as producer payload per second.
//!
//! `full/*` mirrors the success path of `validate` (a private fn of the server) step by step,
//! including its fresh scratch `Vec` per batch; `crc32c` and `records` split the uncompressed
//! case into its two passes over the data.
//!
//! Run: `cargo bench -p sluice-protocol --bench batch_validate`.

mod common;

use common::{compressed_batch, producer_batch, DECOMPRESS_LIMIT, TIMESTAMP};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_protocol::batch::{Compression, RecordBatch};
use sluice_protocol::records::{self, RecordsSummary};
use std::hint::black_box;

/// Kafka's default max.message.bytes, as the topic policy holds it.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024 + 12;
/// message.timestamp.before.max.ms / after.max.ms defaults (Long.MAX / 1 hour).
const BEFORE_MAX_MS: i64 = i64::MAX;
const AFTER_MAX_MS: i64 = 3_600_000;

/// The success path of `handlers/produce.rs` `validate` for a non-compacted CreateTime topic.
fn validate_like_produce(records: &[u8], now: i64) -> RecordsSummary {
    assert!(!records.is_empty());
    let batch = RecordBatch::parse(records).expect("batch parses");
    assert_eq!(batch.size(), records.len());
    assert!(batch.size() <= MAX_MESSAGE_BYTES);
    batch.verify_crc().expect("crc");
    batch.compression().expect("known codec");
    assert!(!batch.is_control());
    let mut scratch = Vec::new();
    let summary =
        records::validate_records(&batch, &mut scratch, DECOMPRESS_LIMIT).expect("valid records");
    let earliest = now.saturating_sub(BEFORE_MAX_MS);
    let latest = now.saturating_add(AFTER_MAX_MS);
    assert!(summary.min_timestamp >= earliest && summary.max_timestamp <= latest);
    summary
}

fn bench(c: &mut Criterion) {
    let plain = producer_batch(None);
    let now = TIMESTAMP + 1_000;
    let mut g = c.benchmark_group("batch_validate");
    g.throughput(Throughput::Bytes(plain.len() as u64));

    for (name, codec) in [
        ("none", Compression::None),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ] {
        let bytes = if codec == Compression::None {
            plain.clone()
        } else {
            compressed_batch(codec)
        };
        g.bench_function(format!("full/{name}"), |b| {
            b.iter(|| validate_like_produce(black_box(&bytes), now))
        });
    }

    let batch = RecordBatch::parse(&plain).expect("batch parses");
    g.bench_function("crc32c/none", |b| b.iter(|| black_box(&batch).verify_crc()));
    g.bench_function("records/none", |b| {
        let mut scratch = Vec::new();
        b.iter(|| records::validate_records(black_box(&batch), &mut scratch, DECOMPRESS_LIMIT))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
